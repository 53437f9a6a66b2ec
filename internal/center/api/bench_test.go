package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func benchGet(b *testing.B, f *fixture, target string) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", target, w.Code, w.Body.Bytes())
		}
	}
}

// BenchmarkSummaryFleet: read, decode and merge every window of both
// probes (23 one-second windows) and render the report.
func BenchmarkSummaryFleet(b *testing.B) {
	f := getFixtureB(b)
	benchGet(b, f, "/api/v1/summary?from=2013-01-01T00:00:00Z&to=2020-01-01T00:00:00Z")
	b.ReportMetric(float64(len(f.a.windows)+len(f.b.windows))*float64(b.N)/b.Elapsed().Seconds(), "windows/s")
}

func BenchmarkTransactionsPage(b *testing.B) {
	f := getFixtureB(b)
	benchGet(b, f, "/api/v1/transactions?from=2013-01-01T00:00:00Z&to=2020-01-01T00:00:00Z&limit=100")
}

func BenchmarkMap(b *testing.B) {
	f := getFixtureB(b)
	benchGet(b, f, "/api/v1/map?from=2013-01-01T00:00:00Z&to=2020-01-01T00:00:00Z&group_by=env")
}
