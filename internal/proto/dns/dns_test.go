package dns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// Message builders for crafted inputs.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func hdr(id, flags, qd, an, ns, ar uint16) []byte {
	return cat(u16(id), u16(flags), u16(qd), u16(an), u16(ns), u16(ar))
}

// wname encodes a dotted name without compression; "" is the root.
func wname(s string) []byte {
	var b []byte
	if s != "" {
		for _, l := range strings.Split(s, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

func ptr(off int) []byte { return []byte{0xC0 | byte(off>>8), byte(off)} }

func quest(name []byte, typ, class uint16) []byte { return cat(name, u16(typ), u16(class)) }

func rrec(name []byte, typ, class uint16, ttl uint32, rdata []byte) []byte {
	return cat(name, u16(typ), u16(class), u32(ttl), u16(uint16(len(rdata))), rdata)
}

const (
	flagQR = 0x8000
	flagRD = 0x0100
	flagRA = 0x0080
)

// queryA is a typical stub query: www.example.com A with an EDNS OPT.
func queryA() []byte {
	return cat(hdr(0x1234, flagRD, 1, 0, 0, 1),
		quest(wname("www.example.com"), 1, 1),
		rrec(wname(""), 41, 1232, 0, nil))
}

// responseA answers queryA with a CNAME and two addresses.
func responseA() []byte {
	return cat(hdr(0x1234, flagQR|flagRD|flagRA, 1, 3, 0, 1),
		quest(wname("www.example.com"), 1, 1),
		rrec(ptr(12), 5, 1, 300, cat([]byte{3}, []byte("cdn"), ptr(16))),
		rrec(ptr(45), 1, 1, 60, []byte{192, 0, 2, 1}),
		rrec(ptr(45), 1, 1, 60, []byte{192, 0, 2, 2}),
		rrec(wname(""), 41, 1232, 0, nil))
}

func mustParse(t *testing.T, msg []byte) *Message {
	t.Helper()
	var m Message
	if err := Parse(msg, &m); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkInvariants(t, msg, &m, nil)
	return &m
}

func TestParseQueryResponse(t *testing.T) {
	m := mustParse(t, queryA())
	if m.ID != 0x1234 || m.Response || !m.RD || m.Opcode != 0 || m.Rcode != 0 {
		t.Errorf("header: %+v", m)
	}
	if len(m.Questions) != 1 || m.Questions[0] != (Question{"www.example.com", 1, 1}) {
		t.Errorf("questions: %+v", m.Questions)
	}
	if m.EDNS == nil || m.EDNS.UDPSize != 1232 || m.EDNS.DO || m.EDNS.ClientSubnet.IsValid() {
		t.Errorf("EDNS: %+v", m.EDNS)
	}

	m = mustParse(t, responseA())
	if !m.Response || !m.RA || m.ANCount != 3 {
		t.Errorf("header: %+v", m)
	}
	want := []RR{
		{Name: "www.example.com", Type: 5, Class: 1, TTL: 300, RDLength: 6, Data: "cdn.example.com"},
		{Name: "cdn.example.com", Type: 1, Class: 1, TTL: 60, RDLength: 4, Data: "192.0.2.1"},
		{Name: "cdn.example.com", Type: 1, Class: 1, TTL: 60, RDLength: 4, Data: "192.0.2.2"},
	}
	if len(m.Answers) != len(want) {
		t.Fatalf("answers: %+v", m.Answers)
	}
	for i := range want {
		if m.Answers[i] != want[i] {
			t.Errorf("answer %d = %+v, want %+v", i, m.Answers[i], want[i])
		}
	}
	if len(m.Additional) != 1 || m.Additional[0].Type != 41 || m.Additional[0].Name != "" {
		t.Errorf("additional: %+v", m.Additional)
	}
}

func TestHeaderFlags(t *testing.T) {
	// QR, opcode 5 (UPDATE), AA, TC, RD / RA, Z, AD, CD, rcode 3.
	msg := cat(hdr(7, 0x8000|5<<11|0x0400|0x0200|0x0100|0x80|0x40|0x20|0x10|3, 0, 0, 0, 0))
	m := mustParse(t, msg)
	if !(m.Response && m.Opcode == 5 && m.AA && m.TC && m.RD && m.RA && m.Z && m.AD && m.CD && m.Rcode == 3) {
		t.Errorf("flags: %+v", m)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire []byte
		want string
	}{
		{"lower-cased", wname("WwW.ExAmPlE.CoM"), "www.example.com"},
		{"root", wname(""), ""},
		{"dot and backslash in a label", cat([]byte{3, 'a', '.', 'b', 2, 'c', '\\'}, []byte{0}), `a\.b.c\\`},
		{"dig specials", cat([]byte{6, '"', '(', ')', ';', '@', '$'}, []byte{0}), `\"\(\)\;\@\$`},
		{"space, controls, high bytes", cat([]byte{5, ' ', 0, 0x7f, 0x80, 0xff}, []byte{0}), `\032\000\127\128\255`},
		{"underscore and hyphen", wname("_sip._udp.a-b.example"), "_sip._udp.a-b.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, cat(hdr(1, 0, 1, 0, 0, 0), quest(tc.wire, 1, 1)))
			if got := m.Questions[0].Name; got != tc.want {
				t.Errorf("name = %q, want %q", got, tc.want)
			}
		})
	}
}

// longName returns a wire name of exactly n bytes (n >= 2) without
// compression, made of 63-byte labels and one shorter one.
func longName(n int) []byte {
	var b []byte
	left := n - 1 // root byte
	for left > 0 {
		l := min(63, left-1)
		if left-(l+1) == 1 { // avoid leaving room for a label of 0 bytes
			l--
		}
		b = append(b, byte(l))
		b = append(b, bytes.Repeat([]byte{'x'}, l)...)
		left -= l + 1
	}
	return append(b, 0)
}

func TestNameLength(t *testing.T) {
	if n := len(longName(255)); n != 255 {
		t.Fatalf("longName(255) is %d bytes", n)
	}
	m := mustParse(t, cat(hdr(1, 0, 1, 0, 0, 0), quest(longName(255), 1, 1)))
	if len(m.Questions[0].Name) != 253 {
		t.Errorf("255-byte name gives %d characters", len(m.Questions[0].Name))
	}

	// 256 bytes: too long. The labels that fit are kept, type and class
	// still read, and the rest of the message still decoded.
	msg := cat(hdr(1, flagQR, 1, 1, 0, 0), quest(longName(256), 28, 1),
		rrec(wname("a.example"), 1, 1, 5, []byte{10, 0, 0, 1}))
	var m2 Message
	err := Parse(msg, &m2)
	if !errors.Is(err, ErrNameTooLong) {
		t.Fatalf("err = %v, want ErrNameTooLong", err)
	}
	checkInvariants(t, msg, &m2, err)
	q := m2.Questions[0]
	if q.Type != 28 || q.Class != 1 || len(q.Name) == 0 || len(q.Name) > 253 {
		t.Errorf("question = %q %d %d", q.Name, q.Type, q.Class)
	}
	if len(m2.Answers) != 1 || m2.Answers[0].Data != "10.0.0.1" || m2.Partial {
		t.Errorf("answers after the long name: %+v partial=%v", m2.Answers, m2.Partial)
	}
	var e *Error
	if !errors.As(err, &e) || e.Section != "question" || e.Index != 0 || e.Offset != 12 {
		t.Errorf("error context: %#v", e)
	}
}

func TestCompression(t *testing.T) {
	// Forward pointer: the first question points at the second's name,
	// as in suricata-verify dns-forward-pointer. Accepted.
	q2 := 12 + 2 + 4
	msg := cat(hdr(1, 0, 2, 0, 0, 0), quest(ptr(q2), 1, 1), quest(wname("codemonkey.net"), 1, 1))
	m := mustParse(t, msg)
	if m.Questions[0].Name != "codemonkey.net" || m.Questions[1].Name != "codemonkey.net" {
		t.Errorf("forward pointer: %+v", m.Questions)
	}

	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"self loop", cat(hdr(1, 0, 1, 0, 0, 0), quest(ptr(12), 1, 1)), ErrPointerLoop},
		{"two-step loop", cat(hdr(1, 0, 2, 0, 0, 0), quest(ptr(18), 1, 1), quest(ptr(12), 1, 1)), ErrPointerLoop},
		{"label then loop", cat(hdr(1, 0, 1, 0, 0, 0), quest(cat([]byte{1, 'a'}, ptr(12)), 1, 1)), ErrPointerLoop},
		{"into the header", cat(hdr(1, 0, 1, 0, 0, 0), quest(ptr(4), 1, 1)), ErrBadPointer},
		{"past the end", cat(hdr(1, 0, 1, 0, 0, 0), quest(ptr(0x3fff), 1, 1)), ErrBadPointer},
		{"cut pointer", cat(hdr(1, 0, 1, 0, 0, 0), []byte{0xC0}), ErrTruncated},
		{"label type 01", cat(hdr(1, 0, 1, 0, 0, 0), quest([]byte{0x41, 0}, 1, 1)), ErrLabelTooLong},
		{"label type 10", cat(hdr(1, 0, 1, 0, 0, 0), quest([]byte{0x80, 0}, 1, 1)), ErrLabelTooLong},
		{"label past the end", cat(hdr(1, 0, 1, 0, 0, 0), []byte{10, 'a', 'b'}), ErrTruncated},
		{"no root label", cat(hdr(1, 0, 1, 0, 0, 0), []byte{1, 'a'}), ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			err := Parse(tc.msg, &m)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			checkInvariants(t, tc.msg, &m, err)
			if len(m.Questions) != 0 || m.Partial {
				t.Errorf("questions %+v partial %v", m.Questions, m.Partial)
			}
		})
	}
}

