package capture

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// Reference timestamps printed by tshark 4.0 (frame.time_epoch), in ns.
var pcapTimestamps = map[string][]int64{
	"microsecs.pcap": {1000002000, 1000001000},
	"microsecs_big_endian.pcap": {1474059824864984000, 1474059824869887000, 1474059824869935000,
		1474059824870032000, 1474059824870114000, 1474059825862418000, 1474059826864663000,
		1474059826869966000, 1474059826875511000, 1474059826875658000, 1474059826875743000,
		1474059826877724000, 1474059828874473000},
	"nanosecs.pcap": {1000002000, 1000001234},
	"nanosecs_big_endian.pcap": {1766361926167647291, 1766361926167658091, 1766361926167666291,
		1766361926167712591, 1766361926167716191, 1766361926168382593, 1766361926168402394,
		1766361926168424394, 1766361926168427394, 1766361926168451894},
}

func TestPcapTimestamps(t *testing.T) {
	for name, want := range pcapTimestamps {
		t.Run(name, func(t *testing.T) {
			frames, _ := readFile(t, corpus.Path(t, "pcapplusplus/PcapExamples/"+name), FileOptions{})
			if len(frames) != len(want) {
				t.Fatalf("%d frames, want %d", len(frames), len(want))
			}
			for i, f := range frames {
				if f.Timestamp != want[i] {
					t.Errorf("frame %d: ts %d, want %d", i, f.Timestamp, want[i])
				}
			}
		})
	}
}

func TestPcapSynthetic(t *testing.T) {
	for _, big := range []bool{false, true} {
		for _, nano := range []bool{false, true} {
			b := pcapBytes(big, nano, 1,
				rec{sec: 10, frac: 7, data: payload(60, 1), wirelen: 60},
				rec{sec: 0xfffffff0, frac: 999, data: payload(40, 2), wirelen: 1500}, // snap-truncated, after 2038
				rec{sec: 12, frac: 0, data: payload(50, 3), wirelen: 20},             // wire < cap: corrected
				rec{sec: 13, data: nil, wirelen: 0},                                  // empty record
			)
			frames, st := readBytes(t, b, FileOptions{})
			if len(frames) != 4 {
				t.Fatalf("big=%v nano=%v: %d frames", big, nano, len(frames))
			}
			mul := int64(1000)
			if nano {
				mul = 1
			}
			if frames[0].Timestamp != 10*1e9+7*mul || frames[1].Timestamp != 0xfffffff0*1e9+999*mul {
				t.Errorf("timestamps %d %d", frames[0].Timestamp, frames[1].Timestamp)
			}
			if !bytes.Equal(frames[1].data, payload(40, 2)) || frames[1].WireLen != 1500 {
				t.Errorf("frame 1: %d bytes, wire %d", len(frames[1].data), frames[1].WireLen)
			}
			if frames[2].WireLen != 50 {
				t.Errorf("wire length smaller than caplen: got %d, want 50", frames[2].WireLen)
			}
			want := Stats{Packets: 4, Bytes: 60 + 1500 + 50, SnapTruncated: 1}
			if st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			if frames[0].LinkType != LinkEthernet || frames[0].Interface != 0 {
				t.Errorf("link %d iface %d", frames[0].LinkType, frames[0].Interface)
			}
		}
	}
}

func TestPcapLinkTypeFCSBitsMasked(t *testing.T) {
	// FCS length 4 present (bits 26 and 28-31) on Ethernet: still Ethernet.
	b := pcapBytes(false, false, 1|0x04000000|4<<28, rec{data: payload(20, 0), wirelen: 20})
	src, err := OpenReader(bytes.NewReader(b), "fcs", FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Interfaces()[0].LinkType; got != LinkEthernet {
		t.Fatalf("link type %d", got)
	}
}

func TestPcapTruncatedAndBad(t *testing.T) {
	good := rec{sec: 1, data: payload(100, 0), wirelen: 100}
	cases := []struct {
		name       string
		b          []byte
		frames     int
		trunc, bad uint64
	}{
		{"cut in data", pcapBytes(false, false, 1, good, good, rec{data: payload(100, 0), wirelen: 100, cutTo: 16 + 30}), 2, 1, 0},
		{"cut in header", pcapBytes(false, false, 1, good, rec{data: payload(100, 0), wirelen: 100, cutTo: 7}), 1, 1, 0},
		{"clean end", pcapBytes(true, false, 1, good, good), 2, 0, 0},
		{"caplen too big", pcapBytes(false, false, 1, good, rec{caplen: 262145, wirelen: 262145}, good), 1, 0, 1},
		{"caplen huge", pcapBytes(true, true, 1, good, rec{caplen: 0xfffffff0}), 1, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frames, st := readBytes(t, c.b, FileOptions{})
			if len(frames) != c.frames || st.TruncatedRecords != c.trunc || st.BadRecords != c.bad {
				t.Fatalf("%d frames, stats %+v; want %d frames, %d truncated, %d bad", len(frames), st, c.frames, c.trunc, c.bad)
			}
		})
	}
}

