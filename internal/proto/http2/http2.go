// Package http2 decodes cleartext HTTP/2 (h2c, RFC 9113) and the gRPC
// calls carried over it, from the two reassembled byte streams of a TCP
// connection, into one l7.Transaction per HTTP/2 stream: the request's
// header block (and DATA), the response's header block (and DATA, and
// trailers).
//
// Framing: every frame type is walked by its 9-byte header. HEADERS,
// CONTINUATION and PUSH_PROMISE header blocks are decompressed with
// golang.org/x/net/http2/hpack, one HPACK representation at a time so that
// one undecodable representation does not cost the rest of the block (a
// capture that starts mid-connection does not know the peer's dynamic
// table: references to entries we never saw are counted and skipped, and
// entries they insert are replaced by placeholders so that later indices
// stay right). DATA is counted, never buffered; for gRPC its 5-byte
// length-prefixed messages are counted. SETTINGS_HEADER_TABLE_SIZE bounds
// the peer's dynamic table size updates; RST_STREAM ends a stream with an
// error; a GOAWAY from the server ends the client streams it will not
// process. An HTTP/1.1 request with "Upgrade: h2c" (RFC 7540 §3.2) is
// followed through the server's 101 and becomes stream 1.
//
// Detection: Yes on the client connection preface or an h2c upgrade
// request; Maybe (a capture started mid-connection) on a run of plausible
// frame headers with at least one whole frame.
//
// Transactions: Proto is "grpc" when the request (or, if the request's
// headers were not seen, the response) has content-type application/grpc*,
// else "http2".
//
//	Op      http2: :method          gRPC: the method ("/pkg.Svc/Method" -> "Method")
//	Target  http2: :path            gRPC: the service ("pkg.Svc")
//	Status  http2: :status          gRPC: grpc-status (trailers, or the headers of a trailers-only response)
//
// Outcome: gRPC status 0 is ok; 3, 5, 6, 7, 9, 11, 16 (INVALID_ARGUMENT,
// NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION,
// OUT_OF_RANGE, UNAUTHENTICATED) are client errors, other codes server
// errors; a gRPC response that ended without grpc-status is a server
// error; otherwise the HTTP status decides (4xx client, 5xx server, else
// ok). A stream reset before its response ended is a client error when
// the client sent the RST_STREAM and a server error when the server did.
// A stream still open when the flow ends (or evicted by MaxPending) after
// its response headers is emitted with the outcome its status gives and
// FlagTruncated; one without response headers is OutcomeNoResponse
// (also after Timeout without a response, counted from the request's last
// frame). A response whose request was not seen is OutcomeNoRequest.
//
// Fields, in this order, each present only when known:
//
//	authority          :authority (or host)
//	path               gRPC only: the full :path
//	stream_id          the HTTP/2 stream identifier
//	user_agent         user-agent
//	content_type       the response's content-type, else the request's
//	http_status        gRPC only: :status
//	grpc_message       grpc-message (percent-encoded, as sent)
//	request_messages   gRPC only: complete length-prefixed messages the client sent
//	response_messages  gRPC only: complete length-prefixed messages the server sent
//	reset              the RST_STREAM error code name when a reset ended the stream
//	request_headers    the request header block as "name: value\n" lines
//	response_headers   the response header block(s) and trailers, same form
//
// Credentials (authorization and proxy-authorization after their scheme,
// cookie, set-cookie, x-api-key, x-auth-token, and any field the sender
// encoded never-indexed) are replaced by l7.Redacted in the header texts
// unless Context.KeepCredentials, with FlagRedacted. Values longer than
// l7.MaxField are cut, with FlagTruncated, which also marks a stream that
// lost bytes or header fields.
//
// ReqBytes and RespBytes count the frames (9-byte headers included) of
// the stream in each direction: HEADERS, CONTINUATION, PUSH_PROMISE, DATA.
//
// Drops: DropResync for bytes skipped looking for a frame boundary; DropGap
// for a frame or header block lost in a gap or cut by the end of the flow;
// DropTooLarge for frames or header blocks longer than Context.MaxMessage
// (skipped, not buffered); DropMalformed for frame headers that break the
// framing rules and undecodable HPACK; DropOther for HPACK representations
// that reference dynamic-table entries this parser never saw (a capture
// started mid-connection, or after a gap) and for the HTTP/1.1 bytes after
// a declined h2c upgrade.
//
// Memory per connection: per direction the incomplete frame held between
// Data calls and the header block being assembled (each at most
// Context.MaxMessage, charged to the flow's memory budget) and one HPACK
// dynamic table (at most 64 KiB); per open stream (at most
// Context.MaxPending) its header texts and values, about 13 KiB at most.
package http2

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol is the HTTP/2 (h2c) and gRPC parser.
var Protocol = &l7.Protocol{
	Name:    "http2",
	Aliases: []string{"grpc"},
	TCP:     true,
	// The usual cleartext HTTP ports and gRPC's customary ones; they only
	// order detection and let a mid-connection Maybe win.
	Ports:  []uint16{80, 8000, 8080, 8081, 9090, 50051},
	Detect: Detect,
	New:    New,
}

// Field keys.
const (
	FieldAuthority        = "authority"
	FieldPath             = "path"
	FieldStreamID         = "stream_id"
	FieldUserAgent        = "user_agent"
	FieldContentType      = "content_type"
	FieldHTTPStatus       = "http_status"
	FieldGRPCMessage      = "grpc_message"
	FieldRequestMessages  = "request_messages"
	FieldResponseMessages = "response_messages"
	FieldReset            = "reset"
	FieldRequestHeaders   = "request_headers"
	FieldResponseHeaders  = "response_headers"
)

