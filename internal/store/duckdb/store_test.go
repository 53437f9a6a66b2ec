package duckdb

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// nasty holds strings that must come back byte for byte.
var nasty = []string{
	"",
	`quote ' double " back \ semi ; -- comment /* x */`,
	"nul\x00inside\x00",
	"invalid \xff\xfe utf-8 \xc3",
	"escape range \uf700\uf7ff\uf780",
	strings.Repeat("long'\"\x00é\xff", 1000),
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// roundTripBatch has one record of every type with every field set, and
// the awkward values: IPv4, IPv6, IPv4-mapped IPv6, zero addresses, zero
// times, nil and empty lists, strings from nasty.
func roundTripBatch() *record.Batch {
	b := &record.Batch{
		Probe: record.ProbeInfo{
			ID: "probe-'1'", Hostname: "host\xff", Version: "v1.2.3",
			Labels:    map[string]string{"env": "prod", "node": nasty[3]},
			Devices:   []string{"eth0", "any"},
			Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fe80::1")},
			Started:   ns(-time.Hour),
		},
		Seq:    7,
		Loss:   map[string]uint64{"capture.kernel_drops": 3, "decode.bad": 1 << 60},
		SentAt: ns(0),
	}
	b.Windows = []record.Window{
		{Probe: "probe-'1'", Start: ns(0), End: ns(time.Minute), Summary: []byte("\x00\x01binary\xff"), Packets: 10, Bytes: 1 << 63},
		{Probe: "probe-'1'", Start: ns(time.Minute), End: ns(2 * time.Minute), Summary: nil, Packets: 0, Bytes: 0},
	}
	for i, s := range nasty {
		b.Flows = append(b.Flows, record.Flow{
			Probe: "probe-'1'", Start: ns(time.Duration(i) * time.Second), End: ns(time.Duration(i)*time.Second + 999),
			Transport: s, Client: addrPort("192.168.1.2:40000"), Server: addrPort("[2001:db8::1]:443"),
			App: s, Device: s, VLAN: 4095, TunnelID: 1<<32 - 1,
			Packets: [2]uint64{1, 1<<64 - 1}, Bytes: [2]uint64{1 << 63, 2}, Retransmissions: [2]uint64{3, 4},
			RTT: 1234567, State: s, Ended: i%2 == 0,
		})
	}
	b.Flows = append(b.Flows,
		record.Flow{Probe: "probe-'1'", Start: ns(10 * time.Second), End: ns(10 * time.Second),
			Client: addrPort("[::ffff:10.1.2.3]:1"), Server: addrPort("[::]:0")},
		record.Flow{Probe: "p-zero"}, // zero times, zero addresses
	)
	for i, s := range nasty {
		b.Transactions = append(b.Transactions, record.Transaction{
			Probe: "probe-'1'", Proto: s, Transport: "tcp",
			Client: addrPort("[2001:db8::2]:5555"), Server: addrPort("10.9.8.7:80"),
			RequestTime: ns(time.Duration(i) * time.Second), ResponseTime: ns(time.Duration(i)*time.Second + 5),
			Latency: 5, RequestBytes: -1, ResponseBytes: 1 << 62,
			Op: s, Target: s, Status: s, Outcome: s,
			Flags:  []string{s, "sqli"},
			Fields: []record.Field{{Key: s, Value: s}, {Key: "k", Value: ""}, {Key: s, Value: "dup key"}},
		})
	}
	b.Transactions = append(b.Transactions,
		record.Transaction{Probe: "probe-'1'", Proto: "dns", ResponseTime: ns(20 * time.Second), Latency: -1,
			Flags: []string{}, Fields: []record.Field{}},
		record.Transaction{Probe: "probe-'1'", Proto: "dns", RequestTime: ns(21 * time.Second), Latency: -1},
	)
	b.Traffic = []record.Traffic{
		{Probe: "probe-'1'", Device: "eth0", Direction: "in", Start: ns(0), End: ns(time.Minute), Packets: 5, Bytes: 1 << 63},
		{Probe: "probe-'1'", Device: nasty[5], Direction: nasty[3], Start: ns(0), End: ns(time.Minute), Packets: 1, Bytes: 2},
	}
	b.Edges = []record.Edge{
		{Probe: "probe-'1'", Start: ns(0), End: ns(time.Minute), Client: netip.MustParseAddr("10.0.0.1"),
			Server: netip.MustParseAddr("2001:db8::9"), Transport: "tcp", App: nasty[3], Port: 65535,
			Flows: 1, Packets: 2, Bytes: 3, Requests: 4, Errors: 5, LatencySum: 6, LatencyCount: 7, LatencyMax: 8},
		{Probe: "probe-'1'", Start: ns(0), End: ns(time.Minute), Client: netip.MustParseAddr("::ffff:10.0.0.1"),
			Server: netip.MustParseAddr("10.0.0.2"), Transport: "udp", App: "", Port: 53,
			Flows: 9, Packets: 10, Bytes: 11, Requests: 12, Errors: 0, LatencySum: -1, LatencyCount: 0, LatencyMax: 0},
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Dir: dir})
	ctx := context.Background()
	b := roundTripBatch()
	now := ns(time.Hour)
	mustWrite(t, s, b, now)
	check := func(s *Store) {
		t.Helper()
		all := store.TimeRange{To: ns(24 * time.Hour)}

		wins, err := s.Windows(ctx, store.WindowQuery{TimeRange: all})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(wins, b.Windows) {
			t.Errorf("windows:\n got %+v\nwant %+v", wins, b.Windows)
		}

		fp, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: all}, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "flows", fp.Flows, b.Flows)

		tp, err := s.Transactions(ctx, store.TxQuery{TimeRange: all, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "transactions", tp.Transactions, b.Transactions)

		tr, err := s.Traffic(ctx, store.TrafficQuery{TimeRange: all})
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "traffic", tr, b.Traffic)

		es, err := s.Edges(ctx, store.EdgeQuery{TimeRange: all})
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "edges", es, b.Edges)

		ps, err := s.Probes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []record.ProbeStatus{{Info: b.Probe, FirstSeen: now, LastReport: now, LastSeq: 7, Batches: 1,
			Records: uint64(b.Records()), Loss: b.Loss}}
		if !reflect.DeepEqual(ps, want) {
			t.Errorf("probes:\n got %+v\nwant %+v", ps, want)
		}
		if seq, err := s.LastSeq(ctx, b.Probe.ID, b.SpoolID); err != nil || seq != 7 {
			t.Errorf("LastSeq = %d, %v; want 7", seq, err)
		}
	}
	check(s)
	if st := s.Stats(); st.Batches != 1 || st.Rows["flows"] != uint64(len(b.Flows)) ||
		st.Rows["transactions"] != uint64(len(b.Transactions)) || st.Rows["windows"] != 2 ||
		st.Rows["traffic"] != 2 || st.Rows["edges"] != 2 {
		t.Errorf("stats after one batch: %+v", st)
	}

	// Survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, Config{Dir: dir})
	check(s2)
}

