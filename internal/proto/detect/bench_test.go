package detect

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// sink keeps the verdicts alive so the calls are not optimised away.
var sink l7.Verdict

// A first segment none of these detectors matches: an HTTP request, as
// most flows on a network open.
var httpSegment = []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\n" +
	"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n")

// A TLS ClientHello's first bytes (record header, handshake header,
// version, random): binary, and also matched by none.
var tlsSegment = append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03},
	make([]byte, 501)...)

// BenchmarkAllNoMatch runs every detector of the package over one
// non-matching first segment, as the Tracker does for a new flow on an
// unrelated port: ns/op is the cost of the whole package per flow.
func BenchmarkAllNoMatch(b *testing.B) {
	for _, c := range []struct {
		name string
		seg  []byte
	}{{"http", httpSegment}, {"tls", tlsSegment}} {
		b.Run(c.name, func(b *testing.B) {
			for _, p := range All {
				if v := p.Detect(c.seg, flow.ClientToServer, 443); v != l7.No {
					b.Fatalf("%s says %v", p.Name, v)
				}
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(c.seg)))
			for i := 0; i < b.N; i++ {
				for _, p := range All {
					sink += p.Detect(c.seg, flow.ClientToServer, 443)
				}
			}
		})
	}
}

// BenchmarkDetect runs each detector on a message it recognises.
func BenchmarkDetect(b *testing.B) {
	done := map[string]bool{}
	for _, s := range samples {
		if s.want == 0 || done[s.proto.Name] {
			continue
		}
		done[s.proto.Name] = true
		b.Run(s.proto.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.b)))
			for i := 0; i < b.N; i++ {
				sink += s.proto.Detect(s.b, s.dir, s.port)
			}
		})
	}
}
