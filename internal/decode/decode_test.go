package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
)

// tc is one hand-built frame and what decoding it must give.
type tc struct {
	name    string
	link    uint16
	frame   []byte
	wireLen int // 0: len(frame)
	cfg     *Config
	status  Status
	reason  string // for StatusMalformed
	check   func(p *Packet) error
}

func runCases(t *testing.T, cases []tc) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if c.cfg != nil {
				cfg = *c.cfg
			}
			d := New(cfg)
			wl := c.wireLen
			if wl == 0 {
				wl = len(c.frame)
			}
			var p Packet
			st := d.Decode(c.link, c.frame, wl, 42, &p)
			if st != c.status {
				t.Fatalf("status %v (reason %v), want %v %s", st, d.reason, c.status, c.reason)
			}
			if st == StatusMalformed && d.reason.String() != c.reason {
				t.Fatalf("reason %v, want %s", d.reason, c.reason)
			}
			if c.check != nil {
				if err := c.check(&p); err != nil {
					t.Fatal(err)
				}
			}
			s := d.Stats()
			checkInvariants(t, c.name, s, cfg)
			if st == StatusMalformed && s.Malformed[c.reason] != 1 {
				t.Errorf("stats %v do not count %s", s.Malformed, c.reason)
			}
		})
	}
}

// is builds a check from field expectations written as pairs.
func is(pairs ...any) func(p *Packet) error {
	return func(p *Packet) error {
		for i := 0; i+1 < len(pairs); i += 2 {
			name := pairs[i].(string)
			var got any
			switch name {
			case "v":
				got = p.IPVersion
			case "src":
				got = p.SrcIP.String()
			case "dst":
				got = p.DstIP.String()
			case "proto":
				got = p.Proto
			case "sport":
				got = p.SrcPort
			case "dport":
				got = p.DstPort
			case "plen":
				got = p.PayloadLen
			case "cap":
				got = len(p.Payload)
			case "iplen":
				got = p.IPLen
			case "vlans":
				got = p.VLANs
			case "nvlans":
				got = p.NumVLANs
			case "mpls":
				got = p.MPLS
			case "pkttype":
				got = p.PktType
			case "tunnel":
				got = p.Tunnel
			case "tid":
				got = p.TunnelID
			case "icmp":
				got = [2]uint8{p.ICMPType, p.ICMPCode}
			case "flags":
				got = p.TCPFlags
			case "ttl":
				got = p.TTL
			case "frag":
				got = p.Fragmented
			default:
				return fmt.Errorf("unknown field %q", name)
			}
			if fmt.Sprint(got) != fmt.Sprint(pairs[i+1]) {
				return fmt.Errorf("%s = %v, want %v (packet %+v)", name, got, pairs[i+1], *p)
			}
		}
		return nil
	}
}

var (
	pkt4 = tcpPacket4(ip4Src, ip4Dst, 10)
	pkt6 = buildIPv6(ProtoTCP, nil, nil, cat(tcpHeader(1234, 443, TCPSyn, nil), make([]byte, 10)))
)

func le32(v uint32) []byte  { return binary.LittleEndian.AppendUint32(nil, v) }
func be32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func sllHeader(pkttype, hatype, proto uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, pkttype)
	b = binary.BigEndian.AppendUint16(b, hatype)
	b = binary.BigEndian.AppendUint16(b, 6)
	b = append(b, 1, 2, 3, 4, 5, 6, 0, 0)
	return binary.BigEndian.AppendUint16(b, proto)
}

func sll2Header(proto, hatype uint16, pkttype uint8) []byte {
	b := binary.BigEndian.AppendUint16(nil, proto)
	b = append(b, 0, 0, 0, 0, 0, 3)
	b = binary.BigEndian.AppendUint16(b, hatype)
	b = append(b, pkttype, 6, 1, 2, 3, 4, 5, 6, 0, 0)
	return b
}

