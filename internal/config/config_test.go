package config

import (
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
