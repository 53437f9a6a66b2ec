package wire

import (
	"errors"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/wirewatch/wirewatch/internal/record"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// ts makes a UTC time from nanoseconds, the form FromProto returns.
func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// fullBatch sets every field of every record type to a distinct non-zero
// value (TestFixtureIsFull checks that), so that a round trip that drops
// or swaps any field fails.
func fullBatch() *record.Batch {
	const id = "probe-1"
	base := int64(1_700_000_000_123_456_789)
	return &record.Batch{
		Probe: record.ProbeInfo{
			ID:        id,
			Hostname:  "node-a",
			Version:   "v1.2.3",
			Labels:    map[string]string{"env": "prod", "archdomain": "pay"},
			Devices:   []string{"eth0", "tunl0"},
			Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:10.9.9.9")},
			Started:   ts(base - 3_600_000_000_000),
			Period:    time.Minute,
		},
		Seq: 42, SpoolID: "spool-7f3a",
		Windows: []record.Window{{
			Probe: id, Start: ts(base), End: ts(base + 60e9),
			Summary: []byte{0x00, 0x01, 0xfe, 0xff}, Packets: 1000, Bytes: 1_500_000,
		}},
		Flows: []record.Flow{{
			Probe: id, Start: ts(base + 1), End: ts(base + 2),
			Transport: "tcp",
			Client:    netip.MustParseAddrPort("10.0.0.1:40000"),
			Server:    netip.MustParseAddrPort("[2001:db8::2]:443"),
			App:       "tls", Device: "eth0", VLAN: 4094, TunnelID: 0xdeadbeef,
			Packets:         [2]uint64{11, 12},
			Bytes:           [2]uint64{1300, 1400},
			Retransmissions: [2]uint64{3, 4},
			RTT:             1234567 * time.Nanosecond,
			State:           "established",
			Ended:           true,
		}},
		Transactions: []record.Transaction{{
			Probe: id, Proto: "http", Transport: "tcp",
			Client:       netip.MustParseAddrPort("192.168.1.2:51000"),
			Server:       netip.MustParseAddrPort("192.168.1.3:8080"),
			RequestTime:  ts(base + 10),
			ResponseTime: ts(base + 5_000_010),
			Latency:      5 * time.Millisecond,
			RequestBytes: 321, ResponseBytes: 4567,
			Op:      "GET",
			Target:  "/x?q=\xff\xfe", // not UTF-8: captured bytes travel as they are
			Status:  "200",
			Outcome: "ok",
			Flags:   []string{"redacted", "truncated"},
			Fields:  []record.Field{{Key: "host", Value: "example.com"}, {Key: "user-agent", Value: "curl/8"}},
		}},
		Traffic: []record.Traffic{{
			Probe: id, Device: "eth0", Direction: "in",
			Start: ts(base), End: ts(base + 60e9), Packets: 77, Bytes: 7700,
		}},
		Loss:   map[string]uint64{"capture_kernel_drops": 5, "export_spool_dropped_records": 9},
		SentAt: ts(base + 61e9),
	}
}

// TestFixtureIsFull guards the round-trip test: every field of the
// fixture (Edges excepted, which do not travel) must be non-zero.
func TestFixtureIsFull(t *testing.T) {
	b := fullBatch()
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		if v.IsZero() {
			t.Errorf("fixture field %s is zero", path)
			return
		}
		switch v.Kind() {
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() || v.Type().PkgPath() == "net/netip" {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				name := v.Type().Field(i).Name
				if path == "Batch" && name == "Edges" {
					continue
				}
				walk(path+"."+name, v.Field(i))
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Struct {
				for i := 0; i < v.Len(); i++ {
					walk(path+"[]", v.Index(i))
				}
			}
		case reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(path+"[]", v.Index(i))
			}
		}
	}
	walk("Batch", reflect.ValueOf(b).Elem())
}

