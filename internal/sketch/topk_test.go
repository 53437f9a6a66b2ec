package sketch

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type stream struct {
	keys    []string // key of each event
	weights []uint64 // weight of each event
	exact   map[string]uint64
	total   uint64
}

// zipfStream draws n events over nkeys keys, Zipf(s = 1.1), from a fixed
// seed. weighted picks a frame-size-like weight per event (64–1514) instead
// of 1, as for top talkers by bytes.
func zipfStream(n, nkeys int, weighted bool, seed uint64) *stream {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	z := rand.NewZipf(r, 1.1, 1, uint64(nkeys-1))
	names := make([]string, nkeys)
	for i := range names {
		names[i] = fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
	}
	s := &stream{exact: map[string]uint64{}}
	for range n {
		k := names[z.Uint64()]
		w := uint64(1)
		if weighted {
			w = 64 + uint64(r.IntN(1451))
		}
		s.keys = append(s.keys, k)
		s.weights = append(s.weights, w)
		s.exact[k] += w
		s.total += w
	}
	return s
}

// trueTop returns the keys by exact weight, descending then by name.
func (s *stream) trueTop() []Item {
	items := make([]Item, 0, len(s.exact))
	for k, v := range s.exact {
		items = append(items, Item{Name: k, Estimate: v})
	}
	slices.SortFunc(items, byEstimate)
	return items
}

// checkBounds verifies the Space-Saving guarantees of tk against exact
// weights: estimate − error ≤ true ≤ estimate, error ≤ W/m, and every key
// heavier than W/m tracked. It returns the largest error seen.
func checkBounds(t *testing.T, name string, tk *TopK, exact map[string]uint64, total uint64) (maxErr uint64) {
	t.Helper()
	if tk.Total() != total {
		t.Errorf("%s: total %d, want %d", name, tk.Total(), total)
	}
	bound := total / uint64(tk.Capacity())
	tracked := map[string]bool{}
	for _, it := range tk.Top(0) {
		tracked[it.Name] = true
		tr := exact[it.Name]
		if it.Estimate-it.Error > tr || tr > it.Estimate {
			t.Errorf("%s: %s true %d outside [%d, %d]", name, it.Name, tr, it.Estimate-it.Error, it.Estimate)
		}
		if it.Error > bound {
			t.Errorf("%s: %s error %d > W/m = %d", name, it.Name, it.Error, bound)
		}
		maxErr = max(maxErr, it.Error)
	}
	for k, v := range exact {
		if v > bound && !tracked[k] {
			t.Errorf("%s: %s weighs %d > W/m = %d but is not tracked", name, k, v, bound)
		}
	}
	return maxErr
}

// checkTop10 verifies the reported top 10 are the true top 10 in order,
// except where two keys' true weights are within the reported errors (the
// sketch cannot order them, and says so).
func checkTop10(t *testing.T, name string, tk *TopK, s *stream) {
	t.Helper()
	got, want := tk.Top(10), s.trueTop()[:10]
	exact := 0
	defer func() { t.Logf("%s: %d of the top 10 at exactly their true rank", name, exact) }()
	for i := range want {
		if got[i].Name == want[i].Name {
			exact++
			continue
		}
		a, b := s.exact[got[i].Name], want[i].Estimate
		if diff := max(a, b) - min(a, b); diff > got[i].Error+tk.errorOf(want[i].Name) {
			t.Errorf("%s: rank %d is %s (true %d), want %s (true %d)", name, i+1, got[i].Name, a, want[i].Name, b)
		}
	}
}

func (t *TopK) errorOf(key string) uint64 {
	if s := t.lookup(key); s >= 0 {
		return t.slots[s].err
	}
	return t.floor
}

func TestTopKZipf(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		s := zipfStream(1_000_000, 100_000, weighted, 1)
		tk := NewTopK(256)
		for i, k := range s.keys {
			tk.Add(k, s.weights[i])
		}
		name := fmt.Sprintf("weighted=%v", weighted)
		maxErr := checkBounds(t, name, tk, s.exact, s.total)
		checkTop10(t, name, tk, s)
		var top10Err uint64
		for _, it := range tk.Top(10) {
			top10Err = max(top10Err, it.Error)
		}
		tt := s.trueTop()
		t.Logf("%s: W=%d W/m=%d, max error %d (%.2f%% of W), top-10 max error %d, true #10 %d, #11 %d",
			name, s.total, s.total/256, maxErr, 100*float64(maxErr)/float64(s.total), top10Err, tt[9].Estimate, tt[10].Estimate)
	}
}

