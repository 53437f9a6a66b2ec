package mysql

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

const caps41 = capProtocol41 | capSecureConnection | capPluginAuth | capConnectWithDB

// A session: handshake, a SELECT with a result set (old-style EOFs), an
// INSERT, a syntax error, USE, ping, quit.
func sessionClassic() []step {
	return []step{
		sc(greetingPkt("5.7.18-log", caps41)),
		cs(loginPkt(1, caps41, "app", "0123456789abcdefghij", "shop")),
		sc(okPkt(2, 0, 0, 2)),
		cs(pkt(0, s("\x03SELECT id, name FROM users"))),
		sc(pkt(1, []byte{2}), colDef(2, "id"), colDef(3, "name"), eofPkt(4, 0x22),
			row(5, "1", "ann"), row(6, "2", "bob"), row(7, "3", "cy"), eofPkt(8, 0x22)),
		cs(pkt(0, s("\x03INSERT INTO users (name) VALUES ('dee')"))),
		sc(okPkt(1, 1, 4, 2)),
		cs(pkt(0, s("\x03SELEC 1"))),
		sc(errPkt(1, 1064, "42000", "You have an error in your SQL syntax")),
		cs(pkt(0, s("\x02shop"))),
		sc(okPkt(1, 0, 0, 2)),
		cs(pkt(0, []byte{comPing})),
		sc(okPkt(1, 0, 0, 2)),
		cs(pkt(0, []byte{comQuit})),
	}
}

