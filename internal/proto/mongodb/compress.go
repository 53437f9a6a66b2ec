package mongodb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
)

// OP_COMPRESSED compressor ids.
const (
	compNoop   = 0
	compSnappy = 1
	compZlib   = 2
	compZstd   = 3
)

var compressorNames = [...][]byte{[]byte("noop"), []byte("snappy"), []byte("zlib"), []byte("zstd")}

var compressorUnknown = []byte("unknown")

func compressorName(id byte) []byte {
	if int(id) < len(compressorNames) {
		return compressorNames[id]
	}
	return compressorUnknown
}

// inflater decompresses OP_COMPRESSED payloads into a buffer it owns,
// never producing more than limit bytes whatever the message claims. Only
// the first bytes of the original message matter (the command document
// comes first), so output is simply cut at the limit. zstd is not
// decompressed (not in the standard library); the transaction then shows
// the original opcode and the compressor, without a command.
type inflater struct {
	out []byte
	zr  io.ReadCloser
	br  bytes.Reader
}

// inflate returns the decompressed bytes (at most limit; a prefix when the
// input is cut short or corrupt) and whether any were produced.
func (f *inflater) inflate(id byte, in []byte, limit int) ([]byte, bool) {
	if limit <= 0 {
		return nil, false
	}
	switch id {
	case compNoop:
		return in[:min(len(in), limit)], true
	case compSnappy:
		f.out = snappyDecode(f.out[:0], in, limit)
		return f.out, len(f.out) > 0
	case compZlib:
		f.br.Reset(in)
		if f.zr == nil {
			zr, err := zlib.NewReader(&f.br)
			if err != nil {
				return nil, false
			}
			f.zr = zr
		} else if err := f.zr.(zlib.Resetter).Reset(&f.br, nil); err != nil {
			return nil, false
		}
		if cap(f.out) < limit {
			f.out = make([]byte, limit)
		}
		n, _ := io.ReadFull(f.zr, f.out[:limit])
		f.out = f.out[:n]
		f.br.Reset(nil) // keep no reference to the message
		return f.out, n > 0
	}
	return nil, false
}

// release gives a large output buffer back to the heap between messages.
func (f *inflater) release() {
	if cap(f.out) > 64<<10 {
		f.out = nil
	}
}

// snappyDecode appends the decompression of the snappy block src to dst,
// stopping at limit bytes of output or at the first invalid element (the
// block format: https://github.com/google/snappy/blob/main/format_description.txt).
func snappyDecode(dst, src []byte, limit int) []byte {
	_, n := binary.Uvarint(src)
	if n <= 0 {
		return dst
	}
	src = src[n:]
	for len(src) > 0 && len(dst) < limit {
		tag := src[0]
		switch tag & 3 {
		case 0: // literal
			l := int(tag >> 2)
			src = src[1:]
			if l >= 60 {
				k := l - 59 // 1..4 length bytes
				if len(src) < k {
					return dst
				}
				l = 0
				for i := k - 1; i >= 0; i-- {
					l = l<<8 | int(src[i])
				}
				src = src[k:]
			}
			l++
			if l <= 0 || l > len(src) {
				// cut short: keep what is there
				l = len(src)
			}
			l = min(l, limit-len(dst))
			dst = append(dst, src[:l]...)
			src = src[l:]
			continue
		case 1:
			if len(src) < 2 {
				return dst
			}
			l := 4 + int(tag>>2&7)
			off := int(tag&0xe0)<<3 | int(src[1])
			src = src[2:]
			var ok bool
			if dst, ok = snappyCopy(dst, off, l, limit); !ok {
				return dst
			}
		case 2:
			if len(src) < 3 {
				return dst
			}
			l := 1 + int(tag>>2)
			off := int(binary.LittleEndian.Uint16(src[1:]))
			src = src[3:]
			var ok bool
			if dst, ok = snappyCopy(dst, off, l, limit); !ok {
				return dst
			}
		case 3:
			if len(src) < 5 {
				return dst
			}
			l := 1 + int(tag>>2)
			off := int(binary.LittleEndian.Uint32(src[1:]))
			src = src[5:]
			var ok bool
			if dst, ok = snappyCopy(dst, off, l, limit); !ok {
				return dst
			}
		}
	}
	return dst
}

// snappyCopy appends l bytes copied from off bytes back (overlapping
// copies repeat the pattern), bounded by limit.
func snappyCopy(dst []byte, off, l, limit int) ([]byte, bool) {
	if off <= 0 || off > len(dst) {
		return dst, false
	}
	l = min(l, limit-len(dst))
	start := len(dst) - off
	for i := 0; i < l; i++ {
		dst = append(dst, dst[start+i])
	}
	return dst, true
}
