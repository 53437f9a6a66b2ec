package duckdb

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// The talkers table is a rollup of the flows table for the top talkers
// query (FlowGroups by host, or host and probe, with no filter but the
// time range and probes): per bucket of flow start times (talkerBucket),
// probe and host, the flows, packets and bytes of the flows that started
// in the bucket. A day of flows then sums about ten times fewer rows than
// the flows themselves (docs/store.md). FlowGroups reads the rollup for
// the buckets that lie wholly inside the query's range and the flows
// table for the rest, so the answer is the same as from the flows alone:
//
//   - flows whose start is outside the rollup's buckets (the partial
//     buckets at both ends, the flows that started before From and still
//     overlap it) come from the flows table;
//   - a flow whose End is before its Start (it never happens with a sound
//     probe) is not rolled up: its bucket gets a marker row (h_fam =
//     talkerMarker) and the query reads such a bucket's malformed flows
//     from the flows table;
//   - retention deletes whole buckets only, and records in the meta table
//     the first bucket that is complete (talkersFrom): older buckets are
//     read from the flows table.
//
// Each write transaction appends its own rollup rows; the retention pass
// merges the rows of the buckets written since the previous pass into one
// row per (bucket, probe, host).
const talkerBucket = int64(10 * time.Minute)

// talkerMarker in h_fam marks a bucket holding malformed flows.
const talkerMarker = 255

// maxMarkedBuckets: a query whose range holds more buckets with malformed
// flows reads the flows table alone rather than build a long statement.
const maxMarkedBuckets = 32

// metaTalkersFrom is the meta key of the first complete bucket.
const metaTalkersFrom = "talkers_from"

// minRolled is the first bucket: flows that start before it (only the
// zero time and hostile times in 1677) are never rolled up, which keeps
// the bucket arithmetic from overflowing.
const minRolled = (math.MinInt64+talkerBucket)/talkerBucket*talkerBucket + talkerBucket

// floorBucket is the bucket holding ns; math.MinInt64 before minRolled.
func floorBucket(ns int64) int64 {
	if ns < minRolled {
		return math.MinInt64
	}
	b := ns / talkerBucket * talkerBucket
	if ns < 0 && b != ns {
		b -= talkerBucket
	}
	return b
}

// ceilBucket is the first bucket starting at or after ns (minRolled at
// the least, math.MaxInt64 past the last).
func ceilBucket(ns int64) int64 {
	switch {
	case ns <= minRolled:
		return minRolled
	case ns > math.MaxInt64-talkerBucket:
		return math.MaxInt64
	}
	b := floorBucket(ns)
	if b != ns {
		b += talkerBucket
	}
	return b
}

type talkerKey struct {
	bucket int64
	probe  string // encText form
	addr   addrCols
}

type talkerSum struct {
	flows, packets, bytes uint64
}

// addSat adds without wrapping: hostile counters hold at the maximum, as
// the queries' sums do.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

func (t *talkerSum) add(flows, packets, bytes uint64) {
	t.flows = addSat(t.flows, flows)
	t.packets = addSat(t.packets, packets)
	t.bytes = addSat(t.bytes, bytes)
}

// tally adds a flow to the writer's rollup of the current transaction.
func (w *writer) tally(f *record.Flow, startNS, endNS int64) {
	if startNS < minRolled {
		return // never inside a bucket range: always read from flows
	}
	k := talkerKey{bucket: floorBucket(startNS), probe: encText(f.Probe)}
	if endNS < startNS {
		k.addr = addrCols{fam: talkerMarker}
		if _, ok := w.talkers[k]; !ok {
			w.talkers[k] = talkerSum{} // a marker: counts nothing
		}
		return
	}
	pk := addSat(f.Packets[0], f.Packets[1])
	by := addSat(f.Bytes[0], f.Bytes[1])
	k.addr = splitAddr(f.Client.Addr())
	sum := w.talkers[k]
	sum.add(1, pk, by)
	w.talkers[k] = sum
	if s := splitAddr(f.Server.Addr()); s != k.addr {
		k.addr = s
		sum := w.talkers[k]
		sum.add(1, pk, by)
		w.talkers[k] = sum
	}
}

