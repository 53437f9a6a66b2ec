package mysql

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/proto/sqlstate"
)

// Connection phases.
const (
	phaseInit    = iota // nothing recognised yet
	phaseGreeted        // server greeting seen, login request next
	phaseAuth           // login (or COM_CHANGE_USER) sent, waiting for the final OK/ERR
	phaseCommand        // command phase
)

// Response states.
const (
	rsFirst     = iota // first packet of a response (or of the next result set)
	rsColumns          // column definitions of a result set
	rsColsDone         // after the definitions: an EOF (old servers) or rows
	rsRows             // rows, until EOF/OK/ERR
	rsPrepDefs         // parameter and column definitions after COM_STMT_PREPARE's OK
	rsFieldList        // column definitions answering COM_FIELD_LIST, until EOF
)

// eofMode says whether result sets end their column definitions with an
// EOF packet (servers without CLIENT_DEPRECATE_EOF) — learnt from the
// handshake or from the first result set.
const (
	eofUnknown = iota
	eofClassic
	eofDeprecated
)

const (
	maxStmts      = 32  // prepared statements remembered per connection
	maxVersion    = 64  // server version bytes kept
	maxName       = 256 // user and schema name bytes kept
	maxErrMessage = 512 // MySQL caps its messages at 512 bytes
)

// request is a command waiting for its response.
type request struct {
	cmd    byte
	ts     int64
	bytes  int64
	text   []byte // owned copy of Target
	trunc  bool
	stmtID uint32
	stmt   bool // stmtID is set
}

type dirState struct {
	f       framer
	z       zframer
	comp    bool // compressed framing
	lost    bool // out of sync: waiting for a message boundary
	cont    bool // the previous packet was 0xffffff long: this one continues it
	started bool // bytes were seen
}

type stmt struct {
	id   uint32
	sql  []byte
	used uint64
}

// response is the response being assembled for the oldest request.
type response struct {
	active   bool
	noReq    bool
	cmd      byte
	state    int
	nextSeq  byte
	cols     int64 // columns of the first result set
	left     int64 // definitions still to come
	eofs     int   // EOF packets still expected after prepare definitions
	rows     int64
	bytes    int64
	ok       bool
	affected uint64
	insertID uint64
	err      bool
	code     int
	state5   [5]byte
	hasState bool
	msg      []byte // owned
	stmtID   uint32
	prepared bool // stmtID came from a prepare OK
	trunc    bool
}

type login struct {
	active   bool
	op       []byte
	ts       int64
	reqBytes int64
	resBytes int64
	user     []byte
	db       []byte
	auth     bool // auth data was present
	authData []byte
	trunc    bool
}

type parser struct {
	ctx   l7.Context
	dirs  [2]dirState
	phase int
	eof   int

	serverCaps uint32
	clientCaps uint32
	version    []byte
	compressed bool // zlib negotiated (or recognised mid-stream)
	stopped    bool
	// serverMayResync: a command was read since the server side lost
	// sync, so the server's next Data may start its response.
	serverMayResync bool
	// linger: a prepare response was emitted without knowing whether an
	// EOF follows its definitions; a lone EOF with this sequence number
	// is its tail.
	linger    bool
	lingerSeq byte

	pending l7.Queue[request]
	resp    response
	login   login
	stmts   []stmt
	stmtUse uint64
	free    [][]byte // owned text buffers to reuse

	tx     l7.Transaction
	fields [13]l7.Field
	nums   [5][20]byte
	kwBuf  [16]byte
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
	// A head holds what the parser reads from a packet: SQL text up to
	// MaxField after the command byte and query attributes, a login
	// request, an ERR packet.
	head := min(ctx.MaxMessage-4, l7.MaxField+256)
	for i := range p.dirs {
		p.dirs[i].f.max = head
		p.dirs[i].f.buf = ctx.NewBuf()
		p.dirs[i].z.max = ctx.MaxMessage
		p.dirs[i].z.buf = ctx.NewBuf()
	}
	p.pending = l7.NewQueue[request](ctx.MaxPending)
	return p
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if dir > flow.ServerToClient || p.stopped || len(b) == 0 {
		return
	}
	p.expire(ts)
	d := &p.dirs[dir]
	if !d.started {
		d.started = true
		// Compressed framing recognised without the handshake.
		if dir == flow.ClientToServer && p.phase == phaseInit && !p.dirs[flow.ServerToClient].started && compressedStart(b) {
			p.setCompressed()
		}
	}
	if d.lost {
		if !p.boundary(dir, b) {
			p.ctx.Sink.Drop(l7.DropResync, len(b))
			return
		}
		d.lost = false
		// Whatever the framers were in the middle of was counted when
		// sync was lost.
		d.f.reset()
		d.z.reset()
		d.cont = false
		if dir == flow.ServerToClient {
			p.serverMayResync = false
		}
	}
	for len(b) > 0 {
		var n int
		if d.comp {
			n = p.feedCompressed(dir, b, ts)
		} else {
			n = p.feedPlain(dir, b, ts)
		}
		b = b[n:]
		if p.stopped {
			return
		}
		if d.lost {
			if len(b) > 0 {
				p.ctx.Sink.Drop(l7.DropResync, len(b))
			}
			return
		}
	}
}

