package summary

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/proto/registry"
	"github.com/wirewatch/wirewatch/internal/sketch"
)

// testPipe is one worker's share of the probe's pipeline, as
// internal/probe's shard runs it: flow table, L7 tracker, recorder.
type testPipe struct {
	flows *flow.Table
	l7    *l7.Tracker
	rec   *Recorder
	truth *truth
}

func (p *testPipe) Transaction(t *l7.Transaction) {
	p.rec.Transaction(t)
	if p.truth != nil {
		p.truth.transaction(t)
	}
}

// truth is what the sketches estimate, counted exactly over the whole
// capture.
type truth struct {
	latencyUS map[string][]float64 // by protocol: transactions with both sides
	srcs      map[[16]byte]bool
	dsts      map[[16]byte]bool
	qnames    map[string]bool
}

func (tr *truth) transaction(t *l7.Transaction) {
	if lat := t.Latency(); lat >= 0 {
		tr.latencyUS[t.Proto] = append(tr.latencyUS[t.Proto], float64(lat)/1e3)
	}
	if t.Proto == "dns" && len(t.Target) > 0 {
		tr.qnames[string(t.Target)] = true
	}
}

// recording is a capture recorded into one bucket per part.
type recording struct {
	parts []*Bucket
	truth *truth
}

// record runs a capture through the probe's pipeline and records it into
// parts buckets: one decoder reads every frame (as the probe's dispatcher
// does), IP packets go to the part their flow hashes to, the rest to part
// 0; every part's flows and L7 state see the clock of every frame.
// parts == 1 records the whole capture.
func record(tb testing.TB, rel string, parts, topCapacity int, hosts ...netip.Prefix) *recording {
	tb.Helper()
	return recordRange(tb, rel, parts, topCapacity, math.MinInt64, math.MaxInt64, hosts...)
}

// recordRange is record over the frames with from ≤ timestamp < to.
func recordRange(tb testing.TB, rel string, parts, topCapacity int, from, to int64, hosts ...netip.Prefix) *recording {
	tb.Helper()
	src, err := capture.OpenFile(corpus.Path(tb, rel), capture.FileOptions{})
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	defer src.Close()
	devName := func(i int) string {
		if ifs := src.Interfaces(); i >= 0 && i < len(ifs) && ifs[i].Name != "" {
			return ifs[i].Name
		}
		return fmt.Sprintf("if%d", i)
	}
	h := NewHosts(hosts)
	tr := &truth{latencyUS: map[string][]float64{}, srcs: map[[16]byte]bool{}, dsts: map[[16]byte]bool{}, qnames: map[string]bool{}}
	pipes := make([]*testPipe, parts)
	for i := range pipes {
		p := &testPipe{rec: NewRecorder(h, topCapacity, devName), truth: tr}
		p.flows = flow.NewTable(flow.DefaultConfig(), func(f *flow.Flow, why flow.EndReason) {
			p.l7.FlowEnded(f, why)
			p.rec.FlowEnded(f, why)
		})
		p.l7, err = l7.NewTracker(l7.DefaultConfig(), registry.All(), p)
		if err != nil {
			tb.Fatal(err)
		}
		// The bounds of the probe's --summary mode.
		p.rec.Begin(math.MinInt64/2, math.MaxInt64/2)
		pipes[i] = p
	}
	dec := decode.New(decode.DefaultConfig())
	var pkt decode.Packet
	lastSec, lastTS := int64(math.MinInt64), int64(0)
	for {
		f, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("%s: %v", rel, err)
		}
		if f.Timestamp < from || f.Timestamp >= to {
			continue
		}
		st := dec.Decode(uint16(f.LinkType), f.Data, f.WireLen, f.Timestamp, &pkt)
		pkt.Interface = f.Interface
		ts := pkt.Timestamp
		lastTS = ts
		if sec := ts / 1e9; sec != lastSec {
			lastSec = sec
			for _, p := range pipes {
				p.flows.Expire(ts)
				p.l7.Expire(ts)
			}
		}
		switch st {
		case decode.StatusOK:
			p := pipes[flowPart(&pkt, parts)]
			ev := p.flows.Observe(&pkt)
			p.rec.IP(&pkt, &ev, false)
			p.l7.Packet(&ev, &pkt)
			if ev.Flow != nil {
				tr.srcs[pkt.SrcIP.As16()] = true
				tr.dsts[pkt.DstIP.As16()] = true
			}
		case decode.StatusFragment:
			pipes[0].rec.Fragment(&pkt)
		default:
			pipes[0].rec.NonIP(ts, pkt.WireLen, pkt.Interface)
		}
	}
	rec := &recording{truth: tr}
	for i, p := range pipes {
		// Close the window as the probe does (fold the live flows, count
		// them), then end everything as at the end of a file.
		p.flows.Range(func(f *flow.Flow) bool {
			p.rec.FoldFlow(f)
			return true
		})
		b := p.rec.Current()
		b.Flows.ActiveAtClose = uint64(p.flows.Len())
		p.flows.Flush()
		p.l7.Flush(lastTS)
		st := p.l7.Stats()
		l := &b.Loss
		for r := l7.DropReason(0); r < l7.NumDropReasons; r++ {
			if v := st.ParserDrops[r]; v > 0 {
				l.L7 = addMap(l.L7, map[string]uint64{"parser_" + r.String() + "_bytes": v})
			}
		}
		for r := l7.NotParsed(0); r < l7.NumNotParsed; r++ {
			if v := st.NotParsed[r]; v > 0 {
				l.L7 = addMap(l.L7, map[string]uint64{"not_parsed_" + r.String() + "_bytes": v})
			}
		}
		if i == 0 {
			ds, cs := dec.Stats(), src.Stats()
			l.Malformed = addMap(nil, ds.Malformed)
			l.FragmentsDropped = addMap(nil, ds.Defrag.Dropped)
			l.UnsupportedLink = ds.UnsupportedLink
			l.TruncatedRecords, l.BadRecords, l.SnapTruncated, l.BadWireLen = cs.TruncatedRecords, cs.BadRecords, cs.SnapTruncated, cs.BadWireLen
		}
		rec.parts = append(rec.parts, b)
	}
	return rec
}

