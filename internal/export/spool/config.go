package spool

import (
	"fmt"
	"time"
)

// Config sizes a Spool. Zero sizes take their defaults in Open; SyncEvery
// is taken as given (zero means fsync on every Append), so start from
// DefaultConfig rather than from a zero Config.
type Config struct {
	// Dir holds the segment files, the acknowledgement file and the lock.
	// One Spool per directory: a second Open of the same directory, from
	// this process or another, fails while the first is open.
	Dir string
	// MaxBytes bounds the segment files on disk (default 1 GiB). An Append
	// that would exceed it deletes whole oldest segments first, acknowledged
	// or not (counted in Stats.Dropped). It must hold two segments and one
	// record of MaxRecord bytes with its framing.
	MaxBytes int64
	// SegmentBytes is the size at which the file being written is closed
	// and a new one started (default 16 MiB). Space is reclaimed a segment
	// at a time, so it is also the granularity of drops and deletions. A
	// record larger than a segment gets a segment of its own.
	SegmentBytes int64
	// MaxRecord is the largest record Append accepts (default 16 MiB);
	// larger ones are refused with ErrTooLarge (counted in Stats.Refused).
	MaxRecord int
	// SyncEvery is how often written records are fsynced (default 1s in
	// DefaultConfig). Zero fsyncs every record before Append returns. Next
	// only hands out records that have been fsynced, and asks for an early
	// fsync when it is waiting for one, so a reader that keeps up sees
	// records within one fsync, not within SyncEvery.
	SyncEvery time.Duration
}

// Format limits, whatever the configuration: the record length is a
// 32-bit field, and a 1 GiB bound keeps every offset and allocation sane.
const (
	minSegmentBytes = 4 << 10
	maxSegmentBytes = 1 << 30
	maxRecordLimit  = 1 << 30
)

// DefaultConfig returns the default configuration for dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:          dir,
		MaxBytes:     1 << 30,
		SegmentBytes: 16 << 20,
		MaxRecord:    16 << 20,
		SyncEvery:    time.Second,
	}
}

// Validate reports the first invalid field. Zero sizes are invalid here;
// Open replaces them with defaults before validating.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return fmt.Errorf("spool: Dir must be set")
	case c.SegmentBytes < minSegmentBytes || c.SegmentBytes > maxSegmentBytes:
		return fmt.Errorf("spool: SegmentBytes %d out of range [%d, %d]", c.SegmentBytes, minSegmentBytes, maxSegmentBytes)
	case c.MaxRecord < 1 || c.MaxRecord > maxRecordLimit:
		return fmt.Errorf("spool: MaxRecord %d out of range [1, %d]", c.MaxRecord, maxRecordLimit)
	case c.MaxBytes < 2*c.SegmentBytes:
		return fmt.Errorf("spool: MaxBytes %d must be at least 2×SegmentBytes (%d)", c.MaxBytes, 2*c.SegmentBytes)
	case c.MaxBytes < segHeaderLen+frameHeaderLen+int64(c.MaxRecord):
		return fmt.Errorf("spool: MaxBytes %d cannot hold one record of MaxRecord %d bytes (needs %d)",
			c.MaxBytes, c.MaxRecord, segHeaderLen+frameHeaderLen+int64(c.MaxRecord))
	case c.SyncEvery < 0:
		return fmt.Errorf("spool: SyncEvery %v must not be negative", c.SyncEvery)
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig(c.Dir)
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.MaxRecord == 0 {
		c.MaxRecord = d.MaxRecord
	}
	return c
}
