package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// SSH is the Secure Shell protocol (RFC 4253). Both sides open with an
// identification string "SSH-protoversion-softwareversion": the client
// and the server banner are each proof on their own.
var SSH = &l7.Protocol{
	Name:   "ssh",
	TCP:    true,
	Ports:  sshPorts,
	Detect: detectSSH,
}

var sshPorts = []uint16{22}

// detectSSH accepts "SSH-2.0-", "SSH-1.99-" (a server that speaks both)
// and the older "SSH-1.x-": "SSH-", one or two digits, '.', one or two
// digits, '-'. RFC 4253 lets a server send other text lines before its
// banner; such servers are not recognised from the server side (the
// client's banner still is).
//
// A capture that starts after the banners sees binary packets. With
// AES-GCM and the encrypt-then-MAC modes the 4-byte packet length stays
// in clear, so on port 22 a run of packets whose lengths tile b exactly
// (see sshPackets) is Maybe. With chacha20-poly1305 and the older
// MAC-then-encrypt modes the length is encrypted too, and such a flow
// is not recognised.
func detectSSH(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if v := prefix(b, "SSH-"); v != l7.Yes {
		if v == l7.No && onPort(port, sshPorts) {
			return sshPackets(b)
		}
		return v
	}
	i, major := 4, 0
	for part := 0; part < 2; part++ {
		n := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			n++
		}
		if i == len(b) {
			if n <= 2 {
				return l7.NeedMore
			}
			return l7.No
		}
		if n == 0 || n > 2 {
			return l7.No
		}
		sep := byte('.')
		if part == 1 {
			sep = '-'
		}
		if b[i] != sep {
			return l7.No
		}
		if part == 0 {
			major = n
		}
		i++
	}
	if major != 1 {
		return l7.No
	}
	// Only versions 1.x and 2.0 exist.
	switch b[4] {
	case '1':
		return l7.Yes
	case '2':
		if b[5] == '.' && b[6] == '0' && b[7] == '-' {
			return l7.Yes
		}
	}
	return l7.No
}

// sshPackets: Maybe if b is a run of whole SSH binary packets with a
// clear-text length (RFC 4253 section 6, RFC 5647, the -etm MACs):
// uint32 length (a multiple of 8, at least 12 and below the 35000-byte
// limit implementations accept), then length bytes, then a MAC or tag
// of one of the usual sizes, the same for every packet. NeedMore while
// the first packet is incomplete.
func sshPackets(b []byte) l7.Verdict {
	if len(b) < 4 {
		return l7.NeedMore
	}
	for _, mac := range [...]int{16, 32, 20, 64, 8} {
		p, n := b, 0
		for len(p) >= 4 && n < 64 {
			l := be32(p)
			if l < 12 || l > 35000 || l%8 != 0 || uint32(len(p)) < 4+l+uint32(mac) {
				break
			}
			p = p[4+int(l)+mac:]
			n++
		}
		if len(p) == 0 && n > 0 {
			return l7.Maybe
		}
	}
	if l := be32(b); l >= 12 && l <= 35000 && l%8 == 0 && uint32(len(b)) < 4+l+64 {
		return l7.NeedMore
	}
	return l7.No
}
