package flow

import "github.com/wirewatch/wirewatch/internal/decode"

// maxWindow is the largest TCP receive window (65535 << 14, RFC 7323),
// rounded up: no in-window segment is farther than that from the highest
// sequence seen.
const maxWindow = 1 << 30

// seqLT etc. compare sequence numbers modulo 2^32 (RFC 1982 style).
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// segment analyses one segment of n sequence numbers (payload + SYN + FIN)
// starting at seq. keepAlive marks a segment eligible as a keep-alive probe
// (no SYN/FIN).
func (s *DirStats) segment(seq, n uint32, keepAlive bool) (retrans, ooo bool) {
	if s.seqFlags&seqInit == 0 {
		s.seqFlags = seqInit
		s.high = seq + n
		return false, false
	}
	if n == 0 {
		return false, false // pure ACK / window update: no sequence space
	}
	end := seq + n
	if d := seqDiff(seq, s.high); d > maxWindow || d < -maxWindow {
		s.seqFlags = seqInit
		s.high = end
		return false, false
	}
	if seqDiff(end, s.high) <= 0 {
		// Nothing beyond the highest sequence seen.
		if s.seqFlags&seqHole != 0 && seqDiff(seq, s.holeEnd) < 0 && seqDiff(end, s.holeStart) > 0 {
			s.fill(seq, end)
			return false, false
		}
		if keepAlive && n == 1 && seq == s.high-1 {
			return false, false
		}
		return true, false
	}
	if seqDiff(seq, s.high) > 0 {
		// A gap: the bytes between high and seq were not seen (yet).
		s.holeStart, s.holeEnd = s.high, seq
		s.seqFlags |= seqHole
		s.high = end
		return false, true
	}
	if s.seqFlags&seqHole != 0 && seqDiff(seq, s.holeEnd) < 0 {
		s.fill(seq, end)
	}
	s.high = end
	return false, false
}

// fill shrinks the tracked gap by the segment [seq, end) that overlaps it.
// A piece from the middle leaves the gap as it is (one range is all we
// keep).
func (s *DirStats) fill(seq, end uint32) {
	switch {
	case seqDiff(seq, s.holeStart) <= 0:
		if seqDiff(end, s.holeStart) > 0 {
			s.holeStart = end
		}
	case seqDiff(end, s.holeEnd) >= 0:
		s.holeEnd = seq
	}
	if seqDiff(s.holeEnd, s.holeStart) <= 0 {
		s.seqFlags &^= seqHole
	}
}

func (ti *TCPInfo) closed() bool { return ti.flags&tcpClosedFlag != 0 }

// class returns the timeout class of a TCP flow.
func (ti *TCPInfo) class() uint8 {
	switch ti.State {
	case TCPClosed:
		return classClosed
	case TCPSynSent, TCPSynReceived:
		return classSyn
	}
	return classTCP
}

func (ti *TCPInfo) state() TCPState {
	switch {
	case ti.flags&tcpClosedFlag != 0:
		return TCPClosed
	case ti.FIN[0] != 0 || ti.FIN[1] != 0:
		return TCPFinWait
	case ti.flags&tcpMidStream != 0:
		return TCPMidStream
	case ti.flags&tcpEstablished != 0:
		return TCPEstablished
	case ti.SYNACK[1] != 0:
		return TCPSynReceived
	case ti.SYN[0] != 0:
		return TCPSynSent
	}
	// Only SYN-ACKs from the client side or SYNs from the server side
	// (simultaneous open): still opening.
	return TCPSynSent
}

// reusedBy reports whether a TCP packet from direction dir opens a new
// connection on the flow's port pair (see Table.Observe).
func (f *Flow) reusedBy(p *decode.Packet, dir Dir) bool {
	fl := p.TCPFlags
	if fl&(decode.TCPSyn|decode.TCPRst) != decode.TCPSyn {
		return false
	}
	ti := &f.TCP
	known := ti.flags&(tcpISN0<<dir) != 0
	if ti.closed() {
		// A late retransmission of the flow's own SYN or SYN-ACK stays.
		return !known || p.Seq != ti.isn[dir]
	}
	if fl&decode.TCPAck != 0 {
		return false
	}
	if ti.flags&tcpMidStream != 0 {
		// No handshake was seen and a host never sends a bare SYN inside
		// a connection: a new connection on these ports, maybe in the
		// other direction (the mid-stream client was only a guess).
		return true
	}
	if dir == ClientToServer {
		return known && p.Seq != ti.isn[0]
	}
	// A bare SYN from the server side of an opening or open flow:
	// simultaneous open.
	return false
}

