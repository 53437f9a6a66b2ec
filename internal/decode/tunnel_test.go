package decode

import (
	"encoding/binary"
	"testing"
)

func TestTunnels(t *testing.T) {
	inner4 := tcpPacket4([4]byte{192, 168, 0, 1}, [4]byte{192, 168, 0, 2}, 5)
	innerEth := eth(0x0800, inner4)
	arp := eth(0x0806, make([]byte, 28))
	key := uint32(0xdeadbeef)
	k7 := uint32(7)
	in := is("v", 4, "src", "192.168.0.1", "dst", "192.168.0.2", "proto", 6, "sport", 1234, "dport", 443, "plen", 5)
	and := func(fs ...func(*Packet) error) func(*Packet) error {
		return func(p *Packet) error {
			for _, f := range fs {
				if err := f(p); err != nil {
					return err
				}
			}
			return nil
		}
	}
	tun := func(tt TunnelType, id uint32) func(*Packet) error { return is("tunnel", tt, "tid", id) }

	erspan2 := func(session uint16) []byte {
		h := make([]byte, 8)
		binary.BigEndian.PutUint16(h[0:], 0x1000|42) // version 1, VLAN 42
		binary.BigEndian.PutUint16(h[2:], session)
		return h
	}
	erspan3 := func(session uint16, ft uint8, o bool) []byte {
		h := make([]byte, 12)
		binary.BigEndian.PutUint16(h[0:], 0x2000)
		binary.BigEndian.PutUint16(h[2:], session)
		h[10] = ft << 2
		if o {
			h[11] = 1
			h = append(h, make([]byte, 8)...)
		}
		return h
	}
	gpe := func(np uint8, vni uint32) []byte {
		h := vxlanHdr(vni)
		h[0] = 0x0c // I and P
		h[3] = np
		return h
	}
	nshHdr := func(np uint8, words int) []byte {
		h := make([]byte, words*4)
		binary.BigEndian.PutUint16(h[0:], uint16(0x3f<<6|words)) // TTL 63, length
		h[2] = 1                                                 // MD type 1
		h[3] = np
		return h
	}
	geneveHdr := func(proto uint16, vni uint32, optWords int) []byte {
		h := make([]byte, 8+optWords*4)
		h[0] = byte(optWords)
		binary.BigEndian.PutUint16(h[2:], proto)
		binary.BigEndian.PutUint32(h[4:], vni<<8)
		return h
	}
	udp4 := func(dport uint16, payload []byte) []byte {
		return eth(0x0800, buildIPv4UDP(ip4Src, ip4Dst, 40000, dport, payload))
	}
	inner6 := buildIPv6(ProtoUDP, nil, nil, cat(udpHeader(53, 5353, 3), []byte("dns")))
	noVXLAN := DefaultConfig()
	noVXLAN.VXLANPorts = []uint16{}
	depth1 := DefaultConfig()
	depth1.MaxTunnelDepth = 1

	nest := func(levels int) []byte { // IPv4 in IPv4, levels deep
		p := inner4
		for i := 0; i < levels; i++ {
			p = cat(ipv4Header(4, len(p), nil, [4]byte{10, 9, 9, byte(i)}, [4]byte{10, 8, 8, byte(i)}), p)
		}
		return eth(0x0800, p)
	}
	greRouting := []byte{0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, // R: checksum+offset present
		0x08, 0x00, 0, 4, 1, 2, 3, 4, // one IPv4 SRE with 4 bytes
		0, 0, 0, 0} // NULL SRE
	pptp := func(seq, ack bool) []byte {
		flags := uint16(greKey | 1)
		h := []byte{0, 0, 0x88, 0x0b, 0, 0, 0x12, 0x34}
		if seq {
			flags |= greSeq
			h = append(h, 0, 0, 0, 1)
		}
		if ack {
			flags |= greAck
			h = append(h, 0, 0, 0, 2)
		}
		binary.BigEndian.PutUint16(h, flags)
		return h
	}

	runCases(t, []tc{
		{name: "gre ipv4", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x0800, false, nil, false), inner4)), status: StatusOK, check: and(in, tun(TunnelGRE, 0))},
		{name: "gre checksum key sequence", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x0800, true, &key, true), inner4)), status: StatusOK,
			check: and(in, tun(TunnelGRE, key))},
		{name: "gre ipv6", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x86dd, false, &k7, false), inner6)), status: StatusOK,
			check: and(is("v", 6, "proto", 17, "dport", 5353, "plen", 3), tun(TunnelGRE, 7))},
		{name: "gre transparent ethernet bridging", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x6558, false, &key, false), innerEth)), status: StatusOK,
			check: and(in, tun(TunnelGRE, key))},
		{name: "gre mpls", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x8847, false, nil, false), mplsLabel(16, true), inner4)), status: StatusOK,
			check: and(in, tun(TunnelGRE, 0), is("mpls", 0))},
		{name: "gre routing", link: 1, frame: outer4(ProtoGRE, cat(greRouting, inner4)), status: StatusOK, check: and(in, tun(TunnelGRE, 0))},
		{name: "gre unknown protocol keeps the outer packet", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x1234, false, &key, false), inner4)), status: StatusOK,
			check: is("tunnel", TunnelNone, "tid", 0, "proto", ProtoGRE, "src", "172.16.0.1")},
		{name: "gre version 2", link: 1, frame: outer4(ProtoGRE, cat([]byte{0, 2, 8, 0}, inner4)), status: StatusMalformed, reason: "gre_header"},
		{name: "gre key cut", link: 1, frame: outer4(ProtoGRE, []byte{0x20, 0, 8, 0, 1, 2}), status: StatusMalformed, reason: "gre_header"},
		{name: "gre short", link: 1, frame: outer4(ProtoGRE, []byte{0, 0, 8}), status: StatusMalformed, reason: "gre_header"},
		{name: "pptp gre ppp", link: 1, frame: outer4(ProtoGRE, cat(pptp(true, true), []byte{0xff, 0x03, 0x00, 0x21}, inner4)), status: StatusOK,
			check: and(in, tun(TunnelGRE, 0x1234))},
		{name: "pptp gre compressed ppp", link: 1, frame: outer4(ProtoGRE, cat(pptp(false, false), []byte{0x21}, inner4)), status: StatusOK,
			check: and(in, tun(TunnelGRE, 0x1234))},
		{name: "pptp gre lcp", link: 1, frame: outer4(ProtoGRE, cat(pptp(true, false), []byte{0xff, 0x03, 0xc0, 0x21}, make([]byte, 8))), status: StatusOK,
			check: is("tunnel", TunnelNone, "proto", ProtoGRE)},
		{name: "erspan type I", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x88be, false, nil, false), innerEth)), status: StatusOK,
			check: and(in, tun(TunnelERSPAN, 0))},
		{name: "erspan type II", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x88be, false, nil, true), erspan2(0x3ff), innerEth)), status: StatusOK,
			check: and(in, tun(TunnelERSPAN, 1023))},
		{name: "erspan type II short", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x88be, false, nil, true), erspan2(1)[:7])), status: StatusMalformed, reason: "erspan_header"},
		{name: "erspan type III", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x22eb, false, nil, true), erspan3(5, 0, false), innerEth)), status: StatusOK,
			check: and(in, tun(TunnelERSPAN, 5))},
		{name: "erspan type III platform subheader", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x22eb, false, nil, true), erspan3(6, 0, true), innerEth)), status: StatusOK,
			check: and(in, tun(TunnelERSPAN, 6))},
		{name: "erspan type III ip frame", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x22eb, false, nil, true), erspan3(7, 2, false), inner4)), status: StatusOK,
			check: and(in, tun(TunnelERSPAN, 7))},
		{name: "erspan type III short", link: 1, frame: outer4(ProtoGRE, cat(greHdr(0x22eb, false, nil, true), erspan3(6, 0, true)[:15])), status: StatusMalformed, reason: "erspan_header"},
		{name: "vxlan", link: 1, frame: udp4(4789, cat(vxlanHdr(0xabcdef), innerEth)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 0xabcdef))},
		{name: "vxlan 8472", link: 1, frame: udp4(8472, cat(vxlanHdr(1), innerEth)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 1))},
		{name: "vxlan source port only is not vxlan", link: 1, frame: eth(0x0800, buildIPv4UDP(ip4Src, ip4Dst, 4789, 9999, cat(vxlanHdr(1), innerEth))), status: StatusOK,
			check: is("tunnel", TunnelNone, "dport", 9999)},
		{name: "vxlan without I flag is plain udp", link: 1, frame: udp4(4789, cat(make([]byte, 8), innerEth)), status: StatusOK,
			check: is("tunnel", TunnelNone, "proto", 17, "dport", 4789, "plen", 8+len(innerEth))},
		{name: "vxlan carrying arp keeps the outer packet", link: 1, frame: udp4(4789, cat(vxlanHdr(9), arp)), status: StatusOK,
			check: is("tunnel", TunnelNone, "tid", 0, "proto", 17, "dport", 4789, "src", "10.0.0.1")},
		{name: "vxlan turned off", link: 1, cfg: &noVXLAN, frame: udp4(4789, cat(vxlanHdr(1), innerEth)), status: StatusOK, check: is("tunnel", TunnelNone)},
		{name: "vxlan short", link: 1, frame: udp4(4789, vxlanHdr(1)[:7]), status: StatusMalformed, reason: "vxlan_short"},
		{name: "vxlan in ipv6", link: 1, frame: eth(0x86dd, buildIPv6(ProtoUDP, nil, nil, cat(udpHeader(1, 4789, 8+len(innerEth)), vxlanHdr(3), innerEth))), status: StatusOK,
			check: and(in, tun(TunnelVXLAN, 3))},
		{name: "vxlan-gpe ipv4", link: 1, frame: udp4(4790, cat(gpe(1, 77), inner4)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 77))},
		{name: "vxlan-gpe ipv6", link: 1, frame: udp4(4790, cat(gpe(2, 78), inner6)), status: StatusOK, check: and(is("v", 6, "dport", 5353), tun(TunnelVXLAN, 78))},
		{name: "vxlan-gpe ethernet", link: 1, frame: udp4(4790, cat(gpe(3, 79), innerEth)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 79))},
		{name: "vxlan-gpe without P is ethernet", link: 1, frame: udp4(4790, cat(vxlanHdr(80), innerEth)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 80))},
		{name: "vxlan-gpe nsh ipv4", link: 1, frame: udp4(4790, cat(gpe(4, 81), nshHdr(1, 6), inner4)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 81))},
		{name: "vxlan-gpe nsh ethernet", link: 1, frame: udp4(4790, cat(gpe(4, 82), nshHdr(3, 2), innerEth)), status: StatusOK, check: and(in, tun(TunnelVXLAN, 82))},
		{name: "nsh length too small", link: 1, frame: udp4(4790, cat(gpe(4, 1), nshHdr(1, 1), make([]byte, 4), inner4)), status: StatusMalformed, reason: "nsh_header"},
		{name: "nsh length past the packet", link: 1, frame: udp4(4790, cat(gpe(4, 1), nshHdr(1, 6)[:20])), status: StatusMalformed, reason: "nsh_header"},
		{name: "geneve ethernet with options", link: 1, frame: udp4(6081, cat(geneveHdr(0x6558, 0xabcdef, 2), innerEth)), status: StatusOK,
			check: and(in, tun(TunnelGeneve, 0xabcdef))},
		{name: "geneve ipv4", link: 1, frame: udp4(6081, cat(geneveHdr(0x0800, 3, 0), inner4)), status: StatusOK, check: and(in, tun(TunnelGeneve, 3))},
		{name: "geneve ipv6", link: 1, frame: udp4(6081, cat(geneveHdr(0x86dd, 4, 1), inner6)), status: StatusOK, check: and(is("v", 6), tun(TunnelGeneve, 4))},
		{name: "geneve version 1", link: 1, frame: udp4(6081, cat([]byte{0x40, 0, 0x65, 0x58, 0, 0, 1, 0}, innerEth)), status: StatusMalformed, reason: "geneve_header"},
		{name: "geneve options past the packet", link: 1, frame: udp4(6081, geneveHdr(0x6558, 1, 4)[:20]), status: StatusMalformed, reason: "geneve_header"},
		{name: "4in4", link: 1, frame: outer4(4, inner4), status: StatusOK, check: and(in, tun(TunnelIPIP, 0))},
		{name: "6in4", link: 1, frame: outer4(41, inner6), status: StatusOK, check: and(is("v", 6, "src", "2001:db8::1", "dport", 5353), tun(TunnelIPIP, 0))},
		{name: "4in6", link: 229, frame: buildIPv6(4, nil, nil, inner4), status: StatusOK, check: and(in, tun(TunnelIPIP, 0))},
		{name: "6in6", link: 229, frame: buildIPv6(41, nil, nil, inner6), status: StatusOK, check: and(is("v", 6, "plen", 3), tun(TunnelIPIP, 0))},
		{name: "protocol 4 carrying ipv6", link: 1, frame: outer4(4, inner6), status: StatusMalformed, reason: "ip_version"},
		{name: "outermost tunnel is reported", link: 1,
			frame:  outer4(ProtoGRE, cat(greHdr(0x0800, false, &k7, false), buildIPv4UDP(ip4Src, ip4Dst, 1, 4789, cat(vxlanHdr(9), innerEth)))),
			status: StatusOK, check: and(in, tun(TunnelGRE, 7))},
		{name: "four nested tunnels", link: 1, frame: nest(4), status: StatusOK, check: and(in, tun(TunnelIPIP, 0))},
		{name: "five nested tunnels", link: 1, frame: nest(5), status: StatusMalformed, reason: "tunnel_depth"},
		{name: "depth 1 refuses vxlan in gre", link: 1, cfg: &depth1,
			frame:  outer4(ProtoGRE, cat(greHdr(0x0800, false, nil, false), buildIPv4UDP(ip4Src, ip4Dst, 1, 4789, cat(vxlanHdr(9), innerEth)))),
			status: StatusMalformed, reason: "tunnel_depth"},
		{name: "inner ip longer than the tunnel", link: 1, frame: outer4(4, inner4[:len(inner4)-1]), status: StatusMalformed, reason: "ipv4_total_length"},
	})
}

// A frame made of thousands of Ethernet headers announcing transparent
// Ethernet bridging must cost time linear in its length, not recursion.
func TestTEBChain(t *testing.T) {
	var frame []byte
	for i := 0; i < 4000; i++ {
		frame = append(frame, ethHeader(0x6558)...)
	}
	frame = append(frame, eth(0x0800, pkt4)...)
	d := New(DefaultConfig())
	var p Packet
	if st := d.Decode(1, frame, len(frame), 1, &p); st != StatusOK || p.DstPort != 443 {
		t.Fatalf("%v %+v", st, p)
	}
	if st := d.Decode(1, frame[:len(frame)-len(pkt4)-3], len(frame), 1, &p); st != StatusMalformed || d.reason != reasonEthernetShort {
		t.Fatalf("%v %v", st, d.reason)
	}
}
