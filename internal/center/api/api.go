// Package api is the center's REST API: summaries merged across windows
// and probes, flow and transaction search, top talkers, the traffic map,
// probe health and per-device traffic, as JSON over a store.Store; the
// OpenAPI document that describes it; and the center's Prometheus
// metrics. docs/api.md shows every endpoint with examples.
//
// One table of routes (routes.go) drives the handlers, the parameter
// checks and the OpenAPI document, so that the document cannot drift
// from the code: a parameter the document does not list is rejected with
// 400, and every response schema is derived from the Go type the handler
// encodes.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/internal/center/graph"
	"github.com/wirewatch/wirewatch/internal/store"
)

// Config tunes the API. The zero value of a field means its default.
type Config struct {
	// DefaultRange is the time range of a query without from (default
	// 15m: from = to − 15m).
	DefaultRange time.Duration `yaml:"default_range"`
	// ReportInterval is how often probes report (their window period;
	// default 60s). A probe is stale when its last report is older than
	// Staleness, by default 3 × ReportInterval.
	ReportInterval time.Duration `yaml:"report_interval"`
	Staleness      time.Duration `yaml:"staleness"`
	// TopN is the default length of a summary's top-N lists (default 10,
	// at most 100 per request).
	TopN int `yaml:"top_n"`
	// MaxWindows bounds the summary windows one request reads and merges
	// (default 1000, at most store.MaxLimit): a range that holds more is
	// a 400 asking for a narrower range, not a slow, huge merge.
	MaxWindows int `yaml:"max_windows"`
	// MaxMerges is how many summary merges may run at once (default 2);
	// more requests wait for a turn (until their context ends).
	MaxMerges int `yaml:"max_merges"`
	// MapEdges is the default number of address edges a map reads from
	// the store (default 1000, at most store.MaxLimit).
	MapEdges int `yaml:"map_edges"`
	// QueryTimeout bounds each request's store queries (default 30s).
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// Defaults.
const (
	DefaultRange          = 15 * time.Minute
	DefaultReportInterval = 60 * time.Second
	DefaultTopN           = 10
	MaxTopN               = 100
	DefaultMaxWindows     = 1000
	DefaultMaxMerges      = 2
	DefaultMapEdges       = 1000
	DefaultQueryTimeout   = 30 * time.Second
)

func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	seti := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.DefaultRange, DefaultRange)
	set(&c.ReportInterval, DefaultReportInterval)
	set(&c.Staleness, 3*c.ReportInterval)
	set(&c.QueryTimeout, DefaultQueryTimeout)
	seti(&c.TopN, DefaultTopN)
	seti(&c.MaxWindows, DefaultMaxWindows)
	seti(&c.MaxMerges, DefaultMaxMerges)
	seti(&c.MapEdges, DefaultMapEdges)
	return c
}

// Validate checks the configuration (after defaults); messages name the
// key.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	pos := func(key string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("api.%s: %v must not be negative", key, d))
		}
	}
	pos("default_range", c.DefaultRange)
	pos("report_interval", c.ReportInterval)
	pos("staleness", c.Staleness)
	pos("query_timeout", c.QueryTimeout)
	if c.TopN < 1 || c.TopN > MaxTopN {
		errs = append(errs, fmt.Errorf("api.top_n: %d: want 1 to %d", c.TopN, MaxTopN))
	}
	if c.MaxWindows < 1 || c.MaxWindows > store.MaxLimit {
		errs = append(errs, fmt.Errorf("api.max_windows: %d: want 1 to %d", c.MaxWindows, store.MaxLimit))
	}
	if c.MaxMerges < 1 || c.MaxMerges > 64 {
		errs = append(errs, fmt.Errorf("api.max_merges: %d: want 1 to 64", c.MaxMerges))
	}
	if c.MapEdges < 1 || c.MapEdges > store.MaxLimit {
		errs = append(errs, fmt.Errorf("api.map_edges: %d: want 1 to %d", c.MapEdges, store.MaxLimit))
	}
	return errors.Join(errs...)
}

