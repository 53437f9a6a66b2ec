package summary

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/sketch"
)

// Names from captured bytes that are not UTF-8 read in a report as they
// do in records: each such byte as \xNN.
func TestReportNamesEscapeInvalidUTF8(t *testing.T) {
	items := nonNil([]sketch.Item{{Name: "bin\xff.hostile.test", Estimate: 2}, {Name: "ok.test", Estimate: 1}})
	if items[0].Name != `bin\xff.hostile.test` || items[1].Name != "ok.test" {
		t.Fatalf("names %q %q", items[0].Name, items[1].Name)
	}
	b, err := json.Marshal(items[0])
	if err != nil || !strings.Contains(string(b), `"bin\\xff.hostile.test"`) {
		t.Fatalf("json %s %v", b, err)
	}
}
