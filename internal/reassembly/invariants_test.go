package reassembly

import (
	"fmt"

	"github.com/wirewatch/wirewatch/internal/flow"
)

// checkInvariants verifies the Assembler's internal structure: every
// tracked stream is indexed and on the LRU list (in activity order); each
// direction's chunks are sorted, non-overlapping, strictly after the next
// expected byte, within the FIN; the memory charged matches the chunks and
// stays within both budgets; the holders list holds exactly the
// directions with chunks.
func (a *Assembler) checkInvariants() error {
	holders := map[uint32]bool{}
	var prevID uint32
	for id := a.holdHead; id != 0; id = a.holder(id).hnext {
		if holders[id] {
			return fmt.Errorf("holders list loops at %d", id)
		}
		if a.holder(id).hprev != prevID {
			return fmt.Errorf("holders list: bad prev link at %d", id)
		}
		holders[id] = true
		prevID = id
	}
	if a.holdTail != prevID {
		return fmt.Errorf("holders list: bad tail")
	}
	var mem, held int64
	var n uint64
	var prev ref
	seen := int64(-1 << 63)
	for r := a.lruHead; r != 0; r = a.stream(r).next {
		s := a.stream(r)
		n++
		if n > a.stats.StreamsActive {
			return fmt.Errorf("LRU list longer than StreamsActive %d", a.stats.StreamsActive)
		}
		if s.prev != prev || s.self != r {
			return fmt.Errorf("LRU list: bad links at %d", r)
		}
		if s.seen < seen {
			return fmt.Errorf("LRU list out of order at %d", r)
		}
		seen = s.seen
		prev = r
		if got := a.lookupHash(&s.key, s.key.Hash()); got != s {
			return fmt.Errorf("stream %d not indexed", r)
		}
		for d := range flow.Dir(2) {
			h := &s.h[d]
			var hm, hh int64
			end := h.next
			for c := h.head; c != nil; c = c.next {
				if min := int32(0); c == h.head {
					min = 1
					if seqDiff(c.seq, end) < min {
						return fmt.Errorf("stream %d dir %d: head chunk at %d, next %d", r, d, c.seq, h.next)
					}
				} else if seqDiff(c.seq, end) < min {
					return fmt.Errorf("stream %d dir %d: chunks overlap at %d", r, d, c.seq)
				}
				if c.n <= 0 || (c.data != nil && len(c.data) != int(c.n)) {
					return fmt.Errorf("stream %d dir %d: chunk of %d, data %d", r, d, c.n, len(c.data))
				}
				if h.flags&hFin != 0 && seqDiff(c.end(), h.fin) > 0 {
					return fmt.Errorf("stream %d dir %d: chunk beyond the FIN", r, d)
				}
				if c.next == nil && h.tail != c {
					return fmt.Errorf("stream %d dir %d: bad tail", r, d)
				}
				end = c.end()
				hm += c.cost()
				if c.data != nil {
					hh += int64(c.n)
				}
			}
			if h.head == nil && h.tail != nil {
				return fmt.Errorf("stream %d dir %d: tail without head", r, d)
			}
			if hm != int64(h.mem) || hh != int64(h.held) {
				return fmt.Errorf("stream %d dir %d: mem %d held %d, chunks say %d %d", r, d, h.mem, h.held, hm, hh)
			}
			if hm > a.perDir {
				return fmt.Errorf("stream %d dir %d: %d bytes > MaxBufferedPerDir %d", r, d, hm, a.perDir)
			}
			if (h.head != nil) != holders[holdID(r, d)] {
				return fmt.Errorf("stream %d dir %d: holders list membership", r, d)
			}
			mem += hm
			held += hh
		}
	}
	if a.lruTail != prev {
		return fmt.Errorf("LRU list: bad tail")
	}
	if n != a.stats.StreamsActive || a.idx.n != int(n) {
		return fmt.Errorf("%d streams listed, %d active, %d indexed", n, a.stats.StreamsActive, a.idx.n)
	}
	if n > uint64(a.cfg.MaxStreams) {
		return fmt.Errorf("%d streams > MaxStreams", n)
	}
	if mem != a.mem || held != a.held {
		return fmt.Errorf("total mem %d held %d, chunks say %d %d", a.mem, a.held, mem, held)
	}
	if mem > a.total {
		return fmt.Errorf("%d bytes > MaxBufferedTotal %d", mem, a.total)
	}
	if a.pool.bytes > a.pool.max || a.pool.bytes < 0 {
		return fmt.Errorf("pool holds %d > %d", a.pool.bytes, a.pool.max)
	}
	if a.busy {
		return fmt.Errorf("busy outside a call")
	}
	return nil
}
