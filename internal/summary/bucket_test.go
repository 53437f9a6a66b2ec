package summary

import (
	"math"
	"testing"
)

// Rates are per-second samples summed across workers before quantiles are
// taken: two workers each seeing half of every second must report the
// same rates as one worker seeing everything.
func TestRatesMergeBySecond(t *testing.T) {
	whole := NewBucket(0, 60e9, 16)
	a, b := NewBucket(0, 60e9, 16), NewBucket(0, 60e9, 16)
	for sec := int64(0); sec < 10; sec++ {
		for i := int64(0); i < 100*(sec+1); i++ {
			ts := sec*1e9 + i
			whole.second(ts).PktsTotal++
			if i%2 == 0 {
				a.second(ts).PktsTotal++
			} else {
				b.second(ts).PktsTotal++
			}
		}
	}
	a.Merge(b)
	qa, qw := a.rateQuantiles()["pps_total"], whole.rateQuantiles()["pps_total"]
	for _, p := range []float64{0.5, 0.9, 0.99} {
		if qa.Quantile(p) != qw.Quantile(p) {
			t.Fatalf("p%v: merged %v, whole %v", p, qa.Quantile(p), qw.Quantile(p))
		}
	}
	// The true median of {100..1000 step 100} is 500 or 600; DDSketch is
	// within 1% relative error of a sample value.
	if m := qw.Quantile(0.5); math.Abs(m-500)/500 > 0.011 && math.Abs(m-600)/600 > 0.011 {
		t.Fatalf("median rate %v", m)
	}
}

// A second without traffic between two busy ones is a rate of zero.
func TestIdleSecondsCountAsZero(t *testing.T) {
	b := NewBucket(0, 60e9, 16)
	b.second(0).PktsTotal = 10
	b.second(9e9).PktsTotal = 10 // seconds 1..8 idle
	q := b.rateQuantiles()["pps_total"]
	if q.Count() != 10 {
		t.Fatalf("samples %d, want 10 (2 busy + 8 idle)", q.Count())
	}
	if q.Quantile(0.5) != 0 {
		t.Fatalf("median %v, want 0", q.Quantile(0.5))
	}
}

func TestSizeDistExactBelowCutoff(t *testing.T) {
	d := newSizeDist()
	for v := 1; v <= 1000; v++ {
		d.add(v)
	}
	d.add(9000) // jumbo frame: goes to the sketch
	q := d.quantiles()
	if q.Count() != 1001 {
		t.Fatalf("count %d", q.Count())
	}
	if p50 := q.Quantile(0.5); math.Abs(p50-501)/501 > 0.011 {
		t.Fatalf("p50 %v, want ~501", p50)
	}
	if mx := q.Max(); mx != 9000 {
		t.Fatalf("max %v", mx)
	}
	o := newSizeDist()
	o.add(5)
	d.merge(o)
	if d.quantiles().Count() != 1002 {
		t.Fatal("merge lost a value")
	}
}
