package spool

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// copyDir copies the spool files of src into a new temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// written makes a closed spool holding records of the given sizes and
// returns its directory and the path of its last segment.
func written(t testing.TB, cfg Config, sizes []int) (dir, last string) {
	t.Helper()
	s := mustOpen(t, cfg)
	appendN(t, s, sizes)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := segFiles(t, cfg.Dir)
	return cfg.Dir, names[len(names)-1]
}

// readAll reads records until Next has nothing more.
func readAll(t testing.TB, s *Spool) (seqs []uint64, recs [][]byte) {
	t.Helper()
	want := s.Stats().LastSeq
	for {
		s.mu.Lock()
		g, _ := s.targetLocked()
		s.mu.Unlock()
		if g == nil {
			return seqs, recs
		}
		seq, rec := next(t, s)
		if seq > want {
			t.Fatalf("Next returned %d beyond LastSeq %d", seq, want)
		}
		seqs = append(seqs, seq)
		recs = append(recs, rec)
	}
}

// TestTornTailEveryOffset cuts the last record of the last segment at
// every byte, as a process killed mid-write would leave it: recovery keeps
// every record before it, counts the torn one, and the next record gets a
// sequence number above anything that was on disk.
func TestTornTailEveryOffset(t *testing.T) {
	cfg := testConfig(t.TempDir())
	r := rand.New(rand.NewPCG(5, 6))
	sizes := randomSizes(r, 12, 1, 3000)
	sizes = append(sizes, 40) // the record to tear
	n := uint64(len(sizes))
	src, last := written(t, cfg, sizes)
	full, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	start := int64(len(full)) - frameHeaderLen - 40
	for off := start; off < int64(len(full)); off++ {
		dir := copyDir(t, src)
		p := filepath.Join(dir, filepath.Base(last))
		if err := os.Truncate(p, off); err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.Dir = dir
		s := mustOpen(t, c)
		st := s.Stats()
		torn := off - start
		wantCorrupt := Count{}
		if torn > 0 {
			wantCorrupt = Count{1, uint64(torn)}
		}
		// A complete header announced seq n: it is not given to another record.
		wantLast := n - 1
		if torn >= frameHeaderLen {
			wantLast = n
		}
		if st.Corrupt != wantCorrupt || st.LastSeq != wantLast {
			t.Fatalf("cut at +%d: corrupt %+v lastSeq %d, want %+v and %d", torn, st.Corrupt, st.LastSeq, wantCorrupt, wantLast)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() != start {
			t.Fatalf("cut at +%d: segment not truncated to %d: %v %v", torn, start, fi.Size(), err)
		}
		seqs, recs := readAll(t, s)
		if uint64(len(seqs)) != n-1 {
			t.Fatalf("cut at +%d: read %d records, want %d", torn, len(seqs), n-1)
		}
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Fatalf("cut at +%d: record %d has seq %d", torn, i, seq)
			}
			checkRecord(t, seq, recs[i], sizes[i])
		}
		want := wantLast + 1
		seq, err := s.Append([]byte("after"))
		if err != nil || seq != want {
			t.Fatalf("cut at +%d: Append got seq %d err %v, want %d", torn, seq, err, want)
		}
		if got, rec := next(t, s); got != want || string(rec) != "after" {
			t.Fatalf("cut at +%d: read back %d %q", torn, got, rec)
		}
		s.Close()
	}
}

// TestGarbageTail appends random bytes to the last segment.
func TestGarbageTail(t *testing.T) {
	cfg := testConfig(t.TempDir())
	sizes := []int{100, 200, 300}
	src, last := written(t, cfg, sizes)
	r := rand.New(rand.NewPCG(7, 8))
	for _, glen := range []int{1, 7, 15, 16, 17, 100, 5000} {
		dir := copyDir(t, src)
		p := filepath.Join(dir, filepath.Base(last))
		garbage := make([]byte, glen)
		for i := range garbage {
			garbage[i] = byte(r.Uint32())
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(garbage)
		f.Close()
		c := cfg
		c.Dir = dir
		s := mustOpen(t, c)
		if st := s.Stats(); st.Corrupt != (Count{1, uint64(glen)}) || st.LastSeq != 3 {
			t.Fatalf("%d bytes of garbage: %+v", glen, st)
		}
		seqs, recs := readAll(t, s)
		if len(seqs) != 3 {
			t.Fatalf("%d bytes of garbage: read %v", glen, seqs)
		}
		for i := range seqs {
			checkRecord(t, seqs[i], recs[i], sizes[i])
		}
		s.Close()
	}
}

// TestDamagedLastSegment flips one payload byte in the middle of the last
// segment: records before it survive, it and the rest of the segment are
// counted (their headers still give their number and size).
func TestDamagedLastSegment(t *testing.T) {
	cfg := testConfig(t.TempDir())
	sizes := []int{100, 200, 300, 400, 500}
	_, last := written(t, cfg, sizes)
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	// Record 3 starts after the segment header and records 1 and 2.
	off3 := segHeaderLen + 2*frameHeaderLen + 100 + 200
	b[off3+frameHeaderLen+10] ^= 0x40
	if err := os.WriteFile(last, b, 0o640); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, cfg)
	defer s.Close()
	want := Count{3, uint64(len(b)) - uint64(off3)}
	if st := s.Stats(); st.Corrupt != want {
		t.Fatalf("corrupt %+v, want %+v", st.Corrupt, want)
	}
	seqs, _ := readAll(t, s)
	if len(seqs) != 2 || seqs[1] != 2 {
		t.Fatalf("read %v", seqs)
	}
	if seq, _ := s.Append(nil); seq != 6 {
		t.Fatalf("Append after damaged records 3..5 got seq %d, want 6", seq)
	}
}

