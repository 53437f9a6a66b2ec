package storetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// Benchmark fixtures the backends share, so that their figures measure
// the same work. Their environment (bench/center-store.sh sets it):
//
//	WIREWATCH_BENCH_FLOWS   flows stored for the query benchmarks (default 200,000)
//	WIREWATCH_BENCH_SPAN    time the stored flows spread over (default 24h)
//	WIREWATCH_BENCH_PROBES  concurrent probes writing in BenchWrite (default 4)

// BenchBatch is the flows of a batch, as a probe sends them.
const BenchBatch = 10000

// BenchEnv is the positive integer in environment variable name, else
// def.
func BenchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchSize is the number of stored flows and the span they cover.
func BenchSize(b *testing.B) (int, time.Duration) {
	n := BenchEnv("WIREWATCH_BENCH_FLOWS", 200000)
	span := 24 * time.Hour
	if v := os.Getenv("WIREWATCH_BENCH_SPAN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			b.Fatalf("WIREWATCH_BENCH_SPAN %q: want a duration of an hour or more", v)
		}
		span = d
	}
	return n, span
}

// BenchWrite measures ingest through Write: batches of BenchBatch flows
// from WIREWATCH_BENCH_PROBES probes at once. One op is one batch. The
// batches are made beforehand, so that making them is not measured:
// flow(k) is the k-th of 8×BenchBatch flows (with a time k ms in), which
// each probe replays with its own sequence numbers and later times.
func BenchWrite(b *testing.B, s store.Store, flow func(k int) record.Flow) {
	probes := BenchEnv("WIREWATCH_BENCH_PROBES", 4)
	const distinct = 8
	var flows [distinct][]record.Flow
	for i := range flows {
		for j := range BenchBatch {
			flows[i] = append(flows[i], flow(i*BenchBatch+j))
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
			local := make([]record.Flow, BenchBatch)
			for seq := uint64(1); next.Add(1) <= int64(b.N); seq++ {
				src := flows[int(seq)%distinct]
				shift := time.Duration(seq) * distinct * BenchBatch * time.Millisecond
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
	b.ReportMetric(float64(b.N*BenchBatch)/el.Seconds(), "flows/s")
	b.ReportMetric(0, "ns/op") // per batch, not meaningful beside flows/s
}

// StoredFlows counts the flows s holds before end (and up to an hour
// after), to tell whether a kept data set is the one wanted.
func StoredFlows(b *testing.B, s store.Store, end time.Time) int {
	gs, err := s.FlowGroups(context.Background(), store.GroupQuery{GroupBy: []string{store.ColProbe}, OrderBy: store.OrderFlows,
		FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: end.Add(time.Hour)}}})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, g := range gs {
		n += int(g.Flows)
	}
	return n
}

// FillFlows writes n flows over span, as four probes do at once: each
// writes every fourth batch of BenchBatch flows, flow j made at offset
// j×span/n by the generator newFlow returns for that probe (0 to 3).
func FillFlows(b *testing.B, s store.Store, n int, span time.Duration, now time.Time,
	newFlow func(probe int) func(probe string, j int, off time.Duration) record.Flow) {
	step := span / time.Duration(n)
	probes := []string{"node-a", "node-b", "node-c", "node-d"}
	var wg sync.WaitGroup
	errs := make(chan error, len(probes))
	for pi, probe := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flow := newFlow(pi)
			seq := uint64(0)
			for i := pi * BenchBatch; i < n; i += len(probes) * BenchBatch {
				seq++
				batch := &record.Batch{Probe: record.ProbeInfo{ID: probe}, Seq: seq}
				for j := i; j < min(n, i+BenchBatch); j++ {
					batch.Flows = append(batch.Flows, flow(probe, j, time.Duration(j)*step))
				}
				if _, err := s.Write(context.Background(), batch, now); err != nil {
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
}

// BenchTopTalkers measures the "top 10 talkers" query (FlowGroups by
// host, by bytes, limit 10) over the last hour and the last day before
// end of the n flows over span s holds, reporting p50 and p95 latency.
func BenchTopTalkers(b *testing.B, s store.Store, n int, span time.Duration, end time.Time) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		span time.Duration
	}{{"hour", time.Hour}, {"day", 24 * time.Hour}} {
		b.Run(fmt.Sprintf("%s/flows=%d/span=%v", c.name, n, span), func(b *testing.B) {
			q := store.GroupQuery{GroupBy: []string{store.ColHost}, OrderBy: store.OrderBytes, Limit: 10,
				FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{From: end.Add(-c.span), To: end}}}
			b.ReportAllocs()
			BenchLatency(b, func() error {
				g, err := s.FlowGroups(ctx, q)
				if err == nil && len(g) != 10 {
					err = fmt.Errorf("%d groups, want 10", len(g))
				}
				return err
			})
		})
	}
}

// BenchLatency runs query b.N times and reports its p50 and p95 latency;
// an error fails the benchmark.
func BenchLatency(b *testing.B, query func() error) {
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		err := query()
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
