package dns

// The L7 glue: Protocol, the content detector, and the transaction parser
// that pairs queries with responses. What it emits is described in doc.go.

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol declares DNS to the probe: over UDP one message per datagram,
// over TCP messages framed by a 2-byte length (RFC 1035 §4.2.2, RFC 7766).
// Detection is by content (Looks); the ports only order the detectors
// and let an ambiguous verdict win.
var Protocol = &l7.Protocol{
	Name:   "dns",
	TCP:    true,
	UDP:    true,
	Ports:  ports,
	Detect: detect,
	New:    newParser,
}

// Field keys, in the order they appear in a transaction.
const (
	FieldID        = "id"                 // the query id, decimal
	FieldQClass    = "qclass"             // class of the first question: IN, CH, HS, NONE, ANY or CLASSn
	FieldAnswers   = "answers"            // answer records in the response, decimal
	FieldAnswer    = "answer"             // the first answers, "CNAME x.example, A 192.0.2.1"
	FieldTruncated = "truncated"          // "true" when the response has the TC bit (retry over TCP expected)
	FieldECS       = "edns_client_subnet" // EDNS Client Subnet of the query (or the response), "192.0.2.0/24"
	FieldOpcode    = "opcode"             // only when not QUERY: IQUERY, STATUS, NOTIFY, UPDATE, DSO or the number
	FieldMalformed = "malformed"          // why a message could not be decoded in full (the query's, else the response's)
)

// maxProbe is the most bytes Looks needs to decide about a TCP stream
// position: the length prefix, the header and the longest first question.
const maxProbe = 2 + HeaderLen + maxNameWire + 4

func detect(b []byte, _ flow.Dir, serverPort uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if serverPort == 137 {
		// NetBIOS name service speaks the DNS message format (RFC 1002)
		// but is its own protocol, with its own name encoding.
		return l7.No
	}
	// The detector does not know the transport; a UDP payload and a TCP
	// stream are told apart by trying both framings. A TCP stream's first
	// two bytes are the message length, which as a DNS id is as likely as
	// any other, so the framing that checks out is the one that fits.
	onPort := isDNSPort(serverPort)
	if Looks(b, true) || Looks(b, false) {
		if onPort {
			return l7.Yes
		}
		return l7.Maybe
	}
	if tcpPrefixOpen(b) {
		return l7.NeedMore
	}
	if onPort && (headerOnPort(b) || len(b) >= 2 && headerOnPort(b[2:]) && int(binary.BigEndian.Uint16(b)) >= HeaderLen) {
		// On a DNS port, what pktvisor and tshark decode by port alone:
		// a message whose header is sane but whose question Looks
		// rejects (control characters, a compression pointer, a capture
		// cut short, an mDNS announcement without a question). The
		// parser reports what it cannot decode.
		return l7.Maybe
	}
	return l7.No
}

// headerOnPort is the header check for traffic on a DNS port: a header
// with a QUERY, NOTIFY or UPDATE opcode, the Z bit clear, at most 16
// questions, and a query with rcode 0.
func headerOnPort(h []byte) bool {
	if len(h) < HeaderLen {
		return false
	}
	switch (h[2] >> 3) & 0x0f {
	case 0, 4, 5:
	default:
		return false
	}
	return h[3]&0x40 == 0 && (h[2]&0x80 != 0 || h[3]&0x0f == 0) && binary.BigEndian.Uint16(h[4:]) <= 16
}

// ports: DNS, mDNS (RFC 6762), LLMNR (RFC 4795).
var ports = []uint16{53, 5353, 5355}

func isDNSPort(p uint16) bool {
	for _, q := range ports {
		if p == q {
			return true
		}
	}
	return false
}

