package main

import (
	"bufio"
	"context"
	"io"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// recordWriter writes transactions as JSON lines. Shards call write
// concurrently; the first write error stops output and is reported by
// close.
type recordWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
	err error
}

func newRecordWriter(w io.Writer) *recordWriter {
	return &recordWriter{w: bufio.NewWriterSize(w, 256<<10)}
}

func (r *recordWriter) write(t *l7.Transaction) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	r.buf = append(l7.AppendJSON(r.buf[:0], t), '\n')
	_, r.err = r.w.Write(r.buf)
}

func (r *recordWriter) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	return r.w.Flush()
}

// flushEvery flushes the buffered records every d until ctx ends, so that
// a live probe's file can be followed (tail -f).
func (r *recordWriter) flushEvery(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.mu.Lock()
			if r.err == nil {
				r.err = r.w.Flush()
			}
			r.mu.Unlock()
		}
	}
}