func TestSessionClassic(t *testing.T) {
	txs := play(t, sessionClassic(), nil).Txs
	want := []struct {
		op, target, status string
		out                l7.Outcome
		fields             map[string]string
	}{
		{"LOGIN", "", "", l7.OutcomeOK, map[string]string{"user": "app", "database": "shop", "auth": "<redacted>", "server_version": "5.7.18-log"}},
		{"COM_QUERY", "SELECT id, name FROM users", "", l7.OutcomeOK, map[string]string{"sql_command": "SELECT", "rows": "3", "columns": "2"}},
		{"COM_QUERY", "INSERT INTO users (name) VALUES ('dee')", "", l7.OutcomeOK, map[string]string{"sql_command": "INSERT", "affected_rows": "1", "last_insert_id": "4"}},
		{"COM_QUERY", "SELEC 1", "1064", l7.OutcomeClientError, map[string]string{"sql_state": "42000", "error_message": "You have an error in your SQL syntax"}},
		{"COM_INIT_DB", "shop", "", l7.OutcomeOK, map[string]string{"database": "shop"}},
		{"COM_PING", "", "", l7.OutcomeOK, nil},
		{"COM_QUIT", "", "", l7.OutcomeOneWay, nil},
	}
	if len(txs) != len(want) {
		t.Fatalf("got %d transactions, want %d:\n%s", len(txs), len(want), describe(txs))
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
	// Timestamps: the SELECT was sent at step 4 (ts 4000), its result
	// came at step 5 (ts 5000). Sizes are the packets with headers.
	sel := txs[1]
	if sel.ReqTS != 4000 || sel.RespTS != 5000 {
		t.Errorf("SELECT ts %d→%d, want 4000→5000", sel.ReqTS, sel.RespTS)
	}
	if sel.ReqBytes != int64(4+1+len("SELECT id, name FROM users")) {
		t.Errorf("SELECT ReqBytes %d", sel.ReqBytes)
	}
	if want := int64(len(sessionClassic()[4].b)); sel.RespBytes != want {
		t.Errorf("SELECT RespBytes %d, want %d", sel.RespBytes, want)
	}
	if txs[0].Flags&l7.FlagRedacted == 0 {
		t.Errorf("login not marked redacted")
	}
}

func TestSessionClassicSplits(t *testing.T) { checkSplits(t, sessionClassic(), nil) }

func TestKeepCredentials(t *testing.T) {
	txs := play(t, sessionClassic(), func(c *l7.Context) { c.KeepCredentials = true }).Txs
	if got := field(txs[0], "auth"); got != "0123456789abcdefghij" {
		t.Errorf("auth = %q with KeepCredentials", got)
	}
	if txs[0].Flags&l7.FlagRedacted != 0 {
		t.Errorf("redacted flag with KeepCredentials")
	}
}

// MySQL 8 with CLIENT_DEPRECATE_EOF: no EOF after the column
// definitions; an OK with header 0xfe ends the rows. Prepared statements.
func sessionPrepared() []step {
	c := uint32(caps41 | capDeprecateEOF)
	return []step{
		sc(greetingPkt("8.0.36", c)),
		cs(loginPkt(1, c, "app", "x", "")),
		sc(pkt(2, []byte{0x01, 0x04})), // caching_sha2: full auth
		cs(pkt(3, s("secret\x00"))),
		sc(okPkt(4, 0, 0, 2)),
		cs(pkt(0, s("\x16SELECT name FROM users WHERE id = ?"))),
		sc(pkt(1, []byte{0, 7, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}), colDef(2, "?"), colDef(3, "name")),
		cs(pkt(0, []byte{comStmtExecute, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 8, 0, 42, 0, 0, 0, 0, 0, 0, 0})),
		sc(pkt(1, []byte{1}), colDef(2, "name"), row(3, "ann"), row(4, "bob"), pkt(5, []byte{0xfe, 0, 0, 2, 0, 0, 0})),
		cs(pkt(0, []byte{comStmtClose, 7, 0, 0, 0})),
		cs(pkt(0, s("\x03UPDATE t SET a = 1"))),
		sc(pkt(1, []byte{0, 5, 0, 2, 0, 0, 0}, s("(Rows matched: 5  Changed: 5  Warnings: 0"))),
	}
}

func TestSessionPrepared(t *testing.T) {
	txs := play(t, sessionPrepared(), nil).Txs
	if len(txs) != 5 {
		t.Fatalf("got %d transactions:\n%s", len(txs), describe(txs))
	}
	if x := txs[0]; string(x.Op) != "LOGIN" || x.Outcome != l7.OutcomeOK || field(x, "auth") != "<redacted>" {
		t.Errorf("login: %s", describe(txs[:1]))
	}
	if x := txs[1]; string(x.Op) != "COM_STMT_PREPARE" || field(x, "statement_id") != "7" || string(x.Target) != "SELECT name FROM users WHERE id = ?" {
		t.Errorf("prepare: %s", describe(txs[1:2]))
	}
	if x := txs[2]; string(x.Op) != "COM_STMT_EXECUTE" || field(x, "statement_id") != "7" || field(x, "rows") != "2" ||
		string(x.Target) != "SELECT name FROM users WHERE id = ?" || field(x, "sql_command") != "SELECT" {
		t.Errorf("execute: %s", describe(txs[2:3]))
	}
	if x := txs[3]; string(x.Op) != "COM_STMT_CLOSE" || x.Outcome != l7.OutcomeOneWay {
		t.Errorf("close: %s", describe(txs[3:4]))
	}
	if x := txs[4]; string(x.Op) != "COM_QUERY" || field(x, "affected_rows") != "5" {
		t.Errorf("update: %s", describe(txs[4:5]))
	}
	checkSplits(t, sessionPrepared(), nil)
}

// The compressed protocol: after the login, both directions are framed;
// small packets are stored (uncompressed length 0), larger deflated.
func sessionCompressed() []step {
	c := uint32(caps41 | capCompress)
	big := bytes.Repeat([]byte("abcdefghij"), 60)
	return []step{
		sc(greetingPkt("5.7.40", c)),
		cs(loginPkt(1, c, "app", "x", "db1")),
		sc(okPkt(2, 0, 0, 2)),
		cs(compress(0, false, pkt(0, s("\x03SELECT v FROM kv")))),
		sc(compress(1, true, pkt(1, []byte{1}), colDef(2, "v"), eofPkt(3, 2), row(4, string(big[:200])), row(5, string(big[:250])), eofPkt(6, 2))),
		cs(compress(0, true, pkt(0, append(s("\x03INSERT INTO kv VALUES ('"), append(big, s("')")...)...)))),
		sc(compress(1, false, okPkt(1, 1, 0, 2))),
	}
}

func TestSessionCompressed(t *testing.T) {
	txs := play(t, sessionCompressed(), nil).Txs
	if len(txs) != 3 {
		t.Fatalf("got %d transactions:\n%s", len(txs), describe(txs))
	}
	if field(txs[0], "compressed") != "zlib" {
		t.Errorf("login does not say compressed: %s", describe(txs[:1]))
	}
	if x := txs[1]; string(x.Target) != "SELECT v FROM kv" || field(x, "rows") != "2" {
		t.Errorf("select: %s", describe(txs[1:2]))
	}
	if x := txs[2]; field(x, "sql_command") != "INSERT" || field(x, "affected_rows") != "1" || len(x.Target) != len("INSERT INTO kv VALUES ('')")+600 {
		t.Errorf("insert: %s", describe(txs[2:3]))
	}
	checkSplits(t, sessionCompressed(), nil)
}

// A capture that starts in the middle: Gap(-1) on both sides, a response
// tail first (dropped as resync), then a command and its response.
func TestMidStream(t *testing.T) {
	steps := []step{
		{dir: c2s, gap: -1},
		{dir: s2c, gap: -1},
		sc(row(7, "x"), eofPkt(8, 2)),
		cs(pkt(0, s("\x03SELECT 1"))),
		sc(pkt(1, []byte{1}), colDef(2, "1"), eofPkt(3, 2), row(4, "1"), eofPkt(5, 2)),
	}
	sink := play(t, steps, nil)
	if len(sink.Txs) != 1 || string(sink.Txs[0].Target) != "SELECT 1" || field(sink.Txs[0], "rows") != "1" || sink.Txs[0].Outcome != l7.OutcomeOK {
		t.Fatalf("got:\n%s", describe(sink.Txs))
	}
	if want := len(steps[2].b); sink.Drops[l7.DropResync] != want {
		t.Errorf("resync drops %d, want %d", sink.Drops[l7.DropResync], want)
	}
}

// A gap in the middle of a result set: the query is given up (no
// response), the rest of the response is skipped, the next command
// resynchronises both sides.
func TestGapInResponse(t *testing.T) {
	resp := bytes.Join([][]byte{pkt(1, []byte{1}), colDef(2, "a"), eofPkt(3, 2), row(4, "1"), row(5, "2"), eofPkt(6, 2)}, nil)
	steps := []step{
		cs(pkt(0, s("\x03SELECT a FROM t"))),
		sc(resp[:20]),
		{dir: s2c, gap: 10},
		sc(resp[30:]),
		cs(pkt(0, s("\x03SELECT 2"))),
		sc(okPkt(1, 0, 0, 2)),
	}
	sink := play(t, steps, nil)
	if len(sink.Txs) != 2 {
		t.Fatalf("got:\n%s", describe(sink.Txs))
	}
	if x := sink.Txs[0]; string(x.Target) != "SELECT a FROM t" || x.Outcome != l7.OutcomeNoResponse {
		t.Errorf("first: %s", describe(sink.Txs[:1]))
	}
	if x := sink.Txs[1]; string(x.Target) != "SELECT 2" || x.Outcome != l7.OutcomeOK {
		t.Errorf("second: %s", describe(sink.Txs[1:]))
	}
	// Every byte given is accounted: parsed, or dropped by reason.
	// The first packet (5 bytes) was read; 15 bytes of the column
	// definition were held when the gap came.
	if sink.Drops[l7.DropGap] != 15 {
		t.Errorf("gap drops %d, want 15", sink.Drops[l7.DropGap])
	}
	if sink.Drops[l7.DropResync] != len(resp)-30 {
		t.Errorf("resync drops %d, want %d", sink.Drops[l7.DropResync], len(resp)-30)
	}
}

func TestPendingLimitAndTimeout(t *testing.T) {
	var steps []step
	for i := 0; i < 5; i++ {
		steps = append(steps, cs(pkt(0, s("\x03SELECT 1"))))
	}
	sink := play(t, steps, func(c *l7.Context) { c.MaxPending = 2 })
	if len(sink.Txs) != 5 {
		t.Fatalf("got %d transactions", len(sink.Txs))
	}
	for _, x := range sink.Txs {
		if x.Outcome != l7.OutcomeNoResponse {
			t.Errorf("outcome %s", x.Outcome)
		}
	}
	// Timeout: the query sent at ts 1000 is given up by the Data call at
	// ts 10000 (timeout 5000 ns); the OK that follows answers the ping.
	sink = &l7test.Sink{}
	ctx := sink.Context(l7.TCP)
	ctx.Timeout = 5000
	p := newParser(ctx)
	p.Data(c2s, pkt(0, s("\x03SELECT SLEEP(100)")), 1000)
	p.Data(c2s, pkt(0, []byte{comPing}), 10000)
	p.Data(s2c, okPkt(1, 0, 0, 2), 11000)
	p.End(12000)
	if len(sink.Txs) != 2 || sink.Txs[0].Outcome != l7.OutcomeNoResponse || string(sink.Txs[1].Op) != "COM_PING" || sink.Txs[1].Outcome != l7.OutcomeOK {
		t.Fatalf("timeout: %s", describe(sink.Txs))
	}
}

// The SQL text is cut at l7.MaxField and flagged; a large statement is
// never buffered whole.
func TestLongQuery(t *testing.T) {
	q := append(s("\x03SELECT '"), bytes.Repeat([]byte("x"), 3*l7.MaxField)...)
	q = append(q, '\'')
	steps := []step{cs(pkt(0, q)), sc(okPkt(1, 0, 0, 2))}
	txs := play(t, steps, nil).Txs
	if len(txs) != 1 || len(txs[0].Target) != l7.MaxField || txs[0].Flags&l7.FlagTruncated == 0 || txs[0].ReqBytes != int64(4+len(q)) {
		t.Fatalf("got:\n%s", describe(txs))
	}
	checkSplits(t, steps, nil)
}

func TestSQLiFlag(t *testing.T) {
	steps := []step{
		cs(pkt(0, s("\x03SELECT * FROM users WHERE name = '' OR '1'='1' -- '"))),
		sc(okPkt(1, 0, 0, 2)),
		cs(pkt(0, s("\x03SELECT * FROM users WHERE name = 'ann'"))),
		sc(okPkt(1, 0, 0, 2)),
	}
	txs := play(t, steps, nil).Txs
	if len(txs) != 2 || txs[0].Flags&l7.FlagSQLi == 0 || txs[1].Flags&l7.FlagSQLi != 0 {
		t.Fatalf("flags: %s", describe(txs))
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		b    []byte
		dir  flow.Dir
		want l7.Verdict
	}{
		{greetingPkt("8.0.36", caps41), s2c, l7.Yes},
		{greetingPkt("5.5.5-10.6.12-MariaDB", caps41), s2c, l7.Yes},
		{pkt(0, s("\x03SELECT 1")), c2s, l7.Maybe},
		{pkt(0, []byte{comPing}), c2s, l7.Maybe},
		{loginPkt(1, caps41, "root", "x", "db"), c2s, l7.Maybe},
		{compress(0, false, pkt(0, s("\x03SELECT 1"))), c2s, l7.Maybe},
		{compress(0, true, pkt(0, s("\x03SELECT 1"))), c2s, l7.Maybe},
		{s("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), c2s, l7.No},
		{s("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), c2s, l7.No},
		{pkt(0, s("\x03\x01\x02\x03binary")), c2s, l7.No},
		{s("SSH-2.0-OpenSSH_9.6\r\n"), s2c, l7.No},
		{s("\x03\x00"), c2s, l7.NeedMore},
	}
	for i, c := range cases {
		if got := Detect(c.b, c.dir, 3306); got != c.want {
			t.Errorf("case %d: %v, want %v", i, got, c.want)
		}
	}
}
