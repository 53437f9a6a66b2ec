package dubbo

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
	ms  = int64(1e6)
)

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var userArgs = [][]byte{
	hstr("alice"),
	hint(42),
	{'T'},
	{'N'},
	hlist(hint(1), hlong(2), hdouble(2.5)),
	hmap(hstr("k"), hstr("v"), hstr("n"), hint(-300)),
	cat(hclassDef("com.example.User", "name", "age", "tags"), hobject(0, hstr("bob"), hint(7), hlist(hstr("x")))),
	hobject(0, hstr("carol"), hint(100000), []byte{'N'}),
}

const userArgsText = `"alice", 42, true, null, [1, 2, 2.5], {"k": "v", "n": -300}, User{name: "bob", age: 7, tags: ["x"]}, User{name: "carol", age: 100000, tags: null}`

func TestHessianRoundTrip(t *testing.T) {
	sw8 := "1-" + b64s("abc.1.2") + "-" + b64s("seg.9") + "-3-" + b64s("svc") + "-" + b64s("inst") + "-" + b64s("/ep") + "-" + b64s("10.0.0.1:20880")
	req := hreq(77, "com.example.UserService", "find",
		"Ljava/lang/String;IZLjava/lang/Object;Ljava/util/List;Ljava/util/Map;Lcom/example/User;Lcom/example/User;",
		userArgs, hstr("path"), hstr("com.example.UserService"), hstr("sw8"), hstr(sw8), hstr("timeout"), hstr("3000"))
	resp := hresp(77, 20, cat(hint(4), hstr("ok"), hmap(hstr("dubbo"), hstr("2.0.2"))))
	steps := []step{data(c2s, 10*ms, req), data(s2c, 15*ms, resp)}
	for cut := 0; cut <= max(len(req), len(resp)); cut++ {
		s := run(t, nil, steps, cut, 20*ms)
		if len(s.Txs) != 1 {
			t.Fatalf("cut %d: %d transactions", cut, len(s.Txs))
		}
		tx := s.Txs[0]
		if string(tx.Op) != "find" || string(tx.Target) != "com.example.UserService" || string(tx.Status) != "20" || tx.Outcome != l7.OutcomeOK {
			t.Fatalf("op %q target %q status %q outcome %v", tx.Op, tx.Target, tx.Status, tx.Outcome)
		}
		if tx.ReqBytes != int64(len(req)) || tx.RespBytes != int64(len(resp)) || tx.Latency() != 5*ms || tx.Flags != 0 {
			t.Fatalf("sizes %d %d latency %d flags %v", tx.ReqBytes, tx.RespBytes, tx.Latency(), tx.Flags)
		}
		for k, v := range map[string]string{
			FieldDubboVersion: "2.0.2", FieldServiceVersion: "1.0.0", FieldRequestID: "77", FieldSerialization: "hessian2",
			FieldArgs: userArgsText, FieldTraceID: "abc.1.2", FieldSpanID: "seg.9-3", FieldResponseType: "value",
		} {
			if got := field(tx, k); got != v {
				t.Fatalf("cut %d: %s = %q, want %q", cut, k, got, v)
			}
		}
		if s.Drops != [l7.NumDropReasons]int{} {
			t.Fatalf("drops %v", s.Drops)
		}
	}
}

