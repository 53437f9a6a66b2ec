package config

import (
	"errors"
	"fmt"
	"net"
	"os"
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
	API       API         `yaml:"api"`
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

// CenterStore tunes the embedded store.
type CenterStore struct {
	MemoryLimit string `yaml:"memory_limit"` // DuckDB's, e.g. "1GB"; empty: DuckDB's default
	Threads     int    `yaml:"threads"`
}

// DefaultCenter returns the configuration used when a key is not given.
func DefaultCenter() Center {
	return Center{
		DataDir:   "./wirewatch-data",
		GRPC:      CenterGRPC{Listen: "127.0.0.1:10861"},
		API:       API{Listen: "127.0.0.1:10870"},
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
	if c.API.Listen != "" && c.API.Listen != "off" {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			errs = append(errs, fmt.Errorf("api.listen: %q is not host:port (or off)", c.API.Listen))
		}
	}
	if (c.GRPC.TLS.Cert == "") != (c.GRPC.TLS.Key == "") {
		errs = append(errs, errors.New("grpc.tls: cert and key go together"))
	}
	if c.Retention.MaxAge < 0 || c.Retention.MaxBytes < 0 {
		errs = append(errs, errors.New("retention: max_age and max_bytes must not be negative"))
	}
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