// boundary reports whether b, the start of a Data call on a direction
// that lost sync, starts a message the parser can trust.
func (p *parser) boundary(dir flow.Dir, b []byte) bool {
	if dir == flow.ClientToServer {
		if p.compressed {
			return compressedStart(b)
		}
		if compressedStart(b) && p.phase != phaseCommand {
			p.setCompressed()
			return true
		}
		return plausibleCommand(b) || p.phase != phaseCommand && plausibleLogin(b)
	}
	if len(b) >= 5 && b[3] == 0 && b[4] == 10 && !p.compressed {
		return true // a greeting
	}
	if !p.serverMayResync || len(b) < 5 {
		return false
	}
	if p.compressed {
		if len(b) < 11 {
			return false
		}
		if le24(b[4:]) == 0 {
			return b[10] == 1
		}
		return zlibHeader(b[7], b[8])
	}
	return b[3] == 1
}

func (p *parser) setCompressed() {
	p.compressed = true
	for i := range p.dirs {
		p.dirs[i].comp = true
	}
}

// Gap implements l7.Parser. Whatever either side was in the middle of is
// lost, and with it the pairing of responses to requests: the waiting
// requests are emitted without response and both sides resynchronise at
// the next command.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if dir > flow.ServerToClient || p.stopped {
		return
	}
	d := &p.dirs[dir]
	if !d.started {
		// The capture started in the middle of this direction: nothing of
		// it was read, so nothing else is lost. Its first bytes must be a
		// boundary; on the server side that is the response to a command
		// already read.
		d.lost = true
		if dir == flow.ServerToClient {
			p.serverMayResync = p.pending.Len() > 0
		}
		return
	}
	if held := d.f.reset() + d.z.reset(); held > 0 {
		p.ctx.Sink.Drop(l7.DropGap, held)
	}
	d.cont = false
	p.loseSync(ts)
}

// loseSync gives up on both directions until the next command.
func (p *parser) loseSync(ts int64) {
	for i := range p.dirs {
		d := &p.dirs[i]
		if !d.lost {
			if held := d.f.reset() + d.z.reset(); held > 0 {
				p.ctx.Sink.Drop(l7.DropResync, held)
			}
		}
		d.lost, d.cont = true, false
	}
	p.serverMayResync = false
	p.linger = false
	if p.resp.active {
		p.resp.trunc = true
		p.finishNoResponse(ts)
	}
	if p.login.active {
		p.emitLogin(nil, ts, l7.OutcomeNoResponse)
	}
	p.flushPending(ts)
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	if p.resp.active {
		p.resp.trunc = true
		p.finishNoResponse(ts)
	}
	if p.login.active {
		p.emitLogin(nil, ts, l7.OutcomeNoResponse)
	}
	p.flushPending(ts)
}

func (p *parser) flushPending(ts int64) {
	for {
		r, ok := p.pending.Pop()
		if !ok {
			return
		}
		p.emitRequest(&r, l7.OutcomeNoResponse)
	}
}

// expire emits requests older than the timeout, unless their response is
// being read.
func (p *parser) expire(ts int64) {
	for {
		r, ok := p.pending.Peek()
		if !ok || ts-r.ts <= p.ctx.Timeout || p.resp.active && !p.resp.noReq {
			return
		}
		req, _ := p.pending.Pop()
		p.emitRequest(&req, l7.OutcomeNoResponse)
	}
}

// feedPlain reads at most one packet from b.
func (p *parser) feedPlain(dir flow.Dir, b []byte, ts int64) int {
	d := &p.dirs[dir]
	n, ready, denied := d.f.step(b, ts)
	if denied {
		p.denied(dir, ts)
	}
	if ready {
		p.packet(dir, &d.f.pkt, ts)
		d.f.done()
	}
	return n
}

