package flow

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
)

const (
	sec = int64(time.Second)
	ms  = int64(time.Millisecond)
	t0  = int64(1_700_000_000) * sec
)

var (
	cli = netip.MustParseAddr("10.0.0.1")
	srv = netip.MustParseAddr("10.0.0.2")
)

const (
	SYN = decode.TCPSyn
	ACK = decode.TCPAck
	FIN = decode.TCPFin
	RST = decode.TCPRst
	PSH = decode.TCPPsh
)

// tcpPkt builds a TCP packet from a to b.
func tcpPkt(ts int64, a netip.Addr, ap uint16, b netip.Addr, bp uint16, flags uint8, seq, ack uint32, payload int) *decode.Packet {
	v := uint8(4)
	if a.Is6() {
		v = 6
	}
	return &decode.Packet{
		Timestamp: ts, IPVersion: v, SrcIP: a, DstIP: b, Proto: decode.ProtoTCP,
		SrcPort: ap, DstPort: bp, TCPFlags: flags, Seq: seq, Ack: ack, Window: 1000,
		PayloadLen: payload, IPLen: 40 + payload, WireLen: 54 + payload,
	}
}

func udpPkt(ts int64, a netip.Addr, ap uint16, b netip.Addr, bp uint16, payload int) *decode.Packet {
	return &decode.Packet{
		Timestamp: ts, IPVersion: 4, SrcIP: a, DstIP: b, Proto: decode.ProtoUDP,
		SrcPort: ap, DstPort: bp, PayloadLen: payload, IPLen: 28 + payload, WireLen: 42 + payload,
	}
}

// conn is a scripted TCP connection between cli:40000 and srv:80.
type conn struct {
	t          *testing.T
	tb         *Table
	ts         int64
	cseq, sseq uint32
}

func (c *conn) c2s(dt int64, flags uint8, n int) Event {
	c.ts += dt
	ev := c.tb.Observe(tcpPkt(c.ts, cli, 40000, srv, 80, flags, c.cseq, c.sseq, n))
	c.cseq += uint32(n)
	if flags&(SYN|FIN) != 0 {
		c.cseq++
	}
	return ev
}

func (c *conn) s2c(dt int64, flags uint8, n int) Event {
	c.ts += dt
	ev := c.tb.Observe(tcpPkt(c.ts, srv, 80, cli, 40000, flags, c.sseq, c.cseq, n))
	c.sseq += uint32(n)
	if flags&(SYN|FIN) != 0 {
		c.sseq++
	}
	return ev
}

type ended struct {
	key Key
	why EndReason
	f   Flow // copy at the time of the end
}

type recorder struct{ ends []ended }

func (r *recorder) onEnd(f *Flow, why EndReason) {
	r.ends = append(r.ends, ended{f.Key(), why, *f})
}

func (r *recorder) count(why EndReason) int {
	n := 0
	for _, e := range r.ends {
		if e.why == why {
			n++
		}
	}
	return n
}

func TestKeyNormalised(t *testing.T) {
	p := tcpPkt(t0, cli, 40000, srv, 80, ACK, 1, 1, 0)
	q := tcpPkt(t0, srv, 80, cli, 40000, ACK, 1, 1, 0)
	if KeyOf(p) != KeyOf(q) {
		t.Fatal("both directions must share a key")
	}
	if KeyOf(p).Hash() != KeyOf(q).Hash() {
		t.Fatal("both directions must hash alike")
	}
	v := *p
	v.NumVLANs, v.VLANs[0] = 1, 100
	if KeyOf(&v) == KeyOf(p) {
		t.Error("VLAN must be part of the key")
	}
	qinq := v
	qinq.NumVLANs, qinq.VLANs[1] = 2, 200
	if k := KeyOf(&qinq); k.VLAN() != 200 {
		t.Errorf("innermost VLAN: got %d", k.VLAN())
	}
	tun := *p
	tun.TunnelID = 42
	if KeyOf(&tun) == KeyOf(p) {
		t.Error("tunnel ID must be part of the key")
	}
	m := *p
	m.IPVersion = 6
	m.SrcIP = netip.AddrFrom16(cli.As16())
	m.DstIP = netip.AddrFrom16(srv.As16())
	if KeyOf(&m) == KeyOf(p) {
		t.Error("IPv4-mapped IPv6 addresses must not share the IPv4 key")
	}
	icmp := decode.Packet{IPVersion: 4, SrcIP: cli, DstIP: srv, Proto: decode.ProtoICMP, SrcPort: 8, DstPort: 1234}
	icmp2 := icmp
	icmp2.SrcPort, icmp2.DstPort = 0, 99
	if KeyOf(&icmp) != KeyOf(&icmp2) {
		t.Error("ICMP is keyed by addresses and protocol only")
	}
	a, b := KeyOf(p).Endpoints()
	if a != netip.AddrPortFrom(cli, 40000) || b != netip.AddrPortFrom(srv, 80) {
		t.Errorf("endpoints %v %v", a, b)
	}
	if s := KeyOf(p).String(); s != "10.0.0.1:40000<->10.0.0.2:80/tcp" {
		t.Errorf("String: %s", s)
	}
}

