package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center/graph"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
	"github.com/wirewatch/wirewatch/internal/probe"
	"github.com/wirewatch/wirewatch/internal/proto/registry"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/duckdb"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// The fixture: two probes' worth of records built from real captures
// (windows and transactions from the probe pipeline, flows from the flow
// table's connections), written to the real embedded store once and
// shared by the read-only tests.

const (
	httpCapture = "pcapplusplus/ExamplesTest/pcap_examples/http-packets2.pcap"
	dnsCapture  = "pktvisor/dns_ipv4_udp.pcap"
	topCap      = 256
)

// capData is one probe's records.
type capData struct {
	info    record.ProbeInfo
	buckets []*summary.Bucket // the windows as the pipeline closed them
	windows []record.Window
	flows   []record.Flow
	txs     []record.Transaction
	traffic []record.Traffic
	batches []*record.Batch
}

type fixture struct {
	dir     string
	st      *duckdb.Store
	api     *API
	srv     *httptest.Server
	now     time.Time
	a, b    *capData
	inv     *graph.Inventory
	written int // batches
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		fix.srv.Close()
		fix.st.Close()
		os.RemoveAll(fix.dir)
	}
	os.Exit(code)
}

// storeConfig keeps records from 2013 (the captures' time): the default
// retention would delete them.
func storeConfig(dir string) duckdb.Config {
	cfg := duckdb.DefaultConfig()
	cfg.Dir = dir
	cfg.Retention.MaxAge = 100 * 365 * 24 * time.Hour
	cfg.RetainEvery = time.Hour
	cfg.Threads = 1
	cfg.MemoryLimit = "256MB"
	return cfg
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

const inventoryDoc = `
entries:
  - cidr: 216.185.152.111
    name: wix
    labels: {archdomain: wix-cdn, owner: wix}
  - cidr: 98.0.0.0/8
    name: yahoo-net
`

func getFixture(t *testing.T) *fixture { return getFixtureB(t) }

func getFixtureB(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix = buildFixture(t) })
	if fix == nil {
		t.Fatalf("fixture: %s", fixErr)
	}
	return fix
}

func buildFixture(t testing.TB) *fixture {
	defer func() {
		if fix == nil && fixErr == "" {
			fixErr = "built by a test that stopped early"
		}
	}()
	f := &fixture{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.a = readCapture(t, httpCapture, record.ProbeInfo{
		ID: "laptop-probe", Hostname: "laptop", Version: "1.2.3",
		Labels:    map[string]string{"env": "prod", "archdomain": "front"},
		Devices:   []string{"eth0"},
		Addresses: []netip.Addr{netip.MustParseAddr("172.16.133.132")},
		Started:   time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC),
	}, "eth0")
	f.b = readCapture(t, dnsCapture, record.ProbeInfo{
		ID: "dns-probe", Hostname: "dns-1", Version: "1.2.2",
		Labels:    map[string]string{"env": "test"},
		Devices:   []string{"lo"},
		Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.9.9.9")},
	}, "lo")
	inv, err := graph.ParseInventory([]byte(inventoryDoc))
	if err != nil {
		t.Fatal(err)
	}
	f.inv = inv
	dir, err := os.MkdirTemp("", "wirewatch-api-test")
	if err != nil {
		t.Fatal(err)
	}
	f.dir = dir
	st, err := duckdb.Open(storeConfig(dir), quietLog())
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("duckdb.Open: %v", err)
	}
	f.st = st
	ctx := context.Background()
	for _, c := range []struct {
		d  *capData
		at time.Time
	}{{f.b, f.now.Add(-10 * time.Minute)}, {f.a, f.now.Add(-30 * time.Second)}} {
		for i, b := range c.d.batches {
			dup, err := st.Write(ctx, b, c.at.Add(time.Duration(i)*time.Second))
			if err != nil || dup {
				t.Fatalf("Write %s #%d: duplicate %v, %v", b.Probe.ID, b.Seq, dup, err)
			}
			f.written++
		}
	}
	f.api, err = New(Config{}, Deps{Store: st, Inventory: inv, Log: quietLog(), Now: func() time.Time { return f.now }, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.api)
	return f
}

