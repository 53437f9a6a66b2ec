package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// Retain moves the retention cutoff to now − MaxAge (or further when the
// data takes more than MaxBytes: whole days, oldest first), which hides
// the rows behind it from every query at once, and drops the day
// partitions wholly behind it. Replicas share the cutoff through the
// retention table; each counts what its own move of the cutoff removed.
func (s *Store) Retain(ctx context.Context, now time.Time) (st store.RetainStats, err error) {
	st.RemovedRows = map[string]uint64{}
	if s.isClosed() {
		return st, ErrClosed
	}
	defer func() {
		s.smu.Lock()
		for t, n := range st.RemovedRows {
			s.stats.RetainedRows[t] += n
		}
		s.smu.Unlock()
	}()
	cut, err := storeutil.RetentionCutoff(now, s.cfg.Retention.MaxAge)
	if err != nil {
		return st, fmt.Errorf("clickhouse: %w", err)
	}
	stored, err := s.readCutoff(ctx)
	if err != nil {
		return st, err
	}
	cut = max(cut, stored)
	parts, err := s.parts(ctx)
	if err != nil {
		return st, err
	}
	if used := parts.total; used > s.cfg.Retention.MaxBytes {
		sizeCut, ok := parts.sizeCut(storeutil.SizeTarget(s.cfg.Retention.MaxBytes))
		if !ok {
			s.log.Warn("retention by size: the newest day alone is over max_bytes; it is kept whole",
				"used_bytes", used, "max_bytes", s.cfg.Retention.MaxBytes)
		}
		if sizeCut > cut {
			s.log.Info("retention by size", "used_bytes", used, "cut", storeutil.NSTime(sizeCut))
			cut = sizeCut
		}
	}
	if prev := s.cutoff.Load(); cut > prev {
		if err := s.countBetween(ctx, prev, cut, st.RemovedRows); err != nil {
			return st, err
		}
		if cut > stored {
			if err := s.c.exec(ctx, "INSERT INTO retention VALUES (0, "+i64(cut)+")"); err != nil {
				return st, fmt.Errorf("clickhouse: retention cutoff: %w", err)
			}
		}
		s.cutoff.Store(cut)
	}
	for _, p := range parts.list {
		if partitionEnd(p.day) < cut {
			if err := s.c.exec(ctx, "ALTER TABLE "+p.table+" DROP PARTITION ID "+lit(p.id)); err != nil {
				return st, fmt.Errorf("clickhouse: retention of %s: %w", p.table, err)
			}
		}
	}
	s.refreshDisk(ctx)
	s.smu.Lock()
	st.BytesOnDisk = s.stats.BytesOnDisk
	s.smu.Unlock()
	if st.OldestKept, err = s.oldest(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// partitionEnd is the last nanosecond of day partition p (intDiv rounds
// towards zero: day 0 spans (-1 day, 1 day), day -1 (-2 days, -1 day]).
func partitionEnd(p int64) int64 {
	if p < 0 {
		return p * dayNS
	}
	if p >= math.MaxInt64/dayNS {
		return math.MaxInt64
	}
	return (p+1)*dayNS - 1
}

func (s *Store) readCutoff(ctx context.Context) (int64, error) {
	d, err := s.query(ctx, "SELECT count(), max(cutoff_ns) FROM retention")
	if err != nil {
		return 0, fmt.Errorf("clickhouse: retention cutoff: %w", err)
	}
	n, cut := d.u64(), d.i64()
	if d.err != nil {
		return 0, d.err
	}
	if n == 0 {
		return math.MinInt64, nil
	}
	return cut, nil
}

// loadCutoff applies the cutoff the replicas agreed on so far.
func (s *Store) loadCutoff(ctx context.Context) error {
	cut, err := s.readCutoff(ctx)
	if err != nil {
		return err
	}
	if cut > s.cutoff.Load() {
		s.cutoff.Store(cut)
	}
	return nil
}

// countBetween counts, per table, the visible rows whose retention time
// is in [from, to).
func (s *Store) countBetween(ctx context.Context, from, to int64, removed map[string]uint64) error {
	for _, t := range dataTables {
		var w where
		if from != math.MinInt64 {
			w.add(t.end + " >= " + i64(from))
		}
		w.add(t.end + " < " + i64(to))
		w.add("wid IN (SELECT min(wid) FROM batches GROUP BY probe, spool_id, seq)")
		d, err := s.query(ctx, "SELECT count() FROM "+t.name+w.sql())
		if err != nil {
			return fmt.Errorf("clickhouse: retention of %s: %w", t.name, err)
		}
		if n := d.u64(); n > 0 {
			removed[t.name] += n
		}
		if d.err != nil {
			return d.err
		}
	}
	return nil
}

// oldest is the earliest start of a row still visible.
func (s *Store) oldest(ctx context.Context) (time.Time, error) {
	var out int64 = math.MaxInt64
	for _, t := range dataTables {
		var w where
		w.add(t.start + " > " + i64(storeutil.NoTime))
		s.visible(&w, t.end, math.MinInt64, math.MaxInt64)
		d, err := s.query(ctx, "SELECT count(), min("+t.start+") FROM "+t.name+w.sql())
		if err != nil {
			return time.Time{}, fmt.Errorf("clickhouse: oldest of %s: %w", t.name, err)
		}
		n, m := d.u64(), d.i64()
		if d.err != nil {
			return time.Time{}, d.err
		}
		if n > 0 {
			out = min(out, m)
		}
	}
	if out == math.MaxInt64 {
		return time.Time{}, nil
	}
	return storeutil.NSTime(out), nil
}

type partition struct {
	table string
	id    string
	day   int64
	bytes int64
}

type partitions struct {
	list  []partition // of the day-partitioned tables
	total int64       // every active part of the database
}

// parts lists the database's partitions from system.parts.
func (s *Store) parts(ctx context.Context) (*partitions, error) {
	d, err := s.query(ctx, "SELECT table, partition_id, toInt64(sum(bytes_on_disk)) FROM system.parts WHERE database = "+
		lit(s.cfg.Database)+" AND active GROUP BY table, partition_id")
	if err != nil {
		return nil, fmt.Errorf("clickhouse: parts: %w", err)
	}
	dayTables := map[string]bool{"batches": true}
	for _, t := range dataTables {
		dayTables[t.name] = true
	}
	out := &partitions{}
	for !d.done() {
		p := partition{table: d.str(), id: d.str(), bytes: d.i64()}
		out.total += p.bytes
		day, err := strconv.ParseInt(p.id, 10, 64)
		if err != nil || !dayTables[p.table] {
			continue
		}
		p.day = day
		out.list = append(out.list, p)
	}
	return out, d.err
}

// sizeCut is the cutoff that leaves at most target bytes, by whole days
// from the oldest; the newest day always stays (false when even it alone
// is over target).
func (ps *partitions) sizeCut(target int64) (int64, bool) {
	perDay := map[int64]int64{}
	for _, p := range ps.list {
		perDay[p.day] += p.bytes
	}
	days := make([]int64, 0, len(perDay))
	for d := range perDay {
		days = append(days, d)
	}
	slices.Sort(days)
	used := ps.total
	cut := int64(math.MinInt64)
	for i, d := range days {
		if used <= target {
			return cut, true
		}
		if i == len(days)-1 {
			return cut, false
		}
		used -= perDay[d]
		if cut = partitionEnd(d); cut < math.MaxInt64 {
			cut++
		}
	}
	return cut, used <= target
}

// refreshDisk measures the database on the server for Stats.
func (s *Store) refreshDisk(ctx context.Context) {
	d, err := s.query(ctx, "SELECT toInt64(sum(bytes_on_disk)) FROM system.parts WHERE database = "+
		lit(s.cfg.Database)+" AND active")
	if err != nil {
		s.log.Debug("database size", "err", err)
		return
	}
	n := d.i64()
	if d.err != nil {
		return
	}
	s.smu.Lock()
	s.stats.BytesOnDisk = n
	s.smu.Unlock()
}
