package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Echo is the echo service (RFC 862), TCP and UDP port 7.
var Echo = &l7.Protocol{
	Name:   "echo",
	TCP:    true,
	UDP:    true,
	Ports:  echoPorts,
	Detect: detectEcho,
}

var echoPorts = []uint16{7}

// detectEcho: the echo service has no format of its own; its evidence is
// that the server sends back what the client sent. A detector sees the
// first bytes of one direction at a time and cannot compare the two, so
// the only evidence left is the port: any bytes to or from port 7 are
// Maybe. A protocol recognised by content on the same flow (an HTTP
// request sent to an echo server) says Yes and wins.
func detectEcho(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	return weak(port, echoPorts)
}
