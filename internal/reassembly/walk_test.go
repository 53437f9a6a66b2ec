package reassembly

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
)

// The pipeline the probe will run, for tests: capture file → decode →
// flow table (which says who the client is and when a flow ends) →
// Assembler → streamRec.

// span is a range of sequence offsets from a direction's start.
type span struct{ s, e int64 }

// recDir is what a streamRec saw of one direction, plus the span model
// behind the end-of-stream invariant.
type recDir struct {
	follow   []byte // Data bytes, and each Gap(n >= 0) as tshark's "[n bytes missing in capture file]\0"
	bytes    []byte // Data bytes only
	data     int64  // Data bytes
	gapped   int64  // Gap bytes (n >= 0)
	dataCall int    // Data calls
	events   int
	resynced bool // the Assembler restarted the direction (a jump beyond any window): the offsets below no longer apply

	// Span model: the direction's start (first segment; after its SYN),
	// the FIN offset once accepted, the accepted spans.
	init   bool
	ref    uint32
	fin    bool
	finOff int64
	spans  []span
}

// pos is the consumer's position: offsets delivered or given up.
func (d *recDir) pos() int64 { return d.data + d.gapped }

// hi is the highest offset the Assembler accepted: one past the highest
// accepted byte, bytes from the FIN on excluded.
func (d *recDir) hi() int64 {
	var hi int64
	for _, sp := range d.spans {
		e := sp.e
		if d.fin {
			if sp.s >= d.finOff {
				continue
			}
			e = min(e, d.finOff)
		}
		hi = max(hi, e)
	}
	return hi
}

// streamRec records one stream (one Open).
type streamRec struct {
	t              testing.TB
	client, server netip.AddrPort
	dirs           [2]recDir
	order          []flow.Dir // direction of each Data call, in order
	combined       []byte     // Data bytes of both directions, in call order
	ended          int
	reason         EndReason
	w              *walker
}

func (r *streamRec) Data(d flow.Dir, b []byte, ts int64) {
	if r.ended > 0 {
		r.t.Errorf("%v: Data after End", r.client)
	}
	rd := &r.dirs[d]
	rd.follow = append(rd.follow, b...)
	rd.bytes = append(rd.bytes, b...)
	rd.data += int64(len(b))
	rd.dataCall++
	rd.events++
	r.order = append(r.order, d)
	r.combined = append(r.combined, b...)
	r.w.dataBytes += uint64(len(b))
}

func (r *streamRec) Gap(d flow.Dir, n int64, ts int64) {
	if r.ended > 0 {
		r.t.Errorf("%v: Gap after End", r.client)
	}
	rd := &r.dirs[d]
	switch {
	case n == -1:
		r.w.unknownGaps++
	case n > 0:
		rd.follow = fmt.Appendf(rd.follow, "[%d bytes missing in capture file]\x00", n)
		rd.gapped += n
		r.w.gapBytes += uint64(n)
	default:
		r.t.Errorf("%v: Gap(%d)", r.client, n)
	}
	rd.events++
}

func (r *streamRec) End(why EndReason, ts int64) {
	r.ended++
	if r.ended > 1 {
		r.t.Errorf("%v: End called twice", r.client)
	}
	r.reason = why
	if w := r.w; w.pendingRec == r && w.pending != nil && why != EndIdle {
		// The segment being processed ended the stream (RST, last FIN):
		// it was accepted. (EndIdle during Segment means the stream idled
		// out before it.)
		w.pending()
		w.pending = nil
	}
	for d := range r.dirs {
		rd := &r.dirs[d]
		if !rd.init {
			r.w.unseen++
			continue
		}
		if rd.resynced {
			r.w.undefined++
			continue
		}
		r.w.defined++
		if pos, hi := rd.pos(), rd.hi(); pos != hi {
			r.t.Errorf("%v→%v dir %d: delivered %d + given up %d = %d, highest accepted offset %d",
				r.client, r.server, d, rd.data, rd.gapped, pos, hi)
		}
	}
}

// note applies an accepted segment to the span model, following the
// rules documented on Segment: where a direction starts (first segment,
// after a SYN; a SYN moves the start while nothing was delivered or held),
// a FIN only if not before the position, a jump beyond any window
// restarts the direction. It must be computed before the Assembler sees
// the segment (the rules look at the position before it) and applied once
// the segment is known to be accepted.
func (r *streamRec) note(d flow.Dir, seq uint32, flags uint8, n int) func() {
	rd := &r.dirs[d]
	if flags&decode.TCPSyn != 0 {
		seq++
	}
	pos := rd.pos()
	ref, rebase := rd.ref, false
	switch {
	case !rd.init:
		ref = seq
	case flags&decode.TCPSyn != 0 && !rd.fin && pos == 0 && rd.hi() == 0:
		ref, rebase = seq, true
	case n > 0 && !rd.fin && !inWindow(seq, rd.ref+uint32(pos)):
		rd.resynced = true
	}
	o := int64(seqDiff(seq, ref))
	return func() {
		rd.init, rd.ref = true, ref
		if rebase {
			rd.spans = nil
		}
		if flags&decode.TCPFin != 0 && !rd.fin && o+int64(n) >= pos {
			rd.fin, rd.finOff = true, o+int64(n)
		}
		if n > 0 {
			rd.spans = append(rd.spans, span{max(o, 0), o + int64(n)})
		}
	}
}

