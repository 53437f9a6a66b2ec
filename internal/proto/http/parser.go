package http

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// role is what a direction carries. It is decided by the first start line
// the direction shows, not by flow.Dir: when a capture misses the
// handshake the flow table guesses the client, and may guess wrong.
type role uint8

const (
	roleUnknown role = iota
	roleReq
	roleResp
)

// state is where a direction is in its byte stream.
type state uint8

const (
	stHead      state = iota // reading the start line and header lines
	stBody                   // counting a Content-Length body (left bytes)
	stChunkSize              // reading a chunk-size's hex digits
	stChunkExt               // skipping to the end of a chunk-size line
	stChunkData              // counting chunk data (left bytes)
	stChunkEnd               // expecting the CRLF after chunk data
	stTrailer                // reading trailer lines
	stClose                  // counting a body delimited by the connection's close
	stSkipLine               // dropping (too_large) the rest of a line that broke a bound, then resync
	stResync                 // looking for the next start line
	stOpaque                 // the connection became a tunnel: nothing more to decode
)

// Defaults for a Context that leaves limits at zero.
const (
	defaultMaxMessage = 64 << 10
	defaultMaxPending = 64
	// maxChunkLine bounds a chunk-size line's extensions.
	maxChunkLine = 4096
	// resyncTail bounds the partial line kept between Data calls while
	// looking for a request line (a status line needs 12 bytes): a request
	// line longer than this that straddles two calls is missed.
	resyncTail = 2048
)

// half is one direction of the connection.
type half struct {
	role      role
	state     state
	buf       l7.Buf
	scan      int    // stHead: bytes held in buf known to hold no '\n'
	lineStart bool   // stResync: what buf holds (or the next byte) starts a line
	started   bool   // stHead: m has its first byte
	gotStart  bool   // stHead: m's start line is parsed
	hdrBytes  int    // stHead: bytes of m's complete header lines so far
	m         *msg   // the message being read (a request only until its header ends)
	left      int64  // stBody, stChunkData: bytes left; stChunkSize: the size read so far
	digits    int    // stChunkSize: hex digits read
	lineLen   int    // stChunkExt, stTrailer: bytes of the line so far, not yet added to the message
	trailer   int    // stTrailer: trailer bytes so far
	interim   int64  // bytes of 1xx responses before the final one
	reqSeq    uint64 // requests: the seq of the request whose body is being read
	cr        bool   // stChunkEnd: the CR is read; stTrailer: the line so far is "\r"
}

// Parser decodes one HTTP/1.x connection. It implements l7.Parser.
type Parser struct {
	ctx     l7.Context
	max     int // MaxMessage
	pending int // MaxPending
	h       [2]half
	q       ring
	ans     *msg // the request the response being read answers
	hasAns  bool // ans is valid
	seq     uint64
	stopped bool // Stop was called: the connection is a tunnel
	ended   bool // End was called
	tx      l7.Transaction
	fields  [10]l7.Field // tx.Fields
	scratch []byte       // percent-decoded target for the SQL-injection check
}

// New returns a parser for one connection.
func New(ctx l7.Context) l7.Parser { return NewParser(ctx) }

// NewParser is New with the concrete type.
func NewParser(ctx l7.Context) *Parser {
	p := &Parser{ctx: ctx, max: ctx.MaxMessage, pending: ctx.MaxPending}
	if p.max <= 0 {
		p.max = defaultMaxMessage
	}
	if p.pending <= 0 {
		p.pending = defaultMaxPending
	}
	for i := range p.h {
		h := &p.h[i]
		if ctx.MaxMessage > 0 {
			h.buf = ctx.NewBuf()
		} else {
			h.buf = l7.NewBuf(p.max)
		}
		h.m = newMsg()
	}
	p.ans = newMsg()
	return p
}

func (p *Parser) drop(r l7.DropReason, n int) {
	if n > 0 {
		p.ctx.Sink.Drop(r, n)
	}
}

