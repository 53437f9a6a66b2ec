package flow

import (
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
)

// Checks against DeepFlow's flow_generator captures and its expected
// results (shared/corpus/deepflow/flow_generator/*.result, printed by
// DeepFlow's agent tests: one PerfData per packet; the values below are
// the ones after the last packet), and against tshark 4.0:
//
//	tshark -r F -Y tcp.analysis.retransmission | wc -l      → tsharkRetrans
//	tshark -r F -T fields -e tcp.analysis.initial_rtt       → tsharkIRTT
//	tshark -r F -Y tcp.analysis.lost_segment | wc -l        → tsharkLost
//	tshark -r F -Y tcp.analysis.out_of_order | wc -l        → 0 for all of these files
//
// What is comparable:
//   - DeepFlow rtt_1 (server side, SYN→SYN-ACK), rtt_0 (client side,
//     SYN-ACK→ACK), rtt_full (SYN→ACK) ↔ our ServerRTT, ClientRTT,
//     HandshakeRTT. They agree when no SYN or SYN-ACK was retransmitted.
//     With retransmissions DeepFlow times every SYN-ACK against the FIRST
//     SYN (syn-retrans: 316.3 ms) and HandshakeRTT from the first SYN;
//     we time against the latest copy (Karn: 216.3 ms), and HandshakeRTT
//     then equals tshark's initial_rtt (latest SYN → ACK) exactly.
//   - DeepFlow syn / synack / fin_count ↔ our SYN[0] / SYNACK[1] /
//     FIN[0]+FIN[1]: same definition (packets with the flag, retransmitted
//     ones included); they agree on every file.
//   - DeepFlow retrans_0/1 ↔ our Retransmissions: DeepFlow counts
//     retransmitted SYN/SYN-ACK and data, but not a retransmitted bare FIN
//     (handshake-error: 2 vs our 3 client-side; tshark counts it too: 4 in
//     total, as we do), and it forgets segments whose range wraps past
//     2^32 (xiangdao-retrans: 2 vs our 6). DeepFlow's direction 0 is the
//     first packet's sender; ours is the client after the port heuristic
//     (in xiangdao-retrans the first sender is the Redis server, port 6379).
//   - DeepFlow ooo ↔ our OutOfOrder: never comparable on these files.
//     DeepFlow counts 0 everywhere; we count a segment that opens a gap,
//     which tshark reports as "previous segment not captured"
//     (tcp.analysis.lost_segment): client-keep-alive has 4 such gaps for
//     both tools; tshark flags the pure ACK that reveals a gap where we
//     wait for the next segment with sequence space (rtt-rtt-2: frame 13
//     for tshark, the FIN in frame 16 for us).
//   - DeepFlow close types (flow_map.rs state_machine tests) ↔ our state,
//     RST/SYN-ACK counters and end reason: noted per file.
//   - tshark retransmissions ↔ ours: equal on every file whose lengths are
//     known (tshark reads xiangdao-retrans's truncated frames as 0-byte
//     segments, so it finds none).
type corpusWant struct {
	file string

	state      TCPState
	complete   bool
	clientPort uint16 // to check the initiator
	guessed    bool

	syn, synack, fin [2]uint32
	rst              [2]uint32
	retrans, ooo     [2]uint64

	serverRTT, clientRTT, handshakeRTT time.Duration

	tsharkRetrans int           // tcp.analysis.retransmission frames
	tsharkIRTT    time.Duration // tcp.analysis.initial_rtt, 0 when tshark has none
	tsharkLost    int           // tcp.analysis.lost_segment frames
	irttDiffers   string        // why HandshakeRTT != tshark's initial_rtt
	retransDiffer string        // why our total != tshark's

	// DeepFlow's own numbers after the last packet, where a .result exists
	// (dfRTT: rtt_1 sum, rtt_0 sum, rtt_full; -1 = no .result).
	dfRetrans     [2]int
	dfServer      time.Duration
	dfClient      time.Duration
	dfFull        time.Duration
	dfRTTDiffers  string // why our RTTs differ from DeepFlow's
	dfReDiffers   string // why our retransmission counts differ from DeepFlow's
	deepflowClose string // DeepFlow's close type for the file, for the record
	endAfter      time.Duration
	endReason     EndReason // when endAfter > 0: the reason the flow ends that long after its last packet
}

const noDF = -1

var us = time.Microsecond

