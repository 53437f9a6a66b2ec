package redis

import (
	"bytes"
	"strconv"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

const (
	// maxDepth bounds aggregate nesting. Redis replies nest a few levels
	// (COMMAND DOCS, CLUSTER SHARDS: about 6); deeper is treated as
	// malformed rather than tracked.
	maxDepth = 24
	// maxOp bounds the upper-cased command name (Op).
	maxOp = 32
	// maxArg and maxText bound one argument and the whole command line in
	// the request field. A pending request keeps its text until its reply
	// comes, so these (not l7.MaxField) set the memory a pipeline of
	// ctx.MaxPending requests can hold: MaxPending * (maxText + maxOp).
	maxArg  = 256
	maxText = 1024
	// maxElem bounds the first elements of a reply kept to recognise
	// pub/sub pushes (kind, channel, count).
	maxElem = 128
	// maxBulk and maxCount bound the lengths a header may announce. They
	// are never used to size anything (payloads are skipped by counting);
	// beyond them the header is called malformed.
	maxBulk  = 1 << 40
	maxCount = 1 << 32
	// carryMax bounds the bytes held between calls while resynchronising,
	// when a plausible message start is cut at the end of a call: the
	// window in which a message start is judged.
	carryMax = 64
)

// capture targets: where the bytes of the leaf value being read go.
const (
	capNone uint8 = iota
	capArg        // a request argument
	capErr        // a top-level error reply's text
	capElem       // one of the first elements of an array or push reply
)

// side is the decoding state of one direction: a streaming RESP reader
// that never holds more than one split line, counts bulk payloads
// instead of buffering them, and keeps a small stack of element counts.
type side struct {
	client bool

	// resync: looking for a message start (after a gap, a mid-stream
	// start or malformed bytes). bound: the next byte starts a line.
	resync, bound bool
	carry         [carryMax]byte
	ncarry        int

	// A line cut by the end of a Data call: its first lineCap bytes, its
	// full length so far, and whether one is pending.
	split     l7.Buf
	splitLen  int
	splitting bool
	splitLost bool // the memory budget refused to hold the line

	inMsg    bool
	msgTS    int64
	msgStart int64
	off      int64 // stream bytes consumed (holes skipped in a gap included)
	holes    int64 // bytes of the current message lost in gaps
	lastTS   int64 // of the last Data call

	depth    int
	attrs    int    // attribute frames on the stack
	attrMask uint32 // bit d: frame d is an attribute
	rem      [maxDepth]int64
	bulk     int64 // payload bytes plus CRLF left in the current bulk string
	strm     bool  // inside a RESP3 streamed string ($?), reading ;n chunks

	top     byte  // type of the top-level value ('i' for an inline command)
	topN    int64 // its element count (aggregates)
	nilTop  bool
	elems   int64 // elements of the top-level aggregate started so far
	trunc   bool  // part of the message was lost in a gap
	capture uint8
	capEl   bool // keep the first elements (possible push)
}

// request is a command waiting for its reply.
type request struct {
	ts, bytes  int64
	done       int64  // ts of the call that completed it
	text       []byte // the command line, args cut, credentials redacted
	op         [maxOp]byte
	opLen      uint8
	kind       cmdKind
	flags      l7.Flags
	keyS, keyE int32
	nargs      int64
	expect     int64 // subscribe confirmations still due; -1: unknown
	conf       reply // the confirmations so far (bytes summed)
}

type parser struct {
	ctx     l7.Context
	sides   [2]side
	lineCap int
	maxMsg  int

	// The request being assembled, and the one being emitted.
	req      request
	out      request
	argIdx   int
	argStart int
	argCut   bool
	argS     [3]int32
	argE     [3]int32
	keyAt    int
	redactAt int
	opHash   uint32 // FNV-1a of the upper-cased command name so far
	now      int64  // ts of the current call
	subSet   bool   // CONFIG SET / SENTINEL SET|CONFIG / ACL SETUSER

	pending   l7.Queue[request]
	free      [][]byte
	owed      int // replies still due to requests already emitted as no_response
	subMode   bool
	monitor   bool
	replyOff  bool
	replySkip bool

	// Reply capture.
	errBuf []byte
	errCut bool
	el     []byte
	elS    [3]int32
	elE    [3]int32
	elT    [3]byte
	elCur  int

	tx     l7.Transaction
	fields [3]l7.Field
	num    [24]byte
	opBuf  [maxOp]byte
}

func newParser(ctx l7.Context) l7.Parser {
	d := l7.DefaultConfig().Context(ctx.Transport)
	if ctx.MaxMessage <= 0 {
		ctx.MaxMessage = d.MaxMessage
	}
	if ctx.MaxPending <= 0 {
		ctx.MaxPending = d.MaxPending
	}
	p := &parser{ctx: ctx, maxMsg: ctx.MaxMessage}
	p.lineCap = min(ctx.MaxMessage, 2*l7.MaxField)
	p.sides[flow.ClientToServer].client = true
	for i := range p.sides {
		p.sides[i].split = ctx.NewBuf()
	}
	p.pending = l7.NewQueue[request](ctx.MaxPending)
	return p
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if dir > flow.ServerToClient {
		return
	}
	p.expire(ts)
	s := &p.sides[dir]
	s.lastTS = ts
	p.now = ts
	p.feed(s, b, ts)
}

func (p *parser) feed(s *side, b []byte, ts int64) {
	for len(b) > 0 {
		if s.resync {
			b = p.resync(s, b, ts)
			continue
		}
		if !s.inMsg {
			s.inMsg, s.msgTS, s.msgStart, s.holes = true, ts, s.off, 0
			if s.client && b[0] == '*' {
				// Most requests arrive whole: read them in one pass.
				if n := p.wholeRequest(s, b); n > 0 {
					b = b[n:]
					continue
				}
			}
		}
		if s.bulk > 0 {
			n := len(b)
			if int64(n) > s.bulk {
				n = int(s.bulk)
			}
			if s.capture != capNone {
				if k := min(int64(n), s.bulk-2); k > 0 {
					p.capBytes(s, b[:k])
				}
			}
			// The payload must end with CRLF: check the bytes of it this
			// chunk holds (a chunk may end between them).
			if start := s.bulk; start-int64(n) < 2 {
				if j := start - 2; j >= 0 && b[j] != '\r' {
					s.off += j
					p.malformed(s)
					b = b[j:]
					continue
				}
				if j := start - 1; j < int64(n) && b[j] != '\n' {
					s.off += j
					p.malformed(s)
					b = b[j:]
					continue
				}
			}
			s.bulk -= int64(n)
			s.off += int64(n)
			b = b[n:]
			if s.bulk == 0 {
				if s.strm {
					continue // the next ;n chunk header follows
				}
				p.valueEnd(s, ts)
			}
			continue
		}
		i := indexNL(b)
		if s.splitting {
			if i < 0 {
				// A line longer than MaxMessage is only counted (its
				// first lineCap bytes kept) until its end, then dropped
				// whole: the verdict does not depend on how it was cut.
				p.splitAppend(s, b)
				s.off += int64(len(b))
				return
			}
			p.splitAppend(s, b[:i+1])
			s.off += int64(i + 1)
			b = b[i+1:]
			s.splitting = false
			ln := s.split.Feed(nil)
			cut := s.splitLen > len(ln)
			if !cut {
				ln = trimEOL(ln)
			}
			if s.splitLen > p.maxMsg || s.splitLost {
				p.tooLarge(s)
			} else if !p.line(s, ln, cut, ts) {
				p.malformed(s)
			}
			s.split.Reset()
			s.splitLost = false
			continue
		}
		if i < 0 {
			s.splitting = true
			s.splitLen = 0
			p.splitAppend(s, b)
			s.off += int64(len(b))
			return
		}
		ln := b[:i]
		s.off += int64(i + 1)
		b = b[i+1:]
		if len(ln) > 0 && ln[len(ln)-1] == '\r' {
			ln = ln[:len(ln)-1]
		}
		if i+1 > p.maxMsg {
			p.tooLarge(s)
		} else if !p.line(s, ln, false, ts) {
			p.malformed(s)
		}
	}
}

// indexNL is bytes.IndexByte(b, '\n'), with a plain loop for the short
// header lines that make up most of RESP ("$3\r\n", "+OK\r\n").
func indexNL(b []byte) int {
	n := min(len(b), 16)
	for i := range n {
		if b[i] == '\n' {
			return i
		}
	}
	if n == len(b) {
		return -1
	}
	if i := bytes.IndexByte(b[n:], '\n'); i >= 0 {
		return n + i
	}
	return -1
}

// wholeRequest reads a request that b holds whole, "*<n>\r\n" then n
// "$<len>\r\n<bytes>\r\n", in one pass, and returns its length; 0 when b
// does not hold a whole, plainly formed request, which the general path
// then reads (with the same result: the same argument calls).
func (p *parser) wholeRequest(s *side, b []byte) int {
	n, i := digits(b, 1)
	if n <= 0 || n > 1<<16 || i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' {
		return 0
	}
	i += 2
	// Check the framing before any side effect.
	j := i
	for range n {
		if j >= len(b) || b[j] != '$' {
			return 0
		}
		m, k := digits(b, j+1)
		if m < 0 || k+1 >= len(b) || b[k] != '\r' || b[k+1] != '\n' {
			return 0
		}
		end := k + 2 + m
		if end+1 >= len(b) || b[end] != '\r' || b[end+1] != '\n' {
			return 0
		}
		j = end + 2
	}
	s.top, s.topN = '*', int64(n)
	p.reqBegin(s, int64(n))
	for k := range n {
		m, h := digits(b, i+1)
		start := h + 2
		p.argBegin(k)
		p.argBytes(b[start : start+m])
		p.argEnd(k)
		i = start + m + 2
	}
	s.off += int64(i)
	p.message(s, 0)
	return i
}

