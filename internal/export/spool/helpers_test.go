package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// payload is the content the tests give record seq: derived from seq
// alone, so a reader can check what it got without the writer's help.
func payload(seq uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seq, 0x5eed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if n >= 8 {
		binary.LittleEndian.PutUint64(b, seq)
	}
	return b
}

func testConfig(dir string) Config {
	return Config{
		Dir:          dir,
		MaxBytes:     1 << 20,
		SegmentBytes: 16 << 10,
		MaxRecord:    8 << 10,
		SyncEvery:    time.Hour, // fsync on demand (a waiting Next) and at Close
	}
}

func mustOpen(t testing.TB, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// appendN appends records with the given sizes, checking that each gets
// the next sequence number, and returns their on-disk frame bytes.
func appendN(t testing.TB, s *Spool, sizes []int) (first uint64, frameBytes []uint64) {
	t.Helper()
	for i, n := range sizes {
		want := s.Stats().LastSeq + 1
		seq, err := s.Append(payload(want, n))
		if err != nil {
			t.Fatalf("Append #%d: %v", i, err)
		}
		if seq != want {
			t.Fatalf("Append #%d: seq %d, want %d", i, seq, want)
		}
		if i == 0 {
			first = seq
		}
		frameBytes = append(frameBytes, uint64(frameHeaderLen+n))
	}
	return first, frameBytes
}

// next calls Next with a deadline, so that a test that expected a record
// fails instead of hanging.
func next(t testing.TB, s *Spool) (uint64, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, rec, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return seq, rec
}

// noNext checks that Next has nothing to return.
func noNext(t testing.TB, s *Spool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	seq, _, err := s.Next(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: got seq %d err %v, want nothing to read", seq, err)
	}
}

// checkRecord verifies that rec is what payload(seq, n) made, for the
// size the record was written with.
func checkRecord(t testing.TB, seq uint64, rec []byte, n int) {
	t.Helper()
	if len(rec) != n {
		t.Fatalf("record %d: %d bytes, want %d", seq, len(rec), n)
	}
	if string(rec) != string(payload(seq, n)) {
		t.Fatalf("record %d: content differs from what was appended", seq)
	}
}

// segFiles lists the segment files in dir with their sizes, oldest first.
func segFiles(t testing.TB, dir string) (names []string, sizes []int64) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !strings.HasSuffix(e.Name(), segSuffix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Join(dir, e.Name()))
		sizes = append(sizes, fi.Size())
	}
	return names, sizes
}

func sum(xs []uint64) uint64 {
	var s uint64
	for _, x := range xs {
		s += x
	}
	return s
}

func randomSizes(r *rand.Rand, n, lo, hi int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = lo + r.IntN(hi-lo+1)
	}
	return out
}