func TestRoundTrip(t *testing.T) {
	in := fullBatch()
	data, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out := mustDecode(t, data)
	// Field by field first, for a readable failure; DeepEqual then catches
	// anything the list below forgets.
	if out.Seq != in.Seq || out.Probe.ID != in.Probe.ID || !out.SentAt.Equal(in.SentAt) {
		t.Errorf("envelope: seq %d id %q sent %v", out.Seq, out.Probe.ID, out.SentAt)
	}
	if !reflect.DeepEqual(out.Probe, in.Probe) {
		t.Errorf("probe:\n got %+v\nwant %+v", out.Probe, in.Probe)
	}
	if !reflect.DeepEqual(out.Loss, in.Loss) {
		t.Errorf("loss: got %v want %v", out.Loss, in.Loss)
	}
	if !reflect.DeepEqual(out.Windows, in.Windows) {
		t.Errorf("windows:\n got %+v\nwant %+v", out.Windows, in.Windows)
	}
	if !reflect.DeepEqual(out.Flows, in.Flows) {
		t.Errorf("flows:\n got %+v\nwant %+v", out.Flows, in.Flows)
	}
	if !reflect.DeepEqual(out.Transactions, in.Transactions) {
		t.Errorf("transactions:\n got %+v\nwant %+v", out.Transactions, in.Transactions)
	}
	if !reflect.DeepEqual(out.Traffic, in.Traffic) {
		t.Errorf("traffic:\n got %+v\nwant %+v", out.Traffic, in.Traffic)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("batch differs after the round trip:\n got %+v\nwant %+v", out, in)
	}
	if got := out.Probe.Addresses[2]; !got.Is4In6() {
		t.Errorf("IPv4-mapped address came back as %v", got)
	}
}

func TestRecordsTakeTheBatchProbe(t *testing.T) {
	in := fullBatch()
	in.Flows[0].Probe = ""
	in.Transactions[0].Probe = "someone-else"
	out := mustDecode(t, mustEncode(t, in))
	if out.Flows[0].Probe != "probe-1" || out.Transactions[0].Probe != "probe-1" {
		t.Errorf("records' probe: flow %q transaction %q, want the batch's probe-1", out.Flows[0].Probe, out.Transactions[0].Probe)
	}
}

func TestEdgesAndZonesDoNotTravel(t *testing.T) {
	in := fullBatch()
	in.Edges = []record.Edge{{Probe: "probe-1", Bytes: 1}}
	in.Flows[0].Client = netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 5)
	out := mustDecode(t, mustEncode(t, in))
	if len(out.Edges) != 0 {
		t.Errorf("edges travelled: %v", out.Edges)
	}
	if got := out.Flows[0].Client.String(); got != "[fe80::1]:5" {
		t.Errorf("zoned client came back as %s, want [fe80::1]:5", got)
	}
}

func TestEmptyBatch(t *testing.T) {
	in := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: 1}
	out := mustDecode(t, mustEncode(t, in))
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %+v want %+v", out, in)
	}
}

func TestToProtoRefusesTimesOutOfRange(t *testing.T) {
	in := fullBatch()
	in.Flows[0].End = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := Encode(in)
	if err == nil || !strings.Contains(err.Error(), "flow end") {
		t.Fatalf("got %v, want an error about the flow end", err)
	}
	if _, err := ToProto(nil); err == nil {
		t.Error("nil batch accepted")
	}
}

