package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// fuzzRead reads a capture from bytes to the end and checks the
// invariants every consumer relies on. The reader must not panic, must
// end (every record consumes at least 12 bytes of input), and must never
// hand out more than it was given.
func fuzzRead(t *testing.T, b []byte) {
	src, err := OpenReader(bytes.NewReader(b), "fuzz", FileOptions{})
	if err != nil {
		return
	}
	defer src.Close()
	n := 0
	for {
		f, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v (only io.EOF is possible from memory)", err)
		}
		n++
		gzipped := len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
		if !gzipped && n > len(b)/12+1 {
			t.Fatalf("%d frames from %d bytes", n, len(b))
		}
		if len(f.Data) > maxCaplen || f.WireLen < len(f.Data) {
			t.Fatalf("frame of %d bytes, wire %d", len(f.Data), f.WireLen)
		}
		ifs := src.Interfaces()
		if f.Interface < 0 || f.Interface >= len(ifs) || ifs[f.Interface].LinkType != f.LinkType {
			t.Fatalf("frame interface %d link %d; interfaces %v", f.Interface, f.LinkType, ifs)
		}
		for _, itf := range ifs {
			if len(itf.Name) > maxNameLen+10 {
				t.Fatalf("interface name of %d bytes", len(itf.Name))
			}
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
	if st := src.Stats(); st.Packets != uint64(n) {
		t.Fatalf("%d frames, stats %+v", n, st)
	}
}

func addCorpusSeeds(f *testing.F, pattern string, max int) {
	d := corpus.Dir()
	if d == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(d, pattern))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 64<<10 {
			continue
		}
		f.Add(b)
		if max--; max == 0 {
			return
		}
	}
}

func gz(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func FuzzPcapFile(f *testing.F) {
	good := rec{sec: 1, frac: 2, data: payload(60, 1), wirelen: 60}
	f.Add(pcapBytes(false, false, 1, good, good))
	f.Add(pcapBytes(true, true, 113, good, rec{data: payload(10, 2), wirelen: 5}))
	f.Add(pcapBytes(false, false, 1, good, rec{caplen: 300000}))
	f.Add(gz(pcapBytes(false, false, 101, good)))
	m := pcapBytes(false, false, 1, good)
	m[0], m[1], m[2], m[3] = 0x34, 0xcd, 0xb2, 0xa1 // modified-pcap magic
	f.Add(m)
	addCorpusSeeds(f, "pcapplusplus/PcapExamples/*.pcap", 20)
	addCorpusSeeds(f, "ndpi/fuzz-*.pcap", 10)
	f.Fuzz(fuzzRead)
}

func FuzzPcapngFile(f *testing.F) {
	n := newNG(false)
	n.shb(1, 0).idb(1, 96, n.opt(ngOptIfName, []byte("eth0")), n.opt(ngOptTSResol, []byte{0x85}), n.opt(ngOptTSOffset, make([]byte, 8)))
	n.epb(0, 12345, payload(80, 0), 100).spb(payload(50, 1), 50).pb(0, 7, payload(20, 2), 20).block(4, make([]byte, 8))
	n.shb(1, 0).idb(0, 0).epb(0, 1, payload(4, 3), 4)
	f.Add(n.bytes())
	f.Add(newNG(true).shb(1, 0).idb(228, 0).epb(0, 9, payload(20, 0), 20).bytes())
	f.Add(gz(n.bytes()))
	addCorpusSeeds(f, "gopacket/pcapgo/tests/*/*.pcapng", 60)
	addCorpusSeeds(f, "pcapplusplus/PcapExamples/*.pcapng", 10)
	f.Fuzz(fuzzRead)
}

// TestHostileLengthsDoNotAllocate: lengths claimed by a file never size an
// allocation. Reading inputs that claim gigabytes costs at most the read
// buffer.
func TestHostileLengthsDoNotAllocate(t *testing.T) {
	var inputs [][]byte
	// pcap record claiming 4 GiB.
	inputs = append(inputs, pcapBytes(false, false, 1, rec{caplen: 0xffffffff, wirelen: 0xffffffff}))
	// pcapng blocks claiming ~4 GiB: an IDB, an EPB, an unknown block
	// (skipped by length), an SPB with a huge original length.
	for _, typ := range []uint32{ngBlockIDB, ngBlockEPB, 0x0bad, ngBlockSPB} {
		n := newNG(false).shb(1, 0).idb(1, 0)
		b := n.bytes()
		h := make([]byte, 32)
		binary.LittleEndian.PutUint32(h, typ)
		binary.LittleEndian.PutUint32(h[4:], 0xfffffff0)
		binary.LittleEndian.PutUint32(h[8:], 0xfffffff0)
		binary.LittleEndian.PutUint32(h[20:], 0x7ffffff0)
		inputs = append(inputs, append(b, h...))
	}
	for i, in := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		frames, st := readBytes(t, in, FileOptions{})
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 2*readBufSize {
			t.Errorf("input %d: allocated %d bytes", i, d)
		}
		if len(frames) != 0 || st.BadRecords+st.TruncatedRecords != 1 {
			t.Errorf("input %d: %d frames %+v", i, len(frames), st)
		}
	}
}
