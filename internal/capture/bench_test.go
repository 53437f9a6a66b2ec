package capture

import (
	"io"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// BenchmarkReadPcap reads the 198k-frame benchmark capture end to end per
// iteration (from the page cache after the first) and reports frames/s.
// Allocations are per file (buffer, source), none per frame.
func BenchmarkReadPcap(b *testing.B) {
	path := corpus.Path(b, "bench/mixed_l7_concat_bench.pcap")
	benchRead(b, path, FileOptions{})
}

// BenchmarkReadPcapFilter is the same with a user-space filter that
// inspects every frame ("tcp port 80").
func BenchmarkReadPcapFilter(b *testing.B) {
	path := corpus.Path(b, "bench/mixed_l7_concat_bench.pcap")
	benchRead(b, path, FileOptions{Filter: "tcp port 80"})
}

func benchRead(b *testing.B, path string, opt FileOptions) {
	b.ReportAllocs()
	var frames, bytes uint64
	for b.Loop() {
		src, err := OpenFile(path, opt)
		if err != nil {
			b.Fatal(err)
		}
		for {
			f, err := src.Next()
			if err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			bytes += uint64(len(f.Data))
		}
		st := src.Stats()
		frames += st.Packets + st.FilteredOut
		src.Close()
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(frames)/sec, "frames/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
	b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
}