func TestTopKMerge(t *testing.T) {
	s := zipfStream(1_000_000, 100_000, true, 2)
	// Stream shards: three probes see different packets of the same keys.
	stream := []*TopK{NewTopK(256), NewTopK(256), NewTopK(256)}
	for i, k := range s.keys {
		stream[i%3].Add(k, s.weights[i])
	}
	// Key shards: three probes see different hosts.
	keyed := []*TopK{NewTopK(256), NewTopK(256), NewTopK(256)}
	for i, k := range s.keys {
		keyed[Hash64([]byte(k))%3].Add(k, s.weights[i])
	}
	for name, shards := range map[string][]*TopK{"stream shards": stream, "key shards": keyed} {
		var merged TopK // zero value adopts the shards' capacity
		for _, sh := range shards {
			merged.Merge(sh)
		}
		maxErr := checkBounds(t, name, &merged, s.exact, s.total)
		checkTop10(t, name, &merged, s)
		t.Logf("%s: merged max error %d (W/m = %d)", name, maxErr, s.total/256)
		// Pairwise merge is commutative (truncating to m counters makes
		// longer chains order-dependent, within the same bounds).
		ab, ba := cloneTopK(t, shards[0]), cloneTopK(t, shards[1])
		ab.Merge(shards[1])
		ba.Merge(shards[0])
		if !slices.Equal(ab.Top(0), ba.Top(0)) || ab.floor != ba.floor {
			t.Errorf("%s: a+b differs from b+a", name)
		}
	}
	// Merging many small windows (60 one-second windows into a minute, as
	// the center does) keeps the guarantees against the concatenation.
	windows := make([]*TopK, 60)
	for i := range windows {
		windows[i] = NewTopK(256)
	}
	for i, k := range s.keys {
		windows[i*60/len(s.keys)].Add(k, s.weights[i])
	}
	minute := NewTopK(256)
	for _, w := range windows {
		minute.Merge(w)
	}
	maxErr := checkBounds(t, "60 windows", minute, s.exact, s.total)
	checkTop10(t, "60 windows", minute, s)
	t.Logf("60 windows: merged max error %d (W/m = %d)", maxErr, s.total/256)
}

func TestTopKExactWhenFits(t *testing.T) {
	tk := NewTopK(0)
	if tk.Capacity() != DefaultTopCapacity {
		t.Fatal("default capacity")
	}
	want := map[string]uint64{}
	for i := range 200 {
		k := fmt.Sprint("port/", i)
		for j := 0; j <= i; j++ {
			tk.Add(k, 3)
			want[k] += 3
		}
	}
	tk.Add("ignored", 0)
	for _, it := range tk.Top(0) {
		if it.Error != 0 || it.Estimate != want[it.Name] {
			t.Fatalf("%+v, want exact %d", it, want[it.Name])
		}
	}
	top := tk.Top(3)
	if len(top) != 3 || top[0].Name != "port/199" || top[2].Name != "port/197" {
		t.Fatalf("Top(3) = %+v", top)
	}
	// Ties order by name, and Error is omitted from JSON when 0.
	tie := NewTopK(4)
	tie.Add("b", 5)
	tie.Add("a", 5)
	tie.Add("c", 9)
	j, _ := json.Marshal(tie.Top(0))
	if string(j) != `[{"name":"c","estimate":9},{"name":"a","estimate":5},{"name":"b","estimate":5}]` {
		t.Fatalf("JSON %s", j)
	}
}

// No heavy hitters at all (every key distinct): the bounds still hold.
func TestTopKAdversarial(t *testing.T) {
	tk := NewTopK(16)
	exact := map[string]uint64{}
	var total uint64
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 10_000 {
		k := fmt.Sprint(i)
		w := uint64(r.IntN(100) + 1)
		tk.Add(k, w)
		exact[k] += w
		total += w
	}
	// Then one heavy key arrives late.
	tk.Add("late", total/8)
	exact["late"] = total / 8
	total += total / 8
	checkBounds(t, "adversarial", tk, exact, total)
	if tk.Top(1)[0].Name != "late" {
		t.Error("late heavy key must be first")
	}
}

