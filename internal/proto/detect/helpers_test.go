package detect

import (
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// flowKey names a flow by transport and its two endpoints in a fixed
// order, so that our flows, nDPI's and tshark's can be matched whichever
// side each tool calls the client.
func flowKey(tr string, a, b netip.AddrPort) string {
	x, y := a.String(), b.String()
	if x > y {
		x, y = y, x
	}
	return tr + " " + x + " " + y
}

// ourFlows runs the pipeline over path with protos and returns the
// detected protocol per flow key (flows with no detection left out). A
// flow key seen twice (the flow table ended a flow and a later packet
// started a new one, as DHCP's broadcasts do) counts once, as nDPI and
// tshark count it; the two must then agree on the protocol.
func ourFlows(t *testing.T, path string, protos ...*l7.Protocol) map[string]string {
	t.Helper()
	res := l7test.ReadFile(t, path, protos...)
	out := map[string]string{}
	for _, f := range res.Flows {
		if f.Proto == "" {
			continue
		}
		k := flowKey(f.Transport.String(), f.Client, f.Server)
		if p, ok := out[k]; ok && p != f.Proto {
			t.Errorf("%s: flow %s detected as %s and as %s", path, k, p, f.Proto)
		}
		out[k] = f.Proto
	}
	return out
}

// strict returns copies of protos without port hints whose detectors
// answer Yes or No only (Maybe becomes No, NeedMore stays): what they
// detect, they detect on content alone.
func strict(protos []*l7.Protocol) []*l7.Protocol {
	out := make([]*l7.Protocol, len(protos))
	for i, p := range protos {
		c := *p
		c.Ports = nil
		d := p.Detect
		c.Detect = func(b []byte, dir flow.Dir, port uint16) l7.Verdict {
			v := d(b, dir, port)
			if v == l7.Maybe {
				return l7.No
			}
			return v
		}
		out[i] = &c
	}
	return out
}

// countByProto counts flows per protocol name.
func countByProto(m map[string]string) map[string]int {
	c := map[string]int{}
	for _, p := range m {
		c[p]++
	}
	return c
}

// keys returns the sorted keys of m.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tsharkPath returns tshark's path, or skips the test.
func tsharkPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	return p
}

// tsharkNames maps tshark's protocol names (as in frame.protocols) to
// ours.
var tsharkNames = map[string]string{
	"ssh": "ssh", "ntp": "ntp", "dhcp": "dhcp", "dhcpv6": "dhcp", "cql": "cassandra",
	"memcache": "memcached", "amqp": "amqp", "mqtt": "mqtt", "tds": "tds", "tns": "tns",
	"tftp": "tftp", "couchbase": "couchbase", "echo": "echo",
}

// tsharkArgs are the arguments after "-r FILE" (and any decode-as rule)
// of the tshark command whose output testdata/tshark/*.tsv hold: one line
// per frame in which tshark decoded one of our protocols, with the
// innermost addresses and ports.
var tsharkArgs = []string{"-Y", "ssh||ntp||dhcp||dhcpv6||cql||memcache||amqp||mqtt||tds||tns||tftp||couchbase||echo",
	"-T", "fields", "-E", "separator=|", "-E", "occurrence=l",
	"-e", "frame.protocols", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
	"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport"}

// runTshark runs tshark over path and returns its output.
func runTshark(t *testing.T, path string, extra ...string) string {
	t.Helper()
	args := append([]string{"-n", "-r", path}, extra...)
	args = append(args, tsharkArgs...)
	out, err := exec.Command(tsharkPath(t), args...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("tshark %s: %v", path, err)
	}
	return string(out)
}

// parseTshark returns, per flow key, the one of our protocols that tshark
// decoded in the flow's frames.
func parseTshark(out string) map[string]string {
	flows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) != 9 || strings.HasPrefix(line, "#") {
			continue
		}
		var name string
		for _, p := range strings.Split(f[0], ":") {
			if n, ok := tsharkNames[p]; ok {
				name = n
			}
		}
		if name == "" {
			continue
		}
		src, dst := f[1], f[2]
		if f[3] != "" {
			src, dst = f[3], f[4]
		}
		tr, sp, dp := "tcp", f[5], f[6]
		if sp == "" {
			tr, sp, dp = "udp", f[7], f[8]
		}
		a, err1 := netip.ParseAddrPort(joinHostPort(src, sp))
		b, err2 := netip.ParseAddrPort(joinHostPort(dst, dp))
		if err1 != nil || err2 != nil {
			continue
		}
		flows[flowKey(tr, a, b)] = name
	}
	return flows
}

func joinHostPort(h, p string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]:" + p
	}
	return h + ":" + p
}
