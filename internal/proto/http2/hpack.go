package http2

import (
	"golang.org/x/net/http2/hpack"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// HPACK representation kinds (RFC 7541 §6).
const (
	repIndexed     uint8 = iota // 1xxxxxxx: indexed field
	repIncremental              // 01xxxxxx: literal with incremental indexing (inserts into the table)
	repLiteral                  // 0000xxxx: literal without indexing
	repNever                    // 0001xxxx: literal never indexed
	repSizeUpdate               // 001xxxxx: dynamic table size update
)

// rep is the extent of one HPACK representation.
type rep struct {
	n      int    // its length in bytes
	kind   uint8  // one of rep*
	index  uint64 // indexed: the index; literal: the name index (0: literal name); size update: the size
	valOff int    // literal: offset of the value string (its length prefix)
}

// placeholderName names the dynamic-table entries that stand for entries
// the parser could not decode (their name referenced an entry it never
// saw). Header names on the wire are lower-case tokens, so a NUL byte can
// never be a real name.
const placeholderName = "\x00"

// hpackInt reads an HPACK integer with an n-bit prefix (RFC 7541 §5.1).
// Five continuation bytes (35 bits) are more than any sane table index,
// size or string length needs; longer ones are refused.
func hpackInt(b []byte, prefix uint) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	mask := byte(1)<<prefix - 1
	v = uint64(b[0] & mask)
	if v < uint64(mask) {
		return v, 1, true
	}
	for i := 1; i < len(b) && i <= 5; i++ {
		c := b[i]
		v += uint64(c&0x7f) << (7 * uint(i-1))
		if c&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// hpackString returns the length of the HPACK string literal at the start
// of b (prefix and bytes).
func hpackString(b []byte) (int, bool) {
	l, n, ok := hpackInt(b, 7)
	if !ok || l > uint64(len(b)-n) {
		return 0, false
	}
	return n + int(l), true
}

// nextRep finds the extent of the representation at the start of a
// complete header block b, following the same grammar as the hpack
// decoder, so that each representation can be decoded (or fail) on its
// own.
func nextRep(b []byte) (r rep, ok bool) {
	if len(b) == 0 {
		return r, false
	}
	var prefix uint
	switch c := b[0]; {
	case c&0x80 != 0:
		r.kind, prefix = repIndexed, 7
	case c&0xc0 == 0x40:
		r.kind, prefix = repIncremental, 6
	case c&0xf0 == 0x00:
		r.kind, prefix = repLiteral, 4
	case c&0xf0 == 0x10:
		r.kind, prefix = repNever, 4
	default: // 001xxxxx
		r.kind, prefix = repSizeUpdate, 5
	}
	v, n, ok := hpackInt(b, prefix)
	if !ok {
		return r, false
	}
	r.index, r.n = v, n
	if r.kind == repIndexed || r.kind == repSizeUpdate {
		return r, true
	}
	if r.index == 0 {
		l, ok := hpackString(b[r.n:])
		if !ok {
			return r, false
		}
		r.n += l
	}
	r.valOff = r.n
	l, ok := hpackString(b[r.n:])
	if !ok {
		return r, false
	}
	r.n += l
	return r, true
}

// decodeBlock decodes a complete header block with d's decoder, field by
// field into p.onField (the caller has set p.cur and p.side). A
// representation that fails is counted and skipped, and decoding goes on
// with the next one.
func (p *parser) decodeBlock(d *direction, blk []byte) {
	for len(blk) > 0 {
		r, ok := nextRep(blk)
		if !ok {
			// The grammar itself is broken: nothing after this point can
			// be delimited, and what it inserted into the table is lost.
			p.sink.Drop(l7.DropMalformed, len(blk))
			p.truncateCur()
			d.resetTable()
			break
		}
		one := blk[:r.n]
		blk = blk[r.n:]
		p.unknownName = false
		if _, err := d.dec.Write(one); err != nil {
			p.hpackFailed(d, r, one, err)
			continue
		}
		switch {
		case r.kind == repSizeUpdate:
			d.tableMax = uint32(r.index) // accepted, so at most the allowed size
		case p.unknownName:
			// The name is a placeholder's: the field cannot be named.
			p.sink.Drop(l7.DropOther, r.n)
			p.truncateCur()
		}
	}
	if err := d.dec.Close(); err != nil {
		// Unreachable with complete representations; keep the decoder
		// usable regardless.
		d.resetTable()
	}
}

// hpackFailed counts a representation the decoder refused and keeps the
// dynamic table's indices in step where it can.
func (p *parser) hpackFailed(d *direction, r rep, one []byte, err error) {
	p.truncateCur()
	unknown := false
	if de, ok := err.(hpack.DecodingError); ok {
		_, unknown = de.Err.(hpack.InvalidIndexError)
	}
	switch {
	case unknown:
		// It references an entry inserted before the capture started (or
		// in a gap). If it inserts an entry itself, insert a placeholder
		// with its value so that the entries after it keep their indices.
		// The placeholder's 1-byte name makes it no larger than the real
		// entry, so it is never evicted earlier than the real one, which
		// could shift the indices of entries we do know.
		p.sink.Drop(l7.DropOther, r.n)
		if r.kind == repIncremental {
			s := append(d.synth[:0], 0x40, 0x01, 0x00)
			s = append(s, one[r.valOff:]...)
			d.synth = s
			p.placeholder = true
			_, err := d.dec.Write(s)
			p.placeholder = false
			if err != nil {
				d.resetTable()
			}
		}
	case err == hpack.ErrStringLength:
		p.sink.Drop(l7.DropTooLarge, r.n)
		if r.kind == repIncremental {
			d.resetTable()
		}
	default:
		// Bad Huffman code, a size update above the allowed size or out of
		// place, index 0: the sender is broken or we are out of step.
		p.sink.Drop(l7.DropMalformed, r.n)
		if r.kind == repIncremental {
			d.resetTable()
		}
	}
}

// resetTable forgets the dynamic table: after bytes were lost we cannot
// know what they inserted, and an entry at a shifted index would decode
// to a wrong header silently. Afterwards references to older entries fail
// (and are counted) instead.
func (d *direction) resetTable() {
	d.dec.SetMaxDynamicTableSize(0)
	d.dec.SetMaxDynamicTableSize(d.tableMax)
}

// setTableLimit applies the SETTINGS_HEADER_TABLE_SIZE the peer of this
// direction's sender advertised: the largest size the sender's encoder
// may switch to. Never below the protocol's initial 4096, never above
// maxTable.
func (d *direction) setTableLimit(v uint32, maxTable uint32) {
	d.dec.SetAllowedMaxDynamicTableSize(min(max(v, initialTableSize), maxTable))
}
