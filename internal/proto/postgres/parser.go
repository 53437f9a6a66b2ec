package postgres

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/proto/sqlstate"
)

// Item kinds: what a pending request waits for.
const (
	kQuery = iota // Simple Query: done at ReadyForQuery
	kExec         // Execute: done at CommandComplete, EmptyQueryResponse, PortalSuspended, ErrorResponse
	kSync         // Sync: done at ReadyForQuery; a transaction only when its batch had no Execute
	kFunc         // FunctionCall: done at ReadyForQuery
)

// Connection phases.
const (
	phaseStartup = iota // untyped startup messages may come
	phaseSSLWait        // SSLRequest or GSSENCRequest sent: one byte answers
	phaseAuth           // StartupMessage sent: authentication until ReadyForQuery
	phaseReady          // normal operation
)

const (
	maxStmts   = 64
	maxName    = 64 // NAMEDATALEN
	maxPortals = 8
	maxTag     = 64
	maxErr     = 1024
)

var (
	opQuery    = []byte("QUERY")
	opExecute  = []byte("EXECUTE")
	opParse    = []byte("PARSE")
	opBind     = []byte("BIND")
	opDescribe = []byte("DESCRIBE")
	opClose    = []byte("CLOSE")
	opSync     = []byte("SYNC")
	opFlush    = []byte("FLUSH")
	opFunc     = []byte("FUNCTION_CALL")
	opLogin    = []byte("LOGIN")
	opCancel   = []byte("CANCEL")
)

type name struct {
	b [maxName]byte
	n uint8
}

func (n *name) set(b []byte) {
	n.n = uint8(copy(n.b[:], b))
}

func (n *name) bytes() []byte { return n.b[:n.n] }

type item struct {
	kind    uint8
	op      []byte
	ts      int64
	bytes   int64
	text    []byte // owned
	trunc   bool
	stmt    name
	hasExec bool // kSync: the batch held an Execute
}

type stmt struct {
	name name
	sql  []byte
	used uint64
	live bool
}

type portal struct {
	name name
	stmt name
	live bool
}

// resp accumulates the backend messages answering the oldest item.
type resp struct {
	bytes    int64
	started  bool
	lastTS   int64 // ts of its last message
	dataRows int64
	tagRows  int64
	hasRows  bool
	tag      []byte
	err      errInfo
}

type errInfo struct {
	set      bool
	code     [5]byte
	severity []byte
	msg      []byte
	trunc    bool
}

type dirState struct {
	f       framer
	lost    bool
	started bool
}

type login struct {
	active   bool
	ts       int64
	reqBytes int64
	resBytes int64
	user     []byte
	db       []byte
	auth     bool
	authData []byte
	trunc    bool
}

type parser struct {
	ctx     l7.Context
	dirs    [2]dirState
	phase   int
	stopped bool
	// skipToReady: after a gap on the server side, what comes until the
	// next ReadyForQuery answers requests that were already given up.
	skipToReady bool

	pending l7.Queue[item]
	resp    resp
	lastErr errInfo // the error that failed the current batch
	failing bool    // an error came: Executes until the Sync were skipped

	// The batch being built: messages since the last Execute or Sync.
	batchTS    int64
	batchBytes int64
	batchOp    []byte
	batchExec  bool
	batchStmt  name // statement of the last Parse or Bind, for a batch without Execute

	stmts   []stmt
	stmtUse uint64
	portals [maxPortals]portal
	login   login
	version []byte
	free    [][]byte

	tx       l7.Transaction
	fields   [10]l7.Field
	nums     [2][20]byte
	stmtName [maxName]byte
	code     [5]byte
	loginErr errInfo
}

