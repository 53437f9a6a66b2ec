package postgres

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// A psql-like session: SSL refused, MD5 login, simple queries (rows, an
// error, two statements in one message), terminate.
func sessionSimple() []step {
	return []step{
		cs(i32(8), i32(codeSSL)),
		sc(s("N")),
		cs(startupMsg("user", "app", "database", "shop", "application_name", "psql")),
		sc(msg('R', i32(5), s("salt"))),
		cs(msg('p', cstring("md5a3556571e93b0d20722ba62be61e8c2d"))),
		sc(msg('R', i32(0)), msg('S', cstring("server_version"), cstring("16.2")), msg('K', i32(4242), i32(77)), ready('I')),
		cs(query("SELECT id, name FROM users")),
		sc(rowDesc("id", "name"), dataRow("1", "ann"), dataRow("2", "bob"), complete("SELECT 2"), ready('I')),
		cs(query("SELECT * FROM nosuch")),
		sc(errResp("ERROR", "42P01", `relation "nosuch" does not exist`), ready('I')),
		cs(query("UPDATE t SET a = 1; DELETE FROM t WHERE a = 2")),
		sc(complete("UPDATE 3"), complete("DELETE 1"), ready('I')),
		cs(msg('X')),
	}
}

func TestSessionSimple(t *testing.T) {
	txs := play(t, sessionSimple(), nil).Txs
	want := []struct {
		op, target, status string
		out                l7.Outcome
		fields             map[string]string
	}{
		{"LOGIN", "", "", l7.OutcomeOK, map[string]string{"user": "app", "database": "shop", "auth": "<redacted>", "server_version": "16.2"}},
		{"QUERY", "SELECT id, name FROM users", "", l7.OutcomeOK, map[string]string{"command_tag": "SELECT 2", "rows": "2"}},
		{"QUERY", "SELECT * FROM nosuch", "42P01", l7.OutcomeClientError, map[string]string{"error_message": `relation "nosuch" does not exist`, "severity": "ERROR"}},
		{"QUERY", "UPDATE t SET a = 1; DELETE FROM t WHERE a = 2", "", l7.OutcomeOK, map[string]string{"command_tag": "DELETE 1", "rows": "4"}},
	}
	if len(txs) != len(want) {
		t.Fatalf("got %d transactions:\n%s", len(txs), describe(txs))
	}
	for i, w := range want {
		x := txs[i]
		if string(x.Op) != w.op || string(x.Target) != w.target || string(x.Status) != w.status || x.Outcome != w.out {
			t.Errorf("tx %d: %s %q %q %s, want %s %q %q %s", i, x.Op, x.Target, x.Status, x.Outcome, w.op, w.target, w.status, w.out)
		}
		for k, v := range w.fields {
			if got := field(x, k); got != v {
				t.Errorf("tx %d %s: %s = %q, want %q", i, w.op, k, got, v)
			}
		}
	}
	steps := sessionSimple()
	if x := txs[1]; x.ReqTS != 7000 || x.RespTS != 8000 || x.ReqBytes != int64(len(steps[6].b)) || x.RespBytes != int64(len(steps[7].b)) {
		t.Errorf("select: ts %d→%d bytes %d/%d", x.ReqTS, x.RespTS, x.ReqBytes, x.RespBytes)
	}
	if x := txs[0]; x.ReqTS != 3000 || x.RespTS != 6000 || x.Flags&l7.FlagRedacted == 0 {
		t.Errorf("login: ts %d→%d flags %d", x.ReqTS, x.RespTS, x.Flags)
	}
	checkSplits(t, sessionSimple(), nil)
}

func TestKeepCredentials(t *testing.T) {
	txs := play(t, sessionSimple(), func(c *l7.Context) { c.KeepCredentials = true }).Txs
	if got := field(txs[0], "auth"); got != "md5a3556571e93b0d20722ba62be61e8c2d\x00" {
		t.Errorf("auth = %q", got)
	}
}

// pgbench -M prepared style: statements parsed once by name, then
// Bind/Execute/Sync; a batch with two Executes whose first fails; a
// prepare-only batch; a Close.
func sessionExtended() []step {
	return []step{
		cs(parse("P0_1", "SELECT abalance FROM pgbench_accounts WHERE aid = $1"), bind("", "P0_1", "4711"), describeP(""), execute(""), sync()),
		sc(msg('1'), msg('2'), rowDesc("abalance"), dataRow("-123"), complete("SELECT 1"), ready('T')),
		cs(bind("", "P0_1", "42"), execute(""), sync()),
		sc(msg('2'), dataRow("7"), complete("SELECT 1"), ready('T')),
		cs(parse("", "INSERT INTO t VALUES ($1)"), bind("", "", "x"), execute(""), parse("", "INSERT INTO t VALUES ($1)"), bind("", "", "y"), execute(""), sync()),
		sc(msg('1'), msg('2'), errResp("ERROR", "23505", "duplicate key value violates unique constraint"), ready('E')),
		cs(parse("s2", "SELEC 1"), msg('D', s("S"), cstring("s2")), sync()),
		sc(errResp("ERROR", "42601", `syntax error at or near "SELEC"`), ready('I')),
		cs(msg('C', s("S"), cstring("P0_1")), sync()),
		sc(msg('3'), ready('I')),
	}
}

