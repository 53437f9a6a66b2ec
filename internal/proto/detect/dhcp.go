package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// DHCP is DHCP over IPv4 (RFC 2131, and plain BOOTP, RFC 951) and DHCPv6
// (RFC 8415), under one name.
var DHCP = &l7.Protocol{
	Name:   "dhcp",
	UDP:    true,
	Ports:  dhcpPorts,
	Detect: detectDHCP,
}

var dhcpPorts = []uint16{67, 68, 546, 547}

// detectDHCP tries the BOOTP layout first, then DHCPv6.
func detectDHCP(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if v := detectBOOTP(b, port); v != l7.No {
		return v
	}
	return detectDHCPv6(b, port)
}

// detectBOOTP: op 1 (request) or 2 (reply), a hardware address length
// that fits chaddr, a hop count below the relay limit, and the DHCP magic
// cookie 63 82 53 63 at offset 236 (four fixed bytes: Yes). Without the
// cookie, a 300-byte BOOTP message is Maybe on the BOOTP ports; so is a
// message cut before the cookie whose hardware type and address length
// agree (Ethernet and IEEE 802: 6 bytes), as from a capture with a small
// snap length.
func detectBOOTP(b []byte, port uint16) l7.Verdict {
	if len(b) < 28 || (b[0] != 1 && b[0] != 2) || b[2] > 16 || b[3] > 16 {
		return l7.No
	}
	if len(b) < 240 {
		if (b[1] == 1 || b[1] == 6) && b[2] == 6 && (port == 67 || port == 68) {
			return l7.Maybe
		}
		return l7.No
	}
	if be32(b[236:]) == 0x63825363 {
		return l7.Yes
	}
	if len(b) >= 300 && (port == 67 || port == 68) {
		return l7.Maybe
	}
	return l7.No
}

// detectDHCPv6: a message type, then options (2-byte code, 2-byte length)
// that tile the rest of the datagram exactly. With a client or server
// identifier that holds a valid DUID type (or, in a relay message, a
// relayed message) that is Yes; an exact tiling alone is Maybe on the
// DHCPv6 ports.
func detectDHCPv6(b []byte, port uint16) l7.Verdict {
	if len(b) < 8 {
		return l7.No
	}
	off := 4 // msg-type, transaction-id
	relay := b[0] == 12 || b[0] == 13
	switch t := b[0]; {
	case relay: // RELAY-FORW, RELAY-REPL: hop count, two addresses
		off = 34
		if b[1] > 32 { // HOP_COUNT_LIMIT
			return l7.No
		}
	case t == 0 || t > 36:
		return l7.No
	}
	duid := false
	n := 0
	for off < len(b) {
		if len(b)-off < 4 {
			return l7.No
		}
		code, l := be16(b[off:]), int(be16(b[off+2:]))
		if code == 0 || code > 200 || l > len(b)-off-4 {
			return l7.No
		}
		// CLIENTID or SERVERID: a DUID, type 1..4 (LLT, EN, LL, UUID).
		if (code == 1 || code == 2) && l >= 4 {
			if dt := be16(b[off+4:]); dt >= 1 && dt <= 4 {
				duid = true
			}
		}
		// RELAY_MSG: the relayed message, led by its own type.
		if code == 9 && l >= 4 && b[off+4] >= 1 && b[off+4] <= 13 && relay {
			duid = true
		}
		off += 4 + l
		n++
	}
	if n == 0 {
		return l7.No
	}
	if duid {
		return l7.Yes
	}
	return weak(port, dhcpPorts[2:])
}
