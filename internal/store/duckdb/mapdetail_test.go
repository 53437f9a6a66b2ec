package duckdb

import (
	"cmp"
	"context"
	"errors"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// discQuantile is the reference: the nearest-rank quantile, the
// ⌈q·n⌉-th smallest value.
func discQuantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[max(0, int(math.Ceil(q*float64(len(sorted))))-1)]
}

// TestTxBreakdown checks the aggregates against the same computation done
// over the written records in Go.
func TestTxBreakdown(t *testing.T) {
	s := openTest(t, Config{})
	g := newGen(7, 200)
	var txs []record.Transaction
	for i := range 3000 {
		txs = append(txs, g.tx("p1", time.Duration(i)*time.Millisecond, i))
	}
	mustWrite(t, s, &record.Batch{Probe: record.ProbeInfo{ID: "p1"}, Seq: 1, Transactions: slices.Clone(txs)}, base)

	servers := g.servers[:2]
	clients := []netip.Addr{}
	for _, tx := range txs[:40] {
		clients = append(clients, tx.Client.Addr())
	}
	tr := store.TimeRange{From: base.Add(-time.Hour), To: base.Add(time.Hour)}
	for _, tc := range []struct {
		name             string
		clients, servers []netip.Addr
		port             uint16
	}{
		{"servers", nil, servers, 0},
		{"clients", clients, nil, 0},
		{"both+port", clients, servers, g.ports[0]},
		{"all", nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.TxBreakdown(context.Background(), store.TxBreakdownQuery{TimeRange: tr, Clients: tc.clients, Servers: tc.servers,
				Port: tc.port, Statuses: 5, Recent: 7})
			if err != nil {
				t.Fatal(err)
			}
			var match []record.Transaction
			for _, tx := range txs {
				if (len(tc.clients) == 0 || slices.Contains(tc.clients, tx.Client.Addr())) &&
					(len(tc.servers) == 0 || slices.Contains(tc.servers, tx.Server.Addr())) &&
					(tc.port == 0 || tx.Server.Port() == tc.port) {
					match = append(match, tx)
				}
			}
			if len(match) == 0 {
				t.Fatal("the case selects nothing; pick other addresses")
			}
			// Per protocol.
			type acc struct {
				n, errs uint64
				lats    []time.Duration
			}
			byProto := map[string]*acc{}
			for _, tx := range match {
				a := byProto[tx.Proto]
				if a == nil {
					a = &acc{}
					byProto[tx.Proto] = a
				}
				a.n++
				if tx.Outcome != "ok" && tx.Outcome != "one_way" {
					a.errs++
				}
				if tx.Latency >= 0 && !tx.RequestTime.IsZero() && !tx.ResponseTime.IsZero() {
					a.lats = append(a.lats, tx.Latency)
				}
			}
			if len(got.Protocols) != len(byProto) {
				t.Fatalf("%d protocols, want %d", len(got.Protocols), len(byProto))
			}
			for i, p := range got.Protocols {
				a := byProto[p.Proto]
				if a == nil {
					t.Fatalf("protocol %q not in the data", p.Proto)
				}
				if i > 0 && got.Protocols[i-1].Count < p.Count {
					t.Errorf("protocols not by count: %+v", got.Protocols)
				}
				slices.Sort(a.lats)
				var sum time.Duration
				for _, l := range a.lats {
					sum += l
				}
				want := store.TxProtoStats{Proto: p.Proto, Count: a.n, Errors: a.errs, LatencyCount: uint64(len(a.lats)),
					LatencyP50: discQuantile(a.lats, 0.5), LatencyP90: discQuantile(a.lats, 0.9), LatencyP99: discQuantile(a.lats, 0.99)}
				if len(a.lats) > 0 {
					want.LatencyMax = a.lats[len(a.lats)-1]
					want.LatencyMean = time.Duration(math.Round(float64(sum) / float64(len(a.lats))))
				}
				if d := p.LatencyMean - want.LatencyMean; d > time.Microsecond || d < -time.Microsecond {
					t.Errorf("%s mean %v, want %v", p.Proto, p.LatencyMean, want.LatencyMean)
				}
				p.LatencyMean = want.LatencyMean
				if p != want {
					t.Errorf("protocol %s:\n got %+v\nwant %+v", p.Proto, p, want)
				}
			}
			// Per status: the 5 largest groups.
			counts := map[[3]string]uint64{}
			for _, tx := range match {
				counts[[3]string{tx.Proto, tx.Status, tx.Outcome}]++
			}
			var want []store.TxStatusCount
			for k, n := range counts {
				want = append(want, store.TxStatusCount{Proto: k[0], Status: k[1], Outcome: k[2], Count: n})
			}
			slices.SortFunc(want, func(a, b store.TxStatusCount) int {
				return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Outcome, b.Outcome))
			})
			want = want[:min(5, len(want))]
			if !slices.Equal(got.Statuses, want) {
				t.Errorf("statuses\n got %+v\nwant %+v", got.Statuses, want)
			}
			// Recent: newest first by request time, else response time.
			at := func(tx record.Transaction) time.Time {
				if !tx.RequestTime.IsZero() {
					return tx.RequestTime
				}
				return tx.ResponseTime
			}
			newest := slices.Clone(match)
			slices.SortStableFunc(newest, func(a, b record.Transaction) int { return at(b).Compare(at(a)) })
			if len(got.Recent) != min(7, len(match)) {
				t.Fatalf("%d recent, want %d", len(got.Recent), min(7, len(match)))
			}
			for i, tx := range got.Recent {
				if !at(tx).Equal(at(newest[i])) || tx.Target != newest[i].Target {
					t.Errorf("recent[%d] = %v %q, want %v %q", i, at(tx), tx.Target, at(newest[i]), newest[i].Target)
				}
			}
		})
	}
}

func TestTxBreakdownBadQuery(t *testing.T) {
	s := openTest(t, Config{})
	many := make([]netip.Addr, store.MaxBreakdownAddrs+1)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	for _, q := range []store.TxBreakdownQuery{
		{Clients: many},
		{Servers: []netip.Addr{{}}},
		{Recent: -1},
		{Recent: store.MaxLimit + 1},
		{Statuses: store.MaxLimit + 1},
	} {
		if _, err := s.TxBreakdown(context.Background(), q); !errors.Is(err, store.ErrBadQuery) {
			t.Errorf("%+v: %v, want ErrBadQuery", q.Recent, err)
		}
	}
}

func TestExtent(t *testing.T) {
	s := openTest(t, Config{})
	got, err := s.Extent(context.Background())
	if err != nil || !got.From.IsZero() || !got.To.IsZero() {
		t.Fatalf("empty store: %v %v", got, err)
	}
	for i, off := range []time.Duration{time.Hour, 0, 30 * time.Minute} {
		mustWrite(t, s, &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: uint64(i + 1),
			Windows: []record.Window{{Probe: "p", Start: ns(off), End: ns(off + time.Minute)}}}, base)
	}
	got, err = s.Extent(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.From.Equal(ns(0)) || !got.To.Equal(ns(time.Hour+time.Minute)) {
		t.Errorf("extent %v – %v, want %v – %v", got.From, got.To, ns(0), ns(time.Hour+time.Minute))
	}
}
