// Package graph turns what probes report into the traffic map: Derive
// sums a batch's flows and transactions into edges (client address →
// server address, per transport, application protocol, server port and
// reporting period), a Resolver names the addresses (the probes' own
// hosts, a static inventory of hosts and networks, everything else
// external), and Build draws the map over a time range: nodes grouped by
// a label, edges between them summed, filtered by protocol and by node
// name patterns.
//
// Edges are stored by address, not by name, so that renaming a host in
// the inventory or regrouping the map never needs the records again.
package graph

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

// DefaultPeriod is the period records are bucketed into when the batch
// carries no summary window to take the period from (the probe's
// default window length).
const DefaultPeriod = 60 * time.Second

type edgeKey struct {
	start, end     int64
	client, server netip.Addr
	transport, app string
	port           uint16
}

type connKey struct {
	client, server netip.AddrPort
	transport      string
}

// Derive returns the edges of a batch: its flow records and transactions
// summed per (period, client address, server address, transport,
// application protocol, server port), in a stable order (period, then
// the key). Edge.Probe is the batch's probe.
//
// A record's period is the batch's summary window that contains its time
// (a flow's Start, a transaction's Time); without one, the period of
// that length (DefaultPeriod when the batch has no window) aligned on the
// Unix epoch, which is how probes align their windows.
//
// A transaction counts on the same edge as its connection: when the
// batch holds a flow record with the same client, server and transport
// and that flow's protocol is known, the edge's App is the flow's (the
// HTTP/2 parser names gRPC calls "grpc" on a flow detected as "http2";
// both belong to one conversation). Otherwise its App is the
// transaction's Proto.
//
// Records without a valid client or server address, or without a time,
// make no edge: the ingest stage rejects such records before they get
// here, so this only guards against a batch that skipped validation.
func Derive(b *record.Batch) []record.Edge {
	if b == nil || len(b.Flows)+len(b.Transactions) == 0 {
		return nil
	}
	p := newPeriods(b.Windows)
	sums := make(map[edgeKey]*record.Edge)
	get := func(k edgeKey) *record.Edge {
		e := sums[k]
		if e == nil {
			e = &record.Edge{
				Probe:     b.Probe.ID,
				Start:     time.Unix(0, k.start).UTC(),
				End:       time.Unix(0, k.end).UTC(),
				Client:    k.client,
				Server:    k.server,
				Transport: k.transport,
				App:       k.app,
				Port:      k.port,
			}
			sums[k] = e
		}
		return e
	}
	apps := make(map[connKey]string, len(b.Flows))
	for i := range b.Flows {
		f := &b.Flows[i]
		client, server := unmap(f.Client), unmap(f.Server)
		if !client.IsValid() || !server.IsValid() || f.Start.IsZero() {
			continue
		}
		if f.App != "" {
			apps[connKey{client, server, f.Transport}] = f.App
		}
		start, end := p.of(f.Start)
		e := get(edgeKey{start, end, client.Addr(), server.Addr(), f.Transport, f.App, server.Port()})
		e.Flows++
		e.Packets += f.Packets[0] + f.Packets[1]
		e.Bytes += f.Bytes[0] + f.Bytes[1]
	}
	for i := range b.Transactions {
		t := &b.Transactions[i]
		client, server := unmap(t.Client), unmap(t.Server)
		ts := t.Time()
		if !client.IsValid() || !server.IsValid() || ts.IsZero() {
			continue
		}
		app := apps[connKey{client, server, t.Transport}]
		if app == "" {
			app = t.Proto
		}
		start, end := p.of(ts)
		e := get(edgeKey{start, end, client.Addr(), server.Addr(), t.Transport, app, server.Port()})
		e.Requests++
		if t.Outcome != "ok" && t.Outcome != "one_way" {
			e.Errors++
		}
		if t.Latency >= 0 && !t.RequestTime.IsZero() && !t.ResponseTime.IsZero() {
			e.LatencySum = addSat(e.LatencySum, t.Latency)
			e.LatencyCount++
			e.LatencyMax = max(e.LatencyMax, t.Latency)
		}
	}
	out := make([]record.Edge, 0, len(sums))
	for _, e := range sums {
		out = append(out, *e)
	}
	slices.SortFunc(out, compareEdges)
	return out
}

// addSat adds two non-negative durations, stopping at the largest one
// instead of wrapping (a hostile latency must not turn a sum negative).
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func compareEdges(a, b record.Edge) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if c := a.Client.Compare(b.Client); c != 0 {
		return c
	}
	if c := a.Server.Compare(b.Server); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Transport, b.Transport); c != 0 {
		return c
	}
	if c := cmp.Compare(a.App, b.App); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

// unmap turns IPv4-mapped IPv6 addresses into IPv4 ones, so that one host
// is one address whichever socket family reported it.
func unmap(ap netip.AddrPort) netip.AddrPort {
	if !ap.IsValid() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// periods finds the reporting period of a time.
type periods struct {
	windows [][2]int64 // [start, end) in Unix ns, sorted by start
	length  int64
}

func newPeriods(ws []record.Window) periods {
	p := periods{length: int64(DefaultPeriod)}
	for _, w := range ws {
		s, e := w.Start.UnixNano(), w.End.UnixNano()
		if w.Start.IsZero() || w.End.IsZero() || e <= s {
			continue
		}
		p.windows = append(p.windows, [2]int64{s, e})
	}
	if len(p.windows) > 0 {
		slices.SortFunc(p.windows, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
		p.length = p.windows[0][1] - p.windows[0][0]
	}
	return p
}

func (p *periods) of(t time.Time) (start, end int64) {
	ns := t.UnixNano()
	// The last window that starts at or before t, if t is inside it.
	i, found := slices.BinarySearchFunc(p.windows, ns, func(w [2]int64, t int64) int { return cmp.Compare(w[0], t) })
	if !found {
		i--
	}
	if i >= 0 && i < len(p.windows) && ns < p.windows[i][1] {
		return p.windows[i][0], p.windows[i][1]
	}
	start = ns - ns%p.length
	if ns < 0 && ns%p.length != 0 {
		start -= p.length
	}
	return start, start + p.length
}
