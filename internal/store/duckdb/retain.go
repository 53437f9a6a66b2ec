package duckdb

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// noTimeSQL is noTime as SQL text (a constant, not user input).
const noTimeSQL = "-9223372036854775808"

// timeCols gives each table's time columns for retention: a row goes when
// its end is older than the cutoff. (Transactions have one time.)
var timeCols = []struct{ table, start, end string }{
	{"windows", "start_ns", "end_ns"},
	{"flows", "start_ns", "end_ns"},
	{"transactions", "ts", "ts"},
	{"traffic", "start_ns", "end_ns"},
	{"edges", "start_ns", "end_ns"},
}

// maxSizePasses bounds the delete-checkpoint-measure rounds of one Retain.
const maxSizePasses = 12

// Retain deletes what is older than MaxAge, then, while the data takes
// more than MaxBytes, the oldest data of every table, and checkpoints so
// that DuckDB frees the blocks (docs/store.md: the file stops growing;
// it shrinks only when the freed blocks are at its end).
func (s *Store) Retain(ctx context.Context, now time.Time) (st store.RetainStats, err error) {
	st.RemovedRows = map[string]uint64{}
	// Retention has the database to itself: a checkpoint then frees what
	// was deleted (a transaction still open could see the deleted rows,
	// which DuckDB would have to keep), and the size measured after it is
	// the truth that the next pass acts on.
	for _, w := range s.writers {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	if s.isClosed() {
		return st, ErrClosed
	}
	defer func() {
		st.BytesOnDisk = s.diskBytes()
		s.smu.Lock()
		for t, n := range st.RemovedRows {
			s.stats.RetainedRows[t] += n
		}
		s.smu.Unlock()
	}()

	cutoff, err := storeutil.RetentionCutoff(now, s.cfg.Retention.MaxAge)
	if err != nil {
		return st, fmt.Errorf("duckdb: %w", err)
	}
	removed, err := s.deleteBefore(ctx, cutoff, st.RemovedRows)
	if err != nil {
		return st, err
	}
	if err := s.forgetSpools(ctx, cutoff, st.RemovedRows); err != nil {
		return st, err
	}
	if err := s.mergeTalkers(ctx); err != nil {
		return st, err
	}

	used, err := s.usedBytes(ctx)
	if err != nil {
		return st, err
	}
	if removed > 0 || used > s.cfg.Retention.MaxBytes {
		if err := s.checkpoint(ctx); err != nil {
			return st, err
		}
		if used, err = s.usedBytes(ctx); err != nil {
			return st, err
		}
	}
	if used > s.cfg.Retention.MaxBytes {
		if err := s.shrink(ctx, used, st.RemovedRows); err != nil {
			return st, err
		}
	}
	oldest, _, found, err := s.span(ctx)
	if err != nil {
		return st, err
	}
	if found {
		st.OldestKept = storeutil.NSTime(oldest)
	}
	return st, nil
}

// shrink deletes the oldest data of every table until the data takes at
// most storeutil.SizeTarget(MaxBytes). Data is about uniform in time, so each pass
// cuts the share of the time span that is over the target. DuckDB frees
// space by whole blocks (256 KiB) of row groups (122,880 rows): a pass
// that freed nothing while the data is still over MaxBytes cuts twice as
// much the next time; under MaxBytes it stops there.
func (s *Store) shrink(ctx context.Context, used int64, removed map[string]uint64) error {
	target := storeutil.SizeTarget(s.cfg.Retention.MaxBytes)
	frac := 0.0
	for pass := 0; used > target && pass < maxSizePasses; pass++ {
		oldest, newest, found, err := s.span(ctx)
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		frac = max(frac*2, float64(used-target)/float64(used)+0.01)
		cut := oldest + int64(frac*float64(newest-oldest))
		if frac >= 1 || cut >= newest {
			cut = math.MaxInt64
		}
		n, err := s.deleteBefore(ctx, cut, removed)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if err := s.checkpoint(ctx); err != nil {
			return err
		}
		prev := used
		if used, err = s.usedBytes(ctx); err != nil {
			return err
		}
		s.log.Info("retention by size", "pass", pass, "cut", storeutil.NSTime(cut), "removed_rows", n, "used_bytes", used)
		switch {
		case used < prev:
			frac = 0 // the estimate worked: start over from the new size
		case used <= s.cfg.Retention.MaxBytes:
			// Under the limit, and the last cut freed no block: cutting
			// harder would delete far more than needed. The next pass,
			// with more data behind the cut, will free whole blocks.
			return nil
		}
	}
	return nil
}

// deleteBefore deletes the rows of every table whose end is before cut.
func (s *Store) deleteBefore(ctx context.Context, cut int64, removed map[string]uint64) (uint64, error) {
	var total uint64
	for _, t := range timeCols {
		res, err := s.writers[0].conn.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE `+t.end+` < ?`, cut)
		if err != nil {
			return total, fmt.Errorf("duckdb: retention of %s: %w", t.table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("duckdb: retention of %s: %w", t.table, err)
		}
		if n > 0 {
			removed[t.table] += uint64(n)
			total += uint64(n)
		}
	}
	before := removed["talkers"]
	if err := s.dropTalkersBefore(ctx, cut, removed); err != nil {
		return total, err
	}
	return total + removed["talkers"] - before, nil
}

// forgetSpools deletes the sequences of the spools, other than their
// probe's current one (which the probes row keeps), that stored nothing
// since cut: a probe whose spool is wiped at every restart (a pod's
// emptyDir) leaves one row per restart, and a spool silent for the whole
// retention age is gone (a spool resends only what it holds
// unacknowledged).
func (s *Store) forgetSpools(ctx context.Context, cut int64, removed map[string]uint64) error {
	res, err := s.writers[0].conn.ExecContext(ctx, `DELETE FROM spools WHERE last_report < ?`, cut)
	if err != nil {
		return fmt.Errorf("duckdb: retention of spools: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("duckdb: retention of spools: %w", err)
	}
	if n > 0 {
		removed["spools"] += uint64(n)
	}
	return nil
}

// span is the oldest and newest start over every table, leaving out the
// rows without a time.
func (s *Store) span(ctx context.Context) (oldest, newest int64, found bool, err error) {
	q := ""
	for i, t := range timeCols {
		if i > 0 {
			q += " UNION ALL "
		}
		q += `SELECT min(` + t.start + `) AS lo, max(` + t.start + `) AS hi FROM ` + t.table +
			` WHERE ` + t.start + ` > ` + noTimeSQL
	}
	var lo, hi *int64
	if err := s.writers[0].conn.QueryRowContext(ctx, `SELECT min(lo), max(hi) FROM (`+q+`)`).Scan(&lo, &hi); err != nil {
		return 0, 0, false, fmt.Errorf("duckdb: time span: %w", err)
	}
	if lo == nil || hi == nil {
		return 0, 0, false, nil
	}
	return *lo, *hi, true, nil
}

// usedBytes is what the data takes: DuckDB's used blocks and the WAL.
// The file itself keeps its free blocks for reuse, so its size is a
// high-water mark, not a measure of the data.
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var used, block int64
	if err := s.writers[0].conn.QueryRowContext(ctx,
		`SELECT used_blocks, block_size FROM pragma_database_size() WHERE database_name = current_database()`).
		Scan(&used, &block); err != nil {
		return 0, fmt.Errorf("duckdb: database size: %w", err)
	}
	return used*block + s.walBytes(), nil
}

func (s *Store) checkpoint(ctx context.Context) error {
	if _, err := s.writers[0].conn.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("duckdb: checkpoint: %w", err)
	}
	return nil
}
