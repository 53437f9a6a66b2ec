package postgres

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

type dfLine struct {
	MsgType  string `json:"msg_type"`
	ReqType  string `json:"request_type"`
	Resource string `json:"request_resource"`
	Affected int64  `json:"sql_affected_rows"`
	Status   string `json:"status"`
	ReqBytes int64  `json:"captured_request_byte"`
	ResBytes int64  `json:"captured_response_byte"`
}

func readResult(t *testing.T, path string) []dfLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dfLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if i := strings.LastIndex(line, "} is_"); i >= 0 {
			line = line[:i+1]
		}
		var l dfLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, l)
	}
	return out
}

func byReq(txs []*l7.Transaction) []*l7.Transaction {
	var out []*l7.Transaction
	for _, x := range txs {
		if x.ReqTS != 0 {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ReqTS < out[j].ReqTS })
	return out
}

// TestDeepFlow compares with DeepFlow's result for pgsql-all.pcap, a
// JDBC client picked up mid-connection: each client segment holds one
// Parse?/Bind/Describe?/Execute/Sync batch, each server segment its
// answer. DeepFlow parses segment by segment and prints one line per
// segment: "P" (with the SQL) or "E" requests, responses with the row
// count of the command tag (left out when 0), and "Other" for segments
// it could not parse — the pieces of messages longer than a segment.
//
// Message by message: each DeepFlow request is one of our Executes, in
// order, with the same size (DeepFlow counts the segment, i.e. our
// request plus the 5-byte Sync), the same SQL for "P" lines; the
// response line after it has our row count and size (plus the 6-byte
// ReadyForQuery, which ends the batch, not the Execute). Executes
// DeepFlow has no line for must be the ones whose request spans
// segments.
func TestDeepFlow(t *testing.T) {
	lines := readResult(t, corpus.Path(t, "deepflow/flow_generator/postgre/pgsql-all.result"))
	r := l7test.ReadFile(t, corpus.Path(t, "deepflow/flow_generator/postgre/pgsql-all.pcap"), Protocol)
	ours := byReq(r.Txs)
	j := 0
	matched, skipped := 0, 0
	for i, l := range lines {
		if l.MsgType != "Request" {
			continue
		}
		for j < len(ours) && ours[j].ReqBytes+5 != l.ReqBytes {
			// A request DeepFlow did not see whole: longer than the
			// client's segments (1398 bytes in this capture).
			if ours[j].ReqBytes+5 <= 1398 {
				t.Errorf("our request %d (%d bytes) has no DeepFlow line:\n%s", j, ours[j].ReqBytes, describe(ours[j:j+1]))
			}
			skipped++
			j++
		}
		if j == len(ours) {
			t.Fatalf("DeepFlow request line %d (%+v) not found", i, l)
		}
		x := ours[j]
		j++
		matched++
		if string(x.Op) != "EXECUTE" {
			t.Errorf("request %d: %s", i, x.Op)
		}
		if l.ReqType == "P" && l.Resource != string(x.Target) {
			t.Errorf("request %d: %q, DeepFlow %q", i, x.Target, l.Resource)
		}
		if i+1 < len(lines) && lines[i+1].MsgType == "Response" {
			res := lines[i+1]
			rows := field(x, FieldRows)
			if rows == "" {
				rows = "0"
			}
			if rows != strconv.FormatInt(res.Affected, 10) || x.RespBytes+6 != res.ResBytes || x.Outcome != l7.OutcomeOK || res.Status != "ok" {
				t.Errorf("response %d: rows %s bytes %d %s, DeepFlow %+v", i, rows, x.RespBytes, x.Outcome, res)
			}
		}
	}
	for ; j < len(ours); j++ {
		if ours[j].ReqBytes+5 <= 1398 {
			t.Errorf("our request %d has no DeepFlow line:\n%s", j, describe(ours[j:j+1]))
		}
		skipped++
	}
	t.Logf("%d requests matched DeepFlow's lines, %d longer than a segment (DeepFlow: Other)", matched, skipped)
}