// Deps are what the API serves from.
type Deps struct {
	Store store.Store // required
	// Inventory names addresses no probe runs on (optional).
	Inventory *graph.Inventory
	// Metrics are more sources for /metrics (the ingest stage's
	// counters, ...), registered beside the store's.
	Metrics []prometheus.Collector
	// Version is the center's version, reported in /metrics.
	Version string
	Log     *slog.Logger
	// Now is the clock (default time.Now); relative times and probe
	// health use it.
	Now func() time.Time
}

// API is the center's HTTP handler.
type API struct {
	cfg     Config
	store   store.Store
	inv     *graph.Inventory
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	merges  chan struct{}
	metrics *requestMetrics
	openapi []byte
}

// New builds the API. The handler is ready at once; it runs no
// goroutine of its own, so there is nothing to stop.
func New(cfg Config, deps Deps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, errors.New("api: no store")
	}
	if deps.Inventory != nil {
		if err := deps.Inventory.Validate(); err != nil {
			return nil, err
		}
	}
	cfg = cfg.withDefaults()
	a := &API{
		cfg:    cfg,
		store:  deps.Store,
		inv:    deps.Inventory,
		log:    deps.Log,
		now:    deps.Now,
		mux:    http.NewServeMux(),
		merges: make(chan struct{}, cfg.MaxMerges),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	reg := prometheus.NewRegistry()
	a.metrics = newRequestMetrics()
	reg.MustRegister(a.metrics, &storeCollector{a: a, version: deps.Version})
	for _, c := range deps.Metrics {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: metrics source: %w", err)
		}
	}
	rs := routes(a, reg)
	doc, err := json.Marshal(openAPI(rs, cfg))
	if err != nil {
		return nil, fmt.Errorf("api: openapi document: %w", err)
	}
	a.openapi = doc
	for _, rt := range rs {
		a.mux.Handle(rt.Path, a.wrap(rt))
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.metrics.observe("unknown", http.StatusNotFound)
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see /api/openapi.json)")
	})
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// httpError is an error with the status and message the client sees.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// wrap runs a route: method check, parameter check, timeout, errors.
func (a *API) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.metrics.observe(rt.Path, http.StatusMethodNotAllowed)
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed: "+rt.Path+" takes GET")
			return
		}
		q, err := parseQuery(r, rt.Params)
		if err == nil {
			ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
			defer cancel()
			err = rt.handle(ctx, w, r, q)
		}
		code := http.StatusOK
		if err != nil {
			code = a.fail(w, r, err)
		}
		a.metrics.observe(rt.Path, code)
	})
}

// statusClientGone is counted for requests whose client left before the
// answer (nginx's 499); nothing is written.
const statusClientGone = 499

// fail answers an error: 400 with the message for a bad parameter or a
// store.ErrBadQuery, 503 when the request's time ran out, otherwise 500
// with a generic message (the detail goes to the log, not to clients).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.code, he.msg)
		return he.code
	case errors.Is(err, store.ErrBadQuery):
		writeError(w, http.StatusBadRequest, err.Error())
		return http.StatusBadRequest
	case r.Context().Err() != nil:
		// The client went away: nobody reads the answer.
		a.log.Debug("api: client gone", "path", r.URL.Path, "err", err)
		return statusClientGone
	case errors.Is(err, context.DeadlineExceeded):
		a.log.Warn("api: query timed out", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the query took longer than "+a.cfg.QueryTimeout.String()+"; narrow the time range or the filters")
		return http.StatusServiceUnavailable
	default:
		a.log.Error("api: request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error (logged by the center)")
		return http.StatusInternalServerError
	}
}

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ErrorResponse{Error: text(msg)})
}

// writeJSON encodes v. encoding/json escapes <, > and & in strings (and
// U+2028/2029), which keeps captured text inert if a page embeds it; do
// not turn that off.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	b = append(b, '\n')
	_, _ = w.Write(b)
	return nil
}

// listHint lists names for error messages.
func listHint(names []string) string { return strings.Join(names, ", ") }
