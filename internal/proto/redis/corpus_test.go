package redis

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

// deepflowLine is one line of a DeepFlow redis .result file: DeepFlow's
// per-packet parse (agent/src/flow_generator/protocol_logs/sql/redis.rs).
var deepflowLine = regexp.MustCompile(`^RedisInfo \{ request: "(.*)", request_type: "(.*)", status: "(.*)", response_result: (\w+), error: "(.*)" \} is_redis: (true|false)$`)

type dfMsg struct {
	request, requestType, result, errText string
	isRedis                               bool
}

func readDeepflow(t *testing.T, path string) []dfMsg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dfMsg
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := deepflowLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("%s: unparsed line %q", path, sc.Text())
		}
		out = append(out, dfMsg{request: m[1], requestType: m[2], result: m[4], errText: m[5], isRedis: m[6] == "true"})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no lines", path)
	}
	return out
}

// dfStatus maps DeepFlow's response_result to our Status for non-errors.
var dfStatus = map[string]string{
	"BulkString":   "bulk_string",
	"Integer":      "integer",
	"Array":        "array",
	"SimpleString": "simple_string",
}

// TestDeepflow compares with DeepFlow's expected parse. DeepFlow prints
// one line per message (a request line, then its response line); we emit
// one transaction per pair, so each request line and the response line
// after it make one transaction. Its is_redis: false lines are the eight
// segments that continue the 490493-byte bulk reply of the last GET in
// redis.pcap: DeepFlow parses packet by packet and calls them not Redis,
// we read them as that reply's payload (RespBytes counts them).
func TestDeepflow(t *testing.T) {
	for _, name := range []string{"redis.pcap", "redis-debug.pcap", "redis-error.pcap"} {
		t.Run(name, func(t *testing.T) {
			path := corpus.Path(t, "deepflow/flow_generator/redis/"+name)
			want := readDeepflow(t, strings.TrimSuffix(path, ".pcap")+".result")
			res := l7test.ReadFile(t, path, Protocol)
			var pairs [][2]dfMsg
			for i := 0; i < len(want); i++ {
				if !want[i].isRedis || want[i].request == "" {
					continue
				}
				if i+1 >= len(want) || want[i+1].request != "" || !want[i+1].isRedis {
					t.Fatalf("request line %d has no response line after it", i)
				}
				pairs = append(pairs, [2]dfMsg{want[i], want[i+1]})
				i++
			}
			if len(res.Txs) != len(pairs) {
				t.Fatalf("%d transactions, DeepFlow has %d request/response pairs", len(res.Txs), len(pairs))
			}
			for i, p := range pairs {
				tx := res.Txs[i]
				req, resp := p[0], p[1]
				if got := string(tx.Field(FieldRequest)); got != req.request {
					t.Errorf("%d: request %q, DeepFlow %q", i, got, req.request)
				}
				if got := string(tx.Op); got != strings.ToUpper(req.requestType) {
					t.Errorf("%d: op %q, DeepFlow request_type %q", i, got, req.requestType)
				}
				if resp.result == "Error" {
					if !tx.Outcome.IsError() || "-"+string(tx.Field(FieldError)) != resp.errText {
						t.Errorf("%d: outcome %v error %q, DeepFlow error %q", i, tx.Outcome, tx.Field(FieldError), resp.errText)
					}
					if pre, _, _ := strings.Cut(strings.TrimPrefix(resp.errText, "-"), " "); string(tx.Status) != pre {
						t.Errorf("%d: status %q, DeepFlow error %q", i, tx.Status, resp.errText)
					}
					continue
				}
				st, ok := dfStatus[resp.result]
				if !ok {
					t.Fatalf("%d: unmapped DeepFlow response_result %q", i, resp.result)
				}
				if string(tx.Status) != st || tx.Outcome != l7.OutcomeOK {
					t.Errorf("%d: status %q outcome %v, DeepFlow %s", i, tx.Status, tx.Outcome, resp.result)
				}
			}
			checkTxs(t, res)
		})
	}
}

