package spool

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig("/x")
	if err := good.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		key    string
		modify func(*Config)
	}{
		{"Dir", func(c *Config) { c.Dir = "" }},
		{"SegmentBytes", func(c *Config) { c.SegmentBytes = 100 }},
		{"SegmentBytes", func(c *Config) { c.SegmentBytes = 2 << 30 }},
		{"MaxRecord", func(c *Config) { c.MaxRecord = -1 }},
		{"MaxRecord", func(c *Config) { c.MaxRecord = 2 << 30 }},
		{"MaxBytes", func(c *Config) { c.MaxBytes = c.SegmentBytes }},
		{"MaxBytes", func(c *Config) { c.SegmentBytes, c.MaxBytes, c.MaxRecord = 4<<10, 8<<10, 8<<10 }},
		{"SyncEvery", func(c *Config) { c.SyncEvery = -time.Second }},
	} {
		c := good
		tc.modify(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%+v: got %v, want an error naming %s", c, err, tc.key)
		}
		if tc.key == "Dir" {
			continue
		}
		c.Dir = t.TempDir()
		if _, err := Open(c, nil); err == nil {
			t.Errorf("%+v: Open accepted an invalid config", c)
		}
	}
	// Zero sizes take defaults.
	s := mustOpen(t, Config{Dir: t.TempDir()})
	defer s.Close()
	if s.cfg.MaxBytes != 1<<30 || s.cfg.SegmentBytes != 16<<20 || s.cfg.MaxRecord != 16<<20 || s.cfg.SyncEvery != 0 {
		t.Fatalf("defaults not applied: %+v", s.cfg)
	}
}

func TestAppendNextAck(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	sizes := randomSizes(r, 100, 0, 3000)
	first, frames := appendN(t, s, sizes)
	if first != 1 {
		t.Fatalf("first seq %d, want 1", first)
	}
	st := s.Stats()
	if st.Appended != (Count{100, sum(frames)}) || st.Pending != st.Appended || st.LastSeq != 100 {
		t.Fatalf("after 100 appends: %+v", st)
	}
	if st.Segments < 2 {
		t.Fatalf("%d segments for %d bytes with 16 KiB segments", st.Segments, sum(frames))
	}
	for i := range 60 {
		seq, rec := next(t, s)
		if seq != uint64(i+1) {
			t.Fatalf("Next #%d: seq %d", i, seq)
		}
		checkRecord(t, seq, rec, sizes[i])
	}
	if err := s.Ack(50); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.AckedSeq != 50 || st.Pending != (Count{50, sum(frames[50:])}) {
		t.Fatalf("after Ack(50): acked %d pending %+v, want 50 and {50 %d}", st.AckedSeq, st.Pending, sum(frames[50:]))
	}
	// Acks below the position change nothing; beyond the last record is an error.
	if err := s.Ack(10); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(101); err == nil {
		t.Fatal("Ack(101) with 100 records accepted")
	}
	if got := s.Stats().AckedSeq; got != 50 {
		t.Fatalf("acked %d after no-op acks", got)
	}
	// Part of a segment acknowledged (50 happens to end one).
	if err := s.Ack(55); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Pending != (Count{45, sum(frames[55:])}) {
		t.Fatalf("after Ack(55): pending %+v, want {45 %d}", st.Pending, sum(frames[55:]))
	}
	// The reader continues where it was; Rewind sends the unacknowledged again.
	if seq, _ := next(t, s); seq != 61 {
		t.Fatalf("Next after 60: %d", seq)
	}
	s.Rewind()
	for want := uint64(56); want <= 100; want++ {
		seq, rec := next(t, s)
		if seq != want {
			t.Fatalf("after Rewind: seq %d, want %d", seq, want)
		}
		checkRecord(t, seq, rec, sizes[want-1])
	}
	noNext(t, s)
	// Acknowledging everything deletes every segment but the one being written.
	if err := s.Ack(100); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.Pending != (Count{}) || st.Segments != 1 {
		t.Fatalf("after acking all: %+v", st)
	}
	if names, _ := segFiles(t, s.cfg.Dir); len(names) != 1 {
		t.Fatalf("segment files after acking all: %v", names)
	}
	// Acking ahead of the reader moves the reader.
	appendN(t, s, []int{10, 20, 30})
	if err := s.Ack(102); err != nil {
		t.Fatal(err)
	}
	if seq, rec := next(t, s); seq != 103 {
		t.Fatalf("Next after Ack(102): %d", seq)
	} else {
		checkRecord(t, seq, rec, 30)
	}
}

