package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/summary"
)

type summaryBody struct {
	Probes     []string `json:"probes"`
	Windows    int      `json:"windows"`
	BadWindows int      `json:"bad_windows"`
	Report     any      `json:"report"`
}

func TestSummary(t *testing.T) {
	f := getFixture(t)
	var got summaryBody

	getJSON(t, f.srv, "/api/v1/summary", with(range2013, "probe", f.a.info.ID), &got)
	if got.Windows != len(f.a.buckets) || !reflect.DeepEqual(got.Probes, []string{f.a.info.ID}) || got.BadWindows != 0 {
		t.Errorf("probe: %d windows of %v, want %d of [%s]", got.Windows, got.Probes, len(f.a.buckets), f.a.info.ID)
	}
	if want := mergeReport(f.a.buckets, DefaultTopN); !reflect.DeepEqual(got.Report, want) {
		t.Errorf("probe report differs from the in-memory merge of its windows:\n got %s\nwant %s", js(got.Report), js(want))
	}

	// The fleet: every probe's windows merged.
	got = summaryBody{}
	getJSON(t, f.srv, "/api/v1/summary", with(rangeAll, "top", "5"), &got)
	all := append(slices.Clone(f.a.buckets), f.b.buckets...)
	if got.Windows != len(all) || !reflect.DeepEqual(got.Probes, []string{f.b.info.ID, f.a.info.ID}) {
		t.Errorf("fleet: %d windows of %v, want %d", got.Windows, got.Probes, len(all))
	}
	if want := mergeReport(all, 5); !reflect.DeepEqual(got.Report, want) {
		t.Errorf("fleet report differs from the in-memory merge:\n got %s\nwant %s", js(got.Report), js(want))
	}
	// Totals, independently of the report code: the windows' own counters.
	var packets uint64
	for _, b := range all {
		packets += b.Packets.Total
	}
	if p := got.Report.(map[string]any)["packets"].(map[string]any)["total"].(float64); uint64(p) != packets {
		t.Errorf("fleet packets %v, want %d", p, packets)
	}

	// A group: the probes whose labels match.
	var grp summaryBody
	getJSON(t, f.srv, "/api/v1/summary", with(rangeAll, "group", "env=prod"), &grp)
	if grp.Windows != len(f.a.buckets) || !reflect.DeepEqual(grp.Report, mergeReport(f.a.buckets, DefaultTopN)) {
		t.Errorf("group env=prod: %d windows, report differs", grp.Windows)
	}
	// A group and a probe outside it: nothing.
	var none summaryBody
	getJSON(t, f.srv, "/api/v1/summary", with(rangeAll, "group", "env=prod", "probe", f.b.info.ID), &none)
	if none.Windows != 0 || none.Report != nil || len(none.Probes) != 0 {
		t.Errorf("group and probe outside it: %+v", none)
	}
	none = summaryBody{}
	getJSON(t, f.srv, "/api/v1/summary", with(rangeAll, "group", "env=nope"), &none)
	if none.Windows != 0 || none.Report != nil {
		t.Errorf("group env=nope: %+v", none)
	}

	// Part of the range: the windows that overlap it.
	from, to := f.a.windows[2].Start, f.a.windows[5].Start.Add(time.Millisecond)
	tr := store.TimeRange{From: from, To: to}
	var sel []*summary.Bucket
	for i, w := range f.a.windows {
		if overlaps(w, tr) {
			sel = append(sel, f.a.buckets[i])
		}
	}
	got = summaryBody{}
	getJSON(t, f.srv, "/api/v1/summary", vals("from", from.Format(time.RFC3339Nano), "to", to.Format(time.RFC3339Nano)), &got)
	if got.Windows != len(sel) || len(sel) < 3 || !reflect.DeepEqual(got.Report, mergeReport(sel, DefaultTopN)) {
		t.Errorf("sub-range: %d windows, want %d (report equal: %v)", got.Windows, len(sel), reflect.DeepEqual(got.Report, mergeReport(sel, DefaultTopN)))
	}

	// The default range is the last 15 minutes before now: nothing there.
	got = summaryBody{}
	getJSON(t, f.srv, "/api/v1/summary", nil, &got)
	if got.Windows != 0 || got.Report != nil {
		t.Errorf("default range: %+v", got)
	}
}

