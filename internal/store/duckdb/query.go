package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// where collects the conditions of a statement and their arguments; every
// value goes in as a parameter.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args []any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// eq adds "col = value" for a non-empty string value (as encText's form).
func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col+" = ?", []any{encText(v)})
	}
}

// in adds "col IN (...)" for a non-empty list of strings.
func (w *where) in(col string, vals []string, what string) error {
	if len(vals) == 0 {
		return nil
	}
	if err := storeutil.CheckList(len(vals), what); err != nil {
		return err
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = encText(v)
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", args)
	return nil
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// overlap adds "the record's [start, end) overlaps [From, To)".
func (w *where) overlap(tr store.TimeRange, inclusiveEnd bool) error {
	from, to, err := storeutil.Range(tr)
	if err != nil {
		return err
	}
	w.overlapNS(from, to, inclusiveEnd)
	return nil
}

// overlapOf starts the conditions of a query over the records that
// overlap tr, of the given probes (every probe when empty).
func overlapOf(tr store.TimeRange, probes []string) (where, error) {
	var w where
	if err := w.overlap(tr, false); err != nil {
		return w, err
	}
	return w, w.in("probe", probes, "probes")
}

// at adds "col is in [From, To)", for records with one time.
func (w *where) at(col string, tr store.TimeRange) error {
	from, to, err := storeutil.Range(tr)
	if err != nil {
		return err
	}
	w.add(col+" < ?", []any{to})
	if from != math.MinInt64 {
		w.add(col+" >= ?", []any{from})
	}
	return nil
}

func (w *where) overlapNS(from, to int64, inclusiveEnd bool) {
	op := ">"
	if inclusiveEnd {
		op = ">="
	}
	w.add("start_ns < ?", []any{to})
	if from != math.MinInt64 {
		w.add("end_ns "+op+" ?", []any{from})
	}
}

// Page cursors: the last row's (time, id).
var (
	flowCursors = storeutil.CursorCodec{Kind: 'f'}
	txCursors   = storeutil.CursorCodec{Kind: 't'}
)

// after adds the keyset condition "(col, id) < (c.TS, c.ID)" of a newest
// first ordering.
func (w *where) after(col string, c storeutil.Cursor) {
	w.add("("+col+" < ? OR ("+col+" = ? AND id < ?))", []any{c.TS, c.TS, c.ID})
}

func (s *Store) query(ctx context.Context, q string, args []any) (*sql.Rows, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return rows, nil
}

// LastSeq is the highest Seq stored for a probe's spool (0 if none), as
// Write deduplicates: the probe's current spool first (or its sequence
// from before schema v3, which the first spool named takes over), then
// its other spools.
func (s *Store) LastSeq(ctx context.Context, probe, spoolID string) (uint64, error) {
	id, spool := encText(probe), encText(spoolID)
	rows, err := s.query(ctx, `SELECT coalesce(
		(SELECT last_seq FROM probes WHERE id = ? AND (spool_id IS NULL OR spool_id = ?)),
		(SELECT max(last_seq) FROM spools WHERE probe = ? AND spool_id = ?), 0)`, []any{id, spool, id, spool})
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var seq uint64
	if rows.Next() {
		if err := rows.Scan(&seq); err != nil {
			return 0, fmt.Errorf("duckdb: %w", err)
		}
	}
	return seq, rows.Err()
}

// Probes returns every probe's status, by ID.
func (s *Store) Probes(ctx context.Context) ([]record.ProbeStatus, error) {
	rows, err := s.query(ctx, `SELECT info, first_seen, last_report, last_seq, batches, records, loss FROM probes ORDER BY id`, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.ProbeStatus
	for rows.Next() {
		var (
			info, loss  []byte
			first, last int64
			st          record.ProbeStatus
		)
		if err := rows.Scan(&info, &first, &last, &st.LastSeq, &st.Batches, &st.Records, &loss); err != nil {
			return nil, fmt.Errorf("duckdb: %w", err)
		}
		if err := storeutil.DecodeGob(info, &st.Info); err != nil {
			return nil, fmt.Errorf("duckdb: corrupt probe info: %w", err)
		}
		if loss != nil {
			if err := storeutil.DecodeGob(loss, &st.Loss); err != nil {
				return nil, fmt.Errorf("duckdb: corrupt probe loss: %w", err)
			}
		}
		st.FirstSeen, st.LastReport = storeutil.NSTime(first), storeutil.NSTime(last)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Windows returns the windows overlapping [From, To), oldest first.
func (s *Store) Windows(ctx context.Context, q store.WindowQuery) ([]record.Window, error) {
	limit, err := storeutil.Limit(q.Limit)
	if err != nil {
		return nil, err
	}
	w, err := overlapOf(q.TimeRange, q.Probes)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT probe, start_ns, end_ns, summary, packets, bytes FROM windows`+w.sql()+
		` ORDER BY start_ns, id LIMIT ?`, append(w.args, limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, 6, func(r *rowScanner) record.Window {
		return record.Window{
			Probe: r.str(0), Start: storeutil.NSTime(r.i64(1)), End: storeutil.NSTime(r.i64(2)),
			Summary: r.bytes(3), Packets: r.u64(4), Bytes: r.u64(5),
		}
	})
}

// flowFilter adds a FlowFilter's conditions.
func flowFilter(w *where, f *store.FlowFilter) error {
	_, err := flowFilterPlan(w, f)
	return err
}

// flowFilterPlan adds a FlowFilter's conditions and tells what the rollup
// plan needs to know of it.
func flowFilterPlan(w *where, f *store.FlowFilter) (storeFilter, error) {
	from, to, err := storeutil.Range(f.TimeRange)
	if err != nil {
		return storeFilter{}, err
	}
	sf := storeFilter{from: from, to: to,
		onlyTimeAndProbes: f.Transport == "" && f.App == "" && f.Device == "" && f.Port == 0 &&
			f.Host == (netip.Prefix{}) && f.Client == (netip.Prefix{}) && f.Server == (netip.Prefix{})}
	return sf, flowConds(w, f, from, to)
}

func flowConds(w *where, f *store.FlowFilter, from, to int64) error {
	w.overlapNS(from, to, true)
	if err := w.in("probe", f.Probes, "probes"); err != nil {
		return err
	}
	w.eq("transport", f.Transport)
	w.eq("app", f.App)
	w.eq("device", f.Device)
	if f.Port != 0 {
		w.add("s_port = ?", []any{f.Port})
	}
	if f.Host != (netip.Prefix{}) {
		if err := storeutil.CheckPrefix(f.Host, "host"); err != nil {
			return err
		}
		c, ca := prefixSQL("c", f.Host)
		sv, sa := prefixSQL("s", f.Host)
		w.add("("+c+" OR "+sv+")", append(ca, sa...))
	}
	if err := prefixCond(w, "c", f.Client, "client"); err != nil {
		return err
	}
	return prefixCond(w, "s", f.Server, "server")
}

const flowCols = `id, probe, start_ns, end_ns, transport, c_fam, c_hi, c_lo, c_port, s_fam, s_hi, s_lo, s_port,
	app, device, vlan, tunnel, packets_cs, packets_sc, bytes_cs, bytes_sc, retrans_cs, retrans_sc, rtt_ns, state, ended`

// Flows returns flow records matching the filter, newest first (by
// Start), a page at a time.
func (s *Store) Flows(ctx context.Context, q store.FlowQuery) (*store.FlowPage, error) {
	limit, cur, hasCur, err := storeutil.Page(q.Limit, q.Cursor, flowCursors)
	if err != nil {
		return nil, err
	}
	var w where
	if err := flowFilter(&w, &q.FlowFilter); err != nil {
		return nil, err
	}
	rows, err := s.newestFirst(ctx, flowCols, "flows", "start_ns", &w, cur, hasCur, limit)
	if err != nil {
		return nil, err
	}
	got, err := collect(rows, 26, func(r *rowScanner) keyed[record.Flow] {
		return keyed[record.Flow]{storeutil.Cursor{TS: r.i64(2), ID: r.u64(0)}, record.Flow{
			Probe: r.str(1), Start: storeutil.NSTime(r.i64(2)), End: storeutil.NSTime(r.i64(3)), Transport: r.str(4),
			Client: r.addrPort(5), Server: r.addrPort(9),
			App: r.str(13), Device: r.str(14), VLAN: r.u16(15), TunnelID: r.u32(16),
			Packets:         [2]uint64{r.u64(17), r.u64(18)},
			Bytes:           [2]uint64{r.u64(19), r.u64(20)},
			Retransmissions: [2]uint64{r.u64(21), r.u64(22)},
			RTT:             time.Duration(r.i64(23)), State: r.str(24), Ended: r.bool(25),
		}}
	})
	if err != nil {
		return nil, err
	}
	page := &store.FlowPage{}
	page.Flows, page.Next = pageOf(got, limit, flowCursors)
	return page, nil
}

// groupCol is how one GroupBy column is selected and turned into text.
type groupCol struct {
	cols []string // 1 column, or fam/hi/lo of an address
	addr bool
	port bool
}

var groupCols = map[string]groupCol{
	store.ColProbe:     {cols: []string{"probe"}},
	store.ColClient:    {cols: []string{"c_fam", "c_hi", "c_lo"}, addr: true},
	store.ColServer:    {cols: []string{"s_fam", "s_hi", "s_lo"}, addr: true},
	store.ColHost:      {cols: []string{"h_fam", "h_hi", "h_lo"}, addr: true},
	store.ColPort:      {cols: []string{"s_port"}, port: true},
	store.ColApp:       {cols: []string{"app"}},
	store.ColTransport: {cols: []string{"transport"}},
	store.ColDevice:    {cols: []string{"device"}},
}

// saturate turns a HUGEINT sum into UBIGINT, holding at the maximum
// instead of failing when hostile counters overflow 64 bits.
func saturate(expr string) string {
	return "least(" + expr + ", 18446744073709551615)::UBIGINT"
}

// FlowGroups aggregates flow records by the GroupBy columns and returns
// the top groups by OrderBy (descending; ties by key). With ColHost a
// flow counts for its client and for its server (once when both are the
// same address).
func (s *Store) FlowGroups(ctx context.Context, q store.GroupQuery) ([]store.Group, error) {
	limit, orderCol, err := storeutil.CheckGroups(&q)
	if err != nil {
		return nil, err
	}
	var keys []string
	host := false
	for _, g := range q.GroupBy {
		host = host || g == store.ColHost
		keys = append(keys, groupCols[g].cols...)
	}
	var w where
	sf, err := flowFilterPlan(&w, &q.FlowFilter)
	if err != nil {
		return nil, err
	}
	src := "flows" + w.sql()
	args := w.args
	// inner is the aggregation of src: per-flow rows by default, the
	// per-row n/p/b columns when the rollup is read.
	inner := `count(*) AS flows, sum(packets_cs) + sum(packets_sc) AS packets, sum(bytes_cs) + sum(bytes_sc) AS bytes`
	var need []string // the columns the host branches carry besides the host
	for _, k := range keys {
		if !strings.HasPrefix(k, "h_") {
			need = append(need, k)
		}
	}
	if host {
		r0, r1, marked, ok, err := s.talkersPlan(ctx, q.GroupBy, &sf)
		if err != nil {
			return nil, err
		}
		if ok {
			src, args = talkersSource(need, &w, q.Probes, r0, r1, marked)
			inner = `sum(n) AS flows, sum(p) AS packets, sum(b) AS bytes`
		} else {
			// Each flow once for its client and once for its server; a
			// flow between an address and itself counts once. The
			// branches carry only the columns the grouping needs: DuckDB
			// does not prune the others through UNION ALL, and they would
			// double the cost.
			need = append(need, "packets_cs", "packets_sc", "bytes_cs", "bytes_sc")
			cols := strings.Join(need, ", ")
			other := w.sql()
			if other == "" {
				other = " WHERE "
			} else {
				other += " AND "
			}
			other += "NOT (c_fam = s_fam AND c_hi = s_hi AND c_lo = s_lo)"
			src = `(SELECT ` + cols + `, c_fam AS h_fam, c_hi AS h_hi, c_lo AS h_lo FROM flows` + w.sql() +
				` UNION ALL SELECT ` + cols + `, s_fam, s_hi, s_lo FROM flows` + other + `)`
			args = append(slices.Clone(w.args), w.args...)
		}
	}
	keyList := strings.Join(keys, ", ")
	stmt := `SELECT ` + keyList + `, ` + inner + ` FROM ` + src + ` GROUP BY ` + keyList
	stmt = `SELECT ` + keyList + `, ` + saturate("flows") + `, ` + saturate("packets") + `, ` + saturate("bytes") +
		` FROM (` + stmt + `) ORDER BY ` + orderCol + ` DESC, ` + keyList + ` LIMIT ?`
	rows, err := s.query(ctx, stmt, append(args, limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, len(keys)+3, func(r *rowScanner) store.Group {
		g := store.Group{Key: make([]string, len(q.GroupBy))}
		i := 0
		for k, name := range q.GroupBy {
			gc := groupCols[name]
			switch {
			case gc.addr:
				g.Key[k] = r.addrText(i)
			case gc.port:
				g.Key[k] = strconv.Itoa(int(r.u16(i)))
			default:
				g.Key[k] = r.str(i)
			}
			i += len(gc.cols)
		}
		g.Flows, g.Packets, g.Bytes = r.u64(i), r.u64(i+1), r.u64(i+2)
		return g
	})
}

const txCols = `id, probe, ts, proto, transport, c_fam, c_hi, c_lo, c_port, s_fam, s_hi, s_lo, s_port,
	request_ns, response_ns, latency_ns, request_bytes, response_bytes, op, target, status, outcome, flags, fields`

// Transactions searches transactions, newest first (by request time,
// else response time), a page at a time. Target is a case-sensitive
// substring; Fields must all match (key and exact value).
func (s *Store) Transactions(ctx context.Context, q store.TxQuery) (*store.TxPage, error) {
	limit, cur, hasCur, err := storeutil.CheckTx(&q, txCursors)
	if err != nil {
		return nil, err
	}
	var w where
	if err := w.at("ts", q.TimeRange); err != nil {
		return nil, err
	}
	if err := w.in("probe", q.Probes, "probes"); err != nil {
		return nil, err
	}
	w.eq("proto", q.Proto)
	w.eq("outcome", q.Outcome)
	w.eq("op", q.Op)
	w.eq("status", q.Status)
	if q.Target != "" {
		w.add("contains(target, ?)", []any{encText(q.Target)})
	}
	if err := prefixCond(&w, "c", q.Client, "client"); err != nil {
		return nil, err
	}
	if err := prefixCond(&w, "s", q.Server, "server"); err != nil {
		return nil, err
	}
	if q.Port != 0 {
		w.add("s_port = ?", []any{q.Port})
	}
	if q.MinLatency > 0 {
		w.add("latency_ns >= ?", []any{int64(q.MinLatency)})
	}
	if q.Flag != "" {
		w.add("list_contains(flags, ?)", []any{encText(q.Flag)})
	}
	for _, k := range slices.Sorted(maps.Keys(q.Fields)) {
		w.add("list_contains(fields, {'k': ?::VARCHAR, 'v': ?::VARCHAR})", []any{encText(k), encText(q.Fields[k])})
	}
	rows, err := s.newestFirst(ctx, txCols, "transactions", "ts", &w, cur, hasCur, limit)
	if err != nil {
		return nil, err
	}
	got, err := collect(rows, 24, func(r *rowScanner) keyed[record.Transaction] {
		return keyed[record.Transaction]{storeutil.Cursor{TS: r.i64(2), ID: r.u64(0)}, record.Transaction{
			Probe: r.str(1), Proto: r.str(3), Transport: r.str(4),
			Client: r.addrPort(5), Server: r.addrPort(9),
			RequestTime: storeutil.NSTime(r.i64(13)), ResponseTime: storeutil.NSTime(r.i64(14)), Latency: time.Duration(r.i64(15)),
			RequestBytes: r.i64(16), ResponseBytes: r.i64(17),
			Op: r.str(18), Target: r.str(19), Status: r.str(20), Outcome: r.str(21),
			Flags: r.strList(22), Fields: r.fields(23),
		}}
	})
	if err != nil {
		return nil, err
	}
	page := &store.TxPage{}
	page.Transactions, page.Next = pageOf(got, limit, txCursors)
	return page, nil
}

// Traffic returns per-device traffic summed per probe, device and
// direction over the records overlapping [From, To), Start/End spanning
// them; ordered by probe, device, direction.
func (s *Store) Traffic(ctx context.Context, q store.TrafficQuery) ([]record.Traffic, error) {
	w, err := overlapOf(q.TimeRange, q.Probes)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT probe, device, direction, min(start_ns), max(end_ns), `+
		saturate("sum(packets)")+`, `+saturate("sum(bytes)")+` FROM traffic`+w.sql()+
		` GROUP BY probe, device, direction ORDER BY probe, device, direction`, w.args)
	if err != nil {
		return nil, err
	}
	return collect(rows, 7, func(r *rowScanner) record.Traffic {
		return record.Traffic{
			Probe: r.str(0), Device: r.str(1), Direction: r.str(2),
			Start: storeutil.NSTime(r.i64(3)), End: storeutil.NSTime(r.i64(4)), Packets: r.u64(5), Bytes: r.u64(6),
		}
	})
}

// Edges returns the map's edges over [From, To): records with the same
// (Client, Server, Transport, App, Port) summed per probe across periods,
// then the maximum of each measure taken across probes, so that a
// conversation two probes saw is not counted twice (store.Store.Edges);
// Start/End span them, the top Limit by bytes (ties by key). Probe is set
// when a single probe reported the edge, "" otherwise. LatencySum
// saturates at the largest Duration.
func (s *Store) Edges(ctx context.Context, q store.EdgeQuery) ([]record.Edge, error) {
	limit, err := storeutil.Limit(q.Limit)
	if err != nil {
		return nil, err
	}
	w, err := overlapOf(q.TimeRange, q.Probes)
	if err != nil {
		return nil, err
	}
	if err := w.in("app", q.Apps, "apps"); err != nil {
		return nil, err
	}
	const keys = `c_fam, c_hi, c_lo, s_fam, s_hi, s_lo, transport, app, port`
	rows, err := s.query(ctx, `SELECT `+keys+`,
		CASE WHEN count(*) = 1 THEN min(probe) ELSE '' END,
		min(s), max(e), max(f), max(p), max(b) AS b, max(rq), max(er), max(ls), max(lc), max(lm)
		FROM (SELECT `+keys+`, probe, min(start_ns) AS s, max(end_ns) AS e, `+
		saturate("sum(flows)")+` AS f, `+saturate("sum(packets)")+` AS p, `+saturate("sum(bytes)")+` AS b, `+
		saturate("sum(requests)")+` AS rq, `+saturate("sum(errors)")+` AS er,
			greatest(least(sum(latency_sum_ns), 9223372036854775807), -9223372036854775808)::BIGINT AS ls, `+
		saturate("sum(latency_count)")+` AS lc, max(latency_max_ns) AS lm
			FROM edges`+w.sql()+` GROUP BY `+keys+`, probe)
		GROUP BY `+keys+` ORDER BY b DESC, `+keys+` LIMIT ?`, append(w.args, limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, 20, func(r *rowScanner) record.Edge {
		return record.Edge{
			Client: r.addr(0), Server: r.addr(3), Transport: r.str(6), App: r.str(7), Port: r.u16(8), Probe: r.str(9),
			Start: storeutil.NSTime(r.i64(10)), End: storeutil.NSTime(r.i64(11)),
			Flows: r.u64(12), Packets: r.u64(13), Bytes: r.u64(14), Requests: r.u64(15), Errors: r.u64(16),
			LatencySum: time.Duration(r.i64(17)), LatencyCount: r.u64(18), LatencyMax: time.Duration(r.i64(19)),
		}
	})
}

// rowScanner scans a row into driver values and converts them with type
// checks: a value of an unexpected type (a corrupt or foreign database)
// becomes an error, never a panic.
type rowScanner struct {
	vals []any
	ptrs []any
	bad  error
}

func newRowScanner(n int) *rowScanner {
	r := &rowScanner{vals: make([]any, n), ptrs: make([]any, n)}
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	return r
}

func (r *rowScanner) scan(rows *sql.Rows) error {
	if err := rows.Scan(r.ptrs...); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

// collect converts every row of rows (closing them) with conv, which
// reads the row from the scanner; a value conv found wrong fails the
// query.
func collect[T any](rows *sql.Rows, cols int, conv func(*rowScanner) T) ([]T, error) {
	defer rows.Close()
	var out []T
	r := newRowScanner(cols)
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return nil, err
		}
		v := conv(r)
		if err := r.err(); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return out, nil
}

// newestFirst runs a keyset-paged query of cols over table: the rows
// matching w after the cursor (when hasCur), newest first by (tsCol, id),
// limit+1 of them so that pageOf can tell whether another page follows.
func (s *Store) newestFirst(ctx context.Context, cols, table, tsCol string, w *where, cur storeutil.Cursor, hasCur bool, limit int) (*sql.Rows, error) {
	if hasCur {
		w.after(tsCol, cur)
	}
	return s.query(ctx, `SELECT `+cols+` FROM `+table+w.sql()+` ORDER BY `+tsCol+` DESC, id DESC LIMIT ?`, append(w.args, limit+1))
}

// keyed is a row of a keyset-paged query with its sort key.
type keyed[T any] struct {
	key storeutil.Cursor
	v   T
}

// pageOf cuts the limit+1 rows a paged query asked for into a page and
// the cursor of the next one ("" when this page is the last).
func pageOf[T any](rows []keyed[T], limit int, codec storeutil.CursorCodec) (page []T, next string) {
	if len(rows) > limit {
		next = codec.Encode(rows[limit-1].key)
		rows = rows[:limit]
	}
	if len(rows) == 0 {
		return nil, ""
	}
	page = make([]T, len(rows))
	for i := range rows {
		page[i] = rows[i].v
	}
	return page, next
}

func (r *rowScanner) fail(i int, want string) {
	if r.bad == nil {
		r.bad = fmt.Errorf("duckdb: column %d: %T is not %s", i, r.vals[i], want)
	}
}

func (r *rowScanner) err() error {
	err := r.bad
	r.bad = nil
	return err
}

// column is column i as a T; another type fails the row (never a panic).
func column[T any](r *rowScanner, i int, want string) T {
	v, ok := r.vals[i].(T)
	if !ok {
		r.fail(i, want)
	}
	return v
}

func (r *rowScanner) str(i int) string {
	v, ok := r.vals[i].(string)
	if !ok {
		r.fail(i, "text")
		return ""
	}
	s, _ := r.dec(i, v)
	return s
}

func (r *rowScanner) bytes(i int) []byte {
	if r.vals[i] == nil {
		return nil
	}
	if v := column[[]byte](r, i, "a blob"); len(v) > 0 {
		return v
	}
	return nil
}

func (r *rowScanner) i64(i int) int64  { return column[int64](r, i, "int64") }
func (r *rowScanner) u64(i int) uint64 { return column[uint64](r, i, "uint64") }
func (r *rowScanner) u32(i int) uint32 { return column[uint32](r, i, "uint32") }
func (r *rowScanner) u16(i int) uint16 { return column[uint16](r, i, "uint16") }
func (r *rowScanner) u8(i int) uint8   { return column[uint8](r, i, "uint8") }
func (r *rowScanner) bool(i int) bool  { return column[bool](r, i, "bool") }

// addr reads the fam/hi/lo columns starting at i.
func (r *rowScanner) addr(i int) netip.Addr {
	a, err := joinAddr(r.u8(i), r.u64(i+1), r.u64(i+2))
	if err != nil && r.bad == nil {
		r.bad = fmt.Errorf("duckdb: column %d: %w", i, err)
	}
	return a
}

// addrText reads the fam/hi/lo columns starting at i as text (a group
// key).
func (r *rowScanner) addrText(i int) string {
	t, err := addrText(r.u8(i), r.u64(i+1), r.u64(i+2))
	if err != nil && r.bad == nil {
		r.bad = fmt.Errorf("duckdb: column %d: %w", i, err)
	}
	return t
}

// addrPort reads fam/hi/lo/port starting at i.
func (r *rowScanner) addrPort(i int) netip.AddrPort {
	return netip.AddrPortFrom(r.addr(i), r.u16(i+3))
}

// list reads column i, a list (NULL: nil), converting each element; an
// element conv refuses fails the row with what it expected.
func list[T any](r *rowScanner, i int, what string, conv func(any) (T, bool)) []T {
	switch v := r.vals[i].(type) {
	case nil:
		return nil
	case []any:
		out := make([]T, len(v))
		for j, e := range v {
			var ok bool
			if out[j], ok = conv(e); !ok {
				r.fail(i, what) // unless conv said why
				return nil
			}
		}
		return out
	}
	r.fail(i, "a list")
	return nil
}

func (r *rowScanner) strList(i int) []string {
	return list(r, i, "a list of text", func(e any) (string, bool) {
		s, ok := e.(string)
		if !ok {
			return "", false
		}
		return r.dec(i, s)
	})
}

func (r *rowScanner) fields(i int) []record.Field {
	return list(r, i, "a list of fields", func(e any) (record.Field, bool) {
		m, ok := e.(map[string]any)
		if !ok {
			return record.Field{}, false
		}
		k, ok1 := m["k"].(string)
		v, ok2 := m["v"].(string)
		if !ok1 || !ok2 {
			return record.Field{}, false
		}
		var f record.Field
		if f.Key, ok = r.dec(i, k); !ok {
			return f, false
		}
		f.Value, ok = r.dec(i, v)
		return f, ok
	})
}

func (r *rowScanner) dec(i int, s string) (string, bool) {
	d, err := decText(s)
	if err != nil {
		if r.bad == nil {
			r.bad = fmt.Errorf("duckdb: column %d: %w", i, err)
		}
		return "", false
	}
	return d, true
}
