package record

import (
	"testing"
	"time"
)

// A probe is judged by its own period when it says it, else by the
// center's configured staleness.
func TestStaleAfter(t *testing.T) {
	for _, c := range []struct {
		period, fallback, want time.Duration
	}{
		{0, 3 * time.Minute, 3 * time.Minute},
		{10 * time.Second, 3 * time.Minute, 30 * time.Second},
		{5 * time.Minute, 3 * time.Minute, 15 * time.Minute},
		{-time.Second, time.Minute, time.Minute},
	} {
		p := ProbeInfo{ID: "p", Period: c.period}
		if got := p.StaleAfter(c.fallback); got != c.want {
			t.Errorf("period %v, fallback %v: stale after %v, want %v", c.period, c.fallback, got, c.want)
		}
	}
}