func TestTopKNoAlloc(t *testing.T) {
	tk := NewTopK(256)
	s := zipfStream(10_000, 1_000, false, 3)
	for _, k := range s.keys {
		tk.Add(k, 1)
	}
	k := tk.Top(1)[0].Name
	kb := []byte(k)
	if a := testing.AllocsPerRun(1000, func() { tk.Add(k, 1); tk.AddBytes(kb, 1) }); a != 0 {
		t.Errorf("Add/AddBytes of a tracked key allocate %v times", a)
	}
}

func TestTopKSelfAndMismatchedMerge(t *testing.T) {
	a := NewTopK(8)
	for i := range 20 {
		a.Add(fmt.Sprint(i%5), uint64(i))
	}
	before := a.Top(0)
	a.Merge(a)
	for i, it := range a.Top(0) {
		if it.Estimate != 2*before[i].Estimate || it.Name != before[i].Name {
			t.Fatalf("self-merge: %+v vs %+v", it, before[i])
		}
	}
	if a.Total() != 2*190 {
		t.Fatalf("self-merge total %d", a.Total())
	}
	// A small sketch merged into a larger one: the per-key bounds still
	// hold (the heavy-hitter threshold is the smaller capacity's).
	s := zipfStream(100_000, 5_000, false, 4)
	small, big := NewTopK(16), NewTopK(256)
	exact := map[string]uint64{}
	for i, k := range s.keys {
		if i%2 == 0 {
			small.Add(k, 1)
		} else {
			big.Add(k, 1)
		}
		exact[k]++
	}
	big.Merge(small)
	for _, it := range big.Top(0) {
		if tr := exact[it.Name]; it.Estimate-it.Error > tr || tr > it.Estimate {
			t.Fatalf("%s: true %d outside [%d, %d]", it.Name, tr, it.Estimate-it.Error, it.Estimate)
		}
	}
	// Adding after merges keeps the bounds too.
	for i, k := range s.keys[:50_000] {
		big.Add(k, s.weights[i])
		exact[k] += s.weights[i]
	}
	for _, it := range big.Top(0) {
		if tr := exact[it.Name]; it.Estimate-it.Error > tr || tr > it.Estimate {
			t.Fatalf("after adds: %s true %d outside [%d, %d]", it.Name, tr, it.Estimate-it.Error, it.Estimate)
		}
	}
}

func TestTopKRoundTrip(t *testing.T) {
	s := zipfStream(200_000, 20_000, true, 5)
	tk := NewTopK(256)
	for i, k := range s.keys {
		tk.Add(k, s.weights[i])
	}
	for _, src := range []*TopK{tk, NewTopK(7), {}} {
		b, err := src.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back TopK
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back.Top(0), src.Top(0)) || back.Total() != src.Total() || back.Capacity() != src.Capacity() || back.floor != src.floor {
			t.Fatal("round trip changed the sketch")
		}
		b2, _ := back.MarshalBinary()
		if string(b) != string(b2) {
			t.Fatal("re-encoding differs")
		}
		// The decoded sketch keeps working, with its bounds. (It does not
		// carry the filter of a full sketch: its bound for untracked keys
		// is the floor, looser than the filter's, so estimates may differ.)
		src.Add("new", 1e9)
		back.Add("new", 1e9)
		for _, s := range []*TopK{src, &back} {
			top := s.Top(1)
			if len(top) != 1 || top[0].Name != "new" || top[0].Estimate-top[0].Error > 1e9 || top[0].Estimate < 1e9 {
				t.Fatalf("after adding new×1e9: %v", top)
			}
		}
		t.Logf("capacity %d, %d counters: %d bytes", src.Capacity(), len(src.slots), len(b))
	}
}

