package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Next returns the next record after the reader's position, in sequence
// order, waiting until one has been appended and fsynced, ctx is done or
// the spool is closed. Records the bound dropped or that were found
// damaged are skipped (they are in Stats.Dropped and Stats.Corrupt; the
// gap shows in the sequence numbers). The returned slice is the caller's.
//
// Next hands out only fsynced records, so anything the center has seen
// survives a power loss and its sequence number is never given to
// another record. An I/O error that is not damage (the file is there but
// cannot be read) is returned as it is; calling Next again retries.
// One goroutine reads: concurrent Next calls are serialized.
func (s *Spool) Next(ctx context.Context) (uint64, []byte, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, nil, ErrClosed
		}
		g, seq := s.targetLocked()
		if g == nil || seq > s.synced {
			if g != nil && s.kick != nil {
				select {
				case s.kick <- struct{}{}:
				default:
				}
			}
			if s.changed == nil {
				s.changed = make(chan struct{})
			}
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			}
			continue
		}
		limit, gen := g.goodEnd(), s.gen
		s.mu.Unlock()

		rec, err := s.cur.read(s.cfg.Dir, g, seq, limit)
		if err != nil {
			var ce *corruptError
			if !errors.As(err, &ce) {
				return 0, nil, fmt.Errorf("spool: read %s: %w", segName(g.first), err)
			}
			s.mu.Lock()
			r, b := s.cutLocked(g, ce.seq, ce.off)
			s.mu.Unlock()
			if r > 0 || b > 0 {
				s.log.Warn("spool: damaged record, skipping the rest of its segment",
					"file", segName(g.first), "seq", ce.seq, "offset", ce.off, "reason", ce.reason,
					"records", r, "bytes", b)
			}
			continue
		}
		s.mu.Lock()
		// Rewound, acknowledged or dropped while it was being read: look again.
		ok := s.gen == gen && !g.gone && seq > s.acked
		if ok {
			s.readSeq = seq + 1
			s.ends[seq%uint64(len(s.ends))] = recordEnd{g, seq, s.cur.off}
		}
		s.mu.Unlock()
		if ok {
			return seq, rec, nil
		}
	}
}

// targetLocked finds the first readable record at or after the reader's
// position: the segments are in order, so it is in the first one whose
// readable range reaches past the position.
func (s *Spool) targetLocked() (*segment, uint64) {
	s.readSeq = max(s.readSeq, s.acked+1)
	for _, g := range s.segs {
		if lo := max(g.first, s.readSeq); lo < g.end() {
			return g, lo
		}
	}
	return nil, 0
}

// cutLocked records that g is damaged from record seq at offset off on:
// the unacknowledged records from there are counted as corrupt and never
// read. It returns what it counted.
func (s *Spool) cutLocked(g *segment, seq uint64, off int64) (records uint64, bytes int64) {
	if g.gone || seq >= g.end() {
		return 0, 0
	}
	if lo := max(seq, s.acked+1); lo < g.end() {
		records = g.end() - lo
	}
	bytes = max(g.goodEnd()-off, 0)
	s.st.corrupt.add(records, bytes)
	g.cut, g.good = seq, off
	if g == s.active {
		s.rotate = true
	}
	return records, bytes
}

// Rewind moves the reader back to the first unacknowledged record: after
// a reconnect, what was sent and not acknowledged is sent again.
func (s *Spool) Rewind() {
	s.mu.Lock()
	s.readSeq = s.acked + 1
	s.gen++
	s.notifyLocked()
	s.mu.Unlock()
}

