package capture

import "sync"

// publishEvery is how many records a reader handles between two
// publications of its counters. Counting in plain fields and publishing
// now and then keeps atomics and locks off the per-frame path; Stats seen
// from another goroutine may lag by this many records, never more, and are
// exact once Next has returned an error (io.EOF included) or Close was
// called.
const publishEvery = 1024

// counters is a Stats owned by the reading goroutine plus a published copy
// other goroutines read.
type counters struct {
	local   Stats // only the goroutine calling Next touches it
	pending int

	mu     sync.Mutex
	shared Stats
}

// tick counts one record handled and publishes every publishEvery.
func (c *counters) tick() {
	c.pending++
	if c.pending >= publishEvery {
		c.publish()
	}
}

func (c *counters) publish() {
	c.pending = 0
	c.mu.Lock()
	c.shared = c.local
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	s := c.shared
	c.mu.Unlock()
	return s
}