// Data implements l7.Parser.
func (p *Parser) Data(dir flow.Dir, b []byte, ts int64) {
	if dir > flow.ServerToClient || len(b) == 0 || p.ended {
		return
	}
	if p.stopped {
		// A tunnel: the Tracker stops feeding after Stop, but what it
		// still gives is accounted.
		p.drop(l7.DropOther, len(b))
		return
	}
	p.expire(ts)
	h := &p.h[dir]
	d := h.buf.Feed(b)
	var keep []byte
	off := 0
loop:
	for off < len(d) {
		switch h.state {
		case stHead:
			n, wait := p.head(h, d[off:], ts)
			off += n
			if wait {
				keep = d[off:]
				break loop
			}
		case stBody, stChunkData:
			if h.state == stBody && h.role == roleResp && !p.hasAns && h.left == h.m.clen && h.left >= int64(statusTail) {
				// A response whose request was not seen may answer a
				// HEAD: if a status line starts where its body would,
				// it had none (Wireshark, which assumes a body, loses
				// the next response). The bytes held to tell are fewer
				// than statusTail, so within the body if it is one.
				switch statusPrefix(d[off:]) {
				case matchYes:
					p.complete(h, ts)
					continue
				case matchMore:
					keep = d[off:]
					break loop
				}
			}
			n := int(min(h.left, int64(len(d)-off)))
			h.left -= int64(n)
			off += n
			p.account(h, int64(n))
			if h.left == 0 {
				if h.state == stChunkData {
					h.state, h.cr = stChunkEnd, false
				} else {
					p.endBody(h, ts)
				}
			}
		case stChunkSize, stChunkExt, stChunkEnd, stTrailer:
			off += p.chunked(h, d[off:], ts)
		case stClose:
			p.account(h, int64(len(d)-off))
			off = len(d)
		case stSkipLine:
			i := bytes.IndexByte(d[off:], '\n')
			if i < 0 {
				p.drop(l7.DropTooLarge, len(d)-off)
				off = len(d)
				break
			}
			p.drop(l7.DropTooLarge, i+1)
			off += i + 1
			p.resync(h, true)
		case stResync:
			at, from := findStart(d[off:], h.lineStart, p.role(h), min(resyncTail, p.max))
			if at < 0 {
				p.drop(l7.DropResync, from)
				keep = d[off+from:]
				if from > 0 {
					h.lineStart = d[off+from-1] == '\n'
				}
				break loop
			}
			p.drop(l7.DropResync, at)
			off += at
			h.toHead()
		case stOpaque:
			p.drop(l7.DropOther, len(d)-off)
			off = len(d)
		}
	}
	if n := h.buf.Keep(keep); n > 0 {
		// The parser memory budget refused to hold what was kept (head
		// and resync keep less than MaxMessage): a header block being
		// read goes; a response whose body was being looked at ends.
		switch h.state {
		case stHead:
			n += h.hdrBytes
		case stBody:
			p.mark(h, l7.FlagTruncated)
			p.endBody(h, ts)
		}
		p.drop(l7.DropTooLarge, n)
		p.resync(h, false)
	}
}

// role returns what h carries: decided by its first start line, or the
// opposite of what the other direction carries (one side asks, the other
// answers), or roleUnknown.
func (p *Parser) role(h *half) role {
	if h.role != roleUnknown {
		return h.role
	}
	switch p.other(h).role {
	case roleReq:
		return roleResp
	case roleResp:
		return roleReq
	}
	return roleUnknown
}

// setRole records what h sends. The first time a direction shows its
// role against the flow table's guess (requests from the side it took
// for the server), the transactions' client and server are swapped.
func (p *Parser) setRole(h *half, r role) {
	if h.role == roleUnknown && p.other(h).role == roleUnknown && (h == &p.h[flow.ServerToClient]) == (r == roleReq) {
		l7.SwapRoles(p.ctx.Sink)
	}
	h.role = r
}

// other returns the direction opposite h.
func (p *Parser) other(h *half) *half {
	if h == &p.h[0] {
		return &p.h[1]
	}
	return &p.h[0]
}