func TestInitiator(t *testing.T) {
	c1 := netip.MustParseAddr("192.0.2.1")
	s1 := netip.MustParseAddr("192.0.2.2")
	icmp := func(typ uint8, v6 bool) *decode.Packet {
		p := &decode.Packet{IPVersion: 4, SrcIP: c1, DstIP: s1, Proto: decode.ProtoICMP, ICMPType: typ, IPLen: 84}
		if v6 {
			p.IPVersion, p.Proto = 6, decode.ProtoICMPv6
			p.SrcIP, p.DstIP = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		}
		return p
	}
	cases := []struct {
		name          string
		p             *decode.Packet
		clientIsSrc   bool
		guessed       bool
		wantSrvPort   uint16
		checkSrvPorts bool
	}{
		{"syn", tcpPkt(t0, c1, 80, s1, 12345, SYN, 1, 0, 0), true, false, 12345, true}, // the SYN wins over ports
		{"syn-ack", tcpPkt(t0, s1, 443, c1, 50000, SYN|ACK, 1, 2, 0), false, false, 443, true},
		{"mid-stream from server", tcpPkt(t0, s1, 80, c1, 40000, ACK, 1, 1, 10), false, true, 80, true},
		{"mid-stream from client", tcpPkt(t0, c1, 40000, s1, 80, ACK, 1, 1, 10), true, true, 80, true},
		{"redis reply", tcpPkt(t0, s1, 6379, c1, 44526, ACK|PSH, 1, 1, 10), false, true, 6379, true},
		{"registered to registered", tcpPkt(t0, c1, 5000, s1, 6379, ACK, 1, 1, 10), true, true, 6379, true},
		{"dns query", udpPkt(t0, c1, 53000, s1, 53, 30), true, true, 53, true},
		{"dns reply", udpPkt(t0, s1, 53, c1, 53000, 30), false, true, 53, true},
		{"ntp symmetric", udpPkt(t0, c1, 123, s1, 123, 48), true, true, 123, true},
		{"rsh: privileged client port", udpPkt(t0, s1, 514, c1, 1023, 10), false, true, 514, true},
		{"both ephemeral", udpPkt(t0, c1, 40000, s1, 50000, 10), true, true, 50000, true},
		{"icmp echo request", icmp(8, false), true, false, 0, true},
		{"icmp echo reply", icmp(0, false), false, false, 0, true},
		{"icmp unreachable", icmp(3, false), true, true, 0, true},
		{"icmpv6 echo reply", icmp(129, true), false, false, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := NewTable(DefaultConfig(), nil)
			ev := tb.Observe(c.p)
			f := ev.Flow
			src := netip.AddrPortFrom(c.p.SrcIP, c.p.SrcPort)
			if !hasPorts(c.p.Proto) {
				src = netip.AddrPortFrom(c.p.SrcIP, 0)
			}
			if got := f.Client == src; got != c.clientIsSrc {
				t.Errorf("client %v server %v, want client is src=%v", f.Client, f.Server, c.clientIsSrc)
			}
			wantDir := ClientToServer
			if !c.clientIsSrc {
				wantDir = ServerToClient
			}
			if ev.Dir != wantDir || !ev.New {
				t.Errorf("event %+v", ev)
			}
			if f.InitiatorGuessed != c.guessed {
				t.Errorf("InitiatorGuessed %v", f.InitiatorGuessed)
			}
			if c.checkSrvPorts && f.Server.Port() != c.wantSrvPort {
				t.Errorf("server port %d, want %d", f.Server.Port(), c.wantSrvPort)
			}
			if f.Key() != KeyOf(c.p) {
				t.Errorf("Flow.Key %v != KeyOf %v", f.Key(), KeyOf(c.p))
			}
			if tb.Lookup(KeyOf(c.p)) != f {
				t.Error("Lookup")
			}
		})
	}
}

