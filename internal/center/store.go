package center

import (
	"fmt"
	"log/slog"

	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/clickhouse"
	"github.com/wirewatch/wirewatch/internal/store/duckdb"
)

// openStore opens the store the configuration names: the embedded DuckDB
// in data_dir (one center process), or a ClickHouse server that several
// center replicas share.
func openStore(cfg config.Center, log *slog.Logger) (store.Store, error) {
	switch cfg.Store.Kind {
	case "", config.StoreDuckDB:
		scfg := duckdb.DefaultConfig()
		scfg.Dir = cfg.DataDir
		if cfg.Retention.MaxAge > 0 {
			scfg.Retention.MaxAge = cfg.Retention.MaxAge
		}
		if cfg.Retention.MaxBytes > 0 {
			scfg.Retention.MaxBytes = cfg.Retention.MaxBytes
		}
		scfg.MemoryLimit = cfg.Store.MemoryLimit
		scfg.Threads = cfg.Store.Threads
		return duckdb.Open(scfg, log)
	case config.StoreClickHouse:
		ch := cfg.Store.ClickHouse
		password, err := ch.ResolvePassword()
		if err != nil {
			return nil, err
		}
		scfg := clickhouse.DefaultConfig()
		scfg.URL = ch.URL
		if ch.Database != "" {
			scfg.Database = ch.Database
		}
		if ch.User != "" {
			scfg.User = ch.User
		}
		scfg.Password = password
		if cfg.Retention.MaxAge > 0 {
			scfg.Retention.MaxAge = cfg.Retention.MaxAge
		}
		if cfg.Retention.MaxBytes > 0 {
			scfg.Retention.MaxBytes = cfg.Retention.MaxBytes
		}
		scfg.QueryTimeout = cmpOr(ch.QueryTimeout, scfg.QueryTimeout)
		scfg.WriteTimeout = cmpOr(ch.WriteTimeout, scfg.WriteTimeout)
		scfg.Writers = cmpOr(ch.Writers, scfg.Writers)
		scfg.GroupRecords = cmpOr(ch.GroupRecords, scfg.GroupRecords)
		st, err := clickhouse.Open(scfg, log.With("component", "store"))
		if err != nil {
			return nil, fmt.Errorf("store.clickhouse: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("store.kind: %q is not duckdb or clickhouse", cfg.Store.Kind)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
