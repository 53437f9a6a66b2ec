package mongodb

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// frameLen returns the length of the message whose header starts b
// (at least headerLen bytes), or false when b does not start a header.
func frameLen(b []byte) (int, bool) {
	l := int(int32(binary.LittleEndian.Uint32(b)))
	return l, l >= headerLen && l <= maxWire && knownOp(binary.LittleEndian.Uint32(b[12:]))
}

// resync returns how many bytes of b to skip to reach a plausible message
// start, and whether one was found (else the bytes after the skip are a
// consistent prefix to keep until more come).
func resync(b []byte) (skip int, found bool) {
	for i := 0; i < len(b); i++ {
		switch probe(b[i:]) {
		case l7.Yes:
			return i, true
		case l7.NeedMore:
			return i, false
		}
	}
	return len(b), false
}

// Detect implements l7.Protocol.Detect: a plausible header (length, a
// known opcode) followed by the opcode's fixed fields and a well-formed
// start of its first document. (responseTo is not checked: some drivers
// send -1 in requests.)
func Detect(b []byte, dir flow.Dir, serverPort uint16) l7.Verdict { return probe(b) }

// probe checks that b starts with a plausible message. It answers
// NeedMore when b is a consistent prefix too short to tell.
func probe(b []byte) l7.Verdict {
	if len(b) < 4 {
		return l7.NeedMore
	}
	l := int64(int32(binary.LittleEndian.Uint32(b)))
	if l < headerLen || l > maxWire {
		return l7.No
	}
	if len(b) < headerLen {
		return l7.NeedMore
	}
	op := binary.LittleEndian.Uint32(b[12:])
	if !knownOp(op) {
		return l7.No
	}
	pr := prober{n: int(l) - headerLen, b: b[headerLen:min(int64(len(b)), l)]}
	return pr.body(op)
}

// prober reads the body of a message being probed: b holds the part of
// it that is available, n is its declared length.
type prober struct {
	b []byte
	n int
}

// need says whether k bytes at off are there: No when they would lie
// beyond the message, NeedMore when they have not been seen yet.
func (pr *prober) need(off, k int) l7.Verdict {
	switch {
	case off+k > pr.n:
		return l7.No
	case off+k > len(pr.b):
		return l7.NeedMore
	}
	return l7.Yes
}

func (pr *prober) u32(off int) uint32 { return binary.LittleEndian.Uint32(pr.b[off:]) }

// zero checks a reserved int32 that must be 0.
func (pr *prober) zero(off int) l7.Verdict {
	if v := pr.need(off, 4); v != l7.Yes {
		return v
	}
	if pr.u32(off) != 0 {
		return l7.No
	}
	return l7.Yes
}

// name checks a cstring of printable bytes at off (a namespace with a
// dot when ns) ending before lim, and returns the offset after its NUL.
func (pr *prober) name(off, lim int, ns bool) (int, l7.Verdict) {
	dot := false
	for i := off; i < off+256; i++ {
		if i >= lim {
			return 0, l7.No
		}
		if i >= len(pr.b) {
			return 0, l7.NeedMore
		}
		c := pr.b[i]
		switch {
		case c == 0:
			if ns && (!dot || i == off || pr.b[off] == '.') {
				return 0, l7.No
			}
			return i + 1, l7.Yes
		case c < 0x20 || c == 0x7f:
			return 0, l7.No
		case c == '.':
			dot = true
		}
	}
	return 0, l7.No
}

// doc checks the start of a BSON document at off: its length fits the
// message, and its first element has a valid type, a printable name and
// a value of plausible length.
func (pr *prober) doc(off int) l7.Verdict {
	if v := pr.need(off, 5); v != l7.Yes {
		return v
	}
	dl := int(int32(pr.u32(off)))
	if dl < 5 || dl > pr.n-off {
		return l7.No
	}
	t := pr.b[off+4]
	if dl == 5 {
		if t != 0 {
			return l7.No
		}
		return l7.Yes
	}
	if !validType(t) {
		return l7.No
	}
	end, v := pr.name(off+5, off+dl-1, false)
	if v != l7.Yes {
		return v
	}
	vn, ok := valueLen(t, pr.b[end:min(len(pr.b), off+dl)])
	if !ok || (vn >= 0 && end+vn > off+dl-1) {
		return l7.No
	}
	if vn < 0 && off+dl <= len(pr.b) {
		return l7.No // the whole document is there and the value does not fit
	}
	return l7.Yes
}

