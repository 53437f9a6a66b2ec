package storetest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
)

// testBadQueries: parameters out of the contract are errors wrapping
// store.ErrBadQuery (the API answers 400), never a panic nor a silent
// default.
func testBadQueries(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(9, base(), span)
	fill(t, s, g)
	c := ctx(t)
	now := time.Now()
	backwards := store.TimeRange{From: now, To: now.Add(-time.Hour)}
	badPrefix := netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 33)

	for _, limit := range []int{-1, store.MaxLimit + 1} {
		_, err := s.Windows(c, store.WindowQuery{Limit: limit})
		badQuery(t, "windows limit", err)
		_, err = s.Flows(c, store.FlowQuery{Limit: limit})
		badQuery(t, "flows limit", err)
		_, err = s.FlowGroups(c, store.GroupQuery{GroupBy: []string{store.ColHost}, Limit: limit})
		badQuery(t, "groups limit", err)
		_, err = s.Transactions(c, store.TxQuery{Limit: limit})
		badQuery(t, "transactions limit", err)
		_, err = s.Edges(c, store.EdgeQuery{Limit: limit})
		badQuery(t, "edges limit", err)
		_, err = s.TxBreakdown(c, store.TxBreakdownQuery{Statuses: limit})
		badQuery(t, "breakdown statuses", err)
		_, err = s.TxBreakdown(c, store.TxBreakdownQuery{Recent: limit})
		badQuery(t, "breakdown recent", err)
	}
	// The largest limit is fine.
	if _, err := s.Flows(c, store.FlowQuery{Limit: store.MaxLimit}); err != nil {
		t.Errorf("flows at MaxLimit: %v", err)
	}

	_, err := s.Windows(c, store.WindowQuery{TimeRange: backwards})
	badQuery(t, "windows from after to", err)
	_, err = s.Flows(c, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: backwards}})
	badQuery(t, "flows from after to", err)
	_, err = s.Transactions(c, store.TxQuery{TimeRange: backwards})
	badQuery(t, "transactions from after to", err)
	_, err = s.Traffic(c, store.TrafficQuery{TimeRange: backwards})
	badQuery(t, "traffic from after to", err)
	_, err = s.Edges(c, store.EdgeQuery{TimeRange: backwards})
	badQuery(t, "edges from after to", err)
	_, err = s.TxBreakdown(c, store.TxBreakdownQuery{TimeRange: backwards})
	badQuery(t, "breakdown from after to", err)

	for _, f := range []store.FlowFilter{{Host: badPrefix}, {Client: badPrefix}, {Server: badPrefix}} {
		_, err = s.Flows(c, store.FlowQuery{FlowFilter: f})
		badQuery(t, "flows invalid prefix", err)
	}
	_, err = s.Transactions(c, store.TxQuery{Client: badPrefix})
	badQuery(t, "transactions invalid prefix", err)
	_, err = s.Transactions(c, store.TxQuery{MinLatency: -time.Second})
	badQuery(t, "negative min latency", err)
	_, err = s.TxBreakdown(c, store.TxBreakdownQuery{Clients: []netip.Addr{{}}})
	badQuery(t, "breakdown invalid address", err)
	_, err = s.TxBreakdown(c, store.TxBreakdownQuery{Servers: make([]netip.Addr, store.MaxBreakdownAddrs+1)})
	badQuery(t, "breakdown too many addresses", err)

	for _, q := range []store.GroupQuery{
		{},
		{GroupBy: []string{"nope"}},
		{GroupBy: []string{store.ColHost, store.ColHost}},
		{GroupBy: []string{store.ColHost}, OrderBy: "nope"},
	} {
		_, err = s.FlowGroups(c, q)
		badQuery(t, "groups "+q.OrderBy, err)
	}

	// Cursors: only the ones the store handed out, for the same kind of
	// query.
	fp, err := s.Flows(c, store.FlowQuery{Limit: 5})
	if err != nil || fp.Next == "" {
		t.Fatalf("flows page: %v (next %q)", err, fp.Next)
	}
	tp, err := s.Transactions(c, store.TxQuery{Limit: 5})
	if err != nil || tp.Next == "" {
		t.Fatalf("transactions page: %v (next %q)", err, tp.Next)
	}
	for _, cur := range []string{"x", "!!!!", fp.Next[:len(fp.Next)-2], fp.Next + "A", flip(fp.Next), tp.Next} {
		_, err = s.Flows(c, store.FlowQuery{Cursor: cur})
		badQuery(t, "flows cursor "+cur, err)
	}
	for _, cur := range []string{"x", tp.Next[:len(tp.Next)-1], flip(tp.Next), fp.Next} {
		_, err = s.Transactions(c, store.TxQuery{Cursor: cur})
		badQuery(t, "transactions cursor "+cur, err)
	}
}

// flip changes one character of a cursor in the middle.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
