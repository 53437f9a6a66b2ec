package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/center/graph"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// timeRange reads from and to.
func (a *API) timeRange(q *query) (store.TimeRange, error) {
	now := a.now().UTC()
	to, err := q.time("to", now, now)
	if err != nil {
		return store.TimeRange{}, err
	}
	from, err := q.time("from", now, to.Add(-a.cfg.DefaultRange))
	if err != nil {
		return store.TimeRange{}, err
	}
	if !from.Before(to) {
		return store.TimeRange{}, badRequest("parameter \"from\": %s is not before \"to\" %s", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	return store.TimeRange{From: from, To: to}, nil
}

// probeSet resolves probe and group. all: no filter; otherwise ids
// (possibly empty: nothing can match, and the store must not be asked
// with an empty list, which means every probe).
func (a *API) probeSet(ctx context.Context, q *query) (ids []string, all bool, err error) {
	listed := q.list("probe")
	key, value, err := q.label("group")
	if err != nil {
		return nil, false, err
	}
	if key == "" {
		if len(listed) == 0 {
			return nil, true, nil
		}
		return dedup(listed), false, nil
	}
	ps, err := a.store.Probes(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("probes: %w", err)
	}
	ids = []string{}
	for _, p := range ps {
		if v, ok := p.Info.Labels[key]; !ok || v != value {
			continue
		}
		if len(listed) > 0 && !slices.Contains(listed, p.Info.ID) {
			continue
		}
		ids = append(ids, p.Info.ID)
	}
	slices.Sort(ids)
	return ids, false, nil
}

func dedup(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// SummaryResponse is the body of /api/v1/summary.
type SummaryResponse struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Probes are the probes whose windows were merged.
	Probes []string `json:"probes"`
	// Windows is how many windows were merged.
	Windows int `json:"windows"`
	// BadWindows counts stored windows whose summary could not be
	// decoded: left out of the merge (and logged).
	BadWindows int `json:"bad_windows"`
	// Report is the merged summary (docs/summary-json.md), null when no
	// window matched.
	Report *summary.Report `json:"report"`
}

// WindowsResponse is the body of /api/v1/summary/windows.
type WindowsResponse struct {
	From       time.Time     `json:"from"`
	To         time.Time     `json:"to"`
	Windows    []WindowEntry `json:"windows"`
	BadWindows int           `json:"bad_windows"`
}

// WindowEntry is one window period: the selected probes' windows of that
// period, merged.
type WindowEntry struct {
	Start   time.Time       `json:"start"`
	End     time.Time       `json:"end"`
	Probes  []string        `json:"probes"`
	Packets uint64          `json:"packets"`
	Bytes   uint64          `json:"bytes"`
	Report  *summary.Report `json:"report,omitempty"`
}

// loadWindows reads the windows of a range, refusing a range that holds
// more than MaxWindows.
func (a *API) loadWindows(ctx context.Context, tr store.TimeRange, ids []string) ([]record.Window, error) {
	limit := min(a.cfg.MaxWindows+1, store.MaxLimit)
	ws, err := a.store.Windows(ctx, store.WindowQuery{TimeRange: tr, Probes: ids, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("windows: %w", err)
	}
	if len(ws) > a.cfg.MaxWindows || len(ws) >= store.MaxLimit {
		return nil, badRequest("parameter \"from\": the range holds more than %d summary windows; narrow from/to or choose probes", min(a.cfg.MaxWindows, len(ws)-1))
	}
	return ws, nil
}

// merge decodes and merges windows. A window that does not decode is
// left out, counted and logged: one bad row must not hide the rest.
func (a *API) merge(ctx context.Context, ws []record.Window) (b *summary.Bucket, bad int, err error) {
	select {
	case a.merges <- struct{}{}:
		defer func() { <-a.merges }()
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	for i := range ws {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		w, err := summary.DecodeBucket(ws[i].Summary)
		if err != nil {
			bad++
			a.metrics.badWindows.Inc()
			a.log.Warn("api: stored window does not decode; left out of the summary",
				"probe", ws[i].Probe, "start", ws[i].Start, "bytes", len(ws[i].Summary), "err", err)
			continue
		}
		if b == nil {
			b = w
		} else {
			b.Merge(w)
		}
	}
	return b, bad, nil
}

func (a *API) summary(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	tr, err := a.timeRange(q)
	if err != nil {
		return err
	}
	top, err := q.integer("top", a.cfg.TopN)
	if err != nil {
		return err
	}
	ids, all, err := a.probeSet(ctx, q)
	if err != nil {
		return err
	}
	resp := SummaryResponse{From: tr.From, To: tr.To, Probes: []string{}}
	if !all && len(ids) == 0 {
		return writeJSON(w, resp)
	}
	ws, err := a.loadWindows(ctx, tr, ids)
	if err != nil {
		return err
	}
	b, bad, err := a.merge(ctx, ws)
	if err != nil {
		return err
	}
	resp.BadWindows = bad
	resp.Windows = len(ws) - bad
	seen := map[string]bool{}
	for _, win := range ws {
		seen[win.Probe] = true
	}
	for p := range seen {
		resp.Probes = append(resp.Probes, text(p))
	}
	slices.Sort(resp.Probes)
	if b != nil {
		resp.Report = b.Report(top, true, resp.Windows)
	}
	return writeJSON(w, resp)
}

func (a *API) summaryWindows(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	tr, err := a.timeRange(q)
	if err != nil {
		return err
	}
	top, err := q.integer("top", a.cfg.TopN)
	if err != nil {
		return err
	}
	withReport, err := q.boolean("report")
	if err != nil {
		return err
	}
	ids, all, err := a.probeSet(ctx, q)
	if err != nil {
		return err
	}
	resp := WindowsResponse{From: tr.From, To: tr.To, Windows: []WindowEntry{}}
	if !all && len(ids) == 0 {
		return writeJSON(w, resp)
	}
	ws, err := a.loadWindows(ctx, tr, ids)
	if err != nil {
		return err
	}
	type period struct{ start, end int64 }
	byPeriod := map[period][]record.Window{}
	for _, win := range ws {
		k := period{win.Start.UnixNano(), win.End.UnixNano()}
		byPeriod[k] = append(byPeriod[k], win)
	}
	keys := make([]period, 0, len(byPeriod))
	for k := range byPeriod {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y period) int {
		if c := cmp.Compare(x.start, y.start); c != 0 {
			return c
		}
		return cmp.Compare(x.end, y.end)
	})
	for _, k := range keys {
		group := byPeriod[k]
		e := WindowEntry{Start: time.Unix(0, k.start).UTC(), End: time.Unix(0, k.end).UTC(), Probes: []string{}}
		for _, win := range group {
			e.Packets += win.Packets
			e.Bytes += win.Bytes
			e.Probes = append(e.Probes, text(win.Probe))
		}
		slices.Sort(e.Probes)
		if withReport {
			b, bad, err := a.merge(ctx, group)
			if err != nil {
				return err
			}
			resp.BadWindows += bad
			if b != nil {
				e.Report = b.Report(top, true, len(group)-bad)
			}
		}
		resp.Windows = append(resp.Windows, e)
	}
	return writeJSON(w, resp)
}

// flowFilter reads the flow filter parameters. ok is false when the
// probe selection matches no probe.
func (a *API) flowFilter(ctx context.Context, q *query) (f store.FlowFilter, ok bool, err error) {
	if f.TimeRange, err = a.timeRange(q); err != nil {
		return f, false, err
	}
	for _, p := range []struct {
		name string
		dst  *netip.Prefix
	}{{"host", &f.Host}, {"client", &f.Client}, {"server", &f.Server}} {
		if *p.dst, err = q.prefix(p.name); err != nil {
			return f, false, err
		}
	}
	if f.Port, err = q.port("port"); err != nil {
		return f, false, err
	}
	f.App, f.Transport, f.Device = q.str("app"), q.str("transport"), q.str("device")
	ids, all, err := a.probeSet(ctx, q)
	if err != nil {
		return f, false, err
	}
	if !all && len(ids) == 0 {
		return f, false, nil
	}
	f.Probes = ids
	return f, true, nil
}

// FlowsResponse is the body of /api/v1/flows.
type FlowsResponse struct {
	Flows []FlowJSON `json:"flows"`
	// Next is the cursor of the next page ("" on the last page).
	Next string `json:"next"`
}

// FlowJSON is one flow record: one flow's activity in one period.
type FlowJSON struct {
	Probe     string    `json:"probe"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Transport string    `json:"transport"`
	Client    string    `json:"client"`
	Server    string    `json:"server"`
	App       string    `json:"app"`
	Device    string    `json:"device"`
	VLAN      uint16    `json:"vlan"`
	TunnelID  uint32    `json:"tunnel_id"`
	// To the server (client → server) and to the client.
	PacketsToServer uint64  `json:"packets_to_server"`
	PacketsToClient uint64  `json:"packets_to_client"`
	BytesToServer   uint64  `json:"bytes_to_server"`
	BytesToClient   uint64  `json:"bytes_to_client"`
	RetransToServer uint64  `json:"retransmissions_to_server"`
	RetransToClient uint64  `json:"retransmissions_to_client"`
	RTTMicro        float64 `json:"rtt_us"`
	State           string  `json:"state"`
	Ended           bool    `json:"ended"`
}

func flowJSON(f *record.Flow) FlowJSON {
	return FlowJSON{
		Probe: text(f.Probe), Start: f.Start.UTC(), End: f.End.UTC(), Transport: text(f.Transport),
		Client: f.Client.String(), Server: f.Server.String(), App: text(f.App), Device: text(f.Device),
		VLAN: f.VLAN, TunnelID: f.TunnelID,
		PacketsToServer: f.Packets[record.ClientToServer], PacketsToClient: f.Packets[record.ServerToClient],
		BytesToServer: f.Bytes[record.ClientToServer], BytesToClient: f.Bytes[record.ServerToClient],
		RetransToServer: f.Retransmissions[record.ClientToServer], RetransToClient: f.Retransmissions[record.ServerToClient],
		RTTMicro: float64(f.RTT) / 1e3, State: text(f.State), Ended: f.Ended,
	}
}

func (a *API) flows(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	f, ok, err := a.flowFilter(ctx, q)
	if err != nil {
		return err
	}
	limit, err := q.integer("limit", store.DefaultLimit)
	if err != nil {
		return err
	}
	resp := FlowsResponse{Flows: []FlowJSON{}}
	if !ok {
		return writeJSON(w, resp)
	}
	page, err := a.store.Flows(ctx, store.FlowQuery{FlowFilter: f, Limit: limit, Cursor: q.str("cursor")})
	if err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	for i := range page.Flows {
		resp.Flows = append(resp.Flows, flowJSON(&page.Flows[i]))
	}
	resp.Next = page.Next
	return writeJSON(w, resp)
}

// TopResponse is the body of /api/v1/flows/top.
type TopResponse struct {
	GroupBy []string    `json:"group_by"`
	Order   string      `json:"order"`
	Groups  []GroupJSON `json:"groups"`
}

// GroupJSON is one group: its key (one value per group_by column) and
// its sums.
type GroupJSON struct {
	Key     map[string]string `json:"key"`
	Flows   uint64            `json:"flows"`
	Packets uint64            `json:"packets"`
	Bytes   uint64            `json:"bytes"`
}

func (a *API) flowsTop(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	f, ok, err := a.flowFilter(ctx, q)
	if err != nil {
		return err
	}
	limit, err := q.integer("limit", 10)
	if err != nil {
		return err
	}
	cols := q.list("group_by")
	if len(cols) == 0 {
		cols = []string{store.ColHost}
	}
	if len(dedup(cols)) != len(cols) {
		return badRequest("parameter \"group_by\": %q names a column twice", strings.Join(cols, ","))
	}
	order := q.str("order")
	if order == "" {
		order = store.OrderBytes
	}
	resp := TopResponse{GroupBy: cols, Order: order, Groups: []GroupJSON{}}
	if !ok {
		return writeJSON(w, resp)
	}
	groups, err := a.store.FlowGroups(ctx, store.GroupQuery{FlowFilter: f, GroupBy: cols, OrderBy: order, Limit: limit})
	if err != nil {
		return fmt.Errorf("flow groups: %w", err)
	}
	for _, g := range groups {
		key := make(map[string]string, len(cols))
		for i, c := range cols {
			if i < len(g.Key) {
				key[c] = text(g.Key[i])
			}
		}
		resp.Groups = append(resp.Groups, GroupJSON{Key: key, Flows: g.Flows, Packets: g.Packets, Bytes: g.Bytes})
	}
	return writeJSON(w, resp)
}

// TransactionsResponse is the body of /api/v1/transactions.
type TransactionsResponse struct {
	Transactions []TransactionJSON `json:"transactions"`
	Next         string            `json:"next"`
}

// TransactionJSON is one transaction (docs/records.md), with the probe
// that saw it. Fields keep their order and any repeated key, as a list.
type TransactionJSON struct {
	Probe         string      `json:"probe"`
	Proto         string      `json:"proto"`
	Transport     string      `json:"transport"`
	Client        string      `json:"client"`
	Server        string      `json:"server"`
	RequestTime   *time.Time  `json:"request_time,omitempty"`
	ResponseTime  *time.Time  `json:"response_time,omitempty"`
	LatencyMicro  *float64    `json:"latency_us,omitempty"`
	RequestBytes  int64       `json:"request_bytes"`
	ResponseBytes int64       `json:"response_bytes"`
	Op            string      `json:"op"`
	Target        string      `json:"target"`
	Status        string      `json:"status"`
	Outcome       string      `json:"outcome"`
	Flags         []string    `json:"flags"`
	Fields        []FieldJSON `json:"fields"`
}

// FieldJSON is one protocol field.
type FieldJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func txJSON(t *record.Transaction) TransactionJSON {
	out := TransactionJSON{
		Probe: text(t.Probe), Proto: text(t.Proto), Transport: text(t.Transport),
		Client: t.Client.String(), Server: t.Server.String(),
		RequestBytes: t.RequestBytes, ResponseBytes: t.ResponseBytes,
		Op: text(t.Op), Target: text(t.Target), Status: text(t.Status), Outcome: text(t.Outcome),
		Flags: make([]string, 0, len(t.Flags)), Fields: make([]FieldJSON, 0, len(t.Fields)),
	}
	if !t.RequestTime.IsZero() {
		rt := t.RequestTime.UTC()
		out.RequestTime = &rt
	}
	if !t.ResponseTime.IsZero() {
		rt := t.ResponseTime.UTC()
		out.ResponseTime = &rt
	}
	if t.Latency >= 0 && out.RequestTime != nil && out.ResponseTime != nil {
		l := float64(t.Latency) / 1e3
		out.LatencyMicro = &l
	}
	for _, f := range t.Flags {
		out.Flags = append(out.Flags, text(f))
	}
	for _, f := range t.Fields {
		out.Fields = append(out.Fields, FieldJSON{Key: text(f.Key), Value: text(f.Value)})
	}
	return out
}

func (a *API) transactions(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	tr, err := a.timeRange(q)
	if err != nil {
		return err
	}
	tq := store.TxQuery{TimeRange: tr, Proto: q.str("proto"), Outcome: q.str("outcome"), Op: q.str("op"),
		Status: q.str("status"), Target: q.str("target"), Flag: q.str("flag"), Fields: q.fields, Cursor: q.str("cursor")}
	if tq.Client, err = q.prefix("client"); err != nil {
		return err
	}
	if tq.Server, err = q.prefix("server"); err != nil {
		return err
	}
	if tq.Port, err = q.port("port"); err != nil {
		return err
	}
	if ms, ok, err := q.number("min_latency_ms"); err != nil {
		return err
	} else if ok {
		tq.MinLatency = time.Duration(ms * float64(time.Millisecond))
	}
	if tq.Limit, err = q.integer("limit", store.DefaultLimit); err != nil {
		return err
	}
	ids, all, err := a.probeSet(ctx, q)
	if err != nil {
		return err
	}
	resp := TransactionsResponse{Transactions: []TransactionJSON{}}
	if !all && len(ids) == 0 {
		return writeJSON(w, resp)
	}
	tq.Probes = ids
	page, err := a.store.Transactions(ctx, tq)
	if err != nil {
		return fmt.Errorf("transactions: %w", err)
	}
	for i := range page.Transactions {
		resp.Transactions = append(resp.Transactions, txJSON(&page.Transactions[i]))
	}
	resp.Next = page.Next
	return writeJSON(w, resp)
}

// MapResponse is the body of /api/v1/map.
type MapResponse struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	GroupBy string    `json:"group_by"`
	graph.Map
	// EdgesRead is how many address edges the map was drawn from;
	// Truncated says the store had more (the smallest were left out).
	EdgesRead int  `json:"edges_read"`
	Truncated bool `json:"truncated"`
}

// ProbesResponse is the body of /api/v1/probes.
type ProbesResponse struct {
	Probes []ProbeJSON `json:"probes"`
}

// ProbeJSON is one probe and its health.
type ProbeJSON struct {
	ID         string            `json:"id"`
	Hostname   string            `json:"hostname"`
	Version    string            `json:"version"`
	Labels     map[string]string `json:"labels"`
	Devices    []string          `json:"devices"`
	Addresses  []string          `json:"addresses"`
	Started    *time.Time        `json:"started,omitempty"`
	FirstSeen  time.Time         `json:"first_seen"`
	LastReport time.Time         `json:"last_report"`
	LastSeq    uint64            `json:"last_seq"`
	Batches    uint64            `json:"batches"`
	Records    uint64            `json:"records"`
	// Health is "ok", or "stale" when the last report is older than
	// StaleAfterS seconds (SinceReportS says how old it is).
	Health       string            `json:"health"`
	SinceReportS float64           `json:"since_report_s"`
	StaleAfterS  float64           `json:"stale_after_s"`
	Loss         map[string]uint64 `json:"loss"`
}

// Probe health values.
const (
	HealthOK    = "ok"
	HealthStale = "stale"
)

// health judges a probe by its own report period (3 of them) when it
// said its period, else by the configured staleness.
func (a *API) health(p *record.ProbeStatus, now time.Time) (health string, since, staleAfter time.Duration) {
	since = now.Sub(p.LastReport)
	staleAfter = p.Info.StaleAfter(a.cfg.Staleness)
	if since > staleAfter {
		return HealthStale, since, staleAfter
	}
	return HealthOK, since, staleAfter
}

func (a *API) probes(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	ps, err := a.store.Probes(ctx)
	if err != nil {
		return fmt.Errorf("probes: %w", err)
	}
	now := a.now()
	resp := ProbesResponse{Probes: make([]ProbeJSON, 0, len(ps))}
	for i := range ps {
		p := &ps[i]
		health, since, staleAfter := a.health(p, now)
		j := ProbeJSON{
			ID: text(p.Info.ID), Hostname: text(p.Info.Hostname), Version: text(p.Info.Version),
			Labels: textMap(p.Info.Labels), Devices: make([]string, 0, len(p.Info.Devices)), Addresses: make([]string, 0, len(p.Info.Addresses)),
			FirstSeen: p.FirstSeen.UTC(), LastReport: p.LastReport.UTC(), LastSeq: p.LastSeq, Batches: p.Batches, Records: p.Records,
			Health: health, SinceReportS: since.Seconds(), StaleAfterS: staleAfter.Seconds(), Loss: map[string]uint64{},
		}
		if !p.Info.Started.IsZero() {
			s := p.Info.Started.UTC()
			j.Started = &s
		}
		for _, d := range p.Info.Devices {
			j.Devices = append(j.Devices, text(d))
		}
		for _, ad := range p.Info.Addresses {
			j.Addresses = append(j.Addresses, ad.String())
		}
		for k, v := range p.Loss {
			j.Loss[text(k)] = v
		}
		resp.Probes = append(resp.Probes, j)
	}
	slices.SortFunc(resp.Probes, func(x, y ProbeJSON) int { return cmp.Compare(x.ID, y.ID) })
	return writeJSON(w, resp)
}

// TrafficResponse is the body of /api/v1/traffic.
type TrafficResponse struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Traffic []TrafficJSON `json:"traffic"`
}

// TrafficJSON is one probe × device × direction total over the range.
type TrafficJSON struct {
	Probe     string    `json:"probe"`
	Device    string    `json:"device"`
	Direction string    `json:"direction"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Packets   uint64    `json:"packets"`
	Bytes     uint64    `json:"bytes"`
}

func (a *API) traffic(ctx context.Context, w http.ResponseWriter, r *http.Request, q *query) error {
	tr, err := a.timeRange(q)
	if err != nil {
		return err
	}
	ids, all, err := a.probeSet(ctx, q)
	if err != nil {
		return err
	}
	resp := TrafficResponse{From: tr.From, To: tr.To, Traffic: []TrafficJSON{}}
	if !all && len(ids) == 0 {
		return writeJSON(w, resp)
	}
	ts, err := a.store.Traffic(ctx, store.TrafficQuery{TimeRange: tr, Probes: ids})
	if err != nil {
		return fmt.Errorf("traffic: %w", err)
	}
	for _, t := range ts {
		resp.Traffic = append(resp.Traffic, TrafficJSON{Probe: text(t.Probe), Device: text(t.Device), Direction: text(t.Direction),
			Start: t.Start.UTC(), End: t.End.UTC(), Packets: t.Packets, Bytes: t.Bytes})
	}
	return writeJSON(w, resp)
}
