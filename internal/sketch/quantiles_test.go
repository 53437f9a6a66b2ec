package sketch

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var testPs = []float64{0.5, 0.9, 0.95, 0.99}

type dist struct {
	name string
	gen  func(r *rand.Rand) float64
}

var dists = []dist{
	{"uniform", func(r *rand.Rand) float64 { return r.Float64() * 1e6 }},
	{"exponential", func(r *rand.Rand) float64 { return r.ExpFloat64() * 1000 }},
	// Pareto, x_m = 1, shape 1.1: infinite variance, p99 ≈ 65× p50.
	{"pareto", func(r *rand.Rand) float64 { return 1 / math.Pow(1-r.Float64(), 1/1.1) }},
	{"constant", func(*rand.Rand) float64 { return 1500 }},
	// 97 % zeros (idle seconds), the rest exponential: p95 is 0, p99 is not.
	{"mostly-zero", func(r *rand.Rand) float64 {
		if r.Float64() < 0.97 {
			return 0
		}
		return r.ExpFloat64() * 100
	}},
	// Frame sizes: discrete, many ties, clustered at 64 and 1514.
	{"frame-sizes", func(r *rand.Rand) float64 {
		switch x := r.Float64(); {
		case x < 0.4:
			return 64
		case x < 0.7:
			return 1514
		default:
			return float64(64 + r.IntN(1450))
		}
	}},
	// Latencies in seconds: log-normal around 2 ms.
	{"lognormal", func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64()*1.5) * 0.002 }},
}

// exactQuantile is the value DDSketch targets: 0-based rank ⌊p·(n−1)⌋.
func exactQuantile(sorted []float64, p float64) float64 {
	return sorted[int(p*float64(len(sorted)-1))]
}

// relErr returns |est − exact| / exact, and 0 when both are 0.
func relErr(est, exact float64) float64 {
	if exact == 0 {
		if est == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(est-exact) / exact
}

func checkQuantiles(t *testing.T, name string, q *Quantiles, sorted []float64) (worst float64) {
	t.Helper()
	alpha := q.RelativeAccuracy()
	for _, p := range testPs {
		exact := exactQuantile(sorted, p)
		est := q.Quantile(p)
		e := relErr(est, exact)
		worst = max(worst, e)
		// 1e-12 of slack for the float arithmetic of log/exp at bin edges.
		if e > alpha+1e-12 {
			t.Errorf("%s p%g: estimate %g, exact %g, relative error %.4g > %g", name, p*100, est, exact, e, alpha)
		}
	}
	return worst
}

func TestQuantilesAccuracy(t *testing.T) {
	for _, n := range []int{100_000, 1_000_000} {
		for i, d := range dists {
			r := rand.New(rand.NewPCG(uint64(i), uint64(n)))
			q := NewQuantiles()
			vals := make([]float64, n)
			var sum float64
			for j := range vals {
				v := d.gen(r)
				vals[j] = v
				sum += v
				q.Add(v)
			}
			slices.Sort(vals)
			worst := checkQuantiles(t, d.name, q, vals)
			if q.Count() != uint64(n) || q.Min() != vals[0] || q.Max() != vals[n-1] {
				t.Errorf("%s: count/min/max %d/%g/%g, want %d/%g/%g", d.name, q.Count(), q.Min(), q.Max(), n, vals[0], vals[n-1])
			}
			if relErr(q.Sum(), sum) > 1e-9 {
				t.Errorf("%s: sum %g, want %g", d.name, q.Sum(), sum)
			}
			if q.Quantile(0) != vals[0] || q.Quantile(1) != vals[n-1] {
				t.Errorf("%s: p0/p100 %g/%g, want %g/%g", d.name, q.Quantile(0), q.Quantile(1), vals[0], vals[n-1])
			}
			t.Logf("n=%d %-12s worst relative error over p50/p90/p95/p99: %.4f%%  bins=%d", n, d.name, worst*100, len(q.bins))
		}
	}
}

// Every p, not only the reported four, must be within α.
func TestQuantilesAllRanks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	q := NewQuantiles()
	vals := make([]float64, 20_000)
	for i := range vals {
		vals[i] = 1 / math.Pow(1-r.Float64(), 1/1.1)
		q.Add(vals[i])
	}
	slices.Sort(vals)
	for i := 0; i <= 1000; i++ {
		p := float64(i) / 1000
		if e := relErr(q.Quantile(p), exactQuantile(vals, p)); e > q.RelativeAccuracy()+1e-12 {
			t.Fatalf("p=%g: relative error %g", p, e)
		}
	}
}

