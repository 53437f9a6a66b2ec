package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center/webui"
	"github.com/wirewatch/wirewatch/internal/corpus"
)

// The web UI tests run the real thing: this test binary as `wirewatch
// center --replay CAPTURE` (with the UI embedded at build time), and a Node
// script under web/tests driving Debian's Chromium through playwright-core.
// The scripts compare what the page draws with what the REST API answers.

// uiCenter is a replay center serving the UI.
type uiCenter struct {
	URL string
	Dir string
}

// startUICenter replays capture (a path under the shared corpus) into a
// center on free ports and waits until the replay is stored. extraArgs go
// to `wirewatch center` (e.g. "-c", cfg).
func startUICenter(t *testing.T, capture string, extraArgs ...string) *uiCenter {
	t.Helper()
	h, err := webui.Default(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Built() {
		t.Fatal("the web UI is not built into this test binary: run `make web` (make test does) before go test")
	}
	path := corpus.Path(t, capture)
	dir := t.TempDir()
	api := freeAddr(t)
	args := append([]string{"center", "--replay", path, "--data-dir", filepath.Join(dir, "data"),
		"--grpc", "127.0.0.1:0", "--api", api}, extraArgs...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WIREWATCH_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	startBg(t, cmd)
	delivered := make(chan struct{})
	var logTail []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if len(logTail) < 200 {
				logTail = append(logTail, line)
			}
			if strings.Contains(line, "replay delivered") {
				close(delivered)
			}
		}
	}()
	select {
	case <-delivered:
	case <-time.After(90 * time.Second):
		t.Fatalf("the replay center did not deliver %s in time; its log:\n%s", capture, strings.Join(logTail, "\n"))
	}
	u := "http://" + api
	waitHTTP(t, u+"/api/v1/probes")
	return &uiCenter{URL: u, Dir: dir}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// repoRoot is where web/ is (tests run in cmd/wirewatch).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("web/node_modules has no playwright-core: run `make web` (make test does): %v", err)
	}
	return root
}

// runScript runs `node web/tests/<script> <url> <args...>` with screenshots
// going to a fresh directory, and fails the test with the script's output
// when it exits non-zero.
func runScript(t *testing.T, url, script string, args ...string) {
	t.Helper()
	root := repoRoot(t)
	shots := filepath.Join(root, "bench", "out", "ui", strings.TrimSuffix(script, ".test.mjs"))
	if err := os.MkdirAll(shots, 0o755); err != nil {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join("web", "tests", script), url}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "WIREWATCH_SHOTS="+shots)
	out, err := cmd.CombinedOutput()
	t.Logf("node %s (screenshots in %s):\n%s", script, shots, out)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
}

// mapInventory names a few of example.pcap's addresses so that the map has
// labels to group by and to hide.
const mapInventory = `entries:
  - cidr: 10.0.0.6
    name: laptop
    labels: {env: lan, archdomain: office}
  - cidr: 10.0.0.4
    name: nas
    labels: {env: lan, archdomain: office}
  - cidr: 10.0.0.138
    name: router
    labels: {env: lan, archdomain: infra}
  - cidr: 212.199.202.0/24
    name: isp-cdn
    labels: {env: cdn}
`

// TestUIMap: the map shows the API's nodes and edges, grouping and the
// protocol and label filters change what is drawn as the API says, a click
// opens that node's details.
func TestUIMap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a center and Chromium")
	}
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yaml")
	cfg := filepath.Join(dir, "center.yaml")
	if err := os.WriteFile(inv, []byte(mapInventory), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("inventory: %q\n", inv)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startUICenter(t, "pcapplusplus/PcapExamples/example.pcap", "-c", cfg)

	// The handler's headers, as a browser gets them.
	resp, err := http.Get(c.URL + "/map?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Content-Security-Policy"); got != webui.CSP {
		t.Errorf("CSP of /map: %q", got)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/map content type %q", ct)
	}
	runScript(t, c.URL, "map.test.mjs")
}

// TestUINoHTMLSinks: no view builds markup from strings.
func TestUINoHTMLSinks(t *testing.T) {
	runScript(t, "-", "nohtml.test.mjs")
}
