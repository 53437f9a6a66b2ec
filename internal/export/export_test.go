package export

// These tests run the real ingest server (internal/center/ingest) over
// 127.0.0.1. The center's store is ingesttest.Store, an in-memory stand-in
// that deduplicates by sequence number as store.Store.Write does and
// survives the server's restarts; the DuckDB store is not used here.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center/ingest"
	"github.com/wirewatch/wirewatch/internal/center/ingest/ingesttest"
	"github.com/wirewatch/wirewatch/internal/export/spool"
	"github.com/wirewatch/wirewatch/internal/record"
)

const probeID = "probe-1"

var info = record.ProbeInfo{ID: probeID, Hostname: "node-1", Version: "test"}

// center starts an ingest server on addr ("127.0.0.1:0" for any port).
func center(t testing.TB, addr string, h ingest.Handler, mutate func(*ingest.Config)) *ingest.Server {
	t.Helper()
	cfg := ingest.Config{Listen: addr, AllowInsecure: true}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := ingest.New(cfg, h, testLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(s) })
	return s
}

// kill stops a center at once, cutting its streams (a crash, as the
// probe sees it).
func kill(s *ingest.Server) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Stop(ctx)
}

// exporter makes an exporter for addr with a spool in a temporary
// directory.
func exporter(t testing.TB, addr string, mutate func(*Config)) *Exporter {
	t.Helper()
	cfg := DefaultConfig(addr, t.TempDir())
	cfg.Insecure = true
	cfg.FlushInterval = 20 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg, info, testLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = e.Stop(ctx)
	})
	return e
}

// flows makes n flow records numbered from first: record i has
// Packets[0] == i, which is how the tests follow each record.
func flows(first, n int) []record.Flow {
	out := make([]record.Flow, n)
	for j := range out {
		i := first + j
		out[j] = record.Flow{
			Start: time.Unix(1_700_000_000, 0), End: time.Unix(1_700_000_001, 0),
			Transport: "tcp",
			Client:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000),
			Server:    netip.MustParseAddrPort("10.1.1.1:443"),
			Packets:   [2]uint64{uint64(i), 1},
			Bytes:     [2]uint64{100, 200},
		}
	}
	return out
}

// addPaced adds flow records once the encoder queue has room for the
// batch they cut: the tests that stream many batches are about delivery,
// and a producer faster than the encoder would lose batches by design
// (TestProducersNeverWaitForTheDisk).
func addPaced(e *Exporter, fs []record.Flow) {
	for len(e.queue) >= queueLen {
		time.Sleep(time.Millisecond)
	}
	e.AddFlows(fs)
}

