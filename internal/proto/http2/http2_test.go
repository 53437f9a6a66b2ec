package http2

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

var grpcReq = []string{":method", "POST", ":scheme", "http", ":path", "/pkg.Greeter/SayHello",
	":authority", "svc:50051", "content-type", "application/grpc", "user-agent", "grpc-go/1.60.0", "te", "trailers"}

// unary builds a gRPC unary call: request headers + 2 messages, response
// headers + 1 message + trailers.
func unary(c *conv, id uint32, t0 int64, grpcStatus string) {
	c.send(c2s, t0, c.headers(c2s, id, 0, grpcReq...),
		frame(frameData, flagEndStream, id, append(grpcMsg(10), grpcMsg(0)...)))
	c.send(s2c, t0+100, c.headers(s2c, id, 0, ":status", "200", "content-type", "application/grpc"),
		frame(frameData, 0, id, grpcMsg(3)))
	c.send(s2c, t0+200, c.headers(s2c, id, flagEndStream, "grpc-status", grpcStatus, "grpc-message", "m%20x"))
}

func TestGRPCUnary(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface), settings(1, 4096))
	c.send(s2c, 2, settings(3, 100))
	unary(c, 1, 10, "0")
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 1 {
		t.Fatalf("%d transactions:\n%s", len(s.Txs), renderAll(s))
	}
	tx := s.Txs[0]
	reqHdr := len(c.steps[2].b) - (frameHeaderLen + 15 + 5) // the HEADERS frame of step 2
	want := map[string]string{
		"proto": "grpc", "op": "SayHello", "target": "pkg.Greeter", "status": "0",
		FieldAuthority: "svc:50051", FieldPath: "/pkg.Greeter/SayHello", FieldStreamID: "1",
		FieldUserAgent: "grpc-go/1.60.0", FieldContentType: "application/grpc", FieldHTTPStatus: "200",
		FieldGRPCMessage: "m%20x", FieldRequestMessages: "2", FieldResponseMessages: "1",
	}
	got := map[string]string{"proto": tx.Proto, "op": string(tx.Op), "target": string(tx.Target), "status": string(tx.Status)}
	for k := range want {
		if _, ok := got[k]; !ok {
			got[k] = field(tx, k)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if tx.Outcome != l7.OutcomeOK || tx.Flags != 0 {
		t.Errorf("outcome %v flags %b", tx.Outcome, tx.Flags)
	}
	if tx.ReqTS != 10 || tx.RespTS != 210 || tx.Latency() != 200 {
		t.Errorf("ts %d -> %d", tx.ReqTS, tx.RespTS)
	}
	// Frame bytes, headers included: the request is one step, the
	// response two.
	if tx.ReqBytes != int64(len(c.steps[2].b)) || tx.RespBytes != int64(len(c.steps[3].b)+len(c.steps[4].b)) {
		t.Errorf("bytes %d/%d, want %d/%d", tx.ReqBytes, tx.RespBytes, len(c.steps[2].b), len(c.steps[3].b)+len(c.steps[4].b))
	}
	_ = reqHdr
	wantReq := ":method: POST\n:scheme: http\n:path: /pkg.Greeter/SayHello\n:authority: svc:50051\ncontent-type: application/grpc\nuser-agent: grpc-go/1.60.0\nte: trailers\n"
	if got := field(tx, FieldRequestHeaders); got != wantReq {
		t.Errorf("request_headers %q", got)
	}
	wantResp := ":status: 200\ncontent-type: application/grpc\ngrpc-status: 0\ngrpc-message: m%20x\n"
	if got := field(tx, FieldResponseHeaders); got != wantResp {
		t.Errorf("response_headers %q", got)
	}
	if s.Drops != [l7.NumDropReasons]int{} {
		t.Errorf("drops %v", s.Drops)
	}
	// Field order is the documented one.
	order := []string{FieldAuthority, FieldPath, FieldStreamID, FieldUserAgent, FieldContentType, FieldHTTPStatus,
		FieldGRPCMessage, FieldRequestMessages, FieldResponseMessages, FieldRequestHeaders, FieldResponseHeaders}
	for i, f := range tx.Fields {
		if i >= len(order) || f.Key != order[i] {
			t.Fatalf("field %d is %s, want the order %v", i, f.Key, order)
		}
	}
}

func TestGRPCOutcomes(t *testing.T) {
	cases := map[string]l7.Outcome{"0": l7.OutcomeOK, "1": l7.OutcomeServerError, "2": l7.OutcomeServerError,
		"3": l7.OutcomeClientError, "4": l7.OutcomeServerError, "5": l7.OutcomeClientError, "6": l7.OutcomeClientError,
		"7": l7.OutcomeClientError, "8": l7.OutcomeServerError, "9": l7.OutcomeClientError, "10": l7.OutcomeServerError,
		"11": l7.OutcomeClientError, "12": l7.OutcomeServerError, "13": l7.OutcomeServerError, "14": l7.OutcomeServerError,
		"15": l7.OutcomeServerError, "16": l7.OutcomeClientError, "x": l7.OutcomeServerError}
	for code, want := range cases {
		c := newConv()
		c.send(c2s, 1, []byte(preface))
		unary(c, 1, 10, code)
		s := run(defaultCtx(), c.steps, nil)
		if len(s.Txs) != 1 || s.Txs[0].Outcome != want || string(s.Txs[0].Status) != code {
			t.Errorf("grpc-status %s: %s", code, renderAll(s))
		}
	}
	// Trailers-only: the status comes in the only response HEADERS.
	c := newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, grpcReq...))
	c.send(s2c, 5, c.headers(s2c, 1, flagEndStream, ":status", "200", "content-type", "application/grpc", "grpc-status", "12", "grpc-message", "unimplemented"))
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeServerError || string(s.Txs[0].Status) != "12" ||
		field(s.Txs[0], FieldGRPCMessage) != "unimplemented" || field(s.Txs[0], FieldResponseMessages) != "0" {
		t.Errorf("trailers-only: %s", renderAll(s))
	}
	// A gRPC response that ends without grpc-status is an error.
	c = newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, grpcReq...))
	c.send(s2c, 5, c.headers(s2c, 1, 0, ":status", "200", "content-type", "application/grpc"), frame(frameData, flagEndStream, 1, nil))
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeServerError || s.Txs[0].Status != nil {
		t.Errorf("no grpc-status: %s", renderAll(s))
	}
}