func TestLinkTypes(t *testing.T) {
	v4 := is("v", 4, "src", "10.0.0.1", "dst", "10.0.0.2", "proto", 6, "sport", 1234, "dport", 443, "plen", 10, "cap", 10)
	v6 := is("v", 6, "src", "2001:db8::1", "dst", "2001:db8::2", "proto", 6, "flags", TCPSyn, "plen", 10)
	runCases(t, []tc{
		{name: "null AF_INET little endian", link: 0, frame: cat(le32(2), pkt4), status: StatusOK, check: v4},
		{name: "null AF_INET big endian", link: 0, frame: cat(be32b(2), pkt4), status: StatusOK, check: v4},
		{name: "null AF_INET6 24", link: 0, frame: cat(le32(24), pkt6), status: StatusOK, check: v6},
		{name: "null AF_INET6 28", link: 0, frame: cat(le32(28), pkt6), status: StatusOK, check: v6},
		{name: "null AF_INET6 30 big endian", link: 0, frame: cat(be32b(30), pkt6), status: StatusOK, check: v6},
		{name: "null other family", link: 0, frame: cat(le32(7), pkt4), status: StatusNotIP},
		{name: "null short", link: 0, frame: []byte{2, 0, 0}, status: StatusMalformed, reason: "null_short"},
		{name: "loop network order", link: 108, frame: cat(be32b(2), pkt4), status: StatusOK, check: v4},
		{name: "loop AF_INET6", link: 108, frame: cat(be32b(30), pkt6), status: StatusOK, check: v6},
		{name: "raw v4", link: 101, frame: pkt4, status: StatusOK, check: v4},
		{name: "raw v6", link: 101, frame: pkt6, status: StatusOK, check: v6},
		{name: "raw legacy 12", link: 12, frame: pkt4, status: StatusOK, check: v4},
		{name: "raw legacy 14", link: 14, frame: pkt6, status: StatusOK, check: v6},
		{name: "raw bad nibble", link: 101, frame: append([]byte{0x50}, pkt4[1:]...), status: StatusMalformed, reason: "ip_version"},
		{name: "raw empty", link: 101, frame: nil, status: StatusMalformed, reason: "raw_short"},
		{name: "ipv4 link", link: 228, frame: pkt4, status: StatusOK, check: v4},
		{name: "ipv4 link carrying v6", link: 228, frame: pkt6, status: StatusMalformed, reason: "ip_version"},
		{name: "ipv6 link", link: 229, frame: pkt6, status: StatusOK, check: v6},
		{name: "ipv6 link carrying v4", link: 229, frame: append(pkt4, make([]byte, 40)...), status: StatusMalformed, reason: "ip_version"},
		{name: "sll outgoing ipv4", link: 113, frame: cat(sllHeader(PktTypeOutgoing, 1, 0x0800), pkt4), status: StatusOK,
			check: func(p *Packet) error {
				if err := v4(p); err != nil {
					return err
				}
				return is("pkttype", PktTypeOutgoing)(p)
			}},
		{name: "sll ipv6 loopback", link: 113, frame: cat(sllHeader(PktTypeHost, 772, 0x86dd), pkt6), status: StatusOK, check: v6},
		{name: "sll vlan protocol", link: 113, frame: cat(sllHeader(PktTypeHost, 1, 0x8100), []byte{0, 42, 0x08, 0x00}, pkt4), status: StatusOK,
			check: is("vlans", [2]uint16{42, 0}, "nvlans", 1, "v", 4)},
		{name: "sll netlink", link: 113, frame: cat(sllHeader(PktTypeOutgoing, 824, 0x0800), pkt4), status: StatusNotIP},
		{name: "sll 802.2 pseudo protocol", link: 113, frame: cat(sllHeader(PktTypeHost, 1, 0x0004), pkt4), status: StatusNotIP},
		{name: "sll ipgre transparent bridging", link: 113, frame: cat(sllHeader(PktTypeHost, 778, 0x6558), eth(0x0800, pkt4)), status: StatusOK, check: v4},
		{name: "sll short", link: 113, frame: sllHeader(0, 1, 0x0800)[:15], status: StatusMalformed, reason: "sll_short"},
		{name: "sll2 broadcast", link: 276, frame: cat(sll2Header(0x0800, 1, PktTypeBroadcast), pkt4), status: StatusOK,
			check: func(p *Packet) error {
				if err := v4(p); err != nil {
					return err
				}
				return is("pkttype", PktTypeBroadcast)(p)
			}},
		{name: "sll2 short", link: 276, frame: sll2Header(0x0800, 1, 0)[:19], status: StatusMalformed, reason: "sll2_short"},
		{name: "ethernet pkttype unknown", link: 1, frame: eth(0x0800, pkt4), status: StatusOK, check: is("pkttype", PktTypeUnknown)},
		{name: "802.11 radiotap unsupported", link: 127, frame: pkt4, status: StatusUnsupportedLink},
		{name: "ppp unsupported", link: 9, frame: pkt4, status: StatusUnsupportedLink},
	})
}