// sameSet compares two lists of records regardless of order.
func sameSet[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	key := func(v T) string { return fmt.Sprintf("%#v", v) }
	g := make([]string, len(got))
	for i, v := range got {
		g[i] = key(v)
	}
	w := make([]string, len(want))
	for i, v := range want {
		w[i] = key(v)
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		for i := 0; i < max(len(g), len(w)); i++ {
			var a, b string
			if i < len(g) {
				a = g[i]
			}
			if i < len(w) {
				b = w[i]
			}
			if a != b {
				t.Errorf("%s differ (%d got, %d want); first difference:\n got %s\nwant %s", what, len(g), len(w), a, b)
				return
			}
		}
	}
}

func TestDedup(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	g := newGen(2, 50)
	batch := func(probe string, seq uint64, n int) *record.Batch {
		b := &record.Batch{Probe: record.ProbeInfo{ID: probe}, Seq: seq}
		for i := range n {
			b.Flows = append(b.Flows, g.flow(probe, time.Duration(i)*time.Second, uint32(i)))
		}
		return b
	}
	count := func() int {
		p, err := s.Flows(ctx, store.FlowQuery{Limit: store.MaxLimit, FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: ns(time.Hour)}}})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Flows)
	}
	mustWrite(t, s, batch("a", 5, 10), ns(0))
	for _, seq := range []uint64{5, 4, 0} {
		dup, err := s.Write(ctx, batch("a", seq, 3), ns(0))
		if err != nil || !dup {
			t.Errorf("seq %d after 5: duplicate %v, %v", seq, dup, err)
		}
	}
	if n := count(); n != 10 {
		t.Errorf("%d flows stored after duplicates, want 10", n)
	}
	// Sequences are per probe.
	mustWrite(t, s, batch("b", 1, 2), ns(0))
	mustWrite(t, s, batch("a", 6, 1), ns(0))
	if n := count(); n != 13 {
		t.Errorf("%d flows stored, want 13", n)
	}
	if seq, _ := s.LastSeq(ctx, "a", ""); seq != 6 {
		t.Errorf("LastSeq(a) = %d, want 6", seq)
	}
	if seq, _ := s.LastSeq(ctx, "nobody", ""); seq != 0 {
		t.Errorf("LastSeq(nobody) = %d, want 0", seq)
	}
	st := s.Stats()
	if st.Duplicates != 3 || st.Batches != 3 || st.Rows["flows"] != 13 {
		t.Errorf("stats: %+v", st)
	}
	ps, _ := s.Probes(ctx)
	if len(ps) != 2 || ps[0].Batches != 2 || ps[0].Records != 11 || ps[1].Batches != 1 {
		t.Errorf("probe status: %+v", ps)
	}
}

