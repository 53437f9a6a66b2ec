// Package postgres decodes the PostgreSQL frontend/backend protocol
// (version 3) from the reassembled TCP stream: startup and
// authentication, the simple query protocol and the extended query
// protocol (Parse/Bind/Describe/Execute/Sync).
//
// One transaction per Simple Query message ('Q') and one per Execute
// message ('E'); these are what the query counts count, the same messages
// tshark shows as pgsql.type "Simple query" and "Execute". A Sync batch
// without an Execute (Parse/Describe/Sync to prepare a statement, a Close,
// a lone Sync) is one transaction too, named after its first message, so
// that a prepare that fails is not lost; so are a FunctionCall, the
// startup exchange ("LOGIN") and a CancelRequest ("CANCEL", one way).
//
//   - Op: "QUERY", "EXECUTE", "PARSE", "BIND", "DESCRIBE", "CLOSE", "SYNC",
//     "FLUSH", "FUNCTION_CALL", "LOGIN", "CANCEL".
//   - Target: the SQL text: the query of a Simple Query; for an Execute,
//     the query of the statement its portal was bound to (from the Parse,
//     if the capture holds it; prepared statements are remembered per
//     connection, at most 64 and Context.MaxMessage bytes); cut at
//     l7.MaxField.
//   - Status: the SQLSTATE of an ErrorResponse ("42P01"), empty on success.
//   - Outcome: by SQLSTATE class (42 syntax/access, 23 constraint, 22 data,
//     28 authorization, ... blame the request; 53 resources, 57 operator
//     intervention, 58 system, XX internal, 08 connection, 40 rollback
//     are the server's). Executes after a failed one in the same Sync
//     batch were skipped by the server: they carry the same error.
//   - ReqTS: the first byte of the messages that make the request (for an
//     Execute, the Parse/Bind before it since the previous Execute);
//     RespTS: the CommandComplete (or EmptyQueryResponse, PortalSuspended,
//     ErrorResponse) for an Execute, the ReadyForQuery for a Simple Query
//     and for batches; ReqBytes, RespBytes: those messages' lengths.
//   - FlagSQLi when sqli.Check matches the SQL text; FlagRedacted when a
//     password or SASL message was replaced by l7.Redacted.
//
// Field keys, in this order, each present only when it applies:
//
//	command_tag    the (last) CommandComplete tag: "SELECT 3", "INSERT 0 1", "UPDATE 5"
//	rows           rows the tag reports (summed over the statements of a Simple Query), or the DataRows counted when no tag has a count
//	statement      the prepared statement's name (extended protocol, named statements)
//	error_message  ErrorResponse field M
//	severity       ErrorResponse field V (or S): ERROR, FATAL, PANIC
//	user           StartupMessage user (LOGIN)
//	database       StartupMessage database (LOGIN)
//	auth           password / SASL data: l7.Redacted unless KeepCredentials (LOGIN)
//	server_version ParameterStatus server_version (LOGIN)
//
// Not decoded: Bind parameter values, row contents, COPY data (counted in
// the bytes of the Simple Query that started it), TLS sessions after an
// accepted SSLRequest or GSSENCRequest (the parser calls Sink.Stop).
package postgres

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol is PostgreSQL on TCP, port 5432 as a hint.
var Protocol = &l7.Protocol{
	Name:   "postgresql",
	TCP:    true,
	Ports:  []uint16{5432},
	Detect: Detect,
	New:    newParser,
}

// Codes of the untyped startup-phase messages.
const (
	codeProtocol3 = 3 << 16
	codeCancel    = 80877102
	codeSSL       = 80877103
	codeGSSENC    = 80877104
)

// maxStartup bounds a startup packet (the server's own limit is 10000).
const maxStartup = 10000