// indexLF is bytes.IndexByte(b, '\n') for header lines: eight bytes at a
// time without a call, faster on lines of a few dozen bytes.
func indexLF(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ ('\n' * lo)
		// The lowest byte of x that is zero sets the lowest bit of t
		// (bits above it may be false positives).
		if t := (x - lo) &^ x & hi; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// scanLine returns the index of the first '\n' of b, or -1, and of the
// first ':' before it, or len(b) when there is none: one pass, eight bytes
// at a time, for the two things a header line needs found.
func scanLine(b []byte) (colon, lf int) {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	colon = len(b)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		x, y := w^('\n'*lo), w^(':'*lo)
		// The lowest zero byte of x (y) sets the lowest bit of t (u);
		// bits above it may be false positives.
		t, u := (x-lo)&^x&hi, (y-lo)&^y&hi
		if u != 0 && colon == len(b) {
			colon = i + bits.TrailingZeros64(u)>>3
		}
		if t != 0 {
			lf = i + bits.TrailingZeros64(t)>>3
			if colon > lf {
				colon = len(b) // a colon after the line end
			}
			return colon, lf
		}
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case '\n':
			return colon, i
		case ':':
			colon = min(colon, i)
		}
	}
	return colon, -1
}

// toHead starts reading a new message.
func (h *half) toHead() {
	h.state, h.scan, h.started, h.gotStart, h.hdrBytes = stHead, 0, false, false, 0
	h.m.reset()
}

// resync looks for the next start line; lineStart says whether the next
// byte starts a line.
func (p *Parser) resync(h *half, lineStart bool) {
	h.toHead()
	h.state, h.lineStart = stResync, lineStart
}

// head reads header lines from d. It returns the bytes it consumed, and
// wait when the rest of d is an incomplete line to keep for the next call.
func (p *Parser) head(h *half, d []byte, ts int64) (n int, wait bool) {
	off := 0
	scan := min(h.scan, len(d)) // held bytes known to hold no '\n'
	h.scan = 0
	for off < len(d) {
		rest := d[off:]
		if !h.started {
			h.started = true
			h.m.ts = ts
		}
		colon, i := scanLine(rest[scan:])
		if i < 0 {
			if h.hdrBytes+len(rest) > p.max {
				// The rest of the line goes too (stSkipLine), as
				// when the line is whole in one call.
				p.drop(l7.DropTooLarge, h.hdrBytes+len(rest))
				h.toHead()
				h.state = stSkipLine
				return len(d), false
			}
			h.scan = len(rest)
			return off, true
		}
		if scan > 0 {
			i += scan
			colon = -1 // the line began in bytes held from an earlier call
			scan = 0
		}
		ln := i + 1
		if h.hdrBytes+ln > p.max {
			p.drop(l7.DropTooLarge, h.hdrBytes+ln)
			p.resync(h, true)
			return off + ln, false
		}
		line := trimCR(rest[:i])
		off += ln
		if !h.gotStart {
			if len(line) == 0 {
				// An empty line before a message (a client that ends
				// a body with an extra CRLF).
				p.drop(l7.DropOther, ln)
				h.started = false
				continue
			}
			if !p.startLine(h, line) {
				p.drop(l7.DropMalformed, ln)
				p.resync(h, true)
				return off, false
			}
			h.gotStart = true
			h.hdrBytes = ln
			continue
		}
		h.hdrBytes += ln
		switch {
		case len(line) == 0:
			p.endHeader(h, ts)
			return off, false
		case line[0] == ' ' || line[0] == '\t':
			h.m.fold(trimSpace(line))
		default:
			if colon >= len(line) {
				colon = -1
			}
			p.headerLine(h, line, colon)
		}
	}
	return off, false
}

// startLine parses a request or status line into h.m.
func (p *Parser) startLine(h *half, line []byte) bool {
	m := h.m
	r := p.role(h)
	if line[0] == 'H' && len(line) > 4 && line[1] == 'T' && line[2] == 'T' && line[3] == 'P' && line[4] == '/' {
		if r == roleReq {
			return false
		}
		version, _, code, ok := parseStatusLine(line)
		if !ok {
			return false
		}
		p.setRole(h, roleResp)
		m.minor = version[2]
		m.code = int32(code)
		return true
	}
	if r == roleResp {
		return false
	}
	method, target, version, ok := parseRequestLine(line)
	if !ok {
		return false
	}
	p.setRole(h, roleReq)
	m.setMethod(method)
	m.target = p.putTarget(m, target)
	m.minor = version[2]
	m.head = m.method == methodHEAD
	m.conn = m.method == methodCONNECT
	return true
}

