package tls

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// chromeLikeHello is the JA4 specification hello padded to 512 bytes, the
// size Chrome pads its ClientHello to.
func chromeLikeHello() []byte {
	b := specClientHelloBytes()
	return appendPadding(b, 512-4-len(b)-4)
}

// appendPadding grows the extension block of a ClientHello body by one
// padding extension with pad bytes of zeros.
func appendPadding(body []byte, pad int) []byte {
	off := 2 + 32
	off += 1 + int(body[off])
	off += 2 + (int(body[off])<<8 | int(body[off+1]))
	off += 1 + int(body[off])
	extLen := int(body[off])<<8 | int(body[off+1])
	out := append([]byte(nil), body...)
	extLen += 4 + pad
	out[off], out[off+1] = byte(extLen>>8), byte(extLen)
	out = append(out, 0, 0x15, byte(pad>>8), byte(pad))
	return append(out, make([]byte, pad)...)
}

// ClientHello decoding plus JA3 and JA4: the per-connection cost of TLS
// fingerprinting.
func BenchmarkClientHello(b *testing.B) {
	body := chromeLikeHello()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ch, err := ParseClientHello(body)
		if err != nil {
			b.Fatal(err)
		}
		JA3(ch)
		JA4(ch, 't')
	}
}

func BenchmarkJA4(b *testing.B) {
	ch, _ := ParseClientHello(chromeLikeHello())
	b.ReportAllocs()
	for b.Loop() {
		JA4(ch, 't')
	}
}

// The Stream over every TCP direction of tls2.pcap
// (PcapPlusPlus): record walking, handshake reassembly, hellos and
// certificates, application data skipped.
func BenchmarkStreamTLS2(b *testing.B) {
	dirs := readDirections(b, corpus.Path(b, "pcapplusplus/ExamplesTest/pcap_examples/tls2.pcap"))
	total := 0
	for _, d := range dirs {
		total += len(d.Data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	var s Stream
	for b.Loop() {
		for _, d := range dirs {
			s.Reset()
			s.Feed(d.Data)
		}
	}
}
