// Package reassembly turns the TCP segments of a connection, in the order
// a capture saw them — out of order, retransmitted, overlapping, with
// holes, starting mid-connection — into the two in-order byte streams that
// the L7 parsers read. It sits between the flow table (which says which
// segments belong to which connection and direction) and the parsers.
//
// Its first job is to stay bounded: probes watch streams that never close
// (a lost FIN, a capture that started late, a peer that holds a hole open
// forever), and the failure users report against pktvisor and Packetbeat is
// reassembly memory that grows until the process dies. Here every limit is
// hard: out-of-order bytes per direction (Config.MaxBufferedPerDir) and in
// total (MaxBufferedTotal), streams (MaxStreams), idle time (IdleTimeout).
// When a limit bites, the Assembler gives up on the oldest hole, tells the
// consumer how many bytes it will never see (Consumer.Gap) and counts them
// by reason in Stats; Config.MemoryBound states the resulting bound.
//
// Its second job is to be cheap on the common case: a segment that arrives
// in order while nothing is buffered is handed to the consumer without a
// copy or an allocation. Out-of-order segments are copied into pooled
// buffers (a sorted list of non-overlapping ranges per direction) until the
// hole before them fills. Overlaps follow "first wins" (Suricata's default
// policy): bytes already delivered or buffered are kept, later copies are
// counted as duplicates, or as conflicts when they differ from buffered
// bytes.
//
// Accounting: per direction, every sequence number from the first one seen
// to the last one delivered is reported exactly once, either in a Data call
// or in a Gap(n >= 0) call; and every captured payload byte passed to
// Segment is delivered once, held (Stats.BufferedBytes), or counted as
// OverlapDropped, OverlapConflict, AfterFIN, BeforeStart or UnknownStream.
// The tests check both on the corpus and under fuzzing.
//
// An Assembler belongs to one goroutine (a probe shard). Consumers are
// called synchronously and must not call back into the Assembler (such
// calls are ignored and counted in Stats.IgnoredCalls).
package reassembly

import (
	"bytes"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
)

// Consumer receives the bytes of one TCP connection, both directions. Its
// methods must not call the Assembler and should not panic (a panic
// propagates to the Assembler's caller; the Assembler stays consistent).
type Consumer interface {
	// Data delivers the next bytes of direction dir: contiguous with what
	// came before (after any Gap), in order, never repeated. b is only
	// valid during the call: it may alias the caller's packet buffer.
	Data(dir flow.Dir, b []byte, ts int64)
	// Gap says that the next n bytes of direction dir will never come
	// (a hole skipped, a snap-length cut). n == -1 means "an unknown
	// number": the direction started mid-stream (or resynchronised after
	// a jump of the sequence numbers), so a parser must find a message
	// boundary before it trusts the bytes that follow.
	Gap(dir flow.Dir, n int64, ts int64)
	// End is called once, last: no call follows it.
	End(reason EndReason, ts int64)
}

// EndReason says why a stream ended.
type EndReason uint8

const (
	EndClosed  EndReason = iota + 1 // FIN both ways, all bytes before them delivered; or Close by the flow table
	EndReset                        // RST
	EndIdle                         // no segment for IdleTimeout
	EndEvicted                      // MaxStreams reached and this stream was the least recently active
	EndFlush                        // Flush (end of input)
)

var endReasonNames = [...]string{"unknown", "closed", "reset", "idle", "evicted", "flush"}

func (r EndReason) String() string {
	if int(r) < len(endReasonNames) {
		return endReasonNames[r]
	}
	return "unknown"
}