func mplsLabel(label uint32, bottom bool) []byte {
	v := label<<12 | 64
	if bottom {
		v |= 0x100
	}
	return be32b(v)
}

func pppoe(proto uint16, payload []byte, lenField int) []byte {
	b := []byte{0x11, 0x00, 0x12, 0x34}
	b = binary.BigEndian.AppendUint16(b, uint16(lenField))
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, payload...)
}

func TestEthernet(t *testing.T) {
	tag := func(et uint16, vid uint16) []byte {
		return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, vid|0x2000), et)
	}
	padded := append(eth(0x8864, pppoe(0x0021, pkt4, len(pkt4)+2)), make([]byte, 20)...)
	runCases(t, []tc{
		{name: "arp", link: 1, frame: eth(0x0806, make([]byte, 28)), status: StatusNotIP},
		{name: "lldp", link: 1, frame: eth(0x88cc, make([]byte, 28)), status: StatusNotIP},
		{name: "802.3 length field", link: 1, frame: eth(1500, make([]byte, 46)), status: StatusNotIP},
		{name: "short", link: 1, frame: make([]byte, 13), status: StatusMalformed, reason: "ethernet_short"},
		{name: "vlan", link: 1, frame: eth(0x8100, cat(tag(0x0800, 100), pkt4)), status: StatusOK,
			check: is("vlans", [2]uint16{100, 0}, "nvlans", 1, "sport", 1234)},
		{name: "qinq three tags", link: 1, frame: eth(0x88a8, cat(tag(0x8100, 200), tag(0x8100, 100), tag(0x0800, 300), pkt4)), status: StatusOK,
			check: is("vlans", [2]uint16{200, 100}, "nvlans", 3, "v", 4)},
		{name: "qinq 0x9100", link: 1, frame: eth(0x9100, cat(tag(0x9200, 7), tag(0x86dd, 8), pkt6)), status: StatusOK,
			check: is("vlans", [2]uint16{7, 8}, "nvlans", 2, "v", 6)},
		{name: "vlan then arp", link: 1, frame: eth(0x8100, cat(tag(0x0806, 5), make([]byte, 28))), status: StatusNotIP},
		{name: "vlan cut", link: 1, frame: eth(0x8100, []byte{0, 1}), status: StatusMalformed, reason: "vlan_short"},
		{name: "mpls two labels", link: 1, frame: eth(0x8847, cat(mplsLabel(100, false), mplsLabel(200, true), pkt4)), status: StatusOK,
			check: is("mpls", 2, "v", 4, "dport", 443)},
		{name: "mpls ipv6", link: 1, frame: eth(0x8848, cat(mplsLabel(3, true), pkt6)), status: StatusOK, check: is("mpls", 1, "v", 6)},
		{name: "mpls pseudowire", link: 1, frame: eth(0x8847, cat(mplsLabel(3, true), []byte{0, 0, 0, 0}, eth(0x0800, pkt4))), status: StatusNotIP},
		{name: "mpls no bottom", link: 1, frame: eth(0x8847, cat(mplsLabel(1, false), mplsLabel(2, false))), status: StatusMalformed, reason: "mpls_short"},
		{name: "pppoe ipv4", link: 1, frame: eth(0x8864, pppoe(0x0021, pkt4, len(pkt4)+2)), status: StatusOK, check: is("v", 4, "plen", 10)},
		{name: "pppoe ipv6", link: 1, frame: eth(0x8864, pppoe(0x0057, pkt6, len(pkt6)+2)), status: StatusOK, check: is("v", 6)},
		{name: "pppoe padding", link: 1, frame: padded, status: StatusOK, check: is("v", 4, "cap", 10)},
		{name: "pppoe lcp", link: 1, frame: eth(0x8864, pppoe(0xc021, make([]byte, 10), 12)), status: StatusNotIP},
		{name: "pppoe short", link: 1, frame: eth(0x8864, []byte{0x11, 0, 0, 1, 0}), status: StatusMalformed, reason: "pppoe_short"},
		{name: "pppoe discovery", link: 1, frame: eth(0x8863, make([]byte, 20)), status: StatusNotIP},
	})
}

