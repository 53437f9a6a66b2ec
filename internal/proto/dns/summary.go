package dns

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// summary is what the transaction parser reports about one message,
// decoded without allocating: the name and the answer text go into the
// summary's own buffers, which are reused message after message. Parse
// builds a whole Message (every record, strings for every name); a probe
// that sees every DNS packet only needs the header, the first question,
// the first answers and EDNS, and must not allocate per packet.
type summary struct {
	id       uint16
	response bool
	opcode   uint8
	rcode    uint16 // with the EDNS extended bits when an OPT record is present
	tc       bool
	hasQ     bool // the first question decoded (name, type and class)
	qtype    uint16
	qclass   uint16
	name     []byte // first question name, as Question.Name
	answers  int    // answer records present (walked), not the header's count
	anCount  int    // the header's count
	answer   []byte // "TYPE data, TYPE data" of the first maxAnswers answers
	ecs      netip.Prefix
	sawOPT   bool
	// err is the first decoding error (ErrTruncated, ErrBadPointer, ...),
	// nil for a clean message. What was decoded before it is kept.
	err error
}

const (
	// maxAnswers bounds the answers rendered into summary.answer: enough
	// for a CNAME chain and a few addresses, which is what a transaction
	// record is read for. The count of all answers is in answers.
	maxAnswers = 8
	// maxAnswerText stops rendering once the text is this long; the
	// caller still cuts the field at l7.MaxField.
	maxAnswerText = 1024
	// maxKeptAnswer is the largest answer buffer kept between messages
	// (one big TXT record should not pin its rendering forever).
	maxKeptAnswer = 16 << 10
)

// scan fills s from msg, which must hold at least HeaderLen bytes. It
// never panics, reads only inside msg, and does work bounded by len(msg)
// (every record walk advances; names are walked by appendName/skipName
// with their own bounds).
func (s *summary) scan(msg []byte) {
	name, answer := s.name[:0], s.answer[:0]
	if cap(answer) > maxKeptAnswer {
		answer = nil
	}
	*s = summary{name: name, answer: answer}
	s.id = binary.BigEndian.Uint16(msg)
	f1, f2 := msg[2], msg[3]
	s.response = f1&0x80 != 0
	s.opcode = (f1 >> 3) & 0x0f
	s.tc = f1&0x02 != 0
	s.rcode = uint16(f2 & 0x0f)
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	counts := [3]int{
		int(binary.BigEndian.Uint16(msg[6:])),
		int(binary.BigEndian.Uint16(msg[8:])),
		int(binary.BigEndian.Uint16(msg[10:])),
	}

	s.anCount = counts[0]
	d := decoder{msg: msg}
	off := HeaderLen
	for i := range qd {
		if i == 0 {
			var next int
			var err error
			s.name, next, err = d.appendName(s.name, off, false)
			if err != nil && err != ErrNameTooLong {
				s.name = s.name[:0]
				s.err = err
				return
			}
			if err != nil {
				s.err = err
			}
			if next+4 > len(msg) {
				s.err = ErrTruncated
				return
			}
			s.hasQ = true
			s.qtype = binary.BigEndian.Uint16(msg[next:])
			s.qclass = binary.BigEndian.Uint16(msg[next+2:])
			off = next + 4
			continue
		}
		next, err := skipName(msg, off)
		if err == nil && next+4 > len(msg) {
			err = ErrTruncated
		}
		if err != nil {
			s.err = err
			return
		}
		off = next + 4
	}

	for sec, n := range counts {
		for range n {
			next, err := skipName(msg, off)
			if err == nil && next+10 > len(msg) {
				err = ErrTruncated
			}
			if err != nil {
				s.err = err
				return
			}
			typ := binary.BigEndian.Uint16(msg[next:])
			rdata := next + 10
			end := rdata + int(binary.BigEndian.Uint16(msg[next+8:]))
			if end > len(msg) {
				s.err = ErrTruncated
				return
			}
			switch sec {
			case 0:
				if s.answers < maxAnswers && len(s.answer) < maxAnswerText {
					s.appendAnswer(&d, typ, rdata, end)
				}
				s.answers++
			case 2:
				if typ == typeOPT {
					s.opt(binary.BigEndian.Uint32(msg[next+4:]), msg[rdata:end])
				}
			}
			off = end
		}
	}
}

// appendAnswer renders one answer as "TYPE data" (the type alone when
// its data is not rendered: RRSIG, HTTPS, malformed data, ...).
func (s *summary) appendAnswer(d *decoder, typ uint16, start, end int) {
	b := s.answer
	if len(b) > 0 {
		b = append(b, ", "...)
	}
	b = appendTypeName(b, typ)
	mark := len(b)
	b = append(b, ' ')
	if nb, ok := d.appendRdata(b, typ, start, end); ok && len(nb) > mark+1 {
		b = nb
	} else {
		b = b[:mark]
	}
	s.answer = b
}

// opt reads the first OPT record: the extended rcode bits and ECS.
func (s *summary) opt(ttl uint32, rdata []byte) {
	if s.sawOPT {
		return // only the first OPT record counts, as in Parse
	}
	s.sawOPT = true
	s.rcode |= uint16(ttl>>24) << 4
	for len(rdata) >= 4 {
		code := binary.BigEndian.Uint16(rdata)
		n := int(binary.BigEndian.Uint16(rdata[2:]))
		if 4+n > len(rdata) {
			return
		}
		if code == optClientSubnet {
			s.ecs, _ = parseECS(rdata[4 : 4+n])
			return
		}
		rdata = rdata[4+n:]
	}
}

// appendTypeName appends TypeName(t) without allocating.
func appendTypeName(b []byte, t uint16) []byte {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return append(b, typeNames[t]...)
	}
	switch t {
	case 32768:
		return append(b, "TA"...)
	case 32769:
		return append(b, "DLV"...)
	}
	return strconv.AppendUint(append(b, "TYPE"...), uint64(t), 10)
}
