package duckdb

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// Environment of the benchmarks (bench/center-store.sh sets them):
//
//	WIREWATCH_BENCH_FLOWS  flows stored for BenchmarkTopTalkers (default 200,000;
//	                       the target is measured at 10,000,000)
//	WIREWATCH_BENCH_DIR    keep that database here and reuse it across runs
//	                       (default: a fresh temporary directory)
//	WIREWATCH_BENCH_SPAN   time the stored flows spread over (default 24h)
//	WIREWATCH_BENCH_PROBES concurrent probes writing in BenchmarkWrite (default 4)
//	WIREWATCH_BENCH_RETAIN_MB  MaxBytes of BenchmarkRetention (default 64)
func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

const benchBatch = 10000 // flows a batch, as a probe sends them

// BenchmarkWrite measures ingest through Write: batches of 10,000 realistic
// flows from several probes at once. One op is one batch.
func BenchmarkWrite(b *testing.B) {
	s := openTest(b, Config{Threads: runtime.GOMAXPROCS(0)})
	probes := benchEnv("WIREWATCH_BENCH_PROBES", 4)
	// Pre-generated batches, so that generation is not measured; each
	// probe replays them with its own sequence numbers and times.
	g := newGen(1, 5000)
	const distinct = 8
	var flows [distinct][]record.Flow
	for i := range flows {
		for j := range benchBatch {
			flows[i] = append(flows[i], g.flow("", time.Duration(i*benchBatch+j)*time.Millisecond, uint32(j)))
		}
	}
	var next atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("probe-%d", p)
			local := make([]record.Flow, benchBatch)
			for seq := uint64(1); next.Add(1) <= int64(b.N); seq++ {
				src := flows[int(seq)%distinct]
				shift := time.Duration(seq) * distinct * benchBatch * time.Millisecond
				for i := range local {
					local[i] = src[i]
					local[i].Probe = name
					local[i].Start = src[i].Start.Add(shift)
					local[i].End = src[i].End.Add(shift)
				}
				batch := &record.Batch{Probe: record.ProbeInfo{ID: name}, Seq: seq, Flows: local}
				if _, err := s.Write(ctx, batch, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/el.Seconds(), "flows/s")
	b.ReportMetric(0, "ns/op") // per batch, not meaningful beside flows/s
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
	ctx := context.Background()
	p, err := s.FlowGroups(ctx, store.GroupQuery{GroupBy: []string{store.ColProbe}, OrderBy: store.OrderFlows,
		FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: end.Add(time.Hour)}}})
	if err != nil {
		b.Fatal(err)
	}
	have := 0
	for _, g := range p {
		have += int(g.Flows)
	}
	if have == n {
		return s, end
	}
	if have != 0 {
		b.Fatalf("%s holds %d flows, not %d: remove it", dir, have, n)
	}
	start := time.Now()
	step := span / time.Duration(n)
	probes := []string{"node-a", "node-b", "node-c", "node-d"}
	// Each probe writes every len(probes)-th batch of the day, all at once,
	// as probes do.
	var wg sync.WaitGroup
	errs := make(chan error, len(probes))
	for pi, probe := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(uint64(2+pi), 5000)
			seq := uint64(0)
			for i := pi * benchBatch; i < n; i += len(probes) * benchBatch {
				seq++
				batch := &record.Batch{Probe: record.ProbeInfo{ID: probe}, Seq: seq}
				for j := i; j < min(n, i+benchBatch); j++ {
					batch.Flows = append(batch.Flows, g.flow(probe, time.Duration(j)*step, uint32(j)))
				}
				if _, err := s.Write(ctx, batch, base); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if _, err := s.writers[0].conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
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
	n := benchEnv("WIREWATCH_BENCH_FLOWS", 200000)
	span := 24 * time.Hour
	if v := os.Getenv("WIREWATCH_BENCH_SPAN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			b.Fatalf("WIREWATCH_BENCH_SPAN %q: want a duration of an hour or more", v)
		}
		span = d
	}
	s, end := topTalkersStore(b, n, span)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		span time.Duration
	}{{"hour", time.Hour}, {"day", 24 * time.Hour}} {
		b.Run(fmt.Sprintf("%s/flows=%d/span=%v", c.name, n, span), func(b *testing.B) {
			q := store.GroupQuery{GroupBy: []string{store.ColHost}, OrderBy: store.OrderBytes, Limit: 10,
				FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{From: end.Add(-c.span), To: end}}}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				g, err := s.FlowGroups(ctx, q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(g) != 10 {
					b.Fatalf("%d groups, %v", len(g), err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// BenchmarkRetention writes flows without end into a store capped at
// WIREWATCH_BENCH_RETAIN_MB, applying the retention every 100,000 flows,
// and reports the data size and the peak disk use (file + WAL) against
// the cap. One op is one batch of 10,000 flows.
func BenchmarkRetention(b *testing.B) {
	maxBytes := int64(benchEnv("WIREWATCH_BENCH_RETAIN_MB", 64)) << 20
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
		for j := range benchBatch {
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
