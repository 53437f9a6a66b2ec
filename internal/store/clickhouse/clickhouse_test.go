package clickhouse

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

var dbSeq atomic.Int64

// openDB opens a store on a database of its own (or on db when given).
func openDB(t *testing.T, db string, tune func(*Config)) *Store {
	t.Helper()
	if db == "" {
		db = fmt.Sprintf("t_%d", dbSeq.Add(1))
	}
	cfg := DefaultConfig()
	cfg.URL = testServer(t).URL
	cfg.Database = db
	cfg.RetainEvery = time.Hour
	if tune != nil {
		tune(&cfg)
	}
	s, err := Open(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testBatch(probe, spool string, seq uint64, n int, at time.Time) *record.Batch {
	b := &record.Batch{Probe: record.ProbeInfo{ID: probe}, SpoolID: spool, Seq: seq}
	for i := range n {
		ts := at.Add(time.Duration(i) * time.Second)
		b.Flows = append(b.Flows, record.Flow{Probe: probe, Start: ts, End: ts.Add(time.Second), Transport: "tcp",
			Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80"),
			Packets: [2]uint64{1, 1}, Bytes: [2]uint64{100, uint64(i)}, TunnelID: uint32(seq*1000 + uint64(i))})
		b.Transactions = append(b.Transactions, record.Transaction{Probe: probe, Proto: "http", RequestTime: ts, Latency: -1,
			RequestBytes: int64(seq*1000 + uint64(i))})
	}
	b.Windows = []record.Window{{Probe: probe, Start: at, End: at.Add(time.Minute), Summary: []byte(fmt.Sprint(seq))}}
	return b
}

func countFlows(t *testing.T, s *Store) int {
	t.Helper()
	n, cur := 0, ""
	for {
		p, err := s.Flows(context.Background(), store.FlowQuery{Limit: store.MaxLimit, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Flows)
		if cur = p.Next; cur == "" {
			return n
		}
	}
}

func countTxs(t *testing.T, s *Store) int {
	t.Helper()
	p, err := s.Transactions(context.Background(), store.TxQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Transactions)
}

// TestCrashBetweenInserts: a replica that dies after inserting some of a
// batch's rows, before the commit, leaves nothing visible; the batch
// resent (to any replica) is then stored once.
func TestCrashBetweenInserts(t *testing.T) {
	s := openDB(t, "", nil)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	b := testBatch("p1", "s", 1, 50, at)

	// What a writer sends before its commit: the flows and transactions,
	// under a wid no commit names.
	var enc [tableCount]encoder
	if _, _, _, _, err := encodeBatch(&enc, b, 12345); err != nil {
		t.Fatal(err)
	}
	if err := s.c.insert(ctx, "flows", flowCols, enc[1].b); err != nil {
		t.Fatal(err)
	}
	if err := s.c.insert(ctx, "transactions", txCols, enc[2].b); err != nil {
		t.Fatal(err)
	}
	raw, err := testServer(t).Query("SELECT count() FROM " + s.cfg.Database + ".flows")
	if err != nil || raw != "50" {
		t.Fatalf("the half-written batch is not in the table: %q %v", raw, err)
	}
	if n := countFlows(t, s); n != 0 {
		t.Fatalf("%d flows of an uncommitted write are visible", n)
	}
	if last, _ := s.LastSeq(ctx, "p1", "s"); last != 0 {
		t.Fatalf("LastSeq %d after an uncommitted write", last)
	}

	// The resend, to another replica on the same database.
	other := openDB(t, s.cfg.Database, nil)
	if dup, err := other.Write(ctx, b, time.Now()); err != nil || dup {
		t.Fatalf("resend: dup %v, err %v", dup, err)
	}
	for _, r := range []*Store{s, other} {
		if n, m := countFlows(t, r), countTxs(t, r); n != 50 || m != 50 {
			t.Errorf("after the resend: %d flows, %d transactions; want 50 and 50", n, m)
		}
	}
	// Resent again (the ack was lost): a duplicate, to either replica.
	for _, r := range []*Store{s, other} {
		if dup, err := r.Write(ctx, b, time.Now()); err != nil || !dup {
			t.Errorf("second resend: dup %v, err %v; want a duplicate", dup, err)
		}
	}
	if n := countFlows(t, s); n != 50 {
		t.Errorf("%d flows after the duplicates; want 50", n)
	}
}

// TestRacingCommits: two replicas that both stored the same batch (each
// checked before the other committed) still show it once.
func TestRacingCommits(t *testing.T) {
	a := openDB(t, "", nil)
	b := openDB(t, a.cfg.Database, nil)
	ctx := context.Background()
	batch := testBatch("p1", "s", 7, 30, time.Now().Add(-time.Hour))
	if dup, err := a.Write(ctx, batch, time.Now()); err != nil || dup {
		t.Fatalf("write: %v %v", dup, err)
	}
	// Replica b's write of the same batch, having checked before a's
	// commit landed (so its check found nothing).
	req := &storeutil.Request{Ctx: ctx, Batch: batch, NowNS: time.Now().UnixNano()}
	if err := b.writers[0].storeGroup(ctx, []*storeutil.Request{req}, make([]storeutil.Result, 1), map[spoolKey]uint64{}); err != nil {
		t.Fatal(err)
	}
	commits, err := testServer(t).Query("SELECT count() FROM " + a.cfg.Database + ".batches")
	if err != nil || commits != "2" {
		t.Fatalf("commits %q %v; want the two racing ones", commits, err)
	}
	for _, r := range []*Store{a, b} {
		if n, m := countFlows(t, r), countTxs(t, r); n != 30 || m != 30 {
			t.Errorf("%d flows, %d transactions; want 30 and 30", n, m)
		}
		ws, err := r.Windows(ctx, store.WindowQuery{})
		if err != nil || len(ws) != 1 {
			t.Errorf("windows %d %v; want 1", len(ws), err)
		}
	}
}

// TestReplicasShareDedup: a batch stored through one replica is a
// duplicate at the other; both answer the same.
func TestReplicasShareDedup(t *testing.T) {
	a := openDB(t, "", nil)
	b := openDB(t, a.cfg.Database, nil)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	for seq := uint64(1); seq <= 4; seq++ {
		r := a
		if seq%2 == 0 {
			r = b
		}
		if dup, err := r.Write(ctx, testBatch("p1", "s", seq, 10, at), time.Now()); err != nil || dup {
			t.Fatalf("seq %d: %v %v", seq, dup, err)
		}
	}
	if dup, err := a.Write(ctx, testBatch("p1", "s", 4, 10, at), time.Now()); err != nil || !dup {
		t.Errorf("seq 4 again at a: dup %v err %v", dup, err)
	}
	if dup, err := b.Write(ctx, testBatch("p1", "s", 3, 10, at), time.Now()); err != nil || !dup {
		t.Errorf("seq 3 again at b: dup %v err %v", dup, err)
	}
	pa, err := a.Probes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Probes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa) != 1 || len(pb) != 1 || pa[0].Batches != 4 || pb[0].Batches != 4 || pa[0].LastSeq != 4 || pa[0].Records != pb[0].Records {
		t.Errorf("probes a %+v, b %+v; want 4 batches, last seq 4, the same", pa, pb)
	}
	if countFlows(t, a) != 40 || countFlows(t, b) != 40 {
		t.Errorf("flows a %d, b %d; want 40", countFlows(t, a), countFlows(t, b))
	}
}

// TestRetainSharedCutoff: retention by one replica hides the rows from
// the other at its next pass, and drops the partitions behind the cutoff.
func TestRetainSharedCutoff(t *testing.T) {
	a := openDB(t, "", func(c *Config) { c.Retention.MaxAge = 24 * time.Hour })
	b := openDB(t, a.cfg.Database, func(c *Config) { c.Retention.MaxAge = 24 * time.Hour })
	ctx := context.Background()
	now := time.Now()
	for i, age := range []time.Duration{10 * 24 * time.Hour, 5 * 24 * time.Hour, time.Hour} {
		if _, err := a.Write(ctx, testBatch("p1", "s", uint64(i+1), 10, now.Add(-age)), now); err != nil {
			t.Fatal(err)
		}
	}
	parts := func() string {
		v, err := testServer(t).Query("SELECT count(DISTINCT partition_id) FROM system.parts WHERE active AND table = 'flows' AND database = '" + a.cfg.Database + "'")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if p := parts(); p != "3" {
		t.Fatalf("%s day partitions of flows; want 3", p)
	}
	st, err := a.Retain(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.RemovedRows["flows"] != 20 || st.RemovedRows["transactions"] != 20 || st.RemovedRows["windows"] != 2 {
		t.Errorf("removed %v; want 20 flows, 20 transactions, 2 windows", st.RemovedRows)
	}
	if p := parts(); p != "1" {
		t.Errorf("%s day partitions of flows after retention; want 1", p)
	}
	if n := countFlows(t, a); n != 10 {
		t.Errorf("a: %d flows; want 10", n)
	}
	// b learns the cutoff at its own pass, which then removes nothing.
	st, err = b.Retain(ctx, now.Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b.cutoff.Load() != a.cutoff.Load() {
		t.Errorf("b's cutoff %d; a's %d", b.cutoff.Load(), a.cutoff.Load())
	}
	if n := countFlows(t, b); n != 10 {
		t.Errorf("b: %d flows; want 10", n)
	}
	if a.Stats().RetainedRows["flows"] != 20 {
		t.Errorf("a's stats %v", a.Stats().RetainedRows)
	}
}

// TestRetainSize: over MaxBytes, whole days go, oldest first; the newest
// stays.
func TestRetainSize(t *testing.T) {
	s := openDB(t, "", func(c *Config) { c.Retention.MaxBytes = 1 << 20 })
	ctx := context.Background()
	now := time.Now()
	for day := range 4 {
		b := testBatch("p1", "s", uint64(day+1), 4000, now.Add(-time.Duration(3-day)*24*time.Hour-2*time.Hour))
		for i := range b.Flows {
			b.Flows[i].State = strings.Repeat(fmt.Sprint(rand.Uint64()), 4) // incompressible
		}
		if _, err := s.Write(ctx, b, now); err != nil {
			t.Fatal(err)
		}
	}
	before := countFlows(t, s)
	st, err := s.Retain(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	after := countFlows(t, s)
	t.Logf("flows %d → %d; removed %v; %d bytes on disk", before, after, st.RemovedRows, st.BytesOnDisk)
	if before != 16000 || after == 0 || after%4000 != 0 || after == before {
		t.Errorf("flows %d → %d; want whole days gone, the newest kept", before, after)
	}
	if st.RemovedRows["flows"] != uint64(before-after) {
		t.Errorf("removed %d flows; counted %d", before-after, st.RemovedRows["flows"])
	}
	if st.BytesOnDisk <= 0 || st.BytesOnDisk > 1<<20 && after > 4000 {
		t.Errorf("%d bytes on disk with %d flows left", st.BytesOnDisk, after)
	}
}

// TestLiterals: every byte value survives quoting into a statement.
func TestLiterals(t *testing.T) {
	srv := testServer(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		b := make([]byte, r.IntN(64))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		switch i {
		case 0:
			b = []byte(`'\'' \\x27 ''); DROP TABLE x; --`)
		case 1:
			for c := range 256 {
				b = append(b, byte(c))
			}
		}
		got, err := srv.Query("SELECT hex(" + lit(string(b)) + ")")
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if want := strings.ToUpper(hex.EncodeToString(b)); got != want {
			t.Errorf("%q came back as %s", b, got)
		}
	}
}

func TestSchemaVersionNewer(t *testing.T) {
	s := openDB(t, "", nil)
	if err := s.c.exec(context.Background(), "INSERT INTO schema_version VALUES (99, 0)"); err != nil {
		t.Fatal(err)
	}
	cfg := s.cfg
	if _, err := Open(cfg, nil); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("open of a newer schema: %v", err)
	}
}

func TestClosed(t *testing.T) {
	s := openDB(t, "", nil)
	s.Close()
	ctx := context.Background()
	if _, err := s.Write(ctx, testBatch("p", "s", 1, 1, time.Now()), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	if _, err := s.Flows(ctx, store.FlowQuery{}); !errors.Is(err, ErrClosed) {
		t.Errorf("flows after close: %v", err)
	}
	if _, err := s.Retain(ctx, time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("retain after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestServerDown(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URL = "http://127.0.0.1:1"
	cfg.DialTimeout = time.Second
	if _, err := Open(cfg, nil); err == nil {
		t.Error("open without a server succeeded")
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.URL = "http://127.0.0.1:8123"
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		field string
		edit  func(*Config)
	}{
		{"URL", func(c *Config) { c.URL = "" }},
		{"URL", func(c *Config) { c.URL = "ftp://x" }},
		{"User and Password", func(c *Config) { c.URL = "http://u:p@127.0.0.1:8123" }},
		{"Database", func(c *Config) { c.Database = "a;DROP" }},
		{"Retention.MaxAge", func(c *Config) { c.Retention.MaxAge = time.Second }},
		{"Retention.MaxBytes", func(c *Config) { c.Retention.MaxBytes = 10 }},
		{"RetainEvery", func(c *Config) { c.RetainEvery = time.Millisecond }},
		{"QueryTimeout", func(c *Config) { c.QueryTimeout = -1 }},
		{"Writers", func(c *Config) { c.Writers = 1000 }},
		{"GroupRecords", func(c *Config) { c.GroupRecords = -1 }},
		{"MaxResponseBytes", func(c *Config) { c.MaxResponseBytes = -1 }},
	} {
		cfg := good
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v; want one naming it", c.field, err)
		}
	}
}
