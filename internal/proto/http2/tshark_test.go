package http2

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// tsharkConn is what Wireshark decodes of one connection: its streams
// and the gRPC messages each way.
type tsharkConn struct {
	streams map[uint32]*tsharkStream
	grpc    [2]int // client to server, server to client
}

// tsharkStream holds what Wireshark decodes of an HTTP/2 stream: the
// header fields of every header block, in order, per side.
type tsharkStream struct {
	req, resp []string // "name: value" lines; fields tshark cannot name are left out
	reqBlocks int      // request header blocks (HEADERS with their CONTINUATIONs)
	http1     []string // an h2c upgrade: the HTTP/1.1 request's method and URI
}

// tsharkHTTP2 runs tshark once over the captures merged into one file
// (PDML; each connection's server port decoded as HTTP/2 except 80, where
// tshark follows the h2c upgrade itself) and collects the header fields of
// every HEADERS and CONTINUATION frame, by connection (its client port,
// distinct across these captures) and stream.
func tsharkHTTP2(t *testing.T, paths []string, serverPorts []uint16) map[int]*tsharkConn {
	t.Helper()
	merged := filepath.Join(t.TempDir(), "merged.pcapng")
	if out, err := exec.Command("mergecap", append([]string{"-a", "-w", merged}, paths...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	args := []string{"-r", merged, "-T", "pdml"}
	for _, p := range serverPorts {
		if p != 80 {
			args = append(args, "-d", fmt.Sprintf("tcp.port==%d,http2", p))
		}
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	conns := map[int]*tsharkConn{}
	isServer := map[int]bool{}
	for _, p := range serverPorts {
		isServer[int(p)] = true
	}
	type frame struct {
		typ    int
		stream uint32
		lines  []string
	}
	var (
		src, dst int
		frames   []*frame
		cur      *frame
		name     []byte
		unknown  bool
		method   string
		uri      string
		grpcMsgs int
	)
	attr := func(e xml.StartElement, k string) string {
		for _, a := range e.Attr {
			if a.Name.Local == k {
				return a.Value
			}
		}
		return ""
	}
	flush := func() {
		client, fromClient := src, true
		if isServer[src] {
			client, fromClient = dst, false
		}
		if conns[client] == nil {
			conns[client] = &tsharkConn{streams: map[uint32]*tsharkStream{}}
		}
		conn := conns[client]
		get := func(id uint32) *tsharkStream {
			if conn.streams[id] == nil {
				conn.streams[id] = &tsharkStream{}
			}
			return conn.streams[id]
		}
		if fromClient {
			conn.grpc[0] += grpcMsgs
		} else {
			conn.grpc[1] += grpcMsgs
		}
		for _, f := range frames {
			if f.typ != frameHeaders && f.typ != frameContinuation {
				continue
			}
			s := get(f.stream)
			if fromClient {
				if f.typ == frameHeaders {
					s.reqBlocks++
				}
				s.req = append(s.req, f.lines...)
			} else {
				s.resp = append(s.resp, f.lines...)
			}
		}
		if method != "" && fromClient {
			// The HTTP/1.1 request of an h2c upgrade becomes stream 1.
			get(1).http1 = []string{method, uri}
		}
		frames, cur, method, uri, grpcMsgs = nil, nil, "", "", 0
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		e, ok := tok.(xml.StartElement)
		if !ok {
			if end, ok := tok.(xml.EndElement); ok && end.Name.Local == "packet" {
				flush()
			}
			continue
		}
		if e.Name.Local != "field" {
			continue
		}
		switch attr(e, "name") {
		case "tcp.srcport":
			src, _ = strconv.Atoi(attr(e, "show"))
		case "tcp.dstport":
			dst, _ = strconv.Atoi(attr(e, "show"))
		case "http.request.method":
			method = attr(e, "show")
		case "http.request.uri":
			uri = attr(e, "show")
		case "grpc.message_length":
			grpcMsgs++
		case "http2.stream":
			cur = &frame{typ: -1}
			frames = append(frames, cur)
		case "http2.type":
			if cur != nil {
				cur.typ, _ = strconv.Atoi(attr(e, "show"))
			}
		case "http2.streamid":
			if cur != nil {
				id, _ := strconv.ParseUint(attr(e, "show"), 10, 32)
				cur.stream = uint32(id)
			}
		case "http2.header.name":
			name, _ = hex.DecodeString(attr(e, "value"))
			unknown = attr(e, "show") == "<unknown>"
		case "http2.header.value":
			if cur != nil && !unknown {
				v, _ := hex.DecodeString(attr(e, "value"))
				cur.lines = append(cur.lines, string(name)+": "+string(v))
			}
		}
	}
	return conns
}

// TestHeadersMatchTshark compares every header field of every stream
// with Wireshark's HTTP/2 dissector (tshark 4.0, nghttp2's HPACK): the
// request_headers and response_headers texts must hold exactly the
// fields tshark decodes, in order, and the requests must be the ones
// tshark sees. Fields tshark cannot name either ("<unknown>": a dynamic
// table entry from before the capture) are left out on both sides.
func TestHeadersMatchTshark(t *testing.T) {
	for _, tool := range []string{"tshark", "mergecap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	files := []string{
		"deepflow/flow_generator/http/grpc-unary.pcap",
		"deepflow/flow_generator/http/grpc-segmented.pcap",
		"deepflow/flow_generator/http/grpc-server-stream.pcap",
		"deepflow/flow_generator/http/grpc-service-name.pcap",
		"deepflow/flow_generator/http/grpc-unknown.pcap",
		"deepflow/flow_generator/http/h2c_ascii.pcap",
		"deepflow/flow_generator/http/http2-multi.pcap",
		"deepflow/flow_generator/http/httpv2-stream-id.pcap",
		"ndpi/http2.pcapng",
		"suricata-verify/http2-continuation/input.pcap",
		"suricata-verify/http2-keywords/input.pcap",
		"suricata-verify/http2-keywords2/input.pcap",
	}
	cfg := l7.DefaultConfig()
	cfg.KeepCredentials = true // compare the raw values
	var (
		paths   []string
		servers []uint16
		results []*l7test.Result
	)
	for _, rel := range files {
		path := corpus.Path(t, rel)
		r := l7test.ReadFileConfig(t, path, cfg, Protocol)
		if len(r.Flows) != 1 || r.Flows[0].Proto != "http2" {
			t.Fatalf("%s: flows %v", rel, r.Flows)
		}
		paths = append(paths, path)
		servers = append(servers, r.Flows[0].Server.Port())
		results = append(results, r)
	}
	conns := tsharkHTTP2(t, paths, servers)
	for i, rel := range files {
		r := results[i]
		conn := conns[int(r.Flows[0].Client.Port())]
		if conn == nil {
			t.Errorf("%s: tshark has no packet of the connection", rel)
			continue
		}
		want := conn.streams
		// gRPC messages each way, over the connection (tshark's gRPC
		// dissector, one grpc.message_length per message).
		var msgs [2]int
		for _, tx := range r.Txs {
			for i, k := range []string{FieldRequestMessages, FieldResponseMessages} {
				n, _ := strconv.Atoi(field(tx, k))
				msgs[i] += n
			}
		}
		// tshark 4.0's gRPC dissector gives up on a call whose :path it
		// could not decode ("failed assertion grpc_ctx->path", the
		// mid-connection grpc-unknown.pcap); TestDeepFlowDetails checks
		// that file's counts.
		if msgs != conn.grpc && !strings.HasSuffix(rel, "grpc-unknown.pcap") {
			t.Errorf("%s: gRPC messages %v, tshark %v", rel, msgs, conn.grpc)
		}
		ours := map[uint32]*l7.Transaction{}
		for _, tx := range r.Txs {
			id, _ := strconv.ParseUint(field(tx, FieldStreamID), 10, 32)
			ours[uint32(id)] = tx
		}
		requests, streams := 0, 0
		for id, w := range want {
			if id == 0 {
				continue
			}
			streams++
			tx := ours[id]
			if tx == nil {
				t.Errorf("%s stream %d: tshark decodes headers, we have no transaction", rel, id)
				continue
			}
			if w.http1 != nil {
				// The upgrade request: compare its method and URI.
				requests++
				if string(tx.Op) != w.http1[0] || string(tx.Target) != w.http1[1] {
					t.Errorf("%s stream %d: tshark %v, ours %q %q", rel, id, w.http1, tx.Op, tx.Target)
				}
			} else {
				requests += w.reqBlocks
				if got := lines(tx, FieldRequestHeaders); got != strings.Join(w.req, "\n") {
					t.Errorf("%s stream %d request headers:\n ours   %q\n tshark %q", rel, id, got, strings.Join(w.req, "\n"))
				}
			}
			if got := lines(tx, FieldResponseHeaders); got != strings.Join(w.resp, "\n") {
				t.Errorf("%s stream %d response headers:\n ours   %q\n tshark %q", rel, id, got, strings.Join(w.resp, "\n"))
			}
		}
		for id := range ours {
			if want[id] == nil {
				t.Errorf("%s stream %d: ours, not tshark's", rel, id)
			}
		}
		if requests == 0 {
			t.Errorf("%s: no request compared", rel)
		}
		t.Logf("%s: %d streams, %d transactions, %d request header blocks, gRPC messages %v", rel, streams, len(r.Txs), requests, msgs)
	}
}

// lines returns a header text field without its final newline.
func lines(tx *l7.Transaction, key string) string {
	return strings.TrimSuffix(string(tx.Field(key)), "\n")
}