// putTarget stores the request target, with the userinfo of an
// absolute-form URL ("http://user:pass@host/") redacted.
func (p *Parser) putTarget(m *msg, t []byte) span {
	if len(t) > 0 && t[0] != '/' && !p.ctx.KeepCredentials {
		if s := bytes.Index(t, []byte("://")); s > 0 {
			auth := t[s+3:]
			end := len(auth)
			for i, c := range auth {
				if c == '/' || c == '?' || c == '#' {
					end = i
					break
				}
			}
			if at := bytes.LastIndexByte(auth[:end], '@'); at >= 0 {
				m.flags |= l7.FlagRedacted
				off, room := len(m.store), l7.MaxField
				for _, part := range [3][]byte{t[:s+3], l7.Redacted, auth[at:]} {
					n := min(len(part), room)
					if n < len(part) {
						m.flags |= l7.FlagTruncated
					}
					m.store = append(m.store, part[:n]...)
					room -= n
				}
				return span{off: uint16(off), end: uint16(len(m.store))}
			}
		}
	}
	t, cut := l7.Cut(t)
	if cut {
		m.flags |= l7.FlagTruncated
	}
	return m.put(t, l7.MaxField)
}

// headerLine records one "Name: value" line; c is the index of its first
// colon, -1 when not known yet, len(line) when there is none.
func (p *Parser) headerLine(h *half, line []byte, c int) {
	m := h.m
	if c < 0 {
		c = 0
		for c < len(line) && line[c] != ':' {
			c++
		}
	}
	if c == 0 || c == len(line) {
		// Not a header: kept out of the text, as Wireshark and the
		// servers tolerant of it do.
		m.last, m.lastKeep = -1, false
		return
	}
	// The line does not start with a space (that is a fold): only the
	// end of the name and both ends of the value may need trimming.
	ne := c
	for ne > 0 && (line[ne-1] == ' ' || line[ne-1] == '\t') {
		ne--
	}
	vs, ve := c+1, len(line)
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	name, value := line[:ne], line[vs:ve] // ne > 0: line[0] is not blank
	which, redact, keep := -1, false, 0
	// Length and first letter pick the one name to compare.
	switch len(name)<<8 | int(name[0]|0x20) {
	case 4<<8 | 'h':
		if eqFold(name, "host") {
			which = vHost
		}
	case 6<<8 | 'c':
		redact = eqFold(name, "cookie")
	case 9<<8 | 'x':
		redact = eqFold(name, "x-api-key")
	case 10<<8 | 'u':
		if eqFold(name, "user-agent") {
			which = vUserAgent
		}
	case 10<<8 | 's':
		redact = eqFold(name, "set-cookie")
	case 12<<8 | 'c':
		if eqFold(name, "content-type") {
			which = vContentType
		}
	case 12<<8 | 'x':
		redact = eqFold(name, "x-auth-token")
	case 13<<8 | 'a':
		if eqFold(name, "authorization") {
			redact, keep = true, schemeLen(value)
		}
	case 14<<8 | 'c':
		if eqFold(name, "content-length") {
			which = vContentLength
			p.contentLength(m, value)
		}
	case 15<<8 | 'x':
		if eqFold(name, "x-forwarded-for") {
			which = vXFF
		}
	case 17<<8 | 't':
		if eqFold(name, "transfer-encoding") {
			m.chunked = lastIsChunked(value)
			m.teOther = !m.chunked
		}
	case 19<<8 | 'p':
		if eqFold(name, "proxy-authorization") {
			redact, keep = true, schemeLen(value)
		}
	}
	redact = redact && !p.ctx.KeepCredentials
	if !redact && !m.cut && len(line) == ne+2+len(value) && line[ne] == ':' && line[ne+1] == ' ' && len(m.hdrs)+1+len(line) <= l7.MaxField {
		// The common case, "Name: value", inline: one copy.
		if len(m.hdrs) > 0 {
			m.hdrs = append(m.hdrs, '\n')
		}
		m.hdrs = append(m.hdrs, line...)
		m.last, m.lastKeep = -1, true
		if which >= 0 && m.values[which].empty() {
			m.values[which] = span{off: uint16(len(m.hdrs) - len(value)), end: uint16(len(m.hdrs))}
			m.last = int8(which)
		}
		return
	}
	m.header(line, name, value, which, redact, keep)
}

