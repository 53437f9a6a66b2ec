package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
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

// Environment of the benchmarks (bench/center-store.sh sets them):
//
//	WIREWATCH_BENCH_FLOWS   flows stored for BenchmarkTopTalkers (default 200,000)
//	WIREWATCH_BENCH_SPAN    time the stored flows spread over (default 24h)
//	WIREWATCH_BENCH_PROBES  concurrent probes writing in BenchmarkWrite (default 4)
//	WIREWATCH_BENCH_CLICKHOUSE_URL  a server to use (and keep the data on)
//	                        instead of a throwaway one started by the test
func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

const benchBatch = 10000 // flows a batch, as a probe sends them

func openBench(b *testing.B, db string) *Store {
	b.Helper()
	cfg := DefaultConfig()
	cfg.URL = os.Getenv("WIREWATCH_BENCH_CLICKHOUSE_URL")
	if cfg.URL == "" {
		cfg.URL = testServer(b).URL
	}
	cfg.Database = db
	cfg.Retention = Retention{MaxAge: 1 << 62, MaxBytes: 1 << 62}
	cfg.RetainEvery = time.Hour
	s, err := Open(cfg, testLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchGen makes flows between 5,000 hosts (one in five IPv6) with a
// Zipf popularity, to a few hundred servers.
type benchGen struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	hosts []netip.Addr
}

func newBenchGen(seed uint64) *benchGen {
	r := rand.New(rand.NewPCG(seed, 7))
	g := &benchGen{r: r, zipf: rand.NewZipf(r, 1.1, 4, 4999)}
	for i := range 5000 {
		if i%5 == 4 {
			g.hosts = append(g.hosts, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
		} else {
			g.hosts = append(g.hosts, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		}
	}
	return g
}

var benchBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func (g *benchGen) flow(probe string, at time.Time) record.Flow {
	r := g.r
	return record.Flow{
		Probe: probe, Start: at, End: at.Add(time.Duration(r.IntN(60_000)) * time.Millisecond),
		Transport: "tcp",
		Client:    netip.AddrPortFrom(g.hosts[g.zipf.Uint64()], uint16(32768+r.IntN(28000))),
		Server:    netip.AddrPortFrom(g.hosts[r.IntN(250)], []uint16{80, 443, 53, 6379, 5432}[r.IntN(5)]),
		App:       []string{"", "http", "tls", "dns", "redis"}[r.IntN(5)],
		Device:    "eth0",
		Packets:   [2]uint64{uint64(1 + r.IntN(100)), uint64(r.IntN(200))},
		Bytes:     [2]uint64{uint64(60 + r.IntN(100000)), uint64(r.IntN(1000000))},
		RTT:       time.Duration(r.IntN(1e8)),
		State:     "established",
	}
}

// BenchmarkWrite measures ingest through Write: batches of 10,000 flows
// from several probes at once. One op is one batch.
func BenchmarkWrite(b *testing.B) {
	s := openBench(b, fmt.Sprintf("bench_write_%d", time.Now().UnixNano()))
	probes := benchEnv("WIREWATCH_BENCH_PROBES", 4)
	g := newBenchGen(1)
	const distinct = 8
	var flows [distinct][]record.Flow
	for i := range flows {
		for j := range benchBatch {
			flows[i] = append(flows[i], g.flow("", benchBase.Add(time.Duration(i*benchBatch+j)*time.Millisecond)))
		}
	}
	var next atomic.Int64
	ctx := context.Background()
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
	b.ReportMetric(0, "ns/op")
}

// BenchmarkTopTalkers measures the "top 10 talkers" query (FlowGroups by
// host, by bytes, limit 10) over the last hour and the last day of the
// stored flows, reporting p50 and p95 latency.
func BenchmarkTopTalkers(b *testing.B) {
	n, span := benchSize(b)
	s, end := talkersStore(b, n, span)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		span time.Duration
	}{{"hour", time.Hour}, {"day", 24 * time.Hour}} {
		b.Run(fmt.Sprintf("%s/flows=%d/span=%v", c.name, n, span), func(b *testing.B) {
			q := store.GroupQuery{GroupBy: []string{store.ColHost}, OrderBy: store.OrderBytes, Limit: 10,
				FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{From: end.Add(-c.span), To: end}}}
			lat := make([]time.Duration, 0, b.N)
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

func benchSize(b *testing.B) (int, time.Duration) {
	n := benchEnv("WIREWATCH_BENCH_FLOWS", 200000)
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

// talkersStore opens the database of n flows over span, filling it when
// it is new.
func talkersStore(b *testing.B, n int, span time.Duration) (*Store, time.Time) {
	s := openBench(b, fmt.Sprintf("bench_talkers_%d_%d", n, int(span.Hours())))
	end := benchBase.Add(span)
	if have := countAll(b, s, end); have != n {
		if have != 0 {
			b.Fatalf("database %s holds %d flows, not %d: drop it", s.cfg.Database, have, n)
		}
		fillTalkers(b, s, n, span)
	}
	return s, end
}

// BenchmarkFlowPage measures a page of 100 flows, newest first, with no
// filter: the first page, and one from the middle of the stored span.
func BenchmarkFlowPage(b *testing.B) {
	n, span := benchSize(b)
	s, end := talkersStore(b, n, span)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		to   time.Time
	}{{"first", end.Add(time.Hour)}, {"middle", end.Add(-span / 2)}} {
		b.Run(fmt.Sprintf("%s/flows=%d", c.name, n), func(b *testing.B) {
			q := store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: c.to}}}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				p, err := s.Flows(ctx, q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(p.Flows) != store.DefaultLimit {
					b.Fatalf("%d flows, %v", len(p.Flows), err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

func countAll(b *testing.B, s *Store, end time.Time) int {
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

// fillTalkers writes n flows over span in 10,000-flow batches from four
// probes at once.
func fillTalkers(b *testing.B, s *Store, n int, span time.Duration) {
	start := time.Now()
	step := span / time.Duration(n)
	probes := []string{"node-a", "node-b", "node-c", "node-d"}
	var wg sync.WaitGroup
	errs := make(chan error, len(probes))
	for pi, probe := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newBenchGen(uint64(2 + pi))
			seq := uint64(0)
			for i := pi * benchBatch; i < n; i += len(probes) * benchBatch {
				seq++
				batch := &record.Batch{Probe: record.ProbeInfo{ID: probe}, Seq: seq}
				for j := i; j < min(n, i+benchBatch); j++ {
					batch.Flows = append(batch.Flows, g.flow(probe, benchBase.Add(time.Duration(j)*step)))
				}
				if _, err := s.Write(context.Background(), batch, benchBase); err != nil {
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
	s.refreshDisk(context.Background())
	b.Logf("stored %d flows in %v (%.0f flows/s), %d bytes on disk", n, time.Since(start),
		float64(n)/time.Since(start).Seconds(), s.Stats().BytesOnDisk)
}
