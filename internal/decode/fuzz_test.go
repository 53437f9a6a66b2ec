package decode

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// FuzzDecode feeds arbitrary bytes as a frame of every supported link type
// (chosen by the first input byte) through a decoder with small reassembly
// caps and a shallow tunnel bound, then a second frame through the same
// decoder so that fragment state carries over. It checks that nothing
// panics and that the accounting identities hold.
func FuzzDecode(f *testing.F) {
	links := []uint16{1, 101, 228, 229, 113, 276, 0, 108, 12, 14, 999}
	seed := func(link uint16, frame []byte) {
		for i, l := range links {
			if l == link {
				f.Add(append([]byte{byte(i)}, frame...), uint16(len(frame)), []byte(nil))
				return
			}
		}
	}
	seed(1, buildEthIPv4TCP(nil))
	seed(1, buildVXLAN(5))
	seed(229, buildIPv6(ProtoTCP, [][]byte{ext8(1), ext8(2)}, []uint8{0, 60}, tcpHeader(1, 2, 0, nil)))
	seed(113, cat(sllHeader(0, 1, 0x0800), pkt4))
	seed(276, cat(sll2Header(0x86dd, 1, 4), pkt6))
	seed(0, cat(le32(2), pkt4))
	key := uint32(3)
	innerEth := eth(0x0800, pkt4)
	seed(1, outer4(ProtoGRE, cat(greHdr(0x6558, true, &key, true), innerEth)))
	seed(1, outer4(ProtoGRE, cat(greHdr(0x88be, false, nil, true), make([]byte, 8), innerEth)))
	seed(1, outer4(ProtoGRE, cat(greHdr(0x22eb, false, nil, true), []byte{0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 8), innerEth)))
	seed(1, eth(0x0800, buildIPv4UDP(ip4Src, ip4Dst, 1, 4790, cat([]byte{0x0c, 0, 0, 4, 0, 0, 1, 0, 0x0f, 0xc6, 1, 1}, make([]byte, 20), pkt4))))
	seed(1, eth(0x0800, buildIPv4UDP(ip4Src, ip4Dst, 1, 6081, cat([]byte{1, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0}, innerEth))))
	seed(1, outer4(41, pkt6))
	seed(1, eth(0x8847, cat(mplsLabel(1, true), pkt4)))
	seed(1, eth(0x8864, pppoe(0x0021, pkt4, len(pkt4)+2)))
	seed(1, eth(0x88a8, cat([]byte{0, 1, 0x81, 0}, []byte{0, 2, 0x08, 0}, pkt4)))
	fr := fragment4(udpDatagram4(600), 256)
	for i := range fr {
		f.Add(append([]byte{1}, fr[i]...), uint16(len(fr[i])), fr[(i+1)%len(fr)])
	}
	fr6 := fragment6(buildIPv6(ProtoUDP, nil, nil, cat(udpHeader(1, 2, 500), make([]byte, 500))), 256, 4)
	f.Add(append([]byte{3}, fr6[1]...), uint16(len(fr6[1])), fr6[0])

	// A few real frames from the corpus, when it is there.
	if dir := corpus.Dir(); dir != "" {
		for _, rel := range []string{"deepflow/common/decapsulate_test.pcap", "deepflow/common/vxlan-nsh.pcap", "ndpi/gre.pcapng",
			"pcapplusplus/PcapExamples/sll2.pcap", "pcapplusplus/PcapExamples/ip6_fragments.pcap", "pcapplusplus/PcapExamples/frag_with_padding.pcap"} {
			if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
				continue
			}
			frames, _ := readFrames(filepath.Join(dir, rel))
			for i := 0; i < len(frames) && i < 8; i++ {
				var next []byte
				if i+1 < len(frames) {
					next = frames[i+1].data
				}
				seed(frames[i].link, frames[i].data)
				if next != nil {
					for j, l := range links {
						if l == frames[i].link {
							f.Add(append([]byte{byte(j)}, frames[i].data...), uint16(frames[i].wireLen), next)
						}
					}
				}
			}
		}
	}

	f.Fuzz(func(t *testing.T, in []byte, wire uint16, second []byte) {
		if len(in) == 0 {
			return
		}
		link := links[int(in[0])%len(links)]
		frame := in[1:]
		cfg := Config{DefragMaxBytes: MinDefragMaxBytes, DefragMaxDatagrams: 4, MaxTunnelDepth: 2}
		d := New(cfg)
		var p Packet
		for i, fr := range [][]byte{frame, second, frame} {
			wl := int(wire)
			if i > 0 {
				wl = len(fr)
			}
			var fp FlowPeek
			peeked := d.Peek(link, fr, &fp)
			st := d.Decode(link, fr, wl, int64(i)*1e9, &p)
			if err := peekAgrees(peeked, &fp, st, &p); err != "" {
				t.Fatal(err)
			}
			if st == StatusOK {
				if p.IPVersion != 4 && p.IPVersion != 6 || len(p.Payload) > p.PayloadLen || p.PayloadLen < 0 {
					t.Fatalf("insane packet %+v", p)
				}
			}
			if st == StatusMalformed && (d.reason == reasonNone || d.reason >= numReasons) {
				t.Fatalf("malformed without reason")
			}
		}
		s := d.Stats()
		if s.IP+s.NotIP+s.UnsupportedLink+s.FragmentFrames+s.MalformedTotal() != s.Frames || s.Frames != 3 {
			t.Fatalf("frame accounting %+v", s)
		}
		if df := s.Defrag; df.Delivered+df.DroppedTotal()+df.Held != df.Fragments || df.BufferBytes > uint64(MinDefragMaxBytes) || df.Datagrams > 4 {
			t.Fatalf("fragment accounting %+v", df)
		}
	})
}
