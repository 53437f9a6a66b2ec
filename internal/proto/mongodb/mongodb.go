// Package mongodb decodes the MongoDB wire protocol
// (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/)
// from the reassembled bytes of a TCP flow into transactions: one command
// and its reply, matched by the reply's responseTo = the request's
// requestID.
//
// Every message starts with the 16-byte header (messageLength, requestID,
// responseTo, opCode). Decoded: OP_MSG (flag bits, checksum, section kind 0
// body document, kind 1 document sequences), the legacy OP_QUERY and
// OP_REPLY, OP_INSERT, OP_UPDATE, OP_DELETE, OP_GET_MORE, OP_KILL_CURSORS,
// the internal OP_COMMAND/OP_COMMANDREPLY, and OP_COMPRESSED (snappy and
// zlib payloads are decompressed, bounded by Context.MaxMessage; zstd is
// not, and its transaction carries the original opcode and compressor
// only). Documents are read by a small bounded BSON reader (bson.go).
//
// Per transaction:
//
//	Op      the command name: the first key of the command document
//	        ("find", "insert", "isMaster", "saslStart"); for the legacy
//	        opcodes "find" (OP_QUERY on a collection), "insert", "update",
//	        "delete", "getMore", "killCursors"
//	Target  "database.collection" (the collection is the command's value
//	        when it is a string, or its "collection" argument for
//	        getMore), or "database" alone
//	Status  the reply's error code ("11000", "13"); empty when ok:1. A
//	        reply with ok:0 and no code has an empty Status and an error
//	        outcome
//
// Fields, in this order, each only when known:
//
//	opcode         the request's opcode name ("OP_MSG"; for OP_COMPRESSED
//	               the original opcode), else the reply's
//	request_id     the request's requestID (the reply's responseTo)
//	database       $db (OP_MSG) or the namespace's database
//	collection     see Target
//	command        the command document as short text, in the notation
//	               of the Rust bson crate that DeepFlow prints:
//	               { "find": "c", "filter": { "a": 1 }, "$db": "d" };
//	               credentials redacted (below); cut at l7.MaxField
//	compressor     snappy, zlib, zstd or noop, for OP_COMPRESSED
//	error_message  errmsg (or the legacy $err, or the first write error's
//	               errmsg)
//	code_name      codeName
//	documents      documents the reply carries: cursor.firstBatch or
//	               nextBatch length, or OP_REPLY numberReturned for a
//	               legacy query
//	n, n_modified  the write commands' n and nModified
//
// Outcome: ok when the reply says ok:1 without write errors; otherwise
// server_error for codes that report a server-side condition (see
// serverSide: shutdown, not primary, network, write concern, time limits,
// internal errors) and client_error for the rest (bad values,
// unauthorized, duplicate keys, unknown commands, ...). OP_INSERT,
// OP_UPDATE, OP_DELETE, OP_KILL_CURSORS and OP_MSG with moreToCome expect no
// reply: one_way.
//
// Credentials: unless Context.KeepCredentials, the command text shows
// <redacted> for the payload, key and nonce of saslStart, saslContinue,
// authenticate (and the speculativeAuthenticate sub-document of a
// handshake), and for pwd/password/digestPassword anywhere; the
// transaction is flagged FlagRedacted.
//
// Limits: a message longer than Context.MaxMessage is decoded from its
// first MaxMessage bytes and the rest is skipped by counting (a reply's ok
// or errmsg beyond that point is not seen: the transaction is flagged
// FlagTruncated and counts as ok). A gap inside a message whose length is
// known keeps the framing: the message is decoded from the bytes before
// the hole, flagged FlagTruncated, and the bytes after the hole up to its
// end are counted as DropGap. Otherwise, after a gap or a mid-stream start,
// bytes are skipped (DropResync) up to the next offset that holds a
// plausible header and body start. Exhaust cursors (replies that answer
// an earlier reply) are reported as replies without a request. A message
// still incomplete when the flow ends is counted as DropOther.
package mongodb