// TestPointerHops: a chain of exactly MaxPointerHops pointers decodes,
// one more is a loop.
func TestPointerHops(t *testing.T) {
	// The question's name is a pointer to the end of a chain of
	// pointers, each to the previous one, the first to the name "a".
	chain := func(hops int) []byte {
		qlen := 2 + 4
		base := 12 + qlen
		b := cat(hdr(1, 0, 1, 0, 0, 0), quest(ptr(0), 1, 1), []byte{1, 'a', 0})
		prev := base
		for i := 0; i < hops-1; i++ {
			at := len(b)
			b = append(b, ptr(prev)...)
			prev = at
		}
		copy(b[12:], ptr(prev))
		return b
	}
	m := mustParse(t, chain(MaxPointerHops))
	if m.Questions[0].Name != "a" {
		t.Errorf("name %q", m.Questions[0].Name)
	}
	var m2 Message
	if err := Parse(chain(MaxPointerHops+1), &m2); !errors.Is(err, ErrPointerLoop) {
		t.Errorf("%d hops: err = %v, want ErrPointerLoop", MaxPointerHops+1, err)
	}
}

func TestTruncation(t *testing.T) {
	full := responseA()
	var m Message
	// Every prefix of a valid message: never a panic, ErrTruncated, and
	// Partial exactly when the questions are complete.
	qEnd := 12 + len(wname("www.example.com")) + 4
	for n := 0; n < len(full); n++ {
		err := Parse(full[:n], &m)
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix %d: err = %v", n, err)
		}
		checkInvariants(t, full[:n], &m, err)
		if m.Partial != (n >= qEnd) {
			t.Errorf("prefix %d: partial = %v", n, m.Partial)
		}
		if n >= HeaderLen && m.ID != 0x1234 {
			t.Errorf("prefix %d: header lost", n)
		}
	}
	// A name whole but type and class cut: the name is kept.
	err := Parse(full[:qEnd-2], &m)
	if !errors.Is(err, ErrTruncated) || len(m.Questions) != 1 || m.Questions[0].Name != "www.example.com" || m.Questions[0].Type != 0 {
		t.Errorf("cut question: %v %+v", err, m.Questions)
	}
	// Header only (counts announce more).
	if err := Parse(full[:HeaderLen], &m); !errors.Is(err, ErrTruncated) || m.QDCount != 1 {
		t.Errorf("header only: %v", err)
	}
	var e *Error
	if err := Parse(full[:5], &m); !errors.As(err, &e) || e.Section != "header" || err.Error() != "dns: message truncated (header)" {
		t.Errorf("short header: %v", err)
	}
}

