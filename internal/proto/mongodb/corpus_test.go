package mongodb

// Capture tests, checked against what other tools print:
//
//   - DeepFlow's expected parse output (deepflow/flow_generator/mongo/
//     *.result, one line per message: DeepFlow logs a request and its
//     reply as two lines, this parser as one transaction, so each
//     transaction is compared with the request line and the reply line that
//     carry its requestID);
//   - nDPI's expected result (ndpi/expected/*.out: the flows it detects by
//     content, and the negative case mongo_false_positive.pcapng);
//   - tshark's MongoDB dissector, run at test time (skipped when tshark is
//     missing), header fields and first element of every message.

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

var deepflowPayload = regexp.MustCompile(`"payload": Binary\(0x0, [^)]*\)`)

// TestDeepFlow compares every transaction with DeepFlow's request and
// reply lines: requestID, opcode, the command document as DeepFlow prints
// it, message sizes (each message travels in one segment in these
// captures, so DeepFlow's captured byte counts are message lengths), the
// error code and message, the status, and the response time (DeepFlow's
// rrt is in microseconds).
func TestDeepFlow(t *testing.T) {
	for _, name := range []string{"mongo", "mongo-msg"} {
		for _, keep := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/redacted", true: "/keep"}[keep], func(t *testing.T) {
				lines := l7test.DeepFlowResult(t, "deepflow/flow_generator/mongo/"+name+".result")
				cfg := l7.DefaultConfig()
				cfg.KeepCredentials = keep
				res := l7test.ReadFileConfig(t, corpus.Path(t, "deepflow/flow_generator/mongo/"+name+".pcap"), cfg, Protocol)
				byID := map[string]*l7.Transaction{}
				for _, tx := range res.Txs {
					byID[field(tx, FieldRequestID)] = tx
				}
				nreq := 0
				for i, m := range lines {
					tx := byID[m["request_id"]]
					if tx == nil {
						t.Fatalf("line %d: no transaction with request_id %s", i+1, m["request_id"])
					}
					switch m["msg_type"] {
					case "Request":
						nreq++
						if got := field(tx, FieldOpcode); got != m["op_code_name"] {
							t.Errorf("line %d: opcode %s, DeepFlow %s", i+1, got, m["op_code_name"])
						}
						if strconv.FormatInt(tx.ReqBytes, 10) != m["captured_request_byte"] {
							t.Errorf("line %d: request bytes %d, DeepFlow %s", i+1, tx.ReqBytes, m["captured_request_byte"])
						}
						want := m["request"]
						if !keep {
							want = deepflowPayload.ReplaceAllString(want, `"payload": <redacted>`)
						}
						if got := field(tx, FieldCommand); got != want {
							t.Errorf("line %d: command\n got %s\nwant %s", i+1, got, want)
						}
						if wantRed := !keep && want != m["request"]; (tx.Flags&l7.FlagRedacted != 0) != wantRed {
							t.Errorf("line %d: redacted flag %v", i+1, tx.Flags)
						}
						// DeepFlow names the command only inside the
						// document: its first key.
						if op := string(tx.Op); !strings.HasPrefix(want, `{ "`+op+`": `) {
							t.Errorf("line %d: op %q is not the first key of %.40s", i+1, op, want)
						}
					case "Response":
						if strconv.FormatInt(tx.RespBytes, 10) != m["captured_response_byte"] {
							t.Errorf("line %d: reply bytes %d, DeepFlow %s", i+1, tx.RespBytes, m["captured_response_byte"])
						}
						code := m["response_code"]
						if code == "0" {
							code = ""
						}
						if string(tx.Status) != code || field(tx, FieldErrorMessage) != m["exception"] {
							t.Errorf("line %d: status %q error %q, DeepFlow %s %q", i+1, tx.Status, field(tx, FieldErrorMessage), m["response_code"], m["exception"])
						}
						wantOut := map[string]l7.Outcome{"Ok": l7.OutcomeOK, "ClientError": l7.OutcomeClientError, "ServerError": l7.OutcomeServerError}[m["status"]]
						if tx.Outcome != wantOut {
							t.Errorf("line %d: outcome %v, DeepFlow %s", i+1, tx.Outcome, m["status"])
						}
						if strconv.FormatInt(tx.Latency()/1000, 10) != m["rrt"] {
							t.Errorf("line %d: latency %d µs, DeepFlow rrt %s", i+1, tx.Latency()/1000, m["rrt"])
						}
					default:
						t.Fatalf("line %d: msg_type %q", i+1, m["msg_type"])
					}
				}
				if len(res.Txs) != nreq || len(lines) != 2*nreq {
					t.Errorf("%d transactions, DeepFlow %d lines (%d requests)", len(res.Txs), len(lines), nreq)
				}
				if res.Stats.ParserDrops != [l7.NumDropReasons]uint64{} {
					t.Errorf("drops %v", res.Stats.ParserDrops)
				}
			})
		}
	}
}

// ndpiFlows returns the number of flows nDPI's expected output lists as
// MongoDB detected by DPI (not by port).
func ndpiFlows(t *testing.T, rel string) int {
	b, err := os.ReadFile(corpus.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "/MongoDB]") && strings.Contains(l, "Confidence: DPI") {
			n++
		}
	}
	return n
}

