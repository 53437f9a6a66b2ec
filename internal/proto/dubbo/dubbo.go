// Package dubbo decodes Apache Dubbo's native protocol ("dubbo://", the
// 16-byte header framing of Dubbo 2.x and of Dubbo 3's dubbo protocol)
// from the reassembled bytes of a TCP flow into transactions: one
// invocation and its response, matched by the 64-bit request id.
//
// Header: magic 0xdabb, a flag byte (0x80 request, 0x40 two-way, 0x20
// event, low 5 bits the serialization id), a status byte (responses), the
// request id and the body length. Bodies are decoded for:
//
//   - Hessian2 (id 2, and 10, Hessian through the Caucho library): the
//     request's dubbo version, service path, service version, method,
//     parameter types descriptor, arguments (rendered as short text by a
//     bounded Hessian 2 reader, hessian.go) and attachments (for trace
//     context); the response's type and, for an exception or an error
//     status, its class and message.
//   - Kryo (8, 25): version, service, service version and method (Kryo
//     strings); trace attachments are looked up by key, as DeepFlow does;
//     the response's type byte.
//   - FastJson and Gson (6, 16): the JSON lines Dubbo writes; arguments as
//     their JSON text.
//   - FastJson2 (23): version, service, service version, method and
//     descriptor (JSONB strings), trace attachments by key.
//
// Other serializations (java, fst, avro, protostuff, protobuf, msgpack,
// ...) are decoded to the header only: request id, serialization, status.
//
// Per transaction:
//
//	Op      the method name (for generic calls, $invoke/$invokeAsync, the
//	        invoked method: their first argument)
//	Target  the service path (the interface name)
//	Status  the response status code: 20 OK, 30 client timeout, 31
//	        server timeout, 35 channel inactive, 40 bad request, 50 bad
//	        response, 60 service not found, 70 service error, 80 server
//	        error, 90 client error, 100 server thread pool exhausted
//
// Fields, in this order, each only when known:
//
//	dubbo_version    the protocol version the client speaks ("2.0.2")
//	service_version  the service's version ("1.0.0", "0.0.0")
//	request_id       the request id, decimal
//	serialization    hessian2, kryo, fastjson2, ... (or the id in decimal)
//	arg_types        the parameter types descriptor
//	                 ("Ljava/lang/String;J")
//	args             the arguments, comma separated: strings quoted,
//	                 lists [..], maps {k: v}, objects Class{field: v},
//	                 binary as bytes[n], references as ref#n; cut at
//	                 l7.MaxField
//	trace_id         from the sw8 (SkyWalking: the decoded trace id),
//	                 traceparent (W3C), uber-trace-id (Jaeger) or
//	                 EagleEye-TraceID attachment, in that order of
//	                 preference
//	span_id          from the same attachment (sw8: segment id "-" span
//	                 id, as DeepFlow shows it; EagleEye-SpanID)
//	response_type    value, null or exception (the Hessian, Kryo or JSON
//	                 response type of a status-20 response)
//	error_message    the exception (class: message) of a response of
//	                 type exception, or the error text of a non-20 status
//
// Outcome: ok for status 20; server_error for a status-20 response
// carrying an exception (the provider threw); client_error for 30 (client
// timeout), 40 (bad request) and 90 (client error); server_error for every
// other status (31, 35, 50, 60, 70, 80, 100 and unknown ones). One-way
// requests (two-way bit clear) are one_way. Heartbeats (the event bit)
// are not transactions.
//
// Credentials: unless Context.KeepCredentials, the arguments of a method
// whose name suggests authentication (login, auth, password, secret,
// token, credential) are replaced by <redacted>, as are map entries and
// object fields named like a secret (password, passwd, pwd, secret,
// token, credential, api/access/private key) in any method's arguments;
// the transaction is flagged FlagRedacted.
//
// Limits: a message longer than Context.MaxMessage is decoded from its
// first MaxMessage bytes (attachments at its end are then not seen) and
// the rest is skipped by counting. A gap inside a message whose length is
// known keeps the framing (the message is decoded from the bytes before
// the hole, flagged FlagTruncated). Otherwise, after a gap or a
// mid-stream start, bytes are skipped (DropResync) up to the next 0xdabb
// magic followed by a plausible header. A message still incomplete when
// the flow ends is counted as DropOther.
package dubbo

