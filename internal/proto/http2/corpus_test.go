package http2

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// dfMsg is one line of a DeepFlow .result file: one parsed message
// (DeepFlow reports per HEADERS/DATA message; we report per stream).
type dfMsg struct {
	line       int
	proto      string // Grpc, Http2, Http1, Unknown
	msgType    string // Request, Response, Session, Other
	method     string // Post, _RequestHeader, _ResponseHeader, _RequestData, _ResponseData, ...
	stream     int64  // -1: None
	path, host string
	status     int // -1: None
	grpcStatus int // -1: None
	service    string
	isHTTP     bool
}

var (
	dfProto   = regexp.MustCompile(`proto: (\w+)`)
	dfType    = regexp.MustCompile(`msg_type: (\w+)`)
	dfMethod  = regexp.MustCompile(`method: (\w+)`)
	dfStream  = regexp.MustCompile(`stream_id: (?:None|Some\((\d+)\))`)
	dfPath    = regexp.MustCompile(`path: "((?:[^"\\]|\\.)*)"`)
	dfHost    = regexp.MustCompile(`host: "((?:[^"\\]|\\.)*)"`)
	dfStatus  = regexp.MustCompile(`status_code: (?:None|Some\((\d+)\))`)
	dfGRPC    = regexp.MustCompile(`grpc_status_code: (?:None|Some\((\d+)\))`)
	dfService = regexp.MustCompile(`service_name: (?:None|Some\("((?:[^"\\]|\\.)*)"\))`)
)

func readDeepFlow(t *testing.T, rel string) []dfMsg {
	t.Helper()
	f, err := os.Open(corpus.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	num := func(re *regexp.Regexp, s string) int64 {
		m := re.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("%s: no %v in %q", rel, re, s)
		}
		if m[1] == "" {
			return -1
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	str := func(re *regexp.Regexp, s string) string {
		m := re.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("%s: no %v in %q", rel, re, s)
		}
		return m[1]
	}
	var out []dfMsg
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		s := sc.Text()
		if !strings.HasPrefix(s, "HttpInfo {") {
			continue
		}
		out = append(out, dfMsg{
			line: n, proto: str(dfProto, s), msgType: str(dfType, s), method: str(dfMethod, s),
			stream: num(dfStream, s), path: str(dfPath, s), host: str(dfHost, s),
			status: int(num(dfStatus, s)), grpcStatus: int(num(dfGRPC, s)), service: str(dfService, s),
			isHTTP: strings.HasSuffix(s, "is_http: true"),
		})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no records", rel)
	}
	return out
}

// TestDeepFlow compares, message by message, DeepFlow's expected HTTP/2
// and gRPC parse (agent/src/flow_generator/protocol_logs/http.rs tests)
// with our transactions. DeepFlow prints one record per parsed message:
// a request HEADERS, a response HEADERS, trailers, and DATA frames
// ("_RequestData"/"_ResponseData", or a response counted from its DATA).
// We print one transaction per stream, so each DeepFlow message is mapped
// to the transaction of its stream_id and checked against the part of it
// that the message describes:
//
//   - request headers: proto (Grpc/Http2), path, host, method, service
//   - any message with a status code: the HTTP status
//   - any message with a gRPC status: grpc-status
//
// Records that are not HTTP (is_http: false: SETTINGS, WINDOW_UPDATE,
// PING, the TCP handshake) carry nothing to compare. Every stream DeepFlow
// names must have exactly one transaction and every transaction a stream
// DeepFlow names.
func TestDeepFlow(t *testing.T) {
	for _, tc := range []struct {
		pcap, result string
		// What differs, by design, from DeepFlow's record of the file.
		note string
	}{
		{"grpc-unary", "grpc-unary", ""},
		{"grpc-segmented", "grpc-segmented", ""},
		{"grpc-server-stream", "grpc-server-stream", ""},
		// DeepFlow's "server stream as unary" mode ends the call at the
		// response HEADERS and ignores the trailers; we end it at the
		// trailers (END_STREAM), so our transaction also has grpc-status
		// 0, which that record does not show.
		{"grpc-server-stream", "grpc-server-stream-as-unary", "trailers ignored by DeepFlow"},
		{"grpc-service-name", "grpc-service-name", ""},
		{"grpc-unknown", "grpc-unknown", ""},
		{"h2c_ascii", "h2c_ascii", ""},
		{"http2-multi", "http2-multi", ""},
		{"httpv2-stream-id", "httpv2-stream-id", ""},
	} {
		t.Run(tc.result, func(t *testing.T) {
			dir := "deepflow/flow_generator/http/"
			r := l7test.ReadFile(t, corpus.Path(t, dir+tc.pcap+".pcap"), Protocol)
			msgs := readDeepFlow(t, dir+tc.result+".result")
			byStream := map[string]*l7.Transaction{}
			for _, tx := range r.Txs {
				id := field(tx, FieldStreamID)
				if byStream[id] != nil {
					t.Errorf("two transactions for stream %s", id)
				}
				byStream[id] = tx
			}
			named := map[string]bool{}
			compared := 0
			for _, m := range msgs {
				if !m.isHTTP {
					continue
				}
				if m.stream < 0 {
					t.Errorf("line %d: HTTP record without a stream id", m.line)
					continue
				}
				id := strconv.FormatInt(m.stream, 10)
				named[id] = true
				tx := byStream[id]
				if tx == nil {
					t.Errorf("line %d: DeepFlow has stream %s, we have no transaction for it", m.line, id)
					continue
				}
				grpc := tx.Proto == "grpc"
				if want := map[string]string{"Grpc": "grpc", "Http2": "http2"}[m.proto]; want != tx.Proto {
					t.Errorf("line %d: proto %s, ours %s", m.line, m.proto, tx.Proto)
				}
				isRequest := m.method == "_RequestHeader" || m.msgType == "Request"
				if isRequest {
					path := string(tx.Target)
					if grpc {
						path = field(tx, FieldPath)
					}
					if path != m.path {
						t.Errorf("line %d: path %q, ours %q", m.line, m.path, path)
					}
					if got := field(tx, FieldAuthority); got != m.host {
						t.Errorf("line %d: host %q, ours %q", m.line, m.host, got)
					}
					if !grpc && !strings.EqualFold(m.method, string(tx.Op)) {
						t.Errorf("line %d: method %s, ours %q", m.line, m.method, tx.Op)
					}
					if m.service != "" && string(tx.Target) != m.service {
						t.Errorf("line %d: service %q, ours %q", m.line, m.service, tx.Target)
					}
					compared++
				}
				if m.status >= 0 {
					status := string(tx.Status)
					if grpc {
						status = field(tx, FieldHTTPStatus)
					}
					if status != strconv.Itoa(m.status) {
						t.Errorf("line %d: status %d, ours %q", m.line, m.status, status)
					}
					compared++
				}
				if m.grpcStatus >= 0 {
					if !grpc || string(tx.Status) != strconv.Itoa(m.grpcStatus) {
						t.Errorf("line %d: grpc status %d, ours %s %q", m.line, m.grpcStatus, tx.Proto, tx.Status)
					}
					compared++
				}
			}
			for id := range byStream {
				if !named[id] {
					t.Errorf("our transaction on stream %s is not in DeepFlow's records", id)
				}
			}
			if compared == 0 {
				t.Errorf("nothing compared")
			}
			if r.Stats.ParserPanics != 0 {
				t.Errorf("%d parser panics", r.Stats.ParserPanics)
			}
			t.Logf("%d DeepFlow records, %d messages compared, %d transactions %s", len(msgs), compared, len(r.Txs), tc.note)
		})
	}
}

