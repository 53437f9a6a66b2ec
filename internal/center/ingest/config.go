package ingest

import (
	"fmt"
	"net"
	"strconv"
)

// Config says where the center listens for probes and whom it accepts.
type Config struct {
	// Listen is the host:port of the gRPC listener (default
	// 127.0.0.1:10861). Without TLS the host must be a loopback address
	// unless AllowInsecure is set.
	Listen string
	TLS    TLSConfig
	// Tokens maps probe IDs to their bearer tokens. When set, a probe must
	// send "authorization: Bearer <token>" and "x-wirewatch-probe: <id>"
	// metadata, and the token must be the one of that ID. Tokens are at
	// least 16 bytes.
	Tokens map[string]string
	// AllowInsecure permits a plaintext listener on a non-loopback address
	// and a center that authenticates nobody (no Tokens, no client CA):
	// for tests and the one-process mode.
	AllowInsecure bool
	// MaxMessageBytes bounds one batch on the wire, uncompressed (default
	// 16 MiB). The center announces it to the probe when a stream opens.
	MaxMessageBytes int
	// RecordsPerSecond and Burst are each probe's token bucket, counted in
	// records (default 50,000/s, burst 100,000). A batch over the limit
	// ends the stream with ResourceExhausted and a RetryInfo delay; the
	// probe waits and resends, nothing is lost. A batch larger than Burst
	// passes when the bucket is full (and empties it below zero).
	// RecordsPerSecond < 0 turns the limit off.
	RecordsPerSecond float64
	Burst            int
	// MaxStreams bounds concurrent Report streams over all probes (default
	// 1024), and so the memory held by messages being decoded: at most
	// MaxStreams × MaxMessageBytes plus what they decode to.
	MaxStreams int
}

// TLSConfig holds PEM file paths. CertFile and KeyFile enable TLS;
// ClientCAFile also requires every probe to present a certificate signed
// by one of its CAs, whose subject CN or one of whose DNS SANs is the
// probe's ID.
type TLSConfig struct {
	CertFile, KeyFile, ClientCAFile string
}

// Defaults.
const (
	DefaultListen           = "127.0.0.1:10861"
	DefaultMaxMessageBytes  = 16 << 20
	DefaultRecordsPerSecond = 50_000
	DefaultBurst            = 100_000
	DefaultMaxStreams       = 1024
	minTokenBytes           = 16
)

// DefaultConfig returns the defaults: loopback, no TLS, no tokens (so
// Validate wants AllowInsecure or credentials).
func DefaultConfig() Config {
	return Config{
		Listen:           DefaultListen,
		MaxMessageBytes:  DefaultMaxMessageBytes,
		RecordsPerSecond: DefaultRecordsPerSecond,
		Burst:            DefaultBurst,
		MaxStreams:       DefaultMaxStreams,
	}
}

// withDefaults fills zero fields with the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.RecordsPerSecond == 0 {
		c.RecordsPerSecond = d.RecordsPerSecond
	}
	if c.Burst == 0 {
		c.Burst = d.Burst
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = d.MaxStreams
	}
	return c
}

// Validate reports the first invalid field of the configuration with its
// defaults applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("ingest: Listen %q is not host:port: %v", c.Listen, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && port != "0") {
		return fmt.Errorf("ingest: Listen %q: port %q is not a number in 0..65535", c.Listen, port)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("ingest: TLS.CertFile and TLS.KeyFile must be set together (got CertFile %q, KeyFile %q)", c.TLS.CertFile, c.TLS.KeyFile)
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		return fmt.Errorf("ingest: TLS.ClientCAFile needs TLS.CertFile and TLS.KeyFile (client certificates are checked in a TLS handshake)")
	}
	if c.TLS.CertFile == "" && !isLoopback(host) && !c.AllowInsecure {
		return fmt.Errorf("ingest: Listen %q is not a loopback address and TLS.CertFile is not set: set TLS, listen on 127.0.0.1, or set AllowInsecure", c.Listen)
	}
	if len(c.Tokens) == 0 && c.TLS.ClientCAFile == "" && !c.AllowInsecure {
		return fmt.Errorf("ingest: no probe authentication: set Tokens or TLS.ClientCAFile (AllowInsecure accepts any probe)")
	}
	for id, tok := range c.Tokens {
		if id == "" {
			return fmt.Errorf("ingest: Tokens has an empty probe ID")
		}
		if len(tok) < minTokenBytes {
			return fmt.Errorf("ingest: Tokens[%q] is %d bytes, want at least %d", id, len(tok), minTokenBytes)
		}
	}
	if c.MaxMessageBytes < 64<<10 || c.MaxMessageBytes > 1<<30 {
		return fmt.Errorf("ingest: MaxMessageBytes %d out of range [64 KiB, 1 GiB]", c.MaxMessageBytes)
	}
	if c.RecordsPerSecond > 0 && c.Burst < 1 {
		return fmt.Errorf("ingest: Burst must be >= 1, got %d", c.Burst)
	}
	if c.MaxStreams < 1 {
		return fmt.Errorf("ingest: MaxStreams must be >= 1, got %d", c.MaxStreams)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