func TestHTTPOutcomes(t *testing.T) {
	for status, want := range map[string]l7.Outcome{"200": l7.OutcomeOK, "204": l7.OutcomeOK, "301": l7.OutcomeOK,
		"404": l7.OutcomeClientError, "429": l7.OutcomeClientError, "500": l7.OutcomeServerError, "503": l7.OutcomeServerError} {
		c := newConv()
		c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/a?b=1", ":authority", "example.com", "user-agent", "curl/8"))
		c.send(s2c, 3, c.headers(s2c, 1, 0, ":status", status, "content-type", "text/html"), frame(frameData, flagEndStream, 1, []byte("hello")))
		s := run(defaultCtx(), c.steps, nil)
		if len(s.Txs) != 1 {
			t.Fatalf("%s: %s", status, renderAll(s))
		}
		tx := s.Txs[0]
		if tx.Proto != "http2" || string(tx.Op) != "GET" || string(tx.Target) != "/a?b=1" || string(tx.Status) != status ||
			tx.Outcome != want || field(tx, FieldAuthority) != "example.com" || field(tx, FieldContentType) != "text/html" ||
			tx.Field(FieldPath) != nil || tx.Field(FieldHTTPStatus) != nil || tx.Field(FieldRequestMessages) != nil {
			t.Errorf("%s: %s", status, render(tx))
		}
	}
}