func TestQuantilesMerge(t *testing.T) {
	for i, d := range dists {
		const n = 600_000
		r := rand.New(rand.NewPCG(uint64(i), 99))
		whole := NewQuantiles()
		parts := []*Quantiles{NewQuantiles(), NewQuantiles(), NewQuantiles()}
		vals := make([]float64, n)
		for j := range vals {
			v := d.gen(r)
			vals[j] = v
			whole.Add(v)
			// Uneven contiguous shards, as three probes or three windows.
			switch {
			case j < n/6:
				parts[0].Add(v)
			case j < n/2:
				parts[1].Add(v)
			default:
				parts[2].Add(v)
			}
		}
		merged := &Quantiles{} // zero value adopts the parts' accuracy
		for _, p := range parts {
			if err := merged.Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(vals)
		checkQuantiles(t, d.name+"/merged", merged, vals)
		for k := 0; k <= 1000; k++ {
			p := float64(k) / 1000
			if a, b := merged.Quantile(p), whole.Quantile(p); a != b {
				t.Fatalf("%s: merged p=%g is %g, whole stream %g", d.name, p, a, b)
			}
		}
		if merged.Count() != whole.Count() || merged.Min() != whole.Min() || merged.Max() != whole.Max() || relErr(merged.Sum(), whole.Sum()) > 1e-9 {
			t.Errorf("%s: merged count/min/max/sum differ", d.name)
		}
		// Bins are identical, so the encodings differ at most in the sum's
		// floating-point rounding.
		a, _ := merged.MarshalBinary()
		merged.sum = whole.sum
		b, _ := whole.MarshalBinary()
		c, _ := merged.MarshalBinary()
		if string(b) != string(c) || len(a) != len(b) {
			t.Errorf("%s: merged encoding differs from the whole stream's", d.name)
		}
	}
}

func TestQuantilesEdgeCases(t *testing.T) {
	var q Quantiles // zero value
	if q.Quantile(0.5) != 0 || q.Count() != 0 || q.Max() != 0 {
		t.Fatal("empty sketch must report zeros")
	}
	q.Add(math.NaN())
	q.Add(math.Inf(1))
	q.AddN(math.Inf(-1), 3)
	if q.Count() != 0 || q.Invalid() != 5 || q.Quantile(0.5) != 0 {
		t.Fatalf("NaN/Inf: count %d invalid %d", q.Count(), q.Invalid())
	}
	q.Add(-5) // clamps to 0
	q.AddN(0, 59)
	q.AddN(1000, 40)
	q.AddN(7, 0) // no-op
	if q.Count() != 100 || q.Min() != 0 || q.Max() != 1000 || q.Sum() != 40000 {
		t.Fatalf("count %d min %g max %g sum %g", q.Count(), q.Min(), q.Max(), q.Sum())
	}
	if q.Quantile(0.5) != 0 || q.Quantile(0.59) != 0 {
		t.Errorf("p50 %g, want 0 (60 of 100 values are 0)", q.Quantile(0.5))
	}
	if got := q.Quantile(0.95); relErr(got, 1000) > 0.01 {
		t.Errorf("p95 %g, want 1000±1%%", got)
	}
	if q.Quantile(-1) != 0 || q.Quantile(2) != 1000 || q.Quantile(math.NaN()) != 0 {
		t.Error("out-of-range p must clamp")
	}
	q.Add(math.MaxFloat64)
	q.Add(math.SmallestNonzeroFloat64) // counted as zero
	if q.Quantile(1) != math.MaxFloat64 || math.IsInf(q.Quantile(0.999), 0) {
		t.Errorf("huge value: p100 %g", q.Quantile(1))
	}

	coarse, err := NewQuantilesWithAccuracy(0.05)
	if err != nil {
		t.Fatal(err)
	}
	coarse.Add(1)
	if err := NewQuantiles().Merge(coarse); err == nil {
		t.Error("merging different accuracies must fail")
	}
	if _, err := NewQuantilesWithAccuracy(0); err == nil {
		t.Error("accuracy 0 must be rejected")
	}
	if _, err := NewQuantilesWithAccuracy(math.NaN()); err == nil {
		t.Error("accuracy NaN must be rejected")
	}
	if err := q.Merge(nil); err != nil {
		t.Error(err)
	}
	// Self-merge doubles every count.
	s := NewQuantiles()
	for i := 1; i <= 100; i++ {
		s.Add(float64(i))
	}
	p90 := s.Quantile(0.9)
	if err := s.Merge(s); err != nil || s.Count() != 200 || s.Quantile(0.9) != p90 {
		t.Errorf("self-merge: count %d p90 %g→%g", s.Count(), p90, s.Quantile(0.9))
	}
}

// Values spanning 600 orders of magnitude exceed MaxQuantileBins: memory
// stays bounded, the lowest bins collapse, and the high quantiles keep α.
func TestQuantilesCollapse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	q := NewQuantiles()
	vals := make([]float64, 200_000)
	for i := range vals {
		vals[i] = math.Pow(10, r.Float64()*600-300)
		q.Add(vals[i])
	}
	if len(q.bins) > MaxQuantileBins || cap(q.bins) > MaxQuantileBins {
		t.Fatalf("%d bins (cap %d) > %d", len(q.bins), cap(q.bins), MaxQuantileBins)
	}
	slices.Sort(vals)
	// 2048 bins at γ≈1.0202 cover ~17.8 decades: everything above
	// 10^(300−17.8) keeps the guarantee, i.e. the top ~2.9 % of this stream.
	for _, p := range []float64{0.98, 0.99, 0.999} {
		if e := relErr(q.Quantile(p), exactQuantile(vals, p)); e > q.RelativeAccuracy()+1e-12 {
			t.Errorf("p%g after collapse: relative error %g", p*100, e)
		}
	}
	if q.Count() != uint64(len(vals)) || q.Quantile(0) != vals[0] {
		t.Error("collapse must keep count and min")
	}
	b, _ := q.MarshalBinary()
	var back Quantiles
	if err := back.UnmarshalBinary(b); err != nil || back.Quantile(0.99) != q.Quantile(0.99) {
		t.Errorf("collapsed sketch must round trip: %v", err)
	}
	// Decreasing then increasing streams exercise both growth directions.
	q2 := NewQuantiles()
	for e := 300.0; e > -300; e -= 0.01 {
		q2.Add(math.Pow(10, e))
	}
	for e := -300.0; e < 300; e += 0.01 {
		q2.Add(math.Pow(10, e))
	}
	if len(q2.bins) > MaxQuantileBins || q2.binSum+q2.zeros != q2.Count() {
		t.Fatalf("bins %d, binSum %d + zeros %d != count %d", len(q2.bins), q2.binSum, q2.zeros, q2.Count())
	}
}

