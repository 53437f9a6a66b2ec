package dubbo

import (
	"bytes"
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// frameLen returns the length of the message whose header starts b
// (at least headerLen bytes), or false when b does not start a header.
func frameLen(b []byte) (int, bool) {
	if b[0] != magicHi || b[1] != magicLo {
		return 0, false
	}
	n := int64(int32(binary.BigEndian.Uint32(b[12:])))
	if n < 0 || n > maxBody {
		return 0, false
	}
	return headerLen + int(n), true
}

// resync returns how many bytes of b to skip to reach a plausible message
// start, and whether one was found (else the bytes after the skip are a
// consistent prefix to keep until more come).
func resync(b []byte) (skip int, found bool) {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], magicHi)
		if j < 0 {
			return len(b), false
		}
		i += j
		switch Detect(b[i:], 0, 0) {
		case l7.Yes:
			return i, true
		case l7.NeedMore:
			return i, false
		}
		i++
	}
	return len(b), false
}
