package clickhouse

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storetest"
)

// TestConformance runs the store contract's suite on a real ClickHouse
// server: each subtest gets a database of its own; opening it again for
// the same subtest reopens that database.
func TestConformance(t *testing.T) {
	srv := testServer(t)
	var (
		mu  sync.Mutex
		dbs = map[string]string{}
	)
	storetest.Run(t, func(t *testing.T) store.Store {
		mu.Lock()
		db, ok := dbs[t.Name()]
		if !ok {
			db = fmt.Sprintf("conf_%d", len(dbs))
			dbs[t.Name()] = db
		}
		mu.Unlock()
		cfg := DefaultConfig()
		cfg.URL = srv.URL
		cfg.Database = db
		cfg.Retention.MaxAge = storetest.MaxAge
		cfg.RetainEvery = time.Hour
		s, err := Open(cfg, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
