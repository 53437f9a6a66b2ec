package probe

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wirewatch/wirewatch/internal/summary"
)

// Version is set by the linker (-X) or left as "dev".
var Version = "dev"

// APIHandler serves a live probe's windows as JSON (docs/api.md) and its
// counters as Prometheus metrics.
func APIHandler(l *Live) http.Handler {
	a := &api{live: l}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", a.status)
	mux.HandleFunc("GET /api/v1/windows", a.windows)
	mux.HandleFunc("GET /api/v1/windows/current", a.current)
	mux.HandleFunc("GET /api/v1/windows/{n}", a.window)
	mux.HandleFunc("GET /api/v1/summary", a.summary)
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{live: l, api: a})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint; see /api/v1/status, /api/v1/windows, /api/v1/summary, /metrics")
	})
	return mux
}

type api struct {
	live *Live
	// Reports read sketches that are not safe for concurrent readers (a
	// sparse HyperLogLog merges its buffer on Estimate); one render at a
	// time is plenty.
	render sync.Mutex
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (a *api) report(b *summary.Bucket, complete bool, merged int) *summary.Report {
	a.render.Lock()
	defer a.render.Unlock()
	return b.Report(a.live.opt.TopN, complete, merged)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	l := a.live
	var devices []string
	for _, itf := range l.Interfaces() {
		devices = append(devices, itf.Name)
	}
	writeJSON(w, map[string]any{
		"version":        Version,
		"started":        l.started.UTC().Format(time.RFC3339),
		"uptime_s":       int64(time.Since(l.started).Seconds()),
		"devices":        devices,
		"host_cidrs":     l.Hosts(),
		"period_s":       l.opt.Period.Seconds(),
		"keep":           l.opt.Keep,
		"windows_closed": l.windows.Total(),
		"capture":        l.CaptureStats(),
	})
}

func (a *api) currentReport() *summary.Report {
	b := a.live.Current()
	if b == nil {
		return nil
	}
	return a.report(b, false, 1)
}

func (a *api) current(w http.ResponseWriter, r *http.Request) {
	rep := a.currentReport()
	if rep == nil {
		writeError(w, http.StatusNotFound, "no traffic seen yet")
		return
	}
	writeJSON(w, rep)
}

func (a *api) windows(w http.ResponseWriter, r *http.Request) {
	closed := a.live.windows.Closed()
	out := struct {
		Current *summary.Report   `json:"current"`
		Closed  []*summary.Report `json:"closed"`
	}{Current: a.currentReport(), Closed: []*summary.Report{}}
	for i := len(closed) - 1; i >= 0; i-- {
		out.Closed = append(out.Closed, a.report(closed[i], true, 1))
	}
	writeJSON(w, out)
}

// window serves /api/v1/windows/{n}: 0 is the open window, 1 the most
// recently closed one, and so on up to keep.
func (a *api) window(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "window index must be a whole number >= 0 (0 = open window, 1 = last closed)")
		return
	}
	if n == 0 {
		a.current(w, r)
		return
	}
	closed := a.live.windows.Closed()
	if n > len(closed) {
		writeError(w, http.StatusNotFound, "only "+strconv.Itoa(len(closed))+" closed windows are kept")
		return
	}
	writeJSON(w, a.report(closed[len(closed)-n], true, 1))
}

// summary merges the last ?periods=N closed windows (default all kept),
// like pktvisor's /api/v1/metrics/window/N.
func (a *api) summary(w http.ResponseWriter, r *http.Request) {
	n := a.live.opt.Keep
	if s := r.URL.Query().Get("periods"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > a.live.opt.Keep {
			writeError(w, http.StatusBadRequest, "periods must be between 1 and "+strconv.Itoa(a.live.opt.Keep))
			return
		}
		n = v
	}
	// Merging reads the closed windows' sketches, which (HyperLogLog in
	// sparse mode) reorganise themselves on read: same lock as rendering.
	a.render.Lock()
	m, merged := a.live.windows.Merge(n)
	var rep *summary.Report
	if m != nil {
		rep = m.Report(a.live.opt.TopN, true, merged)
	}
	a.render.Unlock()
	if rep == nil {
		writeError(w, http.StatusNotFound, "no window has closed yet")
		return
	}
	writeJSON(w, rep)
}
