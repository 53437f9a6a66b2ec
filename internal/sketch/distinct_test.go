package sketch

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"testing"
)

// addr returns the i-th test address: even i are IPv4 (10.0.0.0/8 and up),
// odd i are IPv6 in 2001:db8::/32, so both families are exercised and the
// sets are disjoint.
func addr(i uint64) netip.Addr {
	if i%2 == 0 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i/2))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	binary.BigEndian.PutUint64(b[8:], i)
	return netip.AddrFrom16(b)
}

// stdErr is HyperLogLog's relative standard error 1.04/√m at precision 14.
var stdErr = 1.04 / math.Sqrt(1<<DefaultDistinctPrecision)

func TestDistinctAccuracy(t *testing.T) {
	for _, n := range []uint64{1_000, 100_000, 2_000_000} {
		d := NewDistinct()
		for i := range n {
			a := addr(i)
			d.AddAddr(a)
			if i%3 == 0 {
				d.AddAddr(a) // duplicates must not count
			}
		}
		est := d.Estimate()
		rel := (float64(est) - float64(n)) / float64(n)
		t.Logf("n=%-8d estimate %-8d error %+.3f%% (%.2fσ, σ = %.3f%%)", n, est, rel*100, math.Abs(rel)/stdErr, stdErr*100)
		if math.Abs(rel) > 3*stdErr {
			t.Errorf("n=%d: estimate %d is %.2f%% off, more than 3σ = %.2f%%", n, est, rel*100, 3*stdErr*100)
		}
	}
}

// HyperLogLog's merge is the register-wise max, so merging sketches of
// overlapping sets must give exactly the sketch of their union: the same
// estimate and, once both are compacted, the same bytes.
func TestDistinctMergeIsUnion(t *testing.T) {
	for _, n := range []uint64{900, 6_000, 2_000_000} { // sparse, sparse→dense, dense
		parts := []*Distinct{NewDistinct(), NewDistinct(), NewDistinct()}
		ranges := [][2]uint64{{0, n * 6 / 10}, {n * 4 / 10, n}, {n * 2 / 10, n * 8 / 10}}
		union := NewDistinct()
		for i := range n {
			union.AddAddr(addr(i))
		}
		for k, r := range ranges {
			for i := r[0]; i < r[1]; i++ {
				parts[k].AddAddr(addr(i))
			}
		}
		var merged Distinct // zero value
		for _, p := range parts {
			if err := merged.Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := merged.Estimate(), union.Estimate(); a != b {
			t.Fatalf("n=%d: merged estimate %d, union sketch %d", n, a, b)
		}
		a, _ := merged.MarshalBinary()
		b, _ := union.MarshalBinary()
		if string(a) != string(b) {
			t.Fatalf("n=%d: merged sketch differs from the union sketch", n)
		}
		// Merging again is idempotent.
		_ = merged.Merge(parts[1])
		_ = merged.Merge(&merged)
		if merged.Estimate() != union.Estimate() {
			t.Fatalf("n=%d: re-merge changed the estimate", n)
		}
		t.Logf("n=%-8d union estimate %d, encoded %d bytes", n, union.Estimate(), len(b))
	}
}

func TestDistinctAddAddrNoAlloc(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	d := NewDistinct()
	d.AddAddr(v4)
	d.AddAddr(v6)
	if a := testing.AllocsPerRun(1000, func() { d.AddAddr(v4); d.AddAddr(v6) }); a != 0 {
		t.Errorf("AddAddr (sparse, known address) allocates %v times", a)
	}
	// Dense sketch, new addresses every run: hashing and inserting never
	// allocate once the registers exist.
	for i := range uint64(100_000) {
		d.AddAddr(addr(i))
	}
	i := uint64(1 << 40)
	if a := testing.AllocsPerRun(1000, func() { d.AddAddr(addr(i)); i++ }); a != 0 {
		t.Errorf("AddAddr (dense, new addresses) allocates %v times", a)
	}
	s := "example.com."
	if a := testing.AllocsPerRun(1000, func() { d.AddString(s) }); a != 0 {
		t.Errorf("AddString allocates %v times", a)
	}
}

func TestDistinctAddForms(t *testing.T) {
	a, b := NewDistinct(), NewDistinct()
	a.AddBytes([]byte("example.com."))
	b.AddString("example.com.")
	b.AddHash(Hash64([]byte("example.com.")))
	if a.Estimate() != 1 || b.Estimate() != 1 {
		t.Fatalf("bytes/string/hash forms must count one element: %d %d", a.Estimate(), b.Estimate())
	}
	c := NewDistinct()
	c.AddAddr(netip.MustParseAddr("1.2.3.4"))
	c.AddAddr(netip.MustParseAddr("::ffff:1.2.3.4"))
	c.AddAddr(netip.MustParseAddr("fe80::1%eth0"))
	c.AddAddr(netip.MustParseAddr("fe80::1%eth1"))
	c.AddAddr(netip.Addr{})
	if c.Estimate() != 2 {
		t.Fatalf("estimate %d, want 2 (v4 = v4-mapped, zones ignored, zero Addr skipped)", c.Estimate())
	}
	var z Distinct
	if z.Estimate() != 0 {
		t.Fatal("zero value must be empty")
	}
	p16, err := NewDistinctWithPrecision(16)
	if err != nil {
		t.Fatal(err)
	}
	p16.AddAddr(addr(1))
	if err := c.Merge(p16); err == nil {
		t.Error("merging precisions 14 and 16 must fail")
	}
	if _, err := NewDistinctWithPrecision(3); err == nil {
		t.Error("precision 3 must be rejected")
	}
}

func TestDistinctRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 10, 5_000, 300_000} {
		d := NewDistinct()
		for i := range n {
			d.AddAddr(addr(i))
		}
		b, err := d.MarshalBinary() // before Estimate: with the insertion buffer
		if err != nil {
			t.Fatal(err)
		}
		var back Distinct
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if back.Estimate() != d.Estimate() {
			t.Fatalf("n=%d: %d != %d", n, back.Estimate(), d.Estimate())
		}
		b1, _ := d.MarshalBinary()
		b2, _ := back.MarshalBinary()
		if string(b1) != string(b2) {
			t.Fatalf("n=%d: compacted encodings differ", n)
		}
		t.Logf("n=%-7d %6d bytes", n, len(b1))
	}
}