// Stats counts what an Assembler did. Counters only grow, except
// StreamsActive, BufferedBytes and BufferedMemory (current values).
//
// Sequence space given up (the n of Gap(n >= 0) calls), by reason:
// GapMissing, GapAcked, BudgetDir, BudgetTotal, EvictedStream, IdleEnd,
// Snaplen. Captured payload bytes not delivered, by reason:
// OverlapDropped, OverlapConflict, AfterFIN, BeforeStart, UnknownStream.
type Stats struct {
	StreamsOpened   uint64 `json:"streams_opened"`
	StreamsActive   uint64 `json:"streams_active"`
	StreamsReplaced uint64 `json:"streams_replaced"` // Open of a key already open: the old stream ended (EndClosed)
	Segments        uint64 `json:"segments"`         // Segment calls on tracked streams
	UnknownSegments uint64 `json:"unknown_segments"` // Segment calls on keys not open (or idle-expired)
	IgnoredCalls    uint64 `json:"ignored_calls"`    // calls from inside a Consumer callback, or with an invalid Dir

	DeliveredBytes     uint64 `json:"delivered_bytes"`
	BufferedBytes      uint64 `json:"buffered_bytes"`       // payload bytes held out of order now
	BufferedMemory     uint64 `json:"buffered_memory"`      // memory charged to the budgets for them now
	BufferedMemoryPeak uint64 `json:"buffered_memory_peak"` // highest BufferedMemory seen
	MidstreamUnknown   uint64 `json:"midstream_unknown"`    // directions that started without a SYN (Gap -1): bytes before unknown
	Resyncs            uint64 `json:"resyncs"`              // directions restarted after a sequence jump beyond any window (Gap -1)
	GapMissing         uint64 `json:"gap_missing"`          // holes never filled, given up when the stream ended (closed, reset, flushed)
	GapAcked           uint64 `json:"gap_acked"`            // holes the peer acknowledged: the capture missed them, no retransmission will come
	BudgetDir          uint64 `json:"budget_dir"`           // holes given up because a direction hit MaxBufferedPerDir
	BudgetTotal        uint64 `json:"budget_total"`         // holes given up because all streams together hit MaxBufferedTotal
	EvictedStream      uint64 `json:"evicted_stream"`       // holes given up when a stream was evicted (MaxStreams)
	IdleEnd            uint64 `json:"idle_end"`             // holes given up when a stream idled out
	Snaplen            uint64 `json:"snaplen"`              // payload bytes the capture's snap length cut off
	OverlapDropped     uint64 `json:"overlap_dropped"`      // duplicate bytes (retransmissions, overlaps) equal to, or not comparable with, the first copy
	OverlapConflict    uint64 `json:"overlap_conflict"`     // duplicate bytes that differ from the buffered first copy (first wins)
	AfterFIN           uint64 `json:"after_fin"`            // bytes beyond a direction's FIN
	BeforeStart        uint64 `json:"before_start"`         // bytes before a direction's first sequence number (late segments of a mid-stream start)
	UnknownStream      uint64 `json:"unknown_stream"`       // payload bytes of Segment calls on keys not open
	EndedClosed        uint64 `json:"ended_closed"`         // streams ended by FIN both ways, or closed by the caller
	EndedReset         uint64 `json:"ended_reset"`          // streams ended by RST (or the caller's EndReset)
	EndedIdle          uint64 `json:"ended_idle"`           // streams ended by IdleTimeout (or the caller's EndIdle)
	EndedEvicted       uint64 `json:"ended_evicted"`        // streams evicted at MaxStreams (or the caller's EndEvicted)
	EndedFlush         uint64 `json:"ended_flush"`          // streams ended by Flush (or the caller's EndFlush)
}

// TCP sequence arithmetic (RFC 1982): a is after b iff seqDiff(a, b) > 0.
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// maxWindow: no segment of a stream lies farther than this from the next
// expected byte (the largest TCP window is 65535 << 14 < 2^30). A segment
// that does belongs to another stream (a port reuse the flow table did not
// see, or garbage): the direction resynchronises on it.
const maxWindow = 1 << 30

func inWindow(a, b uint32) bool {
	d := seqDiff(a, b)
	return d <= maxWindow && d >= -maxWindow
}

// maxSegment bounds a segment's payload length: more than any capture
// holds (256 KiB) or any GSO/GRO super-segment (BIG TCP: 512 KiB). A
// larger claimed length is clamped.
const maxSegment = 1 << 20

// half is one direction of a stream.
type half struct {
	head, tail   *chunk // out-of-order ranges, sorted; nil when none
	ref          uint32 // first sequence number of the direction (of the current epoch)
	next         uint32 // next sequence number to deliver
	fin          uint32 // sequence number of the FIN (hFin)
	acked        uint32 // highest acknowledgment the peer sent (hAcked)
	mem          int32  // memory charged for the chunks
	held         int32  // real bytes in the chunks
	hprev, hnext uint32 // holders list (see Assembler.holdHead)
	flags        uint8
}

const (
	hInit  uint8 = 1 << iota // ref/next are set
	hFin                     // fin is set
	hAcked                   // acked is set
)

// done reports whether the direction is finished: FIN seen and every byte
// before it delivered or given up.
func (h *half) done() bool { return h.flags&hFin != 0 && h.next == h.fin }

// stream is one tracked connection.
type stream struct {
	key        flow.Key
	c          Consumer
	h          [2]half
	seen       int64 // Assembler clock at the latest segment (or Open)
	prev, next ref   // activity (LRU) list; next also links the free list
	self       ref
	tag        uint32 // upper half of the key's hash: finds the index slot
}

// Assembler reassembles the TCP streams of one packet source. It is not
// safe for concurrent use: use one per worker goroutine.
type Assembler struct {
	cfg    Config
	perDir int64
	total  int64
	idle   int64
	clock  int64 // packet time: the maximum timestamp seen

	slabs     [][]stream // stream records: blocks that never move
	slabBits  uint
	allocated int
	free      ref

	idx  index
	last ref // the stream of the previous lookup: bursts hit it

	lruHead, lruTail ref // streams by last activity, oldest first

	// holders lists the directions holding out-of-order data, in the
	// order they started to (oldest first): MaxBufferedTotal gives up the
	// holes of the head. An id is ref<<1 | dir.
	holdHead, holdTail uint32

	pool pool
	mem  int64 // memory charged for all chunks
	held int64 // real bytes in all chunks

	busy  bool // inside a public method: consumer callbacks must not re-enter
	stats Stats
}