// tcpPrefixOpen reports whether b may be the start of a TCP DNS stream
// that Looks cannot judge yet because the first question is not all
// there: what is present checks out and more bytes could complete it.
func tcpPrefixOpen(b []byte) bool {
	if len(b) < 2 {
		return true
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < minMessage || len(b)-2 >= n || len(b) >= maxProbe {
		return false // too short to be DNS, or complete, or long enough to judge
	}
	return !implausibleHeader(b[2:])
}

// implausibleHeader rejects, from as few bytes as are there, a header
// that Looks would reject however the message continues.
func implausibleHeader(h []byte) bool {
	if len(h) >= 4 {
		f1, f2 := h[2], h[3]
		switch (f1 >> 3) & 0x0f {
		case 0, 4, 5:
		default:
			return true
		}
		if f2&0x40 != 0 || f1&0x80 == 0 && f2&0x0f != 0 || f2&0x0f > 10 {
			return true
		}
	}
	if len(h) >= 6 {
		if qd := int(binary.BigEndian.Uint16(h[4:])); qd < 1 || qd > 16 {
			return true
		}
	}
	return false
}

// query is a query waiting for its response.
type query struct {
	id     uint16
	dir    flow.Dir
	opcode uint8
	hasQ   bool
	qtype  uint16
	qclass uint16
	name   []byte // owned; its capacity is reused by the slot's next query
	ts     int64
	size   int64
	ecs    netip.Prefix
	err    error
	cut    bool // cut at MaxMessage
}

// framing is the framing state of one TCP direction.
type framing struct {
	// buf holds the start of a message cut by the end of a Data call
	// (or, resynchronising, bytes from a position not yet judged),
	// charged to the flow's memory budget.
	buf    l7.Buf
	heldTS int64 // ts of the Data call that carried the first held byte
	skip   int   // bytes of the current message still to pass over
	// skipGap: the message being skipped was damaged by a gap and not
	// reported, so its bytes are drops; otherwise it was reported cut at
	// the limit and its bytes are in ReqBytes/RespBytes.
	skipGap bool
	resync  bool // looking for a message boundary (after a gap, mid-stream start, bad framing)
}

type parser struct {
	ctx     l7.Context
	limit   int // largest message (prefix included) assembled whole
	dirs    [2]framing
	pending []query // oldest first; slots past len keep their name buffers
	cur     summary
	tx      l7.Transaction
	fields  [8]l7.Field
	idBuf   [8]byte
	opBuf   [16]byte
	rcBuf   [8]byte
	clsBuf  [16]byte
	ansBuf  [8]byte
	ecsBuf  [64]byte
	ended   bool
}

// handle is the Parser the probe holds. The parser state behind it is
// recycled at End (a UDP DNS flow usually carries one transaction, since
// resolvers pick a fresh source port per query, so a new flow per
// transaction is the common case and its buffers should not be garbage).
// Calls after End find no state and do nothing.
type handle struct{ p *parser }

var parsers = sync.Pool{New: func() any { return new(parser) }}

func newParser(ctx l7.Context) l7.Parser {
	p := parsers.Get().(*parser)
	p.init(ctx)
	return &handle{p}
}

func (h *handle) Data(dir flow.Dir, b []byte, ts int64) {
	if h.p != nil {
		h.p.Data(dir, b, ts)
	}
}

func (h *handle) Gap(dir flow.Dir, n int64, ts int64) {
	if h.p != nil {
		h.p.Gap(dir, n, ts)
	}
}

func (h *handle) End(ts int64) {
	if p := h.p; p != nil {
		h.p = nil
		p.End(ts)
		p.recycle()
		parsers.Put(p)
	}
}

// init readies a new or recycled parser for a flow.
func (p *parser) init(ctx l7.Context) {
	p.ctx = ctx
	p.ended = false
	if p.ctx.MaxPending < 1 {
		p.ctx.MaxPending = 1
	}
	// A limit below maxProbe could not hold a resync candidate; the
	// Tracker's configuration never goes below 512.
	p.ctx.MaxMessage = max(ctx.MaxMessage, 512)
	p.limit = p.ctx.MaxMessage
	for i := range p.dirs {
		p.dirs[i] = framing{}
		if ctx.Transport == l7.TCP {
			p.dirs[i].buf = p.ctx.NewBuf()
		}
	}
}

// recycle drops what must not outlive the flow (the sink, the budget's
// buffers) and oversized buffers, keeping the small ones for the next.
func (p *parser) recycle() {
	p.ctx = l7.Context{}
	p.tx = l7.Transaction{}
	p.fields = [len(p.fields)]l7.Field{}
	for i := range p.dirs {
		p.dirs[i] = framing{}
	}
	if cap(p.pending) > 4 {
		p.pending = nil
	}
	for i := range p.pending[:cap(p.pending)] {
		if q := &p.pending[:cap(p.pending)][i]; cap(q.name) > 256 {
			q.name = nil
		}
	}
	if cap(p.cur.name) > 256 {
		p.cur.name = nil
	}
	if cap(p.cur.answer) > 1024 {
		p.cur.answer = nil
	}
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if p.ended || dir > flow.ServerToClient {
		return
	}
	p.expire(ts)
	if p.ctx.Transport != l7.TCP {
		if len(b) < HeaderLen {
			p.ctx.Sink.Drop(l7.DropMalformed, len(b))
			return
		}
		p.message(dir, b, ts, ts, int64(len(b)), false)
		return
	}
	d := &p.dirs[dir]
	if d.skip > 0 {
		n := min(d.skip, len(b))
		p.pass(d, n)
		b = b[n:]
	}
	if len(b) == 0 {
		return
	}
	held := d.buf.Len()
	data := d.buf.Feed(b) // b itself when nothing is held: no copy
	n := p.walk(dir, d, data, held, ts)
	if n >= held {
		d.heldTS = ts
	}
	if dropped := d.buf.Keep(data[n:]); dropped > 0 {
		// Only when the flow's memory budget refused to hold the bytes.
		p.ctx.Sink.Drop(l7.DropTooLarge, dropped)
		d.resync = true
	}
}

// pass skips n bytes of a message being passed over.
func (p *parser) pass(d *framing, n int) {
	d.skip -= n
	if d.skipGap {
		p.ctx.Sink.Drop(l7.DropGap, n)
	}
}

// walk decodes the messages in data (the held bytes, the first held of
// them, followed by the new ones) and returns how many bytes it consumed;
// the rest is the start of a message (or a resync candidate) to hold.
func (p *parser) walk(dir flow.Dir, d *framing, data []byte, held int, ts int64) int {
	i := 0
	for i < len(data) {
		if d.skip > 0 {
			n := min(d.skip, len(data)-i)
			p.pass(d, n)
			i += n
			continue
		}
		rem := data[i:]
		if d.resync {
			f, o := findBoundary(rem, len(rem))
			switch {
			case f >= 0:
				p.ctx.Sink.Drop(l7.DropResync, f)
				i += f
				d.resync = false
				continue
			case o >= 0:
				p.ctx.Sink.Drop(l7.DropResync, o)
				return i + o
			}
			p.ctx.Sink.Drop(l7.DropResync, len(rem))
			return len(data)
		}
		if len(rem) < 2 {
			return i
		}
		total := 2 + int(binary.BigEndian.Uint16(rem))
		if total < 2+HeaderLen {
			d.resync = true // not DNS framing: find the next message
			continue
		}
		reqTS := ts
		if i < held {
			reqTS = d.heldTS
		}
		if total <= len(rem) {
			p.message(dir, rem[2:total], reqTS, ts, int64(total), false)
			i += total
			continue
		}
		if total > p.limit && len(rem) >= p.limit {
			// Longer than what may be buffered: decode the first limit
			// bytes (header, question, first records) and pass over the
			// rest, which still counts in the message's size.
			p.message(dir, rem[2:p.limit], reqTS, ts, int64(total), true)
			d.skip, d.skipGap = total-len(rem), false
			return len(data)
		}
		return i
	}
	return i
}

// findBoundary judges positions 0..end-1 of p as message starts. It
// returns the first position where a message plausibly starts (Looks),
// or -1, and the first position before that which cannot be judged yet,
// or -1. A position is judged when maxProbe bytes follow it or when the
// message its length prefix announces is complete in p. A later judged
// start wins over an earlier open one, so that bytes that only look like
// the start of a long message do not hide the real messages behind them;
// an open position is held (fewer than maxProbe bytes from it) until more
// bytes come.
func findBoundary(p []byte, end int) (found, open int) {
	open = -1
	for i := 0; i < end; i++ {
		q := p[i:]
		if len(q) >= 2 {
			n := int(binary.BigEndian.Uint16(q))
			if n < minMessage || implausibleHeader(q[2:]) {
				continue
			}
			if len(q) >= maxProbe || len(q)-2 >= n {
				if Looks(q, true) {
					return i, open
				}
				continue
			}
		}
		if open < 0 {
			open = i
		}
	}
	return -1, open
}

// Gap implements l7.Parser.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if p.ended || dir > flow.ServerToClient || p.ctx.Transport != l7.TCP || n == 0 {
		return
	}
	p.expire(ts)
	d := &p.dirs[dir]
	held := d.buf.Feed(nil)
	switch {
	case n < 0:
	case d.skip > 0 && n <= int64(d.skip):
		// The hole is inside a message being passed over: still framed.
		// (Missing bytes were never received, so they are not drops.)
		d.skip -= int(n)
		return
	case !d.resync && len(held) >= 2:
		total := 2 + int(binary.BigEndian.Uint16(held))
		if total <= p.limit && n <= int64(total-len(held)) {
			// The hole is inside the message being assembled: lose the
			// message, keep the framing.
			d.skip, d.skipGap = total-len(held)-int(n), true
			p.ctx.Sink.Drop(l7.DropGap, d.buf.Reset())
			return
		}
	}
	// The hole may hide message boundaries: find the next one.
	reason := l7.DropGap
	if d.resync {
		reason = l7.DropResync
	}
	p.ctx.Sink.Drop(reason, d.buf.Reset())
	d.skip = 0
	d.resync = true
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	if p.ended {
		return
	}
	p.ended = true
	for i := range p.dirs {
		d := &p.dirs[i]
		// Resync candidates, or a message cut by the end of the flow.
		reason := l7.DropOther
		if d.resync {
			reason = l7.DropResync
		}
		p.ctx.Sink.Drop(reason, d.buf.Reset())
	}
	for len(p.pending) > 0 {
		p.noResponse(0)
	}
}

