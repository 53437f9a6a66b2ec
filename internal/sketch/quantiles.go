package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
)

const (
	// DefaultRelativeAccuracy is the relative error α of Quantiles from
	// NewQuantiles: a reported quantile x̂ of true value x satisfies
	// |x̂ − x| ≤ α·x. Rates, sizes and latencies read as "about 1 %", and at
	// 1 % a sketch spanning 1 B to 1 TB needs ~1,400 bins.
	DefaultRelativeAccuracy = 0.01

	// MaxQuantileBins bounds the memory of a Quantiles (8 bytes per bin,
	// 16 KiB) whatever it is fed. At α = 1 % the bins cover values spanning a
	// factor γ^2048 ≈ 6·10^17 with the guarantee intact; beyond that the
	// lowest bins are folded together, so the lowest quantiles lose accuracy
	// first while the high quantiles a probe alerts on keep it.
	MaxQuantileBins = 2048

	minRelativeAccuracy = 1e-4
	maxRelativeAccuracy = 0.5

	// maxQuantilesBytes caps an encoded Quantiles: header, gamma, three
	// varints, three floats and at most MaxQuantileBins bins of two varints.
	maxQuantilesBytes = 2 + 8 + 3*10 + 3*8 + MaxQuantileBins*2*10
)

// Quantiles is a relative-error quantile sketch (DDSketch: Masson, Rim and
// Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
// relative-error guarantees", VLDB 2019) for non-negative values such as
// packets per second, payload sizes and transaction latencies.
//
// A value v > 0 is counted in bin i = ⌊log_γ v⌋ with γ = (1+α)/(1−α), and
// bin i reports 2γ^(i+1)/(γ+1), which is within a factor (1 ± α) of every
// value in [γ^i, γ^(i+1)). So a quantile is reported with relative error at
// most α against the exact value whatever the distribution, including the
// heavy tails where rank-error sketches (KLL, t-digest) give poor p99s.
// Merging adds bin counts, so the merge of sketches is identical to the
// sketch of the concatenated stream. Count, Sum, Min and Max are exact.
//
// The mapping is the same as github.com/DataDog/sketches-go's
// LogarithmicMapping (index offset 0); that module is not imported because
// all its packages depend on protobuf, which a probe has no other use for.
//
// The zero value is ready to use with the default accuracy. A Quantiles is
// not safe for concurrent use.
type Quantiles struct {
	gamma float64 // bin ratio; pinned in the encoding, must match to merge
	mult  float64 // 1/ln γ
	scale float64 // 2γ/(γ+1): bin lower bound → reported value
	lo    float64 // values ≤ lo are counted as 0 (smallest indexable value)
	hi    float64 // values > hi are clamped to hi (so Value never overflows)

	offset int      // index of bins[0]
	bins   []uint64 // dense counts for indexes offset…offset+len−1
	binSum uint64   // Σ bins
	zeros  uint64   // values counted as 0

	count    uint64
	invalid  uint64
	sum      float64
	min, max float64
}

// NewQuantiles returns an empty sketch with DefaultRelativeAccuracy.
func NewQuantiles() *Quantiles {
	q := &Quantiles{}
	q.init(gammaOf(DefaultRelativeAccuracy))
	return q
}

// NewQuantilesWithAccuracy returns an empty sketch with relative accuracy
// alpha in [1e-4, 0.5]. Only sketches with the same accuracy merge.
func NewQuantilesWithAccuracy(alpha float64) (*Quantiles, error) {
	if !(alpha >= minRelativeAccuracy && alpha <= maxRelativeAccuracy) {
		return nil, fmt.Errorf("sketch: relative accuracy %g outside [%g, %g]", alpha, minRelativeAccuracy, maxRelativeAccuracy)
	}
	q := &Quantiles{}
	q.init(gammaOf(alpha))
	return q, nil
}

func gammaOf(alpha float64) float64 { return (1 + alpha) / (1 - alpha) }

func (q *Quantiles) init(gamma float64) {
	*q = Quantiles{
		gamma: gamma,
		mult:  1 / math.Log(gamma),
		scale: 2 * gamma / (gamma + 1),
		// The smallest normal float times γ, as ddsketch: below it the
		// logarithm is still defined but the bin value underflows.
		lo: 0x1p-1022 * gamma,
		hi: math.MaxFloat64 / (2 * gamma) * (gamma + 1), // < MaxFloat64: no overflow
	}
}