// checkTxs applies the invariants of checkSink to a ReadFile result.
func checkTxs(t *testing.T, res *l7test.Result) {
	t.Helper()
	checkSink(t, &l7test.Sink{Txs: res.Txs})
	if res.Stats.ParserPanics != 0 {
		t.Errorf("%d parser panics", res.Stats.ParserPanics)
	}
}

// tcpdumpLine is a RESP line of tcpdump's expected output
// (tests/resp_*.out): frame, source port, destination port, and what
// print-resp.c printed.
var tcpdumpLine = regexp.MustCompile(`^\s*\d+\s+\S+ \S+ IP \d+\.\d+\.\d+\.\d+\.(\d+) > \d+\.\d+\.\d+\.\d+\.(\d+): .*: RESP (.*)$`)

// tcpdumpTokens returns the quoted strings tcpdump printed for one
// packet, and whether it printed anything else (its markers for invalid
// or truncated data).
func tcpdumpTokens(s string) (toks []string, other bool) {
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] != '"' {
			other = true
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				break
			}
			s = s[sp:]
			continue
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			other = true
			break
		}
		toks = append(toks, s[1:1+end])
		s = s[2+end:]
	}
	return toks, other
}

// TestTcpdump compares with tcpdump's RESP printer (print-resp.c, tests
// resp_1, resp_2, resp_3 in tests/TESTLIST). tcpdump prints each packet
// on its own: the bulk strings of array commands as separate quoted
// strings, an inline command as one, pipelined commands one after the
// other. So per connection, the client's printed strings joined by
// spaces must equal our requests' command lines joined by spaces (an
// array command's line is its arguments joined by spaces; an inline
// one's is the line). On the server side, the printed strings that are
// Redis errors ("ERR ...") must be our error replies, in order.
func TestTcpdump(t *testing.T) {
	for _, tc := range []struct {
		pcap, out string
		// connections whose requests are not commands (resp_3 is a
		// collection of malformed requests): tcpdump prints something
		// else than strings for them (empty, "", negative lengths, null,
		// [|resp]), or Redis itself answers "ERR unknown command" or
		// "ERR Protocol error". Reading resp_3.out: ports 52760, 52763 to
		// 52773 and 52775. We decode no request there (the detector
		// rejects those bytes, the parser never sees them); the error
		// replies must still be ours.
		malformed int
	}{
		{"resp_1_benchmark.pcap", "resp_1.out", 0},
		{"resp_2_inline.pcap", "resp_2.out", 0},
		{"resp_3_malicious.pcap", "resp_3.out", 13},
	} {
		t.Run(tc.pcap, func(t *testing.T) {
			res := l7test.ReadFile(t, corpus.Path(t, "tcpdump/"+tc.pcap), Protocol)
			f, err := os.Open(corpus.Path(t, "tcpdump/expected/"+tc.out))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			type side struct{ cli, errs []string }
			want := map[uint16]*side{}
			bad := map[uint16]bool{}
			var order []uint16
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				m := tcpdumpLine.FindStringSubmatch(sc.Text())
				if m == nil {
					continue
				}
				sp, _ := strconv.Atoi(m[1])
				dp, _ := strconv.Atoi(m[2])
				toks, other := tcpdumpTokens(m[3])
				port, client := uint16(sp), dp == 6379
				if !client {
					port = uint16(dp)
				}
				if want[port] == nil {
					want[port] = &side{}
					order = append(order, port)
				}
				if client {
					if other || len(toks) == 0 || strings.HasPrefix(m[3], `""`) {
						bad[port] = true
					}
					want[port].cli = append(want[port].cli, toks...)
					continue
				}
				for _, tok := range toks {
					if pre, _, ok := strings.Cut(tok, " "); ok && errPrefix([]byte(pre)) != nil && !strings.Contains(pre, "-") {
						want[port].errs = append(want[port].errs, tok)
					}
					if strings.HasPrefix(tok, "ERR unknown command '") || strings.HasPrefix(tok, "ERR Protocol error") {
						bad[port] = true
					}
				}
			}
			got := map[uint16]*side{}
			for _, tx := range res.Txs {
				port := tx.Client.Port()
				if got[port] == nil {
					got[port] = &side{}
				}
				if tx.ReqBytes > 0 {
					got[port].cli = append(got[port].cli, string(tx.Field(FieldRequest)))
				}
				if e := tx.Field(FieldError); e != nil {
					got[port].errs = append(got[port].errs, string(e))
				}
			}
			if len(bad) != tc.malformed {
				t.Errorf("%d connections with requests tcpdump calls invalid, want %d", len(bad), tc.malformed)
			}
			compared := 0
			for _, port := range order {
				w, g := want[port], got[port]
				if g == nil {
					g = &side{}
				}
				if bad[port] {
					if len(g.cli) != 0 {
						t.Errorf("port %d: requests %q from bytes tcpdump calls invalid", port, g.cli)
					}
				} else if a, b := strings.Join(g.cli, " "), strings.Join(w.cli, " "); a != b {
					t.Errorf("port %d: requests\n%q\ntcpdump\n%q", port, a, b)
				} else {
					compared += len(g.cli)
				}
				if a, b := strings.Join(g.errs, "|"), strings.Join(w.errs, "|"); a != b {
					t.Errorf("port %d: errors\n%q\ntcpdump\n%q", port, a, b)
				}
			}
			for port := range got {
				if want[port] == nil {
					t.Errorf("port %d: transactions on a connection tcpdump printed no RESP for", port)
				}
			}
			if compared == 0 {
				t.Fatal("no request compared")
			}
			checkTxs(t, res)
			t.Logf("%d connections, %d requests equal to tcpdump's, %d transactions", len(order), compared, len(res.Txs))
		})
	}
}