// flowPart spreads packets over n parts by a symmetric hash of the
// 5-tuple, so that both directions of a flow land in the same part.
func flowPart(p *decode.Packet, n int) int {
	a, b := p.SrcIP.As16(), p.DstIP.As16()
	pa, pb := p.SrcPort, p.DstPort
	if c := bytes.Compare(a[:], b[:]); c > 0 || (c == 0 && pa > pb) {
		a, b, pa, pb = b, a, pb, pa
	}
	var k [37]byte
	copy(k[:], a[:])
	copy(k[16:], b[:])
	binary.BigEndian.PutUint16(k[32:], pa)
	binary.BigEndian.PutUint16(k[34:], pb)
	k[36] = p.Proto
	return int(sketch.Hash64(k[:]) % uint64(n))
}

func reportJSON(tb testing.TB, b *Bucket) string {
	tb.Helper()
	j, err := json.MarshalIndent(b.Report(0, true, 1), "", " ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(j)
}

func encode(tb testing.TB, b *Bucket) []byte {
	tb.Helper()
	data, err := b.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func mustDecode(tb testing.TB, data []byte) *Bucket {
	tb.Helper()
	b, err := DecodeBucket(data)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// firstDiff shows where two reports part.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  %s\n  %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(la), len(lb))
}

var roundTripCaptures = []struct {
	rel   string
	hosts []netip.Prefix
}{
	{"pcapplusplus/PcapExamples/example2.pcap", []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}},      // DNS, HTTP, TLS
	{"pktvisor/dns_udp_tcp_random.pcap", []netip.Prefix{netip.MustParsePrefix("192.168.0.0/24")}},          // 2,000 qnames
	{"pcapplusplus/PcapExamples/sll.pcap", nil},                                                            // Linux cooked, IPv6 DNS
	{"pcapplusplus/PcapExamples/many_interfaces-1.pcapng", nil},                                            // several devices
	{"pcapplusplus/PcapExamples/ip4_fragments.pcap", nil},                                                  // fragments
	{"pcapplusplus/PacketExamples/ipv4-malformed.pcap", nil},                                               // loss.malformed
	{"pcapplusplus/PacketExamples/postgres.pcapng", nil},                                                   // an L7 protocol without a section of its own
	{"pcapplusplus/PcapExamples/4KHttpRequests.pcap", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, // L7 loss
}

// A decoded bucket reports exactly what the encoded one does, and a
// decode-encode-decode cycle changes nothing.
func TestWireRoundTrip(t *testing.T) {
	corpus.Path(t, roundTripCaptures[0].rel) // skips without the corpus
	seen := map[string]bool{}
	for _, c := range roundTripCaptures {
		t.Run(c.rel[strings.LastIndexByte(c.rel, '/')+1:], func(t *testing.T) {
			b := record(t, c.rel, 1, 256, c.hosts...).parts[0]
			want := reportJSON(t, b)
			data := encode(t, b)
			if again := encode(t, b); !bytes.Equal(data, again) {
				t.Errorf("encoding the same bucket twice gave different bytes")
			}
			d := mustDecode(t, data)
			if got := reportJSON(t, d); got != want {
				t.Fatalf("decoded report differs at %s", firstDiff(want, got))
			}
			// Decoding into a used bucket replaces it entirely.
			used := NewBucket(1, 2, 16)
			used.Devices["stale"] = &DeviceCounters{In: DirCounters{Packets: 1}}
			used.second(5e9).PktsTotal = 9
			used.Packets.Total = 99
			if err := used.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			if got := reportJSON(t, used); got != want {
				t.Fatalf("decoded into a used bucket: report differs at %s", firstDiff(want, got))
			}
			// The decoder copies what it keeps: the caller may reuse its
			// buffer.
			for i := range data {
				data[i] = 0xa5
			}
			if got := reportJSON(t, d); got != want {
				t.Fatalf("report changed after the input buffer was overwritten: %s", firstDiff(want, got))
			}
			if got := reportJSON(t, mustDecode(t, encode(t, d))); got != want {
				t.Fatalf("re-encoded report differs at %s", firstDiff(want, got))
			}
			t.Logf("%d packets, %d seconds -> %d bytes", b.Packets.Total, b.Seconds(), len(data))
			seen["dns"] = seen["dns"] || b.DNS != nil
			seen["http"] = seen["http"] || b.HTTP != nil
			seen["tls"] = seen["tls"] || b.TLS != nil
			seen["malformed"] = seen["malformed"] || len(b.Loss.Malformed) > 0
			seen["loss.l7"] = seen["loss.l7"] || len(b.Loss.L7) > 0
			seen["devices"] = seen["devices"] || len(b.Devices) > 1
			seen["fragments"] = seen["fragments"] || b.Packets.Fragments > 0
			seen["in/out"] = seen["in/out"] || (b.Packets.In > 0 && b.Packets.Out > 0)
			seen["rtt"] = seen["rtt"] || b.RTT.Count() > 0
			seen["ipv6"] = seen["ipv6"] || len(b.TopIPv6.Top(1)) > 0
			for name := range b.L7 {
				seen["l7 "+name] = true
			}
		})
	}
	// The captures must exercise every part of a bucket, or the round trip
	// proves less than it seems.
	for _, k := range []string{"dns", "http", "tls", "malformed", "loss.l7", "devices", "fragments", "in/out", "rtt", "ipv6", "l7 postgresql"} {
		if !seen[k] && !t.Failed() && !t.Skipped() {
			t.Errorf("no capture exercised %s", k)
		}
	}
}

// Three disjoint parts of a capture, recorded apart, shipped through the
// encoding and merged, give what one recorder of the whole capture gives:
// exact counters exactly, sketches within their documented bounds.
func TestWireMergeMatchesWhole(t *testing.T) {
	for _, c := range roundTripCaptures[:2] {
		t.Run(c.rel[strings.LastIndexByte(c.rel, '/')+1:], func(t *testing.T) {
			// The whole capture with top-N sketches large enough to be
			// exact; the parts with 16 counters, so that Space-Saving's
			// errors show and must stay within bounds after the merge.
			whole := record(t, c.rel, 1, sketch.MaxTopCapacity, c.hosts...)
			w := whole.parts[0]
			parts := record(t, c.rel, 3, 16, c.hosts...).parts
			for i, p := range parts {
				if p.Packets.Total == 0 || p.Packets.Total == w.Packets.Total {
					t.Fatalf("part %d has %d of %d packets: not a split", i, p.Packets.Total, w.Packets.Total)
				}
			}
			merged := mustDecode(t, encode(t, parts[0]))
			merged.Merge(mustDecode(t, encode(t, parts[1])))
			merged.Merge(mustDecode(t, encode(t, parts[2])))

			// The wire loses nothing a merge uses: merging the decoded parts
			// equals merging the originals, field for field, and merging a
			// decoded bucket into another equals merging into a decoded one.
			inMemory := NewBucket(0, 0, 16)
			viaOther := NewBucket(0, 0, 16)
			for _, p := range parts {
				inMemory.Merge(p)
				viaOther.Merge(mustDecode(t, encode(t, p)))
			}
			mj := reportJSON(t, merged)
			if ij := reportJSON(t, inMemory); ij != mj {
				t.Fatalf("merge through the wire differs from the merge in memory at %s", firstDiff(ij, mj))
			}
			if vj := reportJSON(t, viaOther); vj != mj {
				t.Fatalf("merge into a new bucket differs at %s", firstDiff(vj, mj))
			}

			wr, mr := w.Report(0, true, 1), merged.Report(0, true, 3)
			checkExact(t, wr, mr)
			checkQuantiles(t, whole.truth, merged)
			checkDistinct(t, whole.truth, merged)
			checkTopK(t, w, merged)
		})
	}
}

// checkExact compares everything a merge reproduces exactly: counters,
// per-second rates, distributions (DDSketch merges are exact, and the
// transactions of a flow are the same in whichever part it was).
func checkExact(t *testing.T, w, m *Report) {
	t.Helper()
	eq := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: whole %+v, merged %+v", what, a, b)
		}
	}
	eq("packets", w.Packets.Counters, m.Packets.Counters)
	eq("bytes", w.Bytes.Counters, m.Bytes.Counters)
	eq("flows", w.Flows.FlowCounters, m.Flows.FlowCounters)
	eq("tcp", w.Flows.TCP, m.Flows.TCP)
	eq("devices", w.Devices, m.Devices)
	eq("loss", w.Loss, m.Loss)
	eq("rates", w.Packets.Rates, m.Packets.Rates)
	eq("payload_size", w.Packets.PayloadSize, m.Packets.PayloadSize)
	eq("l4_payload_size", w.Packets.L4Payload, m.Packets.L4Payload)
	eq("rtt", w.Flows.RTTMicro, m.Flows.RTTMicro)
	eq("period.seconds", w.Period.Seconds, m.Period.Seconds)
	eq("period.first_ts", w.Period.FirstTS, m.Period.FirstTS)
	eq("period.last_ts", w.Period.LastTS, m.Period.LastTS)
	if len(w.L7) == 0 {
		t.Fatal("no L7 transactions in the whole capture")
	}
	eq("l7 protocols", slices.Sorted(mapsKeys(w.L7)), slices.Sorted(mapsKeys(m.L7)))
	for name, wp := range w.L7 {
		mp := m.L7[name]
		// Top lists and slow lists are sketches, checked elsewhere.
		wp.TopOps, wp.TopStatus, wp.TopTargets, wp.TopSlow = nil, nil, nil, nil
		mp.TopOps, mp.TopStatus, mp.TopTargets, mp.TopSlow = nil, nil, nil, nil
		eq("l7 "+name, wp, mp)
	}
	if (w.DNS == nil) != (m.DNS == nil) || (w.HTTP == nil) != (m.HTTP == nil) || (w.TLS == nil) != (m.TLS == nil) {
		t.Fatalf("sections: whole dns/http/tls %v/%v/%v, merged %v/%v/%v", w.DNS != nil, w.HTTP != nil, w.TLS != nil, m.DNS != nil, m.HTTP != nil, m.TLS != nil)
	}
	if w.DNS != nil {
		eq("dns wire_packets", w.DNS.WirePackets, m.DNS.WirePackets)
		eq("dns xact counts", w.DNS.Xact.Counts, m.DNS.Xact.Counts)
		eq("dns xact in", [2]any{w.DNS.Xact.In.Total, w.DNS.Xact.In.QuantilesUS}, [2]any{m.DNS.Xact.In.Total, m.DNS.Xact.In.QuantilesUS})
		eq("dns xact out", [2]any{w.DNS.Xact.Out.Total, w.DNS.Xact.Out.QuantilesUS}, [2]any{m.DNS.Xact.Out.Total, m.DNS.Xact.Out.QuantilesUS})
	}
	if w.HTTP != nil {
		eq("http", [3]any{w.HTTP.Requests, w.HTTP.Responses, w.HTTP.LatencyMicro}, [3]any{m.HTTP.Requests, m.HTTP.Responses, m.HTTP.LatencyMicro})
	}
	if w.TLS != nil {
		eq("tls", [2]uint64{w.TLS.ClientHellos, w.TLS.ServerHellos}, [2]uint64{m.TLS.ClientHellos, m.TLS.ServerHellos})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkQuantiles compares the merged latency quantiles with the exact
// quantiles of the transactions: |x̂ − x| ≤ α·x for x the value of rank
// ⌊p·(n−1)⌋ (docs/sketches.md).
func checkQuantiles(t *testing.T, tr *truth, m *Bucket) {
	t.Helper()
	checked := 0
	for proto, lats := range tr.latencyUS {
		q := m.L7[proto].Latency
		if q.Count() != uint64(len(lats)) {
			t.Errorf("%s latency: %d samples, %d transactions", proto, q.Count(), len(lats))
			continue
		}
		sorted := slices.Clone(lats)
		slices.Sort(sorted)
		alpha := q.RelativeAccuracy()
		for _, p := range []float64{0.5, 0.9, 0.95, 0.99} {
			x := sorted[int(math.Floor(p*float64(len(sorted)-1)))]
			if got := q.Quantile(p); math.Abs(got-x) > alpha*x+1e-9 {
				t.Errorf("%s latency p%v: merged %v, exact %v (α %v)", proto, p*100, got, x, alpha)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no latency to check")
	}
}

// checkDistinct compares merged cardinalities with the exact counts, within
// 3σ = 3·1.04/√2^14 (99.7 % of HyperLogLog estimates).
func checkDistinct(t *testing.T, tr *truth, m *Bucket) {
	t.Helper()
	sigma := 1.04 / math.Sqrt(1<<sketch.DefaultDistinctPrecision)
	for _, c := range []struct {
		what string
		d    *sketch.Distinct
		n    int
	}{{"src_ips", m.SrcIPs, len(tr.srcs)}, {"dst_ips", m.DstIPs, len(tr.dsts)}} {
		if est := float64(c.d.Estimate()); math.Abs(est-float64(c.n)) > 3*sigma*float64(c.n) {
			t.Errorf("%s: merged estimate %v, exact %d", c.what, est, c.n)
		}
	}
	if len(tr.qnames) > 0 {
		est := float64(m.DNS.QNames.Estimate())
		if n := float64(len(tr.qnames)); math.Abs(est-n) > 3*sigma*n {
			t.Errorf("dns qnames: merged estimate %v, exact %v", est, n)
		}
	}
}

// topKs lists a bucket's top-N sketches whose true weights the whole
// bucket knows (the "slow" lists depend on each recorder's running p90,
// so they have no single truth).
func topKs(b *Bucket) map[string]*sketch.TopK {
	m := map[string]*sketch.TopK{
		"top_ipv4": b.TopIPv4, "top_ipv6": b.TopIPv6, "top_ports": b.TopPorts,
		"top_ipv4_bytes": b.TopIPv4Bytes, "top_ipv6_bytes": b.TopIPv6Bytes, "top_ports_bytes": b.TopPortsBytes,
		"top_conversations": b.TopConversations,
	}
	for name, p := range b.L7 {
		m[name+".top_ops"], m[name+".top_status"], m[name+".top_targets"] = p.TopOps, p.TopStatus, p.TopTargets
	}
	if d := b.DNS; d != nil {
		m["dns.top_qname2"], m["dns.top_qname3"], m["dns.top_qtype"], m["dns.top_rcode"] = d.TopQName2, d.TopQName3, d.TopQType, d.TopRcode
		m["dns.top_nxdomain"], m["dns.top_refused"], m["dns.top_srvfail"], m["dns.top_udp_ports"] = d.TopNXDomain, d.TopRefused, d.TopSrvFail, d.TopUDPPorts
	}
	if h := b.HTTP; h != nil {
		m["http.top_methods"], m["http.top_status"], m["http.top_hosts"], m["http.top_paths"] = h.TopMethods, h.TopStatus, h.TopHosts, h.TopPaths
	}
	if s := b.TLS; s != nil {
		m["tls.top_sni"], m["tls.top_versions"], m["tls.top_ja4"], m["tls.top_ja3"], m["tls.top_alpn"] = s.TopSNI, s.TopVersions, s.TopJA4, s.TopJA3, s.TopALPN
	}
	return m
}

// checkTopK checks Space-Saving's guarantees on every merged top-N list
// against the exact weights of the whole capture (docs/sketches.md):
// estimate − error ≤ true ≤ estimate, error ≤ W/m, and every key heavier
// than W/m listed.
func checkTopK(t *testing.T, whole, merged *Bucket) {
	t.Helper()
	wk, mk := topKs(whole), topKs(merged)
	var withErrors int
	for name, w := range wk {
		m := mk[name]
		if m == nil {
			t.Errorf("%s: missing after the merge", name)
			continue
		}
		exact := map[string]uint64{}
		var sum uint64
		for _, it := range w.Top(0) {
			if it.Error != 0 {
				t.Fatalf("%s: the whole bucket is not exact (%s has error %d)", name, it.Name, it.Error)
			}
			exact[it.Name] = it.Estimate
			sum += it.Estimate
		}
		if sum != w.Total() {
			t.Fatalf("%s: the whole bucket tracks %d of %d", name, sum, w.Total())
		}
		if m.Total() != w.Total() {
			t.Errorf("%s: merged total %d, whole %d", name, m.Total(), w.Total())
		}
		bound := m.Total() / uint64(m.Capacity())
		listed := map[string]bool{}
		for _, it := range m.Top(0) {
			listed[it.Name] = true
			if tr := exact[it.Name]; it.Estimate-it.Error > tr || tr > it.Estimate {
				t.Errorf("%s: %s true %d outside [%d, %d]", name, it.Name, tr, it.Estimate-it.Error, it.Estimate)
			}
			if it.Error > bound {
				t.Errorf("%s: %s error %d > W/m = %d", name, it.Name, it.Error, bound)
			}
			if it.Error > 0 {
				withErrors++
			}
		}
		for k, v := range exact {
			if v > bound && !listed[k] {
				t.Errorf("%s: %s weighs %d > W/m = %d but is not listed", name, k, v, bound)
			}
		}
	}
	if withErrors == 0 {
		t.Error("no merged top-N entry has an error: the capacity did not constrain the sketches, so the bounds were not exercised")
	}
}

// fillAll sets every counter of b to a distinct value and gives every
// sketch distinct content, by reflection, so that a field the encoding
// forgets, or two fields it swaps, show up. It fails on a field of a kind
// it does not know: a new kind of field needs the wire format's attention.
type filler struct {
	t *testing.T
	n uint64
}

// Unexported fields the wire format leaves out on purpose (they steer
// recording only), and those the test fills by hand.
var notWalked = map[string]bool{
	"Bucket.lastSec": true, "Bucket.lastSample": true, "Bucket.seconds": true,
	"Bucket.payloadSize": true, "Bucket.l4Payload": true, "Bucket.topCapacity": true,
	"ProtoStats.gate": true, "DNSStats.gateIn": true, "DNSStats.gateOut": true, "HTTPStats.gate": true,
}

var (
	topKType      = reflect.TypeFor[*sketch.TopK]()
	quantilesType = reflect.TypeFor[*sketch.Quantiles]()
	distinctType  = reflect.TypeFor[*sketch.Distinct]()
)

func (f *filler) walk(path string, v reflect.Value, visit func(path string, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Struct:
		ty := v.Type()
		for i := range ty.NumField() {
			fd := ty.Field(i)
			name := ty.Name() + "." + fd.Name
			if notWalked[name] {
				continue
			}
			if !fd.IsExported() {
				f.t.Errorf("%s.%s: unexported field unknown to the wire format and to this test", path, fd.Name)
				continue
			}
			f.walk(path+"."+fd.Name, v.Field(i), visit)
		}
	case reflect.Array:
		for i := range v.Len() {
			f.walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i), visit)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			e := v.MapIndex(k)
			if e.Kind() == reflect.Pointer && e.Type().Elem().Kind() == reflect.Struct {
				f.walk(fmt.Sprintf("%s[%v]", path, k), e.Elem(), visit)
				continue
			}
			visit(fmt.Sprintf("%s[%v]", path, k), e)
		}
	case reflect.Pointer:
		switch v.Type() {
		case topKType, quantilesType, distinctType:
			visit(path, v)
		default:
			if v.Type().Elem().Kind() != reflect.Struct {
				f.t.Errorf("%s: field of type %s unknown to this test", path, v.Type())
				return
			}
			if !v.IsNil() {
				f.walk(path, v.Elem(), visit)
			}
		}
	case reflect.Uint64, reflect.Int64:
		visit(path, v)
	default:
		f.t.Errorf("%s: field of type %s unknown to this test", path, v.Type())
	}
}

func (f *filler) fill(path string, v reflect.Value) {
	f.n++
	switch v.Type() {
	case topKType:
		v.Interface().(*sketch.TopK).Add(path, f.n)
	case quantilesType:
		v.Interface().(*sketch.Quantiles).Add(float64(f.n))
	case distinctType:
		d := v.Interface().(*sketch.Distinct)
		for i := range f.n % 50 {
			d.AddString(fmt.Sprint(path, i))
		}
	default:
		switch v.Kind() {
		case reflect.Uint64:
			if v.CanSet() {
				v.SetUint(f.n * 1000003)
			}
		case reflect.Int64:
			v.SetInt(int64(f.n) * 1e9)
		}
	}
}

func describe(path string, v reflect.Value) string {
	switch v.Type() {
	case topKType:
		return fmt.Sprint(v.Interface().(*sketch.TopK).Top(0))
	case quantilesType:
		q := v.Interface().(*sketch.Quantiles)
		return fmt.Sprint(q.Count(), q.Sum(), q.Min(), q.Max(), q.Quantile(0.5))
	case distinctType:
		return fmt.Sprint(v.Interface().(*sketch.Distinct).Estimate())
	}
	return fmt.Sprint(v.Interface())
}

// Every field of a bucket travels, to the right place.
func TestWireEveryField(t *testing.T) {
	b := NewBucket(0, 0, 8)
	b.Loss.Malformed = map[string]uint64{"ipv4_header": 0, "tcp_header": 0}
	b.Loss.FragmentsDropped = map[string]uint64{"timeout": 0}
	b.Loss.L7 = map[string]uint64{"parser_panics": 0}
	b.Devices["eth0"], b.Devices["eth1"] = &DeviceCounters{}, &DeviceCounters{}
	b.L7 = map[string]*ProtoStats{"redis": newProtoStats(8), "mysql": newProtoStats(8)}
	b.DNS, b.HTTP, b.TLS = newDNSStats(8), newHTTPStats(8), newTLSStats(8)
	f := &filler{t: t}
	// Maps of counters: fill through a pointer so that values are settable.
	for _, m := range []map[string]uint64{b.Loss.Malformed, b.Loss.FragmentsDropped, b.Loss.L7} {
		for _, k := range slices.Sorted(mapsKeys(m)) {
			f.n++
			m[k] = f.n * 7919
		}
	}
	f.walk("Bucket", reflect.ValueOf(b).Elem(), f.fill)
	for i := range 5 {
		s := b.second(int64(1700000000+3*i) * 1e9)
		f.n++
		*s = secondSample{f.n, f.n + 1, f.n + 2, f.n + 3, f.n + 4, f.n + 5}
	}
	b.payloadSize.add(64)
	b.payloadSize.add(1514)
	b.payloadSize.add(9000)
	b.l4Payload.add(0)
	b.l4Payload.add(2047)
	b.l4Payload.add(70000)
	if t.Failed() {
		return
	}

	d := mustDecode(t, encode(t, b))
	var want, got []string
	collect := func(dst *[]string) func(string, reflect.Value) {
		return func(path string, v reflect.Value) { *dst = append(*dst, path+" = "+describe(path, v)) }
	}
	f.walk("Bucket", reflect.ValueOf(b).Elem(), collect(&want))
	f.walk("Bucket", reflect.ValueOf(d).Elem(), collect(&got))
	if len(want) < 100 {
		t.Fatalf("only %d fields walked", len(want))
	}
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("field %d:\n  sent     %s\n  received %s", i, w, g)
		}
	}
	if !reflect.DeepEqual(b.seconds, d.seconds) {
		t.Errorf("seconds: sent %v, received %v", b.seconds, d.seconds)
	}
	if b.payloadSize.small != d.payloadSize.small || b.l4Payload.small != d.l4Payload.small {
		t.Error("exact size counts differ")
	}
	if describe("", reflect.ValueOf(b.payloadSize.big)) != describe("", reflect.ValueOf(d.payloadSize.big)) ||
		describe("", reflect.ValueOf(b.l4Payload.big)) != describe("", reflect.ValueOf(d.l4Payload.big)) {
		t.Error("large size sketches differ")
	}
	if d.topCapacity != 8 {
		t.Errorf("top capacity %d", d.topCapacity)
	}
}

