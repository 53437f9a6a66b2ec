package probe

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/summary"
	"github.com/wirewatch/wirewatch/internal/testnet"
)

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
	testnet.NeedRoot(t)
	if testing.Short() {
		t.Skip("live test skipped in -short mode")
	}
	n := testnet.New(t)
	// A real HTTP server in the namespace, serving a file of known size.
	dir := t.TempDir()
	body := strings.Repeat("wirewatch", 20000) // 180000 bytes
	if err := os.WriteFile(dir+"/f.txt", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := n.Command("python3", "-m", "http.server", "--bind", n.NSIP, "--directory", dir, "8080")
	if err := srv.Start(); err != nil {
		t.Skipf("python3 http.server: %v", err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	opt := testOptions()
	opt.SummaryMode = false
	opt.Keep = 100
	opt.Workers = 2
	live, err := StartLive(context.Background(), opt, capture.LiveConfig{Devices: []string{n.HostIf}, Workers: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Stop()
	time.Sleep(300 * time.Millisecond)
	// Wait for the server to listen (its SYNs count too: they are traffic).
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + n.NSIP + ":8080/f.txt"
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
	kp0, kb0 := n.Counters(t)
	before := sumWindows(append(live.Windows().Closed(), live.Current()))

	const pings, gets = 50, 20
	n.Exec(t, "ping", "-q", "-c", strconv.Itoa(pings), "-i", "0.01", "-s", "56", n.HostIP)
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
	kp1, kb1 := n.Counters(t)
	time.Sleep(200 * time.Millisecond)
	checkAPI(t, live, n.HostIf)
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
	dev := after.Devices[n.HostIf]
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
	if code == 200 && json.Unmarshal([]byte(body), &rep) == nil && rep.Packets.Total == 0 {
		// The minute turned while the test ran: the traffic is in the
		// window that just closed.
		code, body = get("/api/v1/windows/1")
		rep.Devices = nil
		_ = json.Unmarshal([]byte(body), &rep)
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

// Concurrent API readers of the same closed windows must not race (run
// with -race): reports and merges share sketches that mutate on read.
func TestAPIConcurrentReaders(t *testing.T) {
	opt := testOptions()
	opt.SummaryMode = false
	opt.Period = time.Second
	opt.Keep = 10
	res, err := ReadFile(context.Background(), corpus.Path(t, "pktvisor/dns_udp_tcp_random.pcap"), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := &Live{opt: opt, windows: NewWindows(1, opt.Keep, opt.TopCapacity, nil), hosts: summary.NewHosts(nil), started: time.Now()}
	for i, b := range res.Windows {
		live.windows.Submit(0, b, b.End+int64(i))
	}
	h := APIHandler(live)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, path := range []string{"/api/v1/summary?periods=5", "/api/v1/windows", "/api/v1/windows/1", "/metrics"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != 200 {
					t.Errorf("%s: %d %s", path, rec.Code, rec.Body.String())
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
