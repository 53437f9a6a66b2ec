package spool

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func diskBytes(t testing.TB, dir string) int64 {
	_, sizes := segFiles(t, dir)
	var n int64
	for _, s := range sizes {
		n += s
	}
	return n
}

// TestBoundNothingAcked appends far more than MaxBytes with nothing read:
// the oldest records go, whole segments at a time, the counts are exact,
// and the segment files never exceed MaxBytes.
func TestBoundNothingAcked(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxBytes = 64 << 10
	s := mustOpen(t, cfg)
	defer s.Close()
	r := rand.New(rand.NewPCG(9, 10))
	sizes := randomSizes(r, 600, 0, 3000)
	frames := make([]uint64, len(sizes))
	for i, n := range sizes {
		if _, err := s.Append(payload(uint64(i+1), n)); err != nil {
			t.Fatal(err)
		}
		frames[i] = uint64(frameHeaderLen + n)
		d := diskBytes(t, cfg.Dir)
		if d > cfg.MaxBytes {
			t.Fatalf("after %d appends: %d bytes of segments > MaxBytes %d", i+1, d, cfg.MaxBytes)
		}
		if st := s.Stats(); st.DiskBytes != d {
			t.Fatalf("Stats.DiskBytes %d, files hold %d", st.DiskBytes, d)
		}
	}
	st := s.Stats()
	seqs, recs := readAll(t, s)
	if len(seqs) == 0 || seqs[len(seqs)-1] != 600 {
		t.Fatalf("read %d records ending %v", len(seqs), seqs[len(seqs)-1:])
	}
	k := seqs[0]
	for i, seq := range seqs {
		if seq != k+uint64(i) {
			t.Fatalf("gap inside what is left: %d after %d", seq, seqs[i-1])
		}
		checkRecord(t, seq, recs[i], sizes[seq-1])
	}
	if k < 2 {
		t.Fatal("nothing was dropped; the test is not testing the bound")
	}
	wantDropped := Count{k - 1, sum(frames[:k-1])}
	wantPending := Count{600 - k + 1, sum(frames[k-1:])}
	if st.Dropped != wantDropped || st.Pending != wantPending {
		t.Fatalf("dropped %+v pending %+v, want %+v and %+v", st.Dropped, st.Pending, wantDropped, wantPending)
	}
	if st.Appended.Records != 600 || st.Corrupt != (Count{}) {
		t.Fatalf("%+v", st)
	}
}

// TestBoundPartlyAcked lets the reader fall behind and acknowledge part of
// a segment before the bound drops it: only what was not acknowledged is
// counted as dropped, and Next skips the gap.
func TestBoundPartlyAcked(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxBytes = 64 << 10
	s := mustOpen(t, cfg)
	defer s.Close()
	r := rand.New(rand.NewPCG(11, 12))
	const n = 800
	sizes := randomSizes(r, n, 0, 2500)
	returned := map[uint64]bool{}
	var last uint64
	for i := range n {
		if _, err := s.Append(payload(uint64(i+1), sizes[i])); err != nil {
			t.Fatal(err)
		}
		if (i+1)%40 == 0 {
			for range 7 {
				seq, rec := next(t, s)
				if seq <= last {
					t.Fatalf("seq %d after %d", seq, last)
				}
				last = seq
				checkRecord(t, seq, rec, sizes[seq-1])
				returned[seq] = true
				if err := s.Ack(seq); err != nil {
					t.Fatal(err)
				}
			}
		}
		if d := diskBytes(t, cfg.Dir); d > cfg.MaxBytes {
			t.Fatalf("%d bytes of segments > MaxBytes", d)
		}
	}
	seqs, _ := readAll(t, s)
	for _, seq := range seqs {
		returned[seq] = true
	}
	var wantDropped Count
	for seq := uint64(1); seq <= n; seq++ {
		if !returned[seq] {
			wantDropped.add(1, int64(frameHeaderLen+sizes[seq-1]))
		}
	}
	st := s.Stats()
	if wantDropped.Records == 0 {
		t.Fatal("nothing dropped")
	}
	if st.Dropped != wantDropped {
		t.Fatalf("dropped %+v, want %+v", st.Dropped, wantDropped)
	}
}

// TestConcurrent runs one appender and one reader (acknowledging, and now
// and then rewinding) at once; run with -race.
func TestConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
		rewind   bool
	}{
		{"no-drops", 64 << 20, false},
		{"no-drops-rewind", 64 << 20, true},
		{"drops-rewind", 48 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.MaxBytes = tc.maxBytes
			cfg.SyncEvery = time.Millisecond
			s := mustOpen(t, cfg)
			defer s.Close()
			const n = 3000
			sizes := randomSizes(rand.New(rand.NewPCG(13, 14)), n, 0, 2000)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := range n {
					seq, err := s.Append(payload(uint64(i+1), sizes[i]))
					if err != nil || seq != uint64(i+1) {
						t.Errorf("Append: seq %d err %v", seq, err)
						return
					}
					go s.Stats() // from anywhere
				}
			}()
			returned := make([]int, n+1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				var prev, acked uint64
				rewound := false
				for reads := 1; ; reads++ {
					seq, rec, err := s.Next(ctx)
					if err != nil {
						t.Errorf("Next: %v", err)
						return
					}
					switch {
					case rewound && seq <= acked:
						t.Errorf("after Rewind: seq %d, acked %d", seq, acked)
					case !rewound && seq <= prev:
						t.Errorf("seq %d after %d", seq, prev)
					case tc.maxBytes > 1<<20 && !rewound && seq != prev+1:
						t.Errorf("gap without drops: %d after %d", seq, prev)
					case rewound && tc.maxBytes > 1<<20 && seq != acked+1:
						t.Errorf("after Rewind: seq %d, want %d", seq, acked+1)
					}
					if string(rec) != string(payload(seq, sizes[seq-1])) {
						t.Errorf("record %d: wrong content", seq)
					}
					returned[seq]++
					prev, rewound = seq, false
					if seq == n {
						return
					}
					if reads%3 == 0 {
						if err := s.Ack(seq); err != nil {
							t.Errorf("Ack: %v", err)
						}
						acked = seq
					}
					if tc.rewind && reads%97 == 0 {
						s.Rewind()
						rewound = true
					}
				}
			}()
			wg.Wait()
			st := s.Stats()
			missing := uint64(0)
			for seq := 1; seq <= n; seq++ {
				if returned[seq] == 0 {
					missing++
				}
			}
			if st.Corrupt != (Count{}) || missing > st.Dropped.Records {
				t.Fatalf("missing %d, stats %+v", missing, st)
			}
			if tc.maxBytes > 1<<20 && (missing != 0 || st.Dropped != (Count{})) {
				t.Fatalf("lost records without a bound: missing %d, %+v", missing, st)
			}
			if tc.maxBytes < 1<<20 && st.Dropped.Records == 0 {
				t.Fatal("bound never reached")
			}
		})
	}
}
