// Package duckdb is the center's embedded default store: store.Store on an
// in-process DuckDB database file (Dir/wirewatch.duckdb), so that one
// center process on one machine keeps everything its probes report
// without any server to run. It applies its retention policy (age and
// size) by itself; docs/store.md describes the schema, the retention and
// the figures.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	duck "github.com/duckdb/duckdb-go/v2"

	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// FileName is the database file's name inside Config.Dir. DuckDB keeps its
// write-ahead log beside it (FileName + ".wal").
const FileName = "wirewatch.duckdb"

// Retention bounds what the store keeps.
type Retention struct {
	// MaxAge: records whose time ended more than MaxAge ago are deleted
	// (default 7 days).
	MaxAge time.Duration
	// MaxBytes bounds the database: when the data takes more, the oldest
	// data of every table is deleted until it fits (default 10 GiB). See
	// docs/store.md for how DuckDB's file size follows.
	MaxBytes int64
}

// Config configures the store. Zero values take the defaults.
type Config struct {
	// Dir is the center's data directory; it is created if missing.
	Dir       string
	Retention Retention
	// RetainEvery is how often the store applies the retention policy by
	// itself (default 1 minute).
	RetainEvery time.Duration
	// Threads caps DuckDB's worker threads (0: DuckDB's default, one per
	// core).
	Threads int
	// MemoryLimit caps DuckDB's buffer memory, as DuckDB writes it
	// ("512MB", "1GB", "2GiB"); "" keeps DuckDB's default (80% of RAM).
	MemoryLimit string
}

// DefaultConfig returns the defaults (Dir still to be set).
func DefaultConfig() Config {
	return Config{
		Retention:   Retention{MaxAge: 7 * 24 * time.Hour, MaxBytes: 10 << 30},
		RetainEvery: time.Minute,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Retention.MaxAge == 0 {
		c.Retention.MaxAge = d.Retention.MaxAge
	}
	if c.Retention.MaxBytes == 0 {
		c.Retention.MaxBytes = d.Retention.MaxBytes
	}
	if c.RetainEvery == 0 {
		c.RetainEvery = d.RetainEvery
	}
	return c
}

var memoryLimitRE = regexp.MustCompile(`^(?i)[0-9]+(\.[0-9]+)?\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib)$`)

const maxThreads = 1024

// Validate reports the first invalid field. Zero fields are valid (they
// take the defaults).
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("duckdb: Dir is empty (the center's data directory)")
	}
	if err := storeutil.CheckRetention("duckdb", c.Retention.MaxAge, c.Retention.MaxBytes, c.RetainEvery); err != nil {
		return err
	}
	if c.Threads < 0 || c.Threads > maxThreads {
		return fmt.Errorf("duckdb: Threads %d out of range [0, %d]", c.Threads, maxThreads)
	}
	if c.MemoryLimit != "" && !memoryLimitRE.MatchString(c.MemoryLimit) {
		return fmt.Errorf("duckdb: MemoryLimit %q is not a size such as 512MB or 2GiB", c.MemoryLimit)
	}
	return nil
}

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("duckdb: store closed")

// ErrBadBatch is store.ErrBadBatch.
var ErrBadBatch = store.ErrBadBatch

// Store is the DuckDB store. It implements store.Store.
type Store struct {
	cfg  Config
	log  *slog.Logger
	path string
	conn *duck.Connector
	db   *sql.DB

	writers []*writer
	nextID  atomic.Uint64 // last row id handed out
	// talkersFrom is the first bucket of the talkers rollup that is
	// complete (retention has cut into the older ones).
	talkersFrom atomic.Int64

	amu      sync.Mutex
	assigned map[string]int // probe → writer

	mu     sync.RWMutex
	closed bool

	smu   sync.Mutex
	stats store.Stats

	stop chan struct{}
	done chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database in cfg.Dir, migrates its schema and
// starts the periodic retention.
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("duckdb: data directory: %w", err)
	}
	path := filepath.Join(cfg.Dir, FileName)
	// Settings travel in the DSN's query (URL-encoded), never spliced into
	// SQL text.
	q := url.Values{}
	if cfg.Threads > 0 {
		q.Set("threads", strconv.Itoa(cfg.Threads))
	}
	if cfg.MemoryLimit != "" {
		q.Set("memory_limit", cfg.MemoryLimit)
	}
	dsn := path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	conn, err := duck.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open %s: %w", path, err)
	}
	s := &Store{
		cfg:  cfg,
		log:  log,
		path: path,
		conn: conn,
		db:   sql.OpenDB(conn),
		stop: make(chan struct{}),
		done: make(chan struct{}),

		assigned: map[string]int{},
	}
	s.stats.Rows = map[string]uint64{}
	s.stats.RetainedRows = map[string]uint64{}
	ctx := context.Background()
	if err := migrate(ctx, s.db); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("duckdb: %s: %w", path, err)
	}
	last, err := lastID(ctx, s.db)
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("duckdb: %s: %w", path, err)
	}
	s.nextID.Store(last)
	if err := loadTalkersFrom(ctx, s); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("duckdb: %s: %w", path, err)
	}
	for range numWriters {
		w, err := newWriter(ctx, s)
		if err != nil {
			for _, w := range s.writers {
				w.close()
			}
			s.db.Close()
			return nil, fmt.Errorf("duckdb: %s: %w", path, err)
		}
		s.writers = append(s.writers, w)
	}
	for _, w := range s.writers {
		go w.run(s.stop)
	}
	go func() {
		defer close(s.done)
		storeutil.RetainLoop(s.stop, cfg.RetainEvery, log, ErrClosed, func(ctx context.Context) (store.RetainStats, error) {
			return s.Retain(ctx, time.Now())
		})
	}()
	log.Info("store opened", "path", path, "max_age", cfg.Retention.MaxAge, "max_bytes", cfg.Retention.MaxBytes)
	return s, nil
}

// Close stops the writers and the retention, fails the writes still
// queued with ErrClosed, and closes the database (DuckDB checkpoints it).
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
		w.mu.Lock() // a Retain call may still be running
		defer w.mu.Unlock()
	}
	// Merge the rollup rows of this run's last buckets now: after a
	// restart nothing remembers them (they stay correct, only slower).
	if err := s.mergeTalkers(context.Background()); err != nil {
		s.log.Warn("merge of the talkers rollup at close failed", "err", err)
	}
	var errs []error
	for _, w := range s.writers {
		errs = append(errs, w.close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Stats returns the counters since Open, and the current size of the
// database file and its WAL.
func (s *Store) Stats() store.Stats {
	disk := s.diskBytes()
	s.smu.Lock()
	defer s.smu.Unlock()
	s.stats.BytesOnDisk = disk
	return storeutil.CopyStats(s.stats)
}

// diskBytes is what the database takes on disk: the file and its WAL.
func (s *Store) diskBytes() int64 {
	return fileSize(s.path) + s.walBytes()
}

func (s *Store) walBytes() int64 { return fileSize(s.path + ".wal") }

func fileSize(p string) int64 {
	if fi, err := os.Stat(p); err == nil {
		return fi.Size()
	}
	return 0
}

// rawConn runs f on the driver connection under c (for the appender API).
func rawConn(c *sql.Conn, f func(driver.Conn) error) error {
	return c.Raw(func(dc any) error {
		d, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return f(d)
	})
}
