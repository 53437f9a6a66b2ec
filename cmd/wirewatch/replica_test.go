package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/probe"
	"github.com/wirewatch/wirewatch/internal/store/clickhouse/chtest"
)

// TestReplicasShareClickHouse runs two center replicas (separate
// processes) on one real ClickHouse server. A probe reports a capture to
// replica A through its spool; A is killed (SIGKILL) mid-stream; the probe
// is restarted with the same spool pointed at replica B, which is what an
// operator does; A is restarted. Both replicas then answer the same, and
// every transaction, flow record and window is stored exactly once: the
// counts equal what the probe produced and what the same capture gives
// through the one-process DuckDB path, and the global summary merged from
// the stored windows equals that path's.
func TestReplicasShareClickHouse(t *testing.T) {
	path := corpus.Path(t, "pcapplusplus/PcapExamples/example2.pcap")
	ch := chtest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	token := randomToken()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A takes few records per second (a batch of 400 needs a full bucket
	// of 200, refilled in a second), so that the stream is still going
	// when it is killed; B takes them at once.
	a := newReplica(t, self, dir, "a", ch.URL, token, 200)
	b := newReplica(t, self, dir, "b", ch.URL, token, 0)

	// The probe reads the capture into its spool while A is not up yet.
	pcfg := config.DefaultProbe()
	pcfg.Summary.Period = 10 * time.Second
	spool := filepath.Join(dir, "spool")
	rep := config.Report{Address: a.grpc, ID: "p1", Token: token, Insecure: true, SpoolDir: spool, BatchRecords: batchRecords}
	opt, err := probe.OptionsFrom(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startReport(rep, []string{"example2"}, false, &opt, log)
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingReporter{next: opt.Report}
	opt.Report = counter
	records := opt.Records
	opt.Records = func(tx *l7.Transaction) { counter.transactions.Add(1); records(tx) }
	if _, err := probe.ReadFile(context.Background(), path, opt, nil); err != nil {
		t.Fatal(err)
	}
	if err := stopWithin(stop, time.Second); err == nil {
		t.Fatal("the probe delivered to a replica that is not running")
	}
	// A copy of the spool as it is now, every batch unacknowledged: the
	// spool of a probe whose acknowledgements were lost.
	lostAcks := filepath.Join(dir, "spool-lost-acks")
	copyDir(t, spool, lostAcks)

	a.start(t)
	b.start(t)
	resume := func(addr, spoolDir string) func(context.Context) error {
		t.Helper()
		r := rep
		r.Address, r.SpoolDir = addr, spoolDir
		o, err := probe.OptionsFrom(pcfg)
		if err != nil {
			t.Fatal(err)
		}
		stop, err := startReport(r, []string{"example2"}, false, &o, log)
		if err != nil {
			t.Fatal(err)
		}
		return stop
	}
	// The probe delivers to A, which is killed once it stored a batch,
	// with more on the way.
	stop = resume(a.grpc, spool)
	committed := func() int {
		v, err := ch.Query("SELECT count() FROM replicas.batches")
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(v)
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for committed() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no batch reached replica A")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.kill(t)
	atKill := committed()
	if err := stopWithin(stop, 2*time.Second); err == nil {
		t.Fatalf("the probe delivered everything to A before it was killed (%d batches): not mid-stream", atKill)
	}
	// The operator restarts the probe on the same spool, pointed at B.
	if err := stopWithin(resume(b.grpc, spool), time.Minute); err != nil {
		t.Fatalf("delivering the spool to B: %v", err)
	}
	// And a probe whose acknowledgements were lost resends everything,
	// including what A stored: all duplicates.
	if err := stopWithin(resume(b.grpc, lostAcks), time.Minute); err != nil {
		t.Fatalf("resending every batch to B: %v", err)
	}
	a.start(t) // A', on the same database
	t.Logf("A stored %d batches before it was killed; %d in all; the probe produced %d transactions, %d flow records, %d windows",
		atKill, committed(), counter.transactions.Load(), counter.flows.Load(), counter.wins.Load())

	// The one-process path: the same capture into a center on DuckDB.
	ref := duckdbReference(t, path, pcfg, log)

	views := map[string]*storeView{"A'": load(t, a.api), "B": load(t, b.api), "duckdb": load(t, ref)}
	want := views["duckdb"]
	if len(want.txs) != int(counter.transactions.Load()) || len(want.flows) != int(counter.flows.Load()) || want.windows != int(counter.wins.Load()) {
		t.Errorf("duckdb path stored %d transactions, %d flows, %d windows; the probe produced %d, %d, %d", len(want.txs), len(want.flows),
			want.windows, counter.transactions.Load(), counter.flows.Load(), counter.wins.Load())
	}
	if len(want.txs) == 0 || len(want.flows) == 0 || want.windows == 0 {
		t.Fatal("nothing stored")
	}
	for _, name := range []string{"A'", "B"} {
		v := views[name]
		if len(v.txs) != len(want.txs) || len(v.flows) != len(want.flows) || v.windows != want.windows {
			t.Errorf("%s: %d transactions, %d flows, %d windows; the DuckDB path %d, %d, %d", name,
				len(v.txs), len(v.flows), v.windows, len(want.txs), len(want.flows), want.windows)
		}
		if !slices.Equal(v.txs, want.txs) {
			t.Errorf("%s: the transactions differ from the DuckDB path's", name)
		}
		if !slices.Equal(v.flows, want.flows) {
			t.Errorf("%s: the flow records differ from the DuckDB path's", name)
		}
		if !bytes.Equal(v.summary, want.summary) {
			t.Errorf("%s: the merged summary differs from the DuckDB path's:\n%.400s\n%.400s", name, v.summary, want.summary)
		}
	}
	if pa, pb := views["A'"].probe, views["B"].probe; pa != pb || !strings.Contains(pa, `"id":"p1"`) {
		t.Errorf("probe status: A' %s, B %s", pa, pb)
	}
	// The spool numbers its batches 1, 2, 3...: each stored once, the
	// count of stored batches is the last one's number.
	var st []struct {
		Batches uint64 `json:"batches"`
		LastSeq uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal([]byte("["+strings.ReplaceAll(views["B"].probe, "}{", "},{")+"]"), &st); err != nil || len(st) != 1 {
		t.Fatalf("probe status %s: %v", views["B"].probe, err)
	}
	if st[0].Batches != st[0].LastSeq || st[0].Batches != uint64(committedOnce(t, ch)) {
		t.Errorf("probe p1: %d batches stored, last seq %d; want each seq once", st[0].Batches, st[0].LastSeq)
	}
}

// batchRecords cuts the capture's ~1,000 records into 3 batches: the
// exporter drops (and counts) a batch cut while 4 wait for its encoder,
// which a file read at full speed would cause with small batches.
const batchRecords = 400

// committedOnce is the number of distinct batches committed.
func committedOnce(t *testing.T, ch *chtest.Server) int {
	t.Helper()
	v, err := ch.Query("SELECT count(DISTINCT (probe, spool_id, seq)) FROM replicas.batches")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(v)
	return n
}

func stopWithin(stop func(context.Context) error, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return stop(ctx)
}

// copyDir copies the regular files of src into a new dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// replica is one `wirewatch center` process on the ClickHouse store.
type replica struct {
	name, bin, cfg, grpc, api string
	cmd                       *exec.Cmd
	exited                    chan struct{}
	logf                      string
}

func replicaAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newReplica(t *testing.T, self, dir, name, chURL, token string, rate int) *replica {
	t.Helper()
	r := &replica{name: name, bin: self, grpc: replicaAddr(t), api: replicaAddr(t), logf: filepath.Join(dir, name+".log")}
	r.cfg = filepath.Join(dir, name+".yaml")
	limit := ""
	if rate > 0 {
		limit = fmt.Sprintf("  records_per_second: %d\n  burst: %d\n", rate, rate)
	}
	yaml := fmt.Sprintf(`data_dir: %s
grpc:
  listen: %s
  tokens: {p1: %s}
%sapi:
  listen: %s
retention:
  max_age: 876000h # the capture is old
store:
  kind: clickhouse
  clickhouse:
    url: %s
    database: replicas
log:
  level: warn
`, filepath.Join(dir, name+"-data"), r.grpc, token, limit, r.api, chURL)
	if err := os.WriteFile(r.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.kill(t)
		if t.Failed() {
			b, _ := os.ReadFile(r.logf)
			t.Logf("replica %s log:\n%s", name, b)
		}
	})
	return r
}

// start runs the replica and waits for its API.
func (r *replica) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(r.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	r.cmd = exec.Command(r.bin, "center", "-c", r.cfg)
	r.cmd.Env = append(os.Environ(), "WIREWATCH_TEST_MAIN=1")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(r.cmd, r.exited)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.api + "/api/v1/probes")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-r.exited:
			b, _ := os.ReadFile(r.logf)
			t.Fatalf("replica %s exited while starting:\n%s", r.name, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s: no API after 30 s", r.name)
		}
	}
}

// kill ends the replica at once (SIGKILL): no graceful stop.
func (r *replica) kill(t *testing.T) {
	if r.exited == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	r.cmd.Process.Kill()
	<-r.exited
}

// duckdbReference stores the capture through an in-process center on
// the embedded DuckDB store and returns its API address.
func duckdbReference(t *testing.T, path string, pcfg config.Probe, log *slog.Logger) string {
	t.Helper()
	cfg := config.DefaultCenter()
	cfg.DataDir = t.TempDir()
	cfg.GRPC.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Retention.MaxAge = 100 * 365 * 24 * time.Hour
	token := randomToken()
	cfg.GRPC.Tokens = map[string]string{"p1": token}
	c, err := center.New(cfg, center.Options{Version: "test"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopCenter(c, log) })
	opt, err := probe.OptionsFrom(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startReport(config.Report{Address: c.IngestAddr(), ID: "p1", Token: token, Insecure: true,
		SpoolDir: filepath.Join(t.TempDir(), "spool"), BatchRecords: batchRecords}, []string{"example2"}, false, &opt, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := probe.ReadFile(context.Background(), path, opt, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	return c.APIAddr()
}

// storeView is what a center's API answers about probe p1, in a form to
// compare: every transaction and flow record (JSON, sorted), the windows'
// count and the merged summary.
type storeView struct {
	txs, flows []string
	windows    int
	summary    []byte
	probe      string
}

func load(t *testing.T, api string) *storeView {
	t.Helper()
	base := "http://" + api
	from := url.QueryEscape("2000-01-01T00:00:00Z")
	v := &storeView{}
	all := func(path, field string) []string {
		var out []string
		cursor := ""
		for {
			u := base + path + "?probe=p1&limit=10000&from=" + from
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			var page map[string]json.RawMessage
			getJSON(t, u, &page)
			var rows []json.RawMessage
			if err := json.Unmarshal(page[field], &rows); err != nil {
				t.Fatalf("%s: %v", u, err)
			}
			for _, r := range rows {
				out = append(out, string(r))
			}
			var next string
			if n, ok := page["next"]; ok {
				json.Unmarshal(n, &next)
			}
			if next == "" {
				slices.Sort(out)
				return out
			}
			cursor = next
		}
	}
	v.txs = all("/api/v1/transactions", "transactions")
	v.flows = all("/api/v1/flows", "flows")
	var sum struct {
		Windows int             `json:"windows"`
		Report  json.RawMessage `json:"report"`
	}
	getJSON(t, base+"/api/v1/summary?probe=p1&from="+from, &sum)
	v.windows, v.summary = sum.Windows, sum.Report
	var probes struct {
		Probes []map[string]any `json:"probes"`
	}
	getJSON(t, base+"/api/v1/probes", &probes)
	for _, p := range probes.Probes {
		if loss, _ := p["loss"].(map[string]any); loss != nil {
			for k, n := range loss {
				if strings.HasPrefix(k, "export_") && n != 0.0 {
					t.Fatalf("%s: the probe lost %v records at export (%s): the counts cannot compare", api, n, k)
				}
			}
		}
		// What both replicas must agree on; health and ages move.
		b, _ := json.Marshal(map[string]any{"id": p["id"], "batches": p["batches"], "records": p["records"], "last_seq": p["last_seq"]})
		v.probe += string(b)
	}
	return v
}