// tsharkTypes counts the PostgreSQL message types tshark decodes.
func tsharkTypes(t *testing.T, path string, ports []uint16) map[string]int {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	args := []string{"-r", path, "-Y", "pgsql && !tls", "-T", "fields", "-e", "pgsql.type"}
	for _, p := range ports {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,pgsql", p))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil && len(out) == 0 {
		// (tshark exits 2 on a capture cut short, after decoding it.)
		t.Fatalf("tshark: %v", err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		for _, ty := range strings.Split(line, ",") {
			if ty != "" {
				n[ty]++
			}
		}
	}
	return n
}

// TestTshark: our QUERY and EXECUTE transactions against tshark's count
// of "Simple query" and "Execute" messages (tshark -d tcp.port==P,pgsql
// -Y "pgsql && !tls" -e pgsql.type), capture by capture. This is the
// count the probe's benchmark compares. (pgsql-5000-query-results is
// left to TestSuricata: 3 MB for one query.)
func TestTshark(t *testing.T) {
	files := []string{
		"deepflow/flow_generator/postgre/pgsql-all.pcap",
		"deepflow/flow_generator/postgre/error.pcap",
		"deepflow/flow_generator/postgre/simple_query.pcap",
		"ndpi/pgsql.pcap",
		"ndpi/pgsql2.pcapng",
		"pcapplusplus/PacketExamples/postgres.pcapng",
		"suricata-verify/pgsql/pgsql-cancel-request/input.pcap",
		"suricata-verify/pgsql/pgsql-copy-data-in/TLPW-Jason-copyfrom-small.pcap",
		"suricata-verify/pgsql/pgsql-simple-query-rollback/input.pcap",
		"suricata-verify/pgsql/pgsql-ssl-rejected-md5-auth-simple-query/input.pcap",
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			path := corpus.Path(t, rel)
			r := l7test.ReadFile(t, path, Protocol)
			ports := map[uint16]bool{}
			for _, f := range r.Flows {
				if f.Proto == "postgresql" {
					ports[f.Server.Port()] = true
				}
			}
			var pl []uint16
			for p := range ports {
				pl = append(pl, p)
			}
			want := tsharkTypes(t, path, pl)
			var q, e, logins int
			for _, x := range r.Txs {
				switch string(x.Op) {
				case "QUERY":
					q++
				case "EXECUTE":
					if x.ReqTS != 0 {
						e++
					}
				case "LOGIN":
					logins++
				}
			}
			if q != want["Simple query"] || e != want["Execute"] || logins != want["Startup message"] {
				t.Errorf("queries %d executes %d logins %d; tshark %d %d %d", q, e, logins, want["Simple query"], want["Execute"], want["Startup message"])
			}
		})
	}
}