func TestIPv4(t *testing.T) {
	opts := []byte{1, 1, 1, 0} // NOP NOP NOP EOL
	tcp := tcpHeader(5, 6, TCPFin|TCPAck, nil)
	withOpts := cat(ipv4Header(ProtoTCP, len(tcp)+3, opts, ip4Src, ip4Dst), tcp, []byte("abc"))
	ihl4 := append([]byte(nil), pkt4...)
	ihl4[0] = 0x44
	short := append([]byte(nil), pkt4...)
	binary.BigEndian.PutUint16(short[2:], 10)
	tso := append([]byte(nil), pkt4...)
	binary.BigEndian.PutUint16(tso[2:], 0)
	udp := buildIPv4UDP(ip4Src, ip4Dst, 53, 5353, []byte("0123456789"))
	padded := append(eth(0x0800, udp), []byte("junkjunkjunkjunk")...) // 60-byte minimum frame
	v6in4 := append([]byte(nil), pkt4...)
	v6in4[0] = 0x65
	bigIHL := append([]byte(nil), pkt4[:30]...)
	bigIHL[0] = 0x4f
	long := append([]byte(nil), pkt4...)
	binary.BigEndian.PutUint16(long[2:], uint16(len(pkt4)+100))
	runCases(t, []tc{
		{name: "options", link: 1, frame: eth(0x0800, withOpts), status: StatusOK,
			check: is("sport", 5, "dport", 6, "flags", TCPFin|TCPAck, "plen", 3, "iplen", 24+20+3, "ttl", 64)},
		{name: "ihl below 5", link: 1, frame: eth(0x0800, ihl4), status: StatusMalformed, reason: "ipv4_ihl"},
		{name: "total length below ihl", link: 1, frame: eth(0x0800, short), status: StatusMalformed, reason: "ipv4_total_length"},
		{name: "total length 0 presumed TSO", link: 1, frame: eth(0x0800, tso), status: StatusOK, check: is("iplen", len(pkt4), "plen", 10)},
		{name: "total length 0 presumed TSO snapped", link: 1, frame: eth(0x0800, tso), wireLen: 14 + 3000, status: StatusOK,
			check: is("iplen", 3000, "plen", 3000-40, "cap", 10)},
		{name: "ethernet padding ignored", link: 1, frame: padded, status: StatusOK, check: is("plen", 10, "cap", 10, "iplen", 38)},
		{name: "version 6 under ethertype ipv4", link: 1, frame: eth(0x0800, v6in4), status: StatusMalformed, reason: "ip_version"},
		{name: "ihl past the capture", link: 1, frame: eth(0x0800, bigIHL), status: StatusMalformed, reason: "ipv4_header_short"},
		{name: "total length past an uncut frame", link: 1, frame: eth(0x0800, long), status: StatusMalformed, reason: "ipv4_total_length"},
		{name: "total length past a snapped frame", link: 1, frame: eth(0x0800, long), wireLen: 14 + len(long) + 100, status: StatusOK,
			check: is("plen", 110, "cap", 10)},
		{name: "header short", link: 101, frame: pkt4[:19], status: StatusMalformed, reason: "ipv4_header_short"},
	})
}