func TestTooManyRecords(t *testing.T) {
	// 300 answers, then an OPT with ECS in the additional section: the
	// first MaxRecords answers are kept, the rest counted, EDNS found.
	var rrs [][]byte
	for i := range 300 {
		rrs = append(rrs, rrec(ptr(12), 1, 1, 1, []byte{10, 0, byte(i >> 8), byte(i)}))
	}
	ecs := cat(u16(8), u16(7), u16(1), []byte{24, 0}, []byte{198, 51, 100})
	msg := cat(hdr(9, flagQR, 1, 300, 0, 1), quest(wname("many.example"), 1, 1), bytes.Join(rrs, nil),
		rrec(wname(""), 41, 4096, 0, ecs))
	var m Message
	err := Parse(msg, &m)
	if !errors.Is(err, ErrTooManyRecords) {
		t.Fatalf("err = %v", err)
	}
	checkInvariants(t, msg, &m, err)
	if len(m.Answers) != MaxRecords || m.Skipped != 300-MaxRecords || !m.Partial {
		t.Errorf("answers %d skipped %d partial %v", len(m.Answers), m.Skipped, m.Partial)
	}
	if len(m.Additional) != 1 || m.EDNS == nil || m.EDNS.ClientSubnet != netip.MustParsePrefix("198.51.100.0/24") {
		t.Errorf("EDNS after skipped records: %+v", m.EDNS)
	}

	// Huge counts with nothing behind them allocate nothing but the
	// returned error.
	msg = hdr(1, flagQR, 0xffff, 0xffff, 0xffff, 0xffff)
	allocs := testing.AllocsPerRun(100, func() { _ = Parse(msg, &m) })
	if allocs > 1 {
		t.Errorf("%v allocations for a bare header with huge counts", allocs)
	}
}