// contentLength parses a Content-Length value. A value that is not
// decimal digits, or a second one that differs, leaves the body length
// unknown (RFC 9112 §6.3: unrecoverable framing).
func (p *Parser) contentLength(m *msg, v []byte) {
	var n int64
	if len(v) == 0 || len(v) > 18 {
		m.bad = true
		return
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			m.bad = true
			return
		}
		n = n*10 + int64(c-'0')
	}
	if m.clen >= 0 && m.clen != n {
		m.bad = true
	}
	m.clen = n
}

// schemeLen returns the length of an Authorization value's scheme and the
// space after it ("Basic "), which is not a secret.
func schemeLen(v []byte) int {
	for i, c := range v {
		if c == ' ' {
			if i == 0 || i > 32 {
				return 0
			}
			return i + 1
		}
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return 0
		}
	}
	return 0
}

// lastIsChunked reports whether the last transfer coding listed is
// chunked.
func lastIsChunked(v []byte) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	v = trimSpace(v)
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = trimSpace(v[:i])
	}
	return len(v) == 7 && eqFold(v, "chunked")
}

// eqFold compares an ASCII header name with a lower-case constant.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// endHeader acts on a complete header block: a request joins the queue, a
// response picks the request it answers; both then read their body.
func (p *Parser) endHeader(h *half, ts int64) {
	m := h.m
	m.bytes = int64(h.hdrBytes)
	if h.role == roleReq {
		p.endRequestHeader(h, ts)
		return
	}
	if m.code < 200 && m.code != 101 {
		// Interim (100 Continue, 103 Early Hints): the final response
		// follows and completes the transaction.
		h.interim += m.bytes
		h.toHead()
		if m.short {
			p.resync(h, true)
		}
		return
	}
	if o := p.other(h); p.q.n == 0 && o.role == roleReq && o.state == stHead && o.gotStart {
		// The response comes while its request's header block is still
		// incomplete: the capture missed the rest of it (a client does
		// not get an answer before it has asked). That request is the
		// one answered, kept as far as it was seen.
		p.cutHeader(o, ts)
	}
	if p.q.n > 0 {
		p.q.popInto(&p.ans)
		p.hasAns = true
	}
	switch {
	case m.code == 101 || p.hasAns && p.ans.conn && m.code < 300:
		p.complete(h, ts)
		p.stop(h)
		return
	case m.short:
		p.complete(h, ts)
		p.resync(h, true)
		return
	case p.hasAns && p.ans.head || m.code == 204 || m.code == 304:
		p.complete(h, ts)
		return
	case m.chunked:
		h.state, h.digits, h.left = stChunkSize, 0, 0
	case m.teOther:
		h.state = stClose // RFC 9112 §6.3: read until the connection closes
	case m.bad:
		m.flags |= l7.FlagTruncated
		p.complete(h, ts)
		p.resync(h, true)
		return
	case m.clen > 0:
		h.state, h.left = stBody, m.clen
	case m.clen == 0:
		p.complete(h, ts)
		return
	default:
		h.state = stClose
	}
}

func (p *Parser) endRequestHeader(h *half, ts int64) {
	m := h.m
	p.seq++
	m.seq = p.seq
	m.done = ts
	p.sqli(m)
	next, left := stHead, int64(0)
	switch {
	case m.chunked:
		next = stChunkSize
	case m.short:
		next = stResync
	case m.teOther || m.bad:
		// A request whose body length is unknown (RFC 9112 §6.3 says
		// the server rejects it): its body is skipped as resync bytes.
		m.flags |= l7.FlagTruncated
		next = stResync
	case m.clen > 0:
		next, left = stBody, m.clen
	}
	m.body = next == stBody || next == stChunkSize
	h.reqSeq = m.seq
	if p.q.n >= p.pending {
		p.emit(p.q.at(0), nil, 0, 0)
		p.q.dropOldest()
	}
	p.q.push(&h.m, p.pending)
	h.toHead()
	switch next {
	case stResync:
		p.resync(h, true)
	case stBody:
		h.state, h.left = stBody, left
	case stChunkSize:
		h.state, h.digits, h.left = stChunkSize, 0, 0
	}
}

