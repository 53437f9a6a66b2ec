package dubbo

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// Decoders for the serializations other than Hessian2: only the strings
// Dubbo writes first (version, service, service version, method) and the
// trace attachments, which is what DeepFlow shows for them.

var b64 = base64.StdEncoding

// kryoString reads a string written by Kryo's Output.writeString: either
// ASCII with the last byte's high bit set (returned as is: the caller
// clears it), or a variable-length "charCount+1" with bit 7 of the first
// byte set, followed by UTF-8 (0x80: null, 0x81: empty). It returns the
// string's bytes and how many input bytes it took.
func kryoString(b []byte) (s []byte, n int, ok bool) {
	if len(b) == 0 {
		return nil, 0, false
	}
	if b[0]&0x80 == 0 {
		for i, c := range b {
			if c&0x80 != 0 {
				return b[:i+1], i + 1, true
			}
			if c < 0x20 {
				return nil, 0, false // not a printable ASCII string
			}
		}
		return nil, 0, false
	}
	// Length: 6 bits in the first byte (bit 6: more follow), then 7 bits
	// per byte.
	v := uint64(b[0] & 0x3f)
	i := 1
	if b[0]&0x40 != 0 {
		shift := uint(6)
		for {
			if i >= len(b) || i > 5 {
				return nil, 0, false
			}
			c := b[i]
			i++
			v |= uint64(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				break
			}
		}
	}
	if v <= 1 {
		return b[i:i], i, true // null or empty
	}
	chars := v - 1
	if chars > uint64(len(b)) {
		return nil, 0, false
	}
	j := i
	for k := uint64(0); k < chars; k++ {
		if j >= len(b) {
			return nil, 0, false
		}
		switch c := b[j]; {
		case c < 0x80:
			j++
		case c < 0xe0:
			j += 2
		default:
			j += 3
		}
	}
	if j > len(b) {
		return nil, 0, false
	}
	return b[i:j], j, true
}

// putKryo copies a Kryo string into the arena, clearing the ASCII end mark.
func (r *request) putKryo(s []byte) span {
	sp := r.put(s)
	if sp.end > sp.off {
		r.arena[sp.end-1] &^= 0x80
	}
	return sp
}

// kryoRequest decodes the strings that start a Kryo request body and
// looks for trace attachments after them.
func kryoRequest(body []byte, r *request) {
	var strs [4]span
	off := 0
	for i := range strs {
		s, n, ok := kryoString(body[off:])
		if !ok {
			break
		}
		strs[i] = r.putKryo(s)
		off += n
	}
	r.version, r.service, r.sversion, r.method = strs[0], strs[1], strs[2], strs[3]
	if strs[3].end == 0 {
		return
	}
	// Attachments are a Kryo map after the arguments; keys and values are
	// strings preceded by a class id and a reference mark. Look the trace
	// keys up by their Kryo ASCII form.
	rest := body[off:]
	for k, key := range traceKeys {
		i := indexKryoKey(rest, key)
		if i < 0 {
			continue
		}
		v := rest[i:]
		// skip the value's class id and reference mark
		for j := 0; j < 2 && len(v) > 0 && v[0] < 0x20; j++ {
			v = v[1:]
		}
		s, _, ok := kryoString(v)
		if !ok {
			continue
		}
		start := len(r.arena)
		r.arena = append(r.arena, s...)
		if len(s) > 0 && s[len(s)-1]&0x80 != 0 {
			r.arena[len(r.arena)-1] &^= 0x80
		}
		r.trace(k+1, r.arena[start:])
	}
}

// traceKeys are the trace attachments, by preference: traceKeys[i] has
// preference i+1 (see tracePrio).
var traceKeys = [...]string{"sw8", "traceparent", "uber-trace-id", "EagleEye-TraceID", "EagleEye-SpanID"}

// jsonTraceKeys, jsonbTraceKeys: the same keys as they appear in a
// FastJson attachments object and as FastJson2 JSONB strings.
var jsonTraceKeys, jsonbTraceKeys [len(traceKeys)][]byte

func init() {
	for i, k := range traceKeys {
		jsonTraceKeys[i] = []byte(`"` + k + `":"`)
		jsonbTraceKeys[i] = append([]byte{byte(0x49 + len(k))}, k...)
	}
}

// indexKryoKey finds key written as a Kryo ASCII string and returns the
// offset after it, or -1.
func indexKryoKey(b []byte, key string) int {
	last := len(key) - 1
	for i := 0; i+len(key) <= len(b); {
		j := bytes.Index(b[i:], []byte(key[:last]))
		if j < 0 {
			return -1
		}
		k := i + j + last
		if k < len(b) && b[k] == key[last]|0x80 {
			return k + 1
		}
		i += j + 1
	}
	return -1
}

// nextLine returns the first line of b and the rest.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return bytes.TrimSuffix(b[:i], []byte{'\r'}), b[i+1:]
}

// jsonString returns the contents of a JSON string literal, escapes kept.
func jsonString(line []byte) []byte {
	if len(line) >= 2 && line[0] == '"' && line[len(line)-1] == '"' {
		return line[1 : len(line)-1]
	}
	return nil
}