// denied: the parser memory budget refused to hold a packet head. What
// was held is gone; the direction resynchronises.
func (p *parser) denied(dir flow.Dir, ts int64) {
	d := &p.dirs[dir]
	p.ctx.Sink.Drop(l7.DropTooLarge, d.f.reset()+d.z.reset())
	d.lost = true
	p.loseSync(ts)
}

// feedCompressed reads at most one compressed frame (or part of one).
func (p *parser) feedCompressed(dir flow.Dir, b []byte, ts int64) int {
	d := &p.dirs[dir]
	z := &d.z
	if z.nhdr == 0 && len(b) >= 7 {
		// Fast path: a whole zlib frame in b is inflated in place.
		clen, ulen := le24(b), le24(b[4:])
		if ulen > 0 && len(b) >= 7+clen {
			p.inflate(dir, b[7:7+clen], ulen, ts)
			return 7 + clen
		}
	}
	if z.nhdr < 7 {
		n := copy(z.hdr[z.nhdr:], b)
		z.nhdr += n
		if z.nhdr < 7 {
			return n
		}
		z.clen, z.ulen = le24(z.hdr[:]), le24(z.hdr[4:])
		z.left, z.skip = z.clen, z.ulen > 0 && z.clen > z.max
		z.buf.Reset()
		if z.left == 0 {
			z.nhdr = 0
		}
		return n
	}
	k := min(z.left, len(b))
	chunk := b[:k]
	z.left -= k
	var frame []byte
	switch {
	case z.ulen == 0:
		p.feedInner(dir, chunk, ts)
	case z.skip:
	default:
		frame = z.buf.Feed(chunk)
		if z.left > 0 && z.buf.Keep(frame) > 0 {
			// The memory budget refused: skip the frame.
			z.skip = true
		}
	}
	if z.left == 0 {
		z.nhdr = 0
		switch {
		case z.ulen == 0:
		case z.skip:
			z.skip = false
			z.buf.Reset()
			p.ctx.Sink.Drop(l7.DropTooLarge, z.clen+7)
			d.lost = true
			p.loseSync(ts)
		default:
			p.inflate(dir, frame, z.ulen, ts)
			z.buf.Reset()
		}
	}
	return k
}

func (p *parser) inflate(dir flow.Dir, src []byte, ulen int, ts int64) {
	d := &p.dirs[dir]
	ok := d.z.inflate(src, ulen, func(out []byte) bool {
		p.feedInner(dir, out, ts)
		return !d.lost && !p.stopped
	})
	if !ok && !d.lost {
		p.ctx.Sink.Drop(l7.DropMalformed, len(src)+7)
		d.lost = true
		p.loseSync(ts)
	}
}

// feedInner runs the packet framer over decompressed (or stored) bytes.
func (p *parser) feedInner(dir flow.Dir, b []byte, ts int64) {
	d := &p.dirs[dir]
	for len(b) > 0 && !d.lost && !p.stopped {
		n, ready, denied := d.f.step(b, ts)
		b = b[n:]
		if denied {
			p.denied(dir, ts)
		}
		if ready {
			p.packet(dir, &d.f.pkt, ts)
			d.f.done()
		}
	}
}

// malformed: the packet breaks the protocol; the direction resyncs.
func (p *parser) malformed(dir flow.Dir, pk *packet, ts int64) {
	// The header and head were read; the rest of the packet, if any, is
	// dropped as resync when it comes.
	p.ctx.Sink.Drop(l7.DropMalformed, 4+len(pk.head))
	d := &p.dirs[dir]
	d.f.left = 0
	d.lost = true
	p.loseSync(ts)
}

func (p *parser) packet(dir flow.Dir, pk *packet, ts int64) {
	d := &p.dirs[dir]
	cont := d.cont
	d.cont = pk.plen == 0xffffff
	if dir == flow.ClientToServer {
		p.clientPacket(pk, cont, ts)
	} else {
		p.serverPacket(pk, cont, ts)
	}
}

func (p *parser) clientPacket(pk *packet, cont bool, ts int64) {
	size := int64(4 + pk.plen)
	if cont {
		p.addRequestBytes(size)
		return
	}
	switch p.phase {
	case phaseInit, phaseGreeted:
		if pk.seq != 0 {
			p.loginRequest(pk, ts)
			return
		}
	case phaseAuth:
		if pk.seq != 0 {
			// Auth continuation (auth switch response, RSA or clear
			// password exchange): part of the login, never emitted.
			p.login.reqBytes += size
			if !p.ctx.KeepCredentials && len(pk.head) > 0 {
				p.login.auth = true
			}
			return
		}
		// A command: the login ended without us seeing how.
		p.emitLogin(nil, ts, l7.OutcomeNoResponse)
		p.phase = phaseCommand
	}
	if pk.seq != 0 {
		// LOCAL INFILE contents, or a continuation we did not expect.
		p.addRequestBytes(size)
		return
	}
	p.command(pk, ts)
}