// appendTalkers appends the transaction's rollup rows, in bucket order,
// and notes their buckets for the next merge.
func (w *writer) appendTalkers() (int, error) {
	keys := make([]talkerKey, 0, len(w.talkers))
	for k := range w.talkers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b talkerKey) int { return cmpInt(a.bucket, b.bucket) })
	for _, k := range keys {
		v := w.talkers[k]
		if err := w.apps["talkers"].AppendRow(k.bucket, k.probe, k.addr.fam, k.addr.hi, k.addr.lo, v.flows, v.packets, v.bytes); err != nil {
			w.broken = true
			return 0, fmt.Errorf("append to talkers: %w", err)
		}
		w.pendingBuckets[k.bucket] = true
	}
	clear(w.talkers)
	return len(keys), nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mergeTalkers merges the rollup rows of the buckets written since the
// last merge. The caller holds every writer's lock.
func (s *Store) mergeTalkers(ctx context.Context) error {
	var buckets []int64
	for _, w := range s.writers {
		for b := range w.touched {
			buckets = append(buckets, b)
		}
	}
	slices.Sort(buckets)
	buckets = slices.Compact(buckets)
	c := s.writers[0].conn
	for len(buckets) > 0 {
		n := min(len(buckets), storeutil.MaxListParams)
		chunk := buckets[:n]
		buckets = buckets[n:]
		args := make([]any, len(chunk))
		for i, b := range chunk {
			args[i] = b
		}
		in := "bucket IN (" + placeholders(len(chunk)) + ")"
		stmts := []string{
			`CREATE OR REPLACE TEMP TABLE talkers_merge AS SELECT bucket, probe, h_fam, h_hi, h_lo, ` +
				saturate("sum(flows)") + ` AS flows, ` + saturate("sum(packets)") + ` AS packets, ` +
				saturate("sum(bytes)") + ` AS bytes FROM talkers WHERE ` + in +
				` GROUP BY bucket, probe, h_fam, h_hi, h_lo ORDER BY bucket`,
			`DELETE FROM talkers WHERE ` + in,
			`INSERT INTO talkers SELECT * FROM talkers_merge`,
		}
		if _, err := c.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
			return fmt.Errorf("duckdb: merge talkers: %w", err)
		}
		for i, q := range stmts {
			var err error
			if i < 2 {
				_, err = c.ExecContext(ctx, q, args...)
			} else {
				_, err = c.ExecContext(ctx, q)
			}
			if err != nil {
				c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
				return fmt.Errorf("duckdb: merge talkers: %w", err)
			}
		}
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			return fmt.Errorf("duckdb: merge talkers: %w", err)
		}
	}
	c.ExecContext(ctx, "DROP TABLE IF EXISTS talkers_merge")
	for _, w := range s.writers {
		clear(w.touched)
	}
	return nil
}

// loadTalkersFrom reads the first complete bucket (minRolled when
// nothing was ever deleted).
func loadTalkersFrom(ctx context.Context, s *Store) error {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT max(value) FROM meta WHERE key = ?`, metaTalkersFrom).Scan(&nullInt{&v})
	if err != nil {
		return fmt.Errorf("talkers watermark: %w", err)
	}
	s.talkersFrom.Store(max(v, minRolled))
	return nil
}

// nullInt scans a nullable BIGINT, leaving the target alone on NULL.
type nullInt struct{ p *int64 }

func (n *nullInt) Scan(v any) error {
	switch x := v.(type) {
	case nil:
	case int64:
		*n.p = x
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

// dropTalkersBefore deletes the rollup's buckets that retention has cut
// into (flows ending before cut were deleted) and moves the watermark.
func (s *Store) dropTalkersBefore(ctx context.Context, cut int64, removed map[string]uint64) error {
	from := ceilBucket(cut)
	if from <= s.talkersFrom.Load() {
		return nil
	}
	c := s.writers[0].conn
	res, err := c.ExecContext(ctx, `DELETE FROM talkers WHERE bucket < ?`, from)
	if err != nil {
		return fmt.Errorf("duckdb: retention of talkers: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		removed["talkers"] += uint64(n)
	}
	if _, err := c.ExecContext(ctx, `DELETE FROM meta WHERE key = ?`, metaTalkersFrom); err != nil {
		return fmt.Errorf("duckdb: talkers watermark: %w", err)
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO meta VALUES (?, ?)`, metaTalkersFrom, from); err != nil {
		return fmt.Errorf("duckdb: talkers watermark: %w", err)
	}
	s.talkersFrom.Store(from)
	return nil
}