// Responses come back in another order than the requests; each goes to
// its stream.
func TestConcurrentStreams(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	for i, id := range []uint32{1, 3, 5} {
		c.send(c2s, int64(10+i), c.headers(c2s, id, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/p"+string(rune('0'+id)), ":authority", "h"))
	}
	c.send(s2c, 20, c.headers(s2c, 5, 0, ":status", "500"), c.headers(s2c, 3, 0, ":status", "404"))
	c.send(s2c, 21, frame(frameData, flagEndStream, 3, []byte("x")), c.headers(s2c, 1, flagEndStream, ":status", "200"))
	c.send(s2c, 22, frame(frameData, flagPadded|flagEndStream, 5, append([]byte{3}, "abcdef"...)))
	s := checkSplits(t, defaultCtx(), c.steps)
	want := []string{"3 /p3 404 21", "1 /p1 200 21", "5 /p5 500 22"}
	if len(s.Txs) != len(want) {
		t.Fatalf("%s", renderAll(s))
	}
	for i, tx := range s.Txs {
		got := field(tx, FieldStreamID) + " " + string(tx.Target) + " " + string(tx.Status) + " " + itoa(tx.RespTS)
		if got != want[i] {
			t.Errorf("tx %d: %s, want %s", i, got, want[i])
		}
	}
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestRSTStream(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	c.send(c2s, 2, c.headers(c2s, 1, 0, grpcReq...), c.headers(c2s, 3, 0, grpcReq...))
	c.send(c2s, 5, frame(frameRSTStream, 0, 1, u32(8)))  // client CANCEL
	c.send(s2c, 6, frame(frameRSTStream, 0, 3, u32(7)))  // server REFUSED_STREAM
	c.send(s2c, 7, frame(frameRSTStream, 0, 9, u32(99))) // unknown stream: nothing
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 2 {
		t.Fatalf("%s", renderAll(s))
	}
	if tx := s.Txs[0]; tx.Outcome != l7.OutcomeClientError || field(tx, FieldReset) != "CANCEL" || tx.RespTS != 0 || tx.ReqTS != 2 {
		t.Errorf("client reset: %s", render(tx))
	}
	if tx := s.Txs[1]; tx.Outcome != l7.OutcomeServerError || field(tx, FieldReset) != "REFUSED_STREAM" || tx.RespTS != 6 {
		t.Errorf("server reset: %s", render(tx))
	}
}

func TestGoAway(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	for _, id := range []uint32{1, 3, 5} {
		c.send(c2s, 2, c.headers(c2s, id, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "h"))
	}
	// The server processed stream 1 and 3 only.
	c.send(s2c, 3, frame(frameGoAway, 0, 0, append(u32(3), u32(0)...)))
	c.send(s2c, 4, c.headers(s2c, 3, flagEndStream, ":status", "200"))
	s := run(defaultCtx(), c.steps, nil)
	got := []string{}
	for _, tx := range s.Txs {
		got = append(got, field(tx, FieldStreamID)+" "+tx.Outcome.String())
	}
	if strings.Join(got, ",") != "5 no_response,3 ok,1 no_response" {
		t.Errorf("%v", got)
	}
}

func TestMaxPending(t *testing.T) {
	ctx := defaultCtx()
	ctx.MaxPending = 2
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	for i, id := range []uint32{1, 3, 5} {
		c.send(c2s, int64(10+i), c.headers(c2s, id, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "h"))
	}
	c.send(s2c, 20, c.headers(s2c, 5, flagEndStream, ":status", "200"))
	s := run(ctx, c.steps, nil)
	got := []string{}
	for _, tx := range s.Txs {
		got = append(got, field(tx, FieldStreamID)+" "+tx.Outcome.String())
	}
	// Stream 1 is evicted when 5 opens; 5 completes; 3 is left at End.
	if strings.Join(got, ",") != "1 no_response,5 ok,3 no_response" {
		t.Errorf("%v", got)
	}
}

// Eviction takes the oldest open stream, whatever finished in between.
func TestEvictionOrder(t *testing.T) {
	ctx := defaultCtx()
	ctx.MaxPending = 3
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	get := func(id uint32) []byte {
		return c.headers(c2s, id, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/"+itoa(int64(id)), ":authority", "h")
	}
	c.send(c2s, 2, get(1), get(3), get(5))
	c.send(s2c, 3, c.headers(s2c, 3, flagEndStream, ":status", "200"))
	c.send(c2s, 4, get(7)) // three open: 1, 5, 7
	for id := uint32(9); id < 200; id += 2 {
		c.send(c2s, 5, get(id))
	}
	s := run(ctx, c.steps, nil)
	var got []string
	for _, tx := range s.Txs {
		got = append(got, string(tx.Target))
	}
	// 3 answered; then each new stream evicts the oldest: 1, 5, 7, 9, ...;
	// the last three are left at End.
	want := []string{"/3"}
	for id := 1; id < 200; id += 2 {
		if id != 3 {
			want = append(want, "/"+itoa(int64(id)))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestTimeout(t *testing.T) {
	ctx := defaultCtx()
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	c.send(c2s, 1000, c.headers(c2s, 1, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/slow", ":authority", "h"))
	c.send(c2s, 1000+ctx.Timeout, c.headers(c2s, 3, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/a", ":authority", "h"))
	c.send(c2s, 1001+ctx.Timeout, frame(framePing, 0, 0, make([]byte, 8)))
	s := run(ctx, c.steps, nil)
	// /slow has waited exactly Timeout at the third call (not more), and
	// Timeout+1 at the fourth, which emits it before anything else.
	if len(s.Txs) != 2 || string(s.Txs[0].Target) != "/slow" || s.Txs[0].Outcome != l7.OutcomeNoResponse || s.Txs[0].RespTS != 0 ||
		string(s.Txs[1].Target) != "/a" {
		t.Errorf("%s", renderAll(s))
	}
	// A call with a response started (server streaming) does not time out.
	c = newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, grpcReq...))
	c.send(s2c, 2, c.headers(s2c, 1, 0, ":status", "200", "content-type", "application/grpc"), frame(frameData, 0, 1, grpcMsg(1)))
	c.send(s2c, 3+ctx.Timeout, frame(frameData, 0, 1, grpcMsg(2)))
	c.send(s2c, 4+ctx.Timeout, c.headers(s2c, 1, flagEndStream, "grpc-status", "0"))
	s = run(ctx, c.steps, nil)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeOK || field(s.Txs[0], FieldResponseMessages) != "2" {
		t.Errorf("stream: %s", renderAll(s))
	}
}

func TestEndOfFlow(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface))
	c.send(c2s, 2, c.headers(c2s, 1, flagEndStream, grpcReq...), c.headers(c2s, 3, flagEndStream, grpcReq...))
	c.send(s2c, 3, c.headers(s2c, 3, 0, ":status", "200", "content-type", "application/grpc"), frame(frameData, 0, 3, grpcMsg(4)))
	// A partial frame is left when the flow ends.
	c.send(s2c, 4, frame(frameData, 0, 3, grpcMsg(4))[:7])
	s := run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 2 {
		t.Fatalf("%s", renderAll(s))
	}
	if tx := s.Txs[0]; field(tx, FieldStreamID) != "1" || tx.Outcome != l7.OutcomeNoResponse || tx.Flags != 0 {
		t.Errorf("%s", render(tx))
	}
	if tx := s.Txs[1]; field(tx, FieldStreamID) != "3" || tx.Outcome != l7.OutcomeOK || tx.Flags != l7.FlagTruncated || tx.RespTS != 3 {
		t.Errorf("%s", render(tx))
	}
	if s.Drops[l7.DropGap] != 7 {
		t.Errorf("drops %v", s.Drops)
	}
}

func TestNoRequest(t *testing.T) {
	c := newConv()
	// The capture starts mid-connection with a response.
	c.send(s2c, 5, c.headers(s2c, 7, 0, ":status", "503"), frame(frameData, flagEndStream, 7, []byte("busy")))
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeNoRequest || s.Txs[0].ReqTS != 0 || s.Txs[0].RespTS != 5 ||
		string(s.Txs[0].Status) != "503" || s.Drops != [l7.NumDropReasons]int{} {
		t.Errorf("%s", renderAll(s))
	}
}

func TestRedaction(t *testing.T) {
	build := func() []step {
		c := newConv()
		c.send(c2s, 1, []byte(preface))
		blk := c.block(c2s, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "h", "authorization", "Bearer s3cret", "cookie", "a=b")
		// A never-indexed literal (0x10, new name): the sender marks it sensitive.
		blk = append(blk, 0x10, 5, 'x', '-', 'k', 'e', 'y', 3, 'k', 'k', 'k')
		c.send(c2s, 2, frame(frameHeaders, flagEndHeaders|flagEndStream, 1, blk))
		c.send(s2c, 3, c.headers(s2c, 1, flagEndStream, ":status", "200", "set-cookie", "id=42"))
		return c.steps
	}
	s := run(defaultCtx(), build(), nil)
	tx := s.Txs[0]
	req, resp := field(tx, FieldRequestHeaders), field(tx, FieldResponseHeaders)
	if tx.Flags&l7.FlagRedacted == 0 || strings.Contains(req+resp, "s3cret") || strings.Contains(req+resp, "a=b") ||
		strings.Contains(req, "kkk") || strings.Contains(resp, "42") ||
		!strings.Contains(req, "authorization: Bearer <redacted>\ncookie: <redacted>\nx-key: <redacted>\n") ||
		!strings.Contains(resp, "set-cookie: <redacted>\n") {
		t.Errorf("redacted: %s", render(tx))
	}
	ctx := defaultCtx()
	ctx.KeepCredentials = true
	s = run(ctx, build(), nil)
	tx = s.Txs[0]
	if tx.Flags&l7.FlagRedacted != 0 || !strings.Contains(field(tx, FieldRequestHeaders), "authorization: Bearer s3cret\ncookie: a=b\nx-key: kkk\n") {
		t.Errorf("kept: %s", render(tx))
	}
}

// HEADERS with padding and priority, split over CONTINUATIONs, and
// PUSH_PROMISE.
func TestContinuationPaddingPush(t *testing.T) {
	c := newConv()
	blk := c.block(c2s, ":method", "GET", ":scheme", "http", ":path", "/index.html", ":authority", "example.org", "user-agent", "test/1")
	pad := 4
	first := append([]byte{byte(pad)}, 0x80, 0, 0, 3, 15) // pad length, priority (exclusive, dep 3, weight 15)
	first = append(first, blk[:3]...)
	first = append(first, make([]byte, pad)...)
	c.send(c2s, 1, []byte(preface), frame(frameHeaders, flagPadded|flagPriority|flagEndStream, 1, first))
	c.send(c2s, 2, frame(frameContinuation, 0, 1, blk[3:10]), frame(frameContinuation, flagEndHeaders, 1, blk[10:]))
	// The server pushes /style.css on stream 2, then answers both.
	push := c.block(s2c, ":method", "GET", ":scheme", "http", ":path", "/style.css", ":authority", "example.org")
	pp := append([]byte{2}, u32(2)...)
	pp = append(pp, push...)
	pp = append(pp, 0, 0)
	c.send(s2c, 3, frame(framePushPromise, flagPadded|flagEndHeaders, 1, pp))
	c.send(s2c, 4, c.headers(s2c, 1, flagEndStream, ":status", "200"))
	c.send(s2c, 5, c.headers(s2c, 2, 0, ":status", "200", "content-type", "text/css"), frame(frameData, flagEndStream, 2, []byte("p{}")))
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 2 || s.Drops != [l7.NumDropReasons]int{} {
		t.Fatalf("%s", renderAll(s))
	}
	if tx := s.Txs[0]; string(tx.Target) != "/index.html" || field(tx, FieldUserAgent) != "test/1" || tx.ReqTS != 1 || tx.RespTS != 4 ||
		tx.ReqBytes != int64(len(c.steps[0].b)-len(preface)+len(c.steps[1].b)) {
		t.Errorf("%s", render(tx))
	}
	if tx := s.Txs[1]; string(tx.Target) != "/style.css" || field(tx, FieldStreamID) != "2" || field(tx, FieldContentType) != "text/css" ||
		tx.ReqTS != 3 || tx.RespTS != 5 || tx.Outcome != l7.OutcomeOK {
		t.Errorf("push: %s", render(tx))
	}
}

// An informational response is followed by the final one.
func TestInformational(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, 0, ":method", "PUT", ":scheme", "http", ":path", "/up", ":authority", "h", "expect", "100-continue"))
	c.send(s2c, 2, c.headers(s2c, 1, 0, ":status", "100"))
	c.send(c2s, 3, frame(frameData, flagEndStream, 1, []byte("body")))
	c.send(s2c, 4, c.headers(s2c, 1, flagEndStream, ":status", "201"))
	s := run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || string(s.Txs[0].Status) != "201" || s.Txs[0].RespTS != 4 {
		t.Errorf("%s", renderAll(s))
	}
	// Timed out after only a 100: still waiting for its response.
	c = newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, ":method", "PUT", ":scheme", "http", ":path", "/up", ":authority", "h"))
	c.send(s2c, 2, c.headers(s2c, 1, 0, ":status", "100"))
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeNoResponse {
		t.Errorf("%s", renderAll(s))
	}
}

func TestLongValues(t *testing.T) {
	long := "/" + strings.Repeat("a", l7.MaxField+10)
	c := newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, ":method", "GET", ":scheme", "http", ":path", long, ":authority", "h"))
	c.send(s2c, 2, c.headers(s2c, 1, flagEndStream, ":status", "200"))
	s := run(defaultCtx(), c.steps, nil)
	tx := s.Txs[0]
	if len(tx.Target) != l7.MaxField || string(tx.Target) != long[:l7.MaxField] || tx.Flags&l7.FlagTruncated == 0 ||
		len(tx.Field(FieldRequestHeaders)) != l7.MaxField || string(tx.Status) != "200" {
		t.Errorf("len %d flags %b", len(tx.Target), tx.Flags)
	}
}

// A header block longer than MaxMessage is skipped, not buffered, and
// the connection goes on.
func TestTooLarge(t *testing.T) {
	ctx := defaultCtx()
	ctx.MaxMessage = 1024
	c := newConv()
	big := strings.Repeat("v", 2000)
	c.send(c2s, 1, []byte(preface))
	// Never-indexed literals: the block inserts nothing, so the table
	// stays in step with the sender.
	blk := c.block(c2s, ":method", "GET", ":scheme", "http", ":path", "/big", ":authority", "h")
	blk = append(blk, 0x10, 1, 'x', 0x7f, byte(len(big)-127)&0x7f|0x80, byte((len(big)-127)>>7))
	blk = append(blk, big...)
	c.send(c2s, 2, frame(frameHeaders, flagEndHeaders|flagEndStream, 1, blk))
	c.send(c2s, 3, c.headers(c2s, 3, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/small", ":authority", "h"))
	c.send(s2c, 4, c.headers(s2c, 3, flagEndStream, ":status", "200"))
	s := run(ctx, c.steps, nil)
	if s.Drops[l7.DropTooLarge] != frameHeaderLen+len(blk) {
		t.Errorf("too large %v, want %d", s.Drops, frameHeaderLen+len(blk))
	}
	if len(s.Txs) != 1 || string(s.Txs[0].Target) != "/small" || s.Txs[0].Outcome != l7.OutcomeOK {
		t.Errorf("%s", renderAll(s))
	}
	// CONTINUATIONs that grow a block beyond MaxMessage.
	c = newConv()
	c.send(c2s, 1, []byte(preface))
	blk = c.block(c2s, ":method", "GET", ":scheme", "http", ":path", "/c", ":authority", "h")
	c.send(c2s, 2, frame(frameHeaders, flagEndStream, 1, blk), frame(frameContinuation, 0, 1, make([]byte, 1000)),
		frame(frameContinuation, flagEndHeaders, 1, make([]byte, 1000)))
	c.send(s2c, 3, c.headers(s2c, 1, flagEndStream, ":status", "200"))
	s = run(ctx, c.steps, nil)
	if want := 3*frameHeaderLen + len(blk) + 2000; s.Drops[l7.DropTooLarge] != want {
		t.Errorf("continuations: drops %v, want %d", s.Drops, want)
	}
	// A CONTINUATION that is itself longer than MaxMessage.
	c = newConv()
	c.send(c2s, 1, []byte(preface))
	blk = c.block(c2s, ":method", "GET", ":scheme", "http", ":path", "/c", ":authority", "h")
	c.send(c2s, 2, frame(frameHeaders, flagEndStream, 1, blk), frame(frameContinuation, flagEndHeaders, 1, make([]byte, 2000)))
	c.send(c2s, 3, frame(frameHeaders, flagEndHeaders|flagEndStream, 3, literal(":method", "GET", ":path", "/d")))
	c.send(s2c, 4, frame(frameHeaders, flagEndHeaders|flagEndStream, 3, literal(":status", "200")))
	s = run(ctx, c.steps, nil)
	if want := 2*frameHeaderLen + len(blk) + 2000; s.Drops[l7.DropTooLarge] != want || len(s.Txs) != 1 || string(s.Txs[0].Target) != "/d" {
		t.Errorf("large continuation: drops %v, want %d: %s", s.Drops, want, renderAll(s))
	}
}

// A hole inside a DATA payload keeps the framing; a hole elsewhere makes
// the parser look for the next frame.
func TestGaps(t *testing.T) {
	c := newConv()
	c.send(c2s, 1, []byte(preface), c.headers(c2s, 1, flagEndStream, grpcReq...))
	data := frame(frameData, flagEndStream, 1, append(grpcMsg(100), grpcMsg(5)...))
	hdr := c.headers(s2c, 1, 0, ":status", "200", "content-type", "application/grpc")
	c.send(s2c, 2, hdr, data[:30])
	c.gap(s2c, 50, 3)
	c.send(s2c, 4, data[80:])
	s := run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeServerError || s.Txs[0].Flags != l7.FlagTruncated || s.Txs[0].RespTS != 4 ||
		s.Drops != [l7.NumDropReasons]int{} {
		// (No trailers: a gRPC response that ended without grpc-status.)
		t.Errorf("hole in DATA: %s", renderAll(s))
	}

	// A hole that swallows a frame boundary: bytes up to the next
	// plausible frame are counted as resync; the next stream decodes
	// (literal-only fields, so the reset table does not matter).
	c = newConv()
	c.send(c2s, 1, []byte(preface))
	req1 := frame(frameHeaders, flagEndHeaders|flagEndStream, 1, literal(":method", "GET", ":path", "/one"))
	req3 := frame(frameHeaders, flagEndHeaders|flagEndStream, 3, literal(":method", "GET", ":path", "/three"))
	c.send(c2s, 2, req1[:5])
	c.gap(c2s, 10, 3)
	c.send(c2s, 4, req1[15:], req3)
	c.send(s2c, 5, frame(frameHeaders, flagEndHeaders|flagEndStream, 3, literal(":status", "204")))
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || string(s.Txs[0].Target) != "/three" || string(s.Txs[0].Status) != "204" {
		t.Errorf("resync: %s", renderAll(s))
	}
	if s.Drops[l7.DropGap] != 5 || s.Drops[l7.DropResync] != len(req1)-15 {
		t.Errorf("resync drops %v, want gap 5 resync %d", s.Drops, len(req1)-15)
	}
}

// literal encodes fields as literals without indexing with literal names
// (no Huffman): decodable with any table state.
func literal(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, 0x00, byte(len(kv[i])))
		b = append(b, kv[i]...)
		b = append(b, byte(len(kv[i+1])))
		b = append(b, kv[i+1]...)
	}
	return b
}

// A capture that starts mid-connection does not know the dynamic table.
// Block A (never seen) inserted (x-a: 1). Block B inserts (x-b: 3), then
// (x-a: 2) naming x-a by its index (63), which we cannot resolve: a
// placeholder takes its place. For the sender, index 62 is now (x-a: 2)
// and 63 is (x-b: 3). Block C refers to 62: without the placeholder it
// would decode as x-b: 3, silently wrong; with it, it is counted as
// undecodable. Block D refers to 63: x-b: 3.
func TestMidConnectionTable(t *testing.T) {
	blockB := []byte{0x82, 0x86, 0x84} // :method GET, :scheme http, :path /
	blockB = append(blockB, 0x40, 3, 'x', '-', 'b', 1, '3')
	blockB = append(blockB, 0x7f, 0, 1, '2') // incremental, name index 63 (6-bit prefix 63 + 0)
	blockC := []byte{0x82, 0x86, 0x84, 0x80 | 62}
	blockD := []byte{0x82, 0x86, 0x84, 0x80 | 63}
	c := newConv()
	c.send(c2s, 1, frame(frameHeaders, flagEndHeaders|flagEndStream, 5, blockB))
	c.send(c2s, 2, frame(frameHeaders, flagEndHeaders|flagEndStream, 7, blockC))
	c.send(c2s, 3, frame(frameHeaders, flagEndHeaders|flagEndStream, 9, blockD))
	s := run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 3 {
		t.Fatalf("%s", renderAll(s))
	}
	for i, want := range []string{
		":method: GET\n:scheme: http\n:path: /\nx-b: 3\n",
		":method: GET\n:scheme: http\n:path: /\n",
		":method: GET\n:scheme: http\n:path: /\nx-b: 3\n",
	} {
		if got := field(s.Txs[i], FieldRequestHeaders); got != want {
			t.Errorf("block %c: %q, want %q", 'B'+i, got, want)
		}
	}
	// Two fields could not be named: the x-a literal (4 bytes) and the
	// reference to its placeholder (1 byte).
	if s.Drops[l7.DropOther] != 5 || s.Txs[0].Flags&l7.FlagTruncated == 0 || s.Txs[1].Flags&l7.FlagTruncated == 0 || s.Txs[2].Flags != 0 {
		t.Errorf("drops %v flags %b %b %b", s.Drops, s.Txs[0].Flags, s.Txs[1].Flags, s.Txs[2].Flags)
	}
}

// SETTINGS_HEADER_TABLE_SIZE bounds the dynamic table size updates of
// the other side.
func TestSettingsTableSize(t *testing.T) {
	for _, tc := range []struct {
		limit  uint32
		update uint32
		bad    bool
	}{{4096, 8192, true}, {16384, 8192, false}, {1 << 20, 1 << 20, true}} {
		c := newConv()
		c.send(c2s, 1, []byte(preface), settings(1, tc.limit))
		blk := []byte{0x3f} // size update, 5-bit prefix
		v := tc.update - 31
		for v >= 128 {
			blk = append(blk, byte(v)|0x80)
			v >>= 7
		}
		blk = append(blk, byte(v), 0x88) // then :status 200
		c.send(c2s, 2, c.headers(c2s, 1, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "h"))
		c.send(s2c, 3, frame(frameHeaders, flagEndHeaders|flagEndStream, 1, blk))
		s := run(defaultCtx(), c.steps, nil)
		if bad := s.Drops[l7.DropMalformed] > 0; bad != tc.bad || len(s.Txs) != 1 || string(s.Txs[0].Status) != "200" {
			t.Errorf("limit %d update %d: %s", tc.limit, tc.update, renderAll(s))
		}
	}
}

func TestUpgrade(t *testing.T) {
	req := "GET /robots.txt HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/8\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
	if v := Detect([]byte(req), c2s, 80); v != l7.Yes {
		t.Errorf("detect upgrade: %v", v)
	}
	c := newConv()
	c.send(c2s, 1, []byte(req))
	c.send(s2c, 2, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"), settings(3, 100))
	c.send(c2s, 3, []byte(preface), settings())
	c.send(s2c, 4, c.headers(s2c, 1, 0, ":status", "200", "content-type", "text/plain"), frame(frameData, flagEndStream, 1, []byte("ok")))
	c.send(c2s, 5, c.headers(c2s, 3, flagEndStream, ":method", "GET", ":scheme", "http", ":path", "/humans.txt", ":authority", "example.org"))
	c.send(s2c, 6, c.headers(s2c, 3, flagEndStream, ":status", "404"))
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 2 || s.Drops != [l7.NumDropReasons]int{} {
		t.Fatalf("%s", renderAll(s))
	}
	if tx := s.Txs[0]; string(tx.Op) != "GET" || string(tx.Target) != "/robots.txt" || field(tx, FieldAuthority) != "example.org" ||
		field(tx, FieldUserAgent) != "curl/8" || string(tx.Status) != "200" || tx.ReqTS != 1 || tx.RespTS != 4 || tx.ReqBytes != int64(len(req)) {
		t.Errorf("%s", render(tx))
	}
	if tx := s.Txs[1]; string(tx.Target) != "/humans.txt" || tx.Outcome != l7.OutcomeClientError {
		t.Errorf("%s", render(tx))
	}
	// Declined: the connection stays HTTP/1.1; stream 1 gets the status
	// and the parser stops.
	c = newConv()
	c.send(c2s, 1, []byte(req))
	c.send(s2c, 2, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || string(s.Txs[0].Status) != "200" || !s.Stopped || s.Txs[0].Flags != l7.FlagTruncated || s.Drops[l7.DropOther] != 2 {
		t.Errorf("declined: %s", renderAll(s))
	}
	// An HTTP/1 request without the upgrade is not HTTP/2.
	if v := Detect([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), c2s, 80); v != l7.No {
		t.Errorf("plain HTTP/1: %v", v)
	}
	if v := Detect([]byte("GET / HTTP/1.1\r\nHost: a\r\n"), c2s, 80); v != l7.NeedMore {
		t.Errorf("partial HTTP/1: %v", v)
	}
}

func TestDetect(t *testing.T) {
	c := newConv()
	hdrs := c.headers(c2s, 1, 0, grpcReq...)
	data := frame(frameData, flagEndStream, 1, grpcMsg(20))
	cases := []struct {
		name string
		b    []byte
		want l7.Verdict
	}{
		{"preface", []byte(preface + "xx"), l7.Yes},
		{"preface prefix", []byte(preface[:10]), l7.NeedMore},
		{"HTTP/1 request line", []byte("PRI * HTTP/1.1\r\n"), l7.NeedMore},
		{"HTTP/1 request", []byte("PRI * HTTP/1.1\r\n\r\n"), l7.No},
		{"headers", hdrs, l7.Maybe},
		{"headers and data", append(bytes.Clone(hdrs), data...), l7.Maybe},
		{"headers and part of data", append(bytes.Clone(hdrs), data[:12]...), l7.Maybe},
		{"part of a frame", hdrs[:20], l7.NeedMore},
		{"settings ack alone", frame(frameSettings, flagAck, 0, nil), l7.NeedMore},
		{"settings ack, ping", append(frame(frameSettings, flagAck, 0, nil), frame(framePing, flagAck, 0, make([]byte, 8))...), l7.Maybe},
		{"data on stream 0", frame(frameData, 0, 0, []byte("abc")), l7.No},
		{"unknown flags", frame(frameHeaders, 0x40|flagEndHeaders, 1, []byte{0x82}), l7.No},
		{"unknown type", frame(0x20, 0, 1, []byte{1}), l7.No},
		{"then garbage", append(bytes.Clone(hdrs), "GET / HTTP/1.1\r\n"...), l7.No},
		// DNS over TCP: length 30, ID 0, flags 0x0100: reads as a DATA frame
		// of 7680 bytes, which never completes.
		{"dns over tcp", []byte{0x00, 0x1e, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x30}, l7.NeedMore},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, l7.No},
		{"empty", nil, l7.NeedMore},
	}
	for _, tc := range cases {
		if got := Detect(tc.b, c2s, 50051); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The placeholder name cannot come from the wire: HPACK literal names
// are lower-case tokens for well-behaved senders, and a NUL name is
// reported as undecodable rather than shown.
func TestPlaceholderNameOnWire(t *testing.T) {
	c := newConv()
	blk := append([]byte{0x82, 0x86, 0x84}, literal("\x00", "v")...)
	c.send(c2s, 1, frame(frameHeaders, flagEndHeaders|flagEndStream, 1, blk))
	s := run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || strings.Contains(field(s.Txs[0], FieldRequestHeaders), "v\n") || s.Drops[l7.DropOther] != 5 {
		t.Errorf("%s", renderAll(s))
	}
}

func TestSinkNil(t *testing.T) {
	// A parser without a sink (detection-only use) must not panic.
	p := New(l7.Context{})
	c := newConv()
	unary(c, 1, 1, "0")
	for _, s := range c.steps {
		p.Data(s.dir, s.b, s.ts)
	}
	p.End(10)
	_ = l7test.Sink{}
}

// A header block interrupted by another frame (a protocol error) or by a
// gap is given up and counted; the connection goes on.
func TestInterruptedBlock(t *testing.T) {
	open := frame(frameHeaders, flagEndStream, 1, literal(":method", "GET"))
	next := frame(frameHeaders, flagEndHeaders|flagEndStream, 3, literal(":method", "GET", ":path", "/next"))
	c := newConv()
	c.send(c2s, 1, []byte(preface), open, frame(framePing, 0, 0, make([]byte, 8)), next)
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 1 || string(s.Txs[0].Target) != "/next" || s.Drops[l7.DropMalformed] != len(open) {
		t.Errorf("interrupted: %s", renderAll(s))
	}
	c = newConv()
	c.send(c2s, 1, []byte(preface), open)
	c.gap(c2s, 100, 2)
	c.send(c2s, 3, next)
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || string(s.Txs[0].Target) != "/next" || s.Drops[l7.DropGap] != len(open) {
		t.Errorf("gap: %s", renderAll(s))
	}
	// The flow ends in the middle of a block.
	c = newConv()
	c.send(c2s, 1, []byte(preface), open)
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 0 || s.Drops[l7.DropGap] != len(open) {
		t.Errorf("end: %s", renderAll(s))
	}
	// A CONTINUATION without its HEADERS.
	c = newConv()
	cont := frame(frameContinuation, flagEndHeaders, 1, literal(":path", "/x"))
	c.send(c2s, 1, []byte(preface), cont, next)
	s = run(defaultCtx(), c.steps, nil)
	if len(s.Txs) != 1 || s.Drops[l7.DropMalformed] != len(cont) {
		t.Errorf("orphan continuation: %s", renderAll(s))
	}
}

// An upgrade request with a body: the body is skipped before the
// preface.
func TestUpgradeWithBody(t *testing.T) {
	req := "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n"
	c := newConv()
	c.send(c2s, 1, []byte(req+"hello"))
	c.send(s2c, 2, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"), settings())
	c.send(c2s, 3, []byte(preface), settings())
	c.send(s2c, 4, c.headers(s2c, 1, flagEndStream, ":status", "201"))
	s := checkSplits(t, defaultCtx(), c.steps)
	if len(s.Txs) != 1 || s.Drops != [l7.NumDropReasons]int{} {
		t.Fatalf("%s", renderAll(s))
	}
	tx := s.Txs[0]
	wantReq := ":method: POST\n:path: /submit\n:authority: h\ncontent-length: 5\nconnection: Upgrade, HTTP2-Settings\nupgrade: h2c\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\nauthorization: Basic <redacted>\n"
	if string(tx.Op) != "POST" || string(tx.Status) != "201" || tx.ReqBytes != int64(len(req)+5) ||
		field(tx, FieldRequestHeaders) != wantReq || tx.Flags != l7.FlagRedacted {
		t.Errorf("%s", render(tx))
	}
}

// ReqTS is the time of the call that brought the request's first byte,
// RespTS that of the call that completed the response, however the
// frames are cut.
func TestTimestampsAcrossCalls(t *testing.T) {
	c := newConv()
	req := c.headers(c2s, 1, flagEndStream, grpcReq...)
	resp := append(c.headers(s2c, 1, 0, ":status", "200", "content-type", "application/grpc"),
		c.headers(s2c, 1, flagEndStream, "grpc-status", "0")...)
	for _, cut := range []int{1, 5, 9, len(req) - 1} {
		for _, rcut := range []int{3, len(resp) - 1} {
			c.steps = nil
			c.send(c2s, 100, []byte(preface), req[:cut])
			c.send(c2s, 200, req[cut:])
			c.send(s2c, 300, resp[:rcut])
			c.send(s2c, 400, resp[rcut:])
			s := run(defaultCtx(), c.steps, nil)
			if len(s.Txs) != 1 || s.Txs[0].ReqTS != 100 || s.Txs[0].RespTS != 400 {
				t.Errorf("cut %d/%d: %s", cut, rcut, renderAll(s))
			}
		}
	}
}
