package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A capture file that another process truncates while it is read (large
// files are memory-mapped) ends the read with an error, not a crash.
func TestFileTruncatedWhileReadIsAnError(t *testing.T) {
	for _, workers := range []int{1, 2} {
		var b bytes.Buffer
		hdr := make([]byte, 24)
		binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
		binary.LittleEndian.PutUint16(hdr[4:], 2)
		binary.LittleEndian.PutUint16(hdr[6:], 4)
		binary.LittleEndian.PutUint32(hdr[16:], 65535)
		binary.LittleEndian.PutUint32(hdr[20:], 1)
		b.Write(hdr)
		frame := make([]byte, 60) // an Ethernet frame of zeros: counted as malformed, which is fine here
		for i := range 100000 {
			rh := make([]byte, 16)
			binary.LittleEndian.PutUint32(rh[0:], uint32(1700000000+i/1000))
			binary.LittleEndian.PutUint32(rh[8:], uint32(len(frame)))
			binary.LittleEndian.PutUint32(rh[12:], uint32(len(frame)))
			b.Write(rh)
			b.Write(frame)
		}
		path := filepath.Join(t.TempDir(), "shrinking.pcap")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		opt := testOptions()
		opt.Workers = workers
		truncated := false
		_, err := ReadFile(context.Background(), path, opt, func(uint64, time.Duration) {
			if !truncated {
				truncated = true
				if err := os.Truncate(path, 4096); err != nil {
					t.Error(err)
				}
			}
		})
		if !truncated {
			t.Fatal("the progress callback never ran: the file is too small for this test")
		}
		if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
			t.Fatalf("%d workers: err = %v, want the file-changed error", workers, err)
		}
	}
}
