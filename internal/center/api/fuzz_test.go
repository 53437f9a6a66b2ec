package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzQuery sends arbitrary query strings to every route, over the real
// store: the answer is 200 or a 400 with a JSON error, never a panic, a
// 500 or a body that is not JSON.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"", "from=-15m&to=now", "from=2013-01-01T00:00:00Z&to=2020-01-01T00:00:00Z&limit=3",
		"probe=a,b&group=env=prod", "host=10.0.0.0/8&port=80&app=http", "group_by=host,app&order=packets",
		"field.host=www.wix.com&min_latency_ms=0.5&flag=sqli&outcome=ok", "cursor=abc", "omit=[&hide_app=none",
		"from=-1e308d", "from=-9223372036s", "to=9999-12-31T23:59:59.999999999Z", "top=100&report=true",
		"limit=10000&cursor=%00", "field.=1", "%zz", "&&&==", "group_by=env&group_external=1&loops=drop",
	} {
		for i := range 11 {
			f.Add(uint8(i), s)
		}
	}
	st := newStoreF(f)
	fx := fuzzFixture(f)
	for _, b := range fx.a.batches {
		if _, err := st.Write(context.Background(), b, time.Now()); err != nil {
			f.Fatal(err)
		}
	}
	a, err := New(Config{QueryTimeout: 10 * time.Second}, Deps{Store: st, Inventory: fx.inv, Log: quietLog()})
	if err != nil {
		f.Fatal(err)
	}
	rs := routes(a, prometheus.NewRegistry())
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		rt := rs[int(which)%len(rs)]
		req := httptest.NewRequest(http.MethodGet, "http://center"+rt.Path, nil)
		req.URL.RawQuery = raw
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
			if rt.Content == "text/plain" {
				return
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s?%s: 200 with a body that is not JSON: %q", rt.Path, raw, w.Body.Bytes())
			}
		case http.StatusBadRequest:
			var e ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s?%s: 400 body %q", rt.Path, raw, w.Body.Bytes())
			}
		default:
			t.Fatalf("%s?%s: %d %s", rt.Path, raw, w.Code, w.Body.Bytes())
		}
	})
}
