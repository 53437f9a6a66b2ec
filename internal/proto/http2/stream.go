package http2

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Stream state bits.
const (
	stReq       uint16 = 1 << iota // request headers decoded
	stReqEnd                       // the client ended its side (END_STREAM)
	stResp                         // final (non-1xx) response headers decoded
	stRespEnd                      // the server ended its side
	stNoReq                        // opened by a response: its request was not seen
	stGRPC                         // a gRPC call
	stReset                        // ended by RST_STREAM
	stAuthority                    // authority came from :authority (a host header does not replace it)
	stRespLost                     // a response header field could not be decoded
)

// Header block sides.
const (
	sideReq uint8 = iota
	sideResp
)

// Why a stream is emitted.
const (
	whyDone    uint8 = iota // the response ended
	whyReset                // RST_STREAM
	whyEnd                  // the flow ended
	whyEvicted              // MaxPending streams were open
	whyTimeout              // no response within Timeout
	whyGoAway               // the server will not process it
)

// span locates a value in stream.vals.
type span struct{ off, n int32 }

// grpcCounter counts the length-prefixed messages (1 flag byte, 4 length
// bytes, the message) of one side of a gRPC call without buffering them.
// A message counts once all its bytes went by.
type grpcCounter struct {
	msgs uint64
	left uint64 // bytes of the current message still to come
	plen uint32 // the length prefix being read
	hdr  uint8  // prefix bytes read
	lost bool   // bytes were lost in a gap: the count stops
}

func (g *grpcCounter) feed(b []byte) {
	if g.lost {
		return
	}
	for len(b) > 0 {
		if g.left > 0 {
			n := min(uint64(len(b)), g.left)
			b = b[n:]
			if g.left -= n; g.left == 0 {
				g.msgs++
			}
			continue
		}
		if g.hdr > 0 {
			g.plen = g.plen<<8 | uint32(b[0])
		}
		g.hdr++
		b = b[1:]
		if g.hdr == 5 {
			if g.plen == 0 {
				g.msgs++
			}
			g.left, g.plen, g.hdr = uint64(g.plen), 0, 0
		}
	}
}

// stream is one HTTP/2 stream: a request and its response.
type stream struct {
	id             uint32
	seq            uint64 // opening order
	st             uint16
	reqTS, lastReq int64 // first request byte; last request frame (for Timeout)
	respTS         int64 // last response frame
	reqBytes       int64
	respBytes      int64
	rstCode        uint32
	rstDir         flow.Dir
	txFlags        l7.Flags
	grpc           [2]grpcCounter // by direction
	method, path   span
	authority, ua  span
	ctReq, ctResp  span
	status         span
	grpcStatus     span
	grpcMsg        span
	vals           []byte // the values the spans locate
	reqText        []byte // request_headers
	respText       []byte // response_headers
}

// maxVals bounds the values kept per stream (the header texts are bounded
// by l7.MaxField each).
const maxVals = l7.MaxField + 1024

// reset prepares a (possibly reused) stream for id, keeping its buffers.
func (s *stream) reset(id uint32, seq uint64) {
	vals, rq, rs := s.vals[:0], s.reqText[:0], s.respText[:0]
	*s = stream{id: id, seq: seq, vals: vals, reqText: rq, respText: rs}
}

// release drops buffers that a rare large stream grew.
func (s *stream) release() {
	if cap(s.vals) > l7.MaxField {
		s.vals = nil
	}
	if cap(s.reqText) > l7.MaxField {
		s.reqText = nil
	}
	if cap(s.respText) > l7.MaxField {
		s.respText = nil
	}
}

func (s *stream) set(sp *span, v string) {
	if len(v) > l7.MaxField {
		v = v[:l7.MaxField]
		s.txFlags |= l7.FlagTruncated
	}
	if room := maxVals - len(s.vals); len(v) > room {
		v = v[:room]
		s.txFlags |= l7.FlagTruncated
	}
	*sp = span{int32(len(s.vals)), int32(len(v))}
	s.vals = append(s.vals, v...)
}

func (s *stream) setBytes(sp *span, v []byte) {
	if len(v) > l7.MaxField {
		v = v[:l7.MaxField]
		s.txFlags |= l7.FlagTruncated
	}
	if room := maxVals - len(s.vals); len(v) > room {
		v = v[:room]
		s.txFlags |= l7.FlagTruncated
	}
	*sp = span{int32(len(s.vals)), int32(len(v))}
	s.vals = append(s.vals, v...)
}

