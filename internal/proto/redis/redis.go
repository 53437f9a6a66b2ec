// Package redis decodes Redis client/server traffic (RESP2 and RESP3)
// into transactions: one command and its reply.
//
// What is decoded: RESP arrays of bulk strings and inline commands from
// the client; every RESP2 and RESP3 reply type from the server (simple
// string, error, integer, bulk string, array, null, double, boolean, blob
// error, verbatim string, big number, map, set, attribute, push, and the
// streamed "?" forms). Replies are matched to commands in order, so
// pipelining works; the commands waiting for a reply are bounded by
// Context.MaxPending. Bulk payloads are skipped by counting, never
// buffered: a 1 GB value costs nothing but the time to count it.
//
// Transactions:
//
//	Op      the command name, upper-cased ("GET", "CLIENT")
//	Target  the first key (bounded to 256 bytes); the channel for
//	        (UN)SUBSCRIBE, PUBLISH and pub/sub messages; empty for
//	        commands without a key (PING, AUTH, CONFIG, ...)
//	Status  the reply type: simple_string, error, integer, bulk_string,
//	        array, nil, double, boolean, verbatim_string, big_number,
//	        map, set, push; for an error reply (- or !) its prefix when
//	        it is an upper-case word ("ERR", "NOAUTH", "WRONGTYPE"),
//	        else "error"
//
// Fields, in this order:
//
//	request  the command line: arguments joined by spaces, each cut at
//	         256 bytes, the whole at 1024 (FlagTruncated)
//	args     the number of arguments after the command name
//	error    an error reply's text without the '-' (cut at l7.MaxField)
//
// Outcome: ok for any reply but an error. Errors whose prefix reports
// the server's state (LOADING, BUSY, MASTERDOWN, MISCONF, OOM, READONLY,
// NOREPLICAS, CLUSTERDOWN, TRYAGAIN, UNKILLABLE, NOTREADY) are
// server_error; every other error (ERR, WRONGTYPE, NOAUTH, WRONGPASS,
// NOPERM, NOSCRIPT, EXECABORT, MOVED, ASK, ...) is client_error.
//
// Credentials: unless Context.KeepCredentials, the password of AUTH,
// HELLO ... AUTH, MIGRATE ... AUTH/AUTH2, the value of password settings
// in CONFIG SET and SENTINEL SET/CONFIG SET (names containing "pass" or
// "auth": requirepass, masterauth, auth-pass, ...) and the password
// rules of ACL SETUSER (>pw, <pw, #hash, !hash) are replaced by
// l7.Redacted in the request field, with FlagRedacted.
//
// Special cases:
//   - Pub/sub: published messages (RESP3 '>' pushes, or RESP2 arrays
//     "message"/"pmessage"/"smessage" on a subscribed connection) answer
//     no command. Each is emitted on its own, Op "MESSAGE" (the push kind
//     upper-cased), Target the channel, Status "push" or "array", Outcome
//     one_way, without taking a command's place in the reply order.
//     (UN)SUBSCRIBE gets one confirmation per channel: the transaction is
//     emitted when the last one arrives (RespBytes sums them).
//   - MULTI/EXEC: every command in the block is paired with its +QUEUED;
//     EXEC with the array of results (nil when a WATCH aborted it).
//   - CLIENT REPLY OFF|SKIP: the commands that get no reply are emitted
//     at once as one_way. MONITOR: the lines it streams are emitted as
//     one_way transactions with Op "MONITOR".
//   - A request emitted as no_response (timeout, MaxPending) still owes
//     its reply: Redis answers in order, so the next reply is emitted as
//     no_request instead of being paired with a later command.
//
// Gaps: a hole inside a bulk payload of known length is skipped and the
// message kept (FlagTruncated). Any other gap drops the message being
// read (DropGap) and the side resynchronises at the next line that
// starts a plausible message (DropResync for the bytes skipped); after
// a gap in the replies the waiting commands are emitted as no_response
// (FlagTruncated), since how many replies were lost is unknown. After a
// gap in the commands, pipelined replies may be paired with the wrong
// command until the pipeline drains.
//
// Drops: DropMalformed for bytes that break RESP framing (a bad header
// line, a bulk payload without its CRLF, a request argument that is not a
// bulk string, nesting deeper than 24), DropTooLarge for a line longer
// than Context.MaxMessage, DropOther for a message cut by the end of the
// flow.
package redis

import "github.com/wirewatch/wirewatch/internal/l7"

// Protocol is Redis, on its usual ports.
var Protocol = &l7.Protocol{
	Name:   "redis",
	TCP:    true,
	Ports:  []uint16{6379, 6380},
	Detect: detect,
	New:    newParser,
}
