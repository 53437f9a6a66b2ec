package reassembly

import "math/bits"

// A chunk is one range of out-of-order bytes held for a direction. A
// direction's chunks form a singly linked list sorted by sequence number,
// never overlapping, all strictly after the next expected byte (there is
// always a hole before the head). A chunk is real (data holds its n bytes)
// or a phantom (data == nil): the part of a segment that the capture's snap
// length cut off, which will become a Gap counted Snaplen when reached.
type chunk struct {
	next *chunk
	seq  uint32
	n    int32
	data []byte // nil for a phantom; len(data) == n otherwise; cap is a size class
}

func (c *chunk) end() uint32 { return c.seq + uint32(c.n) }

// chunkOverhead is what a chunk struct costs on the heap (40 bytes, in
// the allocator's 48-byte size class). It is charged to the budgets with
// the data so that tiny segments pay for their bookkeeping.
const chunkOverhead = 48

// maxChunk is the largest chunk: larger segments (TSO/GRO captures) are
// split. 64 KiB is a page multiple, so the allocator wastes nothing on it.
const (
	maxChunkShift = 16
	maxChunk      = 1 << maxChunkShift
)

// Buffer size classes: 64 B to 64 KiB in steps of ×1.5 and ×4/3 (64, 96,
// 128, 192, ...), which are all Go allocator size classes, so a buffer's
// capacity is the memory it really takes and at most a third of it is
// slack. A full-size Ethernet segment (1448–1460 bytes) takes 1536.
const (
	minClassShift = 6                                   // 64 bytes
	numClasses    = 2*(maxChunkShift-minClassShift) + 1 // 64 … 65536
	phantomClass  = numClasses                          // free list of data-less chunks
)

// classOf returns the smallest size class holding n bytes (1 <= n <= maxChunk).
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	// l: n <= 2^l; the classes between 2^(l-1) and 2^l are 1.5×2^(l-1) and 2^l.
	l := bits.Len(uint(n - 1))
	c := 2 * (l - minClassShift)
	if n <= 3<<(l-2) {
		return c - 1
	}
	return c
}

// classSize returns the capacity of size class c.
func classSize(c int) int {
	if c%2 == 0 {
		return 1 << (minClassShift + c/2)
	}
	return 3 << (minClassShift + c/2 - 1)
}

// chunkCost is what a chunk with n real bytes (0: a phantom) is charged.
func chunkCost(n int) int64 {
	if n == 0 {
		return chunkOverhead
	}
	return int64(classSize(classOf(n))) + chunkOverhead
}

// cost is what an existing chunk is charged.
func (c *chunk) cost() int64 {
	return int64(cap(c.data)) + chunkOverhead
}

// pool recycles chunks and their buffers, one free list per size class.
// It belongs to one Assembler (one goroutine), so it needs no locking,
// unlike sync.Pool; and unlike sync.Pool its size is bounded by max, so
// its memory is part of Config.MemoryBound.
type pool struct {
	free  [numClasses + 1]*chunk
	bytes int64 // memory held by the free lists
	max   int64
}

// get returns a chunk for n real bytes (0: a phantom), data of length n.
func (p *pool) get(n int) *chunk {
	cl := phantomClass
	if n > 0 {
		cl = classOf(n)
	}
	c := p.free[cl]
	if c != nil {
		p.free[cl] = c.next
		p.bytes -= c.cost()
		c.next = nil
	} else {
		c = &chunk{}
		if n > 0 {
			c.data = make([]byte, 0, classSize(cl))
		}
	}
	if n > 0 {
		c.data = c.data[:n]
	}
	return c
}

// put recycles c, or leaves it to the garbage collector when the free
// lists are full.
func (p *pool) put(c *chunk) {
	cost := c.cost()
	if p.bytes+cost > p.max {
		return
	}
	cl := phantomClass
	if cap(c.data) > 0 {
		cl = classOf(cap(c.data))
		c.data = c.data[:0]
	}
	c.next = p.free[cl]
	c.seq, c.n = 0, 0
	p.free[cl] = c
	p.bytes += cost
}
