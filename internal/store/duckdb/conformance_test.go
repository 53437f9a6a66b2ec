package duckdb

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storetest"
)

// TestConformance runs the store contract's suite (the same one the
// ClickHouse store runs): each subtest gets a data directory of its own;
// opening it again for the same subtest reopens that directory.
func TestConformance(t *testing.T) {
	var (
		mu   sync.Mutex
		dirs = map[string]string{}
	)
	storetest.Run(t, func(t *testing.T) store.Store {
		mu.Lock()
		dir, ok := dirs[t.Name()]
		if !ok {
			dir = filepath.Join(t.TempDir(), "store")
			dirs[t.Name()] = dir
		}
		mu.Unlock()
		cfg := DefaultConfig()
		cfg.Dir = dir
		cfg.Threads = 2
		cfg.Retention.MaxAge = storetest.MaxAge
		cfg.RetainEvery = time.Hour
		s, err := Open(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
