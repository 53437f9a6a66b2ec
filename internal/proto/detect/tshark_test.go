package detect

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// -tshark=check reruns tshark and compares its output with
// testdata/tshark; -tshark=update rewrites those files.
var tsharkMode = flag.String("tshark", "", "check: rerun tshark and compare with testdata/tshark; update: rewrite testdata/tshark")

// tsharkCase is a capture whose flows tshark names and we must name
// alike.
type tsharkCase struct {
	// name of the stored tshark output, testdata/tshark/NAME.tsv.
	name string
	// path: "testdata/..." or a corpus path.
	path string
	// extra tshark arguments (decode-as for a protocol off its port).
	extra []string
	// missing: flows tshark names that we cannot, with the reason.
	missing map[string]string
	// strict: how many flows carry evidence strong enough for Yes
	// (checked with the port hints removed and Maybe turned into No),
	// from what the capture holds (see the comments).
	strict int
}

// TestTshark compares our per-flow labels with tshark's (Wireshark
// 4.0.17) on captures of protocols that nDPI's corpus lacks: the
// captures in testdata (made with real servers and clients, see
// testdata/README.md) and corpus files tshark decodes as one of our
// protocols. tshark's output is stored in testdata/tshark/NAME.tsv (the
// command on its first line) because tshark takes about a second per
// file to start; "go test -run TestTshark -tshark=check" reruns it and
// fails if its flows differ from the stored ones. tshark names most of these by port (SSH on 22, echo on 7,
// memcache on 11211, couchbase on 11210) or by following a TFTP request
// to its transfer; we must find the same flows from their content, on
// strong evidence where the capture has it (strict).
func TestTshark(t *testing.T) {
	td := func(name string) string { return "testdata/" + name }
	cases := []tsharkCase{
		// mosquitto 2.0.11 with mosquitto_pub/sub: MQTT 3.1 (MQIsdp),
		// 3.1.1 and 5.0, each connection opens with CONNECT.
		{name: "td-mqtt", path: td("mqtt.pcap"), strict: 5},
		// The same capture from the first PUBLISH on: no CONNECT, only
		// well-formed packets on port 1883 (Maybe).
		{name: "td-mqtt_midstream", path: td("mqtt_midstream.pcap"), strict: 0},
		// memcached 1.6.18: three text sessions ("set k 0 0 5", "stats",
		// "version"), three binary sessions (libmemcached memccp,
		// memccat, memcstat), one UDP "get". "version" is a single word
		// (Maybe); the UDP reply's VALUE line and every binary frame
		// with its exact body length are Yes.
		{name: "td-memcached", path: td("memcached.pcap"), strict: 6},
		// memcached 1.6.18 listening on Couchbase's port 11210 with
		// binary clients, and a HELO request (Couchbase-only opcode).
		// Every frame is complete and well-formed (Yes); the port is what
		// makes the plain memcached frames Couchbase's, and HELO is
		// Couchbase anywhere.
		{name: "td-couchbase", path: td("couchbase.pcap"), strict: 3},
		// tftpd-hpa and tftp-hpa: RRQ octet, RRQ netascii of a missing
		// file, WRQ; each request flow (Yes) and each transfer flow
		// between two ephemeral ports (DATA/ACK/ERROR: Maybe).
		{name: "td-tftp", path: td("tftp.pcap"), strict: 3},
		// socat as echo server on TCP and UDP port 7; one of the TCP
		// payloads is an HTTP request. Echo is port evidence only.
		{name: "td-echo", path: td("echo.pcap"), strict: 0},
		// tcpdump's TFTP sample: one RRQ flow and its transfer.
		{name: "tcpdump-tftp", path: "tcpdump/tftp.pcap", strict: 1},
		// SSH with banners.
		{name: "tcpdump-ssh", path: "tcpdump/ssh.pcap", strict: 1},
		{name: "deepflow-client_request_timewait_and_syn_synack_count", path: "deepflow/flow_generator/client_request_timewait_and_syn_synack_count.pcap", strict: 1},
		// SSH captured mid-session: clear-text packet lengths (AES-GCM or
		// -etm MACs) on port 22, Maybe.
		{name: "deepflow-client-keep-alive", path: "deepflow/flow_generator/client-keep-alive.pcap", strict: 0},
		{name: "tcpdump-kday3", path: "tcpdump/kday3.pcap", strict: 0},
		// SSH mid-session with encrypted lengths (chacha20-poly1305):
		// nothing in the bytes says SSH.
		{name: "pcapplusplus-pcapng-example", path: "pcapplusplus/PcapExamples/pcapng-example.pcapng", strict: 0, missing: map[string]string{
			"tcp 130.217.250.13:55338 130.217.250.16:22": "mid-session SSH with encrypted packet lengths",
		}},
		// Oracle TNS on port 1533: tnsping's CONNECT and the listener's
		// REFUSE (tshark needs decode-as off port 1521).
		{name: "deepflow-syn-ack-ack-retrans-and-client-payload", path: "deepflow/flow_generator/syn-ack-ack-retrans-and-client-payload.pcap",
			extra: []string{"-d", "tcp.port==1533,tns"}, strict: 1},
		// NTP: client/server modes, control (mode 6) and private (mode
		// 7) messages. Server replies with a real stratum and consistent
		// timestamps are Yes: in ntp.pcap three of the four replies (the
		// fourth has stratum 0, unsynchronised).
		{name: "tcpdump-ntp", path: "tcpdump/ntp.pcap", strict: 3},
		{name: "tcpdump-ntp-control", path: "tcpdump/ntp-control.pcap", strict: 0},
		{name: "tcpdump-ntp-mode7", path: "tcpdump/ntp-mode7.pcap", strict: 0},
		{name: "tcpdump-ntp-time", path: "tcpdump/ntp-time.pcap", strict: 1},
		// DHCP and DHCPv6 (client and server identifiers, relays): all
		// complete, all Yes.
		{name: "pktvisor-dhcp-flow", path: "pktvisor/dhcp-flow.pcap", strict: 3},
		{name: "pktvisor-dhcpv6", path: "pktvisor/dhcpv6.pcap", strict: 2},
		{name: "tcpdump-dhcp-rfc4388", path: "tcpdump/dhcp-rfc4388.pcap", strict: 2},
		{name: "tcpdump-dhcpv4v6-rfc5970-rfc8572", path: "tcpdump/dhcpv4v6-rfc5970-rfc8572.pcap", strict: 6},
		{name: "tcpdump-dhcpv6-ia-na", path: "tcpdump/dhcpv6-ia-na.pcap", strict: 2},
		// DHCP cut to a 96-byte snap length: the magic cookie is not
		// captured, the BOOTP header on ports 67/68 is (Maybe).
		{name: "gopacket-le-test004", path: "gopacket/pcapgo/tests/le/test004.pcapng", strict: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if !strings.HasPrefix(path, "testdata/") {
				path = corpus.Path(t, path)
			}
			want := parseTshark(storedTshark(t, c, path))
			if len(want) == 0 {
				t.Fatalf("tshark finds none of our protocols in %s", c.path)
			}
			got := ourFlows(t, path, All...)
			for _, k := range keys(want) {
				switch {
				case got[k] == want[k]:
				case got[k] == "" && c.missing[k] != "":
					t.Logf("%s: tshark %s, not detected: %s", k, want[k], c.missing[k])
				default:
					t.Errorf("%s: tshark %s, ours %q", k, want[k], got[k])
				}
			}
			for _, k := range keys(got) {
				if want[k] == "" {
					t.Errorf("%s: ours %s, tshark none", k, got[k])
				}
			}
			s := ourFlows(t, path, strict(All)...)
			for k, p := range s {
				if want[k] != p {
					t.Errorf("%s: strict detection says %s, tshark %q", k, p, want[k])
				}
			}
			if len(s) != c.strict {
				t.Errorf("flows detected on strong evidence: %d, want %d (%v)", len(s), c.strict, s)
			}
			t.Logf("tshark %v, ours %v, strong evidence %d", countByProto(want), countByProto(got), len(s))
		})
	}
}