// preface is the client connection preface (RFC 9113 §3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

const (
	frameHeaderLen = 9
	// maxFrameSize is the default SETTINGS_MAX_FRAME_SIZE. Peers may raise
	// it, so the parser accepts longer frames once in step, but detection
	// and resynchronisation, which guess, do not.
	maxFrameSize = 1 << 14
)

// Frame types (RFC 9113 §6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// definedFlags are the flags each known frame type defines; detection
// and resynchronisation reject frames with others set (a conforming
// sender leaves undefined flags clear).
var definedFlags = [...]uint8{
	frameData:         flagEndStream | flagPadded,
	frameHeaders:      flagEndStream | flagEndHeaders | flagPadded | flagPriority,
	framePriority:     0,
	frameRSTStream:    0,
	frameSettings:     flagAck,
	framePushPromise:  flagEndHeaders | flagPadded,
	framePing:         flagAck,
	frameGoAway:       0,
	frameWindowUpdate: 0,
	frameContinuation: flagEndHeaders,
}

type frameHeader struct {
	length   int
	typ      uint8
	flags    uint8
	reserved bool // the reserved bit of the stream identifier
	stream   uint32
}

// readFrameHeader decodes the 9 bytes at the start of b (len(b) >= 9).
func readFrameHeader(b []byte) frameHeader {
	sid := binary.BigEndian.Uint32(b[5:9])
	return frameHeader{
		length:   int(b[0])<<16 | int(b[1])<<8 | int(b[2]),
		typ:      b[3],
		flags:    b[4],
		reserved: sid&(1<<31) != 0,
		stream:   sid &^ (1 << 31),
	}
}

// valid reports whether h obeys the structural rules that a receiver in
// step with the sender can check: the stream identifier a known type
// requires (zero or not) and the fixed or minimum payload lengths. A
// frame that breaks them means the parser is out of step (or the peer is
// broken); unknown types are legal and skipped.
func (h frameHeader) valid() bool {
	n := h.length
	switch h.typ {
	case frameData, frameContinuation:
		return h.stream != 0
	case frameHeaders:
		min := 0
		if h.flags&flagPadded != 0 {
			min++
		}
		if h.flags&flagPriority != 0 {
			min += 5
		}
		return h.stream != 0 && n >= min
	case framePriority:
		return h.stream != 0 && n == 5
	case frameRSTStream:
		return h.stream != 0 && n == 4
	case frameSettings:
		return h.stream == 0 && n%6 == 0 && (h.flags&flagAck == 0 || n == 0)
	case framePushPromise:
		min := 4
		if h.flags&flagPadded != 0 {
			min++
		}
		return h.stream != 0 && n >= min
	case framePing:
		return h.stream == 0 && n == 8
	case frameGoAway:
		return h.stream == 0 && n >= 8
	case frameWindowUpdate:
		return n == 4
	}
	return true
}

// plausible is valid plus what a conforming sender does that random bytes
// rarely do: a known type, no undefined flag, the reserved bit clear, and
// a length within the default maximum frame size. Detection and
// resynchronisation use it to find frame boundaries.
func (h frameHeader) plausible() bool {
	if int(h.typ) >= len(definedFlags) || h.flags&^definedFlags[h.typ] != 0 || h.reserved || h.length > maxFrameSize {
		return false
	}
	return h.valid()
}

// Detect recognises the client connection preface (Yes), or, for a
// capture that started mid-connection, a run of plausible frames (Maybe).
func Detect(b []byte, _ flow.Dir, _ uint16) l7.Verdict {
	if len(b) < len(preface) {
		if preface[:len(b)] == string(b) {
			return l7.NeedMore
		}
	} else if string(b[:len(preface)]) == preface {
		return l7.Yes
	}
	if isRequestLine(b) {
		return detectUpgrade(b)
	}
	// Mid-connection: every complete frame header in b must be plausible,
	// and at least one frame must be whole, with a payload or followed by
	// another frame. A single frame that runs past b proves little (the
	// length prefix of DNS over TCP followed by a zero ID reads as a DATA
	// frame header); neither does one empty frame. The detector is called
	// again with more bytes.
	whole, evidence := 0, false
	for off := 0; whole < 16 && off+frameHeaderLen <= len(b); {
		h := readFrameHeader(b[off:])
		if !h.plausible() {
			return l7.No
		}
		off += frameHeaderLen + h.length
		if off > len(b) {
			break
		}
		whole++
		evidence = evidence || h.length > 0 || whole > 1
	}
	if !evidence {
		return l7.NeedMore
	}
	return l7.Maybe
}

// errorCodeNames are the RST_STREAM / GOAWAY error codes (RFC 9113 §7).
var errorCodeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

// errorCodeName returns the name of code, or "" for an unknown code (the
// caller prints the number).
func errorCodeName(code uint32) string {
	if int(code) < len(errorCodeNames) {
		return errorCodeNames[code]
	}
	return ""
}

// errorCodeBytes are errorCodeNames as field values.
var errorCodeBytes = func() [][]byte {
	b := make([][]byte, len(errorCodeNames))
	for i, n := range errorCodeNames {
		b[i] = []byte(n)
	}
	return b
}()