func (s *stream) val(sp span) []byte {
	if sp.n == 0 {
		return nil
	}
	end := sp.off + sp.n
	return s.vals[sp.off:end:end]
}

// addBytes counts a frame of the stream.
func (s *stream) addBytes(dir flow.Dir, n int64, ts int64) {
	if dir == flow.ClientToServer {
		s.reqBytes += n
		s.lastReq = ts
	} else {
		s.respBytes += n
		s.respTS = ts
	}
}

// waiting reports whether the stream waits for its response.
func (s *stream) waiting() bool { return s.st&(stResp|stNoReq|stReset) == 0 }

// appendMax appends v to dst without growing dst beyond limit bytes, and
// reports whether it had to cut.
func appendMax[T string | []byte](dst []byte, v T, limit int) ([]byte, bool) {
	room := limit - len(dst)
	if len(v) > room {
		return append(dst, v[:max(room, 0)]...), true
	}
	return append(dst, v...), false
}

// appendLine appends "name: value\n" to a header text bounded by
// l7.MaxField. A redacted value is replaced by l7.Redacted; for
// authorization headers the scheme ("Bearer ") is kept, as the HTTP/1
// parser does.
func appendLine[N, V string | []byte](text []byte, name N, value V, redact bool) ([]byte, bool) {
	var c1, c2, c3, c4, c5 bool
	text, c1 = appendMax(text, name, l7.MaxField)
	text, c2 = appendMax(text, ": ", l7.MaxField)
	if redact {
		if isAuthorization(name) {
			for i := 0; i < len(value); i++ {
				if value[i] == ' ' {
					text, c5 = appendMax(text, value[:i+1], l7.MaxField)
					break
				}
			}
		}
		text, c3 = appendMax(text, l7.Redacted, l7.MaxField)
	} else {
		text, c3 = appendMax(text, value, l7.MaxField)
	}
	text, c4 = appendMax(text, "\n", l7.MaxField)
	return text, c1 || c2 || c3 || c4 || c5
}

// isCredential reports header fields whose values are credentials (the
// same list as the HTTP/1 parser's).
func isCredential[N string | []byte](name N) bool {
	switch string(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token":
		return true
	}
	return false
}

func isAuthorization[N string | []byte](name N) bool {
	switch string(name) {
	case "authorization", "proxy-authorization":
		return true
	}
	return false
}

// onField receives the decoded fields of the header block being decoded.
// The strings are hpack's; they are copied into the stream's buffers.
func (p *parser) onField(f hpack.HeaderField) {
	if p.placeholder {
		return
	}
	if f.Name == placeholderName {
		p.unknownName = true
		return
	}
	s := p.cur
	if s == nil {
		return
	}
	redact := false
	if (f.Sensitive || isCredential(f.Name)) && !p.ctx.KeepCredentials {
		redact = true
		s.txFlags |= l7.FlagRedacted
	}
	var cut bool
	if p.side == sideReq {
		switch f.Name {
		case ":method":
			s.set(&s.method, f.Value)
		case ":path":
			s.set(&s.path, f.Value)
		case ":authority":
			s.set(&s.authority, f.Value)
			s.st |= stAuthority
		case "host":
			if s.st&stAuthority == 0 {
				s.set(&s.authority, f.Value)
			}
		case "user-agent":
			s.set(&s.ua, f.Value)
		case "content-type":
			s.set(&s.ctReq, f.Value)
			if strings.HasPrefix(f.Value, "application/grpc") {
				s.st |= stGRPC
			}
		}
		s.reqText, cut = appendLine(s.reqText, f.Name, f.Value, redact)
	} else {
		switch f.Name {
		case ":status":
			s.set(&s.status, f.Value)
		case "content-type":
			s.set(&s.ctResp, f.Value)
			if strings.HasPrefix(f.Value, "application/grpc") && s.st&stReq == 0 {
				s.st |= stGRPC
			}
		case "grpc-status":
			s.set(&s.grpcStatus, f.Value)
			s.st |= stGRPC
		case "grpc-message":
			s.set(&s.grpcMsg, f.Value)
		}
		s.respText, cut = appendLine(s.respText, f.Name, f.Value, redact)
	}
	if cut {
		s.txFlags |= l7.FlagTruncated
	}
}