// New returns an Assembler. Zero fields of cfg take their default values;
// New panics if the result is invalid (check user input with
// Config.Validate first).
func New(cfg Config) *Assembler {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	a := &Assembler{
		cfg:    cfg,
		perDir: int64(cfg.MaxBufferedPerDir),
		total:  cfg.MaxBufferedTotal,
		idle:   int64(cfg.IdleTimeout),
	}
	a.pool.max = cfg.freeCap()
	// Blocks of up to 1024 streams: allocation is rare, a small Assembler stays small.
	a.slabBits = 0
	for 1<<a.slabBits < min(cfg.MaxStreams, 1024) {
		a.slabBits++
	}
	maxSlots := 2
	for maxSlots < 2*cfg.MaxStreams {
		maxSlots *= 2
	}
	a.idx.init(min(maxSlots, 1024), maxSlots)
	return a
}

// Stats returns the counters.
func (a *Assembler) Stats() Stats {
	s := a.stats
	s.BufferedBytes = uint64(a.held)
	s.BufferedMemory = uint64(a.mem)
	return s
}

// enter guards the public methods against calls from consumer callbacks,
// which would change state the calling method is in the middle of.
func (a *Assembler) enter() bool {
	if a.busy {
		a.stats.IgnoredCalls++
		return false
	}
	a.busy = true
	return true
}

// leave is deferred by the public methods, so that a consumer's panic
// does not leave the Assembler locked.
func (a *Assembler) leave() { a.busy = false }

func (a *Assembler) tick(ts int64) {
	if ts > a.clock {
		a.clock = ts
	}
}

// Open starts tracking connection k; its bytes go to c (nil: count only).
// Opening a key that is already open ends the old stream first
// (EndClosed, counted in StreamsReplaced: the caller saw the port pair
// reused; or EndIdle if it was idle for IdleTimeout). At MaxStreams, idle streams end first, else the least recently
// active stream is evicted; so Open always succeeds.
func (a *Assembler) Open(k flow.Key, c Consumer, ts int64) { a.OpenHint(nil, k, c, ts) }

// Hint remembers where an open stream is kept, so that SegmentHint finds
// it without a lookup. A caller keeps one per stream; a hint that is out
// of date (the stream ended, its record was reused) costs one lookup. The
// zero Hint is empty.
type Hint struct{ r ref }

// OpenHint is Open, and sets h (when not nil) to the new stream.
func (a *Assembler) OpenHint(h *Hint, k flow.Key, c Consumer, ts int64) {
	if !a.enter() {
		return
	}
	defer a.leave()
	a.tick(ts)
	if c == nil {
		c = nopConsumer{}
	}
	hash := k.Hash()
	if s := a.lookupHash(&k, hash); s != nil {
		if a.clock-s.seen >= a.idle {
			a.end(s, EndIdle, ts)
		} else {
			a.stats.StreamsReplaced++
			a.end(s, EndClosed, ts)
		}
	}
	if a.stats.StreamsActive >= uint64(a.cfg.MaxStreams) {
		a.expire(ts)
		if a.stats.StreamsActive >= uint64(a.cfg.MaxStreams) {
			a.end(a.stream(a.lruHead), EndEvicted, ts)
		}
	}
	s := a.alloc()
	s.key = k
	s.c = c
	s.seen = a.clock
	s.tag = uint32(hash >> 32)
	a.idx.insert(s.tag, s.self)
	a.lruPush(s)
	a.last = s.self
	if h != nil {
		h.r = s.self
	}
	a.stats.StreamsOpened++
	a.stats.StreamsActive++
}

// Segment processes one TCP segment of connection k in direction dir:
// seq and ack are the header's sequence and acknowledgment numbers, flags
// its flags (decode.TCPSyn, ...), payload the captured payload and
// payloadLen the payload length the IP header claims (payload is shorter
// when the snap length cut it: the missing tail is reported as a Gap and
// counted Snaplen).
//
// It reports whether k is a tracked stream. It is not when k was never
// opened, or already ended (both FINs, RST, Close, eviction), or when the
// stream has been idle for IdleTimeout (it ends then, EndIdle, whether or
// not Expire ran): the segment is only counted (UnknownSegments,
// UnknownStream), and the caller may Open the key again to follow it from
// here (mid-stream).
//
// Where a direction starts: at its first segment, after the SYN if it has
// one; without a SYN the consumer is told Gap(-1) first. A later SYN with
// another ISN moves the start while nothing was delivered, given up or
// held yet (SYN-ACKs retransmitted with new ISNs). Data more than 2^30
// from the next expected byte restarts the direction there (Gap(-1),
// counted Resyncs).
//
// What ends a direction or the stream: a FIN ends its direction once the
// bytes before it are delivered (later bytes count as AfterFIN); FIN both
// ways ends the stream (EndClosed); a RST ends it at once (EndReset), after
// delivering what it can.
//
// An acknowledgment tells that the peer received the bytes before it: a
// hole in the other direction that the peer acknowledged, with data
// buffered after it, was missed by the capture and will never be
// retransmitted, so it is given up at once (GapAcked) instead of waiting
// for a budget or the end. Holes past the highest buffered byte are not,
// so that a capture that records an ACK before the data it acknowledges
// (merged interfaces) loses nothing.
func (a *Assembler) Segment(k flow.Key, dir flow.Dir, seq, ack uint32, flags uint8, payload []byte, payloadLen int, ts int64) bool {
	return a.SegmentHint(nil, k, dir, seq, ack, flags, payload, payloadLen, ts)
}

