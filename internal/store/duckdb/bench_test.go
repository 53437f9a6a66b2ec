package duckdb

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store/storetest"
)

// Environment of the benchmarks (bench/center-store.sh sets them), beside
// storetest's (WIREWATCH_BENCH_FLOWS, _SPAN, _PROBES):
//
//	WIREWATCH_BENCH_DIR    keep the query benchmarks' database here and reuse
//	                       it across runs (default: a fresh temporary directory)
//	WIREWATCH_BENCH_RETAIN_MB  MaxBytes of BenchmarkRetention (default 64)

// BenchmarkWrite measures ingest through Write: batches of 10,000 realistic
// flows from several probes at once. One op is one batch.
func BenchmarkWrite(b *testing.B) {
	s := openTest(b, Config{Threads: runtime.GOMAXPROCS(0)})
	g := newGen(1, 5000)
	storetest.BenchWrite(b, s, func(k int) record.Flow {
		return g.flow("", time.Duration(k)*time.Millisecond, uint32(k%storetest.BenchBatch))
	})
}

// topTalkersStore fills (or reuses) a store with n flows over span, from
// 5,000 hosts with Zipf popularity, written in 10,000-flow batches by four
// probes at once.
func topTalkersStore(b *testing.B, n int, span time.Duration) (*Store, time.Time) {
	dir := os.Getenv("WIREWATCH_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	s := openTest(b, Config{Dir: dir, Threads: runtime.GOMAXPROCS(0),
		Retention: Retention{MaxAge: 1 << 62, MaxBytes: 1 << 62}, RetainEvery: time.Hour})
	end := base.Add(span)
	have := storetest.StoredFlows(b, s, end)
	if have == n {
		return s, end
	}
	if have != 0 {
		b.Fatalf("%s holds %d flows, not %d: remove it", dir, have, n)
	}
	start := time.Now()
	storetest.FillFlows(b, s, n, span, base, func(probe int) func(string, int, time.Duration) record.Flow {
		g := newGen(uint64(2+probe), 5000)
		return func(probe string, j int, off time.Duration) record.Flow { return g.flow(probe, off, uint32(j)) }
	})
	if _, err := s.writers[0].conn.ExecContext(context.Background(), "CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d flows in %v (%.0f flows/s), %d bytes on disk", n, time.Since(start),
		float64(n)/time.Since(start).Seconds(), s.diskBytes())
	return s, end
}

// BenchmarkTopTalkers measures the "top 10 talkers" query (FlowGroups by
// host, by bytes, limit 10) over the last hour and the last day of the
// stored flows, reporting p50 and p95 latency.
func BenchmarkTopTalkers(b *testing.B) {
	n, span := storetest.BenchSize(b)
	s, end := topTalkersStore(b, n, span)
	storetest.BenchTopTalkers(b, s, n, span, end)
}

// BenchmarkRetention writes flows without end into a store capped at
// WIREWATCH_BENCH_RETAIN_MB, applying the retention every 100,000 flows,
// and reports the data size and the peak disk use (file + WAL) against
// the cap. One op is one batch of 10,000 flows.
func BenchmarkRetention(b *testing.B) {
	maxBytes := int64(storetest.BenchEnv("WIREWATCH_BENCH_RETAIN_MB", 64)) << 20
	s := openTest(b, Config{Threads: runtime.GOMAXPROCS(0),
		Retention: Retention{MaxBytes: maxBytes, MaxAge: 1 << 62}, RetainEvery: time.Hour})
	ctx := context.Background()
	g := newGen(3, 5000)
	var peak, peakData int64
	var removed uint64
	off := time.Duration(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		batch := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: uint64(i + 1)}
		for j := range storetest.BenchBatch {
			batch.Flows = append(batch.Flows, g.flow("p", off, uint32(j)))
			off += time.Millisecond
		}
		if _, err := s.Write(ctx, batch, base); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, s.diskBytes())
		if i%10 == 9 {
			st, err := s.Retain(ctx, base)
			if err != nil {
				b.Fatal(err)
			}
			removed += st.RemovedRows["flows"]
			used, _ := s.usedBytes(ctx)
			peakData = max(peakData, used)
		}
	}
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	b.ReportMetric(mib(maxBytes), "max-MiB")
	b.ReportMetric(mib(peakData), "data-after-pass-MiB")
	b.ReportMetric(mib(peak), "peak-disk-MiB")
	b.ReportMetric(float64(removed), "removed-flows")
}