func newParser(ctx l7.Context) l7.Parser {
	d := l7.DefaultConfig().Context(ctx.Transport)
	if ctx.MaxMessage <= 0 {
		ctx.MaxMessage = d.MaxMessage
	}
	if ctx.MaxPending <= 0 {
		ctx.MaxPending = d.MaxPending
	}
	if ctx.Timeout <= 0 {
		ctx.Timeout = d.Timeout
	}
	p := &parser{ctx: ctx}
	head := min(ctx.MaxMessage-5, l7.MaxField+256)
	for i := range p.dirs {
		p.dirs[i].f.max = head
		p.dirs[i].f.buf = ctx.NewBuf()
	}
	p.pending = l7.NewQueue[item](ctx.MaxPending)
	return p
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if dir > flow.ServerToClient || p.stopped || len(b) == 0 {
		return
	}
	p.expire(ts)
	d := &p.dirs[dir]
	d.started = true
	if dir == flow.ServerToClient && p.phase == phaseSSLWait && !d.lost {
		switch b[0] {
		case 'S', 'G':
			p.stop()
			return
		case 'N':
			p.phase = phaseStartup
			b = b[1:]
		}
	}
	for len(b) > 0 {
		if d.lost {
			i := boundary(b, dir == flow.ServerToClient)
			if i < 0 {
				p.ctx.Sink.Drop(l7.DropResync, len(b))
				return
			}
			if i > 0 {
				p.ctx.Sink.Drop(l7.DropResync, i)
			}
			b = b[i:]
			d.lost = false
			d.f.reset() // counted when sync was lost
			if dir == flow.ClientToServer && p.phase == phaseStartup {
				p.phase = phaseReady
			}
		}
		if dir == flow.ClientToServer && p.phase == phaseStartup && d.f.nhdr == 0 && d.f.left == 0 && b[0] != 0 {
			// A typed message: the flow was picked up after its startup.
			// (A startup message starts with its length, below 10000, so
			// with a zero byte; a typed message with its type letter.)
			p.phase = phaseReady
		}
		untyped := dir == flow.ClientToServer && p.phase == phaseStartup
		n, ready, bad := d.f.step(b, ts, untyped)
		if bad {
			p.malformedBytes(dir, ts)
			continue
		}
		b = b[n:]
		if ready {
			if dir == flow.ClientToServer {
				p.client(&d.f.msg, ts)
			} else {
				p.server(&d.f.msg, ts)
			}
			d.f.done()
			if p.stopped {
				return
			}
		}
	}
}

func (p *parser) stop() {
	p.stopped = true
	p.ctx.Sink.Stop()
}

// malformedBytes: the framing broke; look for the next boundary.
func (p *parser) malformedBytes(dir flow.Dir, ts int64) {
	d := &p.dirs[dir]
	if held := d.f.reset(); held > 0 {
		p.ctx.Sink.Drop(l7.DropMalformed, held)
	}
	d.lost = true
	p.lose(dir, ts)
}

// malformed: a message that breaks the protocol.
func (p *parser) malformed(dir flow.Dir, m *message, ts int64) {
	// The header and head were read; the rest of the message, if any, is
	// dropped as resync when it comes.
	p.ctx.Sink.Drop(l7.DropMalformed, len(m.head)+4+b2i(m.typ != 0))
	d := &p.dirs[dir]
	d.f.reset()
	d.f.left = 0
	d.lost = true
	p.lose(dir, ts)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lose gives up the requests waiting: their responses can no longer be
// told apart.
func (p *parser) lose(dir flow.Dir, ts int64) {
	if dir == flow.ServerToClient {
		p.skipToReady = true
	}
	p.giveUp(ts)
}

func (p *parser) giveUp(ts int64) {
	if p.login.active {
		p.emitLogin(ts, l7.OutcomeNoResponse, nil)
	}
	for {
		it, ok := p.pending.Pop()
		if !ok {
			break
		}
		p.emitItem(&it, nil, 0, l7.OutcomeNoResponse)
	}
	p.resp.reset()
	p.failing = false
	p.resetBatch()
}

// Gap implements l7.Parser.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if dir > flow.ServerToClient || p.stopped {
		return
	}
	d := &p.dirs[dir]
	if !d.started {
		// Picked up mid-connection: nothing was lost yet.
		d.lost = true
		if dir == flow.ClientToServer && p.phase == phaseStartup {
			p.phase = phaseReady
		}
		return
	}
	if held := d.f.reset(); held > 0 {
		p.ctx.Sink.Drop(l7.DropGap, held)
	}
	d.lost = true
	p.lose(dir, ts)
}

// End implements l7.Parser. A Simple Query whose error (or results)
// came but not its ReadyForQuery (the capture ended) is emitted with
// what came.
func (p *parser) End(ts int64) {
	if p.stopped {
		return
	}
	if it, ok := p.pending.Peek(); ok && p.resp.started && it.kind != kExec && p.resp.lastTS >= it.ts {
		x, _ := p.pending.Pop()
		r := &p.resp
		out := l7.OutcomeOK
		if r.err.set {
			out = errOutcome(&r.err)
		}
		p.emitItem(&x, r, r.lastTS, out)
		p.putBuf(x.text)
		r.reset()
	}
	p.giveUp(ts)
}

