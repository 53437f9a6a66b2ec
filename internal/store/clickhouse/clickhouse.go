// Package clickhouse is the center's shared store: store.Store on a
// ClickHouse server, through its HTTP interface, so that several center
// replicas write to and answer from one database (the embedded DuckDB
// file is one process's).
//
// ClickHouse has no transactions, and a replica may die between the
// inserts of a batch (one per table) while the probe resends the batch
// to another replica. Exactly-once is therefore made at read time: every
// record row carries wid, a random id of the write that stored it; once
// all of a write's rows are in, one row in the batches table commits it
// (probe, spool ID, seq, wid). Queries count only rows whose wid is
// committed, and of two commits of the same (probe, spool ID, seq) (two
// replicas racing on one resent batch) only the smaller wid. So a batch
// shows entirely or not at all, whatever crashed when; rows of a write
// that never committed stay invisible until retention drops them.
// Write checks the batches table for the (probe, spool ID) pair first, so
// that a batch stored before is reported as a duplicate.
//
// The alternative, ReplacingMergeTree keyed by (probe, spool, seq, row)
// read with FINAL, was not taken: FINAL merges at read time on a single
// thread per partition in ClickHouse 18.16 (the version Debian ships),
// forces the sorting key away from time, and still shows a half-written
// batch until its resend lands.
//
// Retention keeps a cutoff in the database (the largest any replica set):
// rows whose time is before it are filtered out of every query at once,
// and whole day partitions behind it are dropped. docs/store.md
// ("ClickHouse") describes the schema and the figures.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// Retention bounds what the store keeps.
type Retention struct {
	// MaxAge: records whose time ended more than MaxAge ago are deleted
	// (default 7 days).
	MaxAge time.Duration
	// MaxBytes bounds the data on the server: beyond, whole days go,
	// oldest first (default 100 GiB).
	MaxBytes int64
}

// Config configures the store. Zero values take the defaults.
type Config struct {
	// URL of the server's HTTP interface, e.g. http://127.0.0.1:8123.
	URL string
	// Database holds the tables; created if missing (default
	// "wirewatch"). Replicas of one center share it.
	Database string
	// User and Password authenticate to the server (default user
	// "default", no password).
	User     string
	Password string

	Retention Retention
	// RetainEvery is how often the store applies retention by itself
	// (default 1 minute). Every replica does; the passes are idempotent.
	RetainEvery time.Duration

	// DialTimeout bounds connecting (default 5 s), QueryTimeout one
	// query (default 30 s, also sent as max_execution_time), WriteTimeout
	// one group of batches, all its inserts (default 60 s).
	DialTimeout  time.Duration
	QueryTimeout time.Duration
	WriteTimeout time.Duration

	// Writers is the number of goroutines inserting (default 2); each
	// takes the batches waiting for it, up to GroupRecords records
	// (default 200,000), into one insert per table: ClickHouse wants
	// few, large inserts.
	Writers      int
	GroupRecords int
	// MaxResponseBytes bounds one query's answer (default 512 MiB).
	MaxResponseBytes int64
}

