package graph

import (
	"cmp"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/wirewatch/wirewatch/internal/record"
)

// MaxNodeAddresses bounds the addresses listed per node (a group or a
// network can hold thousands); Node.AddressCount has the true number.
const MaxNodeAddresses = 64

// ExternalGroupID is the node that holds every external address when
// Options.GroupExternal is set.
const ExternalGroupID = "external"

// Options shape a map.
type Options struct {
	// GroupBy merges the nodes that carry this label into one node per
	// label value (Kind group, ID "group:<value>"). Nodes without the
	// label stay as they are. "" draws one node per host, workload,
	// network or external address.
	GroupBy string
	// HideApps drops the edges of these application protocols; "none"
	// drops the edges where no protocol was detected.
	HideApps []string
	// OmitNodes are glob patterns (path.Match: *, ?, [...]) on node
	// names: a node whose name matches, before or after grouping, is
	// left out with its edges.
	OmitNodes []string
	// HideLabels are LABEL=VALUE pairs: a node that carries one of them
	// (before grouping) is left out with its edges, so that monitoring or
	// infrastructure traffic (env=monitoring) does not tie every node
	// together.
	HideLabels []string
	// GroupExternal draws every external address as one node, "external".
	GroupExternal bool
	// DropLoops drops edges whose two ends are the same node (traffic
	// inside a group, or between two addresses of one host). By default
	// they are kept as loops (Source == Target): traffic inside a
	// namespace or a domain is part of its picture.
	DropLoops bool
}

// Validate checks the patterns and label pairs.
func (o *Options) Validate() error {
	for _, p := range o.OmitNodes {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("omit pattern %q: %w", p, err)
		}
	}
	for _, l := range o.HideLabels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			return fmt.Errorf("hide_label %q: want LABEL=VALUE", l)
		}
	}
	return nil
}

// Map is the traffic map of a time range.
type Map struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Node is one box of the map.
type Node struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Labels are the node's labels (a group's: the grouping label).
	Labels map[string]string `json:"labels"`
	// Addresses are the node's addresses that appear in the map's edges,
	// in address order, at most MaxNodeAddresses; AddressCount counts them all.
	Addresses    []string `json:"addresses"`
	AddressCount int      `json:"address_count"`
	// Members is how many nodes a group merges (1 for others).
	Members int `json:"members"`
	// Bytes is the traffic of the node's edges (a loop once),
	// ClientBytes of the edges it starts, ServerBytes of those it serves.
	Bytes       uint64 `json:"bytes"`
	ClientBytes uint64 `json:"client_bytes"`
	ServerBytes uint64 `json:"server_bytes"`
	Requests    uint64 `json:"requests"` // requests the node served
	Errors      uint64 `json:"errors"`   // failed requests it served
}

// Edge is one conversation between two nodes: sums over the underlying
// address edges with the same transport, protocol and server port.
type Edge struct {
	Source    string `json:"source"` // client node ID
	Target    string `json:"target"` // server node ID
	Transport string `json:"transport"`
	App       string `json:"app"`
	Port      uint16 `json:"port"`
	Bytes     uint64 `json:"bytes"`
	Packets   uint64 `json:"packets"`
	Flows     uint64 `json:"flows"`
	Requests  uint64 `json:"requests"`
	Errors    uint64 `json:"errors"`
	// ErrorRate is Errors / Requests (0 without requests).
	ErrorRate float64 `json:"error_rate"`
	// RequestRate is Requests per second over the map's time range (the
	// API fills it in; Build leaves it 0).
	RequestRate float64 `json:"request_rate"`
	// LatencyMeanUS and LatencyMaxUS are over the requests with a
	// latency (0 without any).
	LatencyMeanUS float64 `json:"latency_mean_us"`
	LatencyMaxUS  float64 `json:"latency_max_us"`
}

type nodeAcc struct {
	Node
	members map[string]bool
	addrs   map[netip.Addr]bool
}

type mapEdgeKey struct {
	source, target string
	transport, app string
	port           uint16
}

type edgeAcc struct {
	Edge
	latSum   float64 // ns
	latCount uint64
	latMax   int64
}

// Build draws the map of edges (as the store returns them: one per
// address pair, transport, protocol and port) with r naming the
// addresses. The result is deterministic: nodes sorted by ID, edges by
// bytes (largest first), then by source, target, transport, protocol
// and port. Options that fail Validate match nothing.
func Build(edges []record.Edge, r *Resolver, opt Options) Map {
	m, _ := build(edges, r, opt)
	return m
}

