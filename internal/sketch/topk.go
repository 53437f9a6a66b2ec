package sketch

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

const (
	// DefaultTopCapacity is the number of counters of NewTopK(0).
	DefaultTopCapacity = 256
	// MaxTopCapacity caps the counters of a TopK, in memory and on the wire.
	MaxTopCapacity = 1 << 16
	// MaxTopKeyLen caps the length of a key, in memory and on the wire. Add
	// truncates longer keys (so every sketch encodes to something its
	// decoder accepts); keys that share their first 4096 bytes count as one.
	MaxTopKeyLen = 4096

	// maxTopKBytes caps an encoded TopK. Legitimate encodings are far
	// smaller (256 counters of 40-byte keys take ~12 KiB).
	maxTopKBytes = 64 << 20
)

// Item is one heavy hitter. The true weight of Name lies in
// [Estimate − Error, Estimate]. JSON shape as pktvisor's top-N lists.
type Item struct {
	Name     string `json:"name"`
	Estimate uint64 `json:"estimate"`
	Error    uint64 `json:"error,omitempty"`
}

// TopK finds the heaviest keys of a weighted stream with m counters
// (Space-Saving: Metwally, Agrawal and El Abbadi, ICDT 2005, with weights),
// and merges as in Agarwal et al., "Mergeable Summaries" (PODS 2012) and
// Cafaro et al., "Parallel Space Saving".
//
// With W the total weight added (Total), every tracked key's true weight
// lies in [Estimate − Error, Estimate], every Error is at most W/m, and every
// key whose true weight exceeds W/m is tracked. The bounds survive merges of
// sketches with the same capacity: merged estimates add (a key absent from
// one side is charged that side's floor, the most an untracked key can
// weigh there), errors add, the m largest are kept, and W/m is then computed
// on the merged total.
//
// An open-addressing table finds a key's counter by the key's hash, which
// is computed once per Add and also picks the filter bound (see insert); a
// min-heap over the counters finds the one to evict. The heap is built only
// when the sketch fills up: until then nothing is evicted, and an Add of a
// tracked key is a hash, a probe and an add. Add is O(log m) at worst and
// does not allocate when the key is already tracked.
//
// The zero value is usable with DefaultTopCapacity. A TopK is not safe for
// concurrent use.
type TopK struct {
	capacity int
	// table maps hashes to counters: slot+1 per entry, 0 when empty,
	// linear probing; a power of two, at least twice the counters.
	table []int32
	slots []counter // stable storage, one per tracked key
	// heap holds the slot numbers, a min-heap by count once the sketch is
	// full (and in insertion order before: nothing to evict yet).
	heap  []int32
	total uint64 // W: all weight ever added
	// floor bounds the true weight of any key not tracked: the largest
	// count ever evicted (an evicted key weighed at most its count), and
	// after a merge the sum of the inputs' floors or the largest dropped
	// estimate. It is what a newly tracked key may already have had.
	floor uint64
	// alpha is the filter of a full sketch (see insert): per hash bucket,
	// a bound on the weight of the untracked keys in it, each at most
	// floor. nil until the sketch first fills, and after a merge or a
	// decode (floor bounds everything then).
	alpha []uint64
}

type counter struct {
	// key views buf: the counter owns its key's bytes and reuses them
	// when it is given to another key (the common case under churn: a
	// stream of distinct keys evicts a counter per key), so tracking a
	// new key does not allocate. key is removed from the table before buf
	// is overwritten, and every key that leaves the sketch (Top, Merge) is
	// copied first.
	key   string
	buf   []byte
	hash  uint64 // Hash64 of key
	count uint64 // upper bound of the key's weight
	err   uint64 // count − err is a lower bound
	pos   int32  // position in heap
}

// NewTopK returns a sketch with capacity counters: DefaultTopCapacity when
// capacity ≤ 0, at most MaxTopCapacity. Larger capacity, tighter bounds:
// error ≤ W/capacity.
func NewTopK(capacity int) *TopK {
	t := &TopK{}
	t.init(capacity)
	return t
}

func (t *TopK) init(capacity int) {
	if capacity <= 0 {
		capacity = DefaultTopCapacity
	}
	capacity = min(capacity, MaxTopCapacity)
	t.capacity = capacity
	// Sized for a full sketch up front: steady-state churn (evict one key,
	// track another) then never grows the map. Small for the default.
	hint := min(capacity, 1024)
	t.table = make([]int32, 16)
	t.slots = make([]counter, 0, hint)
	t.heap = make([]int32, 0, hint)
}

