// Package center wires the center's stages into one component: the gRPC
// ingest that probes report to, the edge derivation of the traffic map,
// the store (the embedded DuckDB by default), and the REST API with its
// metrics. The center keeps no state of its own beyond the store, so that
// several replicas can share one backend.
package center

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/internal/center/api"
	"github.com/wirewatch/wirewatch/internal/center/graph"
	"github.com/wirewatch/wirewatch/internal/center/ingest"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// Options are what the configuration file does not say.
type Options struct {
	Version string
	// Handler, when set, is mounted under the API at "/" for paths the
	// API does not serve (the web UI).
	Handler http.Handler
	// ExtraTokens are added to the ingest's tokens (the one-process mode's
	// own probe).
	ExtraTokens map[string]string
	// ReportInterval is the window period assumed for probes that do not
	// say theirs (probe health; the api section's staleness overrides it).
	ReportInterval time.Duration
}

// Center is one center process.
type Center struct {
	cfg    config.Center
	log    *slog.Logger
	store  store.Store
	ingest *ingest.Server
	api    *api.API
	apiLn  net.Listener
	http   *http.Server
	served chan struct{}
}

// New opens the store and prepares the servers; Start starts them.
func New(cfg config.Center, opt Options, log *slog.Logger) (*Center, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}
	c := &Center{cfg: cfg, log: log, store: st}
	fail := func(err error) (*Center, error) {
		_ = st.Close()
		return nil, err
	}

	tokens, err := cfg.GRPC.ResolveTokens()
	if err != nil {
		return fail(err)
	}
	for id, tok := range opt.ExtraTokens {
		tokens[id] = tok
	}
	icfg := ingest.DefaultConfig()
	icfg.Listen = cfg.GRPC.Listen
	icfg.TLS = ingest.TLSConfig{CertFile: cfg.GRPC.TLS.Cert, KeyFile: cfg.GRPC.TLS.Key, ClientCAFile: cfg.GRPC.TLS.ClientCA}
	if len(tokens) > 0 {
		icfg.Tokens = tokens
	}
	icfg.AllowInsecure = cfg.GRPC.Insecure
	if cfg.GRPC.MaxMessageBytes > 0 {
		icfg.MaxMessageBytes = cfg.GRPC.MaxMessageBytes
	}
	if cfg.GRPC.RecordsPerSecond != 0 {
		icfg.RecordsPerSecond = cfg.GRPC.RecordsPerSecond
	}
	if cfg.GRPC.Burst > 0 {
		icfg.Burst = cfg.GRPC.Burst
	}
	c.ingest, err = ingest.New(icfg, c.handle, log)
	if err != nil {
		return fail(fmt.Errorf("grpc: %w", err))
	}

	var inv *graph.Inventory
	if cfg.Inventory != "" {
		if inv, err = graph.LoadInventory(cfg.Inventory); err != nil {
			return fail(fmt.Errorf("inventory: %w", err))
		}
	}
	acfg := apiConfig(cfg.API, opt.ReportInterval)
	c.api, err = api.New(acfg, api.Deps{
		Store:     st,
		Inventory: inv,
		Metrics:   []prometheus.Collector{ingestCollector{c.ingest}},
		Version:   opt.Version,
		Log:       log.With("component", "api"),
	})
	if err != nil {
		return fail(fmt.Errorf("api: %w", err))
	}
	if cfg.API.Listen != "" && cfg.API.Listen != "off" {
		mux := http.NewServeMux()
		mux.Handle("/api/", c.api)
		mux.Handle("/metrics", c.api)
		if opt.Handler != nil {
			mux.Handle("/", opt.Handler)
		}
		c.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	return c, nil
}

// apiConfig is the API's configuration from the api section; zero
// values keep the API's defaults.
func apiConfig(a config.CenterAPI, reportInterval time.Duration) api.Config {
	return api.Config{
		ReportInterval: reportInterval,
		Staleness:      a.Staleness,
		DefaultRange:   a.DefaultRange,
		TopN:           a.TopN,
		MaxWindows:     a.MaxWindows,
		MaxMerges:      a.MaxMerges,
		MapEdges:       a.MapEdges,
		QueryTimeout:   a.QueryTimeout,
	}
}

// handle stores one batch from a probe: the map's edges are derived here,
// once, so that every query reads them ready.
func (c *Center) handle(ctx context.Context, b *record.Batch) (bool, error) {
	b.Edges = graph.Derive(b)
	dup, err := c.store.Write(ctx, b, time.Now())
	if errors.Is(err, store.ErrBadBatch) {
		// A batch the store can never take: the probe must drop and count
		// it rather than resend it forever.
		err = fmt.Errorf("%w: %w", ingest.ErrRefused, err)
	}
	return dup, err
}

// Start listens on the gRPC and API addresses.
func (c *Center) Start() error {
	if err := c.ingest.Start(); err != nil {
		return fmt.Errorf("grpc: %w", err)
	}
	if c.http != nil {
		ln, err := net.Listen("tcp", c.cfg.API.Listen)
		if err != nil {
			_ = c.ingest.Stop(context.Background())
			return fmt.Errorf("api: %w", err)
		}
		c.apiLn = ln
		c.served = make(chan struct{})
		go func() {
			defer close(c.served)
			if err := c.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				c.log.Error("api stopped", "err", err)
			}
		}()
	}
	c.log.Info("center started", "grpc", c.IngestAddr(), "api", c.APIAddr(), "data_dir", c.cfg.DataDir)
	return nil
}

// IngestAddr is the gRPC listener's address (after Start).
func (c *Center) IngestAddr() string {
	if a := c.ingest.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// APIAddr is the HTTP listener's address (after Start; "" without API).
func (c *Center) APIAddr() string {
	if c.apiLn == nil {
		return ""
	}
	return c.apiLn.Addr().String()
}

// Store is the center's store.
func (c *Center) Store() store.Store { return c.store }

// API is the REST API handler.
func (c *Center) API() http.Handler { return c.api }

// Stop stops accepting, lets running requests and streams finish within
// ctx, and closes the store.
func (c *Center) Stop(ctx context.Context) error {
	var errs []error
	if c.http != nil {
		errs = append(errs, c.http.Shutdown(ctx))
		if c.served != nil {
			<-c.served
		}
	}
	errs = append(errs, c.ingest.Stop(ctx))
	errs = append(errs, c.store.Close())
	return errors.Join(errs...)
}
