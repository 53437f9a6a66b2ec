package center

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/clickhouse/chtest"
	"github.com/wirewatch/wirewatch/internal/store/duckdb"
)

// The configuration picks the store; a batch the ClickHouse store can
// never take is refused as DuckDB's is (the ingest tells it by
// store.ErrBadBatch), and a good one lands.
func TestOpenStore(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.DefaultCenter()
	cfg.DataDir = t.TempDir()
	st, err := openStore(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*duckdb.Store); !ok {
		t.Errorf("default store is %T; want DuckDB", st)
	}
	st.Close()

	srv := chtest.Start(t)
	cfg.Store = config.CenterStore{Kind: config.StoreClickHouse, ClickHouse: config.CenterClickHouse{URL: srv.URL, Database: "center_test"}}
	cfg.Retention.MaxAge = 24 * time.Hour
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err = openStore(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	bad := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: 1,
		Flows: []record.Flow{{Probe: "p", Start: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := st.Write(ctx, bad, time.Now()); !errors.Is(err, store.ErrBadBatch) {
		t.Errorf("a flow of 1500: %v; want a refusal", err)
	}
	good := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: 1, Flows: []record.Flow{{Probe: "p", Start: time.Now(), End: time.Now()}}}
	if dup, err := st.Write(ctx, good, time.Now()); err != nil || dup {
		t.Fatalf("write: %v %v", dup, err)
	}
	if v, err := srv.Query("SELECT count() FROM center_test.flows"); err != nil || v != "1" {
		t.Errorf("flows on the server: %q %v", v, err)
	}

	cfg.Store.ClickHouse.PasswordFile = filepath.Join(t.TempDir(), "missing")
	if _, err := openStore(cfg, log); err == nil || !strings.Contains(err.Error(), "store.clickhouse.password_file") {
		t.Errorf("missing password file: %v", err)
	}
}