var corpusWants = []corpusWant{
	{file: "art-continues-payload-len-larger-than-1.pcap", state: TCPClosed, complete: true, clientPort: 42062,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 1}, fin: [2]uint32{1, 1},
		serverRTT: 10226 * us, clientRTT: 20322 * us, handshakeRTT: 30548 * us,
		tsharkIRTT: 30548 * us,
		dfRetrans:  [2]int{0, 0}, dfServer: 10226 * us, dfClient: 20322 * us, dfFull: 30548 * us},
	{file: "client_request_timewait_and_syn_synack_count.pcap", state: TCPEstablished, complete: true, clientPort: 63019,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 1},
		serverRTT: 477 * us, clientRTT: 193 * us, handshakeRTT: 670 * us,
		tsharkIRTT: 670 * us,
		dfRetrans:  [2]int{0, 0}, dfServer: 477 * us, dfClient: 193 * us, dfFull: 670 * us},
	{file: "rtt-syn-2-ack.pcap", state: TCPClosed, complete: true, clientPort: 80, // the client's source port is 80
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 1}, fin: [2]uint32{1, 1},
		serverRTT: 216300 * us, clientRTT: 9100 * us, handshakeRTT: 225400 * us,
		tsharkIRTT: 225400 * us,
		dfRetrans:  [2]int{0, 0}, dfServer: 216300 * us, dfClient: 9100 * us, dfFull: 225400 * us},
	{file: "rtt-200ms-window-update.pcap", state: TCPClosed, complete: true, clientPort: 80,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 1}, fin: [2]uint32{1, 1},
		serverRTT: 216300 * us, clientRTT: 9100 * us, handshakeRTT: 225400 * us,
		tsharkIRTT: 225400 * us,
		dfRetrans:  [2]int{0, 0}, dfServer: 216300 * us, dfClient: 9100 * us, dfFull: 225400 * us},
	{file: "client-keep-alive.pcap", state: TCPClosed, complete: true, clientPort: 46638,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 1}, fin: [2]uint32{1, 1},
		ooo:       [2]uint64{2, 2}, // segments past unseen data, in both directions (tshark: 4 lost_segment)
		serverRTT: 751 * us, clientRTT: 74 * us, handshakeRTT: 825 * us,
		tsharkIRTT: 825 * us, tsharkLost: 4,
		dfRetrans: [2]int{0, 0}, dfServer: 751 * us, dfClient: 74 * us, dfFull: 825 * us},
	{file: "syn-retrans.pcap", state: TCPClosed, complete: true, clientPort: 80,
		syn: [2]uint32{2, 0}, synack: [2]uint32{0, 1}, fin: [2]uint32{1, 1},
		retrans:   [2]uint64{1, 0},
		serverRTT: 216300 * us, clientRTT: 9100 * us, handshakeRTT: 225400 * us,
		tsharkRetrans: 1, tsharkIRTT: 225400 * us,
		dfRetrans: [2]int{1, 0}, dfServer: 316300 * us, dfClient: 9100 * us, dfFull: 325400 * us,
		dfRTTDiffers: "DeepFlow times the SYN-ACK against the first SYN; we use the retransmitted one (Karn), as tshark"},
	{file: "syn-syn-ack-retrans.pcap", state: TCPClosed, complete: true, clientPort: 80,
		syn: [2]uint32{2, 0}, synack: [2]uint32{0, 2}, fin: [2]uint32{1, 1},
		retrans:   [2]uint64{1, 1},
		serverRTT: 216300 * us, clientRTT: 9100 * us, handshakeRTT: 441700 * us,
		tsharkRetrans: 2, tsharkIRTT: 441700 * us,
		dfRetrans: [2]int{1, 1}, dfServer: 848900 * us, dfClient: 225400 * us, dfFull: 541700 * us,
		dfRTTDiffers: "DeepFlow sums two SYN-ACK samples against the first SYN (316.3+532.6 ms) and times the ACK from the first SYN-ACK"},
	{file: "syn-syn-ack-retrans-2.pcap", state: TCPClosed, complete: true, clientPort: 80,
		syn: [2]uint32{2, 0}, synack: [2]uint32{0, 2}, fin: [2]uint32{1, 1},
		retrans:   [2]uint64{1, 1},
		serverRTT: 216300 * us, clientRTT: 9100 * us, handshakeRTT: 225400 * us,
		tsharkRetrans: 2, tsharkIRTT: 225400 * us,
		dfRetrans: [2]int{1, 1}, dfServer: 748900 * us, dfClient: 325400 * us, dfFull: 541700 * us,
		dfRTTDiffers: "as syn-syn-ack-retrans: DeepFlow times against the first SYN and SYN-ACK"},
	{file: "syn-ack-ack-retrans-and-client-payload.pcap", state: TCPClosed, complete: true, clientPort: 46096,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 2}, fin: [2]uint32{1, 1},
		retrans:   [2]uint64{5, 1},
		serverRTT: 941 * us, clientRTT: 18 * us, handshakeRTT: 959 * us,
		tsharkRetrans: 6, tsharkIRTT: 959 * us,
		dfRetrans: [2]int{5, 1}, dfServer: 941 * us, dfClient: 18 * us, dfFull: 959 * us},
	{file: "rtt-rtt-2.pcap", state: TCPClosed, complete: true, clientPort: 59605,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 2}, fin: [2]uint32{1, 1},
		retrans:   [2]uint64{5, 1},
		ooo:       [2]uint64{1, 0}, // the client's FIN comes 544 bytes past the data seen (tshark: lost_segment on the ACK before)
		serverRTT: 10143 * us, clientRTT: 15512 * us, handshakeRTT: 25655 * us,
		tsharkRetrans: 6, tsharkIRTT: 25655 * us, tsharkLost: 1,
		dfRetrans: [2]int{5, 1}, dfServer: 10143 * us, dfClient: 15512 * us, dfFull: 25655 * us},
	{file: "out-of-order.pcap", state: TCPClosed, complete: true, clientPort: 80,
		// The SYN-ACK was captured before the SYN: nothing is timed (as DeepFlow).
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 1}, fin: [2]uint32{1, 1},
		tsharkIRTT:  9100 * us,
		irttDiffers: "tshark times SYN→ACK although the SYN-ACK was captured before the SYN",
		dfRetrans:   [2]int{0, 0}},
	{file: "handshake-error.pcap", state: TCPFinWait, complete: true, clientPort: 55522,
		// The client's ACK, data and FIN precede the SYN-ACK in the capture:
		// nothing is timed (as DeepFlow).
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 2}, fin: [2]uint32{4, 0},
		retrans:       [2]uint64{3, 1},
		tsharkRetrans: 4, tsharkIRTT: 1754 * us,
		irttDiffers: "tshark times SYN→first client ACK although no SYN-ACK had been seen",
		dfRetrans:   [2]int{2, 1},
		dfReDiffers: "DeepFlow does not count the retransmitted bare FIN (frame 6); tshark does"},
	{file: "handshake-retrans.pcap", state: TCPEstablished, complete: true, clientPort: 59605,
		syn: [2]uint32{2, 0}, synack: [2]uint32{0, 2},
		retrans:   [2]uint64{1, 1},
		serverRTT: 943 * us, clientRTT: 312 * us, handshakeRTT: 2198 * us,
		tsharkRetrans: 2, tsharkIRTT: 2198 * us,
		dfRetrans: [2]int{noDF, noDF}},
	{file: "server-queue-lack.pcap", state: TCPClosed, complete: true, clientPort: 48664,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 3}, rst: [2]uint32{0, 1},
		retrans:   [2]uint64{7, 2},
		serverRTT: 167 * us, clientRTT: 237 * us, handshakeRTT: 404 * us,
		tsharkRetrans: 9, tsharkIRTT: 404 * us,
		dfRetrans: [2]int{noDF, noDF}, deepflowClose: "ServerQueueLack: server resets after the client retransmitted its request"},
	{file: "client-no-response.pcap", state: TCPClosed, clientPort: 44468,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 4}, rst: [2]uint32{0, 2},
		retrans:       [2]uint64{0, 3},
		serverRTT:     54 * us,
		tsharkRetrans: 3,
		dfRetrans:     [2]int{noDF, noDF}, deepflowClose: "ServerEstablishReset: SYN-ACK repeated, then the server resets"},
	{file: "client-syn-try-lack.pcap", state: TCPClosed, clientPort: 44468,
		syn: [2]uint32{1, 0}, synack: [2]uint32{0, 4}, rst: [2]uint32{2, 0},
		retrans:       [2]uint64{0, 3},
		serverRTT:     54 * us,
		tsharkRetrans: 3,
		dfRetrans:     [2]int{noDF, noDF}, deepflowClose: "TcpFinClientRst: the client resets during the handshake"},
	{file: "server-no-response.pcap", state: TCPClosed, clientPort: 44468,
		syn: [2]uint32{4, 0}, rst: [2]uint32{2, 0},
		retrans:       [2]uint64{3, 0},
		tsharkRetrans: 3,
		dfRetrans:     [2]int{noDF, noDF}, deepflowClose: "ClientEstablishReset: SYN repeated, no answer, the client resets"},
	{file: "server-reset.pcap", state: TCPClosed, clientPort: 1395,
		syn: [2]uint32{1, 0}, rst: [2]uint32{0, 1},
		tsharkIRTT:  83 * us,
		irttDiffers: "tshark times SYN→RST/ACK; a refused connection has no handshake for us",
		dfRetrans:   [2]int{noDF, noDF}, deepflowClose: "ServerReset: the server refuses the SYN"},
	{file: "tcp-one-syn.pcap", state: TCPSynSent, clientPort: 1955,
		syn:       [2]uint32{1, 0},
		dfRetrans: [2]int{noDF, noDF}, deepflowClose: "ClientSynRepeat: a lone SYN, ended by the half-open timeout",
		endAfter: 75 * time.Second, endReason: EndIdle},
	{file: "tcp-n-syn-ack.pcap", state: TCPSynReceived, clientPort: 44312,
		// Four SYN-ACKs with ISNs n, n+1, n+2, n+3: tshark sees four sessions,
		// we see one whose SYN-ACK sequence advances (no retransmission).
		synack:    [2]uint32{0, 4},
		dfRetrans: [2]int{noDF, noDF}, deepflowClose: "ServerSynAckRepeat: SYN-ACKs without an ACK, ended by the half-open timeout",
		endAfter: 75 * time.Second, endReason: EndIdle},
	{file: "syn-1.pcap", state: TCPSynSent, clientPort: 44468,
		// The server answers the SYN with data of an older connection
		// (ack ≠ ISN+1): no handshake, the flow stays half-open.
		syn:         [2]uint32{1, 0},
		tsharkIRTT:  121 * us,
		irttDiffers: "tshark times SYN→server data; the server never acknowledged this SYN",
		dfRetrans:   [2]int{noDF, noDF}, deepflowClose: "ClientSourcePortReuse"},
	{file: "l4-source-port-reuse.pcap", state: TCPClosed, clientPort: 44468,
		syn: [2]uint32{1, 0}, rst: [2]uint32{2, 0},
		tsharkIRTT:  121 * us,
		irttDiffers: "as syn-1",
		dfRetrans:   [2]int{noDF, noDF}, deepflowClose: "ClientSourcePortReuse"},
	{file: "tcp-segment.pcap", state: TCPMidStream, clientPort: 45878, guessed: true,
		dfRetrans: [2]int{noDF, noDF}},
	{file: "xiangdao-retrans.pcap", state: TCPMidStream, clientPort: 44526, guessed: true,
		// Mid-stream Redis traffic; the first packet comes from port 6379, so
		// the heuristic makes 10.191.12.14:44526 the client and every packet
		// server-to-client. Frames are truncated at 66 bytes: lengths come
		// from the IP header, as the decoder reports them.
		retrans:       [2]uint64{0, 6},
		tsharkLost:    6,
		retransDiffer: "tshark takes the truncated frames as 0-byte segments and finds no retransmission",
		dfRetrans:     [2]int{0, 2},
		dfReDiffers:   "DeepFlow forgets the segment that wraps past 2^32 (frame 4) and the ones below the capture start (11-13)"},
}