// expire emits the queries older than the timeout. Queries are kept in
// arrival order, so the scan stops at the first young one.
func (p *parser) expire(ts int64) {
	if p.ctx.Timeout <= 0 {
		return
	}
	for len(p.pending) > 0 && ts-p.pending[0].ts > p.ctx.Timeout {
		p.noResponse(0)
	}
}

// message handles one DNS message: msg without the TCP length prefix,
// size its length on the wire (prefix included), reqTS the time of its
// first byte, ts the time it completed. cut: msg is only the first
// bytes of a longer message.
func (p *parser) message(dir flow.Dir, msg []byte, reqTS, ts int64, size int64, cut bool) {
	s := &p.cur
	s.scan(msg)
	if cut && s.err == ErrTruncated {
		// Our cut, not the message's fault: the header's count is the
		// best word on how many answers the rest holds.
		s.err = nil
		s.answers = max(s.answers, s.anCount)
	}
	if !s.response {
		p.addQuery(dir, s, reqTS, size, cut)
		return
	}
	for i := range p.pending {
		q := &p.pending[i]
		if q.id == s.id && q.dir != dir && p.sameQuestion(q, s) {
			p.emit(q, s, ts, size, cut)
			p.remove(i)
			return
		}
	}
	p.emit(nil, s, ts, size, cut)
}