func TestResponses(t *testing.T) {
	exc := cat(hint(0), hclassDef("java.lang.IllegalStateException", "detailMessage", "cause", "stackTrace"),
		hobject(0, hstr("boom"), []byte{'Q', 0x90}, hlist()))
	tests := []struct {
		name     string
		resp     []byte
		status   string
		outcome  l7.Outcome
		respType string
		errmsg   string
	}{
		{"value", hresp(1, 20, cat(hint(1), hstr("x"))), "20", l7.OutcomeOK, "value", ""},
		{"null", hresp(1, 20, hint(2)), "20", l7.OutcomeOK, "null", ""},
		{"null with attachments", hresp(1, 20, cat(hint(5), hmap())), "20", l7.OutcomeOK, "null", ""},
		{"exception", hresp(1, 20, exc), "20", l7.OutcomeServerError, "exception", "java.lang.IllegalStateException: boom"},
		{"bad request", hresp(1, 40, hstr("Fail to decode request")), "40", l7.OutcomeClientError, "", "Fail to decode request"},
		{"client timeout", hresp(1, 30, hstr("timeout")), "30", l7.OutcomeClientError, "", "timeout"},
		{"server timeout", hresp(1, 31, hstr("timeout")), "31", l7.OutcomeServerError, "", "timeout"},
		{"service not found", hresp(1, 60, hchunked("Not found exported service: com.example.X", 10)), "60", l7.OutcomeServerError, "", "Not found exported service: com.example.X"},
		{"thread pool", hresp(1, 100, hstr("exhausted")), "100", l7.OutcomeServerError, "", "exhausted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, nil, []step{data(c2s, ms, hreq(1, "S", "m", "", nil)), data(s2c, 2*ms, tc.resp)}, 0, 3*ms)
			if len(s.Txs) != 1 {
				t.Fatalf("%d transactions", len(s.Txs))
			}
			tx := s.Txs[0]
			if string(tx.Status) != tc.status || tx.Outcome != tc.outcome || field(tx, FieldResponseType) != tc.respType || field(tx, FieldErrorMessage) != tc.errmsg {
				t.Errorf("status %q outcome %v type %q error %q", tx.Status, tx.Outcome, field(tx, FieldResponseType), field(tx, FieldErrorMessage))
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	login := hreq(1, "my.demo.service.UserService", "login", "Ljava/lang/String;Ljava/lang/String;", [][]byte{hstr("13780407607"), hstr("x3#U9&")})
	form := hreq(2, "S", "update", "Ljava/util/Map;", [][]byte{hmap(hstr("user"), hstr("bob"), hstr("newPassword"), hstr("hunter2"), hstr("apiToken"), hint(5))})
	obj := hreq(3, "S", "save", "Lx/Cred;", [][]byte{cat(hclassDef("x.Cred", "user", "secretKey"), hobject(0, hstr("u"), hstr("s3cr3t")))})
	steps := []step{data(c2s, ms, login, form, obj)}
	s := run(t, nil, steps, 0, 2*ms)
	want := []string{`<redacted>`, `{"user": "bob", "newPassword": <redacted>, "apiToken": <redacted>}`, `Cred{user: "u", secretKey: <redacted>}`}
	for i, tx := range s.Txs {
		if got := field(tx, FieldArgs); got != want[i] || tx.Flags&l7.FlagRedacted == 0 {
			t.Errorf("%d: %s (flags %v), want %s", i, got, tx.Flags, want[i])
		}
	}
	s = run(t, func(c *l7.Context) { c.KeepCredentials = true }, steps, 0, 2*ms)
	want = []string{`"13780407607", "x3#U9&"`, `{"user": "bob", "newPassword": "hunter2", "apiToken": 5}`, `Cred{user: "u", secretKey: "s3cr3t"}`}
	for i, tx := range s.Txs {
		if got := field(tx, FieldArgs); got != want[i] || tx.Flags&l7.FlagRedacted != 0 {
			t.Errorf("keep %d: %s (flags %v), want %s", i, got, tx.Flags, want[i])
		}
	}
}

func TestTraceAttachments(t *testing.T) {
	tests := []struct {
		name         string
		attach       [][]byte
		trace, spanN string
	}{
		{"traceparent", [][]byte{hstr("traceparent"), hstr("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"},
		{"uber", [][]byte{hstr("uber-trace-id"), hstr("5b8aa5a2d2c872e8321cf37308d69df2:051581bf3cb55c13:0:1")}, "5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13"},
		{"eagleeye span first", [][]byte{hstr("EagleEye-SpanID"), hstr("-42"), hstr("EagleEye-TraceID"), hstr("0a1b2c")}, "0a1b2c", "-42"},
		{"sw8 preferred", [][]byte{hstr("EagleEye-TraceID"), hstr("ee"), hstr("sw8"), hstr("1-" + b64s("t1") + "-" + b64s("s1") + "-0-" + b64s("a") + "-" + b64s("b") + "-" + b64s("c") + "-" + b64s("d"))}, "t1", "s1-0"},
		{"empty sw8", [][]byte{hstr("sw8"), hstr("")}, "", ""},
		{"bad sw8", [][]byte{hstr("sw8"), hstr("1-%%%-x")}, "", ""},
		{"not a string", [][]byte{hstr("sw8"), hint(5), hstr("traceparent"), hstr("00-aa-bb-01")}, "aa", "bb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, nil, []step{data(c2s, ms, hreq(1, "S", "m", "", nil, tc.attach...))}, 0, 2*ms)
			tx := s.Txs[0]
			if field(tx, FieldTraceID) != tc.trace || field(tx, FieldSpanID) != tc.spanN {
				t.Errorf("trace %q span %q", field(tx, FieldTraceID), field(tx, FieldSpanID))
			}
		})
	}
}

func TestGenericAndChunked(t *testing.T) {
	long := strings.Repeat("com.example.deep.package.", 5) + "Service"
	body := cat(hstr("2.0.2"), hchunked(long, 20), hstr("0.0.0"), hstr("$invoke"),
		hstr("Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;"),
		hstr("sayHello"), hlist(hstr("java.lang.String")), hlist(hchunked(strings.Repeat("ab", 40), 7)),
		hmap(hstr("generic"), hstr("true")))
	s := run(t, nil, []step{data(c2s, ms, frame(flagRequest|flagTwoWay|serHessian2, 0, 9, body))}, 0, 2*ms)
	tx := s.Txs[0]
	if string(tx.Op) != "sayHello" || string(tx.Target) != long {
		t.Errorf("op %q target %q", tx.Op, tx.Target)
	}
	if want := `"sayHello", ["java.lang.String"], ["` + strings.Repeat("ab", 40) + `"]`; field(tx, FieldArgs) != want {
		t.Errorf("args %s", field(tx, FieldArgs))
	}
}

func TestOneWayHeartbeatPending(t *testing.T) {
	oneway := frame(flagRequest|serHessian2, 0, 5, cat(hstr("2.0.2"), hstr("S"), hstr("0"), hstr("notify"), hstr(""), hmap()))
	hbReq := frame(flagRequest|flagTwoWay|flagEvent|serHessian2, 0, 6, []byte{'N'})
	hbResp := frame(flagEvent|serHessian2, 20, 6, []byte{'N'})
	s := run(t, func(c *l7.Context) { c.MaxPending = 2; c.Timeout = 100 * ms }, []step{
		data(c2s, 1*ms, oneway, hbReq, hreq(1, "S", "a", "", nil), hreq(2, "S", "b", "", nil), hreq(3, "S", "c", "", nil)),
		data(s2c, 2*ms, hbResp, hresp(3, 20, hint(2)), hresp(99, 20, hint(2))),
		data(c2s, 3*ms, hreq(4, "S", "d", "", nil)),
		data(c2s, 200*ms, hreq(5, "S", "e", "", nil)),
	}, 0, 300*ms)
	var got []string
	for _, tx := range s.Txs {
		got = append(got, string(tx.Op)+":"+tx.Outcome.String())
	}
	want := "notify:one_way a:no_response c:ok :no_request b:no_response d:no_response e:no_response"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	if s.Drops != [l7.NumDropReasons]int{} {
		t.Errorf("drops %v", s.Drops)
	}
}

func TestGapAndResync(t *testing.T) {
	req := hreq(1, "S", "find", "Ljava/lang/String;", [][]byte{hstr(strings.Repeat("z", 200))})
	// A known hole inside the request keeps the framing.
	s := run(t, nil, []step{
		data(c2s, ms, req[:60]), gapStep(c2s, 100, ms), data(c2s, 2*ms, req[160:], hreq(2, "S", "next", "", nil)),
		data(s2c, 3*ms, hresp(1, 20, hint(2)), hresp(2, 20, hint(2))),
	}, 0, 4*ms)
	if len(s.Txs) != 2 || string(s.Txs[0].Op) != "find" || s.Txs[0].Flags&l7.FlagTruncated == 0 || s.Txs[0].Outcome != l7.OutcomeOK ||
		string(s.Txs[1].Op) != "next" || s.Txs[1].Outcome != l7.OutcomeOK {
		t.Fatalf("%+v", s.Txs)
	}
	if s.Drops[l7.DropGap] != len(req)-160 {
		t.Errorf("gap drops %v", s.Drops)
	}
	// A mid-stream start inside a message: skipped up to the next magic.
	s = run(t, nil, []step{
		gapStep(c2s, -1, ms), data(c2s, ms, req[50:], hreq(2, "S", "next", "", nil)),
		data(s2c, 3*ms, hresp(2, 20, hint(2))),
	}, 0, 4*ms)
	if len(s.Txs) != 1 || string(s.Txs[0].Op) != "next" || s.Drops[l7.DropResync] != len(req)-50 {
		t.Fatalf("resync: %+v drops %v", s.Txs, s.Drops)
	}
	// Telnet-style text on the port: counted, then messages decode.
	s = run(t, nil, []step{data(c2s, ms, []byte("ls -l\r\n"), hreq(3, "S", "x", "", nil))}, 0, 2*ms)
	if len(s.Txs) != 1 || s.Drops[l7.DropResync] != 7 {
		t.Fatalf("text: %+v drops %v", s.Txs, s.Drops)
	}
}

func TestLongMessage(t *testing.T) {
	big := strings.Repeat("y", 30000)
	req := hreq(1, "S", "put", "Ljava/lang/String;", [][]byte{hchunked(big, 8000)}, hstr("traceparent"), hstr("00-aa-bb-01"))
	for _, chunk := range []int{1000, len(req)} {
		p, s := newParser(t, func(c *l7.Context) { c.MaxMessage = 2048 })
		for off := 0; off < len(req); off += chunk {
			p.Data(c2s, req[off:min(off+chunk, len(req))], ms)
			if held(&p.fr, c2s, 0) > 2048 || held(&p.fr, c2s, 1) > 2048 {
				t.Fatal("buffered beyond MaxMessage")
			}
		}
		p.Data(s2c, hresp(1, 20, hint(2)), 2*ms)
		p.End(3 * ms)
		tx := s.Txs[0]
		whole := chunk == len(req)
		if string(tx.Op) != "put" || tx.Outcome != l7.OutcomeOK || tx.ReqBytes != int64(len(req)) || (tx.Flags&l7.FlagTruncated != 0) != true {
			t.Errorf("chunk %d: %+v", chunk, tx)
		}
		// Whole in one call, the attachments at the end are read; from
		// the first 2048 bytes, not.
		if (field(tx, FieldTraceID) == "aa") != whole {
			t.Errorf("chunk %d: trace %q", chunk, field(tx, FieldTraceID))
		}
		if s.Drops != [l7.NumDropReasons]int{} {
			t.Errorf("drops %v", s.Drops)
		}
	}
}

func TestDetect(t *testing.T) {
	req := hreq(1, "S", "m", "", nil)
	if v := Detect(req, c2s, 20880); v != l7.Yes {
		t.Errorf("request: %v", v)
	}
	if v := Detect(hresp(1, 20, hint(1)), s2c, 20880); v != l7.Yes {
		t.Errorf("response: %v", v)
	}
	for i := 0; i < headerLen; i++ {
		if v := Detect(req[:i], c2s, 20880); v != l7.NeedMore {
			t.Errorf("%d bytes: %v", i, v)
		}
	}
	for _, b := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		frame(flagRequest|flagTwoWay|13, 0, 1, nil),                                // unknown serialization
		frame(flagRequest|serHessian2, 20, 1, nil),                                 // a request with a status
		frame(serHessian2, 21, 1, nil),                                             // unknown status
		append([]byte{0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0x7f, 0, 0, 0), // huge body
	} {
		if v := Detect(b, c2s, 20880); v != l7.No {
			t.Errorf("%x: %v", b[:min(len(b), 16)], v)
		}
	}
}

func TestKryoString(t *testing.T) {
	// The UTF-8 form: flag bit, charCount+1 = 4, then "héé".
	b := []byte{0x80 | 4, 'h', 0xc3, 0xa9, 0xc3, 0xa9, 'X'}
	s, n, ok := kryoString(b)
	if !ok || string(s) != "héé" || n != 6 {
		t.Errorf("utf8: %q %d %v", s, n, ok)
	}
	// ASCII with the end mark; null; empty.
	if s, n, ok := kryoString([]byte{'a', 'b' | 0x80, 'c'}); !ok || n != 2 || string(s) != "a\xe2" {
		t.Errorf("ascii: %q %d %v", s, n, ok)
	}
	for _, b := range [][]byte{{0x80}, {0x81}} {
		if s, n, ok := kryoString(b); !ok || n != 1 || len(s) != 0 {
			t.Errorf("%x: %q %d %v", b, s, n, ok)
		}
	}
	// A long length (two bytes): 70 chars.
	long := append([]byte{0x80 | 0x40 | (71 & 0x3f), 71 >> 6}, strings.Repeat("q", 70)...)
	if s, _, ok := kryoString(long); !ok || len(s) != 70 {
		t.Errorf("long: %d %v", len(s), ok)
	}
	if _, _, ok := kryoString([]byte{0x80 | 60, 'a'}); ok {
		t.Error("count beyond input accepted")
	}
}

func TestFastjson(t *testing.T) {
	body := "\"2.0.2\"\n\"com.example.Greeter\"\n\"1.0\"\n\"greet\"\n\"Ljava/lang/String;I\"\n\"bob\"\n3\n" +
		`{"path":"com.example.Greeter","traceparent":"00-abc-def-01"}` + "\n"
	s := run(t, nil, []step{
		data(c2s, ms, frame(flagRequest|flagTwoWay|serFastjson, 0, 4, []byte(body))),
		data(s2c, 2*ms, frame(serFastjson, 20, 4, []byte("1\n\"hi bob\"\n"))),
	}, 0, 3*ms)
	tx := s.Txs[0]
	if string(tx.Op) != "greet" || string(tx.Target) != "com.example.Greeter" || field(tx, FieldArgs) != `"bob", 3` ||
		field(tx, FieldTraceID) != "abc" || field(tx, FieldResponseType) != "value" || field(tx, FieldSerialization) != "fastjson" {
		t.Errorf("%+v %v", tx, tx.Fields)
	}
}

// deepflowFastjson2 is the FastJson2 request in DeepFlow's dubbo.rs
// test_fastjson2 (a capture cut short inside the sw8 attachment); DeepFlow
// asserts the trace id below.
var deepflowFastjson2, _ = hex.DecodeString(
	"dabbd700ca83d77426db38ee000002c7000000064e322e302e320000002d75636f6d2e6279642e636c6f75642e707562" +
		"2e7573657263656e7465722e6170692e5573657253657276696365000000064e302e302e30000000145c717565727955" +
		"736572496e666f44657461696c00000011594c6a6176612f6c616e672f4c6f6e673b00000009be017d8c702b02200000" +
		"000244a64d7061746875636f6d2e6279642e636c6f75642e7075622e7573657263656e7465722e6170692e5573657253" +
		"6572766963655b72656d6f74652e6170706c69636174696f6e697075622d736572766572327365727665722d70726f76" +
		"696465722d647562626f59647562626f4170706c69636174696f6e697075622d736572766572327365727665722d7072" +
		"6f76696465722d647562626f4e7377382d784c302d204c737738793935312d4d5467355a444d344d7a55305a6d4d794e" +
		"44426c595467774e474d784e544d354e5749795a445669595759754d5463314c6a45334d7a6b304f54677a4e5463304e" +
		"7a63334d7a557a2d4d5467355a444d344d7a55305a6d4d794e44426c595467774e474d784e544d354e5749795a445669" +
		"595759754d6a4d344c6a45334d7a6d304f54677a4e5463304e7a63324e7a63792d322d55315651525649364f6e42")

func TestFastjson2DeepFlow(t *testing.T) {
	if Detect(deepflowFastjson2, c2s, 0) != l7.Yes {
		t.Fatal("not detected")
	}
	var r request
	jsonbRequest(deepflowFastjson2[headerLen:], &r)
	if got := string(r.get(r.traceID)); got != "189d38354fc240ea804c15395b2d5baf.175.17394983574777353" {
		t.Errorf("trace id %q", got)
	}
	if string(r.get(r.service)) != "com.byd.cloud.pub.usercenter.api.UserService" || string(r.get(r.method)) != "queryUserInfoDetail" ||
		string(r.get(r.version)) != "2.0.2" || string(r.get(r.argTypes)) != "Ljava/lang/Long;" {
		t.Errorf("service %q method %q version %q types %q", r.get(r.service), r.get(r.method), r.get(r.version), r.get(r.argTypes))
	}
	// Through the parser the message is incomplete (the capture cut it):
	// no transaction, its bytes counted.
	s := run(t, nil, []step{data(c2s, ms, deepflowFastjson2)}, 0, 2*ms)
	if len(s.Txs) != 0 || s.Drops[l7.DropOther] != len(deepflowFastjson2) {
		t.Errorf("%d transactions, drops %v", len(s.Txs), s.Drops)
	}
}

func TestCountParams(t *testing.T) {
	for desc, n := range map[string]int{"": 0, "I": 1, "IJZ": 3, "Ljava/lang/String;": 1, "[ILjava/lang/String;[[Lx/Y;D": 4, "Lbroken": 1} {
		if got := countParams([]byte(desc)); got != n {
			t.Errorf("%q: %d, want %d", desc, got, n)
		}
	}
}