func TestQuantilesRoundTrip(t *testing.T) {
	for i, d := range dists {
		r := rand.New(rand.NewPCG(uint64(i), 5))
		q := NewQuantiles()
		for range 50_000 {
			q.Add(d.gen(r))
		}
		q.Add(math.NaN())
		b, err := q.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Quantiles
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		for k := 0; k <= 100; k++ {
			p := float64(k) / 100
			if back.Quantile(p) != q.Quantile(p) {
				t.Fatalf("%s: p=%g %g != %g", d.name, p, back.Quantile(p), q.Quantile(p))
			}
		}
		if back.Count() != q.Count() || back.Sum() != q.Sum() || back.Min() != q.Min() || back.Max() != q.Max() || back.Invalid() != 1 {
			t.Fatalf("%s: summary statistics differ", d.name)
		}
		b2, _ := back.MarshalBinary()
		if string(b) != string(b2) {
			t.Fatalf("%s: re-encoding differs", d.name)
		}
		t.Logf("%-12s %6d bytes for %d values", d.name, len(b), q.Count())
	}
	var empty Quantiles
	b, _ := empty.MarshalBinary()
	var back Quantiles
	if err := back.UnmarshalBinary(b); err != nil || back.Count() != 0 {
		t.Fatalf("empty round trip: %v", err)
	}
}