// SegmentHint is Segment for a caller that keeps a Hint for k (see
// OpenHint); h may be nil.
func (a *Assembler) SegmentHint(h *Hint, k flow.Key, dir flow.Dir, seq, ack uint32, flags uint8, payload []byte, payloadLen int, ts int64) bool {
	if dir > flow.ServerToClient {
		a.stats.IgnoredCalls++
		return false
	}
	if !a.enter() {
		return false
	}
	defer a.leave()
	a.tick(ts)
	if payloadLen < len(payload) {
		if payloadLen < 0 {
			payloadLen = len(payload)
		} else {
			payload = payload[:payloadLen]
		}
	}
	if payloadLen > maxSegment {
		payloadLen = maxSegment
		if len(payload) > maxSegment {
			payload = payload[:maxSegment]
		}
	}
	s := a.lookupHint(h, &k)
	if s != nil && a.clock-s.seen >= a.idle {
		a.end(s, EndIdle, ts)
		s = nil
	}
	if s == nil {
		a.stats.UnknownSegments++
		a.stats.UnknownStream += uint64(len(payload))
		return false
	}
	a.stats.Segments++
	a.touch(s)
	d := &s.h[dir]
	// Fast path: in order, nothing buffered, nothing special: straight
	// through, no copy.
	if d.flags&(hInit|hFin) == hInit && d.head == nil && seq == d.next &&
		flags&(decode.TCPSyn|decode.TCPFin|decode.TCPRst) == 0 && len(payload) == payloadLen {
		o := &s.h[dir^1]
		if flags&decode.TCPAck == 0 || o.head == nil {
			if flags&decode.TCPAck != 0 {
				o.noteAck(ack)
			}
			if n := len(payload); n > 0 {
				d.next += uint32(n)
				a.stats.DeliveredBytes += uint64(n)
				s.c.Data(dir, payload, ts)
			}
			return true
		}
	}
	a.slow(s, dir, seq, ack, flags, payload, payloadLen, ts)
	return true
}

// Close ends connection k because the flow table ended its flow: what is
// buffered is delivered (the holes before it given up: GapMissing, or
// IdleEnd / EvictedStream for those reasons), then End(reason). Closing a
// key that is not open does nothing: the stream may have ended on its own.
func (a *Assembler) Close(k flow.Key, reason EndReason, ts int64) {
	if !a.enter() {
		return
	}
	defer a.leave()
	a.tick(ts)
	if reason < EndClosed || reason > EndFlush {
		reason = EndClosed
	}
	if s := a.lookup(&k); s != nil {
		a.end(s, reason, ts)
	}
}

// Expire ends the streams that have had no segment for IdleTimeout at now
// (packet time, Unix ns). It costs O(1 + streams ended).
func (a *Assembler) Expire(now int64) {
	if !a.enter() {
		return
	}
	defer a.leave()
	a.tick(now)
	a.expire(now)
}

func (a *Assembler) expire(ts int64) {
	for a.lruHead != 0 {
		s := a.stream(a.lruHead)
		if a.clock-s.seen < a.idle {
			return
		}
		a.end(s, EndIdle, ts)
	}
}

// Flush ends every stream (EndFlush), e.g. at the end of a capture file,
// delivering what is buffered.
func (a *Assembler) Flush(ts int64) {
	if !a.enter() {
		return
	}
	defer a.leave()
	a.tick(ts)
	for a.lruHead != 0 {
		a.end(a.stream(a.lruHead), EndFlush, ts)
	}
}

// ---- the slow path ----