func TestIPv6(t *testing.T) {
	tcp := cat(tcpHeader(7, 8, TCPRst, nil), []byte("xyz"))
	ah := make([]byte, 24)
	ah[1] = 4 // (4+2)*4 = 24 bytes
	mobility := ext8(1)
	many := make([][]byte, 17)
	types := make([]uint8, 17)
	for i := range many {
		many[i] = ext8(1)
		types[i] = 60
	}
	atomic := make([]byte, 8) // offset 0, M = 0
	cutExt := buildIPv6(ProtoTCP, [][]byte{ext8(4)}, []uint8{0}, nil)
	binary.BigEndian.PutUint16(cutExt[4:], 8) // claims only 8 of the 32-byte header
	cutExt = cutExt[:48]
	long := append([]byte(nil), pkt6...)
	binary.BigEndian.PutUint16(long[4:], uint16(len(pkt6)))
	// A jumbogram: payload length 0, hop-by-hop Jumbo Payload option.
	const jumbo = 70000
	hbh := []byte{0, 0, 0xc2, 4, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hbh[4:], jumbo)
	jumboPkt := buildIPv6(ProtoUDP, [][]byte{hbh}, []uint8{0}, cat(udpHeader(9, 10, 0)[:4], []byte{0, 0, 0, 0}, []byte("jumbo")))
	binary.BigEndian.PutUint16(jumboPkt[4:], 0)
	runCases(t, []tc{
		{name: "hop-by-hop routing destination", link: 229, frame: buildIPv6(ProtoTCP, [][]byte{ext8(1), ext8(3), ext8(2)}, []uint8{0, 43, 60}, tcp),
			status: StatusOK, check: is("proto", 6, "sport", 7, "dport", 8, "flags", TCPRst, "plen", 3, "iplen", 40+48+23)},
		{name: "ah", link: 229, frame: buildIPv6(ProtoTCP, [][]byte{ah}, []uint8{51}, tcp), status: StatusOK, check: is("proto", 6, "plen", 3)},
		{name: "mobility then no next header", link: 229, frame: buildIPv6(59, [][]byte{mobility}, []uint8{135}, nil), status: StatusOK,
			check: is("proto", 59, "sport", 0, "plen", 0)},
		{name: "esp stops", link: 229, frame: buildIPv6(50, [][]byte{ext8(1)}, []uint8{60}, make([]byte, 40)), status: StatusOK,
			check: is("proto", 50, "sport", 0, "dport", 0, "plen", 40)},
		{name: "hip and shim6", link: 229, frame: buildIPv6(ProtoTCP, [][]byte{ext8(1), ext8(1)}, []uint8{139, 140}, tcp), status: StatusOK, check: is("proto", 6)},
		{name: "too many extension headers", link: 229, frame: buildIPv6(ProtoTCP, many, types, tcp), status: StatusMalformed, reason: "ipv6_ext_header"},
		{name: "atomic fragment", link: 229, frame: buildIPv6(ProtoTCP, [][]byte{atomic}, []uint8{44}, tcp), status: StatusOK,
			check: is("proto", 6, "sport", 7, "frag", false)},
		{name: "extension header past the packet", link: 229, frame: cutExt, status: StatusMalformed, reason: "ipv6_ext_header"},
		{name: "payload length past an uncut frame", link: 229, frame: long, status: StatusMalformed, reason: "ipv6_payload_length"},
		{name: "header short", link: 229, frame: pkt6[:39], status: StatusMalformed, reason: "ipv6_header_short"},
		{name: "jumbogram", link: 229, frame: jumboPkt, wireLen: 40 + jumbo, status: StatusOK,
			check: is("iplen", 40+jumbo, "proto", 17, "plen", jumbo-8-8, "cap", 5)},
	})
}

