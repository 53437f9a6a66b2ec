package dns

import "encoding/binary"

// SplitTCP walks a reassembled DNS-over-TCP byte stream (RFC 1035 §4.2.2,
// RFC 7766): zero or more messages, each after a 2-byte big-endian
// length. It calls fn with every complete message (without its prefix;
// the slice aliases stream and has no spare capacity) until fn returns
// false, and returns how many bytes it consumed: a message cut at the end
// of stream is not consumed and should be offered again with more data.
//
// SplitTCP only frames. Messages too short to be DNS (even zero-length
// ones) are handed to fn all the same, so that the caller's Parse sees
// and counts them instead of the stream silently losing sync.
func SplitTCP(stream []byte, fn func(msg []byte) bool) (consumed int) {
	for len(stream)-consumed >= 2 {
		n := int(binary.BigEndian.Uint16(stream[consumed:]))
		start := consumed + 2
		if len(stream)-start < n {
			break
		}
		consumed = start + n
		if !fn(stream[start:consumed:consumed]) {
			break
		}
	}
	return consumed
}

// minMessage is the smallest message with a question: header, root name,
// QTYPE and QCLASS.
const minMessage = HeaderLen + 1 + 4

// Looks reports whether b plausibly starts a DNS message, for detecting
// DNS by content on ports other than 53. With tcp, b is the start of a
// TCP stream (length prefix first) and may hold only part of the message;
// the first question must be there. It does not allocate.
//
// It wants what real clients and servers send: a QUERY, NOTIFY or UPDATE
// opcode, the reserved Z bit clear, a query with rcode 0 or a response
// with an assigned rcode, 1 to 16 questions, a first question whose name
// is written out in full (nothing precedes it to point at) with labels
// free of control characters, a non-zero QTYPE and a real QCLASS
// (IN, CH, HS, NONE, ANY; mDNS's top bit allowed), and, when the whole
// message is present, room for every record the header announces.
func Looks(b []byte, tcp bool) bool {
	complete := true
	if tcp {
		if len(b) < 2 {
			return false
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n < minMessage {
			return false
		}
		if len(b) >= n {
			b = b[:n]
		} else {
			complete = false
		}
	}
	if len(b) < minMessage {
		return false
	}
	f1, f2 := b[2], b[3]
	switch (f1 >> 3) & 0x0f {
	case 0, 4, 5: // QUERY, NOTIFY, UPDATE
	default:
		return false
	}
	if f2&0x40 != 0 { // Z
		return false
	}
	rcode := f2 & 0x0f
	if f1&0x80 == 0 && rcode != 0 || rcode > 10 {
		return false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	if qd < 1 || qd > 16 {
		return false
	}
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))

	off, wire := HeaderLen, 1
	for {
		if off >= len(b) {
			return false
		}
		c := int(b[off])
		if c == 0 {
			off++
			break
		}
		if c > 63 || off+1+c > len(b) {
			return false // a pointer, a bad label type, or cut
		}
		if wire += 1 + c; wire > maxNameWire {
			return false
		}
		for _, x := range b[off+1 : off+1+c] {
			if x < 0x20 || x == 0x7f {
				return false
			}
		}
		off += 1 + c
	}
	if off+4 > len(b) {
		return false
	}
	if binary.BigEndian.Uint16(b[off:]) == 0 {
		return false
	}
	switch binary.BigEndian.Uint16(b[off+2:]) & 0x7fff {
	case 1, 3, 4, 254, 255:
	default:
		return false
	}
	off += 4
	// Every further question takes at least 5 bytes, every record 11.
	return !complete || len(b)-off >= (qd-1)*5+rrs*11
}
