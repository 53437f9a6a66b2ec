package capture

import (
	"errors"
	"os"
	"reflect"
	"testing"
)

// bigPcap builds a pcap larger than mmapMinSize, so OpenFile maps it.
func bigPcap(n int) []byte {
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{sec: uint32(i / 1000), frac: uint32(i % 1000), data: payload(1400+i%100, byte(i))}
	}
	return pcapBytes(false, false, 1, recs...)
}

// A mapped file yields exactly the frames and counters of the same bytes
// read through the buffered path.
func TestMappedFileMatchesBuffered(t *testing.T) {
	b := bigPcap(4000)
	if len(b) < mmapMinSize {
		t.Fatalf("test file of %d bytes is too small to be mapped", len(b))
	}
	path := writeTemp(t, "big.pcap", b)
	src, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src.(*fileSource).in.mm == nil {
		t.Skip("the file was not mapped on this platform")
	}
	got, gst := readAll(t, src)
	want, wst := readBytes(t, b, FileOptions{})
	if len(got) != 4000 || !reflect.DeepEqual(got, want) || gst != wst {
		t.Fatalf("mapped read: %d frames, stats %+v; buffered: %d frames, stats %+v", len(got), gst, len(want), wst)
	}
}

// A file cut inside its last record, and a file that grows after it was
// opened: the mapping ends where the file ended at open, and reading goes
// on past it with read(2).
func TestMappedFileTruncatedAndGrowing(t *testing.T) {
	b := bigPcap(4000)
	cut := b[:len(b)-700]
	path := writeTemp(t, "cut.pcap", cut)
	frames, st := readFile(t, path, FileOptions{})
	if len(frames) != 3999 || st.TruncatedRecords != 1 {
		t.Fatalf("cut file: %d frames, %d truncated records; want 3999 and 1", len(frames), st.TruncatedRecords)
	}

	src, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The rest of the last record, then 10 more records.
	extra := bigPcap(4010)[len(b):]
	if _, err := f.Write(append(b[len(b)-700:len(b):len(b)], extra...)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	frames, st = readAll(t, src)
	if len(frames) != 4010 || st.TruncatedRecords != 0 {
		t.Fatalf("grown file: %d frames, %d truncated records; want 4010 and 0", len(frames), st.TruncatedRecords)
	}
	want, _ := readBytes(t, bigPcap(4010), FileOptions{})
	if !reflect.DeepEqual(frames, want) {
		t.Fatal("grown file: frames differ from the whole file read at once")
	}
}

// Windows smaller than the file slide over it; pcapng blocks the reader
// skips (unknown types) land in later windows or past the mapped size.
func TestMappedWindowsSlide(t *testing.T) {
	defer func(w int64) { mmapWindow = w }(mmapWindow)
	mmapWindow = mmapPage

	b := bigPcap(4000)
	path := writeTemp(t, "big.pcap", b)
	got, gst := readFile(t, path, FileOptions{})
	want, wst := readBytes(t, b, FileOptions{})
	if len(got) != 4000 || !reflect.DeepEqual(got, want) || gst != wst {
		t.Fatalf("pcap over sliding windows: %d frames, stats %+v; buffered: %d frames, stats %+v", len(got), gst, len(want), wst)
	}

	n := newNG(false).shb(1, 0).idb(1, 0)
	for i := range 60 {
		n.epb(0, uint64(i), payload(1500, byte(i)), 1500)
		// An unknown block of 150 KiB: skipped, across windows.
		n.block(0x0badf00d, make([]byte, 150<<10))
	}
	ng := n.bytes()
	path = writeTemp(t, "big.pcapng", ng)
	got, gst = readFile(t, path, FileOptions{})
	want, wst = readBytes(t, ng, FileOptions{})
	if len(got) != 60 || !reflect.DeepEqual(got, want) || gst != wst {
		t.Fatalf("pcapng over sliding windows: %d frames, stats %+v; buffered: %d frames, stats %+v", len(got), gst, len(want), wst)
	}
	// Cut inside the last skipped block: the skip runs past the end.
	path = writeTemp(t, "cut.pcapng", ng[:len(ng)-1000])
	got, gst = readFile(t, path, FileOptions{})
	want, wst = readBytes(t, ng[:len(ng)-1000], FileOptions{})
	if len(got) != 60 || !reflect.DeepEqual(got, want) || gst != wst || gst.TruncatedRecords != 1 {
		t.Fatalf("cut pcapng: %d frames, stats %+v; buffered: stats %+v", len(got), gst, wst)
	}
}

// When mapping the next window fails (address space, a file system that
// refuses), the reader goes on with read(2) from where it was: same frames.
func TestMappedWindowFailureFallsBackToReads(t *testing.T) {
	defer func(w int64) { mmapWindow = w }(mmapWindow)
	mmapWindow = mmapPage
	b := bigPcap(4000)
	path := writeTemp(t, "big.pcap", b)
	src, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mm := src.(*fileSource).in.mm
	if mm == nil {
		t.Skip("the file was not mapped on this platform")
	}
	mm.move = func(int64) ([]byte, error) { return nil, errors.New("mmap refused") }
	got, gst := readAll(t, src)
	want, wst := readBytes(t, b, FileOptions{})
	if len(got) != 4000 || !reflect.DeepEqual(got, want) || gst != wst {
		t.Fatalf("after a failed mapping: %d frames, stats %+v; want %d, %+v", len(got), gst, len(want), wst)
	}
}
