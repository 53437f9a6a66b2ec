package summary

import "github.com/wirewatch/wirewatch/internal/sketch"

// smallSizes covers every Ethernet frame size: those are counted exactly
// in an array (one increment per packet, far cheaper than a sketch insert),
// larger values (jumbo frames, reassembled datagrams) go to the sketch.
const smallSizes = 2048

// sizeDist is a distribution of sizes: exact below smallSizes, a quantile
// sketch above. It merges like the sketch does.
type sizeDist struct {
	small [smallSizes]uint64
	big   *sketch.Quantiles
}

func newSizeDist() *sizeDist { return &sizeDist{big: sketch.NewQuantiles()} }

func (d *sizeDist) add(v int) {
	if v >= 0 && v < smallSizes {
		d.small[v]++
		return
	}
	d.big.Add(float64(v))
}

func (d *sizeDist) merge(o *sizeDist) {
	for i, c := range o.small {
		d.small[i] += c
	}
	_ = d.big.Merge(o.big)
}

// quantiles returns the whole distribution as one sketch.
func (d *sizeDist) quantiles() *sketch.Quantiles {
	q := sketch.NewQuantiles()
	_ = q.Merge(d.big)
	for v, c := range d.small {
		if c > 0 {
			q.AddN(float64(v), c)
		}
	}
	return q
}