func TestSummaryWindows(t *testing.T) {
	f := getFixture(t)
	var got struct {
		Windows []struct {
			Start, End     time.Time
			Probes         []string
			Packets, Bytes uint64
			Report         any
		}
	}
	getJSON(t, f.srv, "/api/v1/summary/windows", with(range2013), &got)
	if len(got.Windows) != len(f.a.windows) {
		t.Fatalf("%d windows, want %d", len(got.Windows), len(f.a.windows))
	}
	for i, w := range got.Windows {
		b := f.a.buckets[i]
		if w.Start.UnixNano() != b.Start || w.End.UnixNano() != b.End || w.Packets != b.Packets.Total || w.Bytes != b.Bytes.Total ||
			!reflect.DeepEqual(w.Probes, []string{f.a.info.ID}) || w.Report != nil {
			t.Errorf("window %d: %+v, want [%d, %d) %d packets %d bytes", i, w, b.Start, b.End, b.Packets.Total, b.Bytes.Total)
		}
	}
	got.Windows = nil
	getJSON(t, f.srv, "/api/v1/summary/windows", with(rangeAll, "report", "true", "top", "3", "probe", f.b.info.ID), &got)
	if len(got.Windows) != len(f.b.windows) {
		t.Fatalf("%d windows, want %d", len(got.Windows), len(f.b.windows))
	}
	for i, w := range got.Windows {
		if want := roundTrip(f.b.buckets[i].Report(3, true, 1)); !reflect.DeepEqual(w.Report, want) {
			t.Errorf("window %d report:\n got %s\nwant %s", i, js(w.Report), js(want))
		}
	}
}

type flowKey struct {
	Probe, Client, Server string
	Start                 int64
	ToServer, ToClient    uint64
}

func TestFlows(t *testing.T) {
	f := getFixture(t)
	all := append(slices.Clone(f.a.flows), f.b.flows...)
	for _, tc := range []struct {
		name  string
		q     []string
		match func(fl *record.Flow) bool
	}{
		{"all", nil, func(*record.Flow) bool { return true }},
		{"probe", []string{"probe", f.b.info.ID}, func(fl *record.Flow) bool { return fl.Probe == f.b.info.ID }},
		{"group", []string{"group", "env=test"}, func(fl *record.Flow) bool { return fl.Probe == f.b.info.ID }},
		{"host", []string{"host", "216.185.152.111"}, func(fl *record.Flow) bool {
			return fl.Client.Addr() == netip.MustParseAddr("216.185.152.111") || fl.Server.Addr() == netip.MustParseAddr("216.185.152.111")
		}},
		{"server cidr and port", []string{"server", "98.0.0.0/8", "port", "80"}, func(fl *record.Flow) bool {
			return netip.MustParsePrefix("98.0.0.0/8").Contains(fl.Server.Addr()) && fl.Server.Port() == 80
		}},
		{"client", []string{"client", "172.16.133.132/32"}, func(fl *record.Flow) bool { return fl.Client.Addr() == netip.MustParseAddr("172.16.133.132") }},
		{"app", []string{"app", "dns"}, func(fl *record.Flow) bool { return fl.App == "dns" }},
		{"transport", []string{"transport", "tcp"}, func(fl *record.Flow) bool { return fl.Transport == "tcp" }},
		{"device", []string{"device", "lo"}, func(fl *record.Flow) bool { return fl.Device == "lo" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := map[flowKey]int{}
			for i := range all {
				if fl := &all[i]; tc.match(fl) {
					want[flowKey{fl.Probe, fl.Client.String(), fl.Server.String(), fl.Start.UnixNano(), fl.Bytes[0], fl.Bytes[1]}]++
				}
			}
			if len(want) == 0 {
				t.Fatal("the case matches no flow: fix the test")
			}
			got := map[flowKey]int{}
			pages, rows := 0, 0
			var prev time.Time
			q := with(rangeAll, append(tc.q, "limit", "7")...)
			for {
				var page struct {
					Flows []FlowJSON
					Next  string
				}
				getJSON(t, f.srv, "/api/v1/flows", q, &page)
				pages++
				for _, fl := range page.Flows {
					got[flowKey{fl.Probe, fl.Client, fl.Server, fl.Start.UnixNano(), fl.BytesToServer, fl.BytesToClient}]++
					if rows > 0 && fl.Start.After(prev) {
						t.Errorf("row %d starts %v, after the row before it (%v): not newest first", rows, fl.Start, prev)
					}
					prev = fl.Start
					rows++
				}
				if len(page.Flows) > 7 {
					t.Fatalf("page of %d rows with limit 7", len(page.Flows))
				}
				if page.Next == "" {
					break
				}
				if pages > 1000 {
					t.Fatal("pagination does not end")
				}
				q.Set("cursor", page.Next)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%d rows in %d pages; rows differ from the input:\n got %v\nwant %v", rows, pages, got, want)
			}
		})
	}
	// One row in full, against the record it came from.
	var page struct{ Flows []FlowJSON }
	fl := f.a.flows[0]
	getJSON(t, f.srv, "/api/v1/flows", with(rangeAll, "client", fl.Client.Addr().String(), "server", fl.Server.Addr().String(), "limit", "1000"), &page)
	found := false
	for _, g := range page.Flows {
		if g.Client == fl.Client.String() && g.Server == fl.Server.String() && g.Start.Equal(fl.Start) {
			found = true
			want := FlowJSON{Probe: fl.Probe, Start: fl.Start, End: fl.End, Transport: fl.Transport, Client: fl.Client.String(), Server: fl.Server.String(),
				App: fl.App, Device: fl.Device, PacketsToServer: fl.Packets[0], PacketsToClient: fl.Packets[1],
				BytesToServer: fl.Bytes[0], BytesToClient: fl.Bytes[1], RTTMicro: float64(fl.RTT.Microseconds()), State: fl.State, Ended: fl.Ended}
			g.Start, g.End = g.Start.UTC(), g.End.UTC()
			if g != want {
				t.Errorf("flow row:\n got %+v\nwant %+v", g, want)
			}
		}
	}
	if !found {
		t.Errorf("flow %v → %v not found", fl.Client, fl.Server)
	}
}

