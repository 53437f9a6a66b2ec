package reassembly

import (
	"fmt"
	"time"
	"unsafe"
)

// Config bounds what an Assembler may hold. Every limit is hard: traffic
// can make the Assembler give up on bytes (counted, and reported to the
// consumer as a Gap), never make it grow past MemoryBound.
type Config struct {
	// MaxBufferedPerDir bounds the memory one direction of one stream may
	// hold out of order, waiting for a hole to fill (default 256 KiB). The
	// memory counted is what the buffers really take: their capacity plus
	// a fixed overhead per buffered range (see chunkOverhead), so a flood
	// of 1-byte segments cannot hold 100 times what it is charged. When a
	// segment would exceed it, the first hole is given up (Gap, counted
	// BudgetDir) and what follows it is delivered.
	MaxBufferedPerDir int
	// MaxBufferedTotal bounds the out-of-order memory of all streams
	// together (default 64 MiB). When a segment would exceed it, the
	// direction that has been holding data the longest gives up all its
	// holes and delivers what it held (counted BudgetTotal).
	MaxBufferedTotal int64
	// MaxStreams bounds the streams tracked at once (default 1<<18). Open
	// on a full Assembler ends idle streams first, else the least recently
	// active one (EndEvicted, counted).
	MaxStreams int
	// IdleTimeout ends a stream that has had no segment for this long, in
	// packet time (default 120s): a connection whose FIN/RST the capture
	// missed must not hold its state forever.
	IdleTimeout time.Duration
}

// Limits accepted by Validate. They keep every per-direction quantity in
// an int32 and every stream reference in 31 bits.
const (
	maxPerDir  = 1 << 30
	maxTotal   = 1 << 40
	maxStreams = 1 << 30
)

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{
		MaxBufferedPerDir: 256 << 10,
		MaxBufferedTotal:  64 << 20,
		MaxStreams:        1 << 18,
		IdleTimeout:       120 * time.Second,
	}
}

// Validate reports the first invalid field. Zero fields are invalid here;
// New replaces them with defaults before validating.
func (c Config) Validate() error {
	switch {
	case c.MaxBufferedPerDir < 1 || c.MaxBufferedPerDir > maxPerDir:
		return fmt.Errorf("reassembly: MaxBufferedPerDir %d out of range [1, %d]", c.MaxBufferedPerDir, maxPerDir)
	case c.MaxBufferedTotal < 1 || c.MaxBufferedTotal > maxTotal:
		return fmt.Errorf("reassembly: MaxBufferedTotal %d out of range [1, %d]", c.MaxBufferedTotal, int64(maxTotal))
	case c.MaxStreams < 1 || c.MaxStreams > maxStreams:
		return fmt.Errorf("reassembly: MaxStreams %d out of range [1, %d]", c.MaxStreams, maxStreams)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("reassembly: IdleTimeout %v must be positive", c.IdleTimeout)
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBufferedPerDir == 0 {
		c.MaxBufferedPerDir = d.MaxBufferedPerDir
	}
	if c.MaxBufferedTotal == 0 {
		c.MaxBufferedTotal = d.MaxBufferedTotal
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = d.MaxStreams
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	return c
}

// freeCap is how much released buffer memory an Assembler keeps for reuse
// (so that steady reordering does not allocate): an eighth of the total
// budget, at most 4 MiB. Beyond it, released buffers go back to the Go heap.
func (c Config) freeCap() int64 { return min(c.MaxBufferedTotal/8, 4<<20) }

// PerStreamBytes is the memory one tracked stream costs, buffered data
// aside: the stream record (its key, consumer, two directions' sequence
// state and list links) plus its share of the index (at most 4 slots of 8
// bytes: the index doubles while at most half full). Measured by
// TestMemoryBound and BenchmarkMillionStreams.
const PerStreamBytes = int64(unsafe.Sizeof(stream{})) + 4*8

// fixedBytes covers what does not scale with the limits: the Assembler,
// the first index and slab blocks, slack in the last slab block.
const fixedBytes = 1 << 20

// MemoryBound is the most memory an Assembler with this configuration
// (after defaults) holds, whatever the traffic:
//
//	MaxBufferedTotal + freeCap + MaxStreams × PerStreamBytes + 1 MiB
//
// where freeCap = min(MaxBufferedTotal/8, 4 MiB) is the released buffer
// memory kept for reuse. The consumers' own memory is not included. With
// the defaults: 64 MiB + 4 MiB + 262144 × PerStreamBytes (≈ 250 B) + 1 MiB
// ≈ 131 MiB per Assembler (one per probe shard).
func (c Config) MemoryBound() int64 {
	c = c.withDefaults()
	return c.MaxBufferedTotal + c.freeCap() + int64(c.MaxStreams)*PerStreamBytes + fixedBytes
}
