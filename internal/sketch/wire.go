package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Every encoding starts with a kind byte and a version byte, so that a blob
// of one sketch fed to another's decoder, or a blob from a newer probe, is
// an error rather than garbage.
const (
	kindQuantiles = 'Q'
	kindDistinct  = 'D'
	kindTopK      = 'T'

	wireVersion = 1
)

// ErrInvalid is wrapped by every UnmarshalBinary error; match it with
// errors.Is.
var ErrInvalid = errors.New("sketch: invalid encoding")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func checkHeader(data []byte, kind byte, maxLen int) error {
	if len(data) > maxLen {
		return invalidf("%c: %d bytes exceed the %d-byte cap", kind, len(data), maxLen)
	}
	if len(data) < 2 {
		return invalidf("%c: %d bytes, header needs 2", kind, len(data))
	}
	if data[0] != kind {
		return invalidf("kind %#x, want %c", data[0], kind)
	}
	if data[1] != wireVersion {
		return invalidf("%c: version %d, want %d", kind, data[1], wireVersion)
	}
	return nil
}

// reader decodes from an untrusted buffer. The first failure sticks in err
// and every later read returns zero, so decoders check err once per record
// rather than after every field.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = invalidf("truncated or malformed %s", what)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) float64(what string) float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func appendFloat64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// addSat adds without wrapping: counters fed hostile or absurd weights stop
// at the maximum instead of turning into small numbers.
func addSat(a, b uint64) uint64 {
	s := a + b
	if s < a {
		return math.MaxUint64
	}
	return s
}