// find returns the slot of key (whose hash is h), or -1 and the table
// position where it would go.
func (t *TopK) find(key []byte, h uint64) (slot int32, at int) {
	mask := len(t.table) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		e := t.table[i]
		if e == 0 {
			return -1, i
		}
		if c := &t.slots[e-1]; c.hash == h && c.key == string(key) {
			return e - 1, i
		}
	}
}

// lookup returns the slot of a tracked key, or -1.
func (t *TopK) lookup(key string) int32 {
	if len(t.table) == 0 {
		return -1
	}
	s, _ := t.find(unsafeBytes(key), Hash64(unsafeBytes(key)))
	return s
}

// place enters slot s (its key and hash set) at table position at, found
// free by find; the table doubles when it gets half full.
func (t *TopK) place(s int32, at int) {
	t.table[at] = s + 1
	if 2*len(t.slots) > len(t.table) {
		t.rehash(2 * len(t.table))
	}
}

func (t *TopK) rehash(size int) {
	t.table = make([]int32, size)
	mask := size - 1
	for s := range t.slots {
		i := int(t.slots[s].hash) & mask
		for t.table[i] != 0 {
			i = (i + 1) & mask
		}
		t.table[i] = int32(s) + 1
	}
}

// unplace removes slot s from the table, shifting back the entries after
// it that probed past it (no tombstones: probes stay short under churn).
func (t *TopK) unplace(s int32) {
	mask := len(t.table) - 1
	i := int(t.slots[s].hash) & mask
	for t.table[i] != s+1 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; t.table[j] != 0; j = (j + 1) & mask {
		home := int(t.slots[t.table[j]-1].hash) & mask
		// Entry j may move to the hole at i when its home is not in the
		// cyclic range (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.table[i] = t.table[j]
			i = j
		}
	}
	t.table[i] = 0
}

// Capacity returns the number of counters.
func (t *TopK) Capacity() int {
	if t.capacity == 0 {
		return DefaultTopCapacity
	}
	return t.capacity
}

// Total returns W, the sum of all weights added (merged totals included).
func (t *TopK) Total() uint64 { return t.total }

// Add adds weight w to key (truncated to MaxTopKeyLen bytes). w = 0 is
// ignored.
func (t *TopK) Add(key string, w uint64) {
	if w == 0 {
		return
	}
	if t.capacity == 0 {
		t.init(0)
	}
	t.total = addSat(t.total, w)
	if len(key) > MaxTopKeyLen {
		key = key[:MaxTopKeyLen]
	}
	t.add(unsafeBytes(key), w)
}

func (t *TopK) add(key []byte, w uint64) {
	h := Hash64(key)
	s, at := t.find(key, h)
	if s >= 0 {
		c := &t.slots[s]
		c.count = addSat(c.count, w)
		if len(t.slots) == t.capacity {
			t.down(int(c.pos))
		}
		return
	}
	t.insert(key, h, at, w)
}

// AddBytes is Add for a key held in bytes (e.g. a DNS name in a packet): it
// allocates the key's string only when the key becomes tracked.
func (t *TopK) AddBytes(key []byte, w uint64) {
	if w == 0 {
		return
	}
	if t.capacity == 0 {
		t.init(0)
	}
	t.total = addSat(t.total, w)
	if len(key) > MaxTopKeyLen {
		key = key[:MaxTopKeyLen]
	}
	t.add(key, w)
}

// setKey makes c track key, in c's own bytes.
func (c *counter) setKey(key []byte) {
	c.buf = append(c.buf[:0], key...)
	if len(c.buf) == 0 {
		c.key = ""
		return
	}
	c.key = unsafe.String(unsafe.SliceData(c.buf), len(c.buf))
}

