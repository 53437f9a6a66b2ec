package clickhouse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// RowBinary is ClickHouse's binary row format: fixed-width integers little
// endian, strings as a LEB128 length and the bytes, FixedString(N) as N
// bytes, arrays as a LEB128 count and the elements. It carries any bytes
// exactly (no text escaping), in both directions.

// encoder appends RowBinary values.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) bytes(s []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) fixed16(a [16]byte) { e.b = append(e.b, a[:]...) }

// addr writes the <x>_fam and <x>_addr columns of an address.
func (e *encoder) addr(a netip.Addr) {
	fam, b := splitAddr(a)
	e.u8(fam)
	e.fixed16(b)
}

// addrPort writes <x>_fam, <x>_addr and <x>_port.
func (e *encoder) addrPort(ap netip.AddrPort) {
	e.addr(ap.Addr())
	e.u16(ap.Port())
}

func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) strs(l []string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

// errShort is a response that ends inside a value: a truncated or
// misparsed answer, never a panic.
var errShort = errors.New("clickhouse: truncated RowBinary response")

// maxValueLen bounds one string or array read from a response, so that a
// corrupt length cannot make the decoder allocate gigabytes. The largest
// legitimate value is a window's summary blob (the ingest bounds a batch
// to 16 MiB by default).
const maxValueLen = 1 << 30

// decoder reads RowBinary values; the first error sticks and every later
// read returns zero values, so callers check err once per row.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail(errShort)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) done() bool { return d.err != nil || len(d.b) == 0 }

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) length() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail(errShort)
		return 0
	}
	if n > maxValueLen {
		d.fail(fmt.Errorf("clickhouse: RowBinary length %d too large", n))
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

func (d *decoder) str() string { return string(d.take(d.length())) }

// blob is a String column read as bytes; empty reads as nil.
func (d *decoder) blob() []byte {
	v := d.take(d.length())
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) fixed16() (a [16]byte) {
	if v := d.take(16); v != nil {
		copy(a[:], v)
	}
	return a
}

func (d *decoder) boolean() bool { return d.u8() != 0 }

func (d *decoder) strs() []string {
	n := d.length()
	if d.err != nil {
		return nil
	}
	if n > len(d.b) { // each element takes at least one byte
		d.fail(errShort)
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}