// cutHeader ends a header block cut short by a gap or by the end of the
// flow, if its start line was read: the message is kept, marked
// truncated, with the complete header lines seen, and
// the bytes after the cut are not trusted (the direction resynchronises).
// Without a start line the bytes are dropped (DropGap).
func (p *Parser) cutHeader(h *half, ts int64) {
	if !h.started {
		return
	}
	part := h.buf.Feed(nil)
	if !h.gotStart {
		p.drop(l7.DropGap, h.hdrBytes+len(part))
		h.buf.Reset()
		return
	}
	// The partial last line is counted, not decoded: a value cut short
	// ("Host: exam") would pass for a whole one.
	h.hdrBytes += len(part)
	h.buf.Reset()
	h.m.flags |= l7.FlagTruncated
	h.m.short = true
	p.endHeader(h, ts)
}

// unpeek accounts as body the bytes a stBody direction held to look for a
// status line at the start of a body.
func (p *Parser) unpeek(h *half) {
	if n := int64(h.buf.Reset()); n > 0 {
		h.left -= n
		p.account(h, n)
	}
}

// account adds n body bytes to the message being read in h.
func (p *Parser) account(h *half, n int64) {
	if h.role == roleResp {
		h.m.bytes += n
		return
	}
	if r := p.request(h.reqSeq); r != nil {
		r.bytes += n
	} else {
		// Body bytes of a request whose transaction is already out
		// (its response came first).
		p.drop(l7.DropOther, int(n))
	}
}

// accountGap adds to the message being read in h the n bytes a gap took
// from its body (they are part of its length on the wire).
func (p *Parser) accountGap(h *half, n int64) {
	if h.role == roleResp {
		h.m.bytes += n
	} else if r := p.request(h.reqSeq); r != nil {
		r.bytes += n
	}
}

// mark sets flags on the message being read in h.
func (p *Parser) mark(h *half, f l7.Flags) {
	if h.role == roleResp {
		h.m.flags |= f
		return
	}
	if r := p.request(h.reqSeq); r != nil {
		r.flags |= f
	}
}

// request finds the request numbered seq: the newest one queued, or the
// one being answered.
func (p *Parser) request(seq uint64) *msg {
	if p.q.n > 0 {
		if r := p.q.at(p.q.n - 1); r.seq == seq {
			return r
		}
	}
	if p.hasAns && p.ans.seq == seq {
		return p.ans
	}
	return nil
}

// endBody ends the message whose body h was reading.
func (p *Parser) endBody(h *half, ts int64) {
	if h.role == roleResp {
		p.complete(h, ts)
		return
	}
	if r := p.request(h.reqSeq); r != nil {
		r.body = false
		r.done = ts
	}
	h.toHead()
}

// complete emits the transaction of the final response in h.
func (p *Parser) complete(h *half, ts int64) {
	var req *msg
	if p.hasAns {
		req = p.ans
	}
	p.emit(req, h.m, ts, h.interim)
	h.interim = 0
	p.hasAns = false
	h.toHead()
}

// stop turns the connection into an opaque tunnel. h is the direction
// being read: Data drops the rest of its bytes; the other direction's
// held bytes are dropped here.
func (p *Parser) stop(h *half) {
	p.stopped = true
	o := p.other(h)
	n := o.buf.Reset()
	if o.state == stHead {
		n += o.hdrBytes // a request being read: its complete lines too
	}
	p.drop(l7.DropOther, n)
	h.state, o.state = stOpaque, stOpaque
	p.ctx.Sink.Stop()
}

