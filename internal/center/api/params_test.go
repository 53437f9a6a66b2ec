package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/duckdb"
)

// badValue is a value each kind of parameter rejects.
func badValue(p *param) string {
	switch p.Kind {
	case kindTime:
		return "yesterday"
	case kindPrefix:
		return "10.0.0.300/8"
	case kindPort:
		return "70000"
	case kindInt:
		return fmt.Sprint(int(p.Max) + 1)
	case kindNumber:
		return "-1"
	case kindBool:
		return "maybe"
	case kindEnum, kindEnumList:
		return "nope"
	case kindLabel:
		return "env"
	case kindList:
		return strings.Repeat("a,", maxListItems) + "a"
	case kindCursor:
		return strings.Repeat("c", maxCursorLen+1)
	}
	n := maxParamLen
	if p.MaxLen > 0 {
		n = p.MaxLen
	}
	return strings.Repeat("x", n+1)
}

func errorOf(t *testing.T, body []byte) string {
	t.Helper()
	var e ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error
}

// TestBadParameters sends every parameter of every route a bad value,
// and an unknown parameter to every route: each is a 400 whose message
// names the parameter.
func TestBadParameters(t *testing.T) {
	f := getFixture(t)
	for _, rt := range routes(f.api, prometheus.NewRegistry()) {
		cases := []struct{ name, key, val string }{{"bogus", "bogus", "1"}}
		for _, p := range rt.Params {
			key := p.Name
			if p.Prefix {
				key += "" // "field." with no key
			}
			cases = append(cases, struct{ name, key, val string }{p.Name, key, badValue(p)})
		}
		for _, c := range cases {
			q := url.Values{c.key: {c.val}}
			code, body := get(t, f.srv, rt.Path, q)
			if code != http.StatusBadRequest {
				t.Errorf("GET %s %s=%.40q: %d %s, want 400", rt.Path, c.key, c.val, code, body)
				continue
			}
			if msg := errorOf(t, body); !strings.Contains(msg, `"`+c.name) {
				t.Errorf("GET %s %s=%.40q: message %q does not name the parameter", rt.Path, c.key, c.val, msg)
			}
		}
	}
	for _, tc := range []struct {
		path, query, param string
	}{
		{"/api/v1/flows", "limit=1&limit=2", "limit"},
		{"/api/v1/flows", "limit=0", "limit"},
		{"/api/v1/flows", "limit=10001", "limit"},
		{"/api/v1/flows", "limit=1e3", "limit"},
		{"/api/v1/flows", "from=now&to=-1h", "from"},
		{"/api/v1/flows", "from=2024-01-01T00:00:00Z&to=2024-01-01T00:00:00Z", "from"},
		{"/api/v1/flows", "from=-5x", "from"},
		{"/api/v1/flows", "from=-0s", "from"},
		{"/api/v1/flows", "from=--5m", "from"},
		{"/api/v1/flows", "from=-1e400d", "from"},
		{"/api/v1/flows", "to=1969-12-31T23:59:59Z", "to"},
		{"/api/v1/flows", "host=fe80::1%25eth0", "host"},
		{"/api/v1/flows", "client=10.0.0.1/33", "client"},
		{"/api/v1/flows", "port=0", "port"},
		{"/api/v1/flows", "port=-1", "port"},
		{"/api/v1/flows/top", "group_by=host,host", "group_by"},
		{"/api/v1/flows/top", "group_by=host,nope", "group_by"},
		{"/api/v1/flows/top", "order=bytes,flows", "order"},
		{"/api/v1/transactions", "min_latency_ms=NaN", "min_latency_ms"},
		{"/api/v1/transactions", "min_latency_ms=1e10", "min_latency_ms"},
		{"/api/v1/transactions", "field.a=1&field.a=2", "field.a"},
		{"/api/v1/transactions", "outcome=OK", "outcome"},
		{"/api/v1/transactions", "group==prod", "group"},
		{"/api/v1/summary", "top=0", "top"},
		{"/api/v1/summary", "top=101", "top"},
		{"/api/v1/map", "omit=[", "omit"},
		{"/api/v1/map", "loops=maybe", "loops"},
		{"/api/v1/probes", "from=-1h", "from"},
		{"/api/v1/flows", "%zz=1", "query string"},
	} {
		code, body := get(t, f.srv, tc.path+"?"+tc.query, nil)
		if code != http.StatusBadRequest {
			t.Errorf("GET %s?%s: %d %s, want 400", tc.path, tc.query, code, body)
			continue
		}
		if msg := errorOf(t, body); !strings.Contains(msg, tc.param) {
			t.Errorf("GET %s?%s: message %q does not name %q", tc.path, tc.query, msg, tc.param)
		}
	}
	var fields []string
	for i := range maxFieldParams + 1 {
		fields = append(fields, fmt.Sprintf("field.k%d=v", i))
	}
	code, body := get(t, f.srv, "/api/v1/transactions?"+strings.Join(fields, "&"), nil)
	if code != http.StatusBadRequest || !strings.Contains(errorOf(t, body), "field.") {
		t.Errorf("17 field parameters: %d %s", code, body)
	}
	// A cursor the store did not make: the store says it is a bad query.
	code, body = get(t, f.srv, "/api/v1/flows?cursor=bm90IGEgY3Vyc29y", nil)
	if code != http.StatusBadRequest {
		t.Errorf("foreign cursor: %d %s, want 400", code, body)
	}
	code, body = get(t, f.srv, "/api/v1/transactions?cursor=%00%01", nil)
	if code != http.StatusBadRequest {
		t.Errorf("foreign cursor: %d %s, want 400", code, body)
	}
}