// TestDeepFlowDetails pins what the DeepFlow records show beyond the
// compared fields, per file (read off the .result records named).
func TestDeepFlowDetails(t *testing.T) {
	dir := "deepflow/flow_generator/http/"
	// grpc-unknown: the capture starts mid-connection (stream 928401);
	// DeepFlow has no path (the HPACK dynamic table is unknown) but the
	// host from a literal. We count the fields we could not decode.
	// Its request DATA is 5 bytes (DeepFlow: req_content_length 5), a lone
	// length prefix: one empty message; the response DATA is 170 bytes
	// (resp_content_length 170) whose prefix says 165 (00 000000a5, tshark
	// http2.data.data): one message.
	r := l7test.ReadFile(t, corpus.Path(t, dir+"grpc-unknown.pcap"), Protocol)
	if len(r.Txs) != 1 || r.Stats.ParserDrops[l7.DropOther] == 0 || r.Txs[0].Flags&l7.FlagTruncated == 0 || r.Txs[0].Op != nil ||
		field(r.Txs[0], FieldRequestMessages) != "1" || field(r.Txs[0], FieldResponseMessages) != "1" {
		t.Errorf("grpc-unknown: %d txs, drops %v", len(r.Txs), r.Stats.ParserDrops)
	}
	// grpc-segmented: the request (HEADERS + one DATA frame in the next
	// segment) and no response in the capture.
	r = l7test.ReadFile(t, corpus.Path(t, dir+"grpc-segmented.pcap"), Protocol)
	if len(r.Txs) != 1 || r.Txs[0].Outcome != l7.OutcomeNoResponse || field(r.Txs[0], FieldRequestMessages) != "1" {
		t.Errorf("grpc-segmented: %v", r.Txs)
	}
	// grpc-server-stream: DeepFlow records three _ResponseData messages
	// after the response HEADERS, whose segment also carries DATA; the
	// trailers (grpc_status_code 0) end the stream.
	r = l7test.ReadFile(t, corpus.Path(t, dir+"grpc-server-stream.pcap"), Protocol)
	if len(r.Txs) != 1 || r.Txs[0].Outcome != l7.OutcomeOK || r.Txs[0].Flags != 0 {
		t.Errorf("grpc-server-stream: %v", r.Txs)
	}
	// grpc-service-name: a client-streaming call; DeepFlow records three
	// _RequestData messages of 30 bytes, each one gRPC message.
	r = l7test.ReadFile(t, corpus.Path(t, dir+"grpc-service-name.pcap"), Protocol)
	if len(r.Txs) != 1 || field(r.Txs[0], FieldRequestMessages) != "3" {
		t.Errorf("grpc-service-name: %v", r.Txs)
	}
}