// numbers lists the record numbers of the stored flows, in store order.
func numbers(bs []*record.Batch) []int {
	var out []int
	for _, b := range bs {
		for _, f := range b.Flows {
			out = append(out, int(f.Packets[0]))
		}
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkExactlyOnce checks that the store holds records 0..n-1, each once,
// in order, in batches of increasing seq.
func checkExactlyOnce(t *testing.T, store *ingesttest.Store, n int) {
	t.Helper()
	bs := store.Batches()
	var last uint64
	for _, b := range bs {
		if b.Seq <= last {
			t.Fatalf("batch seq %d stored after %d", b.Seq, last)
		}
		last = b.Seq
		if b.Probe.ID != probeID || b.Probe.Hostname != "node-1" {
			t.Fatalf("batch %d has probe %+v", b.Seq, b.Probe)
		}
	}
	got := numbers(bs)
	if len(got) != n {
		t.Fatalf("%d records stored, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("record %d is number %d: lost, repeated or reordered", i, v)
		}
	}
}

// TestLostCenter streams 200 batches while the center is killed in the
// middle and restarted on the same port: every record arrives exactly
// once, in order.
func TestLostCenter(t *testing.T) {
	store := &ingesttest.Store{}
	// Batch killAt is stored, and the center dies before acknowledging
	// it: the probe must send it again and the store must drop the copy.
	const killAt = 40
	storedKillAt := make(chan struct{})
	handler := func(ctx context.Context, b *record.Batch) (bool, error) {
		dup, err := store.Handle(ctx, b)
		if b.Seq == killAt && !dup {
			close(storedKillAt)
			<-ctx.Done()
			return false, ctx.Err()
		}
		return dup, err
	}
	c1 := center(t, "127.0.0.1:0", handler, nil)
	addr := c1.Addr().String()
	e := exporter(t, addr, func(c *Config) { c.MaxBatchRecords = 10 })
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	const batches, per = 200, 10
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := range batches {
			addPaced(e, flows(i*per, per)) // a full batch: cut at once
			time.Sleep(2 * time.Millisecond)
		}
	}()
	select {
	case <-storedKillAt:
	case <-time.After(10 * time.Second):
		t.Fatal("batch 40 never reached the center")
	}
	kill(c1)
	stored := len(store.Batches())
	time.Sleep(150 * time.Millisecond)
	center(t, addr, handler, nil)
	<-produced
	waitFor(t, 20*time.Second, "every record", func() bool { return len(numbers(store.Batches())) >= batches*per })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, store, batches*per)
	st := e.Stats()
	if st.Records != batches*per || st.Failures == 0 || st.Sessions < 2 {
		t.Errorf("stats %+v: want %d records, a failure and a reconnect", st, batches*per)
	}
	if st.Duplicates == 0 || store.Duplicates() == 0 {
		t.Errorf("batch %d was not sent again (probe saw %d duplicates, store %d)", killAt, st.Duplicates, store.Duplicates())
	}
	for k, v := range st.Loss {
		if v != 0 {
			t.Errorf("loss %s = %d", k, v)
		}
	}
	if st.Spool.Pending.Records != 0 {
		t.Errorf("%d batches left in the spool", st.Spool.Pending.Records)
	}
	t.Logf("stored %d batches before the kill; %d sessions, %d sent, %d acked, %d duplicates",
		stored, st.Sessions, st.Sent, st.Acked, st.Duplicates)
}

// freeAddr returns a loopback address nobody listens on (yet).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestCenterDownFromTheStart: the spool fills, its bound drops the oldest
// batches, and once the center is up the drops reach it in the Loss of
// the batches that follow.
func TestCenterDownFromTheStart(t *testing.T) {
	addr := freeAddr(t)
	e := exporter(t, addr, func(c *Config) {
		c.MaxBatchRecords = 10
		c.Spool.SegmentBytes = 4 << 10
		c.Spool.MaxBytes = 12 << 10
		c.Spool.MaxRecord = 4 << 10
	})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	const batches, per = 100, 10
	for i := range batches {
		addPaced(e, flows(i*per, per))
		time.Sleep(time.Millisecond) // let the encoder keep up: no queue drops
	}
	waitFor(t, 5*time.Second, "the batches in the spool", func() bool { return e.Stats().Records == batches*per })
	dropped := e.Stats().Spool.Dropped.Records
	if dropped == 0 {
		t.Fatal("the spool dropped nothing: it is not full")
	}
	if e.Stats().Sessions == 0 || e.Stats().Acked != 0 {
		t.Fatalf("stats %+v: want failed attempts and nothing acknowledged", e.Stats())
	}

	store := &ingesttest.Store{}
	center(t, addr, store.Handle, nil)
	waitFor(t, 20*time.Second, "the spool to drain", func() bool {
		st := e.Stats()
		return st.Spool.Pending.Records == 0 && len(store.Batches()) > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	bs := store.Batches()
	last := bs[len(bs)-1]
	if got := last.Loss[LossSpoolDropped]; got != st.Spool.Dropped.Records || got < dropped {
		t.Errorf("the center's last batch reports %d dropped batches; the spool dropped %d", got, st.Spool.Dropped.Records)
	}
	// What arrived is the newest records, in order, with one gap per
	// dropped batch and nothing else missing.
	got := numbers(bs)
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("records %d then %d: a gap after the front of the queue", got[i-1], got[i])
		}
	}
	if len(got) == 0 || got[len(got)-1] != batches*per-1 {
		t.Fatalf("the newest record did not arrive (got %d records)", len(got))
	}
	// Every batch the spool took is stored or counted dropped.
	if uint64(len(bs)) != st.Batches-st.Spool.Dropped.Records {
		t.Errorf("%d batches stored; %d appended, %d dropped", len(bs), st.Batches, st.Spool.Dropped.Records)
	}
	t.Logf("%d batches appended, %d dropped by the spool bound, %d stored", st.Batches, st.Spool.Dropped.Records, len(bs))
}