// jsonRequest decodes a FastJson/Gson request: one JSON value per line
// (version, path, service version, method, descriptor, the arguments,
// the attachments object).
func jsonRequest(body []byte, r *request) {
	var strs [5]span
	for i := range strs {
		var line []byte
		line, body = nextLine(body)
		s := jsonString(line)
		if s == nil && string(line) != "null" {
			return
		}
		strs[i] = r.put(s)
	}
	r.version, r.service, r.sversion, r.method, r.argTypes = strs[0], strs[1], strs[2], strs[3], strs[4]
	n := countParams(r.get(r.argTypes))
	start := len(r.arena)
	for i := 0; i < n && len(body) > 0; i++ {
		var line []byte
		line, body = nextLine(body)
		if i > 0 {
			r.arena = append(r.arena, ',', ' ')
		}
		room := start + l7.MaxField - len(r.arena)
		if room <= 0 {
			r.flags |= l7.FlagTruncated
			break
		}
		if len(line) > room {
			line = line[:room]
			r.flags |= l7.FlagTruncated
		}
		r.arena = append(r.arena, line...)
	}
	r.args = span{int32(start), int32(len(r.arena))}
	if r.args.end-r.args.off > l7.MaxField {
		r.args.end = r.args.off + l7.MaxField
	}
	if secretMethod(r.get(r.method)) && r.args.end > r.args.off {
		r.args = r.put(redactedText)
		r.flags |= l7.FlagRedacted
	}
	// The attachments object: "key":"value" pairs.
	line, _ := nextLine(body)
	for k, pat := range jsonTraceKeys {
		i := bytes.Index(line, pat)
		if i < 0 {
			continue
		}
		v := line[i+len(pat):]
		if j := bytes.IndexByte(v, '"'); j >= 0 {
			r.trace(k+1, v[:j])
		}
	}
}

// jsonbString reads a FastJson2 JSONB string value: an ASCII string of
// length 0..47 (type 0x49..0x78), or a string with a length
// (0x79 ASCII, 0x7a UTF-8).
func jsonbString(b []byte) (s []byte, n int, ok bool) {
	if len(b) == 0 {
		return nil, 0, false
	}
	t := b[0]
	switch {
	case t >= 0x49 && t <= 0x78:
		l := int(t - 0x49)
		if 1+l > len(b) {
			return nil, 0, false
		}
		return b[1 : 1+l], 1 + l, true
	case t == 0x79 || t == 0x7a:
		l, k, ok := jsonbInt(b[1:])
		if !ok || l < 0 || 1+k+int(l) > len(b) {
			return nil, 0, false
		}
		return b[1+k : 1+k+int(l)], 1 + k + int(l), true
	}
	return nil, 0, false
}

// jsonbInt reads a JSONB int32.
func jsonbInt(b []byte) (v int64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	t := int8(b[0])
	switch {
	case t >= -16 && t <= 47:
		return int64(t), 1, true
	case t >= 0x30 && t <= 0x3f:
		if len(b) < 2 {
			return 0, 0, false
		}
		return int64(t-0x38)<<8 | int64(b[1]), 2, true
	case t >= 0x40 && t <= 0x47:
		if len(b) < 3 {
			return 0, 0, false
		}
		return int64(t-0x44)<<16 | int64(b[1])<<8 | int64(b[2]), 3, true
	case t == 0x48:
		if len(b) < 5 {
			return 0, 0, false
		}
		return int64(int32(binary.BigEndian.Uint32(b[1:]))), 5, true
	}
	return 0, 0, false
}

// jsonbRequest decodes a FastJson2 request: Dubbo writes each string as
// a 4-byte length followed by its JSONB encoding.
func jsonbRequest(body []byte, r *request) {
	var strs [5]span
	for i := range strs {
		if len(body) < 4 {
			return
		}
		l := int64(binary.BigEndian.Uint32(body))
		if l > int64(len(body)-4) {
			return
		}
		s, _, ok := jsonbString(body[4 : 4+l])
		if !ok {
			return
		}
		strs[i] = r.put(s)
		body = body[4+l:]
		r.version, r.service, r.sversion, r.method, r.argTypes = strs[0], strs[1], strs[2], strs[3], strs[4]
	}
	// Trace attachments: the key as a short JSONB string, then the value.
	for k, enc := range jsonbTraceKeys {
		i := bytes.Index(body, enc)
		if i < 0 {
			continue
		}
		rest := body[i+len(enc):]
		s, n, ok := jsonbString(rest)
		if !ok {
			// A value cut short (the capture's end): keep what is there.
			if len(rest) > 2 && rest[0] == 0x79 {
				if l, k, ok := jsonbInt(rest[1:]); ok && l > 0 {
					s, n, ok = rest[1+k:min(len(rest), 1+k+int(l))], 0, true
				}
			}
		}
		_ = n
		if s != nil {
			r.trace(k+1, s)
		}
	}
}

// exception reads the exception object of a response of type exception
// and returns its class name and detailMessage.
func (r *hreader) exception() (class, msg []byte) {
	for {
		tag, ok := r.peek()
		if !ok {
			return nil, nil
		}
		if tag != 'C' {
			break
		}
		r.off++
		r.classDef()
	}
	tag, _ := r.peek()
	var n int64
	switch {
	case tag == 'O':
		r.off++
		v, ok := r.intv()
		if !ok {
			return nil, nil
		}
		n = v
	case tag >= 0x60 && tag <= 0x6f:
		r.off++
		n = int64(tag - 0x60)
	default:
		return nil, nil
	}
	if n < 0 || n >= int64(len(r.classes)) {
		return nil, nil
	}
	c := r.classes[n]
	for i := 0; i < c.nf && !r.failed(); i++ {
		f := r.fields[c.f0+i]
		if string(f) == "detailMessage" {
			if t, ok := r.peek(); ok && isString(t) {
				s, _, _ := r.str()
				return c.name, s
			}
		}
		r.value(nil, 1)
	}
	return c.name, nil
}
