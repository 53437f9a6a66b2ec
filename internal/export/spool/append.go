package spool

import (
	"errors"
	"fmt"
	"os"
)

// smallRecord is the size up to which Append copies header and payload
// into one buffer for a single write; larger payloads are written from
// the caller's slice, after the header.
const smallRecord = 64 << 10

// Append writes rec as the next record and returns its sequence number.
// It never waits for the reader or the center: when the spool is full it
// deletes whole oldest segments, acknowledged or not, and counts what was
// unacknowledged in Stats.Dropped. With SyncEvery 0 the record is fsynced
// before Append returns. rec is not retained.
//
// An error leaves the spool as it was (the failed record takes no
// sequence number): ErrTooLarge, ErrClosed, or a write error.
func (s *Spool) Append(rec []byte) (uint64, error) {
	if len(rec) > s.cfg.MaxRecord {
		s.mu.Lock()
		s.st.refused.add(1, frameHeaderLen+int64(len(rec)))
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: %d bytes, MaxRecord is %d", ErrTooLarge, len(rec), s.cfg.MaxRecord)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	frame := frameHeaderLen + int64(len(rec))

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	seq := s.nextSeq
	g := s.active
	rotate := g == nil || s.rotate || g.next != seq ||
		(g.next > g.first && g.size+frame > s.cfg.SegmentBytes)
	s.mu.Unlock()
	if rotate {
		if err := s.startSegment(seq); err != nil {
			return 0, err
		}
	}

	s.mu.Lock()
	// The bound: room for this frame, made by deleting the oldest segments.
	// Validate guarantees the active segment alone leaves room (it is
	// below SegmentBytes ≤ MaxBytes/2, or fresh with only its header).
	var victims []*segment
	for s.total+frame > s.cfg.MaxBytes && s.segs[0] != s.active {
		r, b := s.pendingLocked(s.segs[0])
		s.st.dropped.add(r, b)
		victims = append(victims, s.removeFrontLocked())
	}
	g, f, size := s.active, s.activeF, s.active.size
	s.mu.Unlock()
	if len(victims) > 0 {
		s.unlink(victims)
		s.log.Warn("spool: full, dropped oldest segments", "segments", len(victims))
	}

	err := s.writeFrame(f, seq, rec)
	if err == nil && s.cfg.SyncEvery == 0 {
		if err = f.Sync(); err == nil {
			err = s.syncDirIfDirty()
		}
	}
	if err != nil {
		// Take the partial frame back so the file stays a clean sequence of
		// frames, and continue in a new file in case the tail is damaged.
		if terr := f.Truncate(size); terr != nil {
			err = errors.Join(err, terr)
		}
		s.mu.Lock()
		s.st.writeErrs++
		s.rotate = true
		s.mu.Unlock()
		return 0, fmt.Errorf("spool: append: %w", err)
	}

	s.mu.Lock()
	g.size += frame
	g.next = seq + 1
	s.total += frame
	s.nextSeq = seq + 1
	s.st.appended.add(1, frame)
	if g.cut != 0 {
		// The reader found damage in this file since the decision to write
		// here: records after it are not read, so this one is lost too.
		s.st.corrupt.add(1, frame)
	}
	if s.cfg.SyncEvery == 0 {
		s.synced = seq
	}
	s.notifyLocked()
	s.mu.Unlock()
	return seq, nil
}

func (s *Spool) writeFrame(f *os.File, seq uint64, rec []byte) error {
	putFrameHeader(s.hdr[:], seq, rec)
	if len(rec) <= smallRecord {
		s.buf = append(append(s.buf[:0], s.hdr[:]...), rec...)
		_, err := f.Write(s.buf)
		return err
	}
	if _, err := f.Write(s.hdr[:]); err != nil {
		return err
	}
	_, err := f.Write(rec)
	return err
}

// startSegment makes a new segment whose first record will be first, and
// seals the current one. Neither is fsynced here: with SyncEvery > 0 the
// syncer makes the sealed file, the new file and the directory entry
// durable before any of their records is handed out, and the directory
// entry is also made durable before any older segment is deleted (its
// name is what keeps sequence numbers from being reused once they are
// gone). With SyncEvery 0 the sealed file is already durable and Append
// syncs the rest.
func (s *Spool) startSegment(first uint64) error {
	p := s.path(segName(first))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err == nil {
		if _, err = f.Write([]byte(segMagic)); err != nil {
			_ = f.Close()
			_ = os.Remove(p)
		}
	}
	if err != nil {
		s.mu.Lock()
		s.st.writeErrs++
		s.mu.Unlock()
		return fmt.Errorf("spool: new segment: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if old, oldF := s.active, s.activeF; oldF != nil {
		if s.cfg.SyncEvery > 0 {
			s.unsynced = append(s.unsynced, sealedFile{old, oldF})
		} else {
			_ = oldF.Close()
		}
	}
	g := &segment{first: first, next: first, size: segHeaderLen}
	s.segs = append(s.segs, g)
	s.active, s.activeF = g, f
	s.total += segHeaderLen
	s.rotate = false
	s.dirDirty = true
	return nil
}