func TestEDNS(t *testing.T) {
	opt := func(ttl uint32, opts ...[]byte) []byte {
		return cat(hdr(1, flagQR|2, 1, 0, 0, 1), quest(wname("e.example"), 1, 1), rrec(wname(""), 41, 1400, ttl, cat(opts...)))
	}
	ecsOpt := func(family uint16, src, scope byte, addr ...byte) []byte {
		return cat(u16(8), u16(uint16(4+len(addr))), u16(family), []byte{src, scope}, addr)
	}
	// Extended rcode 1 with header rcode 2: 0x12 = 18 (BADTIME); version
	// 0, DO set.
	m := mustParse(t, opt(0x01008000))
	if m.Rcode != 18 || m.EDNS.ExtRcode != 1 || !m.EDNS.DO || m.EDNS.Version != 0 || m.EDNS.UDPSize != 1400 {
		t.Errorf("rcode %d EDNS %+v", m.Rcode, m.EDNS)
	}
	if RcodeName(m.Rcode) != "BADTIME" {
		t.Errorf("RcodeName(%d) = %s", m.Rcode, RcodeName(m.Rcode))
	}
	for _, tc := range []struct {
		name  string
		opt   []byte
		want  string // "" = invalid
		scope uint8
	}{
		{"v6 /56", ecsOpt(2, 56, 0, 0x20, 0x01, 0x04, 0x70, 0x1f, 0x0b, 0x16), "2001:470:1f0b:1600::/56", 0},
		{"v4 /24 scope 16", ecsOpt(1, 24, 16, 192, 0, 2), "192.0.2.0/24", 16},
		{"v4 /0", ecsOpt(1, 0, 0), "0.0.0.0/0", 0},
		{"stray bits masked", ecsOpt(1, 20, 0, 192, 0, 255), "192.0.240.0/20", 0},
		{"family 3", ecsOpt(3, 8, 0, 1), "", 0},
		{"v4 /33", ecsOpt(1, 33, 0, 1, 2, 3, 4, 5), "", 0},
		{"v4 address too long", ecsOpt(1, 8, 0, 1, 2, 3, 4, 5), "", 0},
		{"short body", cat(u16(8), u16(2), u16(1)), "", 0},
		{"cookie then ECS", cat(u16(10), u16(8), make([]byte, 8), ecsOpt(1, 8, 0, 10)), "10.0.0.0/8", 0},
		{"option past rdata", cat(u16(8), u16(200), u16(1)), "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, opt(0, tc.opt))
			got := ""
			if m.EDNS.ClientSubnet.IsValid() {
				got = m.EDNS.ClientSubnet.String()
			}
			if got != tc.want || m.EDNS.ECSScope != tc.scope && tc.want != "" {
				t.Errorf("ECS = %q scope %d, want %q scope %d", got, m.EDNS.ECSScope, tc.want, tc.scope)
			}
		})
	}
}

