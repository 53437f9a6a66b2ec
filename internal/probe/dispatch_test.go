package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/corpus"
)

// writeMixedCapture writes a pcap larger than the size from which files are
// memory-mapped (read a window at a time), from Ethernet corpus captures that hold DNS over UDP and
// TCP, HTTP, IPv4 and IPv6 fragments and tunnels, repeated with their
// timestamps moved an hour further each time.
func writeMixedCapture(t *testing.T) string {
	t.Helper()
	files := []string{"pktvisor/dns_udp_tcp_random.pcap", "pcapplusplus/PcapExamples/frag_with_padding.pcap",
		"pcapplusplus/PcapExamples/ip6_fragments.pcap", "deepflow/common/decapsulate_test.pcap",
		"pcapplusplus/PcapExamples/4KHttpRequests.pcap"}
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], 1) // Ethernet
	out := append([]byte(nil), hdr...)
	for rep := int64(0); len(out) < 6<<20; rep++ {
		for _, rel := range files {
			src, err := capture.OpenFile(corpus.Path(t, rel), capture.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for {
				f, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if f.LinkType != 1 {
					t.Fatalf("%s: link type %d, want Ethernet", rel, f.LinkType)
				}
				ts := f.Timestamp + rep*3600e9
				rh := make([]byte, 16)
				binary.LittleEndian.PutUint32(rh[0:], uint32(ts/1e9))
				binary.LittleEndian.PutUint32(rh[4:], uint32(ts%1e9))
				binary.LittleEndian.PutUint32(rh[8:], uint32(len(f.Data)))
				binary.LittleEndian.PutUint32(rh[12:], uint32(f.WireLen))
				out = append(append(out, rh...), f.Data...)
			}
			src.Close()
		}
	}
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// With several workers the dispatcher only peeks at most frames' headers
// and the workers decode them; fragments and tunnels it decodes itself.
// Whatever the number of workers, every count is the same as with one.
func TestDispatchAgreesWithOneWorker(t *testing.T) {
	path := writeMixedCapture(t)

	read := func(workers int) *Result {
		opt := testOptions("192.168.0.0/24")
		opt.Workers = workers
		res, err := ReadFile(context.Background(), path, opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one := read(1)
	a := one.Whole.Report(10, true, len(one.Windows))
	if a.L7["http"].Transactions == 0 || a.DNS == nil || a.Packets.Counters.Total == 0 {
		t.Fatalf("the mixed capture decoded to too little: %+v", a.Packets.Counters)
	}
	for _, workers := range []int{2, 3} {
		res := read(workers)
		b := res.Whole.Report(10, true, len(res.Windows))
		if a.Packets.Counters != b.Packets.Counters || a.Bytes.Counters != b.Bytes.Counters {
			t.Errorf("%d workers: packets %+v bytes %+v, one worker %+v %+v", workers, b.Packets.Counters, b.Bytes.Counters, a.Packets.Counters, a.Bytes.Counters)
		}
		if a.Flows.Created != b.Flows.Created || a.Flows.TCP != b.Flows.TCP {
			t.Errorf("%d workers: flows %+v, one worker %+v", workers, b.Flows, a.Flows)
		}
		if a.DNS.WirePackets != b.DNS.WirePackets || a.DNS.Xact.Counts != b.DNS.Xact.Counts {
			t.Errorf("%d workers: dns %+v, one worker %+v", workers, b.DNS.WirePackets, a.DNS.WirePackets)
		}
		for proto, pa := range a.L7 {
			if pb := b.L7[proto]; pb.Transactions != pa.Transactions {
				t.Errorf("%d workers: %s transactions %d, one worker %d", workers, proto, pb.Transactions, pa.Transactions)
			}
		}
		if a.Loss.Malformed["ipv4_total_length"] != b.Loss.Malformed["ipv4_total_length"] || len(a.Loss.Malformed) != len(b.Loss.Malformed) {
			t.Errorf("%d workers: malformed %v, one worker %v", workers, b.Loss.Malformed, a.Loss.Malformed)
		}
		if res.Capture != one.Capture {
			t.Errorf("%d workers: capture stats %+v, one worker %+v", workers, res.Capture, one.Capture)
		}
	}
}
