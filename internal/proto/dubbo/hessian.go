package dubbo

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
)

// A small, bounded Hessian 2.0 reader (http://hessian.caucho.com/doc/
// hessian-serialization.html), for what Dubbo requests and replies carry:
// strings (including chunked ones), ints, longs, doubles, booleans,
// null, dates, binary, lists, maps, class definitions and the objects
// that use them, and references. It never trusts a count: every value
// consumes at least one byte, so a walk is bounded by the input, nesting
// is bounded by maxDepth, and the tables it keeps (class definitions,
// type names) have fixed caps. Values are rendered as short text into a
// caller's buffer up to a limit; past the limit they are still walked
// (the attachments come after the arguments) but not written.

const (
	maxDepth   = 24
	maxClasses = 256  // class definitions kept per message
	maxFields  = 4096 // field names kept per message, all classes together
	maxTypes   = 256  // type names kept per message
	maxChunked = 16 << 10
)

type hclass struct {
	name   []byte
	f0, nf int // field names: fields[f0 : f0+nf]
	whole  bool
}

// hreader walks Hessian values in b. A failed read sets bad (malformed)
// or cut (the input ended first); both stop every later read.
type hreader struct {
	b        []byte
	off      int
	bad, cut bool
	classes  []hclass
	fields   [][]byte
	types    [][]byte
	scratch  []byte // chunked strings, reassembled
	// chunked: the last string read was reassembled into scratch (the
	// next chunked string overwrites it).
	chunked bool
}

// reset starts a new message (nil: none). Tables grown large by an
// unusual message are given back rather than kept per flow.
func (r *hreader) reset(b []byte) {
	r.b, r.off, r.bad, r.cut, r.chunked = b, 0, false, false, false
	r.classes = shrink(r.classes, 64)
	r.fields = shrink(r.fields, 256)
	r.types = shrink(r.types, 64)
	if cap(r.scratch) > 4096 {
		r.scratch = nil
	}
	r.scratch = r.scratch[:0]
}

// shrink empties s (clearing what it points to), dropping it when its
// capacity exceeds keep.
func shrink[T any](s []T, keep int) []T {
	if cap(s) > keep {
		return nil
	}
	clear(s)
	return s[:0]
}

func (r *hreader) failed() bool { return r.bad || r.cut }