// TestRefusedAndTooLarge: a batch the center refuses and one larger than
// its limit are dropped, counted, and reported; the batches around them
// arrive.
func TestRefusedAndTooLarge(t *testing.T) {
	store := &ingesttest.Store{Fail: func(b *record.Batch) error {
		if len(b.Flows) > 0 && b.Flows[0].Packets[0] == 10 {
			return fmt.Errorf("%w: the store does not like record 10", ingest.ErrRefused)
		}
		return nil
	}}
	c := center(t, "127.0.0.1:0", store.Handle, func(c *ingest.Config) { c.MaxMessageBytes = 64 << 10 })
	e := exporter(t, c.Addr().String(), func(c *Config) { c.MaxBatchRecords = 10 })
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	e.AddFlows(flows(0, 10))
	e.AddFlows(flows(10, 10)) // refused by the store
	e.AddWindow(record.Window{Start: time.Unix(1, 0), End: time.Unix(2, 0), Summary: make([]byte, 100<<10)})
	e.mu.Lock()
	e.cutLocked(false) // the big window alone
	e.mu.Unlock()
	e.AddFlows(flows(20, 10))
	waitFor(t, 10*time.Second, "the last records", func() bool {
		n := numbers(store.Batches())
		return len(n) > 0 && n[len(n)-1] == 29
	})
	// The refusal's ack may still be on its way when the store has the
	// batches after it; Stop's last batch carries the counters once the
	// probe has them.
	waitFor(t, 5*time.Second, "the refusal counted", func() bool { return e.Stats().Loss[LossRefused] == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got := numbers(store.Batches())
	want := append(seq(0, 10), seq(20, 10)...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored records %v, want %v", got, want)
	}
	for _, b := range store.Batches() {
		if len(b.Windows) > 0 {
			t.Fatal("the over-size window was stored")
		}
	}
	st := e.Stats()
	if st.Loss[LossRefused] != 1 || st.Loss[LossTooLarge] != 1 {
		t.Fatalf("loss %v", st.Loss)
	}
	bs := store.Batches()
	if l := bs[len(bs)-1].Loss; l[LossRefused] != 1 || l[LossTooLarge] != 1 {
		t.Errorf("the center's last batch reports %v", l)
	}
}

func seq(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

// TestRateLimited: the center holds the probe to 2,000 records/s; the
// probe backs off as told and nothing is lost.
func TestRateLimited(t *testing.T) {
	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, func(c *ingest.Config) {
		c.RecordsPerSecond = 2000
		c.Burst = 200
	})
	e := exporter(t, c.Addr().String(), func(c *Config) { c.MaxBatchRecords = 100 })
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	begin := time.Now()
	for i := 0; i < n; i += 100 {
		addPaced(e, flows(i, 100))
	}
	waitFor(t, 20*time.Second, "every record", func() bool { return len(numbers(store.Batches())) >= n })
	took := time.Since(begin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, store, n)
	if r := c.Stats().Probes[probeID].Refused["rate"]; r == 0 {
		t.Error("the center never refused a batch for its rate")
	}
	// 1,000 records, 200 of them from the burst, at 2,000/s: 400 ms at least.
	if took < 350*time.Millisecond {
		t.Errorf("delivered in %v: the rate limit did not hold", took)
	}
}

// TestAuthenticatedTLS: a center that wants a client certificate and a
// token gets both from the exporter; a wrong token leaves everything in
// the spool.
func TestAuthenticatedTLS(t *testing.T) {
	dir := t.TempDir()
	ca := ingesttest.NewCA(t, "wirewatch")
	srvCert, srvKey := ingesttest.WritePair(t, dir, "center", ca.Server(t))
	caFile := ca.WriteCA(t, dir)
	cliCert, cliKey := ingesttest.WritePair(t, dir, "probe", ca.Client(t, probeID))
	const token = "0123456789abcdef-probe-1"

	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, func(c *ingest.Config) {
		c.AllowInsecure = false
		c.TLS = ingest.TLSConfig{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: caFile}
		c.Tokens = map[string]string{probeID: token}
	})
	tlsCfg := func(tok string) func(*Config) {
		return func(c *Config) {
			c.Insecure = false
			c.TLS = TLSConfig{CAFile: caFile, CertFile: cliCert, KeyFile: cliKey}
			c.Token = tok
		}
	}
	good := exporter(t, c.Addr().String(), tlsCfg(token))
	if err := good.Start(); err != nil {
		t.Fatal(err)
	}
	good.AddFlows(flows(0, 5))
	waitFor(t, 10*time.Second, "the records", func() bool { return len(numbers(store.Batches())) == 5 })

	bad := exporter(t, c.Addr().String(), tlsCfg(token+"x"))
	if err := bad.Start(); err != nil {
		t.Fatal(err)
	}
	bad.AddFlows(flows(5, 5))
	waitFor(t, 10*time.Second, "refusals", func() bool { return bad.Stats().Failures >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := bad.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "not delivered") {
		t.Fatalf("Stop with an unauthenticated exporter: %v", err)
	}
	if got := len(numbers(store.Batches())); got != 5 {
		t.Fatalf("%d records stored; the wrong token's went through", got)
	}
	if a := c.Stats().Probes[probeID].Refused["auth"]; a < 2 {
		t.Errorf("center auth refusals %d", a)
	}
}

// TestLossReportedWhileIdle: a producer's loss counters reach the center
// without any record to carry them.
func TestLossReportedWhileIdle(t *testing.T) {
	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, nil)
	e := exporter(t, c.Addr().String(), nil)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	e.SetLoss(map[string]uint64{"capture_kernel_drops": 7})
	waitFor(t, 5*time.Second, "the loss", func() bool {
		bs := store.Batches()
		return len(bs) > 0 && bs[len(bs)-1].Loss["capture_kernel_drops"] == 7
	})
	n := len(store.Batches())
	time.Sleep(100 * time.Millisecond) // five flush intervals
	if got := len(store.Batches()); got != n {
		t.Errorf("%d empty batches sent with nothing new to say", got-n)
	}
}

func TestStopWithoutStart(t *testing.T) {
	e := exporter(t, "127.0.0.1:1", nil)
	e.AddFlows(flows(0, 3))
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.AddFlows(flows(3, 2))
	if got := e.Stats().Loss[LossQueueDropped]; got != 2 {
		t.Errorf("records added after Stop: %d counted, want 2", got)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	base := func() Config { return DefaultConfig("center:10861", dir) }
	cases := []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Center = "" }, "Center"},
		{func(c *Config) { c.Center = "center" }, "Center"},
		{func(c *Config) { c.Center = "center:0" }, "port"},
		{func(c *Config) { c.TLS.CertFile = "x" }, "TLS.CertFile and TLS.KeyFile"},
		{func(c *Config) { c.Insecure = true; c.TLS.CAFile = "x" }, "Insecure and TLS"},
		{func(c *Config) { c.Spool.Dir = "" }, "Spool.Dir"},
		{func(c *Config) { c.MaxBatchRecords = 200_000 }, "MaxBatchRecords"},
		{func(c *Config) { c.MaxBatchBytes = 10 }, "MaxBatchBytes"},
		{func(c *Config) { c.FlushInterval = time.Millisecond }, "FlushInterval"},
		{func(c *Config) { c.MaxInFlight = -1 }, "MaxInFlight"},
	}
	for _, tc := range cases {
		c := base()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if err := base().Validate(); err != nil {
		t.Error(err)
	}
	c := base()
	c.TLS.CAFile = dir + "/missing.pem"
	if _, err := New(c, info, nil); err == nil || !strings.Contains(err.Error(), "TLS.CAFile") {
		t.Errorf("missing CA file: %v", err)
	}
	if _, err := New(base(), record.ProbeInfo{}, nil); err == nil {
		t.Error("probe without ID accepted")
	}
	c = base()
	c.Spool = spool.Config{Dir: dir, SegmentBytes: 1}
	if _, err := New(c, info, nil); err == nil || !strings.Contains(err.Error(), "SegmentBytes") {
		t.Errorf("bad spool config: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000} {
		want *= time.Millisecond
		for range 20 {
			d := backoffDelay(n)
			if d < want/2 || d > want {
				t.Fatalf("after %d failures: %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
	if d := backoffDelay(1000); d > maxBackoff {
		t.Fatalf("after 1000 failures: %v", d)
	}
}

// BenchmarkStream pushes batches of 1,000 flow records from an exporter
// through one stream to a center over loopback.
func BenchmarkStream(b *testing.B) {
	for _, gz := range []bool{true, false} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			var mu sync.Mutex
			var stored int
			c := center(b, "127.0.0.1:0", func(_ context.Context, bt *record.Batch) (bool, error) {
				mu.Lock()
				stored += len(bt.Flows)
				mu.Unlock()
				return false, nil
			}, func(c *ingest.Config) { c.RecordsPerSecond = -1 })
			e := exporter(b, c.Addr().String(), func(c *Config) {
				c.MaxBatchRecords = 1000
				c.Gzip = gz
				c.FlushInterval = time.Second
			})
			if err := e.Start(); err != nil {
				b.Fatal(err)
			}
			batch := flows(0, 1000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e.AddFlows(batch)
				// Stay within the encoder queue: a benchmark of drops is
				// not one of throughput.
				for int(e.records.Load()) < (i+2-queueLen)*1000 {
					time.Sleep(100 * time.Microsecond)
				}
			}
			for {
				mu.Lock()
				n := stored
				mu.Unlock()
				if n >= b.N*1000 {
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			if d := e.Stats().Loss[LossQueueFull]; d > 0 {
				b.Fatalf("%d records dropped at the queue", d)
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "batches/s")
			b.ReportMetric(float64(b.N*1000)/sec, "records/s")
		})
	}
}

// BenchmarkAddFlow is the capture path's cost of handing the exporter one
// flow record (the flow table calls it once per flow and period), by
// AddFlow and by a one-element AddFlows.
func BenchmarkAddFlow(b *testing.B) {
	for _, one := range []bool{true, false} {
		b.Run(fmt.Sprintf("AddFlow=%v", one), func(b *testing.B) {
			e := exporter(b, "127.0.0.1:1", func(c *Config) { c.MaxBatchRecords = 10_000 })
			f := flows(0, 1)[0]
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%5_000 == 0 {
					// Stay below a cut: without Start no encoder takes it.
					e.mu.Lock()
					e.cur.Flows, e.curRecords, e.curBytes = e.cur.Flows[:0], 0, 0
					e.mu.Unlock()
				}
				r := &f
				if one {
					e.AddFlow(r)
				} else {
					e.AddFlows([]record.Flow{*r})
				}
			}
		})
	}
}