func TestPcapMaxCaplen(t *testing.T) {
	big := rec{data: payload(maxCaplen, 9), wirelen: maxCaplen}
	b := pcapBytes(false, false, 1, big, big, big, big, big) // > the read buffer in total
	frames, st := readBytes(t, b, FileOptions{})
	if len(frames) != 5 || st.BadRecords != 0 {
		t.Fatalf("%d frames, %+v", len(frames), st)
	}
	for _, f := range frames {
		if !bytes.Equal(f.data, big.data) {
			t.Fatal("data differs")
		}
	}
}

func TestGzip(t *testing.T) {
	plain := pcapBytes(false, false, 1, rec{sec: 5, data: payload(64, 1), wirelen: 64}, rec{sec: 6, data: payload(64, 2), wirelen: 64})
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(plain)
	zw.Close()
	p := writeTemp(t, "x.pcap.gz", z.Bytes())
	frames, st := readFile(t, p, FileOptions{})
	if len(frames) != 2 || st.Packets != 2 || frames[1].Timestamp != 6e9 {
		t.Fatalf("%d frames %+v", len(frames), st)
	}
	// A gzip stream cut short: the complete records, then a truncation.
	cut := z.Bytes()[:z.Len()-12]
	p = writeTemp(t, "cut.pcap.gz", cut)
	frames, st = readFile(t, p, FileOptions{})
	if st.TruncatedRecords != 1 || len(frames) > 2 {
		t.Fatalf("cut gzip: %d frames %+v", len(frames), st)
	}

	// pcapng inside gzip, with a corpus file.
	src := corpus.Path(t, "pcapplusplus/PcapExamples/many_interfaces-1.pcapng")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	z.Reset()
	zw = gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	frames, _ = readFile(t, writeTemp(t, "m.pcapng.gz", z.Bytes()), FileOptions{})
	want, _ := readFile(t, src, FileOptions{})
	if len(frames) != len(want) || len(want) != 64 {
		t.Fatalf("gzip pcapng: %d frames, plain %d", len(frames), len(want))
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	ngBadVersion := newNG(false).shb(2, 0).bytes()
	ngBadBOM := newNG(false).shb(1, 0).bytes()
	copy(ngBadBOM[8:], []byte{1, 2, 3, 4})
	pcapBadVersion := pcapBytes(false, false, 1)
	pcapBadVersion[4] = 9
	cases := []struct {
		name string
		data []byte // nil: file does not exist
		want string
	}{
		{"missing.pcap", nil, "no such file"},
		{"empty.pcap", []byte{}, "empty file"},
		{"short.pcap", []byte{0xd4, 0xc3}, "too short"},
		{"text.pcap", []byte("hello, this is not a capture\n"), "not a pcap or pcapng file"},
		{"header.pcap", pcapBytes(false, false, 1)[:20], "cut short"},
		{"version.pcap", pcapBadVersion, "unsupported version 9.4"},
		{"version.pcapng", ngBadVersion, "unsupported version 2.0"},
		{"bom.pcapng", ngBadBOM, "byte-order magic"},
		{"gz.pcap", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, "gzip"},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if c.data != nil {
			os.WriteFile(p, c.data, 0o644)
		}
		_, err := OpenFile(p, FileOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
		}
	}
	if _, err := OpenFile(dir, FileOptions{}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
}

func TestPcapModifiedFormat(t *testing.T) {
	// Kuznetsov's patched libpcap: 8 more bytes per record header
	// (ifindex, protocol, packet type, padding).
	b := pcapBytes(false, false, 1)
	b[0], b[1], b[2], b[3] = 0x34, 0xcd, 0xb2, 0xa1
	for i := range 3 {
		h := make([]byte, 24)
		h[0] = byte(i + 1) // seconds
		h[8], h[12] = 30, 30
		b = append(append(b, h...), payload(30, byte(i))...)
	}
	frames, st := readBytes(t, b, FileOptions{})
	if len(frames) != 3 || st.BadRecords+st.TruncatedRecords != 0 || frames[2].Timestamp != 3e9 || !bytes.Equal(frames[1].data, payload(30, 1)) {
		t.Fatalf("%d frames %+v", len(frames), st)
	}
}
