package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

// MaxAge is the retention age the stores under test must be opened with.
const MaxAge = 7 * 24 * time.Hour

// awkward are strings that must come back byte for byte: quotes and SQL
// syntax, NULs, invalid UTF-8, the private-use range DuckDB's text
// encoding uses, a long one.
var awkward = []string{
	"",
	`it's "quoted" \ back; -- x /* y */`,
	"nul\x00in\x00side",
	"bad \xff\xfe utf-8 \xc3",
	"private \uf700\uf7ff\uf780 use",
	strings.Repeat("long'\x00é\xff", 300),
}

// gen makes seeded records over [base, base+span): a few hundred hosts
// with a skewed popularity, IPv4, IPv6 and IPv4-mapped IPv6, some zero
// addresses and zero times.
type gen struct {
	r       *rand.Rand
	base    time.Time
	span    time.Duration
	hosts   []netip.Addr
	servers []netip.Addr
	next    int // record tag
}

func newGen(seed uint64, base time.Time, span time.Duration) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x5eed)), base: base, span: span}
	for i := range 300 {
		var a netip.Addr
		switch {
		case i%6 == 5:
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i % 4), 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		case i%13 == 7:
			a = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 1, 14: byte(i >> 8), 15: byte(i)})
		default:
			a = netip.AddrFrom4([4]byte{10, byte(i % 3), byte(i >> 4), byte(i)})
		}
		g.hosts = append(g.hosts, a)
	}
	g.servers = g.hosts[:20]
	return g
}

func pick[T any](r *rand.Rand, l []T) T { return l[r.IntN(len(l))] }

// host is skewed: low indices are far more frequent (top talkers).
func (g *gen) host() netip.Addr {
	i := int(float64(len(g.hosts)) * math.Pow(g.r.Float64(), 3))
	return g.hosts[min(i, len(g.hosts)-1)]
}

func (g *gen) at() time.Time {
	return g.base.Add(time.Duration(g.r.Int64N(int64(g.span))))
}

func (g *gen) tag() int { g.next++; return g.next }

var (
	transports = []string{"tcp", "udp", "icmp"}
	apps       = []string{"", "http", "dns", "redis", "my\x00sql", "h\xfftp"}
	devices    = []string{"eth0", "eth1", "any"}
	ports      = []uint16{80, 443, 53, 6379, 8080}
)

func (g *gen) flow(probe string) record.Flow {
	r := g.r
	start := g.at()
	if r.IntN(3) == 0 {
		start = start.Truncate(time.Minute) // many flows of a period start together: ties
	}
	f := record.Flow{
		Probe:     probe,
		Start:     start,
		End:       start.Add(time.Duration(r.Int64N(int64(10 * time.Minute)))),
		Transport: pick(r, transports),
		Client:    netip.AddrPortFrom(g.host(), uint16(30000+r.IntN(30000))),
		Server:    netip.AddrPortFrom(pick(r, g.servers), pick(r, ports)),
		App:       pick(r, apps),
		Device:    pick(r, devices),
		VLAN:      uint16(r.IntN(3)),
		TunnelID:  uint32(g.tag()),
		Packets:   [2]uint64{uint64(1 + r.IntN(50)), uint64(r.IntN(80))},
		Bytes:     [2]uint64{uint64(40 + r.IntN(90000)), uint64(r.IntN(900000))},
		RTT:       time.Duration(r.Int64N(int64(time.Second))),
		State:     pick(r, []string{"", "established", "closed", awkward[3]}),
		Ended:     r.IntN(2) == 0,
	}
	switch r.IntN(40) {
	case 0:
		f.Client = netip.AddrPortFrom(f.Server.Addr(), f.Client.Port()) // talks to itself
	case 1:
		f.End = time.Time{} // no time
	case 2:
		f.Client, f.Server = netip.AddrPort{}, netip.AddrPort{}
	case 3:
		f.Retransmissions = [2]uint64{uint64(r.IntN(9)), uint64(r.IntN(9))}
	case 4:
		f.Start = time.Time{} // an end without a start
	case 5:
		f.Start, f.End = f.End, f.Start // ends before it starts
	}
	return f
}