// TestDamagedSealedSegment flips a byte in an older segment, which is
// checked when read: the reader skips the rest of that segment, counts it,
// and goes on with the next one.
func TestDamagedSealedSegment(t *testing.T) {
	cfg := testConfig(t.TempDir())
	sizes := make([]int, 30)
	for i := range sizes {
		sizes[i] = 2000 // 8 frames of 2016 bytes per 16 KiB segment
	}
	_, _ = written(t, cfg, sizes)
	names, segSizes := segFiles(t, cfg.Dir)
	if len(names) < 3 {
		t.Fatalf("want 3+ segments, got %v", names)
	}
	// The second segment holds records 9..16; damage record 11.
	first, _ := parseSegName(filepath.Base(names[1]))
	if first != 9 {
		t.Fatalf("second segment starts at %d", first)
	}
	b, _ := os.ReadFile(names[1])
	off := segHeaderLen + 2*2016
	b[off+100] ^= 1
	os.WriteFile(names[1], b, 0o640)

	s := mustOpen(t, cfg)
	defer s.Close()
	if st := s.Stats(); st.Corrupt != (Count{}) {
		t.Fatalf("sealed segment checked at open: %+v", st.Corrupt)
	}
	seqs, recs := readAll(t, s)
	var wantSeqs []uint64
	for seq := uint64(1); seq <= 30; seq++ {
		if seq < 11 || seq > 16 {
			wantSeqs = append(wantSeqs, seq)
		}
	}
	if len(seqs) != len(wantSeqs) {
		t.Fatalf("read %v, want %v", seqs, wantSeqs)
	}
	for i := range seqs {
		if seqs[i] != wantSeqs[i] {
			t.Fatalf("read %v, want %v", seqs, wantSeqs)
		}
		checkRecord(t, seqs[i], recs[i], 2000)
	}
	st := s.Stats()
	if want := (Count{6, uint64(segSizes[1] - off)}); st.Corrupt != want {
		t.Fatalf("corrupt %+v, want %+v", st.Corrupt, want)
	}
	if st.Pending.Records != 30-6 {
		t.Fatalf("pending %+v", st.Pending)
	}
	// Acknowledging past the damaged segment deletes it.
	if err := s.Ack(20); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(names[1]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("acknowledged damaged segment kept: %v", err)
	}
}

// TestShortSealedSegment: an older segment that lost its tail (its records
// end before the next segment's first) is read as far as it goes.
func TestShortSealedSegment(t *testing.T) {
	cfg := testConfig(t.TempDir())
	sizes := make([]int, 20)
	for i := range sizes {
		sizes[i] = 2000
	}
	written(t, cfg, sizes)
	names, _ := segFiles(t, cfg.Dir)
	// Keep the header and 3 records and a half of the first segment (1..8).
	os.Truncate(names[0], segHeaderLen+3*2016+1000)
	s := mustOpen(t, cfg)
	defer s.Close()
	seqs, _ := readAll(t, s)
	if len(seqs) != 20-5 || seqs[2] != 3 || seqs[3] != 9 {
		t.Fatalf("read %v", seqs)
	}
	if st := s.Stats(); st.Corrupt != (Count{5, 1000}) {
		t.Fatalf("corrupt %+v", st.Corrupt)
	}
}

// TestBadHeaderLastSegment: a last segment whose header was torn when it
// was created is repaired, keeping its name (and so the sequence floor).
func TestBadHeaderLastSegment(t *testing.T) {
	for _, content := range [][]byte{nil, []byte("WWS"), []byte("not a segment at all, really")} {
		dir := t.TempDir()
		p := filepath.Join(dir, segName(42))
		os.WriteFile(p, content, 0o640)
		s := mustOpen(t, testConfig(dir))
		st := s.Stats()
		wantRecs := uint64(0)
		if int64(len(content)) > segHeaderLen {
			wantRecs = 1
		}
		if st.Corrupt != (Count{wantRecs, uint64(len(content))}) {
			t.Fatalf("%q: corrupt %+v", content, st.Corrupt)
		}
		seq, err := s.Append([]byte("x"))
		if err != nil || seq != 42 {
			t.Fatalf("%q: Append seq %d err %v", content, seq, err)
		}
		s.Close()
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte(segMagic)) || int64(len(b)) != segHeaderLen+frameHeaderLen+1 {
			t.Fatalf("%q: segment now %q", content, b)
		}
	}
}