import (
	"encoding/binary"
	"strconv"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol is Dubbo's native protocol.
var Protocol = &l7.Protocol{
	Name:   "dubbo",
	TCP:    true,
	Ports:  []uint16{20880},
	Detect: Detect,
	New:    New,
}

// Field keys.
const (
	FieldDubboVersion   = "dubbo_version"
	FieldServiceVersion = "service_version"
	FieldRequestID      = "request_id"
	FieldSerialization  = "serialization"
	FieldArgTypes       = "arg_types"
	FieldArgs           = "args"
	FieldTraceID        = "trace_id"
	FieldSpanID         = "span_id"
	FieldResponseType   = "response_type"
	FieldErrorMessage   = "error_message"
)

const (
	magicHi   = 0xda
	magicLo   = 0xbb
	headerLen = 16
	// maxBody bounds a body length: Dubbo's default payload limit is 8
	// MiB (dubbo.protocol.payload); a far larger value means the bytes
	// are not Dubbo.
	maxBody = 64 << 20

	flagRequest = 0x80
	flagTwoWay  = 0x40
	flagEvent   = 0x20
	serMask     = 0x1f
)

// Serialization ids (org.apache.dubbo.common.serialize.Constants).
const (
	serHessian2      = 2
	serJava          = 3
	serCompactedJava = 4
	serFastjson      = 6
	serNativeJava    = 7
	serKryo          = 8
	serFst           = 9
	serNativeHessian = 10
	serAvro          = 11
	serProtostuff    = 12
	serGson          = 16
	serProtobufJSON  = 21
	serProtobuf      = 22
	serFastjson2     = 23
	serKryo2         = 25
	serMsgpack       = 31
)

var serNames = [32][]byte{
	serHessian2:      []byte("hessian2"),
	serJava:          []byte("java"),
	serCompactedJava: []byte("compactedjava"),
	serFastjson:      []byte("fastjson"),
	serNativeJava:    []byte("nativejava"),
	serKryo:          []byte("kryo"),
	serFst:           []byte("fst"),
	serNativeHessian: []byte("native-hessian"),
	serAvro:          []byte("avro"),
	serProtostuff:    []byte("protostuff"),
	serGson:          []byte("gson"),
	serProtobufJSON:  []byte("protobuf-json"),
	serProtobuf:      []byte("protobuf"),
	serFastjson2:     []byte("fastjson2"),
	serKryo2:         []byte("kryo2"),
	serMsgpack:       []byte("msgpack"),
}

func knownSer(id byte) bool { return serNames[id&serMask] != nil }

// Response status codes.
const (
	statusOK = 20
)

func knownStatus(s byte) bool {
	switch s {
	case 20, 30, 31, 35, 40, 50, 60, 70, 80, 90, 100:
		return true
	}
	return false
}

// Response types (DubboCodec: RESPONSE_WITH_EXCEPTION ... ).
var respTypeNames = [6][]byte{
	[]byte("exception"), []byte("value"), []byte("null"),
	[]byte("exception"), []byte("value"), []byte("null"), // with attachments
}

// Detect implements l7.Protocol.Detect: the magic, a known serialization
// id, status 0 in a request or a known status in a response, and a sane
// body length.
func Detect(b []byte, dir flow.Dir, serverPort uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if b[0] != magicHi {
		return l7.No
	}
	if len(b) < 2 {
		return l7.NeedMore
	}
	if b[1] != magicLo {
		return l7.No
	}
	if len(b) < headerLen {
		return l7.NeedMore
	}
	flag, status := b[2], b[3]
	if !knownSer(flag & serMask) {
		return l7.No
	}
	if flag&flagRequest != 0 {
		if status != 0 {
			return l7.No
		}
	} else if !knownStatus(status) || flag&flagTwoWay != 0 {
		return l7.No
	}
	if _, ok := frameLen(b); !ok {
		return l7.No
	}
	return l7.Yes
}

// New returns a parser for one flow.
func New(ctx l7.Context) l7.Parser {
	if ctx.MaxMessage <= 0 {
		ctx.MaxMessage = 64 << 10
	}
	if ctx.MaxPending <= 0 {
		ctx.MaxPending = 64
	}
	p := &parser{ctx: ctx, pending: l7.NewQueue[*request](ctx.MaxPending)}
	p.fr = l7.Framer{HeaderLen: headerLen, FrameLen: frameLen, Resync: resync, Message: p.message, Drop: p.drop}
	p.fr.Init(ctx)
	p.scratch = make([]byte, 0, 64)
	return p
}

type parser struct {
	ctx     l7.Context
	fr      l7.Framer
	pending l7.Queue[*request]
	free    []*request
	rd      hreader
	tx      l7.Transaction
	fields  [12]l7.Field
	scratch []byte // numbers of the transaction being emitted
	errBuf  []byte // a response's error message
}

// span locates a value in a request's arena.
type span struct{ off, end int32 }

// request is a decoded request waiting for its response. Its values are
// copied into arena (reused from request to request): the message they
// come from does not outlive the Data call.
type request struct {
	id     uint64
	ts     int64
	size   int64
	flags  l7.Flags
	ser    byte
	oneWay bool
	arena  []byte

	version, service, sversion, method span
	argTypes, args                     span
	traceID, spanID                    span
	tracePrio                          int // preference of the trace attachment kept (0: none)
}

func (r *request) get(s span) []byte {
	if s.end <= s.off {
		return nil
	}
	return r.arena[s.off:s.end]
}

// put copies v (cut to l7.MaxField) into the arena.
func (r *request) put(v []byte) span {
	if len(v) > l7.MaxField {
		v = v[:l7.MaxField]
		r.flags |= l7.FlagTruncated
	}
	off := len(r.arena)
	r.arena = append(r.arena, v...)
	return span{int32(off), int32(len(r.arena))}
}

func (p *parser) newRequest() *request {
	var r *request
	if n := len(p.free); n > 0 {
		r = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		r = &request{}
	}
	a := r.arena[:0]
	if cap(a) > 4*l7.MaxField {
		a = nil
	}
	*r = request{arena: a}
	return r
}

func (p *parser) release(r *request) { p.free = append(p.free, r) }

// response is a decoded response; its slices are valid during the call.
type response struct {
	id       uint64
	ts       int64
	size     int64
	flags    l7.Flags
	ser      byte
	status   byte
	respType int // -1 unknown
	errmsg   []byte
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if dir > 1 {
		return
	}
	p.expire(ts)
	p.fr.Feed(dir, b, ts)
}

// Gap implements l7.Parser.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if dir > 1 {
		return
	}
	p.expire(ts)
	p.fr.Gap(dir, n, ts)
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	for d := range 2 {
		p.fr.End(flow.Dir(d), ts)
	}
	for {
		r, ok := p.pending.Pop()
		if !ok {
			break
		}
		p.emit(r, nil, l7.OutcomeNoResponse)
		p.release(r)
	}
	p.rd.reset(nil)
}

