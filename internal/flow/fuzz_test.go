package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
)

// FuzzObserve drives a small table with a byte-coded sequence of packets
// between a few endpoints (random flags, sequence numbers, lengths and
// timestamps that may go backwards), Expire and Flush calls, and checks
// the table's invariants after every step.
//
// Input: byte 0 configures the table (MaxFlows 1–8, active timeout on or
// off); then 8 bytes per step.
func FuzzObserve(f *testing.F) {
	f.Add([]byte{0x03,
		0x04, 0x00, SYN, 0, 0, 0, 1, 0, // c→s SYN
		0x01, 0x00, SYN | ACK, 0, 0, 0, 1, 1, // s→c SYN-ACK
		0x04, 0x00, ACK, 0, 0, 0, 1, 1, // ACK
		0x04, 0x00, ACK | PSH, 0, 0, 100, 1, 1, // data
		0x04, 0x00, ACK | PSH, 0x9c, 0, 100, 1, 1, // old data again
		0x04, 0x00, FIN | ACK, 0, 0, 0, 1, 1,
		0x01, 0x00, FIN | ACK, 0, 0, 0, 1, 1,
		0xe0, 40, 0, 0, 0, 0, 0, 0, // Expire
	})
	f.Add([]byte{0x09,
		0x04, 0x05, 0, 0, 0, 10, 0x80, 0, // UDP, time backwards
		0x09, 0x06, 0, 0, 0, 10, 0x7f, 0,
		0x0e, 0x01, RST, 0, 0, 0, 0x7f, 0,
		0xdf, 0, 0, 0, 0, 0, 0, 0, // Flush
		0x04, 0x02, 0, 0, 0, 10, 0x10, 0,
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg := Config{
			MaxFlows:         1 + int(data[0]&7),
			IdleTimeout:      5 * time.Second,
			TCPIdleTimeout:   20 * time.Second,
			TCPClosedTimeout: 2 * time.Second,
			TCPSynTimeout:    3 * time.Second,
		}
		if data[0]&8 != 0 {
			cfg.ActiveTimeout = 4 * time.Second
		}
		data = data[1:]
		var ends, reports uint64
		var tb *Table
		tb = NewTable(cfg, func(f *Flow, why EndReason) {
			if why < EndIdle || why > EndFlush {
				t.Fatalf("bad reason %d", why)
			}
			if tb.Lookup(f.Key()) != f {
				t.Fatalf("OnEnd for a flow the table does not hold")
			}
			if why == EndActive {
				reports++
			} else {
				ends++
			}
		})
		addrs := []netip.Addr{
			netip.MustParseAddr("10.0.0.1"),
			netip.MustParseAddr("10.0.0.2"),
			netip.MustParseAddr("2001:db8::1"),
			netip.MustParseAddr("::ffff:10.0.0.1"), // not the same as 10.0.0.1
		}
		ports := []uint16{80, 443, 40000, 53}
		protos := []uint8{decode.ProtoTCP, decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP}
		var seq [4]uint32
		ts := int64(1_600_000_000) * sec
		for ; len(data) >= 8; data = data[8:] {
			b := data[:8]
			switch {
			case b[0]&0xe0 == 0xe0:
				tb.Expire(ts + int64(int8(b[1]))*sec/4)
				checkTable(t, tb, cfg, ends, reports)
				continue
			case b[0] == 0xdf:
				tb.Flush()
				if tb.Len() != 0 {
					t.Fatal("Flush left flows")
				}
				checkTable(t, tb, cfg, ends, reports)
				continue
			}
			// addrs[0:2] are IPv4, addrs[2:4] IPv6: one version per packet.
			si, di := int(b[0]&3), int(b[0]>>2&3)
			di = di&1 | si&2
			src, dst := addrs[si], addrs[di]
			v := uint8(4)
			if si&2 != 0 {
				v = 6
			}
			seq[si] += uint32(int8(b[3])) * 10
			ts += int64(int8(b[6])) * 50 * ms
			p := decode.Packet{
				Timestamp: ts, IPVersion: v, SrcIP: src, DstIP: dst,
				Proto:   protos[b[1]&3],
				SrcPort: ports[b[1]>>2&3], DstPort: ports[b[1]>>4&3],
				TCPFlags: b[2], Seq: seq[si], Ack: uint32(b[7]) << 8, Window: uint16(b[4]),
				PayloadLen: int(b[5]), IPLen: 40 + int(b[5]),
				NumVLANs: b[1] >> 7, VLANs: [2]uint16{7}, ICMPType: b[4] & 15,
			}
			seq[si] += uint32(b[5])
			ev := tb.Observe(&p)
			fl := ev.Flow
			if fl == nil || tb.Lookup(KeyOf(&p)) != fl {
				t.Fatal("event flow is not the packet's flow")
			}
			sp := p.SrcPort
			if !hasPorts(p.Proto) {
				sp = 0
			}
			from := fl.Client
			if ev.Dir == ServerToClient {
				from = fl.Server
			}
			if from != netip.AddrPortFrom(p.SrcIP, sp) && fl.Client != fl.Server {
				t.Fatalf("direction %v: packet from %v, flow %v→%v", ev.Dir, p.SrcIP, fl.Client, fl.Server)
			}
			if fl.Stats[ev.Dir].Packets == 0 || fl.Win[ev.Dir].Packets == 0 {
				t.Fatal("packet not counted")
			}
			if ev.HandshakeRTT < 0 || fl.TCP.ServerRTT < 0 || fl.TCP.ClientRTT < 0 || fl.TCP.HandshakeRTT < 0 {
				t.Fatal("negative RTT")
			}
			if ev.Closed && fl.TCP.State != TCPClosed {
				t.Fatal("Closed event on an open flow")
			}
			checkTable(t, tb, cfg, ends, reports)
		}
		tb.Flush()
		checkTable(t, tb, cfg, ends, reports)
		if st := tb.Stats(); st.Active != 0 || st.Created != ends {
			t.Fatalf("after flush: %+v, %d ends", st, ends)
		}
	})
}

