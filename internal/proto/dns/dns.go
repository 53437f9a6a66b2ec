// Package dns decodes DNS messages (RFC 1035 and its extensions) captured
// off the wire, and pairs them into transactions for the probe.
//
// The message layer: Parse turns one UDP payload or one TCP-framed message
// into a Message, SplitTCP cuts a reassembled TCP byte stream into
// messages, Looks tells whether bytes on an unknown port are DNS, and
// TypeName, RcodeName, QName2 and QName3 give the labels pktvisor's DNS
// summaries use.
//
// The transaction layer: Protocol ("dns", UDP and TCP, ports 53, 5353 and
// 5355 as hints, detected by content) and its parser. Over UDP each
// datagram is a message; over TCP messages are framed by their 2-byte
// length, several per segment or one across many, decoded in place when
// they lie whole in a Data call and buffered (up to Context.MaxMessage)
// otherwise; a longer message is reported from its first MaxMessage bytes
// and the rest is passed over, its length still counted. After a gap or a
// mid-stream start the parser looks for the next position where Looks
// sees a message, counting the bytes before it as DropResync. A response
// is paired with a pending query of the same flow sent the other way with
// the same id and, when both carry one, the same first question; a retry
// of a pending query (same id and question) replaces it, as in pktvisor.
//
// Every message is in exactly one transaction, so message counts are
// recoverable from transactions (pktvisor's dns.wire_packets): a query
// and its response are one transaction (ReqTS and RespTS set); a query
// never answered is one with OutcomeNoResponse (emitted when a response
// can no longer come: after Context.Timeout of packet time, when
// MaxPending queries are newer, when a retry replaces it, at End); a
// response whose query was not seen is one with OutcomeNoRequest. Queries
// = transactions with ReqTS, responses = transactions with RespTS.
// Messages shorter than a header are dropped (DropMalformed).
//
// What a transaction holds:
//
//	Op      the first question's QTYPE mnemonic ("A", "AAAA", "TYPE65280")
//	Target  the first question's name, lower-cased, escaped like dig,
//	        without the trailing dot ("" is the root)
//	Status  the response code as pktvisor names it ("NOERROR", "NXDOMAIN",
//	        "SRVFAIL", "REFUSED", ...), with EDNS's extended bits
//	Outcome NOERROR ok; SRVFAIL server_error; every other code
//	        (NXDOMAIN, FORMERR, NOTIMP, REFUSED, ...) client_error
//	ReqBytes, RespBytes  message sizes (TCP: with the length prefix)
//
// and these Fields, in this order, each only when it applies:
//
//	id                  the message id, decimal
//	qclass              class of the first question (IN, CH, HS, NONE, ANY, CLASSn)
//	answers             answer records in the response, decimal
//	answer              the first answers as "CNAME x.example, A 192.0.2.1"
//	                    (at most 8, about 1 KiB)
//	truncated           "true": the response has the TC bit
//	edns_client_subnet  the query's EDNS Client Subnet ("192.0.2.0/24")
//	opcode              when not QUERY: IQUERY, STATUS, NOTIFY, UPDATE, DSO, n
//	malformed           why the message could not be decoded in full
//	                    ("message truncated", "compression pointer loop", ...)
//
// DNS carries no credentials, so nothing is redacted.
//
// Every byte is treated as hostile: counts in the header are never used
// to size anything, compression pointers are bounded, names are capped at
// 255 wire bytes and escaped before they leave the package, and no input
// makes the decoder panic or loop. Parse reuses the Message's slices and
// buffers, so in steady state the only allocations are the strings it
// returns, and a small per-Message intern table removes most of those;
// the transaction parser does not allocate at all in steady state (it
// decodes into its own buffers, and its state is recycled between flows).
package dns

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// Errors returned by Parse, wrapped in an *Error that says where they
// happened; test for them with errors.Is.
var (
	// ErrTruncated: the message ends before a field it announces (a header
	// shorter than 12 bytes, a question or record cut short, RDLENGTH
	// running past the end).
	ErrTruncated = errors.New("dns: message truncated")
	// ErrPointerLoop: a name follows more than MaxPointerHops compression
	// pointers, which only a loop or a hostile message needs.
	ErrPointerLoop = errors.New("dns: compression pointer loop")
	// ErrBadPointer: a compression pointer points outside the message.
	ErrBadPointer = errors.New("dns: compression pointer out of range")
	// ErrLabelTooLong: a label length byte is 64..191, i.e. uses one of
	// the reserved or obsolete (RFC 6891 §5) label types.
	ErrLabelTooLong = errors.New("dns: label longer than 63 bytes")
	// ErrNameTooLong: a name is longer than 255 bytes on the wire. The
	// labels that fit are kept, and decoding carries on after the name.
	ErrNameTooLong = errors.New("dns: name longer than 255 bytes")
	// ErrTooManyRecords: a section holds more than MaxRecords entries.
	// The excess entries are walked (so later sections and EDNS are still
	// found) but not stored, and Message.Skipped counts them.
	ErrTooManyRecords = errors.New("dns: too many records in a section")
)