func (p *parser) expire(ts int64) {
	for {
		it, ok := p.pending.Peek()
		if !ok || ts-it.ts <= p.ctx.Timeout || p.resp.started {
			return
		}
		old, _ := p.pending.Pop()
		p.emitItem(&old, nil, 0, l7.OutcomeNoResponse)
	}
}

func (p *parser) getBuf() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	return nil
}

func (p *parser) putBuf(b []byte) {
	if b != nil && cap(b) <= 2*l7.MaxField && len(p.free) < 8 {
		p.free = append(p.free, b[:0])
	}
}

func (p *parser) push(it item) {
	if p.pending.Len() == 0 {
		// What the server sent while nothing was waiting (picked up
		// mid-response, no CommandComplete yet) cannot answer this.
		p.resp.reset()
	}
	if old, evicted := p.pending.Push(it); evicted {
		if p.resp.started {
			// Its response was being read: that cannot be paired now.
			p.resp.reset()
		}
		p.emitItem(&old, nil, 0, l7.OutcomeNoResponse)
	}
}

func (p *parser) resetBatch() {
	p.batchTS, p.batchBytes, p.batchOp, p.batchExec = 0, 0, nil, false
	p.batchStmt.n = 0
}

// ---- frontend ----

func (p *parser) client(m *message, ts int64) {
	size := int64(m.blen + 4 + b2i(m.typ != 0))
	h := m.head
	if m.typ == 0 {
		p.startup(m, size, ts)
		return
	}
	if p.phase == phaseStartup {
		p.phase = phaseReady
	}
	switch m.typ {
	case 'Q':
		q := cstr(h)
		it := item{kind: kQuery, op: opQuery, ts: m.ts0, bytes: size}
		p.setText(&it, q, m.blen-1 > len(q))
		p.push(it)
	case 'P':
		p.batchMsg(opParse, m.ts0, size)
		nm := cstr(h)
		if len(nm) == len(h) {
			p.malformed(flow.ClientToServer, m, ts)
			return
		}
		q := cstr(h[len(nm)+1:])
		p.keepStmt(nm, q)
		p.batchStmt.set(nm)
	case 'B':
		p.batchMsg(opBind, m.ts0, size)
		pn := cstr(h)
		if len(pn) == len(h) {
			p.malformed(flow.ClientToServer, m, ts)
			return
		}
		sn := cstr(h[len(pn)+1:])
		p.bindPortal(pn, sn)
		p.batchStmt.set(sn)
	case 'E':
		p.batchMsg(opExecute, m.ts0, size)
		pn := cstr(h)
		it := item{kind: kExec, op: opExecute, ts: p.batchTS, bytes: p.batchBytes}
		if sn, ok := p.portalStmt(pn); ok {
			it.stmt.set(sn)
			if s := p.findStmt(sn); s != nil {
				p.setText(&it, s.sql, false)
				it.trunc = len(s.sql) == l7.MaxField
			}
		}
		p.batchTS, p.batchBytes, p.batchExec = 0, 0, true
		p.push(it)
	case 'D':
		p.batchMsg(opDescribe, m.ts0, size)
	case 'C':
		p.batchMsg(opClose, m.ts0, size)
		if len(h) >= 1 && h[0] == 'S' {
			p.dropStmt(cstr(h[1:]))
		}
	case 'H':
		p.batchMsg(opFlush, m.ts0, size)
	case 'S':
		p.batchMsg(opSync, m.ts0, size)
		it := item{kind: kSync, op: p.batchOp, ts: p.batchTS, bytes: p.batchBytes, hasExec: p.batchExec, stmt: p.batchStmt}
		if !it.hasExec && it.stmt.n > 0 {
			if s := p.findStmt(it.stmt.bytes()); s != nil {
				p.setText(&it, s.sql, false)
			}
		}
		p.resetBatch()
		p.push(it)
	case 'F':
		p.push(item{kind: kFunc, op: opFunc, ts: m.ts0, bytes: size})
	case 'p':
		// PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse.
		if p.login.active {
			p.login.reqBytes += size
			p.login.auth = true
			if p.ctx.KeepCredentials {
				p.login.authData = append(p.login.authData[:0], h[:min(len(h), maxErr)]...)
			}
		}
	case 'd', 'c', 'f':
		// COPY FROM STDIN data: part of the Simple Query under way.
		if it, ok := p.pending.Peek(); ok {
			it.bytes += size
		}
	case 'X':
		// Terminate.
	default:
		p.malformed(flow.ClientToServer, m, ts)
	}
}

