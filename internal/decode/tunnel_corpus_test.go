package decode

import (
	"fmt"
	"net/netip"
	"testing"
)

// innerView is what a test expects of one decoded tunnelled frame.
type innerView struct {
	tunnel       TunnelType
	id           uint32
	src, dst     string
	proto        uint8
	sport, dport uint16
	icmpType     uint8
}

func viewOf(p *Packet) innerView {
	v := innerView{tunnel: p.Tunnel, id: p.TunnelID, src: p.SrcIP.String(), dst: p.DstIP.String(), proto: p.Proto, sport: p.SrcPort, dport: p.DstPort}
	if p.Proto == ProtoICMP || p.Proto == ProtoICMPv6 {
		v.icmpType = p.ICMPType
	}
	return v
}

func (v innerView) String() string {
	return fmt.Sprintf("%v/%d %s>%s proto %d %d>%d icmp %d", v.tunnel, v.id, v.src, v.dst, v.proto, v.sport, v.dport, v.icmpType)
}

// Expected values below come from tshark 4.0.17, e.g.
//
//	tshark -r FILE -T fields -E occurrence=a -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
//	  -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e icmp.type \
//	  -e vxlan.vni -e geneve.vni -e gre.key -e gre.key.call_id -e erspan.spanid -e erspan.version
//
// taking the innermost IP layer. Tunnel ids are also what DeepFlow's
// agent/src/common/decapsulate.rs asserts for the deepflow/common files.
func TestCorpusTunnelsPerFrame(t *testing.T) {
	vxlanAlt := DefaultConfig()
	vxlanAlt.VXLANPorts = []uint16{4789, 58678} // ff-vxlan uses UDP 58678 (tshark: -d udp.port==58678,vxlan)
	cases := []struct {
		file string
		cfg  Config
		want []innerView
	}{
		{"deepflow/common/decapsulate_test.pcap", DefaultConfig(), []innerView{
			// Frame 1 is ERSPAN II carrying CDP (not IP): the outer GRE packet is reported.
			{TunnelNone, 0, "2.2.2.2", "1.1.1.1", ProtoGRE, 0, 0, 0},
			{TunnelERSPAN, 100, "23.0.0.2", "23.0.0.3", ProtoICMP, 0, 0, 8},        // ERSPAN II, session 100
			{TunnelVXLAN, 123, "192.168.1.5", "192.168.1.24", ProtoICMP, 0, 0, 8},  // VXLAN VNI 123
			{TunnelERSPAN, 0, "192.168.13.30", "192.168.13.7", ProtoICMP, 0, 0, 8}, // ERSPAN III, session 0
		}},
		{"deepflow/common/geneve.pcap", DefaultConfig(), []innerView{
			{TunnelGeneve, 3, "10.156.0.19", "10.156.0.28", ProtoICMP, 0, 0, 8},
			{TunnelGeneve, 3, "10.156.0.28", "10.156.0.19", ProtoICMP, 0, 0, 0},
			{TunnelGeneve, 3, "10.156.0.50", "10.156.0.19", ProtoICMP, 0, 0, 8},
			{TunnelGeneve, 3, "10.156.0.19", "10.156.0.50", ProtoICMP, 0, 0, 0},
		}},
		{"deepflow/common/ip6-vxlan.pcap", DefaultConfig(), []innerView{
			{TunnelVXLAN, 27, "2409:8086:8911:3123::7e3", "2409:8086:8911:3123::7d1", ProtoTCP, 30100, 47202, 0},
		}},
		{"deepflow/common/ff-vxlan.pcap", vxlanAlt, []innerView{
			{TunnelVXLAN, 1, "10.244.0.34", "10.244.1.73", ProtoTCP, 51854, 80, 0},
		}},
		{"deepflow/common/ipip.pcap", DefaultConfig(), []innerView{
			{TunnelIPIP, 0, "27.36.55.113", "210.21.210.241", ProtoTCP, 49249, 60030, 0},
			{TunnelIPIP, 0, "210.21.210.241", "27.36.55.113", ProtoTCP, 60030, 49249, 0},
			{TunnelIPIP, 0, "10.162.12.112", "117.169.70.33", ProtoICMP, 0, 0, 8},
			{TunnelIPIP, 0, "61.144.252.235", "183.9.205.187", ProtoTCP, 60029, 31356, 0},
			{TunnelIPIP, 0, "61.144.252.235", "183.9.205.187", ProtoTCP, 60029, 31356, 0},
		}},
		{"deepflow/common/vxlan-nsh.pcap", DefaultConfig(), []innerView{
			// VXLAN-GPE on UDP 4790, next protocol NSH (52-byte header, MD type 2), then IPv4.
			{TunnelVXLAN, 0, "172.16.3.10", "172.16.3.11", ProtoICMP, 0, 0, 8},
		}},
		{"ndpi/gre.pcapng", DefaultConfig(), []innerView{
			// PPTP enhanced GRE (version 1), call ID 38992, PPP, IPv4, UDP (SIP).
			{TunnelGRE, 38992, "192.168.10.210", "192.168.103.40", ProtoUDP, 5060, 5060, 0},
		}},
		{"ndpi/4in4tunnel.pcap", DefaultConfig(), repeat(5, innerView{TunnelIPIP, 0, "10.10.100.25", "10.10.101.2", ProtoUDP, 62367, 17000, 0})},
		{"ndpi/6in6tunnel.pcap", DefaultConfig(), []innerView{
			{TunnelIPIP, 0, "dead::beef", "cafe::babe", ProtoUDP, 30000, 13000, 0},
			{TunnelIPIP, 0, "dead::beef", "cafe::babe", ProtoUDP, 30000, 13000, 0},
		}},
		{"ndpi/4in6tunnel.pcap", DefaultConfig(), []innerView{
			{TunnelIPIP, 0, "192.168.0.1", "10.10.10.1", ProtoTCP, 64455, 443, 0},
			{TunnelIPIP, 0, "10.10.10.1", "192.168.0.1", ProtoTCP, 443, 64455, 0},
			{TunnelIPIP, 0, "192.168.0.1", "10.10.10.1", ProtoTCP, 64455, 443, 0},
			{TunnelIPIP, 0, "10.10.10.1", "192.168.0.1", ProtoTCP, 443, 64455, 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r := decodeFile(t, c.file, c.cfg)
			if r.ok != r.frames || len(r.pkts) != len(c.want) {
				t.Fatalf("%d frames, %d ok (%+v), want %d ok", r.frames, r.ok, r.stats, len(c.want))
			}
			for i, w := range c.want {
				if got := viewOf(&r.pkts[i]); got != w {
					t.Errorf("frame %d: got  %v\n          want %v", i+1, got, w)
				}
			}
		})
	}
}

func repeat(n int, v innerView) []innerView {
	out := make([]innerView, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Aggregates for the larger tunnel captures, from tshark 4.0.17 (protocol
// hierarchy of each frame and the innermost addresses).
func TestCorpusTunnelsAggregate(t *testing.T) {
	t.Run("decapsulate_erspan1.pcap", func(t *testing.T) {
		// 1029 frames of GRE/ERSPAN: 1028 type I (no sequence number, no
		// ERSPAN header, so no session id) and 1 type II with session 1.
		// Inner: 981 IPv4, 48 IPv6, all TCP; most frequent inner source
		// 172.28.50.89 (197 frames).
		const f = "deepflow/common/decapsulate_erspan1.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 1029}, want{"ok", r.ok, 1029}, want{"erspan", r.tunnels[TunnelERSPAN], 1029},
			want{"session 0", r.tunnelIDs[0], 1028}, want{"session 1", r.tunnelIDs[1], 1},
			want{"inner ipv4", r.v4, 981}, want{"inner ipv6", r.v6, 48}, want{"tcp", r.tcp, 1029},
			want{"src 172.28.50.89", r.src[netip.MustParseAddr("172.28.50.89")], 197},
			want{"src 172.28.50.45", r.src[netip.MustParseAddr("172.28.50.45")], 157},
			// The outer VLAN (100) is the link's; inner tags are not recorded.
			want{"outer vlan 100", r.vlanID[100], 1029})
		// DeepFlow's test_decapsulate_erspan: first two frames, outer
		// 172.28.25.108 > 172.28.28.70, id 0.
		for i := 0; i < 2; i++ {
			if p := r.pkts[i]; p.Tunnel != TunnelERSPAN || p.TunnelID != 0 {
				t.Errorf("frame %d: tunnel %v/%d, want erspan/0", i+1, p.Tunnel, p.TunnelID)
			}
		}
	})
	t.Run("vmware-gre-teb.pcap", func(t *testing.T) {
		// 57 frames GRE (transparent Ethernet bridging): key 0 on 29, key
		// 0x02000000 on 28; 54 inner ICMP, 2 inner UDP (NTP), 1 LLDP. The
		// LLDP frame is not IP inside, so it is reported as the outer
		// IPv4/GRE packet with key 0 and no tunnel.
		const f = "deepflow/common/vmware-gre-teb.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 57}, want{"ok", r.ok, 57}, want{"gre", r.tunnels[TunnelGRE], 56},
			want{"no tunnel", r.tunnels[TunnelNone], 1}, want{"key 0", r.tunnelIDs[0], 28}, want{"key 0x02000000", r.tunnelIDs[0x02000000], 28},
			want{"icmp", r.icmp, 54}, want{"udp", r.udp, 2}, want{"outer gre", r.other, 1},
			want{"src 172.16.6.1", r.src[netip.MustParseAddr("172.16.6.1")], 18})
		// DeepFlow test_decapsulate_teb: the third frame has key 0x2000000.
		if p := r.pkts[2]; p.TunnelID != 0x2000000 || p.SrcIP != netip.MustParseAddr("172.16.6.119") {
			t.Errorf("frame 3: %v", viewOf(&p))
		}
	})
	t.Run("ndpi vxlan.pcap", func(t *testing.T) {
		const f = "ndpi/vxlan.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 127}, want{"vxlan", r.tunnels[TunnelVXLAN], 127}, want{"vni 1111", r.tunnelIDs[1111], 127},
			want{"tcp", r.tcp, 119}, want{"udp", r.udp, 8}, want{"src 157.240.224.35", r.src[netip.MustParseAddr("157.240.224.35")], 69},
			want{"src 10.10.20.4", r.src[netip.MustParseAddr("10.10.20.4")], 54})
	})
	t.Run("ndpi 6in4tunnel.pcap", func(t *testing.T) {
		// tshark: 127 frames IPv4/IPv6; 48 ICMPv6 (2 of them errors quoting
		// a TCP packet), 75 TCP, 4 UDP.
		const f = "ndpi/6in4tunnel.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 127}, want{"ipip", r.tunnels[TunnelIPIP], 127}, want{"ipv6", r.v6, 127},
			want{"icmpv6", r.icmp6, 48}, want{"tcp", r.tcp, 75}, want{"udp", r.udp, 4},
			want{"src 2001:470:1f17:13f:3e97:eff:fe73:4dec", r.src[netip.MustParseAddr("2001:470:1f17:13f:3e97:eff:fe73:4dec")], 61},
			want{"src 2604:a880:1:20::224:b001", r.src[netip.MustParseAddr("2604:a880:1:20::224:b001")], 43})
	})
}