// build draws the map and returns the nodes' accumulators (by ID) with
// every address of each node, for Detail.
func build(edges []record.Edge, r *Resolver, opt Options) (Map, map[string]*nodeAcc) {
	hide := map[string]bool{}
	for _, a := range opt.HideApps {
		if a == "none" {
			a = ""
		}
		hide[a] = true
	}
	omitted := func(name string) bool {
		for _, p := range opt.OmitNodes {
			if ok, _ := path.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	hiddenLabels := map[string]map[string]bool{}
	for _, l := range opt.HideLabels {
		k, v, _ := strings.Cut(l, "=")
		if hiddenLabels[k] == nil {
			hiddenLabels[k] = map[string]bool{}
		}
		hiddenLabels[k][v] = true
	}
	labelHidden := func(labels map[string]string) bool {
		for k, vs := range hiddenLabels {
			if v, ok := labels[k]; ok && vs[v] {
				return true
			}
		}
		return false
	}
	nodes := map[string]*nodeAcc{}
	type resolved struct {
		node *nodeAcc // nil: omitted
	}
	cache := map[netip.Addr]resolved{}
	resolve := func(a netip.Addr) *nodeAcc {
		a = a.Unmap()
		if c, ok := cache[a]; ok {
			return c.node
		}
		var id Identity
		if r != nil {
			id = r.Resolve(a)
		} else {
			s := a.String()
			id = Identity{ID: KindExternal + ":" + s, Name: s, Kind: KindExternal}
		}
		if omitted(id.Name) || labelHidden(id.Labels) {
			cache[a] = resolved{}
			return nil
		}
		member := id.ID
		switch {
		case opt.GroupBy != "" && id.Labels[opt.GroupBy] != "":
			v := id.Labels[opt.GroupBy]
			id = Identity{ID: KindGroup + ":" + v, Name: v, Kind: KindGroup, Labels: map[string]string{opt.GroupBy: v}}
		case opt.GroupExternal && id.Kind == KindExternal:
			id = Identity{ID: ExternalGroupID, Name: ExternalGroupID, Kind: KindExternal}
		}
		if member != id.ID && omitted(id.Name) {
			cache[a] = resolved{}
			return nil
		}
		n := nodes[id.ID]
		if n == nil {
			labels := map[string]string{}
			for k, v := range id.Labels {
				labels[k] = v
			}
			n = &nodeAcc{
				Node:    Node{ID: id.ID, Name: id.Name, Kind: id.Kind, Labels: labels},
				members: map[string]bool{},
				addrs:   map[netip.Addr]bool{},
			}
			nodes[id.ID] = n
		}
		n.members[member] = true
		cache[a] = resolved{node: n}
		return n
	}

	acc := map[mapEdgeKey]*edgeAcc{}
	used := map[*nodeAcc]bool{}
	for i := range edges {
		e := &edges[i]
		if hide[e.App] || !e.Client.IsValid() || !e.Server.IsValid() {
			continue
		}
		src, dst := resolve(e.Client), resolve(e.Server)
		if src == nil || dst == nil || (opt.DropLoops && src == dst) {
			continue
		}
		used[src], used[dst] = true, true
		src.addrs[e.Client.Unmap()] = true
		dst.addrs[e.Server.Unmap()] = true
		k := mapEdgeKey{src.ID, dst.ID, e.Transport, e.App, e.Port}
		a := acc[k]
		if a == nil {
			a = &edgeAcc{Edge: Edge{Source: src.ID, Target: dst.ID, Transport: e.Transport, App: e.App, Port: e.Port}}
			acc[k] = a
		}
		a.Bytes += e.Bytes
		a.Packets += e.Packets
		a.Flows += e.Flows
		a.Requests += e.Requests
		a.Errors += e.Errors
		a.latSum += float64(e.LatencySum)
		a.latCount += e.LatencyCount
		a.latMax = max(a.latMax, int64(e.LatencyMax))
		src.ClientBytes += e.Bytes
		dst.ServerBytes += e.Bytes
		dst.Requests += e.Requests
		dst.Errors += e.Errors
		src.Bytes += e.Bytes
		if dst != src {
			dst.Bytes += e.Bytes
		}
	}

	m := Map{Nodes: make([]Node, 0, len(used)), Edges: make([]Edge, 0, len(acc))}
	for n := range used {
		addrs := make([]netip.Addr, 0, len(n.addrs))
		for a := range n.addrs {
			addrs = append(addrs, a)
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		n.AddressCount = len(addrs)
		n.Addresses = make([]string, 0, min(len(addrs), MaxNodeAddresses))
		for _, a := range addrs[:min(len(addrs), MaxNodeAddresses)] {
			n.Addresses = append(n.Addresses, a.String())
		}
		n.Members = len(n.members)
		m.Nodes = append(m.Nodes, n.Node)
	}
	slices.SortFunc(m.Nodes, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	for _, a := range acc {
		if a.Requests > 0 {
			a.ErrorRate = float64(a.Errors) / float64(a.Requests)
		}
		if a.latCount > 0 {
			a.LatencyMeanUS = a.latSum / float64(a.latCount) / 1e3
			a.LatencyMaxUS = float64(a.latMax) / 1e3
		}
		m.Edges = append(m.Edges, a.Edge)
	}
	slices.SortFunc(m.Edges, func(a, b Edge) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Transport, b.Transport); c != 0 {
			return c
		}
		if c := cmp.Compare(a.App, b.App); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return m, nodes
}
