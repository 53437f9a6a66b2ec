// Package http decodes HTTP/1.0 and HTTP/1.1 (RFC 9110, RFC 9112) off the
// wire: it detects the protocol by content on any port, and its parser
// turns the two reassembled byte streams of a TCP connection into
// transactions, one per request and its final response.
//
// A transaction says:
//
//	Op:     the request method ("GET", "PROPFIND", ...)
//	Target: the request target as sent: origin-form path and query
//	        ("/a/b?q=1"), absolute-form with scheme and host
//	        ("http://example.com/x", URL userinfo redacted), authority-form
//	        for CONNECT ("example.com:443"), "*" for OPTIONS
//	Status: the final response's status code ("200")
//	Outcome: 1xx/2xx/3xx ok, 4xx client_error, 5xx server_error,
//	        no_response, no_request
//
// and these Fields, in this order, each present only when the message
// carries it (constants Field*):
//
//	version              "1.1": the request's HTTP version (the response's without a request)
//	host                 Host header
//	user_agent           User-Agent header
//	x_forwarded_for      X-Forwarded-For header
//	req_content_type     the request's Content-Type
//	req_content_length   the request's Content-Length, as sent
//	content_type         the response's Content-Type
//	resp_content_length  the response's Content-Length, as sent
//	request_headers      the request header block, one "Name: value" per line ("\n" between lines)
//	response_headers     the final response's header block, likewise
//
// Credentials (Authorization and Proxy-Authorization values after their
// scheme, Cookie, Set-Cookie, X-Api-Key, X-Auth-Token, and URL userinfo
// in an absolute-form target) are replaced by l7.Redacted unless
// Context.KeepCredentials is set. Values longer than l7.MaxField are cut
// (FlagTruncated). FlagSQLi marks a percent-decoded target that
// internal/l7/sqli matches.
//
// ReqBytes and RespBytes are the messages' lengths on the wire: header
// block plus body (plus the 1xx interim responses before the final one);
// bytes lost in a gap inside a body of known length are counted, and the
// transaction is marked FlagTruncated. A message that a gap or the end of
// the flow cuts is reported as far as it goes, FlagTruncated.
//
// Which direction asks is decided by the first start line each sends,
// not by flow.Dir (a capture that misses the handshake may have its flow
// the wrong way round). Responses answer requests in order (pipelining).
//
// The parser buffers only the header line it is reading (at most
// Context.MaxMessage bytes for the whole header block) and copies what a
// transaction needs out of each header block (a few hundred bytes; at
// most about 13 KiB per message whatever the input), for at most
// Context.MaxPending requests waiting for their response. Bodies,
// Content-Length and chunked, are skipped by counting, never buffered.
// The output does not depend on how the stream is cut into Data calls
// (FuzzHTTP checks it), except that a request line longer than 2 KiB
// that straddles two calls is missed while resynchronising.
//
// Drops (l7.Sink.Drop), by reason:
//
//	gap        a start line cut by a gap or by the end of the flow
//	resync     bytes skipped looking for the next start line (after a gap,
//	           a malformed message, a body whose length is unknown)
//	too_large  a header block longer than Context.MaxMessage, a chunk
//	           extension line longer than 4 KiB, trailers longer than
//	           Context.MaxMessage (the offending line, to its end)
//	malformed  a start line that is not HTTP/1.x, the byte where a chunked
//	           body's framing breaks
//	other      empty lines between messages (RFC 9112 §2.2 lets a server
//	           ignore them); request body bytes that arrive after the
//	           response completed the transaction; 1xx responses that no
//	           final response followed; bytes held, or given later, once
//	           the connection became a tunnel (101 Switching Protocols,
//	           CONNECT 2xx: the parser calls Sink.Stop)
//
// Every byte given to the parser is counted once: in a transaction's
// ReqBytes or RespBytes (which also count what a gap took from a body) or
// in a drop.
package http

