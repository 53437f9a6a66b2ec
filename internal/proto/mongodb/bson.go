package mongodb

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"time"
)

// A small, bounded BSON reader (https://bsonspec.org/spec.html). It never
// allocates and never trusts a length: every element is checked against
// the bytes that are actually there. Documents may be cut short (a message
// longer than Context.MaxMessage is decoded from its first bytes only), so
// the iterator yields the elements that are whole and then reports that it
// ran out (truncated) rather than failing.

// BSON element types.
const (
	tDouble     = 0x01
	tString     = 0x02
	tDocument   = 0x03
	tArray      = 0x04
	tBinary     = 0x05
	tUndefined  = 0x06
	tObjectID   = 0x07
	tBool       = 0x08
	tDateTime   = 0x09
	tNull       = 0x0a
	tRegex      = 0x0b
	tDBPointer  = 0x0c
	tJSCode     = 0x0d
	tSymbol     = 0x0e
	tCodeWScope = 0x0f
	tInt32      = 0x10
	tTimestamp  = 0x11
	tInt64      = 0x12
	tDecimal128 = 0x13
	tMinKey     = 0xff
	tMaxKey     = 0x7f
)

// maxBSONDoc is the largest document the server accepts (16 MiB) plus the
// slack it allows internally for command wrappers; a larger length field
// means the bytes are not BSON.
const maxBSONDoc = 16<<20 + 16<<10

// maxDepth bounds nesting when rendering (the server's own limit is 100);
// deeper values are elided.
const maxDepth = 24

// validType reports whether t is a BSON element type.
func validType(t byte) bool {
	return (t >= tDouble && t <= tDecimal128) || t == tMinKey || t == tMaxKey
}

// docBody returns the element bytes of the document that starts at b
// (after its int32 length, before its trailing NUL) and the document's
// declared length. complete is false when b holds only part of it. ok is
// false when the length is impossible.
func docBody(b []byte) (body []byte, n int, complete, ok bool) {
	if len(b) < 4 {
		return nil, 0, false, len(b) > 0
	}
	l := int64(int32(binary.LittleEndian.Uint32(b)))
	if l < 5 || l > maxBSONDoc {
		return nil, 0, false, false
	}
	n = int(l)
	if len(b) < n {
		return b[4:], n, false, true
	}
	if b[n-1] != 0 {
		return nil, n, false, false
	}
	return b[4 : n-1], n, true, true
}

// elem is one element of a document. val holds the whole value (for a
// string: its int32 length, bytes and NUL).
type elem struct {
	typ  byte
	name []byte
	val  []byte
}

// iter walks the elements of a document body.
type iter struct {
	b   []byte
	off int
	// truncated: the body ended in the middle of an element (the
	// document was cut short); bad: bytes that are not BSON.
	truncated, bad bool
}

// next returns the next whole element, or false at the end of the body,
// when it is cut short (truncated) or malformed (bad).
func (it *iter) next() (e elem, ok bool) {
	b := it.b
	if it.off >= len(b) || it.bad || it.truncated {
		return e, false
	}
	t := b[it.off]
	if !validType(t) {
		it.bad = true
		return e, false
	}
	p := it.off + 1
	nameEnd := indexNul(b, p)
	if nameEnd < 0 {
		it.truncated = true
		return e, false
	}
	vs := nameEnd + 1
	vn, ok := valueLen(t, b[vs:])
	if !ok {
		it.bad = true
		return e, false
	}
	if vn < 0 || vs+vn > len(b) {
		it.truncated = true
		return e, false
	}
	it.off = vs + vn
	return elem{typ: t, name: b[p:nameEnd], val: b[vs : vs+vn]}, true
}

func indexNul(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == 0 {
			return i
		}
	}
	return -1
}

// valueLen returns the length of a value of type t at the start of b: -1
// when b is too short to tell (or to hold it), ok false when impossible.
func valueLen(t byte, b []byte) (n int, ok bool) {
	fixed := func(k int) (int, bool) {
		if len(b) < k {
			return -1, true
		}
		return k, true
	}
	switch t {
	case tDouble, tDateTime, tTimestamp, tInt64:
		return fixed(8)
	case tInt32:
		return fixed(4)
	case tBool:
		if len(b) < 1 {
			return -1, true
		}
		return 1, b[0] <= 1
	case tObjectID:
		return fixed(12)
	case tDecimal128:
		return fixed(16)
	case tUndefined, tNull, tMinKey, tMaxKey:
		return 0, true
	case tString, tJSCode, tSymbol:
		if len(b) < 4 {
			return -1, true
		}
		l := int64(int32(binary.LittleEndian.Uint32(b)))
		if l < 1 || l > maxBSONDoc {
			return 0, false
		}
		if int64(len(b)) < 4+l {
			return -1, true
		}
		return 4 + int(l), b[3+l] == 0
	case tDocument, tArray, tCodeWScope:
		if len(b) < 4 {
			return -1, true
		}
		l := int64(int32(binary.LittleEndian.Uint32(b)))
		if l < 5 || l > maxBSONDoc {
			return 0, false
		}
		if int64(len(b)) < l {
			return -1, true
		}
		return int(l), true
	case tBinary:
		if len(b) < 4 {
			return -1, true
		}
		l := int64(int32(binary.LittleEndian.Uint32(b)))
		if l < 0 || l > maxBSONDoc {
			return 0, false
		}
		if int64(len(b)) < 5+l {
			return -1, true
		}
		return 5 + int(l), true
	case tRegex:
		i := indexNul(b, 0)
		if i < 0 {
			return -1, true
		}
		j := indexNul(b, i+1)
		if j < 0 {
			return -1, true
		}
		return j + 1, true
	case tDBPointer:
		n, ok := valueLen(tString, b)
		if !ok || n < 0 {
			return n, ok
		}
		if len(b) < n+12 {
			return -1, true
		}
		return n + 12, true
	}
	return 0, false
}