func TestDeepFlowCorpus(t *testing.T) {
	for _, w := range corpusWants {
		t.Run(w.file, func(t *testing.T) {
			pkts := readCapture(t, "deepflow/flow_generator/"+w.file)
			var r recorder
			tb := NewTable(DefaultConfig(), r.onEnd)
			var evRTT int64
			var retransEvents, oooEvents int
			for i := range pkts {
				ev := tb.Observe(&pkts[i])
				if ev.HandshakeRTT > 0 {
					if evRTT != 0 {
						t.Errorf("HandshakeRTT reported twice")
					}
					evRTT = ev.HandshakeRTT
				}
				if ev.Retransmission {
					retransEvents++
				}
				if ev.OutOfOrder {
					oooEvents++
				}
			}
			if tb.Len() != 1 || len(r.ends) != 0 {
				t.Fatalf("%d flows, %d ended", tb.Len(), len(r.ends))
			}
			var f *Flow
			tb.Range(func(x *Flow) bool { f = x; return false })
			ti := &f.TCP
			if ti.State != w.state || ti.HandshakeComplete != w.complete {
				t.Errorf("state %v complete %v, want %v %v", ti.State, ti.HandshakeComplete, w.state, w.complete)
			}
			if f.Client.Port() != w.clientPort || f.InitiatorGuessed != w.guessed {
				t.Errorf("client %v guessed %v, want port %d guessed %v", f.Client, f.InitiatorGuessed, w.clientPort, w.guessed)
			}
			if ti.SYN != w.syn || ti.SYNACK != w.synack || ti.FIN != w.fin || ti.RST != w.rst {
				t.Errorf("flags syn %v synack %v fin %v rst %v, want %v %v %v %v", ti.SYN, ti.SYNACK, ti.FIN, ti.RST, w.syn, w.synack, w.fin, w.rst)
			}
			re := [2]uint64{f.Stats[0].Retransmissions, f.Stats[1].Retransmissions}
			ooo := [2]uint64{f.Stats[0].OutOfOrder, f.Stats[1].OutOfOrder}
			if re != w.retrans || ooo != w.ooo {
				t.Errorf("retransmissions %v out-of-order %v, want %v %v", re, ooo, w.retrans, w.ooo)
			}
			if retransEvents != int(re[0]+re[1]) || oooEvents != int(ooo[0]+ooo[1]) {
				t.Errorf("events disagree with counters: %d %d", retransEvents, oooEvents)
			}
			got := [3]time.Duration{time.Duration(ti.ServerRTT), time.Duration(ti.ClientRTT), time.Duration(ti.HandshakeRTT)}
			if want := [3]time.Duration{w.serverRTT, w.clientRTT, w.handshakeRTT}; got != want {
				t.Errorf("rtt server/client/handshake %v, want %v", got, want)
			}
			if evRTT != ti.HandshakeRTT {
				t.Errorf("event HandshakeRTT %v != %v", evRTT, ti.HandshakeRTT)
			}

			// tshark.
			if w.irttDiffers == "" && w.handshakeRTT != w.tsharkIRTT {
				t.Errorf("HandshakeRTT %v != tshark initial_rtt %v", w.handshakeRTT, w.tsharkIRTT)
			}
			if w.retransDiffer == "" && int(re[0]+re[1]) != w.tsharkRetrans {
				t.Errorf("retransmissions %d != tshark %d", re[0]+re[1], w.tsharkRetrans)
			}
			if w.file != "xiangdao-retrans.pcap" && int(ooo[0]+ooo[1]) != w.tsharkLost {
				t.Errorf("out-of-order %d != tshark lost_segment %d", ooo[0]+ooo[1], w.tsharkLost)
			}

			// DeepFlow.
			if w.dfRetrans[0] != noDF {
				if w.dfReDiffers == "" && (int(re[0]) != w.dfRetrans[0] || int(re[1]) != w.dfRetrans[1]) {
					t.Errorf("retransmissions %v != DeepFlow %v", re, w.dfRetrans)
				}
				if w.dfRTTDiffers == "" && (w.dfServer != w.serverRTT || w.dfClient != w.clientRTT || w.dfFull != w.handshakeRTT) {
					t.Errorf("RTTs differ from DeepFlow's %v %v %v", w.dfServer, w.dfClient, w.dfFull)
				}
			}

			if w.endAfter > 0 {
				tb.Expire(f.Last + int64(w.endAfter) - 1)
				if tb.Len() != 1 {
					t.Fatal("ended too early")
				}
				tb.Expire(f.Last + int64(w.endAfter))
				if len(r.ends) != 1 || r.ends[0].why != w.endReason {
					t.Errorf("ends %+v, want %v after %v", r.ends, w.endReason, w.endAfter)
				}
			}
		})
	}
}