// batchMsg accounts one extended-protocol message to the batch.
func (p *parser) batchMsg(op []byte, ts, size int64) {
	if p.batchTS == 0 {
		p.batchTS = ts
	}
	if p.batchOp == nil {
		p.batchOp = op
	}
	p.batchBytes += size
}

func (p *parser) startup(m *message, size, ts int64) {
	h := m.head
	if len(h) < 4 {
		p.malformed(flow.ClientToServer, m, ts)
		return
	}
	code := binary.BigEndian.Uint32(h)
	switch {
	case code == codeSSL || code == codeGSSENC:
		p.phase = phaseSSLWait
	case code == codeCancel:
		p.tx = l7.Transaction{Op: opCancel, ReqTS: m.ts0, ReqBytes: size, Outcome: l7.OutcomeOneWay}
		p.ctx.Sink.Transaction(&p.tx)
	case code>>16 == 3:
		l := &p.login
		l.active, l.ts, l.reqBytes, l.resBytes, l.auth = true, m.ts0, size, 0, false
		l.user, l.db, l.authData = l.user[:0], l.db[:0], l.authData[:0]
		l.trunc = m.blen > len(h)
		kv := h[4:]
		for len(kv) > 0 {
			k := cstr(kv)
			if len(k) == 0 || len(k) == len(kv) {
				break
			}
			kv = kv[len(k)+1:]
			v := cstr(kv)
			switch string(k) {
			case "user":
				l.user = append(l.user, v[:min(len(v), maxName)]...)
			case "database":
				l.db = append(l.db, v[:min(len(v), maxName)]...)
			}
			if len(v) == len(kv) {
				break
			}
			kv = kv[len(v)+1:]
		}
		p.phase = phaseAuth
	default:
		p.malformed(flow.ClientToServer, m, ts)
	}
}

func (p *parser) setText(it *item, t []byte, cut bool) {
	t, c := l7.Cut(t)
	it.text = append(p.getBuf(), t...)
	it.trunc = cut || c
}

func cstr(b []byte) []byte {
	if i := indexNul(b); i >= 0 {
		return b[:i]
	}
	return b
}

func (p *parser) findStmt(nm []byte) *stmt {
	for i := range p.stmts {
		s := &p.stmts[i]
		if s.live && string(s.name.bytes()) == string(nm) {
			p.stmtUse++
			s.used = p.stmtUse
			return s
		}
	}
	return nil
}

func (p *parser) dropStmt(nm []byte) {
	if s := p.findStmt(nm); s != nil {
		s.live = false
		s.sql = s.sql[:0]
	}
}

// keepStmt remembers a statement's SQL (cut at MaxField) in at most
// maxStmts slots holding MaxMessage bytes together; the least recently
// used goes first. The unnamed statement is one slot like the others.
func (p *parser) keepStmt(nm, sql []byte) {
	sql, _ = l7.Cut(sql)
	if len(sql) > p.ctx.MaxMessage/2 || len(nm) > maxName {
		return
	}
	slot := -1
	total := 0
	for i := range p.stmts {
		s := &p.stmts[i]
		if s.live {
			total += len(s.sql)
			if string(s.name.bytes()) == string(nm) {
				slot = i
				total -= len(s.sql)
			}
		} else if slot < 0 {
			slot = i
		}
	}
	for total+len(sql) > p.ctx.MaxMessage || slot < 0 && len(p.stmts) >= maxStmts {
		lru := -1
		for i := range p.stmts {
			if p.stmts[i].live && i != slot && (lru < 0 || p.stmts[i].used < p.stmts[lru].used) {
				lru = i
			}
		}
		if lru < 0 {
			break
		}
		total -= len(p.stmts[lru].sql)
		p.stmts[lru].live = false
		p.stmts[lru].sql = p.stmts[lru].sql[:0]
		if slot < 0 {
			slot = lru
		}
	}
	if slot < 0 {
		p.stmts = append(p.stmts, stmt{})
		slot = len(p.stmts) - 1
	}
	s := &p.stmts[slot]
	p.stmtUse++
	s.live, s.used = true, p.stmtUse
	s.name.set(nm)
	s.sql = append(s.sql[:0], sql...)
}

