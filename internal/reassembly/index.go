package reassembly

import "math/bits"

// ref is a stream reference: index+1 into the Assembler's slab, 0 = none.
type ref uint32

// index maps flow keys to stream references: open addressing with linear
// probing and backward-shift deletion (no tombstones, so churn — a SYN
// flood, a port scan, a million streams through a table of 100,000 — never
// degrades it). A slot is the upper 32 bits of the key's hash (the tag)
// and the reference; the home slot comes from the tag's top bits. It is
// kept at most half full: 8–32 bytes per stream, a quarter of what a
// map[flow.Key]ref costs.
type index struct {
	slots    []uint64
	bits     uint // len(slots) == 1<<bits
	n        int
	maxSlots int
}

func (x *index) init(slots, maxSlots int) {
	x.slots = make([]uint64, slots)
	x.bits = uint(bits.Len64(uint64(slots)) - 1)
	x.maxSlots = maxSlots
	x.n = 0
}

func (x *index) home(tag uint32) uint64 { return uint64(tag >> (32 - x.bits)) }

func (x *index) insert(tag uint32, r ref) {
	if 2*(x.n+1) > len(x.slots) && len(x.slots) < x.maxSlots {
		x.grow()
	}
	x.place(uint64(tag)<<32 | uint64(r))
	x.n++
}

func (x *index) place(s uint64) {
	mask := uint64(len(x.slots) - 1)
	i := x.home(uint32(s >> 32))
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	x.bits++
	for _, s := range old {
		if s != 0 {
			x.place(s)
		}
	}
}

// remove deletes the slot of r, whose tag is tag. It reports false (and
// changes nothing) if there is no such slot, which would be a bug.
func (x *index) remove(tag uint32, r ref) bool {
	mask := uint64(len(x.slots) - 1)
	want := uint64(tag)<<32 | uint64(r)
	i := x.home(tag)
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			return false
		}
		i = (i + 1) & mask
	}
	// Backward shift: move later entries of the probe run into the hole
	// when their home slot allows it, so that no lookup stops early.
	for j := i; ; {
		j = (j + 1) & mask
		s := x.slots[j]
		if s == 0 {
			break
		}
		k := x.home(uint32(s >> 32))
		// The entry at j may move to i unless its home lies cyclically in (i, j].
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		x.slots[i] = s
		i = j
	}
	x.slots[i] = 0
	x.n--
	return true
}
