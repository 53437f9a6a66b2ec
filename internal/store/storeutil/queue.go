package storeutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/wirewatch/wirewatch/internal/record"
)

// Request is a batch waiting in a Queue.
type Request struct {
	Ctx   context.Context
	Batch *record.Batch
	NowNS int64       // the write time, in the column form
	done  chan Result // buffered: the writer never blocks on it
}

// Result is what the writer did with a Request.
type Result struct {
	Dup    bool
	Counts []int // rows stored, per table in the backend's order
	Err    error
}

// Queue feeds one writer goroutine. Both backends give each probe to one
// writer, so that a probe's batches are checked against its sequence and
// stored in order; the writer takes every batch waiting, up to a bound,
// into one write, since both databases prefer few large writes.
type Queue struct {
	name   string // the backend, for errors
	closed error  // the backend's ErrClosed
	reqs   chan *Request
	exit   chan struct{}
}

// NewQueue makes a queue of up to size waiting batches; name prefixes the
// errors of Submit, closed is what a batch gets when the store closes.
func NewQueue(name string, closed error, size int) *Queue {
	return &Queue{name: name, closed: closed, reqs: make(chan *Request, size), exit: make(chan struct{})}
}

// Exited is closed when Run has returned.
func (q *Queue) Exited() <-chan struct{} { return q.exit }

// Run serves the queue until stop is closed, then fails what is left in
// it with the closed error. It hands write the batches waiting, up to
// maxRecords records (at least one batch) and maxGroup batches, but those
// whose context has ended; write returns one Result per request it got.
func (q *Queue) Run(stop <-chan struct{}, maxRecords, maxGroup int, write func([]*Request) []Result) {
	defer close(q.exit)
	for {
		var first *Request
		select {
		case <-stop:
			for {
				select {
				case r := <-q.reqs:
					r.done <- Result{Err: q.closed}
				default:
					return
				}
			}
		case first = <-q.reqs:
		}
		group := []*Request{first}
		rows := first.Batch.Records()
	fill:
		for rows < maxRecords && len(group) < maxGroup {
			select {
			case r := <-q.reqs:
				group = append(group, r)
				rows += r.Batch.Records()
			default:
				break fill
			}
		}
		live := group[:0:0]
		for _, r := range group {
			if err := r.Ctx.Err(); err != nil {
				r.done <- Result{Err: err}
				continue
			}
			live = append(live, r)
		}
		if len(live) == 0 {
			continue
		}
		for i, res := range write(live) {
			live[i].done <- res
		}
	}
}

// Submit queues b and waits for the writer's answer (store.Store.Write).
// Errors of the write name the batch; ErrClosed and the context's errors
// come as they are.
func (q *Queue) Submit(ctx context.Context, b *record.Batch, nowNS int64) (duplicate bool, err error) {
	r := &Request{Ctx: ctx, Batch: b, NowNS: nowNS, done: make(chan Result, 1)}
	select {
	case q.reqs <- r:
	case <-q.exit:
		return false, q.closed
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case res := <-r.done:
		if res.Err != nil {
			if errors.Is(res.Err, q.closed) || errors.Is(res.Err, context.Canceled) || errors.Is(res.Err, context.DeadlineExceeded) {
				return false, res.Err
			}
			return false, fmt.Errorf("%s: probe %q batch %d: %w", q.name, b.Probe.ID, b.Seq, res.Err)
		}
		return res.Dup, nil
	case <-q.exit:
		// The writer ended; it may have answered just before.
		select {
		case res := <-r.done:
			return res.Dup, res.Err
		default:
			return false, q.closed
		}
	case <-ctx.Done():
		// The batch may still be stored: a retry is then a duplicate.
		return false, ctx.Err()
	}
}