// A bucket from NewBucket with nothing in it, and a zero Bucket, encode
// and decode into usable buckets.
func TestWireEmptyBuckets(t *testing.T) {
	for name, b := range map[string]*Bucket{"new": NewBucket(60e9, 120e9, 0), "zero": {}} {
		t.Run(name, func(t *testing.T) {
			d := mustDecode(t, encode(t, b))
			if d.Start != b.Start || d.End != b.End || !d.Empty() {
				t.Fatalf("decoded %d..%d, empty %v", d.Start, d.End, d.Empty())
			}
			o := NewBucket(0, 60e9, 0)
			o.Packets.Total = 3
			o.second(1e9).PktsTotal = 3
			d.Merge(o)
			o.Merge(d)
			if d.Packets.Total != 3 || o.Packets.Total != 6 || d.Seconds() != 1 {
				t.Fatalf("after merges: %d, %d packets, %d seconds", d.Packets.Total, o.Packets.Total, d.Seconds())
			}
			reportJSON(t, d)
		})
	}
}

// seal wraps section bytes into a blob with a valid header and checksum.
func seal(sections []byte) []byte {
	b := append([]byte(wireMagic), wireVersion)
	b = append(b, sections...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// sections builds section bytes: pairs of (tag, body).
func sections(parts ...any) []byte {
	var out []byte
	for i := 0; i < len(parts); i += 2 {
		out = binary.AppendUvarint(out, uint64(parts[i].(int)))
		body, _ := parts[i+1].([]byte) // nil: an empty body
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	return out
}

func uv(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func blobOf(tb testing.TB, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	tb.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return append(uv(uint64(len(b))), b...)
}

// window is a valid window section body: start 0, end 60 s, capacity 4.
var windowBody = cat(binary.AppendVarint(nil, 0), binary.AppendVarint(nil, 60e9), []byte{0, 0}, uv(4))

func TestWireHostileHandMade(t *testing.T) {
	otherAccuracy, _ := sketch.NewQuantilesWithAccuracy(0.02)
	otherPrecision, _ := sketch.NewDistinctWithPrecision(16)
	emptyQ := blobOf(t, sketch.NewQuantiles())
	emptyD := blobOf(t, sketch.NewDistinct())
	emptyT := blobOf(t, sketch.NewTopK(4))
	sketchesWith := func(rtt, src []byte) []byte {
		b := cat(rtt, src, emptyD, emptyD, emptyD)
		for range 7 {
			b = cat(b, emptyT)
		}
		return b
	}
	huge := uint64(1) << 62
	cases := map[string][]byte{
		"empty":              nil,
		"short":              []byte("WWSB\x01"),
		"wrong magic":        seal(sections(secWindow<<1, windowBody))[1:],
		"no window":          seal(nil),
		"window not first":   seal(sections(secCounters<<1, uv(make([]uint64, 36)...), secWindow<<1, windowBody)),
		"duplicate section":  seal(sections(secWindow<<1, windowBody, secDevices<<1, uv(0), secDevices<<1, uv(0))),
		"section id 0":       seal(sections(0, nil, secWindow<<1, windowBody)),
		"required unknown":   seal(sections(secWindow<<1, windowBody, 40<<1, []byte("future"))),
		"section too long":   seal(cat(uv(secWindow<<1, huge), windowBody)),
		"trailing in window": seal(sections(secWindow<<1, cat(windowBody, []byte{0}))),
		"short window":       seal(sections(secWindow<<1, windowBody[:3])),
		"overlong varint":    seal(sections(secWindow<<1, bytes.Repeat([]byte{0xff}, 11))),
		"top capacity":       seal(sections(secWindow<<1, cat(windowBody[:len(windowBody)-1], uv(1<<17)))),
		"huge seconds":       seal(sections(secWindow<<1, windowBody, secSeconds<<1, uv(huge, 0, 1, 1, 1, 1, 1, 1))),
		"too many seconds":   seal(sections(secWindow<<1, windowBody, secSeconds<<1, cat(uv(maxSeconds+1), make([]byte, 7*(maxSeconds+1))))),
		"second range":       seal(sections(secWindow<<1, windowBody, secSeconds<<1, cat(uv(1), binary.AppendVarint(nil, math.MaxInt64/2), uv(1, 1, 1, 1, 1, 1)))),
		"second delta 0":     seal(sections(secWindow<<1, windowBody, secSeconds<<1, cat(uv(2), binary.AppendVarint(nil, 5), uv(1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1)))),
		"second overflow":    seal(sections(secWindow<<1, windowBody, secSeconds<<1, cat(uv(2), binary.AppendVarint(nil, maxAbsSecond), uv(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)))),
		"huge devices":       seal(sections(secWindow<<1, windowBody, secDevices<<1, uv(huge))),
		"device name length": seal(sections(secWindow<<1, windowBody, secDevices<<1, cat(uv(1, huge), make([]byte, 20)))),
		"long device name":   seal(sections(secWindow<<1, windowBody, secDevices<<1, cat(uv(1, maxNameLen+1), make([]byte, maxNameLen+7)))),
		"repeated device":    seal(sections(secWindow<<1, windowBody, secDevices<<1, cat(uv(2, 1), []byte("a"), uv(1, 1, 1, 1, 1, 1, 1), []byte("a"), uv(1, 1, 1, 1, 1, 1)))),
		"huge loss map":      seal(sections(secWindow<<1, windowBody, secLoss<<1, cat(uv(0, 0, 0, 0, 0, 0, 0, 0, 0, huge)))),
		"loss keys order":    seal(sections(secWindow<<1, windowBody, secLoss<<1, cat(uv(0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1), []byte("b"), uv(1, 1), []byte("a"), uv(1, 0, 0)))),
		"size index":         seal(sections(secWindow<<1, windowBody, secSizes<<1, cat(uv(1, smallSizes, 1), emptyQ, uv(0), emptyQ))),
		"size count 0":       seal(sections(secWindow<<1, windowBody, secSizes<<1, cat(uv(1, 5, 0), emptyQ, uv(0), emptyQ))),
		"size repeated":      seal(sections(secWindow<<1, windowBody, secSizes<<1, cat(uv(2, 5, 1, 0, 1), emptyQ, uv(0), emptyQ))),
		"other accuracy":     seal(sections(secWindow<<1, windowBody, secSketches<<1, sketchesWith(blobOf(t, otherAccuracy), emptyD))),
		"other precision":    seal(sections(secWindow<<1, windowBody, secSketches<<1, sketchesWith(emptyQ, blobOf(t, otherPrecision)))),
		"corrupt sketch":     seal(sections(secWindow<<1, windowBody, secSketches<<1, sketchesWith(emptyQ, cat(uv(4), []byte("D\x01xx"))))),
		"sketch length":      seal(sections(secWindow<<1, windowBody, secSketches<<1, cat(uv(huge), emptyQ))),
		"huge protocols":     seal(sections(secWindow<<1, windowBody, secL7<<1, uv(huge))),
		"too many protocols": seal(sections(secWindow<<1, windowBody, secL7<<1, cat(uv(maxProtocols+1), make([]byte, 12*(maxProtocols+1))))),
		"outcomes":           seal(sections(secWindow<<1, windowBody, secL7<<1, cat(uv(1, 1), []byte("x"), uv(0, 0, 0, 0, 0, 9), make([]byte, 14)))),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			b := NewBucket(7, 8, 4)
			b.Packets.Total = 42
			err := b.UnmarshalBinary(data)
			if !errors.Is(err, ErrInvalidBucket) {
				t.Fatalf("error %v, want ErrInvalidBucket", err)
			}
			if b.Start != 7 || b.Packets.Total != 42 {
				t.Fatal("receiver changed on error")
			}
			t.Log(err)
		})
	}
	// A sketch's own error is kept in the chain.
	if _, err := DecodeBucket(cases["corrupt sketch"]); !errors.Is(err, sketch.ErrInvalid) {
		t.Errorf("corrupt sketch: %v does not wrap sketch.ErrInvalid", err)
	}
	// A newer format version is named as such.
	v2 := encode(t, NewBucket(0, 1, 4))
	v2[len(wireMagic)] = 2
	if _, err := DecodeBucket(v2); !errors.Is(err, ErrInvalidBucket) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("version 2: %v", err)
	}
	// Over the size cap, before anything else is looked at.
	big := make([]byte, MaxBucketBytes+1)
	copy(big, encode(t, NewBucket(0, 1, 4)))
	if _, err := DecodeBucket(big); !errors.Is(err, ErrInvalidBucket) || !strings.Contains(err.Error(), "cap") {
		t.Errorf("oversized: %v", err)
	}
}

// Sections a later version adds are skipped when their tag says so, and
// what an older writer leaves out is empty.
func TestWireForwardCompatible(t *testing.T) {
	dev := cat(uv(1, 4), []byte("eth9"), uv(1, 2, 3, 4, 5, 6))
	data := seal(sections(secWindow<<1, windowBody, secDevices<<1, dev, 40<<1|1, []byte("a later addition"), 41<<1|1, nil))
	b, err := DecodeBucket(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := *b.Devices["eth9"]; got != (DeviceCounters{DirCounters{1, 2}, DirCounters{3, 4}, DirCounters{5, 6}}) {
		t.Fatalf("device %+v", got)
	}
	if b.End != 60e9 || b.topCapacity != 4 || b.TopIPv4.Capacity() != 4 || b.L7 != nil || b.DNS != nil {
		t.Fatalf("window %d, capacity %d/%d, l7 %v, dns %v", b.End, b.topCapacity, b.TopIPv4.Capacity(), b.L7, b.DNS)
	}
	o := NewBucket(0, 60e9, 4)
	o.Merge(b)
	b.Merge(o)
	reportJSON(t, b)
	if b.Devices["eth9"].Other.Bytes != 12 {
		t.Fatalf("merged device %+v", b.Devices["eth9"])
	}
}

var (
	smallBlobOnce sync.Once
	smallBlob     []byte
)

// smallRealBlob is the encoding of a small real capture's bucket (three
// HTTP streams): small enough to try every truncation and bit flip.
func smallRealBlob(tb testing.TB) []byte {
	const rel = "pcapplusplus/PcapExamples/three_http_streams.pcap"
	corpus.Path(tb, rel) // skips without the corpus
	smallBlobOnce.Do(func() {
		smallBlob = encode(tb, record(tb, rel, 1, 16).parts[0])
	})
	return smallBlob
}

// checkUsable asserts that a bucket that decoded without error behaves:
// it reports, re-encodes to something that decodes to the same report,
// and merges both ways.
func checkUsable(tb testing.TB, b *Bucket) {
	tb.Helper()
	r := b.Report(10, true, 1)
	j, err := json.Marshal(r)
	if err != nil {
		tb.Fatalf("report of a decoded bucket: %v", err)
	}
	again, err := b.MarshalBinary()
	if err != nil {
		tb.Fatalf("re-encode of a decoded bucket: %v", err)
	}
	d, err := DecodeBucket(again)
	if err != nil {
		tb.Fatalf("decode of a re-encoded bucket: %v", err)
	}
	if j2, _ := json.Marshal(d.Report(10, true, 1)); !bytes.Equal(j, j2) {
		tb.Fatalf("re-encoded bucket reports differently:\n%s\n%s", j, j2)
	}
	o := NewBucket(0, 60e9, 8)
	o.Merge(b)
	d.Merge(o)
	d.Report(10, true, 2)
}

// Every truncation and every single bit flip of a real encoding is caught
// by the checksum; with the checksum forged to match, the parser itself
// returns an error or a usable bucket, never panics.
func TestWireTruncatedAndFlipped(t *testing.T) {
	data := smallRealBlob(t)
	for n := range len(data) {
		if _, err := DecodeBucket(data[:n]); !errors.Is(err, ErrInvalidBucket) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(data), err)
		}
	}
	body := data[:len(data)-trailerLen]
	forged := 0
	for n := headerLen; n < len(body); n++ {
		b, err := DecodeBucket(seal(body[headerLen:n]))
		if err != nil {
			if !errors.Is(err, ErrInvalidBucket) {
				t.Fatalf("forged truncation at %d: %v", n, err)
			}
			continue
		}
		forged++ // cut at a section boundary: the later sections are absent
		checkUsable(t, b)
	}
	flipped := make([]byte, len(data))
	accepted := 0
	for bit := range len(data) * 8 {
		copy(flipped, data)
		flipped[bit/8] ^= 1 << (bit % 8)
		if _, err := DecodeBucket(flipped); !errors.Is(err, ErrInvalidBucket) {
			t.Fatalf("bit %d flipped: %v", bit, err)
		}
		// The same flip behind a forged checksum reaches the parser (every
		// third byte: each accepted flip costs a report, an encoding and
		// merges; the fuzzer covers the rest).
		if bit >= headerLen*8 && bit < len(body)*8 && bit/8%3 == 0 {
			b, err := DecodeBucket(seal(flipped[headerLen:len(body)]))
			if err == nil {
				accepted++
				checkUsable(t, b)
			} else if !errors.Is(err, ErrInvalidBucket) {
				t.Fatalf("bit %d flipped, checksum forged: %v", bit, err)
			}
		}
	}
	t.Logf("%d bytes: %d section-boundary truncations and %d of the bit flips of every third byte decode when the checksum is forged", len(data), forged, accepted)
}

