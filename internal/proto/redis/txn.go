package redis

import (
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Field keys.
const (
	FieldRequest = "request" // the command line, arguments cut, credentials redacted
	FieldArgs    = "args"    // number of arguments after the command name
	FieldError   = "error"   // an error reply's text, without the leading '-'
)

// Status values (besides error prefixes).
var (
	statusSimple   = []byte("simple_string")
	statusError    = []byte("error")
	statusInteger  = []byte("integer")
	statusBulk     = []byte("bulk_string")
	statusArray    = []byte("array")
	statusNil      = []byte("nil")
	statusDouble   = []byte("double")
	statusBoolean  = []byte("boolean")
	statusVerbatim = []byte("verbatim_string")
	statusBigNum   = []byte("big_number")
	statusMap      = []byte("map")
	statusSet      = []byte("set")
	statusPush     = []byte("push")
	opMonitor      = []byte("MONITOR")
)

// reqBegin starts a request of n elements (command name included).
func (p *parser) reqBegin(s *side, n int64) {
	buf := p.req.text
	if buf == nil {
		if k := len(p.free); k > 0 {
			buf, p.free = p.free[k-1], p.free[:k-1]
		} else {
			buf = make([]byte, 0, 64)
		}
	}
	p.req = request{ts: s.msgTS, text: buf[:0], nargs: n - 1}
	p.keyAt, p.redactAt, p.subSet, p.opHash = 0, 0, false, fnvBasis
	p.argS, p.argE = [3]int32{}, [3]int32{}
}

func (p *parser) argBegin(i int) {
	r := &p.req
	if i > 0 {
		if len(r.text) < maxText {
			r.text = append(r.text, ' ')
		} else {
			r.flags |= l7.FlagTruncated
		}
	}
	p.argIdx, p.argStart, p.argCut = i, len(r.text), false
}

func (p *parser) argBytes(b []byte) {
	r := &p.req
	if p.argIdx == 0 {
		// Op: the command name upper-cased.
		n, h := int(r.opLen), p.opHash
		for _, c := range b {
			if n == maxOp {
				r.flags |= l7.FlagTruncated
				break
			}
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			r.op[n] = c
			h = fnvStep(h, c)
			n++
		}
		r.opLen, p.opHash = uint8(n), h
	}
	room := min(maxText-len(r.text), maxArg-(len(r.text)-p.argStart))
	if len(b) > room {
		b = b[:max(room, 0)]
		p.argCut = true
	}
	r.text = append(r.text, b...)
}

// argEnd finishes argument i: it finds the key, applies the command's
// special rules and redacts credentials.
func (p *parser) argEnd(i int) {
	r := &p.req
	if p.argCut {
		r.flags |= l7.FlagTruncated
	}
	arg := r.text[p.argStart:]
	if i < len(p.argS) {
		p.argS[i], p.argE[i] = int32(p.argStart), int32(len(r.text))
	}
	if i == 0 {
		info, ok := lookupHash(p.opHash, r.op[:r.opLen])
		if !ok {
			info = cmdInfo{key: 1} // module and unknown commands: key first
		}
		r.kind, p.keyAt = info.kind, int(info.key)
		return
	}
	if p.secret(i, arg) {
		if !p.ctx.KeepCredentials {
			r.text = append(r.text[:p.argStart], l7.Redacted...)
			r.flags |= l7.FlagRedacted
		}
		return
	}
	switch r.kind {
	case kindNumkeys:
		if n, ok := atoi(arg); i == 2 && ok && n > 0 {
			p.keyAt = 3
		}
	case kindXread:
		if p.keyAt == 0 && equalFold(arg, "STREAMS") {
			p.keyAt = i + 1
		}
	}
	if i == p.keyAt {
		r.keyS, r.keyE = int32(p.argStart), int32(len(r.text))
	}
}

// secret says whether argument i is a credential. It sees the arguments
// in order, so a keyword (HELLO's AUTH, CONFIG SET masterauth) marks the
// position of the secret that follows it.
func (p *parser) secret(i int, arg []byte) bool {
	if i == p.redactAt {
		return true
	}
	r := &p.req
	switch r.kind {
	case kindAuth:
		// AUTH password | AUTH username password
		return r.nargs == 1 || i >= 2
	case kindHello:
		// HELLO protover AUTH username password SETNAME name
		if i >= 2 && equalFold(arg, "AUTH") {
			p.redactAt = i + 2
		}
	case kindMigrate:
		// MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS ...]
		if i >= 6 && p.redactAt <= i {
			if equalFold(arg, "AUTH") {
				p.redactAt = i + 1
			} else if equalFold(arg, "AUTH2") {
				p.redactAt = i + 2
			}
		}
	case kindConfig, kindSentinel:
		// CONFIG SET name value ..., SENTINEL SET master name value ...,
		// SENTINEL CONFIG SET name value: the value after a name that
		// holds a password (masterauth, requirepass, auth-pass, ...).
		if i == 1 {
			p.subSet = equalFold(arg, "SET") || (r.kind == kindSentinel && equalFold(arg, "CONFIG"))
		} else if p.subSet && secretParam(arg) {
			p.redactAt = i + 1
		}
	case kindACL:
		// ACL SETUSER name rule...: >pw and <pw add and remove a
		// password, #hash and !hash do the same with its SHA-256.
		if i == 1 {
			p.subSet = equalFold(arg, "SETUSER")
		} else if p.subSet && i >= 3 && len(arg) > 0 {
			switch arg[0] {
			case '>', '<', '#', '!':
				return true
			}
		}
	}
	return false
}

// secretParam says whether a configuration name holds a password.
func secretParam(name []byte) bool {
	return containsFold(name, "pass") || containsFold(name, "auth")
}

// requestDone queues a complete request for its reply. (Requests live
// in parser fields or in the queue, never in locals: Transaction fields
// slice them, and a local would escape to the heap.)
func (p *parser) requestDone(s *side) {
	r := &p.req
	r.bytes = s.off - s.msgStart
	r.done = p.now
	if s.trunc {
		r.flags |= l7.FlagTruncated
	}
	if r.kind == kindClient && r.nargs >= 2 && equalFold(p.arg(r, 1), "REPLY") {
		// CLIENT REPLY OFF|SKIP get no reply themselves; ON gets +OK.
		switch mode := p.arg(r, 2); {
		case equalFold(mode, "OFF"):
			p.replyOff, p.replySkip = true, false
			p.oneWay(r)
			return
		case equalFold(mode, "SKIP"):
			if !p.replyOff {
				p.replySkip = true
			}
			p.oneWay(r)
			return
		case equalFold(mode, "ON"):
			p.replyOff, p.replySkip = false, false
		}
	}
	if p.replyOff || p.replySkip {
		p.replySkip = false
		p.oneWay(r)
		return
	}
	switch r.kind {
	case kindSubscribe:
		r.expect = max(r.nargs, 1)
	case kindUnsubscribe:
		r.expect = r.nargs
		if r.expect == 0 {
			r.expect = -1
		}
	case kindReset:
		p.subMode, p.monitor = false, false
	case kindMonitor:
		p.monitor = true
	}
	var evicted bool
	p.out, evicted = p.pending.Push(*r)
	r.text = nil // the queue owns it now
	if evicted {
		p.emitOut(nil, l7.OutcomeNoResponse)
		p.owe()
	}
}

// emitOut emits p.out, the request just taken off the queue, and
// recycles its buffer.
func (p *parser) emitOut(rep *reply, oc l7.Outcome) {
	p.emit(&p.out, rep, oc)
	p.recycle(p.out.text)
	p.out.text = nil
}

// arg returns argument i (i < len(argS)) of the request just read.
func (p *parser) arg(r *request, i int) []byte {
	s, e := p.argS[i], p.argE[i]
	if e <= s || int(e) > len(r.text) {
		return nil
	}
	return r.text[s:e]
}

// oneWay emits the request being read as one that gets no reply; its
// buffer stays with p.req for the next one.
func (p *parser) oneWay(r *request) {
	p.emit(r, nil, l7.OutcomeOneWay)
}

// reply is what a transaction needs of a reply once it has been read.
type reply struct {
	top    byte
	nilTop bool
	trunc  bool
	ts     int64 // of the call that completed it
	bytes  int64
}

func (s *side) reply(ts int64) reply {
	return reply{top: s.top, nilTop: s.nilTop, trunc: s.trunc, ts: ts, bytes: s.off - s.msgStart}
}

// replyDone pairs a complete reply with the oldest request.
func (p *parser) replyDone(s *side, ts int64) {
	rep := s.reply(ts)
	if s.capEl && p.pushReply(s, &rep) {
		return
	}
	p.closeConfirmed()
	if p.owed > 0 {
		// The reply of a request already emitted as unanswered.
		p.owed--
		p.emit(nil, &rep, l7.OutcomeNoRequest)
		return
	}
	// A reply that began before the oldest request was sent cannot be
	// its reply (a capture that starts between them, bytes that only
	// looked like a reply).
	head, ok := p.pending.Peek()
	if ok && head.ts > s.msgTS {
		ok = false
	}
	if ok {
		p.out, _ = p.pending.Pop()
	} else {
		if p.monitor && s.top == '+' {
			// MONITOR streams one status line per command it sees.
			p.emitPush(&rep, opMonitor, nil)
			return
		}
		p.emit(nil, &rep, l7.OutcomeNoRequest)
		return
	}
	p.emitOut(&rep, l7.OutcomeOK)
}

// closeConfirmed emits the request at the head of the queue if it is an
// (UN)SUBSCRIBE that got confirmations but may expect more: UNSUBSCRIBE
// without arguments answers once per channel, a number only the server
// knows, so it is complete when something else arrives.
func (p *parser) closeConfirmed() bool {
	head, ok := p.pending.Peek()
	if !ok || head.conf.bytes == 0 {
		return false
	}
	p.out, _ = p.pending.Pop()
	p.emitOut(&p.out.conf, l7.OutcomeOK)
	return true
}

// pushReply handles pub/sub traffic: a RESP3 push, or a RESP2 array that
// is a subscribe confirmation or a published message. Messages are
// emitted on their own (one_way): they answer no request, so they must
// not take a request's place in the reply order. Confirmations answer
// the (UN)SUBSCRIBE at the head of the queue, one per channel.
func (p *parser) pushReply(s *side, rep *reply) bool {
	push := s.top == '>'
	if s.elems == 0 || !isStr(p.elT[0]) {
		if push {
			p.emitPush(rep, nil, nil)
		}
		return push
	}
	kind := p.el[p.elS[0]:p.elE[0]]
	elem := func(i int) []byte {
		if int64(i) >= s.elems || !isStr(p.elT[i]) {
			return nil
		}
		return p.el[p.elS[i]:p.elE[i]]
	}
	switch classify(kind) {
	case pushMessage:
		if push || s.topN == 3 {
			p.emitPush(rep, kind, elem(1))
			return true
		}
	case pushPMessage:
		if push || s.topN == 4 {
			p.emitPush(rep, kind, elem(2))
			return true
		}
	case pushSubscribe, pushUnsubscribe:
		if s.topN != 3 || p.elT[2] != ':' {
			break
		}
		count, _ := atoi(p.el[p.elS[2]:p.elE[2]])
		p.subMode = count > 0
		for range 2 {
			head, ok := p.pending.Peek()
			if !ok || p.owed > 0 || !sameFold(kind, head.op[:head.opLen]) {
				// Another request's confirmations are over.
				if p.closeConfirmed() {
					continue
				}
				break
			}
			bytes := head.conf.bytes + rep.bytes
			head.conf = *rep
			head.conf.bytes = bytes
			if head.expect > 0 {
				head.expect--
			}
			if head.expect == 0 || (head.expect < 0 && count == 0) {
				p.closeConfirmed()
			}
			return true
		}
		// A confirmation nobody waits for.
		p.emitPush(rep, kind, elem(1))
		return true
	}
	if push {
		p.emitPush(rep, kind, nil)
	}
	return push
}

const (
	pushOther = iota
	pushMessage
	pushPMessage
	pushSubscribe
	pushUnsubscribe
)

// classify names the kind of a pub/sub array from its first element.
func classify(kind []byte) int {
	switch {
	case equalFold(kind, "MESSAGE"), equalFold(kind, "SMESSAGE"):
		return pushMessage
	case equalFold(kind, "PMESSAGE"):
		return pushPMessage
	case equalFold(kind, "SUBSCRIBE"), equalFold(kind, "PSUBSCRIBE"), equalFold(kind, "SSUBSCRIBE"):
		return pushSubscribe
	case equalFold(kind, "UNSUBSCRIBE"), equalFold(kind, "PUNSUBSCRIBE"), equalFold(kind, "SUNSUBSCRIBE"):
		return pushUnsubscribe
	}
	return pushOther
}

func isStr(t byte) bool { return t == '$' || t == '+' || t == '=' }

// emitPush emits a message that answers no request.
func (p *parser) emitPush(rep *reply, kind, target []byte) {
	k := copy(p.opBuf[:], kind)
	for i := range k {
		if c := p.opBuf[i]; 'a' <= c && c <= 'z' {
			p.opBuf[i] = c - ('a' - 'A')
		}
	}
	t := &p.tx
	*t = l7.Transaction{RespTS: rep.ts, RespBytes: rep.bytes, Op: p.opBuf[:k], Target: target, Outcome: l7.OutcomeOneWay}
	t.Status, _ = status(rep, nil)
	if rep.trunc {
		t.Flags |= l7.FlagTruncated
	}
	t.Fields = p.fields[:0]
	p.ctx.Sink.Transaction(t)
}

// emit hands one transaction to the sink: r is the request (nil: none),
// rep the reply (nil: none). With a reply, OutcomeOK is replaced by what
// the reply says.
func (p *parser) emit(r *request, rep *reply, oc l7.Outcome) {
	t := &p.tx
	*t = l7.Transaction{Outcome: oc}
	t.Fields = p.fields[:0]
	if r != nil {
		t.ReqTS, t.ReqBytes, t.Flags = r.ts, r.bytes, r.flags
		t.Op = r.op[:r.opLen]
		if r.keyE > r.keyS {
			t.Target = r.text[r.keyS:r.keyE]
		}
		t.Fields = append(t.Fields,
			l7.Field{Key: FieldRequest, Value: r.text},
			l7.Field{Key: FieldArgs, Value: p.itoa(r.nargs)})
	}
	if rep != nil {
		t.RespTS, t.RespBytes = rep.ts, rep.bytes
		var roc l7.Outcome
		t.Status, roc = status(rep, p.errBuf)
		if oc == l7.OutcomeOK {
			t.Outcome = roc
		}
		if rep.top == '-' || rep.top == '!' {
			v, cut := l7.Cut(p.errBuf)
			if cut || p.errCut {
				t.Flags |= l7.FlagTruncated
			}
			t.Fields = append(t.Fields, l7.Field{Key: FieldError, Value: v})
		}
		if rep.trunc {
			t.Flags |= l7.FlagTruncated
		}
	}
	p.ctx.Sink.Transaction(t)
}

// status names the reply type, or the error prefix of errText, and the
// outcome it means.
func status(rep *reply, errText []byte) ([]byte, l7.Outcome) {
	switch rep.top {
	case '+':
		return statusSimple, l7.OutcomeOK
	case '-', '!':
		pre := errPrefix(errText)
		if pre == nil {
			return statusError, l7.OutcomeClientError
		}
		if serverErrors[string(pre)] {
			return pre, l7.OutcomeServerError
		}
		return pre, l7.OutcomeClientError
	case ':':
		return statusInteger, l7.OutcomeOK
	case '$':
		if rep.nilTop {
			return statusNil, l7.OutcomeOK
		}
		return statusBulk, l7.OutcomeOK
	case '*':
		if rep.nilTop {
			return statusNil, l7.OutcomeOK
		}
		return statusArray, l7.OutcomeOK
	case '_':
		return statusNil, l7.OutcomeOK
	case ',':
		return statusDouble, l7.OutcomeOK
	case '#':
		return statusBoolean, l7.OutcomeOK
	case '=':
		return statusVerbatim, l7.OutcomeOK
	case '(':
		return statusBigNum, l7.OutcomeOK
	case '%':
		return statusMap, l7.OutcomeOK
	case '~':
		return statusSet, l7.OutcomeOK
	case '>':
		return statusPush, l7.OutcomeOK
	}
	return nil, l7.OutcomeOK
}

// errPrefix returns the error code that starts a Redis error ("ERR",
// "WRONGTYPE"): the first word when it is upper case, else nil.
func errPrefix(msg []byte) []byte {
	n := 0
	for n < len(msg) && n <= 32 {
		c := msg[n]
		if c == ' ' {
			break
		}
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return nil
		}
		n++
	}
	if n == 0 || n > 32 || msg[0] < 'A' || msg[0] > 'Z' {
		return nil
	}
	return msg[:n]
}

// equalFold compares b with an upper-case ASCII word, ignoring case.
func equalFold(b []byte, upper string) bool {
	if len(b) != len(upper) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether b contains the lower-case ASCII word w,
// ignoring case.
func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		j := 0
		for j < len(w) {
			c := b[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// sameFold compares two ASCII words ignoring case.
func sameFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