// streamTable holds the open streams. Lookups go through a map from
// stream id to slot; slots are reused so that their buffers are.
type streamTable struct {
	s     []stream
	index map[uint32]int32
	seq   uint64
	// hi, lo: the highest and lowest stream id opened by a request, by
	// parity (odd: client-initiated, even: pushed). Stream ids only grow,
	// so an id in [lo, hi] that is not open is a stream already emitted.
	hi, lo [2]uint32
	// minWait is at most the lastReq of every stream waiting for its
	// response: the timeout scan runs only when it could find one.
	minWait int64
	// order lists the streams in opening order from head on, with
	// entries of streams already gone (skipped when met, compacted when
	// they pile up): eviction finds the oldest without a scan.
	order []orderEnt
	head  int
	// goAways counts the server's GOAWAY frames acted on.
	goAways int
}

type orderEnt struct {
	id  uint32
	seq uint64
}

// oldest returns the slot of the oldest open stream (there is one).
func (t *streamTable) oldest() int {
	for t.head < len(t.order) {
		e := t.order[t.head]
		t.head++
		if i, ok := t.index[e.id]; ok && t.s[i].seq == e.seq {
			return int(i)
		}
	}
	// Unreachable while order holds every open stream; fall back to a scan.
	oldest := 0
	for i := range t.s {
		if t.s[i].seq < t.s[oldest].seq {
			oldest = i
		}
	}
	return oldest
}

// compact drops the entries of streams that are gone.
func (t *streamTable) compact() {
	live := t.order[:0]
	for _, e := range t.order[t.head:] {
		if i, ok := t.index[e.id]; ok && t.s[i].seq == e.seq {
			live = append(live, e)
		}
	}
	clear(t.order[len(live):])
	t.order, t.head = live, 0
}

func (t *streamTable) init() {
	t.index = make(map[uint32]int32)
	t.minWait = math.MaxInt64
}

func (t *streamTable) get(id uint32) *stream {
	i, ok := t.index[id]
	if !ok {
		return nil
	}
	return &t.s[i]
}

// isNew reports whether a request for id opens a new stream.
func (t *streamTable) isNew(id uint32) bool { return id > t.hi[id&1] }

// unseen reports whether a response on id that is not open belongs to a
// request this parser did not see (rather than to a stream it emitted).
func (t *streamTable) unseen(id uint32) bool {
	par := id & 1
	return t.hi[par] == 0 || id > t.hi[par] || id < t.lo[par]
}

func (t *streamTable) opened(id uint32) {
	par := id & 1
	t.hi[par] = id
	if t.lo[par] == 0 {
		t.lo[par] = id
	}
}

// open adds a stream, first emitting the oldest one if MaxPending are
// open.
func (p *parser) open(id uint32, ts int64) *stream {
	t := &p.streams
	if len(t.s) >= p.maxPend {
		p.finish(t.oldest(), ts, whyEvicted)
	}
	if len(t.order) >= 2*p.maxPend+16 {
		t.compact()
	}
	t.order = append(t.order, orderEnt{id, t.seq})
	n := len(t.s)
	if n < cap(t.s) {
		t.s = t.s[:n+1]
	} else {
		t.s = append(t.s, stream{})
	}
	s := &t.s[n]
	s.reset(id, t.seq)
	t.seq++
	t.index[id] = int32(n)
	return s
}

// finish emits stream i and frees its slot.
func (p *parser) finish(i int, ts int64, why uint8) {
	t := &p.streams
	p.emit(&t.s[i], ts, why)
	last := len(t.s) - 1
	delete(t.index, t.s[i].id)
	if i != last {
		t.s[i], t.s[last] = t.s[last], t.s[i]
		t.index[t.s[i].id] = int32(i)
	}
	t.s[last].release()
	t.s = t.s[:last]
}

// finishAll emits every open stream, oldest first (the flow ended).
func (p *parser) finishAll(ts int64) {
	t := &p.streams
	slices.SortFunc(t.s, func(a, b stream) int { return cmp.Compare(a.seq, b.seq) })
	for i := range t.s {
		p.emit(&t.s[i], ts, whyEnd)
		t.s[i].release()
	}
	t.s = t.s[:0]
	clear(t.index)
	t.order, t.head = t.order[:0], 0
	t.minWait = math.MaxInt64
}

// expire emits the streams that have waited for their response longer
// than the timeout, counted from the request's last frame (a client
// still sending is not waiting yet).
func (p *parser) expire(ts int64) {
	t := &p.streams
	to := p.ctx.Timeout
	if to <= 0 || len(t.s) == 0 || ts-t.minWait <= to {
		return
	}
	low := int64(math.MaxInt64)
	for i := 0; i < len(t.s); {
		s := &t.s[i]
		if !s.waiting() {
			i++
			continue
		}
		if ts-s.lastReq > to {
			p.finish(i, ts, whyTimeout) // moves another stream to i
			continue
		}
		low = min(low, s.lastReq)
		i++
	}
	t.minWait = low
}

