package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// NTP is the Network Time Protocol (RFC 5905; control and private modes
// of RFC 1305 and ntpd).
var NTP = &l7.Protocol{
	Name:   "ntp",
	UDP:    true,
	Ports:  ntpPorts,
	Detect: detectNTP,
}

var ntpPorts = []uint16{123}

// detectNTP checks the first byte (version 1..4, a mode) and the layout
// the mode implies. A 48-byte header with a small stratum is all a client
// request has, and DNS queries of the right size pass those checks, so
// that is Maybe on port 123 and No elsewhere. A server reply (mode 4) is
// Yes anywhere when its timestamps agree: reference <= receive <=
// transmit, within bounds no random bytes keep.
func detectNTP(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if len(b) < 12 {
		return l7.No
	}
	vn, mode := b[0]>>3&7, b[0]&7
	if vn < 1 || vn > 4 {
		return l7.No
	}
	switch mode {
	case 1, 2, 3, 4, 5: // symmetric active/passive, client, server, broadcast
		// 48 bytes, then extension fields and/or a MAC, all 32-bit
		// aligned.
		if len(b) < 48 || (len(b)-48)%4 != 0 {
			return l7.No
		}
		if b[1] > 16 { // stratum 16 is "unsynchronised"; more is unassigned
			return l7.No
		}
		if mode == 4 && ntpServerReply(b) {
			return l7.Yes
		}
		return weak(port, ntpPorts)
	case 6: // control message: 12-byte header, count bytes of data
		if int(be16(b[10:]))+12 > len(b) {
			return l7.No
		}
		return weak(port, ntpPorts)
	case 7: // ntpd private (ntpdc): implementation-defined
		return weak(port, ntpPorts)
	}
	return l7.No
}

// ntpServerReply checks a mode 4 packet the way a server fills it in: a
// real stratum, and reference, receive and transmit timestamps (seconds
// at 16, 32, 40) that are set, ordered and close to each other. The
// receive-to-transmit step is the server's processing time (well under
// a second; 16 s allows for any clock step) and the reference time is
// the server's last clock update (at most a few polls, 36 h each, back;
// 2^22 s is 48 days).
func ntpServerReply(b []byte) bool {
	if b[1] == 0 || b[1] > 15 {
		return false
	}
	ref, rcv, xmt := be32(b[16:]), be32(b[32:]), be32(b[40:])
	if ref == 0 || rcv == 0 || xmt == 0 {
		return false
	}
	// uint32 differences follow NTP's era arithmetic.
	return xmt-rcv <= 16 && rcv-ref < 1<<22
}
