package probe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// TestWalkMalformedCorpus runs the whole pipeline (reader, decoder, flows,
// reassembly, every L7 detector and parser, summary, report) over every capture of tcpdump's test suite (mostly
// fuzz-found out-of-bounds reproducers) and nDPI's: no panic, and every
// frame the reader delivered is counted exactly once in the summary.
func TestWalkMalformedCorpus(t *testing.T) {
	dir := corpus.Dir()
	if dir == "" {
		corpus.Path(t, "tcpdump") // skips, or fails under CI
	}
	var files []string
	for _, sub := range []string{"tcpdump", "ndpi"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".cap")) {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 500 {
		t.Fatalf("only %d captures found under tcpdump/ and ndpi/", len(files))
	}
	var read, refused int
	var transactions uint64
	for _, f := range files {
		for _, workers := range []int{1, 2} {
			opt := testOptions()
			opt.Workers = workers
			opt.SummaryMode = workers == 2
			res, err := ReadFile(context.Background(), f, opt, nil)
			if err != nil {
				if workers == 1 {
					refused++ // not a capture we can open: a clear error, no panic
				}
				continue
			}
			if workers == 1 {
				read++
			}
			p := res.Whole.Packets
			if p.Total != res.Capture.Packets {
				t.Errorf("%s (workers %d): summary counted %d frames, reader delivered %d", filepath.Base(f), workers, p.Total, res.Capture.Packets)
			}
			if p.In+p.Out+p.Unknown != p.Total || p.IPv4+p.IPv6+p.NonIP != p.Total {
				t.Errorf("%s: counters do not add up: %+v", filepath.Base(f), p)
			}
			if p.TCP+p.UDP+p.OtherL4+p.Fragments != p.IPv4+p.IPv6 {
				t.Errorf("%s: transport counters do not add up to IP packets: %+v", filepath.Base(f), p)
			}
			// A parser panic is recovered and counted; on this corpus there
			// must be none (a panic is a bug to fix, not an outcome).
			for _, st := range res.L7 {
				if st.ParserPanics != 0 || st.DetectorPanics != 0 {
					t.Errorf("%s (workers %d): %d parser and %d detector panics recovered", filepath.Base(f), workers, st.ParserPanics, st.DetectorPanics)
				}
				transactions += st.Transactions
			}
			res.Whole.Report(10, true, 1) // rendering must not panic either
		}
	}
	t.Logf("%d captures read, %d refused with an error, %d transactions decoded", read, refused, transactions)
}
