package kafka

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

const (
	// minFrame: a request is at least api_key, api_version and
	// correlation_id; a response at least its correlation_id.
	minReqFrame  = 8
	minRespFrame = 4
	// maxFrame bounds the length a frame may announce. It is never
	// used to size anything (frames are walked, not buffered); beyond it
	// the length is called malformed. Brokers refuse requests over
	// socket.request.max.bytes (100 MiB by default); fetch responses are
	// bounded by fetch.max.bytes (50 MiB by default).
	maxFrame = 256 << 20
	// window is how many bytes a resynchronisation candidate is judged
	// on (held between calls when cut).
	window = 64
)

// request is a request waiting for its response.
type request struct {
	ts, bytes int64
	done      int64 // ts of the call that completed it
	flags     l7.Flags
	c         caps
}

// side is the decoding state of one direction.
type side struct {
	client bool

	resync bool
	carry  [window]byte
	ncarry int

	// The frame being read: its 4-byte length, then its body.
	lenBuf  [4]byte
	nlen    int
	inFrame bool
	remain  int64 // body bytes left
	size    int64 // the frame's length on the wire, prefix included
	start   int64 // ts of its first byte
	trunc   bool  // part of the frame was lost in a gap
	holes   int64 // bytes of the frame lost in gaps
	header  bool  // the header program is done

	w walker
	c caps
}

type parser struct {
	ctx   l7.Context
	sides [2]side
	// decided: the roles were settled on the first bytes; swap: the flow
	// table's server is the client. pre holds the server's first bytes
	// until then.
	decided, swap bool
	pre           [window]byte
	npre          int
	preTS         int64

	pending l7.Queue[request]
	// expired remembers the API of requests emitted unanswered
	// (timeout, MaxPending), so that a late response can still be
	// decoded and named.
	expired    []expiredReq
	nextExpire int

	// The request being emitted, and the one the response being read
	// answers.
	out     request
	cur     request
	matched bool
	late    bool // the match is an expired request (late response)

	tx     l7.Transaction
	fields [9]l7.Field
	num    [96]byte
}

type expiredReq struct {
	corr     int32
	key, ver int16
}

func newParser(ctx l7.Context) l7.Parser {
	d := l7.DefaultConfig().Context(ctx.Transport)
	if ctx.MaxPending <= 0 {
		ctx.MaxPending = d.MaxPending
	}
	p := &parser{ctx: ctx}
	p.sides[flow.ClientToServer].client = true
	p.pending = l7.NewQueue[request](ctx.MaxPending)
	return p
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if dir > flow.ServerToClient {
		return
	}
	p.expire(ts)
	if !p.decided {
		if b = p.decide(dir, b, ts); b == nil {
			return
		}
	}
	p.feed(p.side(dir), b, ts)
}

// side returns the state of the side that sent dir's bytes.
func (p *parser) side(dir flow.Dir) *side {
	if p.swap {
		dir ^= 1
	}
	return &p.sides[dir]
}

// decide looks at the first bytes of the flow for the roles. A capture
// that starts mid-connection leaves the flow table to guess which end is
// the client (by port); when the first bytes the "server" sends are a
// request header with a printable client id, the guess was wrong, and
// the sides swap so that requests are read as requests, and the
// transactions' Client and Server follow (l7.SwapRoles).
// Until the first bytes from the server are enough to tell (window
// bytes at most), they are held. It returns what of b is left to feed.
func (p *parser) decide(dir flow.Dir, b []byte, ts int64) []byte {
	if dir == flow.ServerToClient {
		if p.npre == 0 {
			p.preTS = ts
		}
		k := copy(p.pre[p.npre:], b)
		p.npre += k
		b = b[k:]
		if v, _ := reqStart(p.pre[:p.npre]); v == candMore && len(b) == 0 {
			return nil
		}
	}
	p.settle()
	if len(b) == 0 {
		return nil
	}
	return b
}

// settle takes the decision with the bytes held, and feeds them.
func (p *parser) settle() {
	p.decided = true
	if v, printable := reqStart(p.pre[:p.npre]); v == candYes && printable {
		p.swap = true
		l7.SwapRoles(p.ctx.Sink)
		p.sides[0], p.sides[1] = p.sides[1], p.sides[0]
		p.sides[0].client, p.sides[1].client = true, false
	}
	if p.npre > 0 {
		var held [window]byte
		n := copy(held[:], p.pre[:p.npre])
		p.npre = 0
		p.feed(p.side(flow.ServerToClient), held[:n], p.preTS)
	}
}