const (
	// HeaderLen is the size of the fixed DNS header.
	HeaderLen = 12
	// MaxRecords caps the entries decoded per section (questions, answers,
	// authority, additional). Header counts are attacker-controlled, so
	// the slices only ever grow with records actually present, and never
	// beyond this.
	MaxRecords = 256
	// MaxPointerHops caps the compression pointers followed in one name.
	// A legitimate name needs at most one per label (127); more means a
	// loop. Forward pointers are accepted (some encoders emit them, see
	// suricata-verify dns-forward-pointer); this bound is what keeps them,
	// and loops, from costing more than a fixed amount of work.
	MaxPointerHops = 128
	// maxNameWire is RFC 1035's limit on a name's wire length.
	maxNameWire = 255
)

// Error says where in a message decoding failed. Err is one of the Err*
// values above.
type Error struct {
	Section string // "header", "question", "answer", "authority", "additional"
	Index   int    // entry within the section
	Offset  int    // byte offset in the message where the entry starts
	Err     error
}

func (e *Error) Error() string {
	if e.Section == "header" {
		return e.Err.Error() + " (header)"
	}
	return e.Err.Error() + " (" + e.Section + " " + strconv.Itoa(e.Index) + " at offset " + strconv.Itoa(e.Offset) + ")"
}

func (e *Error) Unwrap() error { return e.Err }

// Question is one entry of the question section.
type Question struct {
	// Name is lower-cased, without the trailing dot ("" is the root), and
	// escaped like dig: '.' inside a label and the characters "();@$\ get
	// a backslash, bytes outside 0x21..0x7e become \DDD.
	Name  string
	Type  uint16
	Class uint16 // raw: mDNS sets the top bit (unicast-response)
}

// RR is one resource record of the answer, authority or additional section.
type RR struct {
	Name     string // as Question.Name
	Type     uint16
	Class    uint16 // raw; for OPT it is the UDP payload size
	TTL      uint32 // raw; for OPT it holds the extended rcode, version and flags
	RDLength uint16
	// Data is the record data rendered compactly, dig-like: A and AAAA as
	// address text; CNAME, NS, PTR as a name; MX "pref host"; SRV "prio
	// weight port target"; SOA "mname rname serial refresh retry expire
	// minimum"; TXT as quoted, escaped strings separated by spaces. A name
	// inside Data that is the root shows as ".". Other types, and data
	// that does not fit its type, give "" (RDLength still says how long
	// it was).
	Data string
}

// EDNS holds what the OPT pseudo-record (RFC 6891) carries.
type EDNS struct {
	UDPSize  uint16 // requestor's payload size (the OPT class)
	ExtRcode uint8  // upper 8 bits of the 12-bit rcode, already folded into Message.Rcode
	Version  uint8
	DO       bool // DNSSEC OK
	// ClientSubnet is the EDNS Client Subnet option (RFC 7871, option 8):
	// the address masked to the source prefix length. It is the zero
	// Prefix (IsValid false) when the option is absent or malformed.
	ClientSubnet netip.Prefix
	ECSScope     uint8 // scope prefix length of the ECS option
}

// Message is a decoded DNS message. Reuse one Message across Parse calls:
// its slices and buffers are recycled, so the strings it hands out are
// the only allocations (and repeated names come from an intern table).
// Strings stay valid after the next Parse; slices and EDNS do not.
type Message struct {
	ID                     uint16
	Response               bool
	Opcode                 uint8
	Rcode                  uint16 // 4-bit header rcode, extended with EDNS's upper 8 bits when an OPT record is present
	AA, TC, RD, RA, AD, CD bool
	Z                      bool // the reserved header bit; set only by broken or crafted messages

	// Counts as written in the header. Hostile input: they are reported,
	// never trusted for allocation; compare with the slice lengths to see
	// what was really there.
	QDCount, ANCount, NSCount, ARCount uint16

	Questions  []Question
	Answers    []RR
	Authority  []RR
	Additional []RR // includes the OPT record, if any
	EDNS       *EDNS

	// Partial: the header and every question were decoded, but some
	// resource records were not (cut short, malformed, or beyond
	// MaxRecords).
	Partial bool
	// Skipped counts entries present in the message but not stored
	// because their section exceeded MaxRecords.
	Skipped int

	edns  EDNS
	buf   []byte              // rendering scratch for names and data
	names *[internSize]string // intern table, allocated on first use
}