func TestTopKUnmarshalHostile(t *testing.T) {
	hdr := func(capacity, total, floor, n uint64) []byte {
		b := []byte{kindTopK, wireVersion}
		return appendUv(appendUv(appendUv(appendUv(b, capacity), total), floor), n)
	}
	entry := func(b []byte, key string, est, e uint64) []byte {
		b = appendUv(b, uint64(len(key)))
		b = append(b, key...)
		return appendUv(appendUv(b, est), e)
	}
	good := entry(hdr(4, 10, 0, 1), "a", 10, 0)
	cases := map[string][]byte{
		"nil":             nil,
		"kind":            append([]byte{'D'}, good[1:]...),
		"version":         append([]byte{kindTopK, 0}, good[2:]...),
		"capacity 0":      entry(hdr(0, 10, 0, 1), "a", 10, 0),
		"capacity huge":   entry(hdr(1<<20, 10, 0, 1), "a", 10, 0),
		"n > capacity":    entry(entry(hdr(1, 10, 0, 2), "a", 1, 0), "b", 1, 0),
		"n > input":       append(hdr(MaxTopCapacity, 10, 0, MaxTopCapacity), make([]byte, 30)...),
		"key too long":    entry(hdr(4, 10, 0, 1), strings.Repeat("k", MaxTopKeyLen+1), 1, 0),
		"key past end":    append(appendUv(hdr(4, 10, 0, 1), 100), "abc"...),
		"duplicate":       entry(entry(hdr(4, 10, 0, 2), "a", 1, 0), "a", 1, 0),
		"error > est":     entry(hdr(4, 10, 0, 1), "a", 1, 2),
		"est > total":     entry(hdr(4, 10, 0, 1), "a", 11, 0),
		"floor > total":   entry(hdr(4, 10, 11, 1), "a", 1, 0),
		"trailing":        append(slices.Clone(good), 0),
		"truncated":       good[:len(good)-1],
		"bad varint":      append([]byte{kindTopK, wireVersion}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"oversized input": append([]byte{kindTopK, wireVersion}, make([]byte, maxTopKBytes)...),
	}
	for name, b := range cases {
		tk := NewTopK(4)
		tk.Add("x", 1)
		if err := tk.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", name, err)
		}
		if tk.Total() != 1 || len(tk.Top(0)) != 1 {
			t.Errorf("%s: receiver modified on error", name)
		}
	}
	var ok TopK
	if err := ok.UnmarshalBinary(good); err != nil || ok.Top(0)[0] != (Item{Name: "a", Estimate: 10}) {
		t.Fatalf("good input: %v", err)
	}
}

func cloneTopK(t *testing.T, tk *TopK) *TopK {
	t.Helper()
	b, err := tk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var c TopK
	if err := c.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestTopKLongKeys(t *testing.T) {
	tk := NewTopK(4)
	long := strings.Repeat("a", MaxTopKeyLen+10)
	tk.Add(long, 1)
	tk.AddBytes([]byte(long+"b"), 1) // same first 4096 bytes: same key
	top := tk.Top(0)
	if len(top) != 1 || len(top[0].Name) != MaxTopKeyLen || top[0].Estimate != 2 {
		t.Fatalf("long keys: %d items", len(top))
	}
	b, _ := tk.MarshalBinary()
	var back TopK
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatalf("a sketch fed long keys must decode: %v", err)
	}
}

// TestTopKIndexConsistent checks the counters' index and heap through
// growth, churn (evictions shift table entries back) and merges: every
// tracked key is found at its own counter, the table holds exactly the
// counters, and a full sketch's heap is ordered with positions in step.
func TestTopKIndexConsistent(t *testing.T) {
	check := func(step string, tk *TopK) {
		t.Helper()
		entries := 0
		for _, e := range tk.table {
			if e != 0 {
				entries++
			}
		}
		if entries != len(tk.slots) || len(tk.heap) != len(tk.slots) {
			t.Fatalf("%s: %d table entries, %d heap entries, %d counters", step, entries, len(tk.heap), len(tk.slots))
		}
		for s := range tk.slots {
			if got := tk.lookup(tk.slots[s].key); got != int32(s) {
				t.Fatalf("%s: key %q of counter %d found at %d", step, tk.slots[s].key, s, got)
			}
		}
		if len(tk.slots) < tk.capacity {
			return
		}
		for i, s := range tk.heap {
			if tk.slots[s].pos != int32(i) {
				t.Fatalf("%s: counter %d at heap %d says %d", step, s, i, tk.slots[s].pos)
			}
			if i > 0 && tk.less(i, (i-1)/2) {
				t.Fatalf("%s: heap out of order at %d", step, i)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	a, b := NewTopK(16), NewTopK(16)
	for i := range 20000 {
		k := fmt.Sprintf("k%d", rng.IntN(200))
		if rng.IntN(4) == 0 {
			k = fmt.Sprintf("hot%d", rng.IntN(5))
		}
		a.Add(k, uint64(1+rng.IntN(3)))
		b.AddBytes([]byte(k+"x"), 1)
		if i%97 == 0 {
			check(fmt.Sprintf("add %d", i), a)
		}
	}
	if a.lookup("nope") >= 0 {
		t.Fatal("an untracked key was found")
	}
	a.Merge(b)
	check("merge", a)
	for i := range 2000 {
		a.Add(fmt.Sprintf("after%d", i%40), 1)
	}
	check("after merge", a)
}