// expire emits the requests that have waited longer than the timeout.
func (p *parser) expire(ts int64) {
	if p.ctx.Timeout <= 0 {
		return
	}
	for {
		head, ok := p.pending.Peek()
		if !ok || ts-(*head).ts <= p.ctx.Timeout {
			return
		}
		r, _ := p.pending.Pop()
		p.emit(r, nil, l7.OutcomeNoResponse)
		p.release(r)
	}
}

func (p *parser) drop(reason l7.DropReason, n int) {
	if n > 0 {
		p.ctx.Sink.Drop(reason, n)
	}
}

// message decodes one message: msg is all of it, or its first bytes when
// it is longer than MaxMessage or holed; total is its length on the wire,
// got how many of its bytes were received and not counted as dropped; t0
// is when its first byte came, t1 its last.
func (p *parser) message(dir flow.Dir, msg []byte, total, got int, holed bool, t0, t1 int64) {
	flag, status := msg[2], msg[3]
	id := binary.BigEndian.Uint64(msg[4:])
	body := msg[headerLen:]
	ser := flag & serMask
	if flag&flagEvent != 0 {
		return // a heartbeat (or readonly event) and its answer: not a transaction
	}
	var trunc l7.Flags
	if holed || len(msg) < total {
		trunc = l7.FlagTruncated
	}
	if flag&flagRequest == 0 {
		rs := response{id: id, ts: t1, size: int64(total), flags: trunc, ser: ser, status: status, respType: -1}
		p.parseResponse(body, &rs)
		p.respond(&rs)
		p.rd.reset(nil)
		return
	}
	r := p.newRequest()
	r.id, r.ts, r.size, r.flags, r.ser = id, t0, int64(total), trunc, ser
	r.oneWay = flag&flagTwoWay == 0
	switch ser {
	case serHessian2, serNativeHessian:
		p.hessianRequest(body, r)
	case serKryo, serKryo2:
		kryoRequest(body, r)
	case serFastjson, serGson:
		jsonRequest(body, r)
	case serFastjson2:
		jsonbRequest(body, r)
	}
	p.rd.reset(nil) // keep no reference to the message's buffer
	if r.oneWay {
		p.emit(r, nil, l7.OutcomeOneWay)
		p.release(r)
		return
	}
	if old, evicted := p.pending.Push(r); evicted {
		p.emit(old, nil, l7.OutcomeNoResponse)
		p.release(old)
	}
}

