// Package corpus locates the shared third-party capture corpus
// (../shared/corpus beside the repository) for tests. A test that needs a
// capture calls Path, which skips the test when the corpus is absent, except
// under CI where a missing corpus is a failure.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus directory, or "" when it cannot be found.
func Dir() string {
	if d := os.Getenv("WIREWATCH_CORPUS"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpus")
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// Path returns the absolute path of a corpus file given relative to the
// corpus root (e.g. "pcapplusplus/PcapExamples/example.pcap").
func Path(t testing.TB, rel string) string {
	t.Helper()
	d := Dir()
	if d == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("corpus not found (../shared/corpus) and CI is set")
		}
		t.Skip("corpus not found (../shared/corpus)")
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus file %s: %v", rel, err)
	}
	return p
}
