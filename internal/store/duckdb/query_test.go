package duckdb

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// dataset is what a test wrote, to check every query against a brute
// force computation in Go over the same records.
type dataset struct {
	flows   []record.Flow
	txs     []record.Transaction
	traffic []record.Traffic
	edges   []record.Edge
	windows []record.Window
}

const span = 2 * time.Hour

func fillStore(t *testing.T, s *Store, seed uint64) *dataset {
	t.Helper()
	g := newGen(seed, 400)
	d := &dataset{}
	const batches = 8
	seq := map[string]uint64{}
	fid, tid := 0, 0
	for bi := range batches {
		for _, p := range g.probes {
			seq[p]++
			b := &record.Batch{Probe: record.ProbeInfo{ID: p}, Seq: seq[p]}
			lo := time.Duration(bi) * span / batches
			for range 150 {
				off := lo + time.Duration(g.r.Int64N(int64(span/batches)))
				b.Flows = append(b.Flows, g.flow(p, off, uint32(fid)))
				fid++
			}
			for range 60 {
				off := lo + time.Duration(g.r.Int64N(int64(span/batches)))
				b.Transactions = append(b.Transactions, g.tx(p, off, tid))
				tid++
			}
			for m := lo; m < lo+span/batches; m += time.Minute {
				b.Windows = append(b.Windows, record.Window{Probe: p, Start: ns(m), End: ns(m + time.Minute),
					Packets: uint64(g.r.IntN(1000)), Bytes: uint64(g.r.IntN(1e6)), Summary: []byte(p + strconv.Itoa(int(m)))})
				for _, dev := range g.devs[:2] {
					for _, dir := range []string{"in", "out", "other"} {
						b.Traffic = append(b.Traffic, record.Traffic{Probe: p, Device: dev, Direction: dir,
							Start: ns(m), End: ns(m + time.Minute), Packets: uint64(g.r.IntN(1000)), Bytes: uint64(g.r.IntN(1e6))})
					}
				}
				for range 5 {
					e := record.Edge{Probe: p, Start: ns(m), End: ns(m + time.Minute),
						Client: g.host(), Server: pick(g.r, g.servers), Transport: pick(g.r, []string{"tcp", "udp"}),
						App: pick(g.r, g.apps), Port: pick(g.r, g.ports),
						Flows: uint64(1 + g.r.IntN(10)), Packets: uint64(g.r.IntN(1000)), Bytes: uint64(g.r.IntN(1e7)),
						Requests: uint64(g.r.IntN(100)), Errors: uint64(g.r.IntN(3)),
						LatencySum: time.Duration(g.r.IntN(1e9)), LatencyCount: uint64(g.r.IntN(100)), LatencyMax: time.Duration(g.r.IntN(1e8))}
					b.Edges = append(b.Edges, e)
				}
			}
			mustWrite(t, s, b, ns(span))
			d.flows = append(d.flows, b.Flows...)
			d.txs = append(d.txs, b.Transactions...)
			d.traffic = append(d.traffic, b.Traffic...)
			d.edges = append(d.edges, b.Edges...)
			d.windows = append(d.windows, b.Windows...)
		}
	}
	return d
}

// randRange is a random [From, To) over the data, sometimes open-ended.
func randRange(r *rand.Rand) store.TimeRange {
	var tr store.TimeRange
	if r.IntN(4) > 0 {
		tr.From = ns(time.Duration(r.Int64N(int64(span))))
	}
	if r.IntN(4) > 0 {
		tr.To = ns(time.Duration(r.Int64N(int64(span + time.Hour))))
		if tr.To.Before(tr.From) {
			tr.From, tr.To = tr.To, tr.From
		}
	}
	return tr
}

func toOf(tr store.TimeRange) time.Time {
	if tr.To.IsZero() {
		return time.Now()
	}
	return tr.To
}

