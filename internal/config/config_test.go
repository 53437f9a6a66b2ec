package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	src := "summary:\n  period: 30s\n  perod: 10s\ncapture:\n  devices: [eth0]\n"
	cfg := DefaultProbe()
	err := Unmarshal(strings.NewReader(src), &cfg)
	if err == nil {
		t.Fatal("unknown key accepted")
	}
	if !strings.Contains(err.Error(), `"perod"`) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("error does not name key and line: %v", err)
	}
}

func TestWrongTypeIsAnError(t *testing.T) {
	cfg := DefaultProbe()
	err := Unmarshal(strings.NewReader("capture:\n  workers: many\n"), &cfg)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want a line-numbered type error, got %v", err)
	}
}

func TestValuesAndDefaults(t *testing.T) {
	cfg := DefaultProbe()
	src := "summary:\n  period: 10s\n  host_cidrs: [192.168.0.0/24, 10.0.0.1]\n"
	if err := Unmarshal(strings.NewReader(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Summary.Period != 10*time.Second || cfg.Summary.Keep != 5 {
		t.Fatalf("period %v keep %d", cfg.Summary.Period, cfg.Summary.Keep)
	}
	ps, err := cfg.Summary.HostPrefixes()
	if err != nil || len(ps) != 2 || ps[1].Bits() != 32 {
		t.Fatalf("prefixes %v %v", ps, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejectsNonsense(t *testing.T) {
	cfg := DefaultProbe()
	cfg.Summary.Period = time.Millisecond
	cfg.Capture.Workers = 0
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "summary.period") || !strings.Contains(err.Error(), "capture.workers") {
		t.Fatalf("got %v", err)
	}
}

// The example configuration shipped in the repository must load as it is.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../../config/probe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Summary.Period != 60*time.Second || cfg.Flows.Max != 1048576 || len(cfg.Capture.Devices) != 1 {
		t.Fatalf("unexpected example values: %+v", cfg)
	}
}

// The example center configuration loads as it is, and a wrong key in a
// center file is refused with its name and line.
func TestCenterConfig(t *testing.T) {
	cfg, err := LoadCenter("../../config/center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPC.Listen != "127.0.0.1:10861" || cfg.API.Listen != "127.0.0.1:10870" || cfg.Retention.MaxAge != 168*time.Hour {
		t.Fatalf("unexpected example values: %+v", cfg)
	}
	dir := t.TempDir()
	bad := dir + "/c.yaml"
	if err := os.WriteFile(bad, []byte("grpc:\n  listen: 127.0.0.1:1\n  tokenz: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCenter(bad); err == nil || !strings.Contains(err.Error(), `"tokenz"`) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("wrong key: %v", err)
	}
	tf := dir + "/tokens"
	if err := os.WriteFile(tf, []byte("# probes\nnode-1 0123456789abcdef0123\n\nnode-2 fedcba9876543210fedc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toks, err := CenterGRPC{Tokens: map[string]string{"x": "y"}, TokensFile: tf}.ResolveTokens()
	if err != nil || len(toks) != 3 || toks["node-2"] != "fedcba9876543210fedc" {
		t.Fatalf("tokens file: %v %v", toks, err)
	}
	if err := os.WriteFile(tf, []byte("node-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (CenterGRPC{TokensFile: tf}).ResolveTokens(); err == nil || !strings.Contains(err.Error(), ":1") {
		t.Fatalf("bad tokens line: %v", err)
	}
	p := DefaultProbe()
	p.Center = Report{Address: "nohostport", Token: "a", TokenFile: "b"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "center.address") || !strings.Contains(err.Error(), "token_file") {
		t.Fatalf("bad center section: %v", err)
	}
}

// The api section: the example file's values are the API's defaults, a
// bad value is refused naming its key, an unknown key naming it and its
// line.
func TestCenterAPISection(t *testing.T) {
	cfg, err := LoadCenter("../../config/center.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := CenterAPI{Listen: "127.0.0.1:10870", DefaultRange: 15 * time.Minute, TopN: 10, MaxWindows: 1000,
		MaxMerges: 2, MapEdges: 1000, QueryTimeout: 30 * time.Second}
	if cfg.API != want {
		t.Errorf("example api section %+v, want %+v", cfg.API, want)
	}
	for _, c := range []struct{ src, want string }{
		{"api:\n  top_n: 101\n", "api.top_n"},
		{"api:\n  max_windows: 10001\n", "api.max_windows"},
		{"api:\n  max_merges: -1\n", "api.max_merges"},
		{"api:\n  map_edges: 20000\n", "api.map_edges"},
		{"api:\n  staleness: -1s\n", "api.staleness"},
		{"api:\n  default_range: -5m\n", "api.default_range"},
		{"api:\n  query_timeout: -1s\n", "api.query_timeout"},
		{"api:\n  listen: nowhere\n", "api.listen"},
		{"api:\n  listen: 127.0.0.1:1\n  topn: 5\n", `unknown key "topn"`},
		{"api:\n  staleness: soon\n", "line 2"},
	} {
		cfg := DefaultCenter()
		err := Unmarshal(strings.NewReader(c.src), &cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one naming %s", c.src, err, c.want)
		}
	}
	ok := DefaultCenter()
	if err := Unmarshal(strings.NewReader("api:\n  top_n: 100\n  max_windows: 10000\n  max_merges: 64\n  map_edges: 10000\n  staleness: 90s\n"), &ok); err != nil {
		t.Fatal(err)
	}
	if err := ok.Validate(); err != nil || ok.API.Staleness != 90*time.Second || ok.API.Listen != "127.0.0.1:10870" {
		t.Errorf("the largest values: %v, %+v", err, ok.API)
	}
}