func TestDistinctUnmarshalHostile(t *testing.T) {
	good, _ := NewDistinct().MarshalBinary()
	dense := func() []byte {
		d := NewDistinct()
		for i := range uint64(50_000) {
			d.AddAddr(addr(i))
		}
		d.Estimate()
		b, _ := d.MarshalBinary()
		return b
	}()
	bad := func(b []byte, i int, v byte) []byte {
		c := append([]byte(nil), b...)
		c[i] = v
		return c
	}
	cases := map[string][]byte{
		"nil":             nil,
		"header only":     {kindDistinct, wireVersion},
		"kind":            bad(good, 0, 'Q'),
		"version":         bad(good, 1, 2),
		"hll version":     bad(good, 2, 9),
		"precision 30":    bad(good, 3, 30),
		"precision 3":     bad(good, 3, 3),
		"truncated":       dense[:len(dense)-1],
		"trailing":        append(append([]byte(nil), dense...), 0),
		"register > max":  bad(dense, len(dense)-1, 60),
		"oversized":       append([]byte{kindDistinct, wireVersion, 2, 4, 0, 1}, make([]byte, 200)...),
		"tmp set huge":    {kindDistinct, wireVersion, 2, 14, 0, 1, 0xff, 0xff, 0xff, 0xff},
		"list count huge": {kindDistinct, wireVersion, 2, 14, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		d := NewDistinct()
		d.AddAddr(addr(1))
		if err := d.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", name, err)
		}
		if d.Estimate() != 1 {
			t.Errorf("%s: receiver modified on error", name)
		}
	}
}

// Over many independent sets the root-mean-square error must match the
// documented standard error 1.04/√m (HyperLogLog++ is nearly unbiased).
func TestDistinctErrorDistribution(t *testing.T) {
	for _, n := range []uint64{20_000, 200_000} {
		const trials = 40
		var sq, worst float64
		for k := range uint64(trials) {
			d := NewDistinct()
			base := k * 2 * n // disjoint address sets (IPv4 half stays below 2^32)
			for i := range n {
				d.AddAddr(addr(base + i))
			}
			rel := (float64(d.Estimate()) - float64(n)) / float64(n)
			sq += rel * rel
			worst = max(worst, math.Abs(rel))
		}
		rms := math.Sqrt(sq / trials)
		t.Logf("n=%-7d %d trials: RMS error %.3f%% (σ = %.3f%%), worst %.3f%%", n, trials, rms*100, stdErr*100, worst*100)
		if rms > 1.5*stdErr || worst > 4*stdErr {
			t.Errorf("n=%d: RMS %.3f%%, worst %.3f%% vs σ %.3f%%", n, rms*100, worst*100, stdErr*100)
		}
	}
}