import (
	"encoding/binary"
	"strconv"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol is the MongoDB wire protocol.
var Protocol = &l7.Protocol{
	Name:   "mongodb",
	TCP:    true,
	Ports:  []uint16{27017},
	Detect: Detect,
	New:    New,
}

// Field keys.
const (
	FieldOpcode       = "opcode"
	FieldRequestID    = "request_id"
	FieldDatabase     = "database"
	FieldCollection   = "collection"
	FieldCommand      = "command"
	FieldCompressor   = "compressor"
	FieldErrorMessage = "error_message"
	FieldCodeName     = "code_name"
	FieldDocuments    = "documents"
	FieldN            = "n"
	FieldNModified    = "n_modified"
)

// Opcodes.
const (
	opReply        = 1
	opUpdate       = 2001
	opInsert       = 2002
	opQuery        = 2004
	opGetMore      = 2005
	opDelete       = 2006
	opKillCursors  = 2007
	opCommand      = 2010
	opCommandReply = 2011
	opCompressed   = 2012
	opMsg          = 2013
)

const (
	headerLen = 16
	// maxWire bounds messageLength: the server's maxMessageSizeBytes is
	// 48,000,000. A larger value means the bytes are not MongoDB.
	maxWire = 48_000_000
)

// OP_MSG flag bits.
const (
	msgChecksumPresent = 1 << 0
	msgMoreToCome      = 1 << 1
	msgExhaustAllowed  = 1 << 16
)

var (
	nameReply        = []byte("OP_REPLY")
	nameUpdate       = []byte("OP_UPDATE")
	nameInsert       = []byte("OP_INSERT")
	nameQuery        = []byte("OP_QUERY")
	nameGetMore      = []byte("OP_GET_MORE")
	nameDelete       = []byte("OP_DELETE")
	nameKillCursors  = []byte("OP_KILL_CURSORS")
	nameCommand      = []byte("OP_COMMAND")
	nameCommandReply = []byte("OP_COMMANDREPLY")
	nameCompressed   = []byte("OP_COMPRESSED")
	nameMsg          = []byte("OP_MSG")
)

// Op names of the legacy opcodes.
var (
	opFind            = []byte("find")
	opInsertName      = []byte("insert")
	opUpdateName      = []byte("update")
	opDeleteName      = []byte("delete")
	opGetMoreName     = []byte("getMore")
	opKillCursorsName = []byte("killCursors")
)

// opName returns the opcode's name, nil for an unknown opcode.
func opName(op uint32) []byte {
	switch op {
	case opReply:
		return nameReply
	case opUpdate:
		return nameUpdate
	case opInsert:
		return nameInsert
	case opQuery:
		return nameQuery
	case opGetMore:
		return nameGetMore
	case opDelete:
		return nameDelete
	case opKillCursors:
		return nameKillCursors
	case opCommand:
		return nameCommand
	case opCommandReply:
		return nameCommandReply
	case opCompressed:
		return nameCompressed
	case opMsg:
		return nameMsg
	}
	return nil
}

func knownOp(op uint32) bool { return opName(op) != nil }

// isReplyOp: opcodes only a server sends.
func isReplyOp(op uint32) bool { return op == opReply || op == opCommandReply }

// header is the standard message header.
type header struct {
	length     int
	requestID  int32
	responseTo int32
	opcode     uint32
}

func readHeader(b []byte) header {
	return header{
		length:     int(int32(binary.LittleEndian.Uint32(b))),
		requestID:  int32(binary.LittleEndian.Uint32(b[4:])),
		responseTo: int32(binary.LittleEndian.Uint32(b[8:])),
		opcode:     binary.LittleEndian.Uint32(b[12:]),
	}
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
	p.role = [2]uint8{roleClient, roleServer}
	p.scratch = make([]byte, 0, 256)
	return p
}

const (
	roleClient uint8 = 1
	roleServer uint8 = 2
)

type parser struct {
	ctx     l7.Context
	fr      l7.Framer
	role    [2]uint8 // what each direction sends, learnt from unambiguous opcodes
	pending l7.Queue[*request]
	free    []*request
	inf     inflater
	tx      l7.Transaction
	fields  [12]l7.Field
	scratch []byte // numbers formatted for the transaction being emitted
}

// span locates a value in a request's arena.
type span struct{ off, end int32 }

// request is a decoded request waiting for its reply. Its values are
// copied into arena (reused from request to request) because the message
// buffer they come from does not outlive the Data call.
type request struct {
	id         int32
	ts         int64
	size       int64
	flags      l7.Flags
	opcode     []byte
	compressor []byte
	isCmd      bool // the reply's first document is a command reply
	oneWay     bool
	arena      []byte
	op, target span
	db, coll   span
	cmd        span
}

func (r *request) get(s span) []byte {
	if s.end <= s.off {
		return nil
	}
	return r.arena[s.off:s.end]
}

func (r *request) put(v []byte) span {
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

// response is a decoded reply; its slices point into the message.
type response struct {
	responseTo int32
	ts         int64
	size       int64
	flags      l7.Flags
	opcode     []byte
	compressor []byte

	okSeen     bool
	ok         float64
	errSeen    bool // $err, writeErrors or writeConcernError: an error whatever ok says
	errmsg     []byte
	codeName   []byte
	codeSeen   bool
	code       int64
	docsSeen   bool
	docs       int64
	nSeen      bool
	n          int64
	nModSeen   bool
	nModified  int64
	replyFlags int32 // OP_REPLY responseFlags
	returned   int32 // OP_REPLY numberReturned
	legacy     bool  // an OP_REPLY
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
	p.inf.release()
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

// message decodes one message. msg is the whole message, or its first
// bytes when it is longer than MaxMessage or holed (cut); total is its
// length on the wire, got how many of its bytes were received and not
// counted as dropped; t0 is when its first byte came, t1 when its last.
func (p *parser) message(dir flow.Dir, msg []byte, total, got int, holed bool, t0, t1 int64) {
	h := readHeader(msg)
	body := msg[headerLen:]
	op := h.opcode
	var compressor []byte
	decoded := true
	if op == opCompressed {
		decoded = false
		if len(body) >= 9 {
			op = binary.LittleEndian.Uint32(body)
			usize := int64(int32(binary.LittleEndian.Uint32(body[4:])))
			id := body[8]
			compressor = compressorName(id)
			limit := int(min(max(usize, 0), int64(p.ctx.MaxMessage)))
			if out, ok := p.inf.inflate(id, body[9:], limit); ok {
				body, decoded = out, true
			}
		}
		if !decoded {
			body = nil
		}
		if !knownOp(op) || op == opCompressed {
			p.drop(l7.DropMalformed, got)
			return
		}
	}
	reply := false
	switch {
	case isReplyOp(op):
		reply = true
		p.role[dir], p.role[1-dir] = roleServer, roleClient
	case op == opMsg:
		// A reply answers a requestID. A reply to requestID 0 (some
		// drivers' first handshake) has responseTo 0 too: it is known by
		// who sends it and by a request 0 waiting.
		reply = h.responseTo != 0 || (p.role[dir] == roleServer && p.waiting(0))
		if h.responseTo != 0 {
			p.role[dir], p.role[1-dir] = roleServer, roleClient
		}
	default:
		p.role[dir], p.role[1-dir] = roleClient, roleServer
	}
	var trunc l7.Flags
	if holed || len(msg) < total {
		trunc = l7.FlagTruncated
	}
	if reply {
		rs := response{responseTo: h.responseTo, ts: t1, size: int64(total), opcode: opName(op), compressor: compressor}
		if decoded {
			p.parseReply(op, body, &rs)
		}
		rs.flags |= trunc
		p.reply(&rs)
		return
	}
	r := p.newRequest()
	r.id, r.ts, r.size, r.opcode, r.compressor = h.requestID, t0, int64(total), opName(op), compressor
	if decoded {
		p.parseRequest(op, body, r)
	}
	r.flags |= trunc
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

// waiting reports whether a request with this requestID is pending.
func (p *parser) waiting(id int32) bool {
	for i := 0; i < p.pending.Len(); i++ {
		if (*p.pending.At(i)).id == id {
			return true
		}
	}
	return false
}

// reply matches a reply with its request.
func (p *parser) reply(rs *response) {
	for i := 0; i < p.pending.Len(); i++ {
		if r := *p.pending.At(i); r.id == rs.responseTo {
			p.pending.Remove(i)
			p.finishReply(r, rs)
			p.emit(r, rs, p.outcome(rs))
			p.release(r)
			return
		}
	}
	p.finishReply(nil, rs)
	p.emit(nil, rs, l7.OutcomeNoRequest)
}

// finishReply settles what depends on the request: an OP_REPLY to a
// legacy query carries result documents, not a command reply, and a field
// named ok or n in a user document means nothing.
func (p *parser) finishReply(r *request, rs *response) {
	if !rs.legacy || (r != nil && r.isCmd) || (r == nil && rs.okSeen) {
		return
	}
	if rs.replyFlags&2 == 0 {
		*rs = response{
			responseTo: rs.responseTo, ts: rs.ts, size: rs.size, flags: rs.flags,
			opcode: rs.opcode, compressor: rs.compressor,
			replyFlags: rs.replyFlags, returned: rs.returned, legacy: true,
		}
		rs.docsSeen, rs.docs = true, int64(rs.returned)
	}
}

// parseRequest decodes a request body (after the header).
func (p *parser) parseRequest(op uint32, b []byte, r *request) {
	var doc []byte // the command (or query) document
	var ns []byte  // a legacy full collection name
	switch op {
	case opMsg:
		if len(b) < 4 {
			return
		}
		flags := binary.LittleEndian.Uint32(b)
		r.oneWay = flags&msgMoreToCome != 0
		r.isCmd = true
		doc = msgBody(b[4:])
	case opQuery:
		if len(b) < 4 {
			return
		}
		var rest []byte
		ns, rest = cstring(b[4:])
		if len(rest) < 8 {
			break
		}
		doc = rest[8:]
		if db, coll := splitNS(ns); string(coll) == "$cmd" {
			r.isCmd = true
			r.db = r.put(db[:min(len(db), l7.MaxField)])
			// Drivers wrap a command sent to a secondary in $query.
			if body, _, _, ok := docBody(doc); ok {
				it := iter{b: body}
				if e, ok := it.next(); ok && (string(e.name) == "$query" || string(e.name) == "query") && e.typ == tDocument {
					doc = e.val
				}
			}
		} else {
			r.op = r.put(opFind)
		}
	case opInsert:
		r.oneWay = true
		r.op = r.put(opInsertName)
		if len(b) >= 4 {
			ns, _ = cstring(b[4:])
		}
	case opUpdate, opDelete, opGetMore:
		r.oneWay = op != opGetMore
		switch op {
		case opUpdate:
			r.op = r.put(opUpdateName)
		case opDelete:
			r.op = r.put(opDeleteName)
		default:
			r.op = r.put(opGetMoreName)
		}
		if len(b) >= 4 {
			ns, _ = cstring(b[4:])
		}
	case opKillCursors:
		r.oneWay = true
		r.op = r.put(opKillCursorsName)
	case opCommand:
		db, rest := cstring(b)
		name, rest := cstring(rest)
		r.isCmd = true
		r.db = r.put(db[:min(len(db), l7.MaxField)])
		r.op = r.put(name[:min(len(name), l7.MaxField)])
		// metadata document, then the command arguments
		if _, n, complete, ok := docBody(rest); ok && complete {
			doc = rest[n:]
		}
	}
	if ns != nil && !r.isCmd {
		db, coll := splitNS(ns)
		r.db, r.coll = r.put(db[:min(len(db), l7.MaxField)]), r.put(coll[:min(len(coll), l7.MaxField)])
	}
	if doc != nil {
		p.commandDoc(doc, r)
	}
	// Target: database.collection, or the database alone.
	if db := r.get(r.db); len(db) > 0 {
		start := len(r.arena)
		r.arena = append(r.arena, db...)
		if c := r.get(r.coll); len(c) > 0 {
			r.arena = append(r.arena, '.')
			r.arena = append(r.arena, c...)
		}
		r.target = span{int32(start), int32(len(r.arena))}
		if r.target.end-r.target.off > l7.MaxField {
			r.target.end = r.target.off + l7.MaxField
			r.flags |= l7.FlagTruncated
		}
	}
}

// commandDoc takes the command name, collection, database and text from
// a command document.
func (p *parser) commandDoc(doc []byte, r *request) {
	body, _, complete, ok := docBody(doc)
	if !ok {
		return
	}
	if !complete {
		r.flags |= l7.FlagTruncated
	}
	it := iter{b: body}
	first := true
	for {
		e, ok := it.next()
		if !ok {
			break
		}
		if first {
			first = false
			if r.op.end == 0 {
				r.op = r.put(e.name[:min(len(e.name), l7.MaxField)])
				if s, ok := e.str(); ok && r.coll.end == 0 {
					r.coll = r.put(s[:min(len(s), l7.MaxField)])
				}
			}
			continue
		}
		switch string(e.name) {
		case "$db":
			if s, ok := e.str(); ok && r.db.end == 0 {
				r.db = r.put(s[:min(len(s), l7.MaxField)])
			}
		case "collection":
			// getMore names its collection here (its value is the cursor id)
			if s, ok := e.str(); ok && r.coll.end == 0 {
				r.coll = r.put(s[:min(len(s), l7.MaxField)])
			}
		}
	}
	if it.truncated {
		r.flags |= l7.FlagTruncated
		if first && r.op.end == 0 {
			// Cut inside the first element: its name may be whole.
			if name := firstName(body); name != nil {
				r.op = r.put(name[:min(len(name), l7.MaxField)])
			}
		}
	}
	start := len(r.arena)
	rd := renderer{out: r.arena, limit: start + l7.MaxField, redact: !p.ctx.KeepCredentials}
	rd.document(body, false, 0, false)
	r.arena = rd.out
	r.cmd = span{int32(start), int32(len(r.arena))}
	if rd.cut || r.cmd.end-r.cmd.off > l7.MaxField {
		r.cmd.end = min(r.cmd.end, r.cmd.off+l7.MaxField)
		r.flags |= l7.FlagTruncated
	}
	if rd.redacted {
		r.flags |= l7.FlagRedacted
	}
}

// msgBody returns the kind 0 section's document of an OP_MSG (the bytes
// after the flag bits), skipping kind 1 document sequences before it.
func msgBody(b []byte) []byte {
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0:
			return b
		case 1:
			if len(b) < 4 {
				return nil
			}
			l := int64(int32(binary.LittleEndian.Uint32(b)))
			if l < 4 || l > int64(len(b)) {
				return nil
			}
			b = b[l:]
		default:
			return nil
		}
	}
	return nil
}

// cstring splits b at its first NUL.
func cstring(b []byte) (s, rest []byte) {
	i := indexNul(b, 0)
	if i < 0 {
		return b[:min(len(b), 255)], nil
	}
	return b[:i], b[i+1:]
}

// splitNS splits "db.collection" at the first dot.
func splitNS(ns []byte) (db, coll []byte) {
	for i, c := range ns {
		if c == '.' {
			return ns[:i], ns[i+1:]
		}
	}
	return ns, nil
}

// parseReply decodes a reply body.
func (p *parser) parseReply(op uint32, b []byte, rs *response) {
	var doc []byte
	switch op {
	case opMsg:
		if len(b) < 4 {
			return
		}
		doc = msgBody(b[4:])
	case opReply:
		rs.legacy = true
		if len(b) < 20 {
			return
		}
		rs.replyFlags = int32(binary.LittleEndian.Uint32(b))
		rs.returned = int32(binary.LittleEndian.Uint32(b[16:]))
		if rs.replyFlags&2 != 0 {
			rs.errSeen = true // QueryFailure: the document says why
		}
		if rs.returned > 0 {
			doc = b[20:]
		}
	case opCommandReply:
		doc = b
	}
	if doc == nil {
		return
	}
	body, _, complete, ok := docBody(doc)
	if !ok {
		return
	}
	if !complete {
		rs.flags |= l7.FlagTruncated
	}
	it := iter{b: body}
	for {
		e, ok := it.next()
		if !ok {
			break
		}
		switch string(e.name) {
		case "ok":
			rs.ok, rs.okSeen = e.num()
		case "errmsg", "$err":
			if s, ok := e.str(); ok {
				rs.errmsg = s
			}
		case "code":
			rs.code, rs.codeSeen = e.integer()
		case "codeName":
			if s, ok := e.str(); ok {
				rs.codeName = s
			}
		case "n":
			rs.n, rs.nSeen = e.integer()
		case "nModified":
			rs.nModified, rs.nModSeen = e.integer()
		case "cursor":
			if c, ok := e.doc(); ok {
				cit := iter{b: c}
				for {
					ce, ok := cit.next()
					if !ok {
						break
					}
					if string(ce.name) == "firstBatch" || string(ce.name) == "nextBatch" {
						if arr, ok := ce.doc(); ok {
							n, _ := countElems(arr)
							rs.docs, rs.docsSeen = int64(n), true
						}
					}
				}
			}
		case "writeErrors", "writeConcernError":
			// The first write error explains the failure of an
			// otherwise ok:1 write.
			d, ok := e.doc()
			if !ok {
				break
			}
			if e.typ == tArray {
				first := iter{b: d}
				fe, ok := first.next()
				if !ok || fe.typ != tDocument {
					break
				}
				if d, ok = fe.doc(); !ok {
					break
				}
			}
			rs.errSeen = true
			wit := iter{b: d}
			for {
				we, ok := wit.next()
				if !ok {
					break
				}
				switch string(we.name) {
				case "code":
					if !rs.codeSeen {
						rs.code, rs.codeSeen = we.integer()
					}
				case "errmsg":
					if s, ok := we.str(); ok && rs.errmsg == nil {
						rs.errmsg = s
					}
				case "codeName":
					if s, ok := we.str(); ok && rs.codeName == nil {
						rs.codeName = s
					}
				}
			}
		}
	}
	if it.truncated {
		rs.flags |= l7.FlagTruncated
	}
}

// outcome classifies a reply.
func (p *parser) outcome(rs *response) l7.Outcome {
	failed := rs.errSeen || (rs.okSeen && rs.ok == 0)
	if !failed {
		return l7.OutcomeOK
	}
	if rs.codeSeen && serverSide(rs.code) {
		return l7.OutcomeServerError
	}
	return l7.OutcomeClientError
}

// serverSide reports error codes (src/mongo/base/error_codes.yml) that
// describe a condition of the server or the cluster rather than a fault
// of the request.
func serverSide(code int64) bool {
	switch code {
	case 1, // InternalError
		6,     // HostUnreachable
		7,     // HostNotFound
		24,    // LockTimeout
		46,    // LockBusy
		50,    // MaxTimeMSExpired
		64,    // WriteConcernFailed
		74,    // NodeNotFound
		83,    // NoProgressMade
		89,    // NetworkTimeout
		91,    // ShutdownInProgress
		100,   // UnsatisfiableWriteConcern
		112,   // WriteConflict
		133,   // FailedToSatisfyReadPreference
		134,   // ReadConcernMajorityNotAvailableYet
		146,   // ExceededMemoryLimit
		189,   // PrimarySteppedDown
		202,   // NetworkInterfaceExceededTimeLimit
		262,   // ExceededTimeLimit
		9001,  // SocketException
		10107, // NotWritablePrimary
		11600, // InterruptedAtShutdown
		11602, // InterruptedDueToReplStateChange
		13435, // NotPrimaryNoSecondaryOk
		13436, // NotPrimaryOrSecondary
		14031: // OutOfDiskSpace
		return true
	}
	return false
}

// emit hands a transaction to the sink. r or rs may be nil.
func (p *parser) emit(r *request, rs *response, out l7.Outcome) {
	tx := &p.tx
	*tx = l7.Transaction{Outcome: out}
	f := p.fields[:0]
	p.scratch = p.scratch[:0]
	num := func(v int64) []byte {
		s := len(p.scratch)
		p.scratch = strconv.AppendInt(p.scratch, v, 10)
		return p.scratch[s:len(p.scratch):len(p.scratch)]
	}
	switch {
	case r != nil:
		f = append(f, l7.Field{Key: FieldOpcode, Value: r.opcode})
		f = append(f, l7.Field{Key: FieldRequestID, Value: num(int64(r.id))})
	case rs != nil:
		f = append(f, l7.Field{Key: FieldOpcode, Value: rs.opcode})
		f = append(f, l7.Field{Key: FieldRequestID, Value: num(int64(rs.responseTo))})
	}
	if r != nil {
		tx.ReqTS, tx.ReqBytes = r.ts, r.size
		tx.Op, tx.Target = r.get(r.op), r.get(r.target)
		tx.Flags |= r.flags
		if v := r.get(r.db); len(v) > 0 {
			f = append(f, l7.Field{Key: FieldDatabase, Value: v})
		}
		if v := r.get(r.coll); len(v) > 0 {
			f = append(f, l7.Field{Key: FieldCollection, Value: v})
		}
		if v := r.get(r.cmd); len(v) > 0 {
			f = append(f, l7.Field{Key: FieldCommand, Value: v})
		}
		if r.compressor != nil {
			f = append(f, l7.Field{Key: FieldCompressor, Value: r.compressor})
		}
	}
	if rs != nil {
		tx.RespTS, tx.RespBytes = rs.ts, rs.size
		tx.Flags |= rs.flags
		if r == nil && rs.compressor != nil {
			f = append(f, l7.Field{Key: FieldCompressor, Value: rs.compressor})
		}
		failed := rs.errSeen || (rs.okSeen && rs.ok == 0)
		if failed && rs.codeSeen {
			tx.Status = num(rs.code)
		}
		if len(rs.errmsg) > 0 {
			v, cut := l7.Cut(rs.errmsg)
			if cut {
				tx.Flags |= l7.FlagTruncated
			}
			f = append(f, l7.Field{Key: FieldErrorMessage, Value: v})
		}
		if len(rs.codeName) > 0 {
			v, _ := l7.Cut(rs.codeName)
			f = append(f, l7.Field{Key: FieldCodeName, Value: v})
		}
		if rs.docsSeen {
			f = append(f, l7.Field{Key: FieldDocuments, Value: num(rs.docs)})
		}
		if rs.nSeen {
			f = append(f, l7.Field{Key: FieldN, Value: num(rs.n)})
		}
		if rs.nModSeen {
			f = append(f, l7.Field{Key: FieldNModified, Value: num(rs.nModified)})
		}
	}
	tx.Fields = f
	p.ctx.Sink.Transaction(tx)
	*tx = l7.Transaction{}
}