func TestQuantilesUnmarshalHostile(t *testing.T) {
	good, _ := func() ([]byte, error) {
		q := NewQuantiles()
		q.Add(1)
		q.Add(1000)
		return q.MarshalBinary()
	}()
	head := func(gamma float64, nbins uint64) []byte {
		b := []byte{kindQuantiles, wireVersion}
		b = appendFloat64(b, gamma)
		b = append(b, 0, 0) // invalid, zeros
		b = appendFloat64(b, 0)
		b = appendFloat64(b, 1)
		b = appendFloat64(b, 2)
		return appendUv(b, nbins)
	}
	g := gammaOf(0.01)
	cases := map[string][]byte{
		"nil":            nil,
		"kind":           append([]byte{'T'}, good[1:]...),
		"version":        append([]byte{'Q', 9}, good[2:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(slices.Clone(good), 0),
		"gamma NaN":      head(math.NaN(), 0),
		"gamma 1":        head(1, 0),
		"gamma huge":     head(1e300, 0),
		"bins > max":     append(head(g, MaxQuantileBins+1), make([]byte, 2*(MaxQuantileBins+1))...),
		"bins > input":   append(head(g, 1000), 0, 1),
		"zero count bin": append(head(g, 1), 2, 0),
		"index too low":  appendUv(appendV(head(g, 1), -1<<40), 1),
		"index too high": appendUv(appendV(head(g, 1), 1<<40), 1),
		"span too wide":  appendUv(appendUv(appendUv(appendV(head(g, 2), 0), 1), MaxQuantileBins), 1),
		"delta zero":     appendUv(appendUv(appendUv(appendV(head(g, 2), 5), 1), 0), 1),
		"count overflow": appendUv(appendUv(appendUv(appendV(head(g, 2), 5), math.MaxUint64), 1), 1),
		"min > max": func() []byte {
			b := []byte{kindQuantiles, wireVersion}
			b = appendFloat64(b, g)
			b = append(b, 0, 0)
			b = appendFloat64(b, 1)
			b = appendFloat64(b, 5)
			b = appendFloat64(b, 2)
			return appendUv(appendV(appendUv(b, 1), 3), 1)
		}(),
		"empty with max": head(g, 0),
		"oversized":      make([]byte, maxQuantilesBytes+1),
	}
	for name, b := range cases {
		q := NewQuantiles()
		q.Add(42)
		if err := q.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", name, err)
		}
		if q.Count() != 1 || q.Max() != 42 {
			t.Errorf("%s: receiver modified on error", name)
		}
	}
}

func TestQuantilesHugeSumRoundTrips(t *testing.T) {
	q := NewQuantiles()
	q.Add(1e308)
	q.AddN(1e308, 1000)
	_ = q.Merge(q)
	if math.IsInf(q.Sum(), 0) {
		t.Fatal("sum overflowed to +Inf")
	}
	b, _ := q.MarshalBinary()
	var back Quantiles
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatalf("huge sum must round trip: %v", err)
	}
}

// The table-driven index equals ⌊ln(v)·mult⌋ with math.Log, for random
// values over the whole range and for the values next to every bin
// boundary, at several accuracies.
func TestQuantilesIndexMatchesLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for _, alpha := range []float64{minRelativeAccuracy, 0.001, DefaultRelativeAccuracy, 0.05, maxRelativeAccuracy} {
		q, err := NewQuantilesWithAccuracy(alpha)
		if err != nil {
			t.Fatal(err)
		}
		want := func(v float64) int { return int(math.Floor(math.Log(v) * q.mult)) }
		check := func(v float64) {
			if v <= q.lo || v > q.hi || math.IsInf(v, 0) {
				return
			}
			if got, w := q.index(v), want(v); got != w {
				t.Fatalf("alpha %g: index(%v) = %d, math.Log gives %d", alpha, v, got, w)
			}
		}
		for range 200000 {
			check(math.Exp(rng.Float64()*1400 - 700))
			check(rng.Float64() * 1e6)
		}
		// Around bin boundaries γ^k, where the two ways could disagree.
		for k := -2000; k <= 2000; k += 7 {
			v := math.Exp(float64(k) / q.mult)
			for _, d := range []float64{v, math.Nextafter(v, 0), math.Nextafter(v, math.Inf(1)),
				math.Nextafter(math.Nextafter(v, 0), 0), math.Nextafter(math.Nextafter(v, math.Inf(1)), math.Inf(1))} {
				check(d)
			}
		}
	}
}

func BenchmarkQuantilesIndex(b *testing.B) {
	q := NewQuantiles()
	vs := make([]float64, 1024)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range vs {
		vs[i] = rng.Float64() * 1e5
	}
	b.ResetTimer()
	s := 0
	for i := range b.N {
		s += q.index(vs[i&1023])
	}
	if s == 42 {
		b.Log(s)
	}
}