// TestGoodParameterForms accepts every documented form.
func TestGoodParameterForms(t *testing.T) {
	f := getFixture(t)
	for _, q := range []string{
		"from=-15m&to=now", "from=-1h30m", "from=-7d", "from=-0.5d", "from=2013-02-26T22:02:36.5%2B01:00",
		"host=::ffff:10.0.0.1", "host=2001:db8::/32", "client=::ffff:10.0.0.0/104", "probe=a,b&probe=c", "probe=a,,b,",
	} {
		if code, body := get(t, f.srv, "/api/v1/flows?"+q, nil); code != http.StatusOK {
			t.Errorf("GET /api/v1/flows?%s: %d %s", q, code, body)
		}
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       now,
		"-15m":                      now.Add(-15 * time.Minute),
		"-2d":                       now.Add(-48 * time.Hour),
		"-1h30m":                    now.Add(-90 * time.Minute),
		"2024-05-01T10:00:00Z":      time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"2024-05-01T12:00:00+02:00": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
	} {
		got, ok := parseTime(in, now)
		if !ok || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
}

// newStore opens a store of its own for a test that changes it.
func newStore(t *testing.T) *duckdb.Store { return newStoreF(t) }

func newStoreF(t testing.TB) *duckdb.Store {
	t.Helper()
	st, err := duckdb.Open(storeConfig(t.TempDir()), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestEscaping: strings from traffic reach clients as inert JSON text.
func TestEscaping(t *testing.T) {
	st := newStore(t)
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	hostile := "<script>alert(1)</script>&\xff\xfe\u2028"
	b := &record.Batch{
		Probe: record.ProbeInfo{ID: "p<1>", Hostname: "h", Labels: map[string]string{"env": "<b>prod</b>"}},
		Seq:   1,
		Transactions: []record.Transaction{{
			Probe: "p<1>", Proto: "http", Transport: "tcp",
			Client: netip.MustParseAddrPort("10.0.0.1:1000"), Server: netip.MustParseAddrPort("10.0.0.2:80"),
			RequestTime: at, ResponseTime: at.Add(time.Millisecond), Latency: time.Millisecond,
			Op: "GET", Target: hostile, Status: "200", Outcome: "ok",
			Fields: []record.Field{{Key: "user_agent", Value: hostile}, {Key: "user_agent", Value: "second"}},
		}},
	}
	if _, err := st.Write(context.Background(), b, at); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{}, Deps{Store: st, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	for _, path := range []string{"/api/v1/transactions?from=2024-05-01T00:00:00Z&to=2024-05-02T00:00:00Z", "/api/v1/probes"} {
		code, body := get(t, srv, path, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		s := string(body)
		if strings.ContainsAny(s, "<>&\u2028") || strings.Contains(s, "\xff") {
			t.Errorf("%s: raw markup or bytes in the body: %s", path, s)
		}
		if !strings.Contains(s, `\u003c`) {
			t.Errorf("%s: no escaped < in %s", path, s)
		}
	}
	var page TransactionsResponse
	getJSON(t, srv, "/api/v1/transactions", vals("from", "2024-05-01T00:00:00Z", "to", "2024-05-02T00:00:00Z"), &page)
	want := `<script>alert(1)</script>&\xff\xfe` + "\u2028"
	if len(page.Transactions) != 1 || page.Transactions[0].Target != want || len(page.Transactions[0].Fields) != 2 ||
		page.Transactions[0].Fields[0].Value != want || page.Transactions[0].Fields[1].Value != "second" {
		t.Errorf("decoded: %s, want target %q", js(page), want)
	}
	// Errors echo parameters escaped too.
	code, body := get(t, srv, "/api/v1/flows", vals("host", "<img src=x>"))
	if code != http.StatusBadRequest || strings.Contains(string(body), "<img") {
		t.Errorf("error echo: %d %s", code, body)
	}
}

// TestStoreFailures: an error of the store that is not about the query
// is a 500 with a generic message; a window that does not decode is left
// out and counted.
func TestStoreFailures(t *testing.T) {
	f := getFixture(t)
	st := newStore(t)
	good := f.a.windows[0]
	bad := good
	bad.Start, bad.End = good.End, good.End.Add(time.Second)
	bad.Summary = append([]byte("WWSB"), make([]byte, 40)...)
	b := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: 1, Windows: []record.Window{good, bad}}
	b.Windows[0].Probe, b.Windows[1].Probe = "p", "p"
	if _, err := st.Write(context.Background(), b, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{}, Deps{Store: st, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	var got summaryBody
	getJSON(t, srv, "/api/v1/summary", with(rangeAll), &got)
	if got.Windows != 1 || got.BadWindows != 1 || !jsonEqual(got.Report, mergeReport(f.a.buckets[:1], DefaultTopN)) {
		t.Errorf("corrupt window: %d windows, %d bad", got.Windows, got.BadWindows)
	}
	_, body := get(t, srv, "/metrics", nil)
	if !strings.Contains(string(body), "wirewatch_center_api_bad_windows_total 1\n") {
		t.Errorf("bad window not counted in /metrics")
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/flows", "/api/v1/transactions", "/api/v1/probes", "/api/v1/summary", "/api/v1/map", "/api/v1/traffic", "/api/v1/flows/top"} {
		code, body := get(t, srv, path, nil)
		if code != http.StatusInternalServerError {
			t.Errorf("%s on a closed store: %d %s, want 500", path, code, body)
			continue
		}
		if msg := errorOf(t, body); msg != "internal error (logged by the center)" {
			t.Errorf("%s: message %q leaks detail", path, msg)
		}
	}
	// /metrics still answers, without the probe series, and counts the
	// failure (the second scrape shows the first one's).
	get(t, srv, "/metrics", nil)
	code, body := get(t, srv, "/metrics", nil)
	s := string(body)
	if code != http.StatusOK || strings.Contains(s, "wirewatch_center_probes{") ||
		!(strings.Contains(s, "wirewatch_center_metrics_store_errors_total 1\n") || strings.Contains(s, "wirewatch_center_metrics_store_errors_total 2\n")) {
		t.Errorf("/metrics on a closed store: %d %s", code, body)
	}
}

func jsonEqual(a, b any) bool { return js(a) == js(b) }

// TestMaxWindows: a range with more windows than the cap is refused.
func TestMaxWindows(t *testing.T) {
	f := getFixture(t)
	a, err := New(Config{MaxWindows: 3}, Deps{Store: f.st, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	code, body := get(t, srv, "/api/v1/summary", with(rangeAll))
	if code != http.StatusBadRequest || !strings.Contains(errorOf(t, body), "more than 3 summary windows") {
		t.Errorf("over the cap: %d %s", code, body)
	}
	var got summaryBody
	getJSON(t, srv, "/api/v1/summary", vals("from", f.a.windows[0].Start.Format(time.RFC3339Nano), "to", f.a.windows[2].Start.Format(time.RFC3339Nano)), &got)
	if got.Windows != 2 {
		t.Errorf("under the cap: %d windows, want 2", got.Windows)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{TopN: 101}, "api.top_n"},
		{Config{MaxWindows: store.MaxLimit + 1}, "api.max_windows"},
		{Config{MapEdges: -1}, "api.map_edges"},
		{Config{MaxMerges: 65}, "api.max_merges"},
		{Config{Staleness: -time.Second}, "api.staleness"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Error("New without a store: no error")
	}
}

// TestTimeout: a query that outlives api.query_timeout is a 503.
func TestTimeout(t *testing.T) {
	f := getFixture(t)
	a, err := New(Config{QueryTimeout: time.Nanosecond}, Deps{Store: f.st, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	for _, path := range []string{"/api/v1/summary", "/api/v1/flows", "/api/v1/transactions", "/api/v1/probes"} {
		code, body := get(t, srv, path, with(rangeAll))
		if path == "/api/v1/probes" {
			code, body = get(t, srv, path, nil)
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, body), "longer than 1ns") {
			t.Errorf("%s: %d %s, want 503", path, code, body)
		}
	}
}
