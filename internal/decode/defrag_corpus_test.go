package decode

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// DeepFlow's flow_map.rs test asserts one UDP flow of 6 datagrams, each
// IPv4-fragmented, with 18048 L3 payload bytes (6 x 3008) and 18000 L4
// payload bytes (6 x 3000). tshark 4.0: 18 frames, reassembled length 3008,
// UDP 1000 > 2000.
func TestCorpusDeepFlowIPFragment(t *testing.T) {
	const f = "deepflow/flow_generator/ip-fragment.pcap"
	r := decodeFile(t, f, DefaultConfig())
	expect(t, f, want{"frames", r.frames, 18}, want{"fragment frames", r.frag, 12}, want{"reassembled", r.fragmented, 6},
		want{"udp", r.udp, 6}, want{"defrag reassembled", int(r.stats.Defrag.Reassembled), 6},
		want{"defrag fragments", int(r.stats.Defrag.Fragments), 18}, want{"held", int(r.stats.Defrag.Held), 0})
	var l3, l4 int
	for _, p := range r.pkts {
		if p.SrcPort != 1000 || p.DstPort != 2000 || !p.Fragmented {
			t.Errorf("packet %v fragmented=%v", viewOf(&p), p.Fragmented)
		}
		if len(p.Payload) != p.PayloadLen {
			t.Errorf("captured payload %d, want all %d bytes", len(p.Payload), p.PayloadLen)
		}
		l3 += p.IPLen - 20
		l4 += p.PayloadLen
	}
	expect(t, f, want{"L3 payload bytes", l3, 18048}, want{"L4 payload bytes", l4, 18000})
}

// PcapPlusPlus IPReassemblyTests.cpp (TestIPFragMultipleFrags) reads
// ip4_fragments.pcap as 6 fragmented datagrams (6, 6, 6, 10, 10 and 10
// fragments), 3 unfragmented packets, and 2 duplicated last fragments that
// arrive after their datagram was complete. tshark 4.0 agrees: 50 fragment
// frames, 6 reassembled UDP datagrams of 8320 bytes (789 > 2049). The "10
// fragment" datagrams 0x1ea3, 0x1ea4 and 0x1ea5 hold 6 distinct fragments
// and 4 exact repeats each (frames 19/20, 21/22, ... have the same offset):
// first wins, the 12 repeats are dropped as duplicates.
func TestCorpusIP4Fragments(t *testing.T) {
	const f = "pcapplusplus/PcapExamples/ip4_fragments.pcap"
	r := decodeFile(t, f, DefaultConfig())
	df := r.stats.Defrag
	expect(t, f, want{"frames", r.frames, 53}, want{"ok", r.ok, 9}, want{"reassembled", r.fragmented, 6},
		want{"fragment frames", r.frag, 44}, want{"fragments", int(df.Fragments), 50}, want{"delivered", int(df.Delivered), 36},
		want{"duplicates", int(df.Dropped["duplicate"]), 12}, want{"dropped", int(df.DroppedTotal()), 12},
		// The late duplicates start datagrams that never complete.
		want{"held", int(df.Held), 2}, want{"udp", r.udp, 9})
	for _, p := range r.pkts {
		if p.Fragmented && (p.PayloadLen != 8320-8 || p.IPLen != 20+8320 || p.SrcPort != 789 || p.DstPort != 2049 || len(p.Payload) != p.PayloadLen) {
			t.Errorf("reassembled %v IPLen %d PayloadLen %d captured %d", viewOf(&p), p.IPLen, p.PayloadLen, len(p.Payload))
		}
	}
}

// ip6_fragments.pcap: 36 fragment frames, 4 datagrams (PcapPlusPlus reads
// them as 7, 13, 9 and 7 fragments). tshark 4.0 reassembles fragmentable
// parts of 741, 1452, 1003 and 786 bytes carrying UDP lengths 737, 1448, 999
// and 782: the UDP length, not the IP length, bounds the UDP payload.
func TestCorpusIP6Fragments(t *testing.T) {
	const f = "pcapplusplus/PcapExamples/ip6_fragments.pcap"
	r := decodeFile(t, f, DefaultConfig())
	expect(t, f, want{"frames", r.frames, 36}, want{"reassembled", r.fragmented, 4}, want{"fragment frames", r.frag, 32},
		want{"ipv6", r.v6, 4}, want{"udp", r.udp, 4}, want{"held", int(r.stats.Defrag.Held), 0})
	wantLens := [][2]int{{741, 737}, {1452, 1448}, {1003, 999}, {786, 782}}
	for i, p := range r.pkts {
		if i >= len(wantLens) {
			break
		}
		if p.IPLen != 40+wantLens[i][0] || p.PayloadLen != wantLens[i][1]-8 {
			t.Errorf("datagram %d: IPLen %d PayloadLen %d, want %d %d", i, p.IPLen, p.PayloadLen, 40+wantLens[i][0], wantLens[i][1]-8)
		}
	}
}

// frag_with_padding.pcap: 7 fragments at offsets 8..8888, then the first
// fragment (offset 0, 28-byte IP packet padded to the 60-byte Ethernet
// minimum) last. tshark 4.0: reassembled UDP 42402 > 42102, length 9409.
// PcapPlusPlus TestIPFragWithPadding asserts it reassembles with the padding
// left out.
func TestCorpusFragWithPadding(t *testing.T) {
	const f = "pcapplusplus/PcapExamples/frag_with_padding.pcap"
	r := decodeFile(t, f, DefaultConfig())
	expect(t, f, want{"frames", r.frames, 8}, want{"reassembled", r.fragmented, 1}, want{"fragment frames", r.frag, 7})
	if len(r.pkts) == 1 {
		p := r.pkts[0]
		expect(t, f, want{"IPLen", p.IPLen, 20 + 9409}, want{"PayloadLen", p.PayloadLen, 9401}, want{"captured", len(p.Payload), 9401},
			want{"sport", int(p.SrcPort), 42402}, want{"dport", int(p.DstPort), 42102}, want{"vlans", int(p.NumVLANs), 1})
	}
}