func TestHandshakeAndClose(t *testing.T) {
	var r recorder
	tb := NewTable(DefaultConfig(), r.onEnd)
	c := &conn{t: t, tb: tb, ts: t0, cseq: 1000, sseq: 5000}

	ev := c.c2s(0, SYN, 0)
	f := ev.Flow
	if !ev.New || f.TCP.State != TCPSynSent || f.InitiatorGuessed {
		t.Fatalf("after SYN: %+v state %v", ev, f.TCP.State)
	}
	ev = c.s2c(10*ms, SYN|ACK, 0)
	if ev.New || ev.Dir != ServerToClient || f.TCP.State != TCPSynReceived || f.TCP.ServerRTT != 10*ms {
		t.Fatalf("after SYN-ACK: %+v %+v", ev, f.TCP)
	}
	ev = c.c2s(2*ms, ACK, 0)
	if ev.HandshakeRTT != 12*ms || f.TCP.ClientRTT != 2*ms || f.TCP.HandshakeRTT != 12*ms ||
		!f.TCP.HandshakeComplete || f.TCP.State != TCPEstablished {
		t.Fatalf("after ACK: %+v %+v", ev, f.TCP)
	}
	if ev = c.c2s(ms, ACK|PSH, 100); ev.HandshakeRTT != 0 || ev.Retransmission || ev.OutOfOrder {
		t.Fatalf("data: %+v", ev)
	}
	c.s2c(ms, ACK|PSH, 1000)
	ev = c.c2s(ms, FIN|ACK, 0)
	if f.TCP.State != TCPFinWait || ev.Closed {
		t.Fatalf("after first FIN: %v %+v", f.TCP.State, ev)
	}
	if ev = c.s2c(ms, FIN|ACK, 0); !ev.Closed || f.TCP.State != TCPClosed {
		t.Fatalf("after second FIN: %v %+v", f.TCP.State, ev)
	}
	if ev = c.c2s(ms, ACK, 0); ev.Closed || ev.New {
		t.Fatalf("final ACK: %+v", ev)
	}
	// A late retransmission of the server's data still lands on the flow.
	late := tcpPkt(c.ts+5*sec, srv, 80, cli, 40000, ACK|PSH, 5001, c.cseq, 1000)
	if ev = tb.Observe(late); ev.New || !ev.Retransmission || ev.Flow != f {
		t.Fatalf("late retransmission: %+v", ev)
	}
	s := f.Stats
	if s[0].Packets != 5 || s[1].Packets != 4 || s[0].PayloadBytes != 100 || s[1].PayloadBytes != 2000 ||
		s[0].Bytes != 5*40+100 || s[1].Retransmissions != 1 {
		t.Errorf("stats %+v", s)
	}
	if f.Win[0].Packets != 5 || f.Win[1].Bytes != 4*40+2000 {
		t.Errorf("window %+v", f.Win)
	}
	f.ResetWindow()
	if f.Win != [2]WindowStats{} {
		t.Error("ResetWindow")
	}
	if f.TCP.SYN != [2]uint32{1, 0} || f.TCP.SYNACK != [2]uint32{0, 1} || f.TCP.FIN != [2]uint32{1, 1} {
		t.Errorf("flag counts %+v", f.TCP)
	}
	// Closed flows end TCPClosedTimeout after their last packet.
	last := c.ts + 5*sec
	tb.Expire(last + 10*sec - 1)
	if tb.Len() != 1 {
		t.Fatal("closed flow ended early")
	}
	tb.Expire(last + 10*sec)
	if tb.Len() != 0 || len(r.ends) != 1 || r.ends[0].why != EndClosed {
		t.Fatalf("closed flow not ended: %d %+v", tb.Len(), r.ends)
	}
	if st := tb.Stats(); st.Created != 1 || st.EndedClosed != 1 || st.Active != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRSTCloses(t *testing.T) {
	tb := NewTable(DefaultConfig(), nil)
	c := &conn{tb: tb, ts: t0, cseq: 1, sseq: 1}
	c.c2s(0, SYN, 0)
	ev := c.s2c(ms, RST|ACK, 0)
	if !ev.Closed || ev.Flow.TCP.State != TCPClosed || ev.Flow.TCP.RST != [2]uint32{0, 1} {
		t.Fatalf("%+v %+v", ev, ev.Flow.TCP)
	}
	if ev = c.s2c(ms, RST|ACK, 0); ev.Closed || ev.Retransmission {
		t.Fatalf("second RST: %+v", ev)
	}
}

func TestRetransmissionAndOutOfOrder(t *testing.T) {
	tb := NewTable(DefaultConfig(), nil)
	var base uint32 = 0xffffff00 // crosses 2^32 on the way
	seg := func(seq uint32, n int, flags uint8) Event {
		return tb.Observe(tcpPkt(t0, cli, 40000, srv, 80, flags, seq, 1, n))
	}
	type step struct {
		seq     uint32
		n       int
		flags   uint8
		re, ooo bool
		comment string
	}
	steps := []step{
		{base, 100, ACK, false, false, "first segment (mid-stream): no history"},
		{base + 100, 100, ACK, false, false, "in order"},
		{base + 300, 100, ACK, false, true, "gap [200,300): out of order"},
		{base + 200, 50, ACK, false, false, "fills the gap: neither"},
		{base + 250, 50, ACK, false, false, "fills the rest"},
		{base + 250, 50, ACK, true, false, "gap closed: the same bytes again are a retransmission"},
		{base + 100, 100, ACK, true, false, "old data"},
		{base + 399, 1, ACK, false, false, "keep-alive probe (1 byte below next)"},
		{base + 399, 0, ACK, false, false, "keep-alive without data / duplicate ACK"},
		{base + 350, 100, ACK, false, false, "overlaps and extends: new data"},
		{base + 450, 10, FIN | ACK, false, false, "FIN with data"},
		{base + 450, 10, FIN | ACK, true, false, "FIN retransmitted"},
		{base + 460, 0, FIN | ACK, true, false, "bare FIN retransmitted"},
		{base + 0x7000_0000, 10, ACK, false, false, "beyond any window: resynchronise, count nothing"},
		{base + 0x7000_000a, 10, ACK, false, false, "in order after the resync"},
	}
	for i, s := range steps {
		ev := seg(s.seq, s.n, s.flags)
		if ev.Retransmission != s.re || ev.OutOfOrder != s.ooo {
			t.Errorf("step %d (%s): retrans=%v ooo=%v, want %v %v", i, s.comment, ev.Retransmission, ev.OutOfOrder, s.re, s.ooo)
		}
	}
	f := tb.Lookup(KeyOf(tcpPkt(t0, cli, 40000, srv, 80, ACK, 0, 0, 0)))
	if f.Stats[0].Retransmissions != 4 || f.Stats[0].OutOfOrder != 1 {
		t.Errorf("counts %+v", f.Stats[0])
	}
}

func TestZeroWindow(t *testing.T) {
	tb := NewTable(DefaultConfig(), nil)
	p := tcpPkt(t0, srv, 80, cli, 40000, SYN|ACK, 1, 1, 0)
	p.Window = 0
	tb.Observe(p) // not counted on SYN (as tshark)
	p = tcpPkt(t0, cli, 40000, srv, 80, ACK, 1, 2, 0)
	p.Window = 0
	ev := tb.Observe(p)
	if ev.Flow.Stats[0].ZeroWindow != 1 || ev.Flow.Stats[1].ZeroWindow != 0 {
		t.Errorf("%+v", ev.Flow.Stats)
	}
}

// Karn-like RTT sampling with retransmitted SYNs and SYN-ACKs (the cases of
// DeepFlow's syn-retrans / syn-syn-ack-retrans(-2) captures, in small).
func TestHandshakeRetransmissions(t *testing.T) {
	type pkt struct {
		dt    int64
		c2s   bool
		flags uint8
	}
	cases := []struct {
		name                        string
		pkts                        []pkt
		server, client, hs, retrans int64
	}{
		{"syn retransmitted", []pkt{{0, true, SYN}, {100 * ms, true, SYN}, {216 * ms, false, SYN | ACK}, {9 * ms, true, ACK}},
			216 * ms, 9 * ms, 225 * ms, 1},
		{"syn and syn-ack retransmitted", []pkt{{0, true, SYN}, {100 * ms, true, SYN}, {216 * ms, false, SYN | ACK}, {216 * ms, false, SYN | ACK}, {9 * ms, true, ACK}},
			216 * ms, 9 * ms, 441 * ms, 2},
		{"syn-ack before syn (capture reordering): no timing", []pkt{{0, false, SYN | ACK}, {100 * ms, true, SYN}, {9 * ms, true, ACK}},
			0, 0, 0, 0},
		{"client data before the syn-ack: no timing", []pkt{{0, true, SYN}, {2 * ms, true, ACK}, {1 * ms, false, SYN | ACK}, {9 * ms, true, ACK}},
			0, 0, 0, 0},
		{"flow starts with the syn-ack: client side only", []pkt{{0, false, SYN | ACK}, {9 * ms, true, ACK}},
			0, 9 * ms, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := NewTable(DefaultConfig(), nil)
			ts := t0
			var f *Flow
			var hs int64
			for _, p := range c.pkts {
				ts += p.dt
				var ev Event
				if p.c2s {
					ev = tb.Observe(tcpPkt(ts, cli, 40000, srv, 80, p.flags, 1000, 5001, 0))
				} else {
					ev = tb.Observe(tcpPkt(ts, srv, 80, cli, 40000, p.flags, 5000, 1001, 0))
				}
				f = ev.Flow
				if ev.HandshakeRTT != 0 {
					hs = ev.HandshakeRTT
				}
			}
			ti := f.TCP
			if ti.ServerRTT != c.server || ti.ClientRTT != c.client || ti.HandshakeRTT != c.hs || hs != c.hs {
				t.Errorf("rtt server %v client %v handshake %v (event %v), want %v %v %v",
					time.Duration(ti.ServerRTT), time.Duration(ti.ClientRTT), time.Duration(ti.HandshakeRTT), time.Duration(hs),
					time.Duration(c.server), time.Duration(c.client), time.Duration(c.hs))
			}
			if r := int64(f.Stats[0].Retransmissions + f.Stats[1].Retransmissions); r != c.retrans {
				t.Errorf("retransmissions %d, want %d", r, c.retrans)
			}
			if ti.State != TCPEstablished || tb.Len() != 1 {
				t.Errorf("state %v, %d flows", ti.State, tb.Len())
			}
		})
	}
}