func (p *parser) feed(s *side, b []byte, ts int64) {
	for len(b) > 0 {
		if s.resync {
			b = p.resync(s, b, ts)
			continue
		}
		if !s.inFrame {
			if s.nlen == 0 {
				s.start = ts
				if len(b) >= 4 {
					// The common case: the length is whole in b.
					p.begin(s, int64(int32(binary.BigEndian.Uint32(b))))
					b = b[4:]
					continue
				}
			}
			k := copy(s.lenBuf[s.nlen:], b)
			s.nlen += k
			b = b[k:]
			if s.nlen == 4 {
				s.nlen = 0
				p.begin(s, int64(int32(binary.BigEndian.Uint32(s.lenBuf[:]))))
			}
			continue
		}
		n := int(min(int64(len(b)), s.remain))
		p.walk(s, b[:n])
		s.remain -= int64(n)
		b = b[n:]
		if s.remain == 0 {
			p.frameDone(s, ts)
		}
	}
}

// begin starts a frame of n body bytes. A length no frame can have is
// malformed: the four bytes are dropped and the side resynchronises.
func (p *parser) begin(s *side, n int64) {
	lo := int64(minRespFrame)
	if s.client {
		lo = minReqFrame
	}
	if n < lo || n > maxFrame {
		p.ctx.Sink.Drop(l7.DropMalformed, 4)
		s.resync = true
		return
	}
	s.inFrame, s.remain, s.size, s.trunc, s.header, s.holes = true, n, n+4, false, false, 0
	s.c.reset()
	if s.client {
		s.w.start(reqHeader, &s.c)
	} else {
		s.w.start(respHeader, &s.c)
	}
}

// walk runs the side's program over b, a piece of the frame body.
func (p *parser) walk(s *side, b []byte) {
	for len(b) > 0 && !s.w.done && !s.w.bad {
		k := s.w.feed(b)
		b = b[k:]
		if !s.header && s.w.pc > 0 && s.w.prog[s.w.pc-1].code == opHeader {
			s.header = true
			p.headerDone(s)
		}
	}
}

// headerDone picks the program for the rest of the frame.
func (p *parser) headerDone(s *side) {
	c := &s.c
	if s.client {
		s.w.prog, s.w.pc = reqProgram(c.key, c.ver), 0
		if s.w.prog == nil {
			s.w.done = true
		}
		return
	}
	p.matched, p.late = false, false
	p.match(c.corr)
	var prog []op
	if p.matched {
		prog = respProgram(p.cur.c.key, p.cur.c.ver)
	}
	s.w.prog, s.w.pc = prog, 0
	if prog == nil {
		s.w.done = true
	}
}

// match finds the request a response answers, by correlation id. Kafka
// answers the requests of a connection in order, so the requests before
// it will never be answered: they are emitted as no_response.
func (p *parser) match(corr int32) {
	n := p.pending.Len()
	found := -1
	for i := range n {
		if p.pending.At(i).c.corr == corr {
			found = i
			break
		}
	}
	if found < 0 {
		for _, e := range p.expired {
			if e.corr == corr {
				p.cur = request{c: caps{key: e.key, ver: e.ver, corr: e.corr, haveKey: true, haveCo: true}}
				p.matched, p.late = true, true
				return
			}
		}
		return
	}
	for range found {
		p.out, _ = p.pending.Pop()
		p.emit(&p.out, l7.OutcomeNoResponse)
	}
	p.cur, _ = p.pending.Pop()
	p.matched = true
}

