package dns

import (
	"encoding/binary"
	"math/bits"
)

// appendName appends the presentation form of the name at off to buf and
// returns it with the offset just past the name's bytes in place (after
// its root label or its first compression pointer). In record data
// (data) the root name is written "." so that it stays visible between
// other fields; elsewhere it is "".
//
// Cost is bounded whatever the input: labels are only appended while the
// name fits in 255 wire bytes (so at most 127 of them), pointers are
// followed at most MaxPointerHops times, and at most maxNameLabels labels
// are walked once a pointer has been followed (before that, the walk
// covers each byte of the message once). A name that is too long is still
// walked to its end, so that the offset after it is known and a looping
// name is reported as a loop rather than as merely long.
func (d *decoder) appendName(buf []byte, off int, data bool) ([]byte, int, error) {
	msg := d.msg
	start := len(buf)
	next := -1
	wire := 1 // the root label
	hops, labels := 0, 0
	tooLong := false
	for {
		if off >= len(msg) {
			return buf, next, ErrTruncated
		}
		c := int(msg[off])
		switch {
		case c == 0:
			if next < 0 {
				next = off + 1
			}
			if data && len(buf) == start {
				buf = append(buf, '.')
			}
			if tooLong {
				return buf, next, ErrNameTooLong
			}
			return buf, next, nil
		case c < 0x40:
			end := off + 1 + c
			if end > len(msg) {
				return buf, next, ErrTruncated
			}
			if labels++; labels > maxNameLabels && next >= 0 {
				// Only reachable once too long; the end in place is known.
				return buf, next, ErrNameTooLong
			}
			if !tooLong {
				if wire+1+c > maxNameWire {
					tooLong = true
				} else {
					wire += 1 + c
					if len(buf) > start {
						buf = append(buf, '.')
					}
					buf = appendLabel(buf, msg[off+1:end])
				}
			}
			off = end
		case c >= 0xC0:
			if off+1 >= len(msg) {
				return buf, next, ErrTruncated
			}
			if next < 0 {
				next = off + 2
			}
			hops++
			if hops > MaxPointerHops {
				return buf, next, ErrPointerLoop
			}
			ptr := (c&0x3f)<<8 | int(msg[off+1])
			// Nothing legitimate points into the header, and a target
			// past the end is garbage.
			if ptr < HeaderLen || ptr >= len(msg) {
				return buf, next, ErrBadPointer
			}
			off = ptr
		default:
			return buf, next, ErrLabelTooLong
		}
	}
}

// maxNameLabels bounds the labels walked in one name after a pointer: a
// name within 255 bytes has at most 127, and going on past twice that
// only serves to tell a very long name from a loop.
const maxNameLabels = 255

// skipName returns the offset after the name at off without decoding it:
// only its bytes in place are walked, up to the root label or the first
// compression pointer.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return off, ErrTruncated
		}
		c := int(msg[off])
		switch {
		case c == 0:
			return off + 1, nil
		case c < 0x40:
			off += 1 + c
		case c >= 0xC0:
			if off+1 >= len(msg) {
				return off, ErrTruncated
			}
			return off + 2, nil
		default:
			return off, ErrLabelTooLong
		}
	}
}

// name decodes the owner name at off into the scratch buffer and returns
// it as a string. The partial name of an over-long name is returned with
// ErrNameTooLong; other errors give "".
func (d *decoder) name(off int) (string, int, error) {
	msg := d.msg
	if off+1 < len(msg) && msg[off] >= 0xC0 {
		if s, ok := d.recall(int(msg[off]&0x3f)<<8 | int(msg[off+1])); ok {
			return s, off + 2, nil
		}
	}
	buf, next, err := d.appendName(d.m.buf[:0], off, false)
	d.m.buf = buf
	if err != nil && err != ErrNameTooLong {
		return "", next, err
	}
	s := d.m.intern(buf)
	if err == nil {
		d.remember(off, s)
	}
	return s, next, err
}

