package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// TNS is Oracle's Transparent Network Substrate (Oracle Net), the
// transport under Oracle database sessions.
var TNS = &l7.Protocol{
	Name:   "tns",
	TCP:    true,
	Ports:  tnsPorts,
	Detect: detectTNS,
}

var tnsPorts = []uint16{1521}

// TNS packet types.
const (
	tnsConnect  = 1
	tnsAccept   = 2
	tnsAck      = 3
	tnsRefuse   = 4
	tnsRedirect = 5
	tnsData     = 6
	tnsNull     = 7
	tnsAbort    = 9
	tnsResend   = 11
	tnsMarker   = 12
	tnsAttn     = 13
	tnsControl  = 14
)

// detectTNS reads the 8-byte header: packet length, packet checksum (0:
// nobody computes it), type, flags, header checksum (0). Since version
// 315 (Oracle 12c) the length takes the first 4 bytes once a session is
// established; both forms are read.
//   - CONNECT (client) with a plausible version and a connect descriptor
//     ("(DESCRIPTION=" or "(CONNECT_DATA=") in the packet or right after
//     it: Yes;
//   - REFUSE or REDIRECT (server) with descriptor text, ACCEPT with a
//     plausible version and the "value of 1 in hardware" byte-order mark:
//     Yes;
//   - any other valid header (DATA, MARKER, RESEND, ...; a capture that
//     started mid-session): Maybe on port 1521.
func detectTNS(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	if len(b) < 8 {
		if len(b) >= 4 && be16(b[2:]) != 0 && be16(b) != 0 {
			return l7.No
		}
		return l7.NeedMore
	}
	n, typ := int(be16(b)), b[4]
	if n == 0 || be16(b[2:]) != 0 {
		// The 4-byte length form (no packet checksum).
		n = int(be32(b))
		if n > 1<<21 {
			return l7.No
		}
	}
	if n < 8 || be16(b[6:]) != 0 || typ < tnsConnect || typ > tnsControl || typ == 8 || typ == 10 {
		return l7.No
	}
	switch typ {
	case tnsConnect:
		if dir != flow.ClientToServer {
			return l7.No
		}
		if len(b) < 28 {
			return l7.NeedMore
		}
		// version, lowest compatible version, service options, SDU,
		// TDU, protocol characteristics, line turnaround, value of 1 in
		// hardware, connect data length and offset.
		ver, compat := be16(b[8:]), be16(b[10:])
		if ver < 300 || ver > 400 || compat > ver || compat < 200 {
			return l7.No
		}
		if tnsDescriptor(b, 1024) {
			return l7.Yes
		}
		// The descriptor comes in a DATA packet of its own when it is
		// longer than 230 bytes.
		if len(b) < n+64 {
			return l7.NeedMore
		}
		return weak(port, tnsPorts)
	case tnsAccept:
		if dir != flow.ServerToClient {
			return l7.No
		}
		if len(b) < 18 {
			return l7.NeedMore
		}
		// version, service options, SDU, TDU, value of 1 in hardware.
		if ver, hw := be16(b[8:]), be16(b[16:]); ver >= 300 && ver <= 400 && (hw == 0x0001 || hw == 0x0100) {
			return l7.Yes
		}
		return l7.No
	case tnsRefuse, tnsRedirect:
		if dir != flow.ServerToClient {
			return l7.No
		}
		if contains(b, "(DESCRIPTION=", 512) || contains(b, "(ADDRESS=", 512) || contains(b, "(ERR=", 512) {
			return l7.Yes
		}
		if len(b) < n && len(b) < 512 {
			return l7.NeedMore
		}
	}
	return weak(port, tnsPorts)
}

// tnsDescriptor reports whether a connect descriptor, "(DESCRIPTION=" or
// "(CONNECT_DATA=" in any case, starts in the first max bytes of b (one
// pass, looking only after each '(').
func tnsDescriptor(b []byte, max int) bool {
	if len(b) > max {
		b = b[:max]
	}
	for i := indexByte(b, '(', max); i >= 0 && i < len(b); {
		r := b[i+1:]
		if len(r) >= 12 && equalFold(r[:12], "description=") || len(r) >= 13 && equalFold(r[:13], "connect_data=") {
			return true
		}
		j := indexByte(r, '(', len(r))
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}
