// Package storetest is the conformance suite of the center's storage
// contract (store.Store): every backend runs it, so that the embedded
// DuckDB store and the shared ClickHouse store give the same answers. The
// suite builds its own records and computes every expected answer in Go,
// by brute force over what it wrote.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// Run checks the whole store.Store contract on the stores open returns.
//
// open is called once per subtest with that subtest's t and must return
// a new, empty store whose retention keeps records for MaxAge and does
// not run by itself during the test; the suite closes it (Close must be
// idempotent, as open may also close it in a cleanup). Called a second
// time with the same t after the suite closed the first store, open must
// reopen that store with its data, or call t.Skip when the backend cannot
// reopen.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("WriteDedup", func(t *testing.T) { testWriteDedup(t, open) })
	t.Run("BadBatches", func(t *testing.T) { testBadBatches(t, open) })
	t.Run("Probes", func(t *testing.T) { testProbes(t, open) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open) })
	t.Run("ConcurrentWrites", func(t *testing.T) { testConcurrentWrites(t, open) })
	t.Run("Queries", func(t *testing.T) { testQueries(t, open) })
	t.Run("PagingWhileWriting", func(t *testing.T) { testPagingWhileWriting(t, open) })
	t.Run("Saturation", func(t *testing.T) { testSaturation(t, open) })
	t.Run("EdgesAcrossProbes", func(t *testing.T) { testEdgesAcrossProbes(t, open) })
	t.Run("BadQueries", func(t *testing.T) { testBadQueries(t, open) })
	t.Run("Retain", func(t *testing.T) { testRetain(t, open) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
}

// opened opens a store for t and closes it at the end.
func opened(t *testing.T, open func(t *testing.T) store.Store) store.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// write stores b and fails the test unless it was stored as new.
func write(t *testing.T, s store.Store, b *record.Batch, now time.Time) {
	t.Helper()
	dup, err := s.Write(ctx(t), b, now)
	if err != nil {
		t.Fatalf("write %s/%q/%d: %v", b.Probe.ID, b.SpoolID, b.Seq, err)
	}
	if dup {
		t.Fatalf("write %s/%q/%d: reported duplicate", b.Probe.ID, b.SpoolID, b.Seq)
	}
}

// writeDup writes b and fails the test unless it was refused as a
// duplicate.
func writeDup(t *testing.T, s store.Store, b *record.Batch, now time.Time) {
	t.Helper()
	dup, err := s.Write(ctx(t), b, now)
	if err != nil {
		t.Fatalf("write %s/%q/%d: %v", b.Probe.ID, b.SpoolID, b.Seq, err)
	}
	if !dup {
		t.Fatalf("write %s/%q/%d: stored; want duplicate", b.Probe.ID, b.SpoolID, b.Seq)
	}
}

// badQuery fails the test unless err wraps store.ErrBadQuery.
func badQuery(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrBadQuery) {
		t.Errorf("%s: error %v; want one wrapping store.ErrBadQuery", what, err)
	}
}

// allFlows walks every page of q (the limit q has) from q.Cursor and
// returns the flows in the order the pages gave them.
func allFlows(t *testing.T, s store.Store, q store.FlowQuery) []record.Flow {
	t.Helper()
	return allPages(t, "flows", q.Limit, q.Cursor, func(cursor string) ([]record.Flow, string, error) {
		q.Cursor = cursor
		p, err := s.Flows(ctx(t), q)
		if err != nil {
			return nil, "", err
		}
		return p.Flows, p.Next, nil
	})
}

func allTxs(t *testing.T, s store.Store, q store.TxQuery) []record.Transaction {
	t.Helper()
	return allPages(t, "transactions", q.Limit, q.Cursor, func(cursor string) ([]record.Transaction, string, error) {
		q.Cursor = cursor
		p, err := s.Transactions(ctx(t), q)
		if err != nil {
			return nil, "", err
		}
		return p.Transactions, p.Next, nil
	})
}

// allPages walks every page get returns, from cursor on, checking that
// none is over limit and none but the last is empty.
func allPages[T any](t *testing.T, what string, limit int, cursor string, get func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	if limit == 0 {
		limit = store.DefaultLimit
	}
	var out []T
	for page := 0; ; page++ {
		rows, next, err := get(cursor)
		if err != nil {
			t.Fatalf("%s page %d: %v", what, page, err)
		}
		if len(rows) > limit {
			t.Fatalf("%s page %d: %d rows over the limit %d", what, page, len(rows), limit)
		}
		out = append(out, rows...)
		if next == "" {
			return out
		}
		if len(rows) == 0 {
			t.Fatalf("%s page %d: empty page with a next cursor", what, page)
		}
		if page > 100000 {
			t.Fatalf("%s: the pages never end", what)
		}
		cursor = next
	}
}

// sameMultiset compares two lists of canonical forms as multisets and
// reports the first differences.
func sameMultiset(t *testing.T, what string, got, want []string) {
	t.Helper()
	n := map[string]int{}
	for _, w := range want {
		n[w]++
	}
	for _, g := range got {
		n[g]--
	}
	bad := 0
	for k, v := range n {
		if v == 0 {
			continue
		}
		if bad < 3 {
			if v > 0 {
				t.Errorf("%s: missing %d× %.300s", what, v, k)
			} else {
				t.Errorf("%s: %d× extra %.300s", what, -v, k)
			}
		}
		bad++
	}
	if bad > 0 {
		t.Errorf("%s: %d records differ (got %d, want %d)", what, bad, len(got), len(want))
	}
}

func mapSlice[T any](l []T, f func(T) string) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = f(v)
	}
	return out
}