// Parse decodes one DNS message: a UDP payload, or one TCP message without
// its 2-byte length prefix. It never panics and never reads outside msg.
//
// On error m still holds everything that could be decoded: the header
// fields whenever len(msg) >= HeaderLen, the questions decoded before the
// error (len(m.Questions) < int(m.QDCount) shows some are missing), and
// the records; Partial says the questions are complete but some records
// are not. ErrNameTooLong and ErrTooManyRecords do not stop decoding;
// other errors do. When several problems occur, the first is returned.
func Parse(msg []byte, m *Message) error {
	m.reset()
	if len(msg) < HeaderLen {
		return &Error{Section: "header", Err: ErrTruncated}
	}
	m.ID = binary.BigEndian.Uint16(msg[0:])
	f1, f2 := msg[2], msg[3]
	m.Response = f1&0x80 != 0
	m.Opcode = (f1 >> 3) & 0x0f
	m.AA = f1&0x04 != 0
	m.TC = f1&0x02 != 0
	m.RD = f1&0x01 != 0
	m.RA = f2&0x80 != 0
	m.Z = f2&0x40 != 0
	m.AD = f2&0x20 != 0
	m.CD = f2&0x10 != 0
	m.Rcode = uint16(f2 & 0x0f)
	m.QDCount = binary.BigEndian.Uint16(msg[4:])
	m.ANCount = binary.BigEndian.Uint16(msg[6:])
	m.NSCount = binary.BigEndian.Uint16(msg[8:])
	m.ARCount = binary.BigEndian.Uint16(msg[10:])

	d := decoder{msg: msg, m: m}
	off := HeaderLen

	// Questions.
	for i := 0; i < int(m.QDCount); i++ {
		start := off
		if i >= MaxRecords {
			next, err := skipName(msg, off)
			if err == nil && next+4 > len(msg) {
				err = ErrTruncated
			}
			if err != nil {
				return d.fail("question", i, start, err)
			}
			off = next + 4
			m.Skipped++
			d.soft("question", i, start, ErrTooManyRecords)
			continue
		}
		name, next, err := d.name(off)
		if err != nil && err != ErrNameTooLong {
			return d.fail("question", i, start, err)
		}
		if err != nil {
			d.soft("question", i, start, err)
		}
		if next+4 > len(msg) {
			// The name is whole but type and class are cut: keep the name
			// (with Type and Class 0), it is what summaries count.
			m.Questions = append(m.Questions, Question{Name: name})
			return d.fail("question", i, start, ErrTruncated)
		}
		m.Questions = append(m.Questions, Question{
			Name:  name,
			Type:  binary.BigEndian.Uint16(msg[next:]),
			Class: binary.BigEndian.Uint16(msg[next+2:]),
		})
		off = next + 4
	}

	// Resource records. From here on the message is usable even if cut.
	sections := [3]struct {
		name  string
		count uint16
		dst   *[]RR
	}{
		{"answer", m.ANCount, &m.Answers},
		{"authority", m.NSCount, &m.Authority},
		{"additional", m.ARCount, &m.Additional},
	}
	for _, s := range sections {
		for i := 0; i < int(s.count); i++ {
			start := off
			next, err := d.rr(off, s.dst, i < MaxRecords)
			if err != nil && err != ErrNameTooLong {
				m.Partial = true
				return d.fail(s.name, i, start, err)
			}
			if err != nil {
				d.soft(s.name, i, start, err)
			}
			if i >= MaxRecords {
				m.Skipped++
				m.Partial = true
				d.soft(s.name, i, start, ErrTooManyRecords)
			}
			off = next
		}
	}
	return d.first
}

func (m *Message) reset() {
	// Stale strings beyond the slices' lengths are left for append to
	// overwrite; they are unreachable through the API.
	q, an, ns, ar, buf, names := m.Questions[:0], m.Answers[:0], m.Authority[:0], m.Additional[:0], m.buf[:0], m.names
	if cap(buf) > maxKeptBuf {
		buf = nil // one huge TXT record should not pin its buffer forever
	}
	*m = Message{Questions: q, Answers: an, Authority: ns, Additional: ar, buf: buf, names: names}
}