// TestTcpdumpInfiniteLoop: resp_4_infiniteloop.pcapng is a single
// 854-byte segment built to make a RESP printer loop (tcpdump prints
// "length negative and not -1 invalid ..." and stops at [|resp]). No
// client handshake precedes it, so it starts mid-stream. It must neither
// hang nor panic, and every byte the parser got must be accounted.
func TestTcpdumpInfiniteLoop(t *testing.T) {
	res := l7test.ReadFile(t, corpus.Path(t, "tcpdump/resp_4_infiniteloop.pcapng"), Protocol)
	checkTxs(t, res)
	var drops uint64
	for _, n := range res.Stats.ParserDrops {
		drops += n
	}
	var seen uint64
	for _, n := range res.Stats.NotParsed {
		seen += n
	}
	if seen+res.Stats.ParsedBytes != 854 {
		t.Errorf("%d bytes not parsed + %d parsed, the segment has 854", seen, res.Stats.ParsedBytes)
	}
	if len(res.Txs) != 0 || drops != res.Stats.ParsedBytes {
		t.Errorf("%d transactions, %d bytes dropped of %d parsed", len(res.Txs), drops, res.Stats.ParsedBytes)
	}
}

// TestNDPI: nDPI's expected result for resp.pcap (tests/result/resp.pcap.out)
// is one RESP flow, 192.168.88.221:51882 <-> 192.168.88.231:6379.
func TestNDPI(t *testing.T) {
	res := l7test.ReadFile(t, corpus.Path(t, "ndpi/resp.pcap"), Protocol)
	if n := res.Count("redis"); n != 1 {
		t.Fatalf("%d redis flows, nDPI has 1", n)
	}
	for _, f := range res.Flows {
		if f.Proto == "redis" && (f.Client.String() != "192.168.88.221:51882" || f.Server.String() != "192.168.88.231:6379") {
			t.Errorf("redis flow %v -> %v", f.Client, f.Server)
		}
	}
	checkTxs(t, res)
}