func (g *gen) tx(probe string) record.Transaction {
	r := g.r
	id := g.tag()
	t := record.Transaction{
		Probe:         probe,
		Proto:         pick(r, []string{"http", "dns", "redis"}),
		Transport:     pick(r, []string{"tcp", "udp"}),
		Client:        netip.AddrPortFrom(g.host(), uint16(1024+r.IntN(60000))),
		Server:        netip.AddrPortFrom(pick(r, g.servers), pick(r, ports)),
		RequestTime:   g.at(),
		Latency:       -1,
		RequestBytes:  int64(id),
		ResponseBytes: int64(r.IntN(50000)),
		Op:            pick(r, []string{"GET", "POST", "A", "SET"}),
		Target:        fmt.Sprintf("/item/%d/%s", r.IntN(40), pick(r, []string{"", "é", "q='x'", awkward[3], awkward[2]})),
		Status:        pick(r, []string{"200", "404", "500", "NOERROR", "NXDOMAIN"}),
		Outcome:       pick(r, []string{"ok", "one_way", "client_error", "server_error", "no_response"}),
	}
	if r.IntN(3) == 0 {
		t.RequestTime = t.RequestTime.Truncate(time.Second) // ties
	}
	switch r.IntN(10) {
	case 0:
		t.ResponseTime, t.RequestTime = t.RequestTime, time.Time{}
	case 1:
		if r.IntN(4) == 0 {
			t.RequestTime = time.Time{} // no time at all
		}
	default:
		t.Latency = time.Duration(r.Int64N(int64(2 * time.Second)))
		t.ResponseTime = t.RequestTime.Add(t.Latency)
	}
	switch r.IntN(4) {
	case 0:
		t.Flags = []string{pick(r, []string{"sqli", "redacted", awkward[2]})}
	case 1:
		t.Flags = []string{}
	}
	if r.IntN(5) == 0 {
		t.Flags = append(t.Flags, "truncated")
	}
	if r.IntN(8) == 0 {
		t.Fields = []record.Field{}
	}
	for n := r.IntN(4); n > 0; n-- {
		t.Fields = append(t.Fields, record.Field{
			Key:   pick(r, []string{"host", "ua", "qtype"}),
			Value: pick(r, []string{"a", "b", "c\x00", "d\xfe", "'"}),
		})
	}
	return t
}

// batch makes a batch of probe with n flows and transactions, and the
// windows, traffic and edges of the minutes they fall in.
func (g *gen) batch(probe, spool string, seq uint64, n int) *record.Batch {
	b := &record.Batch{Probe: record.ProbeInfo{ID: probe, Hostname: probe + ".example"}, SpoolID: spool, Seq: seq}
	for range n {
		b.Flows = append(b.Flows, g.flow(probe))
		b.Transactions = append(b.Transactions, g.tx(probe))
	}
	r := g.r
	for range max(1, n/10) {
		start := g.at().Truncate(time.Minute)
		end := start.Add(time.Minute)
		b.Windows = append(b.Windows, record.Window{Probe: probe, Start: start, End: end,
			Summary: []byte(fmt.Sprintf("window %d \x00\xff", g.tag())), Packets: uint64(r.IntN(1000)), Bytes: uint64(r.IntN(1e6))})
		for _, dev := range devices[:2] {
			for _, dir := range []string{"in", "out", "other"} {
				b.Traffic = append(b.Traffic, record.Traffic{Probe: probe, Device: dev, Direction: dir,
					Start: start, End: end, Packets: uint64(r.IntN(1000)), Bytes: uint64(r.IntN(1e6))})
			}
		}
		for range 3 {
			e := record.Edge{Probe: probe, Start: start, End: end,
				Client: g.hosts[r.IntN(12)], Server: g.servers[r.IntN(4)],
				Transport: pick(r, []string{"tcp", "udp"}), App: pick(r, apps[:3]), Port: pick(r, ports[:2]),
				Flows: uint64(1 + r.IntN(10)), Packets: uint64(r.IntN(1000)), Bytes: uint64(r.IntN(1e7)),
				Requests: uint64(r.IntN(100)), Errors: uint64(r.IntN(3)),
				LatencySum: time.Duration(r.Int64N(1e9)), LatencyCount: uint64(r.IntN(100)), LatencyMax: time.Duration(r.Int64N(1e8))}
			b.Edges = append(b.Edges, e)
		}
	}
	if r.IntN(2) == 0 {
		b.Loss = map[string]uint64{"capture_drops": uint64(r.IntN(100))}
	}
	return b
}

