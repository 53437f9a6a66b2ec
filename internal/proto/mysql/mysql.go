// Package mysql decodes the MySQL client/server protocol (also spoken by
// MariaDB, TiDB, ProxySQL) from the reassembled TCP stream: the
// handshake, every client command and its response, in plain or
// zlib-compressed framing.
//
// Transactions:
//
//   - Op is the command name ("COM_QUERY", "COM_STMT_PREPARE",
//     "COM_STMT_EXECUTE", "COM_INIT_DB", "COM_PING", ...) or "LOGIN" for
//     the handshake (login request and the server's final OK or ERR, auth
//     switches in between) and "COM_CHANGE_USER" for a re-login.
//   - Target is the SQL text (COM_QUERY, COM_STMT_PREPARE; for
//     COM_STMT_EXECUTE the text its statement was prepared with, when the
//     prepare was seen), the schema name (COM_INIT_DB, COM_CREATE_DB,
//     COM_DROP_DB) or the table (COM_FIELD_LIST), cut at l7.MaxField.
//   - Status is the ERR packet's error code ("1049"), empty on success.
//   - Outcome: ok; client_error or server_error by SQLSTATE class on ERR
//     (42 syntax/access, 23 constraint, 28 authorization, 3D unknown
//     schema, ... blame the request; HY000, 08, 40, 53, ... the server);
//     no_response, no_request; one_way for commands that get no response
//     (COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA).
//   - FlagSQLi when sqli.Check matches the SQL text; FlagRedacted when
//     auth data was replaced; FlagTruncated when a value was cut.
//
// Field keys, in this order, each present only when it applies:
//
//	sql_command    first keyword of the SQL text, upper-cased (SELECT, INSERT, ...)
//	statement_id   prepared statement id (prepare response; execute, fetch, close, reset requests)
//	affected_rows  from the OK packet
//	last_insert_id from the OK packet, when not 0
//	rows           rows of the result set(s), counted, never buffered
//	columns        columns of the (first) result set
//	error_message  from the ERR packet
//	sql_state      from the ERR packet (5 characters)
//	user           login and COM_CHANGE_USER
//	database       login (when the client names one), COM_INIT_DB
//	auth           auth data of login and COM_CHANGE_USER: l7.Redacted unless KeepCredentials
//	server_version from the server greeting, on LOGIN
//	compressed     "zlib" on LOGIN when the session switched to compression
//
// Not decoded: the values bound to COM_STMT_EXECUTE, row contents, TLS
// sessions (after an SSL request the parser calls Sink.Stop), zstd
// compression (Stop), replication streams after COM_BINLOG_DUMP (Stop).
// A compressed frame longer than Context.MaxMessage cannot be
// decompressed and is counted as DropTooLarge.
package mysql

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol is MySQL on TCP, port 3306 as a hint.
var Protocol = &l7.Protocol{
	Name:   "mysql",
	TCP:    true,
	Ports:  []uint16{3306},
	Detect: Detect,
	New:    newParser,
}

// Command bytes.
const (
	comSleep            = 0x00
	comQuit             = 0x01
	comInitDB           = 0x02
	comQuery            = 0x03
	comFieldList        = 0x04
	comCreateDB         = 0x05
	comDropDB           = 0x06
	comRefresh          = 0x07
	comShutdown         = 0x08
	comStatistics       = 0x09
	comProcessInfo      = 0x0a
	comConnect          = 0x0b
	comProcessKill      = 0x0c
	comDebug            = 0x0d
	comPing             = 0x0e
	comTime             = 0x0f
	comDelayedInsert    = 0x10
	comChangeUser       = 0x11
	comBinlogDump       = 0x12
	comTableDump        = 0x13
	comConnectOut       = 0x14
	comRegisterSlave    = 0x15
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
	comStmtReset        = 0x1a
	comSetOption        = 0x1b
	comStmtFetch        = 0x1c
	comDaemon           = 0x1d
	comBinlogDumpGTID   = 0x1e
	comResetConnection  = 0x1f
	comClone            = 0x20
	numCommands         = 0x21
)

var commandNames = [numCommands]string{
	"COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST", "COM_CREATE_DB",
	"COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN", "COM_STATISTICS", "COM_PROCESS_INFO",
	"COM_CONNECT", "COM_PROCESS_KILL", "COM_DEBUG", "COM_PING", "COM_TIME",
	"COM_DELAYED_INSERT", "COM_CHANGE_USER", "COM_BINLOG_DUMP", "COM_TABLE_DUMP",
	"COM_CONNECT_OUT", "COM_REGISTER_SLAVE", "COM_STMT_PREPARE", "COM_STMT_EXECUTE",
	"COM_STMT_SEND_LONG_DATA", "COM_STMT_CLOSE", "COM_STMT_RESET", "COM_SET_OPTION",
	"COM_STMT_FETCH", "COM_DAEMON", "COM_BINLOG_DUMP_GTID", "COM_RESET_CONNECTION", "COM_CLONE",
}

// commandOps holds the names as byte slices, so that a transaction's Op
// costs nothing.
var commandOps = func() (o [numCommands][]byte) {
	for i, n := range commandNames {
		o[i] = []byte(n)
	}
	return o
}()

var opLogin = []byte("LOGIN")

// clientSends reports whether a client sends cmd at all: the server-internal
// commands (COM_SLEEP, COM_CONNECT, COM_TIME, COM_DELAYED_INSERT,
// COM_DAEMON, ...) never appear on the wire.
func clientSends(cmd byte) bool {
	switch cmd {
	case comSleep, comConnect, comTime, comDelayedInsert, comConnectOut, comDaemon:
		return false
	}
	return cmd < numCommands
}

