package postgres

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// maxLen bounds a message length field: the server refuses messages of
// 1 GiB and more.
const maxLen = 1 << 30

// message is one protocol message as the framer hands it over: its type
// (0 for the untyped startup-phase messages), body length and the first
// bytes of its body (all of it when short; the rest is skipped, never
// buffered).
type message struct {
	typ  byte
	blen int
	head []byte
	ts0  int64
}

// framer splits one direction's stream into messages: type byte and
// 4-byte big-endian length (which counts itself), or, untyped, the length
// alone. A message that lies whole in the bytes given costs no copy; one
// split across Data calls has its head held in an l7.Buf (charged to the
// parser memory budget).
type framer struct {
	hdr     [5]byte
	nhdr    int
	hlen    int // header length of the message being read: 5, or 4 untyped
	blen    int
	want    int
	buf     l7.Buf
	release bool // buf holds the head of the message just handed over
	left    int
	ts0     int64
	max     int
	msg     message
}

func (f *framer) reset() (held int) {
	held = f.nhdr + f.buf.Reset()
	if f.release {
		held = f.nhdr
	}
	f.nhdr, f.left, f.release = 0, 0, false
	return held
}

func (f *framer) done() {
	if f.release {
		f.buf.Reset()
		f.release = false
	}
}

// step consumes bytes of b. ready: f.msg holds a message head. bad: the
// length field is impossible, or the memory budget refused to hold a head
// (the caller resynchronises).
func (f *framer) step(b []byte, ts int64, untyped bool) (n int, ready, bad bool) {
	f.done()
	if f.left > 0 && f.nhdr == 0 {
		n = min(f.left, len(b))
		f.left -= n
		return n, false, false
	}
	if f.nhdr == 0 {
		f.ts0 = ts
		f.hlen = 5
		if untyped {
			f.hlen = 4
		}
		if len(b) >= f.hlen {
			// Fast path: the header and the head are all here.
			var typ byte
			l := int(binary.BigEndian.Uint32(b[f.hlen-4:]))
			if !untyped {
				typ = b[0]
			}
			if l < 4 || l > maxLen {
				return 0, false, true
			}
			blen := l - 4
			want := min(blen, f.max)
			if len(b) >= f.hlen+want {
				f.msg = message{typ: typ, blen: blen, head: b[f.hlen : f.hlen+want : f.hlen+want], ts0: ts}
				f.left = blen - want
				return f.hlen + want, true, false
			}
		}
	}
	if f.nhdr < f.hlen {
		n = copy(f.hdr[f.nhdr:f.hlen], b)
		f.nhdr += n
		if f.nhdr < f.hlen {
			return n, false, false
		}
		l := int(binary.BigEndian.Uint32(f.hdr[f.hlen-4:]))
		if l < 4 || l > maxLen {
			f.nhdr = 0
			return n, false, true
		}
		f.blen = l - 4
		f.want = min(f.blen, f.max)
		if f.want > 0 {
			return n, false, false
		}
	}
	var head []byte
	if f.want > 0 {
		k := min(f.want-f.buf.Len(), len(b))
		cur := f.buf.Feed(b[:k])
		n = k
		if len(cur) < f.want {
			if f.buf.Keep(cur) > 0 {
				f.nhdr = 0
				return n, false, true
			}
			return n, false, false
		}
		f.release = f.buf.Len() > 0
		head = cur
	}
	var typ byte
	if f.hlen == 5 {
		typ = f.hdr[0]
	}
	f.msg = message{typ: typ, blen: f.blen, head: head, ts0: f.ts0}
	f.left = f.blen - f.want
	f.nhdr = 0
	return n, true, false
}

func backendType(c byte) bool {
	switch c {
	case 'R', 'K', 'S', 'Z', 'T', 'D', 'C', 'I', 'E', 'N', 'A', '1', '2', '3', 'n', 't', 's', 'G', 'H', 'W', 'd', 'c', 'V', 'v':
		return true
	}
	return false
}

// fixedLen returns the only length field value a message type may have,
// or 0.
func fixedLen(t byte, server bool) int {
	if server {
		switch t {
		case 'Z':
			return 5
		case '1', '2', '3', 'n', 'I', 'c':
			return 4
		case 'K':
			return 12
		}
		return 0
	}
	switch t {
	case 'S', 'H', 'X', 'c':
		return 4
	}
	return 0
}

// boundary returns the first offset in b where a run of well-formed
// messages starts that either ends exactly at the end of b or holds at
// least eight messages, or -1. Used after a gap or a mid-stream start:
// segments usually end at a message boundary, and a random position
// rarely chains headers that far.
func boundary(b []byte, server bool) int {
	for i := 0; i+5 <= len(b); i++ {
		if chain(b[i:], server) {
			return i
		}
	}
	return -1
}

func chain(b []byte, server bool) bool {
	for k := 0; k < 8; k++ {
		if len(b) == 0 {
			return k > 0
		}
		if len(b) < 5 {
			return false
		}
		t := b[0]
		if server && !backendType(t) || !server && !frontendType(t) {
			return false
		}
		n := int(binary.BigEndian.Uint32(b[1:]))
		if n < 4 || n > maxLen {
			return false
		}
		if f := fixedLen(t, server); f != 0 && n != f {
			return false
		}
		if t == 'Z' && server && len(b) >= 6 && b[5] != 'I' && b[5] != 'T' && b[5] != 'E' {
			return false
		}
		if len(b) < 1+n {
			return false
		}
		b = b[1+n:]
	}
	return true
}
