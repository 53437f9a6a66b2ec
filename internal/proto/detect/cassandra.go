package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Cassandra is the CQL native protocol (versions 1 to 5) and Cassandra's
// inter-node messaging handshake.
var Cassandra = &l7.Protocol{
	Name:   "cassandra",
	TCP:    true,
	Ports:  cqlPorts,
	Detect: detectCassandra,
}

var cqlPorts = []uint16{9042}

// cqlMaxBody is the native protocol's default frame limit
// (native_transport_max_frame_size is 256 MiB at most).
const cqlMaxBody = 256 << 20

// CQL opcodes.
const (
	cqlError         = 0x00
	cqlStartup       = 0x01
	cqlReady         = 0x02
	cqlAuthenticate  = 0x03
	cqlCredentials   = 0x04 // v1 only
	cqlOptions       = 0x05
	cqlSupported     = 0x06
	cqlQuery         = 0x07
	cqlResult        = 0x08
	cqlPrepare       = 0x09
	cqlExecute       = 0x0a
	cqlRegister      = 0x0b
	cqlEvent         = 0x0c
	cqlBatch         = 0x0d
	cqlAuthChallenge = 0x0e
	cqlAuthResponse  = 0x0f
	cqlAuthSuccess   = 0x10
)

// detectCassandra reads a CQL frame header: version byte (0x01..0x05 for
// requests, 0x81..0x85 for responses), flags (only the five defined
// bits), stream id (1 byte before v3, 2 bytes since), opcode (one that
// the direction may send), body length (at most 256 MiB).
//
// Yes for the frames that open a connection and carry fixed content:
// OPTIONS and READY with an empty body, STARTUP and SUPPORTED with a
// string map holding CQL_VERSION (or another standard key), AUTHENTICATE
// naming an authenticator class, an ERROR whose message fills the body.
// Any other well-formed header is Maybe on port 9042 (a capture that
// started mid-connection). Protocol v5 switches to checksummed segments
// after STARTUP; those are not recognised mid-stream.
//
// The inter-node protocol (port 7000) opens with the magic 0xCA552DFA:
// Yes.
func detectCassandra(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	if len(b) < 9 {
		if len(b) >= 4 && be32(b) == 0xCA552DFA {
			return l7.Yes
		}
		if len(b) > 0 && b[0]&0x7f >= 1 && b[0]&0x7f <= 5 {
			return l7.NeedMore
		}
		if len(b) > 0 && b[0] == 0xca {
			return prefix(b, "\xca\x55\x2d\xfa")
		}
		return l7.No
	}
	if be32(b) == 0xCA552DFA {
		return l7.Yes
	}
	resp := b[0]&0x80 != 0
	ver := b[0] & 0x7f
	if ver < 1 || ver > 5 || resp != (dir == flow.ServerToClient) {
		return l7.No
	}
	if b[1]&0xe0 != 0 {
		return l7.No
	}
	hdr := 9
	stream := int(int16(be16(b[2:])))
	if ver < 3 {
		hdr = 8
		stream = int(int8(b[2]))
	}
	op := b[hdr-5]
	n := be32(b[hdr-4:])
	if n > cqlMaxBody {
		return l7.No
	}
	if !cqlOpValid(op, resp, ver) {
		return l7.No
	}
	// Requests use stream ids >= 0; servers push events on stream -1 and
	// answer other frames on the request's id.
	if (stream < 0 && !resp) || (op == cqlEvent) != (stream == -1) {
		return l7.No
	}
	body := b[hdr:]
	if uint32(len(body)) > n {
		body = body[:n]
	}
	complete := uint32(len(body)) == n
	switch op {
	case cqlOptions, cqlReady:
		if n == 0 {
			return l7.Yes
		}
		return l7.No
	case cqlStartup, cqlSupported:
		switch cqlStringMap(body, complete, op == cqlSupported) {
		case l7.Yes:
			return l7.Yes
		case l7.NeedMore:
			return l7.NeedMore
		}
		return l7.No
	case cqlAuthenticate:
		// [string] the authenticator's class name, and nothing else.
		if complete && n >= 2 && uint32(be16(body))+2 == n && printable(body[2:]) && contains(body, ".", len(body)) {
			return l7.Yes
		}
	case cqlError:
		// [int] code, [string] message filling the body.
		if complete && n >= 6 && uint32(be16(body[4:]))+6 <= n && cqlErrorCode(be32(body)) {
			return l7.Yes
		}
	}
	return weak(port, cqlPorts)
}

func cqlOpValid(op byte, resp bool, ver byte) bool {
	if resp {
		switch op {
		case cqlError, cqlReady, cqlAuthenticate, cqlSupported, cqlResult, cqlEvent:
			return true
		case cqlAuthChallenge, cqlAuthSuccess:
			return ver >= 2
		}
		return false
	}
	switch op {
	case cqlStartup, cqlOptions, cqlQuery, cqlPrepare, cqlExecute, cqlRegister:
		return true
	case cqlCredentials:
		return ver == 1
	case cqlBatch, cqlAuthResponse:
		return ver >= 2
	}
	return false
}

// cqlErrorCode reports whether c is a CQL error code (spec section 9).
func cqlErrorCode(c uint32) bool {
	switch c {
	case 0x0000, 0x000A, 0x0100, 0x1000, 0x1001, 0x1002, 0x1003, 0x1004,
		0x1100, 0x1200, 0x1300, 0x1400, 0x1500, 0x1600,
		0x2000, 0x2100, 0x2200, 0x2300, 0x2400, 0x2500:
		return true
	}
	return false
}

// cqlStringMap walks a [string map] or [string multimap] body ([short] n,
// then n keys each followed by a [string] or a [string list]) far enough
// to find a standard key: CQL_VERSION, COMPRESSION, PROTOCOL_VERSIONS,
// DRIVER_NAME, DRIVER_VERSION, THROW_ON_OVERLOAD. Keys are upper case and
// underscores; anything else is No.
func cqlStringMap(body []byte, complete, multimap bool) l7.Verdict {
	if len(body) < 2 {
		if complete {
			return l7.No
		}
		return l7.NeedMore
	}
	n := int(be16(body))
	if n == 0 || n > 64 {
		return l7.No
	}
	p := body[2:]
	for i := 0; i < n; i++ {
		if len(p) < 2 {
			break
		}
		kl := int(be16(p))
		if kl == 0 || kl > 64 {
			return l7.No
		}
		if len(p) < 2+kl {
			break
		}
		k := p[2 : 2+kl]
		for _, c := range k {
			if !(c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9') {
				return l7.No
			}
		}
		switch string(k) {
		case "CQL_VERSION", "COMPRESSION", "PROTOCOL_VERSIONS", "DRIVER_NAME", "DRIVER_VERSION", "THROW_ON_OVERLOAD", "NO_COMPACT":
			return l7.Yes
		}
		p = p[2+kl:]
		// The value: a [string] (STARTUP) or a [string list]
		// (SUPPORTED).
		strs := 1
		if multimap {
			if len(p) < 2 {
				break
			}
			strs = int(be16(p))
			p = p[2:]
		}
		for j := 0; j < strs && len(p) >= 2; j++ {
			vl := int(be16(p))
			if len(p) < 2+vl {
				p = p[len(p):]
				break
			}
			p = p[2+vl:]
		}
	}
	if complete {
		return l7.No
	}
	return l7.NeedMore
}