// sameQuestion: a response matches a query with its id when both carry
// the same first question, or when either has none (FORMERR and some
// NOTIMP responses omit it). Names compare in their lower-cased form, so
// 0x20 case randomisation does not break the match.
func (p *parser) sameQuestion(q *query, s *summary) bool {
	if !q.hasQ || !s.hasQ {
		return true
	}
	return q.qtype == s.qtype && q.qclass == s.qclass && string(q.name) == string(s.name)
}

func (p *parser) addQuery(dir flow.Dir, s *summary, ts, size int64, cut bool) {
	// A query repeated with the same id and question before any response
	// (a client retry) replaces the pending one, as pktvisor's pairing
	// does; the earlier copy is reported unanswered so that every message
	// stays counted.
	for i := range p.pending {
		q := &p.pending[i]
		if q.id == s.id && q.dir == dir && q.hasQ == s.hasQ && p.sameQuestion(q, s) {
			p.noResponse(i)
			break
		}
	}
	if len(p.pending) >= p.ctx.MaxPending {
		p.noResponse(0)
	}
	n := len(p.pending)
	if n < cap(p.pending) {
		p.pending = p.pending[:n+1]
	} else {
		p.pending = append(p.pending, query{})
	}
	q := &p.pending[n]
	name := append(q.name[:0], s.name...)
	*q = query{
		id: s.id, dir: dir, opcode: s.opcode, hasQ: s.hasQ, qtype: s.qtype, qclass: s.qclass,
		name: name, ts: ts, size: size, ecs: s.ecs, err: s.err, cut: cut,
	}
}