func TestRData(t *testing.T) {
	soa := cat(wname("ns1.example"), wname("Host\\Master.example"), u32(2024010101), u32(7200), u32(3600), u32(1209600), u32(300))
	for _, tc := range []struct {
		name  string
		typ   uint16
		rdata []byte
		want  string
	}{
		{"A", 1, []byte{10, 1, 2, 3}, "10.1.2.3"},
		{"A wrong length", 1, []byte{10, 1, 2}, ""},
		{"AAAA", 28, []byte{0x20, 0x01, 0xd, 0xb8, 15: 1}, "2001:db8::1"},
		{"AAAA v4-mapped", 28, []byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1}, "::ffff:192.0.2.1"},
		{"CNAME", 5, wname("Target.Example"), "target.example"},
		{"NS pointer", 2, ptr(12), "q.example"},
		{"PTR root", 12, wname(""), "."},
		{"MX", 15, cat(u16(10), wname("mx.example")), "10 mx.example"},
		{"null MX", 15, cat(u16(0), wname("")), "0 ."},
		{"MX cut", 15, u16(10), ""},
		{"SRV", 33, cat(u16(1), u16(2), u16(5060), wname("sip.example")), "1 2 5060 sip.example"},
		{"SOA", 6, soa, `ns1.example host\\master.example 2024010101 7200 3600 1209600 300`},
		{"SOA cut", 6, soa[:len(soa)-1], ""},
		{"TXT", 16, cat([]byte{5}, []byte("v=spf"), []byte{0}, []byte{4, 'a', '"', '\\', 0x01}), `"v=spf" "" "a\"\\\001"`},
		{"TXT keeps case and spaces", 16, cat([]byte{7}, []byte("Hi, You")), `"Hi, You"`},
		{"TXT overrun", 16, []byte{5, 'a'}, ""},
		{"name past rdata", 5, wname("a.example")[:3], ""},
		{"other type", 99, []byte("anything"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := cat(hdr(1, flagQR, 1, 1, 0, 0), quest(wname("q.example"), tc.typ, 1), rrec(ptr(12), tc.typ, 1, 1, tc.rdata))
			m := mustParse(t, msg)
			rr := m.Answers[0]
			if rr.Data != tc.want || int(rr.RDLength) != len(tc.rdata) || rr.Name != "q.example" {
				t.Errorf("got %q (rdlength %d), want %q", rr.Data, rr.RDLength, tc.want)
			}
		})
	}
}

func TestQName2QName3(t *testing.T) {
	// pktvisor's aggregateDomain tests (src/handlers/dns/tests/
	// test_dns.cpp), for names as this package writes them (no trailing
	// dot, no empty labels): qname2 keeps the last two labels with a
	// leading dot, or the whole name when it has two labels or fewer;
	// qname3 keeps three with a leading dot, the whole name when it has
	// exactly three, else "".
	for _, tc := range []struct{ name, q2, q3 string }{
		{"biz.foo.bar.com", ".bar.com", ".foo.bar.com"},
		{"foo.bar.com", ".bar.com", "foo.bar.com"},
		{"a.b.c", ".b.c", "a.b.c"},
		{"a.com", "a.com", ""},
		{"a", "a", ""},
		{"", "", ""},
		{"sirius.mwbsys.com", ".mwbsys.com", "sirius.mwbsys.com"},
		{"a.b.test.com", ".test.com", ".b.test.com"},
		// Escaped dots do not separate labels; \DDD is one character.
		{`x.a\.b.com`, `.a\.b.com`, `x.a\.b.com`},
		{`a\\.b.com`, ".b.com", `a\\.b.com`},
		{`\046.b.com`, ".b.com", `\046.b.com`},
		{`a\.b\.c`, `a\.b\.c`, ""},
	} {
		if got := QName2(tc.name); got != tc.q2 {
			t.Errorf("QName2(%q) = %q, want %q", tc.name, got, tc.q2)
		}
		if got := QName3(tc.name); got != tc.q3 {
			t.Errorf("QName3(%q) = %q, want %q", tc.name, got, tc.q3)
		}
	}
}