// respond matches a response with its request.
func (p *parser) respond(rs *response) {
	for i := 0; i < p.pending.Len(); i++ {
		if r := *p.pending.At(i); r.id == rs.id {
			p.pending.Remove(i)
			p.emit(r, rs, outcome(rs))
			p.release(r)
			return
		}
	}
	p.emit(nil, rs, l7.OutcomeNoRequest)
}

func outcome(rs *response) l7.Outcome {
	switch rs.status {
	case statusOK:
		if rs.respType == 0 || rs.respType == 3 {
			return l7.OutcomeServerError
		}
		return l7.OutcomeOK
	case 30, 40, 90:
		return l7.OutcomeClientError
	}
	return l7.OutcomeServerError
}

// hessianRequest decodes a Hessian2 request body: dubbo version, path,
// service version, method, descriptor, arguments, attachments.
func (p *parser) hessianRequest(body []byte, r *request) {
	rd := &p.rd
	rd.reset(body)
	var strs [5]span
	for i := range strs {
		s, _, ok := rd.str()
		if !ok {
			break
		}
		strs[i] = r.put(s)
	}
	r.version, r.service, r.sversion, r.method, r.argTypes = strs[0], strs[1], strs[2], strs[3], strs[4]
	if rd.failed() {
		return
	}
	nargs := countParams(r.get(r.argTypes))
	redact := !p.ctx.KeepCredentials && secretMethod(r.get(r.method))
	start := len(r.arena)
	o := &out{b: r.arena, limit: start + l7.MaxField, redact: !p.ctx.KeepCredentials}
	generic := isGeneric(r.get(r.method))
	for i := 0; i < nargs && !rd.failed(); i++ {
		if i > 0 {
			o.put(',', ' ')
		}
		if i == 0 && generic {
			// $invoke(method, types, args): the first argument names
			// the method really called.
			if tag, ok := rd.peek(); ok && isString(tag) {
				mstart := len(o.b)
				if s, _, ok := rd.str(); ok {
					o.quoted(s)
					if len(o.b) >= mstart+2 && !o.cut {
						r.method = span{int32(mstart + 1), int32(len(o.b) - 1)}
						redact = !p.ctx.KeepCredentials && secretMethod(s)
					}
				}
				continue
			}
		}
		rd.value(o, 0)
	}
	r.arena = o.b
	r.args = span{int32(start), int32(len(r.arena))}
	if o.cut || r.args.end-r.args.off > l7.MaxField {
		r.args.end = min(r.args.end, r.args.off+l7.MaxField)
		r.flags |= l7.FlagTruncated
	}
	if o.redacted {
		r.flags |= l7.FlagRedacted
	}
	if redact && r.args.end > r.args.off {
		r.args = r.put(redactedText)
		r.flags |= l7.FlagRedacted
	}
	if rd.cut {
		r.flags |= l7.FlagTruncated
	}
	if rd.failed() {
		return
	}
	// Attachments: a map of strings.
	tag, ok := rd.peek()
	if !ok || (tag != 'H' && tag != 'M') {
		return
	}
	rd.off++
	if tag == 'M' {
		rd.typ()
	}
	for !rd.failed() {
		tag, ok := rd.peek()
		if !ok || tag == 'Z' {
			return
		}
		if !isString(tag) {
			rd.value(nil, 1)
			rd.value(nil, 1)
			continue
		}
		k, _, _ := rd.str()
		prio := tracePrio(k)
		if prio == 0 {
			rd.value(nil, 1)
			continue
		}
		if t, ok := rd.peek(); ok && isString(t) {
			if v, _, ok := rd.str(); ok {
				r.trace(prio, v)
			}
			continue
		}
		rd.value(nil, 1)
	}
}

