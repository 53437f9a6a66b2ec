package graph

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/wirewatch/wirewatch/internal/record"
)

func detailFixture(t *testing.T) ([]record.Edge, *Resolver) {
	t.Helper()
	inv, err := ParseInventory([]byte(`entries:
  - {cidr: 10.0.0.1, name: web, labels: {env: prod}}
  - {cidr: 10.0.0.2, name: db, labels: {env: prod}}
  - {cidr: 10.0.0.3, name: prom, labels: {env: monitoring}}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewResolver(nil, inv)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	edges := []record.Edge{
		{Client: a("10.0.0.1"), Server: a("10.0.0.2"), Transport: "tcp", App: "postgresql", Port: 5432, Bytes: 1000, Flows: 2, Requests: 10, Errors: 1},
		{Client: a("10.0.0.3"), Server: a("10.0.0.1"), Transport: "tcp", App: "http", Port: 9100, Bytes: 300, Flows: 1, Requests: 3},
		{Client: a("10.0.0.3"), Server: a("10.0.0.2"), Transport: "tcp", App: "http", Port: 9100, Bytes: 200, Flows: 1, Requests: 2},
		{Client: a("192.0.2.9"), Server: a("10.0.0.1"), Transport: "tcp", App: "http", Port: 80, Bytes: 50, Flows: 1, Requests: 1, Errors: 1},
	}
	return edges, r
}

func TestHideLabels(t *testing.T) {
	edges, r := detailFixture(t)
	m := Build(edges, r, Options{HideLabels: []string{"env=monitoring"}})
	var ids []string
	for _, n := range m.Nodes {
		ids = append(ids, n.ID)
	}
	if want := []string{"external:192.0.2.9", "host:db", "host:web"}; !slices.Equal(ids, want) {
		t.Errorf("nodes %v, want %v", ids, want)
	}
	if len(m.Edges) != 2 {
		t.Errorf("%d edges, want the 2 without the monitoring node", len(m.Edges))
	}
	if err := (&Options{HideLabels: []string{"novalue"}}).Validate(); err == nil {
		t.Error("hide_label without = accepted")
	}
}

func TestDescribeNode(t *testing.T) {
	edges, r := detailFixture(t)
	ds := Describe(edges, r, Options{})
	d, ok := ds.Node("host:web")
	if !ok {
		t.Fatal("host:web not found")
	}
	if !slices.Equal(d.Addresses, []netip.Addr{netip.MustParseAddr("10.0.0.1")}) {
		t.Errorf("addresses %v", d.Addresses)
	}
	if len(d.Edges) != 3 {
		t.Errorf("%d edges, want 3", len(d.Edges))
	}
	// Peers by bytes: db (out 1000), prom (in 300), the external (in 50).
	var got []string
	for _, p := range d.Peers {
		got = append(got, p.ID)
	}
	if want := []string{"host:db", "host:prom", "external:192.0.2.9"}; !slices.Equal(got, want) {
		t.Errorf("peers %v, want %v", got, want)
	}
	if p := d.Peers[0]; p.BytesOut != 1000 || p.BytesIn != 0 || p.Requests != 10 || p.Errors != 1 || !slices.Equal(p.Apps, []string{"postgresql"}) {
		t.Errorf("peer db %+v", p)
	}
	if p := d.Peers[1]; p.BytesOut != 0 || p.BytesIn != 300 || p.Name != "prom" {
		t.Errorf("peer prom %+v", p)
	}
	if _, ok := ds.Node("host:nope"); ok {
		t.Error("unknown node found")
	}
	// Grouped: the group holds both prod addresses.
	g := Describe(edges, r, Options{GroupBy: "env"})
	if got := g.Addresses("group:prod"); len(got) != 2 {
		t.Errorf("group:prod addresses %v", got)
	}
}