// l4-source-port-reuse.pcap ends with the client's RSTs; a new SYN from
// the same port with another ISN must end the old flow (closed) and start
// a new one, while the old SYN (same ISN) is a late retransmission.
func TestDeepFlowPortReuse(t *testing.T) {
	pkts := readCapture(t, "deepflow/flow_generator/l4-source-port-reuse.pcap")
	var r recorder
	tb := NewTable(DefaultConfig(), r.onEnd)
	for i := range pkts {
		tb.Observe(&pkts[i])
	}
	syn := pkts[0] // 10.30.172.101:44468 → 10.30.10.173:443, ISN 3291197915
	syn.Timestamp = pkts[len(pkts)-1].Timestamp + int64(time.Second)
	if ev := tb.Observe(&syn); ev.New || !ev.Retransmission {
		t.Fatalf("same-ISN SYN after the RST: %+v", ev)
	}
	syn.Seq += 1_000_000
	syn.Timestamp += int64(time.Second)
	ev := tb.Observe(&syn)
	if !ev.New || ev.Flow.TCP.State != TCPSynSent || ev.Flow.Client.Port() != 44468 {
		t.Fatalf("new-ISN SYN: %+v", ev)
	}
	if len(r.ends) != 1 || r.ends[0].why != EndClosed || r.ends[0].f.TCP.RST != [2]uint32{2, 0} {
		t.Fatalf("old flow: %+v", r.ends)
	}
	if st := tb.Stats(); st.Created != 2 || st.EndedClosed != 1 || st.Active != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// UDP captures: the DNS client is the initiator; one packet each way.
func TestDeepFlowUDP(t *testing.T) {
	for _, c := range []struct {
		file       string
		client     string
		c2s, s2c   uint64
		payloadC2S uint64
	}{
		{"udp_normal.pcap", "10.30.0.223:45272", 1, 1, 0},
		{"udp_continuous_packet.pcap", "10.30.0.223:52649", 2, 2, 0},
		{"udp_1_packet.pcap", "172.16.1.106:20033", 1, 0, 0},
	} {
		pkts := readCapture(t, "deepflow/flow_generator/"+c.file)
		tb := NewTable(DefaultConfig(), nil)
		for i := range pkts {
			tb.Observe(&pkts[i])
		}
		var f *Flow
		tb.Range(func(x *Flow) bool { f = x; return false })
		if tb.Len() != 1 || f.Client.String() != c.client || f.Stats[0].Packets != c.c2s || f.Stats[1].Packets != c.s2c || f.TCP.State != TCPNone {
			t.Errorf("%s: %d flows, client %v, packets %d/%d", c.file, tb.Len(), f.Client, f.Stats[0].Packets, f.Stats[1].Packets)
		}
		var ipBytes uint64
		for i := range pkts {
			ipBytes += uint64(pkts[i].IPLen)
		}
		if f.Bytes() != ipBytes {
			t.Errorf("%s: bytes %d, want %d", c.file, f.Bytes(), ipBytes)
		}
	}
}

// Every TCP flag counter matches the packets, for all DeepFlow captures.
func TestDeepFlowCountsConsistent(t *testing.T) {
	for _, w := range corpusWants {
		pkts := readCapture(t, "deepflow/flow_generator/"+w.file)
		var syn, synack, fin, rst uint32
		for _, p := range pkts {
			switch p.TCPFlags & (decode.TCPSyn | decode.TCPAck) {
			case decode.TCPSyn:
				syn++
			case decode.TCPSyn | decode.TCPAck:
				synack++
			}
			if p.TCPFlags&decode.TCPFin != 0 {
				fin++
			}
			if p.TCPFlags&decode.TCPRst != 0 {
				rst++
			}
		}
		if w.syn[0]+w.syn[1] != syn || w.synack[0]+w.synack[1] != synack || w.fin[0]+w.fin[1] != fin || w.rst[0]+w.rst[1] != rst {
			t.Errorf("%s: table of expectations disagrees with the capture: syn %d synack %d fin %d rst %d", w.file, syn, synack, fin, rst)
		}
	}
}

// Real traffic from other projects' corpora, against tshark 4.0. The
// tshark numbers were taken with
//
//	tshark -r F -Y tcp.analysis.retransmission | wc -l
//	tshark -r F -Y tcp.analysis.out_of_order | wc -l
//	tshark -r F -Y tcp.analysis.lost_segment | wc -l
//	tshark -r F -T fields -e tcp.stream -e tcp.analysis.initial_rtt  (first value per stream: count, sum)
//
// and a frame-by-frame comparison (by timestamp) showed:
//   - every segment we call a retransmission is one tshark flags as
//     retransmission or out-of-order; the others (fillers) are segments
//     that fill a gap we counted as OutOfOrder: we count neither, tshark
//     calls them out-of-order when they come within an RTT and
//     retransmissions after. So retrans + fillers == tshark retrans + ooo.
//   - our OutOfOrder (a segment past a gap) equals tshark's lost_segment
//     ("previous segment not captured") on all these files.
//   - our handshakes and HandshakeRTT equal tshark's initial_rtt per
//     stream, except for refused connections (SYN → RST/ACK), which tshark
//     times and we do not.
func TestTsharkRealTraffic(t *testing.T) {
	cases := []struct {
		file       string
		synTimeout time.Duration
		retrans    int
		ooo        int
		handshakes int
		rttSum     time.Duration

		tsharkRetrans, tsharkOOO, tsharkLost int
		fillers                              int
		tsharkIRTTStreams                    int
		tsharkIRTTSum                        time.Duration
		refused                              int           // SYN → RST/ACK streams tshark times
		refusedIRTT                          time.Duration // their initial_rtt sum
	}{
		{file: "ndpi/1kxun.pcap", retrans: 47, ooo: 8, handshakes: 22, rttSum: 1084778 * us,
			tsharkRetrans: 47, tsharkOOO: 9, tsharkLost: 8, fillers: 9, tsharkIRTTStreams: 22, tsharkIRTTSum: 1084778 * us},
		{file: "pktvisor/dns_udp_tcp_random.pcap", retrans: 43, ooo: 27, handshakes: 1423, rttSum: 43389048 * us,
			tsharkRetrans: 69, tsharkOOO: 1, tsharkLost: 27, fillers: 27, tsharkIRTTStreams: 1423, tsharkIRTTSum: 43389048 * us},
		{file: "pcapplusplus/PcapExamples/example.pcap", retrans: 8, ooo: 3, handshakes: 65, rttSum: 5474953 * us,
			tsharkRetrans: 10, tsharkOOO: 3, tsharkLost: 3, fillers: 5, tsharkIRTTStreams: 65, tsharkIRTTSum: 5474953 * us},
		{file: "ndpi/android.pcap", retrans: 19, ooo: 1, handshakes: 22, rttSum: 945153 * us,
			tsharkRetrans: 19, tsharkOOO: 2, tsharkLost: 1, fillers: 2, tsharkIRTTStreams: 22, tsharkIRTTSum: 945153 * us},
		// Linux retries an unanswered SYN after 1, 2, 4, 8, 16 and 32 s: the
		// default 30 s half-open timeout ends the attempt before the last
		// retry, which then starts a new flow (3 such SYNs here, which tshark
		// calls retransmissions). With a longer half-open timeout we agree.
		{file: "ndpi/alexa-app.pcapng", synTimeout: 130 * time.Second, retrans: 201, ooo: 0, handshakes: 116, rttSum: 14410180 * us,
			tsharkRetrans: 197, tsharkOOO: 4, tsharkLost: 0, fillers: 0, tsharkIRTTStreams: 118, tsharkIRTTSum: 14499455 * us,
			refused: 2, refusedIRTT: (2171 + 87104) * us},
		{file: "ndpi/synscan.pcap", retrans: 9, ooo: 0, handshakes: 0,
			tsharkRetrans: 9, tsharkIRTTStreams: 5, tsharkIRTTSum: 309574 * us, refused: 5, refusedIRTT: 309574 * us},
		{file: "ndpi/reasm_segv_anon.pcapng", retrans: 27, ooo: 6,
			tsharkRetrans: 22, tsharkOOO: 11, tsharkLost: 6, fillers: 6},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			pkts := readCapture(t, c.file)
			cfg := DefaultConfig()
			if c.synTimeout > 0 {
				cfg.TCPSynTimeout = c.synTimeout
			}
			tb := NewTable(cfg, nil)
			var retrans, ooo, hs int
			var sum time.Duration
			for i := range pkts {
				ev := tb.Observe(&pkts[i])
				if ev.Retransmission {
					retrans++
				}
				if ev.OutOfOrder {
					ooo++
				}
				if ev.HandshakeRTT > 0 {
					hs++
					sum += time.Duration(ev.HandshakeRTT)
				}
			}
			if retrans != c.retrans || ooo != c.ooo || hs != c.handshakes || sum != c.rttSum {
				t.Errorf("retrans %d ooo %d handshakes %d rtt sum %v, want %d %d %d %v", retrans, ooo, hs, sum, c.retrans, c.ooo, c.handshakes, c.rttSum)
			}
			if retrans+c.fillers != c.tsharkRetrans+c.tsharkOOO {
				t.Errorf("retrans %d + fillers %d != tshark retrans %d + out-of-order %d", retrans, c.fillers, c.tsharkRetrans, c.tsharkOOO)
			}
			if ooo != c.tsharkLost {
				t.Errorf("out-of-order %d != tshark lost_segment %d", ooo, c.tsharkLost)
			}
			if hs+c.refused != c.tsharkIRTTStreams || sum+c.refusedIRTT != c.tsharkIRTTSum {
				t.Errorf("handshakes %d (+%d refused) sum %v, tshark %d streams sum %v", hs, c.refused, sum, c.tsharkIRTTStreams, c.tsharkIRTTSum)
			}
		})
	}
}

