package api

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/wirewatch/wirewatch/internal/center/graph"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
)

// The map's parameters, shared by /api/v1/map and its node and edge
// details, so that a node ID from one answer names the same node in the
// others.
var mapParams = []*param{pFrom, pTo, pProbe, pGroup,
	{Name: "group_by", Kind: kindString, Example: "env", MaxLen: 128, Desc: "Label to group nodes by (`env`, `archdomain`, `namespace`, ...). Default: one node per host."},
	{Name: "app", Kind: kindList, Example: "http,dns", Desc: "Only these protocols."},
	{Name: "hide_app", Kind: kindList, Example: "dns", Desc: "Leave out these protocols; `none` leaves out traffic with no detected protocol."},
	{Name: "hide_label", Kind: kindList, Example: "env=monitoring", Desc: "Leave out nodes that carry one of these LABEL=VALUE pairs (before grouping), with their edges."},
	{Name: "omit", Kind: kindList, Example: "kube-*", Desc: "Leave out nodes whose name matches one of these glob patterns (`*`, `?`, `[a-z]`), before or after grouping."},
	{Name: "group_external", Kind: kindBool, Default: "false", Example: "true", Desc: "Draw every external address as one node, `external`."},
	{Name: "loops", Kind: kindEnum, Enum: []string{"keep", "drop"}, Default: "keep", Example: "keep", Desc: "Keep or drop edges whose two ends are the same node."},
	pLimit(DefaultMapEdges, store.MaxLimit),
}

// detailRecent is how many recent transactions a detail answer lists by
// default (the `recent` parameter: 0 to maxDetailRecent).
const (
	detailRecent    = 20
	maxDetailRecent = 200
	detailStatuses  = 50
	maxDetailPeers  = 100
)

var pRecent = &param{Name: "recent", Kind: kindInt, Min: 0, Max: maxDetailRecent, Default: fmt.Sprint(detailRecent), Example: "5",
	Desc: "How many of the newest transactions to list."}

// builtMap is a map drawn from the store for one request.
type builtMap struct {
	tr        store.TimeRange
	groupBy   string
	desc      *graph.Described
	edgesRead int
	truncated bool
}

