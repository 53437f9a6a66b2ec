package graph

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/wirewatch/wirewatch/internal/record"
)

// NodeDetail is what the map knows about one node: the node, all of its
// addresses that appear in the map (not capped like Node.Addresses), its
// edges and the peers they lead to.
type NodeDetail struct {
	Node      Node
	Addresses []netip.Addr // sorted
	// Edges start or end at the node, as in Map (largest first).
	Edges []Edge
	// Peers are the nodes at the other end of Edges, by total bytes
	// (largest first), then ID. A loop makes the node its own peer.
	Peers []Peer
}

// Peer sums a node's edges with one other node.
type Peer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// BytesOut is the traffic of the edges where the node is the client
	// (it asked the peer), BytesIn where the peer asked the node.
	BytesOut uint64 `json:"bytes_out"`
	BytesIn  uint64 `json:"bytes_in"`
	Bytes    uint64 `json:"bytes"`
	Flows    uint64 `json:"flows"`
	// Requests and Errors count both directions.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	// Apps are the protocols of the edges, sorted ("" = none detected).
	Apps []string `json:"apps"`
}

// Described is a map with what Build leaves out: every address of every
// node, for the details of a node or an edge.
type Described struct {
	Map  Map
	accs map[string]*nodeAcc
}

// Describe draws the map as Build does and keeps every node's addresses.
func Describe(edges []record.Edge, r *Resolver, opt Options) *Described {
	m, accs := build(edges, r, opt)
	return &Described{Map: m, accs: accs}
}

// Addresses are all of node id's addresses in the map, sorted (nil for a
// node that is not in it).
func (ds *Described) Addresses(id string) []netip.Addr {
	if _, found := ds.find(id); !found {
		return nil
	}
	acc := ds.accs[id]
	if acc == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(acc.addrs))
	for a := range acc.addrs {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func (ds *Described) find(id string) (int, bool) {
	return slices.BinarySearchFunc(ds.Map.Nodes, id, func(n Node, id string) int { return cmp.Compare(n.ID, id) })
}

// Node describes node id; ok is false when the map has no such node.
func (ds *Described) Node(id string) (d NodeDetail, ok bool) {
	i, found := ds.find(id)
	if !found {
		return NodeDetail{}, false
	}
	m := &ds.Map
	d.Node = m.Nodes[i]
	d.Addresses = ds.Addresses(id)
	byID := make(map[string]*Node, len(m.Nodes))
	for i := range m.Nodes {
		byID[m.Nodes[i].ID] = &m.Nodes[i]
	}
	peers := map[string]*Peer{}
	apps := map[string]map[string]bool{}
	add := func(other string, e *Edge, out bool) {
		p := peers[other]
		if p == nil {
			p = &Peer{ID: other}
			if n := byID[other]; n != nil {
				p.Name, p.Kind = n.Name, n.Kind
			}
			peers[other] = p
			apps[other] = map[string]bool{}
		}
		if out {
			p.BytesOut += e.Bytes
		} else {
			p.BytesIn += e.Bytes
		}
		p.Bytes += e.Bytes
		p.Flows += e.Flows
		p.Requests += e.Requests
		p.Errors += e.Errors
		apps[other][e.App] = true
	}
	for i := range m.Edges {
		e := &m.Edges[i]
		switch {
		case e.Source == id && e.Target == id:
			d.Edges = append(d.Edges, *e)
			add(id, e, true)
		case e.Source == id:
			d.Edges = append(d.Edges, *e)
			add(e.Target, e, true)
		case e.Target == id:
			d.Edges = append(d.Edges, *e)
			add(e.Source, e, false)
		}
	}
	for k, p := range peers {
		for a := range apps[k] {
			p.Apps = append(p.Apps, a)
		}
		slices.Sort(p.Apps)
		d.Peers = append(d.Peers, *p)
	}
	slices.SortFunc(d.Peers, func(a, b Peer) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return d, true
}