// checkTable verifies the table's internal and external invariants.
func checkTable(t *testing.T, tb *Table, cfg Config, ends, reports uint64) {
	t.Helper()
	st := tb.Stats()
	if tb.Len() > cfg.MaxFlows {
		t.Fatalf("%d flows > MaxFlows %d", tb.Len(), cfg.MaxFlows)
	}
	if st.Created-st.Active != st.EndedIdle+st.EndedClosed+st.Evicted+st.Flushed || st.Created-st.Active != ends {
		t.Fatalf("accounting: %+v, %d OnEnd calls", st, ends)
	}
	if st.EndedActive != reports {
		t.Fatalf("active reports %d, stats %d", reports, st.EndedActive)
	}
	if tb.idx.n != tb.Len() {
		t.Fatalf("index holds %d, table %d", tb.idx.n, tb.Len())
	}
	n := 0
	for c := range tb.lists {
		var prev int64 = -1 << 63
		var back ref
		for r := tb.lists[c].head; r != 0; r = tb.flow(r).next {
			f := tb.flow(r)
			if f.class != uint8(c) || f.prev != back {
				t.Fatalf("list %d broken", c)
			}
			// Ordered by listed; touched at most lazy after it.
			if f.listed < prev || f.listed > f.touched || f.touched-f.listed >= max(tb.lazy[c], 1) {
				t.Fatalf("list %d out of order: listed %d after %d, touched %d", c, f.listed, prev, f.touched)
			}
			prev, back = f.listed, r
			n++
		}
		if tb.lists[c].tail != back {
			t.Fatalf("list %d tail", c)
		}
		if h := tb.lists[c].head; h != 0 && tb.lists[c].headListed != tb.flow(h).listed {
			t.Fatalf("list %d headListed %d, head listed %d", c, tb.lists[c].headListed, tb.flow(h).listed)
		}
	}
	if n != tb.Len() {
		t.Fatalf("lists hold %d flows, table %d", n, tb.Len())
	}
	if tb.active > 0 {
		m := 0
		var prev int64 = -1 << 63
		for r := tb.actList.head; r != 0; r = tb.flow(r).anext {
			if f := tb.flow(r); f.activeAt < prev {
				t.Fatal("active list out of order")
			} else {
				prev = f.activeAt
			}
			m++
		}
		if m != n {
			t.Fatalf("active list holds %d, table %d", m, n)
		}
	}
	tb.Range(func(f *Flow) bool {
		if tb.Lookup(f.Key()) != f {
			t.Fatalf("flow %v not found by its key", f.Key())
		}
		if (f.Proto == decode.ProtoTCP) != (f.TCP.State != TCPNone) {
			t.Fatalf("state %v for proto %d", f.TCP.State, f.Proto)
		}
		if f.First > f.Last {
			t.Fatalf("first %d > last %d", f.First, f.Last)
		}
		for d := range f.Stats {
			s := f.Stats[d]
			if s.Retransmissions+s.OutOfOrder > s.Packets || s.Packets > f.Win[d].Packets {
				t.Fatalf("dir %d: %+v win %+v", d, s, f.Win[d])
			}
		}
		return true
	})
}