func TestFlowsTop(t *testing.T) {
	f := getFixture(t)
	all := append(slices.Clone(f.a.flows), f.b.flows...)
	type sums struct{ flows, packets, bytes uint64 }
	byApp := map[string]*sums{}
	byHost := map[string]*sums{}
	for _, fl := range all {
		add := func(m map[string]*sums, k string) {
			s := m[k]
			if s == nil {
				s = &sums{}
				m[k] = s
			}
			s.flows++
			s.packets += fl.Packets[0] + fl.Packets[1]
			s.bytes += fl.Bytes[0] + fl.Bytes[1]
		}
		add(byApp, fl.App)
		add(byHost, fl.Client.Addr().String())
		if fl.Server.Addr() != fl.Client.Addr() {
			add(byHost, fl.Server.Addr().String())
		}
	}
	var got TopResponse
	getJSON(t, f.srv, "/api/v1/flows/top", with(rangeAll, "group_by", "app", "order", "flows", "limit", "100"), &got)
	if len(got.Groups) != len(byApp) || !reflect.DeepEqual(got.GroupBy, []string{"app"}) || got.Order != "flows" {
		t.Fatalf("by app: %s, want %d groups", js(got), len(byApp))
	}
	for i, g := range got.Groups {
		s := byApp[g.Key["app"]]
		if s == nil || g.Flows != s.flows || g.Packets != s.packets || g.Bytes != s.bytes {
			t.Errorf("group %v: %+v, want %+v", g.Key, g, s)
		}
		if i > 0 && g.Flows > got.Groups[i-1].Flows {
			t.Errorf("not ordered by flows at %d", i)
		}
	}
	// Top 3 talkers by bytes (each flow counts for both of its hosts).
	got = TopResponse{}
	getJSON(t, f.srv, "/api/v1/flows/top", with(rangeAll, "limit", "3"), &got)
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b string) int { return cmp.Compare(byHost[b].bytes, byHost[a].bytes) })
	if len(got.Groups) != 3 || !reflect.DeepEqual(got.GroupBy, []string{"host"}) || got.Order != "bytes" {
		t.Fatalf("talkers: %s", js(got))
	}
	for i, g := range got.Groups {
		s := byHost[g.Key["host"]]
		if s == nil || g.Bytes != s.bytes || g.Flows != s.flows || g.Bytes != byHost[hosts[i]].bytes {
			t.Errorf("talker %d %v: %+v, want %+v (rank %d: %s)", i, g.Key, g, s, i, hosts[i])
		}
	}
	// Two columns and a filter.
	got = TopResponse{}
	getJSON(t, f.srv, "/api/v1/flows/top", with(rangeAll, "group_by", "server,port", "app", "http", "order", "packets"), &got)
	want := map[[2]string]uint64{}
	for _, fl := range all {
		if fl.App == "http" {
			want[[2]string{fl.Server.Addr().String(), fmt.Sprint(fl.Server.Port())}] += fl.Packets[0] + fl.Packets[1]
		}
	}
	if len(got.Groups) != min(len(want), 10) {
		t.Errorf("server,port: %d groups, want %d", len(got.Groups), min(len(want), 10))
	}
	for _, g := range got.Groups {
		if p, ok := want[[2]string{g.Key["server"], g.Key["port"]}]; !ok || p != g.Packets {
			t.Errorf("group %v: %d packets, want %d", g.Key, g.Packets, p)
		}
	}
}