import (
	"bytes"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Field keys, in the order they appear in a transaction.
const (
	FieldVersion           = "version"
	FieldHost              = "host"
	FieldUserAgent         = "user_agent"
	FieldXForwardedFor     = "x_forwarded_for"
	FieldReqContentType    = "req_content_type"
	FieldReqContentLength  = "req_content_length"
	FieldContentType       = "content_type"
	FieldRespContentLength = "resp_content_length"
	FieldRequestHeaders    = "request_headers"
	FieldResponseHeaders   = "response_headers"
)

// Protocol is HTTP/1.x over TCP.
var Protocol = &l7.Protocol{
	Name:   "http",
	TCP:    true,
	Ports:  []uint16{80, 8080, 8000, 8008, 8081, 8888, 3128},
	Detect: Detect,
	New:    New,
}

// detectLine bounds how far Detect looks for the end of a request line
// before it decides on what it has.
const detectLine = 2048

// Detect says Yes when b starts with an HTTP/1.x request line
// ("METHOD SP target SP HTTP/1.x" and a line end) or status line
// ("HTTP/1.x NNN"), NeedMore while b is a prefix of one, and No otherwise
// (an HTTP/2 connection preface "PRI * HTTP/2.0" is No: another package
// decodes HTTP/2). A request line longer than detectLine whose method is
// a known one and whose target starts with '/' is Maybe. Direction and
// port do not matter: a capture that starts mid-connection may show the
// server's side first, and flows are guessed the wrong way round when the
// handshake was missed.
func Detect(b []byte, _ flow.Dir, _ uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if b[0] == 'H' && (len(b) < 2 || b[1] == 'T') {
		switch statusPrefix(b) {
		case matchYes:
			return l7.Yes
		case matchMore:
			return l7.NeedMore
		}
		return l7.No
	}
	// A request line: a method token, then the line must end in HTTP/1.x.
	i := 0
	for i < len(b) && i <= maxMethod && isMethodChar(b[i]) {
		i++
	}
	switch {
	case i == len(b) && i <= maxMethod:
		return l7.NeedMore
	case i == 0 || i > maxMethod || b[i] != ' ':
		return l7.No
	}
	end := indexLF(b[:min(len(b), detectLine)])
	if end < 0 {
		if len(b) < detectLine {
			if !printable(b[i+1:]) {
				return l7.No
			}
			return l7.NeedMore
		}
		if knownMethod(b[:i]) && b[i+1] == '/' && printable(b[i+1:detectLine]) {
			return l7.Maybe
		}
		return l7.No
	}
	if _, _, _, ok := parseRequestLine(trimCR(b[:end])); ok {
		return l7.Yes
	}
	return l7.No
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

type match uint8

const (
	matchNo match = iota
	matchMore
	matchYes
)

// statusPrefix matches "HTTP/1.d NNN" at the start of b.
func statusPrefix(b []byte) match {
	const pat = "HTTP/1.0 000"
	for i := 0; i < len(pat); i++ {
		if i == len(b) {
			return matchMore
		}
		c := b[i]
		switch {
		case pat[i] == '0':
			if c < '0' || c > '9' {
				return matchNo
			}
		case c != pat[i]:
			return matchNo
		}
	}
	return matchYes
}

// maxMethod bounds a method token: the longest registered method
// (BASELINE-CONTROL, UPDATEREDIRECTREF) is 17 bytes.
const maxMethod = 24

// isMethodChar accepts the characters of method names as registered (upper
// case letters, '-' and '_'), which is narrower than RFC 9110's token but
// keeps random text from looking like a request line.
func isMethodChar(c byte) bool { return c >= 'A' && c <= 'Z' || c == '-' || c == '_' }

// knownMethods are the methods registered with IANA (HTTP, WebDAV and its
// extensions) or in common use (PURGE).
var knownMethods = [][]byte{
	[]byte("GET"), []byte("POST"), []byte("HEAD"), []byte("PUT"), []byte("DELETE"), []byte("OPTIONS"),
	[]byte("PATCH"), []byte("TRACE"), []byte("CONNECT"), []byte("PROPFIND"), []byte("PROPPATCH"),
	[]byte("MKCOL"), []byte("COPY"), []byte("MOVE"), []byte("LOCK"), []byte("UNLOCK"), []byte("SEARCH"),
	[]byte("REPORT"), []byte("MKACTIVITY"), []byte("CHECKOUT"), []byte("CHECKIN"), []byte("UNCHECKOUT"),
	[]byte("MERGE"), []byte("LABEL"), []byte("UPDATE"), []byte("VERSION-CONTROL"), []byte("MKWORKSPACE"),
	[]byte("BASELINE-CONTROL"), []byte("MKCALENDAR"), []byte("ORDERPATCH"), []byte("ACL"), []byte("BIND"),
	[]byte("UNBIND"), []byte("REBIND"), []byte("LINK"), []byte("UNLINK"), []byte("MKREDIRECTREF"),
	[]byte("UPDATEREDIRECTREF"), []byte("PURGE"), []byte("QUERY"),
}

// knownMethod reports whether m is one of knownMethods.
func knownMethod(m []byte) bool {
	for _, k := range knownMethods {
		if bytes.Equal(m, k) {
			return true
		}
	}
	return false
}

// trimCR drops one trailing '\r' (lines may end in CRLF or a bare LF).
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// parseRequestLine splits "METHOD SP target SP HTTP/1.d" (line end
// removed). The target is what lies between the first and the last space,
// trimmed: some clients send unescaped spaces in it. It must hold no
// control characters.
func parseRequestLine(line []byte) (method, target, version []byte, ok bool) {
	i := 0
	for i < len(line) && i <= maxMethod && isMethodChar(line[i]) {
		i++
	}
	if i == 0 || i > maxMethod || i == len(line) || line[i] != ' ' {
		return nil, nil, nil, false
	}
	method = line[:i]
	j := len(line) - 1
	for j > i && line[j] != ' ' {
		j--
	}
	version = line[j+1:]
	if j == i || !isVersion(version) {
		return nil, nil, nil, false
	}
	target = trimSpace(line[i+1 : j])
	if len(target) == 0 {
		return nil, nil, nil, false
	}
	for _, c := range target {
		if c < 0x20 || c == 0x7f {
			return nil, nil, nil, false
		}
	}
	return method, target, version[5:], true
}

// isVersion matches "HTTP/1.d".
func isVersion(v []byte) bool {
	return len(v) == 8 && v[0] == 'H' && v[1] == 'T' && v[2] == 'T' && v[3] == 'P' &&
		v[4] == '/' && v[5] == '1' && v[6] == '.' && v[7] >= '0' && v[7] <= '9'
}

// parseStatusLine splits "HTTP/1.d SP NNN [SP reason]" (line end removed).
func parseStatusLine(line []byte) (version, status []byte, code int, ok bool) {
	if statusPrefix(line) != matchYes || len(line) > 12 && line[12] != ' ' && line[12] != '\t' {
		return nil, nil, 0, false
	}
	status = line[9:12]
	code = int(status[0]-'0')*100 + int(status[1]-'0')*10 + int(status[2]-'0')
	return line[5:8], status, code, true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// outcome maps a final status code to a transaction outcome.
func outcome(code int) l7.Outcome {
	switch {
	case code >= 500 && code < 600:
		return l7.OutcomeServerError
	case code >= 400 && code < 500:
		return l7.OutcomeClientError
	}
	return l7.OutcomeOK
}
