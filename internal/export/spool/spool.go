// Package spool is the probe's outgoing queue: a bounded, crash-safe FIFO
// of opaque records (encoded batches for the center) kept on disk, so that
// what the probe produces while the center is unreachable is sent, in
// order, when it comes back, and what the size bound forces out is counted.
//
// Records get consecutive sequence numbers that are never reused across
// restarts; the reader hands them out in order (Next), goes back to the
// first unacknowledged one after a reconnect (Rewind) and releases them
// when the center has acknowledged them (Ack). Delivery is at least once:
// after a crash a few acknowledged records may be sent again, and the
// center removes them by sequence number (and ID, which changes when the
// directory is wiped). docs/spool.md describes the format and guarantees.
package spool

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors returned by a Spool.
var (
	ErrClosed   = errors.New("spool: closed")
	ErrTooLarge = errors.New("spool: record larger than MaxRecord")
)

// Count is a number of records and the bytes they take on disk (frame
// headers included).
type Count struct {
	Records uint64
	Bytes   uint64
}

func (c *Count) add(records uint64, bytes int64) {
	c.Records += records
	if bytes > 0 {
		c.Bytes += uint64(bytes)
	}
}

// Stats is a snapshot of a Spool. Counters run from Open; positions and
// Pending describe the directory.
type Stats struct {
	Appended Count  // records written by Append
	Refused  Count  // records Append refused: larger than MaxRecord
	LastSeq  uint64 // highest sequence number given out (0: none ever); the next Append gets LastSeq+1
	AckedSeq uint64 // every record up to this one is acknowledged
	// Pending is what is on disk and not yet acknowledged, including
	// records Next has handed out that the center has not acknowledged.
	Pending Count
	// Dropped is what the MaxBytes bound deleted before it was
	// acknowledged (some of it may have been sent, not acknowledged).
	Dropped Count
	// Corrupt is what could not be read back: a torn or damaged tail found
	// when the directory was opened, or a damaged record found by Next
	// (the rest of its segment goes with it).
	Corrupt     Count
	Segments    int    // segment files
	DiskBytes   int64  // bytes in segment files
	WriteErrors uint64 // failed writes: the record was taken back and Append returned the error
	SyncErrors  uint64 // failed fsyncs: records written before may not be durable
}

// segment is one file's entry in the index. Records [first, end()) are
// readable; for the file being written, next grows with every Append.
type segment struct {
	first uint64
	next  uint64 // seq after the last record written to the file
	size  int64  // bytes in the file
	// cut, when nonzero, is the first record found damaged: it and those
	// after it in this file are counted in Corrupt and never read; good is
	// where the readable bytes end.
	cut  uint64
	good int64
	gone bool // deleted from the index (dropped or fully acknowledged)
}

func (g *segment) end() uint64 {
	if g.cut != 0 {
		return g.cut
	}
	return g.next
}

func (g *segment) goodEnd() int64 {
	if g.cut != 0 {
		return g.good
	}
	return g.size
}

// sealedFile is a segment that is no longer written, still open so that
// the syncer can fsync what was written to it.
type sealedFile struct {
	seg *segment
	f   *os.File
}

type counters struct {
	appended, refused, dropped, corrupt Count
	writeErrs, syncErrs                 uint64
}

// Spool is a bounded on-disk FIFO. Append may be called from one goroutine
// and Next/Rewind/Ack from another at the same time (calls of one kind are
// serialized); Stats from anywhere. No lock is held across disk I/O that
// another kind of call waits for, so a slow reader never stalls Append.
type Spool struct {
	cfg  Config
	log  *slog.Logger
	id   string
	lock *os.File

	wmu sync.Mutex // serializes Append; guards hdr, buf
	hdr [frameHeaderLen]byte
	buf []byte

	rmu sync.Mutex // serializes Next; guards cur
	cur cursor

	amu    sync.Mutex // serializes Ack; guards ackCur
	ackCur ackCursor

	fmu sync.Mutex // serializes writes of the acknowledgement file

	mu       sync.Mutex
	closed   bool
	changed  chan struct{} // made by a waiting reader, closed by whatever it may be waiting for
	segs     []*segment    // oldest first; the last one is active when active != nil
	active   *segment
	activeF  *os.File
	rotate   bool         // start a new segment at the next Append (after a write, sync or read error)
	unsynced []sealedFile // sealed segments not yet fsynced (SyncEvery > 0), for the syncer
	dirDirty bool         // a segment was created since the directory was last fsynced
	nextSeq  uint64       // seq the next Append gets
	synced   uint64       // every record up to this one is fsynced
	acked    uint64
	ackSaved uint64        // acked as last written to the acknowledgement file
	ackSkip  int64         // frame bytes of acknowledged records at the start of segs[0]
	readSeq  uint64        // Next returns the first readable record from here
	gen      uint64        // bumped by Rewind, so that a read in flight is not returned
	ends     [64]recordEnd // where the last records Next returned end, by seq mod 64, for Ack
	total    int64         // bytes in segment files
	st       counters

	kick chan struct{} // a waiting reader asks the syncer for an early fsync
	quit chan struct{}
	done chan struct{}
}