type txKey struct {
	Probe, Proto, Client, Server, Op, Target, Status, Outcome string
	Req, Resp                                                 int64
}

func TestTransactions(t *testing.T) {
	f := getFixture(t)
	all := append(slices.Clone(f.a.txs), f.b.txs...)
	field := func(tx *record.Transaction, k string) (string, bool) {
		for _, fl := range tx.Fields {
			if fl.Key == k {
				return fl.Value, true
			}
		}
		return "", false
	}
	for _, tc := range []struct {
		name  string
		q     []string
		match func(tx *record.Transaction) bool
	}{
		{"all", nil, func(*record.Transaction) bool { return true }},
		{"proto", []string{"proto", "dns"}, func(tx *record.Transaction) bool { return tx.Proto == "dns" }},
		{"probe", []string{"probe", f.a.info.ID}, func(tx *record.Transaction) bool { return tx.Probe == f.a.info.ID }},
		{"outcome", []string{"outcome", "client_error"}, func(tx *record.Transaction) bool { return tx.Outcome == "client_error" }},
		{"op", []string{"op", "AAAA"}, func(tx *record.Transaction) bool { return tx.Op == "AAAA" }},
		{"status", []string{"status", "301"}, func(tx *record.Transaction) bool { return tx.Status == "301" }},
		{"target", []string{"target", "bowls"}, func(tx *record.Transaction) bool { return strings.Contains(tx.Target, "bowls") }},
		{"server and port", []string{"server", "216.185.152.111", "port", "80"}, func(tx *record.Transaction) bool {
			return tx.Server == netip.MustParseAddrPort("216.185.152.111:80")
		}},
		{"client", []string{"client", "127.0.0.0/8"}, func(tx *record.Transaction) bool { return tx.Client.Addr().IsLoopback() }},
		{"min latency", []string{"min_latency_ms", "80"}, func(tx *record.Transaction) bool { return tx.Latency >= 80*time.Millisecond }},
		{"flag", []string{"flag", "redacted"}, func(tx *record.Transaction) bool { return slices.Contains(tx.Flags, "redacted") }},
		{"field", []string{"field.host", "www.wix.com"}, func(tx *record.Transaction) bool { v, ok := field(tx, "host"); return ok && v == "www.wix.com" }},
		{"fields", []string{"field.qclass", "IN", "field.answers", "0"}, func(tx *record.Transaction) bool {
			a, ok1 := field(tx, "qclass")
			b, ok2 := field(tx, "answers")
			return ok1 && ok2 && a == "IN" && b == "0"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := map[txKey]int{}
			for i := range all {
				if tx := &all[i]; tc.match(tx) {
					want[txKey{tx.Probe, tx.Proto, tx.Client.String(), tx.Server.String(), tx.Op, tx.Target, tx.Status, tx.Outcome,
						tx.RequestTime.UnixNano(), tx.ResponseTime.UnixNano()}]++
				}
			}
			if len(want) == 0 {
				t.Fatal("the case matches nothing: fix the test")
			}
			got := map[txKey]int{}
			q := with(rangeAll, append(tc.q, "limit", "9")...)
			pages, rows := 0, 0
			for {
				var page struct {
					Transactions []TransactionJSON
					Next         string
				}
				getJSON(t, f.srv, "/api/v1/transactions", q, &page)
				pages++
				for _, tx := range page.Transactions {
					k := txKey{tx.Probe, tx.Proto, tx.Client, tx.Server, tx.Op, tx.Target, tx.Status, tx.Outcome, 0, 0}
					if tx.RequestTime != nil {
						k.Req = tx.RequestTime.UnixNano()
					} else {
						k.Req = time.Time{}.UnixNano()
					}
					if tx.ResponseTime != nil {
						k.Resp = tx.ResponseTime.UnixNano()
					} else {
						k.Resp = time.Time{}.UnixNano()
					}
					got[k]++
					rows++
				}
				if page.Next == "" {
					break
				}
				if pages > 1000 {
					t.Fatal("pagination does not end")
				}
				q.Set("cursor", page.Next)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%d rows in %d pages, want %d distinct rows:\n got %v\nwant %v", rows, pages, len(want), got, want)
			}
		})
	}
	// One transaction in full (one with both times and flags).
	var tx record.Transaction
	for _, c := range f.a.txs {
		if c.Latency >= 0 && len(c.Flags) > 0 {
			tx = c
			break
		}
	}
	var page struct{ Transactions []TransactionJSON }
	getJSON(t, f.srv, "/api/v1/transactions", with(rangeAll, "client", tx.Client.Addr().String(), "target", tx.Target, "status", tx.Status, "limit", "1000"), &page)
	for _, g := range page.Transactions {
		if g.Client != tx.Client.String() || g.RequestTime == nil || !g.RequestTime.Equal(tx.RequestTime) {
			continue
		}
		var fields []FieldJSON
		for _, fl := range tx.Fields {
			fields = append(fields, FieldJSON{fl.Key, fl.Value})
		}
		if g.Proto != tx.Proto || g.Server != tx.Server.String() || g.Op != tx.Op || g.Outcome != tx.Outcome ||
			g.LatencyMicro == nil || *g.LatencyMicro != float64(tx.Latency)/1e3 || g.RequestBytes != tx.RequestBytes ||
			g.ResponseBytes != tx.ResponseBytes || !reflect.DeepEqual(g.Fields, fields) || !reflect.DeepEqual(g.Flags, tx.Flags) {
			t.Errorf("transaction:\n got %s\nwant %+v", js(g), tx)
		}
		return
	}
	t.Errorf("transaction %+v not found", tx)
}