// Label byte classes for appendLabel.
const (
	lcCopy  = iota // printable, kept
	lcLower        // 'A'..'Z'
	lcQuote        // special in presentation format: backslash before it
	lcDDD          // not printable: \DDD
)

// labelClass follows dig (BIND's dns_name_totext): the characters that
// mean something in master files get a backslash, bytes that are not
// printable ASCII become three decimal digits. This escaping is also what
// keeps captured names safe for terminals and web pages.
var labelClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c <= 0x20 || c >= 0x7f:
			t[c] = lcDDD
		case c >= 'A' && c <= 'Z':
			t[c] = lcLower
		case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
			t[c] = lcQuote
		}
	}
	return t
}()

// appendLabel appends one label, lower-cased and escaped.
func appendLabel(buf, label []byte) []byte {
	for _, c := range label {
		switch labelClass[c] {
		case lcCopy:
			buf = append(buf, c)
		case lcLower:
			buf = append(buf, c+('a'-'A'))
		case lcQuote:
			buf = append(buf, '\\', c)
		default:
			buf = appendDDD(buf, c)
		}
	}
	return buf
}

func appendDDD(buf []byte, c byte) []byte {
	return append(buf, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
}

// The intern table: a direct-mapped cache of recent strings, so that a
// name or address seen again (the question name repeated in every
// answer, the same popular names message after message) costs no
// allocation. A collision only costs an allocation, never a wrong string.
const (
	internSize   = 256 // internHash returns a uint8
	maxInternLen = 256
)

// internHash picks a slot from the length and up to 24 bytes (start,
// middle, end) of b. It is much cheaper than hashing every byte, and
// names that collide (same length, same start, middle and end) only cost
// a miss. The table is per Message, so a crafted collision only slows
// the sender's own traffic.
func internHash(b []byte) uint8 {
	n := len(b)
	var h uint64
	if n >= 8 {
		h = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 21)
		if n >= 16 {
			h ^= bits.RotateLeft64(binary.LittleEndian.Uint64(b[n/2-4:]), 42)
		}
	} else {
		for _, c := range b {
			h = h<<8 | uint64(c)
		}
	}
	h = (h ^ uint64(n)) * 0x9e3779b97f4a7c15
	return uint8(h >> 56)
}

func (m *Message) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxInternLen {
		return string(b)
	}
	if m.names == nil {
		m.names = new([internSize]string)
	}
	h := internHash(b)
	if s := m.names[h]; s == string(b) {
		return s
	}
	s := string(b)
	m.names[h] = s
	return s
}

// QName2 returns the last two labels of a name the way pktvisor's
// top_qname2 shows them: with a leading dot when the name has more
// labels (".test.com" for "a.b.test.com"), the name itself when it has
// two labels or fewer ("test.com", "com", ""). Escaped dots (\.) inside
// a label do not separate labels. The result shares name's memory.
func QName2(name string) string {
	return lastLabels(name, 2)
}

// QName3 returns the last three labels the way pktvisor's top_qname3
// shows them: ".b.test.com" for "a.b.test.com", the name itself when it
// has exactly three labels ("sirius.mwbsys.com"), and "" when it has
// fewer (pktvisor then does not count the name in top_qname3).
func QName3(name string) string {
	return lastLabels(name, 3)
}

// lastLabels implements pktvisor's aggregateDomain for names in this
// package's form (no trailing dot, escaped). n is 2 or 3.
func lastLabels(name string, n int) string {
	var seps [3]int // the last three separating dots, most recent last
	k := 0
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			if i+1 < len(name) && name[i+1] >= '0' && name[i+1] <= '9' {
				i += 3 // \DDD
			} else {
				i++ // \X
			}
		case '.':
			seps[0], seps[1], seps[2] = seps[1], seps[2], i
			k++
		}
	}
	switch {
	case k >= n:
		return name[seps[3-n]:]
	case k == n-1:
		return name
	case n == 2:
		return name
	default:
		return ""
	}
}