// Open opens (creating if needed) the spool in cfg.Dir and recovers what
// a previous process left there: segments are indexed, the last one is
// checked record by record and a torn or corrupt tail is truncated and
// counted in Stats.Corrupt, sequence numbers resume after the highest one
// the directory has seen, and reading resumes after the acknowledged ones.
// log may be nil.
func Open(cfg Config, log *slog.Logger) (*Spool, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{cfg: cfg, log: log.With("spool", cfg.Dir), lock: lock}
	if err := s.recover(); err != nil {
		if s.activeF != nil {
			_ = s.activeF.Close()
		}
		_ = unlockDir(lock)
		return nil, err
	}
	if cfg.SyncEvery > 0 {
		s.kick = make(chan struct{}, 1)
		s.quit = make(chan struct{})
		s.done = make(chan struct{})
		go s.syncLoop()
	}
	return s, nil
}

// ID identifies this spool directory: it is made when the directory is
// first used and kept across restarts. A wiped directory starts its
// sequence numbers again at 1 under a new ID, so a receiver that
// deduplicates by (ID, seq) does not mistake new records for old ones.
func (s *Spool) ID() string { return s.id }

func (s *Spool) path(name string) string { return filepath.Join(s.cfg.Dir, name) }

func (s *Spool) recover() error {
	if err := s.loadID(); err != nil {
		return err
	}
	acked, err := s.loadAck()
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == ackName || name == idName || name == lockName:
		case strings.HasSuffix(name, tmpExt):
			// An acknowledgement or ID file whose rename did not happen.
			_ = os.Remove(s.path(name))
		default:
			first, ok := parseSegName(name)
			if !ok || !e.Type().IsRegular() {
				s.log.Warn("spool: ignoring unknown file", "file", name)
				continue
			}
			firsts = append(firsts, first)
		}
	}
	slices.Sort(firsts)
	floor := acked + 1
	for i, first := range firsts {
		fi, err := os.Stat(s.path(segName(first)))
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		g := &segment{first: first, size: fi.Size()}
		if i+1 < len(firsts) {
			// Sealed segments are checked as they are read (Next), not here:
			// opening a full spool stays fast, and damage found later is
			// counted the same way. They are fsynced, since Next hands out
			// only durable records and the previous process may have died
			// before its syncer got to them.
			g.next = firsts[i+1]
			if err := syncFile(s.path(segName(first))); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
		} else {
			seen, err := s.recoverTail(g)
			if err != nil {
				return err
			}
			floor = max(floor, g.next, seen+1)
		}
		s.segs = append(s.segs, g)
		s.total += g.size
	}
	s.nextSeq = floor
	s.synced = floor - 1
	s.acked = acked
	s.ackSaved = acked
	s.readSeq = acked + 1

	// Segments the center has acknowledged entirely; the last one stays,
	// whatever it holds, because its name keeps the sequence floor.
	var done []*segment
	for len(s.segs) > 1 && s.segs[0].end() <= acked+1 {
		done = append(done, s.removeFrontLocked())
	}
	s.unlink(done)

	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		if last.next == s.nextSeq && last.size < s.cfg.SegmentBytes {
			f, err := os.OpenFile(s.path(segName(last.first)), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			s.active, s.activeF = last, f
		}
		if front := s.segs[0]; front.first <= acked {
			s.ackSkip = s.ackCur.advance(s.path(segName(front.first)), front, min(acked+1, front.end()), front.goodEnd()) - segHeaderLen
		}
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.st.corrupt.Records > 0 {
		s.log.Warn("spool: recovered with a damaged tail", "records", s.st.corrupt.Records, "bytes", s.st.corrupt.Bytes)
	}
	s.log.Info("spool: opened", "segments", len(s.segs), "bytes", s.total, "next_seq", s.nextSeq, "acked_seq", s.acked)
	return nil
}

