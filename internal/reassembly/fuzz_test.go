package reassembly

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/flow"
)

// FuzzAssembler drives Open/Segment/Close/Expire/Flush on a few keys with
// sequence numbers, flags, payloads and budgets from the input, and checks
// the Assembler against a reference model: per direction a map from
// sequence offset to the first byte received there (first wins; a
// "phantom" for bytes the snap length cut). It checks that
//   - every Data byte is the model's byte at the consumer's position;
//   - every Gap(n >= 0) covers only positions the model has no byte for
//     (or phantoms), and ends at or before the highest position received:
//     nothing is skipped that could still be delivered;
//   - after every call, no live stream's model holds a byte at the
//     consumer's position (delivery is eager), and at End none beyond it
//     (everything received was delivered or given up): so per direction,
//     delivered + given up == highest accepted position − start;
//   - Gap(-1) comes only first, and only when the direction did not start
//     with a SYN; nothing follows End; End comes once;
//   - the counters add up: captured bytes == delivered + held + every
//     not-delivered reason; Data bytes == DeliveredBytes; Gap bytes == the
//     sum of the gap reasons; Gap(-1) calls == MidstreamUnknown + Resyncs;
//     streams opened == active + ended;
//   - the internal structure holds (checkInvariants), memory within both
//     budgets after every call.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 0, 0, 1, 0x10, 5, 0, 9, 1, 0x10, 0, 0, 20})
	f.Add([]byte("\x10\x20\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x01\x03\x12\x00\x10\x30\x01\x01\x12\x00\x00\x40\x02\x05\x12\x00\x20\x20"))
	f.Add([]byte("\xff\xff\x02\xff\xff\xff\x00\xff\xff\xff\xf0\xff\xff\xff\xf8\xff\xff\xff\xfa" +
		"\x00\x01\x13\x12\x00\x10\x30\x81\x11\x92\x00\x00\x40\x02\x05\x12\x00\x20\x20\x06\x05"))
	f.Fuzz(func(t *testing.T, data []byte) {
		runModel(t, data)
	})
}

type fuzzInput struct {
	b []byte
	i int
}

func (z *fuzzInput) more() bool { return z.i < len(z.b) }

func (z *fuzzInput) u8() int {
	if z.i >= len(z.b) {
		return 0
	}
	v := z.b[z.i]
	z.i++
	return int(v)
}

func (z *fuzzInput) u16() int { return z.u8()<<8 | z.u8() }

func (z *fuzzInput) u32() uint32 {
	var b [4]byte
	for i := range b {
		b[i] = byte(z.u8())
	}
	return binary.BigEndian.Uint32(b[:])
}

const phantom = 256 // model value of a position the snap length cut

// mdir is the model of one direction of one stream.
type mdir struct {
	init   bool
	syn    bool // started with a SYN
	ref    uint32
	m      map[int64]int16 // offset from ref → first byte received (or phantom)
	hi     int64           // one past the highest offset in m (0 if none)
	pos    int64           // the consumer's position: offsets delivered or given up
	fin    bool
	finOff int64
	events int
	mid    bool // a Gap(-1) is due
}

func (d *mdir) off(seq uint32) int64 { return int64(seqDiff(seq, d.ref)) }

// model is a stream instance's Consumer: it checks each call against the
// model and totals what it was told.
type model struct {
	t     *testing.T
	h     *harness
	key   int
	dirs  [2]mdir
	ended bool
}

func (m *model) Data(d flow.Dir, b []byte, ts int64) {
	m.t.Helper()
	md := &m.dirs[d]
	if m.ended {
		m.t.Fatalf("key %d: Data after End", m.key)
	}
	if md.mid {
		m.t.Fatalf("key %d dir %d: Data before the mid-stream Gap(-1)", m.key, d)
	}
	if len(b) == 0 {
		m.t.Fatalf("key %d dir %d: empty Data", m.key, d)
	}
	md.events++
	for i, c := range b {
		if v, ok := md.m[md.pos+int64(i)]; !ok || v != int16(c) {
			m.t.Fatalf("key %d dir %d: Data byte at offset %d is %d, model has %d (%v)", m.key, d, md.pos+int64(i), c, v, ok)
		}
	}
	md.pos += int64(len(b))
	m.h.dataBytes += uint64(len(b))
}

