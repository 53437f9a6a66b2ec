// Package flow tracks bidirectional sessions ("flows") from decoded
// packets: it pairs both directions of a conversation, decides who the
// client (initiator) is, follows the TCP state (handshake, FIN/RST close),
// counts packets, bytes, retransmissions, out-of-order segments and
// zero-window advertisements per direction, and measures the handshake
// round-trip times. Flows end on idle/closed/half-open timeouts in packet
// time, on an optional NetFlow-like active timeout, on eviction when the
// table is full, or on Flush; each end is reported once through a callback
// and counted.
//
// A Table belongs to one goroutine (one per capture worker). Observe is on
// the per-packet hot path: it does not allocate in steady state (flows are
// recycled through a free list, the index is an open-addressing table of
// 32-bit references) and every timeout is O(1) per packet thanks to
// intrusive LRU lists, one per timeout class.
package flow

import (
	"net/netip"
)

// Dir is a packet's direction within its flow.
type Dir uint8

const (
	// ClientToServer: from the initiator to the responder.
	ClientToServer Dir = 0
	// ServerToClient: from the responder to the initiator.
	ServerToClient Dir = 1
)

func (d Dir) String() string {
	if d == ClientToServer {
		return "client_to_server"
	}
	return "server_to_client"
}

// DirStats counts one direction of a flow. Bytes is the sum of the IP
// lengths (L3, as the IP header says, not the captured length);
// PayloadBytes the sum of the transport payload lengths.
type DirStats struct {
	Packets         uint64
	Bytes           uint64
	PayloadBytes    uint64
	Retransmissions uint64 // TCP: segments that carried nothing new (see Table.Observe)
	OutOfOrder      uint64 // TCP: segments that started beyond the next expected sequence (a gap)
	ZeroWindow      uint64 // TCP: zero-window advertisements (not on SYN/FIN/RST, as tshark)

	// Sequence tracking, in sequence-number arithmetic (mod 2^32).
	high      uint32 // one past the highest sequence number seen (seq+len)
	holeStart uint32 // [holeStart, holeEnd): the latest gap not filled yet
	holeEnd   uint32
	seqFlags  uint8
}

const (
	seqInit uint8 = 1 << iota // high is valid
	seqHole                   // [holeStart, holeEnd) is valid
)

// resetCounters zeroes the exported counters, keeping the sequence state.
func (s *DirStats) resetCounters() {
	s.Packets, s.Bytes, s.PayloadBytes = 0, 0, 0
	s.Retransmissions, s.OutOfOrder, s.ZeroWindow = 0, 0, 0
}

// WindowStats counts one direction since the last Flow.ResetWindow.
type WindowStats struct {
	Packets uint64
	Bytes   uint64 // IP lengths, as DirStats.Bytes
}

// Flow is one bidirectional session. The pointer is valid until the flow
// ends: after OnEnd returns, the table recycles it for another flow.
type Flow struct {
	Client, Server netip.AddrPort // initiator and responder (ports 0 for protocols without ports)
	Proto          uint8          // IANA transport protocol
	VLAN           uint16         // innermost VLAN ID, 0 if untagged
	TunnelID       uint32         // VNI / GRE key of the outer tunnel, 0 if none

	First int64 // Unix ns of the first packet of the flow
	Last  int64 // Unix ns of the latest packet (the maximum seen: clamped if time goes backwards)
	// PeriodStart is the start of what Stats counts: First, or the time of
	// the last active-timeout report (Config.ActiveTimeout).
	PeriodStart int64

	Stats [2]DirStats    // indexed by Dir, since PeriodStart
	Win   [2]WindowStats // indexed by Dir, since the last ResetWindow: the summary's per-window view
	TCP   TCPInfo        // zero for non-TCP flows
	Tag   uint32         // free for the caller (the summary caches the flow's sides here); zero on a new flow
	L7    uint32         // owned by the L7 tracker (its state for this flow); zero on a new flow
	// InitiatorGuessed is true when no protocol evidence (a SYN or SYN-ACK,
	// an ICMP echo request or reply) said who started the flow and the
	// port heuristic (or the first packet's sender) decided: mid-stream
	// TCP, UDP, other protocols.
	InitiatorGuessed bool

	clientIsA bool  // the client is the key's first endpoint
	class     uint8 // timeout class (list) the flow is on
	ref       ref   // this flow's own reference
	prev      ref   // timeout-class list links
	next      ref
	aprev     ref // active-timeout list links
	anext     ref
	tag       uint32 // upper half of the key's hash: finds the index slot without rehashing
	touched   int64  // table clock at the latest packet (monotonic)
	listed    int64  // table clock when the flow took its place on its list
	activeAt  int64  // table clock at creation or at the latest active report
}

// ResetWindow zeroes the per-window counters (Win).
func (f *Flow) ResetWindow() { f.Win = [2]WindowStats{} }

// Key returns the flow's key.
func (f *Flow) Key() Key {
	k, _ := makeKey(f.Client.Addr(), f.Server.Addr(), f.Client.Port(), f.Server.Port(), f.Proto, f.VLAN, f.TunnelID)
	return k
}

// Packets returns the packets of both directions since PeriodStart.
func (f *Flow) Packets() uint64 { return f.Stats[0].Packets + f.Stats[1].Packets }

