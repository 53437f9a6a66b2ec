// Package detect labels flows of protocols that wirewatch recognises but
// does not decode: SSH, NTP, DHCP (and DHCPv6), ZooKeeper, Cassandra,
// memcached, AMQP, MQTT, TDS (Microsoft SQL Server), TNS (Oracle), TFTP,
// Couchbase, Spark RPC and echo. Each is an *l7.Protocol with a content
// detector and New == nil: the Tracker names the flow and decodes nothing,
// so these protocols emit no transactions and no Field keys (Op, Target
// and Status are never set by this package).
//
// A detector sees the first bytes of one direction of a flow (the start
// of the reassembled TCP stream, or one UDP datagram). Each one answers
//
//   - Yes only on evidence that other protocols and random bytes do not
//     produce by accident: a text banner or magic ("SSH-2.0-",
//     "AMQP\x00\x00\x09\x01", the DHCP magic cookie at offset 236), or
//     several independent fields of a binary header that agree with each
//     other (a length that matches a second length, a fixed constant, an
//     option table whose offsets fit);
//   - Maybe on a header that is merely consistent. Where the header is
//     short or mostly free-form (an NTP client request, a TFTP ACK, a TDS
//     packet in the middle of a session, any byte on the echo port) Maybe
//     is only given on the protocol's own port, and No elsewhere: such
//     headers are matched by chance often enough that, off their port,
//     they would label unrelated traffic (DNS queries of the right size
//     pass the NTP header checks, for instance);
//   - NeedMore while the bytes are a consistent prefix too short to tell;
//   - No otherwise.
//
// Memcached and Couchbase share the memcached binary protocol. A binary
// frame is Couchbase when it carries something memcached never sends
// (the alternative or server magics 0x08/0x18/0x82/0x83, a non-zero data
// type, a Couchbase-only opcode such as HELO, SELECT_BUCKET or DCP), or
// when it arrives on Couchbase's data port 11210; otherwise it is
// memcached. The two detectors apply the same rule, so a frame is never
// claimed by both.
//
// Detectors do not allocate, do not keep b, read at most a few hundred
// bytes of it and bound every loop by len(b). docs/proto/detect.md lists
// the evidence each one uses and its known limits.
package detect

import "github.com/wirewatch/wirewatch/internal/l7"

// All lists every protocol of this package, for the registry.
var All = []*l7.Protocol{
	SSH, AMQP, MQTT, Cassandra, ZooKeeper, TDS, TNS, Spark,
	Memcached, Couchbase, DHCP, NTP, TFTP, Echo,
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be64(b []byte) uint64 { return uint64(be32(b))<<32 | uint64(be32(b[4:])) }

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// prefix compares the start of b with a signature: Yes when b starts
// with sig, NeedMore when b is shorter and a prefix of sig, No otherwise.
func prefix(b []byte, sig string) l7.Verdict {
	if len(b) < len(sig) {
		if string(b) == sig[:len(b)] {
			return l7.NeedMore
		}
		return l7.No
	}
	if string(b[:len(sig)]) == sig {
		return l7.Yes
	}
	return l7.No
}

// hasPrefix reports whether b starts with s (no allocation: the compiler
// compares string(b[:n]) in place).
func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// onPort reports whether p is one of ports.
func onPort(p uint16, ports []uint16) bool {
	for _, q := range ports {
		if p == q {
			return true
		}
	}
	return false
}

// weak turns weak evidence into Maybe on the protocol's own ports and
// into No elsewhere (see the package comment).
func weak(p uint16, ports []uint16) l7.Verdict {
	if onPort(p, ports) {
		return l7.Maybe
	}
	return l7.No
}

// indexByte is bytes.IndexByte bounded to the first max bytes of b.
func indexByte(b []byte, c byte, max int) int {
	if len(b) > max {
		b = b[:max]
	}
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// contains reports whether s occurs in the first max bytes of b.
func contains(b []byte, s string, max int) bool {
	if len(b) > max {
		b = b[:max]
	}
	for i := 0; i+len(s) <= len(b); i++ {
		if b[i] == s[0] && string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// lower returns c in lower case for ASCII letters.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals the lower-case ASCII string s,
// ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// printable reports whether every byte of b is printable ASCII.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// digits reports whether b is a non-empty run of ASCII digits.
func digits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