// index is ⌊ln(v)·mult⌋, computed as math.Log would give it, mostly
// without the logarithm: v = m·2^e, and ln(m) lies between the table's
// values for the 1/1024 of [1, 2) that holds m. When both ends of that
// range give the same index (about 95 % of values at the default
// accuracy) it is the index; otherwise the logarithm decides. The margin
// covers the rounding of both ways (below 1e-8 for every accuracy allowed).
func (q *Quantiles) index(v float64) int {
	b := math.Float64bits(v)
	if e := int(b>>52&0x7ff) - 1023; e > -1023 && e < 1024 { // normal, finite
		j := b >> 42 & (lnMantSteps - 1)
		base := float64(e) * math.Ln2
		lo := math.Floor((base+lnMant[j])*q.mult - 1e-7)
		if hi := math.Floor((base+lnMant[j+1])*q.mult + 1e-7); lo == hi {
			return int(lo)
		}
	}
	return int(math.Floor(math.Log(v) * q.mult))
}

// lnMant[j] = ln(1 + j/lnMantSteps): the logarithms of the mantissa
// steps index looks up.
const lnMantSteps = 1024

var lnMant = func() (t [lnMantSteps + 1]float64) {
	for j := range t {
		t[j] = math.Log1p(float64(j) / lnMantSteps)
	}
	return t
}()

func (q *Quantiles) value(i int) float64 {
	return math.Exp(float64(i)/q.mult) * q.scale
}

// RelativeAccuracy returns α: quantiles are within a factor (1 ± α).
func (q *Quantiles) RelativeAccuracy() float64 {
	if q.gamma == 0 {
		return DefaultRelativeAccuracy
	}
	return (q.gamma - 1) / (q.gamma + 1)
}

// Add records one value. Negative values are recorded as 0 (a negative
// rate or size is a caller bug, and 0 keeps the count honest); NaN and ±Inf
// are not recorded but counted in Invalid.
func (q *Quantiles) Add(v float64) { q.AddN(v, 1) }

// AddN records value v n times, e.g. n idle seconds with rate 0.
func (q *Quantiles) AddN(v float64, n uint64) {
	if n == 0 {
		return
	}
	if q.gamma == 0 {
		q.init(gammaOf(DefaultRelativeAccuracy))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		q.invalid = addSat(q.invalid, n)
		return
	}
	if v < 0 {
		v = 0
	}
	if q.count == 0 {
		q.min, q.max = v, v
	} else if v < q.min {
		q.min = v
	} else if v > q.max {
		q.max = v
	}
	q.count = addSat(q.count, n)
	q.sum = addSum(q.sum, v*float64(n))
	if v <= q.lo {
		q.zeros = addSat(q.zeros, n)
		return
	}
	q.addIndex(q.index(min(v, q.hi)), n)
}

// addIndex adds n to bin i, growing the dense range as needed and folding
// the lowest bins into one when the range would exceed MaxQuantileBins.
func (q *Quantiles) addIndex(i int, n uint64) {
	q.binSum = addSat(q.binSum, n)
	switch {
	case len(q.bins) == 0:
		if cap(q.bins) == 0 {
			q.bins = make([]uint64, 0, 64)
		}
		q.offset = i
		q.bins = append(q.bins[:0], 0)
	case i < q.offset:
		top := q.offset + len(q.bins) - 1
		if top-i >= MaxQuantileBins {
			i = top - MaxQuantileBins + 1 // collapse into the lowest bin kept
		}
		if i < q.offset {
			q.growDown(q.offset - i)
		}
	case i >= q.offset+len(q.bins):
		if i-q.offset >= MaxQuantileBins {
			q.collapseBelow(i - MaxQuantileBins + 1)
		}
		need := i - q.offset + 1
		if need > cap(q.bins) {
			nb := make([]uint64, len(q.bins), min(max(2*need, 64), MaxQuantileBins))
			copy(nb, q.bins)
			q.bins = nb
		}
		old := len(q.bins)
		q.bins = q.bins[:need]
		clear(q.bins[old:])
	}
	k := i - q.offset
	q.bins[k] = addSat(q.bins[k], n)
}

// growDown prepends k empty bins.
func (q *Quantiles) growDown(k int) {
	n := len(q.bins) + k
	if n <= cap(q.bins) {
		q.bins = q.bins[:n]
		copy(q.bins[k:], q.bins[:n-k])
	} else {
		nb := make([]uint64, n, min(max(2*n, 64), MaxQuantileBins))
		copy(nb[k:], q.bins)
		q.bins = nb
	}
	clear(q.bins[:k])
	q.offset -= k
}

