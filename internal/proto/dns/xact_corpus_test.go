package dns

// Transaction-level checks through the probe's own pipeline
// (l7test.ReadFile: capture, decode with IP defragmentation, flow table,
// TCP reassembly, detection, this parser) against what other tools
// assert: pktvisor's DNS handler tests (peer_expectations.json), DeepFlow's
// expected parse output (*.result), and tshark run at test time.
//
// Counting conventions. pktvisor counts messages (v1: queries, replies,
// rcodes over replies) and transactions (v2: a reply that matched a query
// on the same flow by id). Here a query and its reply make one
// transaction with both timestamps; an unanswered query is a transaction
// without a response (no_response), a reply without a query one without a
// request (no_request). So pktvisor's transactions are ours with both
// sides, its queries are ours with a request, its replies ours with a
// response, and its orphans and timeouts are our no_request ones.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// xactTally is what the pktvisor comparison needs from a run.
type xactTally struct {
	matched, noResponse, noRequest int
	matchedBy                      map[string]int // by transport
	msgsBy                         map[string]int // messages by transport
	rcodes                         map[string]int // over responses, pktvisor's names
	nodata                         int            // matched, NOERROR, no answer
	qname2, qtype, udpPort         map[string]int // over matched
	slow                           int            // matched with a latency >= pktvisor's 5 s TTL
	fromHost                       int            // matched, client in 192.168.0.0/24 (pktvisor's host_spec)
}

func tallyXacts(txs []*l7.Transaction) *xactTally {
	x := &xactTally{matchedBy: map[string]int{}, msgsBy: map[string]int{}, rcodes: map[string]int{},
		qname2: map[string]int{}, qtype: map[string]int{}, udpPort: map[string]int{}}
	for _, t := range txs {
		tr := t.Transport.String()
		if t.ReqTS != 0 {
			x.msgsBy[tr]++
		}
		if t.RespTS != 0 {
			x.msgsBy[tr]++
			x.rcodes[string(t.Status)]++
		}
		switch {
		case t.ReqTS != 0 && t.RespTS != 0:
			x.matched++
			x.matchedBy[tr]++
			if string(t.Status) == "NOERROR" && string(t.Field(FieldAnswers)) == "0" {
				x.nodata++
			}
			x.qname2[QName2(string(t.Target))]++
			x.qtype[string(t.Op)]++
			// pktvisor's top_udp_ports counts the client port of every
			// DNS message, TCP ones too (DnsMetricsBucket::process_dns_layer
			// updates it whatever the transport): 57975 served 149 UDP
			// and 2 TCP transactions.
			x.udpPort[strconv.Itoa(int(t.Client.Port()))]++
			if t.Latency() >= 5e9 {
				x.slow++
			}
			if hostSpec.Contains(t.Client.Addr()) {
				x.fromHost++
			}
		case t.ReqTS != 0:
			x.noResponse++
		default:
			x.noRequest++
		}
	}
	return x
}

var hostSpec = netip.MustParsePrefix("192.168.0.0/24")

type peerEntry struct {
	AssertedBy string                     `json:"asserted_by"`
	Facts      map[string]json.RawMessage `json:"facts"`
}

