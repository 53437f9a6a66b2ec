package storetest

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

var probeIDs = []string{"p1", "p2", "p3"}

// fill writes a few batches of each probe (two spools for p1) and
// returns what they hold.
func fill(t *testing.T, s store.Store, g *gen) *data {
	t.Helper()
	d := &data{}
	for i := range 4 {
		for _, p := range probeIDs {
			b := g.batch(p, "spool-a", uint64(i+1), 60)
			write(t, s, b, time.Now())
			d.add(b)
		}
	}
	b := g.batch("p1", "spool-b", 1, 60)
	write(t, s, b, time.Now())
	d.add(b)
	return d
}

// randRange is a random [From, To) over the data, sometimes open.
func (g *gen) randRange() store.TimeRange {
	var tr store.TimeRange
	if g.r.IntN(4) > 0 {
		tr.From = g.base.Add(time.Duration(g.r.Int64N(int64(g.span))))
	}
	if g.r.IntN(4) > 0 {
		tr.To = g.base.Add(time.Duration(g.r.Int64N(int64(g.span + time.Hour))))
		if tr.To.Before(tr.From) {
			tr.From, tr.To = tr.To, tr.From
		}
	}
	if g.r.IntN(3) == 0 {
		// On the minute: where windows and many flows begin and end.
		tr.From, tr.To = tr.From.Truncate(time.Minute), tr.To.Truncate(time.Minute)
	}
	return tr
}

func (g *gen) randProbes() []string {
	switch g.r.IntN(4) {
	case 0:
		return []string{pick(g.r, probeIDs)}
	case 1:
		return []string{"p1", "p3", "nobody"}
	}
	return nil
}

// randPrefix is a prefix around one of the hosts: all of its family, the
// host alone, or anything between.
func (g *gen) randPrefix() netip.Prefix {
	a := g.hosts[int(float64(len(g.hosts))*math.Pow(g.r.Float64(), 2))]
	bits := a.BitLen()
	switch g.r.IntN(4) {
	case 0:
		bits = 0
	case 1:
	default:
		bits = g.r.IntN(bits + 1)
	}
	p, _ := a.Prefix(bits)
	return p
}

func (g *gen) randFlowFilter() store.FlowFilter {
	r := g.r
	f := store.FlowFilter{TimeRange: g.randRange(), Probes: g.randProbes()}
	if r.IntN(4) == 0 {
		f.Transport = pick(r, transports)
	}
	if r.IntN(4) == 0 {
		f.App = pick(r, apps)
	}
	if r.IntN(5) == 0 {
		f.Device = pick(r, devices)
	}
	if r.IntN(4) == 0 {
		f.Port = pick(r, ports)
	}
	switch r.IntN(6) {
	case 0:
		f.Host = g.randPrefix()
	case 1:
		f.Client = g.randPrefix()
	case 2:
		f.Server = g.randPrefix()
	}
	return f
}

func flowMatches(f *store.FlowFilter, x *record.Flow, now time.Time) bool {
	lo, hi := bounds(f.From, f.To, now)
	return overlaps(x.Start, x.End, lo, hi, true) && inList(x.Probe, f.Probes) &&
		(f.Transport == "" || x.Transport == f.Transport) && (f.App == "" || x.App == f.App) &&
		(f.Device == "" || x.Device == f.Device) && (f.Port == 0 || x.Server.Port() == f.Port) &&
		(f.Host == (netip.Prefix{}) || f.Host.Contains(x.Client.Addr()) || f.Host.Contains(x.Server.Addr())) &&
		prefixHas(f.Client, x.Client.Addr()) && prefixHas(f.Server, x.Server.Addr())
}

func testQueries(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(6, base(), span)
	d := fill(t, s, g)
	t.Run("Windows", func(t *testing.T) { checkWindows(t, s, g, d) })
	t.Run("Flows", func(t *testing.T) { checkFlows(t, s, g, d) })
	t.Run("FlowGroups", func(t *testing.T) { checkGroups(t, s, g, d) })
	t.Run("Transactions", func(t *testing.T) { checkTransactions(t, s, g, d) })
	t.Run("Traffic", func(t *testing.T) { checkTraffic(t, s, g, d) })
	t.Run("Edges", func(t *testing.T) { checkEdges(t, s, g, d) })
	t.Run("TxBreakdown", func(t *testing.T) { checkBreakdown(t, s, g, d) })
	t.Run("Extent", func(t *testing.T) { checkExtent(t, s, d) })
}

