package storeutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
)

// Minimums of the retention settings, which keep a mistyped value from
// deleting everything or spinning: retention runs at most every second
// and keeps at least a minute of data and a megabyte.
const (
	MinMaxAge      = time.Minute
	MinMaxBytes    = 1 << 20
	MinRetainEvery = time.Second
)

// CheckRetention checks the retention settings of a backend's Config
// (zero values take the defaults), naming the bad field; name (the
// backend) prefixes the error.
func CheckRetention(name string, maxAge time.Duration, maxBytes int64, retainEvery time.Duration) error {
	if maxAge != 0 && maxAge < MinMaxAge {
		return fmt.Errorf("%s: Retention.MaxAge %v is below %v", name, maxAge, MinMaxAge)
	}
	if maxBytes != 0 && maxBytes < MinMaxBytes {
		return fmt.Errorf("%s: Retention.MaxBytes %d is below %d", name, maxBytes, MinMaxBytes)
	}
	if retainEvery != 0 && retainEvery < MinRetainEvery {
		return fmt.Errorf("%s: RetainEvery %v is below %v", name, retainEvery, MinRetainEvery)
	}
	return nil
}

// SizeTarget is what a size-driven retention pass brings the data down
// to, from MaxBytes: 90 %, so that the next batches do not trigger
// another pass at once.
func SizeTarget(maxBytes int64) int64 {
	return int64(float64(maxBytes) * 0.9)
}

// RetainLoop calls retain every period until stop is closed (which also
// cancels a pass under way), logging what the passes removed and their
// failures but closed (the backend's ErrClosed) and cancellation.
func RetainLoop(stop <-chan struct{}, every time.Duration, log *slog.Logger, closed error,
	retain func(ctx context.Context) (store.RetainStats, error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			st, err := retain(ctx)
			cancel()
			if err != nil {
				if !errors.Is(err, closed) && !errors.Is(err, context.Canceled) {
					log.Warn("retention failed", "err", err)
				}
				continue
			}
			if n := SumCounts(st.RemovedRows); n > 0 {
				log.Info("retention", "removed_rows", n, "oldest_kept", st.OldestKept, "bytes_on_disk", st.BytesOnDisk)
			}
		}
	}
}

// SumCounts adds up per-table counts.
func SumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// CopyStats is st with maps of its own, for Stats to hand out.
func CopyStats(st store.Stats) store.Stats {
	st.Rows = copyCounts(st.Rows)
	st.RetainedRows = copyCounts(st.RetainedRows)
	return st
}

// copyCounts copies m (never nil).
func copyCounts(m map[string]uint64) map[string]uint64 {
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