func TestPortReuse(t *testing.T) {
	var r recorder
	tb := NewTable(DefaultConfig(), r.onEnd)
	c := &conn{tb: tb, ts: t0, cseq: 1000, sseq: 5000}
	c.c2s(0, SYN, 0)
	c.s2c(ms, SYN|ACK, 0)
	c.c2s(ms, ACK, 0)
	c.c2s(ms, FIN|ACK, 0)
	c.s2c(ms, FIN|ACK, 0)
	old := tb.Lookup(KeyOf(tcpPkt(0, cli, 40000, srv, 80, 0, 0, 0, 0)))

	// The first SYN again (same ISN) is a late retransmission.
	ev := tb.Observe(tcpPkt(c.ts+ms, cli, 40000, srv, 80, SYN, 1000, 0, 0))
	if ev.New || !ev.Retransmission || ev.Flow != old {
		t.Fatalf("same-ISN SYN: %+v", ev)
	}
	// A SYN with a new ISN is a new connection on the same ports.
	ev = tb.Observe(tcpPkt(c.ts+2*ms, cli, 40000, srv, 80, SYN, 777777, 0, 0))
	if !ev.New || ev.Retransmission || ev.Flow.TCP.State != TCPSynSent {
		t.Fatalf("new-ISN SYN: %+v", ev)
	}
	if len(r.ends) != 1 || r.ends[0].why != EndClosed || r.ends[0].f.TCP.State != TCPClosed {
		t.Fatalf("old flow not ended as closed: %+v", r.ends)
	}
	if tb.Len() != 1 || tb.Stats().Created != 2 {
		t.Fatalf("len %d stats %+v", tb.Len(), tb.Stats())
	}
	// A SYN with yet another ISN while the attempt is open: the client
	// gave up and reconnected from the same port.
	ev = tb.Observe(tcpPkt(c.ts+3*ms, cli, 40000, srv, 80, SYN, 888888, 0, 0))
	if !ev.New || r.count(EndClosed) != 2 {
		t.Fatalf("second reuse: %+v %d", ev, r.count(EndClosed))
	}
	// A mid-stream flow (no handshake seen) followed by a SYN.
	tb2 := NewTable(DefaultConfig(), r.onEnd)
	tb2.Observe(tcpPkt(t0, cli, 40001, srv, 80, ACK, 1, 1, 10))
	if ev := tb2.Observe(tcpPkt(t0+sec, cli, 40001, srv, 80, SYN, 99, 0, 0)); !ev.New || tb2.Len() != 1 {
		t.Fatalf("SYN after mid-stream: %+v", ev)
	}
	// A mid-stream flow whose guessed client then receives a SYN: the
	// other side opens a new connection (the guess is not trusted).
	tb5 := NewTable(DefaultConfig(), nil)
	tb5.Observe(tcpPkt(t0, cli, 5000, srv, 6000, ACK, 1, 1, 10))
	if ev := tb5.Observe(tcpPkt(t0+sec, srv, 6000, cli, 5000, SYN, 99, 0, 0)); !ev.New || ev.Flow.Client != netip.AddrPortFrom(srv, 6000) {
		t.Fatalf("reverse SYN after mid-stream: %+v", ev)
	}
	// A reversed connection on a closed flow: the old server connects back.
	tb3 := NewTable(DefaultConfig(), nil)
	tb3.Observe(tcpPkt(t0, cli, 5000, srv, 5001, SYN, 1, 0, 0))
	tb3.Observe(tcpPkt(t0, srv, 5001, cli, 5000, RST|ACK, 0, 2, 0))
	ev = tb3.Observe(tcpPkt(t0+sec, srv, 5001, cli, 5000, SYN, 50, 0, 0))
	if !ev.New || ev.Flow.Client != netip.AddrPortFrom(srv, 5001) {
		t.Fatalf("reversed reuse: %+v", ev)
	}
	// Simultaneous open (a bare SYN from the server side of an opening flow) stays.
	tb4 := NewTable(DefaultConfig(), nil)
	tb4.Observe(tcpPkt(t0, cli, 5000, srv, 5001, SYN, 1, 0, 0))
	if ev := tb4.Observe(tcpPkt(t0, srv, 5001, cli, 5000, SYN, 50, 0, 0)); ev.New {
		t.Fatal("simultaneous open split the flow")
	}
}

