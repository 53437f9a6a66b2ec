package duckdb

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

func openTest(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Threads == 0 {
		cfg.Threads = 2
	}
	s, err := Open(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustWrite(t testing.TB, s *Store, b *record.Batch, now time.Time) {
	t.Helper()
	dup, err := s.Write(context.Background(), b, now)
	if err != nil {
		t.Fatal(err)
	}
	if dup {
		t.Fatalf("batch %s/%d reported duplicate", b.Probe.ID, b.Seq)
	}
}

// base is the generated data's epoch: a fixed time so that runs compare.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ns(d time.Duration) time.Time { return time.Unix(0, base.UnixNano()+int64(d)).UTC() }

// gen makes realistic, seeded records: a few thousand hosts with
// Zipf-like popularity, IPv4 and IPv6, a few apps, ports and devices.
type gen struct {
	r       *rand.Rand
	zipf    *rand.Zipf
	hosts   []netip.Addr
	servers []netip.Addr
	apps    []string
	ports   []uint16
	devs    []string
	probes  []string
}

func newGen(seed uint64, hosts int) *gen {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &gen{
		r:      r,
		zipf:   rand.NewZipf(r, 1.1, 4, uint64(hosts-1)),
		apps:   []string{"", "http", "dns", "tls", "redis", "mysql\x00x", "h\xfftp"},
		ports:  []uint16{80, 443, 53, 6379, 3306, 8080, 5432},
		devs:   []string{"eth0", "eth1", "any"},
		probes: []string{"p1", "p2", "p3"},
	}
	for i := range hosts {
		var a netip.Addr
		switch {
		case i%5 == 4:
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, byte(i % 3), 0, byte(i)})
		case i%17 == 3:
			// An IPv4-mapped IPv6 address: must not match IPv4 prefixes.
			a = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 13: byte(i >> 8), 14: byte(i), 15: 1})
		default:
			a = netip.AddrFrom4([4]byte{10, byte(i >> 8 % 4), byte(i), byte(i * 7)})
		}
		g.hosts = append(g.hosts, a)
	}
	g.servers = g.hosts[:max(1, hosts/20)]
	return g
}

func (g *gen) host() netip.Addr { return g.hosts[g.zipf.Uint64()] }

func pick[T any](r *rand.Rand, l []T) T { return l[r.IntN(len(l))] }

// flow makes a flow record starting at off from base; id is kept in
// TunnelID so that tests can tell records apart.
func (g *gen) flow(probe string, off time.Duration, id uint32) record.Flow {
	r := g.r
	server := pick(r, g.servers)
	client := g.host()
	if r.IntN(200) == 0 {
		client = server
	}
	f := record.Flow{
		Probe:     probe,
		Start:     ns(off),
		End:       ns(off + time.Duration(r.IntN(60_000))*time.Millisecond),
		Transport: pick(r, []string{"tcp", "udp", "icmp"}),
		Client:    netip.AddrPortFrom(client, uint16(32768+r.IntN(28000))),
		Server:    netip.AddrPortFrom(server, pick(r, g.ports)),
		App:       pick(r, g.apps),
		Device:    pick(r, g.devs),
		VLAN:      uint16(r.IntN(3)),
		TunnelID:  id,
		Packets:   [2]uint64{uint64(1 + r.IntN(100)), uint64(r.IntN(200))},
		Bytes:     [2]uint64{uint64(60 + r.IntN(100000)), uint64(r.IntN(1000000))},
		RTT:       time.Duration(r.IntN(1e8)),
		State:     pick(r, []string{"", "established", "closed"}),
		Ended:     r.IntN(2) == 0,
	}
	if r.IntN(10) == 0 {
		f.Retransmissions = [2]uint64{uint64(r.IntN(5)), uint64(r.IntN(5))}
	}
	return f
}

func (g *gen) tx(probe string, off time.Duration, id int) record.Transaction {
	r := g.r
	t := record.Transaction{
		Probe:         probe,
		Proto:         pick(r, []string{"http", "dns", "redis"}),
		Transport:     pick(r, []string{"tcp", "udp"}),
		Client:        netip.AddrPortFrom(g.host(), uint16(1024+r.IntN(60000))),
		Server:        netip.AddrPortFrom(pick(r, g.servers), pick(r, g.ports)),
		RequestTime:   ns(off),
		Latency:       -1,
		RequestBytes:  int64(r.IntN(5000)),
		ResponseBytes: int64(r.IntN(50000)),
		Op:            pick(r, []string{"GET", "POST", "A", "AAAA", "SET"}),
		Target:        fmt.Sprintf("/api/v%d/item/%d\xff%s", r.IntN(3), id, pick(r, []string{"", "?q='x'", "é"})),
		Status:        pick(r, []string{"200", "404", "500", "NOERROR", "NXDOMAIN"}),
		Outcome:       pick(r, []string{"ok", "client_error", "server_error", "no_response"}),
	}
	switch r.IntN(4) {
	case 0:
		t.RequestTime = time.Time{}
		t.ResponseTime = ns(off)
	case 1, 2:
		t.Latency = time.Duration(r.IntN(2e9))
		t.ResponseTime = t.RequestTime.Add(t.Latency)
	}
	if r.IntN(3) == 0 {
		t.Flags = []string{pick(r, []string{"sqli", "redacted", "truncated"})}
	}
	if r.IntN(5) == 0 {
		t.Flags = append(t.Flags, "truncated")
	}
	for n := r.IntN(4); n > 0; n-- {
		t.Fields = append(t.Fields, record.Field{Key: pick(r, []string{"host", "ua", "qtype"}), Value: pick(r, []string{"a", "b", "c\x00", "d\xfe"})})
	}
	return t
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("STORE_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