// readCapture runs the probe pipeline over a capture (1 s windows) and
// turns what it produced into records: windows (encoded buckets), the
// transactions, the per-device traffic of each window, and one flow
// record per connection the flow table saw, with the connection's
// transactions' times and sizes.
func readCapture(t testing.TB, rel string, info record.ProbeInfo, device string) *capData {
	t.Helper()
	path := corpus.Path(t, rel)
	opt, err := probe.OptionsFrom(config.DefaultProbe())
	if err != nil {
		t.Fatal(err)
	}
	opt.Period = time.Second
	opt.Keep = 1000
	opt.TopCapacity = topCap
	var mu sync.Mutex
	var l7txs []*l7.Transaction
	opt.Records = func(tx *l7.Transaction) {
		mu.Lock()
		l7txs = append(l7txs, tx.Clone())
		mu.Unlock()
	}
	res, err := probe.ReadFile(context.Background(), path, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Windows) < 4 || len(l7txs) == 0 {
		t.Fatalf("%s: %d windows, %d transactions: too few for the tests", rel, len(res.Windows), len(l7txs))
	}
	d := &capData{info: info, buckets: res.Windows}
	for _, b := range res.Windows {
		blob, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		start, end := time.Unix(0, b.Start).UTC(), time.Unix(0, b.End).UTC()
		d.windows = append(d.windows, record.Window{Probe: info.ID, Start: start, End: end, Summary: blob,
			Packets: b.Packets.Total, Bytes: b.Bytes.Total})
		for name, dev := range b.Devices {
			for _, dir := range []struct {
				name string
				c    summary.DirCounters
			}{{"in", dev.In}, {"out", dev.Out}, {"other", dev.Other}} {
				if dir.c.Packets == 0 {
					continue
				}
				d.traffic = append(d.traffic, record.Traffic{Probe: info.ID, Device: name, Direction: dir.name,
					Start: start, End: end, Packets: dir.c.Packets, Bytes: dir.c.Bytes})
			}
		}
	}
	for _, tx := range l7txs {
		d.txs = append(d.txs, recordTx(info.ID, tx))
	}
	first := d.windows[0].Start
	conns := l7test.ReadFile(t, path, registry.All()...)
	for i, c := range conns.Flows {
		fl := record.Flow{Probe: info.ID, Transport: c.Transport.String(), Client: c.Client, Server: c.Server, App: c.Proto,
			Device: device, Ended: true, Packets: [2]uint64{2, 1}, Bytes: [2]uint64{100, 60}}
		if fl.Transport == "tcp" {
			fl.State = "closed"
			fl.RTT = time.Duration(i+1) * time.Millisecond
		}
		for _, tx := range d.txs {
			if tx.Client != c.Client || tx.Server != c.Server || tx.Transport != fl.Transport {
				continue
			}
			ts := tx.Time()
			if fl.Start.IsZero() || ts.Before(fl.Start) {
				fl.Start = ts
			}
			if ts.After(fl.End) {
				fl.End = ts
			}
			if tx.ResponseTime.After(fl.End) {
				fl.End = tx.ResponseTime
			}
			fl.Packets[0]++
			fl.Packets[1]++
			fl.Bytes[0] += uint64(max(tx.RequestBytes, 0))
			fl.Bytes[1] += uint64(max(tx.ResponseBytes, 0))
		}
		if fl.Start.IsZero() {
			fl.Start = first.Add(time.Duration(i) * time.Millisecond)
			fl.End = fl.Start.Add(time.Millisecond)
		}
		d.flows = append(d.flows, fl)
	}
	// Two batches: the first half of everything, then the rest.
	half := func(n int) int { return n / 2 }
	b1 := &record.Batch{Probe: info, Seq: 1, SentAt: d.windows[0].End,
		Windows: d.windows[:half(len(d.windows))], Flows: d.flows[:half(len(d.flows))],
		Transactions: d.txs[:half(len(d.txs))], Traffic: d.traffic[:half(len(d.traffic))],
		Loss: map[string]uint64{"capture_kernel_drops": 1}}
	b2 := &record.Batch{Probe: info, Seq: 2, SentAt: d.windows[len(d.windows)-1].End,
		Windows: d.windows[half(len(d.windows)):], Flows: d.flows[half(len(d.flows)):],
		Transactions: d.txs[half(len(d.txs)):], Traffic: d.traffic[half(len(d.traffic)):],
		Loss: map[string]uint64{"capture_kernel_drops": 3, "l7_gap": 7}}
	for _, b := range []*record.Batch{b1, b2} {
		b.Edges = graph.Derive(b)
	}
	d.batches = []*record.Batch{b1, b2}
	return d
}