// remove takes pending[i] out, keeping the order of the others and
// moving its slot (and name buffer) past the end for reuse.
func (p *parser) remove(i int) {
	q := p.pending[i]
	copy(p.pending[i:], p.pending[i+1:])
	last := len(p.pending) - 1
	p.pending[last] = query{name: q.name[:0]}
	p.pending = p.pending[:last]
}

// noResponse emits pending[i] as unanswered and removes it.
func (p *parser) noResponse(i int) {
	p.emit(&p.pending[i], nil, 0, 0, false)
	p.remove(i)
}

// emit builds and hands over one transaction: q and/or s may be nil.
func (p *parser) emit(q *query, s *summary, respTS, respSize int64, respCut bool) {
	t := &p.tx
	*t = l7.Transaction{Fields: p.fields[:0]}
	var (
		opcode       uint8
		hasQ         bool
		qtype, class uint16
		id           uint16
		ecs          netip.Prefix
		err          error
	)
	if q != nil {
		t.ReqTS, t.ReqBytes = q.ts, q.size
		opcode, hasQ, qtype, class, id, ecs, err = q.opcode, q.hasQ, q.qtype, q.qclass, q.id, q.ecs, q.err
		t.Target = q.name
		if q.cut {
			t.Flags |= l7.FlagTruncated
		}
	}
	if s != nil {
		t.RespTS, t.RespBytes = respTS, respSize
		if q == nil || !q.hasQ {
			opcode, hasQ, qtype, class, id, t.Target = s.opcode, s.hasQ, s.qtype, s.qclass, s.id, s.name
		}
		if !ecs.IsValid() {
			ecs = s.ecs
		}
		if err == nil {
			err = s.err
		}
		if respCut {
			t.Flags |= l7.FlagTruncated
		}
		t.Status = rcodeBytes(p.rcBuf[:0], s.rcode)
		t.Outcome = rcodeOutcome(s.rcode)
	}
	switch {
	case q == nil:
		t.Outcome = l7.OutcomeNoRequest
	case s == nil:
		t.Outcome = l7.OutcomeNoResponse
	}
	if hasQ {
		t.Op = appendTypeName(p.opBuf[:0], qtype)
	}
	if len(t.Target) > l7.MaxField { // cannot happen (names are < 1100 bytes); keep the rule anyway
		t.Target = t.Target[:l7.MaxField]
		t.Flags |= l7.FlagTruncated
	}

	t.Fields = append(t.Fields, l7.Field{Key: FieldID, Value: strconv.AppendUint(p.idBuf[:0], uint64(id), 10)})
	if hasQ {
		t.Fields = append(t.Fields, l7.Field{Key: FieldQClass, Value: appendClass(p.clsBuf[:0], class)})
	}
	if s != nil {
		t.Fields = append(t.Fields, l7.Field{Key: FieldAnswers, Value: strconv.AppendUint(p.ansBuf[:0], uint64(s.answers), 10)})
		if len(s.answer) > 0 {
			v, cut := l7.Cut(s.answer)
			if cut {
				t.Flags |= l7.FlagTruncated
			}
			t.Fields = append(t.Fields, l7.Field{Key: FieldAnswer, Value: v})
		}
		if s.tc {
			t.Fields = append(t.Fields, l7.Field{Key: FieldTruncated, Value: trueBytes})
		}
	}
	if ecs.IsValid() {
		t.Fields = append(t.Fields, l7.Field{Key: FieldECS, Value: ecs.AppendTo(p.ecsBuf[:0])})
	}
	if opcode != 0 {
		t.Fields = append(t.Fields, l7.Field{Key: FieldOpcode, Value: opcodeBytes(opcode)})
	}
	if err != nil {
		t.Fields = append(t.Fields, l7.Field{Key: FieldMalformed, Value: errBytes(err)})
	}
	p.ctx.Sink.Transaction(t)
}

