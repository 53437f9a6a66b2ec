package sketch

import (
	"math"
	"net/netip"
	"testing"
)

// The fuzz targets decode arbitrary bytes as a center would decode a probe's
// message. Properties: no panic; memory within the caps; a decoded sketch
// re-encodes to a fixed point; and it can be queried, merged and fed.

func FuzzUnmarshalQuantiles(f *testing.F) {
	for _, vals := range [][]float64{nil, {0}, {1, 2, 3}, {0, 0, 1e-300, 1e300, 64, 1514}, {math.NaN(), -1, 5e6}} {
		q := NewQuantiles()
		for _, v := range vals {
			q.Add(v)
		}
		b, _ := q.MarshalBinary()
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var q Quantiles
		if err := q.UnmarshalBinary(data); err != nil {
			return
		}
		if cap(q.bins) > MaxQuantileBins {
			t.Fatalf("%d bins allocated", cap(q.bins))
		}
		b1, err := q.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q2 Quantiles
		if err := q2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("re-decoding own encoding: %v", err)
		}
		if b2, _ := q2.MarshalBinary(); string(b1) != string(b2) {
			t.Fatal("encoding is not a fixed point")
		}
		for _, p := range []float64{0, 0.5, 0.99, 1} {
			if v := q.Quantile(p); math.IsNaN(v) || v < 0 {
				t.Fatalf("Quantile(%g) = %g", p, v)
			}
		}
		m := NewQuantiles()
		_ = m.Merge(&q)
		_ = m.Merge(&q2)
		q.Add(12345)
		_ = q.Quantile(0.9)
	})
}

func FuzzUnmarshalDistinct(f *testing.F) {
	for _, n := range []int{0, 3, 200, 20_000} {
		d := NewDistinct()
		for i := range n {
			d.AddAddr(addr(uint64(i)))
		}
		b, _ := d.MarshalBinary()
		if len(b) < 4096 {
			f.Add(b)
		}
		d.Estimate()
		b, _ = d.MarshalBinary()
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	small, _ := NewDistinctWithPrecision(4)
	small.AddAddr(netip.MustParseAddr("192.0.2.1"))
	b, _ := small.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Distinct
		if err := d.UnmarshalBinary(data); err != nil {
			return
		}
		_ = d.Estimate()
		b1, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d2 Distinct
		if err := d2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("re-decoding own encoding: %v", err)
		}
		if d2.Estimate() != d.Estimate() {
			t.Fatal("estimate changed across a round trip")
		}
		m := NewDistinct()
		_ = m.Merge(&d)
		d.AddAddr(netip.MustParseAddr("2001:db8::1"))
		_ = d.Estimate()
	})
}

func FuzzUnmarshalTopK(f *testing.F) {
	for _, n := range []int{0, 1, 50} {
		tk := NewTopK(16)
		for i := range n {
			tk.Add(string(rune('a'+i%26))+string(rune('a'+i%7)), uint64(i+1))
		}
		b, _ := tk.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tk TopK
		if err := tk.UnmarshalBinary(data); err != nil {
			return
		}
		if len(tk.slots) > tk.Capacity() || tk.Capacity() > MaxTopCapacity {
			t.Fatalf("%d counters for capacity %d", len(tk.slots), tk.Capacity())
		}
		b1, _ := tk.MarshalBinary()
		var tk2 TopK
		if err := tk2.UnmarshalBinary(b1); err != nil {
			t.Fatalf("re-decoding own encoding: %v", err)
		}
		if b2, _ := tk2.MarshalBinary(); string(b1) != string(b2) {
			t.Fatal("encoding is not a fixed point")
		}
		for _, it := range tk.Top(0) {
			if it.Error > it.Estimate || it.Estimate > tk.Total() {
				t.Fatalf("bad item %+v (total %d)", it, tk.Total())
			}
		}
		m := NewTopK(8)
		m.Merge(&tk)
		tk.Merge(m)
		for i := range 3 * tk.Capacity() {
			tk.Add(string(rune(i)), 1)
		}
	})
}
