package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// ZooKeeper is Apache ZooKeeper's client protocol (Jute records behind a
// 4-byte length) and its four-letter admin words.
var ZooKeeper = &l7.Protocol{
	Name:   "zookeeper",
	TCP:    true,
	Ports:  zkPorts,
	Detect: detectZooKeeper,
}

var zkPorts = []uint16{2181}

// Four-letter words. Those that are also English words, or that another
// text protocol could open with, are only Maybe on port 2181.
var (
	zkWordsStrong = [...]string{"ruok", "mntr", "srvr", "wchs", "wchc", "wchp", "crst", "srst", "gtmk", "stmk", "isro", "envi", "cons", "dirs"}
	zkWordsWeak   = [...]string{"stat", "conf", "dump", "reqs", "kill"}
)

// detectZooKeeper recognises, strongest first:
//   - a ConnectRequest (length 44 or 45: protocolVersion 0, a timeout, a
//     16-byte password) or a ConnectResponse (length 36 or 37), which open
//     every session: Yes;
//   - a ping (length 8, xid -2, opcode 11) or its reply (length 16, xid -2,
//     err 0): Yes;
//   - another request (length, xid, known opcode) or reply (length, xid,
//     zxid, known error code), e.g. a capture that started mid-session:
//     Maybe on port 2181;
//   - a four-letter word alone on the connection ("ruok", "mntr", ...) or
//     the answers to them ("imok", "zk_version\t", "Zookeeper version: ").
func detectZooKeeper(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if b[0] >= 'a' && b[0] <= 'z' || b[0] >= 'A' && b[0] <= 'Z' {
		return zkText(b, dir, port)
	}
	if len(b) < 12 {
		if b[0] == 0 {
			return l7.NeedMore
		}
		return l7.No
	}
	n := be32(b)
	if n < 8 || n > 1<<20+1024 { // jute.maxbuffer defaults to 1 MiB (0xfffff)
		return l7.No
	}
	switch dir {
	case flow.ClientToServer:
		if (n == 44 || n == 45) && be32(b[4:]) == 0 {
			// protocolVersion 0, lastZxidSeen, timeOut, sessionId, passwd.
			if len(b) < 32 {
				return l7.NeedMore
			}
			if t := be32(b[16:]); t > 0 && t < 1<<24 && be32(b[28:]) == 16 {
				return l7.Yes
			}
		}
		xid, op := int32(be32(b[4:])), int32(be32(b[8:]))
		if n == 8 && xid == -2 && op == 11 {
			return l7.Yes
		}
		if zkOpcode(op) {
			return weak(port, zkPorts)
		}
	case flow.ServerToClient:
		if (n == 36 || n == 37) && be32(b[4:]) == 0 {
			// protocolVersion 0, timeOut, sessionId, passwd.
			if len(b) < 24 {
				return l7.NeedMore
			}
			if t := be32(b[8:]); t > 0 && t < 1<<24 && be32(b[20:]) == 16 {
				return l7.Yes
			}
		}
		if n < 16 {
			return l7.No
		}
		if len(b) < 20 {
			return l7.NeedMore
		}
		xid, err := int32(be32(b[4:])), int32(be32(b[16:]))
		if !zkError(err) {
			return l7.No
		}
		if n == 16 && xid == -2 && err == 0 {
			return l7.Yes
		}
		return weak(port, zkPorts)
	}
	return l7.No
}

func zkText(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	if dir == flow.ServerToClient {
		switch {
		case hasPrefix(b, "imok"), hasPrefix(b, "zk_version\t"), hasPrefix(b, "Zookeeper version: "):
			return l7.Yes
		case contains(b, " is not executed because it is not in the whitelist.", 128):
			return l7.Yes
		}
		if prefix(b, "Zookeeper version: ") == l7.NeedMore || prefix(b, "zk_version\t") == l7.NeedMore || prefix(b, "imok") == l7.NeedMore {
			return l7.NeedMore
		}
		return l7.No
	}
	if len(b) < 4 {
		return l7.NeedMore
	}
	// The word is all the client sends (nc may add a newline).
	if rest := b[4:]; len(rest) > 0 && string(rest) != "\n" && string(rest) != "\r\n" {
		return l7.No
	}
	w := string(b[:4]) // compared, not kept: no allocation
	for _, s := range zkWordsStrong {
		if w == s {
			return l7.Yes
		}
	}
	for _, s := range zkWordsWeak {
		if w == s {
			return weak(port, zkPorts)
		}
	}
	return l7.No
}

// zkOpcode reports whether op is a ZooKeeper request opcode
// (ZooDefs.OpCode).
func zkOpcode(op int32) bool {
	switch {
	case op >= 1 && op <= 9, op >= 11 && op <= 22:
		return true
	case op >= 100 && op <= 107:
		return true
	case op == -10 || op == -11: // createSession, closeSession
		return true
	}
	return false
}

// zkError reports whether e is a ZooKeeper error code
// (KeeperException.Code): 0, system errors -1..-16, API errors -100..-134.
func zkError(e int32) bool {
	return e <= 0 && (e >= -16 || e <= -100 && e >= -134)
}
