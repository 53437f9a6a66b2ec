package export

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/wirewatch/wirewatch/internal/export/spool"
	"github.com/wirewatch/wirewatch/internal/wire"
)

// Config says where the center is, how to reach it and how batches are
// made.
type Config struct {
	// Center is the center's ingest address, host:port.
	Center string
	TLS    TLSConfig
	// Insecure talks plaintext gRPC (tests, the one-process mode on
	// loopback). Without it, TLS is used, with the system's roots unless
	// TLS.CAFile is set.
	Insecure bool
	// Token is sent as "authorization: Bearer <token>" (the center's
	// ingest Tokens).
	Token string
	// Spool is the on-disk queue between producers and the center
	// (internal/export/spool); Spool.Dir is required.
	Spool spool.Config
	// MaxBatchRecords cuts a batch when it holds this many records
	// (default 10,000; at most wire.MaxRecords).
	MaxBatchRecords int
	// MaxBatchBytes cuts a batch when its records' estimated encoded size
	// reaches it (default 4 MiB), so that batches stay well under the
	// center's message limit (16 MiB by default).
	MaxBatchBytes int
	// FlushInterval cuts whatever is buffered this often (default 1s).
	FlushInterval time.Duration
	// MaxInFlight is how many batches may be sent and not yet acknowledged
	// (default 8).
	MaxInFlight int
	// Gzip compresses batches on the wire (default true in DefaultConfig;
	// a zero Config has it off).
	Gzip bool
	// WaitWhenFull makes producers wait for the encoder when its queue is
	// full instead of dropping the batch they cut: for reading capture
	// files, where waiting slows the reader down and loses nothing. Never
	// for live capture, whose kernel ring overflows while a capture
	// worker waits.
	WaitWhenFull bool
}

// TLSConfig holds PEM file paths. CAFile verifies the center (default:
// the system's roots); CertFile and KeyFile are the probe's client
// certificate, for a center that requires one; ServerName overrides the
// name checked in the center's certificate (default: Center's host).
type TLSConfig struct {
	CAFile, CertFile, KeyFile, ServerName string
}

// Defaults.
const (
	DefaultMaxBatchRecords = 10_000
	DefaultMaxBatchBytes   = 4 << 20
	DefaultFlushInterval   = time.Second
	DefaultMaxInFlight     = 8
)

// DefaultConfig returns the defaults for a center address and a spool
// directory.
func DefaultConfig(center, spoolDir string) Config {
	return Config{
		Center:          center,
		Spool:           spool.DefaultConfig(spoolDir),
		MaxBatchRecords: DefaultMaxBatchRecords,
		MaxBatchBytes:   DefaultMaxBatchBytes,
		FlushInterval:   DefaultFlushInterval,
		MaxInFlight:     DefaultMaxInFlight,
		Gzip:            true,
	}
}

func (c Config) withDefaults() Config {
	if c.MaxBatchRecords == 0 {
		c.MaxBatchRecords = DefaultMaxBatchRecords
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	return c
}

// Validate reports the first invalid field of the configuration with its
// defaults applied. The spool's own fields are checked by spool.Open.
func (c Config) Validate() error {
	c = c.withDefaults()
	host, port, err := net.SplitHostPort(c.Center)
	if err != nil || host == "" {
		return fmt.Errorf("export: Center %q is not host:port", c.Center)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("export: Center %q: port %q is not a number in 1..65535", c.Center, port)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("export: TLS.CertFile and TLS.KeyFile must be set together (got CertFile %q, KeyFile %q)", c.TLS.CertFile, c.TLS.KeyFile)
	}
	if c.Insecure && (c.TLS != TLSConfig{}) {
		return fmt.Errorf("export: Insecure and TLS are both set: choose one")
	}
	if c.Spool.Dir == "" {
		return fmt.Errorf("export: Spool.Dir must be set")
	}
	if c.MaxBatchRecords < 1 || c.MaxBatchRecords > wire.MaxRecords {
		return fmt.Errorf("export: MaxBatchRecords %d out of range [1, %d]", c.MaxBatchRecords, wire.MaxRecords)
	}
	if c.MaxBatchBytes < 1<<10 || c.MaxBatchBytes > 1<<30 {
		return fmt.Errorf("export: MaxBatchBytes %d out of range [1 KiB, 1 GiB]", c.MaxBatchBytes)
	}
	if c.FlushInterval < 10*time.Millisecond {
		return fmt.Errorf("export: FlushInterval %v is below 10ms", c.FlushInterval)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 1024 {
		return fmt.Errorf("export: MaxInFlight %d out of range [1, 1024]", c.MaxInFlight)
	}
	return nil
}
