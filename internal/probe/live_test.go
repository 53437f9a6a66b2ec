package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// testNet is a veth pair with one end in a network namespace the test
// creates: a second "host" with its own address, reachable only from here.
type testNet struct {
	ns, hostIf, nsIf string
	hostIP, nsIP     string
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("live capture test needs root, and CI is set")
		}
		t.Skip("live capture test needs root")
	}
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newTestNet(t *testing.T, octet int) *testNet {
	t.Helper()
	pid := os.Getpid() % 10000
	n := &testNet{
		ns:     fmt.Sprintf("wwtest%d-%d", pid, octet),
		hostIf: fmt.Sprintf("wwh%d%d", pid, octet),
		nsIf:   fmt.Sprintf("wwn%d%d", pid, octet),
		hostIP: fmt.Sprintf("10.252.%d.1", octet),
		nsIP:   fmt.Sprintf("10.252.%d.2", octet),
	}
	exec.Command("ip", "netns", "del", n.ns).Run()
	exec.Command("ip", "link", "del", n.hostIf).Run()
	sh(t, "ip", "netns", "add", n.ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.ns).Run()
		exec.Command("ip", "link", "del", n.hostIf).Run()
	})
	sh(t, "ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf)
	sh(t, "ip", "link", "set", n.nsIf, "netns", n.ns)
	// No IPv6 on the pair: router solicitations and MLD reports would add
	// frames the test did not send.
	sh(t, "sysctl", "-qw", "net.ipv6.conf."+n.hostIf+".disable_ipv6=1")
	sh(t, "ip", "netns", "exec", n.ns, "sysctl", "-qw", "net.ipv6.conf."+n.nsIf+".disable_ipv6=1")
	sh(t, "ip", "addr", "add", n.hostIP+"/24", "dev", n.hostIf)
	sh(t, "ip", "netns", "exec", n.ns, "ip", "addr", "add", n.nsIP+"/24", "dev", n.nsIf)
	sh(t, "ip", "link", "set", n.hostIf, "up")
	sh(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", n.nsIf, "up")
	sh(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", "lo", "up")
	// Offloads off: the probe must see the frames the wire carries, as the
	// kernel's interface counters count them.
	exec.Command("ethtool", "-K", n.hostIf, "tso", "off", "gso", "off", "gro", "off").Run()
	exec.Command("ip", "netns", "exec", n.ns, "ethtool", "-K", n.nsIf, "tso", "off", "gso", "off", "gro", "off").Run()
	return n
}

func (n *testNet) counters(t *testing.T) (packets, bytes uint64) {
	t.Helper()
	read := func(name string) uint64 {
		b, err := os.ReadFile("/sys/class/net/" + n.hostIf + "/statistics/" + name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return read("rx_packets") + read("tx_packets"), read("rx_bytes") + read("tx_bytes")
}

func sumWindows(ws []*summary.Bucket) *summary.Bucket {
	m := summary.NewBucket(0, 0, 256)
	for _, w := range ws {
		if w != nil {
			m.Merge(w)
		}
	}
	return m
}

// TestLiveCountsEqualKernel sends known traffic through a veth pair (pings
// and real HTTP transfers to a server in another namespace) and checks that
// the probe counted exactly what the kernel says crossed the device.
func TestLiveCountsEqualKernel(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("live test skipped in -short mode")
	}
	n := newTestNet(t, 31)
	// A real HTTP server in the namespace, serving a file of known size.
	dir := t.TempDir()
	body := strings.Repeat("wirewatch", 20000) // 180000 bytes
	if err := os.WriteFile(dir+"/f.txt", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", n.ns, "python3", "-m", "http.server", "--bind", n.nsIP, "--directory", dir, "8080")
	if err := srv.Start(); err != nil {
		t.Skipf("python3 http.server: %v", err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	opt := testOptions()
	opt.SummaryMode = false
	opt.Keep = 100
	opt.Workers = 2
	live, err := StartLive(context.Background(), opt, capture.LiveConfig{Devices: []string{n.hostIf}, Workers: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Stop()
	time.Sleep(300 * time.Millisecond)
	// Wait for the server to listen (its SYNs count too: they are traffic).
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + n.nsIP + ":8080/f.txt"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("http server did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	kp0, kb0 := n.counters(t)
	before := sumWindows(append(live.Windows().Closed(), live.Current()))

	const pings, gets = 50, 20
	sh(t, "ip", "netns", "exec", n.ns, "ping", "-q", "-c", strconv.Itoa(pings), "-i", "0.01", "-s", "56", n.hostIP)
	for i := 0; i < gets; i++ {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(got) != len(body) {
			t.Fatalf("short body %d", len(got))
		}
	}
	time.Sleep(500 * time.Millisecond) // let the ring drain
	kp1, kb1 := n.counters(t)
	time.Sleep(200 * time.Millisecond)
	checkAPI(t, live, n.hostIf)
	live.Stop()
	after := sumWindows(live.Windows().Closed())

	gotP := after.Packets.Total - before.Packets.Total
	gotB := after.Bytes.Total - before.Bytes.Total
	if gotP != kp1-kp0 || gotB != kb1-kb0 {
		t.Errorf("probe counted %d frames / %d bytes; kernel counted %d / %d", gotP, gotB, kp1-kp0, kb1-kb0)
	}
	icmp := after.Packets.OtherL4 - before.Packets.OtherL4
	if icmp != 2*pings {
		t.Errorf("ICMP packets %d, sent %d requests + %d replies", icmp, pings, pings)
	}
	// 98-byte frames: 14 Ethernet + 20 IPv4 + 8 ICMP + 56 payload.
	if b := after.Bytes.OtherL4 - before.Bytes.OtherL4; b != 2*pings*98 {
		t.Errorf("ICMP bytes %d, want %d", b, 2*pings*98)
	}
	if hs := after.TCP.Handshakes - before.TCP.Handshakes; hs != gets {
		t.Errorf("TCP handshakes %d, made %d connections", hs, gets)
	}
	if syn := after.TCP.SYN - before.TCP.SYN; syn != gets {
		t.Errorf("SYNs %d, made %d connections", syn, gets)
	}
	// The device's own address makes the pings' requests inbound and the
	// replies outbound.
	if in := after.Packets.In - before.Packets.In; in < pings {
		t.Errorf("inbound packets %d < %d echo requests", in, pings)
	}
	dev := after.Devices[n.hostIf]
	if dev == nil || dev.In.Packets+dev.Out.Packets+dev.Other.Packets != after.Packets.Total {
		t.Errorf("device record %+v does not add up to %d packets", dev, after.Packets.Total)
	}
	if cs := live.CaptureStats(); cs.KernelDrops != 0 {
		t.Errorf("kernel drops %d", cs.KernelDrops)
	}
}

// checkAPI queries the probe's HTTP API while it runs.
func checkAPI(t *testing.T, live *Live, device string) {
	t.Helper()
	h := APIHandler(live)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get("/api/v1/windows/current")
	var rep struct {
		Packets struct {
			Total uint64                    `json:"total"`
			Rates map[string]map[string]any `json:"rates"`
		} `json:"packets"`
		Devices map[string]any `json:"devices"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Packets.Total == 0 || rep.Packets.Rates["pps_in"] == nil || rep.Devices[device] == nil {
		t.Errorf("/api/v1/windows/current: %d %.300s", code, body)
	}
	code, body = get("/api/v1/status")
	if code != 200 || !strings.Contains(body, device) || !strings.Contains(body, `"kernel_drops"`) {
		t.Errorf("/api/v1/status: %d %.300s", code, body)
	}
	code, body = get("/metrics")
	if code != 200 || !strings.Contains(body, `wirewatch_packets_total{class="total"}`) || !strings.Contains(body, `wirewatch_device_packets_total{device="`+device+`"`) {
		t.Errorf("/metrics: %d %.500s", code, body)
	}
	for _, bad := range []string{"/api/v1/windows/abc", "/api/v1/summary?periods=0"} {
		if code, _ := get(bad); code != 400 {
			t.Errorf("%s: status %d, want 400", bad, code)
		}
	}
	if code, _ := get("/api/v1/nothing"); code != 404 {
		t.Errorf("unknown path: status %d", code)
	}
}