func (pr *prober) body(op uint32) l7.Verdict {
	switch op {
	case opMsg:
		if v := pr.need(0, 5); v != l7.Yes {
			return v
		}
		if pr.u32(0)&^uint32(msgChecksumPresent|msgMoreToCome|msgExhaustAllowed) != 0 {
			return l7.No
		}
		switch pr.b[4] {
		case 0:
			return pr.doc(5)
		case 1:
			if v := pr.need(5, 4); v != l7.Yes {
				return v
			}
			size := int(int32(pr.u32(5)))
			if size < 6 || size > pr.n-5 {
				return l7.No
			}
			_, v := pr.name(9, 5+size, false)
			return v
		}
		return l7.No
	case opQuery:
		if v := pr.need(0, 4); v != l7.Yes {
			return v
		}
		if pr.u32(0)&^0xfe != 0 {
			return l7.No
		}
		end, v := pr.name(4, pr.n, true)
		if v != l7.Yes {
			return v
		}
		if v := pr.need(end, 8); v != l7.Yes {
			return v
		}
		return pr.doc(end + 8)
	case opReply, opCommandReply:
		if op == opCommandReply {
			return pr.doc(0)
		}
		if v := pr.need(0, 20); v != l7.Yes {
			return v
		}
		from, returned := int32(pr.u32(12)), int32(pr.u32(16))
		if pr.u32(0)&^0xf != 0 || from < 0 || returned < 0 || int(returned) > (pr.n-20)/5 {
			return l7.No
		}
		if returned == 0 {
			if pr.n != 20 {
				return l7.No
			}
			return l7.Yes
		}
		return pr.doc(20)
	case opInsert, opDelete:
		if v := pr.need(0, 4); v != l7.Yes {
			return v
		}
		if op == opDelete {
			if v := pr.zero(0); v != l7.Yes {
				return v
			}
		} else if pr.u32(0)&^1 != 0 {
			return l7.No
		}
		end, v := pr.name(4, pr.n, true)
		if v != l7.Yes {
			return v
		}
		if op == opDelete {
			if v := pr.need(end, 4); v != l7.Yes {
				return v
			}
			if pr.u32(end)&^1 != 0 {
				return l7.No
			}
			end += 4
		}
		return pr.doc(end)
	case opUpdate:
		if v := pr.zero(0); v != l7.Yes {
			return v
		}
		end, v := pr.name(4, pr.n, true)
		if v != l7.Yes {
			return v
		}
		if v := pr.need(end, 4); v != l7.Yes {
			return v
		}
		if pr.u32(end)&^3 != 0 {
			return l7.No
		}
		return pr.doc(end + 4)
	case opGetMore:
		if v := pr.zero(0); v != l7.Yes {
			return v
		}
		end, v := pr.name(4, pr.n, true)
		if v != l7.Yes {
			return v
		}
		if end+12 != pr.n {
			return l7.No
		}
		return l7.Yes
	case opKillCursors:
		if v := pr.zero(0); v != l7.Yes {
			return v
		}
		if v := pr.need(4, 4); v != l7.Yes {
			return v
		}
		if c := int64(int32(pr.u32(4))); c <= 0 || 8+8*c != int64(pr.n) {
			return l7.No
		}
		return l7.Yes
	case opCompressed:
		if v := pr.need(0, 10); v != l7.Yes {
			return v
		}
		orig := pr.u32(0)
		usize := int64(int32(pr.u32(4)))
		if !knownOp(orig) || orig == opCompressed || usize < 0 || usize > maxWire || pr.b[8] > compZstd {
			return l7.No
		}
		return l7.Yes
	case opCommand:
		end, v := pr.name(0, pr.n, false)
		if v != l7.Yes {
			return v
		}
		end, v = pr.name(end, pr.n, false)
		if v != l7.Yes {
			return v
		}
		return pr.doc(end)
	}
	return l7.No
}
