package storetest

import (
	"math"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// base is where a test's records start: recent enough that no retention
// of MaxAge touches them, far enough that a zero To (now) covers them.
func base() time.Time { return time.Now().UTC().Truncate(time.Minute).Add(-3 * time.Hour) }

const span = 2 * time.Hour

func lastSeq(t *testing.T, s store.Store, probe, spool string, want uint64) {
	t.Helper()
	got, err := s.LastSeq(ctx(t), probe, spool)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("LastSeq(%q, %q) = %d, want %d", probe, spool, got, want)
	}
}

// checkStored compares every flow, transaction and window the store
// answers (no filter) with what d holds.
func checkStored(t *testing.T, s store.Store, d *data) {
	t.Helper()
	flows := allFlows(t, s, store.FlowQuery{Limit: 700})
	sameMultiset(t, "flows", mapSlice(flows, canonFlow), mapSlice(d.flows, canonFlow))
	txs := allTxs(t, s, store.TxQuery{Limit: 700})
	sameMultiset(t, "transactions", mapSlice(txs, canonTx), mapSlice(d.txs, canonTx))
	wins, err := s.Windows(ctx(t), store.WindowQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	sameMultiset(t, "windows", mapSlice(wins, canonWindow), mapSlice(d.windows, canonWindow))
}

// testWriteDedup: the dedup key is (probe, spool ID); a batch is a
// duplicate iff one of the same pair with a Seq at least as high was
// stored, and a duplicate stores nothing.
func testWriteDedup(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(1, base(), span)
	now := time.Now()
	var d data
	stored, dups := 0, 0
	ok := func(b *record.Batch) { write(t, s, b, now); d.add(b); stored++ }
	dup := func(b *record.Batch) { writeDup(t, s, b, now); dups++ }

	b1 := g.batch("p1", "s1", 1, 20)
	ok(b1)
	dup(b1)
	dup(g.batch("p1", "s1", 1, 20)) // other records, same key: still a duplicate
	lastSeq(t, s, "p1", "s1", 1)
	lastSeq(t, s, "p1", "s2", 0)
	lastSeq(t, s, "p9", "s1", 0)

	ok(g.batch("p1", "s1", 3, 5))
	dup(g.batch("p1", "s1", 2, 5)) // below the last Seq, though never stored
	// A new spool starts a new sequence.
	ok(g.batch("p1", "s2", 1, 5))
	lastSeq(t, s, "p1", "s2", 1)
	lastSeq(t, s, "p1", "s1", 3)
	// A late batch of the older spool is deduped against its own spool.
	ok(g.batch("p1", "s1", 4, 5))
	dup(g.batch("p1", "s1", 4, 5))
	dup(g.batch("p1", "s2", 1, 5))
	lastSeq(t, s, "p1", "s1", 4)
	// The empty spool ID is a spool like another.
	ok(g.batch("p1", "", 1, 5))
	dup(g.batch("p1", "", 1, 5))
	lastSeq(t, s, "p1", "", 1)
	// The same spool ID under another probe is another key.
	ok(g.batch("p2", "s1", 1, 5))
	lastSeq(t, s, "p2", "s1", 1)
	// A batch without records still counts.
	ok(&record.Batch{Probe: record.ProbeInfo{ID: "p3"}, SpoolID: "x", Seq: 9})
	dup(&record.Batch{Probe: record.ProbeInfo{ID: "p3"}, SpoolID: "x", Seq: 9})
	lastSeq(t, s, "p3", "x", 9)

	checkStored(t, s, &d)
	st := s.Stats()
	if st.Batches != uint64(stored) || st.Duplicates != uint64(dups) {
		t.Errorf("stats: %d batches, %d duplicates; want %d, %d", st.Batches, st.Duplicates, stored, dups)
	}
	if st.Rows["flows"] != uint64(len(d.flows)) || st.Rows["transactions"] != uint64(len(d.txs)) {
		t.Errorf("stats: rows %v; want %d flows, %d transactions", st.Rows, len(d.flows), len(d.txs))
	}
}

// testBadBatches: a batch that cannot be stored is an error (never a
// panic) and leaves nothing behind.
func testBadBatches(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(2, base(), span)
	now := time.Now()
	if _, err := s.Write(ctx(t), nil, now); err == nil {
		t.Error("a nil batch was accepted")
	}
	noID := g.batch("", "s", 1, 3)
	if _, err := s.Write(ctx(t), noID, now); err == nil {
		t.Error("a batch without a probe ID was accepted")
	}
	for _, when := range []time.Time{time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		b := g.batch("p1", "s", 1, 3)
		b.Flows[1].End = when
		if _, err := s.Write(ctx(t), b, now); err == nil {
			t.Errorf("a flow ending %v was accepted", when)
		}
		b = g.batch("p1", "s", 1, 3)
		b.Transactions[2].ResponseTime = when
		if _, err := s.Write(ctx(t), b, now); err == nil {
			t.Errorf("a transaction answered %v was accepted", when)
		}
	}
	if s.Stats().WriteErrors == 0 {
		t.Error("refused batches are not counted in WriteErrors")
	}
	lastSeq(t, s, "p1", "s", 0)
	checkStored(t, s, &data{})
	// The store still works.
	var d data
	b := g.batch("p1", "s", 1, 3)
	write(t, s, b, now)
	d.add(b)
	checkStored(t, s, &d)
}

// testProbes: the status of each probe follows its stored batches; a
// duplicate changes nothing.
func testProbes(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	g := newGen(3, base(), span)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Microsecond).Add(123) // ns precision
	info := func(v string) record.ProbeInfo {
		return record.ProbeInfo{ID: "p1", Hostname: "node-1", Version: v, Labels: map[string]string{"env": "prod", "v": v},
			Devices: []string{"eth0", "any"}, Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fe80::1")},
			Started: t0.Add(-time.Hour)}
	}
	const cx, cy = store.CenterLossPrefix + "invalid_records_x", store.CenterLossPrefix + "invalid_records_y"
	b1 := g.batch("p1", "s1", 1, 4)
	b1.Probe, b1.Loss = info("1"), map[string]uint64{"a": 1, cx: 2}
	b2 := g.batch("p1", "s1", 2, 6)
	b2.Probe, b2.Loss = info("2"), map[string]uint64{"a": 2, "b": 1 << 62, cx: 3}
	b3 := g.batch("p1", "s2", 1, 3) // a new spool; no loss counters: the stored ones stay
	b3.Probe, b3.Loss = info("3"), nil
	b4 := g.batch("p1", "s2", 2, 1) // only the center's counters: added, the probe's stay
	b4.Probe, b4.Loss = info("4"), map[string]uint64{cy: 4}
	q := g.batch("q1", "s1", 5, 2)
	q.Loss = nil
	write(t, s, b1, t0)
	write(t, s, b2, t0.Add(time.Second))
	write(t, s, q, t0.Add(1500*time.Millisecond))
	write(t, s, b3, t0.Add(2*time.Second))
	write(t, s, b4, t0.Add(2500*time.Millisecond))
	dupB := g.batch("p1", "s1", 2, 1)
	dupB.Probe, dupB.Loss = info("dup"), map[string]uint64{"a": 99, cx: 100}
	writeDup(t, s, dupB, t0.Add(3*time.Second))

	ps, err := s.Probes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Info.ID != "p1" || ps[1].Info.ID != "q1" {
		t.Fatalf("probes %+v; want p1 and q1, by ID", ps)
	}
	records := uint64(b1.Records() + b2.Records() + b3.Records() + b4.Records())
	want := record.ProbeStatus{Info: info("4"), FirstSeen: t0, LastReport: t0.Add(2500 * time.Millisecond), LastSeq: 2, Batches: 4,
		Records: records, Loss: map[string]uint64{"a": 2, "b": 1 << 62, cx: 5, cy: 4}}
	sameStatus(t, ps[0], want)
	sameStatus(t, ps[1], record.ProbeStatus{Info: q.Probe, FirstSeen: t0.Add(1500 * time.Millisecond),
		LastReport: t0.Add(1500 * time.Millisecond), LastSeq: 5, Batches: 1, Records: uint64(q.Records())})

	// The probe's own counters are cumulative: a batch that has some
	// replaces them all (b is gone); the center's stay summed.
	b5 := g.batch("p1", "s2", 3, 1)
	b5.Probe, b5.Loss = info("5"), map[string]uint64{"a": 7}
	write(t, s, b5, t0.Add(4*time.Second))
	if ps, err = s.Probes(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want.Info, want.LastReport, want.LastSeq, want.Batches = info("5"), t0.Add(4*time.Second), 3, 5
	want.Records += uint64(b5.Records())
	want.Loss = map[string]uint64{"a": 7, cx: 5, cy: 4}
	sameStatus(t, ps[0], want)
}

func sameStatus(t *testing.T, got, want record.ProbeStatus) {
	t.Helper()
	if !got.Info.Started.Equal(want.Info.Started) || !got.FirstSeen.Equal(want.FirstSeen) || !got.LastReport.Equal(want.LastReport) {
		t.Errorf("probe %s times: started %v first %v last %v; want %v %v %v", want.Info.ID,
			got.Info.Started, got.FirstSeen, got.LastReport, want.Info.Started, want.FirstSeen, want.LastReport)
	}
	gi, wi := got.Info, want.Info
	gi.Started, wi.Started = time.Time{}, time.Time{}
	if !reflect.DeepEqual(gi, wi) {
		t.Errorf("probe %s info %+v; want %+v", want.Info.ID, gi, wi)
	}
	if got.LastSeq != want.LastSeq || got.Batches != want.Batches || got.Records != want.Records {
		t.Errorf("probe %s: last seq %d, %d batches, %d records; want %d, %d, %d", want.Info.ID,
			got.LastSeq, got.Batches, got.Records, want.LastSeq, want.Batches, want.Records)
	}
	if !reflect.DeepEqual(got.Loss, want.Loss) {
		t.Errorf("probe %s loss %v; want %v", want.Info.ID, got.Loss, want.Loss)
	}
}

// testRoundTrip: every field of every record comes back as written,
// whatever its bytes: awkward strings, extreme counters, IPv4-mapped and
// zero addresses, zero times, nil and empty lists.
func testRoundTrip(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	at := base()
	b := &record.Batch{Probe: record.ProbeInfo{ID: "rt"}, SpoolID: "s", Seq: 1}
	for i, str := range awkward {
		off := time.Duration(i) * time.Second
		b.Flows = append(b.Flows, record.Flow{Probe: "rt", Start: at.Add(off), End: at.Add(off + 999),
			Transport: str, Client: netip.MustParseAddrPort("192.168.1.2:40000"), Server: netip.MustParseAddrPort("[2001:db8::1]:443"),
			App: str, Device: str, VLAN: 4095, TunnelID: math.MaxUint32,
			Packets: [2]uint64{1, math.MaxUint64}, Bytes: [2]uint64{1 << 63, 2}, Retransmissions: [2]uint64{3, 4},
			RTT: 1234567, State: str, Ended: i%2 == 0})
		b.Transactions = append(b.Transactions, record.Transaction{Probe: "rt", Proto: str, Transport: "tcp",
			Client: netip.MustParseAddrPort("[2001:db8::2]:5555"), Server: netip.MustParseAddrPort("10.9.8.7:80"),
			RequestTime: at.Add(off), ResponseTime: at.Add(off + 5), Latency: 5, RequestBytes: -1, ResponseBytes: 1 << 62,
			Op: str, Target: str, Status: str, Outcome: str, Flags: []string{str, "sqli"},
			Fields: []record.Field{{Key: str, Value: str}, {Key: "k", Value: ""}, {Key: str, Value: "repeated key"}}})
		b.Windows = append(b.Windows, record.Window{Probe: "rt", Start: at.Add(off), End: at.Add(off + time.Minute),
			Summary: []byte(str), Packets: uint64(i), Bytes: math.MaxUint64 - uint64(i)})
	}
	b.Flows = append(b.Flows,
		record.Flow{Probe: "rt", Start: at, End: at, Client: netip.MustParseAddrPort("[::ffff:10.1.2.3]:1"), Server: netip.MustParseAddrPort("[::]:0")},
		record.Flow{Probe: "rt"}, // zero times and addresses
	)
	b.Transactions = append(b.Transactions,
		record.Transaction{Probe: "rt", Proto: "dns", ResponseTime: at.Add(20 * time.Second), Latency: -1, Flags: []string{}, Fields: []record.Field{}},
		record.Transaction{Probe: "rt", Proto: "dns", RequestTime: at.Add(21 * time.Second), Latency: -1},
		record.Transaction{Probe: "rt", Proto: "none"}, // no time at all
	)
	b.Traffic = []record.Traffic{{Probe: "rt", Device: "eth0", Direction: "in", Start: at, End: at.Add(time.Minute), Packets: 7, Bytes: math.MaxUint64}}
	b.Edges = []record.Edge{{Probe: "rt", Start: at, End: at.Add(time.Minute), Client: netip.MustParseAddr("::ffff:10.1.2.3"),
		Server: netip.MustParseAddr("2001:db8::1"), Transport: awkward[2], App: awkward[3], Port: 65535, Flows: 1, Packets: 2,
		Bytes: math.MaxUint64, Requests: 3, Errors: 4, LatencySum: math.MaxInt64, LatencyCount: 5, LatencyMax: 6}}
	write(t, s, b, time.Now())
	var d data
	d.add(b)
	checkStored(t, s, &d)
	tr, err := s.Traffic(ctx(t), store.TrafficQuery{})
	if err != nil {
		t.Fatal(err)
	}
	sameMultiset(t, "traffic", mapSlice(tr, canonTraffic), mapSlice(b.Traffic, canonTraffic))
	es, err := s.Edges(ctx(t), store.EdgeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	sameMultiset(t, "edges", mapSlice(es, canonEdge), mapSlice(b.Edges, canonEdge))
}

// testConcurrentWrites: probes writing at once are all stored, each once.
func testConcurrentWrites(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	const probes, batches = 4, 8
	var (
		mu sync.Mutex
		d  data
		wg sync.WaitGroup
	)
	errs := make(chan error, probes*batches)
	for p := range probes {
		g := newGen(uint64(100+p), base(), span)
		id := string(rune('a'+p)) + "-probe"
		bs := make([]*record.Batch, batches)
		for i := range bs {
			bs[i] = g.batch(id, "s", uint64(i+1), 30)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range bs {
				dup, err := s.Write(ctx(t), b, time.Now())
				if err == nil && dup {
					t.Errorf("%s/%d reported duplicate", b.Probe.ID, b.Seq)
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				d.add(b)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkStored(t, s, &d)
	ps, err := s.Probes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != probes {
		t.Fatalf("%d probes; want %d", len(ps), probes)
	}
	for _, p := range ps {
		if p.Batches != batches || p.LastSeq != batches {
			t.Errorf("probe %s: %d batches, last seq %d; want %d, %d", p.Info.ID, p.Batches, p.LastSeq, batches, batches)
		}
	}
}

// testRetain: records whose time ended before now − MaxAge go, at the
// nanosecond; the ones at the cutoff stay; records without a time go;
// the probes' status and sequences stay.
func testRetain(t *testing.T, open func(t *testing.T) store.Store) {
	s := opened(t, open)
	now := time.Now().Truncate(time.Second)
	cut := now.Add(-MaxAge)
	g := newGen(4, base(), span)
	recent := g.batch("p1", "s", 1, 60)
	old := &record.Batch{Probe: record.ProbeInfo{ID: "p1"}, SpoolID: "s", Seq: 2}
	gone := func(end time.Time) record.Flow {
		f := g.flow("p1")
		f.Start, f.End = end.Add(-time.Hour), end
		return f
	}
	old.Flows = []record.Flow{gone(cut.Add(-1)), gone(cut), gone(cut.Add(-30 * 24 * time.Hour))}
	old.Flows = append(old.Flows, g.flow("p1"))
	old.Flows[3].End = time.Time{} // no time: gone too
	txAt := func(ts time.Time) record.Transaction {
		x := g.tx("p1")
		x.RequestTime, x.ResponseTime, x.Latency = ts, time.Time{}, -1
		return x
	}
	old.Transactions = []record.Transaction{txAt(cut.Add(-1)), txAt(cut), txAt(time.Time{})}
	old.Windows = []record.Window{
		{Probe: "p1", Start: cut.Add(-time.Minute - 1), End: cut.Add(-1), Summary: []byte("gone")},
		{Probe: "p1", Start: cut.Add(-time.Minute), End: cut, Summary: []byte("kept")},
	}
	old.Traffic = []record.Traffic{
		{Probe: "p1", Device: "old", Direction: "in", Start: cut.Add(-time.Minute), End: cut.Add(-1), Packets: 1, Bytes: 1},
		{Probe: "p1", Device: "old", Direction: "out", Start: cut.Add(-time.Minute), End: cut, Packets: 2, Bytes: 2},
	}
	old.Edges = []record.Edge{
		{Probe: "p1", Start: cut.Add(-time.Minute), End: cut.Add(-1), Client: g.hosts[1], Server: g.hosts[2], Transport: "tcp", Port: 1, Bytes: 1},
		{Probe: "p1", Start: cut.Add(-time.Minute), End: cut, Client: g.hosts[1], Server: g.hosts[2], Transport: "tcp", Port: 2, Bytes: 2},
	}
	write(t, s, recent, now)
	write(t, s, old, now)
	// What goes, by the rule, over both batches (the recent one has
	// records without a time too).
	keep, want := &data{}, map[string]uint64{}
	stays := func(table string, end time.Time) bool {
		if ns(end) < cut.UnixNano() {
			want[table]++
			return false
		}
		return true
	}
	oldest := int64(math.MaxInt64)
	kept := func(start time.Time) {
		if !start.IsZero() {
			oldest = min(oldest, start.UnixNano())
		}
	}
	for _, b := range []*record.Batch{recent, old} {
		for _, f := range b.Flows {
			if stays("flows", f.End) {
				keep.flows = append(keep.flows, f)
				kept(f.Start)
			}
		}
		for _, x := range b.Transactions {
			if stays("transactions", x.Time()) {
				keep.txs = append(keep.txs, x)
				kept(x.Time())
			}
		}
		for _, w := range b.Windows {
			if stays("windows", w.End) {
				keep.windows = append(keep.windows, w)
				kept(w.Start)
			}
		}
		for _, x := range b.Traffic {
			if stays("traffic", x.End) {
				kept(x.Start)
			}
		}
		for _, e := range b.Edges {
			if stays("edges", e.End) {
				kept(e.Start)
			}
		}
	}
	if want["flows"] < 3 || want["transactions"] < 2 {
		t.Fatalf("the test's records do not cover the cases: %v", want)
	}

	st, err := s.Retain(ctx(t), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"flows", "transactions", "windows", "traffic", "edges"} {
		if st.RemovedRows[table] != want[table] {
			t.Errorf("retention removed %d rows of %s; want %d", st.RemovedRows[table], table, want[table])
		}
	}
	if !st.OldestKept.Equal(time.Unix(0, oldest)) {
		t.Errorf("oldest kept %v; want %v (the oldest start kept)", st.OldestKept, time.Unix(0, oldest).UTC())
	}
	checkStored(t, s, keep)
	tr, err := s.Traffic(ctx(t), store.TrafficQuery{TimeRange: store.TimeRange{From: cut.Add(-time.Hour), To: now}, Probes: []string{"p1"}})
	if err != nil {
		t.Fatal(err)
	}
	var oldDev []string
	for _, x := range tr {
		if x.Device == "old" {
			oldDev = append(oldDev, x.Direction)
		}
	}
	if !reflect.DeepEqual(oldDev, []string{"out"}) {
		t.Errorf("old traffic left: %v; want [out]", oldDev)
	}
	es, err := s.Edges(ctx(t), store.EdgeQuery{TimeRange: store.TimeRange{From: cut.Add(-time.Hour), To: cut.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Port != 2 {
		t.Errorf("old edges left: %+v; want the one on port 2", es)
	}
	// The status and the sequence survive retention.
	lastSeq(t, s, "p1", "s", 2)
	writeDup(t, s, g.batch("p1", "s", 2, 1), now)
	if ps, err := s.Probes(ctx(t)); err != nil || len(ps) != 1 || ps[0].Batches != 2 {
		t.Errorf("probes after retention: %+v, %v", ps, err)
	}
	// A second pass finds nothing more.
	st, err = s.Retain(ctx(t), now)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range st.RemovedRows {
		if n != 0 && table != "talkers" {
			t.Errorf("second pass removed %d rows of %s", n, table)
		}
	}
}

// testReopen: what was stored, the sequences and the page cursors
// survive closing and reopening the store.
func testReopen(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	g := newGen(5, base(), span)
	var d data
	for seq := uint64(1); seq <= 3; seq++ {
		b := g.batch("p1", "s", seq, 40)
		write(t, s, b, time.Now())
		d.add(b)
	}
	first, err := s.Flows(ctx(t), store.FlowQuery{Limit: 25})
	if err != nil || first.Next == "" {
		t.Fatalf("first page: %v (next %q)", err, first.Next)
	}
	before, err := s.Probes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s = opened(t, open)
	lastSeq(t, s, "p1", "s", 3)
	writeDup(t, s, g.batch("p1", "s", 3, 2), time.Now())
	after, err := s.Probes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || len(before) != 1 {
		t.Fatalf("probes before %d, after %d", len(before), len(after))
	}
	sameStatus(t, after[0], before[0])
	rest := allFlows(t, s, store.FlowQuery{Limit: 25, Cursor: first.Next})
	sameMultiset(t, "flows paged across the reopen", mapSlice(append(first.Flows, rest...), canonFlow), mapSlice(d.flows, canonFlow))
	checkStored(t, s, &d)
	b := g.batch("p1", "s", 4, 5)
	write(t, s, b, time.Now())
	d.add(b)
	checkStored(t, s, &d)
}
