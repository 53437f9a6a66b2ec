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
// A map finds a key's counter and a min-heap over the counters finds the
// one to evict, so Add is O(1) for a new key that fits or a key whose weight
// stays below its heap children, and O(log m) at worst; it does not allocate
// when the key is already tracked.
//
// The zero value is usable with DefaultTopCapacity. A TopK is not safe for
// concurrent use.
type TopK struct {
	capacity int
	idx      map[string]int32 // key → slot
	slots    []counter        // stable storage, one per tracked key
	heap     []int32          // slot numbers, min-heap by count
	total    uint64           // W: all weight ever added
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
	// new key does not allocate. key is removed from idx before buf is
	// overwritten, and every key that leaves the sketch (Top, Merge) is
	// copied first.
	key   string
	buf   []byte
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
	t.idx = make(map[string]int32, hint)
	t.slots = make([]counter, 0, hint)
	t.heap = make([]int32, 0, hint)
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
	if s, ok := t.idx[key]; ok {
		t.bump(s, w)
		return
	}
	t.insert(unsafeBytes(key), w)
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
	if s, ok := t.idx[string(key)]; ok { // no allocation: map index form
		t.bump(s, w)
		return
	}
	t.insert(key, w)
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

func (t *TopK) bump(s int32, w uint64) {
	c := &t.slots[s]
	c.count = addSat(c.count, w)
	t.down(int(c.pos))
}

func (t *TopK) insert(key []byte, w uint64) {
	if len(t.slots) < t.capacity {
		s := int32(len(t.slots))
		c := counter{count: addSat(t.floor, w), err: t.floor, pos: int32(len(t.heap))}
		c.setKey(key)
		t.slots = append(t.slots, c)
		t.heap = append(t.heap, s)
		t.idx[c.key] = s
		t.up(len(t.heap) - 1)
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
	h := Hash64(key) & uint64(len(t.alpha)-1)
	a := t.alpha[h]
	s := t.heap[0]
	c := &t.slots[s]
	if addSat(a, w) <= c.count {
		t.alpha[h] = addSat(a, w)
		t.floor = max(t.floor, t.alpha[h])
		return
	}
	// Evict the smallest counter: its key weighed at most its count, which
	// its bucket's bound (and the floor) must now cover.
	eh := Hash64(unsafeBytes(c.key)) & uint64(len(t.alpha)-1)
	t.alpha[eh] = max(t.alpha[eh], c.count)
	t.floor = max(t.floor, c.count)
	delete(t.idx, c.key)
	c.setKey(key)
	c.count = addSat(a, w)
	c.err = a
	t.idx[c.key] = s
	t.down(0)
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

func (t *TopK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
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
		if s, ok := o.idx[c.key]; ok {
			oc := &o.slots[s]
			it.Estimate = addSat(c.count, oc.count)
			it.Error = addSat(c.err, oc.err)
		}
		cands = append(cands, it)
	}
	for _, oc := range o.slots {
		if _, ok := t.idx[oc.key]; !ok {
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
	clear(t.idx)
	t.slots = t.slots[:0]
	t.heap = t.heap[:0]
	for i, it := range items {
		// it.Name may view a counter's bytes (ours or another sketch's):
		// copied into a fresh buffer, never into one being reused.
		c := counter{count: it.Estimate, err: it.Error, pos: int32(i)}
		c.setKey(unsafeBytes(it.Name))
		t.slots = append(t.slots, c)
		t.heap = append(t.heap, int32(i))
		t.idx[c.key] = int32(i)
	}
	for i := len(t.heap)/2 - 1; i >= 0; i-- {
		t.down(i)
	}
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
