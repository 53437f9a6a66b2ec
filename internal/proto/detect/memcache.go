package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Memcached is memcached's text and binary protocols, over TCP and UDP
// (where each datagram starts with an 8-byte frame header).
var Memcached = &l7.Protocol{
	Name:   "memcached",
	TCP:    true,
	UDP:    true,
	Ports:  mcPorts,
	Detect: detectMemcached,
}

// Couchbase is the Couchbase Server data service (KV engine) protocol:
// the memcached binary protocol with Couchbase's extensions (alternative
// magics, data types, HELO, SASL, bucket selection, DCP, sub-document
// operations).
var Couchbase = &l7.Protocol{
	Name:   "couchbase",
	TCP:    true,
	Ports:  cbPorts,
	Detect: detectCouchbase,
}

var (
	mcPorts = []uint16{11211}
	cbPorts = []uint16{11210}
)

// detectMemcached: the text protocol (see mcText), then the binary
// protocol unless the frame is Couchbase's (see the package comment),
// then the UDP frame header followed by either.
func detectMemcached(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	v := mcDetect(b, dir, port)
	if v != l7.No || len(b) <= 8 {
		return v
	}
	// UDP frame header: request id, sequence number, datagram count,
	// reserved 0. A request is datagram 0 of 1; a reply datagram is
	// numbered below the count.
	seq, total := be16(b[2:]), be16(b[4:])
	if total == 0 || seq >= total || b[6] != 0 || b[7] != 0 {
		return l7.No
	}
	if v = mcDetect(b[8:], dir, port); v == l7.NeedMore {
		return l7.No // a datagram is all there is
	}
	return v
}

func mcDetect(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if mcMagic(b[0]) {
		switch k, v := mcBinary(b); k {
		case mcGeneric:
			if onPort(port, cbPorts) {
				return l7.No
			}
			if v == l7.Maybe {
				return weak(port, mcPorts)
			}
			return v
		case mcCouchbase:
			return l7.No
		default:
			return v
		}
	}
	return mcText(b, dir, port)
}

// detectCouchbase claims binary frames with Couchbase-only content
// anywhere, and plain memcached binary frames on port 11210.
func detectCouchbase(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if !mcMagic(b[0]) {
		return l7.No
	}
	switch k, v := mcBinary(b); k {
	case mcCouchbase:
		if v == l7.Maybe {
			return weak(port, cbPorts)
		}
		return v
	case mcGeneric:
		if onPort(port, cbPorts) {
			return v
		}
		return l7.No
	default:
		return v
	}
}

// Magic bytes of the binary protocol: client request and response
// (memcached and Couchbase), Couchbase's alternative request/response
// (with flexible framing extras) and server-initiated request/response.
const (
	mcReq       = 0x80
	mcResp      = 0x81
	cbAltReq    = 0x08
	cbAltResp   = 0x18
	cbServerReq = 0x82
	cbServerRsp = 0x83
)

func mcMagic(c byte) bool {
	switch c {
	case mcReq, mcResp, cbAltReq, cbAltResp, cbServerReq, cbServerRsp:
		return true
	}
	return false
}

type mcKind uint8

const (
	mcNone      mcKind = iota // not a frame (the verdict says No or NeedMore)
	mcGeneric                 // a frame either memcached or Couchbase sends
	mcCouchbase               // a frame only Couchbase sends
)

// mcMaxBody bounds a frame's body: memcached's item size limit is 1 MiB
// by default and at most 1 GiB; Couchbase documents are at most 20 MiB.
const mcMaxBody = 64 << 20