// Trace attachments, by preference (1 best). A span-only key (EagleEye-SpanID)
// has its own slot.
const (
	prioSW8 = 1 + iota
	prioTraceparent
	prioUber
	prioEagleEye
	prioEagleEyeSpan
)

func tracePrio(k []byte) int {
	switch string(k) {
	case "sw8":
		return prioSW8
	case "traceparent":
		return prioTraceparent
	case "uber-trace-id":
		return prioUber
	case "EagleEye-TraceID":
		return prioEagleEye
	case "EagleEye-SpanID":
		return prioEagleEyeSpan
	}
	return 0
}

// trace records the trace context of an attachment (prio names which:
// see tracePrio) whose value is v, if it is preferred to what was kept.
func (r *request) trace(prio int, v []byte) {
	if prio == prioEagleEyeSpan {
		if r.tracePrio == prioEagleEye || r.tracePrio == 0 {
			r.spanID = r.put(v)
		}
		return
	}
	if len(v) == 0 || (r.tracePrio != 0 && r.tracePrio <= prio) {
		return
	}
	var tid, sid span
	switch prio {
	case prioSW8:
		// 1-base64(trace id)-base64(segment id)-span id-...
		var parts [8][]byte
		f := splitN(&parts, v, '-', 5)
		if len(f) < 4 {
			return
		}
		var ok bool
		if tid, ok = r.putBase64(f[1]); !ok {
			return
		}
		sid, ok = r.putBase64(f[2])
		if ok {
			r.arena = append(r.arena, '-')
			r.arena = append(r.arena, f[3][:min(len(f[3]), 32)]...)
			sid.end = int32(len(r.arena))
		}
	case prioTraceparent:
		// version-trace id-parent id-flags
		var parts [8][]byte
		f := splitN(&parts, v, '-', 4)
		if len(f) < 3 {
			return
		}
		tid, sid = r.put(f[1]), r.put(f[2])
	case prioUber:
		// trace id:span id:parent id:flags (':' may be %3A-escaped)
		var parts [8][]byte
		f := splitN(&parts, v, ':', 4)
		if len(f) < 2 {
			return
		}
		tid, sid = r.put(f[0]), r.put(f[1])
	case prioEagleEye:
		tid = r.put(v)
		sid = r.spanID // EagleEye-SpanID, if it came first
	}
	if tid.end <= tid.off {
		return
	}
	r.traceID, r.spanID, r.tracePrio = tid, sid, prio
}

// putBase64 decodes standard base64 into the arena.
func (r *request) putBase64(s []byte) (span, bool) {
	if len(s) > 4*l7.MaxField/3 {
		return span{}, false
	}
	off := len(r.arena)
	out, err := b64.AppendDecode(r.arena, s)
	if err != nil {
		r.arena = r.arena[:off]
		return span{}, false
	}
	r.arena = out
	return span{int32(off), int32(len(out))}, true
}

// splitN splits s at sep into at most n parts, in the caller's array
// (no allocation).
func splitN(parts *[8][]byte, s []byte, sep byte, n int) [][]byte {
	k := 0
	for k < n-1 && k < len(parts)-1 {
		i := indexByte(s, sep)
		if i < 0 {
			break
		}
		parts[k] = s[:i]
		s = s[i+1:]
		k++
	}
	parts[k] = s
	return parts[:k+1]
}

func indexByte(s []byte, c byte) int {
	for i, b := range s {
		if b == c {
			return i
		}
	}
	return -1
}

// countParams counts the parameters of a JVM descriptor
// ("Ljava/lang/String;[IJ" → 3).
func countParams(desc []byte) int {
	n := 0
	for i := 0; i < len(desc); i++ {
		switch desc[i] {
		case '[':
			continue
		case 'L':
			j := indexByte(desc[i:], ';')
			if j < 0 {
				return n + 1
			}
			i += j
		}
		n++
	}
	return n
}

func isGeneric(m []byte) bool {
	return string(m) == "$invoke" || string(m) == "$invokeAsync"
}