// maxKeptBuf is the largest rendering buffer kept between messages.
const maxKeptBuf = 16 << 10

// decoder carries the per-call state of Parse.
type decoder struct {
	msg   []byte
	m     *Message
	first error // first error seen, returned at the end for soft errors
	// seen remembers names already decoded in this message by the offset
	// where they start, so that a name that is just a compression pointer
	// to one of them (the usual answer owner name) costs a lookup.
	seen  [8]seenName
	nseen int
}

type seenName struct {
	off  int
	name string
}

// remember records that the name starting at off reads name.
func (d *decoder) remember(off int, name string) {
	d.seen[d.nseen%len(d.seen)] = seenName{off, name}
	d.nseen++
}

// recall returns the name already decoded at off, if any.
func (d *decoder) recall(off int) (string, bool) {
	for i := range min(d.nseen, len(d.seen)) {
		if d.seen[i].off == off {
			return d.seen[i].name, true
		}
	}
	return "", false
}

func (d *decoder) soft(section string, i, off int, err error) {
	if d.first == nil {
		d.first = &Error{Section: section, Index: i, Offset: off, Err: err}
	}
}

func (d *decoder) fail(section string, i, off int, err error) error {
	d.soft(section, i, off, err)
	return d.first
}

// rr decodes (store) or walks (!store) one resource record at off and
// returns the offset after it. Errors from the record's data are not
// reported: RDLENGTH still locates the next record, and Data is "".
func (d *decoder) rr(off int, dst *[]RR, store bool) (int, error) {
	msg := d.msg
	var (
		name    string
		next    int
		nameErr error
	)
	if store {
		name, next, nameErr = d.name(off)
		if nameErr != nil && nameErr != ErrNameTooLong {
			return off, nameErr
		}
	} else {
		var err error
		if next, err = skipName(msg, off); err != nil {
			return off, err
		}
	}
	if next+10 > len(msg) {
		return off, ErrTruncated
	}
	typ := binary.BigEndian.Uint16(msg[next:])
	class := binary.BigEndian.Uint16(msg[next+2:])
	ttl := binary.BigEndian.Uint32(msg[next+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
	rdata := next + 10
	end := rdata + rdlen
	if end > len(msg) {
		return off, ErrTruncated
	}
	if typ == typeOPT && d.m.EDNS == nil {
		d.opt(class, ttl, msg[rdata:end])
	}
	if store {
		*dst = append(*dst, RR{
			Name:     name,
			Type:     typ,
			Class:    class,
			TTL:      ttl,
			RDLength: uint16(rdlen),
			Data:     d.rdata(typ, rdata, end),
		})
	}
	return end, nameErr
}

// opt records the first OPT pseudo-record.
func (d *decoder) opt(class uint16, ttl uint32, rdata []byte) {
	e := &d.m.edns
	e.UDPSize = class
	e.ExtRcode = uint8(ttl >> 24)
	e.Version = uint8(ttl >> 16)
	e.DO = ttl&0x8000 != 0
	d.m.EDNS = e
	d.m.Rcode |= uint16(e.ExtRcode) << 4
	for len(rdata) >= 4 {
		code := binary.BigEndian.Uint16(rdata)
		n := int(binary.BigEndian.Uint16(rdata[2:]))
		if 4+n > len(rdata) {
			return
		}
		if code == optClientSubnet && !e.ClientSubnet.IsValid() {
			e.ClientSubnet, e.ECSScope = parseECS(rdata[4 : 4+n])
		}
		rdata = rdata[4+n:]
	}
}

const optClientSubnet = 8

// parseECS decodes an RFC 7871 option body; a malformed one gives the
// zero Prefix.
func parseECS(b []byte) (netip.Prefix, uint8) {
	if len(b) < 4 {
		return netip.Prefix{}, 0
	}
	family := binary.BigEndian.Uint16(b)
	bits, scope := int(b[2]), b[3]
	addr := b[4:]
	var ip netip.Addr
	switch family {
	case 1:
		if bits > 32 || len(addr) > 4 {
			return netip.Prefix{}, 0
		}
		var a [4]byte
		copy(a[:], addr)
		ip = netip.AddrFrom4(a)
	case 2:
		if bits > 128 || len(addr) > 16 {
			return netip.Prefix{}, 0
		}
		var a [16]byte
		copy(a[:], addr)
		ip = netip.AddrFrom16(a)
	default:
		return netip.Prefix{}, 0
	}
	// RFC 7871 wants the bits past the prefix zero; mask rather than trust.
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, 0
	}
	return p, scope
}
