package duckdb

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// FuzzQueries sends hostile query strings (cursor, filters, field keys and
// values) through the real store: the answer is rows or ErrBadQuery,
// never a panic or another error, and the store keeps working.
func FuzzQueries(f *testing.F) {
	s := openTest(f, Config{})
	g := newGen(6, 50)
	b := &record.Batch{Probe: record.ProbeInfo{ID: "p1"}, Seq: 1}
	for i := range 200 {
		b.Flows = append(b.Flows, g.flow("p1", time.Duration(i)*time.Second, uint32(i)))
		b.Transactions = append(b.Transactions, g.tx("p1", time.Duration(i)*time.Second, i))
	}
	mustWrite(f, s, b, ns(0))
	ctx := context.Background()
	p, err := s.Flows(ctx, store.FlowQuery{Limit: 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(p.Next, "/api", "host", "a", "http", "GET", "p1", "tcp", "10.0.0.0/8", 10)
	f.Add("x", "\xff", "\x00", "'; DROP TABLE flows; --", "\uf700", "", "", "", "::/0", 0)
	f.Add("", "é", "k", "v", "dns", "A", "p2", "udp", "2001:db8::/33", store.MaxLimit+1)
	f.Fuzz(func(t *testing.T, cur, target, key, value, proto, op, probe, transport, prefix string, limit int) {
		pfx, _ := netip.ParsePrefix(prefix)
		check := func(what string, err error) {
			if err != nil && !errors.Is(err, store.ErrBadQuery) {
				t.Fatalf("%s: %v", what, err)
			}
		}
		_, err := s.Transactions(ctx, store.TxQuery{Cursor: cur, Target: target, Fields: map[string]string{key: value},
			Proto: proto, Op: op, Status: value, Outcome: key, Flag: value, Probes: []string{probe}, Client: pfx, Limit: limit})
		check("transactions", err)
		_, err = s.Flows(ctx, store.FlowQuery{Cursor: cur, FlowFilter: store.FlowFilter{App: proto, Transport: transport,
			Device: op, Probes: []string{probe}, Host: pfx}, Limit: limit})
		check("flows", err)
		_, err = s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{key, store.ColHost}, OrderBy: op,
			FlowFilter: store.FlowFilter{Server: pfx, App: target}, Limit: limit})
		check("groups", err)
		_, err = s.Edges(ctx, store.EdgeQuery{Apps: []string{proto, target}, Probes: []string{probe}, Limit: limit})
		check("edges", err)
	})
}