// storedTshark returns the stored tshark output for c, after rerunning
// tshark to check or rewrite it when -tshark says so.
func storedTshark(t *testing.T, c tsharkCase, path string) string {
	t.Helper()
	file := filepath.Join("testdata", "tshark", c.name+".tsv")
	head := "# tshark 4.0.17: tshark -n -r " + c.path + " " + strings.Join(c.extra, " ") + " " + strings.Join(tsharkArgs, " ") + "\n"
	switch *tsharkMode {
	case "update":
		if err := os.WriteFile(file, []byte(head+runTshark(t, path, c.extra...)), 0o644); err != nil {
			t.Fatal(err)
		}
	case "check":
		live := parseTshark(runTshark(t, path, c.extra...))
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		stored := parseTshark(string(b))
		for _, k := range keys(live) {
			if stored[k] != live[k] {
				t.Errorf("%s: tshark now says %q, %s says %q", k, live[k], file, stored[k])
			}
		}
		if len(live) != len(stored) {
			t.Errorf("tshark now finds %d flows, %s has %d", len(live), file, len(stored))
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestZooKeeper checks testdata/zookeeper.pcap, which tshark 4.0 cannot
// decode (it has no ZooKeeper dissector): six connections to a
// ZooKeeper 3.8.0 server, four with one four-letter word each (ruok,
// mntr, srvr, stat) and two zkCli.sh sessions (create, get). All six are
// ZooKeeper, all on strong evidence ("stat", an English word, is only
// Maybe, but the server's answer "Zookeeper version: " is Yes).
func TestZooKeeper(t *testing.T) {
	got := ourFlows(t, "testdata/zookeeper.pcap", All...)
	if n := countByProto(got)["zookeeper"]; n != 6 || len(got) != 6 {
		t.Errorf("detected %v, want 6 zookeeper flows", got)
	}
	s := ourFlows(t, "testdata/zookeeper.pcap", strict(All)...)
	if n := countByProto(s)["zookeeper"]; n != 6 {
		// The server's answer to "stat" makes it Yes from the other
		// direction.
		t.Errorf("strong evidence: %v, want 6 zookeeper flows", s)
	}
}