func TestSessionExtended(t *testing.T) {
	txs := play(t, sessionExtended(), nil).Txs
	if len(txs) != 6 {
		t.Fatalf("got %d transactions:\n%s", len(txs), describe(txs))
	}
	sel := "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
	for i, x := range txs[:2] {
		if string(x.Op) != "EXECUTE" || string(x.Target) != sel || field(x, "statement") != "P0_1" || field(x, "rows") != "1" || x.Outcome != l7.OutcomeOK {
			t.Errorf("execute %d: %s", i, describe(txs[i:i+1]))
		}
	}
	for i, x := range txs[2:4] {
		if string(x.Op) != "EXECUTE" || string(x.Target) != "INSERT INTO t VALUES ($1)" || string(x.Status) != "23505" || x.Outcome != l7.OutcomeClientError {
			t.Errorf("failed execute %d: %s", i, describe(txs[2+i:3+i]))
		}
	}
	if x := txs[4]; string(x.Op) != "PARSE" || string(x.Target) != "SELEC 1" || string(x.Status) != "42601" || field(x, "statement") != "s2" {
		t.Errorf("parse: %s", describe(txs[4:5]))
	}
	if x := txs[5]; string(x.Op) != "CLOSE" || x.Outcome != l7.OutcomeOK {
		t.Errorf("close: %s", describe(txs[5:6]))
	}
	// The first Execute's request is its Parse, Bind, Describe and
	// Execute; the Sync belongs to the batch.
	st := sessionExtended()
	if want := int64(len(st[0].b) - len(sync())); txs[0].ReqBytes != want {
		t.Errorf("ReqBytes %d, want %d", txs[0].ReqBytes, want)
	}
	checkSplits(t, sessionExtended(), nil)
}

func TestSSLAccepted(t *testing.T) {
	sink := play(t, []step{cs(i32(8), i32(codeSSL)), sc(s("S")), cs(s("\x16\x03\x01\x00\x05hello"))}, nil)
	if !sink.Stopped || len(sink.Txs) != 0 {
		t.Fatalf("stopped %v, txs %s", sink.Stopped, describe(sink.Txs))
	}
}

func TestCancel(t *testing.T) {
	txs := play(t, []step{cs(i32(16), i32(codeCancel), i32(4242), i32(77))}, nil).Txs
	if len(txs) != 1 || string(txs[0].Op) != "CANCEL" || txs[0].Outcome != l7.OutcomeOneWay {
		t.Fatalf("got %s", describe(txs))
	}
}

// Picked up mid-stream: the end of a response first, then a query.
func TestMidStream(t *testing.T) {
	steps := []step{
		{dir: c2s, gap: -1},
		{dir: s2c, gap: -1},
		sc(s("tail of a row"), dataRow("x"), complete("SELECT 9"), ready('I')),
		cs(query("SELECT 1")),
		sc(rowDesc("?column?"), dataRow("1"), complete("SELECT 1"), ready('I')),
	}
	sink := play(t, steps, nil)
	if len(sink.Txs) != 2 {
		t.Fatalf("got:\n%s", describe(sink.Txs))
	}
	// The tail's CommandComplete has no request.
	if x := sink.Txs[0]; x.Outcome != l7.OutcomeNoRequest || field(x, "command_tag") != "SELECT 9" {
		t.Errorf("first: %s", describe(sink.Txs[:1]))
	}
	if x := sink.Txs[1]; string(x.Target) != "SELECT 1" || x.Outcome != l7.OutcomeOK {
		t.Errorf("second: %s", describe(sink.Txs[1:]))
	}
	if sink.Drops[l7.DropResync] != len("tail of a row") {
		t.Errorf("resync drops %d", sink.Drops[l7.DropResync])
	}
}