// slow handles every segment the fast path does not: first segments,
// SYN/FIN/RST, out of order, overlaps, snap-length cuts, ACKs that may
// reveal holes.
func (a *Assembler) slow(s *stream, d flow.Dir, seq, ack uint32, flags uint8, p []byte, n int, ts int64) {
	h := &s.h[d]
	if flags&decode.TCPSyn != 0 {
		seq++ // the SYN takes one sequence number: data starts after it
	}
	switch {
	case h.flags&hInit == 0:
		h.flags |= hInit
		h.ref, h.next = seq, seq
		if flags&decode.TCPSyn == 0 {
			// No SYN: we do not know what came before.
			a.stats.MidstreamUnknown++
			s.c.Gap(d, -1, ts)
		}
	case flags&decode.TCPSyn != 0 && seq != h.ref && h.next == h.ref && h.head == nil && h.flags&hFin == 0:
		// A SYN with another ISN while nothing was delivered, given up or
		// held: the SYN (or SYN-ACK) we started from was stale, or the
		// capture started mid-stream just before it; start from this one.
		h.ref, h.next = seq, seq
		h.flags &^= hAcked
	case n > 0 && h.flags&hFin == 0 && !inWindow(seq, h.next):
		// Only data resynchronises: a stray ACK or RST with an odd
		// sequence number must not restart a healthy stream.
		a.resync(s, d, seq, ts)
	}
	if flags&decode.TCPFin != 0 && h.flags&hFin == 0 {
		// A FIN before bytes already delivered (or out of any window)
		// cannot be this stream's: ignore it rather than end the
		// direction in the past.
		if fin := seq + uint32(n); seqDiff(fin, h.next) >= 0 && inWindow(fin, h.next) {
			h.fin = fin
			h.flags |= hFin
			a.trimAfterFIN(s, d)
		}
	}
	if n > 0 {
		a.data(s, d, seq, p, n, ts)
	}
	if flags&decode.TCPAck != 0 {
		if o := &s.h[d^1]; o.noteAck(ack) && o.head != nil {
			a.ackSkip(s, d^1, ts)
		}
	}
	if flags&decode.TCPRst != 0 {
		a.end(s, EndReset, ts)
		return
	}
	if s.h[0].done() && s.h[1].done() {
		a.end(s, EndClosed, ts)
	}
}

// resync restarts direction d at seq, a sequence number beyond any window
// of what came before: the holes still open are given up (GapMissing)
// and the consumer learns that it starts over mid-stream (Gap -1).
func (a *Assembler) resync(s *stream, d flow.Dir, seq uint32, ts int64) {
	a.flushHalf(s, d, &a.stats.GapMissing, ts)
	h := &s.h[d]
	h.ref, h.next = seq, seq
	h.flags &^= hAcked
	a.stats.Resyncs++
	s.c.Gap(d, -1, ts)
}

// noteAck records an acknowledgment of direction h's bytes; it reports
// whether it moved forward.
func (h *half) noteAck(ack uint32) bool {
	if h.flags&hInit == 0 {
		return false
	}
	if h.flags&hAcked == 0 || seqDiff(ack, h.acked) > 0 || !inWindow(h.acked, h.next) {
		h.acked = ack
		h.flags |= hAcked
		return true
	}
	return false
}

// data places the n sequence numbers from seq (the first len(p) of them
// captured, the rest cut by the snap length) of direction d.
func (a *Assembler) data(s *stream, d flow.Dir, seq uint32, p []byte, n int, ts int64) {
	h := &s.h[d]
	if h.flags&hFin != 0 {
		lim := seqDiff(h.fin, seq)
		if lim <= 0 {
			a.stats.AfterFIN += uint64(len(p))
			return
		}
		if int64(lim) < int64(n) {
			n = int(lim)
			if len(p) > n {
				a.stats.AfterFIN += uint64(len(p) - n)
				p = p[:n]
			}
		}
	}
	for {
		if off := seqDiff(h.next, seq); off > 0 {
			// The start was delivered or given up already.
			k := min(int(off), n)
			r := min(k, len(p))
			a.old(h, seq, r)
			seq += uint32(k)
			p = p[r:]
			n -= k
			if n == 0 {
				return
			}
		}
		if seq == h.next {
			a.inOrder(s, d, p, n, ts)
			return
		}
		// Out of order: make room within both budgets, then copy. Making
		// room delivers data, so the segment may be in order afterwards:
		// start over.
		cost := a.merge(s, d, seq, p, n, true)
		if int64(h.mem)+cost > a.perDir {
			a.skipHole(s, d, seq, &a.stats.BudgetDir, ts)
			continue
		}
		if a.mem+cost > a.total {
			a.releaseOldest(s, d, seq, ts)
			continue
		}
		a.merge(s, d, seq, p, n, false)
		if h.flags&hAcked != 0 {
			a.ackSkip(s, d, ts)
		}
		return
	}
}

// old counts r captured bytes from seq that lie before the next expected
// byte: before the direction's start, or duplicates of what was delivered
// or given up. (Delivered bytes are not kept, so they cannot be compared.)
func (a *Assembler) old(h *half, seq uint32, r int) {
	if b := seqDiff(h.ref, seq); b > 0 {
		k := min(int(b), r)
		a.stats.BeforeStart += uint64(k)
		r -= k
	}
	a.stats.OverlapDropped += uint64(r)
}

// overlap counts the captured bytes p that fall on chunk c from offset
// off: first wins, so they are dropped; those that differ are conflicts.
func (a *Assembler) overlap(c *chunk, off int, p []byte) {
	switch {
	case len(p) == 0:
	case c.data == nil || bytes.Equal(c.data[off:off+len(p)], p):
		a.stats.OverlapDropped += uint64(len(p))
	default:
		a.stats.OverlapConflict += uint64(len(p))
	}
}