func (p *parser) bindPortal(pn, sn []byte) {
	free := -1
	for i := range p.portals {
		pt := &p.portals[i]
		if pt.live && string(pt.name.bytes()) == string(pn) {
			pt.stmt.set(sn)
			return
		}
		if !pt.live && free < 0 {
			free = i
		}
	}
	if free < 0 {
		free = len(p.portals) - 1 // the table is full: reuse the last slot
	}
	pt := &p.portals[free]
	pt.live = true
	pt.name.set(pn)
	pt.stmt.set(sn)
}

func (p *parser) portalStmt(pn []byte) ([]byte, bool) {
	for i := range p.portals {
		pt := &p.portals[i]
		if pt.live && string(pt.name.bytes()) == string(pn) {
			return pt.stmt.bytes(), true
		}
	}
	return nil, false
}

// ---- backend ----

func (r *resp) reset() {
	tag, sev, msg := r.tag[:0], r.err.severity[:0], r.err.msg[:0]
	*r = resp{tag: tag}
	r.err.severity, r.err.msg = sev, msg
}

func (p *parser) server(m *message, ts int64) {
	size := int64(m.blen + 5)
	h := m.head
	if p.skipToReady {
		p.ctx.Sink.Drop(l7.DropResync, int(size))
		if m.typ == 'Z' {
			p.skipToReady = false
		}
		return
	}
	if p.login.active {
		if p.loginMsg(m, size, ts) {
			return
		}
	}
	r := &p.resp
	r.lastTS = ts
	switch m.typ {
	case 'Z':
		r.bytes += size
		p.ready(ts)
		return
	case 'C':
		r.bytes += size
		r.started = true
		tag := cstr(h)
		r.tag = append(r.tag[:0], tag[:min(len(tag), maxTag)]...)
		if n, ok := tagRows(tag); ok {
			r.tagRows += n
			r.hasRows = true
		}
		p.execDone(ts, false)
	case 'I', 's':
		r.bytes += size
		r.started = true
		p.execDone(ts, false)
	case 'E':
		r.bytes += size
		r.started = true
		parseErr(h, &r.err, m.blen > len(h))
		p.lastErr.copyFrom(&r.err)
		p.failing = true
		p.execDone(ts, true)
	case 'D':
		r.bytes += size
		r.started = true
		r.dataRows++
	case 'T', 't', 'n', '1', '2', '3', 'G', 'H', 'W', 'd', 'c', 'V', 'N', 'A', 'S', 'K', 'R', 'v':
		r.bytes += size
		if m.typ != 'N' && m.typ != 'A' && m.typ != 'S' {
			r.started = true
		}
		if m.typ == 'S' {
			p.paramStatus(h)
		}
	default:
		p.malformed(flow.ServerToClient, m, ts)
	}
}

// loginMsg handles a backend message during startup; it reports whether
// the message was the login's.
func (p *parser) loginMsg(m *message, size, ts int64) bool {
	l := &p.login
	switch m.typ {
	case 'R', 'K', 'v', 'N':
		l.resBytes += size
	case 'S':
		l.resBytes += size
		p.paramStatus(m.head)
	case 'E':
		l.resBytes += size
		e := &p.loginErr
		e.set = false
		parseErr(m.head, e, m.blen > len(m.head))
		p.emitLogin(ts, errOutcome(e), e)
		p.phase = phaseReady
	case 'Z':
		l.resBytes += size
		p.emitLogin(ts, l7.OutcomeOK, nil)
		p.phase = phaseReady
	default:
		return false
	}
	return true
}

func (p *parser) paramStatus(h []byte) {
	k := cstr(h)
	if string(k) == "server_version" && len(k) < len(h) {
		v := cstr(h[len(k)+1:])
		p.version = append(p.version[:0], v[:min(len(v), maxName)]...)
	}
}

