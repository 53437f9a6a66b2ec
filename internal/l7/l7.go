// Package l7 is the contract between the probe and the application-layer
// protocol parsers under internal/proto: what a protocol declares (a
// Protocol: name, transports, port hints, a content detector, a parser
// constructor), what a parser is fed (Parser: the in-order bytes of each
// direction, gaps, the end), and what it produces (Transaction: one
// request and its response, with latency and outcome).
//
// The Tracker in this package owns the per-flow L7 state of one probe
// shard: it feeds TCP flows through a reassembly.Assembler, detects the
// protocol by content (ports are hints, not proof), runs the parser,
// recovers and counts parser panics, and accounts every byte it did not
// give to a parser. The list of protocols is in internal/proto/registry,
// so that adding a protocol touches its own package and one line there.
//
// Transactions are handed to a Sink synchronously and are valid only
// during the call: their byte slices alias parser buffers, so the hot
// path does not allocate a string per field. A Sink that keeps one calls
// Clone.
package l7

import (
	"net/netip"

	"github.com/wirewatch/wirewatch/internal/flow"
)

// Transport is the transport a parser runs over.
type Transport uint8

const (
	TCP Transport = 1
	UDP Transport = 2
)

func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "unknown"
}

// Verdict is a detector's answer about the first bytes of a direction.
type Verdict uint8

const (
	// No: these bytes are not this protocol.
	No Verdict = iota
	// NeedMore: too few bytes to tell (a TCP detector sees more bytes of
	// the stream later, up to the Tracker's detection limit).
	NeedMore
	// Maybe: consistent with the protocol but not proof (e.g. a binary
	// header that any random bytes could match). Accepted only when the
	// port hints agree, or when no detector says Yes.
	Maybe
	// Yes: this protocol.
	Yes
)

// Protocol is what a protocol package declares to the registry.
type Protocol struct {
	// Name is the protocol's name in records, summaries and metrics:
	// lower case, no spaces ("http", "grpc", "mysql").
	Name string
	// Aliases are other names its transactions carry ("grpc" for the
	// HTTP/2 parser); enabling an alias enables the protocol.
	Aliases []string
	// TCP, UDP: the transports it runs over.
	TCP, UDP bool
	// Ports are well-known server ports. They order detection (these
	// detectors run first) and let a Maybe verdict win; they never
	// decide alone.
	Ports []uint16
	// Detect looks at the first bytes of one direction of a flow (TCP:
	// the start of the reassembled stream, at most a few KiB; UDP: one
	// datagram). dir says who sent them, serverPort is the flow's server
	// port. It must not keep b, must not panic on any input, and should
	// be cheap: it runs on every new flow until one protocol says Yes.
	Detect func(b []byte, dir flow.Dir, serverPort uint16) Verdict
	// New returns a parser for one flow. nil means detection only: the
	// flow is labelled with Name and nothing more is decoded.
	New func(ctx Context) Parser
}

// Context is what a parser gets for one flow.
type Context struct {
	Transport Transport
	// Sink receives the flow's transactions.
	Sink Sink
	// KeepCredentials: do not redact credentials (Authorization, Cookie,
	// Set-Cookie, URL userinfo, database and Redis auth). Off by default.
	KeepCredentials bool
	// MaxMessage bounds what a parser may buffer per direction to
	// assemble one message header (bodies are skipped, not buffered).
	// A message whose header is longer is given up: the parser counts it
	// (Sink.Drop(DropTooLarge, n)) and resynchronises.
	MaxMessage int
	// MaxPending bounds the requests a parser keeps waiting for their
	// response per flow (pipelining, UDP DNS). Beyond it the oldest is
	// emitted with OutcomeNoResponse.
	MaxPending int
	// Timeout: a request without a response for this long (packet time)
	// is emitted with OutcomeNoResponse, when the parser next runs or at
	// End.
	Timeout int64
	// Budget is the flow's account with the shard's parser memory
	// budget; Bufs from NewBuf charge it (nil: no budget, in tests).
	Budget *Budget
}

// Parser decodes one flow. All calls come from one goroutine, in packet
// order. A parser must bound its memory by Context.MaxMessage and
// Context.MaxPending whatever the bytes say, and should not panic (a
// panic is recovered by the Tracker, counted, and the flow is dropped
// from L7).
type Parser interface {
	// Data delivers the next bytes of direction dir. TCP: the
	// reassembled stream, in order, in arbitrary pieces (a message may
	// span several calls, a call may hold several messages). UDP: one
	// whole datagram per call. b is valid only during the call.
	Data(dir flow.Dir, b []byte, ts int64)
	// Gap says that n bytes of direction dir are missing (n < 0: an
	// unknown number). The parser drops the message it was assembling
	// (counted as DropGap) and finds the next message boundary before it
	// trusts bytes again.
	Gap(dir flow.Dir, n int64, ts int64)
	// End is the last call: the flow ended. Requests still waiting are
	// emitted with OutcomeNoResponse.
	End(ts int64)
}

// Sink receives what parsers produce.
type Sink interface {
	// Transaction receives one transaction. t and its slices are valid
	// only during the call.
	Transaction(t *Transaction)
	// Drop counts n stream bytes the parser received but could not
	// decode, by reason (one of the Drop* constants).
	Drop(reason DropReason, n int)
	// Stop says the parser has nothing more to decode on this flow (a
	// TLS handshake done, a connection upgraded to an opaque tunnel):
	// the Tracker stops reassembling and feeding it, and counts the
	// flow's later bytes as opaque, not as drops. End is still called.
	Stop()
}

