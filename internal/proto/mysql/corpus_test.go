package mysql

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

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// dfLine is one line of a DeepFlow .result file: DeepFlow's agent parses
// each TCP payload on its own and prints what it made of it (a request,
// a response, a "Session" for commands without response, "Other" for
// payloads it skipped).
type dfLine struct {
	MsgType     string `json:"msg_type"`
	RequestType int    `json:"request_type"`
	Resource    string `json:"request_resource"`
	Code        int    `json:"response_code"`
	Exception   string `json:"response_execption"`
	Affected    uint64 `json:"sql_affected_rows"`
	StatementID uint64 `json:"statement_id"`
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// opCode maps an Op back to the command byte DeepFlow prints (login: 0).
func opCode(op []byte) int {
	for i, n := range commandNames {
		if n == string(op) {
			return i
		}
	}
	return 0
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

func byResp(txs []*l7.Transaction) []*l7.Transaction {
	var out []*l7.Transaction
	for _, x := range txs {
		if x.RespTS != 0 {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RespTS < out[j].RespTS })
	return out
}

// TestDeepFlow compares, message by message, with DeepFlow's results for
// its MySQL captures:
//
//   - requests, in capture order: the command, the SQL text (COM_QUERY,
//     COM_STMT_PREPARE, COM_INIT_DB), user and schema of a login, the
//     statement id of COM_STMT_EXECUTE. DeepFlow prints the bound values
//     of an execute as its resource; we give the prepared SQL instead, so
//     the id is what is compared.
//   - responses, in capture order: the error messages, and the affected
//     row counts that are not 0 (DeepFlow leaves 0 out). DeepFlow prints
//     one line per TCP payload of a response (a long result set makes
//     several); we count per transaction, so the lines without error or
//     affected rows are not counted against us.
//   - the number of ERR responses.
func TestDeepFlow(t *testing.T) {
	dir := filepath.Dir(corpus.Path(t, "deepflow/flow_generator/mysql/mysql.pcap"))
	results, err := filepath.Glob(filepath.Join(dir, "*.result"))
	if err != nil || len(results) == 0 {
		t.Fatalf("no results in %s", dir)
	}
	for _, res := range results {
		name := strings.TrimSuffix(filepath.Base(res), ".result")
		t.Run(name, func(t *testing.T) {
			lines := readResult(t, res)
			r := l7test.ReadFile(t, filepath.Join(dir, name+".pcap"), Protocol)
			if r.Stats.ParserPanics != 0 {
				t.Fatalf("%d parser panics", r.Stats.ParserPanics)
			}
			compareRequests(t, lines, byReq(r.Txs))
			if name == "binary-in-sql" {
				// The capture's client→server frames carry VLAN 3875 and
				// the server→client frames none: the flow table keys on
				// the VLAN and makes two flows, the responses' flow
				// without a request (and below detection). DeepFlow joins
				// them. Make sure that is still the reason.
				if len(r.Flows) != 2 || r.Flows[0].Client != r.Flows[1].Client || r.Flows[0].Server != r.Flows[1].Server {
					t.Fatalf("expected the VLAN-split pair of flows, got %+v", r.Flows)
				}
				return
			}
			compareResponses(t, lines, byResp(r.Txs))
		})
	}
}

func compareRequests(t *testing.T, lines []dfLine, ours []*l7.Transaction) {
	t.Helper()
	var reqs []dfLine
	for _, l := range lines {
		if l.MsgType == "Request" || l.MsgType == "Session" {
			reqs = append(reqs, l)
		}
	}
	if len(reqs) != len(ours) {
		t.Errorf("%d requests, DeepFlow %d:\n%s", len(ours), len(reqs), describe(ours))
	}
	t.Logf("%d requests compared", len(reqs))
	for i := 0; i < len(reqs) && i < len(ours); i++ {
		l, x := reqs[i], ours[i]
		if l.RequestType != opCode(x.Op) {
			t.Errorf("request %d: %s, DeepFlow command %d", i, x.Op, l.RequestType)
			continue
		}
		switch {
		case l.RequestType == 0:
			want := "Login username: " + field(x, FieldUser)
			if db := field(x, FieldDatabase); db != "" {
				want += " db: " + db
			}
			if l.Resource != want {
				t.Errorf("request %d: %q, DeepFlow %q", i, want, l.Resource)
			}
		case l.RequestType == comQuery || l.RequestType == comStmtPrepare || l.RequestType == comInitDB:
			// DeepFlow prints the text lossily converted to UTF-8.
			if got, _ := l7.Cut([]byte(l.Resource)); string(got) != string([]rune(string(x.Target))) {
				t.Errorf("request %d: %q, DeepFlow %q", i, x.Target, l.Resource)
			}
		case l.RequestType == comStmtExecute:
			if field(x, FieldStatementID) != strconv.FormatUint(l.StatementID, 10) {
				t.Errorf("request %d: statement %s, DeepFlow %d", i, field(x, FieldStatementID), l.StatementID)
			}
		}
	}
}

func compareResponses(t *testing.T, lines []dfLine, ours []*l7.Transaction) {
	t.Helper()
	var dfErr, ourErr []string
	var dfAff, ourAff []string
	dfErrs := 0
	for _, l := range lines {
		if l.MsgType != "Response" {
			continue
		}
		if l.Code == 0xff {
			dfErrs++
		}
		if l.Exception != "" {
			dfErr = append(dfErr, l.Exception)
		}
		if l.Affected != 0 {
			if l.Affected == l.StatementID {
				// A COM_STMT_PREPARE response (0x00, statement id, ...)
				// that DeepFlow, which had lost the pairing to its
				// request, read as an OK: the id lands in both fields.
				// It must be one of our prepare responses.
				if !hasPrepare(ours, l.StatementID) {
					t.Errorf("DeepFlow line %+v: no prepare with statement id %d", l, l.StatementID)
				}
				continue
			}
			dfAff = append(dfAff, strconv.FormatUint(l.Affected, 10))
		}
	}
	ourErrs := 0
	for _, x := range ours {
		if len(x.Status) > 0 {
			ourErrs++
			ourErr = append(ourErr, field(x, FieldErrorMessage))
		}
		if a := field(x, FieldAffectedRows); a != "" && a != "0" {
			ourAff = append(ourAff, a)
		}
	}
	if fmt.Sprint(dfErr) != fmt.Sprint(ourErr) {
		t.Errorf("error messages %q, DeepFlow %q", ourErr, dfErr)
	}
	if dfErrs != ourErrs {
		t.Errorf("%d ERR responses, DeepFlow %d", ourErrs, dfErrs)
	}
	if fmt.Sprint(dfAff) != fmt.Sprint(ourAff) {
		t.Errorf("affected rows %v, DeepFlow %v", ourAff, dfAff)
	}
	t.Logf("%d error messages, %d affected-row counts compared", len(dfErr), len(dfAff))
}

// tsharkCommands counts the client commands tshark decodes in a capture,
// with the MySQL dissector forced on the given server ports.
func tsharkCommands(t *testing.T, path string, ports []uint16) map[string]int {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	args := []string{"-r", path, "-Y", "mysql.command && !tls", "-T", "fields", "-e", "mysql.command"}
	for _, p := range ports {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,mysql", p))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	counts := map[string]int{}
	for _, f := range strings.Fields(string(out)) {
		for _, v := range strings.Split(f, ",") {
			n, err := strconv.Atoi(v)
			if err != nil || n >= int(numCommands) {
				t.Fatalf("tshark command %q", v)
			}
			counts[commandNames[n]]++
		}
	}
	return counts
}

// TestTshark compares the commands per capture with tshark's MySQL
// dissector (tshark -d tcp.port==PORT,mysql -Y "mysql.command && !tls"
// -e mysql.command), for the captures DeepFlow has no results for and
// some it has. tshark cannot read the compressed protocol without the
// handshake (mysql-use, mysql-compressed-response,
// partial-packet-compressed are compared with DeepFlow only).
func TestTshark(t *testing.T) {
	files := []string{
		"deepflow/flow_generator/mysql/171-mysql.pcap",
		"ndpi/mysql.pcapng",
		"deepflow/flow_generator/mysql/mysql.pcap",
		"deepflow/flow_generator/mysql/mysql-statement.pcap",
		"deepflow/flow_generator/mysql/mysql-exec.pcap",
		"deepflow/flow_generator/mysql/mysql-table-create.pcap",
		"deepflow/flow_generator/mysql/truncate-1024.pcap",
	}
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			path := corpus.Path(t, rel)
			r := l7test.ReadFile(t, path, Protocol)
			ports := map[uint16]bool{}
			for _, f := range r.Flows {
				if f.Proto == "mysql" {
					ports[f.Server.Port()] = true
				}
			}
			var pl []uint16
			for p := range ports {
				pl = append(pl, p)
			}
			want := tsharkCommands(t, path, pl)
			got := map[string]int{}
			for _, x := range r.Txs {
				if x.ReqTS != 0 && string(x.Op) != "LOGIN" {
					got[string(x.Op)]++
				}
			}
			if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("commands %v, tshark %v", got, want)
			}
		})
	}
}

// PcapPlusPlus' sample holds a login request without its greeting (the
// bytes hold user "root\0" and schema "sakila\0"; tshark shows it as
// "Request Unknown (141)") and an unrelated server packet.
func TestPcapPlusPlus(t *testing.T) {
	r := l7test.ReadFile(t, corpus.Path(t, "pcapplusplus/PacketExamples/mysql.pcapng"), Protocol)
	if len(r.Txs) != 1 {
		t.Fatalf("got:\n%s", describe(r.Txs))
	}
	x := r.Txs[0]
	if string(x.Op) != "LOGIN" || field(x, FieldUser) != "root" || field(x, FieldDatabase) != "sakila" || field(x, FieldAuth) != "<redacted>" {
		t.Errorf("got %s", describe(r.Txs))
	}
}

func hasPrepare(txs []*l7.Transaction, id uint64) bool {
	for _, x := range txs {
		if string(x.Op) == "COM_STMT_PREPARE" && field(x, FieldStatementID) == strconv.FormatUint(id, 10) {
			return true
		}
	}
	return false
}
