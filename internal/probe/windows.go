package probe

import (
	"math"
	"sync"

	"github.com/wirewatch/wirewatch/internal/summary"
)

// Windows collects the buckets that several contributors (workers, the
// frame dispatcher) produce for the same time window, merges them, and
// closes a window once every contributor has moved past it. It keeps the
// last Keep closed windows.
type Windows struct {
	mu      sync.Mutex
	keep    int
	topCap  int
	closed  []*summary.Bucket // oldest first
	pending map[int64]*summary.Bucket
	marks   []int64 // per contributor: it will not submit windows starting before this
	total   uint64  // windows closed since start
	onClose func(*summary.Bucket)
}

// NewWindows expects submissions from n contributors.
func NewWindows(n, keep, topCapacity int, onClose func(*summary.Bucket)) *Windows {
	w := &Windows{keep: keep, topCap: topCapacity, pending: map[int64]*summary.Bucket{}, marks: make([]int64, n), onClose: onClose}
	for i := range w.marks {
		w.marks[i] = math.MinInt64
	}
	return w
}

// Submit hands in contributor c's bucket for a window (b may be nil when
// the contributor saw nothing) and says that c has moved on to watermark:
// it will submit nothing for windows that start before it.
func (w *Windows) Submit(c int, b *summary.Bucket, watermark int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b != nil {
		if p := w.pending[b.Start]; p != nil {
			p.Merge(b)
		} else {
			w.pending[b.Start] = b
		}
	}
	if watermark > w.marks[c] {
		w.marks[c] = watermark
	}
	low := w.marks[0]
	for _, m := range w.marks[1:] {
		low = min(low, m)
	}
	w.closeBefore(low)
}

// closeBefore closes pending windows that start before t, oldest first.
func (w *Windows) closeBefore(t int64) {
	for {
		var oldest *summary.Bucket
		for start, b := range w.pending {
			if start < t && (oldest == nil || start < oldest.Start) {
				oldest = b
			}
		}
		if oldest == nil {
			return
		}
		delete(w.pending, oldest.Start)
		w.closed = append(w.closed, oldest)
		if len(w.closed) > w.keep {
			w.closed[0] = nil
			w.closed = w.closed[1:]
		}
		w.total++
		if w.onClose != nil {
			w.onClose(oldest)
		}
	}
}

// Closed returns the closed windows, oldest first.
func (w *Windows) Closed() []*summary.Bucket {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*summary.Bucket(nil), w.closed...)
}

// Total is the number of windows closed since start.
func (w *Windows) Total() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// Merge returns the merge of the last n closed windows (all when n <= 0),
// and how many were merged.
func (w *Windows) Merge(n int) (*summary.Bucket, int) {
	closed := w.Closed()
	if n > 0 && n < len(closed) {
		closed = closed[len(closed)-n:]
	}
	if len(closed) == 0 {
		return nil, 0
	}
	m := summary.NewBucket(closed[0].Start, closed[0].End, w.topCap)
	for _, b := range closed {
		m.Merge(b)
	}
	return m, len(closed)
}
