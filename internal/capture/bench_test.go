package capture

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

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

// benchPcapng converts the benchmark capture to pcapng (EPBs) once.
func benchPcapng(b *testing.B) string {
	b.Helper()
	src := corpus.Path(b, "bench/mixed_l7_concat_bench.pcap")
	dst := filepath.Join(b.TempDir(), "bench.pcapng")
	in, err := OpenFile(src, FileOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w, err := pcapgo.NewNgWriter(bw, layers.LinkTypeEthernet)
	if err != nil {
		b.Fatal(err)
	}
	for {
		f, err := in.Next()
		if err != nil {
			break
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.Timestamp), CaptureLength: len(f.Data), Length: f.WireLen}
		if err := w.WritePacket(ci, f.Data); err != nil {
			b.Fatal(err)
		}
	}
	w.Flush()
	bw.Flush()
	out.Close()
	return dst
}

// BenchmarkReadPcapng: our pcapng reader on the same frames as EPBs.
func BenchmarkReadPcapng(b *testing.B) {
	benchRead(b, benchPcapng(b), FileOptions{})
}

// BenchmarkPcapgoNgReader is the alternative we measured against:
// pcapgo.NgReader.ZeroCopyReadPacketData on the same file.
func BenchmarkPcapgoNgReader(b *testing.B) {
	path := benchPcapng(b)
	b.ReportAllocs()
	var frames uint64
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := r.ZeroCopyReadPacketData()
			if err != nil {
				break
			}
			frames++
		}
		f.Close()
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
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
