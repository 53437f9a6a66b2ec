package clickhouse

import (
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/wirewatch/wirewatch/internal/store/clickhouse/chtest"
)

// One server serves every test of the package (each test uses databases
// of its own): starting one takes a second or two.
var (
	serverOnce sync.Once
	server     *chtest.Server
	serverErr  error
	stopServer = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopServer()
	os.Exit(code)
}

// testServer is the package's ClickHouse server, started on first use.
func testServer(t testing.TB) *chtest.Server {
	t.Helper()
	serverOnce.Do(func() {
		server, stopServer, serverErr = chtest.StartShared()
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return server
}

func testLogger() *slog.Logger {
	if os.Getenv("STORE_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