// mcBinary checks the 24-byte binary header, and the headers of the
// frames that follow it in b: lengths that fit (extras + key + framing
// extras <= body), a data type of 0 (memcached) or Couchbase's JSON,
// Snappy and XATTR bits, and, in a client request, a vbucket id below
// 1024. When the first frame is complete and every frame after it is
// well-formed too, that is Yes. A first frame cut short by the end of b
// is NeedMore if it is small, and Maybe if its body is large, which the
// callers only give on their own ports (a MongoDB reply of 0x81 bytes
// reads as a response header with a 16 MiB body).
func mcBinary(b []byte) (mcKind, l7.Verdict) {
	kind := mcGeneric
	frames := 0
	for len(b) > 0 && frames < 64 {
		if len(b) < 24 {
			if frames == 0 {
				return mcNone, l7.NeedMore
			}
			break // the next frame, cut short
		}
		magic, op := b[0], b[1]
		if !mcMagic(magic) {
			return mcNone, l7.No
		}
		keyLen, frameExt := int(be16(b[2:])), 0
		if magic == cbAltReq || magic == cbAltResp {
			frameExt, keyLen = int(b[2]), int(b[3])
		}
		extLen, dataType := int(b[4]), b[5]
		body := be32(b[8:])
		if body > mcMaxBody || uint32(frameExt+extLen+keyLen) > body || dataType > 7 {
			return mcNone, l7.No
		}
		switch magic {
		case mcReq, cbAltReq:
			if be16(b[6:]) >= 1024 { // vbucket id
				return mcNone, l7.No
			}
		case mcResp, cbAltResp:
			if !mcStatus(be16(b[6:])) {
				return mcNone, l7.No
			}
		}
		if magic != mcReq && magic != mcResp || dataType != 0 || cbOpcode(op) {
			kind = mcCouchbase
		}
		frames++
		if uint32(len(b)-24) < body {
			if frames > 1 {
				break
			}
			// A small first frame will be complete within the
			// detection window; a large one (a big value) is judged
			// on its header.
			if body <= 2048 {
				return kind, l7.NeedMore
			}
			return kind, l7.Maybe
		}
		b = b[24+body:]
	}
	return kind, l7.Yes
}

// mcStatus reports whether s is a response status of memcached or
// Couchbase (0x00..0x0d, 0x1f..0x24 auth/bucket, 0x25..0x2a, 0x30..0x3a,
// 0x80..0x86, 0xc0..0xd4 sub-document).
func mcStatus(s uint16) bool {
	switch {
	case s <= 0x0d, s >= 0x1f && s <= 0x2a, s >= 0x30 && s <= 0x3a,
		s >= 0x80 && s <= 0x86, s >= 0xc0 && s <= 0xd4:
		return true
	}
	return false
}

// cbOpcode reports whether op is a Couchbase-only opcode: HELO, the
// Couchbase extensions from 0x23 on (memcached stops at the SASL and
// range opcodes 0x20..0x3c), TAP, DCP, bucket management, collections,
// meta and sub-document operations, the error map.
func cbOpcode(op byte) bool {
	switch {
	case op == 0x1f: // HELO
		return true
	case op >= 0x23 && op <= 0x2f: // Couchbase 0x23..0x2f are not memcached's
		return true
	case op >= 0x3d && op <= 0x5f: // set/get vbucket, TAP, DCP
		return true
	case op >= 0x83:
		return true
	}
	return false
}

// Text protocol. Commands and replies are lines; the command word
// decides what follows.
const mcMaxLine = 2048 // a key is at most 250 bytes; "get" may list many

// mcText checks the first line. Storage commands carry numeric flags,
// exptime and byte count ("set k 0 0 5"), and replies like
// "VALUE k 0 5" or "STAT pid 1": those shapes are Yes. Single-word lines
// and "get k" (which is also a Redis inline command) are Maybe on port
// 11211 and No elsewhere.
func mcText(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	// Commands are lower case, replies upper case.
	if c := b[0]; dir == flow.ServerToClient && (c < 'A' || c > 'Z') || dir == flow.ClientToServer && (c < 'a' || c > 'z') {
		return l7.No
	}
	// The first word decides: look it up before scanning the line, so
	// that text of other protocols costs a few comparisons.
	w := b
	for i, c := range b {
		if c == ' ' || c == '\r' || c == '\n' {
			w = b[:i]
			break
		}
		if i == 16 {
			return l7.No
		}
	}
	if len(w) == len(b) {
		// No delimiter yet: wait for one if this could be a word.
		if len(b) < 16 && mcWordPrefix(w, dir) {
			return l7.NeedMore
		}
		return l7.No
	}
	if !mcWord(w, dir) {
		return l7.No
	}
	eol := indexByte(b, '\n', mcMaxLine)
	if eol < 0 {
		if len(b) >= mcMaxLine || !printable(b) {
			return l7.No
		}
		return l7.NeedMore
	}
	line := b[:eol]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !printable(line) {
		return l7.No
	}
	var tok [8][]byte
	n := fields(line, tok[:])
	if n == 0 {
		return l7.No
	}
	w, args := tok[0], tok[1:min(n, len(tok))]
	v := mcCommand(w, args, n)
	if dir == flow.ServerToClient {
		v = mcReply(w, args, n)
	}
	if v == l7.Maybe {
		return weak(port, mcPorts)
	}
	return v
}

// fields splits line at spaces into tok and returns how many fields there
// are (counting past len(tok), so callers can reject long lines).
func fields(line []byte, tok [][]byte) int {
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if n < len(tok) {
			tok[n] = line[i:j]
		}
		n++
		i = j
	}
	return n
}