// collapseBelow folds every bin below index low into bin low.
func (q *Quantiles) collapseBelow(low int) {
	d := low - q.offset
	if d <= 0 {
		return
	}
	var s uint64
	for _, c := range q.bins[:min(d, len(q.bins))] {
		s = addSat(s, c)
	}
	if d >= len(q.bins) {
		q.bins = append(q.bins[:0], s)
	} else {
		n := copy(q.bins, q.bins[d:])
		q.bins = q.bins[:n]
		q.bins[0] = addSat(q.bins[0], s)
	}
	q.offset = low
}

// addSum adds non-negative finite sums, saturating at MaxFloat64 instead of
// reaching +Inf (which no encoding may carry).
func addSum(a, b float64) float64 {
	return min(a+b, math.MaxFloat64)
}

// Count returns the number of values recorded (NaN/Inf excluded).
func (q *Quantiles) Count() uint64 { return q.count }

// Invalid returns the number of NaN and ±Inf values that were dropped.
func (q *Quantiles) Invalid() uint64 { return q.invalid }

// Sum returns the sum of the recorded values (after clamping negatives),
// saturating at math.MaxFloat64.
func (q *Quantiles) Sum() float64 { return q.sum }

// Min returns the smallest recorded value, 0 when empty.
func (q *Quantiles) Min() float64 { return q.min }

// Max returns the largest recorded value, 0 when empty.
func (q *Quantiles) Max() float64 { return q.max }

// Quantile returns the value at quantile p in [0, 1] (clamped; NaN gives 0),
// or 0 when the sketch is empty. The result x̂ satisfies |x̂ − x| ≤ α·x where
// x is the exact value of 0-based rank ⌊p·(n−1)⌋ in the sorted input, as long
// as the bins have not collapsed (see MaxQuantileBins). Values at or below
// ~2.2e-308 are reported as 0.
func (q *Quantiles) Quantile(p float64) float64 {
	if q.count == 0 || math.IsNaN(p) {
		return 0
	}
	p = min(max(p, 0), 1)
	zeros := float64(q.zeros)
	total := zeros + float64(q.binSum)
	// An explicit conversion keeps the compiler from fusing this into an
	// FMA, so every architecture picks the same rank (as ddsketch does).
	rank := float64(p * (total - 1))
	// Ranks 0 and n−1 are the minimum and maximum, which are kept exactly.
	if rank < 1 {
		return q.min
	}
	if rank >= total-1 {
		return q.max
	}
	var v float64
	if rank >= zeros {
		rank -= zeros
		k := len(q.bins) - 1
		var cum uint64
		for j, c := range q.bins {
			cum = addSat(cum, c)
			if float64(cum) > rank {
				k = j
				break
			}
		}
		v = q.value(q.offset + k)
	}
	// The exact quantile lies in [min, max], so clamping can only move the
	// estimate closer to it (and makes constant streams exact).
	return min(max(v, q.min), q.max)
}

// Merge adds o to q. Both must have the same relative accuracy; a zero-value
// q adopts o's. o is not modified.
func (q *Quantiles) Merge(o *Quantiles) error {
	if o == nil || o.gamma == 0 {
		return nil
	}
	if q.gamma == 0 {
		q.init(o.gamma)
	}
	if q.gamma != o.gamma {
		return fmt.Errorf("sketch: cannot merge quantiles with relative accuracy %g into %g", o.RelativeAccuracy(), q.RelativeAccuracy())
	}
	if o == q {
		c := *o
		c.bins = append([]uint64(nil), o.bins...)
		o = &c
	}
	q.invalid = addSat(q.invalid, o.invalid)
	if o.count == 0 {
		return nil
	}
	if q.count == 0 {
		q.min, q.max = o.min, o.max
	} else {
		q.min = min(q.min, o.min)
		q.max = max(q.max, o.max)
	}
	q.count = addSat(q.count, o.count)
	q.sum = addSum(q.sum, o.sum)
	q.zeros = addSat(q.zeros, o.zeros)
	// Lowest bin first: one downward extension, then appends.
	for k, c := range o.bins {
		if c != 0 {
			q.addIndex(o.offset+k, c)
		}
	}
	return nil
}