// ip4_bad_fragment.pcap: one 60-byte frame (60 on the wire too): Ethernet,
// one MPLS label, then an IPv4 header claiming IHL 15 (60 bytes) and a total
// length of 3841, fragment offset 36. Only 42 bytes follow the label and the
// frame was not cut by a snaplen, so the header is short: malformed, not a
// fragment to hold (tshark 4.0 shows the same bogus fields).
func TestCorpusIP4BadFragment(t *testing.T) {
	const f = "pcapplusplus/PcapExamples/ip4_bad_fragment.pcap"
	r := decodeFile(t, f, DefaultConfig())
	expect(t, f, want{"frames", r.frames, 1}, want{"malformed", r.malformed, 1},
		want{"ipv4_header_short", int(r.stats.Malformed["ipv4_header_short"]), 1},
		want{"fragments", int(r.stats.Defrag.Fragments), 0})
}

// PcapPlusPlus ExamplesTest/expected_output/ipdefragutil_*.txt, the
// IPDefragUtil example over ip-frag.pcap ("IPv4 fragments matched: 1859",
// "IPv4 packets reassembled: 190") and ipv6-frag.pcap ("IPv6 fragments
// matched: 4", "IPv6 packets reassembled: 1"). tshark 4.0 agrees on ip-frag:
// 2996 IPv4 frames, 190 with a reassembled datagram, 1669 others that are
// only fragments (1669 + 190 = 1859).
func TestCorpusIPDefragUtil(t *testing.T) {
	t.Run("ip-frag.pcap", func(t *testing.T) {
		const f = "pcapplusplus/ExamplesTest/pcap_examples/ip-frag.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 3000}, want{"fragments", int(r.stats.Defrag.Fragments), 1859},
			want{"reassembled", int(r.stats.Defrag.Reassembled), 190}, want{"fragment frames", r.frag, 1669},
			want{"ipv4 frames", r.v4 + r.frag, 2996})
		t.Logf("defrag %+v", r.stats.Defrag)
	})
	t.Run("ipv6-frag.pcap", func(t *testing.T) {
		const f = "pcapplusplus/ExamplesTest/pcap_examples/ipv6-frag.pcap"
		r := decodeFile(t, f, DefaultConfig())
		expect(t, f, want{"frames", r.frames, 6}, want{"fragments", int(r.stats.Defrag.Fragments), 4},
			want{"reassembled", int(r.stats.Defrag.Reassembled), 1}, want{"udp", r.udp, 3})
		// tshark: reassembled length 5387 = UDP length, 6363 > 6363.
		for _, p := range r.pkts {
			if p.Fragmented && (p.IPLen != 40+5387 || p.PayloadLen != 5379 || p.SrcPort != 6363) {
				t.Errorf("reassembled %v IPLen %d PayloadLen %d", viewOf(&p), p.IPLen, p.PayloadLen)
			}
		}
	})
}

// TestCorpusFragOrders replays frag_http_req.pcap (11 IPv4 fragments of one
// HTTP request, tshark: TCP payload 1460 bytes, reassembled 1480) in the
// orders PcapPlusPlus' TestIPFragOutOfOrder uses; each order must complete on
// its last frame with the same bytes as in capture order.
func TestCorpusFragOrders(t *testing.T) {
	frames := mustFrames(t, corpus.Path(t, "pcapplusplus/PcapExamples/frag_http_req.pcap"))
	if len(frames) != 11 {
		t.Fatalf("%d frames, want 11", len(frames))
	}
	idx := func(order ...int) []int { return order }
	orders := map[string][]int{
		"capture":           idx(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
		"first two swapped": idx(1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10),
		"6-10 and 3-7":      idx(0, 1, 6, 3, 4, 9, 2, 7, 8, 5, 10),
		"last before end":   idx(0, 1, 2, 3, 4, 10, 6, 7, 8, 9, 5),
		"last first":        idx(10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
		"reversed":          idx(10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
	}
	var ref []byte
	for _, name := range []string{"capture", "first two swapped", "6-10 and 3-7", "last before end", "last first", "reversed"} {
		d := New(DefaultConfig())
		var p Packet
		for i, k := range orders[name] {
			f := frames[k]
			st := d.Decode(f.link, f.data, f.wireLen, f.ts, &p)
			last := i == len(frames)-1
			if (st == StatusOK) != last || (!last && st != StatusFragment) {
				t.Fatalf("%s: frame %d (#%d): %v", name, i, k, st)
			}
		}
		if p.Proto != ProtoTCP || p.PayloadLen != 1460 || p.IPLen != 1500 || !p.Fragmented || !bytes.HasPrefix(p.Payload, []byte("GET ")) {
			t.Fatalf("%s: %v PayloadLen %d IPLen %d payload %.20q", name, viewOf(&p), p.PayloadLen, p.IPLen, p.Payload)
		}
		if ref == nil {
			ref = append([]byte(nil), p.Payload...)
		} else if !bytes.Equal(ref, p.Payload) {
			t.Errorf("%s: reassembled payload differs from capture order", name)
		}
		s := d.Stats()
		checkInvariants(t, name, s, DefaultConfig())
		if s.Defrag.Reassembled != 1 || s.Defrag.Held != 0 || s.Defrag.Datagrams != 0 {
			t.Errorf("%s: %+v", name, s.Defrag)
		}
	}
}
