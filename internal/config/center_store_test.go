package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadCenterYAML(t *testing.T, text string) (Center, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "center.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadCenter(p)
}

// The store section: kind clickhouse with its server, strict keys, and
// errors that name the key.
func TestCenterStoreSection(t *testing.T) {
	cfg, err := loadCenterYAML(t, `
store:
  kind: clickhouse
  clickhouse:
    url: http://127.0.0.1:8123
    database: fleet_1
    user: wirewatch
    password_file: /run/secrets/ch
    query_timeout: 10s
    writers: 4
`)
	if err != nil {
		t.Fatal(err)
	}
	ch := cfg.Store.ClickHouse
	if cfg.Store.Kind != StoreClickHouse || ch.URL != "http://127.0.0.1:8123" || ch.Database != "fleet_1" || ch.User != "wirewatch" ||
		ch.PasswordFile != "/run/secrets/ch" || ch.QueryTimeout != 10*time.Second || ch.Writers != 4 {
		t.Errorf("decoded %+v", cfg.Store)
	}
	if _, err := loadCenterYAML(t, "store:\n  kind: clickhouse\n  clickhouse:\n    url: http://x:1\n    passwrd: x\n"); err == nil ||
		!strings.Contains(err.Error(), `"passwrd"`) || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("unknown key: %v", err)
	}
	for _, c := range []struct{ yaml, key string }{
		{"store:\n  kind: cassandra\n", "store.kind"},
		{"store:\n  kind: clickhouse\n", "store.clickhouse.url"},
		{"store:\n  kind: clickhouse\n  clickhouse:\n    url: tcp://x:9000\n", "store.clickhouse.url"},
		{"store:\n  kind: clickhouse\n  clickhouse:\n    url: http://u:p@x:1\n", "store.clickhouse.url"},
		{"store:\n  kind: clickhouse\n  clickhouse:\n    url: http://x:1\n    database: a-b\n", "store.clickhouse.database"},
		{"store:\n  kind: clickhouse\n  clickhouse:\n    url: http://x:1\n    password: a\n    password_file: b\n", "password_file"},
		{"store:\n  kind: clickhouse\n  clickhouse:\n    url: http://x:1\n    writers: 100\n", "store.clickhouse.writers"},
		{"store:\n  kind: clickhouse\n  clickhouse:\n    url: http://x:1\n    query_timeout: -1s\n", "store.clickhouse.query_timeout"},
		{"store:\n  kind: clickhouse\n  threads: 2\n  clickhouse:\n    url: http://x:1\n", "store.threads"},
		{"store:\n  clickhouse:\n    url: http://x:1\n", "store.clickhouse"},
	} {
		_, err := loadCenterYAML(t, c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: error %v; want one naming %s", c.yaml, err, c.key)
		}
	}
	pf := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pf, []byte("s3cret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pw, err := (CenterClickHouse{PasswordFile: pf}).ResolvePassword(); err != nil || pw != "s3cret" {
		t.Errorf("password file: %q %v", pw, err)
	}
}