func TestWriteAtomic(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	g := newGen(3, 50)
	b := &record.Batch{Probe: record.ProbeInfo{ID: "a"}, Seq: 1}
	for i := range 100 {
		b.Flows = append(b.Flows, g.flow("a", time.Duration(i)*time.Second, uint32(i)))
	}
	b.Windows = []record.Window{{Probe: "a", Start: ns(0), End: ns(time.Minute)}}
	// One transaction in year 3000 spoils the batch: nothing is stored.
	b.Transactions = []record.Transaction{{Probe: "a", RequestTime: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	_, err := s.Write(ctx, b, ns(0))
	if !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), "transactions[0]") {
		t.Fatalf("write of a batch with a time out of range: %v", err)
	}
	if seq, _ := s.LastSeq(ctx, "a", ""); seq != 0 {
		t.Errorf("LastSeq after a failed write = %d", seq)
	}
	p, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: ns(time.Hour)}}})
	if err != nil || len(p.Flows) != 0 {
		t.Errorf("flows after a failed write: %d, %v", len(p.Flows), err)
	}
	if st := s.Stats(); st.WriteErrors != 1 || st.Batches != 0 || st.Rows["flows"] != 0 {
		t.Errorf("stats after a failed write: %+v", st)
	}
	// The same batch, fixed, goes through, and the appenders did not keep
	// the rows of the failed attempt.
	b.Transactions[0].RequestTime = ns(0)
	mustWrite(t, s, b, ns(0))
	p, err = s.Flows(ctx, store.FlowQuery{Limit: 1000, FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: ns(time.Hour)}}})
	if err != nil || len(p.Flows) != 100 {
		t.Errorf("flows after the retry: %d, %v", len(p.Flows), err)
	}

	for _, bad := range []*record.Batch{nil, {Seq: 1}} {
		if _, err := s.Write(ctx, bad, ns(0)); !errors.Is(err, ErrBadBatch) {
			t.Errorf("Write(%+v) = %v, want ErrBadBatch", bad, err)
		}
	}
	// A cancelled context fails the write, and the store goes on.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	b2 := &record.Batch{Probe: record.ProbeInfo{ID: "a"}, Seq: 2, Flows: b.Flows}
	if _, err := s.Write(cctx, b2, ns(0)); err == nil {
		t.Error("write with a cancelled context succeeded")
	}
	mustWrite(t, s, b2, ns(0))
	if seq, _ := s.LastSeq(ctx, "a", ""); seq != 2 {
		t.Errorf("LastSeq = %d, want 2", seq)
	}
}