// Ack marks every record up to seq as delivered. Segments holding only
// delivered records are deleted; the position is saved (every SyncEvery,
// or at once when SyncEvery is 0) so that a restarted probe does not send
// them again. Acknowledging less than before is a no-op; acknowledging a
// record not yet appended is an error.
func (s *Spool) Ack(seq uint64) error {
	s.amu.Lock()
	defer s.amu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if seq <= s.acked {
		s.mu.Unlock()
		return nil
	}
	if seq >= s.nextSeq {
		last := s.nextSeq - 1
		s.mu.Unlock()
		return fmt.Errorf("spool: ack of %d beyond the last record appended (%d)", seq, last)
	}
	s.acked = seq
	// The last segment stays even when all of it is acknowledged: it is
	// the one being written, or the one whose name keeps the sequence
	// floor until a new one exists.
	var done []*segment
	for len(s.segs) > 1 && s.segs[0].end() <= seq+1 {
		done = append(done, s.removeFrontLocked())
	}
	// The pending bytes need where the first unacknowledged record starts
	// in the oldest segment, when that segment is partly acknowledged.
	var front *segment
	var to uint64
	var limit int64
	if len(s.segs) > 0 && s.segs[0].first <= seq {
		front, to, limit = s.segs[0], min(seq+1, s.segs[0].end()), s.segs[0].goodEnd()
		// Usually Next has just handed the record out and knows where it ends.
		if e := s.ends[seq%uint64(len(s.ends))]; e.seg == front && e.seq == seq {
			s.ackSkip = e.end - segHeaderLen
			s.ackCur = ackCursor{seg: front, seq: seq + 1, off: e.end}
			front = nil
		}
	}
	s.mu.Unlock()

	if front != nil {
		off := s.ackCur.advance(s.path(segName(front.first)), front, to, limit)
		s.mu.Lock()
		if !front.gone && s.acked == seq {
			s.ackSkip = off - segHeaderLen
		}
		s.mu.Unlock()
	}
	if len(done) > 0 {
		s.unlink(done)
	}
	if s.cfg.SyncEvery == 0 {
		return s.saveAck()
	}
	return nil
}

// corruptError is damage found while reading: record seq, at offset off,
// cannot be read, nor anything after it in its segment.
type corruptError struct {
	seq    uint64
	off    int64
	reason string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("damaged record %d at offset %d: %s", e.seq, e.off, e.reason)
}

// cursor is the reader's place in one segment file, with a window of the
// file's bytes so that small records cost no system call each. Every byte
// in the window lies below the readable limit it was read with, and bytes
// below that limit never change, so the window stays valid.
type cursor struct {
	seg    *segment
	f      *os.File
	seq    uint64 // the frame at off holds seq
	off    int64
	buf    []byte
	win    []byte
	winOff int64
	hdr    [frameHeaderLen]byte // scratch for checking a frame's checksum
}

const windowBytes = 64 << 10

func (c *cursor) close() {
	if c.f != nil {
		_ = c.f.Close()
	}
	c.seg, c.f, c.win = nil, nil, nil
}

// read returns the payload of record seq of g, whose readable bytes end
// at limit.
func (c *cursor) read(dir string, g *segment, seq uint64, limit int64) ([]byte, error) {
	if c.seg != g {
		c.close()
		f, err := os.Open(filepath.Join(dir, segName(g.first)))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &corruptError{seq: g.first, reason: "segment file missing"}
			}
			return nil, err
		}
		c.seg, c.f, c.buf = g, f, c.buf[:0]
		h, err := c.peek(0, int(segHeaderLen), limit)
		if err != nil {
			return nil, c.damage(g.first, 0, err, "short segment header")
		}
		if string(h) != segMagic {
			return nil, &corruptError{seq: g.first, reason: "bad segment header"}
		}
		c.seq, c.off = g.first, segHeaderLen
	}
	if c.seq > seq {
		c.seq, c.off = g.first, segHeaderLen
	}
	for c.seq < seq {
		fh, err := c.header(limit)
		if err != nil {
			return nil, err
		}
		c.off += frameHeaderLen + int64(fh.n)
		c.seq++
	}
	fh, err := c.header(limit)
	if err != nil {
		return nil, err
	}
	n := int(fh.n)
	var rec []byte
	if n <= windowBytes-frameHeaderLen {
		p, err := c.peek(c.off+frameHeaderLen, n, limit)
		if err != nil {
			return nil, c.damage(seq, c.off, err, "short payload")
		}
		rec = append(make([]byte, 0, n), p...)
	} else {
		rec = make([]byte, n)
		if _, err := c.f.ReadAt(rec, c.off+frameHeaderLen); err != nil {
			return nil, c.damage(seq, c.off, err, "short payload")
		}
	}
	putFrameHeader(c.hdr[:], seq, rec)
	if parseFrameHeader(c.hdr[:]).crc != fh.crc {
		return nil, &corruptError{seq: seq, off: c.off, reason: "checksum mismatch"}
	}
	c.off += frameHeaderLen + int64(n)
	c.seq++
	return rec, nil
}