// Capability flags (the ones the parser acts on).
const (
	capConnectWithDB      = 0x00000008
	capCompress           = 0x00000020
	capProtocol41         = 0x00000200
	capSSL                = 0x00000800
	capSecureConnection   = 0x00008000
	capPluginAuth         = 0x00080000
	capPluginAuthLenenc   = 0x00200000
	capDeprecateEOF       = 0x01000000
	capZstd               = 0x04000000
	capQueryAttributes    = 0x08000000
	serverMoreResultsFlag = 0x0008
)

// Detect recognises MySQL by the server greeting (protocol version 10 and
// a version string) — Yes — or, when the capture starts later, by a
// client packet that is a plausible command or login request, plain or in
// compressed framing — Maybe.
func Detect(b []byte, dir flow.Dir, _ uint16) l7.Verdict {
	if len(b) < 5 {
		return l7.NeedMore
	}
	plen := le24(b)
	seq := b[3]
	if dir == flow.ServerToClient {
		if seq != 0 || plen < 20 || plen > 4096 {
			return l7.No
		}
		switch b[4] {
		case 10:
			if greetingVersion(b[5:]) {
				return l7.Yes
			}
			if len(b) < 4+plen && len(b) < 64 {
				return l7.NeedMore
			}
		case 0xff:
			// An ERR instead of the greeting ("Host ... is not allowed to
			// connect"): 0xff, code 1xxx, text.
			if len(b) < 7 {
				return l7.NeedMore
			}
			if code := int(b[5]) | int(b[6])<<8; code >= 1000 && code < 4000 {
				return l7.Maybe
			}
		}
		return l7.No
	}
	if compressedStart(b) {
		return l7.Maybe
	}
	if plausibleCommand(b) || plausibleLogin(b) {
		return l7.Maybe
	}
	return l7.No
}

// greetingVersion: a server version string that starts with a digit,
// printable, NUL-terminated within 64 bytes.
func greetingVersion(v []byte) bool {
	if len(v) == 0 || v[0] < '0' || v[0] > '9' {
		return false
	}
	for i := 1; i < len(v) && i < 64; i++ {
		switch c := v[i]; {
		case c == 0:
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

// plausibleCommand: a client packet with sequence 0 and a command byte
// clients send, the whole packet at the start of b, and for commands that
// carry text (SQL, schema names) text that starts like text.
func plausibleCommand(b []byte) bool {
	if len(b) < 5 || b[3] != 0 {
		return false
	}
	plen := le24(b)
	cmd := b[4]
	if plen == 0 || !clientSends(cmd) || plen >= 0xffffff {
		return false
	}
	switch cmd {
	case comQuery, comStmtPrepare, comInitDB, comCreateDB, comDropDB, comFieldList:
		if plen < 2 {
			return false
		}
		t := b[5:min(len(b), 4+plen)]
		if cmd == comQuery && len(t) >= 2 && t[0] == 0 && t[1] == 1 {
			t = t[2:] // query attributes: no parameters, one set
		}
		if len(t) == 0 {
			return false
		}
		n := 0
		for _, c := range t[:min(len(t), 32)] {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			n++
		}
		return n > 0
	case comQuit, comPing, comStatistics, comProcessInfo, comDebug, comResetConnection:
		// One byte: the packet must be exactly that, and be all there is.
		return plen == 1 && len(b) == 5
	case comStmtExecute, comStmtClose, comStmtReset, comStmtFetch, comStmtSendLongData:
		return plen >= 5 && len(b) >= 4+plen
	}
	return len(b) >= 4+plen
}

// plausibleLogin: a HandshakeResponse41 seen without the greeting:
// sequence 1 (2 after an SSL request), the 4.1 protocol flag, 23 zero
// bytes of filler and a NUL-terminated printable user name.
func plausibleLogin(b []byte) bool {
	if len(b) < 4+32 || b[3] != 1 && b[3] != 2 {
		return false
	}
	p := b[4:]
	caps := le32(p)
	if caps&capProtocol41 == 0 {
		return false
	}
	for _, c := range p[9:32] {
		if c != 0 {
			return false
		}
	}
	if le24(b) == 32 {
		return caps&capSSL != 0
	}
	for i := 32; i < len(p) && i < 32+64; i++ {
		if p[i] == 0 {
			return i > 32
		}
		if p[i] < 0x20 || p[i] > 0x7e {
			return false
		}
	}
	return false
}

// compressedStart: a compressed-protocol frame from the client: 3-byte
// compressed length, sequence 0, 3-byte uncompressed length, then either
// (uncompressed length 0) a whole plain command packet, or a zlib header.
func compressedStart(b []byte) bool {
	if len(b) < 11 || b[3] != 0 {
		return false
	}
	clen := le24(b)
	ulen := le24(b[4:])
	if clen == 0 || clen > 1<<24-1 {
		return false
	}
	if ulen == 0 {
		return le24(b[7:])+4 == clen && plausibleCommand(b[7:min(len(b), 7+clen)])
	}
	return ulen >= 2 && zlibHeader(b[7], b[8])
}

// zlibHeader: CMF 0x78 (deflate, 32K window) and a valid check.
func zlibHeader(cmf, flg byte) bool {
	return cmf == 0x78 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

func le24(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

func le16(b []byte) int { return int(b[0]) | int(b[1])<<8 }

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
