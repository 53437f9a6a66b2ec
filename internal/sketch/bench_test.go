package sketch

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
)

func BenchmarkQuantilesAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	vals := make([]float64, 4096)
	for i := range vals {
		vals[i] = r.ExpFloat64() * 1000
	}
	q := NewQuantiles()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Add(vals[i&4095])
	}
}

func benchQuantiles(seed uint64) *Quantiles {
	r := rand.New(rand.NewPCG(seed, 2))
	q := NewQuantiles()
	for range 100_000 {
		q.Add(r.ExpFloat64() * 1000)
	}
	return q
}

func BenchmarkQuantilesMerge(b *testing.B) {
	o := benchQuantiles(1)
	q := benchQuantiles(2)
	b.ReportAllocs()
	for b.Loop() {
		_ = q.Merge(o)
	}
}

func BenchmarkQuantilesQuantile(b *testing.B) {
	q := benchQuantiles(1)
	for b.Loop() {
		_ = q.Quantile(0.99)
	}
}

func BenchmarkQuantilesMarshal(b *testing.B) {
	q := benchQuantiles(1)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := q.MarshalBinary()
		n = len(buf)
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkQuantilesUnmarshal(b *testing.B) {
	buf, _ := benchQuantiles(1).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		var q Quantiles
		if err := q.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDistinctAddAddr(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    uint64 // addresses already in the sketch
	}{{"sparse", 500}, {"dense", 1_000_000}} {
		b.Run(tc.name, func(b *testing.B) {
			d := NewDistinct()
			addrs := make([]netip.Addr, 4096)
			for i := range addrs {
				addrs[i] = addr(uint64(i))
			}
			for i := range tc.n {
				d.AddAddr(addr(i))
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				d.AddAddr(addrs[i&4095])
			}
		})
	}
}

func BenchmarkHash64(b *testing.B) {
	for _, n := range []int{4, 16, 64} {
		buf := make([]byte, n)
		b.Run(string(rune('0'+n/10))+string(rune('0'+n%10))+"B", func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				_ = Hash64(buf)
			}
		})
	}
}

func benchDistinct(base, n uint64) *Distinct {
	d := NewDistinct()
	for i := range n {
		d.AddAddr(addr(base + i))
	}
	d.Estimate()
	return d
}

func BenchmarkDistinctMerge(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    uint64
	}{{"sparse", 1000}, {"dense", 1_000_000}} {
		b.Run(tc.name, func(b *testing.B) {
			o := benchDistinct(0, tc.n)
			d := benchDistinct(tc.n/2, tc.n)
			b.ReportAllocs()
			for b.Loop() {
				_ = d.Merge(o)
			}
		})
	}
}

func BenchmarkDistinctEstimate(b *testing.B) {
	d := benchDistinct(0, 1_000_000)
	for b.Loop() {
		_ = d.Estimate()
	}
}

func BenchmarkDistinctMarshal(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    uint64
	}{{"sparse-100", 100}, {"sparse-1000", 1000}, {"dense", 1_000_000}} {
		b.Run(tc.name, func(b *testing.B) {
			d := benchDistinct(0, tc.n)
			var n int
			b.ReportAllocs()
			for b.Loop() {
				buf, _ := d.MarshalBinary()
				n = len(buf)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

func BenchmarkTopKAdd(b *testing.B) {
	s := zipfStream(1<<16, 100_000, false, 1)
	b.Run("zipf", func(b *testing.B) {
		tk := NewTopK(256)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tk.Add(s.keys[i&(1<<16-1)], 1)
		}
	})
	// Keys drawn uniformly from a space much larger than the sketch
	// (random Redis keys, DNS names, SQL literals): the churn case.
	uniform := make([][]byte, 1<<16)
	for i := range uniform {
		uniform[i] = []byte("key:" + strconv.Itoa(int(Hash64([]byte{byte(i), byte(i >> 8)})%100_000)))
	}
	b.Run("uniform", func(b *testing.B) {
		tk := NewTopK(256)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tk.AddBytes(uniform[i&(1<<16-1)], 1)
		}
	})
	b.Run("tracked", func(b *testing.B) {
		tk := NewTopK(256)
		tk.Add("10.0.0.1", 1)
		b.ReportAllocs()
		for b.Loop() {
			tk.Add("10.0.0.1", 1500)
		}
	})
	b.Run("bytes-tracked", func(b *testing.B) {
		tk := NewTopK(256)
		k := []byte("www.example.com.")
		tk.AddBytes(k, 1)
		b.ReportAllocs()
		for b.Loop() {
			tk.AddBytes(k, 1)
		}
	})
}

func benchTopK(seed uint64) *TopK {
	s := zipfStream(100_000, 100_000, true, seed)
	tk := NewTopK(256)
	for i, k := range s.keys {
		tk.Add(k, s.weights[i])
	}
	return tk
}

func BenchmarkTopKMerge(b *testing.B) {
	o := benchTopK(1)
	tk := benchTopK(2)
	b.ReportAllocs()
	for b.Loop() {
		tk.Merge(o)
	}
}

func BenchmarkTopKTop10(b *testing.B) {
	tk := benchTopK(1)
	b.ReportAllocs()
	for b.Loop() {
		_ = tk.Top(10)
	}
}

func BenchmarkTopKMarshal(b *testing.B) {
	tk := benchTopK(1)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := tk.MarshalBinary()
		n = len(buf)
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkTopKUnmarshal(b *testing.B) {
	buf, _ := benchTopK(1).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		var tk TopK
		if err := tk.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// Realistic address stream: Zipf over 4096 addresses (a node talking to a
// few thousand peers, some much more than others), sketch in sparse mode.
func BenchmarkDistinctAddAddrZipf(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	z := rand.NewZipf(r, 1.1, 1, 4095)
	addrs := make([]netip.Addr, 1<<16)
	for i := range addrs {
		addrs[i] = addr(z.Uint64())
	}
	d := NewDistinct()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.AddAddr(addrs[i&(1<<16-1)])
	}
}
