package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storetest"
)

// Environment of the benchmarks (bench/center-store.sh sets them), beside
// storetest's (WIREWATCH_BENCH_FLOWS, _SPAN, _PROBES):
//
//	WIREWATCH_BENCH_CLICKHOUSE_URL  a server to use (and keep the data on)
//	                        instead of a throwaway one started by the test

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
	g := newBenchGen(1)
	storetest.BenchWrite(b, s, func(k int) record.Flow {
		return g.flow("", benchBase.Add(time.Duration(k)*time.Millisecond))
	})
}

// BenchmarkTopTalkers measures the "top 10 talkers" query (FlowGroups by
// host, by bytes, limit 10) over the last hour and the last day of the
// stored flows, reporting p50 and p95 latency.
func BenchmarkTopTalkers(b *testing.B) {
	n, span := storetest.BenchSize(b)
	s, end := talkersStore(b, n, span)
	storetest.BenchTopTalkers(b, s, n, span, end)
}

// talkersStore opens the database of n flows over span, filling it when
// it is new.
func talkersStore(b *testing.B, n int, span time.Duration) (*Store, time.Time) {
	s := openBench(b, fmt.Sprintf("bench_talkers_%d_%d", n, int(span.Hours())))
	end := benchBase.Add(span)
	if have := storetest.StoredFlows(b, s, end); have != n {
		if have != 0 {
			b.Fatalf("database %s holds %d flows, not %d: drop it", s.cfg.Database, have, n)
		}
		start := time.Now()
		storetest.FillFlows(b, s, n, span, benchBase, func(probe int) func(string, int, time.Duration) record.Flow {
			g := newBenchGen(uint64(2 + probe))
			return func(probe string, _ int, off time.Duration) record.Flow { return g.flow(probe, benchBase.Add(off)) }
		})
		s.refreshDisk(context.Background())
		b.Logf("stored %d flows in %v (%.0f flows/s), %d bytes on disk", n, time.Since(start),
			float64(n)/time.Since(start).Seconds(), s.Stats().BytesOnDisk)
	}
	return s, end
}

// BenchmarkFlowPage measures a page of 100 flows, newest first, with no
// filter: the first page, and one from the middle of the stored span.
func BenchmarkFlowPage(b *testing.B) {
	n, span := storetest.BenchSize(b)
	s, end := talkersStore(b, n, span)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		to   time.Time
	}{{"first", end.Add(time.Hour)}, {"middle", end.Add(-span / 2)}} {
		b.Run(fmt.Sprintf("%s/flows=%d", c.name, n), func(b *testing.B) {
			q := store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{To: c.to}}}
			storetest.BenchLatency(b, func() error {
				p, err := s.Flows(ctx, q)
				if err == nil && len(p.Flows) != store.DefaultLimit {
					err = fmt.Errorf("%d flows, want %d", len(p.Flows), store.DefaultLimit)
				}
				return err
			})
		})
	}
}
