package reassembly

import (
	"runtime"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/flow"
)

// endRec is the Consumer of one stream of the flood: a slot of a slice
// allocated before the measurement, so that consumers cost nothing.
type endRec struct {
	data, gap int64
	reason    EndReason
	ends      uint8
}

func (e *endRec) Data(_ flow.Dir, b []byte, _ int64) { e.data += int64(len(b)) }
func (e *endRec) Gap(_ flow.Dir, n int64, _ int64)   { e.gap += n }
func (e *endRec) End(why EndReason, _ int64)         { e.reason, e.ends = why, e.ends+1 }

// heapInuse returns HeapInuse after a full collection.
func heapInuse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// flood opens n streams that never close, each left with a hole of 1000
// bytes and 100 bytes buffered after it, and checks the heap against
// cfg.MemoryBound every check streams. It returns the highest heap
// measured above the baseline, and the time per Segment call.
func flood(tb testing.TB, cfg Config, n, check int) (peak int64, perSegment time.Duration) {
	ends := make([]endRec, n)
	payload := make([]byte, 100)
	base := heapInuse()
	bound := cfg.MemoryBound()
	a := New(cfg)
	measure := func(when string) {
		h := heapInuse() - base
		peak = max(peak, h)
		if h > bound {
			tb.Errorf("%s: heap %d MiB above the baseline, bound %d MiB", when, h>>20, bound>>20)
		}
	}
	var elapsed time.Duration
	start := time.Now()
	for i := range n {
		k := testKey(i)
		ts := int64(i) * 1000 // 1 µs apart: nothing idles out
		isn := uint32(i) * 7919
		a.Open(k, &ends[i], ts)
		a.Segment(k, flow.ClientToServer, isn, 0, syn, nil, 0, ts)
		a.Segment(k, flow.ClientToServer, isn+1+1000, 0, ack, payload, len(payload), ts)
		if (i+1)%check == 0 {
			elapsed += time.Since(start)
			measure("after " + itoa(i+1) + " streams")
			if err := a.checkInvariants(); err != nil {
				tb.Fatal(err)
			}
			start = time.Now()
		}
	}
	elapsed += time.Since(start)
	st := a.Stats()
	if want := uint64(n - cfg.MaxStreams); st.EndedEvicted != want || st.StreamsActive != uint64(cfg.MaxStreams) {
		tb.Errorf("evicted %d, want %d; active %d", st.EndedEvicted, want, st.StreamsActive)
	}
	if st.BudgetTotal == 0 || st.BufferedMemoryPeak > uint64(cfg.MaxBufferedTotal) {
		tb.Errorf("total budget: %+v", st)
	}
	a.Flush(int64(n) * 1000)
	st = a.Stats()
	// Every hole was given up (by the budget, the eviction or the flush),
	// and counted; every buffered byte delivered; every consumer ended once.
	if st.BudgetTotal+st.EvictedStream+st.GapMissing != uint64(n)*1000 || st.DeliveredBytes != uint64(n)*100 {
		tb.Errorf("accounting: %+v", st)
	}
	checkAccounting(tb, st, uint64(n)*100)
	for i := range ends {
		e := &ends[i]
		if e.ends != 1 || e.gap != 1000 || e.data != 100 {
			tb.Fatalf("stream %d: %+v", i, *e)
		}
		want := EndEvicted
		if i >= n-cfg.MaxStreams {
			want = EndFlush
		}
		if e.reason != want {
			tb.Fatalf("stream %d ended %v, want %v", i, e.reason, want)
		}
	}
	runtime.KeepAlive(a)
	return peak, elapsed / time.Duration(2*n)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// floodConfig is the brief's scenario: 100,000 streams at most, 16 MiB of
// out-of-order data at most.
var floodConfig = Config{MaxStreams: 100_000, MaxBufferedTotal: 16 << 20}

// TestMemoryBound floods 200,000 never-closing streams, each holding a
// hole, through an Assembler limited to 100,000 streams and 16 MiB: the
// heap stays under Config.MemoryBound, every eviction is counted, every
// consumer gets End once, every hole is accounted for.
func TestMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 streams")
	}
	peak, per := flood(t, floodConfig, 200_000, 50_000)
	t.Logf("heap above baseline at most %.1f MiB (bound %.1f MiB: PerStreamBytes %d), %v per segment",
		float64(peak)/(1<<20), float64(floodConfig.MemoryBound())/(1<<20), PerStreamBytes, per)
}

// BenchmarkMillionStreams is TestMemoryBound with 1,000,000 streams.
func BenchmarkMillionStreams(b *testing.B) {
	for b.Loop() {
		peak, per := flood(b, floodConfig, 1_000_000, 100_000)
		b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(floodConfig.MemoryBound())/(1<<20), "bound-MiB")
		b.ReportMetric(float64(per.Nanoseconds()), "ns/segment")
	}
}