// take returns the next n bytes.
func (r *hreader) take(n int) []byte {
	if r.failed() {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.cut = true
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *hreader) byte() (byte, bool) {
	v := r.take(1)
	if v == nil {
		return 0, false
	}
	return v[0], true
}

func (r *hreader) peek() (byte, bool) {
	if r.failed() || r.off >= len(r.b) {
		if !r.failed() {
			r.cut = true
		}
		return 0, false
	}
	return r.b[r.off], true
}

// utf8Units returns the byte length of the next n UTF-16 code units
// (Hessian counts string lengths in Java chars) of UTF-8 text.
func (r *hreader) utf8Units(n int) []byte {
	if r.failed() {
		return nil
	}
	i := r.off
	for ; n > 0; n-- {
		if i >= len(r.b) {
			r.cut = true
			return nil
		}
		c := r.b[i]
		switch {
		case c < 0x80:
			i++
		case c >= 0xc0 && c < 0xe0:
			i += 2
		case c >= 0xe0 && c < 0xf0:
			i += 3
		case c >= 0xf0 && c < 0xf8:
			i += 4
			n-- // a supplementary character is two Java chars
		default:
			i++ // not UTF-8: a byte per char
		}
	}
	if i > len(r.b) {
		r.cut = true
		return nil
	}
	v := r.b[r.off:i]
	r.off = i
	return v
}

// isString reports whether tag starts a string.
func isString(tag byte) bool {
	return tag <= 0x1f || (tag >= 0x30 && tag <= 0x33) || tag == 'S' || tag == 'R'
}

// str reads a string. null reports Hessian null ('N'); ok is false when
// the value is not a string (the reader then stops: bad). A chunked
// string is reassembled into a buffer the next chunked string reuses.
func (r *hreader) str() (s []byte, null, ok bool) {
	tag, ok := r.peek()
	if !ok {
		return nil, false, false
	}
	r.chunked = false
	if tag == 'N' {
		r.off++
		return nil, true, true
	}
	if !isString(tag) {
		r.bad = true
		return nil, false, false
	}
	chunked := false
	for {
		tag, ok := r.byte()
		if !ok {
			return nil, false, false
		}
		var n int
		final := true
		switch {
		case tag <= 0x1f:
			n = int(tag)
		case tag >= 0x30 && tag <= 0x33:
			b, ok := r.byte()
			if !ok {
				return nil, false, false
			}
			n = int(tag-0x30)<<8 | int(b)
		case tag == 'S' || tag == 'R':
			v := r.take(2)
			if v == nil {
				return nil, false, false
			}
			n = int(binary.BigEndian.Uint16(v))
			final = tag == 'S'
		default:
			r.bad = true
			return nil, false, false
		}
		v := r.utf8Units(n)
		if r.failed() {
			return nil, false, false
		}
		if final && !chunked {
			return v, false, true
		}
		if !chunked {
			chunked = true
			r.scratch = r.scratch[:0]
		}
		if room := maxChunked - len(r.scratch); room > 0 {
			r.scratch = append(r.scratch, v[:min(len(v), room)]...)
		}
		if final {
			r.chunked = true
			return r.scratch, false, true
		}
	}
}

// intv reads an int (or a long within range: some writers use them).
func (r *hreader) intv() (int64, bool) {
	tag, ok := r.byte()
	if !ok {
		return 0, false
	}
	v, ok := r.number(tag)
	if !ok {
		r.bad = true
	}
	return v, ok
}

// number decodes an int or long whose tag was read.
func (r *hreader) number(tag byte) (int64, bool) {
	switch {
	case tag >= 0x80 && tag <= 0xbf:
		return int64(tag) - 0x90, true
	case tag >= 0xc0 && tag <= 0xcf:
		b, ok := r.byte()
		return (int64(tag)-0xc8)<<8 | int64(b), ok
	case tag >= 0xd0 && tag <= 0xd7:
		v := r.take(2)
		if v == nil {
			return 0, false
		}
		return (int64(tag)-0xd4)<<16 | int64(v[0])<<8 | int64(v[1]), true
	case tag == 'I' || tag == 'Y':
		v := r.take(4)
		if v == nil {
			return 0, false
		}
		return int64(int32(binary.BigEndian.Uint32(v))), true
	case tag >= 0xd8 && tag <= 0xef:
		return int64(tag) - 0xe0, true
	case tag >= 0xf0:
		b, ok := r.byte()
		return (int64(tag)-0xf8)<<8 | int64(b), ok
	case tag >= 0x38 && tag <= 0x3f:
		v := r.take(2)
		if v == nil {
			return 0, false
		}
		return (int64(tag)-0x3c)<<16 | int64(v[0])<<8 | int64(v[1]), true
	case tag == 'L':
		v := r.take(8)
		if v == nil {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(v)), true
	}
	return 0, false
}

// typ reads a list or map type: a type name (remembered) or a reference
// to an earlier one.
func (r *hreader) typ() []byte {
	tag, ok := r.peek()
	if !ok {
		return nil
	}
	if isString(tag) {
		s, _, ok := r.str()
		if !ok {
			return nil
		}
		if r.chunked {
			s = nil // reassembled in a reused buffer: not kept
		}
		if len(r.types) < maxTypes {
			r.types = append(r.types, s)
		}
		return s
	}
	n, ok := r.intv()
	if !ok {
		return nil
	}
	if n < 0 || n >= int64(len(r.types)) {
		return nil
	}
	return r.types[n]
}

// classDef reads a class definition (after its 'C').
func (r *hreader) classDef() {
	name, _, ok := r.str()
	if !ok {
		return
	}
	if r.chunked {
		name = nil // reassembled in a reused buffer: not kept
	}
	n, ok := r.intv()
	if !ok || n < 0 {
		r.bad = true
		return
	}
	c := hclass{name: name, f0: len(r.fields), whole: true}
	for i := int64(0); i < n; i++ {
		f, _, ok := r.str()
		if !ok {
			return
		}
		if r.chunked {
			f = nil
		}
		if len(r.fields) < maxFields {
			r.fields = append(r.fields, f)
			c.nf++
		} else {
			c.whole = false
		}
	}
	if len(r.classes) < maxClasses {
		r.classes = append(r.classes, c)
	}
}

// out is where values are rendered; nil skips them.
type out struct {
	b        []byte
	limit    int
	cut      bool
	redact   bool
	redacted bool
}

func (o *out) room() bool {
	if o == nil {
		return false
	}
	if len(o.b) >= o.limit {
		o.cut = true
		return false
	}
	return true
}

func (o *out) put(s ...byte) {
	if o.room() {
		o.b = append(o.b, s...)
	}
}

func (o *out) putStr(s string) {
	if o.room() {
		o.b = append(o.b, s...)
	}
}

func (o *out) quoted(s []byte) {
	if !o.room() {
		return
	}
	o.b = append(o.b, '"')
	for _, c := range s {
		if len(o.b) >= o.limit {
			o.cut = true
			break
		}
		switch {
		case c == '"' || c == '\\':
			o.b = append(o.b, '\\', c)
		case c < 0x20:
			o.b = append(o.b, '\\', 'x', hexDigit[c>>4], hexDigit[c&15])
		default:
			o.b = append(o.b, c)
		}
	}
	o.b = append(o.b, '"')
}

const hexDigit = "0123456789abcdef"

var redactedText = []byte("<redacted>")

// value walks one value, rendering it into o when o is not nil.
func (r *hreader) value(o *out, depth int) {
	if depth > maxDepth {
		r.bad = true
		return
	}
	for {
		tag, ok := r.peek()
		if !ok {
			return
		}
		if tag != 'C' {
			break
		}
		r.off++
		r.classDef()
	}
	tag, _ := r.peek()
	switch {
	case isString(tag):
		s, _, ok := r.str()
		if ok {
			o.quoted(s)
		}
		return
	case tag == 'N':
		r.off++
		o.putStr("null")
		return
	case tag == 'T' || tag == 'F':
		r.off++
		if tag == 'T' {
			o.putStr("true")
		} else {
			o.putStr("false")
		}
		return
	case tag >= 0x80 || (tag >= 0x38 && tag <= 0x3f) || tag == 'I' || tag == 'Y' || tag == 'L':
		r.off++
		v, ok := r.number(tag)
		if !ok {
			return
		}
		if o.room() {
			o.b = strconv.AppendInt(o.b, v, 10)
		}
		return
	}
	r.off++
	switch tag {
	case 'D', 0x5b, 0x5c, 0x5d, 0x5e, 0x5f:
		var f float64
		switch tag {
		case 'D':
			if v := r.take(8); v != nil {
				f = math.Float64frombits(binary.BigEndian.Uint64(v))
			}
		case 0x5c:
			f = 1
		case 0x5d:
			if v := r.take(1); v != nil {
				f = float64(int8(v[0]))
			}
		case 0x5e:
			if v := r.take(2); v != nil {
				f = float64(int16(binary.BigEndian.Uint16(v)))
			}
		case 0x5f:
			// The spec says a 32-bit float; the Java implementation
			// (Dubbo's hessian-lite) writes and reads an int32 of
			// thousandths (BC_DOUBLE_MILL).
			if v := r.take(4); v != nil {
				f = float64(int32(binary.BigEndian.Uint32(v))) / 1000
			}
		}
		if !r.failed() && o.room() {
			o.b = strconv.AppendFloat(o.b, f, 'g', -1, 64)
		}
	case 'J', 'K':
		var ms int64
		if tag == 'J' {
			if v := r.take(8); v != nil {
				ms = int64(binary.BigEndian.Uint64(v))
			}
		} else if v := r.take(4); v != nil {
			ms = int64(int32(binary.BigEndian.Uint32(v))) * 60000
		}
		if !r.failed() && o.room() {
			o.b = time.UnixMilli(ms).UTC().AppendFormat(o.b, "2006-01-02T15:04:05.000Z")
		}
	case 'A', 'B':
		total := 0
	chunks:
		for {
			v := r.take(2)
			if v == nil {
				return
			}
			n := int(binary.BigEndian.Uint16(v))
			if r.take(n) == nil && n > 0 {
				return
			}
			total += n
			if tag == 'B' {
				break
			}
			// A non-final chunk is followed by another chunk.
			t, ok := r.byte()
			if !ok {
				return
			}
			switch {
			case t == 'A' || t == 'B':
				tag = t
			case t >= 0x20 && t <= 0x2f:
				n := int(t - 0x20)
				if r.take(n) == nil && n > 0 {
					return
				}
				total += n
				break chunks
			case t >= 0x34 && t <= 0x37:
				b, ok := r.byte()
				if !ok {
					return
				}
				n := int(t-0x34)<<8 | int(b)
				if r.take(n) == nil && n > 0 {
					return
				}
				total += n
				break chunks
			default:
				r.bad = true
				return
			}
		}
		r.binaryText(o, total)
	case 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f:
		n := int(tag - 0x20)
		if r.take(n) == nil && n > 0 {
			return
		}
		r.binaryText(o, n)
	case 0x34, 0x35, 0x36, 0x37:
		b, ok := r.byte()
		if !ok {
			return
		}
		n := int(tag-0x34)<<8 | int(b)
		if r.take(n) == nil && n > 0 {
			return
		}
		r.binaryText(o, n)
	case 'H':
		r.mapBody(o, depth)
	case 'M':
		r.typ()
		r.mapBody(o, depth)
	case 'O':
		n, ok := r.intv()
		if !ok {
			return
		}
		r.object(o, n, depth)
	case 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f:
		r.object(o, int64(tag-0x60), depth)
	case 'Q':
		n, ok := r.intv()
		if ok && o.room() {
			o.b = append(o.b, "ref#"...)
			o.b = strconv.AppendInt(o.b, n, 10)
		}
	case 'U': // variable-length typed list
		r.typ()
		r.list(o, -1, depth)
	case 'W': // variable-length untyped list
		r.list(o, -1, depth)
	case 'V': // fixed-length typed list
		r.typ()
		n, ok := r.intv()
		if ok {
			r.list(o, n, depth)
		}
	case 'X': // fixed-length untyped list
		n, ok := r.intv()
		if ok {
			r.list(o, n, depth)
		}
	case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77:
		r.typ()
		r.list(o, int64(tag-0x70), depth)
	case 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f:
		r.list(o, int64(tag-0x78), depth)
	default: // 'Z' out of place, reserved codes
		r.bad = true
	}
}

func (r *hreader) binaryText(o *out, n int) {
	if !r.failed() && o.room() {
		o.b = append(o.b, "bytes["...)
		o.b = strconv.AppendInt(o.b, int64(n), 10)
		o.b = append(o.b, ']')
	}
}

// list walks n values (n < 0: until 'Z').
func (r *hreader) list(o *out, n int64, depth int) {
	o.put('[')
	for i := int64(0); n < 0 || i < n; i++ {
		if n < 0 {
			tag, ok := r.peek()
			if !ok {
				return
			}
			if tag == 'Z' {
				r.off++
				break
			}
		}
		if r.failed() {
			return
		}
		if i > 0 {
			o.put(',', ' ')
		}
		r.value(o, depth+1)
	}
	o.put(']')
}

// mapBody walks key/value pairs until 'Z'. The value of a key that
// names a secret is redacted when o.redact.
func (r *hreader) mapBody(o *out, depth int) {
	o.put('{')
	for i := 0; ; i++ {
		tag, ok := r.peek()
		if !ok {
			return
		}
		if tag == 'Z' {
			r.off++
			break
		}
		if i > 0 {
			o.put(',', ' ')
		}
		var key []byte
		if isString(tag) {
			k, _, ok := r.str()
			if !ok {
				return
			}
			key = k
			o.quoted(k)
		} else {
			r.value(o, depth+1)
		}
		o.put(':', ' ')
		r.member(o, key, depth)
		if r.failed() {
			return
		}
	}
	o.put('}')
}

// member walks the value of a map entry or object field named key.
func (r *hreader) member(o *out, key []byte, depth int) {
	if o != nil && o.redact && isSecretName(key) {
		r.value(nil, depth+1)
		o.put(redactedText...)
		o.redacted = true
		return
	}
	r.value(o, depth+1)
}

// object walks an instance of class definition n.
func (r *hreader) object(o *out, n int64, depth int) {
	if n < 0 || n >= int64(len(r.classes)) || !r.classes[n].whole {
		r.bad = true // unknown or not kept: its field count is unknown
		return
	}
	c := r.classes[n]
	name := c.name
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			name = name[i+1:]
			break
		}
	}
	o.put(name...)
	o.put('{')
	for i := 0; i < c.nf; i++ {
		if r.failed() {
			return
		}
		if i > 0 {
			o.put(',', ' ')
		}
		f := r.fields[c.f0+i]
		o.put(f...)
		o.put(':', ' ')
		r.member(o, f, depth)
	}
	o.put('}')
}

// isSecretName: map keys and object fields whose values are credentials.
func isSecretName(k []byte) bool {
	if len(k) < 3 || len(k) > 32 {
		return false
	}
	var low [32]byte
	for i, c := range k {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	s := low[:len(k)]
	for _, w := range secretWords {
		if contains(s, w) {
			return true
		}
	}
	return false
}

var secretWords = []string{"password", "passwd", "pwd", "secret", "token", "credential", "apikey", "api_key", "accesskey", "access_key", "privatekey", "private_key"}

func contains(s []byte, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if string(s[i:i+len(w)]) == w {
			return true
		}
	}
	return false
}
