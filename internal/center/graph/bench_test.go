package graph

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

// benchBatch is a minute of a busy probe: 5,000 flow records between 200
// clients and 50 servers, and 20,000 transactions on them.
func benchBatch() *record.Batch {
	b := &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Windows: []record.Window{{Start: t0, End: t0.Add(time.Minute)}}}
	for i := range 5000 {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i % 200 >> 8), byte(i % 200)}), uint16(30000+i))
		s := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, 0, byte(i % 50)}), uint16(80+i%3))
		b.Flows = append(b.Flows, record.Flow{Start: t0.Add(time.Duration(i) * time.Millisecond), Transport: "tcp", Client: c, Server: s,
			App: "http", Packets: [2]uint64{10, 10}, Bytes: [2]uint64{1000, 5000}})
		for j := range 4 {
			b.Transactions = append(b.Transactions, record.Transaction{Proto: "http", Transport: "tcp", Client: c, Server: s,
				RequestTime: t0.Add(time.Duration(i*4+j) * time.Millisecond), ResponseTime: t0.Add(time.Duration(i*4+j+1) * time.Millisecond),
				Latency: time.Millisecond, Outcome: "ok"})
		}
	}
	return b
}

func BenchmarkDerive(b *testing.B) {
	batch := benchBatch()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(Derive(batch)) == 0 {
			b.Fatal("no edges")
		}
	}
	b.ReportMetric(float64(len(batch.Flows)+len(batch.Transactions))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkBuild draws a map from store.MaxLimit edges with 100 probes
// and a 1,000-entry inventory, grouped by a label.
func BenchmarkBuild(b *testing.B) {
	var probes []record.ProbeInfo
	for i := range 100 {
		probes = append(probes, record.ProbeInfo{ID: fmt.Sprint("p", i), Hostname: fmt.Sprint("host-", i),
			Labels:    map[string]string{"env": fmt.Sprint("env", i%5)},
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})}})
	}
	inv := &Inventory{}
	for i := range 1000 {
		inv.Entries = append(inv.Entries, InventoryEntry{CIDR: fmt.Sprintf("10.3.%d.%d", i/256, i%256), Name: fmt.Sprint("vm-", i),
			Labels: map[string]string{"env": fmt.Sprint("env", i%7)}})
	}
	inv.Entries = append(inv.Entries, InventoryEntry{CIDR: "10.0.0.0/8", Name: "corp"})
	r, err := NewResolver(probes, inv)
	if err != nil {
		b.Fatal(err)
	}
	var edges []record.Edge
	for i := range 10000 {
		edges = append(edges, record.Edge{
			Client:    netip.AddrFrom4([4]byte{10, byte(1 + i%3*2), byte(i / 256 % 4), byte(i)}),
			Server:    netip.AddrFrom4([4]byte{10, 1, 0, byte(i % 100)}),
			Transport: "tcp", App: []string{"http", "dns", "tls"}[i%3], Port: uint16(80 + i%10),
			Bytes: uint64(i), Packets: 1, Flows: 1, Requests: 1, LatencySum: time.Millisecond, LatencyCount: 1, LatencyMax: time.Millisecond,
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m := Build(edges, r, Options{GroupBy: "env", OmitNodes: []string{"vm-99*"}})
		if len(m.Edges) == 0 {
			b.Fatal("empty map")
		}
	}
}