// data is what a test stored: every query is checked against a brute
// force computation over it.
type data struct {
	windows []record.Window
	flows   []record.Flow
	txs     []record.Transaction
	traffic []record.Traffic
	edges   []record.Edge
}

func (d *data) add(b *record.Batch) {
	d.windows = append(d.windows, b.Windows...)
	d.flows = append(d.flows, b.Flows...)
	d.txs = append(d.txs, b.Transactions...)
	d.traffic = append(d.traffic, b.Traffic...)
	d.edges = append(d.edges, b.Edges...)
}

// ns is a time as the stores compare it: nanoseconds, the zero time
// before everything.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// bounds is a query's [From, To) in ns as the contract reads it: a zero
// From is the beginning, a zero To is now.
func bounds(from, to time.Time, now time.Time) (int64, int64) {
	lo := int64(math.MinInt64)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if to.IsZero() {
		to = now
	}
	return lo, to.UnixNano()
}

// overlaps is the contract's "[start, end) overlaps [lo, hi)"; a flow's
// End is its last packet, so flows count when end == lo (inclusive).
func overlaps(start, end time.Time, lo, hi int64, inclusiveEnd bool) bool {
	if ns(start) >= hi {
		return false
	}
	if lo == math.MinInt64 {
		return true
	}
	if inclusiveEnd {
		return ns(end) >= lo
	}
	return ns(end) > lo
}

func inList(v string, l []string) bool { return len(l) == 0 || slices.Contains(l, v) }

func prefixHas(p netip.Prefix, a netip.Addr) bool {
	return p == (netip.Prefix{}) || p.Contains(a)
}

// addSat adds without wrapping, holding at 2^64-1 as the stores do.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

func addSatI64(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// Canonical forms compare records field by field (times as ns, so that
// the time zone a store returns does not matter; an empty blob as nil).

func canonWindow(w record.Window) string {
	return fmt.Sprintf("%q|%d|%d|%q|%d|%d", w.Probe, ns(w.Start), ns(w.End), string(w.Summary), w.Packets, w.Bytes)
}

func canonFlow(f record.Flow) string {
	return fmt.Sprintf("%q|%d|%d|%q|%s|%s|%q|%q|%d|%d|%v|%v|%v|%d|%q|%v", f.Probe, ns(f.Start), ns(f.End), f.Transport,
		f.Client, f.Server, f.App, f.Device, f.VLAN, f.TunnelID, f.Packets, f.Bytes, f.Retransmissions, f.RTT, f.State, f.Ended)
}

func canonTx(t record.Transaction) string {
	list := func(l []string) string {
		if l == nil {
			return "nil"
		}
		return fmt.Sprintf("%q", l)
	}
	fields := "nil"
	if t.Fields != nil {
		fields = fmt.Sprintf("%q", t.Fields)
	}
	return fmt.Sprintf("%q|%q|%q|%s|%s|%d|%d|%d|%d|%d|%q|%q|%q|%q|%s|%s", t.Probe, t.Proto, t.Transport, t.Client, t.Server,
		ns(t.RequestTime), ns(t.ResponseTime), t.Latency, t.RequestBytes, t.ResponseBytes, t.Op, t.Target, t.Status, t.Outcome,
		list(t.Flags), fields)
}

func canonTraffic(x record.Traffic) string {
	return fmt.Sprintf("%q|%q|%q|%d|%d|%d|%d", x.Probe, x.Device, x.Direction, ns(x.Start), ns(x.End), x.Packets, x.Bytes)
}

func canonEdge(e record.Edge) string {
	return fmt.Sprintf("%q|%d|%d|%s|%s|%q|%q|%d|%d|%d|%d|%d|%d|%d|%d|%d", e.Probe, ns(e.Start), ns(e.End), e.Client, e.Server,
		e.Transport, e.App, e.Port, e.Flows, e.Packets, e.Bytes, e.Requests, e.Errors, e.LatencySum, e.LatencyCount, e.LatencyMax)
}