// inOrder delivers a segment that starts at the next expected byte,
// interleaved with the buffered chunks it runs into (those win where they
// overlap it), then whatever buffered data became contiguous.
func (a *Assembler) inOrder(s *stream, d flow.Dir, p []byte, n int, ts int64) {
	h := &s.h[d]
	for n > 0 {
		c := h.head
		if c != nil && c.seq == h.next {
			ov := min(n, int(c.n))
			r := min(ov, len(p))
			a.overlap(c, 0, p[:r])
			p = p[r:]
			n -= ov
			a.popDeliver(s, d, ts)
			continue
		}
		lim := n
		if c != nil {
			lim = min(lim, int(seqDiff(c.seq, h.next)))
		}
		r := min(lim, len(p))
		if r > 0 {
			h.next += uint32(r)
			a.stats.DeliveredBytes += uint64(r)
			s.c.Data(d, p[:r], ts)
			p = p[r:]
		}
		if cut := lim - r; cut > 0 {
			h.next += uint32(cut)
			a.stats.Snaplen += uint64(cut)
			s.c.Gap(d, int64(cut), ts)
		}
		n -= lim
	}
	a.deliverContiguous(s, d, ts)
}

// popDeliver delivers the head chunk, which starts at the next expected
// byte. State is updated before the consumer is called.
func (a *Assembler) popDeliver(s *stream, d flow.Dir, ts int64) {
	h := &s.h[d]
	c := h.head
	h.head = c.next
	if h.head == nil {
		h.tail = nil
		a.holdRemove(s, d)
	}
	cost := c.cost()
	h.mem -= int32(cost)
	a.mem -= cost
	h.next = c.end()
	if c.data != nil {
		h.held -= c.n
		a.held -= int64(c.n)
		a.stats.DeliveredBytes += uint64(c.n)
		s.c.Data(d, c.data, ts)
	} else {
		a.stats.Snaplen += uint64(c.n)
		s.c.Gap(d, int64(c.n), ts)
	}
	a.pool.put(c)
}

func (a *Assembler) deliverContiguous(s *stream, d flow.Dir, ts int64) {
	h := &s.h[d]
	for h.head != nil && h.head.seq == h.next {
		a.popDeliver(s, d, ts)
	}
}

// skipHole gives up the first hole of direction d — before the head chunk
// or before seq, the out-of-order segment being placed, whichever comes
// first (the segment is not a hole) — counting it in counter, and
// delivers what became contiguous.
func (a *Assembler) skipHole(s *stream, d flow.Dir, seq uint32, counter *uint64, ts int64) {
	h := &s.h[d]
	t := seq
	if c := h.head; c != nil && seqDiff(c.seq, t) < 0 {
		t = c.seq
	}
	if g := seqDiff(t, h.next); g > 0 {
		h.next = t
		*counter += uint64(g)
		s.c.Gap(d, int64(g), ts)
	}
	a.deliverContiguous(s, d, ts)
}

// flushHalf gives up every hole of direction d and delivers all it holds.
func (a *Assembler) flushHalf(s *stream, d flow.Dir, counter *uint64, ts int64) {
	h := &s.h[d]
	for h.head != nil {
		a.skipHole(s, d, h.head.seq, counter, ts)
	}
}

// releaseOldest makes room in the total budget for a segment at seq of
// direction d of s: the direction that has held data longest gives up its
// holes. When that is d itself (or nothing is held and the segment alone
// is too large), only d's first hole is given up, the segment being
// placed counting as data.
func (a *Assembler) releaseOldest(s *stream, d flow.Dir, seq uint32, ts int64) {
	id := a.holdHead
	if id == 0 || id == holdID(s.self, d) {
		a.skipHole(s, d, seq, &a.stats.BudgetTotal, ts)
		return
	}
	vs, vd := a.stream(ref(id>>1)), flow.Dir(id&1)
	a.flushHalf(vs, vd, &a.stats.BudgetTotal, ts)
	// Giving up its holes may finish another stream; s itself is checked
	// when its segment is done.
	if vs != s && vs.h[0].done() && vs.h[1].done() {
		a.end(vs, EndClosed, ts)
	}
}

// ackSkip gives up the holes of direction d that the peer acknowledged,
// up to the highest buffered byte.
func (a *Assembler) ackSkip(s *stream, d flow.Dir, ts int64) {
	h := &s.h[d]
	for h.head != nil {
		if g := seqDiff(h.acked, h.next); g <= 0 || g > maxWindow {
			return
		}
		t := h.head.seq
		if seqDiff(t, h.acked) > 0 {
			t = h.acked
		}
		g := seqDiff(t, h.next)
		h.next = t
		a.stats.GapAcked += uint64(g)
		s.c.Gap(d, int64(g), ts)
		a.deliverContiguous(s, d, ts)
	}
}

