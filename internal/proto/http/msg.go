package http

import (
	"bytes"
	"sync"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// span locates a value inside a msg, in msg.store or msg.hdrs (which one
// is known from the value). Both buffers stay below 64 KiB (see
// storeBound, l7.MaxField).
type span struct{ off, end uint16 }

func (s span) empty() bool { return s.end <= s.off }

// The header values a transaction reports on their own.
const (
	vHost = iota
	vUserAgent
	vXFF
	vContentType
	vContentLength
	numValues
)

// maxValueCopy bounds a header value copied out of the header text (which
// only happens when the text was already cut at l7.MaxField).
const maxValueCopy = 1024

// msg is what the parser keeps of one message's header block: the start
// line's parts and the header values a transaction reports, copied out of
// the captured bytes (which do not outlive the Data call). Its two byte
// slices are reused from message to message: msgs are moved between the
// parser's slots by swapping pointers, so their capacity stays.
type msg struct {
	meta
	store []byte // the target, a method not in methodNames, values that are not in hdrs
	hdrs  []byte // the header text, "Name: value" lines joined by "\n"
}

// meta is the part of a msg without pointers: reset clears it without
// write barriers.
type meta struct {
	seq   uint64 // requests: numbering, to find the one whose body is arriving
	ts    int64  // Data call of the first byte
	done  int64  // requests: Data call of the last byte (timeouts count from it)
	bytes int64  // header block + body so far
	clen  int64  // Content-Length, -1 if absent
	code  int32  // responses: status code
	flags l7.Flags

	op, target span            // in store; op only when method is 0
	values     [numValues]span // in hdrs, or in store when ext has bit 1<<i
	method     uint8           // index in methodNames, 0: in op
	minor      byte            // HTTP/1.x version: x
	ext        uint8           // see values
	last       int8            // the value the previous header line set (obs-fold continues it), or -1
	head       bool            // requests: method HEAD (its response has no body)
	conn       bool            // requests: method CONNECT (a 2xx response makes a tunnel)
	body       bool            // requests: the body is still arriving
	chunked    bool            // Transfer-Encoding ends in chunked
	teOther    bool            // Transfer-Encoding without chunked last
	bad        bool            // Content-Length unusable (invalid, or two that differ)
	short      bool            // the header block was cut by a gap or the end of the flow
	lastKeep   bool            // the previous header line is in hdrs unredacted (a continuation may follow it)
	cut        bool            // hdrs was cut at l7.MaxField
}

func newMsg() *msg {
	m, _ := msgPool.Get().(*msg)
	if m == nil {
		m = &msg{}
	}
	m.reset()
	return m
}

// msgPool recycles the messages of ended connections, with the buffers
// they grew: a capture of many short connections (a client that does not
// keep connections alive) would otherwise allocate and grow them anew for
// each one. Buffers that grew past a typical header block are left to the
// collector so that one huge message does not stay pinned in the pool.
var msgPool sync.Pool

func freeMsg(m *msg) {
	if m == nil || cap(m.store) > 16<<10 || cap(m.hdrs) > 16<<10 {
		return
	}
	msgPool.Put(m)
}

// reset empties m for the next message, keeping its buffers.
func (m *msg) reset() {
	m.meta = meta{clen: -1, last: -1}
	m.store = m.store[:0]
	m.hdrs = m.hdrs[:0]
}

// methodNames are the methods a msg names without a copy (index 0: the
// method is in store).
var methodNames = [...][]byte{methodGET: []byte("GET"), methodPOST: []byte("POST"), methodHEAD: []byte("HEAD"),
	methodPUT: []byte("PUT"), methodDELETE: []byte("DELETE"), methodOPTIONS: []byte("OPTIONS"),
	methodPATCH: []byte("PATCH"), methodCONNECT: []byte("CONNECT"), methodTRACE: []byte("TRACE"),
	methodPROPFIND: []byte("PROPFIND")}

const (
	methodOther = iota
	methodGET
	methodPOST
	methodHEAD
	methodPUT
	methodDELETE
	methodOPTIONS
	methodPATCH
	methodCONNECT
	methodTRACE
	methodPROPFIND
)

// versions and statusText are the version and status values without a
// copy: "1.0".."1.9", "000".."999".
var (
	versions   [10][3]byte
	statusText [1000][3]byte
)

func init() {
	for i := range versions {
		versions[i] = [3]byte{'1', '.', byte('0' + i)}
	}
	for i := range statusText {
		statusText[i] = [3]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)}
	}
}