func TestTimeouts(t *testing.T) {
	var r recorder
	cfg := DefaultConfig()
	tb := NewTable(cfg, r.onEnd)
	// One flow per class, all seen at t0.
	tb.Observe(udpPkt(t0, cli, 40000, srv, 53, 10))               // idle 60s
	tb.Observe(tcpPkt(t0, cli, 40001, srv, 80, SYN, 1, 0, 0))     // half-open 75s
	tb.Observe(tcpPkt(t0, cli, 40002, srv, 80, ACK, 1, 1, 10))    // mid-stream 300s
	tb.Observe(tcpPkt(t0, cli, 40003, srv, 80, RST|ACK, 1, 1, 0)) // closed 10s
	tb.Observe(tcpPkt(t0, cli, 40004, srv, 80, FIN|ACK, 1, 1, 0)) // fin-wait: 300s
	tb.Observe(tcpPkt(t0, srv, 80, cli, 40005, SYN|ACK, 1, 1, 0)) // half-open 75s
	want := []struct {
		at   int64
		left int
	}{
		{t0 + 10*sec - 1, 6}, {t0 + 10*sec, 5}, {t0 + 60*sec, 4}, {t0 + 75*sec, 2}, {t0 + 300*sec - 1, 2}, {t0 + 300*sec, 0},
	}
	for _, w := range want {
		tb.Expire(w.at)
		if tb.Len() != w.left {
			t.Fatalf("at +%v: %d flows, want %d", time.Duration(w.at-t0), tb.Len(), w.left)
		}
	}
	if r.count(EndClosed) != 1 || r.count(EndIdle) != 5 {
		t.Errorf("ends %+v", r.ends)
	}
	st := tb.Stats()
	if st.Created != 6 || st.EndedIdle != 5 || st.EndedClosed != 1 || st.Active != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A packet keeps its flow alive; the move to the back of the LRU list is
// what lets Expire stop at the first live flow.
func TestActivityDefersExpiry(t *testing.T) {
	tb := NewTable(DefaultConfig(), nil)
	tb.Observe(udpPkt(t0, cli, 1, srv, 53, 10))
	tb.Observe(udpPkt(t0+sec, cli, 2, srv, 53, 10))
	tb.Observe(udpPkt(t0+50*sec, cli, 1, srv, 53, 10)) // flow 1 is now the most recent
	tb.Expire(t0 + 61*sec)
	if tb.Len() != 1 || tb.Lookup(KeyOf(udpPkt(0, cli, 1, srv, 53, 0))) == nil {
		t.Fatalf("wrong flow expired: %d", tb.Len())
	}
}

// Observe ends a flow whose timeout has passed even if Expire was not
// called: results do not depend on the caller's Expire cadence.
func TestLazyExpiry(t *testing.T) {
	var r recorder
	tb := NewTable(DefaultConfig(), r.onEnd)
	tb.Observe(udpPkt(t0, cli, 40000, srv, 53, 10))
	ev := tb.Observe(udpPkt(t0+61*sec, cli, 40000, srv, 53, 10))
	if !ev.New || len(r.ends) != 1 || r.ends[0].why != EndIdle || tb.Len() != 1 {
		t.Fatalf("%+v %+v", ev, r.ends)
	}
}

// Time going backwards (stitched captures) is clamped: lists stay ordered,
// nothing expires early, no duration goes negative.
func TestTimeBackwards(t *testing.T) {
	var r recorder
	tb := NewTable(DefaultConfig(), r.onEnd)
	tb.Observe(udpPkt(t0+1000*sec, cli, 1, srv, 53, 10))
	// The second file starts 1000 s earlier.
	ev := tb.Observe(udpPkt(t0, cli, 2, srv, 53, 10))
	tb.Observe(udpPkt(t0+sec, cli, 1, srv, 53, 10))
	tb.Expire(t0 + 2*sec) // clamped to the newest time seen: nothing is due
	if tb.Len() != 2 {
		t.Fatalf("%d flows", tb.Len())
	}
	if f := ev.Flow; f.First != t0 || f.Last != t0 {
		t.Errorf("first/last %d %d", f.First, f.Last)
	}
	f1 := tb.Lookup(KeyOf(udpPkt(0, cli, 1, srv, 53, 0)))
	if f1.Last != t0+1000*sec || f1.First != t0+1000*sec {
		t.Errorf("Last must not go backwards: %d", f1.Last-t0)
	}
	tb.Expire(t0 + 1060*sec)
	if tb.Len() != 0 || r.count(EndIdle) != 2 {
		t.Fatalf("%d flows", tb.Len())
	}
}

func TestActiveTimeout(t *testing.T) {
	var r recorder
	cfg := DefaultConfig()
	cfg.ActiveTimeout = 60 * time.Second
	tb := NewTable(cfg, r.onEnd)
	for i := int64(0); i <= 150; i++ {
		tb.Expire(t0 + i*sec)
		tb.Observe(udpPkt(t0+i*sec, cli, 40000, srv, 53, 10))
		if i == 100 {
			tb.Observe(udpPkt(t0+i*sec, cli, 40001, srv, 53, 10))
		}
	}
	// Reports at +60 s and +120 s for the long flow; the short one started
	// at +100 s is due at +160 s.
	if r.count(EndActive) != 2 || tb.Len() != 2 {
		t.Fatalf("ends %d len %d", len(r.ends), tb.Len())
	}
	if p := r.ends[0].f.Stats[0].Packets; p != 60 {
		t.Errorf("first report: %d packets, want 60", p)
	}
	if p := r.ends[1].f.Stats[0].Packets; p != 60 {
		t.Errorf("second report: %d packets, want 60", p)
	}
	f := tb.Lookup(KeyOf(udpPkt(0, cli, 40000, srv, 53, 0)))
	if f.Stats[0].Packets != 31 || f.PeriodStart != t0+120*sec || f.First != t0 {
		t.Errorf("after reports: %d packets, period start +%d, first %d", f.Stats[0].Packets, (f.PeriodStart-t0)/sec, f.First)
	}
	st := tb.Stats()
	if st.EndedActive != 2 || st.Active != 2 || st.Created != 2 {
		t.Errorf("stats %+v", st)
	}
	tb.Flush()
	if r.count(EndFlush) != 2 || tb.Len() != 0 {
		t.Errorf("flush: %d", r.count(EndFlush))
	}
}

func TestEvictionLRU(t *testing.T) {
	var r recorder
	cfg := DefaultConfig()
	cfg.MaxFlows = 3
	tb := NewTable(cfg, r.onEnd)
	for i := range 3 {
		tb.Observe(udpPkt(t0+int64(i)*sec, cli, uint16(1000+i), srv, 53, 10))
	}
	tb.Observe(udpPkt(t0+3*sec, cli, 1000, srv, 53, 10)) // 1000 is now the most recent: 1001 is the LRU
	tb.Observe(udpPkt(t0+4*sec, cli, 2000, srv, 53, 10))
	if tb.Len() != 3 || len(r.ends) != 1 || r.ends[0].why != EndEvicted || r.ends[0].f.Client.Port() != 1001 {
		t.Fatalf("len %d ends %+v", tb.Len(), r.ends)
	}
	// A full table first ends flows whose timeout has passed: they are not
	// evictions.
	tb.Observe(udpPkt(t0+100*sec, cli, 3000, srv, 53, 10))
	if st := tb.Stats(); st.Evicted != 1 || st.EndedIdle != 3 || tb.Len() != 1 {
		t.Fatalf("stats %+v len %d", st, tb.Len())
	}
}

func TestRangeAndFlush(t *testing.T) {
	var r recorder
	tb := NewTable(DefaultConfig(), r.onEnd)
	for i := range 100 {
		tb.Observe(udpPkt(t0, cli, uint16(1000+i), srv, 53, 10))
		tb.Observe(tcpPkt(t0, cli, uint16(1000+i), srv, 80, SYN, 1, 0, 0))
	}
	n := 0
	tb.Range(func(f *Flow) bool { n++; f.Tag = 7; return true })
	if n != 200 {
		t.Fatalf("Range saw %d", n)
	}
	n = 0
	tb.Range(func(*Flow) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("Range did not stop: %d", n)
	}
	tb.Flush()
	if tb.Len() != 0 || r.count(EndFlush) != 200 || tb.Stats().Flushed != 200 {
		t.Fatalf("flush: %d %d", tb.Len(), r.count(EndFlush))
	}
	// Recycled flows start clean.
	ev := tb.Observe(udpPkt(t0, cli, 40000, srv, 53, 10))
	if ev.Flow.Tag != 0 || ev.Flow.Stats[0].Packets != 1 || ev.Flow.Stats[1].Packets != 0 {
		t.Errorf("recycled flow not reset: %+v", ev.Flow)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		mod   func(*Config)
		field string
	}{
		{func(c *Config) { c.MaxFlows = 0 }, "MaxFlows"},
		{func(c *Config) { c.MaxFlows = 1 << 31 }, "MaxFlows"},
		{func(c *Config) { c.IdleTimeout = 0 }, "IdleTimeout"},
		{func(c *Config) { c.TCPIdleTimeout = -1 }, "TCPIdleTimeout"},
		{func(c *Config) { c.TCPClosedTimeout = 0 }, "TCPClosedTimeout"},
		{func(c *Config) { c.TCPSynTimeout = 0 }, "TCPSynTimeout"},
		{func(c *Config) { c.ActiveTimeout = -time.Second }, "ActiveTimeout"},
	}
	for _, b := range bad {
		c := DefaultConfig()
		b.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), b.field) {
			t.Errorf("%s: %v", b.field, err)
		}
	}
	// Zero fields take defaults.
	tb := NewTable(Config{}, nil)
	if tb.cfg != DefaultConfig() {
		t.Errorf("defaults: %+v", tb.cfg)
	}
	defer func() {
		if recover() == nil {
			t.Error("NewTable accepted an invalid config")
		}
	}()
	NewTable(Config{MaxFlows: -1}, nil)
}

