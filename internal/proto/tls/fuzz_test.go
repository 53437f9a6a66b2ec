package tls

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// fuzzSeedFiles give FuzzStream real handshakes to mutate: TLS 1.0-1.3,
// GREASE, a malformed hello, alerts, certificates.
var fuzzSeedFiles = []string{
	"pcapplusplus/ExamplesTest/pcap_examples/tls.pcap",
	"pcapplusplus/PacketExamples/tls_grease.pcap",
	"pcapplusplus/PacketExamples/tls1_3.pcap",
	"pcapplusplus/PacketExamples/ssl-malformed1.pcap",
	"pcapplusplus/PacketExamples/SSL-MultipleRecords3.pcap",
	"ndpi/443-curl.pcap",
	"ndpi/tls_alert.pcap",
	"ndpi/tls_ech.pcapng",
}

// FuzzStream feeds arbitrary bytes to a Stream, whole and in pieces whose
// size the fuzzer picks, and requires no panic, the same events either way,
// a bounded buffer, and fingerprints of whatever hellos come out.
//
//	go test -run '^$' -fuzz FuzzStream -fuzztime 45s -fuzzminimizetime 2s -parallel 1
//
// (minimizing a new 4 KiB input with the default 60 s budget stalls a
// single worker; a short budget keeps it fuzzing.)
func FuzzStream(f *testing.F) {
	if dir := corpus.Dir(); dir != "" {
		for _, rel := range fuzzSeedFiles {
			dirs, _, err := readCaptureErr(filepath.Join(dir, rel))
			if err != nil {
				continue
			}
			for _, d := range dirs {
				f.Add(d.Data[:min(len(d.Data), 4096)], uint8(7))
			}
		}
	}
	f.Add(records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 60), uint8(3))
	f.Add(sslv2ClientHello(0x0301), uint8(1))
	f.Add(append(records(recordChangeCipherSpec, []byte{1}, 1), records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 100)...), uint8(5))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		var s Stream
		var whole []Event
		ev, werr := s.Feed(data)
		whole = append(whole, ev...)
		if len(s.hs) > MaxHandshakeMessage+4 {
			t.Fatalf("buffered %d bytes", len(s.hs))
		}
		got, err := feedAll(data, int(piece)%32+1)
		if !reflect.DeepEqual(got, whole) || (err == nil) != (werr == nil) {
			t.Fatalf("pieces of %d: %v %v; whole: %v %v", int(piece)%32+1, describe(got), err, describe(whole), werr)
		}
		for _, e := range whole {
			switch e := e.(type) {
			case *ClientHello:
				JA3(e)
				if j := JA4(e, 't'); len(j) != 36 {
					t.Fatalf("JA4 %q", j)
				}
				VersionName(e.LegacyVersion)
			case *ServerHello:
				JA3S(e)
				VersionName(e.SelectedVersion)
			}
		}
		Looks(data)
		if ch, err := ParseClientHello(data); err == nil {
			JA3(ch)
			JA4(ch, 'q')
		}
		ParseServerHello(data)
	})
}