// rcodeOutcome: NOERROR is success; SERVFAIL is the server's failure;
// every other code (FORMERR, NXDOMAIN, NOTIMP, REFUSED, the UPDATE and
// TSIG/EDNS codes) answers the request as asked and blames it.
func rcodeOutcome(r uint16) l7.Outcome {
	switch r {
	case 0:
		return l7.OutcomeOK
	case 2:
		return l7.OutcomeServerError
	}
	return l7.OutcomeClientError
}

var trueBytes = []byte("true")

// Names as byte slices, built once, so that transactions reference them
// without a conversion per message.
var (
	rcodeNameBytes [len(rcodeNames)][]byte
	opcodeNames    = [...][]byte{
		0: []byte("QUERY"), 1: []byte("IQUERY"), 2: []byte("STATUS"),
		4: []byte("NOTIFY"), 5: []byte("UPDATE"), 6: []byte("DSO"),
	}
	errNames = map[error][]byte{}
)

func init() {
	for i, n := range rcodeNames {
		if n != "" {
			rcodeNameBytes[i] = []byte(n)
		}
	}
	for _, e := range []error{ErrTruncated, ErrPointerLoop, ErrBadPointer, ErrLabelTooLong, ErrNameTooLong} {
		errNames[e] = []byte(e.Error()[len("dns: "):])
	}
}

// rcodeBytes returns RcodeName(r) as bytes, in buf for unnamed codes.
func rcodeBytes(buf []byte, r uint16) []byte {
	if int(r) < len(rcodeNameBytes) && rcodeNameBytes[r] != nil {
		return rcodeNameBytes[r]
	}
	return strconv.AppendUint(buf, uint64(r), 10)
}

var opcodeNumbers = [16][]byte{3: []byte("3"), 7: []byte("7"), 8: []byte("8"), 9: []byte("9"),
	10: []byte("10"), 11: []byte("11"), 12: []byte("12"), 13: []byte("13"), 14: []byte("14"), 15: []byte("15")}

func opcodeBytes(o uint8) []byte {
	if int(o) < len(opcodeNames) && opcodeNames[o] != nil {
		return opcodeNames[o]
	}
	return opcodeNumbers[o&0x0f]
}

func errBytes(err error) []byte {
	if b, ok := errNames[err]; ok {
		return b
	}
	return malformedBytes
}

var malformedBytes = []byte("malformed")

// appendClass appends a CLASS mnemonic (RFC 6895), the mDNS
// unicast-response bit removed.
func appendClass(b []byte, c uint16) []byte {
	switch c & 0x7fff {
	case 1:
		return append(b, "IN"...)
	case 3:
		return append(b, "CH"...)
	case 4:
		return append(b, "HS"...)
	case 254:
		return append(b, "NONE"...)
	case 255:
		return append(b, "ANY"...)
	}
	return strconv.AppendUint(append(b, "CLASS"...), uint64(c&0x7fff), 10)
}
