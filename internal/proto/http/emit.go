package http

import (
	"bytes"
	"slices"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// ring is the FIFO of requests waiting for their response. It differs
// from l7.Queue in that its slots keep their msgs and their buffers: a
// msg enters by swapping pointers with the free slot and leaves by
// swapping with Parser.ans, so that steady-state pipelining allocates
// nothing.
type ring struct {
	s    []*msg
	head int
	n    int
}

func (r *ring) at(i int) *msg { return r.s[(r.head+i)%len(r.s)] }

// push swaps *m into the queue, which must not be full; *m gets the
// slot's old msg, for the caller to reset.
func (r *ring) push(m **msg, limit int) {
	r.grow(limit)
	i := (r.head + r.n) % len(r.s)
	r.s[i], *m = *m, r.s[i]
	r.n++
}

func (r *ring) grow(limit int) {
	if r.n < len(r.s) {
		return
	}
	size := min(limit, max(4, 2*len(r.s)))
	s := make([]*msg, size)
	for i := 0; i < r.n; i++ {
		s[i] = r.at(i)
	}
	for i := r.n; i < size; i++ {
		s[i] = newMsg()
	}
	r.s, r.head = s, 0
}

// popInto moves the oldest request into *m; the slot gets *m's old msg
// (reset when it is reused, by push's caller).
func (r *ring) popInto(m **msg) {
	r.s[r.head], *m = *m, r.s[r.head]
	r.head = (r.head + 1) % len(r.s)
	r.n--
}

// dropOldest removes the oldest request (already emitted).
func (r *ring) dropOldest() {
	r.head = (r.head + 1) % len(r.s)
	r.n--
}

// expire emits the requests that have waited longer than the timeout for
// a response, oldest first.
func (p *Parser) expire(ts int64) {
	if p.ctx.Timeout <= 0 {
		return
	}
	for p.q.n > 0 {
		r := p.q.at(0)
		if r.body || ts-r.done <= p.ctx.Timeout {
			return
		}
		p.emit(r, nil, 0, 0)
		p.q.dropOldest()
	}
}

// emit hands one transaction to the sink. req or resp may be nil.
func (p *Parser) emit(req, resp *msg, respTS, interim int64) {
	tx := &p.tx
	*tx = l7.Transaction{}
	var version []byte
	if req != nil {
		tx.Op, tx.Target = req.methodName(), req.get(req.target)
		tx.ReqTS, tx.ReqBytes = req.ts, req.bytes
		tx.Flags |= req.flags
		version = req.version()
	}
	if resp != nil {
		tx.Status = resp.status()
		tx.RespTS, tx.RespBytes = respTS, resp.bytes+interim
		tx.Flags |= resp.flags
		if version == nil {
			version = resp.version()
		}
	}
	switch {
	case resp == nil:
		tx.Outcome = l7.OutcomeNoResponse
	case req == nil:
		tx.Outcome = l7.OutcomeNoRequest
	default:
		tx.Outcome = outcome(int(resp.code))
	}
	f := p.fields[:0]
	f = field(f, FieldVersion, version)
	if req != nil {
		f = field(f, FieldHost, req.value(vHost))
		f = field(f, FieldUserAgent, req.value(vUserAgent))
		f = field(f, FieldXForwardedFor, req.value(vXFF))
		f = field(f, FieldReqContentType, req.value(vContentType))
		f = field(f, FieldReqContentLength, req.value(vContentLength))
	}
	if resp != nil {
		f = field(f, FieldContentType, resp.value(vContentType))
		f = field(f, FieldRespContentLength, resp.value(vContentLength))
	}
	if req != nil {
		f = field(f, FieldRequestHeaders, req.hdrs)
	}
	if resp != nil {
		f = field(f, FieldResponseHeaders, resp.hdrs)
	}
	tx.Fields = f
	p.ctx.Sink.Transaction(tx)
}

// field appends a field that has a value (f has room: p.fields).
func field(f []l7.Field, key string, v []byte) []l7.Field {
	if len(v) == 0 {
		return f
	}
	n := len(f)
	f = f[:n+1]
	f[n] = l7.Field{Key: key, Value: v}
	return f
}

// Gap implements l7.Parser.
func (p *Parser) Gap(dir flow.Dir, n int64, ts int64) {
	if dir > flow.ServerToClient || n == 0 || p.stopped || p.ended {
		return
	}
	h := &p.h[dir]
	switch h.state {
	case stHead:
		p.cutHeader(h, ts)
		if h.state != stOpaque {
			p.resync(h, true)
		}
	case stBody, stChunkData:
		if h.state == stBody {
			p.unpeek(h)
		}
		if n > 0 && n < h.left {
			// A hole inside a body or chunk of known length: only body
			// bytes, which are skipped anyway, are lost.
			h.left -= n
			p.accountGap(h, n)
			p.mark(h, l7.FlagTruncated)
			return
		}
		if n > 0 && h.state == stBody {
			p.accountGap(h, h.left)
		}
		p.mark(h, l7.FlagTruncated)
		p.endBody(h, ts)
		p.resync(h, true)
	case stChunkSize, stChunkExt, stChunkEnd, stTrailer:
		p.pendingLine(h)
		p.mark(h, l7.FlagTruncated)
		p.endBody(h, ts)
		p.resync(h, true)
	case stClose:
		if n > 0 {
			p.accountGap(h, n)
		}
		p.mark(h, l7.FlagTruncated)
	case stSkipLine:
		p.resync(h, true)
	case stResync:
		p.drop(l7.DropResync, h.buf.Reset())
		h.lineStart = true
	}
}

// End implements l7.Parser.
func (p *Parser) End(ts int64) {
	if p.ended {
		return
	}
	// The response being read answers the oldest request: it goes first.
	for _, i := range [2]int{int(p.respDir()), 1 - int(p.respDir())} {
		h := &p.h[i]
		switch h.state {
		case stHead:
			p.cutHeader(h, ts)
		case stResync:
			p.drop(l7.DropResync, h.buf.Reset())
		case stClose:
			if h.role == roleResp {
				p.complete(h, ts)
			}
		case stBody, stChunkSize, stChunkExt, stChunkData, stChunkEnd, stTrailer:
			if h.state == stBody {
				p.unpeek(h)
			}
			p.pendingLine(h)
			p.mark(h, l7.FlagTruncated)
			if h.role == roleResp {
				p.complete(h, ts)
			}
		}
		if h.interim > 0 {
			// 1xx responses with no final response after them.
			p.drop(l7.DropOther, int(h.interim))
			h.interim = 0
		}
		h.state = stOpaque
	}
	for p.q.n > 0 {
		p.emit(p.q.at(0), nil, 0, 0)
		p.q.dropOldest()
	}
	p.ended = true
	// Nothing reads the messages after End (Data and Gap return at once).
	for i := range p.h {
		freeMsg(p.h[i].m)
		p.h[i].m = nil
	}
	freeMsg(p.ans)
	p.ans = nil
	for i, m := range p.q.s {
		freeMsg(m)
		p.q.s[i] = nil
	}
}

// respDir returns the direction that carries responses.
func (p *Parser) respDir() flow.Dir {
	if p.h[flow.ClientToServer].role == roleResp {
		return flow.ClientToServer
	}
	return flow.ServerToClient
}

var httpSlash = []byte("HTTP/1.")

// statusTail is what findStart keeps to match a status line that straddles
// two calls: "HTTP/1.1 200" and the byte after it, less one.
const statusTail = len("HTTP/1.1 200")

// findStart looks in d for the first start of an HTTP/1.x message that a
// direction of role r may carry, and returns its offset; or -1 and the
// offset from which to keep d for the next call (bytes that may still
// become a start line, at most tail of them). lineStart says whether d[0]
// starts a line.
//
// A status line ("HTTP/1.x NNN" then a space or line end) is accepted
// anywhere: after a gap inside a body of unknown length, the next
// response follows the body's last byte, newline or not. A request line
// is found by its end (" HTTP/1.x" and a line end) and checked whole,
// from the start of its line; when that start is not a method (the tail
// of a body precedes it) the method is the known method the bytes before
// the target end with.
func findStart(d []byte, lineStart bool, r role, tail int) (at, keepFrom int) {
	from := 0
	for from < len(d) {
		i := bytes.Index(d[from:], httpSlash)
		if i < 0 {
			break
		}
		i += from
		from = i + 1
		if r != roleReq && i+statusTail < len(d) && statusPrefix(d[i:]) == matchYes {
			if c := d[i+statusTail]; c == ' ' || c == '\r' || c == '\n' {
				return i, 0
			}
		}
		if r != roleResp && i > 0 && d[i-1] == ' ' && i+8 < len(d) && d[i+7] >= '0' && d[i+7] <= '9' && (d[i+8] == '\r' || d[i+8] == '\n') {
			if s := requestStart(d[:i+8], lineStart); s >= 0 {
				return s, 0
			}
		}
	}
	ls := bytes.LastIndexByte(d, '\n') + 1
	if r == roleResp {
		return -1, max(ls, len(d)-statusTail)
	}
	if len(d)-ls <= tail && (ls > 0 || lineStart) {
		return -1, ls
	}
	return -1, max(ls, len(d)-tail)
}

// requestStart returns where the request line that d ends with (without
// its line end) begins, or -1.
func requestStart(d []byte, lineStart bool) int {
	ls := bytes.LastIndexByte(d, '\n') + 1
	if ls > 0 || lineStart {
		if _, _, _, ok := parseRequestLine(d[ls:]); ok {
			return ls
		}
	}
	// "METHOD SP target SP HTTP/1.x": the target is between the last two
	// spaces.
	if ls > len(d)-9 {
		return -1
	}
	sp := bytes.LastIndexByte(d[ls:len(d)-9], ' ')
	if sp < 0 {
		return -1
	}
	sp += ls
	for _, m := range resyncMethods {
		s := sp - len(m)
		if s >= ls && bytes.Equal(d[s:sp], m) {
			if _, _, _, ok := parseRequestLine(d[s:]); ok {
				return s
			}
		}
	}
	return -1
}

// resyncMethods are the methods requestStart finds glued to the bytes
// before them, longest first ("UNLOCK" before "LOCK").
var resyncMethods = func() [][]byte {
	m := slices.Clone(knownMethods)
	slices.SortStableFunc(m, func(a, b []byte) int { return len(b) - len(a) })
	return m
}()