// execDone: a CommandComplete, EmptyQueryResponse, PortalSuspended or
// ErrorResponse came. It ends the oldest Execute; for a Simple Query or a
// batch it is one step towards ReadyForQuery.
func (p *parser) execDone(ts int64, isErr bool) {
	it, ok := p.pending.Peek()
	if !ok {
		// A response without its request (picked up mid-stream).
		p.emitItem(nil, &p.resp, ts, l7.OutcomeNoRequest)
		p.resp.reset()
		return
	}
	if it.kind != kExec {
		return // Simple Query, FunctionCall, batch: wait for ReadyForQuery
	}
	x, _ := p.pending.Pop()
	out := l7.OutcomeOK
	if isErr {
		out = errOutcome(&p.resp.err)
	}
	p.emitItem(&x, &p.resp, ts, out)
	p.putBuf(x.text)
	p.resp.reset()
	if isErr {
		// The server skips the batch's other Executes up to the Sync.
		for {
			nx, ok := p.pending.Peek()
			if !ok || nx.kind != kExec {
				break
			}
			y, _ := p.pending.Pop()
			r := &p.resp
			r.err.copyFrom(&p.lastErr)
			p.emitItem(&y, r, ts, errOutcome(&p.lastErr))
			p.putBuf(y.text)
			r.reset()
		}
	}
}

// ready: ReadyForQuery ends a Simple Query, a FunctionCall or a batch.
func (p *parser) ready(ts int64) {
	failing := p.failing
	p.failing = false
	it, ok := p.pending.Peek()
	if !ok {
		p.resp.reset()
		return
	}
	for it.kind == kExec {
		// An Execute without its CommandComplete: its batch was answered
		// without it (the server never got the Execute, or we lost it).
		x, _ := p.pending.Pop()
		p.emitItem(&x, nil, 0, l7.OutcomeNoResponse)
		p.putBuf(x.text)
		if it, ok = p.pending.Peek(); !ok {
			p.resp.reset()
			return
		}
	}
	x, _ := p.pending.Pop()
	r := &p.resp
	switch {
	case x.kind == kSync && x.hasExec:
		// The batch's Executes were emitted; the Sync is silent.
	default:
		out := l7.OutcomeOK
		if r.err.set {
			out = errOutcome(&r.err)
		} else if failing && x.kind == kSync {
			r.err.copyFrom(&p.lastErr)
			out = errOutcome(&r.err)
		}
		p.emitItem(&x, r, ts, out)
	}
	p.putBuf(x.text)
	r.reset()
}

func (e *errInfo) copyFrom(o *errInfo) {
	e.set, e.code, e.trunc = o.set, o.code, o.trunc
	e.severity = append(e.severity[:0], o.severity...)
	e.msg = append(e.msg[:0], o.msg...)
}

// parseErr reads an ErrorResponse's fields: S severity (localised), V
// severity (not localised, 9.6+), C SQLSTATE, M message.
func parseErr(h []byte, e *errInfo, cut bool) {
	if e.set {
		return // a Simple Query keeps its first error
	}
	e.set = true
	e.trunc = cut
	e.severity, e.msg = e.severity[:0], e.msg[:0]
	var haveV bool
	for len(h) > 0 && h[0] != 0 {
		t := h[0]
		v := cstr(h[1:])
		switch t {
		case 'S':
			if !haveV {
				e.severity = append(e.severity[:0], v[:min(len(v), 16)]...)
			}
		case 'V':
			haveV = true
			e.severity = append(e.severity[:0], v[:min(len(v), 16)]...)
		case 'C':
			copy(e.code[:], v)
		case 'M':
			if len(v) > maxErr {
				v = v[:maxErr]
				e.trunc = true
			}
			e.msg = append(e.msg[:0], v...)
		}
		if 1+len(v) >= len(h) {
			break
		}
		h = h[1+len(v)+1:]
	}
}

// errOutcome maps the SQLSTATE class to the outcome.
func errOutcome(e *errInfo) l7.Outcome {
	if sqlstate.ClientClass(e.code[0], e.code[1]) {
		return l7.OutcomeClientError
	}
	return l7.OutcomeServerError
}

// tagRows returns the row count at the end of a command tag ("SELECT 3",
// "INSERT 0 1", "UPDATE 5", "COPY 10").
func tagRows(tag []byte) (int64, bool) {
	i := len(tag)
	for i > 0 && tag[i-1] >= '0' && tag[i-1] <= '9' {
		i--
	}
	if i == len(tag) || i == 0 || tag[i-1] != ' ' || len(tag)-i > 18 {
		return 0, false
	}
	var n int64
	for _, c := range tag[i:] {
		n = n*10 + int64(c-'0')
	}
	return n, true
}
