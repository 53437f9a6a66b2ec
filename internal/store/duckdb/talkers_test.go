package duckdb

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

func TestBuckets(t *testing.T) {
	L := talkerBucket
	for _, c := range []struct{ ns, floor, ceil int64 }{
		{0, 0, 0}, {1, 0, L}, {L, L, L}, {L + 1, L, 2 * L}, {-1, -L, 0}, {-L, -L, -L}, {-L - 1, -2 * L, -L},
	} {
		if f, cl := floorBucket(c.ns), ceilBucket(c.ns); f != c.floor || cl != c.ceil {
			t.Errorf("bucket(%d) = [%d, %d], want [%d, %d]", c.ns, f, cl, c.floor, c.ceil)
		}
	}
	if ceilBucket(1<<63-1) != 1<<63-1 {
		t.Error("ceilBucket overflows")
	}
	for _, ns := range []int64{-1 << 63, -1<<63 + 1, minRolled - 1} {
		if floorBucket(ns) != -1<<63 || ceilBucket(ns) != minRolled {
			t.Errorf("bucket(%d) = [%d, %d]: before the first bucket", ns, floorBucket(ns), ceilBucket(ns))
		}
	}
	if floorBucket(minRolled) != minRolled || minRolled%L != 0 {
		t.Errorf("first bucket %d", minRolled)
	}
}

// The top talkers rollup must answer exactly what the flows table
// answers: across many batches per bucket, after merges, with malformed
// and timeless flows, after retention cut into a bucket, and after a
// restart.
func TestTalkersRollup(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Dir: dir})
	ctx := context.Background()
	g := newGen(21, 300)
	r := rand.New(rand.NewPCG(21, 22))
	var flows []record.Flow
	seq := map[string]uint64{}
	write := func(from, to time.Duration, n int) {
		for _, p := range g.probes {
			seq[p]++
			b := &record.Batch{Probe: record.ProbeInfo{ID: p}, Seq: seq[p]}
			for range n {
				f := g.flow(p, from+time.Duration(r.Int64N(int64(to-from))), uint32(len(flows)+len(b.Flows)))
				switch r.IntN(60) {
				case 0: // malformed: ends before it starts
					f.End = f.Start.Add(-time.Duration(r.Int64N(int64(time.Hour))))
				case 1:
					f.Start = time.Time{}
				case 2:
					f.End = time.Time{}
				case 3: // 1677: before the first bucket
					f.Start = time.Unix(0, math.MinInt64+1+r.Int64N(int64(time.Hour))).UTC()
				}
				b.Flows = append(b.Flows, f)
			}
			mustWrite(t, s, b, ns(to))
			flows = append(flows, b.Flows...)
		}
	}
	check := func(stage string) {
		t.Helper()
		for i := range 30 {
			q := store.GroupQuery{GroupBy: []string{store.ColHost}, Limit: 1 + r.IntN(40),
				OrderBy: pick(r, []string{store.OrderBytes, store.OrderPackets, store.OrderFlows})}
			if i%2 == 1 {
				q.GroupBy = []string{store.ColProbe, store.ColHost}
			}
			if i%3 == 2 {
				q.Probes = randSubset(r, g.probes)
			}
			switch i % 5 {
			case 0: // all of it
			case 1:
				q.To = ns(3 * time.Hour)
			default:
				q.From = ns(time.Duration(r.Int64N(int64(3 * time.Hour))))
				q.To = q.From.Add(time.Duration(r.Int64N(int64(3 * time.Hour))))
			}
			checkGroups(t, s, flows, q, fmt.Sprintf("%s query %d", stage, i))
		}
	}
	// Several batches into the same buckets.
	for k := range 4 {
		write(time.Duration(k)*30*time.Minute, time.Duration(k+1)*30*time.Minute+20*time.Minute, 300)
	}
	check("written")
	var rows int
	s.db.QueryRow(`SELECT count(*) FROM talkers`).Scan(&rows)
	if _, err := s.Retain(ctx, ns(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Retention deletes the flows without an end time (as older than any
	// cutoff) at its first pass.
	flows = slices.DeleteFunc(flows, func(f record.Flow) bool { return f.End.IsZero() })
	var merged int
	s.db.QueryRow(`SELECT count(*) FROM talkers`).Scan(&merged)
	if merged >= rows {
		t.Errorf("merge left %d rollup rows of %d", merged, rows)
	}
	check("merged")

	// Retention cuts into the middle of a bucket: the rollup must not
	// answer for it any more.
	s.cfg.Retention.MaxAge = time.Hour + 7*time.Minute
	now := ns(2*time.Hour + 30*time.Minute)
	if _, err := s.Retain(ctx, now); err != nil {
		t.Fatal(err)
	}
	cut := now.Add(-s.cfg.Retention.MaxAge)
	flows = slices.DeleteFunc(flows, func(f record.Flow) bool { return f.End.Before(cut) })
	if got := s.talkersFrom.Load(); got != ceilBucket(cut.UnixNano()) {
		t.Errorf("watermark %v, want %v", storeutil.NSTime(got), storeutil.NSTime(ceilBucket(cut.UnixNano())))
	}
	check("retained")
	write(2*time.Hour, 3*time.Hour, 200)
	check("written after retention")

	s.Close()
	s = openTest(t, Config{Dir: dir})
	check("reopened")
}

// A database of schema version 1 (before the rollup) gets its rollup
// built from the flows it holds by migration 2, and answers as before.
func TestMigrateV2(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Dir: dir})
	g := newGen(31, 200)
	r := rand.New(rand.NewPCG(31, 32))
	var flows []record.Flow
	for seq := range 3 {
		b := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: uint64(seq + 1)}
		for i := range 500 {
			f := g.flow("p", time.Duration(r.Int64N(int64(3*time.Hour))), uint32(seq*500+i))
			if i%50 == 0 {
				f.End = f.Start.Add(-time.Minute)
			}
			b.Flows = append(b.Flows, f)
		}
		mustWrite(t, s, b, ns(0))
		flows = append(flows, b.Flows...)
	}
	for _, q := range []string{`DROP TABLE talkers`, `DROP TABLE meta`, `DROP TABLE spools`, `ALTER TABLE probes DROP COLUMN spool_id`, `DELETE FROM schema_version WHERE version >= 2`} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openTest(t, Config{Dir: dir})
	var rows, markers int
	if err := s.db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE h_fam = 255) FROM talkers`).Scan(&rows, &markers); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || markers == 0 {
		t.Fatalf("migration built %d rollup rows, %d markers", rows, markers)
	}
	for i := range 20 {
		q := store.GroupQuery{GroupBy: []string{store.ColHost}, Limit: 1 + r.IntN(30)}
		if i%2 == 1 {
			q.GroupBy = append(q.GroupBy, store.ColProbe)
		}
		if i > 0 {
			q.From = ns(time.Duration(r.Int64N(int64(3 * time.Hour))))
			q.To = q.From.Add(time.Duration(r.Int64N(int64(2 * time.Hour))))
		}
		checkGroups(t, s, flows, q, fmt.Sprintf("migrated query %d", i))
	}
}
