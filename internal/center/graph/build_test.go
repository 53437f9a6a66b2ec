package graph

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

const inventoryYAML = `
entries:
  - cidr: 10.0.0.50
    name: billing-db
    labels: {env: prod, archdomain: billing, owner: pay}
  - cidr: 10.0.0.51
    name: billing-db
  - cidr: 10.8.0.0/16
    name: office
    labels: {env: corp}
  - cidr: 10.8.1.0/24
    name: office-lab
    kind: network
    labels: {env: lab}
  - cidr: 10.0.0.2
    name: web-1
    labels: {owner: shop-team, env: staging}
`

func testResolver(t *testing.T) *Resolver {
	t.Helper()
	inv, err := ParseInventory([]byte(inventoryYAML))
	if err != nil {
		t.Fatal(err)
	}
	probes := []record.ProbeInfo{
		{ID: "p-web", Hostname: "web-1", Labels: map[string]string{"env": "prod", "archdomain": "shop"},
			Addresses: []netip.Addr{addr("10.0.0.2"), addr("127.0.0.1"), addr("172.17.0.1")}},
		{ID: "p-web2", Hostname: "web-2", Labels: map[string]string{"env": "prod", "archdomain": "shop"},
			Addresses: []netip.Addr{addr("10.0.0.12"), addr("172.17.0.1"), addr("fe80::1")}},
		{ID: "p-cli", Hostname: "client-1", Labels: map[string]string{"env": "prod", "archdomain": "front"},
			Addresses: []netip.Addr{addr("10.0.0.1")}},
	}
	r, err := NewResolver(probes, inv)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type es struct {
	client, server, transport, app string
	port                           uint16
	bytes, packets, flows          uint64
	req, errs                      uint64
	latSum, latMax                 time.Duration
	latCount                       uint64
}

var mapEdges = func() []record.Edge {
	in := []es{
		{"10.0.0.1", "10.0.0.2", "tcp", "http", 80, 1000, 10, 2, 4, 1, 40 * time.Millisecond, 20 * time.Millisecond, 4},      // A
		{"10.0.0.1", "10.0.0.12", "tcp", "http", 80, 500, 5, 1, 2, 0, 10 * time.Millisecond, 6 * time.Millisecond, 2},        // B
		{"10.0.0.2", "10.0.0.50", "tcp", "postgresql", 5432, 300, 3, 1, 3, 0, 3 * time.Millisecond, 2 * time.Millisecond, 3}, // C
		{"10.0.0.12", "10.0.0.51", "tcp", "postgresql", 5432, 200, 2, 1, 1, 1, time.Millisecond, time.Millisecond, 1},        // D
		{"10.8.1.7", "10.0.0.2", "tcp", "http", 80, 50, 1, 1, 1, 0, 0, 0, 0},                                                 // E
		{"10.8.2.9", "10.0.0.2", "tcp", "http", 80, 70, 1, 1, 1, 0, 0, 0, 0},                                                 // F
		{"10.0.0.2", "8.8.8.8", "udp", "dns", 53, 100, 2, 1, 1, 0, time.Millisecond, time.Millisecond, 1},                    // G
		{"10.0.0.12", "1.1.1.1", "udp", "dns", 53, 80, 2, 1, 1, 0, 0, 0, 0},                                                  // H
		{"172.17.0.1", "10.0.0.2", "tcp", "", 9000, 10, 1, 1, 0, 0, 0, 0, 0},                                                 // I
		{"10.0.0.2", "10.0.0.12", "tcp", "http", 8080, 40, 2, 1, 1, 0, 0, 0, 0},                                              // J
	}
	var out []record.Edge
	for _, e := range in {
		out = append(out, record.Edge{Client: addr(e.client), Server: addr(e.server), Transport: e.transport, App: e.app, Port: e.port,
			Bytes: e.bytes, Packets: e.packets, Flows: e.flows, Requests: e.req, Errors: e.errs,
			LatencySum: e.latSum, LatencyCount: e.latCount, LatencyMax: e.latMax})
	}
	return out
}()

func TestResolve(t *testing.T) {
	r := testResolver(t)
	for _, tc := range []struct {
		addr, id, kind string
		labels         map[string]string
	}{
		// A probe's host, with the inventory's labels under the probe's.
		{"10.0.0.2", "host:web-1", KindHost, map[string]string{"env": "prod", "archdomain": "shop", "owner": "shop-team"}},
		{"::ffff:10.0.0.2", "host:web-1", KindHost, map[string]string{"env": "prod", "archdomain": "shop", "owner": "shop-team"}},
		{"10.0.0.12", "host:web-2", KindHost, map[string]string{"env": "prod", "archdomain": "shop"}},
		// Two inventory entries, one host.
		{"10.0.0.50", "host:billing-db", KindHost, map[string]string{"env": "prod", "archdomain": "billing", "owner": "pay"}},
		{"10.0.0.51", "host:billing-db", KindHost, map[string]string{"env": "prod", "archdomain": "billing", "owner": "pay"}},
		// Most specific prefix wins.
		{"10.8.1.7", "network:office-lab", KindNetwork, map[string]string{"env": "lab"}},
		{"10.8.2.9", "network:office", KindNetwork, map[string]string{"env": "corp"}},
		// Reported by two probes on different hosts: nobody's.
		{"172.17.0.1", "external:172.17.0.1", KindExternal, nil},
		// Loopback and link-local never name a host.
		{"127.0.0.1", "external:127.0.0.1", KindExternal, nil},
		{"fe80::1", "external:fe80::1", KindExternal, nil},
		{"2001:db8::1", "external:2001:db8::1", KindExternal, nil},
	} {
		got := r.Resolve(addr(tc.addr))
		if got.ID != tc.id || got.Kind != tc.kind || (len(got.Labels) != 0 || len(tc.labels) != 0) && !reflect.DeepEqual(got.Labels, tc.labels) {
			t.Errorf("Resolve(%s) = %+v, want %s %s %v", tc.addr, got, tc.id, tc.kind, tc.labels)
		}
	}
}

func node(id, name, kind string, labels map[string]string, addrs []string, members int, bytes, cb, sb, req, errs uint64) Node {
	if labels == nil {
		labels = map[string]string{}
	}
	return Node{ID: id, Name: name, Kind: kind, Labels: labels, Addresses: addrs, AddressCount: len(addrs), Members: members,
		Bytes: bytes, ClientBytes: cb, ServerBytes: sb, Requests: req, Errors: errs}
}

func TestBuildUngrouped(t *testing.T) {
	m := Build(mapEdges, testResolver(t), Options{})
	web1 := map[string]string{"env": "prod", "archdomain": "shop", "owner": "shop-team"}
	shop := map[string]string{"env": "prod", "archdomain": "shop"}
	wantNodes := []Node{
		node("external:1.1.1.1", "1.1.1.1", KindExternal, nil, []string{"1.1.1.1"}, 1, 80, 0, 80, 1, 0),
		node("external:172.17.0.1", "172.17.0.1", KindExternal, nil, []string{"172.17.0.1"}, 1, 10, 10, 0, 0, 0),
		node("external:8.8.8.8", "8.8.8.8", KindExternal, nil, []string{"8.8.8.8"}, 1, 100, 0, 100, 1, 0),
		node("host:billing-db", "billing-db", KindHost, map[string]string{"env": "prod", "archdomain": "billing", "owner": "pay"},
			[]string{"10.0.0.50", "10.0.0.51"}, 1, 300+200, 0, 500, 4, 1),
		node("host:client-1", "client-1", KindHost, map[string]string{"env": "prod", "archdomain": "front"}, []string{"10.0.0.1"}, 1, 1500, 1500, 0, 0, 0),
		// A C E F G I J
		node("host:web-1", "web-1", KindHost, web1, []string{"10.0.0.2"}, 1, 1000+300+50+70+100+10+40, 300+100+40, 1000+50+70+10, 4+1+1, 1),
		// B D H J
		node("host:web-2", "web-2", KindHost, shop, []string{"10.0.0.12"}, 1, 500+200+80+40, 200+80, 500+40, 2+1, 0),
		node("network:office", "office", KindNetwork, map[string]string{"env": "corp"}, []string{"10.8.2.9"}, 1, 70, 70, 0, 0, 0),
		node("network:office-lab", "office-lab", KindNetwork, map[string]string{"env": "lab"}, []string{"10.8.1.7"}, 1, 50, 50, 0, 0, 0),
	}
	if !reflect.DeepEqual(m.Nodes, wantNodes) {
		t.Errorf("nodes:\n got %s\nwant %s", js(m.Nodes), js(wantNodes))
	}
	if len(m.Edges) != len(mapEdges) {
		t.Fatalf("%d edges, want %d (one per address edge): %s", len(m.Edges), len(mapEdges), js(m.Edges))
	}
	// Largest first, and the largest is A.
	a := m.Edges[0]
	if a.Source != "host:client-1" || a.Target != "host:web-1" || a.Bytes != 1000 || a.Requests != 4 || a.Errors != 1 ||
		!near(a.ErrorRate, 0.25) || !near(a.LatencyMeanUS, 10000) || !near(a.LatencyMaxUS, 20000) {
		t.Errorf("first edge %+v", a)
	}
	for i := 1; i < len(m.Edges); i++ {
		if m.Edges[i].Bytes > m.Edges[i-1].Bytes {
			t.Errorf("edges not sorted by bytes at %d: %s", i, js(m.Edges))
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func sameEdges(t *testing.T, got, want []Edge) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d edges, want %d:\n got %s\nwant %s", len(got), len(want), js(got), js(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !near(g.ErrorRate, w.ErrorRate) || !near(g.LatencyMeanUS, w.LatencyMeanUS) || !near(g.LatencyMaxUS, w.LatencyMaxUS) {
			t.Errorf("edge %d: %+v, want %+v", i, g, w)
		}
		g.ErrorRate, g.LatencyMeanUS, g.LatencyMaxUS = w.ErrorRate, w.LatencyMeanUS, w.LatencyMaxUS
		if g != w {
			t.Errorf("edge %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestBuildGrouped(t *testing.T) {
	m := Build(mapEdges, testResolver(t), Options{GroupBy: "archdomain"})
	wantEdges := []Edge{
		// A + B
		{Source: "group:front", Target: "group:shop", Transport: "tcp", App: "http", Port: 80, Bytes: 1500, Packets: 15, Flows: 3,
			Requests: 6, Errors: 1, ErrorRate: 1.0 / 6, LatencyMeanUS: 50000.0 / 6, LatencyMaxUS: 20000},
		// C + D
		{Source: "group:shop", Target: "group:billing", Transport: "tcp", App: "postgresql", Port: 5432, Bytes: 500, Packets: 5, Flows: 2,
			Requests: 4, Errors: 1, ErrorRate: 0.25, LatencyMeanUS: 1000, LatencyMaxUS: 2000},
		{Source: "group:shop", Target: "external:8.8.8.8", Transport: "udp", App: "dns", Port: 53, Bytes: 100, Packets: 2, Flows: 1,
			Requests: 1, LatencyMeanUS: 1000, LatencyMaxUS: 1000},
		{Source: "group:shop", Target: "external:1.1.1.1", Transport: "udp", App: "dns", Port: 53, Bytes: 80, Packets: 2, Flows: 1, Requests: 1},
		{Source: "network:office", Target: "group:shop", Transport: "tcp", App: "http", Port: 80, Bytes: 70, Packets: 1, Flows: 1, Requests: 1},
		{Source: "network:office-lab", Target: "group:shop", Transport: "tcp", App: "http", Port: 80, Bytes: 50, Packets: 1, Flows: 1, Requests: 1},
		// J: inside the group, a loop.
		{Source: "group:shop", Target: "group:shop", Transport: "tcp", App: "http", Port: 8080, Bytes: 40, Packets: 2, Flows: 1, Requests: 1},
		{Source: "external:172.17.0.1", Target: "group:shop", Transport: "tcp", App: "", Port: 9000, Bytes: 10, Packets: 1, Flows: 1},
	}
	sameEdges(t, m.Edges, wantEdges)
	wantNodes := []Node{
		node("external:1.1.1.1", "1.1.1.1", KindExternal, nil, []string{"1.1.1.1"}, 1, 80, 0, 80, 1, 0),
		node("external:172.17.0.1", "172.17.0.1", KindExternal, nil, []string{"172.17.0.1"}, 1, 10, 10, 0, 0, 0),
		node("external:8.8.8.8", "8.8.8.8", KindExternal, nil, []string{"8.8.8.8"}, 1, 100, 0, 100, 1, 0),
		node("group:billing", "billing", KindGroup, map[string]string{"archdomain": "billing"}, []string{"10.0.0.50", "10.0.0.51"}, 1, 500, 0, 500, 4, 1),
		node("group:front", "front", KindGroup, map[string]string{"archdomain": "front"}, []string{"10.0.0.1"}, 1, 1500, 1500, 0, 0, 0),
		// Every edge touches shop: 1500 + 500 + 100 + 80 + 70 + 50 + 40 (loop, once) + 10
		node("group:shop", "shop", KindGroup, map[string]string{"archdomain": "shop"}, []string{"10.0.0.2", "10.0.0.12"}, 2,
			1500+500+100+80+70+50+40+10, 500+100+80+40, 1500+70+50+40+10, 6+1+1+1, 1),
		node("network:office", "office", KindNetwork, map[string]string{"env": "corp"}, []string{"10.8.2.9"}, 1, 70, 70, 0, 0, 0),
		node("network:office-lab", "office-lab", KindNetwork, map[string]string{"env": "lab"}, []string{"10.8.1.7"}, 1, 50, 50, 0, 0, 0),
	}
	if !reflect.DeepEqual(m.Nodes, wantNodes) {
		t.Errorf("nodes:\n got %s\nwant %s", js(m.Nodes), js(wantNodes))
	}
}

func TestBuildFilters(t *testing.T) {
	r := testResolver(t)
	m := Build(mapEdges, r, Options{GroupBy: "archdomain", GroupExternal: true, HideApps: []string{"dns"}, OmitNodes: []string{"office*"}, DropLoops: true})
	sameEdges(t, m.Edges, []Edge{
		{Source: "group:front", Target: "group:shop", Transport: "tcp", App: "http", Port: 80, Bytes: 1500, Packets: 15, Flows: 3,
			Requests: 6, Errors: 1, ErrorRate: 1.0 / 6, LatencyMeanUS: 50000.0 / 6, LatencyMaxUS: 20000},
		{Source: "group:shop", Target: "group:billing", Transport: "tcp", App: "postgresql", Port: 5432, Bytes: 500, Packets: 5, Flows: 2,
			Requests: 4, Errors: 1, ErrorRate: 0.25, LatencyMeanUS: 1000, LatencyMaxUS: 2000},
		{Source: ExternalGroupID, Target: "group:shop", Transport: "tcp", App: "", Port: 9000, Bytes: 10, Packets: 1, Flows: 1},
	})
	var ids []string
	for _, n := range m.Nodes {
		ids = append(ids, n.ID)
	}
	if want := []string{ExternalGroupID, "group:billing", "group:front", "group:shop"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("nodes %v, want %v", ids, want)
	}

	// Omitting a host before grouping takes its edges out of the group;
	// "none" hides edges without a protocol.
	m = Build(mapEdges, r, Options{OmitNodes: []string{"web-[2]"}, HideApps: []string{"none"}})
	var bytes uint64
	for _, e := range m.Edges {
		if e.Source == "host:web-2" || e.Target == "host:web-2" || e.App == "" {
			t.Errorf("edge %+v survived", e)
		}
		bytes += e.Bytes
	}
	// Every edge but B, D, H, J (web-2) and I (no protocol).
	if want := uint64(1000 + 300 + 50 + 70 + 100); bytes != want {
		t.Errorf("bytes %d, want %d", bytes, want)
	}
	// Omitting a group by its name.
	m = Build(mapEdges, r, Options{GroupBy: "archdomain", OmitNodes: []string{"shop"}})
	for _, e := range m.Edges {
		if e.Source == "group:shop" || e.Target == "group:shop" {
			t.Errorf("edge %+v survived", e)
		}
	}
	if len(m.Edges) != 0 {
		// Every edge of the sample touches web-1 or web-2.
		t.Errorf("edges %s", js(m.Edges))
	}
	// No resolver: every address external; grouping by a label nobody has
	// changes nothing.
	m = Build(mapEdges[:1], nil, Options{GroupBy: "nope"})
	if len(m.Nodes) != 2 || m.Nodes[0].ID != "external:10.0.0.1" || m.Nodes[1].ID != "external:10.0.0.2" || len(m.Edges) != 1 {
		t.Errorf("no resolver: %s", js(m))
	}
	if m := Build(nil, r, Options{}); m.Nodes == nil || m.Edges == nil || len(m.Nodes)+len(m.Edges) != 0 {
		t.Errorf("empty map: %#v", m)
	}
}

func TestBuildAddressCap(t *testing.T) {
	var edges []record.Edge
	for i := range MaxNodeAddresses + 10 {
		edges = append(edges, record.Edge{Client: netip.AddrFrom4([4]byte{10, 8, 3, byte(i)}), Server: addr("10.0.0.2"), Transport: "tcp", App: "http", Port: 80, Bytes: 1})
	}
	m := Build(edges, testResolver(t), Options{})
	for _, n := range m.Nodes {
		if n.ID == "network:office" {
			if n.AddressCount != MaxNodeAddresses+10 || len(n.Addresses) != MaxNodeAddresses || n.Addresses[0] != "10.8.3.0" {
				t.Errorf("office: %d addresses listed of %d, first %q", len(n.Addresses), n.AddressCount, n.Addresses[0])
			}
			if n.Bytes != uint64(MaxNodeAddresses+10) {
				t.Errorf("office bytes %d", n.Bytes)
			}
			return
		}
	}
	t.Errorf("no office node: %s", js(m.Nodes))
}

func TestInventoryErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"entries:\n  - cidr: 10.0.0.5/24\n", `entries[0].cidr: "10.0.0.5/24" has host bits set (the network is 10.0.0.0/24)`},
		{"entries:\n  - cidr: nope\n", `entries[0].cidr: "nope" is not an address or a CIDR`},
		{"entries:\n  - name: x\n", `entries[0].cidr: missing`},
		{"entries:\n  - cidr: 10.0.0.1\n  - cidr: 10.0.0.1/32\n", `entries[1].cidr: 10.0.0.1/32 is also entries[0]`},
		{"entries:\n  - cidr: 10.0.0.1\n    kind: pod\n", `entries[0].kind: "pod": want host, workload or network`},
		{"entries:\n  - cidr: 10.0.0.1\n    lables: {a: b}\n", `field lables not found`},
		{"entries:\n  - cidr: 10.0.0.1\n    labels: {'': b}\n", `entries[0].labels: label name ""`},
		{"entries: [", `inventory: yaml`},
		{"entries:\n  - cidr: fe80::1%eth0\n", `zones are not allowed`},
	} {
		_, err := ParseInventory([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.doc, err, tc.want)
		}
	}
	if inv, err := ParseInventory(nil); err != nil || len(inv.Entries) != 0 {
		t.Errorf("empty inventory: %v %v", inv, err)
	}
	p := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(p, []byte(inventoryYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := LoadInventory(p)
	if err != nil || len(inv.Entries) != 5 || inv.Entries[3].Name != "office-lab" || inv.Entries[0].Labels["owner"] != "pay" {
		t.Fatalf("LoadInventory: %+v %v", inv, err)
	}
	if _, err := LoadInventory(p + ".missing"); err == nil {
		t.Error("missing file: no error")
	}
	if err := (&Options{OmitNodes: []string{"["}}).Validate(); err == nil || !strings.Contains(err.Error(), `omit pattern "["`) {
		t.Errorf("bad pattern: %v", err)
	}
	// An IPv4-mapped prefix is the IPv4 one.
	inv, err = ParseInventory([]byte("entries:\n  - cidr: ::ffff:10.9.0.0/112\n    name: mapped\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewResolver(nil, inv)
	if err != nil {
		t.Fatal(err)
	}
	if id := r.Resolve(addr("10.9.1.2")); id.ID != "network:mapped" {
		t.Errorf("mapped prefix: %+v", id)
	}
}