// chunked reads the framing of a chunked body (RFC 9112 §7.1) from d and
// returns the bytes consumed; chunk data itself is counted by Data.
// Nothing is buffered: sizes are read digit by digit, extensions and
// trailers are counted and skipped. The bytes of an extension or trailer
// line are added to the message when the line ends, so that a line that
// breaks its bound is dropped whole however the stream was cut into calls.
func (p *Parser) chunked(h *half, d []byte, ts int64) int {
	off, acct := 0, 0
	for off < len(d) {
		c := d[off]
		switch h.state {
		case stChunkSize:
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
				if h.digits == 15 {
					p.account(h, int64(acct))
					return p.badChunk(h, d, off, ts) // 2^60 bytes or more: no such body
				}
				h.left = h.left<<4 | int64(unhex(c))
				h.digits++
				off++
				acct++
			case h.digits > 0 && (c == ';' || c == ' ' || c == '\t' || c == '\r'):
				h.state, h.lineLen = stChunkExt, 0
			case h.digits > 0 && c == '\n':
				off++
				p.account(h, int64(acct+1))
				p.sizeLineEnd(h)
				return off
			default:
				p.account(h, int64(acct))
				return p.badChunk(h, d, off, ts)
			}
		case stChunkExt:
			i := bytes.IndexByte(d[off:], '\n')
			k := i
			if i < 0 {
				k = len(d) - off
			}
			if h.lineLen+k > maxChunkLine {
				p.account(h, int64(acct))
				return off + p.lineTooLong(h, ts)
			}
			if i < 0 {
				h.lineLen += k
				off = len(d)
				continue
			}
			off += i + 1
			p.account(h, int64(acct+h.lineLen+i+1))
			h.lineLen = 0
			p.sizeLineEnd(h)
			return off
		case stChunkEnd:
			switch {
			case c == '\r' && !h.cr:
				h.cr = true
				off++
				acct++
			case c == '\n':
				off++
				p.account(h, int64(acct+1))
				h.state, h.digits, h.left = stChunkSize, 0, 0
				return off
			default:
				p.account(h, int64(acct))
				return p.badChunk(h, d, off, ts)
			}
		case stTrailer:
			// Trailer lines, up to MaxMessage bytes in all: an empty
			// line ends the message.
			i := bytes.IndexByte(d[off:], '\n')
			k := i
			if i < 0 {
				k = len(d) - off
			}
			if k > 0 {
				// cr: the line so far is exactly "\r".
				h.cr = h.lineLen == 0 && k == 1 && d[off] == '\r'
			}
			if h.trailer+h.lineLen+k > p.max {
				p.account(h, int64(acct))
				return off + p.lineTooLong(h, ts)
			}
			if i < 0 {
				h.lineLen += k
				off = len(d)
				continue
			}
			off += i + 1
			n := h.lineLen + i + 1
			acct += n
			h.trailer += n
			if h.lineLen+i == 0 || h.lineLen+i == 1 && h.cr {
				p.account(h, int64(acct))
				h.lineLen = 0
				p.endBody(h, ts)
				return off
			}
			h.lineLen, h.cr = 0, false
		default:
			p.account(h, int64(acct))
			return off
		}
	}
	p.account(h, int64(acct))
	return off
}

// sizeLineEnd acts on the end of a chunk-size line: data follows, or the
// last chunk's trailers.
func (p *Parser) sizeLineEnd(h *half) {
	if h.left == 0 {
		h.state, h.trailer, h.lineLen, h.cr = stTrailer, 0, 0, false
		return
	}
	h.state = stChunkData
}

// pendingLine adds to the message the bytes of the extension or trailer
// line being read (the flow ends, or a gap comes, inside it).
func (p *Parser) pendingLine(h *half) {
	if h.state == stChunkExt || h.state == stTrailer {
		p.account(h, int64(h.lineLen))
		h.lineLen = 0
	}
}

// badChunk gives up a chunked body at d[off], a byte that breaks its
// framing: that byte is counted as malformed, the message ends before it
// (marked truncated), and the direction resynchronises after it.
func (p *Parser) badChunk(h *half, d []byte, off int, ts int64) int {
	p.drop(l7.DropMalformed, 1)
	p.mark(h, l7.FlagTruncated)
	p.endBody(h, ts)
	p.resync(h, d[off] == '\n')
	return off + 1
}

// lineTooLong gives up a chunked body whose extension line or trailers
// run past their bound: the message ends before the line (marked
// truncated), the line is dropped (too_large) to its end, and the
// direction resynchronises after it. It returns 0: the caller's bytes
// are left to stSkipLine.
func (p *Parser) lineTooLong(h *half, ts int64) int {
	p.drop(l7.DropTooLarge, h.lineLen)
	h.lineLen = 0
	p.mark(h, l7.FlagTruncated)
	p.endBody(h, ts)
	h.state = stSkipLine
	return 0
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
