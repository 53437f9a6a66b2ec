package decode

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// BenchmarkDecode decodes the frames of PcapPlusPlus example.pcap (4631
// Ethernet/IPv4 frames, mostly TCP) in a loop; ns/op is per frame.
func BenchmarkDecode(b *testing.B) {
	frames := mustFrames(b, corpus.Path(b, "pcapplusplus/PcapExamples/example.pcap"))
	d := New(DefaultConfig())
	var p Packet
	b.ReportAllocs()
	b.SetBytes(0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f := &frames[i%len(frames)]
		d.Decode(f.link, f.data, f.wireLen, f.ts, &p)
	}
}

// BenchmarkDecodeTCP decodes one Ethernet/IPv4/TCP frame over and over: the
// floor of the per-frame cost.
func BenchmarkDecodeTCP(b *testing.B) {
	frame := buildEthIPv4TCP(nil)
	d := New(DefaultConfig())
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(1, frame, len(frame), 1, &p)
	}
}

// BenchmarkDecodeVXLAN: Ethernet/IPv4/UDP/VXLAN/Ethernet/IPv4/TCP.
func BenchmarkDecodeVXLAN(b *testing.B) {
	frame := buildVXLAN(7)
	d := New(DefaultConfig())
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(1, frame, len(frame), 1, &p)
	}
}

// BenchmarkDefrag reassembles a 4000-byte UDP datagram from 3 fragments;
// ns/op is per fragment.
func BenchmarkDefrag(b *testing.B) {
	frags := fragment4(udpDatagram4(4000), 1480)
	d := New(DefaultConfig())
	var p Packet
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := frags[i%len(frags)]
		d.Decode(101, f, len(f), int64(i), &p)
	}
}
