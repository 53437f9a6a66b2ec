package clickhouse

import (
	"context"
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

// where collects the conditions of a statement, values already quoted.
type where struct{ conds []string }

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

// eq adds "col = value" for a non-empty value.
func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col + " = " + lit(v))
	}
}

// in adds "col IN (...)" for a non-empty list.
func (w *where) in(col string, vals []string, what string) error {
	if len(vals) == 0 {
		return nil
	}
	if err := storeutil.CheckList(len(vals), what); err != nil {
		return err
	}
	w.add(col + " IN " + litList(vals))
	return nil
}

func (w *where) prefix(x string, p netip.Prefix, what string) error {
	c, err := prefixCond(x, p, what)
	if err != nil {
		return err
	}
	if c != "" {
		w.add(c)
	}
	return nil
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// visible adds what makes a row count: its write committed (once per
// batch) and its time not behind the retention cutoff. from and to bound
// the batches looked at: a batch's [min_ns, max_ns] covers every time of
// its rows, so a row in [from, to) belongs to a batch overlapping it.
func (s *Store) visible(w *where, endCol string, from, to int64) {
	cutoff := s.cutoff.Load()
	var bw where
	bw.add("min_ns < " + i64(to))
	if lo := max(from, cutoff); lo != math.MinInt64 {
		bw.add("max_ns >= " + i64(lo))
	}
	if cutoff != math.MinInt64 {
		w.add(endCol + " >= " + i64(cutoff))
	}
	w.add("wid IN (SELECT min(wid) FROM batches" + bw.sql() + " GROUP BY probe, spool_id, seq)")
}

// overlap adds "the row's [start, end) overlaps [from, to)", and a lower
// bound on start that the primary key (start first) can use: a row
// reaching from started at most the longest duration of its batch
// before it. It returns that bound (math.MinInt64 for none).
func (s *Store) overlap(ctx context.Context, w *where, from, to int64, inclusiveEnd bool) (int64, error) {
	w.add("start_ns < " + i64(to))
	if from == math.MinInt64 {
		return math.MinInt64, nil
	}
	op := " > "
	if inclusiveEnd {
		op = " >= "
	}
	w.add("end_ns" + op + i64(from))
	d, err := s.query(ctx, "SELECT count(), max(span_ns) FROM batches WHERE min_ns < "+i64(to)+" AND max_ns >= "+i64(from))
	if err != nil {
		return 0, err
	}
	n, longest := d.u64(), d.i64()
	if d.err != nil {
		return 0, d.err
	}
	if n == 0 || longest < 0 {
		longest = 0
	}
	if longest == math.MaxInt64 || from <= math.MinInt64+longest {
		return math.MinInt64, nil // a record without a start reaches anything
	}
	floor := from - longest
	w.add("start_ns >= " + i64(floor))
	return floor, nil
}

// overlapOf is the conditions of a query over the visible records of
// the given probes (every probe when empty) that overlap tr.
func (s *Store) overlapOf(ctx context.Context, tr store.TimeRange, probes []string) (*where, error) {
	from, to, err := storeutil.Range(tr)
	if err != nil {
		return nil, err
	}
	w := &where{}
	if err := w.in("probe", probes, "probes"); err != nil {
		return nil, err
	}
	if _, err := s.overlap(ctx, w, from, to, false); err != nil {
		return nil, err
	}
	s.visible(w, "end_ns", from, to)
	return w, nil
}

// Page cursors: the last row's (time, wid, idx).
var (
	flowCursors = storeutil.CursorCodec{Kind: 'F', Idx: true}
	txCursors   = storeutil.CursorCodec{Kind: 'T', Idx: true}
)

// after adds the keyset condition "(col, wid, idx) < cursor" of a newest
// first ordering.
func (w *where) after(col string, c storeutil.Cursor) {
	w.add("(" + col + ", wid, idx) < (" + i64(c.TS) + ", " + u64(c.ID) + ", " + strconv.FormatUint(uint64(c.Idx), 10) + ")")
}

func (s *Store) query(ctx context.Context, stmt string) (*decoder, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	return s.c.query(ctx, stmt)
}

// Probes returns every probe's status, by ID.
func (s *Store) Probes(ctx context.Context) ([]record.ProbeStatus, error) {
	d, err := s.query(ctx, `SELECT probe, minMerge(first_seen), maxMerge(last_report), argMaxMerge(info),
		argMaxMerge(last_seq), sumMerge(batches), sumMerge(records), argMaxIfMerge(own_loss)
		FROM probe_status GROUP BY probe ORDER BY probe`)
	if err != nil {
		return nil, err
	}
	var out []record.ProbeStatus
	index := map[string]int{}
	for !d.done() {
		var st record.ProbeStatus
		id := d.str()
		first, last := d.i64(), d.i64()
		info := d.blob()
		st.LastSeq, st.Batches, st.Records = d.u64(), d.u64(), d.u64()
		loss := d.blob()
		if d.err != nil {
			return nil, d.err
		}
		if err := storeutil.DecodeGob(info, &st.Info); err != nil {
			return nil, fmt.Errorf("clickhouse: corrupt probe info: %w", err)
		}
		if loss != nil {
			if err := storeutil.DecodeGob(loss, &st.Loss); err != nil {
				return nil, fmt.Errorf("clickhouse: corrupt probe loss: %w", err)
			}
		}
		st.FirstSeen, st.LastReport = storeutil.NSTime(first), storeutil.NSTime(last)
		index[id] = len(out)
		out = append(out, st)
	}
	if d.err != nil {
		return nil, d.err
	}
	// The center's counters, summed over every batch.
	d, err = s.query(ctx, `SELECT probe, key, sum(n) FROM center_loss GROUP BY probe, key`)
	if err != nil {
		return nil, err
	}
	for !d.done() {
		id, key, n := d.str(), d.str(), d.u64()
		i, ok := index[id]
		if !ok || d.err != nil {
			continue
		}
		if out[i].Loss == nil {
			out[i].Loss = map[string]uint64{}
		}
		out[i].Loss[key] = n
	}
	return out, d.err
}

// Windows returns the windows overlapping [From, To), oldest first.
func (s *Store) Windows(ctx context.Context, q store.WindowQuery) ([]record.Window, error) {
	limit, err := storeutil.Limit(q.Limit)
	if err != nil {
		return nil, err
	}
	w, err := s.overlapOf(ctx, q.TimeRange, q.Probes)
	if err != nil {
		return nil, err
	}
	d, err := s.query(ctx, `SELECT probe, start_ns, end_ns, summary, packets, bytes FROM windows`+w.sql()+
		` ORDER BY start_ns, wid, idx LIMIT `+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	var out []record.Window
	for !d.done() {
		win := record.Window{Probe: d.str(), Start: storeutil.NSTime(d.i64()), End: storeutil.NSTime(d.i64()), Summary: d.blob(),
			Packets: d.u64(), Bytes: d.u64()}
		out = append(out, win)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// flowWhere adds a FlowFilter's conditions (not the visibility) and
// returns the range's bounds and the floor of the flows' start.
func (s *Store) flowWhere(ctx context.Context, w *where, f *store.FlowFilter) (from, to, floor int64, err error) {
	from, to, err = storeutil.Range(f.TimeRange)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := w.in("probe", f.Probes, "probes"); err != nil {
		return 0, 0, 0, err
	}
	w.eq("transport", f.Transport)
	w.eq("app", f.App)
	w.eq("device", f.Device)
	if f.Port != 0 {
		w.add("s_port = " + strconv.Itoa(int(f.Port)))
	}
	if f.Host != (netip.Prefix{}) {
		c, err := prefixCond("c", f.Host, "host")
		if err != nil {
			return 0, 0, 0, err
		}
		sv, _ := prefixCond("s", f.Host, "host")
		w.add("(" + c + " OR " + sv + ")")
	}
	if err := w.prefix("c", f.Client, "client"); err != nil {
		return 0, 0, 0, err
	}
	if err := w.prefix("s", f.Server, "server"); err != nil {
		return 0, 0, 0, err
	}
	// Bad filters are refused before the store is asked anything.
	floor, err = s.overlap(ctx, w, from, to, true)
	return from, to, floor, err
}

// Paging newest first: ClickHouse 18.16 reads and sorts every row a
// query selects before it applies LIMIT, so a page of the newest flows
// among millions would cost seconds. newestFirst asks for the rows of a
// time window below upper, widened 16-fold until it holds more than limit
// rows or reaches floor: the primary key (time first) lets a narrow window
// read only its own granules. The answer is the full query's, since every
// row outside the window is older than every row in it.
const (
	firstWindow  = 10 * int64(time.Minute)
	windowGrowth = 16
)

// newestFirst runs stmt(lo) — the query restricted to times ≥ lo, or
// unrestricted for math.MinInt64 — with lo going down from upper until
// read reports more than limit rows or lo reaches floor.
func (s *Store) newestFirst(ctx context.Context, floor, upper int64, limit int,
	stmt func(lo int64) string, read func(*decoder) (int, error)) error {
	width := firstWindow
	for {
		lo := floor // math.MinInt64: no bound
		if width < math.MaxInt64 && upper > math.MinInt64+width && upper-width > floor {
			lo = upper - width
		}
		d, err := s.query(ctx, stmt(lo))
		if err != nil {
			return err
		}
		n, err := read(d)
		if err != nil {
			return err
		}
		if n > limit || lo == floor {
			return nil
		}
		if width > math.MaxInt64/windowGrowth {
			width = math.MaxInt64
		} else {
			width *= windowGrowth
		}
	}
}

const flowSelect = `probe, start_ns, end_ns, transport, c_fam, c_addr, c_port, s_fam, s_addr, s_port,
	app, device, vlan, tunnel, packets_cs, packets_sc, bytes_cs, bytes_sc, retrans_cs, retrans_sc, rtt_ns, state, ended, wid, idx`

// Flows returns flow records matching the filter, newest first (by
// Start), a page at a time.
func (s *Store) Flows(ctx context.Context, q store.FlowQuery) (*store.FlowPage, error) {
	limit, cur, hasCur, err := storeutil.Page(q.Limit, q.Cursor, flowCursors)
	if err != nil {
		return nil, err
	}
	var w where
	from, to, floor, err := s.flowWhere(ctx, &w, &q.FlowFilter)
	if err != nil {
		return nil, err
	}
	upper := to - 1
	if hasCur {
		w.after("start_ns", cur)
		upper = min(upper, cur.TS)
	}
	page := &store.FlowPage{}
	stmt := func(lo int64) string {
		w := where{conds: slices.Clone(w.conds)}
		if lo != math.MinInt64 {
			w.add("start_ns >= " + i64(lo))
		}
		// A flow starting at lo or later is in a batch whose times reach lo.
		s.visible(&w, "end_ns", max(from, lo), to)
		return `SELECT ` + flowSelect + ` FROM flows` + w.sql() + ` ORDER BY start_ns DESC, wid DESC, idx DESC LIMIT ` + strconv.Itoa(limit+1)
	}
	read := func(d *decoder) (int, error) {
		return readPage(d, limit, flowCursors, (*decoder).readFlow, &page.Flows, &page.Next)
	}
	if err := s.newestFirst(ctx, floor, upper, limit, stmt, read); err != nil {
		return nil, err
	}
	return page, nil
}

// readFlow reads one row of flowSelect.
func (d *decoder) readFlow() (record.Flow, storeutil.Cursor) {
	f := record.Flow{Probe: d.str()}
	start, end := d.i64(), d.i64()
	f.Start, f.End = storeutil.NSTime(start), storeutil.NSTime(end)
	f.Transport = d.str()
	f.Client = d.addrPort()
	f.Server = d.addrPort()
	f.App, f.Device = d.str(), d.str()
	f.VLAN, f.TunnelID = d.u16(), d.u32()
	f.Packets = [2]uint64{d.u64(), d.u64()}
	f.Bytes = [2]uint64{d.u64(), d.u64()}
	f.Retransmissions = [2]uint64{d.u64(), d.u64()}
	f.RTT = time.Duration(d.i64())
	f.State = d.str()
	f.Ended = d.boolean()
	return f, storeutil.Cursor{TS: start, ID: d.u64(), Idx: d.u32()}
}

// readPage reads the answer of one newestFirst query, limit+1 rows at
// most, into rows (the first limit) and next (the cursor after them, ""
// when the answer had no more), and returns how many rows it had.
func readPage[T any](d *decoder, limit int, codec storeutil.CursorCodec, readRow func(*decoder) (T, storeutil.Cursor),
	rows *[]T, next *string) (int, error) {
	*rows, *next = (*rows)[:0], ""
	n := 0
	var last storeutil.Cursor
	for !d.done() {
		r, c := readRow(d)
		if n++; n <= limit {
			*rows = append(*rows, r)
			last = c
		}
	}
	if n > limit {
		*next = codec.Encode(last)
	}
	return n, d.err
}

// addrPort reads c_fam, c_addr, c_port (or the server's).
func (d *decoder) addrPort() netip.AddrPort {
	a := d.addr()
	return netip.AddrPortFrom(a, d.u16())
}

func (d *decoder) addr() netip.Addr {
	fam := d.u8()
	b := d.fixed16()
	if d.err != nil {
		return netip.Addr{}
	}
	a, err := joinAddr(fam, b)
	if err != nil {
		d.fail(err)
	}
	return a
}

// groupCol is how one GroupBy column is selected and read back as text.
type groupCol struct {
	cols []string // 1 column, or fam and addr of an address
	addr bool
	port bool
}

var groupCols = map[string]groupCol{
	store.ColProbe:     {cols: []string{"probe"}},
	store.ColClient:    {cols: []string{"c_fam", "c_addr"}, addr: true},
	store.ColServer:    {cols: []string{"s_fam", "s_addr"}, addr: true},
	store.ColHost:      {cols: []string{"h_fam", "h_addr"}, addr: true},
	store.ColPort:      {cols: []string{"s_port"}, port: true},
	store.ColApp:       {cols: []string{"app"}},
	store.ColTransport: {cols: []string{"transport"}},
	store.ColDevice:    {cols: []string{"device"}},
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
	from, to, _, err := s.flowWhere(ctx, &w, &q.FlowFilter)
	if err != nil {
		return nil, err
	}
	s.visible(&w, "end_ns", from, to)
	src := "flows" + w.sql()
	if host {
		// Each flow once for its client and once for its server; a flow
		// between an address and itself once.
		var need []string
		for _, k := range keys {
			if !strings.HasPrefix(k, "h_") {
				need = append(need, k)
			}
		}
		need = append(need, "packets_cs", "packets_sc", "bytes_cs", "bytes_sc",
			"arrayJoin(if(c_fam = s_fam AND c_addr = s_addr, [(c_fam, c_addr)], [(c_fam, c_addr), (s_fam, s_addr)])) AS h")
		src = `(SELECT ` + strings.Join(need, ", ") + ` FROM flows` + w.sql() + `)`
		keys = slices.Clone(keys)
		for i, k := range keys {
			switch k {
			case "h_fam":
				keys[i] = "tupleElement(h, 1) AS h_fam"
			case "h_addr":
				keys[i] = "tupleElement(h, 2) AS h_addr"
			}
		}
	}
	keyNames := make([]string, len(keys))
	for i, k := range keys {
		keyNames[i] = k
		if j := strings.LastIndex(k, " AS "); j >= 0 {
			keyNames[i] = k[j+4:]
		}
	}
	stmt := `SELECT ` + strings.Join(keys, ", ") + `, toUInt64(count()) AS flows, ` +
		satSum("packets_cs", "packets_sc") + ` AS packets, ` + satSum("bytes_cs", "bytes_sc") + ` AS bytes FROM ` + src +
		` GROUP BY ` + strings.Join(keyNames, ", ") + ` ORDER BY ` + orderCol + ` DESC, ` + strings.Join(keyNames, ", ") +
		` LIMIT ` + strconv.Itoa(limit)
	d, err := s.query(ctx, stmt)
	if err != nil {
		return nil, err
	}
	var out []store.Group
	for !d.done() {
		g := store.Group{Key: make([]string, len(q.GroupBy))}
		for k, name := range q.GroupBy {
			gc := groupCols[name]
			switch {
			case gc.addr:
				a := d.addr()
				if a.IsValid() {
					g.Key[k] = a.String()
				}
			case gc.port:
				g.Key[k] = strconv.Itoa(int(d.u16()))
			default:
				g.Key[k] = d.str()
			}
		}
		g.Flows, g.Packets, g.Bytes = d.u64(), d.u64(), d.u64()
		out = append(out, g)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

const txSelect = `probe, ts, proto, transport, c_fam, c_addr, c_port, s_fam, s_addr, s_port,
	request_ns, response_ns, latency_ns, request_bytes, response_bytes, op, target, status, outcome,
	flags, field_keys, field_values, nil_lists, wid, idx`

// readTx reads one row of txSelect.
func (d *decoder) readTx() (record.Transaction, storeutil.Cursor) {
	t := record.Transaction{Probe: d.str()}
	ts := d.i64()
	t.Proto, t.Transport = d.str(), d.str()
	t.Client, t.Server = d.addrPort(), d.addrPort()
	t.RequestTime, t.ResponseTime = storeutil.NSTime(d.i64()), storeutil.NSTime(d.i64())
	t.Latency = time.Duration(d.i64())
	t.RequestBytes, t.ResponseBytes = d.i64(), d.i64()
	t.Op, t.Target, t.Status, t.Outcome = d.str(), d.str(), d.str(), d.str()
	t.Flags = d.strs()
	keys, vals := d.strs(), d.strs()
	nilLists := d.u8()
	if len(keys) != len(vals) && d.err == nil {
		d.fail(fmt.Errorf("clickhouse: transaction with %d field keys and %d values", len(keys), len(vals)))
	}
	if nilLists&1 != 0 && len(t.Flags) == 0 {
		t.Flags = nil
	}
	if nilLists&2 == 0 || len(keys) > 0 {
		t.Fields = make([]record.Field, len(keys))
		for i := range keys {
			if i < len(vals) {
				t.Fields[i] = record.Field{Key: keys[i], Value: vals[i]}
			}
		}
	}
	return t, storeutil.Cursor{TS: ts, ID: d.u64(), Idx: d.u32()}
}

// Transactions searches transactions, newest first (by request time,
// else response time), a page at a time. Target is a case-sensitive
// substring; Fields must all match (key and exact value).
func (s *Store) Transactions(ctx context.Context, q store.TxQuery) (*store.TxPage, error) {
	limit, cur, hasCur, err := storeutil.CheckTx(&q, txCursors)
	if err != nil {
		return nil, err
	}
	from, to, err := storeutil.Range(q.TimeRange)
	if err != nil {
		return nil, err
	}
	var w where
	txTime(&w, from, to)
	if err := w.in("probe", q.Probes, "probes"); err != nil {
		return nil, err
	}
	w.eq("proto", q.Proto)
	w.eq("outcome", q.Outcome)
	w.eq("op", q.Op)
	w.eq("status", q.Status)
	if q.Target != "" {
		w.add("position(target, " + lit(q.Target) + ") > 0")
	}
	if err := w.prefix("c", q.Client, "client"); err != nil {
		return nil, err
	}
	if err := w.prefix("s", q.Server, "server"); err != nil {
		return nil, err
	}
	if q.Port != 0 {
		w.add("s_port = " + strconv.Itoa(int(q.Port)))
	}
	if q.MinLatency > 0 {
		w.add("latency_ns >= " + i64(int64(q.MinLatency)))
	}
	if q.Flag != "" {
		w.add("has(flags, " + lit(q.Flag) + ")")
	}
	for _, k := range slices.Sorted(maps.Keys(q.Fields)) {
		w.add("arrayExists((k, v) -> k = " + lit(k) + " AND v = " + lit(q.Fields[k]) + ", field_keys, field_values)")
	}
	upper := to - 1
	if hasCur {
		w.after("ts", cur)
		upper = min(upper, cur.TS)
	}
	page := &store.TxPage{}
	err = s.newestFirst(ctx, from, upper, limit, s.txStmt(&w, from, to, limit+1), func(d *decoder) (int, error) {
		return readPage(d, limit, txCursors, (*decoder).readTx, &page.Transactions, &page.Next)
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// txStmt is the newest first query of transactions under w, for
// newestFirst.
func (s *Store) txStmt(w *where, from, to int64, limit int) func(lo int64) string {
	return func(lo int64) string {
		w := where{conds: slices.Clone(w.conds)}
		if lo != math.MinInt64 {
			w.add("ts >= " + i64(lo))
		}
		s.visible(&w, "ts", max(from, lo), to)
		return `SELECT ` + txSelect + ` FROM transactions` + w.sql() + ` ORDER BY ts DESC, wid DESC, idx DESC LIMIT ` + strconv.Itoa(limit)
	}
}

// txTime adds "ts in [from, to)".
func txTime(w *where, from, to int64) {
	w.add("ts < " + i64(to))
	if from != math.MinInt64 {
		w.add("ts >= " + i64(from))
	}
}

// Traffic returns per-device traffic summed per probe, device and
// direction over the records overlapping [From, To), Start/End spanning
// them; ordered by probe, device, direction.
func (s *Store) Traffic(ctx context.Context, q store.TrafficQuery) ([]record.Traffic, error) {
	w, err := s.overlapOf(ctx, q.TimeRange, q.Probes)
	if err != nil {
		return nil, err
	}
	d, err := s.query(ctx, `SELECT probe, device, direction, min(start_ns), max(end_ns), `+
		satSum("packets")+`, `+satSum("bytes")+` FROM traffic`+w.sql()+
		` GROUP BY probe, device, direction ORDER BY probe, device, direction`)
	if err != nil {
		return nil, err
	}
	var out []record.Traffic
	for !d.done() {
		t := record.Traffic{Probe: d.str(), Device: d.str(), Direction: d.str(),
			Start: storeutil.NSTime(d.i64()), End: storeutil.NSTime(d.i64()), Packets: d.u64(), Bytes: d.u64()}
		out = append(out, t)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// Extent is the span of the stored summary windows.
func (s *Store) Extent(ctx context.Context) (store.TimeRange, error) {
	var w where
	w.add("start_ns > " + i64(storeutil.NoTime))
	s.visible(&w, "end_ns", math.MinInt64, math.MaxInt64)
	d, err := s.query(ctx, `SELECT count(), min(start_ns), max(end_ns) FROM windows`+w.sql())
	if err != nil {
		return store.TimeRange{}, err
	}
	n, lo, hi := d.u64(), d.i64(), d.i64()
	if d.err != nil || n == 0 {
		return store.TimeRange{}, d.err
	}
	return store.TimeRange{From: storeutil.NSTime(lo), To: storeutil.NSTime(hi)}, nil
}

// Edges returns the map's edges over [From, To): records with the same
// (Client, Server, Transport, App, Port) summed per probe across periods,
// then the maximum across probes (two probes that see one conversation
// each report all of it); Start/End span every record; the top Limit by
// bytes (ties by key). Probe is set when a single probe reported the
// edge, "" otherwise.
func (s *Store) Edges(ctx context.Context, q store.EdgeQuery) ([]record.Edge, error) {
	limit, err := storeutil.Limit(q.Limit)
	if err != nil {
		return nil, err
	}
	if err := storeutil.CheckList(len(q.Apps), "apps"); err != nil {
		return nil, err
	}
	w, err := s.overlapOf(ctx, q.TimeRange, q.Probes)
	if err != nil {
		return nil, err
	}
	if err := w.in("app", q.Apps, "apps"); err != nil {
		return nil, err
	}
	const keys = `c_fam, c_addr, s_fam, s_addr, transport, app, port`
	d, err := s.query(ctx, `SELECT `+keys+`, if(min(probe) = max(probe), min(probe), ''),
		min(lo), max(hi), max(f), max(p), max(b) AS mb, max(r), max(e), max(ls), max(lc), max(lm)
		FROM (SELECT probe, `+keys+`, min(start_ns) AS lo, max(end_ns) AS hi,
			`+satSum("flows")+` AS f, `+satSum("packets")+` AS p, `+satSum("bytes")+` AS b,
			`+satSum("requests")+` AS r, `+satSum("errors")+` AS e,
			`+satSumI64("latency_sum_ns")+` AS ls, `+satSum("latency_count")+` AS lc, max(latency_max_ns) AS lm
			FROM edges`+w.sql()+` GROUP BY probe, `+keys+`)
		GROUP BY `+keys+` ORDER BY mb DESC, `+keys+` LIMIT `+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	var out []record.Edge
	for !d.done() {
		var e record.Edge
		e.Client, e.Server = d.addr(), d.addr()
		e.Transport, e.App, e.Port = d.str(), d.str(), d.u16()
		e.Probe = d.str()
		e.Start, e.End = storeutil.NSTime(d.i64()), storeutil.NSTime(d.i64())
		e.Flows, e.Packets, e.Bytes, e.Requests, e.Errors = d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
		e.LatencySum, e.LatencyCount, e.LatencyMax = time.Duration(d.i64()), d.u64(), time.Duration(d.i64())
		out = append(out, e)
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}
