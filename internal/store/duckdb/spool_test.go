package duckdb

import (
	"context"
	"database/sql"
	"maps"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/wirewatch/wirewatch/internal/center/graph"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

func spoolBatch(probe, spool string, seq uint64) *record.Batch {
	return &record.Batch{Probe: record.ProbeInfo{ID: probe, Hostname: probe + ".example"}, SpoolID: spool, Seq: seq,
		Traffic: []record.Traffic{{Probe: probe, Device: "eth0", Direction: "in", Start: ns(0), End: ns(time.Minute), Packets: seq, Bytes: seq}}}
}

func writeDup(t *testing.T, s *Store, b *record.Batch, want bool) {
	t.Helper()
	dup, err := s.Write(context.Background(), b, ns(time.Hour))
	if err != nil {
		t.Fatalf("write %s/%q/%d: %v", b.Probe.ID, b.SpoolID, b.Seq, err)
	}
	if dup != want {
		t.Fatalf("write %s/%q/%d: duplicate %v, want %v", b.Probe.ID, b.SpoolID, b.Seq, dup, want)
	}
}

func wantLastSeq(t *testing.T, s *Store, probe, spool string, want uint64) {
	t.Helper()
	got, err := s.LastSeq(context.Background(), probe, spool)
	if err != nil || got != want {
		t.Errorf("LastSeq(%q, %q) = %d, %v; want %d", probe, spool, got, err, want)
	}
}

// A database written by schema version 2 (dedup per probe, no spool
// IDs) is migrated: each probe's sequence becomes its spool row with no
// ID, taken over by the first spool ID the probe reports, so batches
// resent across the upgrade stay duplicates, and a wiped spool after it
// starts a sequence of its own.
func TestMigrateV3(t *testing.T) {
	dir := t.TempDir()
	conn, err := duck.NewConnector(filepath.Join(dir, FileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	info, err := storeutil.EncodeGob(record.ProbeInfo{ID: "p1", Hostname: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	loss, err := storeutil.EncodeGob(map[string]uint64{"export_refused_batches": 2})
	if err != nil {
		t.Fatal(err)
	}
	first, last := ns(-time.Hour), ns(-time.Minute)
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ns BIGINT NOT NULL)`,
		migrations[1], migrations[2],
		`INSERT INTO schema_version VALUES (1, 0), (2, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	// The version 2 probes row, as version 2's writer left it.
	if _, err := db.Exec(`INSERT INTO probes VALUES (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?)`,
		"p1", info, first.UnixNano(), last.UnixNano(), uint64(40), uint64(40), uint64(400), loss,
		"p2", info, first.UnixNano(), last.UnixNano(), uint64(7), uint64(7), uint64(70), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, Config{Dir: dir})
	var v int
	if err := s.db.QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != 3 {
		t.Fatalf("schema version %d, %v; want 3", v, err)
	}
	ps, err := s.Probes(context.Background())
	if err != nil || len(ps) != 2 {
		t.Fatalf("probes after the migration: %+v, %v", ps, err)
	}
	if p := ps[0]; p.Info.ID != "p1" || p.LastSeq != 40 || p.Batches != 40 || p.Records != 400 ||
		!p.FirstSeen.Equal(first) || !p.LastReport.Equal(last) || p.Loss["export_refused_batches"] != 2 {
		t.Errorf("p1 after the migration: %+v", p)
	}
	// Before any spool ID is seen, every spool of p1 answers the old sequence.
	wantLastSeq(t, s, "p1", "a", 40)
	// The probe's spool "a" resends its last batch across the upgrade,
	// then goes on.
	writeDup(t, s, spoolBatch("p1", "a", 40), true)
	writeDup(t, s, spoolBatch("p1", "a", 41), false)
	wantLastSeq(t, s, "p1", "a", 41)
	// The old sequence now belongs to "a": a wiped spool starts at 1.
	wantLastSeq(t, s, "p1", "b", 0)
	writeDup(t, s, spoolBatch("p1", "b", 1), false)
	writeDup(t, s, spoolBatch("p1", "a", 41), true)
	// A probe older than spool IDs keeps its sequence under the empty ID.
	writeDup(t, s, spoolBatch("p2", "", 7), true)
	writeDup(t, s, spoolBatch("p2", "", 8), false)
	wantLastSeq(t, s, "p2", "", 8)

	ps, err = s.Probes(context.Background())
	if err != nil || len(ps) != 2 {
		t.Fatalf("probes: %+v, %v", ps, err)
	}
	if p := ps[0]; p.Batches != 42 || p.LastSeq != 1 || !p.FirstSeen.Equal(first) {
		t.Errorf("p1: %d batches, last seq %d, first seen %v; want 42, 1 (spool b's), %v", p.Batches, p.LastSeq, p.FirstSeen, first)
	}
	// What the migration made survives a restart.
	s.Close()
	s = openTest(t, Config{Dir: dir})
	wantLastSeq(t, s, "p1", "a", 41)
	wantLastSeq(t, s, "p1", "b", 1)
	wantLastSeq(t, s, "p1", "c", 0)
}

// Two spools of one probe in one group transaction: only the first takes
// over the sequence from before version 3; the second starts its own.
func TestMigrateV3OneTakeOver(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Dir: dir})
	mustWrite(t, s, spoolBatch("p1", "", 5), ns(0))
	// Take the probe back to version 2's state: a sequence without spool.
	if _, err := s.db.Exec(`UPDATE probes SET spool_id = NULL`); err != nil {
		t.Fatal(err)
	}
	w := s.writers[s.writerOf("p1")]
	reqs := []*storeutil.Request{
		{Ctx: context.Background(), Batch: spoolBatch("p1", "a", 6), NowNS: 1},
		{Ctx: context.Background(), Batch: spoolBatch("p1", "b", 1), NowNS: 1},
	}
	res := make([]storeutil.Result, len(reqs))
	w.mu.Lock()
	err := w.writeTx(reqs, res)
	w.mu.Unlock()
	if err != nil || res[0].Dup || res[1].Dup {
		t.Fatalf("group write: %v, %+v", err, res)
	}
	wantLastSeq(t, s, "p1", "a", 6)
	wantLastSeq(t, s, "p1", "b", 1)
	var nulls int
	if err := s.db.QueryRow(`SELECT count(*) FROM probes WHERE spool_id IS NULL`).Scan(&nulls); err != nil || nulls != 0 {
		t.Errorf("%d probes without a spool left, %v", nulls, err)
	}
	// The sequences survive a restart.
	s.Close()
	s = openTest(t, Config{Dir: dir})
	wantLastSeq(t, s, "p1", "a", 6)
	wantLastSeq(t, s, "p1", "b", 1)
	writeDup(t, s, spoolBatch("p1", "a", 6), true)
	writeDup(t, s, spoolBatch("p1", "b", 1), true)
}

// Loss counters: the probe's own replace the stored ones, the center's
// (center_*) add up over stored batches and are not added again by a
// duplicate; both survive a restart.
func TestCenterLossAddsUp(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, Config{Dir: dir})
	const inv = store.CenterLossPrefix + "invalid_records_time"
	want := map[string]uint64{}
	apply := func(b *record.Batch, dup bool) {
		t.Helper()
		writeDup(t, s, b, dup)
		if dup || len(b.Loss) == 0 {
			return
		}
		center := func(k string) bool { return strings.HasPrefix(k, store.CenterLossPrefix) }
		if slices.ContainsFunc(slices.Collect(maps.Keys(b.Loss)), func(k string) bool { return !center(k) }) {
			maps.DeleteFunc(want, func(k string, _ uint64) bool { return !center(k) })
		}
		for k, v := range b.Loss {
			if center(k) {
				want[k] += v
			} else {
				want[k] = v
			}
		}
	}
	check := func(what string) {
		t.Helper()
		ps, err := s.Probes(context.Background())
		if err != nil || len(ps) != 1 {
			t.Fatalf("%s: probes %+v, %v", what, ps, err)
		}
		if !maps.Equal(ps[0].Loss, want) {
			t.Errorf("%s: loss %v, want %v", what, ps[0].Loss, want)
		}
	}
	b := spoolBatch("p", "s", 1)
	b.Loss = map[string]uint64{"export_queue_full_records": 5, "capture_drops": 1, inv: 2}
	apply(b, false)
	check("first batch")
	b = spoolBatch("p", "s", 2)
	b.Loss = map[string]uint64{"export_queue_full_records": 7, inv: 3}
	apply(b, false)
	check("second batch")
	if want[inv] != 5 || want["capture_drops"] != 0 {
		t.Fatalf("the test's own model is off: %v", want)
	}
	apply(b, true) // resent: not added twice
	check("duplicate")
	b = spoolBatch("p", "s", 3) // no counters
	apply(b, false)
	check("no loss")
	b = spoolBatch("p", "s", 4)
	b.Loss = map[string]uint64{inv: 1} // the center's only: the probe's stay
	apply(b, false)
	check("center counters only")
	s.Close()
	s = openTest(t, Config{Dir: dir})
	check("reopened")
}

// Retention forgets the spools that stored nothing within the retention
// age, but never a probe's newest one.
func TestForgetSpools(t *testing.T) {
	s := openTest(t, Config{Dir: t.TempDir(), Retention: Retention{MaxAge: time.Hour}})
	ctx := context.Background()
	now := time.Now()
	write := func(b *record.Batch, at time.Time) {
		t.Helper()
		if dup, err := s.Write(ctx, b, at); err != nil || dup {
			t.Fatalf("write: %v, duplicate %v", err, dup)
		}
	}
	write(spoolBatch("p1", "old", 9), now.Add(-3*time.Hour))
	write(spoolBatch("p1", "new", 1), now.Add(-2*time.Hour)) // newest of p1, though old
	write(spoolBatch("p2", "only", 4), now.Add(-3*time.Hour))
	write(spoolBatch("p3", "a", 2), now.Add(-3*time.Hour))
	write(spoolBatch("p3", "b", 2), now.Add(-time.Minute))
	st, err := s.Retain(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.RemovedRows["spools"] != 2 {
		t.Errorf("retention removed %d spool rows, want 2 (p1/old, p3/a)", st.RemovedRows["spools"])
	}
	wantLastSeq(t, s, "p1", "old", 0)
	wantLastSeq(t, s, "p1", "new", 1)
	wantLastSeq(t, s, "p2", "only", 4)
	wantLastSeq(t, s, "p3", "a", 0)
	wantLastSeq(t, s, "p3", "b", 2)
}

// Two probes that see one conversation (one beside the client, one beside
// the server; the second missed a packet) give one edge with the larger
// counts, not their sum, whatever the periods each reported it in.
func TestEdgesOfOneConversationSeenTwice(t *testing.T) {
	s := openTest(t, Config{})
	client := netip.MustParseAddrPort("10.0.0.1:40000")
	server := netip.MustParseAddrPort("10.0.0.2:80")
	flow := func(probe string, from, to time.Duration, pcs, psc, bcs, bsc uint64) record.Flow {
		return record.Flow{Probe: probe, Start: ns(from), End: ns(to), Transport: "tcp", Client: client, Server: server, App: "http",
			Packets: [2]uint64{pcs, psc}, Bytes: [2]uint64{bcs, bsc}}
	}
	window := func(probe string, i int) record.Window {
		return record.Window{Probe: probe, Start: ns(time.Duration(i) * time.Minute), End: ns(time.Duration(i+1) * time.Minute)}
	}
	// The client's probe saw the flow in two periods; the server's in one,
	// one server-to-client packet of 1,000 bytes short.
	a := &record.Batch{Probe: record.ProbeInfo{ID: "client-node"}, Seq: 1,
		Windows: []record.Window{window("client-node", 0), window("client-node", 1)},
		Flows:   []record.Flow{flow("client-node", 10*time.Second, 50*time.Second, 6, 8, 600, 8000), flow("client-node", 70*time.Second, 80*time.Second, 4, 3, 400, 3000)}}
	b := &record.Batch{Probe: record.ProbeInfo{ID: "server-node"}, Seq: 1,
		Windows: []record.Window{window("server-node", 0), window("server-node", 1)},
		Flows:   []record.Flow{flow("server-node", 10*time.Second, 80*time.Second, 10, 10, 1000, 10000)}}
	perProbe := map[string][2]uint64{} // packets, bytes of each probe's own flow records
	for _, x := range []*record.Batch{a, b} {
		x.Edges = graph.Derive(x)
		for _, f := range x.Flows {
			c := perProbe[x.Probe.ID]
			perProbe[x.Probe.ID] = [2]uint64{c[0] + f.Packets[0] + f.Packets[1], c[1] + f.Bytes[0] + f.Bytes[1]}
		}
		mustWrite(t, s, x, ns(time.Hour))
	}
	if perProbe["client-node"] == perProbe["server-node"] {
		t.Fatal("the probes' counts should differ")
	}
	es, err := s.Edges(context.Background(), store.EdgeQuery{TimeRange: store.TimeRange{From: ns(0), To: ns(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("%d edges, want 1: %+v", len(es), es)
	}
	e := es[0]
	wantPackets := max(perProbe["client-node"][0], perProbe["server-node"][0])
	wantBytes := max(perProbe["client-node"][1], perProbe["server-node"][1])
	if e.Packets != wantPackets || e.Bytes != wantBytes || e.Flows != 2 || e.Probe != "" ||
		e.Client != client.Addr() || e.Server != server.Addr() || e.Port != 80 {
		t.Errorf("edge %+v; want %d packets, %d bytes (the larger probe's), 2 flow records (the client probe's)", e, wantPackets, wantBytes)
	}
	// One probe alone: its own counts, and its name.
	es, err = s.Edges(context.Background(), store.EdgeQuery{TimeRange: store.TimeRange{From: ns(0), To: ns(time.Hour)}, Probes: []string{"server-node"}})
	if err != nil || len(es) != 1 {
		t.Fatalf("server-node's edges: %+v, %v", es, err)
	}
	if got := [2]uint64{es[0].Packets, es[0].Bytes}; !reflect.DeepEqual(got, perProbe["server-node"]) || es[0].Probe != "server-node" {
		t.Errorf("server-node's edge %+v; want packets, bytes %v", es[0], perProbe["server-node"])
	}
}