// digits parses the decimal number at b[i:] (at most 18 digits) and
// returns it with the index after it; -1 when there is none.
func digits(b []byte, i int) (int, int) {
	n, start := 0, i
	for i < len(b) && i-start < 18 && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == start {
		return -1, i
	}
	return n, i
}

// splitAppend keeps the first lineCap bytes of a split line and counts
// the rest.
func (p *parser) splitAppend(s *side, b []byte) {
	s.splitLen += len(b)
	if room := p.lineCap - s.split.Len(); room > 0 && !s.splitLost {
		all := s.split.Feed(b[:min(room, len(b))])
		if s.split.Keep(all) > 0 {
			s.splitLost = true
		}
	}
}

func trimEOL(ln []byte) []byte {
	if n := len(ln); n > 0 && ln[n-1] == '\n' {
		ln = ln[:n-1]
	}
	if n := len(ln); n > 0 && ln[n-1] == '\r' {
		ln = ln[:n-1]
	}
	return ln
}

// line handles one complete line (without its CRLF). cut says that only
// its first lineCap bytes are in ln. It returns false when the line
// breaks the framing.
func (p *parser) line(s *side, ln []byte, cut bool, ts int64) bool {
	if s.strm {
		// RESP3 streamed string: ";<len>" chunks, ";0" ends it.
		if len(ln) < 2 || ln[0] != ';' || cut {
			return false
		}
		n, ok := parseLen(ln[1:])
		if !ok || n < 0 || n > maxBulk {
			return false
		}
		if n == 0 {
			s.strm = false
			p.valueEnd(s, ts)
			return true
		}
		s.bulk = n + 2
		return true
	}
	if len(ln) == 0 {
		if s.client && s.depth == 0 {
			// A blank line between inline commands: Redis skips it.
			s.inMsg = false
			return true
		}
		return false
	}
	t := ln[0]
	if s.client {
		return p.clientLine(s, t, ln, cut, ts)
	}
	switch t {
	case '*', '%', '~', '>', '|':
		var n int64
		if len(ln) == 2 && ln[1] == '?' && t != '|' {
			n = -1 // streamed aggregate, closed by "."
		} else {
			v, ok := parseLen(ln[1:])
			if !ok || cut || v > maxCount {
				return false
			}
			if v < 0 {
				if v == -1 && t == '*' { // RESP2 null array
					p.valueBegin(s, t, 0)
					if s.depth == 0 {
						s.nilTop = true
					}
					p.valueEnd(s, ts)
					return true
				}
				return false
			}
			n = v
			if t == '%' || t == '|' {
				n *= 2
			}
		}
		p.valueBegin(s, t, n)
		if n == 0 {
			if t != '|' {
				p.valueEnd(s, ts)
			}
			return true
		}
		if s.depth == maxDepth {
			return false
		}
		if t == '|' {
			s.attrMask |= 1 << s.depth
			s.attrs++
		}
		s.rem[s.depth] = n
		s.depth++
		return true
	case '$', '=', '!':
		if len(ln) == 2 && ln[1] == '?' && t == '$' {
			p.valueBegin(s, t, 0)
			s.strm = true
			return true
		}
		n, ok := parseLen(ln[1:])
		if !ok || cut {
			return false
		}
		if n == -1 && t == '$' { // RESP2 null bulk string
			p.valueBegin(s, t, 0)
			if s.depth == 0 {
				s.nilTop = true
			}
			p.valueEnd(s, ts)
			return true
		}
		if n < 0 || n > maxBulk {
			return false
		}
		p.valueBegin(s, t, n)
		s.bulk = n + 2
		return true
	case '+', '-':
		p.valueBegin(s, t, 0)
		if s.capture != capNone {
			p.capBytes(s, ln[1:])
			if cut {
				p.capCut(s)
			}
		}
		p.valueEnd(s, ts)
		return true
	case ':', '(', ',', '#', '_':
		if !validScalar(t, ln[1:]) || cut {
			return false
		}
		p.valueBegin(s, t, 0)
		if t == '_' && s.depth == 0 {
			s.nilTop = true
		}
		if s.capture != capNone {
			p.capBytes(s, ln[1:])
		}
		p.valueEnd(s, ts)
		return true
	case '.':
		// The end of a streamed aggregate.
		if len(ln) != 1 || s.depth == 0 || s.rem[s.depth-1] != -1 {
			return false
		}
		s.depth--
		p.valueEnd(s, ts)
		return true
	}
	return false
}