// headerBlock applies a complete header block of stream id (promised: the
// stream a PUSH_PROMISE opens). size is the bytes of its frames, reqTS
// the time of its first byte.
func (p *parser) headerBlock(dir flow.Dir, d *direction, typ, flags uint8, id, promised uint32, blk []byte, size int64, reqTS, ts int64) {
	t := &p.streams
	var s *stream
	side := sideResp
	switch {
	case typ == framePushPromise:
		// The server sends the request of a pushed stream.
		side = sideReq
		if s = t.get(promised); s == nil && promised != 0 && t.isNew(promised) {
			s = p.open(promised, ts)
			t.opened(promised)
		} else if s != nil && s.st&stReq != 0 {
			s = nil // promised twice: decode for the table only
		}
	case dir == flow.ClientToServer:
		side = sideReq
		if s = t.get(id); s == nil && t.isNew(id) {
			s = p.open(id, ts)
			t.opened(id)
		}
	default:
		if s = t.get(id); s == nil && t.unseen(id) {
			s = p.open(id, ts)
			s.st |= stNoReq
		}
	}
	p.cur, p.side = s, side
	p.decodeBlock(d, blk)
	p.cur = nil
	if s == nil {
		return
	}
	if side == sideReq {
		if s.st&stReq == 0 {
			s.st |= stReq
			s.reqTS = reqTS
		}
		s.reqBytes += size
		s.lastReq = ts
		t.minWait = min(t.minWait, ts)
		if typ == framePushPromise || flags&flagEndStream != 0 {
			s.st |= stReqEnd // a pushed request has no body
		}
		return
	}
	s.respBytes += size
	s.respTS = ts
	if s.st&stResp == 0 {
		// An informational (1xx) response is followed by the real one.
		if st := s.val(s.status); len(st) != 3 || st[0] != '1' || flags&flagEndStream != 0 {
			s.st |= stResp
		}
	}
	if flags&flagEndStream != 0 {
		p.endStream(dir, id, ts)
	}
}

// endStream records END_STREAM from dir on stream id; the server's ends
// the transaction.
func (p *parser) endStream(dir flow.Dir, id uint32, ts int64) {
	t := &p.streams
	i, ok := t.index[id]
	if !ok {
		return
	}
	s := &t.s[i]
	if dir == flow.ClientToServer {
		s.st |= stReqEnd
		return
	}
	s.st |= stRespEnd | stResp
	s.respTS = ts
	p.finish(int(i), ts, whyDone)
}

// reset ends stream id with RST_STREAM from dir.
func (p *parser) reset(dir flow.Dir, id uint32, code uint32, ts int64) {
	t := &p.streams
	i, ok := t.index[id]
	if !ok {
		return
	}
	s := &t.s[i]
	s.st |= stReset
	s.rstCode, s.rstDir = code, dir
	if dir == flow.ServerToClient {
		s.respTS = ts // the server's answer, such as it is
	}
	p.finish(int(i), ts, whyReset)
}

// goAway ends the client streams above last that have no response: the
// server says it will not process them.
func (p *parser) goAway(last uint32, ts int64) {
	t := &p.streams
	// A server sends one or two; more are not worth a scan each.
	if t.goAways++; t.goAways > maxGoAways {
		return
	}
	for i := 0; i < len(t.s); {
		s := &t.s[i]
		if s.id&1 == 1 && s.id > last && s.waiting() {
			p.finish(i, ts, whyGoAway)
			continue
		}
		i++
	}
}

// maxGoAways bounds the GOAWAY frames acted on per connection.
const maxGoAways = 4

// splitGRPCPath splits "/pkg.Service/Method" into service and method.
func splitGRPCPath(path []byte) (service, method []byte) {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i:i], path[i+1:]
		}
	}
	return path, nil
}

// httpOutcome maps an HTTP status to an outcome.
func httpOutcome(status []byte) l7.Outcome {
	if len(status) == 3 {
		switch status[0] {
		case '4':
			return l7.OutcomeClientError
		case '5':
			return l7.OutcomeServerError
		}
	}
	return l7.OutcomeOK
}

