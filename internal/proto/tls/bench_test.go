package tls

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
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

// countSink counts what it receives and keeps nothing.
type countSink struct{ txs, stops int }

func (s *countSink) Transaction(*l7.Transaction) { s.txs++ }
func (s *countSink) Drop(l7.DropReason, int)     {}
func (s *countSink) Stop()                       { s.stops++ }

// BenchmarkParserHandshake: one op is one connection's handshake through
// the transaction parser (a new parser, the ClientHello, the server's
// flight, the transaction built with JA3, JA3S and JA4, Stop). "tls13"
// is a Chrome-like ClientHello answered by a TLS 1.3 ServerHello (no
// certificate in clear); "tls12" adds a TLS 1.2 server flight with a
// certificate, decoded by crypto/x509, and the two ChangeCipherSpec and
// application-data records that end the handshake.
func BenchmarkParserHandshake(b *testing.B) {
	ch := records(recordHandshake, handshakeMsg(typeClientHello, chromeLikeHello()), 16384)
	sh13 := records(recordHandshake, handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0x1301, ext{extSupportedVersions, u16list(0x0304)})), 16384)
	b.Run("tls13", func(b *testing.B) {
		benchHandshake(b, []tlsStep{{c2s, ch}, {s2c, sh13}})
	})
	b.Run("tls12", func(b *testing.B) {
		steps, _ := tls12Handshake(b)
		benchHandshake(b, steps[:6])
	})
}

func benchHandshake(b *testing.B, steps []tlsStep) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	size := 0
	for _, s := range steps {
		size += len(s.data)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	ts := int64(1)
	for b.Loop() {
		p := Protocol.New(ctx)
		for _, s := range steps {
			p.Data(s.dir, s.data, ts)
			ts++
		}
		p.End(ts)
	}
	b.StopTimer()
	if sink.txs != b.N || sink.stops != b.N {
		b.Fatalf("%d transactions, %d stops for %d handshakes", sink.txs, sink.stops, b.N)
	}
}