// clientLine handles a request line: a multibulk header, an argument's
// bulk header, or an inline command.
func (p *parser) clientLine(s *side, t byte, ln []byte, cut bool, ts int64) bool {
	if s.depth == 0 {
		if t != '*' {
			return p.inline(s, ln, cut, ts)
		}
		n, ok := parseLen(ln[1:])
		if !ok || cut || n > maxCount {
			return false
		}
		if n <= 0 {
			// Redis ignores an empty or negative multibulk: no command,
			// no reply.
			s.inMsg = false
			return true
		}
		s.top, s.topN = '*', n
		p.reqBegin(s, n)
		s.rem[0] = n
		s.depth = 1
		return true
	}
	// Redis accepts only bulk strings as arguments ("expected '$'").
	if t != '$' {
		return false
	}
	n, ok := parseLen(ln[1:])
	if !ok || cut || n < 0 || n > maxBulk {
		return false
	}
	p.argBegin(int(s.elems))
	s.elems++
	s.capture = capArg
	s.bulk = n + 2
	return true
}

// inline handles an inline command: one line of space-separated words.
func (p *parser) inline(s *side, ln []byte, cut bool, ts int64) bool {
	n := 0
	for i := 0; i < len(ln); {
		for i < len(ln) && isSpace(ln[i]) {
			i++
		}
		if i < len(ln) {
			n++
		}
		for i < len(ln) && !isSpace(ln[i]) {
			i++
		}
	}
	if n == 0 {
		s.inMsg = false
		return true
	}
	s.top, s.topN = 'i', int64(n)
	p.reqBegin(s, int64(n))
	k := 0
	for i := 0; i < len(ln); {
		for i < len(ln) && isSpace(ln[i]) {
			i++
		}
		j := i
		for j < len(ln) && !isSpace(ln[j]) {
			j++
		}
		if j > i {
			p.argBegin(k)
			p.argBytes(ln[i:j])
			p.argEnd(k)
			k++
		}
		i = j
	}
	if cut {
		p.req.flags |= l7.FlagTruncated
	}
	p.message(s, ts)
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// valueBegin is called when a server value starts: it records the
// top-level type and routes the bytes of the values the transaction
// needs (error text, the first elements of a possible push).
func (p *parser) valueBegin(s *side, t byte, n int64) {
	if s.attrs > 0 || t == '|' {
		return // attributes are metadata, not the reply
	}
	switch s.depth {
	case 0:
		s.top, s.topN = t, n
		switch t {
		case '-', '!':
			s.capture = capErr
			p.errBuf, p.errCut = p.errBuf[:0], false
		case '*', '>':
			s.capEl = p.wantElems(t)
			p.elCur = 0
		}
	case 1:
		i := s.elems
		s.elems++
		if s.capEl && i < 3 {
			s.capture = capElem
			if p.el == nil {
				p.el = make([]byte, 0, 3*maxElem)
			}
			if i == 0 {
				p.el = p.el[:0]
			}
			p.elCur = int(i)
			p.elT[i] = t
			p.elS[i], p.elE[i] = int32(len(p.el)), int32(len(p.el))
		}
	}
}

// wantElems says whether an array or push reply may be a pub/sub message
// or confirmation, whose first elements are then kept.
func (p *parser) wantElems(t byte) bool {
	if t == '>' || p.subMode || p.pending.Len() == 0 {
		return true
	}
	head, _ := p.pending.Peek()
	return head.kind == kindSubscribe || head.kind == kindUnsubscribe
}

// valueEnd is called when a value is complete: it closes the aggregates
// it completes, and the message when it was the top-level value.
func (p *parser) valueEnd(s *side, ts int64) {
	if s.capture != capNone {
		if s.capture == capArg {
			p.argEnd(int(s.elems - 1))
		}
		s.capture = capNone
	}
	for {
		if s.depth == 0 {
			p.message(s, ts)
			return
		}
		f := s.depth - 1
		if s.rem[f] < 0 {
			return // streamed aggregate: "." closes it
		}
		s.rem[f]--
		if s.rem[f] > 0 {
			return
		}
		s.depth--
		if s.attrMask&(1<<f) != 0 {
			// An attribute is not an element of its parent, nor a
			// message: the value it annotates follows.
			s.attrMask &^= 1 << f
			s.attrs--
			return
		}
	}
}

func (p *parser) capBytes(s *side, b []byte) {
	switch s.capture {
	case capArg:
		p.argBytes(b)
	case capErr:
		room := l7.MaxField - len(p.errBuf)
		if len(b) > room {
			b = b[:room]
			p.errCut = true
		}
		p.errBuf = append(p.errBuf, b...)
	case capElem:
		i := p.elCur
		room := maxElem - int(p.elE[i]-p.elS[i])
		if len(b) > room {
			b = b[:room]
		}
		p.el = append(p.el, b...)
		p.elE[i] = int32(len(p.el))
	}
}

func (p *parser) capCut(s *side) {
	switch s.capture {
	case capErr:
		p.errCut = true
	case capArg:
		p.argCut = true
	}
}

// message is called when a whole message has been read.
func (p *parser) message(s *side, ts int64) {
	if s.client {
		p.requestDone(s)
	} else {
		p.replyDone(s, ts)
	}
	s.inMsg = false
	s.top, s.topN, s.nilTop, s.elems, s.trunc, s.capEl = 0, 0, false, 0, false, false
}

// malformed gives up the message being read: its bytes are counted and
// the side looks for the next message start.
func (p *parser) malformed(s *side) {
	p.giveUp(s, l7.DropMalformed)
}

func (p *parser) tooLarge(s *side) {
	p.giveUp(s, l7.DropTooLarge)
}

func (p *parser) giveUp(s *side, why l7.DropReason) {
	if n := s.fed(); s.inMsg && n > 0 {
		p.ctx.Sink.Drop(why, int(n))
	}
	p.resetMsg(s)
	s.resync, s.bound = true, true
	if !s.client {
		p.lostReplies(0)
	}
}

// lostReplies is called when replies were lost (a gap, bytes that are
// not RESP), how many is unknown: pairing the requests still waiting with
// later replies could pair them wrongly, so they are emitted unanswered.
func (p *parser) lostReplies(ts int64) {
	p.flush(ts, l7.FlagTruncated)
	p.owed = 0
}

// fed is how many bytes of the current message the parser was given.
func (s *side) fed() int64 { return s.off - s.msgStart - s.holes }

// resetMsg forgets the message being read.
func (p *parser) resetMsg(s *side) {
	s.inMsg = false
	s.splitting, s.splitLen, s.splitLost = false, 0, false
	s.split.Reset()
	s.depth, s.attrs, s.attrMask = 0, 0, 0
	s.bulk, s.strm = 0, false
	s.top, s.topN, s.nilTop, s.elems, s.trunc = 0, 0, false, 0, false
	s.capture, s.capEl = capNone, false
}

// Gap implements l7.Parser.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if dir > flow.ServerToClient || n == 0 {
		return
	}
	s := &p.sides[dir]
	if !s.resync && s.inMsg && !s.splitting && n > 0 && n <= s.bulk {
		// The hole lies inside a bulk payload whose length is known:
		// skip it and stay in step. The value is incomplete.
		s.bulk -= n
		s.off += n
		s.holes += n
		s.trunc = true
		if s.capture == capArg {
			p.argCut = true
		}
		if s.bulk == 0 && !s.strm {
			p.valueEnd(s, ts)
		}
		return
	}
	if c := s.fed(); s.inMsg && c > 0 {
		p.ctx.Sink.Drop(p.cutReason(s, l7.DropGap), int(c))
	}
	if s.ncarry > 0 {
		p.ctx.Sink.Drop(l7.DropResync, s.ncarry)
		s.ncarry = 0
	}
	p.resetMsg(s)
	s.resync, s.bound = true, true
	if !s.client && (n > 0 || s.off > 0) {
		// (Gap(-1) before the first byte of the replies, the start of a
		// capture, loses no reply to a request seen since.)
		p.lostReplies(ts)
	}
}