func TestTypeRcodeNames(t *testing.T) {
	for typ, want := range map[uint16]string{
		1: "A", 28: "AAAA", 5: "CNAME", 15: "MX", 2: "NS", 12: "PTR", 6: "SOA", 16: "TXT", 33: "SRV",
		43: "DS", 48: "DNSKEY", 46: "RRSIG", 47: "NSEC", 50: "NSEC3", 65: "HTTPS", 64: "SVCB",
		257: "CAA", 255: "ANY", 41: "OPT", 0: "TYPE0", 123: "TYPE123", 65535: "TYPE65535", 32769: "DLV",
	} {
		if got := TypeName(typ); got != want {
			t.Errorf("TypeName(%d) = %q, want %q", typ, got, want)
		}
	}
	for rc, want := range map[uint16]string{
		0: "NOERROR", 1: "FORMERR", 2: "SRVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
		9: "NOTAUTH", 16: "BADVERS", 23: "BADCOOKIE", 12: "12", 4095: "4095",
	} {
		if got := RcodeName(rc); got != want {
			t.Errorf("RcodeName(%d) = %q, want %q", rc, got, want)
		}
	}
}

func TestSplitTCP(t *testing.T) {
	a, b := queryA(), responseA()
	frame := func(m []byte) []byte { return cat(u16(uint16(len(m))), m) }
	stream := cat(frame(a), frame(b), frame(nil), frame(a)[:7])
	var got [][]byte
	n := SplitTCP(stream, func(m []byte) bool { got = append(got, m); return true })
	if n != len(stream)-7 || len(got) != 3 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) || len(got[2]) != 0 {
		t.Fatalf("consumed %d of %d, %d messages", n, len(stream), len(got))
	}
	if cap(got[0]) != len(got[0]) {
		t.Errorf("message slice has spare capacity into the next message")
	}
	// Stopping early consumes through the message handed over.
	n = SplitTCP(stream, func([]byte) bool { return false })
	if n != 2+len(a) {
		t.Errorf("stop after first: consumed %d", n)
	}
	for _, s := range [][]byte{nil, {0}, {0, 5, 1, 2}} {
		if n := SplitTCP(s, func([]byte) bool { t.Error("called"); return true }); n != 0 {
			t.Errorf("SplitTCP(%v) = %d", s, n)
		}
	}
}

func TestLooks(t *testing.T) {
	tcp := func(m []byte) []byte { return cat(u16(uint16(len(m))), m) }
	q, r := queryA(), responseA()
	for _, tc := range []struct {
		name string
		b    []byte
		tcp  bool
		want bool
	}{
		{"query", q, false, true},
		{"response", r, false, true},
		{"tcp query", tcp(q), true, true},
		{"tcp first segment only", tcp(r)[:40], true, true},
		{"tcp cut in the question", tcp(r)[:20], true, false},
		{"short", q[:16], false, false},
		{"no question", hdr(1, flagQR, 0, 1, 0, 0), false, false},
		{"17 questions", cat(hdr(1, 0, 17, 0, 0, 0), quest(wname("a"), 1, 1)), false, false},
		{"Z set", cat(hdr(1, 0x0040, 1, 0, 0, 0), quest(wname("a.b"), 1, 1)), false, false},
		{"opcode 3", cat(hdr(1, 3<<11, 1, 0, 0, 0), quest(wname("a.b"), 1, 1)), false, false},
		{"query with rcode", cat(hdr(1, 3, 1, 0, 0, 0), quest(wname("a.b"), 1, 1)), false, false},
		{"response rcode 11", cat(hdr(1, flagQR|11, 1, 0, 0, 0), quest(wname("a.b"), 1, 1)), false, false},
		{"pointer in first name", cat(hdr(1, 0, 1, 0, 0, 0), quest(ptr(12), 1, 1), []byte{0, 0, 0}), false, false},
		{"control char", cat(hdr(1, 0, 1, 0, 0, 0), quest(wname("a\x01b.c"), 1, 1)), false, false},
		{"qtype 0", cat(hdr(1, 0, 1, 0, 0, 0), quest(wname("a.b"), 0, 1)), false, false},
		{"class 2", cat(hdr(1, 0, 1, 0, 0, 0), quest(wname("a.b"), 1, 2)), false, false},
		{"mDNS QU class", cat(hdr(0, 0, 1, 0, 0, 0), quest(wname("x.local"), 12, 0x8001)), false, true},
		{"announces records it lacks", cat(hdr(1, flagQR, 1, 3, 0, 0), quest(wname("a.b"), 1, 1)), false, false},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), false, false},
		{"TLS", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0}, true, false},
	} {
		if got := Looks(tc.b, tc.tcp); got != tc.want {
			t.Errorf("%s: Looks = %v, want %v", tc.name, got, tc.want)
		}
	}
	if a := testing.AllocsPerRun(100, func() { Looks(r, false) }); a != 0 {
		t.Errorf("Looks allocates %v", a)
	}
}

