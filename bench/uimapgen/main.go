// Command uimapgen writes a synthetic traffic map into a center's embedded
// store, for bench/ui-map.sh: NODES addresses in clusters of 50 (services
// that mostly talk among themselves, 5% cross traffic) joined by EDGES
// distinct conversations, some with requests and errors, so the map has
// every kind of edge to draw. Deterministic (fixed seed).
//
//	go run ./bench/uimapgen -dir DATA_DIR -nodes 2000 -edges 10000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store/duckdb"
)

func main() {
	dir := flag.String("dir", "", "the center's data directory (created)")
	nodes := flag.Int("nodes", 2000, "addresses (map nodes)")
	edges := flag.Int("edges", 10000, "conversations (map edges)")
	start := flag.String("start", "2024-01-01T00:00:00Z", "time of the traffic (one minute from here)")
	flag.Parse()
	if err := run(*dir, *nodes, *edges, *start); err != nil {
		fmt.Fprintln(os.Stderr, "uimapgen:", err)
		os.Exit(1)
	}
}

func run(dir string, nodes, edges int, startText string) error {
	if dir == "" || nodes < 2 || nodes > 12000 || edges < nodes-1 {
		return fmt.Errorf("need -dir, 2 ≤ -nodes ≤ 12000 and -edges ≥ nodes-1")
	}
	t0, err := time.Parse(time.RFC3339, startText)
	if err != nil {
		return err
	}
	cfg := duckdb.DefaultConfig()
	cfg.Dir = dir
	cfg.Retention.MaxAge = 100 * 365 * 24 * time.Hour
	st, err := duckdb.Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	addr := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(1 + i/50), 0, byte(1 + i%50)})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	apps := []struct {
		app       string
		transport string
		port      uint16
	}{{"http", "tcp", 80}, {"dns", "udp", 53}, {"tls", "tcp", 443}, {"postgresql", "tcp", 5432}, {"redis", "tcp", 6379}, {"", "tcp", 9000}}
	type key struct {
		c, s int
		app  int
	}
	seen := map[key]bool{}
	var out []record.Edge
	add := func(c, s int) {
		a := rng.IntN(len(apps))
		k := key{c, s, a}
		if c == s || seen[k] {
			return
		}
		seen[k] = true
		p := apps[a]
		bytes := uint64(200 + rng.ExpFloat64()*50_000)
		e := record.Edge{Probe: "bench", Start: t0, End: t0.Add(time.Minute), Client: addr(c), Server: addr(s),
			Transport: p.transport, App: p.app, Port: p.port, Flows: 1 + uint64(rng.IntN(20)), Packets: bytes/500 + 2, Bytes: bytes}
		if p.app != "" {
			e.Requests = 1 + uint64(rng.IntN(200))
			if rng.IntN(5) == 0 {
				e.Errors = uint64(rng.IntN(int(e.Requests) + 1))
			}
			e.LatencyCount = e.Requests
			e.LatencyMax = time.Duration(1+rng.IntN(200)) * time.Millisecond
			e.LatencySum = time.Duration(e.Requests) * e.LatencyMax / 3
		}
		out = append(out, e)
	}
	// Every node in the map: a chain inside each cluster and between
	// clusters, then random traffic, mostly inside clusters.
	for i := 1; i < nodes; i++ {
		add(i-1, i)
	}
	for len(out) < edges {
		c := rng.IntN(nodes)
		s := rng.IntN(nodes)
		if rng.IntN(20) < 19 {
			s = min(nodes-1, c/50*50+rng.IntN(50))
		}
		add(c, s)
	}
	info := record.ProbeInfo{ID: "bench", Hostname: "bench", Version: "bench", Started: t0}
	ctx := context.Background()
	const per = 2000
	for i, seq := 0, uint64(1); i < len(out); i, seq = i+per, seq+1 {
		b := &record.Batch{Probe: info, Seq: seq, SpoolID: "uimapgen", Edges: out[i:min(i+per, len(out))], SentAt: t0}
		if seq == 1 {
			b.Windows = []record.Window{{Probe: "bench", Start: t0, End: t0.Add(time.Minute)}}
		}
		if _, err := st.Write(ctx, b, time.Now()); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d nodes, %d edges into %s (%s + 1m)\n", nodes, len(out), dir, t0.Format(time.RFC3339))
	return nil
}
