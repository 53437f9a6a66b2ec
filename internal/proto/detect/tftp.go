package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// TFTP is the Trivial File Transfer Protocol (RFC 1350, options RFC 2347).
var TFTP = &l7.Protocol{
	Name:   "tftp",
	UDP:    true,
	Ports:  tftpPorts,
	Detect: detectTFTP,
}

var tftpPorts = []uint16{69}

// TFTP opcodes.
const (
	tftpRRQ   = 1
	tftpWRQ   = 2
	tftpData  = 3
	tftpAck   = 4
	tftpError = 5
	tftpOACK  = 6
)

// detectTFTP: a read or write request (opcode, printable file name, NUL,
// transfer mode "netascii", "octet" or "mail" in any case, NUL) is Yes,
// as is an option acknowledgement naming a known option. The transfer
// itself runs between two ephemeral ports (the server answers from a
// new port), so DATA, ACK and ERROR datagrams, which are little more
// than an opcode and a number, are Maybe when the flow's server port is
// 69 or in the dynamic range that clients and servers pick such ports
// from (32768 and up: Linux's default range and IANA's 49152-65535), and
// No on any other port, where they would match the TLVs of registered
// protocols (HSRP advertisements on 1985 and HNCP on 8231 start with
// 00 03 00 01, a DATA block 1).
func detectTFTP(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if len(b) < 4 || b[0] != 0 {
		return l7.No
	}
	transfer := port == 69 || port >= 32768
	switch b[1] {
	case tftpRRQ, tftpWRQ:
		p := b[2:]
		i := indexByte(p, 0, 512)
		if i < 1 || !printable(p[:i]) {
			return l7.No
		}
		p = p[i+1:]
		j := indexByte(p, 0, 16)
		if j < 0 {
			return l7.No
		}
		if m := p[:j]; equalFold(m, "octet") || equalFold(m, "netascii") || equalFold(m, "mail") {
			return l7.Yes
		}
	case tftpData:
		// block number, up to 512 bytes (or the negotiated blksize, at
		// most 65464).
		if transfer && len(b) <= 4+65464 {
			return l7.Maybe
		}
	case tftpAck:
		if transfer && len(b) == 4 {
			return l7.Maybe
		}
	case tftpError:
		// error code 0..8, message, NUL.
		if transfer && len(b) >= 5 && be16(b[2:]) <= 8 && b[len(b)-1] == 0 && printable(b[4:len(b)-1]) {
			return l7.Maybe
		}
	case tftpOACK:
		p := b[2:]
		i := indexByte(p, 0, 32)
		if i < 1 || b[len(b)-1] != 0 {
			return l7.No
		}
		switch o := p[:i]; {
		case equalFold(o, "blksize"), equalFold(o, "tsize"), equalFold(o, "timeout"),
			equalFold(o, "windowsize"), equalFold(o, "multicast"), equalFold(o, "utimeout"):
			return l7.Yes
		}
	}
	return l7.No
}