// insert tracks key (hash h, table position at from find), or absorbs its
// weight into the filter when it does not beat the smallest counter.
func (t *TopK) insert(key []byte, h uint64, at int, w uint64) {
	if len(t.slots) < t.capacity {
		s := int32(len(t.slots))
		c := counter{hash: h, count: addSat(t.floor, w), err: t.floor, pos: int32(len(t.heap))}
		c.setKey(key)
		t.slots = append(t.slots, c)
		t.heap = append(t.heap, s)
		t.place(s, at)
		if len(t.slots) == t.capacity {
			t.heapify()
		}
		return
	}
	// Full: Filtered Space-Saving (Homem and Carvalho, 2010). alpha[h]
	// bounds the weight of every untracked key hashing to h. A new key
	// enters only if that bound plus its weight beats the smallest
	// counter; otherwise its weight is absorbed into the bound. Under a
	// stream of distinct keys (random names, keys, SQL texts) most of them
	// then cost a hash and an add instead of an eviction.
	if t.alpha == nil {
		t.alpha = make([]uint64, filterSize(t.capacity))
		for i := range t.alpha {
			t.alpha[i] = t.floor // what any untracked key may weigh so far
		}
	}
	fh := h & uint64(len(t.alpha)-1)
	a := t.alpha[fh]
	s := t.heap[0]
	c := &t.slots[s]
	if addSat(a, w) <= c.count {
		t.alpha[fh] = addSat(a, w)
		t.floor = max(t.floor, t.alpha[fh])
		return
	}
	// Evict the smallest counter: its key weighed at most its count, which
	// its bucket's bound (and the floor) must now cover.
	eh := c.hash & uint64(len(t.alpha)-1)
	t.alpha[eh] = max(t.alpha[eh], c.count)
	t.floor = max(t.floor, c.count)
	t.unplace(s)
	c.setKey(key)
	c.hash = h
	c.count = addSat(a, w)
	c.err = a
	// The hole unplace left may be where key belongs now.
	_, at = t.find(key, h)
	t.place(s, at)
	t.down(0)
}

// heapify orders the heap (the sketch just filled up, or was rebuilt).
func (t *TopK) heapify() {
	for i := len(t.heap)/2 - 1; i >= 0; i-- {
		t.down(i)
	}
}

// filterSize is the number of bounds of a full sketch's filter: sixteen per
// counter, a power of two. The finer the filter, the smaller each bound, and
// the fewer keys of a high-churn stream get in only to be evicted again
// (with four per counter, uniform random keys cost 50 % more per Add).
func filterSize(capacity int) int {
	n := 64
	for n < 16*capacity {
		n <<= 1
	}
	return n
}

func (t *TopK) less(i, j int) bool {
	return t.slots[t.heap[i]].count < t.slots[t.heap[j]].count
}

func (t *TopK) swap(i, j int) {
	h := t.heap
	h[i], h[j] = h[j], h[i]
	t.slots[h[i]].pos = int32(i)
	t.slots[h[j]].pos = int32(j)
}

func (t *TopK) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

// Top returns the n heaviest tracked keys (all when n ≤ 0), by Estimate
// descending then Name ascending, so equal sketches list identically.
func (t *TopK) Top(n int) []Item {
	items := make([]Item, len(t.slots))
	for i, c := range t.slots {
		items[i] = Item{Name: c.key, Estimate: c.count, Error: c.err}
	}
	slices.SortFunc(items, byEstimate)
	if n > 0 && n < len(items) {
		items = items[:n:n]
	}
	for i := range items {
		items[i].Name = strings.Clone(items[i].Name) // the counters' bytes are reused
	}
	return items
}

