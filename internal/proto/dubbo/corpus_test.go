package dubbo

// Capture tests against DeepFlow's expected parse output
// (deepflow/flow_generator/dubbo/*.result, one line per message: DeepFlow
// logs a request and its response as two lines, this parser as one
// transaction, so each transaction is compared with the lines that carry
// its request id). These four captures are the only Dubbo captures in the
// corpus, and tshark (4.0.17) has no Dubbo dissector (tshark -G protocols
// lists none), so DeepFlow is the only peer.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

var prioField = regexp.MustCompile(`field: "([^"]*)"`)

// firstPrio returns the value of the first PrioField in a DeepFlow field.
func firstPrio(s string) string {
	if m := prioField.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// TestDeepFlow compares, for every request line: request id, serialization
// id, dubbo version, service, service version, method, trace id and span
// id (DeepFlow's test configures EagleEye-TraceID/SpanID and sw8, which
// this parser reads by default), the body length (req_msg_size) and the
// message length (captured_request_byte: each message travels in one
// segment here); for every response line: the status code, the body and
// message lengths and the response time (rrt, microseconds).
func TestDeepFlow(t *testing.T) {
	for _, name := range []string{"dubbo_hessian2.pcap:dubbo_hessian.result", "dubbo-eys.pcap:dubbo-eys.result", "dubbo-kryo.pcap:dubbo-kryo.result", "dubbo-sw8.pcap:dubbo-sw8.result"} {
		pcap, result, _ := strings.Cut(name, ":")
		t.Run(pcap, func(t *testing.T) {
			lines := l7test.DeepFlowResult(t, "deepflow/flow_generator/dubbo/"+result)
			res := l7test.ReadFile(t, corpus.Path(t, "deepflow/flow_generator/dubbo/"+pcap), Protocol)
			byID := map[string]*l7.Transaction{}
			for _, tx := range res.Txs {
				byID[field(tx, FieldRequestID)] = tx
			}
			nreq := 0
			for i, m := range lines {
				tx := byID[m["request_id"]]
				if tx == nil {
					t.Fatalf("line %d: no transaction with request id %s", i+1, m["request_id"])
				}
				id, _ := strconv.Atoi(m["serial_id"])
				if field(tx, FieldSerialization) != string(serNames[id]) {
					t.Errorf("line %d: serialization %s, DeepFlow id %d", i+1, field(tx, FieldSerialization), id)
				}
				switch m["msg_type"] {
				case "Request":
					nreq++
					for _, c := range []struct{ got, want, what string }{
						{field(tx, FieldDubboVersion), m["dubbo_version"], "dubbo version"},
						{string(tx.Target), m["service_name"], "service"},
						{field(tx, FieldServiceVersion), m["service_version"], "service version"},
						{string(tx.Op), m["method_name"], "method"},
						{field(tx, FieldTraceID), firstPrio(m["trace_ids"]), "trace id"},
						{field(tx, FieldSpanID), firstPrio(m["span_id"]), "span id"},
						{strconv.FormatInt(tx.ReqBytes-headerLen, 10), strings.TrimSuffix(strings.TrimPrefix(m["req_msg_size"], "Some("), ")"), "body length"},
						{strconv.FormatInt(tx.ReqBytes, 10), m["captured_request_byte"], "message length"},
					} {
						if c.got != c.want {
							t.Errorf("line %d: %s %q, DeepFlow %q", i+1, c.what, c.got, c.want)
						}
					}
					if m["data_type"] != "128" || m["event"] != "0" {
						t.Errorf("line %d: not a plain request", i+1)
					}
				case "Response":
					for _, c := range []struct{ got, want, what string }{
						{"Some(" + string(tx.Status) + ")", m["status_code"], "status"},
						{strconv.FormatInt(tx.RespBytes-headerLen, 10), strings.TrimSuffix(strings.TrimPrefix(m["resp_msg_size"], "Some("), ")"), "body length"},
						{strconv.FormatInt(tx.RespBytes, 10), m["captured_response_byte"], "message length"},
						{strconv.FormatInt(tx.Latency()/1000, 10), m["rrt"], "response time"},
					} {
						if c.got != c.want {
							t.Errorf("line %d: %s %q, DeepFlow %q", i+1, c.what, c.got, c.want)
						}
					}
					// DeepFlow: 20 is Ok (its status is not printed in
					// these lines; set_status maps 20 to Ok).
					if m["status_code"] == "Some(20)" && tx.Outcome != l7.OutcomeOK {
						t.Errorf("line %d: outcome %v", i+1, tx.Outcome)
					}
				default:
					t.Fatalf("line %d: msg_type %q", i+1, m["msg_type"])
				}
			}
			if len(res.Txs) != nreq {
				t.Errorf("%d transactions, DeepFlow %d request lines", len(res.Txs), nreq)
			}
			for _, tx := range res.Txs {
				if byID[field(tx, FieldRequestID)] != tx {
					t.Errorf("request id %s twice", field(tx, FieldRequestID))
				}
			}
			if res.Count("dubbo") != 1 || res.Stats.ParserDrops != [l7.NumDropReasons]uint64{} {
				t.Errorf("flows %+v drops %v", res.Flows, res.Stats.ParserDrops)
			}
		})
	}
}

// TestDeepFlowArgs checks what DeepFlow does not print, against the bytes
// of the captures (read with xxd, see the comments): the arguments and
// the response type.
func TestDeepFlowArgs(t *testing.T) {
	cfg := l7.DefaultConfig()
	cfg.KeepCredentials = true
	res := l7test.ReadFileConfig(t, corpus.Path(t, "deepflow/flow_generator/dubbo/dubbo_hessian2.pcap"), cfg, Protocol)
	if len(res.Txs) != 1 {
		t.Fatalf("%d transactions", len(res.Txs))
	}
	tx := res.Txs[0]
	// login(String, String) with 0x0b "13780407607" and 0x06 "x3#U9&";
	// the response body starts 0x94: RESPONSE_VALUE_WITH_ATTACHMENTS.
	if field(tx, FieldArgs) != `"13780407607", "x3#U9&"` || field(tx, FieldArgTypes) != "Ljava/lang/String;Ljava/lang/String;" || field(tx, FieldResponseType) != "value" {
		t.Errorf("%v", tx.Fields)
	}
	// Redacted by default: the method is a login.
	res = l7test.ReadFile(t, corpus.Path(t, "deepflow/flow_generator/dubbo/dubbo_hessian2.pcap"), Protocol)
	if tx := res.Txs[0]; field(tx, FieldArgs) != "<redacted>" || tx.Flags&l7.FlagRedacted == 0 {
		t.Errorf("not redacted: %v", tx.Fields)
	}
	// dubbo-eys: getById(Serializable) with 'L' 02ce6506c3b46f8f.
	res = l7test.ReadFile(t, corpus.Path(t, "deepflow/flow_generator/dubbo/dubbo-eys.pcap"), Protocol)
	if got := field(res.Txs[0], FieldArgs); got != strconv.FormatInt(0x02ce6506c3b46f8f, 10) {
		t.Errorf("eys args %s", got)
	}
	// dubbo-kryo: the response body is the single byte 02,
	// RESPONSE_NULL_VALUE.
	res = l7test.ReadFile(t, corpus.Path(t, "deepflow/flow_generator/dubbo/dubbo-kryo.pcap"), Protocol)
	for _, tx := range res.Txs {
		if field(tx, FieldResponseType) != "null" {
			t.Errorf("kryo response type %q", field(tx, FieldResponseType))
		}
	}
}
