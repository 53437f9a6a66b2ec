package graph

import (
	"encoding/json"
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func flowRec(client, server, transport, app string, start time.Duration, pk, by [2]uint64) record.Flow {
	return record.Flow{Probe: "p1", Start: at(start), End: at(start + time.Second), Transport: transport,
		Client: ap(client), Server: ap(server), App: app, Packets: pk, Bytes: by}
}

func txRec(client, server, transport, proto string, req time.Duration, latency time.Duration, outcome string) record.Transaction {
	t := record.Transaction{Probe: "p1", Proto: proto, Transport: transport, Client: ap(client), Server: ap(server),
		RequestTime: at(req), Latency: -1, Outcome: outcome}
	if latency >= 0 {
		t.ResponseTime = at(req + latency)
		t.Latency = latency
	}
	return t
}

func TestDerive(t *testing.T) {
	b := &record.Batch{
		Probe: record.ProbeInfo{ID: "p1"},
		Windows: []record.Window{
			{Probe: "p1", Start: at(60 * time.Second), End: at(120 * time.Second)},
			{Probe: "p1", Start: at(0), End: at(60 * time.Second)},
		},
		Flows: []record.Flow{
			flowRec("10.0.0.1:40000", "10.0.0.2:80", "tcp", "http", 5*time.Second, [2]uint64{3, 2}, [2]uint64{300, 1200}),
			flowRec("10.0.0.1:40001", "10.0.0.2:80", "tcp", "http", 30*time.Second, [2]uint64{5, 5}, [2]uint64{500, 5000}),
			flowRec("10.0.0.1:40000", "10.0.0.2:80", "tcp", "http", 61*time.Second, [2]uint64{1, 1}, [2]uint64{100, 100}),
			flowRec("10.0.0.3:5353", "10.0.0.2:53", "udp", "dns", 10*time.Second, [2]uint64{1, 1}, [2]uint64{70, 120}),
			// An IPv4-mapped client is the same host as 10.0.0.1.
			flowRec("[::ffff:10.0.0.1]:40002", "10.0.0.2:80", "tcp", "http", 50*time.Second, [2]uint64{2, 2}, [2]uint64{20, 20}),
			flowRec("10.0.0.4:50000", "10.0.0.2:443", "tcp", "http2", 1*time.Second, [2]uint64{10, 10}, [2]uint64{1000, 2000}),
			// Outside the batch's windows: the 60 s period it falls in.
			flowRec("10.0.0.1:1", "10.0.0.9:22", "tcp", "ssh", 200*time.Second, [2]uint64{1, 0}, [2]uint64{60, 0}),
			// No client address: no edge.
			{Probe: "p1", Start: at(time.Second), Server: ap("10.0.0.2:80"), Transport: "tcp", Packets: [2]uint64{9, 9}, Bytes: [2]uint64{9, 9}},
		},
		Transactions: []record.Transaction{
			txRec("10.0.0.1:40000", "10.0.0.2:80", "tcp", "http", 6*time.Second, 10*time.Millisecond, "ok"),
			txRec("10.0.0.1:40001", "10.0.0.2:80", "tcp", "http", 31*time.Second, 30*time.Millisecond, "server_error"),
			{Probe: "p1", Proto: "http", Transport: "tcp", Client: ap("10.0.0.1:40001"), Server: ap("10.0.0.2:80"),
				ResponseTime: at(32 * time.Second), Latency: -1, Outcome: "no_request"},
			txRec("10.0.0.3:5353", "10.0.0.2:53", "udp", "dns", 10*time.Second, 2*time.Millisecond, "client_error"),
			// gRPC calls on a flow detected as HTTP/2: the flow's edge.
			txRec("10.0.0.4:50000", "10.0.0.2:443", "tcp", "grpc", 2*time.Second, 5*time.Millisecond, "ok"),
			txRec("10.0.0.4:50000", "10.0.0.2:443", "tcp", "grpc", 3*time.Second, -1, "one_way"),
			// No flow record in the batch: its own protocol.
			txRec("10.0.0.5:6000", "10.0.0.6:6379", "tcp", "redis", 70*time.Second, time.Millisecond, "ok"),
			// No time at all: no edge.
			{Probe: "p1", Proto: "http", Transport: "tcp", Client: ap("10.0.0.1:1"), Server: ap("10.0.0.2:80"), Latency: -1, Outcome: "no_response"},
		},
	}
	p1 := [2]time.Time{at(0), at(60 * time.Second)}
	p2 := [2]time.Time{at(60 * time.Second), at(120 * time.Second)}
	p3 := [2]time.Time{at(180 * time.Second), at(240 * time.Second)}
	edge := func(p [2]time.Time, client, server, transport, app string, port uint16) record.Edge {
		return record.Edge{Probe: "p1", Start: p[0], End: p[1], Client: addr(client), Server: addr(server), Transport: transport, App: app, Port: port}
	}
	e1 := edge(p1, "10.0.0.1", "10.0.0.2", "tcp", "http", 80)
	e1.Flows, e1.Packets, e1.Bytes = 3, 5+10+4, 1500+5500+40
	e1.Requests, e1.Errors = 3, 2
	e1.LatencySum, e1.LatencyCount, e1.LatencyMax = 40*time.Millisecond, 2, 30*time.Millisecond
	e2 := edge(p1, "10.0.0.3", "10.0.0.2", "udp", "dns", 53)
	e2.Flows, e2.Packets, e2.Bytes = 1, 2, 190
	e2.Requests, e2.Errors = 1, 1
	e2.LatencySum, e2.LatencyCount, e2.LatencyMax = 2*time.Millisecond, 1, 2*time.Millisecond
	e3 := edge(p1, "10.0.0.4", "10.0.0.2", "tcp", "http2", 443)
	e3.Flows, e3.Packets, e3.Bytes = 1, 20, 3000
	e3.Requests, e3.Errors = 2, 0
	e3.LatencySum, e3.LatencyCount, e3.LatencyMax = 5*time.Millisecond, 1, 5*time.Millisecond
	e4 := edge(p2, "10.0.0.1", "10.0.0.2", "tcp", "http", 80)
	e4.Flows, e4.Packets, e4.Bytes = 1, 2, 200
	e5 := edge(p2, "10.0.0.5", "10.0.0.6", "tcp", "redis", 6379)
	e5.Requests = 1
	e5.LatencySum, e5.LatencyCount, e5.LatencyMax = time.Millisecond, 1, time.Millisecond
	e6 := edge(p3, "10.0.0.1", "10.0.0.9", "tcp", "ssh", 22)
	e6.Flows, e6.Packets, e6.Bytes = 1, 1, 60
	want := []record.Edge{e1, e2, e3, e4, e5, e6}

	got := Derive(b)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Derive:\n got %s\nwant %s", js(got), js(want))
	}
	// The same batch in another order gives the same edges.
	rev := *b
	rev.Flows = reversed(b.Flows)
	rev.Transactions = reversed(b.Transactions)
	if got := Derive(&rev); !reflect.DeepEqual(got, want) {
		t.Errorf("Derive of the reversed batch:\n got %s\nwant %s", js(got), js(want))
	}
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func js(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func TestDeriveWithoutWindows(t *testing.T) {
	// A batch with no window: periods of DefaultPeriod on the epoch.
	b := &record.Batch{
		Probe: record.ProbeInfo{ID: "p9"},
		Flows: []record.Flow{
			flowRec("10.1.0.1:1000", "10.1.0.2:443", "tcp", "tls", 59*time.Second+999*time.Millisecond, [2]uint64{1, 1}, [2]uint64{10, 20}),
			flowRec("10.1.0.1:1001", "10.1.0.2:443", "tcp", "tls", 60*time.Second, [2]uint64{2, 2}, [2]uint64{30, 40}),
		},
	}
	got := Derive(b)
	if len(got) != 2 {
		t.Fatalf("got %d edges, want 2: %s", len(got), js(got))
	}
	for i, want := range []struct {
		start, end time.Time
		bytes      uint64
	}{{at(0), at(60 * time.Second), 30}, {at(60 * time.Second), at(120 * time.Second), 70}} {
		g := got[i]
		if !g.Start.Equal(want.start) || !g.End.Equal(want.end) || g.Bytes != want.bytes || g.Probe != "p9" || g.Flows != 1 {
			t.Errorf("edge %d: %+v, want period [%v, %v) bytes %d", i, g, want.start, want.end, want.bytes)
		}
	}
	// Times before the epoch still fall into a period that contains them.
	old := time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC)
	b.Flows = []record.Flow{{Start: old, Client: ap("10.1.0.1:1"), Server: ap("10.1.0.2:2"), Transport: "udp"}}
	got = Derive(b)
	if len(got) != 1 || !got[0].Start.Equal(time.Unix(-60, 0)) || !got[0].End.Equal(time.Unix(0, 0)) {
		t.Errorf("pre-epoch flow: %s", js(got))
	}
	if Derive(nil) != nil || Derive(&record.Batch{}) != nil {
		t.Error("an empty batch has edges")
	}
}

func TestDeriveLatencySaturates(t *testing.T) {
	huge := time.Duration(math.MaxInt64 - 10)
	b := &record.Batch{Transactions: []record.Transaction{
		{Proto: "http", Transport: "tcp", Client: ap("10.0.0.1:1"), Server: ap("10.0.0.2:80"), RequestTime: at(0), ResponseTime: at(time.Second), Latency: huge, Outcome: "ok"},
		{Proto: "http", Transport: "tcp", Client: ap("10.0.0.1:1"), Server: ap("10.0.0.2:80"), RequestTime: at(0), ResponseTime: at(time.Second), Latency: huge, Outcome: "ok"},
	}}
	got := Derive(b)
	if len(got) != 1 || got[0].LatencySum != math.MaxInt64 || got[0].LatencyCount != 2 || got[0].LatencyMax != huge {
		t.Errorf("saturating sum: %s", js(got))
	}
}