func TestMap(t *testing.T) {
	f := getFixture(t)
	wix := netip.MustParseAddr("216.185.152.111")
	// What the laptop sent to wix, from the records.
	var bytes, packets, flows, requests, errs, latCount uint64
	var latSum, latMax time.Duration
	for _, fl := range f.a.flows {
		if fl.Server.Addr() == wix && fl.Server.Port() == 80 {
			bytes += fl.Bytes[0] + fl.Bytes[1]
			packets += fl.Packets[0] + fl.Packets[1]
			flows++
		}
	}
	for _, tx := range f.a.txs {
		if tx.Server.Addr() == wix {
			requests++
			if tx.Outcome != "ok" && tx.Outcome != "one_way" {
				errs++
			}
			if tx.Latency >= 0 {
				latSum += tx.Latency
				latCount++
				latMax = max(latMax, tx.Latency)
			}
		}
	}
	if flows == 0 || requests == 0 {
		t.Fatal("no traffic to wix in the capture: fix the test")
	}
	var m MapResponse
	getJSON(t, f.srv, "/api/v1/map", with(range2013), &m)
	nodes := map[string]int{}
	for i, n := range m.Nodes {
		nodes[n.ID] = i
	}
	laptop, ok1 := nodes["host:laptop"]
	wixNode, ok2 := nodes["host:wix"]
	if !ok1 || !ok2 {
		t.Fatalf("nodes %v: want host:laptop and host:wix", nodes)
	}
	if n := m.Nodes[laptop]; !reflect.DeepEqual(n.Labels, f.a.info.Labels) || n.Kind != "host" || !reflect.DeepEqual(n.Addresses, []string{"172.16.133.132"}) {
		t.Errorf("laptop node %+v", n)
	}
	if n := m.Nodes[wixNode]; n.Labels["owner"] != "wix" || n.ServerBytes != bytes || n.Requests != requests {
		t.Errorf("wix node %+v, want %d bytes served, %d requests", n, bytes, requests)
	}
	if _, ok := nodes["network:yahoo-net"]; !ok {
		t.Errorf("no yahoo-net node in %v", nodes)
	}
	found := false
	for _, e := range m.Edges {
		if e.Source == "host:laptop" && e.Target == "host:wix" {
			found = true
			if e.App != "http" || e.Port != 80 || e.Transport != "tcp" || e.Bytes != bytes || e.Packets != packets || e.Flows != flows ||
				e.Requests != requests || e.Errors != errs ||
				!near(e.LatencyMeanUS, float64(latSum)/float64(latCount)/1e3) || !near(e.LatencyMaxUS, float64(latMax)/1e3) {
				t.Errorf("laptop → wix: %+v, want %d bytes %d packets %d flows %d requests %d errors, mean %v max %v",
					e, bytes, packets, flows, requests, errs, latSum/time.Duration(latCount), latMax)
			}
		}
	}
	if !found || m.Truncated || m.EdgesRead == 0 {
		t.Errorf("no laptop → wix edge, or truncated: %s", js(m))
	}

	// Grouped by archdomain, externals as one node, yahoo omitted.
	m = MapResponse{}
	getJSON(t, f.srv, "/api/v1/map", with(range2013, "group_by", "archdomain", "group_external", "true", "omit", "yahoo*"), &m)
	ids := []string{}
	for _, n := range m.Nodes {
		ids = append(ids, n.ID)
	}
	if !reflect.DeepEqual(ids, []string{"external", "group:front", "group:wix-cdn"}) || m.GroupBy != "archdomain" {
		t.Errorf("grouped nodes %v", ids)
	}
	for _, e := range m.Edges {
		if e.Source == "group:front" && e.Target == "group:wix-cdn" && e.Bytes != bytes {
			t.Errorf("front → wix-cdn: %d bytes, want %d", e.Bytes, bytes)
		}
	}
	// Hiding http leaves the flows without requests.
	m = MapResponse{}
	getJSON(t, f.srv, "/api/v1/map", with(range2013, "hide_app", "http"), &m)
	for _, e := range m.Edges {
		if e.App == "http" {
			t.Errorf("http edge left: %+v", e)
		}
	}
	// app keeps only the protocols named; the limit truncates.
	m = MapResponse{}
	getJSON(t, f.srv, "/api/v1/map", with(rangeAll, "app", "dns", "limit", "1"), &m)
	if len(m.Edges) != 1 || m.Edges[0].App != "dns" || !m.Truncated || m.EdgesRead != 1 {
		t.Errorf("dns, limit 1: %s", js(m))
	}
}

