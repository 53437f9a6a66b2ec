package sketch

import (
	"fmt"
	"net/netip"

	"github.com/axiomhq/hyperloglog"
)

const (
	// DefaultDistinctPrecision is the HyperLogLog precision p of
	// NewDistinct: m = 2^14 registers, standard error 1.04/√m ≈ 0.81 %,
	// 16 KiB once dense (small sets stay in a sparse list of a few bytes per
	// element, which is also exact to ~1 in 2^25 hash collisions).
	DefaultDistinctPrecision = 14

	minDistinctPrecision = 4
	maxDistinctPrecision = 18
)

// Distinct counts distinct elements (addresses, DNS names) with
// HyperLogLog++ (github.com/axiomhq/hyperloglog: sparse representation for
// small sets, bias-corrected estimator). The estimate has relative standard
// error 1.04/√(2^p): 0.81 % at the default p = 14.
//
// Merging takes the register-wise maximum, which is exactly the sketch of
// the union of the inputs: merged windows and probes count an address seen
// by several of them once.
//
// Elements are hashed with Hash64, identical in every process, so a probe's
// sketch merges with the center's. Feed AddHash only full-quality 64-bit
// hashes (HyperLogLog reads the register index from the top bits and the
// rank from the rest).
//
// Cost: once dense (beyond ~7,000 elements at p = 14) an add takes ~20 ns
// and never allocates. While sparse, repeated elements are cheap, but each
// 2^p/100 distinct keys buffered the library rebuilds its sorted list, so a
// sketch holding a few thousand elements and cycling through them pays
// ~200–450 ns and ~30–70 B per add, amortised. Estimate of a dense sketch
// takes ~0.45 ms (the library sums 2^-register with math.Pow); call it per
// report, not per packet.
//
// The zero value is ready to use with the default precision. A Distinct is
// not safe for concurrent use (Estimate compacts internal state).
type Distinct struct {
	hll *hyperloglog.Sketch
}

// NewDistinct returns an empty counter with DefaultDistinctPrecision.
func NewDistinct() *Distinct {
	return &Distinct{hll: hyperloglog.New14()}
}

// NewDenseDistinct returns an empty counter with DefaultDistinctPrecision
// that starts dense (16 KiB of registers) instead of sparse: for sets
// that are expected to be large (DNS names), where the sparse form's
// periodic merges cost more than the memory saved.
func NewDenseDistinct() *Distinct {
	return &Distinct{hll: hyperloglog.NewNoSparse()}
}

// NewDistinctWithPrecision returns an empty counter with 2^p registers,
// p in [4, 18]. Only counters with the same precision merge.
func NewDistinctWithPrecision(p uint8) (*Distinct, error) {
	if p < minDistinctPrecision || p > maxDistinctPrecision {
		return nil, fmt.Errorf("sketch: HyperLogLog precision %d outside [%d, %d]", p, minDistinctPrecision, maxDistinctPrecision)
	}
	h, err := hyperloglog.NewSketch(p, true)
	if err != nil {
		return nil, fmt.Errorf("sketch: %w", err)
	}
	return &Distinct{hll: h}, nil
}

func (d *Distinct) sketch() *hyperloglog.Sketch {
	if d.hll == nil {
		d.hll = hyperloglog.New14()
	}
	return d.hll
}

// AddHash adds an element by its 64-bit hash (see Hash64).
func (d *Distinct) AddHash(h uint64) {
	d.sketch().InsertHash(h)
}

// AddBytes adds an element by its bytes, hashed with Hash64.
func (d *Distinct) AddBytes(b []byte) { d.AddHash(Hash64(b)) }

// AddString adds an element by its bytes, hashed with Hash64 (so
// AddString(s) and AddBytes([]byte(s)) count the same element).
func (d *Distinct) AddString(s string) { d.AddHash(hashString(s)) }

// AddAddr adds an IP address, hashing its 16-byte form without allocating.
// An IPv4 address and its IPv4-mapped IPv6 form (1.2.3.4, ::ffff:1.2.3.4)
// count as one address; zones are ignored; the invalid zero Addr is not
// counted.
func (d *Distinct) AddAddr(a netip.Addr) {
	if !a.IsValid() {
		return
	}
	b := a.As16()
	d.AddHash(Hash64(b[:]))
}

// Estimate returns the estimated number of distinct elements.
func (d *Distinct) Estimate() uint64 {
	if d.hll == nil {
		return 0
	}
	return d.hll.Estimate()
}

// Merge adds o's elements to d. Both must have the same precision; a
// zero-value d adopts o's. o is not modified.
func (d *Distinct) Merge(o *Distinct) error {
	if o == nil || o.hll == nil || o == d {
		return nil // merging a set with itself is the identity
	}
	if d.hll == nil {
		d.hll = new(hyperloglog.Sketch) // adopts o's precision on merge
	}
	if err := d.hll.Merge(o.hll); err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	return nil
}

// MarshalBinary encodes d as 'D' 1 followed by the axiomhq/hyperloglog v2
// encoding (which pins the sparse precision; our version byte pins Hash64).
// A dense p=14 counter takes 16,394 bytes; a sparse one about 2.3–2.8 bytes per
// distinct element. Call Estimate first for a canonical encoding (it merges
// the sparse insertion buffer into the sorted list).
func (d *Distinct) MarshalBinary() ([]byte, error) {
	b := []byte{kindDistinct, wireVersion}
	b, err := d.sketch().AppendBinary(b)
	if err != nil {
		return nil, fmt.Errorf("sketch: %w", err)
	}
	return b, nil
}

// UnmarshalBinary replaces d with the decoded counter. The input is
// untrusted: the precision must be in [4, 18] and the size at most what a
// counter of that precision ever encodes to (2^p + 2^p/25 + 64 bytes, bounding
// memory); the library validates every length, key and register. On error d
// is unchanged.
func (d *Distinct) UnmarshalBinary(data []byte) error {
	if err := checkHeader(data, kindDistinct, 2+64+(1<<maxDistinctPrecision)*26/25); err != nil {
		return err
	}
	body := data[2:]
	if len(body) < 8 {
		return invalidf("distinct: %d-byte body", len(body))
	}
	// A sketch stays sparse only while its list is at most m bytes and its
	// insertion buffer at most m/100 keys of 4 bytes, so nothing legitimate
	// is longer than this.
	p := body[1]
	if p < minDistinctPrecision || p > maxDistinctPrecision {
		return invalidf("distinct: precision %d", p)
	}
	m := 1 << p
	if limit := 64 + m + m/25; len(body) > limit {
		return invalidf("distinct: %d bytes for precision %d, limit %d", len(body), p, limit)
	}
	h := new(hyperloglog.Sketch)
	if err := h.UnmarshalBinary(body); err != nil {
		return fmt.Errorf("%w: distinct: %w", ErrInvalid, err)
	}
	d.hll = h
	return nil
}