func TestNDPI(t *testing.T) {
	res := l7test.ReadFile(t, corpus.Path(t, "ndpi/mongodb.pcap"), Protocol)
	if got, want := res.Count("mongodb"), ndpiFlows(t, "ndpi/expected/mongodb.pcap.out"); got != want || want == 0 {
		t.Errorf("mongodb.pcap: %d flows detected, nDPI %d by DPI", got, want)
	}
	// Each flow carries one OP_QUERY command and no reply.
	if len(res.Txs) != res.Count("mongodb") {
		t.Errorf("%d transactions", len(res.Txs))
	}
	for _, tx := range res.Txs {
		if tx.Outcome != l7.OutcomeNoResponse || field(tx, FieldOpcode) != "OP_QUERY" {
			t.Errorf("%+v", tx)
		}
	}
	neg := l7test.ReadFile(t, corpus.Path(t, "ndpi/mongo_false_positive.pcapng"), Protocol)
	if n := neg.Count("mongodb"); n != 0 || len(neg.Txs) != 0 {
		t.Errorf("mongo_false_positive.pcapng: %d flows detected as mongodb", n)
	}
	if ndpiFlows(t, "ndpi/expected/mongo_false_positive.pcapng.out") != 0 {
		t.Errorf("nDPI's expected output detects MongoDB in the negative case")
	}
}

// tsharkMsg is one message as tshark's MongoDB dissector decodes it.
type tsharkMsg struct {
	length, requestID, responseTo int64
	opcode                        int64
	first, ns                     string
	srcPort, dstPort              int64
}

// tsharkMongo runs tshark 4.x on a capture. Its TLS heuristics claim port
// 27017, so TLS is disabled and the ports are decoded as MongoDB. (Its
// OP_MSG dissector reads the checksum as a section and marks those frames
// malformed; the header and body fields before it are right.)
func tsharkMongo(t *testing.T, path string, ports ...string) []tsharkMsg {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	args := []string{"-r", path, "--disable-protocol", "tls"}
	for _, p := range ports {
		args = append(args, "-d", "tcp.port=="+p+",mongo")
	}
	args = append(args, "-Y", "mongo", "-T", "fields", "-E", "occurrence=f",
		"-e", "mongo.message_length", "-e", "mongo.request_id", "-e", "mongo.response_to",
		"-e", "mongo.opcode", "-e", "mongo.element.name", "-e", "mongo.full_collection_name",
		"-e", "tcp.srcport", "-e", "tcp.dstport")
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var msgs []tsharkMsg
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) < 8 {
			t.Fatalf("tshark line %q", l)
		}
		num := func(s string) int64 {
			v, err := strconv.ParseInt(s, 0, 64)
			if err != nil {
				t.Fatalf("tshark value %q", s)
			}
			return v
		}
		msgs = append(msgs, tsharkMsg{num(f[0]), int64(int32(num(f[1]))), int64(int32(num(f[2]))), num(f[3]), f[4], f[5], num(f[6]), num(f[7])})
	}
	return msgs
}

// TestTshark: every request tshark decodes is a transaction with the same
// requestID, opcode, length and command name (the first element of the
// command document); every reply it decodes completed the transaction of
// the requestID it answers, with its length.
func TestTshark(t *testing.T) {
	for _, tc := range []struct {
		file  string
		ports []string
	}{
		{"deepflow/flow_generator/mongo/mongo.pcap", []string{"27017"}},
		{"deepflow/flow_generator/mongo/mongo-msg.pcap", []string{"3717"}},
		{"ndpi/mongodb.pcap", []string{"27017", "30000"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := corpus.Path(t, tc.file)
			msgs := tsharkMongo(t, path, tc.ports...)
			res := l7test.ReadFile(t, path, Protocol)
			// requestIDs are per connection: key by client port too
			type key struct{ port, id int64 }
			byID := map[key]*l7.Transaction{}
			for _, tx := range res.Txs {
				id, _ := strconv.ParseInt(field(tx, FieldRequestID), 10, 64)
				k := key{int64(tx.Client.Port()), id}
				if byID[k] != nil {
					t.Fatalf("requestID %v twice", k)
				}
				byID[k] = tx
			}
			nreq := 0
			for _, m := range msgs {
				reply := m.opcode == opReply || (m.opcode == opMsg && m.responseTo != 0)
				k := key{m.srcPort, m.requestID}
				if reply {
					k = key{m.dstPort, m.responseTo}
				}
				tx := byID[k]
				if tx == nil {
					t.Errorf("no transaction for tshark message %+v", m)
					continue
				}
				if reply {
					if tx.RespBytes != m.length {
						t.Errorf("reply to %v: %d bytes, tshark %d", k, tx.RespBytes, m.length)
					}
					continue
				}
				nreq++
				if field(tx, FieldOpcode) != string(opName(uint32(m.opcode))) || tx.ReqBytes != m.length || string(tx.Op) != m.first {
					t.Errorf("request %v: %s %d bytes op %q, tshark opcode %d %d bytes first element %q",
						k, field(tx, FieldOpcode), tx.ReqBytes, tx.Op, m.opcode, m.length, m.first)
				}
				if m.ns != "" {
					db, _, _ := strings.Cut(m.ns, ".")
					if field(tx, FieldDatabase) != db {
						t.Errorf("request %v: database %q, tshark namespace %q", k, field(tx, FieldDatabase), m.ns)
					}
				}
			}
			if nreq == 0 || len(res.Txs) != nreq {
				t.Errorf("%d transactions, tshark %d requests", len(res.Txs), nreq)
			}
		})
	}
}
