package graph

import (
	"net/netip"
	"testing"

	"github.com/wirewatch/wirewatch/internal/record"
)

// FuzzParseInventory: any document is an inventory or an error, and a
// valid one always builds a resolver that answers.
func FuzzParseInventory(f *testing.F) {
	f.Add([]byte(inventoryYAML))
	f.Add([]byte("entries:\n  - cidr: ::ffff:10.9.0.0/112\n    name: m\n    kind: workload\n"))
	f.Add([]byte("entries: [{cidr: 0.0.0.0/0}, {cidr: '::/0', labels: {a: b}}]"))
	f.Add([]byte("entries:\n  - &a {cidr: 10.0.0.1}\n  - *a\n"))
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:10.9.1.1"), netip.MustParseAddr("2001:db8::1"), {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory(data)
		if err != nil {
			return
		}
		r, err := NewResolver([]record.ProbeInfo{{ID: "p", Addresses: addrs[:1]}}, inv)
		if err != nil {
			t.Fatalf("valid inventory, resolver error: %v", err)
		}
		for _, a := range addrs {
			if id := r.Resolve(a); id.ID == "" || id.Name == "" {
				t.Fatalf("Resolve(%v) = %+v", a, id)
			}
		}
		var edges []record.Edge
		for _, a := range addrs[:3] {
			edges = append(edges, record.Edge{Client: a, Server: addrs[0], Transport: "tcp", Port: 1, Bytes: 1})
		}
		m := Build(edges, r, Options{GroupBy: "a", GroupExternal: true})
		var sum uint64
		for _, e := range m.Edges {
			sum += e.Bytes
		}
		if sum != 3 {
			t.Fatalf("bytes %d, want 3: %+v", sum, m)
		}
	})
}