// TestSuricata checks the EVE expectations of suricata-verify's pgsql
// tests that map to our records: each simple query with its command
// tag, error code, message and severity, each startup's user and
// database, with Suricata's counts.
func TestSuricata(t *testing.T) {
	dirs := []string{"pgsql-5000-query-results", "pgsql-cancel-request", "pgsql-copy-data-in", "pgsql-simple-query-rollback", "pgsql-ssl-rejected-md5-auth-simple-query"}
	for _, d := range dirs {
		t.Run(d, func(t *testing.T) {
			base := "suricata-verify/pgsql/" + d + "/"
			raw, err := os.ReadFile(corpus.Path(t, base+"test.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var spec struct {
				Pcap   string `yaml:"pcap"`
				Checks []struct {
					Filter struct {
						Count int            `yaml:"count"`
						Match map[string]any `yaml:"match"`
					} `yaml:"filter"`
				} `yaml:"checks"`
			}
			if err := yaml.Unmarshal(raw, &spec); err != nil {
				t.Fatal(err)
			}
			pcaps := mustGlob(t, base+"*.pcap")
			if spec.Pcap != "" {
				pcaps = []string{corpus.Path(t, base+spec.Pcap)}
			}
			if len(pcaps) != 1 {
				t.Fatalf("pcaps %v", pcaps)
			}
			r := l7test.ReadFile(t, pcaps[0], Protocol)
			// Each check matches one Suricata event (by frame number and
			// transaction id, which we do not have). Checks that expect
			// the same values are summed: we must have as many
			// transactions with those values.
			type group struct {
				match func(x *l7.Transaction) bool
				want  int
				desc  string
			}
			groups := map[string]*group{}
			checked := 0
			for _, c := range spec.Checks {
				m := c.Filter.Match
				str := func(k string) (string, bool) {
					v, ok := m[k]
					if !ok {
						return "", false
					}
					return fmt.Sprint(v), true
				}
				var match func(x *l7.Transaction) bool
				var keys []string
				if q, ok := str("pgsql.request.simple_query"); ok {
					keys = append(keys, q)
					tag, hasTag := str("pgsql.response.command_completed")
					code, hasCode := str("pgsql.response.code")
					msg, _ := str("pgsql.response.message")
					sev, hasSev := str("pgsql.response.severity_non_localizable")
					rows, hasRows := str("pgsql.response.data_rows")
					keys = append(keys, tag, code, msg, sev, rows)
					match = func(x *l7.Transaction) bool {
						return string(x.Op) == "QUERY" && string(x.Target) == q &&
							(!hasTag || field(x, FieldCommandTag) == tag) &&
							(!hasCode || string(x.Status) == code && field(x, FieldErrorMessage) == msg) &&
							(!hasSev || field(x, FieldSeverity) == sev) &&
							(!hasRows || field(x, FieldRows) == rows)
					}
				} else if u, ok := str("pgsql.request.startup_parameters.user"); ok {
					db, _ := str("pgsql.request.startup_parameters.optional_parameters[0].database")
					keys = append(keys, "login", u, db)
					match = func(x *l7.Transaction) bool {
						return string(x.Op) == "LOGIN" && field(x, FieldUser) == u && field(x, FieldDatabase) == db
					}
				} else if msg, _ := str("pgsql.request.message"); msg == "cancel_request" {
					keys = append(keys, "cancel")
					match = func(x *l7.Transaction) bool { return string(x.Op) == "CANCEL" }
				}
				if match == nil {
					continue
				}
				k := strings.Join(keys, "|")
				if groups[k] == nil {
					groups[k] = &group{match: match, desc: k}
				}
				groups[k].want += c.Filter.Count
				checked++
			}
			for _, g := range groups {
				n := 0
				for _, x := range r.Txs {
					if g.match(x) {
						n++
					}
				}
				if n != g.want {
					t.Errorf("%s: %d transactions, Suricata expects %d\n%s", g.desc, n, g.want, describe(r.Txs))
				}
			}
			if checked == 0 {
				t.Fatal("no check applied")
			}
		})
	}
}

func mustGlob(t *testing.T, rel string) []string {
	t.Helper()
	d := corpus.Dir()
	if d == "" {
		t.Skip("corpus not found")
	}
	m, err := filepath.Glob(filepath.Join(d, rel))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBenchCapture (WIREWATCH_BENCH=1; slow): the probe's benchmark
// capture, our QUERY + EXECUTE count against tshark's Simple query +
// Execute messages on the same server ports. The capture holds each of
// its inputs three times at later times; tshark's TCP analysis takes the
// second and third copies for retransmissions (same sequence numbers)
// and dissects only the first, so we compare with three times its count,
// within 0.5 %. (The difference left: error.pcap and simple_query.pcap
// use the same addresses and ports, and their copies overlap.)
func TestBenchCapture(t *testing.T) {
	if os.Getenv("WIREWATCH_BENCH") == "" {
		t.Skip("set WIREWATCH_BENCH=1")
	}
	path := corpus.Path(t, "bench/mixed_l7_concat_bench.pcap")
	r := l7test.ReadFile(t, path, Protocol)
	ports := map[uint16]bool{}
	for _, f := range r.Flows {
		if f.Proto == "postgresql" {
			ports[f.Server.Port()] = true
		}
	}
	var pl []uint16
	for p := range ports {
		pl = append(pl, p)
	}
	want := tsharkTypes(t, path, pl)
	var q, e int
	for _, x := range r.Txs {
		switch string(x.Op) {
		case "QUERY":
			q++
		case "EXECUTE":
			if x.ReqTS != 0 {
				e++
			}
		}
	}
	ref := 3 * (want["Simple query"] + want["Execute"])
	t.Logf("ports %v: queries %d executes %d; tshark (first copy) %d %d", pl, q, e, want["Simple query"], want["Execute"])
	if d := float64(q+e-ref) / float64(ref); ref == 0 || d > 0.005 || d < -0.005 {
		t.Errorf("queries+executes %d, 3 × tshark %d", q+e, ref)
	}
}