func mustEncode(t testing.TB, b *record.Batch) []byte {
	t.Helper()
	data, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustDecode decodes what must be valid through and through.
func mustDecode(t testing.TB, data []byte) *record.Batch {
	t.Helper()
	b, dropped, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if dropped.Total() != 0 || dropped.First != nil {
		t.Fatalf("records dropped: %v (%v)", dropped.Records, dropped.First)
	}
	return b
}

func mustProto(t testing.TB) *pb.Batch {
	t.Helper()
	m, err := ToProto(fullBatch())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFromProtoRefusesHostileEnvelope mutates the envelope of a valid
// message one way at a time; each must refuse the whole batch with
// ErrInvalid and a message naming what is wrong.
func TestFromProtoRefusesHostileEnvelope(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name   string
		mutate func(m *pb.Batch)
		want   string
	}{
		{"nil", nil, "no batch"},
		{"no version", func(m *pb.Batch) { m.Version = 0 }, "version missing"},
		{"future version", func(m *pb.Batch) { m.Version = 2 }, "version 2 not supported"},
		{"no probe", func(m *pb.Batch) { m.Probe = nil }, "probe info missing"},
		{"empty probe id", func(m *pb.Batch) { m.Probe.Id = "" }, "probe.id is empty"},
		{"long probe id", func(m *pb.Batch) { m.Probe.Id = long(MaxNameBytes + 1) }, "probe: id is 1025 bytes"},
		{"long label", func(m *pb.Batch) { m.Probe.Labels["env"] = long(MaxNameBytes + 1) }, "label value is 1025 bytes"},
		{"too many labels", func(m *pb.Batch) {
			for i := range MaxLabels + 1 {
				m.Probe.Labels[strings.Repeat("k", i+1)] = ""
			}
		}, "labels, more than 1024"},
		{"too many devices", func(m *pb.Batch) { m.Probe.Devices = make([]string, MaxDevices+1) }, "devices, more than"},
		{"too many addresses", func(m *pb.Batch) { m.Probe.Addresses = make([][]byte, MaxAddresses+1) }, "addresses, more than"},
		{"bad probe address", func(m *pb.Batch) { m.Probe.Addresses[1] = []byte{1, 2, 3} }, "addresses[1] is 3 bytes"},
		{"empty probe address", func(m *pb.Batch) { m.Probe.Addresses[0] = nil }, "addresses[0] is 0 bytes"},
		{"negative period", func(m *pb.Batch) { m.Probe.Period = -1 }, "period -1"},
		{"period over a day", func(m *pb.Batch) { m.Probe.Period = int64(25 * time.Hour) }, "period 90000000000000"},
		{"probe started at the reserved time", func(m *pb.Batch) { m.Probe.Started = math.MinInt64 }, "out of range"},
		{"too many records", func(m *pb.Batch) { m.Traffic = make([]*pb.Traffic, MaxRecords) }, "records, more than 100000"},
		{"long spool id", func(m *pb.Batch) { m.SpoolId = long(MaxNameBytes + 1) }, "spool_id of 1025 bytes"},
		{"too many loss counters", func(m *pb.Batch) {
			for i := range MaxLoss + 1 {
				m.Loss[long(i+1)] = 1
			}
		}, "loss counters, more than"},
		{"long loss key", func(m *pb.Batch) { m.Loss[long(MaxNameBytes+1)] = 1 }, "loss key is"},
		{"center loss key", func(m *pb.Batch) { m.Loss[LossInvalidPrefix+ReasonTime] = 1 }, "is the center's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m *pb.Batch
			if c.mutate != nil {
				m = mustProto(t)
				c.mutate(m)
			}
			b, _, err := FromProto(m)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// TestFromProtoDropsInvalidRecords makes one record of a valid message
// invalid, one way at a time: that record alone is left out and counted
// under its reason, and every other record comes back as it was sent.
func TestFromProtoDropsInvalidRecords(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name   string
		mutate func(m *pb.Batch)
		reason string
		want   string
	}{
		{"huge summary", func(m *pb.Batch) { m.Windows[0].Summary = make([]byte, MaxSummaryBytes+1) }, ReasonTooLong, "windows[0]: summary is"},
		{"window ends before it starts", func(m *pb.Batch) { m.Windows[0].End = m.Windows[0].Start - 1 }, ReasonTime, "windows[0]: end"},
		{"window at the reserved time", func(m *pb.Batch) { m.Windows[0].Start = math.MinInt64 }, ReasonTime, "windows[0]: time"},
		{"3-byte client", func(m *pb.Batch) { m.Flows[0].ClientAddr = []byte{1, 2, 3} }, ReasonAddress, "flows[0]: client address is 3 bytes"},
		{"17-byte server", func(m *pb.Batch) { m.Flows[0].ServerAddr = make([]byte, 17) }, ReasonAddress, "flows[0]: server address is 17 bytes"},
		{"port above 65535", func(m *pb.Batch) { m.Flows[0].ServerPort = 65536 }, ReasonAddress, "flows[0]: server port 65536"},
		{"port without address", func(m *pb.Batch) { m.Flows[0].ClientAddr = nil }, ReasonAddress, "flows[0]: client port 40000 without an address"},
		{"vlan", func(m *pb.Batch) { m.Flows[0].Vlan = 1 << 16 }, ReasonValue, "flows[0]: vlan 65536"},
		{"negative rtt", func(m *pb.Batch) { m.Flows[0].Rtt = -5 }, ReasonValue, "flows[0]: rtt -5"},
		{"long app", func(m *pb.Batch) { m.Flows[0].App = long(MaxNameBytes + 1) }, ReasonTooLong, "flows[0]: app is"},
		{"tx latency", func(m *pb.Batch) { m.Transactions[0].Latency = -2 }, ReasonValue, "transactions[0]: latency -2"},
		{"tx port", func(m *pb.Batch) { m.Transactions[0].ClientPort = 1 << 20 }, ReasonAddress, "transactions[0]: client port"},
		{"tx reserved time", func(m *pb.Batch) { m.Transactions[0].ResponseTime = math.MinInt64 }, ReasonTime, "transactions[0]: time"},
		{"tx long target", func(m *pb.Batch) { m.Transactions[0].Target = make([]byte, MaxValueBytes+1) }, ReasonTooLong, "transactions[0]: target is 65537 bytes"},
		{"tx long field", func(m *pb.Batch) { m.Transactions[0].Fields[1].Value = make([]byte, MaxValueBytes+1) }, ReasonTooLong, "transactions[0]: field value is"},
		{"tx too many fields", func(m *pb.Batch) { m.Transactions[0].Fields = make([]*pb.Field, MaxFields+1) }, ReasonTooMany, "transactions[0]: 1025 fields, more than"},
		{"tx too many flags", func(m *pb.Batch) { m.Transactions[0].Flags = make([]string, MaxFlags+1) }, ReasonTooMany, "transactions[0]: 65 flags, more than"},
		{"traffic long device", func(m *pb.Batch) { m.Traffic[0].Device = long(MaxNameBytes + 1) }, ReasonTooLong, "traffic[0]: device is"},
		{"traffic ends before it starts", func(m *pb.Batch) { m.Traffic[0].Start = m.Traffic[0].End + 1 }, ReasonTime, "traffic[0]: end"},
	}
	// Two records of each kind: the first is spoiled, the second must stay.
	two := func() *record.Batch {
		b := fullBatch()
		b.Windows = append(b.Windows, b.Windows[0])
		b.Windows[1].Packets++
		b.Flows = append(b.Flows, b.Flows[0])
		b.Flows[1].Device = "eth1"
		b.Transactions = append(b.Transactions, b.Transactions[0])
		b.Transactions[1].Status = "404"
		b.Traffic = append(b.Traffic, b.Traffic[0])
		b.Traffic[1].Direction = "out"
		return b
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sent := two()
			m, err := ToProto(sent)
			if err != nil {
				t.Fatal(err)
			}
			c.mutate(m)
			b, dropped, err := FromProto(m)
			if err != nil {
				t.Fatalf("batch refused: %v", err)
			}
			if dropped.Total() != 1 || dropped.Records[c.reason] != 1 {
				t.Errorf("dropped %v; want one record for %q", dropped.Records, c.reason)
			}
			if dropped.First == nil || !errors.Is(dropped.First, ErrInvalid) || !strings.Contains(dropped.First.Error(), c.want) {
				t.Errorf("first dropped %v; want ErrInvalid saying %q", dropped.First, c.want)
			}
			// The spoiled record's list lost its first element; the other
			// lists are whole.
			want := two()
			switch list := strings.SplitN(c.want, "[", 2)[0]; list {
			case "windows":
				want.Windows = want.Windows[1:]
			case "flows":
				want.Flows = want.Flows[1:]
			case "transactions":
				want.Transactions = want.Transactions[1:]
			case "traffic":
				want.Traffic = want.Traffic[1:]
			default:
				t.Fatalf("case names no list: %q", c.want)
			}
			if !reflect.DeepEqual(b, want) {
				t.Errorf("kept records differ:\n got %+v\nwant %+v", b, want)
			}
		})
	}
}

// Every record of a batch can be invalid: the batch is accepted empty, so
// that its envelope (sequence, loss counters) still counts.
func TestFromProtoAllRecordsInvalid(t *testing.T) {
	m := mustProto(t)
	m.Flows = append(m.Flows, &pb.Flow{Rtt: -1}, &pb.Flow{Vlan: 1 << 20})
	m.Flows[0].Rtt = -1
	m.Windows[0].End = m.Windows[0].Start - 1
	m.Transactions[0].Latency = -9
	m.Traffic[0].Start = m.Traffic[0].End + 1
	records := len(m.Windows) + len(m.Flows) + len(m.Transactions) + len(m.Traffic)
	b, dropped, err := FromProto(m)
	if err != nil {
		t.Fatal(err)
	}
	if b.Records() != 0 || dropped.Total() != uint64(records) {
		t.Errorf("%d records kept, %d dropped (%v); want 0, %d", b.Records(), dropped.Total(), dropped.Records, records)
	}
	in := fullBatch()
	if b.Seq != in.Seq || b.SpoolID != in.SpoolID || !reflect.DeepEqual(b.Loss, in.Loss) || !reflect.DeepEqual(b.Probe, in.Probe) {
		t.Errorf("envelope %+v; want the one sent", b)
	}
	if want := map[string]uint64{ReasonValue: 4, ReasonTime: 2}; !reflect.DeepEqual(dropped.Records, want) {
		t.Errorf("dropped %v, want %v", dropped.Records, want)
	}
}

func TestNilElementsAreEmptyRecords(t *testing.T) {
	m := mustProto(t)
	m.Flows = append(m.Flows, nil)
	m.Transactions[0].Fields = append(m.Transactions[0].Fields, nil)
	b, dropped, err := FromProto(m)
	if err != nil || dropped.Total() != 0 {
		t.Fatal(err, dropped.Records)
	}
	if got := b.Flows[1]; !reflect.DeepEqual(got, record.Flow{Probe: "probe-1"}) {
		t.Errorf("nil flow became %+v", got)
	}
	if got := b.Transactions[0].Fields[2]; got != (record.Field{}) {
		t.Errorf("nil field became %+v", got)
	}
}

func TestDecodeGarbage(t *testing.T) {
	data := mustEncode(t, fullBatch())
	for _, bad := range [][]byte{data[:len(data)/2], {0xff, 0xff, 0xff}, {0x0a, 0x05, 0x01}} {
		if _, _, err := Decode(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(% x...) = %v, want ErrInvalid", bad[:min(8, len(bad))], err)
		}
	}
	if _, _, err := Decode(nil); err == nil || !strings.Contains(err.Error(), "version missing") {
		t.Errorf("Decode(nil) = %v, want version missing", err)
	}
}

// TestEncodingIsCompact pins the encoding choices (4-byte IPv4, fixed
// 8-byte times, no per-record probe ID): a flow record of realistic values
// with every field set takes at most 100 bytes.
func TestEncodingIsCompact(t *testing.T) {
	one := fullBatch()
	one.Flows[0].Client = netip.MustParseAddrPort("10.0.0.1:40000")
	one.Flows[0].Server = netip.MustParseAddrPort("10.0.0.2:443")
	m, err := ToProto(one)
	if err != nil {
		t.Fatal(err)
	}
	n := proto.Size(m.Flows[0])
	if n > 100 {
		t.Errorf("one IPv4 flow record is %d bytes on the wire, want <= 100", n)
	}
}

func BenchmarkEncode(b *testing.B) {
	batch := benchBatch(1000)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		data, err := Encode(batch)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size)/1000, "bytes/record")
}

func BenchmarkDecode(b *testing.B) {
	data, err := Encode(benchBatch(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBatch has n records: half flows, half transactions.
func benchBatch(n int) *record.Batch {
	f := fullBatch()
	b := &record.Batch{Probe: f.Probe, Seq: 1, SentAt: f.SentAt, Loss: f.Loss}
	for i := range n {
		if i%2 == 0 {
			fl := f.Flows[0]
			fl.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(i))
			b.Flows = append(b.Flows, fl)
		} else {
			b.Transactions = append(b.Transactions, f.Transactions[0])
		}
	}
	return b
}