// addRequestBytes adds to the request whose exchange is under way.
func (p *parser) addRequestBytes(n int64) {
	if p.login.active {
		p.login.reqBytes += n
		return
	}
	if p.pending.Len() > 0 {
		p.pending.At(p.pending.Len() - 1).bytes += n
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

func (p *parser) command(pk *packet, ts int64) {
	if pk.plen == 0 || len(pk.head) == 0 {
		p.malformed(flow.ClientToServer, pk, ts)
		return
	}
	cmd := pk.head[0]
	if !clientSends(cmd) {
		p.malformed(flow.ClientToServer, pk, ts)
		return
	}
	p.phase = phaseCommand
	if p.dirs[flow.ServerToClient].lost {
		p.serverMayResync = true
	}
	p.linger = false
	req := request{cmd: cmd, ts: pk.ts0, bytes: int64(4 + pk.plen)}
	arg := pk.head[1:]
	argLen := pk.plen - 1
	switch cmd {
	case comQuery:
		q, skipped := p.queryText(arg)
		p.setText(&req, q, argLen-skipped > len(q))
	case comStmtPrepare:
		p.setText(&req, arg, argLen > len(arg))
	case comInitDB, comCreateDB, comDropDB:
		p.setText(&req, arg, argLen > len(arg))
	case comFieldList:
		p.setText(&req, cstring(arg), false)
	case comStmtExecute, comStmtClose, comStmtReset, comStmtFetch, comStmtSendLongData:
		if len(arg) < 4 {
			p.malformed(flow.ClientToServer, pk, ts)
			return
		}
		req.stmtID, req.stmt = le32(arg), true
		if cmd == comStmtExecute {
			if s := p.findStmt(req.stmtID); s != nil {
				p.setText(&req, s.sql, len(s.sql) == l7.MaxField)
			}
		}
	case comChangeUser:
		p.changeUser(&req, arg, ts)
		return
	}
	switch cmd {
	case comQuit, comStmtSendLongData, comStmtClose:
		// No response comes.
		if cmd == comStmtClose {
			p.dropStmt(req.stmtID)
		}
		p.emitRequest(&req, l7.OutcomeOneWay)
		return
	case comBinlogDump, comBinlogDumpGTID, comClone:
		// What follows is a replication or clone stream, not responses.
		p.emitRequest(&req, l7.OutcomeOneWay)
		p.stop()
		return
	}
	if old, evicted := p.pending.Push(req); evicted {
		p.emitRequest(&old, l7.OutcomeNoResponse)
	}
}

func (p *parser) stop() {
	p.stopped = true
	p.ctx.Sink.Stop()
}

// queryText returns the SQL of a COM_QUERY after the query attributes
// (MySQL 8.0.23+ with CLIENT_QUERY_ATTRIBUTES: parameter count, parameter
// set count, then the parameters), and how many bytes preceded it.
func (p *parser) queryText(arg []byte) ([]byte, int) {
	attrs := p.clientCaps&capQueryAttributes != 0
	if !attrs && p.clientCaps == 0 && len(arg) >= 2 && arg[0] == 0 && arg[1] == 1 {
		// Handshake not seen: no SQL text starts with NUL, so 00 01 is an
		// empty attribute set.
		attrs = true
	}
	if !attrs {
		return arg, 0
	}
	all := len(arg)
	n, i, ok := lenenc(arg, 0)
	if !ok {
		return arg, 0
	}
	_, i, ok = lenenc(arg, i)
	if !ok {
		return arg, 0
	}
	if n > 0 {
		// NULL bitmap, new-params-bound flag, then per parameter its type
		// (2 bytes) and name (length-encoded), then the values. A head cut
		// short or an odd value gives up on the text: it is not cut
		// somewhere in the middle of binary values.
		if n > 4096 {
			return arg[all:], all
		}
		nulls := i
		i += int(n+7) / 8
		if i >= len(arg) || arg[i] != 1 {
			return arg[all:], all
		}
		i++
		types := i
		for k := uint64(0); k < n; k++ {
			i += 2
			var l uint64
			if l, i, ok = lenenc(arg, i); !ok || uint64(len(arg)-i) < l {
				return arg[all:], all
			}
			i += int(l)
		}
		t := types
		for k := uint64(0); k < n; k++ {
			typ := arg[t]
			t += 2
			l, j, _ := lenenc(arg, t)
			t = j + int(l)
			if arg[nulls+int(k>>3)]&(1<<(k&7)) != 0 {
				continue
			}
			w, ok := binaryValueLen(typ, arg[i:])
			if !ok {
				return arg[all:], all
			}
			i += w
		}
	}
	return arg[i:], i
}

// binaryValueLen returns the length of one binary protocol value of type t.
func binaryValueLen(t byte, b []byte) (int, bool) {
	switch t {
	case 0x01: // TINY
		return 1, len(b) >= 1
	case 0x02, 0x0d: // SHORT, YEAR
		return 2, len(b) >= 2
	case 0x03, 0x09, 0x04: // LONG, INT24, FLOAT
		return 4, len(b) >= 4
	case 0x08, 0x05: // LONGLONG, DOUBLE
		return 8, len(b) >= 8
	case 0x06: // NULL
		return 0, true
	case 0x07, 0x0a, 0x0b, 0x0c: // TIMESTAMP, DATE, TIME, DATETIME: length byte
		if len(b) < 1 || int(b[0]) >= len(b) {
			return 0, false
		}
		return 1 + int(b[0]), true
	}
	l, i, ok := lenenc(b, 0)
	if !ok || uint64(len(b)-i) < l {
		return 0, false
	}
	return i + int(l), true
}

func (p *parser) setText(req *request, t []byte, cut bool) {
	t, c := l7.Cut(t)
	req.text = append(p.getBuf(), t...)
	req.trunc = cut || c
}

func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// lenenc reads a length-encoded integer at b[i:].
func lenenc(b []byte, i int) (v uint64, next int, ok bool) {
	if i >= len(b) {
		return 0, i, false
	}
	switch c := b[i]; {
	case c < 0xfb:
		return uint64(c), i + 1, true
	case c == 0xfc:
		if len(b)-i < 3 {
			return 0, i, false
		}
		return uint64(le16(b[i+1:])), i + 3, true
	case c == 0xfd:
		if len(b)-i < 4 {
			return 0, i, false
		}
		return uint64(le24(b[i+1:])), i + 4, true
	case c == 0xfe:
		if len(b)-i < 9 {
			return 0, i, false
		}
		return uint64(le32(b[i+1:])) | uint64(le32(b[i+5:]))<<32, i + 9, true
	}
	return 0, i, false
}

func (p *parser) findStmt(id uint32) *stmt {
	for i := range p.stmts {
		if p.stmts[i].id == id {
			p.stmtUse++
			p.stmts[i].used = p.stmtUse
			return &p.stmts[i]
		}
	}
	return nil
}

func (p *parser) dropStmt(id uint32) {
	for i := range p.stmts {
		if p.stmts[i].id == id {
			p.stmts[i].id, p.stmts[i].used = 0, 0
			p.stmts[i].sql = p.stmts[i].sql[:0]
			return
		}
	}
}

// keepStmt remembers a prepared statement's SQL, in at most maxStmts
// slots holding at most MaxMessage bytes together: the least recently
// used goes first.
func (p *parser) keepStmt(id uint32, sql []byte) {
	if len(sql) > p.ctx.MaxMessage/2 {
		return
	}
	total := 0
	slot := -1
	for i := range p.stmts {
		total += len(p.stmts[i].sql)
		if p.stmts[i].id == id || slot < 0 && p.stmts[i].used == 0 {
			slot = i
		}
	}
	for total+len(sql) > p.ctx.MaxMessage || slot < 0 && len(p.stmts) >= maxStmts {
		lru := -1
		for i := range p.stmts {
			if p.stmts[i].used != 0 && (lru < 0 || p.stmts[i].used < p.stmts[lru].used) {
				lru = i
			}
		}
		if lru < 0 {
			break
		}
		total -= len(p.stmts[lru].sql)
		p.stmts[lru].id, p.stmts[lru].used, p.stmts[lru].sql = 0, 0, p.stmts[lru].sql[:0]
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
	s.id, s.used = id, p.stmtUse
	s.sql = append(s.sql[:0], sql...)
}

// ---- handshake ----

func (p *parser) greeting(pk *packet) {
	h := pk.head
	p.phase = phaseGreeted
	v := cstring(h[1:])
	p.version = append(p.version[:0], v[:min(len(v), maxVersion)]...)
	i := 1 + len(v) + 1
	// thread id 4, auth data 8, filler 1, caps low 2, charset 1, status 2, caps high 2
	if len(h) >= i+15 {
		p.serverCaps = uint32(le16(h[i+13:]))
		if len(h) >= i+20 {
			p.serverCaps |= uint32(le16(h[i+18:])) << 16
		}
	}
}

func (p *parser) loginRequest(pk *packet, ts int64) {
	h := pk.head
	if len(h) < 4 {
		p.malformed(flow.ClientToServer, pk, ts)
		return
	}
	caps := uint32(le16(h))
	l := &p.login
	l.trunc = pk.plen > len(h)
	var i int
	if caps&capProtocol41 != 0 {
		if len(h) < 32 {
			p.malformed(flow.ClientToServer, pk, ts)
			return
		}
		caps = le32(h)
		if pk.plen == 32 && caps&capSSL != 0 {
			// SSL request: TLS follows.
			p.stop()
			return
		}
		i = 32
	} else {
		i = 5
	}
	p.clientCaps = caps
	if p.serverCaps != 0 {
		p.clientCaps &= p.serverCaps | capQueryAttributes
	}
	if caps&capDeprecateEOF != 0 {
		p.eof = eofDeprecated
	} else if caps&capProtocol41 != 0 {
		p.eof = eofClassic
	}
	user := cstring(h[min(i, len(h)):])
	i += len(user) + 1
	var auth []byte
	switch {
	case i >= len(h):
	case caps&capPluginAuthLenenc != 0:
		n, j, ok := lenenc(h, i)
		if ok && uint64(len(h)-j) >= n {
			auth, i = h[j:j+int(n)], j+int(n)
		} else {
			i = len(h)
		}
	case caps&capSecureConnection != 0:
		n := int(h[i])
		if len(h)-i-1 >= n {
			auth, i = h[i+1:i+1+n], i+1+n
		} else {
			i = len(h)
		}
	default:
		auth = cstring(h[i:])
		i += len(auth) + 1
	}
	var db []byte
	if caps&capConnectWithDB != 0 && i < len(h) {
		db = cstring(h[i:])
	}
	p.startLogin(opLogin, pk.ts0, int64(4+pk.plen), user, db, auth)
}

func (p *parser) startLogin(op []byte, ts, size int64, user, db, auth []byte) {
	l := &p.login
	if l.active {
		p.emitLogin(nil, ts, l7.OutcomeNoResponse)
	}
	l.active, l.op, l.ts, l.reqBytes, l.resBytes = true, op, ts, size, 0
	l.user = append(l.user[:0], user[:min(len(user), maxName)]...)
	l.db = append(l.db[:0], db[:min(len(db), maxName)]...)
	l.auth = len(auth) > 0
	l.authData = l.authData[:0]
	if p.ctx.KeepCredentials {
		l.authData = append(l.authData, auth[:min(len(auth), maxName)]...)
	}
	p.phase = phaseAuth
}

func (p *parser) changeUser(req *request, arg []byte, ts int64) {
	user := cstring(arg)
	i := len(user) + 1
	var auth []byte
	if i < len(arg) {
		if p.clientCaps&capSecureConnection != 0 || p.clientCaps == 0 {
			n := int(arg[i])
			if len(arg)-i-1 >= n {
				auth, i = arg[i+1:i+1+n], i+1+n
			} else {
				i = len(arg)
			}
		} else {
			auth = cstring(arg[i:])
			i += len(auth) + 1
		}
	}
	var db []byte
	if i < len(arg) {
		db = cstring(arg[i:])
	}
	p.startLogin(commandOps[comChangeUser], req.ts, req.bytes, user, db, auth)
}

// authPacket handles a server packet while a login is in progress.
func (p *parser) authPacket(pk *packet, ts int64) {
	l := &p.login
	l.resBytes += int64(4 + pk.plen)
	switch pk.head[0] {
	case 0x00:
		p.phase = phaseCommand
		p.emitLogin(nil, ts, l7.OutcomeOK)
		switch {
		case p.clientCaps&capZstd != 0 && p.clientCaps&capCompress == 0:
			p.stop()
		case p.clientCaps&capCompress != 0:
			p.setCompressed()
		}
	case 0xff:
		p.phase = phaseCommand
		p.resp = response{}
		p.parseErr(pk.head, &p.resp)
		p.emitLogin(&p.resp, ts, outcomeOf(&p.resp))
		p.resp = response{msg: p.resp.msg[:0]}
	}
	// 0xfe auth switch, 0x01 more data: the exchange goes on.
}

// ---- responses ----

func (p *parser) serverPacket(pk *packet, cont bool, ts int64) {
	size := int64(4 + pk.plen)
	if cont {
		if p.resp.active {
			p.resp.bytes += size
		} else if p.login.active {
			p.login.resBytes += size
		}
		return
	}
	if len(pk.head) == 0 {
		if p.resp.active {
			p.resp.bytes += size
			return
		}
		p.malformed(flow.ServerToClient, pk, ts)
		return
	}
	switch p.phase {
	case phaseInit:
		if pk.seq == 0 && pk.head[0] == 10 {
			p.greeting(pk)
			return
		}
		if pk.seq == 0 && pk.head[0] == 0xff {
			// Refused before the greeting.
			r := &p.resp
			*r = response{msg: r.msg[:0], bytes: size}
			p.parseErr(pk.head, r)
			p.login = login{op: opLogin, user: p.login.user[:0], db: p.login.db[:0], authData: p.login.authData[:0]}
			p.login.resBytes = size
			p.login.active = true
			p.emitLogin(r, ts, outcomeOf(r))
			*r = response{msg: r.msg[:0]}
			return
		}
	case phaseGreeted:
		if pk.head[0] == 10 && pk.seq == 0 {
			p.greeting(pk)
			return
		}
	case phaseAuth:
		if p.login.active {
			p.authPacket(pk, ts)
			return
		}
	}
	if p.linger {
		p.linger = false
		if pk.seq == p.lingerSeq && pk.head[0] == 0xfe && pk.plen <= 5 {
			return // the EOF after a prepare's definitions
		}
	}
	p.response(pk, size, ts)
}

func (p *parser) startResponse() {
	r := &p.resp
	msg := r.msg[:0]
	*r = response{active: true, msg: msg, nextSeq: 1}
	if q, ok := p.pending.Peek(); ok {
		r.cmd = q.cmd
	} else {
		r.noReq = true
		r.cmd = comQuery
	}
}

func (p *parser) response(pk *packet, size int64, ts int64) {
	r := &p.resp
	if r.active && pk.seq == 1 && r.nextSeq != 1 {
		// A new response while the old one looked unfinished: the old
		// one ended in a way the state machine did not follow.
		r.trunc = true
		p.finish(ts)
	}
	if !r.active {
		p.startResponse()
	}
	r.nextSeq = pk.seq + 1
	r.bytes += size
	h := pk.head
	b0 := h[0]
	switch r.state {
	case rsFirst:
		switch {
		case b0 == 0xff:
			p.parseErr(h, r)
			p.finish(ts)
		case b0 == 0x00 && r.cmd == comStmtPrepare:
			if len(h) < 9 {
				p.finish(ts)
				return
			}
			r.ok = true
			r.stmtID, r.prepared = le32(h[1:]), true
			cols, params := int64(le16(h[5:])), int64(le16(h[7:]))
			r.cols = cols
			r.left = cols + params
			// Old servers end each group of definitions with an EOF.
			r.eofs = int(b2i(cols > 0) + b2i(params > 0))
			if r.left == 0 {
				p.finish(ts)
				return
			}
			r.state = rsPrepDefs
		case b0 == 0x00 && r.cmd != comStatistics:
			if p.parseOK(h, r) {
				return // more results follow
			}
			p.finish(ts)
		case b0 == 0xfe && pk.plen < 9:
			p.parseEOF(h, r)
			p.finish(ts)
		case b0 == 0xfb && r.cmd == comQuery:
			// LOCAL INFILE: the client sends the file, then the server
			// answers with OK or ERR.
		case r.cmd == comQuery || r.cmd == comStmtExecute:
			n, _, ok := lenenc(h, 0)
			if !ok || n == 0 || n > 1<<16 {
				p.malformed(flow.ServerToClient, pk, ts)
				return
			}
			if r.cols == 0 {
				r.cols = int64(n)
			}
			r.left = int64(n)
			r.state = rsColumns
		case r.cmd == comFieldList:
			r.state = rsFieldList
		case r.cmd == comStmtFetch:
			r.rows++
			r.state = rsRows
		default:
			// COM_STATISTICS' text and anything else of one packet.
			r.ok = true
			p.finish(ts)
		}
	case rsColumns:
		if r.left--; r.left <= 0 {
			r.state = rsColsDone
		}
	case rsColsDone:
		r.state = rsRows
		if b0 == 0xfe && pk.plen <= 5 {
			if p.eof == eofUnknown {
				p.eof = eofClassic
			}
			return
		}
		if p.eof == eofUnknown {
			p.eof = eofDeprecated
		}
		p.row(h, pk.plen, ts)
	case rsRows:
		p.row(h, pk.plen, ts)
	case rsPrepDefs:
		if b0 == 0xfe && pk.plen <= 5 {
			r.eofs--
			if p.eof == eofUnknown {
				p.eof = eofClassic
			}
		} else {
			r.left--
		}
		if r.left <= 0 && (r.eofs <= 0 || p.eof != eofClassic) {
			if p.eof == eofUnknown {
				// An EOF may follow; finish now and let it pass.
				p.linger, p.lingerSeq = true, r.nextSeq
			}
			p.finish(ts)
		}
	case rsFieldList:
		switch {
		case b0 == 0xfe && pk.plen < 9:
			r.ok = true
			p.finish(ts)
		case b0 == 0xff:
			p.parseErr(h, r)
			p.finish(ts)
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// row handles a packet where a row or the end of rows may come. A row
// that starts with 0xfe would hold a first column of 16 MiB or more, so
// its packet is 0xffffff long; a shorter 0xfe packet ends the rows.
func (p *parser) row(h []byte, plen int, ts int64) {
	r := &p.resp
	switch {
	case h[0] == 0xfe && plen < 0xffffff:
		var more bool
		if plen <= 5 {
			more = p.parseEOF(h, r)
		} else {
			more = p.parseOK(h, r)
		}
		if more {
			r.state = rsFirst
			return
		}
		r.ok = true
		p.finish(ts)
	case h[0] == 0xff:
		p.parseErr(h, r)
		p.finish(ts)
	default:
		r.rows++
	}
}

// parseOK reads an OK packet; it reports whether more results follow.
func (p *parser) parseOK(h []byte, r *response) bool {
	r.ok = true
	aff, i, ok := lenenc(h, 1)
	if !ok {
		return false
	}
	id, i, ok := lenenc(h, i)
	if !ok {
		return false
	}
	r.affected += aff
	if id != 0 {
		r.insertID = id
	}
	if len(h) < i+2 {
		return false
	}
	return le16(h[i:])&serverMoreResultsFlag != 0
}

func (p *parser) parseEOF(h []byte, r *response) bool {
	r.ok = true
	if len(h) < 5 {
		return false
	}
	return le16(h[3:])&serverMoreResultsFlag != 0
}

func (p *parser) parseErr(h []byte, r *response) {
	r.err = true
	if len(h) < 3 {
		return
	}
	r.code = le16(h[1:])
	m := h[3:]
	if len(m) >= 6 && m[0] == '#' {
		copy(r.state5[:], m[1:6])
		r.hasState = true
		m = m[6:]
	}
	if len(m) > maxErrMessage {
		m = m[:maxErrMessage]
		r.trunc = true
	}
	r.msg = append(r.msg[:0], m...)
}

// finish emits the response with its request.
func (p *parser) finish(ts int64) {
	r := &p.resp
	r.active = false
	out := outcomeOf(r)
	if r.noReq {
		p.emit(nil, r, ts, l7.OutcomeNoRequest)
		return
	}
	req, ok := p.pending.Pop()
	if !ok {
		p.emit(nil, r, ts, l7.OutcomeNoRequest)
		return
	}
	if req.cmd == comStmtPrepare && r.prepared && !r.err {
		p.keepStmt(r.stmtID, req.text)
	}
	p.emit(&req, r, ts, out)
	p.putBuf(req.text)
}

// finishNoResponse gives up on the response being read.
func (p *parser) finishNoResponse(ts int64) {
	r := &p.resp
	r.active = false
	if r.noReq {
		return
	}
	if req, ok := p.pending.Pop(); ok {
		p.emit(&req, r, 0, l7.OutcomeNoResponse)
		p.putBuf(req.text)
	}
}

func (p *parser) emitRequest(req *request, out l7.Outcome) {
	p.emit(req, nil, 0, out)
	p.putBuf(req.text)
	req.text = nil
}

// outcomeOf maps an ERR's SQLSTATE class to the outcome.
func outcomeOf(r *response) l7.Outcome {
	if !r.err {
		return l7.OutcomeOK
	}
	if r.hasState && sqlstate.ClientClass(r.state5[0], r.state5[1]) {
		return l7.OutcomeClientError
	}
	if !r.hasState {
		switch r.code {
		case 1044, 1045, 1049, 1064, 1146, 1054, 1062, 1048, 1136, 1142, 1143, 1227:
			// access denied, unknown database, syntax, unknown table or
			// column, duplicate key, NULL in NOT NULL, column count,
			// command/column denied, privilege needed
			return l7.OutcomeClientError
		}
	}
	return l7.OutcomeServerError
}