// tcp updates the TCP view of the flow with one packet.
func (f *Flow) tcp(p *decode.Packet, dir Dir, ev *Event) {
	ti := &f.TCP
	fl := p.TCPFlags
	syn := fl&decode.TCPSyn != 0
	ack := fl&decode.TCPAck != 0
	fin := fl&decode.TCPFin != 0
	rst := fl&decode.TCPRst != 0
	ts := p.Timestamp
	st := &f.Stats[dir]

	if ev.New && !syn {
		ti.flags |= tcpMidStream
	}
	switch {
	case syn && ack:
		ti.SYNACK[dir]++
	case syn:
		ti.SYN[dir]++
	}
	if fin {
		ti.FIN[dir]++
	}
	if rst {
		ti.RST[dir]++
	}
	if p.Window == 0 && fl&(decode.TCPSyn|decode.TCPFin|decode.TCPRst) == 0 {
		st.ZeroWindow++
	}

	// Sequence analysis. A RST occupies no sequence space and is never
	// retransmitted by TCP, so it is left out.
	if syn && ti.flags&(tcpISN0<<dir) != 0 && p.Seq != ti.isn[dir] {
		// A SYN or SYN-ACK with a new ISN (one that does not start a new
		// flow, see reusedBy): the sender restarted its sequence space, as
		// a server answering with a fresh SYN-ACK does. Start over rather
		// than call the new stream's bytes retransmissions.
		st.seqFlags = 0
		ti.isn[dir] = p.Seq
	}
	if !rst {
		n := uint32(min(max(p.PayloadLen, 0), maxWindow))
		if syn {
			n++
		}
		if fin {
			n++
		}
		re, ooo := st.segment(p.Seq, n, !syn && !fin)
		if re {
			st.Retransmissions++
			ev.Retransmission = true
		}
		if ooo {
			st.OutOfOrder++
			ev.OutOfOrder = true
		}
	}

	// Handshake and RTTs.
	opening := !ti.HandshakeComplete && ti.flags&tcpEstablished == 0
	switch {
	case rst:
		ti.flags |= tcpReset | tcpClosedFlag
	case syn && !ack:
		if dir != ClientToServer {
			ti.flags |= tcpNoTiming // simultaneous open: nothing to time
			break
		}
		if ti.flags&tcpISN0 == 0 {
			ti.isn[0] = p.Seq
			ti.flags |= tcpISN0
		}
		if opening {
			if ti.SYN[0] == 1 && ti.SYNACK[1] != 0 {
				ti.flags |= tcpNoTiming // the SYN-ACK was seen before the SYN
			}
			ti.synTime = ts
			ti.flags |= tcpSynPending
		}
	case syn: // SYN-ACK
		if dir != ServerToClient {
			ti.flags |= tcpNoTiming
			break
		}
		if ti.flags&tcpISN1 == 0 {
			ti.isn[1] = p.Seq
			ti.flags |= tcpISN1
		}
		if ti.flags&tcpISN0 == 0 {
			// The SYN-ACK acknowledges the client's ISN: a SYN that shows
			// up later with that ISN is the same connection.
			ti.isn[0] = p.Ack - 1
			ti.flags |= tcpISN0
		}
		if opening {
			if ti.flags&tcpSynPending != 0 {
				// Karn: time the reply against the latest SYN, once.
				if d := ts - ti.synTime; d > 0 {
					ti.ServerRTT = d
				}
				ti.flags &^= tcpSynPending
			}
			ti.synAckTime = ts
		}
	case dir == ClientToServer && !ti.HandshakeComplete:
		if ti.SYNACK[1] == 0 {
			if ti.SYN[0] != 0 && ti.flags&tcpEstablished == 0 {
				// The client went on without a SYN-ACK we saw: the probe
				// missed it or sees one direction only.
				ti.flags |= tcpEstablished | tcpNoTiming
			}
			break
		}
		if !ack || ti.flags&tcpISN1 == 0 || p.Ack != ti.isn[1]+1 {
			break
		}
		// The client acknowledges the SYN-ACK: handshake done.
		ti.HandshakeComplete = ti.SYN[0] != 0
		if ti.flags&(tcpNoTiming|tcpEstablished) == 0 {
			if d := ts - ti.synAckTime; d > 0 {
				ti.ClientRTT = d
			}
			if ti.SYN[0] != 0 {
				if d := ts - ti.synTime; d > 0 {
					ti.HandshakeRTT = d
					ev.HandshakeRTT = d
				}
			}
		}
		ti.flags |= tcpEstablished
	case dir == ServerToClient && opening && ti.SYNACK[1] != 0:
		// The server moved on after its SYN-ACK: it got an ACK we have not
		// seen (yet). Established, but a late ACK will not be timed.
		ti.flags |= tcpEstablished | tcpNoTiming
	}
	if ti.FIN[0] != 0 && ti.FIN[1] != 0 {
		ti.flags |= tcpClosedFlag
	}
	was := ti.State
	ti.State = ti.state()
	if ti.State == TCPClosed && was != TCPClosed {
		ev.Closed = true
	}
}