func TestGapInResponse(t *testing.T) {
	resp := bytes.Join([][]byte{rowDesc("a"), dataRow("1"), dataRow("2"), complete("SELECT 2"), ready('I')}, nil)
	steps := []step{
		cs(query("SELECT a FROM t")),
		sc(resp[:20]),
		{dir: s2c, gap: 10},
		sc(resp[30:]),
		cs(query("SELECT 2")),
		sc(complete("SELECT 0"), ready('I')),
	}
	sink := play(t, steps, nil)
	if len(sink.Txs) != 2 || sink.Txs[0].Outcome != l7.OutcomeNoResponse || string(sink.Txs[1].Target) != "SELECT 2" || sink.Txs[1].Outcome != l7.OutcomeOK {
		t.Fatalf("got:\n%s", describe(sink.Txs))
	}
	// The RowDescription (27 bytes) was being read: its 20 bytes count as
	// gap. After the hole, the 9 bytes up to the next DataRow are
	// skipped to resynchronise, and the DataRow, CommandComplete and
	// ReadyForQuery (32 bytes) that answer the given-up query too.
	if sink.Drops[l7.DropGap] != 20 || sink.Drops[l7.DropResync] != 41 {
		t.Errorf("drops gap %d resync %d, want 20 and 41", sink.Drops[l7.DropGap], sink.Drops[l7.DropResync])
	}
}

func TestLongQueryAndSQLi(t *testing.T) {
	q := "SELECT '" + strings.Repeat("x", 2*l7.MaxField) + "'"
	steps := []step{
		cs(query(q)), sc(complete("SELECT 1"), ready('I')),
		cs(query("SELECT * FROM users WHERE id = 1 OR 1=1")), sc(complete("SELECT 5"), ready('I')),
	}
	txs := play(t, steps, nil).Txs
	if len(txs) != 2 || len(txs[0].Target) != l7.MaxField || txs[0].Flags&l7.FlagTruncated == 0 || txs[0].ReqBytes != int64(len(steps[0].b)) {
		t.Fatalf("got:\n%s", describe(txs))
	}
	if txs[0].Flags&l7.FlagSQLi != 0 || txs[1].Flags&l7.FlagSQLi == 0 {
		t.Errorf("sqli flags %d %d", txs[0].Flags, txs[1].Flags)
	}
	checkSplits(t, steps[:2], nil)
}

func TestPendingLimitAndTimeout(t *testing.T) {
	var steps []step
	for i := 0; i < 5; i++ {
		steps = append(steps, cs(query("SELECT 1")))
	}
	sink := play(t, steps, func(c *l7.Context) { c.MaxPending = 2 })
	if len(sink.Txs) != 5 {
		t.Fatalf("got %d", len(sink.Txs))
	}
	for _, x := range sink.Txs {
		if x.Outcome != l7.OutcomeNoResponse {
			t.Errorf("outcome %s", x.Outcome)
		}
	}
	sink = &l7test.Sink{}
	ctx := sink.Context(l7.TCP)
	ctx.Timeout = 5000
	p := newParser(ctx)
	p.Data(c2s, query("SELECT pg_sleep(100)"), 1000)
	p.Data(c2s, query("SELECT 1"), 10000)
	p.Data(s2c, append(complete("SELECT 1"), ready('I')...), 11000)
	p.End(12000)
	if len(sink.Txs) != 2 || sink.Txs[0].Outcome != l7.OutcomeNoResponse || string(sink.Txs[1].Target) != "SELECT 1" || sink.Txs[1].Outcome != l7.OutcomeOK {
		t.Fatalf("timeout: %s", describe(sink.Txs))
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		b    []byte
		want l7.Verdict
	}{
		{startupMsg("user", "postgres"), l7.Yes},
		{append(i32(8), i32(codeSSL)...), l7.Yes},
		{append(i32(8), i32(codeGSSENC)...), l7.Yes},
		{bytes.Join([][]byte{i32(16), i32(codeCancel), i32(1), i32(2)}, nil), l7.Yes},
		{query("select 1;"), l7.Maybe},
		{parse("", "SELECT 1"), l7.Maybe},
		{append(bind("", "S_1", "1"), execute("")...), l7.Maybe},
		{s("GET / HTTP/1.1\r\n\r\n"), l7.No},
		{s("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), l7.No},
		{msg('Q', s("\x01\x02binary\x00")), l7.No},
		{s("Q0123456789abcdefghijklmnopqrstuvwxyz"), l7.No}, // 'Q' inside base64
		{s("P0aa\x00SELECT 1\x00"), l7.No},
		{s("Q\x00"), l7.NeedMore},
	}
	for i, c := range cases {
		if got := Detect(c.b, flow.ClientToServer, 5432); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}

// Pipelined batches that get no answer: each Execute is given up, and
// the Syncs that close them are not transactions of their own.
func TestPipelineNoResponse(t *testing.T) {
	steps := []step{
		cs(parse("", "SELECT 1"), bind("", ""), execute(""), sync(), bind("", ""), execute(""), sync()),
	}
	txs := play(t, steps, nil).Txs
	if len(txs) != 2 {
		t.Fatalf("got:\n%s", describe(txs))
	}
	for _, x := range txs {
		if string(x.Op) != "EXECUTE" || x.Outcome != l7.OutcomeNoResponse || string(x.Target) != "SELECT 1" {
			t.Errorf("got %s", describe(txs))
		}
	}
}
