package mysql

import (
	"bytes"
	"compress/zlib"
	"io"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// packet is one MySQL packet as the framer hands it over: its header and
// the first bytes of its payload (all of it when it is short; what
// follows the head is skipped, never buffered).
type packet struct {
	seq  byte
	plen int    // payload length on the wire
	head []byte // payload[:min(plen, max)]; valid until the next step
	ts0  int64  // ts of the Data call that carried the packet's first byte
}

// framer splits one direction's stream of MySQL packets (3-byte length,
// sequence number, payload). A packet that lies whole in the bytes given
// costs no copy; one split across Data calls has its head held in an
// l7.Buf (at most max bytes, charged to the parser memory budget).
type framer struct {
	hdr     [4]byte
	nhdr    int
	plen    int
	want    int    // head length of the current packet
	buf     l7.Buf // head collected across calls
	release bool   // buf holds the head of the packet just handed over
	left    int    // payload bytes after the head still to skip
	ts0     int64
	max     int
	pkt     packet
}

func (f *framer) reset() (held int) {
	held = f.nhdr + f.buf.Reset()
	if f.release {
		held = f.nhdr
	}
	f.nhdr, f.left, f.release = 0, 0, false
	return held
}

// done releases the head of the packet just handled.
func (f *framer) done() {
	if f.release {
		f.buf.Reset()
		f.release = false
	}
}

// step consumes bytes of b; ready says that f.pkt holds a packet head;
// denied that the memory budget refused to hold a head (what was held is
// gone: the caller counts it and resynchronises).
func (f *framer) step(b []byte, ts int64) (n int, ready, denied bool) {
	f.done()
	if f.left > 0 && f.nhdr == 0 {
		n = min(f.left, len(b))
		f.left -= n
		return n, false, false
	}
	if f.nhdr < 4 {
		if f.nhdr == 0 {
			f.ts0 = ts
			if len(b) >= 4 {
				// Fast path: the head is all here.
				plen := le24(b)
				want := min(plen, f.max)
				if len(b) >= 4+want {
					f.pkt = packet{seq: b[3], plen: plen, head: b[4 : 4+want : 4+want], ts0: ts}
					f.left = plen - want
					return 4 + want, true, false
				}
			}
		}
		n = copy(f.hdr[f.nhdr:], b)
		f.nhdr += n
		if f.nhdr < 4 {
			return n, false, false
		}
		f.plen = le24(f.hdr[:])
		f.want = min(f.plen, f.max)
		if f.want > 0 {
			return n, false, false
		}
		f.pkt = packet{seq: f.hdr[3], plen: f.plen, ts0: f.ts0}
	} else {
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
		// The head is complete: held bytes and these, or these alone.
		f.release = f.buf.Len() > 0
		f.pkt = packet{seq: f.hdr[3], plen: f.plen, head: cur, ts0: f.ts0}
	}
	f.left = f.plen - f.want
	f.nhdr = 0
	return n, true, false
}

// zframer undoes the compressed protocol's framing: 3-byte compressed
// length, sequence, 3-byte uncompressed length (0: the payload is stored
// as is), payload. Stored payloads stream through; zlib payloads are
// collected (up to max bytes) and inflated in pieces.
type zframer struct {
	hdr  [7]byte
	nhdr int
	clen int
	ulen int
	left int
	skip bool   // too large to collect: skipped and counted
	buf  l7.Buf // the zlib payload collected across calls
	max  int

	src bytes.Reader
	zr  io.ReadCloser
	out []byte
}

func (z *zframer) reset() (held int) {
	held = z.nhdr + z.buf.Reset()
	z.nhdr, z.left, z.skip = 0, 0, false
	return held
}

// inflate decompresses src, which must give exactly ulen bytes, calling
// fn with pieces of the output; it stops early when fn returns false. It
// reports whether the data was a valid zlib stream of that size.
func (z *zframer) inflate(src []byte, ulen int, fn func([]byte) bool) bool {
	z.src.Reset(src)
	if z.zr == nil {
		r, err := zlib.NewReader(&z.src)
		if err != nil {
			return false
		}
		z.zr = r
	} else if err := z.zr.(zlib.Resetter).Reset(&z.src, nil); err != nil {
		return false
	}
	if z.out == nil {
		z.out = make([]byte, 4096)
	}
	total := 0
	for total < ulen {
		n, err := z.zr.Read(z.out[:min(len(z.out), ulen-total)])
		total += n
		if n > 0 && !fn(z.out[:n]) {
			return true
		}
		if err != nil {
			return err == io.EOF && total == ulen
		}
	}
	return true
}