// walker runs the pipeline over capture files.
type walker struct {
	t        testing.TB
	asm      *Assembler
	table    *flow.Table
	dec      *decode.Decoder
	streams  []*streamRec
	live     map[flow.Key]*streamRec
	captured uint64 // payload bytes given to Segment
	ts       int64
	checkN   int // run checkInvariants every checkN segments (0: never)
	// pending applies the segment being processed to its stream's model
	// (pendingRec) once it is known to be accepted.
	pending    func()
	pendingRec *streamRec
	snap       int // > 0: cut frames to this length, as editcap -s does
	segs       int

	dataBytes, gapBytes, unknownGaps uint64
	defined, undefined, unseen       int // directions whose end-of-stream invariant was checked / not (resynchronised) / without a segment
}

func newWalker(t testing.TB, cfg Config) *walker {
	w := &walker{t: t, asm: New(cfg), dec: decode.New(decode.DefaultConfig()), live: map[flow.Key]*streamRec{}}
	w.table = flow.NewTable(flow.DefaultConfig(), func(f *flow.Flow, why flow.EndReason) {
		if f.Proto != decode.ProtoTCP {
			return
		}
		var r EndReason
		switch why {
		case flow.EndIdle:
			r = EndIdle
		case flow.EndClosed:
			r = EndClosed
		case flow.EndEvicted:
			r = EndEvicted
		case flow.EndFlush:
			r = EndFlush
		default:
			return // an active-timeout report: the flow goes on
		}
		w.asm.Close(f.Key(), r, w.ts)
	})
	return w
}

func (w *walker) open(f *flow.Flow, ts int64) *streamRec {
	r := &streamRec{t: w.t, client: f.Client, server: f.Server, w: w}
	w.streams = append(w.streams, r)
	w.live[f.Key()] = r
	w.asm.Open(f.Key(), r, ts)
	return r
}

// file walks one capture file.
func (w *walker) file(path string) error {
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		return err
	}
	defer src.Close()
	var p decode.Packet
	for {
		fr, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if w.snap > 0 && len(fr.Data) > w.snap {
			fr.Data = fr.Data[:w.snap]
		}
		if w.dec.Decode(uint16(fr.LinkType), fr.Data, fr.WireLen, fr.Timestamp, &p) != decode.StatusOK || p.IPVersion == 0 {
			continue
		}
		w.ts = max(w.ts, p.Timestamp)
		ev := w.table.Observe(&p)
		if p.Proto != decode.ProtoTCP {
			continue
		}
		k := ev.Flow.Key()
		r := w.live[k]
		if ev.New || r == nil {
			r = w.open(ev.Flow, p.Timestamp)
		}
		if !w.segment(r, k, ev.Dir, &p) && ev.Flow.TCP.State != flow.TCPClosed && r.reason == EndIdle {
			// The Assembler idled the stream out while the flow table
			// kept the flow: follow it again, from here.
			r = w.open(ev.Flow, p.Timestamp)
			w.segment(r, k, ev.Dir, &p)
		}
		if w.segs++; w.checkN > 0 && w.segs%w.checkN == 0 {
			if err := w.asm.checkInvariants(); err != nil {
				w.t.Fatalf("%s: %v", path, err)
			}
		}
	}
	w.table.Flush()
	w.asm.Flush(w.ts)
	w.live = map[flow.Key]*streamRec{}
	return nil
}

func (w *walker) segment(r *streamRec, k flow.Key, d flow.Dir, p *decode.Packet) bool {
	payload, n := p.Payload, p.PayloadLen
	if n < len(payload) {
		payload = payload[:n]
	}
	w.pending, w.pendingRec = r.note(d, p.Seq, p.TCPFlags, n), r
	w.captured += uint64(len(payload))
	ok := w.asm.Segment(k, d, p.Seq, p.Ack, p.TCPFlags, payload, n, p.Timestamp)
	if ok && w.pending != nil {
		w.pending()
	}
	w.pending, w.pendingRec = nil, nil
	return ok
}

// check verifies the counters against what the consumers saw.
func (w *walker) check(name string) {
	w.t.Helper()
	if err := w.asm.checkInvariants(); err != nil {
		w.t.Fatalf("%s: %v", name, err)
	}
	st := w.asm.Stats()
	checkAccounting(w.t, st, w.captured)
	if st.DeliveredBytes != w.dataBytes || gapBytes(st) != w.gapBytes || st.MidstreamUnknown+st.Resyncs != w.unknownGaps {
		w.t.Errorf("%s: consumers saw %d data, %d gap bytes, %d Gap(-1); stats %+v", name, w.dataBytes, w.gapBytes, w.unknownGaps, st)
	}
	if st.StreamsActive != 0 || st.BufferedBytes != 0 {
		w.t.Errorf("%s: after Flush %+v", name, st)
	}
	for _, r := range w.streams {
		if r.ended != 1 {
			w.t.Errorf("%s: stream %v→%v ended %d times", name, r.client, r.server, r.ended)
		}
	}
}
