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
	b, ok := d.appendRdata(d.m.buf[:0], typ, start, end)
	d.m.buf = b
	if !ok || len(b) == 0 {
		return ""
	}
	s := d.m.intern(b)
	if (typ == typeCNAME || typ == typeNS || typ == typePTR) && len(b) > 1 {
		// The data is the name alone: later owner names often point here
		// (the CNAME target owns the next record).
		d.remember(start, s)
	}
	return s
}

// appendRdata appends the rendering of a record's data (see RR.Data) to b
// and reports whether the data fit its type; on false, what was appended
// is meaningless and the caller discards it. It only reads d.msg, so the
// transaction parser uses it with a decoder that has no Message.
func (d *decoder) appendRdata(b []byte, typ uint16, start, end int) ([]byte, bool) {
	rd := d.msg[start:end]
	ok := true
	switch typ {
	case typeA:
		if len(rd) != 4 {
			return b, false
		}
		b = netip.AddrFrom4([4]byte(rd)).AppendTo(b)
	case typeAAAA:
		if len(rd) != 16 {
			return b, false
		}
		b = netip.AddrFrom16([16]byte(rd)).AppendTo(b)
	case typeCNAME, typeNS, typePTR:
		b, _, ok = d.dataName(b, start, end)
	case typeMX:
		if len(rd) < 3 {
			return b, false
		}
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(rd)), 10)
		b = append(b, ' ')
		b, _, ok = d.dataName(b, start+2, end)
	case typeSRV:
		if len(rd) < 7 {
			return b, false
		}
		for i := 0; i < 6; i += 2 {
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(rd[i:])), 10)
			b = append(b, ' ')
		}
		b, _, ok = d.dataName(b, start+6, end)
	case typeSOA:
		var next int
		if b, next, ok = d.dataName(b, start, end); !ok {
			return b, false
		}
		b = append(b, ' ')
		if b, next, ok = d.dataName(b, next, end); !ok || end-next < 20 {
			return b, false
		}
		for i := next; i < next+20; i += 4 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d.msg[i:])), 10)
		}
	case typeTXT:
		first := true
		for len(rd) > 0 {
			n := int(rd[0])
			if 1+n > len(rd) {
				return b, false
			}
			if !first {
				b = append(b, ' ')
			}
			first = false
			b = appendQuoted(b, rd[1:1+n])
			rd = rd[1+n:]
		}
	default:
		return b, false
	}
	return b, ok
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
