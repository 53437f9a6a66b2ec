package reassembly

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
)

const (
	syn = decode.TCPSyn
	fin = decode.TCPFin
	rst = decode.TCPRst
	psh = decode.TCPPsh
	ack = decode.TCPAck
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
)

// testKey returns a distinct TCP flow key for each i.
func testKey(i int) flow.Key {
	p := decode.Packet{
		SrcIP:   netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		DstIP:   netip.AddrFrom4([4]byte{192, 168, 0, 1}),
		SrcPort: uint16(1024 + i%60000),
		DstPort: 80,
		Proto:   decode.ProtoTCP,
	}
	return flow.KeyOf(&p)
}

// recorder is a Consumer that keeps everything it was told, and checks
// the contract: nothing after End, End once.
type recorder struct {
	t      testing.TB
	text   [2]strings.Builder // Data as is, Gap as "[gap N]"
	data   [2][]byte          // Data only
	gaps   [2][]int64
	ended  int
	reason EndReason
}

func newRecorder(t testing.TB) *recorder { return &recorder{t: t} }

func (r *recorder) Data(d flow.Dir, b []byte, ts int64) {
	if r.ended > 0 {
		r.t.Errorf("Data after End")
	}
	if len(b) == 0 {
		r.t.Errorf("empty Data")
	}
	r.text[d].Write(b)
	r.data[d] = append(r.data[d], b...)
}

func (r *recorder) Gap(d flow.Dir, n int64, ts int64) {
	if r.ended > 0 {
		r.t.Errorf("Gap after End")
	}
	if n == 0 || n < -1 {
		r.t.Errorf("Gap(%d)", n)
	}
	fmt.Fprintf(&r.text[d], "[gap %d]", n)
	r.gaps[d] = append(r.gaps[d], n)
}

func (r *recorder) End(why EndReason, ts int64) {
	r.ended++
	if r.ended > 1 {
		r.t.Errorf("End called %d times", r.ended)
	}
	r.reason = why
}

func (r *recorder) String(d flow.Dir) string { return r.text[d].String() }

// seg is one Segment call of a table test.
type seg struct {
	dir   flow.Dir
	seq   uint32
	ack   uint32
	flags uint8
	data  string
	plen  int // 0: len(data)
}

func feed(a *Assembler, k flow.Key, segs []seg, ts int64) {
	for i, s := range segs {
		plen := s.plen
		if plen == 0 {
			plen = len(s.data)
		}
		a.Segment(k, s.dir, s.seq, s.ack, s.flags, []byte(s.data), plen, ts+int64(i))
	}
}

// checkAccounting checks the received-bytes invariant: every captured
// payload byte given to Segment is delivered, held, or counted as not
// delivered by reason.
func checkAccounting(t testing.TB, st Stats, captured uint64) {
	t.Helper()
	got := st.DeliveredBytes + st.BufferedBytes + st.OverlapDropped + st.OverlapConflict +
		st.AfterFIN + st.BeforeStart + st.UnknownStream
	if got != captured {
		t.Errorf("captured %d bytes, accounted %d: %+v", captured, got, st)
	}
	ended := st.EndedClosed + st.EndedReset + st.EndedIdle + st.EndedEvicted + st.EndedFlush
	if st.StreamsOpened != st.StreamsActive+ended {
		t.Errorf("streams: opened %d != active %d + ended %d", st.StreamsOpened, st.StreamsActive, ended)
	}
}

// gapBytes sums the sequence space given up, all reasons.
func gapBytes(st Stats) uint64 {
	return st.GapMissing + st.GapAcked + st.BudgetDir + st.BudgetTotal + st.EvictedStream + st.IdleEnd + st.Snaplen
}
