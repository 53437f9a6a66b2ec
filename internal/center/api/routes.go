package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wirewatch/wirewatch/internal/store"
)

// route is one endpoint: its handler, its parameters and what the
// OpenAPI document says about it.
type route struct {
	Path     string
	Tag      string
	Summary  string
	Desc     string
	Params   []*param
	Response any    // a value of the JSON response type; nil with ContentType
	Content  string // non-JSON content type
	handle   func(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error
}

// Parameters shared by several routes.
var (
	pFrom = &param{Name: "from", Kind: kindTime, Default: "-15m", Example: "-1h",
		Desc: "Start of the time range (inclusive): RFC 3339 (2024-05-01T10:00:00Z), `now`, or a duration before now (`-15m`, `-2h`, `-7d`). Default: `to` minus 15 minutes."}
	pTo = &param{Name: "to", Kind: kindTime, Default: "now", Example: "now",
		Desc: "End of the time range (exclusive), in the same forms as `from`. Default: now."}
	pProbe = &param{Name: "probe", Kind: kindList, Example: "web-1",
		Desc: "Probe IDs (comma-separated, or the parameter repeated). Default: every probe."}
	pGroup = &param{Name: "group", Kind: kindLabel, Example: "env=prod",
		Desc: "Only the probes whose labels hold LABEL=VALUE (`env=prod`); with `probe`, the probes in both."}
	pLimit = func(def, max int) *param {
		return &param{Name: "limit", Kind: kindInt, Min: 1, Max: float64(max), Default: strconv.Itoa(def), Example: "5",
			Desc: "Most rows to return, 1 to " + strconv.Itoa(max) + "."}
	}
	pCursor = &param{Name: "cursor", Kind: kindCursor, MaxLen: maxCursorLen,
		Desc: "The `next` value of the previous page, to get the page after it."}
	pTop = &param{Name: "top", Kind: kindInt, Min: 1, Max: MaxTopN, Example: "5",
		Desc: "Entries in each top-N list of the report. Default: the center's `top_n` (10)."}
	pHost = &param{Name: "host", Kind: kindPrefix, Example: "10.0.0.0/8",
		Desc: "Flows whose client or server address is in this CIDR (or is this address)."}
	pClient = &param{Name: "client", Kind: kindPrefix, Example: "10.0.0.0/8",
		Desc: "Client address or CIDR."}
	pServer = &param{Name: "server", Kind: kindPrefix, Example: "10.0.0.0/8",
		Desc: "Server address or CIDR."}
	pPort = &param{Name: "port", Kind: kindPort, Example: "80", Desc: "Server port."}
	pApp  = &param{Name: "app", Kind: kindString, Example: "http", MaxLen: 64,
		Desc: "Application protocol detected on the flow (`http`, `dns`, `tls`, ...)."}
	pTransport = &param{Name: "transport", Kind: kindString, Example: "tcp", MaxLen: 16,
		Desc: "Transport: `tcp`, `udp`, `icmp`, `icmpv6`, `sctp` or an IANA protocol number."}
	pDevice = &param{Name: "device", Kind: kindString, Example: "eth0", MaxLen: 256,
		Desc: "Capture device the flow was seen on."}
)

var flowFilterParams = []*param{pFrom, pTo, pProbe, pGroup, pHost, pClient, pServer, pPort, pApp, pTransport, pDevice}

var groupColumns = []string{store.ColProbe, store.ColClient, store.ColServer, store.ColHost, store.ColPort, store.ColApp, store.ColTransport, store.ColDevice}

var outcomes = []string{"ok", "client_error", "server_error", "no_response", "no_request", "one_way"}

func concat(lists ...[]*param) []*param {
	var out []*param
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// routes is the API: handlers, parameters and documentation in one
// table.
func routes(a *API, reg *prometheus.Registry) []*route {
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{a.log}})
	return []*route{
		{
			Path: "/api/v1/summary", Tag: "summary",
			Summary: "Summary of a time range, merged across windows and probes",
			Desc: "Merges the summary windows that overlap the range, of one probe, of the probes of a group, or of the whole fleet, " +
				"and reports them as `wirewatch read --format json` does (docs/summary-json.md). `report` is null when no window matched. " +
				"A range that holds more windows than the center's `max_windows` is refused (400): narrow the range or the probes.",
			Params:   []*param{pFrom, pTo, pProbe, pGroup, pTop},
			Response: SummaryResponse{},
			handle:   a.summary,
		},
		{
			Path: "/api/v1/summary/windows", Tag: "summary",
			Summary: "Summary windows of a time range, one entry per period",
			Desc: "One entry per window period (start, end), oldest first: the windows of the selected probes for that period, merged. " +
				"With `report=true` each entry carries the merged report; otherwise only packet and byte totals (no decoding).",
			Params: []*param{pFrom, pTo, pProbe, pGroup, pTop,
				{Name: "report", Kind: kindBool, Default: "false", Example: "true", Desc: "Include each period's merged report."}},
			Response: WindowsResponse{},
			handle:   a.summaryWindows,
		},
		{
			Path: "/api/v1/flows", Tag: "flows",
			Summary:  "Flow records, newest first, a page at a time",
			Desc:     "Each record is one flow's activity during one reporting period; a long flow has one record per period.",
			Params:   concat(flowFilterParams, []*param{pLimit(store.DefaultLimit, store.MaxLimit), pCursor}),
			Response: FlowsResponse{},
			handle:   a.flows,
		},
		{
			Path: "/api/v1/flows/top", Tag: "flows",
			Summary: "Top flow groups (top talkers, ports, protocols)",
			Desc:    "Sums the flow records that match the filters by the `group_by` columns and returns the largest groups by `order`.",
			Params: concat(flowFilterParams, []*param{
				{Name: "group_by", Kind: kindEnumList, Enum: groupColumns, Default: "host", Example: "host,app",
					Desc: "Columns to group by, comma-separated, no duplicates. `host` counts a flow for both of its addresses."},
				{Name: "order", Kind: kindEnum, Enum: []string{store.OrderBytes, store.OrderPackets, store.OrderFlows}, Default: "bytes", Example: "bytes",
					Desc: "What the groups are ranked by (largest first)."},
				pLimit(10, store.MaxLimit),
			}),
			Response: TopResponse{},
			handle:   a.flowsTop,
		},
		{
			Path: "/api/v1/transactions", Tag: "transactions",
			Summary: "Transaction search, newest first, a page at a time",
			Desc:    "Decoded requests and responses (docs/records.md). Every filter is optional; filters combine with AND.",
			Params: []*param{pFrom, pTo, pProbe, pGroup,
				{Name: "proto", Kind: kindString, Example: "http", MaxLen: 64, Desc: "Protocol (`http`, `dns`, `grpc`, ...)."},
				{Name: "outcome", Kind: kindEnum, Enum: outcomes, Example: "ok", Desc: "Outcome."},
				{Name: "op", Kind: kindString, Example: "GET", Desc: "Operation, exact (HTTP method, DNS qtype, SQL command, ...)."},
				{Name: "status", Kind: kindString, Example: "200", Desc: "Status, exact (HTTP status, DNS rcode, ...)."},
				{Name: "target", Kind: kindString, Example: "/", MaxLen: maxTargetLen, Desc: "Substring of the target (HTTP path, DNS qname, SQL text, ...), case-sensitive."},
				pClient, pServer, pPort,
				{Name: "min_latency_ms", Kind: kindNumber, Min: 0, Max: 1e9, Example: "0.5", Desc: "Only transactions at least this slow, in milliseconds (decimals allowed)."},
				{Name: "flag", Kind: kindEnum, Enum: []string{"sqli", "redacted", "truncated"}, Example: "truncated", Desc: "Only transactions with this flag."},
				{Name: fieldPrefix, Kind: kindString, Prefix: true, Example: "host=example.com",
					Desc: "`field.KEY=VALUE`: only transactions whose protocol field KEY is exactly VALUE (docs/proto/*.md lists the fields); up to 16."},
				pLimit(store.DefaultLimit, store.MaxLimit), pCursor,
			},
			Response: TransactionsResponse{},
			handle:   a.transactions,
		},
		{
			Path: "/api/v1/map", Tag: "map",
			Summary: "Traffic map: nodes and the conversations between them",
			Desc: "Nodes are the probes' hosts (named by hostname, labelled with the probe's labels), the inventory's hosts, workloads and networks, " +
				"and external addresses. Edges sum the traffic and requests of a client node to a server node per transport, protocol and server port. " +
				"With `group_by`, nodes that carry the label merge into one node per value; traffic inside a group is a loop edge (source = target) unless `loops=drop`. " +
				"The map reads at most `limit` address edges, the largest by bytes; `truncated` says when there were more.",
			Params:   mapParams,
			Response: MapResponse{},
			handle:   a.trafficMap,
		},
		{
			Path: "/api/v1/map/node", Tag: "map",
			Summary: "Details of one node of the traffic map",
			Desc: "Takes the map's parameters (so `id` names the same node as in /api/v1/map) and `id`. Answers the node, all its addresses, " +
				"its peers and edges, and the transactions it served and sent: per protocol (requests, rate, errors, latency p50/p90/p99), " +
				"per status, and the newest ones. `node` is null when the map has no such node.",
			Params: concat(mapParams, []*param{
				{Name: "id", Kind: kindString, Example: "host:web-1", MaxLen: 1024, Desc: "The node's `id` in /api/v1/map."},
				pRecent,
			}),
			Response: NodeResponse{},
			handle:   a.mapNode,
		},
		{
			Path: "/api/v1/map/edge", Tag: "map",
			Summary: "Details of one edge of the traffic map",
			Desc: "Takes the map's parameters and the edge's key (`source`, `target`, `transport`, `app`, `port` as in /api/v1/map). " +
				"Answers the edge and the transactions between its two nodes on its port. `edge` is null when the map has no such edge.",
			Params: concat(mapParams, []*param{
				{Name: "source", Kind: kindString, Example: "host:web-1", MaxLen: 1024, Desc: "The edge's `source` (client node ID)."},
				{Name: "target", Kind: kindString, Example: "external:10.0.0.5", MaxLen: 1024, Desc: "The edge's `target` (server node ID)."},
				{Name: "transport", Kind: kindString, Example: "tcp", MaxLen: 16, Desc: "The edge's transport."},
				{Name: "app", Kind: kindString, Example: "http", MaxLen: 64, Desc: "The edge's protocol (empty: none detected)."},
				{Name: "port", Kind: kindPort, Example: "80", Desc: "The edge's server port."},
				pRecent,
			}),
			Response: EdgeResponse{},
			handle:   a.mapEdge,
		},
		{
			Path: "/api/v1/extent", Tag: "meta",
			Summary:  "Time span of the stored data",
			Desc:     "The earliest start and the latest end of the stored summary windows (null when nothing is stored): the range a time scrubber can cover.",
			Response: ExtentResponse{},
			handle:   a.extent,
		},
		{
			Path: "/api/v1/probes", Tag: "probes",
			Summary: "Every probe, with health",
			Desc: "`health` is `stale` when the probe's last report is older than the center's staleness (by default 3 report intervals), `ok` otherwise. " +
				"`loss` holds the probe's cumulative loss counters as of its last report.",
			Response: ProbesResponse{},
			handle:   a.probes,
		},
		{
			Path: "/api/v1/traffic", Tag: "traffic",
			Summary:  "Per-device traffic, by probe, device and direction",
			Desc:     "Packets and bytes per probe, capture device and direction (`in`, `out`, `other`) summed over the range.",
			Params:   []*param{pFrom, pTo, pProbe, pGroup},
			Response: TrafficResponse{},
			handle:   a.traffic,
		},
		{
			Path: "/api/openapi.json", Tag: "meta",
			Summary: "This API's OpenAPI 3.0 document",
			Content: "application/json",
			handle: func(_ context.Context, w http.ResponseWriter, _ *http.Request, _ *query) error {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(a.openapi)
				return nil
			},
		},
		{
			Path: "/metrics", Tag: "meta",
			Summary: "Prometheus metrics of the center",
			Desc:    "Text exposition format: the store's counters, probe health and loss, API requests, and the sources the center registers (ingest).",
			Content: "text/plain",
			handle: func(_ context.Context, w http.ResponseWriter, r *http.Request, _ *query) error {
				metrics.ServeHTTP(w, r)
				return nil
			},
		},
	}
}