// Bytes returns the IP bytes of both directions since PeriodStart.
func (f *Flow) Bytes() uint64 { return f.Stats[0].Bytes + f.Stats[1].Bytes }

// TCPState is the TCP connection state as seen by a passive observer.
type TCPState uint8

const (
	TCPNone        TCPState = iota // not a TCP flow
	TCPSynSent                     // client SYN seen, no SYN-ACK yet
	TCPSynReceived                 // SYN-ACK seen, handshake not complete
	TCPEstablished                 // handshake complete (or its last step inferred)
	TCPMidStream                   // the flow started without a handshake (capture began mid-connection)
	TCPFinWait                     // one side sent FIN
	TCPClosed                      // FIN both ways, or a RST
)

var tcpStateNames = [...]string{"none", "syn_sent", "syn_received", "established", "mid_stream", "fin_wait", "closed"}

func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "unknown"
}

// TCPInfo is the TCP view of a flow. Flag counters count packets carrying
// the flag, per Dir (SYN counts SYN without ACK, SYNACK counts SYN with
// ACK), retransmitted ones included: SYN[0] == 2 means the client sent its
// SYN twice.
//
// RTTs are measured on the handshake, at the probe, in nanoseconds (0 =
// not measured):
//
//	client ──SYN──▶ probe ──▶ server
//	client ◀──────── probe ◀──SYN-ACK── server   ServerRTT = SYN-ACK − SYN     (probe ↔ server)
//	client ──ACK──▶ probe                        ClientRTT = ACK − SYN-ACK     (probe ↔ client)
//	                                             HandshakeRTT = ACK − SYN      (end to end)
//
// With retransmissions the samples follow Karn's rule in spirit: a reply
// is timed against the latest copy of what it answers, never against the
// first. ServerRTT pairs the first SYN-ACK after a SYN with the latest
// SYN before it (a SYN-ACK retransmitted without a new SYN is not a new
// sample); ClientRTT times the completing ACK from the latest SYN-ACK;
// HandshakeRTT from the latest SYN, which is what tshark's
// tcp.analysis.initial_rtt reports. Without retransmissions
// HandshakeRTT == ServerRTT + ClientRTT. If the probe saw the handshake
// out of order (a SYN-ACK before any SYN, client data before the
// SYN-ACK) nothing is timed: the differences would describe the capture
// path, not the network.
type TCPInfo struct {
	State             TCPState
	HandshakeComplete bool   // SYN, SYN-ACK and the client's ACK of the SYN-ACK all seen
	flags             uint16 // tcp* bits below (here: it packs into padding)
	SYN, SYNACK       [2]uint32
	FIN, RST          [2]uint32
	ServerRTT         int64
	ClientRTT         int64
	HandshakeRTT      int64

	synTime    int64 // latest client SYN
	synAckTime int64 // latest SYN-ACK
	isn        [2]uint32
}

// TCPInfo.flags
const (
	tcpISN0        uint16 = 1 << iota // isn[0] (client ISN) known
	tcpISN1                           // isn[1] (server ISN) known
	tcpSynPending                     // a client SYN not yet paired with a SYN-ACK
	tcpNoTiming                       // handshake seen out of order: no RTT
	tcpEstablished                    // data phase reached (handshake complete or inferred)
	tcpMidStream                      // no SYN/SYN-ACK at the start
	tcpReset                          // RST seen
	tcpClosedFlag                     // state is closed (RST or FIN both ways)
)

// Event is what Observe made of one packet.
type Event struct {
	Flow *Flow // the packet's flow: valid until the flow ends (do not keep it)
	Dir  Dir
	// New: this packet created the flow.
	New bool
	// Retransmission, OutOfOrder: see Table.Observe.
	Retransmission, OutOfOrder bool
	// HandshakeRTT > 0 (ns) on the packet that completed a timed 3-way
	// handshake (the client's ACK).
	HandshakeRTT int64
	// Closed: this packet moved the flow to TCPClosed (FIN both ways or RST).
	Closed bool
}

// EndReason says why a flow was reported through OnEnd.
type EndReason uint8

const (
	EndIdle    EndReason = iota + 1 // no packet for the timeout of its class (idle, TCP idle, half-open)
	EndClosed                       // TCP closed (FIN both ways or RST) and TCPClosedTimeout passed, or its port pair was reused by a new connection
	EndEvicted                      // the table was full and this was the least recently seen flow
	EndActive                       // ActiveTimeout report: the flow continues with fresh counters
	EndFlush                        // Table.Flush (end of input)
)

var endReasonNames = [...]string{"unknown", "idle", "closed", "evicted", "active", "flush"}

func (r EndReason) String() string {
	if int(r) < len(endReasonNames) {
		return endReasonNames[r]
	}
	return "unknown"
}

// Stats counts the table's flows. Created − Active == EndedIdle +
// EndedClosed + Evicted + Flushed at all times; EndedActive counts
// active-timeout reports of flows that live on.
type Stats struct {
	Active      uint64 `json:"active"`
	Created     uint64 `json:"created"`
	EndedIdle   uint64 `json:"ended_idle"`
	EndedClosed uint64 `json:"ended_closed"`
	Evicted     uint64 `json:"evicted"` // ended because the table was full: a sign MaxFlows is too small
	EndedActive uint64 `json:"ended_active"`
	Flushed     uint64 `json:"flushed"`
}