func byEstimate(a, b Item) int {
	if c := cmp.Compare(b.Estimate, a.Estimate); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// Merge adds o to t; t keeps its capacity, o is unchanged. For every key
// either side tracks, the merged estimate and error are the sums over the
// two sides, a side that does not track the key contributing its floor to
// both (the key weighed between 0 and floor there). The t.Capacity()
// largest estimates are kept; the largest dropped estimate, or the sum of
// the floors, becomes the new floor. When the capacities differ, the bounds
// are those of the smaller one.
func (t *TopK) Merge(o *TopK) {
	if o == nil || (len(o.slots) == 0 && o.total == 0 && o.floor == 0) {
		return
	}
	if t.capacity == 0 {
		t.init(o.Capacity())
	}
	cands := make([]Item, 0, len(t.slots)+len(o.slots))
	for _, c := range t.slots {
		it := Item{Name: c.key, Estimate: addSat(c.count, o.floor), Error: addSat(c.err, o.floor)}
		if s := o.lookup(c.key); s >= 0 {
			oc := &o.slots[s]
			it.Estimate = addSat(c.count, oc.count)
			it.Error = addSat(c.err, oc.err)
		}
		cands = append(cands, it)
	}
	for _, oc := range o.slots {
		if t.lookup(oc.key) < 0 {
			cands = append(cands, Item{Name: oc.key, Estimate: addSat(oc.count, t.floor), Error: addSat(oc.err, t.floor)})
		}
	}
	floor := addSat(t.floor, o.floor)
	total := addSat(t.total, o.total)
	slices.SortFunc(cands, byEstimate)
	if len(cands) > t.capacity {
		floor = max(floor, cands[t.capacity].Estimate)
		cands = cands[:t.capacity]
	}
	t.rebuild(cands, total, floor)
}

// rebuild replaces the counters with items (distinct names, at most
// capacity of them).
func (t *TopK) rebuild(items []Item, total, floor uint64) {
	t.slots = t.slots[:0]
	t.heap = t.heap[:0]
	for i, it := range items {
		// it.Name may view a counter's bytes (ours or another sketch's):
		// copied into a fresh buffer, never into one being reused.
		c := counter{count: it.Estimate, err: it.Error, pos: int32(i)}
		c.setKey(unsafeBytes(it.Name))
		c.hash = Hash64(c.buf)
		t.slots = append(t.slots, c)
		t.heap = append(t.heap, int32(i))
	}
	size := 16
	for size < 2*len(t.slots) {
		size <<= 1
	}
	t.rehash(size)
	t.heapify()
	t.total, t.floor = total, floor
	t.alpha = nil
}

// MarshalBinary encodes t; the encoding is canonical (counters in Top order):
//
//	'T' 1 | capacity uv | total uv | floor uv | n uv |
//	n × (key length uv, key bytes, estimate uv, error uv)
func (t *TopK) MarshalBinary() ([]byte, error) {
	items := t.Top(0)
	size := 2 + 4*10
	for _, it := range items {
		size += len(it.Name) + 3*10
	}
	b := make([]byte, 0, size)
	b = append(b, kindTopK, wireVersion)
	b = binary.AppendUvarint(b, uint64(t.Capacity()))
	b = binary.AppendUvarint(b, t.total)
	b = binary.AppendUvarint(b, t.floor)
	b = binary.AppendUvarint(b, uint64(len(items)))
	for _, it := range items {
		b = binary.AppendUvarint(b, uint64(len(it.Name)))
		b = append(b, it.Name...)
		b = binary.AppendUvarint(b, it.Estimate)
		b = binary.AppendUvarint(b, it.Error)
	}
	return b, nil
}

// UnmarshalBinary replaces t with the decoded sketch. The input is untrusted:
// at most maxTopKBytes, capacity in [1, MaxTopCapacity], at most capacity
// counters and no more than the remaining bytes can hold, keys at most
// MaxTopKeyLen bytes and distinct, error ≤ estimate ≤ total and floor ≤
// total. On error t is unchanged.
func (t *TopK) UnmarshalBinary(data []byte) error {
	if err := checkHeader(data, kindTopK, maxTopKBytes); err != nil {
		return err
	}
	r := reader{b: data[2:]}
	capacity := r.uvarint("capacity")
	total := r.uvarint("total")
	floor := r.uvarint("floor")
	n := r.uvarint("counter count")
	if r.err != nil {
		return r.err
	}
	if capacity == 0 || capacity > MaxTopCapacity {
		return invalidf("topk: capacity %d", capacity)
	}
	// A counter takes at least 3 bytes (empty key, two one-byte varints).
	if n > capacity || n > uint64(len(r.b))/3 {
		return invalidf("topk: %d counters for capacity %d", n, capacity)
	}
	if floor > total {
		return invalidf("topk: floor %d > total %d", floor, total)
	}
	items := make([]Item, 0, n)
	seen := make(map[string]struct{}, n)
	for range n {
		kl := r.uvarint("key length")
		if kl > MaxTopKeyLen {
			return invalidf("topk: key of %d bytes", kl)
		}
		key := r.bytes(kl, "key")
		est := r.uvarint("estimate")
		e := r.uvarint("error")
		if r.err != nil {
			return r.err
		}
		if e > est || est > total {
			return invalidf("topk: estimate %d, error %d, total %d", est, e, total)
		}
		name := string(key)
		if _, dup := seen[name]; dup {
			return invalidf("topk: duplicate key %q", name)
		}
		seen[name] = struct{}{}
		items = append(items, Item{Name: name, Estimate: est, Error: e})
	}
	if len(r.b) != 0 {
		return invalidf("topk: %d trailing bytes", len(r.b))
	}
	var nt TopK
	nt.init(int(capacity))
	nt.rebuild(items, total, floor)
	*t = nt
	return nil
}