func TestTransport(t *testing.T) {
	ip := func(proto uint8, l4 []byte) []byte {
		return cat(ipv4Header(proto, len(l4), nil, ip4Src, ip4Dst), l4)
	}
	ipClaim := func(proto uint8, l4 []byte, claim int) []byte {
		return cat(ipv4Header(proto, claim, nil, ip4Src, ip4Dst), l4)
	}
	udpLen := func(n int, payload []byte) []byte {
		h := udpHeader(1000, 2000, 0)
		binary.BigEndian.PutUint16(h[4:], uint16(n))
		return cat(h, payload)
	}
	tcpOff := func(off uint8) []byte {
		h := tcpHeader(1, 2, 0, nil)
		h[12] = off << 4
		return h
	}
	ah := make([]byte, 12)
	ah[0], ah[1] = ProtoTCP, 1 // (1+2)*4 = 12
	sctp := make([]byte, 16)
	binary.BigEndian.PutUint16(sctp[0:], 2905)
	binary.BigEndian.PutUint16(sctp[2:], 3868)
	runCases(t, []tc{
		{name: "icmp echo", link: 101, frame: ip(ProtoICMP, []byte{8, 0, 0, 0, 0, 1, 0, 2, 'p', 'i', 'n', 'g'}), status: StatusOK,
			check: is("icmp", [2]uint8{8, 0}, "plen", 4, "sport", 0)},
		{name: "icmp short", link: 101, frame: ip(ProtoICMP, []byte{3, 1, 0, 0}), status: StatusMalformed, reason: "icmp_header_short"},
		{name: "icmpv6", link: 229, frame: buildIPv6(ProtoICMPv6, nil, nil, []byte{128, 0, 0, 0, 0, 1, 0, 1}), status: StatusOK,
			check: is("icmp", [2]uint8{128, 0}, "plen", 0)},
		{name: "sctp", link: 101, frame: ip(ProtoSCTP, sctp), status: StatusOK, check: is("sport", 2905, "dport", 3868, "plen", 4)},
		{name: "sctp short", link: 101, frame: ip(ProtoSCTP, sctp[:11]), status: StatusMalformed, reason: "sctp_header_short"},
		{name: "udp length 0 uses ip length", link: 101, frame: ip(ProtoUDP, udpLen(0, []byte("abcd"))), status: StatusOK, check: is("plen", 4, "cap", 4)},
		{name: "udp length below 8", link: 101, frame: ip(ProtoUDP, udpLen(7, []byte("abcd"))), status: StatusMalformed, reason: "udp_length"},
		{name: "udp length past ip payload", link: 101, frame: ip(ProtoUDP, udpLen(13, []byte("abcd"))), status: StatusMalformed, reason: "udp_length"},
		{name: "udp length below ip payload", link: 101, frame: ip(ProtoUDP, udpLen(10, []byte("abcd"))), status: StatusOK, check: is("plen", 2, "cap", 2)},
		{name: "udp short", link: 101, frame: ip(ProtoUDP, udpLen(8, nil)[:7]), status: StatusMalformed, reason: "udp_header_short"},
		{name: "udp snapped", link: 101, frame: ipClaim(ProtoUDP, udpLen(1008, []byte("ab")), 1008), wireLen: 1028, status: StatusOK,
			check: is("plen", 1000, "cap", 2, "iplen", 1028)},
		{name: "tcp data offset below 5", link: 101, frame: ip(ProtoTCP, tcpOff(4)), status: StatusMalformed, reason: "tcp_data_offset"},
		{name: "tcp data offset past ip payload", link: 101, frame: ip(ProtoTCP, cat(tcpOff(15), make([]byte, 20))), status: StatusMalformed, reason: "tcp_data_offset"},
		{name: "tcp options cut by snaplen", link: 101, frame: ipClaim(ProtoTCP, tcpOff(15)[:20], 60), wireLen: 80, status: StatusMalformed, reason: "tcp_header_short"},
		{name: "tcp seq ack window", link: 101, frame: pkt4, status: StatusOK,
			check: func(p *Packet) error {
				if p.Seq != 1000 || p.Ack != 2000 || p.Window != 65535 || p.TCPFlags != TCPAck {
					return fmt.Errorf("seq %d ack %d win %d flags %#x", p.Seq, p.Ack, p.Window, p.TCPFlags)
				}
				return nil
			}},
		{name: "ipv4 ah", link: 101, frame: ip(51, cat(ah, tcpHeader(3, 4, TCPSyn, nil))), status: StatusOK, check: is("proto", 6, "sport", 3, "plen", 0)},
		{name: "ipv4 ah short", link: 101, frame: ip(51, ah[:8]), status: StatusMalformed, reason: "ah_header"},
		{name: "ospf opaque", link: 101, frame: ip(89, make([]byte, 44)), status: StatusOK, check: is("proto", 89, "plen", 44, "sport", 0)},
	})
}