// secretMethod: methods whose arguments are credentials.
func secretMethod(m []byte) bool {
	if len(m) > 64 {
		return false
	}
	var low [64]byte
	for i, c := range m {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	s := low[:len(m)]
	for _, w := range secretMethodWords {
		if contains(s, w) {
			return true
		}
	}
	return false
}

var secretMethodWords = [...]string{"login", "logon", "signin", "auth", "password", "passwd", "secret", "token", "credential"}

// parseResponse decodes a response body: its type for status 20, the
// error text otherwise.
func (p *parser) parseResponse(body []byte, rs *response) {
	switch rs.ser {
	case serHessian2, serNativeHessian:
		rd := &p.rd
		rd.reset(body)
		if rs.status != statusOK {
			if s, _, ok := rd.str(); ok {
				rs.errmsg = p.setErr(s, nil)
			}
			return
		}
		t, ok := rd.intv()
		if !ok || t < 0 || t > 5 {
			return
		}
		rs.respType = int(t)
		if t == 0 || t == 3 {
			class, msg := rd.exception()
			rs.errmsg = p.setErr(class, msg)
		}
	case serKryo, serKryo2:
		if len(body) == 0 {
			return
		}
		if rs.status != statusOK {
			if s, _, ok := kryoString(body); ok {
				rs.errmsg = p.setErr(s, nil)
				if body[0]&0x80 == 0 && len(rs.errmsg) > 0 {
					rs.errmsg[len(rs.errmsg)-1] &^= 0x80 // the ASCII form's end mark
				}
			}
			return
		}
		if body[0] <= 5 {
			rs.respType = int(body[0])
		}
	case serFastjson, serGson:
		line, _ := nextLine(body)
		if rs.status != statusOK {
			rs.errmsg = p.setErr(jsonString(line), nil)
			return
		}
		if len(line) == 1 && line[0] >= '0' && line[0] <= '5' {
			rs.respType = int(line[0] - '0')
		}
	}
}

// setErr builds an error message "class: message" in the parser's buffer.
func (p *parser) setErr(class, msg []byte) []byte {
	p.errBuf = append(p.errBuf[:0], class[:min(len(class), l7.MaxField)]...)
	if len(msg) > 0 {
		if len(p.errBuf) > 0 {
			p.errBuf = append(p.errBuf, ':', ' ')
		}
		p.errBuf = append(p.errBuf, msg[:min(len(msg), l7.MaxField)]...)
	}
	if len(p.errBuf) > l7.MaxField {
		p.errBuf = p.errBuf[:l7.MaxField]
	}
	if len(p.errBuf) == 0 {
		return nil
	}
	return p.errBuf
}

// emit hands a transaction to the sink. r or rs may be nil.
func (p *parser) emit(r *request, rs *response, o l7.Outcome) {
	tx := &p.tx
	*tx = l7.Transaction{Outcome: o}
	f := p.fields[:0]
	p.scratch = p.scratch[:0]
	num := func(v uint64) []byte {
		s := len(p.scratch)
		p.scratch = strconv.AppendUint(p.scratch, v, 10)
		return p.scratch[s:len(p.scratch):len(p.scratch)]
	}
	add := func(k string, v []byte) {
		if len(v) > 0 {
			f = append(f, l7.Field{Key: k, Value: v})
		}
	}
	var ser byte
	if r != nil {
		tx.ReqTS, tx.ReqBytes, tx.Flags = r.ts, r.size, r.flags
		tx.Op, tx.Target = r.get(r.method), r.get(r.service)
		ser = r.ser
		add(FieldDubboVersion, r.get(r.version))
		add(FieldServiceVersion, r.get(r.sversion))
		add(FieldRequestID, num(r.id))
	} else {
		ser = rs.ser
		add(FieldRequestID, num(rs.id))
	}
	if name := serNames[ser&serMask]; name != nil {
		add(FieldSerialization, name)
	} else {
		add(FieldSerialization, num(uint64(ser)))
	}
	if r != nil {
		add(FieldArgTypes, r.get(r.argTypes))
		add(FieldArgs, r.get(r.args))
		add(FieldTraceID, r.get(r.traceID))
		add(FieldSpanID, r.get(r.spanID))
	}
	if rs != nil {
		tx.RespTS, tx.RespBytes = rs.ts, rs.size
		tx.Flags |= rs.flags
		tx.Status = num(uint64(rs.status))
		if rs.respType >= 0 {
			add(FieldResponseType, respTypeNames[rs.respType])
		}
		add(FieldErrorMessage, rs.errmsg)
	}
	tx.Fields = f
	p.ctx.Sink.Transaction(tx)
	*tx = l7.Transaction{}
}