// merge places the out-of-order range [seq, seq+n) of direction d (p: its
// captured prefix) into the holes of the chunk list: first wins, so only
// the parts no chunk covers are copied. With dry set it changes nothing
// and returns the memory the placement would take, exactly, so that the
// budgets can be enforced before anything is allocated.
func (a *Assembler) merge(s *stream, d flow.Dir, seq uint32, p []byte, n int, dry bool) int64 {
	h := &s.h[d]
	var cost int64
	// prev: the last chunk ending at or before seq; c: the chunk after it.
	var prev *chunk
	c := h.head
	if t := h.tail; t != nil && seqDiff(seq, t.end()) >= 0 {
		prev, c = t, nil // appending: the usual case while a hole is open
	} else {
		for c != nil && seqDiff(c.end(), seq) <= 0 {
			prev, c = c, c.next
		}
	}
	for n > 0 {
		if c != nil && seqDiff(c.seq, seq) <= 0 {
			// c covers seq: those bytes are taken.
			ov := min(n, int(seqDiff(c.end(), seq)))
			r := min(ov, len(p))
			if !dry {
				a.overlap(c, int(seqDiff(seq, c.seq)), p[:r])
			}
			p = p[r:]
			seq += uint32(ov)
			n -= ov
			prev, c = c, c.next
			continue
		}
		fill := n
		if c != nil {
			fill = min(fill, int(seqDiff(c.seq, seq)))
		}
		for r := min(fill, len(p)); r > 0; {
			m := min(r, maxChunk)
			if dry {
				cost += chunkCost(m)
			} else {
				nc := a.pool.get(m)
				copy(nc.data, p[:m])
				nc.seq, nc.n = seq, int32(m)
				a.link(s, d, prev, nc)
				prev = nc
			}
			p = p[m:]
			seq += uint32(m)
			n -= m
			fill -= m
			r -= m
		}
		if fill > 0 {
			// The snap length cut the rest: a phantom.
			if dry {
				cost += chunkCost(0)
			} else {
				nc := a.pool.get(0)
				nc.seq, nc.n = seq, int32(fill)
				a.link(s, d, prev, nc)
				prev = nc
			}
			seq += uint32(fill)
			n -= fill
		}
	}
	return cost
}

// link inserts chunk c after prev (nil: at the head) and charges it.
func (a *Assembler) link(s *stream, d flow.Dir, prev, c *chunk) {
	h := &s.h[d]
	if h.head == nil {
		a.holdPush(s, d)
	}
	if prev == nil {
		c.next = h.head
		h.head = c
	} else {
		c.next = prev.next
		prev.next = c
	}
	if c.next == nil {
		h.tail = c
	}
	cost := c.cost()
	h.mem += int32(cost)
	a.mem += cost
	if a.mem > int64(a.stats.BufferedMemoryPeak) {
		a.stats.BufferedMemoryPeak = uint64(a.mem)
	}
	if c.data != nil {
		h.held += c.n
		a.held += int64(c.n)
	}
}

// trimAfterFIN drops what direction d holds beyond its FIN.
func (a *Assembler) trimAfterFIN(s *stream, d flow.Dir) {
	h := &s.h[d]
	var prev *chunk
	for c := h.head; c != nil; prev, c = c, c.next {
		if seqDiff(c.seq, h.fin) >= 0 {
			// c and everything after it lie beyond the FIN.
			if prev == nil {
				h.head = nil
				a.holdRemove(s, d)
			} else {
				prev.next = nil
			}
			h.tail = prev
			for c != nil {
				nx := c.next
				cost := c.cost()
				h.mem -= int32(cost)
				a.mem -= cost
				if c.data != nil {
					h.held -= c.n
					a.held -= int64(c.n)
					a.stats.AfterFIN += uint64(c.n)
				}
				a.pool.put(c)
				c = nx
			}
			return
		}
		if seqDiff(c.end(), h.fin) > 0 {
			keep := seqDiff(h.fin, c.seq)
			if c.data != nil {
				cut := c.n - keep
				h.held -= cut
				a.held -= int64(cut)
				a.stats.AfterFIN += uint64(cut)
				c.data = c.data[:keep]
			}
			c.n = keep
		}
	}
}

// end ends stream s: it leaves every structure first, so that nothing the
// consumer does (or a panic in it) can find it half-ended; then what it
// held is delivered, the holes before given up, and End is called.
func (a *Assembler) end(s *stream, why EndReason, ts int64) {
	a.idx.remove(s.tag, s.self)
	a.lruRemove(s)
	for d := range flow.Dir(2) {
		if s.h[d].head != nil {
			a.holdRemove(s, d)
		}
	}
	if a.last == s.self {
		a.last = 0
	}
	a.stats.StreamsActive--
	var counter *uint64
	switch why {
	case EndReset:
		a.stats.EndedReset++
		counter = &a.stats.GapMissing
	case EndIdle:
		a.stats.EndedIdle++
		counter = &a.stats.IdleEnd
	case EndEvicted:
		a.stats.EndedEvicted++
		counter = &a.stats.EvictedStream
	case EndFlush:
		a.stats.EndedFlush++
		counter = &a.stats.GapMissing
	default:
		a.stats.EndedClosed++
		counter = &a.stats.GapMissing
	}
	c := s.c
	var heads [2]*chunk
	var nexts [2]uint32
	for d := range s.h {
		h := &s.h[d]
		heads[d], nexts[d] = h.head, h.next
		a.mem -= int64(h.mem)
		a.held -= int64(h.held)
	}
	r := s.self
	*s = stream{self: r, next: a.free}
	a.free = r

	for d := range flow.Dir(2) {
		next := nexts[d]
		for ch := heads[d]; ch != nil; {
			nx := ch.next
			if g := seqDiff(ch.seq, next); g > 0 {
				*counter += uint64(g)
				c.Gap(d, int64(g), ts)
			}
			next = ch.end()
			if ch.data != nil {
				a.stats.DeliveredBytes += uint64(ch.n)
				c.Data(d, ch.data, ts)
			} else {
				a.stats.Snaplen += uint64(ch.n)
				c.Gap(d, int64(ch.n), ts)
			}
			a.pool.put(ch)
			ch = nx
		}
	}
	c.End(why, ts)
}

