package storeutil

import (
	"fmt"
	"math"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// Both backends keep times as Int64 nanoseconds since 1970, with the
// smallest Int64 (NoTime) standing for the zero time.Time.
const NoTime = math.MinInt64

var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// TimeNS converts t to the column form; false when Int64 nanoseconds
// cannot hold it (before 1678 or after 2262).
func TimeNS(t time.Time) (int64, bool) {
	if t.IsZero() {
		return NoTime, true
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, false
	}
	return t.UnixNano(), true
}

// NSTime converts the column form back (in UTC).
func NSTime(ns int64) time.Time {
	if ns == NoTime {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// RecordTimes converts the times (at most three) of record i of table,
// naming the record, with an error wrapping store.ErrBadBatch, when one
// is out of range.
func RecordTimes(table string, i int, ts ...time.Time) ([3]int64, error) {
	var out [3]int64
	for j, t := range ts {
		ns, ok := TimeNS(t)
		if !ok {
			return out, fmt.Errorf("%w: %s[%d]: time %v out of range (1678..2262)", store.ErrBadBatch, table, i, t)
		}
		out[j] = ns
	}
	return out, nil
}

// CheckWrite refuses the arguments of a Write that can never be stored
// (no batch, no probe ID: errors wrapping store.ErrBadBatch; a write time
// out of range) and returns the write time in the column form. The
// batch's record times are CheckTimes's.
func CheckWrite(b *record.Batch, now time.Time) (nowNS int64, err error) {
	if b == nil {
		return 0, fmt.Errorf("%w: nil batch", store.ErrBadBatch)
	}
	if b.Probe.ID == "" {
		return 0, fmt.Errorf("%w: batch %d has no probe ID", store.ErrBadBatch, b.Seq)
	}
	nowNS, ok := TimeNS(now)
	if !ok || now.IsZero() {
		return 0, fmt.Errorf("write time %v out of range", now)
	}
	return nowNS, nil
}

// CheckTimes refuses a batch with a time that cannot be stored, naming
// the first such record, before anything is queued.
func CheckTimes(b *record.Batch) error {
	for i := range b.Windows {
		r := &b.Windows[i]
		if _, err := RecordTimes("windows", i, r.Start, r.End); err != nil {
			return err
		}
	}
	for i := range b.Flows {
		r := &b.Flows[i]
		if _, err := RecordTimes("flows", i, r.Start, r.End); err != nil {
			return err
		}
	}
	for i := range b.Transactions {
		r := &b.Transactions[i]
		if _, err := RecordTimes("transactions", i, r.RequestTime, r.ResponseTime); err != nil {
			return err
		}
	}
	for i := range b.Traffic {
		r := &b.Traffic[i]
		if _, err := RecordTimes("traffic", i, r.Start, r.End); err != nil {
			return err
		}
	}
	for i := range b.Edges {
		r := &b.Edges[i]
		if _, err := RecordTimes("edges", i, r.Start, r.End); err != nil {
			return err
		}
	}
	return nil
}

// RetentionCutoff is the retention's cutoff at now in the column form:
// the records whose time ended before it go.
func RetentionCutoff(now time.Time, maxAge time.Duration) (int64, error) {
	cut, ok := TimeNS(now.Add(-maxAge))
	if !ok || now.IsZero() {
		return 0, fmt.Errorf("retention time %v out of range", now)
	}
	return cut, nil
}