func near(a, b float64) bool { d := a - b; return d < 1e-6*max(1, b) && -d < 1e-6*max(1, b) }

func TestProbes(t *testing.T) {
	f := getFixture(t)
	var got ProbesResponse
	getJSON(t, f.srv, "/api/v1/probes", nil, &got)
	if len(got.Probes) != 2 || got.Probes[0].ID != f.b.info.ID || got.Probes[1].ID != f.a.info.ID {
		t.Fatalf("probes %s", js(got))
	}
	for _, tc := range []struct {
		p      ProbeJSON
		d      *capData
		health string
		last   time.Time
	}{
		{got.Probes[0], f.b, HealthStale, f.now.Add(-10*time.Minute + time.Second)},
		{got.Probes[1], f.a, HealthOK, f.now.Add(-30*time.Second + time.Second)},
	} {
		p, d := tc.p, tc.d
		var records uint64
		for _, b := range d.batches {
			records += uint64(b.Records())
		}
		if p.Health != tc.health || !p.LastReport.Equal(tc.last) || p.LastSeq != 2 || p.Batches != 2 || p.Records != records ||
			p.Hostname != d.info.Hostname || p.Version != d.info.Version || !reflect.DeepEqual(p.Labels, d.info.Labels) ||
			!reflect.DeepEqual(p.Loss, d.batches[1].Loss) || !reflect.DeepEqual(p.Devices, d.info.Devices) ||
			p.StaleAfterS != 180 || !near(p.SinceReportS, f.now.Sub(tc.last).Seconds()) {
			t.Errorf("probe %s:\n got %s\nwant health %s, last report %v, %d records, loss %v", d.info.ID, js(p), tc.health, tc.last, records, d.batches[1].Loss)
		}
	}
	if s := got.Probes[1].Started; s == nil || !s.Equal(f.a.info.Started) {
		t.Errorf("started %v", s)
	}
	if got.Probes[0].Started != nil {
		t.Errorf("started of a probe without: %v", got.Probes[0].Started)
	}
}