// checkWindows: the windows overlapping the range, of the probes, oldest
// first, at most Limit (which of several with the same start is
// unspecified).
func checkWindows(t *testing.T, s store.Store, g *gen, d *data) {
	for i := range 30 {
		q := store.WindowQuery{TimeRange: g.randRange(), Probes: g.randProbes()}
		if g.r.IntN(3) == 0 {
			q.Limit = 1 + g.r.IntN(40)
		}
		now := time.Now()
		got, err := s.Windows(ctx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := bounds(q.From, q.To, now)
		var want []record.Window
		for _, w := range d.windows {
			if overlaps(w.Start, w.End, lo, hi, false) && inList(w.Probe, q.Probes) {
				want = append(want, w)
			}
		}
		limit := cmp.Or(q.Limit, store.DefaultLimit)
		what := fmt.Sprintf("windows query %d %+v", i, q)
		checkTop(t, what, got, want, limit, func(w record.Window) int64 { return -ns(w.Start) }, canonWindow)
	}
}

// checkTop checks a list ordered by a key (descending) and cut at limit:
// sorted, of the right length, and holding every wanted row above the
// last row's key and only wanted rows.
func checkTop[T any](t *testing.T, what string, got, want []T, limit int, key func(T) int64, canon func(T) string) {
	t.Helper()
	if n := min(limit, len(want)); len(got) != n {
		t.Errorf("%s: %d rows; want %d", what, len(got), n)
		return
	}
	for i := 1; i < len(got); i++ {
		if key(got[i]) > key(got[i-1]) {
			t.Errorf("%s: row %d out of order", what, i)
			return
		}
	}
	wantN := map[string]int{}
	for _, w := range want {
		wantN[canon(w)]++
	}
	for _, g := range got {
		c := canon(g)
		if wantN[c] == 0 {
			t.Errorf("%s: unexpected row %.300s", what, c)
			return
		}
		wantN[c]--
	}
	if len(got) == 0 || len(got) == len(want) {
		return
	}
	last := key(got[len(got)-1])
	for _, w := range want {
		if key(w) > last && wantN[canon(w)] > 0 {
			t.Errorf("%s: row %.300s is missing", what, canon(w))
			return
		}
	}
}

// checkFlows: every matching flow exactly once across the pages, newest
// first.
func checkFlows(t *testing.T, s store.Store, g *gen, d *data) {
	for i := range 30 {
		q := store.FlowQuery{FlowFilter: g.randFlowFilter(), Limit: pick(g.r, []int{0, 1, 7, 50, 333, store.MaxLimit})}
		now := time.Now()
		got := allFlows(t, s, q)
		var want []record.Flow
		for _, f := range d.flows {
			if flowMatches(&q.FlowFilter, &f, now) {
				want = append(want, f)
			}
		}
		what := fmt.Sprintf("flows query %d %+v", i, q.FlowFilter)
		for j := 1; j < len(got); j++ {
			if ns(got[j].Start) > ns(got[j-1].Start) {
				t.Errorf("%s: row %d is newer than the one before", what, j)
				break
			}
		}
		sameMultiset(t, what, mapSlice(got, canonFlow), mapSlice(want, canonFlow))
	}
	// A page of exactly the rows left has no next page.
	var n int
	for _, f := range d.flows {
		if f.Probe == "p2" {
			n++
		}
	}
	p, err := s.Flows(ctx(t), store.FlowQuery{FlowFilter: store.FlowFilter{Probes: []string{"p2"}}, Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Flows) != n || p.Next != "" {
		t.Errorf("a limit of exactly the %d rows: %d rows, next %q", n, len(p.Flows), p.Next)
	}
}

// groupKey is the text of one GroupBy column for a flow; ColHost gives
// both ends (once when they are the same address).
func groupKeys(col string, f *record.Flow) []string {
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	switch col {
	case store.ColProbe:
		return []string{f.Probe}
	case store.ColClient:
		return []string{addr(f.Client.Addr())}
	case store.ColServer:
		return []string{addr(f.Server.Addr())}
	case store.ColHost:
		if f.Client.Addr() == f.Server.Addr() {
			return []string{addr(f.Client.Addr())}
		}
		return []string{addr(f.Client.Addr()), addr(f.Server.Addr())}
	case store.ColPort:
		return []string{strconv.Itoa(int(f.Server.Port()))}
	case store.ColApp:
		return []string{f.App}
	case store.ColTransport:
		return []string{f.Transport}
	case store.ColDevice:
		return []string{f.Device}
	}
	panic("unknown column " + col)
}

// checkGroups: sums per group computed here; the top groups by the
// order column (groups tied at the cut may be either).
func checkGroups(t *testing.T, s store.Store, g *gen, d *data) {
	cols := []string{store.ColProbe, store.ColClient, store.ColServer, store.ColHost, store.ColPort, store.ColApp, store.ColTransport, store.ColDevice}
	cases := []store.GroupQuery{
		{GroupBy: []string{store.ColHost}, OrderBy: store.OrderBytes, Limit: 10}, // top talkers
		{GroupBy: []string{store.ColHost, store.ColProbe}, Limit: 10},
	}
	for range 40 {
		q := store.GroupQuery{FlowFilter: g.randFlowFilter(), OrderBy: pick(g.r, []string{"", store.OrderBytes, store.OrderPackets, store.OrderFlows}),
			Limit: pick(g.r, []int{0, 1, 5, 10, 1000})}
		perm := g.r.Perm(len(cols))
		for _, j := range perm[:1+g.r.IntN(2)] {
			q.GroupBy = append(q.GroupBy, cols[j])
		}
		cases = append(cases, q)
	}
	for i, q := range cases {
		now := time.Now()
		got, err := s.FlowGroups(ctx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]*store.Group{}
		for _, f := range d.flows {
			if !flowMatches(&q.FlowFilter, &f, now) {
				continue
			}
			keys := [][]string{nil}
			for _, c := range q.GroupBy {
				var next [][]string
				for _, k := range keys {
					for _, v := range groupKeys(c, &f) {
						next = append(next, append(slices.Clone(k), v))
					}
				}
				keys = next
			}
			for _, k := range keys {
				id := strings.Join(k, "\x00|")
				gr := sums[id]
				if gr == nil {
					gr = &store.Group{Key: k}
					sums[id] = gr
				}
				gr.Flows++
				gr.Packets = addSat(gr.Packets, addSat(f.Packets[0], f.Packets[1]))
				gr.Bytes = addSat(gr.Bytes, addSat(f.Bytes[0], f.Bytes[1]))
			}
		}
		var want []store.Group
		for _, gr := range sums {
			want = append(want, *gr)
		}
		measure := func(gr store.Group) int64 {
			switch q.OrderBy {
			case store.OrderPackets:
				return int64(gr.Packets) // the sums here stay far below 2^63
			case store.OrderFlows:
				return int64(gr.Flows)
			}
			return int64(gr.Bytes)
		}
		canonGroup := func(gr store.Group) string {
			return fmt.Sprintf("%q %d %d %d", gr.Key, gr.Flows, gr.Packets, gr.Bytes)
		}
		checkTop(t, fmt.Sprintf("groups query %d %+v", i, q), got, want, cmp.Or(q.Limit, store.DefaultLimit), measure, canonGroup)
	}
}

func (g *gen) randTxQuery(d *data) store.TxQuery {
	r := g.r
	q := store.TxQuery{TimeRange: g.randRange(), Probes: g.randProbes()}
	if r.IntN(4) == 0 {
		q.Proto = pick(r, []string{"http", "dns", "redis"})
	}
	if r.IntN(5) == 0 {
		q.Outcome = pick(r, []string{"ok", "one_way", "client_error", "server_error", "no_response"})
	}
	if r.IntN(6) == 0 {
		q.Op = pick(r, []string{"GET", "POST", "A", "SET"})
	}
	if r.IntN(6) == 0 {
		q.Status = pick(r, []string{"200", "404", "NXDOMAIN"})
	}
	if r.IntN(3) == 0 {
		// A substring of a stored target, on rune boundaries (needles
		// are valid UTF-8).
		target := pick(r, d.txs).Target
		runes := []rune(strings.ToValidUTF8(target, ""))
		a := r.IntN(len(runes))
		b := a + 1 + r.IntN(len(runes)-a)
		q.Target = string(runes[a:b])
	}
	switch r.IntN(6) {
	case 0:
		q.Client = g.randPrefix()
	case 1:
		q.Server = g.randPrefix()
	}
	if r.IntN(5) == 0 {
		q.Port = pick(r, ports)
	}
	if r.IntN(5) == 0 {
		q.MinLatency = time.Duration(r.Int64N(int64(2 * time.Second)))
	}
	if r.IntN(5) == 0 {
		q.Flag = pick(r, []string{"sqli", "truncated", awkward[2]})
	}
	if r.IntN(4) == 0 {
		q.Fields = map[string]string{pick(r, []string{"host", "ua", "qtype"}): pick(r, []string{"a", "b", "c\x00", "d\xfe", "'"})}
		if r.IntN(3) == 0 {
			q.Fields["host"] = "a"
		}
	}
	return q
}

func txMatches(q *store.TxQuery, x *record.Transaction, now time.Time) bool {
	lo, hi := bounds(q.From, q.To, now)
	ts := ns(x.Time())
	if ts >= hi || (lo != math.MinInt64 && ts < lo) || !inList(x.Probe, q.Probes) {
		return false
	}
	if (q.Proto != "" && x.Proto != q.Proto) || (q.Outcome != "" && x.Outcome != q.Outcome) ||
		(q.Op != "" && x.Op != q.Op) || (q.Status != "" && x.Status != q.Status) ||
		!strings.Contains(x.Target, q.Target) || !prefixHas(q.Client, x.Client.Addr()) || !prefixHas(q.Server, x.Server.Addr()) ||
		(q.Port != 0 && x.Server.Port() != q.Port) || (q.MinLatency > 0 && x.Latency < q.MinLatency) ||
		(q.Flag != "" && !slices.Contains(x.Flags, q.Flag)) {
		return false
	}
	for k, v := range q.Fields {
		if !slices.Contains(x.Fields, record.Field{Key: k, Value: v}) {
			return false
		}
	}
	return true
}

// checkTransactions: every matching transaction exactly once across the
// pages, newest first.
func checkTransactions(t *testing.T, s store.Store, g *gen, d *data) {
	for i := range 40 {
		q := g.randTxQuery(d)
		q.Limit = pick(g.r, []int{0, 1, 9, 60, store.MaxLimit})
		now := time.Now()
		got := allTxs(t, s, q)
		var want []record.Transaction
		for _, x := range d.txs {
			if txMatches(&q, &x, now) {
				want = append(want, x)
			}
		}
		what := fmt.Sprintf("transactions query %d %+v", i, q)
		for j := 1; j < len(got); j++ {
			if ns(got[j].Time()) > ns(got[j-1].Time()) {
				t.Errorf("%s: row %d is newer than the one before", what, j)
				break
			}
		}
		sameMultiset(t, what, mapSlice(got, canonTx), mapSlice(want, canonTx))
	}
}

// checkTraffic: sums per (probe, device, direction) of the records
// overlapping the range, Start/End spanning them, in that order.
func checkTraffic(t *testing.T, s store.Store, g *gen, d *data) {
	for i := range 15 {
		q := store.TrafficQuery{TimeRange: g.randRange(), Probes: g.randProbes()}
		now := time.Now()
		got, err := s.Traffic(ctx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := bounds(q.From, q.To, now)
		sums := map[[3]string]*record.Traffic{}
		for _, x := range d.traffic {
			if !overlaps(x.Start, x.End, lo, hi, false) || !inList(x.Probe, q.Probes) {
				continue
			}
			k := [3]string{x.Probe, x.Device, x.Direction}
			if sum := sums[k]; sum == nil {
				c := x
				sums[k] = &c
			} else {
				if ns(x.Start) < ns(sum.Start) {
					sum.Start = x.Start
				}
				if ns(x.End) > ns(sum.End) {
					sum.End = x.End
				}
				sum.Packets, sum.Bytes = addSat(sum.Packets, x.Packets), addSat(sum.Bytes, x.Bytes)
			}
		}
		var want []record.Traffic
		for _, x := range sums {
			want = append(want, *x)
		}
		slices.SortFunc(want, func(a, b record.Traffic) int {
			return cmp.Or(strings.Compare(a.Probe, b.Probe), strings.Compare(a.Device, b.Device), strings.Compare(a.Direction, b.Direction))
		})
		if g, w := mapSlice(got, canonTraffic), mapSlice(want, canonTraffic); !slices.Equal(g, w) {
			t.Errorf("traffic query %d %+v:\n got %q\nwant %q", i, q, g, w)
		}
	}
}

// edgeKey is what makes two edge records one edge.
type edgeKey struct {
	client, server netip.Addr
	transport, app string
	port           uint16
}

// wantEdges is the contract's Edges over records: summed per probe
// across periods, then the maximum of each measure across probes, Start
// and End spanning every record, Probe set when one probe reported it.
func wantEdges(records []record.Edge) []record.Edge {
	perProbe := map[edgeKey]map[string]*record.Edge{}
	for _, e := range records {
		k := edgeKey{e.Client, e.Server, e.Transport, e.App, e.Port}
		if perProbe[k] == nil {
			perProbe[k] = map[string]*record.Edge{}
		}
		p := perProbe[k][e.Probe]
		if p == nil {
			c := e
			perProbe[k][e.Probe] = &c
			continue
		}
		if ns(e.Start) < ns(p.Start) {
			p.Start = e.Start
		}
		if ns(e.End) > ns(p.End) {
			p.End = e.End
		}
		p.Flows, p.Packets, p.Bytes = addSat(p.Flows, e.Flows), addSat(p.Packets, e.Packets), addSat(p.Bytes, e.Bytes)
		p.Requests, p.Errors = addSat(p.Requests, e.Requests), addSat(p.Errors, e.Errors)
		p.LatencySum = time.Duration(addSatI64(int64(p.LatencySum), int64(e.LatencySum)))
		p.LatencyCount = addSat(p.LatencyCount, e.LatencyCount)
		p.LatencyMax = max(p.LatencyMax, e.LatencyMax)
	}
	var out []record.Edge
	for _, probes := range perProbe {
		var m *record.Edge
		for _, p := range probes {
			if m == nil {
				c := *p
				m = &c
				continue
			}
			m.Probe = ""
			if ns(p.Start) < ns(m.Start) {
				m.Start = p.Start
			}
			if ns(p.End) > ns(m.End) {
				m.End = p.End
			}
			m.Flows, m.Packets, m.Bytes = max(m.Flows, p.Flows), max(m.Packets, p.Packets), max(m.Bytes, p.Bytes)
			m.Requests, m.Errors = max(m.Requests, p.Requests), max(m.Errors, p.Errors)
			m.LatencySum, m.LatencyCount, m.LatencyMax = max(m.LatencySum, p.LatencySum), max(m.LatencyCount, p.LatencyCount), max(m.LatencyMax, p.LatencyMax)
		}
		out = append(out, *m)
	}
	return out
}

func checkEdges(t *testing.T, s store.Store, g *gen, d *data) {
	for i := range 20 {
		q := store.EdgeQuery{TimeRange: g.randRange(), Probes: g.randProbes(), Limit: pick(g.r, []int{0, 3, 20, 1000})}
		if g.r.IntN(3) == 0 {
			q.Apps = []string{pick(g.r, apps[:3])}
		}
		now := time.Now()
		got, err := s.Edges(ctx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := bounds(q.From, q.To, now)
		var in []record.Edge
		for _, e := range d.edges {
			if overlaps(e.Start, e.End, lo, hi, false) && inList(e.Probe, q.Probes) && inList(e.App, q.Apps) {
				in = append(in, e)
			}
		}
		checkTop(t, fmt.Sprintf("edges query %d %+v", i, q), got, wantEdges(in), cmp.Or(q.Limit, store.DefaultLimit),
			func(e record.Edge) int64 { return int64(e.Bytes) }, canonEdge)
	}
}

// testEdgesAcrossProbes: two probes that see one conversation do not
// double it.
func testEdgesAcrossProbes(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	at := base()
	c, sv := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	edge := func(probe string, min int, packets, bytes, requests uint64) record.Edge {
		return record.Edge{Probe: probe, Start: at.Add(time.Duration(min) * time.Minute), End: at.Add(time.Duration(min+1) * time.Minute),
			Client: c, Server: sv, Transport: "tcp", App: "http", Port: 80, Flows: 1, Packets: packets, Bytes: bytes,
			Requests: requests, LatencySum: time.Duration(requests) * time.Millisecond, LatencyCount: requests, LatencyMax: time.Millisecond}
	}
	a := &record.Batch{Probe: record.ProbeInfo{ID: "client-side"}, Seq: 1, Edges: []record.Edge{
		edge("client-side", 0, 10, 1000, 5), edge("client-side", 1, 10, 500, 5),
		{Probe: "client-side", Start: at, End: at.Add(time.Minute), Client: c, Server: sv, Transport: "udp", App: "dns", Port: 53, Flows: 1, Packets: 2, Bytes: 100},
	}}
	b := &record.Batch{Probe: record.ProbeInfo{ID: "server-side"}, Seq: 1, Edges: []record.Edge{
		edge("server-side", 0, 12, 700, 4), edge("server-side", 2, 12, 700, 4),
	}}
	write(t, s, a, time.Now())
	write(t, s, b, time.Now())
	got, err := s.Edges(ctx(t), store.EdgeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d edges; want 2: %+v", len(got), got)
	}
	http, dns := got[0], got[1]
	// client-side: 20 packets, 1500 bytes; server-side: 24 packets, 1400
	// bytes: each measure its own maximum, not 44 and 2900.
	if http.App != "http" || http.Bytes != 1500 || http.Packets != 24 || http.Flows != 2 || http.Probe != "" ||
		!http.Start.Equal(at) || !http.End.Equal(at.Add(3*time.Minute)) {
		t.Errorf("http edge %+v; want bytes 1500, packets 24, flows 2, no single probe, over 3 minutes", http)
	}
	if dns.App != "dns" || dns.Bytes != 100 || dns.Probe != "client-side" {
		t.Errorf("dns edge %+v; want 100 bytes from client-side", dns)
	}
	sameMultiset(t, "edges", mapSlice(got, canonEdge), mapSlice(wantEdges(append(a.Edges, b.Edges...)), canonEdge))
}

// testSaturation: sums of hostile counters hold at 2^64-1 instead of
// wrapping.
func testSaturation(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(7, base(), span)
	b := g.batch("p1", "s", 1, 3)
	for i := range b.Flows {
		b.Flows[i].Bytes = [2]uint64{math.MaxUint64, math.MaxUint64 / 2}
	}
	for i := range b.Traffic {
		b.Traffic[i].Bytes = math.MaxUint64 - 1
	}
	b.Traffic = append(b.Traffic, b.Traffic...) // two records per key
	for i := range b.Edges {
		b.Edges[i].Client, b.Edges[i].Server, b.Edges[i].Port, b.Edges[i].App = g.hosts[0], g.hosts[1], 1, "x"
		b.Edges[i].Bytes, b.Edges[i].LatencySum = math.MaxUint64, math.MaxInt64
	}
	write(t, s, b, time.Now())
	gs, err := s.FlowGroups(ctx(t), store.GroupQuery{GroupBy: []string{store.ColProbe}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Bytes != math.MaxUint64 || gs[0].Flows != uint64(len(b.Flows)) {
		t.Errorf("groups %+v; want one group of %d flows holding 2^64-1 bytes", gs, len(b.Flows))
	}
	tr, err := s.Traffic(ctx(t), store.TrafficQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tr {
		if x.Bytes != math.MaxUint64 {
			t.Errorf("traffic %+v; want 2^64-1 bytes", x)
		}
	}
	es, err := s.Edges(ctx(t), store.EdgeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Bytes != math.MaxUint64 || es[0].LatencySum != math.MaxInt64 {
		t.Errorf("edges %+v; want one edge holding 2^64-1 bytes and the largest latency sum", es)
	}
}

// testPagingWhileWriting: among the rows present when a walk began,
// none is returned twice or skipped while new rows arrive.
func testPagingWhileWriting(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(8, base(), span)
	d := fill(t, s, g)
	seen := map[string]int{}
	seq := uint64(0)
	more := func() {
		seq++
		write(t, s, g.batch("p9", "s", seq, 40), time.Now())
	}
	fq := store.FlowQuery{Limit: 97}
	for page := 0; ; page++ {
		p, err := s.Flows(ctx(t), fq)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Flows {
			seen["f"+canonFlow(f)]++
		}
		if p.Next == "" {
			break
		}
		if page%3 == 1 {
			more()
		}
		fq.Cursor = p.Next
	}
	tq := store.TxQuery{Limit: 97}
	for page := 0; ; page++ {
		p, err := s.Transactions(ctx(t), tq)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range p.Transactions {
			seen["t"+canonTx(x)]++
		}
		if p.Next == "" {
			break
		}
		if page%3 == 1 {
			more()
		}
		tq.Cursor = p.Next
	}
	if seq == 0 {
		t.Fatal("no batch was written during the walks")
	}
	for _, f := range d.flows {
		if n := seen["f"+canonFlow(f)]; n != 1 {
			t.Errorf("flow seen %d times: %.200s", n, canonFlow(f))
		}
	}
	for _, x := range d.txs {
		if n := seen["t"+canonTx(x)]; n != 1 {
			t.Errorf("transaction seen %d times: %.200s", n, canonTx(x))
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("row seen %d times: %.200s", n, k)
		}
	}
}

// checkExtent: the span of the stored windows.
func checkExtent(t *testing.T, s store.Store, d *data) {
	got, err := s.Extent(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, w := range d.windows {
		if !w.Start.IsZero() {
			lo, hi = min(lo, ns(w.Start)), max(hi, ns(w.End))
		}
	}
	if ns(got.From) != lo || ns(got.To) != hi {
		t.Errorf("extent %v – %v; want %v – %v", got.From, got.To, time.Unix(0, lo).UTC(), time.Unix(0, hi).UTC())
	}
}

// nearestRank is the q-quantile of sorted values: the value at rank
// ⌈q·n⌉ (1-based).
func nearestRank(sorted []time.Duration, q float64) (lo, hi time.Duration) {
	n := float64(len(sorted))
	if n == 0 {
		return 0, 0
	}
	r := q * n
	// Near a whole rank, floating point may round either way.
	a, b := math.Ceil(r-1e-9), math.Ceil(r+1e-9)
	at := func(rank float64) time.Duration { return sorted[int(min(max(rank, 1), n))-1] }
	return at(a), at(b)
}

func checkBreakdown(t *testing.T, s store.Store, g *gen, d *data) {
	for i := range 20 {
		r := g.r
		q := store.TxBreakdownQuery{TimeRange: g.randRange(), Probes: g.randProbes(), Statuses: pick(r, []int{0, 2, 5}), Recent: pick(r, []int{0, 3, 20})}
		addrs := func() []netip.Addr {
			var l []netip.Addr
			for range 1 + r.IntN(4) {
				a := pick(r, d.txs).Client.Addr()
				if r.IntN(2) == 0 {
					a = pick(r, d.txs).Server.Addr()
				}
				if a.Is4() && r.IntN(3) == 0 {
					a = netip.AddrFrom16(a.As16()) // the mapped form is the same host
				}
				l = append(l, a)
			}
			return l
		}
		switch r.IntN(3) {
		case 0:
			q.Clients = addrs()
		case 1:
			q.Servers = addrs()
		}
		if r.IntN(4) == 0 {
			q.Port = pick(r, ports)
		}
		now := time.Now()
		got, err := s.TxBreakdown(ctx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := bounds(q.From, q.To, now)
		// An IPv4 address (or its IPv4-mapped form) names the host in
		// both forms, as the map does; an IPv6 address only itself.
		in := func(l []netip.Addr, a netip.Addr) bool {
			if len(l) == 0 {
				return true
			}
			for _, x := range l {
				if x == a || x.Unmap().Is4() && x.Unmap() == a.Unmap() {
					return true
				}
			}
			return false
		}
		var txs []record.Transaction
		for _, x := range d.txs {
			ts := ns(x.Time())
			if ts < hi && (lo == math.MinInt64 || ts >= lo) && inList(x.Probe, q.Probes) &&
				in(q.Clients, x.Client.Addr()) && in(q.Servers, x.Server.Addr()) && (q.Port == 0 || x.Server.Port() == q.Port) {
				txs = append(txs, x)
			}
		}
		what := fmt.Sprintf("breakdown %d %+v", i, q)
		checkProtocols(t, what, got.Protocols, txs)
		statuses := map[[3]string]uint64{}
		for _, x := range txs {
			statuses[[3]string{x.Proto, x.Status, x.Outcome}]++
		}
		var wantSt []store.TxStatusCount
		for k, n := range statuses {
			wantSt = append(wantSt, store.TxStatusCount{Proto: k[0], Status: k[1], Outcome: k[2], Count: n})
		}
		checkTop(t, what+" statuses", got.Statuses, wantSt, cmp.Or(q.Statuses, store.DefaultLimit),
			func(c store.TxStatusCount) int64 { return int64(c.Count) }, func(c store.TxStatusCount) string { return fmt.Sprint(c) })
		checkTop(t, what+" recent", got.Recent, txs, q.Recent, func(x record.Transaction) int64 { return ns(x.Time()) }, canonTx)
	}
}

func checkProtocols(t *testing.T, what string, got []store.TxProtoStats, txs []record.Transaction) {
	t.Helper()
	lat := map[string][]time.Duration{}
	want := map[string]*store.TxProtoStats{}
	for _, x := range txs {
		p := want[x.Proto]
		if p == nil {
			p = &store.TxProtoStats{Proto: x.Proto}
			want[x.Proto] = p
		}
		p.Count++
		if x.Outcome != "ok" && x.Outcome != "one_way" {
			p.Errors++
		}
		if x.Latency >= 0 && !x.RequestTime.IsZero() && !x.ResponseTime.IsZero() {
			lat[x.Proto] = append(lat[x.Proto], x.Latency)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d protocols; want %d", what, len(got), len(want))
		return
	}
	for i, p := range got {
		if i > 0 && (p.Count > got[i-1].Count || p.Count == got[i-1].Count && p.Proto < got[i-1].Proto) {
			t.Errorf("%s: protocols out of order: %+v", what, got)
		}
		w := want[p.Proto]
		if w == nil {
			t.Errorf("%s: unexpected protocol %q", what, p.Proto)
			continue
		}
		l := lat[p.Proto]
		slices.Sort(l)
		if p.Count != w.Count || p.Errors != w.Errors || p.LatencyCount != uint64(len(l)) {
			t.Errorf("%s: %s counts %d/%d/%d; want %d/%d/%d", what, p.Proto, p.Count, p.Errors, p.LatencyCount, w.Count, w.Errors, len(l))
			continue
		}
		var sum float64
		for _, v := range l {
			sum += float64(v)
		}
		if len(l) == 0 {
			if p.LatencyMean != 0 || p.LatencyP50 != 0 || p.LatencyMax != 0 {
				t.Errorf("%s: %s has latency figures without latencies: %+v", what, p.Proto, p)
			}
			continue
		}
		if mean := sum / float64(len(l)); math.Abs(float64(p.LatencyMean)-mean) > 1 {
			t.Errorf("%s: %s mean %v; want %v", what, p.Proto, p.LatencyMean, time.Duration(mean))
		}
		for _, c := range []struct {
			q   float64
			got time.Duration
		}{{0.5, p.LatencyP50}, {0.9, p.LatencyP90}, {0.99, p.LatencyP99}} {
			if a, b := nearestRank(l, c.q); c.got != a && c.got != b {
				t.Errorf("%s: %s p%v = %v; want %v (nearest rank of %d)", what, p.Proto, c.q*100, c.got, a, len(l))
			}
		}
		if p.LatencyMax != l[len(l)-1] {
			t.Errorf("%s: %s max %v; want %v", what, p.Proto, p.LatencyMax, l[len(l)-1])
		}
	}
}