// str returns the bytes of a string value (without length and NUL).
func (e elem) str() ([]byte, bool) {
	if e.typ != tString || len(e.val) < 5 {
		return nil, false
	}
	return e.val[4 : len(e.val)-1], true
}

// num returns a numeric value (double, int32, int64, bool) as float64.
func (e elem) num() (float64, bool) {
	switch e.typ {
	case tDouble:
		return math.Float64frombits(binary.LittleEndian.Uint64(e.val)), true
	case tInt32:
		return float64(int32(binary.LittleEndian.Uint32(e.val))), true
	case tInt64:
		return float64(int64(binary.LittleEndian.Uint64(e.val))), true
	case tBool:
		if e.val[0] != 0 {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// integer returns an int32/int64/double value as int64.
func (e elem) integer() (int64, bool) {
	switch e.typ {
	case tInt32:
		return int64(int32(binary.LittleEndian.Uint32(e.val))), true
	case tInt64:
		return int64(binary.LittleEndian.Uint64(e.val)), true
	case tDouble:
		f := math.Float64frombits(binary.LittleEndian.Uint64(e.val))
		if f >= -1<<53 && f <= 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}

// doc returns the body of an embedded document or array value.
func (e elem) doc() ([]byte, bool) {
	if e.typ != tDocument && e.typ != tArray {
		return nil, false
	}
	body, _, complete, ok := docBody(e.val)
	return body, ok && complete
}

// countElems returns the number of elements of a document body (an
// array's length), counting whole elements only.
func countElems(body []byte) (n int, whole bool) {
	it := iter{b: body}
	for {
		if _, ok := it.next(); !ok {
			break
		}
		n++
	}
	return n, !it.truncated && !it.bad
}

// renderer writes a document as short text, in the notation DeepFlow
// (the Rust bson crate's Display) uses: { "key": value, ... }, strings
// quoted, Binary(0xN, base64), ObjectId("hex"), Timestamp(t, i). Output
// stops at limit bytes (cut reports it); values of redacted keys are
// replaced by l7.Redacted.
type renderer struct {
	out      []byte
	limit    int
	cut      bool
	redact   bool // KeepCredentials is off
	redacted bool // something was redacted
}

var redactedText = []byte("<redacted>")

func (r *renderer) full() bool {
	if len(r.out) >= r.limit {
		r.cut = true
		return true
	}
	return false
}

// document renders a document body. auth says the document is an
// authentication command (saslStart, saslContinue, authenticate, or the
// speculativeAuthenticate sub-document): its payload-like values are
// credentials.
func (r *renderer) document(body []byte, array bool, depth int, auth bool) {
	open, close := byte('{'), byte('}')
	if array {
		open, close = '[', ']'
	}
	if depth > maxDepth {
		r.out = append(r.out, open, '.', '.', '.', close)
		return
	}
	it := iter{b: body}
	first := true
	for {
		if r.full() {
			return
		}
		e, ok := it.next()
		if !ok {
			break
		}
		if first {
			r.out = append(r.out, open)
			if !array {
				r.out = append(r.out, ' ')
			}
			if depth == 0 || !array {
				// The first key of a command (or of a nested
				// speculativeAuthenticate) names it.
				auth = auth || isAuthCommand(e.name)
			}
		} else {
			r.out = append(r.out, ',', ' ')
		}
		if !array {
			r.out = append(r.out, '"')
			r.out = appendEscaped(r.out, e.name, r.limit)
			r.out = append(r.out, '"', ':', ' ')
		}
		first = false
		if r.redact && !array && isSecretKey(e.name, auth) {
			r.out = append(r.out, redactedText...)
			r.redacted = true
			continue
		}
		r.value(e, depth, auth || string(e.name) == "speculativeAuthenticate")
	}
	switch {
	case first && (it.truncated || it.bad):
		r.out = append(r.out, open, '.', '.', '.', close)
	case first:
		r.out = append(r.out, open, close)
	case it.truncated || it.bad:
		r.out = append(r.out, ',', ' ', '.', '.', '.', ' ', close)
	case array:
		r.out = append(r.out, close)
	default:
		r.out = append(r.out, ' ', close)
	}
}

func (r *renderer) value(e elem, depth int, auth bool) {
	v := e.val
	switch e.typ {
	case tDouble:
		// Plain notation as DeepFlow prints (16777216, not 1.6777216e+07),
		// except for magnitudes whose plain form runs to hundreds of digits.
		f := math.Float64frombits(binary.LittleEndian.Uint64(v))
		if a := math.Abs(f); a == 0 || (a >= 1e-7 && a < 1e21) {
			r.out = strconv.AppendFloat(r.out, f, 'f', -1, 64)
		} else {
			r.out = strconv.AppendFloat(r.out, f, 'g', -1, 64)
		}
	case tString, tSymbol:
		r.out = append(r.out, '"')
		r.out = appendEscaped(r.out, v[4:len(v)-1], r.limit)
		r.out = append(r.out, '"')
	case tDocument, tArray:
		body, _, _, ok := docBody(v)
		if !ok {
			r.out = append(r.out, "..."...)
			return
		}
		r.document(body, e.typ == tArray, depth+1, auth)
	case tBinary:
		sub := v[4]
		data := v[5:]
		r.out = append(r.out, "Binary(0x"...)
		r.out = strconv.AppendUint(r.out, uint64(sub), 16)
		r.out = append(r.out, ',', ' ')
		room := max(0, (r.limit-len(r.out))*3/4)
		if len(data) > room {
			data = data[:room]
			r.cut = true
		}
		r.out = base64.StdEncoding.AppendEncode(r.out, data)
		r.out = append(r.out, ')')
	case tUndefined:
		r.out = append(r.out, "undefined"...)
	case tObjectID:
		r.out = append(r.out, `ObjectId("`...)
		r.out = hex.AppendEncode(r.out, v)
		r.out = append(r.out, '"', ')')
	case tBool:
		r.out = strconv.AppendBool(r.out, v[0] != 0)
	case tDateTime:
		ms := int64(binary.LittleEndian.Uint64(v))
		r.out = append(r.out, `DateTime("`...)
		r.out = time.UnixMilli(ms).UTC().AppendFormat(r.out, "2006-01-02T15:04:05.000Z")
		r.out = append(r.out, '"', ')')
	case tNull:
		r.out = append(r.out, "null"...)
	case tRegex:
		i := indexNul(v, 0)
		r.out = append(r.out, '/')
		r.out = appendEscaped(r.out, v[:i], r.limit)
		r.out = append(r.out, '/')
		r.out = appendEscaped(r.out, v[i+1:len(v)-1], r.limit)
	case tDBPointer:
		r.out = append(r.out, "DBPointer(...)"...)
	case tJSCode:
		r.out = appendEscaped(r.out, v[4:len(v)-1], r.limit)
	case tCodeWScope:
		r.out = append(r.out, "CodeWithScope(...)"...)
	case tInt32:
		r.out = strconv.AppendInt(r.out, int64(int32(binary.LittleEndian.Uint32(v))), 10)
	case tTimestamp:
		// increment in the low word, seconds in the high word
		r.out = append(r.out, "Timestamp("...)
		r.out = strconv.AppendUint(r.out, uint64(binary.LittleEndian.Uint32(v[4:])), 10)
		r.out = append(r.out, ',', ' ')
		r.out = strconv.AppendUint(r.out, uint64(binary.LittleEndian.Uint32(v)), 10)
		r.out = append(r.out, ')')
	case tInt64:
		r.out = strconv.AppendInt(r.out, int64(binary.LittleEndian.Uint64(v)), 10)
	case tDecimal128:
		r.out = append(r.out, "Decimal128(0x"...)
		r.out = hex.AppendEncode(r.out, v)
		r.out = append(r.out, ')')
	case tMinKey:
		r.out = append(r.out, "MinKey"...)
	case tMaxKey:
		r.out = append(r.out, "MaxKey"...)
	}
}

// firstName returns the name of a document's first element when the
// body holds it whole, even if its value is cut off.
func firstName(body []byte) []byte {
	if len(body) < 2 || !validType(body[0]) {
		return nil
	}
	if i := indexNul(body, 1); i > 0 {
		return body[1:i]
	}
	return nil
}

// isAuthCommand: commands whose arguments carry credentials (SASL
// conversation payloads, the MONGODB-CR key and nonce).
func isAuthCommand(name []byte) bool {
	switch string(name) {
	case "saslStart", "saslContinue", "authenticate", "copydbsaslstart", "copydbgetnonce", "getnonce":
		return true
	}
	return false
}

// isSecretKey: keys whose value is a credential: a password anywhere
// (createUser, updateUser, copydb), the SASL payload, key and nonce
// inside an authentication command.
func isSecretKey(name []byte, auth bool) bool {
	switch string(name) {
	case "pwd", "password", "digestPassword":
		return true
	case "payload", "key", "nonce":
		return auth
	}
	return false
}

// appendEscaped appends s with quotes, backslashes and control bytes
// escaped, so that the rendered text stays unambiguous, stopping when dst
// reaches limit bytes.
func appendEscaped(dst, s []byte, limit int) []byte {
	for _, c := range s {
		if len(dst) >= limit {
			break
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'x', hexDigit[c>>4], hexDigit[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

const hexDigit = "0123456789abcdef"