// frameDone is called when the last byte of a frame has been read.
func (p *parser) frameDone(s *side, ts int64) {
	s.inFrame = false
	c := &s.c
	if s.client {
		if !c.haveKey || !c.haveCo {
			// The header was lost in a gap.
			p.ctx.Sink.Drop(l7.DropGap, int(s.size-s.holes))
			return
		}
		// (Requests live in parser fields or in the queue, never in
		// locals: Transaction fields slice them, a local would escape.)
		p.out = request{ts: s.start, bytes: s.size, done: ts, c: *c}
		if s.trunc || s.w.bad || !s.w.done || c.truncated {
			p.out.flags |= l7.FlagTruncated
		}
		if c.key == 0 && c.haveAcks && c.acks == 0 {
			// Produce with acks=0: the broker sends no response.
			p.emit(&p.out, l7.OutcomeOneWay)
			return
		}
		var evicted bool
		if p.out, evicted = p.pending.Push(p.out); evicted {
			p.emit(&p.out, l7.OutcomeNoResponse)
			p.remember(&p.out)
		}
		return
	}
	if !c.haveCo {
		p.ctx.Sink.Drop(l7.DropGap, int(s.size-s.holes))
		return
	}
	if !p.matched {
		p.emitResp(nil, s, ts, l7.OutcomeNoRequest)
		return
	}
	if p.late {
		p.emitResp(&p.cur, s, ts, l7.OutcomeNoRequest)
	} else {
		p.emitResp(&p.cur, s, ts, l7.OutcomeOK)
	}
	p.matched, p.late = false, false
}

// emitCur emits the request whose response was lost (a late one was
// already emitted).
func (p *parser) emitCur() {
	if !p.late {
		p.emit(&p.cur, l7.OutcomeNoResponse)
	}
	p.matched, p.late = false, false
}

// remember keeps an unanswered request's API for a late response.
func (p *parser) remember(r *request) {
	e := expiredReq{corr: r.c.corr, key: r.c.key, ver: r.c.ver}
	if len(p.expired) < p.ctx.MaxPending {
		p.expired = append(p.expired, e)
		return
	}
	p.expired[p.nextExpire] = e
	p.nextExpire = (p.nextExpire + 1) % len(p.expired)
}

// expire emits the requests older than the timeout as unanswered.
func (p *parser) expire(ts int64) {
	if p.ctx.Timeout <= 0 {
		return
	}
	for {
		// (Not in the call that completed the request: how the stream
		// was cut into calls must not change what expires.)
		head, ok := p.pending.Peek()
		if !ok || ts-head.ts <= p.ctx.Timeout || ts <= head.done {
			return
		}
		p.out, _ = p.pending.Pop()
		p.emit(&p.out, l7.OutcomeNoResponse)
		p.remember(&p.out)
	}
}

// Gap implements l7.Parser.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if dir > flow.ServerToClient || n == 0 {
		return
	}
	if !p.decided && dir == flow.ServerToClient && p.npre > 0 {
		// The held bytes are all the server sent before the hole.
		p.settle()
	}
	s := p.side(dir)
	if !s.resync && s.inFrame && n > 0 && n < s.remain {
		// The hole is inside the frame, whose length is known: the next
		// frame is still found. What the program had not read yet is
		// lost.
		s.remain -= n
		s.holes += n
		s.trunc = true
		if !s.w.done {
			s.w.bad = true
		}
		if !s.header && !s.client {
			// The correlation id was lost: no request to match.
			s.header = true
		}
		return
	}
	if s.inFrame || s.nlen > 0 {
		p.ctx.Sink.Drop(l7.DropGap, int(s.size-s.remain-s.holes)+s.nlen)
		if !s.client && p.matched {
			// The response that was being read answered this request.
			p.emitCur()
		}
	}
	if s.ncarry > 0 {
		p.ctx.Sink.Drop(l7.DropResync, s.ncarry)
		s.ncarry = 0
	}
	s.inFrame, s.nlen, s.resync = false, 0, true
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	if !p.decided {
		p.settle()
	}
	for i := range p.sides {
		s := &p.sides[i]
		if s.inFrame || s.nlen > 0 {
			// A frame cut by the end of the flow.
			p.ctx.Sink.Drop(l7.DropOther, int(s.size-s.remain-s.holes)+s.nlen)
			if !s.client && p.matched {
				p.emitCur()
			}
			s.inFrame, s.nlen = false, 0
		}
		if s.ncarry > 0 {
			p.ctx.Sink.Drop(l7.DropResync, s.ncarry)
			s.ncarry = 0
		}
	}
	for {
		var ok bool
		if p.out, ok = p.pending.Pop(); !ok {
			return
		}
		p.emit(&p.out, l7.OutcomeNoResponse)
	}
}