// recordTx is what the probe's exporter sends for a transaction.
func recordTx(probe string, t *l7.Transaction) record.Transaction {
	r := record.Transaction{Probe: probe, Proto: t.Proto, Transport: t.Transport.String(), Client: t.Client, Server: t.Server,
		Latency: time.Duration(t.Latency()), RequestBytes: t.ReqBytes, ResponseBytes: t.RespBytes,
		Op: string(t.Op), Target: string(t.Target), Status: string(t.Status), Outcome: t.Outcome.String()}
	if t.ReqTS != 0 {
		r.RequestTime = time.Unix(0, t.ReqTS).UTC()
	}
	if t.RespTS != 0 {
		r.ResponseTime = time.Unix(0, t.RespTS).UTC()
	}
	for _, f := range []struct {
		bit  l7.Flags
		name string
	}{{l7.FlagSQLi, "sqli"}, {l7.FlagRedacted, "redacted"}, {l7.FlagTruncated, "truncated"}} {
		if t.Flags&f.bit != 0 {
			r.Flags = append(r.Flags, f.name)
		}
	}
	for _, f := range t.Fields {
		r.Fields = append(r.Fields, record.Field{Key: f.Key, Value: string(f.Value)})
	}
	return r
}

// get requests path?query from the fixture's server.
func get(t *testing.T, srv *httptest.Server, path string, q url.Values) (int, []byte) {
	t.Helper()
	u := srv.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// getJSON requests and decodes a 200 response.
func getJSON(t *testing.T, srv *httptest.Server, path string, q url.Values, v any) {
	t.Helper()
	code, body := get(t, srv, path, q)
	if code != http.StatusOK {
		t.Fatalf("GET %s?%s: %d %s", path, q.Encode(), code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s?%s: %v in %s", path, q.Encode(), err, body)
	}
}

func vals(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	return q
}

// Ranges that hold one probe's records, and both.
var (
	range2013 = []string{"from", "2013-02-26T00:00:00Z", "to", "2013-02-27T00:00:00Z"}
	rangeAll  = []string{"from", "2013-01-01T00:00:00Z", "to", "2020-01-01T00:00:00Z"}
)

func with(base []string, kv ...string) url.Values {
	return vals(append(append([]string{}, base...), kv...)...)
}

// mergeReport merges buckets in memory and reports them, as the
// expected value of a summary.
func mergeReport(bs []*summary.Bucket, top int) any {
	acc := summary.NewBucket(0, 0, topCap)
	for _, b := range bs {
		acc.Merge(b)
	}
	return roundTrip(acc.Report(top, true, len(bs)))
}

// roundTrip turns a value into its generic JSON form, for comparisons.
func roundTrip(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// overlaps is the store's window selection rule.
func overlaps(w record.Window, tr store.TimeRange) bool {
	return w.Start.Before(tr.To) && w.End.After(tr.From)
}

// fuzzFixture is the laptop probe's records, not stored.
func fuzzFixture(tb testing.TB) *fixture {
	inv, err := graph.ParseInventory([]byte(inventoryDoc))
	if err != nil {
		tb.Fatal(err)
	}
	a := readCapture(tb, httpCapture, record.ProbeInfo{ID: "laptop-probe", Hostname: "laptop",
		Labels: map[string]string{"env": "prod"}, Addresses: []netip.Addr{netip.MustParseAddr("172.16.133.132")}}, "eth0")
	return &fixture{a: a, inv: inv}
}