// ---- stream records, index, lists ----

func (a *Assembler) stream(r ref) *stream {
	i := uint32(r - 1)
	return &a.slabs[i>>a.slabBits][i&(1<<a.slabBits-1)]
}

func (a *Assembler) alloc() *stream {
	if a.free != 0 {
		s := a.stream(a.free)
		a.free = s.next
		s.next = 0
		return s
	}
	size := 1 << a.slabBits
	if a.allocated == len(a.slabs)*size {
		a.slabs = append(a.slabs, make([]stream, size))
	}
	a.allocated++
	s := a.stream(ref(a.allocated))
	s.self = ref(a.allocated)
	return s
}

// lookupHint finds stream k through h when h is up to date, else by
// lookup, and brings h up to date.
func (a *Assembler) lookupHint(h *Hint, k *flow.Key) *stream {
	if h == nil {
		return a.lookup(k)
	}
	if h.r != 0 {
		// A freed record has no consumer; a reused one has another key.
		if s := a.stream(h.r); s.c != nil && s.key == *k {
			return s
		}
	}
	s := a.lookup(k)
	h.r = 0
	if s != nil {
		h.r = s.self
	}
	return s
}

func (a *Assembler) lookup(k *flow.Key) *stream {
	if a.last != 0 {
		if s := a.stream(a.last); s.key == *k {
			return s
		}
	}
	return a.lookupHash(k, k.Hash())
}

func (a *Assembler) lookupHash(k *flow.Key, hash uint64) *stream {
	x := &a.idx
	tag := uint32(hash >> 32)
	mask := uint64(len(x.slots) - 1)
	for i := x.home(tag); ; i = (i + 1) & mask {
		sl := x.slots[i]
		if sl == 0 {
			return nil
		}
		if uint32(sl>>32) == tag {
			if s := a.stream(ref(sl)); s.key == *k {
				a.last = s.self
				return s
			}
		}
	}
}

func (a *Assembler) lruRemove(s *stream) {
	if s.prev != 0 {
		a.stream(s.prev).next = s.next
	} else {
		a.lruHead = s.next
	}
	if s.next != 0 {
		a.stream(s.next).prev = s.prev
	} else {
		a.lruTail = s.prev
	}
	s.prev, s.next = 0, 0
}

func (a *Assembler) lruPush(s *stream) {
	s.next = 0
	s.prev = a.lruTail
	if a.lruTail != 0 {
		a.stream(a.lruTail).next = s.self
	} else {
		a.lruHead = s.self
	}
	a.lruTail = s.self
}

// touch records activity: s moves to the back of the LRU list.
func (a *Assembler) touch(s *stream) {
	s.seen = a.clock
	if a.lruTail != s.self {
		a.lruRemove(s)
		a.lruPush(s)
	}
}

func holdID(r ref, d flow.Dir) uint32 { return uint32(r)<<1 | uint32(d) }

func (a *Assembler) holder(id uint32) *half { return &a.stream(ref(id >> 1)).h[id&1] }

func (a *Assembler) holdPush(s *stream, d flow.Dir) {
	h := &s.h[d]
	id := holdID(s.self, d)
	h.hprev, h.hnext = a.holdTail, 0
	if a.holdTail != 0 {
		a.holder(a.holdTail).hnext = id
	} else {
		a.holdHead = id
	}
	a.holdTail = id
}

func (a *Assembler) holdRemove(s *stream, d flow.Dir) {
	h := &s.h[d]
	if h.hprev != 0 {
		a.holder(h.hprev).hnext = h.hnext
	} else {
		a.holdHead = h.hnext
	}
	if h.hnext != 0 {
		a.holder(h.hnext).hprev = h.hprev
	} else {
		a.holdTail = h.hprev
	}
	h.hprev, h.hnext = 0, 0
}

// nopConsumer stands in for a nil Consumer: the stream is only counted.
type nopConsumer struct{}

func (nopConsumer) Data(flow.Dir, []byte, int64) {}
func (nopConsumer) Gap(flow.Dir, int64, int64)   {}
func (nopConsumer) End(EndReason, int64)         {}