func (m *model) Gap(d flow.Dir, n int64, ts int64) {
	m.t.Helper()
	md := &m.dirs[d]
	if m.ended {
		m.t.Fatalf("key %d: Gap after End", m.key)
	}
	if n == -1 {
		if !md.mid || md.events != 0 {
			m.t.Fatalf("key %d dir %d: unexpected Gap(-1)", m.key, d)
		}
		md.mid = false
		md.events++
		m.h.unknownGaps++
		return
	}
	if md.mid {
		m.t.Fatalf("key %d dir %d: Gap before the mid-stream Gap(-1)", m.key, d)
	}
	if n <= 0 {
		m.t.Fatalf("key %d dir %d: Gap(%d)", m.key, d, n)
	}
	md.events++
	if md.pos+n > md.hi {
		m.t.Fatalf("key %d dir %d: Gap(%d) at %d beyond the highest byte received %d", m.key, d, n, md.pos, md.hi)
	}
	for x := md.pos; x < md.pos+n; x++ {
		if v, ok := md.m[x]; ok && v != phantom {
			m.t.Fatalf("key %d dir %d: Gap(%d) at %d skips received offset %d", m.key, d, n, md.pos, x)
		}
	}
	md.pos += n
	m.h.gapBytes += uint64(n)
}

func (m *model) End(why EndReason, ts int64) {
	m.t.Helper()
	if m.ended {
		m.t.Fatalf("key %d: End twice", m.key)
	}
	m.ended = true
	for d := range m.dirs {
		md := &m.dirs[d]
		if md.mid {
			m.t.Fatalf("key %d dir %d: ended without the due Gap(-1)", m.key, d)
		}
		if md.hi > md.pos {
			m.t.Fatalf("key %d dir %d: ended at %d, received up to %d", m.key, d, md.pos, md.hi)
		}
	}
	if m.h.live[m.key] == m {
		m.h.live[m.key] = nil
	}
}

// segment updates the model with an accepted segment, before the
// Assembler sees it (its Data calls come from it), following the rules
// documented on Segment.
func (m *model) segment(d flow.Dir, seq uint32, flags uint8, p []byte, n int) {
	md := &m.dirs[d]
	if flags&syn != 0 {
		seq++
	}
	switch {
	case !md.init:
		md.init = true
		md.ref = seq
		md.m = map[int64]int16{}
		md.syn = flags&syn != 0
		md.mid = !md.syn
	case flags&syn != 0 && !md.fin && md.pos == 0 && len(md.m) == 0:
		// Nothing delivered or held: the SYN moves the start.
		md.ref = seq
	}
	o := md.off(seq)
	if flags&fin != 0 && !md.fin && o+int64(n) >= md.pos {
		md.fin = true
		md.finOff = o + int64(n)
		md.hi = 0
		for x := range md.m {
			if x >= md.finOff {
				delete(md.m, x)
			} else {
				md.hi = max(md.hi, x+1)
			}
		}
	}
	for i := range n {
		x := o + int64(i)
		if x < 0 || x < md.pos || (md.fin && x >= md.finOff) {
			continue
		}
		if _, ok := md.m[x]; ok {
			continue
		}
		if i < len(p) {
			md.m[x] = int16(p[i])
		} else {
			md.m[x] = phantom
		}
		md.hi = max(md.hi, x+1)
	}
}

// eager checks that nothing at the consumer's position is held back.
func (m *model) eager() {
	m.t.Helper()
	for d := range m.dirs {
		md := &m.dirs[d]
		if _, ok := md.m[md.pos]; ok {
			m.t.Fatalf("key %d dir %d: offset %d received but not delivered", m.key, d, md.pos)
		}
	}
}

const fuzzKeys = 3

type harness struct {
	live                  [fuzzKeys]*model
	seen                  [fuzzKeys]int64
	dataBytes, gapBytes   uint64
	unknownGaps, captured uint64
}

