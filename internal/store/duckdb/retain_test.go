package duckdb

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// oneOfEach is a batch with one record of every table at time at.
func oneOfEach(probe string, seq uint64, at time.Time) *record.Batch {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	end := at.Add(time.Minute)
	return &record.Batch{
		Probe:        record.ProbeInfo{ID: probe},
		Seq:          seq,
		Windows:      []record.Window{{Probe: probe, Start: at, End: end}},
		Flows:        []record.Flow{{Probe: probe, Start: at, End: end, Client: netip.AddrPortFrom(a, 1), Server: netip.AddrPortFrom(b, 2)}},
		Transactions: []record.Transaction{{Probe: probe, RequestTime: at, Latency: -1}},
		Traffic:      []record.Traffic{{Probe: probe, Device: "eth0", Direction: "in", Start: at, End: end}},
		Edges:        []record.Edge{{Probe: probe, Start: at, End: end, Client: a, Server: b}},
	}
}

func TestRetainAge(t *testing.T) {
	s := openTest(t, Config{Retention: Retention{MaxAge: 7 * 24 * time.Hour}})
	ctx := context.Background()
	now := base
	mustWrite(t, s, oneOfEach("a", 1, now.Add(-8*24*time.Hour)), now)
	mustWrite(t, s, oneOfEach("a", 2, now.Add(-6*24*time.Hour)), now)
	mustWrite(t, s, oneOfEach("b", 1, now.Add(-time.Hour)), now)

	st, err := s.Retain(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	st0 := st
	for _, table := range appendTables {
		want := uint64(1)
		if table == "talkers" {
			want = 2 // the flow's client and server
		}
		if st.RemovedRows[table] != want {
			t.Errorf("removed from %s: %d, want %d", table, st.RemovedRows[table], want)
		}
	}
	if want := now.Add(-6 * 24 * time.Hour); !st.OldestKept.Equal(want) {
		t.Errorf("oldest kept %v, want %v", st.OldestKept, want)
	}
	if st.BytesOnDisk <= 0 {
		t.Errorf("bytes on disk %d", st.BytesOnDisk)
	}
	all := store.TimeRange{To: now}
	fp, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: all}})
	if err != nil || len(fp.Flows) != 2 {
		t.Fatalf("flows after retention: %d, %v", len(fp.Flows), err)
	}
	for _, f := range fp.Flows {
		if f.Start.Before(now.Add(-7 * 24 * time.Hour)) {
			t.Errorf("flow of %v kept", f.Start)
		}
	}
	// A second pass finds nothing more; the counters add up.
	if st, err := s.Retain(ctx, now); err != nil || storeutil.SumCounts(st.RemovedRows) != 0 {
		t.Errorf("second pass: %+v, %v", st, err)
	}
	stats := s.Stats()
	for _, table := range appendTables {
		if stats.RetainedRows[table] != st0.RemovedRows[table] {
			t.Errorf("stats: retained %s %d, want %d", table, stats.RetainedRows[table], st0.RemovedRows[table])
		}
	}
	// Probe status is not subject to retention: sequences must survive.
	if seq, _ := s.LastSeq(ctx, "a", ""); seq != 2 {
		t.Errorf("LastSeq(a) = %d after retention", seq)
	}
}

func TestRetainPeriodic(t *testing.T) {
	s := openTest(t, Config{Retention: Retention{MaxAge: time.Minute}, RetainEvery: time.Second})
	now := time.Now().UTC()
	mustWrite(t, s, oneOfEach("a", 1, now.Add(-time.Hour)), now)
	mustWrite(t, s, oneOfEach("a", 2, now), now)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().RetainedRows["flows"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the store did not apply its retention by itself")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.Stats(); st.RetainedRows["flows"] != 1 || st.RetainedRows["transactions"] != 1 {
		t.Errorf("retained %+v", st.RetainedRows)
	}
}

func TestRetainSize(t *testing.T) {
	const maxBytes = 4 << 20
	s := openTest(t, Config{Retention: Retention{MaxBytes: maxBytes, MaxAge: 1000 * time.Hour}})
	ctx := context.Background()
	g := newGen(5, 3000)
	var all []record.Flow
	for seq := range 25 {
		b := &record.Batch{Probe: record.ProbeInfo{ID: "a"}, Seq: uint64(seq + 1)}
		for i := range 10000 {
			b.Flows = append(b.Flows, g.flow("a", time.Duration(seq*10000+i)*10*time.Millisecond, uint32(len(all)+i)))
		}
		mustWrite(t, s, b, base)
		all = append(all, b.Flows...)
	}
	before := s.diskBytes()
	st, err := s.Retain(ctx, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	used, err := s.usedBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("disk %d -> %d bytes, data %d bytes (max %d), removed %v", before, st.BytesOnDisk, used, maxBytes, st.RemovedRows)
	if used > maxBytes {
		t.Errorf("data takes %d bytes after retention, over %d", used, maxBytes)
	}
	removed := st.RemovedRows["flows"]
	if removed == 0 || removed >= uint64(len(all)) {
		t.Fatalf("removed %d of %d flows", removed, len(all))
	}
	// What is left is the newest data: every flow that ends at or after
	// the oldest end kept.
	var kept []record.Flow
	for cursor := ""; ; {
		p, err := s.Flows(ctx, store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: base.Add(time.Hour)}},
			Limit: store.MaxLimit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, p.Flows...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if uint64(len(kept))+removed != uint64(len(all)) {
		t.Errorf("%d kept + %d removed != %d written", len(kept), removed, len(all))
	}
	oldestEnd := kept[0].End
	for _, f := range kept {
		if f.End.Before(oldestEnd) {
			oldestEnd = f.End
		}
	}
	var want []record.Flow
	for _, f := range all {
		if !f.End.Before(oldestEnd) {
			want = append(want, f)
		}
	}
	sameSet(t, "kept flows", kept, want)
	if s.Stats().RetainedRows["flows"] != removed {
		t.Errorf("stats %+v, removed %d", s.Stats().RetainedRows, removed)
	}
}