// cutReason is why the message being read is dropped when a gap or the
// end cuts it: a line already longer than MaxMessage is too large
// whatever comes next.
func (p *parser) cutReason(s *side, why l7.DropReason) l7.DropReason {
	if s.splitting && s.splitLen > p.maxMsg {
		return l7.DropTooLarge
	}
	return why
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	// A reply cut by the end of the flow whose type is known answers the
	// oldest request: it is emitted truncated rather than dropped (a
	// capture that stops two bytes short of a 1 MB value still shows the
	// GET got its bulk string). Then a request cut short, whose command
	// is known, waits with the others.
	if s := &p.sides[flow.ServerToClient]; s.inMsg && !s.resync && s.top != 0 && !s.capEl {
		s.trunc = true
		p.replyDone(s, s.lastTS)
		p.resetMsg(s)
	}
	if s := &p.sides[flow.ClientToServer]; s.inMsg && !s.resync && p.req.opLen > 0 && s.depth > 0 {
		if s.capture == capArg {
			p.argEnd(int(s.elems - 1))
		}
		s.trunc = true
		p.requestDone(s)
		p.resetMsg(s)
	}
	for i := range p.sides {
		s := &p.sides[i]
		if c := s.fed(); s.inMsg && c > 0 {
			// A message cut by the end of the flow.
			p.ctx.Sink.Drop(p.cutReason(s, l7.DropOther), int(c))
		}
		if s.ncarry > 0 {
			p.ctx.Sink.Drop(l7.DropResync, s.ncarry)
			s.ncarry = 0
		}
		p.resetMsg(s)
	}
	p.flush(ts, 0)
}