// talkersPlan decides whether a FlowGroups query can read the rollup:
// it groups by host (and maybe probe), filters on nothing but time and
// probes, and its range holds whole buckets past the watermark. It
// returns the bucket range [r0, r1) and the buckets in it that hold
// malformed flows.
func (s *Store) talkersPlan(ctx context.Context, groupBy []string, f *storeFilter) (r0, r1 int64, marked []int64, ok bool, err error) {
	for _, g := range groupBy {
		if g != store.ColHost && g != store.ColProbe {
			return 0, 0, nil, false, nil
		}
	}
	if !f.onlyTimeAndProbes {
		return 0, 0, nil, false, nil
	}
	r0 = max(ceilBucket(f.from), s.talkersFrom.Load())
	r1 = floorBucket(f.to)
	if r1 <= r0 {
		return 0, 0, nil, false, nil
	}
	rows, err := s.query(ctx, `SELECT DISTINCT bucket FROM talkers WHERE h_fam = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
		[]any{uint8(talkerMarker), r0, r1})
	if err != nil {
		return 0, 0, nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			return 0, 0, nil, false, fmt.Errorf("duckdb: %w", err)
		}
		marked = append(marked, b)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, nil, false, fmt.Errorf("duckdb: %w", err)
	}
	if len(marked) > maxMarkedBuckets {
		return 0, 0, nil, false, nil
	}
	return r0, r1, marked, true, nil
}

// storeFilter is what talkersPlan needs to know of a FlowFilter.
type storeFilter struct {
	from, to          int64
	onlyTimeAndProbes bool
}

// hostBranches is the SQL of the two sides of each flow (client, and
// server unless it is the client) for the flows matching w and extra,
// selecting the columns need, the host as h_fam/h_hi/h_lo, and per-row
// n, p, b (flows, packets, bytes as HUGEINT).
func hostBranches(need []string, w *where, extra string, extraArgs []any) (string, []any) {
	cols := strings.Join(append(slices.Clone(need), ""), ", ")
	cond := w.sql()
	if extra != "" {
		if cond == "" {
			cond = " WHERE " + extra
		} else {
			cond += " AND " + extra
		}
	}
	other := cond
	if other == "" {
		other = " WHERE "
	} else {
		other += " AND "
	}
	other += "NOT (c_fam = s_fam AND c_hi = s_hi AND c_lo = s_lo)"
	const metrics = `1 AS n, packets_cs::HUGEINT + packets_sc AS p, bytes_cs::HUGEINT + bytes_sc AS b`
	q := `SELECT ` + cols + `c_fam AS h_fam, c_hi AS h_hi, c_lo AS h_lo, ` + metrics + ` FROM flows` + cond +
		` UNION ALL SELECT ` + cols + `s_fam, s_hi, s_lo, ` + metrics + ` FROM flows` + other
	args := append(append(slices.Clone(w.args), extraArgs...), w.args...)
	return q, append(args, extraArgs...)
}

// talkersSource is the FROM source of a FlowGroups by host read from the
// rollup for the buckets [r0, r1) and from the flows table for the rest
// (see the comment at the top of this file).
func talkersSource(need []string, w *where, probes []string, r0, r1 int64, marked []int64) (string, []any) {
	cols := strings.Join(append(slices.Clone(need), ""), ", ")
	q := `SELECT ` + cols + `h_fam, h_hi, h_lo, flows AS n, packets::HUGEINT AS p, bytes::HUGEINT AS b FROM talkers
		WHERE bucket >= ? AND bucket < ? AND h_fam != ?`
	args := []any{r0, r1, uint8(talkerMarker)}
	if len(probes) > 0 {
		q += ` AND probe IN (` + placeholders(len(probes)) + `)`
		for _, p := range probes {
			args = append(args, encText(p))
		}
	}
	add := func(extra string, extraArgs []any) {
		bq, ba := hostBranches(need, w, extra, extraArgs)
		q += " UNION ALL " + bq
		args = append(args, ba...)
	}
	add("start_ns < ?", []any{r0})
	add("start_ns >= ?", []any{r1})
	if len(marked) > 0 {
		var ors []string
		var margs []any
		for _, b := range marked {
			ors = append(ors, "(start_ns >= ? AND start_ns < ?)")
			margs = append(margs, b, b+talkerBucket)
		}
		add("end_ns < start_ns AND ("+strings.Join(ors, " OR ")+")", margs)
	}
	return "(" + q + ")", args
}