// recoverTail checks the last segment, the only one a killed process can
// have left half-written, truncates it after its last good record and
// makes what remains durable. It returns the highest seq a damaged record
// announced, so that seq is not given to another record.
func (s *Spool) recoverTail(g *segment) (uint64, error) {
	p := s.path(segName(g.first))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	r := scanSegment(f, g.size, g.first)
	g.next = r.next
	if r.good < g.size || g.size < segHeaderLen {
		if r.good < g.size {
			s.st.corrupt.add(r.lost, g.size-r.good)
			s.log.Warn("spool: truncating damaged segment tail", "file", filepath.Base(p),
				"offset", r.good, "bytes", g.size-r.good, "records", r.lost)
		}
		good := max(r.good, segHeaderLen)
		if err := f.Truncate(r.good); err != nil {
			return 0, fmt.Errorf("spool: truncate %s: %w", p, err)
		}
		if r.good < segHeaderLen {
			if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
				return 0, fmt.Errorf("spool: rewrite %s: %w", p, err)
			}
		}
		g.size = good
	}
	// A killed process leaves its last writes in the page cache only.
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("spool: sync %s: %w", p, err)
	}
	return r.seen, nil
}

func (s *Spool) loadID() error {
	b, err := os.ReadFile(s.path(idName))
	if err == nil {
		id := strings.TrimSpace(string(b))
		if _, herr := hex.DecodeString(id); herr == nil && len(id) == 32 {
			s.id = id
			return nil
		}
		s.log.Warn("spool: replacing malformed id file")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	s.id = hex.EncodeToString(raw[:])
	if err := writeFileAtomic(s.cfg.Dir, idName, []byte(s.id+"\n")); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

func (s *Spool) loadAck() (uint64, error) {
	b, err := os.ReadFile(s.path(ackName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	acked, err := decodeAck(b)
	if err != nil {
		// Only resending is at stake: the sequence floor lives in the
		// segment names.
		s.log.Warn("spool: ignoring acknowledgement file, unacknowledged records will be sent again", "err", err)
		return 0, nil
	}
	return acked, nil
}

// saveAck writes the acknowledgement position if it moved.
func (s *Spool) saveAck() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.mu.Lock()
	v, saved := s.acked, s.ackSaved
	s.mu.Unlock()
	if v == saved {
		return nil
	}
	if err := writeFileAtomic(s.cfg.Dir, ackName, encodeAck(v)); err != nil {
		return fmt.Errorf("spool: save acknowledgement: %w", err)
	}
	s.mu.Lock()
	s.ackSaved = max(s.ackSaved, v)
	s.mu.Unlock()
	return nil
}

// syncLoop fsyncs the segment being written every SyncEvery, or at once
// when a waiting reader asks, and saves the acknowledgement position.
func (s *Spool) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
			s.syncActive()
		case <-t.C:
			s.syncActive()
			if err := s.saveAck(); err != nil {
				s.log.Warn("spool: saving acknowledgement position", "err", err)
			}
		}
	}
}

func (s *Spool) syncActive() {
	s.mu.Lock()
	sealed, f, target := s.unsynced, s.activeF, s.nextSeq-1
	s.unsynced = nil
	need := target > s.synced || len(sealed) > 0 || s.dirDirty
	s.mu.Unlock()
	if !need {
		return
	}
	var errs []error
	for _, sf := range sealed {
		errs = append(errs, sf.f.Sync())
		_ = sf.f.Close()
	}
	errs = append(errs, s.syncDirIfDirty())
	if f != nil {
		errs = append(errs, f.Sync())
	}
	err := errors.Join(errs...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages:
		// write the next records to a new file. The records are handed out
		// anyway, since waiting would not make them durable.
		s.st.syncErrs++
		s.rotate = true
		s.log.Error("spool: fsync failed", "err", err)
	}
	if target > s.synced {
		s.synced = target
		s.notifyLocked()
	}
}