// header reads and checks the frame header at the cursor.
func (c *cursor) header(limit int64) (frameHeader, error) {
	b, err := c.peek(c.off, frameHeaderLen, limit)
	if err != nil {
		return frameHeader{}, c.damage(c.seq, c.off, err, "short frame header")
	}
	fh := parseFrameHeader(b)
	if !fh.plausible(c.seq, c.off, limit) {
		return frameHeader{}, &corruptError{seq: c.seq, off: c.off, reason: "bad frame header"}
	}
	return fh, nil
}

// errShort is a file ending before its readable limit.
var errShort = errors.New("file shorter than indexed")

// damage turns a short read into damage at (seq, off); other I/O errors
// are returned as they are, since they may pass.
func (c *cursor) damage(seq uint64, off int64, err error, reason string) error {
	if errors.Is(err, errShort) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &corruptError{seq: seq, off: off, reason: reason}
	}
	return err
}

// peek returns n bytes (n ≤ windowBytes) at off, from the window or by
// refilling it with up to windowBytes below limit.
func (c *cursor) peek(off int64, n int, limit int64) ([]byte, error) {
	if off >= c.winOff && off+int64(n) <= c.winOff+int64(len(c.win)) {
		i := off - c.winOff
		return c.win[i : i+int64(n)], nil
	}
	want := min(int64(windowBytes), limit-off)
	if want < int64(n) {
		return nil, errShort
	}
	if cap(c.buf) < windowBytes {
		c.buf = make([]byte, windowBytes)
	}
	m, err := c.f.ReadAt(c.buf[:want], off)
	c.win, c.winOff = c.buf[:m], off
	if m < n {
		if err == nil {
			err = errShort
		}
		return nil, err
	}
	return c.win[:n], nil
}

// recordEnd is where a record Next returned ends in its segment.
type recordEnd struct {
	seg *segment
	seq uint64
	end int64
}

// ackCursor remembers where the acknowledged records of the oldest
// segment end, so that each Ack reads only the headers of the records it
// acknowledges.
type ackCursor struct {
	seg *segment
	seq uint64
	off int64
}

// advance returns the offset of record to in g (or of the first record it
// could not step over), reading frame headers from the remembered place.
// to must not be past g's readable records, which end at limit.
func (c *ackCursor) advance(path string, g *segment, to uint64, limit int64) int64 {
	if c.seg != g || c.seq > to {
		*c = ackCursor{seg: g, seq: g.first, off: segHeaderLen}
	}
	if c.seq >= to {
		return c.off
	}
	f, err := os.Open(path)
	if err != nil {
		return c.off
	}
	defer f.Close()
	var h [frameHeaderLen]byte
	for c.seq < to {
		if _, err := f.ReadAt(h[:], c.off); err != nil {
			break
		}
		fh := parseFrameHeader(h[:])
		if !fh.plausible(c.seq, c.off, limit) {
			break
		}
		c.off += frameHeaderLen + int64(fh.n)
		c.seq++
	}
	return c.off
}
