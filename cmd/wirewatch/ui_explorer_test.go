package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/corpus/hostile"
)

// The dashboard, explorer and XSS tests (web/tests/{dashboard,explorer,xss}.test.mjs)
// in Chromium against a center. The helpers of ui_test.go start the
// center and run the scripts; here a center can also take more probes than
// its replay (reported over gRPC like any probe, with their own labels), so
// that a probe scope, a group scope and the fleet give different numbers.

// reportedProbe is a capture reported to a center as one more probe.
type reportedProbe struct {
	ID      string
	Token   string
	Labels  map[string]string
	Capture string   // absolute path
	Args    []string // more `wirewatch read` flags (--bpf ...)
}

// startViewsCenter starts a replay center on capture (a corpus path) whose
// configuration accepts the extra probes (their tokens) and holds extra
// (center.yaml keys such as inventory), reports each probe's capture to it
// and waits until each is delivered.
func startViewsCenter(t *testing.T, capture string, extra map[string]any, probes ...reportedProbe) *uiCenter {
	t.Helper()
	dir := t.TempDir()
	tokens := map[string]string{}
	for _, p := range probes {
		tokens[p.ID] = p.Token
	}
	cfg := map[string]any{"grpc": map[string]any{"tokens": tokens}}
	for k, v := range extra {
		cfg[k] = v
	}
	cfgPath := writeYAML(t, dir, "center.yaml", cfg)
	grpc := freeAddr(t)
	c := startUICenter(t, capture, "-c", cfgPath, "--insecure", "--grpc", grpc)
	for i, p := range probes {
		probeCfg := writeYAML(t, dir, "probe"+strconv.Itoa(i)+".yaml", map[string]any{"center": map[string]any{"labels": p.Labels}})
		args := append([]string{"read", p.Capture, "--format", "json", "-c", probeCfg,
			"--center", grpc, "--insecure", "--token", p.Token, "--probe-id", p.ID,
			"--spool-dir", filepath.Join(dir, "spool"+strconv.Itoa(i))}, p.Args...)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), "WIREWATCH_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("reporting %s as probe %q: %v\n%s", p.Capture, p.ID, err, lastLines(out, 20))
		}
	}
	return c
}

func writeYAML(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestUIViews: the dashboard's numbers equal the API's for the fleet, each
// probe and each label group; the explorer's rows equal the API's pages
// under filters, paging and sorting, and its detail view shows every field
// and header. Two probes: the replay of a capture with HTTP, DNS and TLS,
// and the UDP part of the same capture as a probe with other labels.
func TestUIViews(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a center and Chromium")
	}
	const capture = "ndpi/alexa-app.pcapng"
	c := startViewsCenter(t, capture, nil, reportedProbe{
		ID:      "udp-only",
		Token:   randomToken(),
		Labels:  map[string]string{"source": "bpf-udp", "env": "test"},
		Capture: corpus.Path(t, capture),
		Args:    []string{"--bpf", "udp"},
	})
	t.Run("dashboard", func(t *testing.T) { runScript(t, c.URL, "dashboard.test.mjs") })
	t.Run("explorer", func(t *testing.T) { runScript(t, c.URL, "explorer.test.mjs") })
}

// TestUIHostileText replays a capture whose HTTP targets, hosts and
// headers, DNS name and TLS SNI carry script payloads (internal/corpus/hostile),
// reported by a probe whose ID, device (the capture's file name) and labels
// carry more, to a center whose inventory names the hosts with payloads.
// web/tests/xss.test.mjs opens every view that shows this text and checks
// that no script ran and the text is shown literally.
func TestUIHostileText(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a center and Chromium")
	}
	dir := t.TempDir()
	capture := filepath.Join(dir, `<svg onload=window.__xss=1>.pcap`)
	if err := hostile.WriteFile(capture); err != nil {
		t.Fatal(err)
	}
	probeID := hostile.ImgOnerror
	labels := map[string]string{"env": hostile.ScriptTag, "archdomain": hostile.SVGBreakout}
	inventory := map[string]any{"entries": []map[string]any{
		{"cidr": hostile.WebServer.String(), "name": hostile.ScriptTag, "labels": map[string]string{"owner": hostile.ImgOnerror}},
		{"cidr": hostile.DNSServer.String(), "name": hostile.SVGBreakout},
		{"cidr": hostile.TLSServer.String(), "name": hostile.JSURL, "kind": "workload"},
	}}
	invPath := writeYAML(t, dir, "inventory.yaml", inventory)
	c := startViewsCenter(t, "pktvisor/dns_ipv4_udp.pcap", map[string]any{"inventory": invPath}, reportedProbe{
		ID: probeID, Token: randomToken(), Labels: labels, Capture: capture,
	})

	// What the views must show, as the API's documentation says captured
	// text comes out (docs/api.md: each byte that is not UTF-8 becomes
	// the four characters \xNN) — computed here, not read from the API.
	var targets, headers, dashboard []string
	for _, ex := range hostile.HTTP {
		targets = append(targets, apiText(ex.Target))
		for _, h := range append(append([]string(nil), ex.RequestHeaders...), ex.ResponseHeaders...) {
			headers = append(headers, apiText(h))
		}
		if utf8.ValidString(ex.Target) {
			// The summary's top lists have paths without the query
			// string; these targets have none.
			dashboard = append(dashboard, ex.Target)
		}
		for _, h := range ex.RequestHeaders {
			if v, ok := strings.CutPrefix(h, "Host: "); ok && utf8.ValidString(v) {
				dashboard = append(dashboard, v)
			}
		}
	}
	targets = append(targets, hostile.DNSName, hostile.SNI)
	dashboard = append(dashboard, hostile.DNSName, hostile.SNI, probeID)
	expect := map[string]any{
		"marker":    hostile.Marker,
		"probe":     probeID,
		"device":    filepath.Base(capture),
		"labels":    labels,
		"from":      hostile.Start.Format(time.RFC3339),
		"to":        hostile.Start.Add(time.Minute).Format(time.RFC3339),
		"targets":   targets,
		"headers":   headers,
		"dashboard": dashboard,
		"nodes":     []string{hostile.ScriptTag, hostile.SVGBreakout, hostile.JSURL},
	}
	b, err := json.Marshal(expect)
	if err != nil {
		t.Fatal(err)
	}
	expectPath := filepath.Join(dir, "expect.json")
	if err := os.WriteFile(expectPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	runScript(t, c.URL, "xss.test.mjs", expectPath)
}

// apiText is captured text as the API returns it (docs/api.md, "Captured
// text"): valid UTF-8 as it is, each other byte as \xNN.
func apiText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