// Truncating a valid frame at every length must never panic, and must give
// the reason of the header the cut falls in. With the wire length kept, the
// cut looks like a snaplen; with the wire length equal to the cut, the IP
// length field is a lie.
func TestTruncationTCP(t *testing.T) {
	frame := buildEthIPv4TCP(nil) // 14 + 20 + 32 (TCP with options) + 33
	if len(frame) != 99 {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	d := New(DefaultConfig())
	var p Packet
	for n := 0; n <= len(frame); n++ {
		for _, snapped := range []bool{true, false} {
			wl := n
			if snapped {
				wl = len(frame)
			}
			st := d.Decode(1, frame[:n], wl, 1, &p)
			want := ""
			switch {
			case n < 14:
				want = "ethernet_short"
			case n < 34:
				want = "ipv4_header_short"
			case !snapped && n < len(frame):
				want = "ipv4_total_length"
			case n < 66:
				want = "tcp_header_short"
			}
			if want == "" {
				if st != StatusOK || len(p.Payload) != n-66 || p.PayloadLen != 33 || p.SrcPort != 40000 {
					t.Errorf("cut %d snapped %v: %v payload %d/%d", n, snapped, st, len(p.Payload), p.PayloadLen)
				}
				continue
			}
			if st != StatusMalformed || d.reason.String() != want {
				t.Errorf("cut %d snapped %v: %v %v, want %s", n, snapped, st, d.reason, want)
			}
		}
	}
	checkInvariants(t, "truncation", d.Stats(), DefaultConfig())
}

func TestTruncationVXLAN(t *testing.T) {
	frame := buildVXLAN(0x123456)
	if len(frame) != 129 {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	d := New(DefaultConfig())
	var p Packet
	for n := 0; n <= len(frame); n++ {
		st := d.Decode(1, frame[:n], len(frame), 1, &p)
		want := ""
		switch {
		case n < 14:
			want = "ethernet_short"
		case n < 34:
			want = "ipv4_header_short"
		case n < 42:
			want = "udp_header_short"
		case n < 50:
			want = "vxlan_short"
		case n < 64:
			want = "ethernet_short"
		case n < 84:
			want = "ipv4_header_short"
		case n < 116:
			want = "tcp_header_short"
		}
		if want == "" {
			if st != StatusOK || p.Tunnel != TunnelVXLAN || p.TunnelID != 0x123456 || p.SrcIP != netip.MustParseAddr("192.168.1.1") ||
				len(p.Payload) != n-116 || p.PayloadLen != 13 {
				t.Errorf("cut %d: %v %+v", n, st, p)
			}
			continue
		}
		if st != StatusMalformed || d.reason.String() != want {
			t.Errorf("cut %d: %v %v, want %s", n, st, d.reason, want)
		}
	}
	checkInvariants(t, "vxlan truncation", d.Stats(), DefaultConfig())
}

func TestTruncationIPv6Ext(t *testing.T) {
	frame := eth(0x86dd, buildIPv6(ProtoTCP, [][]byte{ext8(1), ext8(2)}, []uint8{0, 60}, cat(tcpHeader(1, 2, 0, nil), make([]byte, 10))))
	if len(frame) != 108 {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	d := New(DefaultConfig())
	var p Packet
	for n := 0; n <= len(frame); n++ {
		st := d.Decode(1, frame[:n], len(frame), 1, &p)
		want := ""
		switch {
		case n < 14:
			want = "ethernet_short"
		case n < 54:
			want = "ipv6_header_short"
		case n < 78:
			want = "ipv6_ext_header"
		case n < 98:
			want = "tcp_header_short"
		}
		if want == "" {
			if st != StatusOK || len(p.Payload) != n-98 || p.PayloadLen != 10 {
				t.Errorf("cut %d: %v %+v", n, st, p)
			}
			continue
		}
		if st != StatusMalformed || d.reason.String() != want {
			t.Errorf("cut %d: %v %v, want %s", n, st, d.reason, want)
		}
	}
}
