package hostile

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The capture is read by tshark, an independent decoder: every request,
// response, DNS question and SNI must be there as written, and tshark must
// find nothing malformed or anomalous (no retransmissions, lost segments or
// bad checksums), so that the payloads reach a probe through ordinary,
// well-formed traffic.
func TestCaptureAsTsharkReadsIt(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark is missing: scripts/deps.sh test installs it")
	}
	path := filepath.Join(t.TempDir(), "hostile.pcap")
	if err := WriteFile(path); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(tshark, "-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", "_ws.malformed || _ws.expert.severity >= warning || tcp.analysis.flags").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("tshark flags packets:\n%s", s)
	}

	out, err = exec.Command(tshark, "-r", path, "-T", "json",
		"-e", "http.request.method", "-e", "http.request.uri", "-e", "http.host", "-e", "http.user_agent",
		"-e", "http.response.code", "-e", "dns.qry.name", "-e", "dns.flags.rcode", "-e", "dns.flags.response",
		"-e", "tls.handshake.extensions_server_name",
		"-Y", "http || dns || tls.handshake.type == 1").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v\n%s", err, out)
	}
	var methods, uris, hosts, agents, codes, qnames, rcodes, snis []string
	for _, p := range pkts {
		l := p.Source.Layers
		methods = append(methods, l["http.request.method"]...)
		uris = append(uris, l["http.request.uri"]...)
		hosts = append(hosts, l["http.host"]...)
		agents = append(agents, l["http.user_agent"]...)
		codes = append(codes, l["http.response.code"]...)
		snis = append(snis, l["tls.handshake.extensions_server_name"]...)
		if len(l["dns.flags.response"]) > 0 && l["dns.flags.response"][0] == "1" {
			rcodes = append(rcodes, l["dns.flags.rcode"]...)
		} else {
			qnames = append(qnames, l["dns.qry.name"]...)
		}
	}
	var wantM, wantU, wantH, wantA, wantC []string
	for _, ex := range HTTP {
		wantM = append(wantM, ex.Method)
		wantU = append(wantU, shown(ex.Target))
		wantC = append(wantC, strconv.Itoa(ex.Status))
		for _, hd := range ex.RequestHeaders {
			name, value, _ := strings.Cut(hd, ": ")
			switch name {
			case "Host":
				wantH = append(wantH, shown(value))
			case "User-Agent":
				wantA = append(wantA, shown(value))
			}
		}
	}
	same(t, "HTTP methods", methods, wantM)
	same(t, "request URIs", uris, wantU)
	same(t, "Host headers", hosts, wantH)
	same(t, "User-Agents", agents, wantA)
	same(t, "status codes", codes, wantC)
	same(t, "DNS questions", qnames, []string{DNSName})
	same(t, "DNS rcodes", rcodes, []string{"3"})
	same(t, "SNI", snis, []string{SNI})

	// Every payload is in the capture somewhere.
	var raw bytes.Buffer
	if err := Write(&raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ScriptTag, ImgOnerror, SVGBreakout, JSURL, PathImg, PathSVG} {
		if !bytes.Contains(raw.Bytes(), []byte(p)) {
			t.Errorf("payload %q is not in the capture", p)
		}
	}
}

// The capture is the same bytes every time (tests compare against it).
func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || a.Len() < 1000 {
		t.Fatalf("two writes differ or are too short (%d, %d bytes)", a.Len(), b.Len())
	}
}

// shown is how tshark prints a string with invalid UTF-8: one U+FFFD per
// bad byte.
func shown(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("%s: tshark read %q, want %q", what, got, want)
	}
}
