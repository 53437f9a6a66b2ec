package spool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// encodeSegment builds a segment file the way Append writes one.
func encodeSegment(first uint64, recs ...[]byte) []byte {
	b := []byte(segMagic)
	for i, r := range recs {
		b = append(b, encodeFrame(first+uint64(i), r)...)
	}
	return b
}

func encodeFrame(seq uint64, rec []byte) []byte {
	h := make([]byte, frameHeaderLen)
	putFrameHeader(h, seq, rec)
	return append(h, rec...)
}

// FuzzRecover opens a directory whose segment file 1 holds the fuzzed
// bytes, either as the last segment (checked at Open) or as a sealed one
// followed by an empty last segment (checked as it is read), with a fuzzed
// acknowledgement file. Open must succeed, Next must only return records
// whose frame, checksum included, is in the input, in increasing order,
// and after acknowledging everything a reopen must find nothing pending.
//
// Run with TMPDIR on a tmpfs (e.g. TMPDIR=/dev/shm): every iteration makes
// a directory and fsyncs.
func FuzzRecover(f *testing.F) {
	valid := encodeSegment(1, []byte("first"), bytes.Repeat([]byte{0xab}, 300), nil, []byte("fourth record"))
	f.Add(valid, false, []byte(nil))
	f.Add(valid, true, []byte(nil))
	f.Add(valid, false, encodeAck(2))
	f.Add(valid, true, encodeAck(3))
	f.Add(valid[:len(valid)-3], false, []byte(nil))
	f.Add(valid[:len(valid)-3], true, []byte(nil))
	f.Add(valid[:5], false, []byte("junk"))
	f.Add(append(bytes.Clone(valid), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), false, []byte(nil))
	f.Add(encodeSegment(2, []byte("wrong first seq")), false, []byte(nil))
	f.Add([]byte{}, true, encodeAck(1<<40))
	flipped := bytes.Clone(valid)
	flipped[segHeaderLen+frameHeaderLen+2] ^= 1
	f.Add(flipped, false, []byte(nil))
	f.Add(flipped, true, []byte(nil))

	f.Fuzz(func(t *testing.T, data []byte, sealed bool, ack []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), data, 0o640); err != nil {
			t.Fatal(err)
		}
		if sealed {
			if err := os.WriteFile(filepath.Join(dir, segName(1000)), []byte(segMagic), 0o640); err != nil {
				t.Fatal(err)
			}
		}
		if len(ack) > 0 {
			if err := os.WriteFile(filepath.Join(dir, ackName), ack, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		cfg := testConfig(dir)
		s, err := Open(cfg, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		st := s.Stats()
		if st.Corrupt.Bytes > uint64(len(data)) {
			t.Fatalf("corrupt bytes %d > input %d", st.Corrupt.Bytes, len(data))
		}
		sentinel, err := s.Append([]byte("sentinel"))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var prev uint64
		for {
			seq, rec, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("Next before the sentinel %d: %v", sentinel, err)
			}
			if seq <= prev {
				t.Fatalf("seq %d after %d", seq, prev)
			}
			prev = seq
			if seq == sentinel {
				if string(rec) != "sentinel" {
					t.Fatalf("sentinel read back as %q", rec)
				}
				break
			}
			if seq > sentinel {
				t.Fatalf("seq %d beyond the sentinel %d", seq, sentinel)
			}
			if !bytes.Contains(data, encodeFrame(seq, rec)) {
				t.Fatalf("record %d (%d bytes) is not a checksummed frame of the input", seq, len(rec))
			}
		}
		if err := s.Ack(sentinel); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Pending != (Count{}) {
			t.Fatalf("pending after acking all: %+v", st.Pending)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = Open(cfg, nil)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		if st := s.Stats(); st.Pending != (Count{}) || st.Corrupt != (Count{}) || st.LastSeq != sentinel {
			t.Fatalf("reopen after acking all: %+v", st)
		}
	})
}