func runModel(t *testing.T, data []byte) {
	z := &fuzzInput{b: data}
	cfg := Config{
		MaxBufferedPerDir: 100 + z.u8()*8,
		MaxBufferedTotal:  int64(150 + z.u8()*16),
		MaxStreams:        1 + z.u8()%fuzzKeys,
		IdleTimeout:       time.Duration(30 + z.u8()),
	}
	a := New(cfg)
	h := &harness{}
	var keys [fuzzKeys]flow.Key
	var base [fuzzKeys][2]uint32
	for i := range keys {
		keys[i] = testKey(i)
		base[i][0], base[i][1] = z.u32(), z.u32()
	}
	var clock, ts int64
	tick := func() {
		clock = max(clock, ts)
	}
	check := func() {
		t.Helper()
		if err := a.checkInvariants(); err != nil {
			t.Fatal(err)
		}
		for _, m := range h.live {
			if m != nil {
				m.eager()
			}
		}
	}
	for ops := 0; z.more() && ops < 400; ops++ {
		op := z.u8()
		ts += int64(op >> 5)
		if op&0x10 != 0 {
			ts -= 3 // time may go backwards a little
		}
		k := z.u8() % fuzzKeys
		switch op & 0xf {
		case 0, 1:
			tick()
			m := &model{t: t, h: h, key: k}
			a.Open(keys[k], m, ts)
			h.live[k] = m
			h.seen[k] = clock
		case 2:
			tick()
			reason := EndReason(1 + z.u8()%5)
			a.Close(keys[k], reason, ts)
		case 3:
			tick()
			a.Expire(ts)
		case 4:
			if z.u8() == 0 {
				tick()
				a.Flush(ts)
			}
		default:
			dir := flow.Dir(z.u8() & 1)
			fl := z.u8()
			var flags uint8
			if fl&0x01 != 0 {
				flags |= ack
			}
			if fl&0x06 == 0x06 {
				flags |= fin
			}
			if fl&0x38 == 0x38 {
				flags |= syn
			}
			if fl&0xc0 == 0xc0 && fl&0x01 == 0 {
				flags |= rst
			}
			off := z.u16()%1536 - 64
			n := z.u8()
			if n > 200 {
				n = 0
			}
			captured := n
			if fl&0x08 != 0 && n > 0 && fl&0x30 == 0x10 { // snap-length cut
				captured = n - z.u8()%n
			}
			seq := base[k][dir] + uint32(off)
			ackv := base[k][dir^1] + uint32(z.u16()%1536)
			salt := byte(0)
			if fl&0x30 == 0x30 && fl&0x08 == 0 {
				salt = byte(z.u8()) // different bytes: conflicts
			}
			p := make([]byte, captured)
			for i := range p {
				p[i] = byte(uint32(off+i)*7) + salt
			}
			tick()
			m := h.live[k]
			want := m != nil && clock-h.seen[k] < int64(cfg.IdleTimeout)
			if want {
				m.segment(dir, seq, flags, p, n)
				h.seen[k] = clock
			}
			h.captured += uint64(captured)
			if got := a.Segment(keys[k], dir, seq, ackv, flags, p, n, ts); got != want {
				t.Fatalf("Segment returned %v, want %v", got, want)
			}
		}
		check()
	}
	tick()
	a.Flush(ts)
	check()
	for _, m := range h.live {
		if m != nil {
			t.Fatalf("key %d not ended by Flush", m.key)
		}
	}
	st := a.Stats()
	checkAccounting(t, st, h.captured)
	if st.DeliveredBytes != h.dataBytes || gapBytes(st) != h.gapBytes || st.MidstreamUnknown+st.Resyncs != h.unknownGaps {
		t.Fatalf("consumers saw %d data, %d gap bytes, %d Gap(-1); stats %+v", h.dataBytes, h.gapBytes, h.unknownGaps, st)
	}
	if st.BufferedBytes != 0 || st.BufferedMemory != 0 || st.StreamsActive != 0 || st.Resyncs != 0 {
		t.Fatalf("after Flush: %+v", st)
	}
	if st.BufferedMemoryPeak > uint64(cfg.MaxBufferedTotal) {
		t.Fatalf("peak %d > %d", st.BufferedMemoryPeak, cfg.MaxBufferedTotal)
	}
}