// randPrefix is a prefix around one of the generated addresses.
func randPrefix(g *gen) netip.Prefix {
	a := g.hosts[g.r.IntN(len(g.hosts))]
	bits := a.BitLen()
	switch g.r.IntN(4) {
	case 0:
		bits = 0
	case 1:
		bits = a.BitLen()
	default:
		bits = g.r.IntN(bits + 1)
	}
	p, _ := a.Prefix(bits)
	return p
}

func randSubset(r *rand.Rand, l []string) []string {
	var out []string
	for _, v := range l {
		if r.IntN(3) == 0 {
			out = append(out, v)
		}
	}
	return out
}

func randFlowFilter(g *gen) store.FlowFilter {
	r := g.r
	f := store.FlowFilter{TimeRange: randRange(r)}
	if r.IntN(3) == 0 {
		f.Probes = randSubset(r, g.probes)
	}
	if r.IntN(4) == 0 {
		f.Transport = pick(r, []string{"tcp", "udp", "icmp", "sctp"})
	}
	if r.IntN(4) == 0 {
		f.App = pick(r, g.apps)
	}
	if r.IntN(5) == 0 {
		f.Device = pick(r, g.devs)
	}
	if r.IntN(4) == 0 {
		f.Port = pick(r, g.ports)
	}
	if r.IntN(3) == 0 {
		f.Host = randPrefix(g)
	}
	if r.IntN(4) == 0 {
		f.Client = randPrefix(g)
	}
	if r.IntN(4) == 0 {
		f.Server = randPrefix(g)
	}
	return f
}

func inPrefix(p netip.Prefix, a netip.Addr) bool {
	return p == (netip.Prefix{}) || p.Contains(a)
}

func flowMatches(f *store.FlowFilter, r *record.Flow) bool {
	if !r.Start.Before(toOf(f.TimeRange)) || (!f.From.IsZero() && r.End.Before(f.From)) {
		return false
	}
	if len(f.Probes) > 0 && !slices.Contains(f.Probes, r.Probe) {
		return false
	}
	if (f.Transport != "" && r.Transport != f.Transport) || (f.App != "" && r.App != f.App) ||
		(f.Device != "" && r.Device != f.Device) || (f.Port != 0 && r.Server.Port() != f.Port) {
		return false
	}
	if f.Host != (netip.Prefix{}) && !f.Host.Contains(r.Client.Addr()) && !f.Host.Contains(r.Server.Addr()) {
		return false
	}
	return inPrefix(f.Client, r.Client.Addr()) && inPrefix(f.Server, r.Server.Addr())
}

