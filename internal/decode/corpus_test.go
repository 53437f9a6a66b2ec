package decode

import (
	"net/netip"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// tally decodes every frame of a file with a fresh decoder and counts what
// came out.
type tally struct {
	frames, ok, notIP, frag, malformed, unsupported int
	v4, v6, tcp, udp, icmp, icmp6, sctp, other      int
	fragmented                                      int
	vlanID                                          map[uint16]int
	vlanTagged                                      int
	tunnels                                         map[TunnelType]int
	tunnelIDs                                       map[uint32]int
	src                                             map[netip.Addr]int
	pkts                                            []Packet // StatusOK packets, Payload copied
	stats                                           Stats
}

func decodeFile(t *testing.T, rel string, cfg Config) *tally {
	t.Helper()
	frames := mustFrames(t, corpus.Path(t, rel))
	d := New(cfg)
	r := &tally{vlanID: map[uint16]int{}, tunnels: map[TunnelType]int{}, tunnelIDs: map[uint32]int{}, src: map[netip.Addr]int{}}
	var p Packet
	for _, f := range frames {
		r.frames++
		switch d.Decode(f.link, f.data, f.wireLen, f.ts, &p) {
		case StatusOK:
			r.ok++
			switch p.IPVersion {
			case 4:
				r.v4++
			case 6:
				r.v6++
			}
			switch p.Proto {
			case ProtoTCP:
				r.tcp++
			case ProtoUDP:
				r.udp++
			case ProtoICMP:
				r.icmp++
			case ProtoICMPv6:
				r.icmp6++
			case ProtoSCTP:
				r.sctp++
			default:
				r.other++
			}
			if p.Fragmented {
				r.fragmented++
			}
			r.tunnels[p.Tunnel]++
			if p.Tunnel != TunnelNone {
				r.tunnelIDs[p.TunnelID]++
			}
			r.src[p.SrcIP]++
			q := p
			q.Payload = append([]byte(nil), p.Payload...)
			r.pkts = append(r.pkts, q)
		case StatusNotIP:
			r.notIP++
		case StatusFragment:
			r.frag++
		case StatusMalformed:
			r.malformed++
		case StatusUnsupportedLink:
			r.unsupported++
		}
		for i := 0; i < int(min(p.NumVLANs, 2)); i++ {
			r.vlanID[p.VLANs[i]]++
		}
		if p.NumVLANs > 0 {
			r.vlanTagged++
		}
	}
	r.stats = d.Stats()
	checkInvariants(t, rel, r.stats, cfg)
	return r
}

// checkInvariants asserts the accounting identities documented on Stats and
// DefragStats.
func checkInvariants(t *testing.T, name string, s Stats, cfg Config) {
	t.Helper()
	if got := s.IP + s.NotIP + s.UnsupportedLink + s.FragmentFrames + s.MalformedTotal(); got != s.Frames {
		t.Errorf("%s: IP %d + NotIP %d + Unsupported %d + FragmentFrames %d + Malformed %d = %d, want Frames %d",
			name, s.IP, s.NotIP, s.UnsupportedLink, s.FragmentFrames, s.MalformedTotal(), got, s.Frames)
	}
	df := s.Defrag
	if got := df.Delivered + df.DroppedTotal() + df.Held; got != df.Fragments {
		t.Errorf("%s: defrag Delivered %d + Dropped %d + Held %d = %d, want Fragments %d",
			name, df.Delivered, df.DroppedTotal(), df.Held, got, df.Fragments)
	}
	cfg = cfg.withDefaults()
	if df.BufferBytes > uint64(cfg.DefragMaxBytes) {
		t.Errorf("%s: defrag buffers %d bytes > cap %d", name, df.BufferBytes, cfg.DefragMaxBytes)
	}
	if df.Datagrams > uint64(cfg.DefragMaxDatagrams) {
		t.Errorf("%s: %d datagrams > cap %d", name, df.Datagrams, cfg.DefragMaxDatagrams)
	}
	if df.Reassembled > df.Delivered {
		t.Errorf("%s: %d datagrams reassembled from %d fragments", name, df.Reassembled, df.Delivered)
	}
}

type want struct {
	name  string
	got   int
	value int
}

func expect(t *testing.T, file string, ws ...want) {
	t.Helper()
	for _, w := range ws {
		if w.got != w.value {
			t.Errorf("%s: %s = %d, want %d", file, w.name, w.got, w.value)
		}
	}
}

// Numbers asserted by PcapPlusPlus (Tests/Pcap++Test/Tests/FileTests.cpp,
// transcribed in corpus peer_expectations.json) and cross-checked against
// tshark 4.0 (reference_tshark.json).
func TestCorpusPcapPlusPlusCounts(t *testing.T) {
	t.Run("example.pcap", func(t *testing.T) {
		const f = "pcapplusplus/PcapExamples/example.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 4631}, want{"ok", r.ok, 4631}, want{"ipv4", r.v4, 4631},
			want{"tcp", r.tcp, 4492}, want{"udp", r.udp, 139})
	})
	t.Run("sll.pcap", func(t *testing.T) {
		// PcapPlusPlus asserts 518 frames, "510 IP", 483 TCP, 28 UDP. Its
		// IP count is IPv4 only: tshark 4.0 shows ip 510, ipv6 1, arp 7,
		// and 483 + 28 = 511 transport frames, so the IPv6 frame carries
		// TCP or UDP too. 511 IP frames and 7 ARP (not IP) are right.
		const f = "pcapplusplus/PcapExamples/sll.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 518}, want{"ipv4", r.v4, 510}, want{"ipv6", r.v6, 1},
			want{"tcp", r.tcp, 483}, want{"udp", r.udp, 28}, want{"not ip", r.notIP, 7}, want{"malformed", r.malformed, 0})
	})
	t.Run("sll2.pcap", func(t *testing.T) {
		const f = "pcapplusplus/PcapExamples/sll2.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 3}, want{"ok", r.ok, 3}, want{"ipv4", r.v4, 3}, want{"tcp", r.tcp, 3})
	})
	t.Run("raw_ip.pcap", func(t *testing.T) {
		const f = "pcapplusplus/PcapExamples/raw_ip.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 100}, want{"ipv4", r.v4, 50}, want{"ipv6", r.v6, 50},
			want{"tcp", r.tcp, 92}, want{"udp", r.udp, 8})
	})
	t.Run("many_interfaces-1.pcapng", func(t *testing.T) {
		const f = "pcapplusplus/PcapExamples/many_interfaces-1.pcapng"
		frames := mustFrames(t, corpus.Path(t, f))
		links := map[uint16]int{}
		for _, fr := range frames {
			links[fr.link]++
		}
		expect(t, f, want{"ethernet frames", links[1], 62}, want{"null frames", links[0], 2})
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 64}, want{"ip", r.ok, 64}, want{"tcp", r.tcp, 32}, want{"udp", r.udp, 32})
	})
	t.Run("pcapng-example.pcapng", func(t *testing.T) {
		const f = "pcapplusplus/PcapExamples/pcapng-example.pcapng"
		frames := mustFrames(t, corpus.Path(t, f))
		links := map[uint16]int{}
		for _, fr := range frames {
			links[fr.link]++
		}
		expect(t, f, want{"ethernet frames", links[1], 59}, want{"sll frames", links[113], 100})
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 159}, want{"ipv4", r.v4, 155}, want{"ipv6", r.v6, 4},
			want{"tcp", r.tcp, 159}, want{"udp", r.udp, 0})
	})
	t.Run("VlanPackets.pcap", func(t *testing.T) {
		// PcapPlusPlus FilterTests: "vlan 118" matches 12 frames and
		// "ether proto 0x8100" 24. tshark 4.0: 26 frames, 24 with vlan, 20
		// IPv4/ICMP; the 6 others are not IP.
		const f = "pcapplusplus/PcapExamples/VlanPackets.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 26}, want{"vlan 118", r.vlanID[118], 12}, want{"tagged", r.vlanTagged, 24},
			want{"ipv4", r.v4, 20}, want{"icmp", r.icmp, 20}, want{"not ip", r.notIP, 6})
	})
}

// tcpdump's own test ipv4_tcp_http_xml_tso (expected output
// tcpdump/expected/ipv4_tcp_http_xml_tso.out): "length 2016 [was 0,
// presumed TSO]" and a TCP payload of 1976 bytes. nDPI's thrift.pcap has
// three such super-packets (frames 32, 34, 155; tshark 4.0 decodes all 172
// frames as IPv4, no malformed one).
func TestCorpusTSO(t *testing.T) {
	const f = "tcpdump/ipv4_tcp_http_xml_tso.pcap"
	r := decodeFile(t, f, DefaultConfig())
	expect(t, f, want{"ok", r.ok, 1})
	if len(r.pkts) == 1 {
		expect(t, f, want{"IPLen", r.pkts[0].IPLen, 2016}, want{"PayloadLen", r.pkts[0].PayloadLen, 1976})
	}
	const g = "ndpi/thrift.pcap"
	r = decodeFile(t, g, DefaultConfig())
	expect(t, g, want{"frames", r.frames, 172}, want{"ipv4", r.v4, 172}, want{"tcp", r.tcp, 170}, want{"udp", r.udp, 2}, want{"malformed", r.malformed, 0})
}