// syncDirIfDirty makes the creation of new segments durable.
func (s *Spool) syncDirIfDirty() error {
	s.mu.Lock()
	dirty := s.dirDirty
	s.dirDirty = false
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		s.mu.Lock()
		s.dirDirty = true
		s.mu.Unlock()
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

// notifyLocked wakes a reader waiting in Next.
func (s *Spool) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// removeFrontLocked takes the oldest segment out of the index.
func (s *Spool) removeFrontLocked() *segment {
	g := s.segs[0]
	g.gone = true
	s.segs[0] = nil
	s.segs = s.segs[1:]
	s.total -= g.size
	s.ackSkip = 0
	return g
}

// pendingLocked is what of g is on disk and not acknowledged.
func (s *Spool) pendingLocked(g *segment) (records uint64, bytes int64) {
	if lo, e := max(g.first, s.acked+1), g.end(); lo < e {
		records = e - lo
	}
	if records == 0 {
		return 0, 0
	}
	bytes = g.goodEnd() - segHeaderLen
	if g == s.segs[0] && g.first <= s.acked {
		bytes -= s.ackSkip
	}
	return records, max(bytes, 0)
}

// unlink deletes segments taken out of the index, after making sure the
// newest segment's name is durable (it keeps the sequence floor). Sealed
// files awaiting the syncer are closed at once: their space is wanted now.
func (s *Spool) unlink(segs []*segment) {
	if err := s.syncDirIfDirty(); err != nil {
		// Keep the files: they are out of the index and will be found
		// again at the next Open, which is better than reusing numbers.
		s.log.Error("spool: not deleting segments", "err", err)
		return
	}
	s.mu.Lock()
	kept := s.unsynced[:0]
	for _, sf := range s.unsynced {
		if sf.seg.gone {
			_ = sf.f.Close()
		} else {
			kept = append(kept, sf)
		}
	}
	clear(s.unsynced[len(kept):])
	s.unsynced = kept
	s.mu.Unlock()
	for _, g := range segs {
		if err := os.Remove(s.path(segName(g.first))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("spool: deleting segment", "err", err)
		}
	}
}

// Stats returns a snapshot of the counters and of what is pending.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Appended:    s.st.appended,
		Refused:     s.st.refused,
		LastSeq:     s.nextSeq - 1,
		AckedSeq:    s.acked,
		Dropped:     s.st.dropped,
		Corrupt:     s.st.corrupt,
		Segments:    len(s.segs),
		DiskBytes:   s.total,
		WriteErrors: s.st.writeErrs,
		SyncErrors:  s.st.syncErrs,
	}
	for _, g := range s.segs {
		r, b := s.pendingLocked(g)
		st.Pending.add(r, b)
	}
	return st
}

// Close fsyncs and closes the spool, after the Append and Ack calls in
// flight; a Next waiting returns ErrClosed. Calls after Close return
// ErrClosed; Stats keeps working.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	if s.quit != nil {
		close(s.quit)
		<-s.done
	}
	var errs []error
	s.wmu.Lock()
	s.mu.Lock()
	f, sealed := s.activeF, s.unsynced
	s.activeF, s.unsynced = nil, nil
	s.mu.Unlock()
	for _, sf := range sealed {
		errs = append(errs, sf.f.Sync(), sf.f.Close())
	}
	errs = append(errs, s.syncDirIfDirty())
	if f != nil {
		errs = append(errs, f.Sync(), f.Close())
	}
	s.wmu.Unlock()
	s.amu.Lock()
	errs = append(errs, s.saveAck())
	s.amu.Unlock()
	s.rmu.Lock()
	s.cur.close()
	s.rmu.Unlock()
	errs = append(errs, unlockDir(s.lock))
	return errors.Join(errs...)
}

// writeFileAtomic replaces dir/name with data: written to a temporary
// file, fsynced, renamed over the old one, and the rename fsynced, so a
// crash leaves the old content or the new, never a mix.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+tmpExt)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes the directory's entries (created, renamed, removed files)
// durable.
func syncDir(dir string) error { return syncFile(dir) }