func TestTraffic(t *testing.T) {
	f := getFixture(t)
	type key struct{ probe, device, dir string }
	want := map[key][2]uint64{}
	for _, tr := range append(slices.Clone(f.a.traffic), f.b.traffic...) {
		k := key{tr.Probe, tr.Device, tr.Direction}
		w := want[k]
		w[0] += tr.Packets
		w[1] += tr.Bytes
		want[k] = w
	}
	var got TrafficResponse
	getJSON(t, f.srv, "/api/v1/traffic", with(rangeAll), &got)
	gotm := map[key][2]uint64{}
	for _, tr := range got.Traffic {
		gotm[key{tr.Probe, tr.Device, tr.Direction}] = [2]uint64{tr.Packets, tr.Bytes}
	}
	if !reflect.DeepEqual(gotm, want) {
		t.Errorf("traffic:\n got %v\nwant %v", gotm, want)
	}
	got = TrafficResponse{}
	getJSON(t, f.srv, "/api/v1/traffic", with(rangeAll, "probe", f.b.info.ID), &got)
	for _, tr := range got.Traffic {
		if tr.Probe != f.b.info.ID {
			t.Errorf("probe filter: %+v", tr)
		}
	}
	if len(got.Traffic) == 0 {
		t.Error("no traffic for the dns probe")
	}
}

func TestMetrics(t *testing.T) {
	f := getFixture(t)
	code, body := get(t, f.srv, "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	s := string(body)
	for _, want := range []string{
		fmt.Sprintf("wirewatch_center_store_batches_total %d\n", f.written),
		`wirewatch_center_probes{health="ok"} 1` + "\n",
		`wirewatch_center_probes{health="stale"} 1` + "\n",
		`wirewatch_center_probe_loss_total{cause="l7_gap",probe="laptop-probe"} 7` + "\n",
		`wirewatch_center_probe_last_seq{probe="dns-probe"} 2` + "\n",
		`wirewatch_center_build_info{version="test"} 1` + "\n",
		fmt.Sprintf("wirewatch_center_probe_last_report_timestamp_seconds{probe=\"laptop-probe\"} %g\n", float64(f.now.Add(-29*time.Second).Unix())),
	} {
		if !strings.Contains(s, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Requests are counted by route and status.
	get(t, f.srv, "/api/v1/probes", nil)
	_, body = get(t, f.srv, "/metrics", nil)
	if !strings.Contains(string(body), `wirewatch_center_api_requests_total{code="200",route="/api/v1/probes"}`) {
		t.Errorf("no request counter in\n%s", body)
	}
}

func js(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// A probe that says its window period is judged by 3 of its own periods;
// one that does not, by the configured staleness.
func TestHealthPerProbePeriod(t *testing.T) {
	a := &API{cfg: Config{Staleness: 3 * time.Minute}}
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		period, since time.Duration
		want          string
		staleAfter    time.Duration
	}{
		{10 * time.Second, 29 * time.Second, HealthOK, 30 * time.Second},
		{10 * time.Second, 31 * time.Second, HealthStale, 30 * time.Second},
		{0, 2 * time.Minute, HealthOK, 3 * time.Minute},
		{0, 4 * time.Minute, HealthStale, 3 * time.Minute},
		{5 * time.Minute, 10 * time.Minute, HealthOK, 15 * time.Minute},
	} {
		p := &record.ProbeStatus{Info: record.ProbeInfo{ID: "p", Period: tc.period}, LastReport: now.Add(-tc.since)}
		h, since, after := a.health(p, now)
		if h != tc.want || since != tc.since || after != tc.staleAfter {
			t.Errorf("period %v, %v since the last report: %s (stale after %v), want %s (%v)", tc.period, tc.since, h, after, tc.want, tc.staleAfter)
		}
	}
}