// flush emits every pending request as unanswered.
func (p *parser) flush(ts int64, fl l7.Flags) {
	for {
		var ok bool
		if p.out, ok = p.pending.Pop(); !ok {
			return
		}
		p.out.flags |= fl
		if p.out.conf.bytes > 0 {
			p.emitOut(&p.out.conf, l7.OutcomeOK)
		} else {
			p.emitOut(nil, l7.OutcomeNoResponse)
		}
	}
}

// expire emits the requests older than the timeout as unanswered. Their
// replies are still owed: Redis answers in order, so the next replies
// belong to them, not to the requests after them.
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
		if p.closeConfirmed() {
			continue
		}
		p.out, _ = p.pending.Pop()
		p.emitOut(nil, l7.OutcomeNoResponse)
		p.owe()
	}
}

func (p *parser) owe() {
	if p.owed < p.ctx.MaxPending {
		p.owed++
	}
}

func (p *parser) recycle(b []byte) {
	if b != nil && len(p.free) <= p.ctx.MaxPending {
		p.free = append(p.free, b[:0])
	}
}

// parseLen parses the decimal length or count of a header line.
func parseLen(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// validScalar checks the body of the one-line scalar types.
func validScalar(t byte, b []byte) bool {
	switch t {
	case ':':
		if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
			b = b[1:]
		}
		if len(b) == 0 || len(b) > 20 {
			return false
		}
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
	case '(':
		if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
			b = b[1:]
		}
		if len(b) == 0 {
			return false
		}
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
	case ',':
		if len(b) == 0 || len(b) > 64 {
			return false
		}
		for _, c := range b {
			if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' ||
				c == 'i' || c == 'n' || c == 'f' || c == 'a') {
				return false
			}
		}
	case '#':
		return len(b) == 1 && (b[0] == 't' || b[0] == 'f')
	case '_':
		return len(b) == 0
	}
	return true
}

func atoi(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	return parseLen(b)
}

// itoa formats n into the parser's scratch buffer.
func (p *parser) itoa(n int64) []byte {
	return strconv.AppendInt(p.num[:0], n, 10)
}
