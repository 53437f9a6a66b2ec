package detect

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// nDPI's names for the protocols of this package.
var ndpiNames = map[string]string{
	"SSH": "ssh", "NTP": "ntp", "DHCP": "dhcp", "DHCPV6": "dhcp", "Cassandra": "cassandra",
	"Memcached": "memcached", "AMQP": "amqp", "MQTT": "mqtt", "MsSQL-TDS": "tds", "Oracle": "tns",
	"TFTP": "tftp", "Couchbase": "couchbase", "Zookeeper": "zookeeper", "Echo": "echo",
}

var ndpiFlowRE = regexp.MustCompile(`^\s+\d+\s+(TCP|UDP) (\S+) <?-> (\S+) \[proto: [\d.]+/([^\]]+)\].*\[Confidence: ([^\]]+)\]`)

type ndpiFlow struct {
	proto      string // nDPI's name (the master protocol of "A.B")
	confidence string
}

// readNDPI returns the flows of an nDPI expected result, by flow key.
func readNDPI(t *testing.T, path string) map[string]ndpiFlow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ndpiFlow{}
	for _, line := range strings.Split(string(b), "\n") {
		m := ndpiFlowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a, err1 := netip.ParseAddrPort(m[2])
		z, err2 := netip.ParseAddrPort(m[3])
		if err1 != nil || err2 != nil {
			// fuzz-2021-10-13: nDPI prints a fuzzed IPv6 address that
			// is not one ("[302e::3d00::8001]").
			t.Logf("%s: skipping flow %s <-> %s", filepath.Base(path), m[2], m[3])
			continue
		}
		proto, _, _ := strings.Cut(m[4], ".")
		out[flowKey(strings.ToLower(m[1]), a, z)] = ndpiFlow{proto: proto, confidence: m[5]}
	}
	return out
}

// TestNDPI compares, flow by flow, the flows we label with the flows
// nDPI's expected results (ndpi/expected/*.out) give one of our
// protocols, for every nDPI capture where nDPI finds one:
//
//	file              nDPI                              ours
//	amqp.pcap         AMQP 3                            amqp 3
//	cassandra.pcap    Cassandra 3 (one on 7000)         cassandra 3
//	memcached.cap     Memcached 1                       memcached 1
//	mssql_tds.pcap    MsSQL-TDS 12                      tds 12
//	1kxun.pcap        DHCP 5, DHCPV6 3, NTP 1           dhcp 8, ntp 1
//	android.pcap      DHCP 2, DHCPV6 1, NTP 1           dhcp 3, ntp 1
//	alexa-app.pcapng  DHCP 2                            dhcp 2
//	dhcp-fuzz.pcapng  DHCP 1 (by port: option 53 is     dhcp 1 (the magic cookie
//	                  out of range)                     is intact)
//	fuzz-2006-...     DHCP 1                            dhcp 1
//	synscan.pcap      SSH 1, MsSQL-TDS 4, Oracle 2,     none
//	                  Cassandra 2, all by port
//
// The other 93 nDPI captures (HTTP, TLS, QUIC, DNS, tunnels, games,
// fuzzed files...) hold none of our protocols for nDPI, and we must
// label none of their flows either.
//
// synscan.pcap is a SYN scan: its flows carry no payload and nDPI names
// them by port alone ("Confidence: Match by port"). A content detector
// has nothing to look at there; those flows are the only allowed
// differences, and the test checks that each of them is port-only in
// nDPI's result. Any flow we label that nDPI gives to another protocol
// (or to none) fails the test.
func TestNDPI(t *testing.T) {
	outs, _ := filepath.Glob(filepath.Join(filepath.Dir(corpus.Path(t, "ndpi/amqp.pcap")), "expected", "*.out"))
	if len(outs) < 100 {
		t.Fatalf("%d nDPI results found", len(outs))
	}
	var files []string
	for _, o := range outs {
		files = append(files, strings.TrimSuffix(filepath.Base(o), ".out"))
	}
	withOurs := 0
	// Flows nDPI names by port only and that carry no payload to detect.
	noPayload := map[string]bool{"synscan.pcap": true}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			path := corpus.Path(t, "ndpi/"+name)
			want := readNDPI(t, corpus.Path(t, "ndpi/expected/"+name+".out"))
			got := ourFlows(t, path, All...)
			wantN, gotN := map[string]int{}, countByProto(got)
			for k, f := range want {
				ours, ok := ndpiNames[f.proto]
				if !ok {
					if p, ok := got[k]; ok {
						t.Errorf("%s: we say %s, nDPI says %s", k, p, f.proto)
					}
					continue
				}
				wantN[ours]++
				switch p := got[k]; {
				case p == ours:
				case p == "" && noPayload[name] && f.confidence == "Match by port":
					t.Logf("%s: nDPI %s by port on a flow without payload; not detected", k, f.proto)
					wantN[ours]--
				default:
					t.Errorf("%s: nDPI says %s (%s), we say %q", k, f.proto, f.confidence, p)
				}
			}
			for k, p := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: we say %s, nDPI has no such flow", k, p)
				}
			}
			for _, p := range keys(wantN) {
				if wantN[p] != gotN[p] {
					t.Errorf("%s flows: nDPI %d, ours %d", p, wantN[p], gotN[p])
				}
			}
			if len(wantN) > 0 {
				withOurs++
				t.Logf("flows per protocol: nDPI %v, ours %v", wantN, gotN)
			}
		})
	}
	if withOurs != 10 {
		t.Errorf("%d nDPI captures hold our protocols, want the 10 listed", withOurs)
	}
}
