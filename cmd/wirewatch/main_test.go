package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// readJSON runs `wirewatch read ... --format json` and decodes the output
// generically, so that the test checks the documented field names.
func readJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := runCmd(t, append([]string{"read"}, append(args, "--format", "json")...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("bad JSON: %v", err)
	}
	return m
}

// field walks a dotted path such as "packets.rates.pps_in.p50".
func field(t *testing.T, m map[string]any, path string) any {
	t.Helper()
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not an object", path, k)
		}
		if cur, ok = obj[k]; !ok {
			t.Fatalf("%s: no field %q", path, k)
		}
	}
	return cur
}

func num(t *testing.T, m map[string]any, path string) float64 {
	t.Helper()
	v, ok := field(t, m, path).(float64)
	if !ok {
		t.Fatalf("%s is not a number", path)
	}
	return v
}

// The JSON uses pktvisor's names; the numbers are PcapPlusPlus' for
// example.pcap (FileTests.cpp: 4631 packets, 4492 TCP, 139 UDP).
func TestReadJSONNames(t *testing.T) {
	m := readJSON(t, corpus.Path(t, "pcapplusplus/PcapExamples/example.pcap"))
	for path, want := range map[string]float64{
		"packets.total": 4631, "packets.ipv4": 4631, "packets.ipv6": 0,
		"packets.tcp": 4492, "packets.udp": 139, "packets.other_l4": 0,
	} {
		if got := num(t, m, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	for _, path := range []string{
		"packets.in", "packets.out", "packets.cardinality.src_ips_in", "packets.cardinality.dst_ips_out",
		"packets.rates.pps_in.p50", "packets.rates.pps_total.p99", "packets.rates.bps_out.p95",
		"packets.payload_size.p50", "flows.created", "flows.tcp.handshakes", "flows.rtt_us.p50",
		"loss.kernel_drops", "loss.flows_evicted", "capture.packets", "period.start_ts",
	} {
		num(t, m, path)
	}
	top, ok := field(t, m, "packets.top_ipv4").([]any)
	if !ok || len(top) == 0 {
		t.Fatal("packets.top_ipv4 is empty")
	}
	first := top[0].(map[string]any)
	if _, ok := first["name"].(string); !ok {
		t.Fatalf("top_ipv4 entry %v has no name", first)
	}
	if _, ok := first["estimate"].(float64); !ok {
		t.Fatalf("top_ipv4 entry %v has no estimate", first)
	}
	if _, ok := field(t, m, "devices").(map[string]any); !ok {
		t.Fatal("devices missing")
	}
}

// PcapPlusPlus FilterTests.cpp: "vlan 118" matches 12 frames of
// VlanPackets.pcap.
func TestReadFilter(t *testing.T) {
	m := readJSON(t, corpus.Path(t, "pcapplusplus/PcapExamples/VlanPackets.pcap"), "--bpf", "vlan 118", "--summary")
	if got := num(t, m, "packets.total"); got != 12 {
		t.Fatalf("vlan 118: %v frames, PcapPlusPlus counts 12", got)
	}
	if got := num(t, m, "capture.filtered_out"); got == 0 {
		t.Fatal("frames rejected by the filter are not counted")
	}
	code, _, errOut := runCmd(t, "read", corpus.Path(t, "pcapplusplus/PcapExamples/VlanPackets.pcap"), "--bpf", "tcp and ((")
	if code != 1 || !strings.Contains(errOut, "filter") {
		t.Fatalf("bad filter: exit %d, %q", code, errOut)
	}
}

func TestReadBadFiles(t *testing.T) {
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCapture, []byte("this is not a capture file at all\n"), 0o644)
	for _, path := range []string{filepath.Join(dir, "missing.pcap"), notCapture} {
		code, out, errOut := runCmd(t, "read", path)
		if code != 1 || out != "" || !strings.Contains(errOut, filepath.Base(path)) {
			t.Errorf("%s: exit %d, stderr %q", path, code, errOut)
		}
	}
	// A file cut short in the middle of a record: the complete records are
	// summarized, the cut one is counted, exit status 0.
	m := readJSON(t, corpus.Path(t, "ndpi/fuzz-2021-10-13.pcap"))
	if num(t, m, "capture.truncated_records") < 1 {
		t.Error("truncated record not counted")
	}
	if num(t, m, "packets.total") < 1 {
		t.Error("records before the cut not read")
	}
}

func TestBadConfigNamesKeyAndLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "probe.yaml")
	os.WriteFile(cfg, []byte("summary:\n  period: 10s\n  top: 5\n"), 0o644)
	code, _, errOut := runCmd(t, "read", corpus.Path(t, "pktvisor/dns_ipv4_udp.pcap"), "-c", cfg)
	if code != 1 || !strings.Contains(errOut, `"top"`) || !strings.Contains(errOut, "line 3") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestHelpAndUsage(t *testing.T) {
	for _, cmd := range []string{"read", "probe", "center"} {
		code, _, errOut := runCmd(t, cmd, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: wirewatch "+cmd) {
			t.Errorf("%s --help: exit %d, %q", cmd, code, errOut)
		}
	}
	if code, _, _ := runCmd(t, "read"); code != 2 {
		t.Errorf("read without a file: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "read", "x.pcap", "--format", "xml"); code != 2 {
		t.Errorf("bad format: exit %d, want 2", code)
	}
}

func TestReadTableEscapesCapturedText(t *testing.T) {
	if got := safe("eth0\x1b[31mred\x07"); got != `eth0\x1b[31mred\x07` {
		t.Fatalf("safe: %q", got)
	}
	code, out, errOut := runCmd(t, "read", corpus.Path(t, "pktvisor/dns_udp_tcp_random.pcap"), "--host-cidr", "192.168.0.0/24")
	if code != 0 {
		t.Fatal(errOut)
	}
	for _, want := range []string{"16147", "8.8.8.8", "pps_in", "loss: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}
