package summary

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// FuzzDecodeBucket feeds the bucket decoder arbitrary bytes twice: as a
// whole blob (header, checksum and all), and with a valid header and
// checksum put around them, so that mutations reach the section parser
// instead of stopping at the checksum. Whatever decodes must be usable:
// report, re-encode to the same report, merge both ways.
//
// Seeds: real encodings from testdata/fuzz/FuzzDecodeBucket (small
// captures of the corpus), and when the corpus is present, the encodings of
// a few more of its captures.
func FuzzDecodeBucket(f *testing.F) {
	f.Add(encode(f, NewBucket(0, 60e9, 4)))
	if corpus.Dir() != "" {
		for _, rel := range []string{
			"pcapplusplus/PcapExamples/three_http_streams.pcap",
			"pcapplusplus/PacketExamples/postgres.pcapng",
			"pcapplusplus/PacketExamples/Dns.pcap",
			"pcapplusplus/PacketExamples/tls1_3.pcap",
			"pcapplusplus/PcapExamples/ip4_fragments.pcap",
		} {
			f.Add(encode(f, record(f, rel, 1, 8).parts[0]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inner := data
		if len(data) >= headerLen+trailerLen && bytes.HasPrefix(data, []byte(wireMagic)) {
			inner = data[headerLen : len(data)-trailerLen]
		}
		for _, in := range [][]byte{data, seal(inner)} {
			b, err := DecodeBucket(in)
			if err != nil {
				if !errors.Is(err, ErrInvalidBucket) {
					t.Fatalf("error %v does not wrap ErrInvalidBucket", err)
				}
				continue
			}
			checkUsable(t, b)
		}
	})
}