func TestFlowQueries(t *testing.T) {
	s := openTest(t, Config{})
	d := fillStore(t, s, 42)
	g := newGen(42, 400) // the same hosts, for prefixes
	g.r = rand.New(rand.NewPCG(7, 8))
	ctx := context.Background()
	nonEmpty := 0
	for qi := range 60 {
		f := randFlowFilter(g)
		var want []record.Flow
		for i := range d.flows {
			if flowMatches(&f, &d.flows[i]) {
				want = append(want, d.flows[i])
			}
		}
		if len(want) > 0 {
			nonEmpty++
		}
		// Walk every page: each record exactly once, newest first.
		limit := 1 + g.r.IntN(400)
		var got []record.Flow
		cursor := ""
		for pages := 0; ; pages++ {
			p, err := s.Flows(ctx, store.FlowQuery{FlowFilter: f, Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatalf("query %d %+v: %v", qi, f, err)
			}
			if len(p.Flows) > limit || (p.Next != "" && len(p.Flows) != limit) {
				t.Fatalf("query %d: page of %d with limit %d, next %q", qi, len(p.Flows), limit, p.Next)
			}
			got = append(got, p.Flows...)
			if p.Next == "" {
				break
			}
			if pages > len(d.flows) {
				t.Fatal("pagination does not end")
			}
			cursor = p.Next
		}
		for i := 1; i < len(got); i++ {
			if got[i].Start.After(got[i-1].Start) {
				t.Fatalf("query %d: flows not newest first at %d: %v after %v", qi, i, got[i].Start, got[i-1].Start)
			}
		}
		seen := map[uint32]bool{}
		for _, f := range got {
			if seen[f.TunnelID] {
				t.Fatalf("query %d: flow %d returned twice", qi, f.TunnelID)
			}
			seen[f.TunnelID] = true
		}
		sameSet(t, fmt.Sprintf("query %d (%+v) flows", qi, f), got, want)
	}
	if nonEmpty < 20 {
		t.Errorf("only %d of 60 random filters matched anything: the test checks little", nonEmpty)
	}
}

// groupKey is the brute force's text for one GroupBy column.
func groupKey(col string, f *record.Flow, host netip.Addr) string {
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	switch col {
	case store.ColProbe:
		return f.Probe
	case store.ColClient:
		return addr(f.Client.Addr())
	case store.ColServer:
		return addr(f.Server.Addr())
	case store.ColHost:
		return addr(host)
	case store.ColPort:
		return strconv.Itoa(int(f.Server.Port()))
	case store.ColApp:
		return f.App
	case store.ColTransport:
		return f.Transport
	case store.ColDevice:
		return f.Device
	}
	panic(col)
}

func metric(g store.Group, order string) uint64 {
	switch order {
	case store.OrderPackets:
		return g.Packets
	case store.OrderFlows:
		return g.Flows
	}
	return g.Bytes
}

func TestFlowGroups(t *testing.T) {
	s := openTest(t, Config{})
	d := fillStore(t, s, 43)
	g := newGen(43, 400)
	g.r = rand.New(rand.NewPCG(9, 10))
	cols := []string{store.ColProbe, store.ColClient, store.ColServer, store.ColHost, store.ColPort,
		store.ColApp, store.ColTransport, store.ColDevice}
	for qi := range 80 {
		q := store.GroupQuery{Limit: 1 + g.r.IntN(60)}
		if qi%3 > 0 {
			q.FlowFilter = randFlowFilter(g)
		}
		perm := g.r.Perm(len(cols))
		for _, i := range perm[:1+g.r.IntN(3)] {
			q.GroupBy = append(q.GroupBy, cols[i])
		}
		if qi < 8 {
			q.GroupBy = []string{store.ColHost} // the "top talkers" query
		}
		q.OrderBy = pick(g.r, []string{"", store.OrderBytes, store.OrderPackets, store.OrderFlows})

		checkGroups(t, s, d.flows, q, fmt.Sprintf("query %d", qi))
	}
}

// checkGroups compares FlowGroups(q) with a brute force computation over
// flows: the groups returned, their sums, their order, and that no group
// left out beats the last one returned.
func checkGroups(t *testing.T, s *Store, flows []record.Flow, q store.GroupQuery, name string) {
	t.Helper()
	ctx := context.Background()
	order := cmp.Or(q.OrderBy, store.OrderBytes)
	limit := cmp.Or(q.Limit, store.DefaultLimit)
	want := map[string]store.Group{}
	add := func(f *record.Flow, host netip.Addr) {
		key := make([]string, len(q.GroupBy))
		for i, c := range q.GroupBy {
			key[i] = groupKey(c, f, host)
		}
		k := strings.Join(key, "\x00")
		gr := want[k]
		gr.Key = key
		gr.Flows++
		gr.Packets += f.Packets[0] + f.Packets[1]
		gr.Bytes += f.Bytes[0] + f.Bytes[1]
		want[k] = gr
	}
	hostly := slices.Contains(q.GroupBy, store.ColHost)
	for i := range flows {
		f := &flows[i]
		if !flowMatches(&q.FlowFilter, f) {
			continue
		}
		add(f, f.Client.Addr())
		if hostly && f.Server.Addr() != f.Client.Addr() {
			add(f, f.Server.Addr())
		}
	}
	got, err := s.FlowGroups(ctx, q)
	if err != nil {
		t.Fatalf("%s %+v: %v", name, q, err)
	}
	if len(got) != min(limit, len(want)) {
		t.Fatalf("%s %+v: %d groups, want %d", name, q, len(got), min(limit, len(want)))
	}
	returned := map[string]bool{}
	for i, gr := range got {
		k := strings.Join(gr.Key, "\x00")
		if returned[k] {
			t.Fatalf("%s: group %q twice", name, gr.Key)
		}
		returned[k] = true
		if w, ok := want[k]; !ok || w.Flows != gr.Flows || w.Packets != gr.Packets || w.Bytes != gr.Bytes {
			t.Fatalf("%s %+v: group %q = %+v, want %+v", name, q, gr.Key, gr, w)
		}
		if i > 0 && metric(gr, order) > metric(got[i-1], order) {
			t.Fatalf("%s: groups not ordered by %s at %d", name, order, i)
		}
	}
	if len(got) > 0 {
		lowest := metric(got[len(got)-1], order)
		for k, w := range want {
			if !returned[k] && metric(w, order) > lowest {
				t.Fatalf("%s %+v: group %q (%s %d) missing from the top %d", name, q, w.Key, order, metric(w, order), limit)
			}
		}
	}
}

func txMatches(q *store.TxQuery, r *record.Transaction) bool {
	ts := r.Time()
	if !ts.Before(toOf(q.TimeRange)) || ts.Before(q.From) {
		return false
	}
	if len(q.Probes) > 0 && !slices.Contains(q.Probes, r.Probe) {
		return false
	}
	if (q.Proto != "" && r.Proto != q.Proto) || (q.Outcome != "" && r.Outcome != q.Outcome) ||
		(q.Op != "" && r.Op != q.Op) || (q.Status != "" && r.Status != q.Status) ||
		(q.Port != 0 && r.Server.Port() != q.Port) || !strings.Contains(r.Target, q.Target) {
		return false
	}
	if !inPrefix(q.Client, r.Client.Addr()) || !inPrefix(q.Server, r.Server.Addr()) {
		return false
	}
	if q.MinLatency > 0 && r.Latency < q.MinLatency {
		return false
	}
	if q.Flag != "" && !slices.Contains(r.Flags, q.Flag) {
		return false
	}
	for k, v := range q.Fields {
		if !slices.Contains(r.Fields, record.Field{Key: k, Value: v}) {
			return false
		}
	}
	return true
}

func TestTransactionQueries(t *testing.T) {
	s := openTest(t, Config{})
	d := fillStore(t, s, 44)
	g := newGen(44, 400)
	g.r = rand.New(rand.NewPCG(11, 12))
	ctx := context.Background()
	r := g.r
	nonEmpty := 0
	for qi := range 80 {
		q := store.TxQuery{TimeRange: randRange(r), Limit: 1 + r.IntN(300)}
		if r.IntN(3) == 0 {
			q.Probes = randSubset(r, g.probes)
		}
		if r.IntN(3) == 0 {
			q.Proto = pick(r, []string{"http", "dns", "redis", "kafka"})
		}
		if r.IntN(4) == 0 {
			q.Outcome = pick(r, []string{"ok", "client_error", "no_response"})
		}
		if r.IntN(4) == 0 {
			q.Op = pick(r, []string{"GET", "A", "SET"})
		}
		if r.IntN(4) == 0 {
			q.Status = pick(r, []string{"200", "NXDOMAIN", "500"})
		}
		if r.IntN(3) == 0 {
			q.Target = pick(r, []string{"/api/v1/", "item/1", "é", "?q='x'", "\xff?", "\xff", "/v2/item/13"})
		}
		if r.IntN(4) == 0 {
			q.Client = randPrefix(g)
		}
		if r.IntN(4) == 0 {
			q.Server = randPrefix(g)
		}
		if r.IntN(4) == 0 {
			q.Port = pick(r, g.ports)
		}
		if r.IntN(4) == 0 {
			q.MinLatency = time.Duration(r.IntN(2e9))
		}
		if r.IntN(4) == 0 {
			q.Flag = pick(r, []string{"sqli", "redacted", "truncated"})
		}
		if r.IntN(3) == 0 {
			q.Fields = map[string]string{}
			for range 1 + r.IntN(2) {
				q.Fields[pick(r, []string{"host", "ua", "qtype"})] = pick(r, []string{"a", "b", "c\x00", "d\xfe"})
			}
		}
		var want []record.Transaction
		for i := range d.txs {
			if txMatches(&q, &d.txs[i]) {
				want = append(want, d.txs[i])
			}
		}
		if len(want) > 0 {
			nonEmpty++
		}
		var got []record.Transaction
		for cursor, pages := "", 0; ; pages++ {
			q.Cursor = cursor
			p, err := s.Transactions(ctx, q)
			if err != nil {
				t.Fatalf("query %d %+v: %v", qi, q, err)
			}
			if len(p.Transactions) > q.Limit || (p.Next != "" && len(p.Transactions) != q.Limit) {
				t.Fatalf("query %d: page of %d with limit %d", qi, len(p.Transactions), q.Limit)
			}
			got = append(got, p.Transactions...)
			if p.Next == "" {
				break
			}
			if pages > len(d.txs) {
				t.Fatal("pagination does not end")
			}
			cursor = p.Next
		}
		for i := 1; i < len(got); i++ {
			if got[i].Time().After(got[i-1].Time()) {
				t.Fatalf("query %d: not newest first at %d", qi, i)
			}
		}
		q.Cursor = ""
		sameSet(t, fmt.Sprintf("query %d (%+v) transactions", qi, q), got, want)
	}
	if nonEmpty < 25 {
		t.Errorf("only %d of 80 random searches matched anything", nonEmpty)
	}
}

func overlaps(tr store.TimeRange, start, end time.Time) bool {
	return start.Before(toOf(tr)) && (tr.From.IsZero() || end.After(tr.From))
}

func TestTrafficEdgesWindows(t *testing.T) {
	s := openTest(t, Config{})
	d := fillStore(t, s, 45)
	g := newGen(45, 400)
	r := rand.New(rand.NewPCG(13, 14))
	ctx := context.Background()
	for qi := range 40 {
		tr := randRange(r)
		var probes []string
		if r.IntN(2) == 0 {
			probes = randSubset(r, g.probes)
		}
		// Traffic: sums per probe, device, direction.
		wantT := map[string]record.Traffic{}
		for _, x := range d.traffic {
			if !overlaps(tr, x.Start, x.End) || (len(probes) > 0 && !slices.Contains(probes, x.Probe)) {
				continue
			}
			k := x.Probe + "\x00" + x.Device + "\x00" + x.Direction
			w, ok := wantT[k]
			if !ok {
				w = x
			} else {
				w.Packets += x.Packets
				w.Bytes += x.Bytes
				if x.Start.Before(w.Start) {
					w.Start = x.Start
				}
				if x.End.After(w.End) {
					w.End = x.End
				}
			}
			wantT[k] = w
		}
		gotT, err := s.Traffic(ctx, store.TrafficQuery{TimeRange: tr, Probes: probes})
		if err != nil {
			t.Fatal(err)
		}
		var wt []record.Traffic
		for _, w := range wantT {
			wt = append(wt, w)
		}
		sameSet(t, fmt.Sprintf("query %d traffic", qi), gotT, wt)

		// Edges: summed by key and probe across periods, then the largest
		// of each measure across probes, top by bytes.
		var apps []string
		if r.IntN(3) == 0 {
			apps = randSubset(r, g.apps)
		}
		limit := 1 + r.IntN(200)
		type ek struct {
			c, s netip.Addr
			tr   string
			app  string
			port uint16
		}
		type pk struct {
			ek
			probe string
		}
		perProbe := map[pk]record.Edge{}
		for _, x := range d.edges {
			if !overlaps(tr, x.Start, x.End) || (len(probes) > 0 && !slices.Contains(probes, x.Probe)) ||
				(len(apps) > 0 && !slices.Contains(apps, x.App)) {
				continue
			}
			k := pk{ek{x.Client, x.Server, x.Transport, x.App, x.Port}, x.Probe}
			w, ok := perProbe[k]
			if !ok {
				perProbe[k] = x
				continue
			}
			w.Start = minTime2(w.Start, x.Start)
			w.End = maxTime2(w.End, x.End)
			w.Flows += x.Flows
			w.Packets += x.Packets
			w.Bytes += x.Bytes
			w.Requests += x.Requests
			w.Errors += x.Errors
			w.LatencySum += x.LatencySum
			w.LatencyCount += x.LatencyCount
			w.LatencyMax = max(w.LatencyMax, x.LatencyMax)
			perProbe[k] = w
		}
		wantE := map[ek]record.Edge{}
		for k, x := range perProbe {
			w, ok := wantE[k.ek]
			if !ok {
				wantE[k.ek] = x
				continue
			}
			w.Probe = ""
			w.Start = minTime2(w.Start, x.Start)
			w.End = maxTime2(w.End, x.End)
			w.Flows = max(w.Flows, x.Flows)
			w.Packets = max(w.Packets, x.Packets)
			w.Bytes = max(w.Bytes, x.Bytes)
			w.Requests = max(w.Requests, x.Requests)
			w.Errors = max(w.Errors, x.Errors)
			w.LatencySum = max(w.LatencySum, x.LatencySum)
			w.LatencyCount = max(w.LatencyCount, x.LatencyCount)
			w.LatencyMax = max(w.LatencyMax, x.LatencyMax)
			wantE[k.ek] = w
		}
		gotE, err := s.Edges(ctx, store.EdgeQuery{TimeRange: tr, Probes: probes, Apps: apps, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(gotE) != min(limit, len(wantE)) {
			t.Fatalf("query %d: %d edges, want %d", qi, len(gotE), min(limit, len(wantE)))
		}
		for i, e := range gotE {
			k := ek{e.Client, e.Server, e.Transport, e.App, e.Port}
			if w := wantE[k]; fmt.Sprintf("%#v", w) != fmt.Sprintf("%#v", e) {
				t.Fatalf("query %d: edge\n got %+v\nwant %+v", qi, e, w)
			}
			if i > 0 && e.Bytes > gotE[i-1].Bytes {
				t.Fatalf("query %d: edges not by bytes", qi)
			}
			delete(wantE, k)
		}
		if len(gotE) > 0 {
			for _, w := range wantE {
				if w.Bytes > gotE[len(gotE)-1].Bytes {
					t.Fatalf("query %d: edge %+v missing from the top %d", qi, w, limit)
				}
			}
		}

		// Windows: overlapping, oldest first, at most Limit.
		wl := 1 + r.IntN(500)
		var wantW []record.Window
		for _, w := range d.windows {
			if overlaps(tr, w.Start, w.End) && (len(probes) == 0 || slices.Contains(probes, w.Probe)) {
				wantW = append(wantW, w)
			}
		}
		slices.SortStableFunc(wantW, func(a, b record.Window) int { return a.Start.Compare(b.Start) })
		gotW, err := s.Windows(ctx, store.WindowQuery{TimeRange: tr, Probes: probes, Limit: wl})
		if err != nil {
			t.Fatal(err)
		}
		if len(gotW) != min(wl, len(wantW)) {
			t.Fatalf("query %d: %d windows, want %d", qi, len(gotW), min(wl, len(wantW)))
		}
		for i := range gotW {
			if !gotW[i].Start.Equal(wantW[i].Start) {
				t.Fatalf("query %d: window %d starts %v, want %v", qi, i, gotW[i].Start, wantW[i].Start)
			}
		}
		if len(gotW) == len(wantW) {
			sameSet(t, fmt.Sprintf("query %d windows", qi), gotW, wantW)
		}
	}
}

func minTime2(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime2(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
