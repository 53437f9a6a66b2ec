package flow_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
)

func Example() {
	tb := flow.NewTable(flow.DefaultConfig(), func(f *flow.Flow, why flow.EndReason) {
		fmt.Printf("%v → %v ended (%v): %d+%d packets, state %v, handshake RTT %v\n",
			f.Client, f.Server, why, f.Stats[0].Packets, f.Stats[1].Packets, f.TCP.State, time.Duration(f.TCP.HandshakeRTT))
	})
	c, s := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.1")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	pkt := func(ms int64, fromClient bool, flags uint8, seq, ack uint32, n int) *decode.Packet {
		p := &decode.Packet{Timestamp: t0 + ms*1e6, IPVersion: 4, Proto: decode.ProtoTCP,
			SrcIP: c, DstIP: s, SrcPort: 50000, DstPort: 443,
			TCPFlags: flags, Seq: seq, Ack: ack, Window: 500, PayloadLen: n, IPLen: 40 + n}
		if !fromClient {
			p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = s, c, 443, 50000
		}
		return p
	}
	for _, p := range []*decode.Packet{
		pkt(0, true, decode.TCPSyn, 100, 0, 0),
		pkt(20, false, decode.TCPSyn|decode.TCPAck, 900, 101, 0),
		pkt(21, true, decode.TCPAck, 101, 901, 0),
		pkt(22, true, decode.TCPAck|decode.TCPPsh, 101, 901, 300),
		pkt(250, true, decode.TCPAck|decode.TCPPsh, 101, 901, 300), // retransmitted
		pkt(260, false, decode.TCPAck|decode.TCPPsh, 901, 401, 1200),
	} {
		ev := tb.Observe(p)
		if ev.Retransmission {
			fmt.Println("retransmission", ev.Dir)
		}
		if ev.HandshakeRTT > 0 {
			fmt.Println("handshake", time.Duration(ev.HandshakeRTT))
		}
	}
	tb.Expire(t0 + int64(10*time.Minute)) // idle for longer than TCPIdleTimeout
	fmt.Printf("%+v\n", tb.Stats())
	// Output:
	// handshake 21ms
	// retransmission client_to_server
	// 192.0.2.10:50000 → 198.51.100.1:443 ended (idle): 4+2 packets, state established, handshake RTT 21ms
	// {Active:0 Created:1 EndedIdle:1 EndedClosed:0 Evicted:0 EndedActive:0 Flushed:0}
}
