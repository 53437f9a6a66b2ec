package export

import (
	"log/slog"
	"os"
	"testing"
)

// testLog is nil (silent) unless EXPORT_DEBUG is set, when the exporter
// and the center log to stderr.
var testLog *slog.Logger

func TestMain(m *testing.M) {
	if os.Getenv("EXPORT_DEBUG") != "" {
		testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	os.Exit(m.Run())
}