// setMethod records the method: an index when it is a common one, a copy
// otherwise.
func (m *msg) setMethod(b []byte) {
	for i := 1; i < len(methodNames); i++ {
		if bytes.Equal(b, methodNames[i]) {
			m.method = uint8(i)
			return
		}
	}
	m.op = m.put(b, maxMethod)
}

func (m *msg) methodName() []byte {
	if m.method != 0 {
		return methodNames[m.method]
	}
	return m.get(m.op)
}

func (m *msg) version() []byte { return versions[m.minor-'0'][:] }

func (m *msg) status() []byte { return statusText[m.code][:] }

func (m *msg) get(s span) []byte {
	if s.empty() {
		return nil
	}
	return m.store[s.off:s.end]
}

func (m *msg) value(i int) []byte {
	s := m.values[i]
	if s.empty() {
		return nil
	}
	if m.ext&(1<<i) != 0 {
		return m.store[s.off:s.end]
	}
	return m.hdrs[s.off:s.end]
}

// put appends b to store, cut at limit, and returns where it is.
func (m *msg) put(b []byte, limit int) span {
	if len(b) > limit {
		b = b[:limit]
		m.flags |= l7.FlagTruncated
	}
	off := len(m.store)
	m.store = append(m.store, b...)
	return span{off: uint16(off), end: uint16(len(m.store))}
}

// room returns how many more bytes hdrs may take, marking m cut when n do
// not fit.
func (m *msg) room(n int) int {
	r := l7.MaxField - len(m.hdrs)
	if n > r {
		m.cut = true
		m.flags |= l7.FlagTruncated
		return max(r, 0)
	}
	return n
}

// appendHdr appends b to hdrs within l7.MaxField and reports whether all
// of it fit.
func (m *msg) appendHdr(b []byte) bool {
	if m.cut {
		return false
	}
	n := m.room(len(b))
	m.hdrs = append(m.hdrs, b[:n]...)
	return n == len(b)
}

func (m *msg) appendHdrStr(s string) bool {
	if m.cut {
		return false
	}
	n := m.room(len(s))
	m.hdrs = append(m.hdrs, s[:n]...)
	return n == len(s)
}

// header records one header line: its text (the value, from keep on,
// redacted when redact) and, when it is one the transaction reports
// (which >= 0), where its value is. line is the line as received; when it
// is already "Name: value" it is copied whole.
func (m *msg) header(line, name, value []byte, which int, redact bool, keep int) {
	m.last, m.lastKeep = -1, false
	var off int
	var whole bool
	if !redact && !m.cut && len(line) == len(name)+2+len(value) && line[len(name)] == ':' && line[len(name)+1] == ' ' &&
		len(m.hdrs)+1+len(line) <= l7.MaxField {
		// The common case: one copy.
		if len(m.hdrs) > 0 {
			m.hdrs = append(m.hdrs, '\n')
		}
		m.hdrs = append(m.hdrs, line...)
		off, whole = len(m.hdrs)-len(value), true
	} else {
		if len(m.hdrs) > 0 {
			m.appendHdrStr("\n")
		}
		m.appendHdr(name)
		m.appendHdrStr(": ")
		if redact {
			m.flags |= l7.FlagRedacted
			m.appendHdr(value[:keep])
			m.appendHdr(l7.Redacted)
			return
		}
		off = len(m.hdrs)
		whole = m.appendHdr(value)
	}
	m.lastKeep = whole
	if which < 0 || !m.values[which].empty() {
		return // not reported, or the first of several wins
	}
	if whole {
		m.values[which] = span{off: uint16(off), end: uint16(len(m.hdrs))}
	} else {
		m.values[which] = m.put(value, maxValueCopy)
		m.ext |= 1 << which
	}
	m.last = int8(which)
}

// fold appends an obs-fold continuation line (RFC 9112 §5.2) to the
// previous header, joined by one space, extending its reported value.
func (m *msg) fold(value []byte) {
	if !m.lastKeep || m.cut || len(value) == 0 {
		return
	}
	m.appendHdrStr(" ")
	whole := m.appendHdr(value)
	if m.last >= 0 && m.ext&(1<<m.last) == 0 && whole {
		if s := &m.values[m.last]; int(s.end)+1+len(value) == len(m.hdrs) {
			s.end = uint16(len(m.hdrs))
		}
	}
	m.lastKeep = whole
}