// The decoder never allocates from a count the input does not back; the
// most a small blob can make it allocate is what a real bucket of its shape
// (64 protocols, every top-N sketch at the largest capacity) would hold.
func TestWireDecodeMemoryBounded(t *testing.T) {
	bigT := blobOf(t, sketch.NewTopK(sketch.MaxTopCapacity))
	emptyQ := []byte{0} // an empty blob: an empty sketch
	var l7body []byte
	l7body = uv(maxProtocols)
	for i := range maxProtocols {
		name := fmt.Sprintf("p%02d", i)
		l7body = cat(l7body, uv(uint64(len(name))), []byte(name), uv(0, 0, 0, 0, 0, 0), emptyQ, bigT, bigT, bigT, bigT)
	}
	sk := cat(emptyQ, emptyQ, emptyQ, emptyQ, emptyQ)
	for range 7 {
		sk = cat(sk, bigT)
	}
	dns := cat(uv(make([]uint64, 16)...), emptyQ)
	for range 10 {
		dns = cat(dns, bigT)
	}
	dns = cat(dns, emptyQ, emptyQ)
	data := seal(sections(secWindow<<1, windowBody, secSketches<<1, sk, secL7<<1, l7body, secDNS<<1, dns))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := DecodeBucket(data)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d-byte blob, %d top-N sketches of capacity %d: %.1f MiB allocated", len(data), 7+4*maxProtocols+10, sketch.MaxTopCapacity, float64(alloc)/(1<<20))
	if alloc > 64<<20 {
		t.Fatalf("decoding %d bytes allocated %d bytes", len(data), alloc)
	}
	checkUsable(t, b)
}