func peerExpectations(t *testing.T) map[string][]peerEntry {
	t.Helper()
	b, err := os.ReadFile(corpus.Path(t, "peer_expectations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string][]peerEntry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPktvisorTransactions(t *testing.T) {
	peers := peerExpectations(t)
	for _, file := range []string{
		"pktvisor/dns_ipv4_udp.pcap", "pktvisor/dns_ipv6_udp.pcap",
		"pktvisor/dns_ipv4_tcp.pcap", "pktvisor/dns_ipv6_tcp.pcap",
		"pktvisor/dns_udp_tcp_random.pcap", "pktvisor/dns_udp_mixed_rcode.pcap",
	} {
		t.Run(file, func(t *testing.T) {
			res := l7test.ReadFile(t, corpus.Path(t, file), Protocol)
			x := tallyXacts(res.Txs)
			if d := res.Stats.ParserDrops; d != [l7.NumDropReasons]uint64{} {
				t.Errorf("parser drops %v", d)
			}
			checked := 0
			for _, e := range peers[file] {
				v1 := strings.Contains(e.AssertedBy, "handlers/dns/v1/")
				v2 := strings.Contains(e.AssertedBy, "handlers/dns/v2/")
				if !v1 && !v2 {
					continue
				}
				for key, raw := range e.Facts {
					var n int
					isNum := json.Unmarshal(raw, &n) == nil
					var got int
					switch {
					case isNum && (key == "transactions" || key == "xacts" || key == "xacts_total"):
						got = x.matched
					case isNum && v2 && (key == "xacts_UDP" || key == "xacts_TCP"):
						got = x.matchedBy[strings.ToLower(key[len("xacts_"):])]
					case isNum && (key == "xacts_out" || key == "xacts_in") && strings.Contains(e.AssertedBy, "host_spec 192.168.0.0/24"):
						// pktvisor's direction: out = queries from the
						// host_spec network, in = queries to it.
						got = x.fromHost
						if key == "xacts_in" {
							got = x.matched - x.fromHost
						}
					case isNum && (key == "timeouts" || key == "xacts_timed_out"):
						got = x.slow
					case isNum && key == "orphans":
						got = x.noRequest
					case isNum && key == "queries":
						got = x.matched + x.noResponse
					case isNum && key == "replies":
						got = x.matched + x.noRequest
					case isNum && (key == "dns_packets" || key == "dns_messages" || key == "dns_events" || key == "events" || key == "packets"):
						got = 2*x.matched + x.noResponse + x.noRequest
					case isNum && v1 && (key == "UDP" || key == "TCP"):
						got = x.msgsBy[strings.ToLower(key)]
					case isNum && (key == "RNOERROR" || key == "NX" || key == "REFUSED" || key == "SRVFAIL"):
						got = x.rcodes[map[string]string{"RNOERROR": "NOERROR", "NX": "NXDOMAIN", "REFUSED": "REFUSED", "SRVFAIL": "SRVFAIL"}[key]]
					case isNum && key == "NODATA" && v2:
						got = x.nodata
					case key == "top_qname2_xacts" || key == "top_udp_ports_xacts":
						var top [2]json.RawMessage
						if err := json.Unmarshal(raw, &top); err != nil {
							t.Fatalf("%s: %v", key, err)
						}
						var name string
						_ = json.Unmarshal(top[0], &name)
						_ = json.Unmarshal(top[1], &n)
						m := x.qname2
						if key == "top_udp_ports_xacts" {
							m = x.udpPort
						}
						if best, cnt := top1(m); best != name || cnt != n {
							t.Errorf("%s = %q %d, pktvisor %q %d", key, best, cnt, name, n)
						}
						checked++
						continue
					case key == "top_qtype_xacts":
						var list [][2]json.RawMessage
						if err := json.Unmarshal(raw, &list); err != nil {
							t.Fatalf("%s: %v", key, err)
						}
						for _, it := range list {
							var name string
							_ = json.Unmarshal(it[0], &name)
							_ = json.Unmarshal(it[1], &n)
							checkInt(t, "qtype "+name, x.qtype[name], n)
							checked++
						}
						continue
					default:
						continue // v1 message-level facts about top-N sketches, filters, cardinality: not transactions
					}
					checkInt(t, fmt.Sprintf("%s (%s)", key, e.AssertedBy[strings.Index(e.AssertedBy, "handlers/"):]), got, n)
					checked++
				}
			}
			if checked < 3 {
				t.Errorf("only %d pktvisor facts checked", checked)
			}
			t.Logf("%d pktvisor facts checked: %d transactions, %d no_response, %d no_request", checked, x.matched, x.noResponse, x.noRequest)
		})
	}
}

func top1(m map[string]int) (string, int) {
	best, n := "", -1
	for k, v := range m {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	return best, n
}

// deepflowMsg is one line of a DeepFlow .result file.
type deepflowMsg struct {
	ID       int    `json:"request_id"`
	Type     string `json:"request_type"`
	Resource string `json:"request_resource"`
	Result   string `json:"response_result"`
	Status   string `json:"response_status"`
	Code     *int   `json:"response_code"`
	MsgType  string `json:"msg_type"`
	ReqBytes int64  `json:"captured_request_byte"`
	RespByte int64  `json:"captured_response_byte"`
	RRT      int64  `json:"rrt"`
}

func readDeepflow(t *testing.T, rel string) []deepflowMsg {
	t.Helper()
	b, err := os.ReadFile(corpus.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var out []deepflowMsg
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i := strings.Index(line, "} headers_offset"); i >= 0 {
			line = line[:i+1]
		}
		var m deepflowMsg
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %q: %v", rel, line, err)
		}
		out = append(out, m)
	}
	return out
}

// ourMsg is one message of a transaction, for the per-message comparison.
type ourMsg struct {
	resp bool
	ts   int64
	tx   *l7.Transaction
}

// messages lists the messages of the transactions in time order (queries
// before responses at the same time).
func messages(txs []*l7.Transaction) []ourMsg {
	var out []ourMsg
	for _, t := range txs {
		if t.ReqTS != 0 {
			out = append(out, ourMsg{false, t.ReqTS, t})
		}
		if t.RespTS != 0 {
			out = append(out, ourMsg{true, t.RespTS, t})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ts != out[j].ts {
			return out[i].ts < out[j].ts
		}
		return !out[i].resp && out[j].resp
	})
	return out
}

// TestDeepFlow compares every message DeepFlow's DNS parser reports
// (flow_generator/dns/*.result) with ours: id, qtype, qname, rcode and
// outcome, the answer records, sizes and response time. DeepFlow prints
// one line per message; a query and its response are one transaction
// here, so each transaction gives a request line and a response line.
//
// Known differences, checked rather than skipped:
//   - DeepFlow's response_result lists the answer and authority sections
//     ("SOA=..." of a negative answer comes from authority); the answer
//     field here holds the answer section only, so it must equal the
//     first ANCOUNT entries of DeepFlow's list. DeepFlow prints an SRV
//     record as its type alone; only types are compared then.
//   - DeepFlow reports an NXDOMAIN for a name under .cluster.local as
//     "ok" (Kubernetes search-path expansion); here NXDOMAIN is always
//     client_error.
//   - Over TCP, DeepFlow's captured_request_byte is the payload of the
//     segment, shared by the messages in it (dns-tcp-multi: two 70-byte
//     queries in one 140-byte segment); here each message has its own
//     size (length prefix included), so the sizes of the messages that
//     came together add up to DeepFlow's number.
func TestDeepFlow(t *testing.T) {
	for _, name := range []string{"a-and-ns", "dns", "dns-tcp-multi", "not-handled-qtype", "nxdomain"} {
		t.Run(name, func(t *testing.T) {
			rel := "deepflow/flow_generator/dns/" + name
			want := readDeepflow(t, rel+".result")
			res := l7test.ReadFile(t, corpus.Path(t, rel+".pcap"), Protocol)
			got := messages(res.Txs)
			if len(got) != len(want) {
				t.Fatalf("%d messages, DeepFlow %d", len(got), len(want))
			}
			// Sizes of the messages that arrived together (same time,
			// same side), for the TCP segment comparison.
			together := map[[2]int64]int64{}
			for _, m := range got {
				k := [2]int64{m.ts, b2i64(m.resp)}
				if m.resp {
					together[k] += m.tx.RespBytes
				} else {
					together[k] += m.tx.ReqBytes
				}
			}
			for i, w := range want {
				g := got[i]
				tx := g.tx
				where := fmt.Sprintf("message %d (%s %d)", i, w.MsgType, w.ID)
				if g.resp != (w.MsgType == "Response") {
					t.Fatalf("%s: ours is a response: %v", where, g.resp)
				}
				if id := string(tx.Field(FieldID)); id != strconv.Itoa(w.ID) {
					t.Errorf("%s: id %s", where, id)
				}
				if string(tx.Op) != w.Type || string(tx.Target) != strings.ToLower(w.Resource) {
					t.Errorf("%s: %s %s, DeepFlow %s %s", where, tx.Op, tx.Target, w.Type, w.Resource)
				}
				size := tx.ReqBytes
				if g.resp {
					size = tx.RespBytes
				}
				wantSize := w.ReqBytes
				if g.resp {
					wantSize = w.RespByte
				}
				if tx.Transport == l7.TCP {
					size = together[[2]int64{g.ts, b2i64(g.resp)}]
				}
				if size != wantSize {
					t.Errorf("%s: %d bytes, DeepFlow %d", where, size, wantSize)
				}
				if !g.resp {
					continue
				}
				if w.Code == nil || RcodeName(uint16(*w.Code)) != string(tx.Status) {
					t.Errorf("%s: status %s, DeepFlow code %v", where, tx.Status, w.Code)
				}
				wantOutcome := w.Status
				if *w.Code == 3 && w.Status == "ok" && strings.HasSuffix(w.Resource, ".cluster.local") {
					wantOutcome = "client_error"
				}
				if tx.Outcome.String() != wantOutcome {
					t.Errorf("%s: outcome %s, DeepFlow %s", where, tx.Outcome, w.Status)
				}
				if us := tx.Latency() / 1000; us != w.RRT {
					t.Errorf("%s: %d µs, DeepFlow rrt %d", where, us, w.RRT)
				}
				compareAnswers(t, where, tx, w.Result)
			}
		})
	}
}

func b2i64(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// compareAnswers checks the answer field against the first ANCOUNT
// records of DeepFlow's "TYPE=data TTL=n; ..." list.
func compareAnswers(t *testing.T, where string, tx *l7.Transaction, result string) {
	t.Helper()
	var theirs [][2]string // type, data
	if result != "" {
		for _, r := range strings.Split(result, "; ") {
			typ, data, _ := strings.Cut(r, "=")
			data, _, _ = strings.Cut(data, " TTL=")
			theirs = append(theirs, [2]string{typ, data})
		}
	}
	n, _ := strconv.Atoi(string(tx.Field(FieldAnswers)))
	var ours [][2]string
	if a := tx.Field(FieldAnswer); len(a) > 0 {
		for _, r := range strings.Split(string(a), ", ") {
			typ, data, _ := strings.Cut(r, " ")
			ours = append(ours, [2]string{typ, data})
		}
	}
	if len(ours) != n || n > len(theirs) {
		t.Errorf("%s: answers %d %q, DeepFlow %q", where, n, tx.Field(FieldAnswer), result)
		return
	}
	for i := range ours {
		o, w := ours[i], theirs[i]
		if o[0] != w[0] {
			t.Errorf("%s: answer %d type %s, DeepFlow %s", where, i, o[0], w[0])
		}
		if w[1] != "" {
			// DeepFlow shows the first field of the data (SOA: mname).
			if first, _, _ := strings.Cut(o[1], " "); first != w[1] {
				t.Errorf("%s: answer %d %q, DeepFlow %q", where, i, o[1], w[1])
			}
		}
	}
}