// Detect recognises PostgreSQL by the client's first message: a
// StartupMessage for protocol 3.x, an SSLRequest, a GSSENCRequest or a
// CancelRequest — Yes — or, when the capture starts later, a frontend
// message that parses (a Simple Query with text, a Parse, a Bind) — Maybe.
func Detect(b []byte, dir flow.Dir, _ uint16) l7.Verdict {
	if dir != flow.ClientToServer {
		return l7.No
	}
	if len(b) < 8 {
		if len(b) > 0 && !frontendType(b[0]) && b[0] != 0 {
			return l7.No
		}
		return l7.NeedMore
	}
	if v := startupVerdict(b); v != l7.No {
		return v
	}
	if frontendPlausible(b) {
		return l7.Maybe
	}
	return l7.No
}

func startupVerdict(b []byte) l7.Verdict {
	n := int(binary.BigEndian.Uint32(b))
	code := binary.BigEndian.Uint32(b[4:])
	switch {
	case code == codeSSL || code == codeGSSENC:
		if n == 8 {
			return l7.Yes
		}
	case code == codeCancel:
		if n == 16 {
			return l7.Yes
		}
	case code>>16 == 3 && code&0xffff < 16:
		if n < 8+5 || n > maxStartup {
			return l7.No
		}
		// key NUL value NUL ... NUL; the first key is a printable word.
		p := b[8:min(len(b), n)]
		for i, c := range p {
			if c == 0 {
				if i == 0 {
					return l7.No
				}
				return l7.Yes
			}
			if c < 0x20 || c > 0x7e {
				return l7.No
			}
		}
		return l7.NeedMore
	}
	return l7.No
}

func frontendType(c byte) bool {
	switch c {
	case 'Q', 'P', 'B', 'E', 'D', 'C', 'S', 'H', 'X', 'F', 'p', 'd', 'c', 'f':
		return true
	}
	return false
}

// frontendPlausible: b starts with a Simple Query, Parse or Bind whose
// length is sane and whose strings are where they should be.
func frontendPlausible(b []byte) bool {
	if len(b) < 6 {
		return false
	}
	n := int(binary.BigEndian.Uint32(b[1:]))
	// Below 16 MiB: the length's first byte is 0, which text never has
	// (a 'Q' or 'P' in the middle of text, followed by four printable
	// bytes, would otherwise pass for a huge message still to come).
	if n < 5 || n >= 1<<24 {
		return false
	}
	body := b[5:min(len(b), 1+n)]
	switch b[0] {
	case 'Q':
		// query NUL, and nothing after it.
		q, ok := sqlText(body)
		return ok && (len(body) < n-4 || len(q)+1 == n-4)
	case 'P':
		// statement name NUL, query NUL, int16 parameter count, OIDs.
		i := indexNul(body)
		if i < 0 || !printable(body[:i]) {
			return false
		}
		q, ok := sqlText(body[i+1:])
		if !ok {
			return false
		}
		rest := n - 4 - (i + 1) - (len(q) + 1)
		if len(body) < n-4 {
			return rest >= 2 || len(q) == len(body)-i-1
		}
		if rest < 2 {
			return false
		}
		k := int(binary.BigEndian.Uint16(body[n-4-rest:]))
		return rest == 2+4*k
	case 'B':
		// portal NUL, statement NUL, then the formats.
		i := indexNul(body)
		if i < 0 || !printable(body[:i]) {
			return false
		}
		j := indexNul(body[i+1:])
		return j >= 0 && printable(body[i+1:i+1+j]) && len(b) >= 1+n && (len(b) == 1+n || len(b) >= 1+n+5 && frontendType(b[1+n]))
	}
	return false
}

// sqlText returns the NUL-terminated text at the start of b; ok when it
// is not empty and starts like text (its first 32 bytes printable or
// white space), and, if b holds its end, a NUL ends it.
func sqlText(b []byte) (q []byte, ok bool) {
	end := indexNul(b)
	q = b
	if end >= 0 {
		q = b[:end]
	}
	if len(q) == 0 {
		return q, false
	}
	for _, c := range q[:min(len(q), 32)] {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return q, false
		}
	}
	return q, true
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func indexNul(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