var (
	benchOnce    sync.Once
	benchBuckets map[string]*Bucket
)

// benchmarkBuckets are realistic buckets from the mixed L7 benchmark
// capture (nginx, Redis, DNS, PostgreSQL, TLS traffic), or a small mixed
// capture without it: "window" is its busiest 60-second window, what a
// probe ships; "merged" is the whole file (two hours of windows), what a
// center merges for a range query.
func benchmarkBuckets(b *testing.B) map[string]*Bucket {
	benchOnce.Do(func() {
		rel := "bench/mixed_l7_concat_bench.pcap"
		if d := corpus.Dir(); d == "" || !fileExists(d+"/"+rel) {
			rel = "pcapplusplus/PcapExamples/example2.pcap"
		}
		whole := record(b, rel, 1, 256).parts[0]
		per := map[int64]uint64{}
		for sec, s := range whole.seconds {
			per[sec-sec%60] += s.PktsTotal
		}
		busiest := int64(0)
		for start, n := range per {
			if n > per[busiest] || (n == per[busiest] && start < busiest) {
				busiest = start
			}
		}
		window := recordRange(b, rel, 1, 256, busiest*1e9, (busiest+60)*1e9).parts[0]
		benchBuckets = map[string]*Bucket{"window": window, "merged": whole}
		for name, bk := range benchBuckets {
			data := encode(b, bk)
			b.Logf("%s %s: %d packets, %d seconds, %d L7 protocols, dns %v http %v tls %v: %d bytes",
				rel, name, bk.Packets.Total, bk.Seconds(), len(bk.L7), bk.DNS != nil, bk.HTTP != nil, bk.TLS != nil, len(data))
		}
	})
	if benchBuckets == nil {
		b.Skip("no bucket")
	}
	return benchBuckets
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func BenchmarkMarshalBucket(b *testing.B) {
	for _, name := range []string{"window", "merged"} {
		bk := benchmarkBuckets(b)[name]
		b.Run(name, func(b *testing.B) {
			var n int
			b.ReportAllocs()
			for b.Loop() {
				data, err := bk.MarshalBinary()
				if err != nil {
					b.Fatal(err)
				}
				n = len(data)
			}
			b.ReportMetric(float64(n), "blob-bytes")
			b.SetBytes(int64(n))
		})
	}
}

func BenchmarkUnmarshalBucket(b *testing.B) {
	for _, name := range []string{"window", "merged"} {
		data := encode(b, benchmarkBuckets(b)[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var d Bucket
			for b.Loop() {
				if err := d.UnmarshalBinary(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "blob-bytes")
		})
	}
}

// The center's path for a range query: decode each stored window and
// merge it into the result.
func BenchmarkDecodeAndMergeWindow(b *testing.B) {
	data := encode(b, benchmarkBuckets(b)["window"])
	m := NewBucket(0, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		d, err := DecodeBucket(data)
		if err != nil {
			b.Fatal(err)
		}
		m.Merge(d)
	}
}
