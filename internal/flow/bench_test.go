package flow

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
)

// floodPacket rewrites p into the i-th of many distinct 5-tuples: 2^24
// client addresses × 256 source ports, server 10.255.0.1:80, alternately
// TCP SYNs and UDP datagrams.
func floodPacket(p *decode.Packet, i int, ts int64) {
	a := uint32(0x0a000000) | uint32(i>>8)&0x00ffffff
	p.Timestamp = ts
	p.IPVersion = 4
	p.SrcIP = netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
	p.DstIP = netip.AddrFrom4([4]byte{10, 255, 0, 1})
	p.SrcPort = uint16(40000 + i&0xff)
	p.DstPort = 80
	if i&1 == 0 {
		p.Proto, p.TCPFlags, p.Seq = decode.ProtoTCP, decode.TCPSyn, uint32(i)
	} else {
		p.Proto, p.TCPFlags, p.Seq = decode.ProtoUDP, 0, 0
	}
	p.IPLen, p.PayloadLen = 60, 0
}

// A flood of distinct 5-tuples into a table much smaller than the flood:
// the table never exceeds its cap, every flow is accounted for, and every
// end is reported exactly once.
func TestFloodInvariants(t *testing.T) {
	n, maxFlows := 500_000, 100_000
	if testing.Short() {
		n, maxFlows = 50_000, 10_000
	}
	cfg := DefaultConfig()
	cfg.MaxFlows = maxFlows
	var ends [EndFlush + 1]uint64
	var calls uint64
	tb := NewTable(cfg, func(f *Flow, why EndReason) { ends[why]++; calls++ })
	var p decode.Packet
	ts := t0
	for i := range n {
		ts += int64(time.Microsecond)
		if i%1000 == 0 {
			tb.Expire(ts)
		}
		floodPacket(&p, i, ts)
		if ev := tb.Observe(&p); !ev.New {
			t.Fatalf("packet %d: distinct 5-tuple joined an existing flow", i)
		}
		if tb.Len() > maxFlows {
			t.Fatalf("packet %d: %d flows > MaxFlows %d", i, tb.Len(), maxFlows)
		}
	}
	// A second wave, 100 s later: the half-open and idle flows have timed
	// out, so making room is expiry, not eviction.
	ts += int64(100 * time.Second)
	for i := range maxFlows / 2 {
		floodPacket(&p, n+i, ts)
		tb.Observe(&p)
	}
	st := tb.Stats()
	if st.Created != uint64(n+maxFlows/2) || st.Active != uint64(tb.Len()) {
		t.Fatalf("stats %+v", st)
	}
	other := st.EndedIdle + st.EndedClosed + st.Flushed
	if st.Created-st.Active != calls || calls != st.Evicted+other {
		t.Fatalf("created−active %d, OnEnd calls %d, evicted+other %d (%+v)", st.Created-st.Active, calls, st.Evicted+other, st)
	}
	if ends[EndEvicted] != st.Evicted || ends[EndIdle] != st.EndedIdle || st.Evicted != uint64(n-maxFlows) || st.EndedIdle != uint64(maxFlows) {
		t.Fatalf("ends %v stats %+v", ends, st)
	}
	tb.Flush()
	st = tb.Stats()
	if st.Active != 0 || tb.Len() != 0 || st.Created != calls || st.Flushed != uint64(maxFlows/2) {
		t.Fatalf("after flush: %+v, %d calls", st, calls)
	}
}

// BenchmarkObserve: packets of existing flows, round robin (the steady
// state of a probe). Each op is one packet.
func BenchmarkObserve(b *testing.B) {
	for _, nflows := range []int{1_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(nflows)+"flows", func(b *testing.B) {
			tb := NewTable(DefaultConfig(), nil)
			var p decode.Packet
			for i := range nflows {
				floodPacket(&p, i, t0)
				tb.Observe(&p)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				floodPacket(&p, i, t0)
				p.TCPFlags = decode.TCPAck // data packets of established flows
				p.PayloadLen = 100
				p.Seq += 100
				tb.Observe(&p)
				i++
				if i == nflows {
					i = 0
				}
			}
		})
	}
}

// BenchmarkFlood: 5,000,000 distinct 5-tuples into a table of 1,000,000
// flows (each op is the whole flood: run with -benchtime=1x). Reports
// ns per packet, the heap in use after the flood (after GC, table alive)
// and the bytes per live flow.
func BenchmarkFlood(b *testing.B) {
	const n, maxFlows = 5_000_000, 1_000_000
	cfg := DefaultConfig()
	cfg.MaxFlows = maxFlows
	var ms runtime.MemStats
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		tb := NewTable(cfg, nil)
		var p decode.Packet
		ts := t0
		b.StartTimer()
		start := time.Now()
		for i := range n {
			ts += 200 // 5 Mpps of packet time: nothing times out
			floodPacket(&p, i, ts)
			tb.Observe(&p)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if tb.Len() != maxFlows || tb.Stats().Evicted != n-maxFlows {
			b.Fatalf("len %d stats %+v", tb.Len(), tb.Stats())
		}
		b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/pkt")
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heapMiB")
		b.ReportMetric(float64(ms.HeapAlloc-before)/float64(tb.Len()), "B/flow")
		runtime.KeepAlive(tb)
		b.StartTimer()
	}
}