func TestStrings(t *testing.T) {
	names := map[EndReason]string{EndIdle: "idle", EndClosed: "closed", EndEvicted: "evicted", EndActive: "active", EndFlush: "flush"}
	for r, n := range names {
		if r.String() != n {
			t.Errorf("%d: %s", r, r.String())
		}
	}
	if TCPEstablished.String() != "established" || TCPMidStream.String() != "mid_stream" || TCPState(99).String() != "unknown" {
		t.Error("TCPState names")
	}
	if ServerToClient.String() != "server_to_client" {
		t.Error("Dir names")
	}
}

// Observe must not allocate once the table has its flows (the hot path),
// nor when it recycles ended flows.
func TestObserveDoesNotAllocate(t *testing.T) {
	tb := NewTable(DefaultConfig(), nil)
	pkts := make([]*decode.Packet, 1000)
	for i := range pkts {
		pkts[i] = tcpPkt(t0, cli, uint16(10000+i), srv, 80, ACK, uint32(i), 1, 100)
	}
	for _, p := range pkts {
		tb.Observe(p)
	}
	i := 0
	if a := testing.AllocsPerRun(10000, func() {
		p := pkts[i%len(pkts)]
		p.Seq += 100
		tb.Observe(p)
		i++
	}); a != 0 {
		t.Errorf("existing flows: %v allocs per packet", a)
	}
	tb.Flush()
	if a := testing.AllocsPerRun(999, func() {
		tb.Observe(pkts[i%len(pkts)])
		i++
	}); a != 0 {
		t.Errorf("recycled flows: %v allocs per packet", a)
	}
}
