package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/testnet"
)

// The test binary doubles as the wirewatch command, so that probes can run
// inside the test's network namespaces without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("WIREWATCH_TEST_MAIN") == "1" {
		tuneGC()
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestFleetEndToEnd builds two hosts from network namespaces joined by
// their own link, runs a real HTTP server and a real Redis server on one,
// a probe on each (separate processes, inside the namespaces) reporting
// over gRPC to a center on this machine, drives real traffic from the
// other host, and checks through the center's REST API: the map's edges
// between the two hosts with the right protocols, their bytes equal to
// what each probe counted itself, and the transactions searchable.
func TestFleetEndToEnd(t *testing.T) {
	testnet.NeedRoot(t)
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	for _, tool := range []string{"redis-server", "redis-cli", "python3", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing, and CI is set", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	hostA, hostB := testnet.New(t), testnet.New(t)
	aIf, bIf, aIP, bIP := testnet.Link(t, hostA, hostB)

	// The center listens where both namespaces reach it: on this side of
	// their veth pairs (any address, a port of its own).
	cfg := config.DefaultCenter()
	cfg.DataDir = t.TempDir()
	cfg.GRPC.Listen = "0.0.0.0:0"
	cfg.GRPC.Insecure = true // plaintext between namespaces; TLS and tokens are tested in internal/center/ingest
	cfg.API.Listen = "127.0.0.1:0"
	tokens := map[string]string{"host-a": randomToken(), "host-b": randomToken()}
	cfg.GRPC.Tokens = tokens
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := center.New(cfg, center.Options{Version: "test", ReportInterval: 2 * time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopCenter(c, log)
	grpcPort := c.IngestAddr()[strings.LastIndexByte(c.IngestAddr(), ':')+1:]

	// Servers on host B.
	dir := t.TempDir()
	body := strings.Repeat("wirewatch ", 5000)
	if err := os.WriteFile(filepath.Join(dir, "page.txt"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	startBg(t, hostB.Command("python3", "-m", "http.server", "--bind", bIP, "--directory", dir, "8080"))
	startBg(t, hostB.Command("redis-server", "--bind", bIP, "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no"))

	// A probe on each host, capturing the link, reporting to the center.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type probeProc struct {
		cmd *exec.Cmd
		api string
	}
	probes := map[string]*probeProc{}
	for _, p := range []struct {
		id      string
		h       *testnet.Host
		ifc, ip string
	}{{"host-a", hostA, aIf, aIP}, {"host-b", hostB, bIf, bIP}} {
		api := net.JoinHostPort(p.h.NSIP, "10860")
		cmd := p.h.Command(self, "probe", "-i", p.ifc, "--period", "2s", "--keep", "100", "--listen", api,
			"--center", net.JoinHostPort(p.h.HostIP, grpcPort), "--insecure", "--probe-id", p.id, "--token", tokens[p.id],
			"--spool-dir", filepath.Join(t.TempDir(), "spool"))
		cmd.Env = append(os.Environ(), "WIREWATCH_TEST_MAIN=1")
		logf, _ := os.Create(filepath.Join(t.TempDir(), p.id+".log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		probes[p.id] = &probeProc{cmd: cmd, api: api}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("%s log:\n%s", p.id, b)
			}
		})
		waitHTTP(t, "http://"+api+"/api/v1/windows")
	}

	// Traffic from host A: HTTP GETs and Redis commands, with a client
	// that closes its connections so that every exchange is complete.
	const gets, redisOps = 15, 40
	waitFor(t, func() bool {
		return hostA.Command("curl", "-sf", "-o", "/dev/null", "http://"+bIP+":8080/page.txt").Run() == nil
	})
	waitFor(t, func() bool { return hostA.Command("redis-cli", "-h", bIP, "PING").Run() == nil })
	for i := 0; i < gets; i++ {
		hostA.Exec(t, "curl", "-sf", "-o", "/dev/null", "http://"+bIP+":8080/page.txt")
	}
	for i := 0; i < redisOps; i++ {
		hostA.Exec(t, "redis-cli", "-h", bIP, "SET", "key:"+strconv.Itoa(i), "value")
	}
	// Let a window close with the last exchange, then read each probe's
	// own view before stopping it.
	time.Sleep(4500 * time.Millisecond)
	own := map[string]uint64{}
	for id, p := range probes {
		own[id] = probeConversationBytes(t, "http://"+p.api+"/api/v1/windows", aIP, bIP)
		// SIGTERM: the probe closes its open window and delivers it.
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("probe %s did not stop", id)
		}
	}
	base := "http://" + c.APIAddr()
	from := url.QueryEscape(time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339))

	// Both probes reported, and stored everything they sent.
	var probesResp struct {
		Probes []struct {
			ID      string            `json:"id"`
			Records uint64            `json:"records"`
			Health  string            `json:"health"`
			Loss    map[string]uint64 `json:"loss"`
		} `json:"probes"`
	}
	getJSON(t, base+"/api/v1/probes", &probesResp)
	if len(probesResp.Probes) != 2 {
		t.Fatalf("center knows %d probes, want 2: %+v", len(probesResp.Probes), probesResp)
	}
	for _, p := range probesResp.Probes {
		for k, v := range p.Loss {
			if strings.HasPrefix(k, "export_") && v != 0 {
				t.Errorf("probe %s lost %d at export (%s)", p.ID, v, k)
			}
		}
	}

	// The map, seen by each probe: an http edge to port 8080 and a redis
	// edge to port 6379 from A to B, whose bytes add up to what the probe
	// counted between the two hosts.
	for id := range probes {
		var m struct {
			Nodes []struct {
				ID        string   `json:"id"`
				Addresses []string `json:"addresses"`
			} `json:"nodes"`
			Edges []struct {
				Source   string `json:"source"`
				Target   string `json:"target"`
				App      string `json:"app"`
				Port     uint16 `json:"port"`
				Bytes    uint64 `json:"bytes"`
				Requests uint64 `json:"requests"`
			} `json:"edges"`
		}
		getJSON(t, base+"/api/v1/map?probe="+id+"&from="+from, &m)
		nodeOf := map[string]string{}
		for _, n := range m.Nodes {
			for _, a := range n.Addresses {
				nodeOf[a] = n.ID
			}
		}
		var total uint64
		apps := map[string]uint64{}
		for _, e := range m.Edges {
			if e.Source == nodeOf[aIP] && e.Target == nodeOf[bIP] {
				total += e.Bytes
				apps[fmt.Sprintf("%s/%d", e.App, e.Port)] = e.Requests
			}
		}
		if apps["http/8080"] < gets || apps["redis/6379"] < redisOps {
			t.Errorf("%s: edges A→B %v; want http/8080 with ≥ %d requests and redis/6379 with ≥ %d", id, apps, gets, redisOps)
		}
		t.Logf("%s: edges A→B %v (requests by app/port), %d bytes; the probe's own count %d", id, apps, total, own[id])
		if total == 0 || total != own[id] {
			t.Errorf("%s: map edges A→B carry %d bytes; the probe counted %d between the hosts", id, total, own[id])
		}
	}

	// The transactions are searchable: every GET, every SET.
	var txs struct {
		Transactions []struct {
			Op     string `json:"op"`
			Target string `json:"target"`
			Status string `json:"status"`
		} `json:"transactions"`
	}
	getJSON(t, base+"/api/v1/transactions?probe=host-a&proto=http&target=page.txt&limit=1000&from="+from, &txs)
	if len(txs.Transactions) != gets+1 { // the readiness check made one more
		t.Errorf("http transactions for page.txt: %d, want %d", len(txs.Transactions), gets+1)
	}
	for _, tx := range txs.Transactions {
		if tx.Op != "GET" || tx.Status != "200" {
			t.Errorf("transaction %+v: want GET 200", tx)
			break
		}
	}
	getJSON(t, base+"/api/v1/transactions?probe=host-b&proto=redis&op=SET&limit=1000&from="+from, &txs)
	if len(txs.Transactions) != redisOps {
		t.Errorf("redis SET transactions: %d, want %d", len(txs.Transactions), redisOps)
	}
}

// probeConversationBytes sums, over a probe's windows, the bytes its
// top_conversations counted between two addresses (IP lengths, both ways).
func probeConversationBytes(t *testing.T, u, a, b string) uint64 {
	t.Helper()
	type window struct {
		Bytes struct {
			TopConversations []struct {
				Name     string `json:"name"`
				Estimate uint64 `json:"estimate"`
				Error    uint64 `json:"error"`
			} `json:"top_conversations"`
		} `json:"bytes"`
	}
	var resp struct {
		Current *window  `json:"current"`
		Closed  []window `json:"closed"`
	}
	getJSON(t, u, &resp)
	if resp.Current != nil {
		resp.Closed = append(resp.Closed, *resp.Current)
	}
	var sum uint64
	for _, w := range resp.Closed {
		for _, c := range w.Bytes.TopConversations {
			if strings.Contains(c.Name, a) && strings.Contains(c.Name, b) {
				if c.Error != 0 {
					t.Fatalf("conversation %s is an estimate (error %d)", c.Name, c.Error)
				}
				sum += c.Estimate
			}
		}
	}
	return sum
}

func startBg(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a server")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	waitFor(t, func() bool {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, b)
	}
}