// ndpi/tls_multiple_synack_different_seq.pcapng: a server answers with
// SYN-ACKs carrying three different ISNs, then the client's request and
// the server's reply follow the last one. A SYN-ACK with a new ISN
// restarts the server's sequence space, so only the one true duplicate
// SYN-ACK is a retransmission. tshark counts 8: it keeps the first ISN's
// sequence space and flags the new SYN-ACKs and all five reply segments.
func TestSynAckNewISN(t *testing.T) {
	pkts := readCapture(t, "ndpi/tls_multiple_synack_different_seq.pcapng")
	tb := NewTable(DefaultConfig(), nil)
	for i := range pkts {
		tb.Observe(&pkts[i])
	}
	var f *Flow
	tb.Range(func(x *Flow) bool { f = x; return false })
	if tb.Len() != 1 || f.Stats[1].Retransmissions != 1 || f.Stats[0].Retransmissions != 0 {
		t.Fatalf("%d flows, stats %+v", tb.Len(), f.Stats)
	}
	// The flow started with a SYN-ACK: the client's data acknowledges the
	// last one, which makes the flow established without a full handshake.
	if f.TCP.State != TCPEstablished || f.TCP.HandshakeComplete || f.Client.Port() != 59927 || f.TCP.SYNACK[1] != 4 {
		t.Fatalf("%+v client %v", f.TCP, f.Client)
	}
}

