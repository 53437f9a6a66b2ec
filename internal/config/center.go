package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Report configures how a probe reports to a center (the probe's
// `center:` section).
type Report struct {
	// Address is the center's gRPC ingest host:port; empty: the probe
	// reports to nobody (standalone).
	Address string `yaml:"address"`
	// ID names the probe at the center (default: the hostname).
	ID string `yaml:"id"`
	// Labels are the probe's inventory tags (env, archdomain, node, ...):
	// the center groups the map by them.
	Labels map[string]string `yaml:"labels"`
	// Token (or TokenFile, whose first line is the token) is the probe's
	// bearer token at the center.
	Token     string    `yaml:"token"`
	TokenFile string    `yaml:"token_file"`
	TLS       ClientTLS `yaml:"tls"`
	// Insecure talks plaintext gRPC: only for a center on loopback or in
	// tests.
	Insecure bool `yaml:"insecure"`
	// SpoolDir holds what is not yet delivered (bounded by SpoolMaxBytes;
	// what the bound drops is counted and reported).
	SpoolDir      string `yaml:"spool_dir"`
	SpoolMaxBytes int64  `yaml:"spool_max_bytes"`
	// BatchRecords cuts a batch at this many records (0: 10000).
	BatchRecords int `yaml:"batch_records"`
}

// ClientTLS is a probe's TLS to the center: CA to verify the center, and
// the probe's own certificate for mTLS.
type ClientTLS struct {
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"server_name"`
}

// ResolveToken returns Token, or the first line of TokenFile.
func (r Report) ResolveToken() (string, error) {
	if r.TokenFile == "" {
		return r.Token, nil
	}
	b, err := os.ReadFile(r.TokenFile)
	if err != nil {
		return "", fmt.Errorf("center.token_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

// Validate checks the section alone.
func (r Report) Validate() error { return errors.Join(r.validate()...) }

func (r Report) validate() []error {
	var errs []error
	if r.Address == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(r.Address); err != nil {
		errs = append(errs, fmt.Errorf("center.address: %q is not host:port: %v", r.Address, err))
	}
	if r.Token != "" && r.TokenFile != "" {
		errs = append(errs, errors.New("center: token and token_file are both set; keep one"))
	}
	if (r.TLS.Cert == "") != (r.TLS.Key == "") {
		errs = append(errs, errors.New("center.tls: cert and key go together"))
	}
	if r.Insecure && (r.TLS.CA != "" || r.TLS.Cert != "") {
		errs = append(errs, errors.New("center: insecure is set together with tls files; choose one"))
	}
	if r.BatchRecords < 0 {
		errs = append(errs, fmt.Errorf("center.batch_records: %d is negative", r.BatchRecords))
	}
	if r.SpoolMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("center.spool_max_bytes: %d is negative", r.SpoolMaxBytes))
	}
	return errs
}

// Center is the center's configuration (config/center.yaml).
type Center struct {
	// DataDir holds the embedded store and the all-in-one probe's spool.
	DataDir   string      `yaml:"data_dir"`
	GRPC      CenterGRPC  `yaml:"grpc"`
	API       CenterAPI   `yaml:"api"`
	Retention Retention   `yaml:"retention"`
	Inventory string      `yaml:"inventory"` // YAML file of hosts/networks with names and labels
	Store     CenterStore `yaml:"store"`
	Log       Log         `yaml:"log"`
}

// CenterGRPC configures the ingest server that probes report to.
type CenterGRPC struct {
	Listen string    `yaml:"listen"`
	TLS    ServerTLS `yaml:"tls"`
	// Tokens maps probe IDs to bearer tokens (or TokensFile: one
	// "id token" pair per line).
	Tokens     map[string]string `yaml:"tokens"`
	TokensFile string            `yaml:"tokens_file"`
	// Insecure allows plaintext and unauthenticated probes: tests and
	// loopback only.
	Insecure         bool    `yaml:"insecure"`
	MaxMessageBytes  int     `yaml:"max_message_bytes"`
	RecordsPerSecond float64 `yaml:"records_per_second"`
	Burst            int     `yaml:"burst"`
}

// CenterAPI configures the center's REST API (internal/center/api). A
// zero value takes the API's default, the one in config/center.yaml.
type CenterAPI struct {
	// Listen is the REST API's, /metrics' and the web UI's host:port;
	// "off" disables the server.
	Listen string `yaml:"listen"`
	// DefaultRange is the time range of a query without from (0: 15m).
	DefaultRange time.Duration `yaml:"default_range"`
	// Staleness: a probe that did not report for this long is stale
	// (0: 3 × the report interval, the window period of the center's own
	// probe, else 1m). It is the fallback for probes that say their own
	// window period (record.ProbeInfo.StaleAfter).
	Staleness time.Duration `yaml:"staleness"`
	// TopN is the default length of top-N lists (0: 10; at most
	// MaxAPITopN).
	TopN int `yaml:"top_n"`
	// MaxWindows bounds the summary windows one request merges (0: 1000;
	// at most MaxAPIRows): a wider range is refused, not merged slowly.
	MaxWindows int `yaml:"max_windows"`
	// MaxMerges is how many summary merges run at once (0: 2; at most
	// MaxAPIMerges); more requests wait for a turn.
	MaxMerges int `yaml:"max_merges"`
	// MapEdges is how many address edges a map reads by default (0: 1000;
	// at most MaxAPIRows).
	MapEdges int `yaml:"map_edges"`
	// QueryTimeout bounds each request's store queries (0: 30s).
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// Bounds of the api section (the API's own, internal/center/api).
const (
	MaxAPITopN   = 100
	MaxAPIRows   = 10000 // store.MaxLimit
	MaxAPIMerges = 64
)

func (a CenterAPI) validate() []error {
	var errs []error
	if a.Listen != "" && a.Listen != "off" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			errs = append(errs, fmt.Errorf("api.listen: %q is not host:port (or off)", a.Listen))
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"default_range", a.DefaultRange}, {"staleness", a.Staleness}, {"query_timeout", a.QueryTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("api.%s: %v is negative", d.key, d.v))
		}
	}
	for _, n := range []struct {
		key    string
		v, max int
	}{{"top_n", a.TopN, MaxAPITopN}, {"max_windows", a.MaxWindows, MaxAPIRows}, {"max_merges", a.MaxMerges, MaxAPIMerges}, {"map_edges", a.MapEdges, MaxAPIRows}} {
		if n.v < 0 || n.v > n.max {
			errs = append(errs, fmt.Errorf("api.%s: %d is not between 0 (the default) and %d", n.key, n.v, n.max))
		}
	}
	return errs
}

// ServerTLS is the center's certificate, and the CA that signs probes'
// client certificates (mTLS when set).
type ServerTLS struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
}

// Retention bounds the embedded store.
type Retention struct {
	MaxAge   time.Duration `yaml:"max_age"`
	MaxBytes int64         `yaml:"max_bytes"`
}

// Store kinds (store.kind).
const (
	StoreDuckDB     = "duckdb"     // embedded, in data_dir: one center process
	StoreClickHouse = "clickhouse" // a ClickHouse server: several center replicas share it
)

// CenterStore selects the store and tunes it.
type CenterStore struct {
	// Kind is duckdb (the default) or clickhouse.
	Kind        string `yaml:"kind"`
	MemoryLimit string `yaml:"memory_limit"` // DuckDB's, e.g. "1GB"; empty: DuckDB's default
	Threads     int    `yaml:"threads"`      // DuckDB's
	// ClickHouse is the server of kind clickhouse (docs/store.md).
	ClickHouse CenterClickHouse `yaml:"clickhouse"`
}

// CenterClickHouse is where the clickhouse store keeps the records.
// Retention (max_age, max_bytes) comes from the retention section.
type CenterClickHouse struct {
	// URL is the server's HTTP interface, e.g. http://127.0.0.1:8123.
	URL string `yaml:"url"`
	// Database holds the tables (default wirewatch); created if missing.
	Database string `yaml:"database"`
	// User and Password (or PasswordFile, its first line) authenticate.
	User         string `yaml:"user"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Timeouts: of one query (also the server's max_execution_time), of
	// one group of batches written (0: 30 s and 60 s).
	QueryTimeout time.Duration `yaml:"query_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// Writers insert in parallel (0: 2); each groups the batches waiting
	// for it up to GroupRecords records per insert (0: 200000).
	Writers      int `yaml:"writers"`
	GroupRecords int `yaml:"group_records"`
}

// ResolvePassword returns Password, or the first line of PasswordFile.
func (c CenterClickHouse) ResolvePassword() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("store.clickhouse.password_file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

var clickhouseDatabaseRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (s CenterStore) validate() []error {
	var errs []error
	ch := s.ClickHouse
	switch s.Kind {
	case "", StoreDuckDB:
		if ch != (CenterClickHouse{}) {
			errs = append(errs, errors.New("store.clickhouse: set, but store.kind is not clickhouse"))
		}
		if s.Threads < 0 {
			errs = append(errs, fmt.Errorf("store.threads: %d is negative", s.Threads))
		}
		return errs
	case StoreClickHouse:
	default:
		return []error{fmt.Errorf("store.kind: %q is not duckdb or clickhouse", s.Kind)}
	}
	if s.MemoryLimit != "" || s.Threads != 0 {
		errs = append(errs, errors.New("store.memory_limit and store.threads tune duckdb; store.kind is clickhouse"))
	}
	if ch.URL == "" {
		errs = append(errs, errors.New("store.clickhouse.url: empty (the server's HTTP interface, e.g. http://127.0.0.1:8123)"))
	} else if u, err := url.Parse(ch.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs = append(errs, fmt.Errorf("store.clickhouse.url: %q is not http(s)://host:port (credentials go in user and password)", ch.URL))
	}
	if ch.Database != "" && !clickhouseDatabaseRE.MatchString(ch.Database) {
		errs = append(errs, fmt.Errorf("store.clickhouse.database: %q is not a plain name (letters, digits, _)", ch.Database))
	}
	if ch.Password != "" && ch.PasswordFile != "" {
		errs = append(errs, errors.New("store.clickhouse: password and password_file are both set; keep one"))
	}
	if ch.QueryTimeout < 0 {
		errs = append(errs, fmt.Errorf("store.clickhouse.query_timeout: %v is negative", ch.QueryTimeout))
	}
	if ch.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("store.clickhouse.write_timeout: %v is negative", ch.WriteTimeout))
	}
	if ch.Writers < 0 || ch.Writers > 64 {
		errs = append(errs, fmt.Errorf("store.clickhouse.writers: %d out of range [0, 64]", ch.Writers))
	}
	if ch.GroupRecords < 0 {
		errs = append(errs, fmt.Errorf("store.clickhouse.group_records: %d is negative", ch.GroupRecords))
	}
	return errs
}

// DefaultCenter returns the configuration used when a key is not given.
func DefaultCenter() Center {
	return Center{
		DataDir:   "./wirewatch-data",
		GRPC:      CenterGRPC{Listen: "127.0.0.1:10861"},
		API:       CenterAPI{Listen: "127.0.0.1:10870"},
		Retention: Retention{MaxAge: 7 * 24 * time.Hour, MaxBytes: 10 << 30},
		Log:       Log{Level: "info", Format: "text"},
	}
}

// LoadCenter reads a center configuration file over the defaults.
func LoadCenter(path string) (Center, error) {
	cfg := DefaultCenter()
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := Unmarshal(f, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// ResolveTokens returns Tokens merged with TokensFile's "id token" lines.
func (g CenterGRPC) ResolveTokens() (map[string]string, error) {
	out := map[string]string{}
	for id, tok := range g.Tokens {
		out[id] = tok
	}
	if g.TokensFile == "" {
		return out, nil
	}
	b, err := os.ReadFile(g.TokensFile)
	if err != nil {
		return nil, fmt.Errorf("grpc.tokens_file: %w", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("grpc.tokens_file %s:%d: want \"probe-id token\"", g.TokensFile, i+1)
		}
		out[f[0]] = f[1]
	}
	return out, nil
}

// Validate checks values that decode fine but make no sense.
func (c Center) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: empty"))
	}
	if _, _, err := net.SplitHostPort(c.GRPC.Listen); err != nil {
		errs = append(errs, fmt.Errorf("grpc.listen: %q is not host:port", c.GRPC.Listen))
	}
	errs = append(errs, c.API.validate()...)
	if (c.GRPC.TLS.Cert == "") != (c.GRPC.TLS.Key == "") {
		errs = append(errs, errors.New("grpc.tls: cert and key go together"))
	}
	if c.Retention.MaxAge < 0 || c.Retention.MaxBytes < 0 {
		errs = append(errs, errors.New("retention: max_age and max_bytes must not be negative"))
	}
	errs = append(errs, c.Store.validate()...)
	errs = append(errs, c.Log.validate()...)
	return errors.Join(errs...)
}

func (l Log) validate() []error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", l.Level))
	}
	switch l.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", l.Format))
	}
	return errs
}