// drawMap reads the map parameters, the edges and the probes, and draws
// the map. ids/all select the probes (nil map when none match).
func (a *API) drawMap(ctx context.Context, q *query) (*builtMap, []string, error) {
	tr, err := a.timeRange(q)
	if err != nil {
		return nil, nil, err
	}
	limit, err := q.integer("limit", a.cfg.MapEdges)
	if err != nil {
		return nil, nil, err
	}
	opt := graph.Options{GroupBy: q.str("group_by"), HideApps: q.list("hide_app"), HideLabels: q.list("hide_label"),
		OmitNodes: q.list("omit"), DropLoops: q.str("loops") == "drop"}
	if opt.GroupExternal, err = q.boolean("group_external"); err != nil {
		return nil, nil, err
	}
	if err := opt.Validate(); err != nil {
		name := "omit"
		for _, l := range opt.HideLabels {
			if (&graph.Options{HideLabels: []string{l}}).Validate() != nil {
				name = "hide_label"
			}
		}
		return nil, nil, badRequest("parameter %q: %v", name, err)
	}
	ids, all, err := a.probeSet(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	bm := &builtMap{tr: tr, groupBy: opt.GroupBy}
	if !all && len(ids) == 0 {
		bm.desc = graph.Describe(nil, nil, opt)
		return bm, []string{}, nil
	}
	edges, err := a.store.Edges(ctx, store.EdgeQuery{TimeRange: tr, Probes: ids, Apps: q.list("app"), Limit: limit})
	if err != nil {
		return nil, nil, fmt.Errorf("edges: %w", err)
	}
	ps, err := a.store.Probes(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("probes: %w", err)
	}
	infos := make([]record.ProbeInfo, len(ps))
	for i := range ps {
		infos[i] = ps[i].Info
	}
	res, err := graph.NewResolver(infos, a.inv)
	if err != nil {
		return nil, nil, fmt.Errorf("resolver: %w", err)
	}
	bm.desc = graph.Describe(edges, res, opt)
	bm.edgesRead = len(edges)
	bm.truncated = len(edges) >= limit
	return bm, ids, nil
}

// rate is per second over the range.
func rate(n uint64, tr store.TimeRange) float64 {
	s := tr.To.Sub(tr.From).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// mapEdgeJSON escapes an edge's captured text and fills its rate.
func mapEdgeJSON(e graph.Edge, tr store.TimeRange) graph.Edge {
	e.Source, e.Target, e.App, e.Transport = text(e.Source), text(e.Target), text(e.App), text(e.Transport)
	e.RequestRate = rate(e.Requests, tr)
	return e
}

func mapNodeJSON(n graph.Node) graph.Node {
	n.ID, n.Name, n.Labels = text(n.ID), text(n.Name), textMap(n.Labels)
	return n
}

func (a *API) trafficMap(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	bm, _, err := a.drawMap(ctx, q)
	if err != nil {
		return err
	}
	m := bm.desc.Map
	resp := MapResponse{From: bm.tr.From, To: bm.tr.To, GroupBy: text(bm.groupBy),
		Map:       graph.Map{Nodes: make([]graph.Node, 0, len(m.Nodes)), Edges: make([]graph.Edge, 0, len(m.Edges))},
		EdgesRead: bm.edgesRead, Truncated: bm.truncated}
	for _, n := range m.Nodes {
		resp.Nodes = append(resp.Nodes, mapNodeJSON(n))
	}
	for _, e := range m.Edges {
		resp.Edges = append(resp.Edges, mapEdgeJSON(e, bm.tr))
	}
	return writeJSON(w, resp)
}

// BreakdownJSON is the transactions behind a node or an edge: per
// protocol, per status, and the newest ones.
type BreakdownJSON struct {
	Protocols []ProtoStatsJSON  `json:"protocols"`
	Statuses  []StatusCountJSON `json:"statuses"`
	Recent    []TransactionJSON `json:"recent"`
}

// ProtoStatsJSON is one protocol's transactions: counts, the request
// rate over the range, and latency quantiles in microseconds over the
// transactions with a latency.
type ProtoStatsJSON struct {
	Proto         string  `json:"proto"`
	Requests      uint64  `json:"requests"`
	RequestRate   float64 `json:"request_rate"`
	Errors        uint64  `json:"errors"`
	ErrorRate     float64 `json:"error_rate"`
	LatencyCount  uint64  `json:"latency_count"`
	LatencyMeanUS float64 `json:"latency_mean_us"`
	LatencyP50US  float64 `json:"latency_p50_us"`
	LatencyP90US  float64 `json:"latency_p90_us"`
	LatencyP99US  float64 `json:"latency_p99_us"`
	LatencyMaxUS  float64 `json:"latency_max_us"`
}

// StatusCountJSON counts one protocol's transactions with one status and
// outcome.
type StatusCountJSON struct {
	Proto   string `json:"proto"`
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
	Count   uint64 `json:"count"`
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func breakdownJSON(b *store.TxBreakdown, tr store.TimeRange) BreakdownJSON {
	out := BreakdownJSON{Protocols: []ProtoStatsJSON{}, Statuses: []StatusCountJSON{}, Recent: []TransactionJSON{}}
	if b == nil {
		return out
	}
	for _, p := range b.Protocols {
		j := ProtoStatsJSON{Proto: text(p.Proto), Requests: p.Count, RequestRate: rate(p.Count, tr), Errors: p.Errors,
			LatencyCount: p.LatencyCount, LatencyMeanUS: us(p.LatencyMean), LatencyP50US: us(p.LatencyP50),
			LatencyP90US: us(p.LatencyP90), LatencyP99US: us(p.LatencyP99), LatencyMaxUS: us(p.LatencyMax)}
		if p.Count > 0 {
			j.ErrorRate = float64(p.Errors) / float64(p.Count)
		}
		out.Protocols = append(out.Protocols, j)
	}
	for _, s := range b.Statuses {
		out.Statuses = append(out.Statuses, StatusCountJSON{Proto: text(s.Proto), Status: text(s.Status), Outcome: text(s.Outcome), Count: s.Count})
	}
	for i := range b.Recent {
		out.Recent = append(out.Recent, txJSON(&b.Recent[i]))
	}
	return out
}

// capAddrs keeps the first MaxBreakdownAddrs addresses.
func capAddrs(addrs []netip.Addr) ([]netip.Addr, bool) {
	if len(addrs) > store.MaxBreakdownAddrs {
		return addrs[:store.MaxBreakdownAddrs], true
	}
	return addrs, false
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

// NodeResponse is the body of /api/v1/map/node.
type NodeResponse struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Node is null when the map of this range and these filters has no
	// such node (it may have vanished from a newer range).
	Node *graph.Node `json:"node"`
	// Addresses are the node's addresses in the map (all of them, up to
	// 1000; AddressesTruncated says there were more: the transaction
	// figures then cover the first 1000).
	Addresses          []string `json:"addresses"`
	AddressesTruncated bool     `json:"addresses_truncated"`
	// Peers are the nodes it talks with, by bytes (at most 100).
	Peers []graph.Peer `json:"peers"`
	// Edges are its edges in the map, by bytes.
	Edges []graph.Edge `json:"edges"`
	// Served are the transactions the node answered (it was the server),
	// Requested those it sent.
	Served    BreakdownJSON `json:"served"`
	Requested BreakdownJSON `json:"requested"`
}

func (a *API) mapNode(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	recent, err := q.integer("recent", detailRecent)
	if err != nil {
		return err
	}
	bm, ids, err := a.drawMap(ctx, q)
	if err != nil {
		return err
	}
	resp := NodeResponse{From: bm.tr.From, To: bm.tr.To, Addresses: []string{}, Peers: []graph.Peer{}, Edges: []graph.Edge{},
		Served: breakdownJSON(nil, bm.tr), Requested: breakdownJSON(nil, bm.tr)}
	d, ok := bm.desc.Node(q.str("id"))
	if !ok {
		return writeJSON(w, resp)
	}
	n := mapNodeJSON(d.Node)
	resp.Node = &n
	addrs, cut := capAddrs(d.Addresses)
	resp.Addresses, resp.AddressesTruncated = addrStrings(addrs), cut
	for _, p := range d.Peers[:min(len(d.Peers), maxDetailPeers)] {
		p.ID, p.Name = text(p.ID), text(p.Name)
		for i := range p.Apps {
			p.Apps[i] = text(p.Apps[i])
		}
		resp.Peers = append(resp.Peers, p)
	}
	for _, e := range d.Edges {
		resp.Edges = append(resp.Edges, mapEdgeJSON(e, bm.tr))
	}
	if len(addrs) == 0 {
		return writeJSON(w, resp)
	}
	base := store.TxBreakdownQuery{TimeRange: bm.tr, Probes: ids, Statuses: detailStatuses, Recent: recent}
	served, requested := base, base
	served.Servers, requested.Clients = addrs, addrs
	sb, err := a.store.TxBreakdown(ctx, served)
	if err != nil {
		return fmt.Errorf("transactions served: %w", err)
	}
	rb, err := a.store.TxBreakdown(ctx, requested)
	if err != nil {
		return fmt.Errorf("transactions requested: %w", err)
	}
	resp.Served, resp.Requested = breakdownJSON(sb, bm.tr), breakdownJSON(rb, bm.tr)
	return writeJSON(w, resp)
}

// EdgeResponse is the body of /api/v1/map/edge.
type EdgeResponse struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Edge is null when the map has no such edge.
	Edge *graph.Edge `json:"edge"`
	// Clients and Servers are the addresses of its two nodes (up to 1000
	// each) whose transactions on the edge's port are counted.
	Clients      []string      `json:"clients"`
	Servers      []string      `json:"servers"`
	Transactions BreakdownJSON `json:"transactions"`
}

func (a *API) mapEdge(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	recent, err := q.integer("recent", detailRecent)
	if err != nil {
		return err
	}
	port, err := q.port("port")
	if err != nil {
		return err
	}
	bm, ids, err := a.drawMap(ctx, q)
	if err != nil {
		return err
	}
	resp := EdgeResponse{From: bm.tr.From, To: bm.tr.To, Clients: []string{}, Servers: []string{}, Transactions: breakdownJSON(nil, bm.tr)}
	src, dst, transport, app := q.str("source"), q.str("target"), q.str("transport"), q.str("app")
	i := slices.IndexFunc(bm.desc.Map.Edges, func(e graph.Edge) bool {
		return e.Source == src && e.Target == dst && e.Transport == transport && e.App == app && e.Port == port
	})
	if i < 0 {
		return writeJSON(w, resp)
	}
	e := mapEdgeJSON(bm.desc.Map.Edges[i], bm.tr)
	resp.Edge = &e
	clients, _ := capAddrs(bm.desc.Addresses(src))
	servers, _ := capAddrs(bm.desc.Addresses(dst))
	resp.Clients, resp.Servers = addrStrings(clients), addrStrings(servers)
	b, err := a.store.TxBreakdown(ctx, store.TxBreakdownQuery{TimeRange: bm.tr, Probes: ids, Clients: clients, Servers: servers,
		Port: port, Statuses: detailStatuses, Recent: recent})
	if err != nil {
		return fmt.Errorf("edge transactions: %w", err)
	}
	resp.Transactions = breakdownJSON(b, bm.tr)
	return writeJSON(w, resp)
}

// ExtentResponse is the body of /api/v1/extent.
type ExtentResponse struct {
	// From and To span the stored summary windows (null when none is
	// stored).
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
}

func (a *API) extent(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	tr, err := a.store.Extent(ctx)
	if err != nil {
		return fmt.Errorf("extent: %w", err)
	}
	var resp ExtentResponse
	if !tr.From.IsZero() && !tr.To.IsZero() {
		from, to := tr.From.UTC(), tr.To.UTC()
		resp.From, resp.To = &from, &to
	}
	return writeJSON(w, resp)
}