func mcCommand(w []byte, args [][]byte, n int) l7.Verdict {
	switch string(w) {
	case "set", "add", "replace", "append", "prepend":
		// <key> <flags> <exptime> <bytes> [noreply]
		if (n == 5 || n == 6 && string(args[4]) == "noreply") && mcKey(args[0]) &&
			digits(args[1]) && mcInt(args[2]) && digits(args[3]) {
			return l7.Yes
		}
	case "cas":
		// <key> <flags> <exptime> <bytes> <cas unique> [noreply]
		if (n == 6 || n == 7 && string(args[5]) == "noreply") && mcKey(args[0]) &&
			digits(args[1]) && mcInt(args[2]) && digits(args[3]) && digits(args[4]) {
			return l7.Yes
		}
	case "gets":
		if n >= 2 && mcKey(args[0]) {
			return l7.Yes
		}
	case "gat", "gats":
		// <exptime> <key>*
		if n >= 3 && mcInt(args[0]) && mcKey(args[1]) {
			return l7.Yes
		}
	case "get", "delete", "touch", "incr", "decr", "mg", "ms", "md", "ma", "me":
		if n >= 2 && mcKey(args[0]) {
			return l7.Maybe
		}
	case "stats":
		if n <= 3 {
			return l7.Yes
		}
	case "verbosity":
		if n >= 2 && n <= 3 && digits(args[0]) {
			return l7.Yes
		}
	case "flush_all":
		if n <= 3 {
			return l7.Yes
		}
	case "version", "quit", "mn":
		if n == 1 {
			return l7.Maybe
		}
	}
	return l7.No
}

func mcReply(w []byte, args [][]byte, n int) l7.Verdict {
	switch string(w) {
	case "VALUE":
		// VALUE <key> <flags> <bytes> [<cas unique>]
		if (n == 4 || n == 5) && mcKey(args[0]) && digits(args[1]) && digits(args[2]) {
			return l7.Yes
		}
	case "STAT":
		if n >= 3 {
			return l7.Yes
		}
	case "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED":
		if n == 1 {
			return l7.Yes
		}
	case "VERSION":
		if n == 2 {
			return l7.Maybe
		}
	case "END", "OK", "ERROR", "EN", "MN":
		if n == 1 {
			return l7.Maybe
		}
	case "CLIENT_ERROR", "SERVER_ERROR":
		return l7.Maybe
	case "HD", "NF", "NS", "EX", "VA":
		return l7.Maybe
	}
	return l7.No
}

// mcWord reports whether w is a command (client) or reply (server) word.
// (A switch, which the compiler turns into a search by length and
// content, the hot path for text of other protocols.)
func mcWord(w []byte, dir flow.Dir) bool {
	if dir == flow.ServerToClient {
		switch string(w) {
		case "VALUE", "STAT", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED",
			"TOUCHED", "VERSION", "END", "OK", "ERROR", "CLIENT_ERROR", "SERVER_ERROR", "HD", "NF", "NS",
			"EX", "VA", "EN", "MN":
			return true
		}
		return false
	}
	switch string(w) {
	case "set", "add", "replace", "append", "prepend", "cas", "gets", "gat", "gats",
		"get", "delete", "touch", "incr", "decr", "stats", "verbosity", "flush_all", "version", "quit",
		"mg", "ms", "md", "ma", "mn", "me":
		return true
	}
	return false
}

// mcWordPrefix reports whether w could be the start of a command (client)
// or reply (server) word.
func mcWordPrefix(w []byte, dir flow.Dir) bool {
	words := mcCommandWords[:]
	if dir == flow.ServerToClient {
		words = mcReplyWords[:]
	}
	for _, s := range words {
		if len(w) <= len(s) && string(w) == s[:len(w)] {
			return true
		}
	}
	return false
}

// The words mcWord knows, for mcWordPrefix.
var (
	mcCommandWords = [...]string{"set", "add", "replace", "append", "prepend", "cas", "gets", "gat", "gats",
		"get", "delete", "touch", "incr", "decr", "stats", "verbosity", "flush_all", "version", "quit",
		"mg", "ms", "md", "ma", "mn", "me"}
	mcReplyWords = [...]string{"VALUE", "STAT", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED",
		"TOUCHED", "VERSION", "END", "OK", "ERROR", "CLIENT_ERROR", "SERVER_ERROR", "HD", "NF", "NS",
		"EX", "VA", "EN", "MN"}
)

// mcKey: a key is 1..250 bytes without control characters or spaces
// (fields already split at spaces and printable checked the rest).
func mcKey(k []byte) bool { return len(k) >= 1 && len(k) <= 250 }

// mcInt: an exptime, which may be negative.
func mcInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	return digits(b)
}