// Swapper is implemented by the Tracker's Sink. A parser that finds that
// the flow table guessed the roles backwards (a capture that started
// mid-connection, where the side taken for the server sends requests)
// calls SwapRoles once, and the flow's transactions carry Client and
// Server the other way round from then on.
type Swapper interface{ Swap() }

// SwapRoles calls s.Swap when s has it (test sinks need not).
func SwapRoles(s Sink) {
	if w, ok := s.(Swapper); ok {
		w.Swap()
	}
}

// DropReason says why bytes given to a parser were not decoded.
type DropReason uint8

const (
	DropGap       DropReason = iota // the message being assembled when a gap came
	DropResync                      // bytes skipped looking for a message boundary (after a gap, or mid-stream start)
	DropTooLarge                    // a message header longer than Context.MaxMessage
	DropMalformed                   // bytes that break the protocol's framing
	DropOther                       // anything else the parser skipped (say why in its package)
	NumDropReasons
)

var dropNames = [...]string{"gap", "resync", "too_large", "malformed", "other"}

func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return "unknown"
}

// Outcome is how a transaction ended.
type Outcome uint8

const (
	OutcomeOK          Outcome = iota // a response that reports success
	OutcomeClientError                // the response blames the request (HTTP 4xx, DNS NXDOMAIN/FORMERR/REFUSED, SQL syntax error, ...)
	OutcomeServerError                // the response reports a server-side failure (HTTP 5xx, DNS SERVFAIL, gRPC INTERNAL, ...)
	OutcomeNoResponse                 // the request got no response (timeout, flow ended, gap, pending limit)
	OutcomeNoRequest                  // a response whose request the probe did not see (capture started late, gap)
	OutcomeOneWay                     // a message that expects no response (Kafka acks=0, Dubbo oneway, a TLS handshake without a ServerHello is NoResponse instead)
)

var outcomeNames = [...]string{"ok", "client_error", "server_error", "no_response", "no_request", "one_way"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Named reports whether n is the protocol's name or one of its aliases.
func (p *Protocol) Named(n string) bool {
	if p.Name == n {
		return true
	}
	for _, a := range p.Aliases {
		if a == n {
			return true
		}
	}
	return false
}

// IsError reports whether the outcome counts as an error in summaries.
func (o Outcome) IsError() bool { return o == OutcomeClientError || o == OutcomeServerError }

// Flags mark a transaction.
type Flags uint16

const (
	// FlagSQLi: the SQL text or the HTTP path/query matches an
	// SQL-injection pattern (internal/l7/sqli).
	FlagSQLi Flags = 1 << iota
	// FlagRedacted: credentials were removed from the fields.
	FlagRedacted
	// FlagTruncated: a field was cut to its length limit, or part of
	// the message was lost in a gap.
	FlagTruncated
)

// Field is one protocol-specific attribute, as text. Keys are constant
// strings from the parser's package (documented in docs/records.md);
// values are captured bytes, not yet escaped.
type Field struct {
	Key   string
	Value []byte
}

// Transaction is one request and its response. Either side may be absent
// (Outcome says which). The Tracker fills Proto, Transport, Client and
// Server, and Proto when the parser left it empty (a parser may name a
// more specific protocol: the HTTP/2 parser says "grpc" for gRPC calls);
// the parser fills the rest.
type Transaction struct {
	Proto     string
	Transport Transport
	Client    netip.AddrPort
	Server    netip.AddrPort

	// ReqTS: Unix ns of the request's first byte; 0 without a request.
	// RespTS: Unix ns of the response's last byte (the whole response
	// seen); 0 without a response.
	ReqTS, RespTS int64
	// ReqBytes, RespBytes: the messages' lengths on the wire at L7
	// (headers and body), when known.
	ReqBytes, RespBytes int64

	// The three fields every summary and search uses, per protocol:
	//   Op:     HTTP method, SQL command, Redis command, Kafka API name,
	//           Dubbo/gRPC method, Mongo command, DNS qtype, TLS "handshake"
	//   Target: HTTP path, DNS qname, SQL text, Redis first key, Kafka
	//           first topic, Dubbo/gRPC service, Mongo db.collection, TLS SNI
	//   Status: HTTP status, DNS rcode name, grpc-status, SQL error code,
	//           Redis reply type or error prefix, Kafka error code
	Op, Target, Status []byte

	Outcome Outcome
	Flags   Flags
	// Fields hold the rest, in a stable order per protocol.
	Fields []Field
}

// Latency is RespTS - ReqTS in ns, or -1 when either side is missing.
func (t *Transaction) Latency() int64 {
	if t.ReqTS == 0 || t.RespTS == 0 {
		return -1
	}
	return t.RespTS - t.ReqTS
}

// Field returns the value of the first field named key, or nil.
func (t *Transaction) Field(key string) []byte {
	for i := range t.Fields {
		if t.Fields[i].Key == key {
			return t.Fields[i].Value
		}
	}
	return nil
}

// Clone returns a copy that owns its bytes (in one allocation for all of
// them), for sinks that keep transactions past the call.
func (t *Transaction) Clone() *Transaction {
	n := len(t.Op) + len(t.Target) + len(t.Status)
	for _, f := range t.Fields {
		n += len(f.Value)
	}
	buf := make([]byte, 0, n)
	take := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	c := *t
	c.Op, c.Target, c.Status = take(t.Op), take(t.Target), take(t.Status)
	if t.Fields != nil {
		c.Fields = make([]Field, len(t.Fields))
		for i, f := range t.Fields {
			c.Fields[i] = Field{Key: f.Key, Value: take(f.Value)}
		}
	}
	return &c
}