// MarshalBinary encodes q compactly, 2–4 bytes per non-empty bin:
//
//	'Q' 1 | gamma f64 | invalid uv | zeros uv | sum f64 | min f64 | max f64 |
//	nbins uv | first index zigzag varint, count uv | (index delta uv, count uv)…
//
// Bins are non-empty and in increasing index order; floats are
// little-endian IEEE 754. The encoding is canonical.
func (q *Quantiles) MarshalBinary() ([]byte, error) {
	gamma := q.gamma
	if gamma == 0 {
		gamma = gammaOf(DefaultRelativeAccuracy)
	}
	nbins := 0
	for _, c := range q.bins {
		if c != 0 {
			nbins++
		}
	}
	b := make([]byte, 0, 2+8+3*10+3*8+nbins*4)
	b = append(b, kindQuantiles, wireVersion)
	b = appendFloat64(b, gamma)
	b = binary.AppendUvarint(b, q.invalid)
	b = binary.AppendUvarint(b, q.zeros)
	b = appendFloat64(b, q.sum)
	b = appendFloat64(b, q.min)
	b = appendFloat64(b, q.max)
	b = binary.AppendUvarint(b, uint64(nbins))
	first, prev := true, 0
	for k, c := range q.bins {
		if c == 0 {
			continue
		}
		idx := q.offset + k
		if first {
			b = binary.AppendVarint(b, int64(idx))
			first = false
		} else {
			b = binary.AppendUvarint(b, uint64(idx-prev))
		}
		prev = idx
		b = binary.AppendUvarint(b, c)
	}
	return b, nil
}

// UnmarshalBinary replaces q with the decoded sketch. The input is untrusted:
// its size is capped, the bin count is at most MaxQuantileBins and what the
// remaining bytes can hold, bin indexes must strictly increase inside the
// indexable range and span fewer than MaxQuantileBins, counts must be
// positive and add up without overflow, and 0 ≤ min ≤ max and sum must be
// finite. On error q is unchanged.
func (q *Quantiles) UnmarshalBinary(data []byte) error {
	if err := checkHeader(data, kindQuantiles, maxQuantilesBytes); err != nil {
		return err
	}
	r := reader{b: data[2:]}
	gamma := r.float64("gamma")
	if r.err != nil {
		return r.err
	}
	if !(gamma >= gammaOf(minRelativeAccuracy) && gamma <= gammaOf(maxRelativeAccuracy)) {
		return invalidf("quantiles: gamma %g out of range", gamma)
	}
	var n Quantiles
	n.init(gamma)
	n.invalid = r.uvarint("invalid count")
	n.zeros = r.uvarint("zero count")
	n.sum = r.float64("sum")
	n.min = r.float64("min")
	n.max = r.float64("max")
	nbins := r.uvarint("bin count")
	if r.err != nil {
		return r.err
	}
	// Each bin takes at least two bytes, so a count the remaining input
	// cannot hold is rejected before anything is allocated.
	if nbins > MaxQuantileBins || nbins > uint64(len(r.b))/2 {
		return invalidf("quantiles: %d bins", nbins)
	}
	// Add never produces an index outside [index(lo), index(hi)].
	minIdx, maxIdx := int64(n.index(n.lo)), int64(n.index(n.hi))
	total := n.zeros
	var first, idx int64
	for i := range nbins {
		if i == 0 {
			idx = r.varint("bin index")
			first = idx
		} else {
			d := r.uvarint("bin index delta")
			if d == 0 || d >= MaxQuantileBins {
				return invalidf("quantiles: bin index delta %d", d)
			}
			idx += int64(d)
		}
		c := r.uvarint("bin count")
		if r.err != nil {
			return r.err
		}
		if idx < minIdx || idx > maxIdx || idx-first >= MaxQuantileBins {
			return invalidf("quantiles: bin index %d outside [%d, %d] or too far from %d", idx, minIdx, maxIdx, first)
		}
		if c == 0 {
			return invalidf("quantiles: empty bin %d", idx)
		}
		if total+c < total {
			return invalidf("quantiles: counts overflow")
		}
		total += c
		// The span check above means this never collapses, so the
		// decoded sketch is exactly the encoded one.
		n.addIndex(int(idx), c)
	}
	if len(r.b) != 0 {
		return invalidf("quantiles: %d trailing bytes", len(r.b))
	}
	n.count = total
	if total == 0 {
		if n.sum != 0 || n.min != 0 || n.max != 0 {
			return invalidf("quantiles: empty sketch with sum, min or max")
		}
	} else if !(n.min >= 0 && n.min <= n.max && n.max <= math.MaxFloat64 && n.sum >= 0 && n.sum <= math.MaxFloat64) {
		// Written so that NaN fails every comparison and is rejected.
		return invalidf("quantiles: sum %g, min %g, max %g", n.sum, n.min, n.max)
	}
	*q = n
	return nil
}