// TestLooksCorpus: every well-formed query and response with a question
// in the pktvisor fixtures looks like DNS, over UDP and TCP.
func TestLooksCorpus(t *testing.T) {
	msgs, _ := readMessages(t, "pktvisor/dns_udp_tcp_random.pcap", nil)
	var m Message
	for _, c := range msgs {
		if Parse(c.payload, &m) != nil || len(m.Questions) == 0 {
			continue
		}
		b := c.payload
		if c.tcp {
			b = cat(u16(uint16(len(b))), b)
		}
		if !Looks(b, c.tcp) {
			t.Fatalf("frame %d (tcp %v) does not look like DNS", c.frame, c.tcp)
		}
	}
}

func TestReuseAndAllocs(t *testing.T) {
	var m Message
	q, r := queryA(), responseA()
	_ = Parse(r, &m)
	_ = Parse(q, &m)
	// Nothing from the previous message survives.
	if len(m.Answers) != 0 || m.Response || len(m.Additional) != 1 {
		t.Errorf("stale state: %+v", m)
	}
	// Strings outlive the next Parse.
	name := m.Questions[0].Name
	_ = Parse(r, &m)
	if name != "www.example.com" {
		t.Errorf("string changed under us: %q", name)
	}
	// Steady state: the intern table serves every string.
	for _, msg := range [][]byte{q, r} {
		if a := testing.AllocsPerRun(100, func() { _ = Parse(msg, &m) }); a != 0 {
			t.Errorf("%v allocations per Parse in steady state", a)
		}
	}
}

// checkInvariants holds for every Parse result, whatever the input.
func checkInvariants(t testing.TB, msg []byte, m *Message, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not an *Error", err)
		}
		known := false
		for _, s := range []error{ErrTruncated, ErrPointerLoop, ErrBadPointer, ErrLabelTooLong, ErrNameTooLong, ErrTooManyRecords} {
			known = known || errors.Is(err, s)
		}
		if !known || e.Offset < 0 || e.Offset > len(msg) {
			t.Fatalf("error %v: unknown or bad offset", err)
		}
	}
	if len(msg) < HeaderLen {
		if err == nil || m.QDCount != 0 || len(m.Questions) != 0 {
			t.Fatalf("short message: err %v", err)
		}
		return
	}
	for _, s := range []struct {
		n     int
		count uint16
	}{{len(m.Questions), m.QDCount}, {len(m.Answers), m.ANCount}, {len(m.Authority), m.NSCount}, {len(m.Additional), m.ARCount}} {
		if s.n > int(s.count) || s.n > MaxRecords {
			t.Fatalf("section of %d entries for count %d", s.n, s.count)
		}
	}
	// Every entry takes at least 5 (question) or 11 (record) bytes.
	if HeaderLen+5*len(m.Questions)+11*(len(m.Answers)+len(m.Authority)+len(m.Additional)) > len(msg)+4 {
		t.Fatalf("more entries than bytes")
	}
	if err == nil && (m.Partial || m.Skipped != 0) {
		t.Fatalf("no error but partial %v skipped %d", m.Partial, m.Skipped)
	}
	if m.Partial && len(m.Questions) != int(min(m.QDCount, MaxRecords)) {
		t.Fatalf("partial with %d of %d questions", len(m.Questions), m.QDCount)
	}
	printable := func(s string, lo byte) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < lo || s[i] > 0x7e {
				return false
			}
		}
		return true
	}
	for _, q := range m.Questions {
		if !printable(q.Name, 0x21) || len(q.Name) > 4*maxNameWire {
			t.Fatalf("question name %q", q.Name)
		}
	}
	for _, sec := range [][]RR{m.Answers, m.Authority, m.Additional} {
		for _, rr := range sec {
			if !printable(rr.Name, 0x21) || len(rr.Name) > 4*maxNameWire || !printable(rr.Data, 0x20) || len(rr.Data) > 4*len(msg)+2 {
				t.Fatalf("record %q %q", rr.Name, rr.Data)
			}
		}
	}
	if m.EDNS != nil && m.EDNS != &m.edns {
		t.Fatalf("EDNS not the embedded one")
	}
}
