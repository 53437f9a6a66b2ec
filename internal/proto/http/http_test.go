package http

import (
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

var (
	getReq = crlf("GET /index.html?x=1 HTTP/1.1", "Host: example.com", "User-Agent: curl/8.5.0", "Accept: */*")
	okHead = crlf("HTTP/1.1 200 OK", "Content-Type: text/html; charset=utf-8", "Content-Length: 5")
	okResp = okHead + "hello"
)

type parserCase struct {
	name    string
	ctx     func(*l7test.Sink) l7.Context
	steps   []step
	want    []want
	drops   [l7.NumDropReasons]int
	stop    bool
	noSplit bool // the case depends on call boundaries (timestamps of the pieces)
}

func n(s ...string) int64 {
	t := 0
	for _, x := range s {
		t += len(x)
	}
	return int64(t)
}

func parserCases() []parserCase {
	post := crlf("POST /api/v1/items HTTP/1.1", "Host: api.local", "Content-Type: application/json", "Content-Length: 13")
	postBody := `{"name":"x"}` + "\n"
	chunkedResp := crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Type: text/plain") +
		"5\r\nhello\r\n" + "6;ext=1\r\n world\r\n" + "0\r\n" + "Expires: never\r\n" + "\r\n"
	chunkedReq := crlf("PUT /up HTTP/1.1", "Host: h", "Transfer-Encoding: gzip, chunked") +
		"a\r\n0123456789\r\n0\r\n\r\n"
	expect := crlf("POST /upload HTTP/1.1", "Host: h", "Expect: 100-continue", "Content-Length: 4")
	cont := crlf("HTTP/1.1 100 Continue")
	created := crlf("HTTP/1.1 201 Created", "Content-Length: 0")
	upgrade := crlf("GET /chat HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: Upgrade")
	switching := crlf("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade")
	connect := crlf("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443", "Proxy-Authorization: Basic dXNlcjpwYXNz")
	established := crlf("HTTP/1.1 200 Connection established")
	head := crlf("HEAD /big HTTP/1.1", "Host: h")
	headResp := crlf("HTTP/1.1 200 OK", "Content-Length: 123456")
	get2 := crlf("GET /two HTTP/1.1", "Host: h")
	noContent := crlf("HTTP/1.1 204 No Content", "Content-Length: 17")
	notModified := crlf("HTTP/1.1 304 Not Modified", "Content-Length: 17")
	closeResp := crlf("HTTP/1.0 200 OK", "Content-Type: text/plain")
	folded := "GET /f HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0\r\n  (X11; Linux)\r\n\tGecko\r\nX-Other: a\r\n b\r\n\r\n"
	bareLF := lf("GET /lf HTTP/1.0", "Host: lf.example", "Content-Length: 2") + "ab"
	bareLFResp := lf("HTTP/1.0 404 Not Found", "Content-Length: 3") + "bad"
	cred := crlf("GET /me HTTP/1.1", "Host: h", "Authorization: Bearer abc.def.ghi", "Cookie: sid=42; theme=dark")
	credResp := crlf("HTTP/1.1 200 OK", "Set-Cookie: sid=43; HttpOnly", "Content-Length: 0")
	proxyGet := crlf("GET http://alice:secret@example.com:8080/p?q=1 HTTP/1.1", "Host: example.com:8080")
	notFound := crlf("HTTP/1.1 404 Not Found", "Content-Length: 0")
	oops := crlf("HTTP/1.1 503 Service Unavailable", "Content-Length: 0")
	xff := crlf("GET / HTTP/1.1", "Host: h", "X-Forwarded-For: 10.0.0.1, 10.0.0.2")
	sqlGet := crlf("GET /item?id=1%27%20or%20%271%27%3D%271 HTTP/1.1", "Host: h")
	longURL := "/" + strings.Repeat("a", l7.MaxField+10)
	longReq := crlf("GET "+longURL+" HTTP/1.1", "Host: h")
	bigHdr := crlf("GET /big HTTP/1.1", "Host: h", "X-Pad: "+strings.Repeat("p", 1000))
	small := func(s *l7test.Sink) l7.Context {
		c := s.Context(l7.TCP)
		c.MaxMessage = 600
		return c
	}
	keep := func(s *l7test.Sink) l7.Context {
		c := s.Context(l7.TCP)
		c.KeepCredentials = true
		return c
	}
	pending2 := func(s *l7test.Sink) l7.Context {
		c := s.Context(l7.TCP)
		c.MaxPending = 2
		return c
	}
	return []parserCase{
		{
			name:  "get",
			steps: []step{req(getReq), resp(okResp)},
			want: []want{{op: "GET", target: "/index.html?x=1", status: "200", outcome: l7.OutcomeOK,
				reqBytes: n(getReq), respBytes: n(okResp), fields: map[string]string{
					FieldVersion: "1.1", FieldHost: "example.com", FieldUserAgent: "curl/8.5.0",
					FieldContentType: "text/html; charset=utf-8", FieldRespContentLength: "5",
					FieldReqContentLength: "", FieldXForwardedFor: "",
					FieldRequestHeaders:  "Host: example.com\nUser-Agent: curl/8.5.0\nAccept: */*",
					FieldResponseHeaders: "Content-Type: text/html; charset=utf-8\nContent-Length: 5",
				}}},
		},
		{
			name:  "post body and pipelining",
			steps: []step{req(post + postBody + getReq + post + postBody), resp(okResp + notFound + oops)},
			want: []want{
				{op: "POST", target: "/api/v1/items", status: "200", outcome: l7.OutcomeOK, reqBytes: n(post, postBody), respBytes: n(okResp),
					fields: map[string]string{FieldReqContentType: "application/json", FieldReqContentLength: "13"}},
				{op: "GET", target: "/index.html?x=1", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(getReq), respBytes: n(notFound)},
				{op: "POST", target: "/api/v1/items", status: "503", outcome: l7.OutcomeServerError, reqBytes: n(post, postBody), respBytes: n(oops)},
			},
		},
		{
			name:  "chunked response with extension and trailer",
			steps: []step{req(getReq), resp(chunkedResp + okResp)},
			want: []want{
				{op: "GET", target: "/index.html?x=1", status: "200", outcome: l7.OutcomeOK, reqBytes: n(getReq), respBytes: n(chunkedResp),
					fields: map[string]string{FieldContentType: "text/plain", FieldRespContentLength: ""}},
				{status: "200", outcome: l7.OutcomeNoRequest, respBytes: n(okResp)},
			},
		},
		{
			name:  "chunked request",
			steps: []step{req(chunkedReq + get2), resp(created + notFound)},
			want: []want{
				{op: "PUT", target: "/up", status: "201", outcome: l7.OutcomeOK, reqBytes: n(chunkedReq), respBytes: n(created)},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
		},
		{
			name:  "100 continue",
			steps: []step{req(expect), resp(cont), req("abcd"), resp(created)},
			want: []want{{op: "POST", target: "/upload", status: "201", outcome: l7.OutcomeOK,
				reqBytes: n(expect, "abcd"), respBytes: n(cont, created)}},
		},
		{
			name:  "101 switching protocols stops",
			steps: []step{req(upgrade), resp(switching + "\x81\x05hello"), req("\x81\x85....data")},
			want: []want{{op: "GET", target: "/chat", status: "101", outcome: l7.OutcomeOK,
				reqBytes: n(upgrade), respBytes: n(switching)}},
			// The frame after the 101 in the same call, and the
			// client's frame given after Stop.
			drops: [l7.NumDropReasons]int{l7.DropOther: 7 + 10},
			stop:  true,
		},
		{
			name:  "connect 200 stops",
			steps: []step{req(connect), resp(established), req("\x16\x03\x01\x02\x00")},
			want: []want{{op: "CONNECT", target: "example.com:443", status: "200", outcome: l7.OutcomeOK,
				reqBytes: n(connect), respBytes: n(established), flags: l7.FlagRedacted,
				fields: map[string]string{FieldRequestHeaders: "Host: example.com:443\nProxy-Authorization: Basic <redacted>"}}},
			drops: [l7.NumDropReasons]int{l7.DropOther: 5},
			stop:  true,
		},
		{
			name:  "head, 204 and 304 have no body",
			steps: []step{req(head + get2 + get2), resp(headResp + noContent + notModified)},
			want: []want{
				{op: "HEAD", target: "/big", status: "200", outcome: l7.OutcomeOK, reqBytes: n(head), respBytes: n(headResp),
					fields: map[string]string{FieldRespContentLength: "123456"}},
				{op: "GET", target: "/two", status: "204", outcome: l7.OutcomeOK, reqBytes: n(get2), respBytes: n(noContent)},
				{op: "GET", target: "/two", status: "304", outcome: l7.OutcomeOK, reqBytes: n(get2), respBytes: n(notModified)},
			},
		},
		{
			name:  "response delimited by close",
			steps: []step{req(get2), resp(closeResp + "some text"), resp(" and more")},
			want: []want{{op: "GET", target: "/two", status: "200", outcome: l7.OutcomeOK, reqBytes: n(get2),
				respBytes: n(closeResp, "some text", " and more"), fields: map[string]string{FieldVersion: "1.1"}}},
		},
		{
			name:  "folded headers",
			steps: []step{req(folded), resp(okResp)},
			want: []want{{op: "GET", target: "/f", status: "200", outcome: l7.OutcomeOK, reqBytes: n(folded), respBytes: n(okResp),
				fields: map[string]string{FieldUserAgent: "Mozilla/5.0 (X11; Linux) Gecko",
					FieldRequestHeaders: "Host: h\nUser-Agent: Mozilla/5.0 (X11; Linux) Gecko\nX-Other: a b"}}},
		},
		{
			name:  "bare LF",
			steps: []step{req(bareLF), resp(bareLFResp)},
			want: []want{{op: "GET", target: "/lf", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(bareLF), respBytes: n(bareLFResp),
				fields: map[string]string{FieldVersion: "1.0", FieldHost: "lf.example", FieldReqContentLength: "2"}}},
		},
		{
			name:  "credentials redacted",
			steps: []step{req(cred + proxyGet), resp(credResp + notFound)},
			want: []want{
				{op: "GET", target: "/me", status: "200", outcome: l7.OutcomeOK, reqBytes: n(cred), respBytes: n(credResp), flags: l7.FlagRedacted,
					fields: map[string]string{
						FieldRequestHeaders:  "Host: h\nAuthorization: Bearer <redacted>\nCookie: <redacted>",
						FieldResponseHeaders: "Set-Cookie: <redacted>\nContent-Length: 0"}},
				{op: "GET", target: "http://<redacted>@example.com:8080/p?q=1", status: "404", outcome: l7.OutcomeClientError,
					reqBytes: n(proxyGet), respBytes: n(notFound), flags: l7.FlagRedacted},
			},
		},
		{
			name:  "credentials kept",
			ctx:   keep,
			steps: []step{req(cred + proxyGet), resp(credResp + notFound)},
			want: []want{
				{op: "GET", target: "/me", status: "200", outcome: l7.OutcomeOK, reqBytes: n(cred), respBytes: n(credResp),
					fields: map[string]string{
						FieldRequestHeaders:  "Host: h\nAuthorization: Bearer abc.def.ghi\nCookie: sid=42; theme=dark",
						FieldResponseHeaders: "Set-Cookie: sid=43; HttpOnly\nContent-Length: 0"}},
				{op: "GET", target: "http://alice:secret@example.com:8080/p?q=1", status: "404", outcome: l7.OutcomeClientError,
					reqBytes: n(proxyGet), respBytes: n(notFound)},
			},
		},
		{
			name:  "x-forwarded-for",
			steps: []step{req(xff), resp(notFound)},
			want: []want{{op: "GET", target: "/", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(xff), respBytes: n(notFound),
				fields: map[string]string{FieldXForwardedFor: "10.0.0.1, 10.0.0.2"}}},
		},
		{
			name:  "sql injection in the query",
			steps: []step{req(sqlGet + get2), resp(notFound + notFound)},
			want: []want{
				{op: "GET", target: "/item?id=1%27%20or%20%271%27%3D%271", status: "404", outcome: l7.OutcomeClientError,
					reqBytes: n(sqlGet), respBytes: n(notFound), flags: l7.FlagSQLi},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
		},
		{
			name:  "long target cut",
			steps: []step{req(longReq), resp(notFound)},
			want: []want{{op: "GET", target: longURL[:l7.MaxField], status: "404", outcome: l7.OutcomeClientError,
				reqBytes: n(longReq), respBytes: n(notFound), flags: l7.FlagTruncated}},
		},
		{
			name:  "header block too large, then resync",
			ctx:   small,
			steps: []step{req(bigHdr + get2), resp(notFound)},
			want:  []want{{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)}},
			// The limit is crossed by the X-Pad line: the start line,
			// Host and X-Pad lines are dropped, then the block's last
			// CRLF is skipped looking for the next start line.
			drops: [l7.NumDropReasons]int{l7.DropTooLarge: len(bigHdr) - 2, l7.DropResync: 2},
		},
		{
			name:  "mid-stream start",
			steps: []step{gap(c2s, -1), req("ody of a previous POST\r\nmore\r\n" + get2), gap(s2c, -1), resp("tail of a body" + notFound)},
			want:  []want{{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)}},
			drops: [l7.NumDropReasons]int{l7.DropResync: len("ody of a previous POST\r\nmore\r\n") + len("tail of a body")},
		},
		{
			// After a gap, a request glued to the end of a body: the
			// longest known method wins.
			name:  "request after a body tail",
			steps: []step{gap(c2s, -1), req("tail\x00UNLOCK /f HTTP/1.1\r\nHost: h\r\n\r\n"), resp(notFound)},
			want: []want{{op: "UNLOCK", target: "/f", status: "404", outcome: l7.OutcomeClientError,
				reqBytes: n("UNLOCK /f HTTP/1.1\r\nHost: h\r\n\r\n"), respBytes: n(notFound)}},
			drops: [l7.NumDropReasons]int{l7.DropResync: 5},
		},
		{
			name:  "response without request, request without response",
			steps: []step{resp(notFound), req(get2)},
			want: []want{
				{status: "404", outcome: l7.OutcomeNoRequest, respBytes: n(notFound), fields: map[string]string{FieldVersion: "1.1"}},
				{op: "GET", target: "/two", outcome: l7.OutcomeNoResponse, reqBytes: n(get2)},
			},
		},
		{
			name:    "timeout",
			steps:   []step{at(ms(1000), req(get2)), at(ms(12000), req(get2)), at(ms(12001), resp(notFound))},
			noSplit: false,
			want: []want{
				{op: "GET", target: "/two", outcome: l7.OutcomeNoResponse, reqBytes: n(get2)},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
		},
		{
			name:  "pending limit",
			ctx:   pending2,
			steps: []step{req(get2 + head + xff), resp(notFound)},
			want: []want{
				{op: "GET", target: "/two", outcome: l7.OutcomeNoResponse, reqBytes: n(get2)},
				{op: "HEAD", target: "/big", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(head), respBytes: n(notFound)},
				{op: "GET", target: "/", outcome: l7.OutcomeNoResponse, reqBytes: n(xff)},
			},
		},
		{
			name:  "gap inside a body of known length",
			steps: []step{req(getReq + get2), resp(okHead + "he"), gap(s2c, 2), resp("o" + notFound)},
			want: []want{
				{op: "GET", target: "/index.html?x=1", status: "200", outcome: l7.OutcomeOK, reqBytes: n(getReq), respBytes: n(okResp), flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
		},
		{
			name:  "gap beyond the body",
			steps: []step{req(getReq + get2), resp(okHead + "he"), gap(s2c, 100), resp("xx\r\n" + notFound)},
			want: []want{
				{op: "GET", target: "/index.html?x=1", status: "200", outcome: l7.OutcomeOK, reqBytes: n(getReq), respBytes: n(okResp), flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropResync: 4},
		},
		{
			// The request whose header block the gap cuts is kept, as
			// far as it was seen.
			name:  "gap in a header block",
			steps: []step{req(getReq[:30]), gap(c2s, 10), req(getReq[40:] + get2), resp(notFound + notFound)},
			want: []want{
				{op: "GET", target: "/index.html?x=1", status: "404", outcome: l7.OutcomeClientError, reqBytes: 30, respBytes: n(notFound),
					flags: l7.FlagTruncated, fields: map[string]string{FieldHost: ""}},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropResync: len(getReq) - 40},
		},
		{
			name:  "header block cut by the end",
			steps: []step{req(getReq[:len(getReq)-12])},
			want: []want{{op: "GET", target: "/index.html?x=1", outcome: l7.OutcomeNoResponse, reqBytes: n(getReq) - 12, flags: l7.FlagTruncated,
				fields: map[string]string{FieldHost: "example.com", FieldUserAgent: "curl/8.5.0",
					// "Acc", without its colon, is not a header.
					FieldRequestHeaders: "Host: example.com\nUser-Agent: curl/8.5.0"}}},
		},
		{
			name:  "response header block cut by a gap",
			steps: []step{req(get2 + get2), resp(notFound[:26]), gap(s2c, 5), resp("xyz" + notFound)},
			want: []want{
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: 26, flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropResync: 3},
		},
		{
			name:  "malformed start line",
			steps: []step{req("GET /x HTTP/2.0\r\nHost: h\r\n\r\n" + get2), resp(notFound)},
			want:  []want{{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)}},
			drops: [l7.NumDropReasons]int{l7.DropMalformed: len("GET /x HTTP/2.0\r\n"), l7.DropResync: len("Host: h\r\n\r\n")},
		},
		{
			name:  "broken chunk framing",
			steps: []step{req(getReq + get2), resp(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "5\r\nhelloX" + notFound)},
			want: []want{
				{op: "GET", target: "/index.html?x=1", status: "200", outcome: l7.OutcomeOK, reqBytes: n(getReq),
					respBytes: n(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), "5\r\nhello"), flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropMalformed: 1},
		},
		{
			// The capture missed the end of the request's header block:
			// the response answers the request as far as it was seen.
			name:  "response before the request header ends",
			steps: []step{req(getReq[:40]), resp(notFound), gap(c2s, 30), req(get2), resp(okResp)},
			want: []want{
				{op: "GET", target: "/index.html?x=1", status: "404", outcome: l7.OutcomeClientError, reqBytes: 40, respBytes: n(notFound),
					flags: l7.FlagTruncated, fields: map[string]string{FieldHost: "", FieldRequestHeaders: ""}},
				{op: "GET", target: "/two", status: "200", outcome: l7.OutcomeOK, reqBytes: n(get2), respBytes: n(okResp)},
			},
		},
		{
			// A server may answer before the request body is in (413):
			// body bytes after the transaction is out are dropped (other).
			name:  "response before the request body ends",
			steps: []step{req(post + postBody[:5]), resp(crlf("HTTP/1.1 413 Payload Too Large", "Content-Length: 0")), req(postBody[5:] + get2), resp(notFound)},
			want: []want{
				{op: "POST", target: "/api/v1/items", status: "413", outcome: l7.OutcomeClientError, reqBytes: n(post) + 5,
					respBytes: n(crlf("HTTP/1.1 413 Payload Too Large", "Content-Length: 0"))},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropOther: len(postBody) - 5},
		},
		{
			// Without its request, a response with Content-Length and a
			// status line where its body would start answered a HEAD.
			name:  "status line where a body should start",
			steps: []step{resp(headResp + notFound + okResp)},
			want: []want{
				{status: "200", outcome: l7.OutcomeNoRequest, respBytes: n(headResp)},
				{status: "404", outcome: l7.OutcomeNoRequest, respBytes: n(notFound)},
				{status: "200", outcome: l7.OutcomeNoRequest, respBytes: n(okResp)},
			},
		},
		{
			name:  "interim response without request",
			steps: []step{resp(cont + notFound)},
			want:  []want{{status: "404", outcome: l7.OutcomeNoRequest, respBytes: n(cont, notFound)}},
		},
		{
			// The extension line breaks its bound: the response ends
			// before it, the line is dropped, the rest of the body is
			// skipped to the next status line.
			name: "chunk extension too long",
			steps: []step{req(get2 + get2), resp(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "5;" + strings.Repeat("x", maxChunkLine) +
				"\r\nhello\r\n0\r\n\r\n" + notFound)},
			want: []want{
				{op: "GET", target: "/two", status: "200", outcome: l7.OutcomeOK, reqBytes: n(get2),
					respBytes: n(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), "5"), flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropTooLarge: 1 + maxChunkLine + 2, l7.DropResync: len("hello\r\n0\r\n\r\n")},
		},
		{
			name:  "trailers too long",
			ctx:   small,
			steps: []step{req(get2 + get2), resp(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "0\r\nA: b\r\nX: " + strings.Repeat("y", 600) + "\r\n\r\n" + notFound)},
			want: []want{
				{op: "GET", target: "/two", status: "200", outcome: l7.OutcomeOK, reqBytes: n(get2),
					respBytes: n(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"), "0\r\nA: b\r\n"), flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropTooLarge: len("X: ") + 600 + 2, l7.DropResync: 2},
		},
		{
			name:  "partial start line cut by a gap",
			steps: []step{req(get2 + get2), resp(notFound[:20]), gap(s2c, 5), resp("xyz" + notFound)},
			want: []want{
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
				{op: "GET", target: "/two", outcome: l7.OutcomeNoResponse, reqBytes: n(get2)},
			},
			drops: [l7.NumDropReasons]int{l7.DropGap: 20, l7.DropResync: 3},
		},
		{
			name:  "partial header at end",
			steps: []step{req(getReq[:25])},
			drops: [l7.NumDropReasons]int{l7.DropGap: 25},
		},
		{
			name:  "content-length body cut by the end",
			steps: []step{req(getReq), resp(okHead + "hel")},
			want: []want{{op: "GET", target: "/index.html?x=1", status: "200", outcome: l7.OutcomeOK, reqBytes: n(getReq),
				respBytes: n(okHead, "hel"), flags: l7.FlagTruncated}},
		},
		{
			name:  "response direction guessed wrong",
			steps: []step{send(s2c, get2), send(c2s, notFound)},
			want:  []want{{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)}},
		},
		{
			name:  "conflicting content-length",
			steps: []step{req(get2 + get2), resp(crlf("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 4") + "abcd" + notFound)},
			want: []want{
				{op: "GET", target: "/two", status: "200", outcome: l7.OutcomeOK, reqBytes: n(get2),
					respBytes: n(crlf("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 4")), flags: l7.FlagTruncated},
				{op: "GET", target: "/two", status: "404", outcome: l7.OutcomeClientError, reqBytes: n(get2), respBytes: n(notFound)},
			},
			drops: [l7.NumDropReasons]int{l7.DropResync: 4},
		},
	}
}

func runCase(t *testing.T, c parserCase, steps []step) *l7test.Sink {
	t.Helper()
	s := run(c.ctx, steps)
	if len(s.Txs) != len(c.want) {
		t.Fatalf("%d transactions, want %d:\n%s", len(s.Txs), len(c.want), describeAll(s))
	}
	for i, w := range c.want {
		check(t, s.Txs[i], w)
	}
	if s.Drops != c.drops || s.Stopped != c.stop {
		t.Errorf("drops %v stopped %v, want %v %v\n%s", s.Drops, s.Stopped, c.drops, c.stop, describeAll(s))
	}
	return s
}

func TestParser(t *testing.T) {
	for _, c := range parserCases() {
		t.Run(c.name, func(t *testing.T) {
			whole := runCase(t, c, c.steps)
			if t.Failed() || c.noSplit {
				return
			}
			// Every cut of every data step gives the same transactions
			// (timestamps included) and the same drops.
			ref := describeAll(whole)
			for i := range c.steps {
				for k := 1; k < len(c.steps[i].data); k++ {
					steps, _ := splitSteps(c.steps, i, k)
					if got := describeAll(run(c.ctx, steps)); got != ref {
						t.Fatalf("step %d cut at %d:\n%s\nwant\n%s", i, k, got, ref)
					}
				}
			}
		})
	}
}

// TestParserTimestamps checks ReqTS (the call with the request's first
// byte) and RespTS (the call that completed the response).
func TestParserTimestamps(t *testing.T) {
	s := run(nil, []step{
		at(ms(100), req(getReq[:10])), at(ms(200), req(getReq[10:])),
		at(ms(300), resp(okHead)), at(ms(400), resp("hel")), at(ms(500), resp("lo")),
	})
	if len(s.Txs) != 1 || s.Txs[0].ReqTS != ms(100) || s.Txs[0].RespTS != ms(500) || s.Txs[0].Latency() != ms(400) {
		t.Fatalf("%s", describeAll(s))
	}
}

// TestDetect checks the detector on request lines, status lines, their
// prefixes, and what must not be HTTP/1.x.
func TestDetect(t *testing.T) {
	cases := []struct {
		in   string
		want l7.Verdict
	}{
		{"GET / HTTP/1.1\r\n", l7.Yes},
		{"GET / HTTP/1.0\n", l7.Yes},
		{"PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\n", l7.Yes},
		{"MKCOL /dav/new HTTP/1.1\r\n", l7.Yes},
		{"OPTIONS * HTTP/1.1\r\n", l7.Yes},
		{"CONNECT example.com:443 HTTP/1.1\r\n", l7.Yes},
		{"HTTP/1.1 200 OK\r\n", l7.Yes},
		{"HTTP/1.0 404", l7.Yes},
		{"G", l7.NeedMore},
		{"GET", l7.NeedMore},
		{"GET /index.html", l7.NeedMore},
		{"HTTP/1.", l7.NeedMore},
		{"H", l7.NeedMore},
		{"HEAD /x HTTP/1.1\r\n", l7.Yes},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", l7.No},
		{"GET / HTTP/2.0\r\n", l7.No},
		{"HTTP/2 200\r\n", l7.No},
		{"OPTIONS rtsp://cam/ RTSP/1.0\r\n", l7.No},
		{"INVITE sip:bob@example.com SIP/2.0\r\n", l7.No},
		{"get / HTTP/1.1\r\n", l7.No},
		{"\x16\x03\x01\x02\x00\x01", l7.No},
		{"SSH-2.0-OpenSSH_9.6\r\n", l7.No},
		{"GET /\x00 HTTP/1.1\r\n", l7.No},
		{"GET /" + strings.Repeat("a", detectLine), l7.Maybe},
		{"FOO /" + strings.Repeat("a", detectLine), l7.No},
	}
	for _, c := range cases {
		for _, dir := range []flow.Dir{c2s, s2c} {
			if got := Detect([]byte(c.in), dir, 31337); got != c.want {
				t.Errorf("Detect(%.40q) = %v, want %v", c.in, got, c.want)
			}
		}
	}
}

// TestOutcome pins the status-class mapping of the brief.
func TestOutcome(t *testing.T) {
	for code, w := range map[int]l7.Outcome{101: l7.OutcomeOK, 200: l7.OutcomeOK, 302: l7.OutcomeOK,
		400: l7.OutcomeClientError, 499: l7.OutcomeClientError, 500: l7.OutcomeServerError, 599: l7.OutcomeServerError} {
		if g := outcome(code); g != w {
			t.Errorf("outcome(%d) = %v, want %v", code, g, w)
		}
	}
}