func TestNextWaitsAndClose(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	got := make(chan uint64)
	go func() {
		seq, _, err := s.Next(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- seq
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Append([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if seq := <-got; seq != 1 {
		t.Fatalf("waiting Next got %d", seq)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, _, err := s.Next(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with cancelled ctx: %v", err)
	}
	go func() {
		_, _, err := s.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next across Close: %v", err)
	}
	if _, err := s.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := s.Ack(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ack after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st := s.Stats(); st.LastSeq != 1 {
		t.Fatalf("Stats after Close: %+v", st)
	}
}

func TestTooLarge(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	if _, err := s.Append(make([]byte, 8<<10+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Append: %v", err)
	}
	seq, err := s.Append(make([]byte, 8<<10))
	if err != nil || seq != 1 {
		t.Fatalf("Append of MaxRecord bytes: seq %d err %v", seq, err)
	}
	st := s.Stats()
	if st.Refused != (Count{1, 8<<10 + 1 + frameHeaderLen}) || st.Appended.Records != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, testConfig(dir))
	if _, err := Open(testConfig(dir), nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open of %s: %v", dir, err)
	}
	s.Close()
	s2 := mustOpen(t, testConfig(dir))
	s2.Close()
}

// TestRestart closes and reopens the spool: sequence numbers continue,
// acknowledged records are not replayed, the others are, in order.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	r := rand.New(rand.NewPCG(3, 4))
	sizes := randomSizes(r, 40, 1, 4000)

	s := mustOpen(t, cfg)
	id := s.ID()
	appendN(t, s, sizes[:30])
	for range 20 {
		next(t, s)
	}
	if err := s.Ack(15); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, cfg)
	if s.ID() != id || len(id) != 32 {
		t.Fatalf("ID %q after restart, was %q", s.ID(), id)
	}
	st := s.Stats()
	frames := make([]uint64, len(sizes))
	for i, n := range sizes {
		frames[i] = uint64(frameHeaderLen + n)
	}
	if st.LastSeq != 30 || st.AckedSeq != 15 || st.Pending != (Count{15, sum(frames[15:30])}) || st.Corrupt != (Count{}) {
		t.Fatalf("after reopen: %+v", st)
	}
	for want := uint64(16); want <= 30; want++ {
		seq, rec := next(t, s)
		if seq != want {
			t.Fatalf("replay: seq %d, want %d", seq, want)
		}
		checkRecord(t, seq, rec, sizes[want-1])
	}
	noNext(t, s)
	if first, _ := appendN(t, s, sizes[30:]); first != 31 {
		t.Fatalf("first Append after restart got %d", first)
	}
	for want := uint64(31); want <= 40; want++ {
		seq, rec := next(t, s)
		if seq != want {
			t.Fatalf("after restart: seq %d, want %d", seq, want)
		}
		checkRecord(t, seq, rec, sizes[want-1])
	}
	if err := s.Ack(40); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Everything acknowledged: nothing replayed, the sequence goes on, even
	// without the acknowledgement file (the last segment keeps the floor;
	// only resending is at stake).
	s = mustOpen(t, cfg)
	noNext(t, s)
	if st := s.Stats(); st.Pending != (Count{}) || st.LastSeq != 40 {
		t.Fatalf("after reopen with all acked: %+v", st)
	}
	s.Close()
	if err := os.Remove(filepath.Join(dir, ackName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	defer s.Close()
	if seq, err := s.Append([]byte("x")); err != nil || seq != 41 {
		t.Fatalf("Append without ack file: seq %d err %v, want 41", seq, err)
	}
}

// TestAckPersistedWithSyncEvery checks that the syncer saves the position.
func TestAckPersistedWithSyncEvery(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SyncEvery = 10 * time.Millisecond
	s := mustOpen(t, cfg)
	appendN(t, s, []int{10, 10, 10})
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, ackName))
		if err == nil {
			if v, err := decodeAck(b); err == nil && v == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("acknowledgement position not saved by the syncer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
}

func TestCorruptAckFileReplaysAll(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := mustOpen(t, cfg)
	appendN(t, s, []int{5, 6, 7})
	s.Ack(2)
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, ackName), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	defer s.Close()
	for want := uint64(1); want <= 3; want++ {
		if seq, _ := next(t, s); seq != want {
			t.Fatalf("seq %d, want %d", seq, want)
		}
	}
}

// TestSyncGate: with a long SyncEvery, a waiting reader still gets records
// promptly (it asks for the fsync), and only fsynced ones.
func TestSyncGate(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	appendN(t, s, []int{100})
	if st := s.Stats(); st.LastSeq != 1 {
		t.Fatal(st)
	}
	s.mu.Lock()
	synced := s.synced
	s.mu.Unlock()
	if synced != 0 {
		t.Fatalf("synced %d before any fsync", synced)
	}
	if seq, _ := next(t, s); seq != 1 {
		t.Fatalf("seq %d", seq)
	}
	s.mu.Lock()
	synced = s.synced
	s.mu.Unlock()
	if synced != 1 {
		t.Fatalf("record handed out with synced=%d", synced)
	}
}

func TestUnknownFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"notes.txt", "123.seg", "0000000000000000000x.seg", "ack.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("zz"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s := mustOpen(t, testConfig(dir))
	defer s.Close()
	if st := s.Stats(); st.Segments != 0 || st.LastSeq != 0 {
		t.Fatalf("%+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "ack.tmp")); !os.IsNotExist(err) {
		t.Fatalf("leftover ack.tmp not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatalf("unknown file touched: %v", err)
	}
}

// TestAckWithoutRead acknowledges records Next never returned (the center
// acknowledging what a previous process sent): the pending bytes come
// from the segment's frame headers.
func TestAckWithoutRead(t *testing.T) {
	s := mustOpen(t, testConfig(t.TempDir()))
	defer s.Close()
	sizes := randomSizes(rand.New(rand.NewPCG(21, 22)), 40, 0, 3000)
	_, frames := appendN(t, s, sizes)
	for _, ack := range []uint64{3, 4, 13, 14, 39, 40} {
		if err := s.Ack(ack); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Pending != (Count{40 - ack, sum(frames[ack:])}) {
			t.Fatalf("after Ack(%d): pending %+v, want {%d %d}", ack, st.Pending, 40-ack, sum(frames[ack:]))
		}
	}
}

// TestSyncEveryZero: every record is durable when Append returns, and
// every Ack is saved at once.
func TestSyncEveryZero(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.SyncEvery = 0
	s := mustOpen(t, cfg)
	defer s.Close()
	appendN(t, s, randomSizes(rand.New(rand.NewPCG(23, 24)), 30, 1000, 3000))
	s.mu.Lock()
	synced, last, dirty := s.synced, s.nextSeq-1, s.dirDirty
	s.mu.Unlock()
	if synced != last || dirty {
		t.Fatalf("synced %d of %d, directory dirty %v", synced, last, dirty)
	}
	for want := uint64(1); want <= 12; want++ {
		if seq, _ := next(t, s); seq != want {
			t.Fatalf("seq %d, want %d", seq, want)
		}
	}
	if err := s.Ack(12); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ackName))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := decodeAck(b); err != nil || v != 12 {
		t.Fatalf("ack file holds %d (%v), want 12", v, err)
	}
}