// DefaultConfig returns the defaults (URL still to be set).
func DefaultConfig() Config {
	return Config{
		Database:         "wirewatch",
		User:             "default",
		Retention:        Retention{MaxAge: 7 * 24 * time.Hour, MaxBytes: 100 << 30},
		RetainEvery:      time.Minute,
		DialTimeout:      5 * time.Second,
		QueryTimeout:     30 * time.Second,
		WriteTimeout:     60 * time.Second,
		Writers:          2,
		GroupRecords:     200_000,
		MaxResponseBytes: 512 << 20,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Database, d.Database)
	set(&c.User, d.User)
	setD(&c.Retention.MaxAge, d.Retention.MaxAge)
	setD(&c.RetainEvery, d.RetainEvery)
	setD(&c.DialTimeout, d.DialTimeout)
	setD(&c.QueryTimeout, d.QueryTimeout)
	setD(&c.WriteTimeout, d.WriteTimeout)
	if c.Retention.MaxBytes == 0 {
		c.Retention.MaxBytes = d.Retention.MaxBytes
	}
	if c.Writers == 0 {
		c.Writers = d.Writers
	}
	if c.GroupRecords == 0 {
		c.GroupRecords = d.GroupRecords
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = d.MaxResponseBytes
	}
	return c
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

const maxWriters = 64

// Validate reports the first invalid field. Zero fields are valid (they
// take the defaults) but URL.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("clickhouse: URL is empty (the server's HTTP interface, e.g. http://127.0.0.1:8123)")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("clickhouse: URL %q is not http(s)://host:port", c.URL)
	}
	if u.User != nil {
		return errors.New("clickhouse: URL carries credentials; set User and Password instead")
	}
	if c.Database != "" && !identRE.MatchString(c.Database) {
		return fmt.Errorf("clickhouse: Database %q is not a plain name (letters, digits, _)", c.Database)
	}
	if err := storeutil.CheckRetention("clickhouse", c.Retention.MaxAge, c.Retention.MaxBytes, c.RetainEvery); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", c.DialTimeout}, {"QueryTimeout", c.QueryTimeout}, {"WriteTimeout", c.WriteTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("clickhouse: %s %v is negative", d.name, d.v)
		}
	}
	if c.Writers < 0 || c.Writers > maxWriters {
		return fmt.Errorf("clickhouse: Writers %d out of range [0, %d]", c.Writers, maxWriters)
	}
	if c.GroupRecords < 0 {
		return fmt.Errorf("clickhouse: GroupRecords %d is negative", c.GroupRecords)
	}
	if c.MaxResponseBytes < 0 {
		return fmt.Errorf("clickhouse: MaxResponseBytes %d is negative", c.MaxResponseBytes)
	}
	return nil
}

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("clickhouse: store closed")

// ErrBadBatch is store.ErrBadBatch.
var ErrBadBatch = store.ErrBadBatch

// Store is the ClickHouse store. It implements store.Store.
type Store struct {
	cfg Config
	log *slog.Logger
	c   *client

	writers []*writer
	// cutoff is the retention cutoff this replica applies (ns): the
	// largest stored in the database when last read.
	cutoff atomic.Int64
	// ord orders this replica's writes (the probes' "latest" status):
	// the write time in ns, strictly increasing.
	ordMu   sync.Mutex
	lastOrd int64

	mu     sync.RWMutex
	closed bool

	smu   sync.Mutex
	stats store.Stats

	stop chan struct{}
	done chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open connects to the server, creates or migrates the schema, and starts
// the writers and the periodic retention.
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: log, c: c, stop: make(chan struct{}), done: make(chan struct{})}
	s.stats.Rows = map[string]uint64{}
	s.stats.RetainedRows = map[string]uint64{}
	s.cutoff.Store(math.MinInt64)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.QueryTimeout)
	defer cancel()
	d, err := c.queryNoDB(ctx, "SELECT version()")
	if err != nil {
		c.close()
		return nil, fmt.Errorf("clickhouse: %s: %w", cfg.URL, err)
	}
	version := d.str()
	if err := s.migrate(ctx); err != nil {
		c.close()
		return nil, fmt.Errorf("clickhouse: %s/%s: %w", cfg.URL, cfg.Database, err)
	}
	if err := s.loadCutoff(ctx); err != nil {
		c.close()
		return nil, err
	}
	s.refreshDisk(ctx)
	for range cfg.Writers {
		s.writers = append(s.writers, newWriter(s))
	}
	for _, w := range s.writers {
		go w.run(s.stop)
	}
	go func() {
		defer close(s.done)
		storeutil.RetainLoop(s.stop, cfg.RetainEvery, log, ErrClosed, func(ctx context.Context) (store.RetainStats, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.QueryTimeout)
			defer cancel()
			return s.Retain(ctx, time.Now())
		})
	}()
	log.Info("store opened", "url", cfg.URL, "database", cfg.Database, "server_version", version,
		"max_age", cfg.Retention.MaxAge, "max_bytes", cfg.Retention.MaxBytes)
	return s, nil
}

// Close stops the writers and the retention; the writes still queued
// fail with ErrClosed. Data is on the server: nothing to flush.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	for _, w := range s.writers {
		<-w.q.Exited()
	}
	s.c.close()
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Stats returns this replica's counters since Open; BytesOnDisk is the
// database's size on the server at the last retention pass.
func (s *Store) Stats() store.Stats {
	s.smu.Lock()
	defer s.smu.Unlock()
	return storeutil.CopyStats(s.stats)
}

// nextOrd is a write's place among this replica's writes.
func (s *Store) nextOrd(nowNS int64) int64 {
	s.ordMu.Lock()
	defer s.ordMu.Unlock()
	s.lastOrd = max(nowNS, s.lastOrd+1)
	return s.lastOrd
}
