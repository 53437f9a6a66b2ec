package dns

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Record types this package renders or interprets.
const (
	typeA     = 1
	typeNS    = 2
	typeCNAME = 5
	typeSOA   = 6
	typePTR   = 12
	typeMX    = 15
	typeTXT   = 16
	typeAAAA  = 28
	typeSRV   = 33
	typeOPT   = 41
)

// rdata renders the data of a record of type typ found at msg[start:end].
// Anything that does not fit its type renders as "": record data is
// informational, and RDLENGTH already locates the next record.
func (d *decoder) rdata(typ uint16, start, end int) string {
	rd := d.msg[start:end]
	b := d.m.buf[:0]
	ok := true
	switch typ {
	case typeA:
		if len(rd) != 4 {
			return ""
		}
		b = netip.AddrFrom4([4]byte(rd)).AppendTo(b)
	case typeAAAA:
		if len(rd) != 16 {
			return ""
		}
		b = netip.AddrFrom16([16]byte(rd)).AppendTo(b)
	case typeCNAME, typeNS, typePTR:
		if b, _, ok = d.dataName(b, start, end); ok && len(b) > 1 {
			// The data is the name alone: later owner names often point
			// here (the CNAME target owns the next record).
			s := d.m.intern(b)
			d.m.buf = b
			d.remember(start, s)
			return s
		}
	case typeMX:
		if len(rd) < 3 {
			return ""
		}
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(rd)), 10)
		b = append(b, ' ')
		b, _, ok = d.dataName(b, start+2, end)
	case typeSRV:
		if len(rd) < 7 {
			return ""
		}
		for i := 0; i < 6; i += 2 {
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(rd[i:])), 10)
			b = append(b, ' ')
		}
		b, _, ok = d.dataName(b, start+6, end)
	case typeSOA:
		var next int
		if b, next, ok = d.dataName(b, start, end); !ok {
			return ""
		}
		b = append(b, ' ')
		if b, next, ok = d.dataName(b, next, end); !ok || end-next < 20 {
			return ""
		}
		for i := next; i < next+20; i += 4 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d.msg[i:])), 10)
		}
	case typeTXT:
		for len(rd) > 0 {
			n := int(rd[0])
			if 1+n > len(rd) {
				return ""
			}
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = appendQuoted(b, rd[1:1+n])
			rd = rd[1+n:]
		}
	default:
		return ""
	}
	d.m.buf = b
	if !ok {
		return ""
	}
	return d.m.intern(b)
}

// dataName appends the name at off inside record data ending at end, and
// reports whether it decoded and lies within the data.
func (d *decoder) dataName(b []byte, off, end int) ([]byte, int, bool) {
	b, next, err := d.appendName(b, off, true)
	if err != nil || next > end {
		return b, next, false
	}
	return b, next, true
}

// appendQuoted appends a TXT character-string as dig prints it: in
// double quotes, with " and \ escaped and non-printable bytes as \DDD.
func appendQuoted(b, s []byte) []byte {
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c < 0x20 || c >= 0x7f:
			b = appendDDD(b, c)
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