// The flow table gives the same results whether the packets come from
// internal/decode (what the probe runs) or from the gopacket-based reader
// the other tests use.
func TestDecoderAgrees(t *testing.T) {
	files := []string{
		"ndpi/1kxun.pcap", "pktvisor/dns_udp_tcp_random.pcap", "pcapplusplus/PcapExamples/example.pcap",
		"ndpi/android.pcap", "ndpi/alexa-app.pcapng", "ndpi/synscan.pcap",
	}
	for _, w := range corpusWants {
		// xiangdao-retrans's frames are cut at 66 bytes with an original
		// length of 66 too, while their IP headers announce up to 671
		// bytes: internal/decode rightly calls them malformed, so the probe
		// never sees this flow. Only the direct test above uses it.
		if w.file != "xiangdao-retrans.pcap" {
			files = append(files, "deepflow/flow_generator/"+w.file)
		}
	}
	type summary struct {
		stats [2]DirStats
		tcp   TCPInfo
	}
	run := func(pkts []decode.Packet) map[Key]summary {
		out := map[Key]summary{}
		tb := NewTable(DefaultConfig(), func(f *Flow, _ EndReason) {
			s := out[f.Key()]
			for d := range s.stats {
				s.stats[d].Packets += f.Stats[d].Packets
				s.stats[d].Bytes += f.Stats[d].Bytes
				s.stats[d].PayloadBytes += f.Stats[d].PayloadBytes
				s.stats[d].Retransmissions += f.Stats[d].Retransmissions
				s.stats[d].OutOfOrder += f.Stats[d].OutOfOrder
				s.stats[d].ZeroWindow += f.Stats[d].ZeroWindow
			}
			s.tcp.HandshakeRTT += f.TCP.HandshakeRTT
			out[f.Key()] = s
		})
		for i := range pkts {
			tb.Observe(&pkts[i])
		}
		tb.Flush()
		return out
	}
	for _, file := range files {
		ours, theirs := run(readCapture(t, file)), run(readDecoded(t, file))
		if len(ours) != len(theirs) {
			t.Errorf("%s: %d flows from gopacket, %d from internal/decode", file, len(ours), len(theirs))
			continue
		}
		for k, a := range ours {
			if b, ok := theirs[k]; !ok || a != b {
				t.Errorf("%s: flow %v differs:\n gopacket %+v\n decode   %+v", file, k, a, b)
				break
			}
		}
	}
}
