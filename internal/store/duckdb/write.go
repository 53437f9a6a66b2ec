package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// tables that take appended rows, in the order a batch fills them.
var appendTables = []string{"windows", "flows", "transactions", "traffic", "edges", "talkers"}

// tableCount is len(appendTables).
const tableCount = 6

// Writes go through a few writer goroutines, each with its own connection
// and one appender per table; DuckDB runs their appends in parallel. A
// probe's batches always go to the same writer (writerOf), so its
// sequence check and status update never race, and two writers never
// update the same probes row (which DuckDB would refuse as a conflict).
// Each writer takes every batch waiting in its queue, up to groupRows
// records, into one transaction: a transaction of a full row group or
// more is written straight to the database file, compressed, instead of
// through the WAL and a later checkpoint, which takes about 40% off the
// CPU cost of a record (docs/store.md).
const (
	numWriters = 2
	queueLen   = 16
	groupRows  = 2 * 122880 // two DuckDB row groups
	maxGroup   = 64
)

// writer owns one connection and its appenders.
type writer struct {
	s *Store
	q *storeutil.Queue

	// mu is held while a group is written; retention takes every
	// writer's to have the database to itself.
	mu     sync.Mutex
	conn   *sql.Conn
	apps   map[string]*duck.Appender
	row    []driver.Value
	broken bool // an appender failed: rebuild before the next write

	talkers        map[talkerKey]talkerSum // rollup of the open transaction
	pendingBuckets map[int64]bool          // its buckets
	touched        map[int64]bool          // buckets written since the last merge
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{s: s, conn: c, apps: map[string]*duck.Appender{},
		q:       storeutil.NewQueue("duckdb", ErrClosed, queueLen),
		talkers: map[talkerKey]talkerSum{}, pendingBuckets: map[int64]bool{}, touched: map[int64]bool{}}
	if err := w.openAppenders(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// lastID is the highest row id in the database, where the id sequence
// goes on after a restart.
func lastID(ctx context.Context, db *sql.DB) (uint64, error) {
	var maxID sql.NullInt64
	// ids are below 2^63 (a sequence from 1), so BIGINT holds them.
	if err := db.QueryRowContext(ctx, `SELECT max(m)::BIGINT FROM (
		SELECT max(id) AS m FROM windows UNION ALL
		SELECT max(id) FROM flows UNION ALL
		SELECT max(id) FROM transactions)`).Scan(&maxID); err != nil {
		return 0, fmt.Errorf("last id: %w", err)
	}
	return uint64(maxID.Int64), nil
}

func (w *writer) openAppenders() error {
	return rawConn(w.conn, func(dc driver.Conn) error {
		for _, t := range appendTables {
			a, err := duck.NewAppenderFromConn(dc, "", t)
			if err != nil {
				return fmt.Errorf("appender for %s: %w", t, err)
			}
			w.apps[t] = a
		}
		return nil
	})
}

// reset drops the appenders' pending rows and rebuilds them; used after
// a failed write, when an appender may be unusable.
func (w *writer) reset() error {
	for t, a := range w.apps {
		a.Clear()
		a.Close()
		delete(w.apps, t)
	}
	w.broken = false
	return w.openAppenders()
}

func (w *writer) close() error {
	var errs []error
	for t, a := range w.apps {
		if err := a.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close appender %s: %w", t, err))
		}
		delete(w.apps, t)
	}
	if err := w.conn.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// run serves the queue until stop.
func (w *writer) run(stop <-chan struct{}) {
	w.q.Run(stop, groupRows, maxGroup, func(group []*storeutil.Request) []storeutil.Result {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.writeGroup(group)
	})
}

// writeGroup writes the group in one transaction; if that fails, each
// batch alone, so that one batch's failure is its own.
func (w *writer) writeGroup(group []*storeutil.Request) []storeutil.Result {
	res := make([]storeutil.Result, len(group))
	if err := w.writeTx(group, res); err != nil {
		if len(group) == 1 {
			res[0].Err = err
		} else {
			for i := range group {
				res[i] = storeutil.Result{}
				if err := w.writeTx(group[i:i+1], res[i:i+1]); err != nil {
					res[i].Err = err
				}
			}
		}
	}
	s := w.s
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, x := range res {
		switch {
		case x.Err != nil:
			s.stats.WriteErrors++
		case x.Dup:
			s.stats.Duplicates++
		default:
			s.stats.Batches++
			for j, t := range appendTables {
				s.stats.Rows[t] += uint64(x.Counts[j])
			}
		}
	}
	return res
}

// probeState is a probe's status row as a transaction changes it. The
// row holds the sequence of the probe's current spool (the spool of its
// newest stored batch), so that the usual batch, one of the current
// spool, costs no statement beyond the status row's own; the sequences
// of the probe's other spools are rows of spools.
type probeState struct {
	known       bool // the row exists
	changed     bool
	info        []byte
	loss        map[string]uint64 // the stored counters, as the transaction changes them
	lossChanged bool
	firstSeen   int64
	lastSeen    int64
	spool       sql.NullString // the current spool; NULL: stored before schema v3, not named yet
	lastSeq     uint64         // the current spool's
	batches     uint64
	records     uint64
	others      map[string]*spoolState // the probe's other spools met in this transaction
}

// spoolState is the sequence of a spool that is not its probe's current
// one (a row of spools).
type spoolState struct {
	exists  bool // a batch of it was stored
	dirty   bool // to be written
	lastSeq uint64
	lastRep int64
}

// Write stores a batch in one transaction, after checking its Seq against
// the probe's last stored one in that same transaction.
func (s *Store) Write(ctx context.Context, b *record.Batch, now time.Time) (duplicate bool, err error) {
	nowNS, err := storeutil.CheckWrite(b, now)
	if err != nil {
		return false, fmt.Errorf("duckdb: %w", err)
	}
	if err := storeutil.CheckTimes(b); err != nil {
		s.smu.Lock()
		s.stats.WriteErrors++
		s.smu.Unlock()
		return false, fmt.Errorf("duckdb: probe %q batch %d: %w", b.Probe.ID, b.Seq, err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.isClosed() {
		return false, ErrClosed
	}
	return s.writers[s.writerOf(b.Probe.ID)].q.Submit(ctx, b, nowNS)
}

// writerOf is the writer of a probe: probes are dealt to writers in turn
// as they first write, so that a few probes spread evenly (a hash would
// often put two of three on one writer). Past maxAssigned probes the rest
// are placed by hash, which bounds the table.
func (s *Store) writerOf(probe string) int {
	s.amu.Lock()
	defer s.amu.Unlock()
	if i, ok := s.assigned[probe]; ok {
		return i
	}
	if len(s.assigned) >= maxAssigned {
		h := fnv.New32a()
		h.Write([]byte(probe))
		return int(h.Sum32() % uint32(len(s.writers)))
	}
	i := len(s.assigned) % len(s.writers)
	s.assigned[probe] = i
	return i
}

const maxAssigned = 1 << 16

// writeTx writes the batches in one transaction, filling res (dup and
// counts); an error means nothing of it was stored.
func (w *writer) writeTx(reqs []*storeutil.Request, res []storeutil.Result) (err error) {
	ctx := context.Background() // one batch's caller must not abort the others
	if w.broken {
		if err := w.reset(); err != nil {
			return err
		}
	}
	c := w.conn
	if _, err := c.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	// ids of a rolled back write are skipped, never reused.
	defer func() {
		clear(w.talkers)
		if err == nil {
			for b := range w.pendingBuckets {
				w.touched[b] = true
			}
		}
		clear(w.pendingBuckets)
		if err != nil {
			for _, a := range w.apps {
				if a.Clear() != nil {
					w.broken = true
				}
			}
			if _, rerr := c.ExecContext(ctx, "ROLLBACK"); rerr != nil {
				w.broken = true
			}
		}
	}()

	probes := map[string]*probeState{}
	var total [tableCount]int
	for i, r := range reqs {
		b := r.Batch
		id := encText(b.Probe.ID)
		ps := probes[id]
		if ps == nil {
			if ps, err = loadProbe(ctx, c, id); err != nil {
				return err
			}
			probes[id] = ps
		}
		spool := encText(b.SpoolID)
		dup, err := ps.seen(ctx, c, id, spool, b.Seq)
		if err != nil {
			return err
		}
		if dup {
			res[i].Dup = true
			continue
		}
		counts, err := w.appendBatch(b)
		if err != nil {
			return err
		}
		res[i].Counts = counts[:]
		for j := range total {
			total[j] += counts[j]
		}
		if ps.info, err = storeutil.EncodeGob(b.Probe); err != nil {
			return err
		}
		if loss, changed := mergeLoss(ps.loss, b.Loss); changed {
			ps.loss, ps.lossChanged = loss, true
		}
		if !ps.known && !ps.changed {
			ps.firstSeen = r.NowNS
		}
		ps.stored(spool, b.Seq)
		ps.changed = true
		ps.lastSeen = r.NowNS
		ps.batches++
		ps.records += uint64(b.Records())
	}
	nt, err := w.appendTalkers()
	if err != nil {
		return err
	}
	total[tableCount-1] = nt
	for i := range res {
		if !res[i].Dup {
			res[i].Counts[tableCount-1] = nt // counted once, with a stored batch
			break
		}
	}
	for j, t := range appendTables {
		if total[j] == 0 {
			continue
		}
		if err := w.apps[t].Flush(); err != nil {
			w.broken = true
			return fmt.Errorf("append to %s: %w", t, err)
		}
	}
	for id, ps := range probes {
		if !ps.changed {
			continue
		}
		var loss any // nil keeps the stored counters
		if ps.lossChanged {
			if loss, err = storeutil.EncodeGob(ps.loss); err != nil {
				return err
			}
		}
		if ps.known {
			_, err = c.ExecContext(ctx, `UPDATE probes SET info = ?, last_report = ?, last_seq = ?,
				batches = ?, records = ?, loss = coalesce(?, loss), spool_id = ? WHERE id = ?`,
				ps.info, ps.lastSeen, ps.lastSeq, ps.batches, ps.records, loss, ps.spool, id)
		} else {
			_, err = c.ExecContext(ctx, `INSERT INTO probes (id, info, first_seen, last_report, last_seq, batches, records, loss, spool_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, ps.info, ps.firstSeen, ps.lastSeen, ps.lastSeq, ps.batches, ps.records, loss, ps.spool)
		}
		if err != nil {
			return fmt.Errorf("probe status: %w", err)
		}
		for spool, sp := range ps.others {
			if !sp.dirty {
				continue
			}
			if _, err = c.ExecContext(ctx, `DELETE FROM spools WHERE probe = ? AND spool_id = ?`, id, spool); err == nil {
				_, err = c.ExecContext(ctx, `INSERT INTO spools VALUES (?, ?, ?, ?)`, id, spool, sp.lastSeq, sp.lastRep)
			}
			if err != nil {
				return fmt.Errorf("spool sequence: %w", err)
			}
		}
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	return nil
}

// loadProbe reads a probe's status row (a zero state when it has none).
func loadProbe(ctx context.Context, c *sql.Conn, id string) (*probeState, error) {
	ps := &probeState{}
	var loss []byte
	err := c.QueryRowContext(ctx, `SELECT last_seq, batches, records, first_seen, last_report, loss, spool_id FROM probes WHERE id = ?`, id).
		Scan(&ps.lastSeq, &ps.batches, &ps.records, &ps.firstSeen, &ps.lastSeen, &loss, &ps.spool)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ps, nil
	case err != nil:
		return nil, err
	}
	ps.known = true
	if loss != nil {
		if err := storeutil.DecodeGob(loss, &ps.loss); err != nil {
			return nil, fmt.Errorf("probe %q: corrupt loss counters: %w", id, err)
		}
	}
	return ps, nil
}

// seen reports whether a batch of spool with seq was stored before
// (store.Store.Write). A probe's sequence from before schema v3 has no
// spool: the first spool the probe then names takes it over, since that
// is the spool it was using, and its batches resent across the upgrade
// stay duplicates.
func (ps *probeState) seen(ctx context.Context, c *sql.Conn, id, spool string, seq uint64) (bool, error) {
	if !ps.known && !ps.changed {
		return false, nil
	}
	if !ps.spool.Valid || ps.spool.String == spool {
		return seq <= ps.lastSeq, nil
	}
	sp, err := ps.other(ctx, c, id, spool)
	if err != nil {
		return false, err
	}
	return sp.exists && seq <= sp.lastSeq, nil
}

// other is the sequence of one of the probe's spools that is not its
// current one, read from spools the first time.
func (ps *probeState) other(ctx context.Context, c *sql.Conn, id, spool string) (*spoolState, error) {
	if sp := ps.others[spool]; sp != nil {
		return sp, nil
	}
	sp := &spoolState{}
	err := c.QueryRowContext(ctx, `SELECT last_seq, last_report FROM spools WHERE probe = ? AND spool_id = ?`, id, spool).
		Scan(&sp.lastSeq, &sp.lastRep)
	switch {
	case err == nil:
		sp.exists = true
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	if ps.others == nil {
		ps.others = map[string]*spoolState{}
	}
	ps.others[spool] = sp
	return sp, nil
}

// stored takes a stored batch's sequence: its spool is now the current
// one, and the spool it replaces keeps its sequence in spools. (A
// promoted spool's own row, if it had one, stays behind, older: lookups
// ask the current spool first.)
func (ps *probeState) stored(spool string, seq uint64) {
	if cur := ps.spool; cur.Valid && cur.String != spool {
		if ps.others == nil {
			ps.others = map[string]*spoolState{}
		}
		ps.others[cur.String] = &spoolState{exists: true, dirty: true, lastSeq: ps.lastSeq, lastRep: ps.lastSeen}
	}
	delete(ps.others, spool)
	ps.spool = sql.NullString{String: spool, Valid: true}
	ps.lastSeq = seq
}

// mergeLoss applies a batch's loss counters to the stored ones
// (store.Store.Write): the probe's own keys are cumulative and replace
// the stored ones when the batch has any; the center's (CenterLossPrefix)
// count this batch alone and are added. It reports whether anything
// changed.
func mergeLoss(stored, batch map[string]uint64) (map[string]uint64, bool) {
	if len(batch) == 0 {
		return stored, false
	}
	ownKeys := false
	for k := range batch {
		if !strings.HasPrefix(k, store.CenterLossPrefix) {
			ownKeys = true
			break
		}
	}
	out := make(map[string]uint64, len(stored)+len(batch))
	for k, v := range stored {
		if !ownKeys || strings.HasPrefix(k, store.CenterLossPrefix) {
			out[k] = v
		}
	}
	for k, v := range batch {
		if strings.HasPrefix(k, store.CenterLossPrefix) {
			if sum := out[k] + v; sum >= v {
				v = sum
			} else {
				v = math.MaxUint64
			}
		}
		out[k] = v
	}
	return out, !maps.Equal(out, stored)
}

// appendBatch appends the batch's records, each table in time order.
func (w *writer) appendBatch(b *record.Batch) (counts [tableCount]int, err error) {
	add := func(table string, vals ...driver.Value) error {
		if err := w.apps[table].AppendRow(vals...); err != nil {
			w.broken = true
			return fmt.Errorf("append to %s: %w", table, err)
		}
		return nil
	}

	for _, i := range timeOrder(len(b.Windows), func(i int) time.Time { return b.Windows[i].Start }) {
		r := &b.Windows[i]
		ts, err := storeutil.RecordTimes("windows", i, r.Start, r.End)
		if err != nil {
			return counts, err
		}
		if err := add("windows", w.id(), encText(r.Probe), ts[0], ts[1], r.Packets, r.Bytes, r.Summary); err != nil {
			return counts, err
		}
		counts[0]++
	}

	for _, i := range timeOrder(len(b.Flows), func(i int) time.Time { return b.Flows[i].Start }) {
		r := &b.Flows[i]
		ts, err := storeutil.RecordTimes("flows", i, r.Start, r.End)
		if err != nil {
			return counts, err
		}
		ca, sa := splitAddr(r.Client.Addr()), splitAddr(r.Server.Addr())
		v := append(w.row[:0], w.id(), encText(r.Probe), ts[0], ts[1], encText(r.Transport),
			ca.fam, ca.hi, ca.lo, r.Client.Port(), sa.fam, sa.hi, sa.lo, r.Server.Port(),
			encText(r.App), encText(r.Device), r.VLAN, r.TunnelID,
			r.Packets[0], r.Packets[1], r.Bytes[0], r.Bytes[1], r.Retransmissions[0], r.Retransmissions[1],
			int64(r.RTT), encText(r.State), r.Ended)
		w.row = v
		if err := add("flows", v...); err != nil {
			return counts, err
		}
		w.tally(r, ts[0], ts[1])
		counts[1]++
	}

	for _, i := range timeOrder(len(b.Transactions), func(i int) time.Time { return b.Transactions[i].Time() }) {
		r := &b.Transactions[i]
		ts, err := storeutil.RecordTimes("transactions", i, r.Time(), r.RequestTime, r.ResponseTime)
		if err != nil {
			return counts, err
		}
		ca, sa := splitAddr(r.Client.Addr()), splitAddr(r.Server.Addr())
		var flags []string
		if r.Flags != nil {
			flags = make([]string, len(r.Flags))
			for j, f := range r.Flags {
				flags[j] = encText(f)
			}
		}
		var fields []map[string]any
		if r.Fields != nil {
			fields = make([]map[string]any, len(r.Fields))
			for j, f := range r.Fields {
				fields[j] = map[string]any{"k": encText(f.Key), "v": encText(f.Value)}
			}
		}
		v := append(w.row[:0], w.id(), encText(r.Probe), ts[0], encText(r.Proto), encText(r.Transport),
			ca.fam, ca.hi, ca.lo, r.Client.Port(), sa.fam, sa.hi, sa.lo, r.Server.Port(),
			ts[1], ts[2], int64(r.Latency), r.RequestBytes, r.ResponseBytes,
			encText(r.Op), encText(r.Target), encText(r.Status), encText(r.Outcome), listValue(flags), listValue(fields))
		w.row = v
		if err := add("transactions", v...); err != nil {
			return counts, err
		}
		counts[2]++
	}

	for _, i := range timeOrder(len(b.Traffic), func(i int) time.Time { return b.Traffic[i].Start }) {
		r := &b.Traffic[i]
		ts, err := storeutil.RecordTimes("traffic", i, r.Start, r.End)
		if err != nil {
			return counts, err
		}
		if err := add("traffic", encText(r.Probe), encText(r.Device), encText(r.Direction), ts[0], ts[1], r.Packets, r.Bytes); err != nil {
			return counts, err
		}
		counts[3]++
	}

	for _, i := range timeOrder(len(b.Edges), func(i int) time.Time { return b.Edges[i].Start }) {
		r := &b.Edges[i]
		ts, err := storeutil.RecordTimes("edges", i, r.Start, r.End)
		if err != nil {
			return counts, err
		}
		ca, sa := splitAddr(r.Client), splitAddr(r.Server)
		v := append(w.row[:0], encText(r.Probe), ts[0], ts[1], ca.fam, ca.hi, ca.lo, sa.fam, sa.hi, sa.lo,
			encText(r.Transport), encText(r.App), r.Port, r.Flows, r.Packets, r.Bytes, r.Requests, r.Errors,
			int64(r.LatencySum), r.LatencyCount, int64(r.LatencyMax))
		w.row = v
		if err := add("edges", v...); err != nil {
			return counts, err
		}
		counts[4]++
	}
	return counts, nil
}

// listValue keeps a nil list NULL (an empty one stays empty), so that the
// difference survives a round trip.
func listValue[T any](l []T) driver.Value {
	if l == nil {
		return nil
	}
	return l
}

func (w *writer) id() uint64 { return w.s.nextID.Add(1) }

// timeOrder returns the indices 0..n-1 ordered by time (stable), without
// sorting when they already are: rows appended in time order keep the
// zone maps of the time columns tight.
func timeOrder(n int, at func(int) time.Time) []int {
	idx := make([]int, n)
	sorted := true
	for i := range idx {
		idx[i] = i
		if i > 0 && at(i).Before(at(i-1)) {
			sorted = false
		}
	}
	if !sorted {
		slices.SortStableFunc(idx, func(a, b int) int { return at(a).Compare(at(b)) })
	}
	return idx
}