// grpcOutcome maps a grpc-status to an outcome: the codes that blame the
// caller's request are client errors (gRPC's own status-code guide).
func grpcOutcome(code []byte) l7.Outcome {
	n := 0
	if len(code) == 0 || len(code) > 3 {
		return l7.OutcomeServerError
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return l7.OutcomeServerError
		}
		n = n*10 + int(c-'0')
	}
	switch n {
	case 0:
		return l7.OutcomeOK
	case 3, 5, 6, 7, 9, 11, 16:
		return l7.OutcomeClientError
	}
	return l7.OutcomeServerError
}

// emit builds the transaction of s in the parser's reused Transaction and
// hands it to the sink.
func (p *parser) emit(s *stream, ts int64, why uint8) {
	tx := &p.tx
	fields := p.fields[:0]
	*tx = l7.Transaction{Flags: s.txFlags, RespBytes: s.respBytes}
	grpc := s.st&stGRPC != 0
	tx.Proto = "http2"
	if grpc {
		tx.Proto = "grpc"
	}
	if s.st&stNoReq == 0 {
		tx.ReqTS, tx.ReqBytes = s.reqTS, s.reqBytes
	}
	path := s.val(s.path)
	status := s.val(s.status)
	grpcStatus := s.val(s.grpcStatus)
	if grpc {
		tx.Target, tx.Op = splitGRPCPath(path)
		tx.Status = grpcStatus
	} else {
		tx.Op, tx.Target = s.val(s.method), path
		tx.Status = status
	}

	ended := s.st&stRespEnd != 0
	switch {
	case s.st&stNoReq != 0:
		tx.Outcome = l7.OutcomeNoRequest
	case s.st&stReset != 0 && !(s.rstCode == 0 && s.st&stResp != 0):
		tx.Outcome = l7.OutcomeServerError
		if s.rstDir == flow.ClientToServer {
			tx.Outcome = l7.OutcomeClientError
		}
	case s.st&stResp == 0:
		tx.Outcome = l7.OutcomeNoResponse
	case grpc && grpcStatus != nil:
		tx.Outcome = grpcOutcome(grpcStatus)
	case grpc && ended && s.st&stRespLost == 0:
		// A gRPC response must end with grpc-status; without it the
		// client sees an error whatever the HTTP status says. (When a
		// response field could not be decoded it may have been it.)
		if tx.Outcome = httpOutcome(status); tx.Outcome == l7.OutcomeOK {
			tx.Outcome = l7.OutcomeServerError
		}
	default:
		tx.Outcome = httpOutcome(status)
	}
	switch {
	case why == whyDone:
		tx.RespTS = ts
	case tx.Outcome != l7.OutcomeNoResponse:
		tx.RespTS = s.respTS
	}
	if !ended && s.st&stResp != 0 && why != whyReset {
		tx.Flags |= l7.FlagTruncated // the response was still coming
	}

	num := p.num[:0]
	numField := func(key string, v uint64) {
		start := len(num)
		num = strconv.AppendUint(num, v, 10)
		fields = append(fields, l7.Field{Key: key, Value: num[start:len(num):len(num)]})
	}
	add := func(key string, v []byte) {
		if v != nil {
			fields = append(fields, l7.Field{Key: key, Value: v})
		}
	}
	add(FieldAuthority, s.val(s.authority))
	if grpc {
		add(FieldPath, path)
	}
	numField(FieldStreamID, uint64(s.id))
	add(FieldUserAgent, s.val(s.ua))
	if ct := s.val(s.ctResp); ct != nil {
		add(FieldContentType, ct)
	} else {
		add(FieldContentType, s.val(s.ctReq))
	}
	if grpc {
		add(FieldHTTPStatus, status)
	}
	add(FieldGRPCMessage, s.val(s.grpcMsg))
	if grpc {
		if s.st&stNoReq == 0 {
			numField(FieldRequestMessages, s.grpc[flow.ClientToServer].msgs)
		}
		if s.st&stResp != 0 {
			numField(FieldResponseMessages, s.grpc[flow.ServerToClient].msgs)
		}
	}
	if s.st&stReset != 0 {
		if name := errorCodeName(s.rstCode); name != "" {
			fields = append(fields, l7.Field{Key: FieldReset, Value: errorCodeBytes[s.rstCode]})
		} else {
			numField(FieldReset, uint64(s.rstCode))
		}
	}
	if len(s.reqText) > 0 {
		add(FieldRequestHeaders, s.reqText)
	}
	if len(s.respText) > 0 {
		add(FieldResponseHeaders, s.respText)
	}
	tx.Fields = fields
	p.sink.Transaction(tx)
	clear(fields)
	p.fields = fields[:0]
	p.tx = l7.Transaction{}
}