func TestConcurrentWrites(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	const probes, batches, per = 4, 5, 200
	var wg sync.WaitGroup
	errs := make(chan error, probes*batches)
	for p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(uint64(10+p), 100)
			name := fmt.Sprintf("p%d", p)
			for seq := 1; seq <= batches; seq++ {
				b := &record.Batch{Probe: record.ProbeInfo{ID: name}, Seq: uint64(seq)}
				for i := range per {
					b.Flows = append(b.Flows, g.flow(name, time.Duration(seq*per+i)*time.Millisecond, uint32(i)))
				}
				if _, err := s.Write(ctx, b, ns(0)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	gs, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{store.ColProbe}, OrderBy: store.OrderFlows,
		FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: ns(time.Hour)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != probes {
		t.Fatalf("groups %+v", gs)
	}
	for _, g := range gs {
		if g.Flows != batches*per {
			t.Errorf("probe %s: %d flows, want %d", g.Key[0], g.Flows, batches*per)
		}
	}
}

func TestBadQueries(t *testing.T) {
	s := openTest(t, Config{})
	ctx := context.Background()
	g := newGen(4, 50)
	b := &record.Batch{Probe: record.ProbeInfo{ID: "a"}, Seq: 1}
	for i := range 30 {
		b.Flows = append(b.Flows, g.flow("a", time.Duration(i)*time.Second, uint32(i)))
		b.Transactions = append(b.Transactions, g.tx("a", time.Duration(i)*time.Second, i))
	}
	mustWrite(t, s, b, ns(0))
	all := store.TimeRange{To: ns(time.Hour)}
	fp, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: all}, Limit: 10})
	if err != nil || fp.Next == "" {
		t.Fatalf("first page: %v, next %q", err, fp.Next)
	}
	tp, err := s.Transactions(ctx, store.TxQuery{TimeRange: all, Limit: 10})
	if err != nil || tp.Next == "" {
		t.Fatalf("first page: %v, next %q", err, tp.Next)
	}
	flipped := []byte(fp.Next)
	flipped[5] ^= 1
	badPrefix := netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 33)
	many := make([]string, storeutil.MaxListParams+1)
	cases := []struct {
		name, want string
		run        func() error
	}{
		{"negative limit", "-1", func() error { _, err := s.Flows(ctx, store.FlowQuery{Limit: -1}); return err }},
		{"limit over max", "10001", func() error { _, err := s.Flows(ctx, store.FlowQuery{Limit: store.MaxLimit + 1}); return err }},
		{"windows limit", "10001", func() error {
			_, err := s.Windows(ctx, store.WindowQuery{Limit: store.MaxLimit + 1})
			return err
		}},
		{"edges limit", "-5", func() error { _, err := s.Edges(ctx, store.EdgeQuery{Limit: -5}); return err }},
		{"groups limit", "10001", func() error {
			_, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{"host"}, Limit: store.MaxLimit + 1})
			return err
		}},
		{"tx limit", "10001", func() error {
			_, err := s.Transactions(ctx, store.TxQuery{Limit: store.MaxLimit + 1})
			return err
		}},
		{"garbage cursor", "cursor", func() error { _, err := s.Flows(ctx, store.FlowQuery{Cursor: "not a cursor!"}); return err }},
		{"flipped cursor", "cursor", func() error { _, err := s.Flows(ctx, store.FlowQuery{Cursor: string(flipped)}); return err }},
		{"truncated cursor", "cursor", func() error { _, err := s.Flows(ctx, store.FlowQuery{Cursor: fp.Next[:10]}); return err }},
		{"long cursor", "cursor", func() error {
			_, err := s.Flows(ctx, store.FlowQuery{Cursor: strings.Repeat("A", 1<<20)})
			return err
		}},
		{"flows cursor on transactions", "cursor", func() error {
			_, err := s.Transactions(ctx, store.TxQuery{Cursor: fp.Next})
			return err
		}},
		{"tx cursor on flows", "cursor", func() error { _, err := s.Flows(ctx, store.FlowQuery{Cursor: tp.Next}); return err }},
		{"no group column", "no column", func() error { _, err := s.FlowGroups(ctx, store.GroupQuery{}); return err }},
		{"unknown group column", `"hostname"`, func() error {
			_, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{"host", "hostname"}})
			return err
		}},
		{"injection as group column", `"probe; DROP TABLE flows"`, func() error {
			_, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{"probe; DROP TABLE flows"}})
			return err
		}},
		{"duplicate group column", `"port"`, func() error {
			_, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{"port", "app", "port"}})
			return err
		}},
		{"unknown order", `"latency"`, func() error {
			_, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{"port"}, OrderBy: "latency"})
			return err
		}},
		{"invalid prefix", "host prefix", func() error {
			_, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{Host: badPrefix}})
			return err
		}},
		{"invalid client prefix", "client prefix", func() error {
			_, err := s.Transactions(ctx, store.TxQuery{Client: badPrefix})
			return err
		}},
		{"from after to", "after", func() error {
			_, err := s.Traffic(ctx, store.TrafficQuery{TimeRange: store.TimeRange{From: ns(time.Hour), To: ns(0)}})
			return err
		}},
		{"from out of range", "out of range", func() error {
			_, err := s.Windows(ctx, store.WindowQuery{TimeRange: store.TimeRange{From: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}})
			return err
		}},
		{"negative min latency", "negative", func() error {
			_, err := s.Transactions(ctx, store.TxQuery{MinLatency: -1})
			return err
		}},
		{"too many probes", "1001 probes", func() error {
			_, err := s.Edges(ctx, store.EdgeQuery{Probes: many})
			return err
		}},
	}
	for _, c := range cases {
		err := c.run()
		if !errors.Is(err, store.ErrBadQuery) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want ErrBadQuery naming %s", c.name, err, c.want)
		}
	}
	// The store still works, and nothing was dropped.
	if fp, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: all}, Limit: 100}); err != nil || len(fp.Flows) != 30 {
		t.Errorf("after bad queries: %d flows, %v", len(fp.Flows), err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Dir: "/x"}
	if err := ok.Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
	d := DefaultConfig()
	d.Dir = "/x"
	d.MemoryLimit = "1.5GiB"
	d.Threads = 2
	if err := d.Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Dir"},
		{Config{Dir: "/x", Retention: Retention{MaxAge: time.Second}}, "Retention.MaxAge"},
		{Config{Dir: "/x", Retention: Retention{MaxAge: -time.Hour}}, "Retention.MaxAge"},
		{Config{Dir: "/x", Retention: Retention{MaxBytes: 100}}, "Retention.MaxBytes"},
		{Config{Dir: "/x", RetainEvery: time.Millisecond}, "RetainEvery"},
		{Config{Dir: "/x", Threads: -1}, "Threads"},
		{Config{Dir: "/x", MemoryLimit: "1GB'; DROP"}, "MemoryLimit"},
		{Config{Dir: "/x", MemoryLimit: "lots"}, "MemoryLimit"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
		if _, err := Open(c.cfg, nil); err == nil {
			t.Errorf("Open(%+v) accepted an invalid config", c.cfg)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Dir: dir})
	var v int
	if err := s.db.QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != schemaVersion() {
		t.Fatalf("schema version %d, %v", v, err)
	}
	// A database from a newer program is refused, not misread.
	if _, err := s.db.Exec(`INSERT INTO schema_version VALUES (?, 0)`, schemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(Config{Dir: dir}, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("open of a newer schema: %v", err)
	}
}

func TestClosed(t *testing.T) {
	s := openTest(t, Config{})
	s.Close()
	ctx := context.Background()
	if _, err := s.Write(ctx, &record.Batch{Probe: record.ProbeInfo{ID: "a"}, Seq: 1}, ns(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, err := s.Flows(ctx, store.FlowQuery{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Flows after Close: %v", err)
	}
	if _, err := s.Retain(ctx, time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("Retain after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
