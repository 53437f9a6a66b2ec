package redis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// brief renders the parts of each transaction a case asserts:
// Op|Target|Status|outcome|request|error, flags as R (redacted) and T
// (truncated) suffixes.
func brief(s *l7test.Sink) []string {
	var out []string
	for _, t := range s.Txs {
		line := fmt.Sprintf("%s|%s|%s|%v|%s|%s", t.Op, t.Target, t.Status, t.Outcome, t.Field(FieldRequest), t.Field(FieldError))
		if t.Flags&l7.FlagRedacted != 0 {
			line += " R"
		}
		if t.Flags&l7.FlagTruncated != 0 {
			line += " T"
		}
		out = append(out, line)
	}
	return out
}

type tcase struct {
	name  string
	steps []step
	want  []string
	drops [l7.NumDropReasons]int
	ctx   func(*l7.Context)
}

// The expected values follow the RESP specification
// (https://redis.io/docs/latest/develop/reference/protocol-spec/) and the
// Redis command reference, written by hand from them.
var cases = []tcase{
	{name: "get bulk", steps: []step{cli(bulk("GET", "user:1")), srv(bstr("hello"))},
		want: []string{"GET|user:1|bulk_string|ok|GET user:1|"}},
	{name: "get nil", steps: []step{cli(bulk("get", "nokey")), srv("$-1\r\n")},
		want: []string{"GET|nokey|nil|ok|get nokey|"}},
	{name: "set ok incr integer", steps: []step{
		cli(bulk("SET", "k", "v")), srv("+OK\r\n"),
		cli(bulk("INCR", "counter")), srv(":42\r\n")},
		want: []string{"SET|k|simple_string|ok|SET k v|", "INCR|counter|integer|ok|INCR counter|"}},
	{name: "errors", steps: []step{
		cli(bulk("GET", "abcd")), srv("-NOAUTH Authentication required.\r\n"),
		cli(bulk("LPUSH", "str", "x")), srv("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
		cli(bulk("GET", "k")), srv("-LOADING Redis is loading the dataset in memory\r\n"),
		cli(bulk("FOO")), srv("-ERR unknown command 'FOO', with args beginning with: \r\n"),
		cli(bulk("EVAL", "return redis.error_reply('oops')", "0")), srv("-oops\r\n")},
		want: []string{
			"GET|abcd|NOAUTH|client_error|GET abcd|NOAUTH Authentication required.",
			"LPUSH|str|WRONGTYPE|client_error|LPUSH str x|WRONGTYPE Operation against a key holding the wrong kind of value",
			"GET|k|LOADING|server_error|GET k|LOADING Redis is loading the dataset in memory",
			"FOO||ERR|client_error|FOO|ERR unknown command 'FOO', with args beginning with: ",
			"EVAL||error|client_error|EVAL return redis.error_reply('oops') 0|oops",
		}},
	{name: "arrays", steps: []step{
		cli(bulk("LRANGE", "mylist", "0", "-1")), srv("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
		cli(bulk("LRANGE", "none", "0", "-1")), srv("*0\r\n"),
		cli(bulk("BLPOP", "q", "1")), srv("*-1\r\n"),
		cli(bulk("XRANGE", "s", "-", "+")), srv("*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n")},
		want: []string{
			"LRANGE|mylist|array|ok|LRANGE mylist 0 -1|",
			"LRANGE|none|array|ok|LRANGE none 0 -1|",
			"BLPOP|q|nil|ok|BLPOP q 1|",
			"XRANGE|s|array|ok|XRANGE s - +|",
		}},
	{name: "resp3 types", steps: []step{
		cli(bulk("HELLO", "3")), srv("%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
		cli(bulk("GET", "missing")), srv("_\r\n"),
		cli(bulk("ZSCORE", "z", "m")), srv(",3.14\r\n"),
		cli(bulk("EXISTS", "k")), srv("#t\r\n"),
		cli(bulk("FCALL", "f", "0")), srv("!21\r\nSYNTAX invalid syntax\r\n"),
		cli(bulk("INFO")), srv("=15\r\ntxt:Some string\r\n"),
		cli(bulk("DEBUG", "big")), srv("(3492890328409238509324850943850943825024385\r\n"),
		cli(bulk("SMEMBERS", "s")), srv("~2\r\n+a\r\n+b\r\n"),
		cli(bulk("GET", "attr")), srv("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n$2\r\nok\r\n"),
		cli(bulk("GET", "streamed")), srv("$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;0\r\n"),
		cli(bulk("KEYS", "*")), srv("*?\r\n$1\r\na\r\n:1\r\n.\r\n")},
		want: []string{
			"HELLO||map|ok|HELLO 3|",
			"GET|missing|nil|ok|GET missing|",
			"ZSCORE|z|double|ok|ZSCORE z m|",
			"EXISTS|k|boolean|ok|EXISTS k|",
			"FCALL||SYNTAX|client_error|FCALL f 0|SYNTAX invalid syntax",
			"INFO||verbatim_string|ok|INFO|",
			"DEBUG||big_number|ok|DEBUG big|",
			"SMEMBERS|s|set|ok|SMEMBERS s|",
			"GET|attr|bulk_string|ok|GET attr|",
			"GET|streamed|bulk_string|ok|GET streamed|",
			"KEYS||array|ok|KEYS *|",
		}},
	{name: "pipelining", steps: []step{
		cli(bulk("INCR", "z") + bulk("INCR", "z") + bulk("GET", "z")),
		srv(":1\r\n:2\r\n$1\r\n2\r\n")},
		want: []string{"INCR|z|integer|ok|INCR z|", "INCR|z|integer|ok|INCR z|", "GET|z|bulk_string|ok|GET z|"}},
	{name: "inline", steps: []step{
		cli("set test 1\r\n"), srv("+OK\r\n"),
		cli("incr  test\r\nget test\r\n\r\n"), srv(":2\r\n$1\r\n2\r\n"),
		cli("PING\n"), srv("+PONG\r\n")},
		want: []string{"SET|test|simple_string|ok|set test 1|", "INCR|test|integer|ok|incr test|",
			"GET|test|bulk_string|ok|get test|", "PING||simple_string|ok|PING|"}},
	{name: "pubsub resp2", steps: []step{
		cli(bulk("SUBSCRIBE", "news", "sport")),
		srv("*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"),
		srv("*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"),
		srv("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"),
		cli(bulk("PING")),
		srv("*3\r\n$7\r\nmessage\r\n$5\r\nsport\r\n$4\r\ngoal\r\n"),
		srv("*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
		cli(bulk("PSUBSCRIBE", "n*")),
		srv("*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:3\r\n"),
		srv("*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nx\r\n"),
		cli(bulk("UNSUBSCRIBE")),
		srv("*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:2\r\n"),
		srv("*3\r\n$11\r\nunsubscribe\r\n$5\r\nsport\r\n:1\r\n"),
		cli(bulk("PUNSUBSCRIBE")),
		srv("*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n"),
		cli(bulk("LRANGE", "l", "0", "-1")),
		srv("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n")},
		want: []string{
			"SUBSCRIBE|news|array|ok|SUBSCRIBE news sport|",
			"MESSAGE|news|array|one_way||",
			"MESSAGE|sport|array|one_way||",
			"PING||array|ok|PING|",
			"PSUBSCRIBE|n*|array|ok|PSUBSCRIBE n*|",
			"PMESSAGE|news|array|one_way||",
			// UNSUBSCRIBE without arguments: one confirmation per channel
			// until the count is 0; PUNSUBSCRIBE drops it to 0.
			"UNSUBSCRIBE||array|ok|UNSUBSCRIBE|",
			"PUNSUBSCRIBE||array|ok|PUNSUBSCRIBE|",
			// Not subscribed any more: a list that happens to start with
			// "message" is a reply.
			"LRANGE|l|array|ok|LRANGE l 0 -1|",
		}},
	{name: "pubsub resp3 push", steps: []step{
		cli(bulk("SUBSCRIBE", "ch")),
		srv(">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"),
		cli(bulk("GET", "k")),
		srv(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
		srv("$1\r\nv\r\n"),
		srv(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n")},
		want: []string{
			"SUBSCRIBE|ch|push|ok|SUBSCRIBE ch|",
			"MESSAGE|ch|push|one_way||",
			"GET|k|bulk_string|ok|GET k|",
			"INVALIDATE||push|one_way||",
		}},
	{name: "multi exec", steps: []step{
		cli(bulk("MULTI")), srv("+OK\r\n"),
		cli(bulk("INCR", "a")), srv("+QUEUED\r\n"),
		cli(bulk("GET", "b")), srv("+QUEUED\r\n"),
		cli(bulk("EXEC")), srv("*2\r\n:1\r\n$-1\r\n"),
		cli(bulk("WATCH", "w")), srv("+OK\r\n"),
		cli(bulk("MULTI") + bulk("SET", "w", "1") + bulk("EXEC")), srv("+OK\r\n+QUEUED\r\n*-1\r\n"),
		cli(bulk("MULTI") + bulk("NOPE") + bulk("EXEC")),
		srv("+OK\r\n-ERR unknown command 'NOPE'\r\n-EXECABORT Transaction discarded because of previous errors.\r\n")},
		want: []string{
			"MULTI||simple_string|ok|MULTI|", "INCR|a|simple_string|ok|INCR a|", "GET|b|simple_string|ok|GET b|",
			"EXEC||array|ok|EXEC|",
			"WATCH|w|simple_string|ok|WATCH w|",
			"MULTI||simple_string|ok|MULTI|", "SET|w|simple_string|ok|SET w 1|", "EXEC||nil|ok|EXEC|",
			"MULTI||simple_string|ok|MULTI|", "NOPE||ERR|client_error|NOPE|ERR unknown command 'NOPE'",
			"EXEC||EXECABORT|client_error|EXEC|EXECABORT Transaction discarded because of previous errors.",
		}},
	{name: "credentials", steps: []step{
		cli(bulk("AUTH", "s3cret")), srv("+OK\r\n"),
		cli(bulk("auth", "alice", "s3cret")), srv("-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
		cli(bulk("HELLO", "3", "AUTH", "alice", "s3cret", "SETNAME", "app")), srv("%0\r\n"),
		cli(bulk("CONFIG", "SET", "maxmemory", "1gb", "masterauth", "s3cret")), srv("+OK\r\n"),
		cli(bulk("CONFIG", "GET", "requirepass")), srv("*0\r\n"),
		cli(bulk("MIGRATE", "10.0.0.1", "6379", "", "0", "5000", "COPY", "AUTH2", "bob", "s3cret", "KEYS", "k1")), srv("+NOKEY\r\n"),
		cli(bulk("ACL", "SETUSER", "bob", "on", ">s3cret", "~*", "+@all")), srv("+OK\r\n"),
		cli("AUTH s3cret\r\n"), srv("+OK\r\n")},
		want: []string{
			"AUTH||simple_string|ok|AUTH <redacted>| R",
			"AUTH||WRONGPASS|client_error|auth alice <redacted>|WRONGPASS invalid username-password pair or user is disabled. R",
			"HELLO||map|ok|HELLO 3 AUTH alice <redacted> SETNAME app| R",
			"CONFIG||simple_string|ok|CONFIG SET maxmemory 1gb masterauth <redacted>| R",
			"CONFIG||array|ok|CONFIG GET requirepass|",
			"MIGRATE||simple_string|ok|MIGRATE 10.0.0.1 6379  0 5000 COPY AUTH2 bob <redacted> KEYS k1| R",
			"ACL||simple_string|ok|ACL SETUSER bob on <redacted> ~* +@all| R",
			"AUTH||simple_string|ok|AUTH <redacted>| R",
		}},
	{name: "keep credentials", steps: []step{cli(bulk("AUTH", "s3cret")), srv("+OK\r\n")},
		ctx:  func(c *l7.Context) { c.KeepCredentials = true },
		want: []string{"AUTH||simple_string|ok|AUTH s3cret|"}},
	{name: "keys", steps: []step{
		cli(bulk("EVAL", "return 1", "1", "key1", "arg")), srv(":1\r\n"),
		cli(bulk("EVALSHA", "abc", "0", "arg")), srv(":1\r\n"),
		cli(bulk("XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0")), srv("*-1\r\n"),
		cli(bulk("OBJECT", "ENCODING", "k")), srv("+embstr\r\n"),
		cli(bulk("JSON.GET", "doc", "$")), srv("$2\r\n{}\r\n"),
		cli(bulk("ZUNION", "2", "a", "b")), srv("*0\r\n"),
		cli(bulk("PUBLISH", "ch", "msg")), srv(":0\r\n")},
		want: []string{
			"EVAL|key1|integer|ok|EVAL return 1 1 key1 arg|",
			"EVALSHA||integer|ok|EVALSHA abc 0 arg|",
			"XREAD|s1|nil|ok|XREAD COUNT 2 STREAMS s1 s2 0 0|",
			"OBJECT|k|simple_string|ok|OBJECT ENCODING k|",
			"JSON.GET|doc|bulk_string|ok|JSON.GET doc $|",
			"ZUNION|a|array|ok|ZUNION 2 a b|",
			"PUBLISH|ch|integer|ok|PUBLISH ch msg|",
		}},
	{name: "client reply", steps: []step{
		cli(bulk("CLIENT", "REPLY", "OFF") + bulk("SET", "a", "1") + bulk("CLIENT", "REPLY", "ON")), srv("+OK\r\n"),
		cli(bulk("CLIENT", "REPLY", "SKIP") + bulk("SET", "b", "2") + bulk("GET", "b")), srv("$1\r\n2\r\n")},
		want: []string{
			"CLIENT|||one_way|CLIENT REPLY OFF|", "SET|a||one_way|SET a 1|", "CLIENT||simple_string|ok|CLIENT REPLY ON|",
			"CLIENT|||one_way|CLIENT REPLY SKIP|", "SET|b||one_way|SET b 2|", "GET|b|bulk_string|ok|GET b|",
		}},
	{name: "monitor", steps: []step{
		cli(bulk("MONITOR")), srv("+OK\r\n"),
		srv("+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n+1339518087.877697 [0 127.0.0.1:60866] \"dbsize\"\r\n")},
		want: []string{"MONITOR||simple_string|ok|MONITOR|", "MONITOR||simple_string|one_way||", "MONITOR||simple_string|one_way||"}},
	{name: "no request and no response", steps: []step{
		srv("+OK\r\n"), cli(bulk("GET", "a"))},
		want: []string{"||simple_string|no_request||", "GET|a||no_response|GET a|"}},
	{name: "truncation", steps: []step{
		cli(bulk("SET", strings.Repeat("k", 300), strings.Repeat("v", 2000))), srv("+OK\r\n")},
		want: []string{"SET|" + strings.Repeat("k", maxArg) + "|simple_string|ok|SET " + strings.Repeat("k", maxArg) + " " + strings.Repeat("v", maxArg) + "| T"}},
	{name: "text limit", steps: []step{
		cli(bulk(append([]string{"MSET"}, strings.Split(strings.Repeat("abcdefghij ", 200), " ")[:200]...)...)), srv("+OK\r\n")},
		want: []string{"MSET|abcdefghij|simple_string|ok|MSET" + strings.Repeat(" abcdefghij", 92) + " abcdefg| T"}},
	{name: "malformed request", steps: []step{
		cli("*2\r\n:1\r\n"), srv("-ERR Protocol error: expected '$', got ':'\r\n"),
		cli(bulk("PING")), srv("+PONG\r\n")},
		want:  []string{"||ERR|no_request||ERR Protocol error: expected '$', got ':'", "PING||simple_string|ok|PING|"},
		drops: [l7.NumDropReasons]int{l7.DropMalformed: 8}},
	{name: "malformed reply resyncs", steps: []step{
		cli(bulk("GET", "a")), srv("$3\r\nabcdef\r\n"),
		cli(bulk("GET", "b")), srv("$1\r\nb\r\n")},
		// "$3\r\nabc" and then "d" where the CR belongs: the 7 bytes read
		// of the message are malformed and "def\r\n" is skipped up to the
		// next line start. The lost reply was GET a's: it is emitted
		// unanswered at once, so that GET b gets the next reply.
		want:  []string{"GET|a||no_response|GET a| T", "GET|b|bulk_string|ok|GET b|"},
		drops: [l7.NumDropReasons]int{l7.DropMalformed: 7, l7.DropResync: 5}},
	{name: "max pending", steps: []step{
		cli(bulk("GET", "a") + bulk("GET", "b") + bulk("GET", "c")),
		srv("$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n")},
		ctx: func(c *l7.Context) { c.MaxPending = 2 },
		// GET a is evicted by GET c; its reply, still the first to come,
		// must not be paired with GET b.
		want: []string{"GET|a||no_response|GET a|", "||bulk_string|no_request||",
			"GET|b|bulk_string|ok|GET b|", "GET|c|bulk_string|ok|GET c|"}},
	{name: "timeout", steps: []step{
		{dir: c2s, data: bulk("BLPOP", "q", "0"), ts: 1000},
		{dir: c2s, data: bulk("GET", "x"), ts: 1050},
		{dir: s2c, data: "*2\r\n$1\r\nq\r\n$1\r\nv\r\n$1\r\nx\r\n", ts: 1101}},
		ctx:  func(c *l7.Context) { c.Timeout = 100 },
		want: []string{"BLPOP|q||no_response|BLPOP q 0|", "||array|no_request||", "GET|x|bulk_string|ok|GET x|"}},
	{name: "gap inside bulk", steps: []step{
		cli(bulk("GET", "a")), srv("$10\r\n01234"), {dir: s2c, gap: 3}, srv("89\r\n"),
		cli(bulk("GET", "b")), srv("$1\r\nb\r\n")},
		want: []string{"GET|a|bulk_string|ok|GET a| T", "GET|b|bulk_string|ok|GET b|"}},
	{name: "gap between replies", steps: []step{
		cli(bulk("GET", "a") + bulk("GET", "b")), {dir: s2c, gap: 7}, srv("$1\r\nb\r\n")},
		want: []string{"GET|a||no_response|GET a| T", "GET|b||no_response|GET b| T", "||bulk_string|no_request||"}},
	{name: "mid-stream start", steps: []step{
		{dir: c2s, gap: -1}, {dir: s2c, gap: -1},
		cli("ue\r\n" + bulk("GET", "x")), srv("K\r\n$1\r\nx\r\n")},
		want:  []string{"GET|x|bulk_string|ok|GET x|"},
		drops: [l7.NumDropReasons]int{l7.DropResync: 7}},
	{name: "gap cuts a request", steps: []step{
		cli("*2\r\n$3\r\nGET\r\n$1"), {dir: c2s, gap: 5}, cli(bulk("GET", "y")), srv("$1\r\ny\r\n")},
		want:  []string{"GET|y|bulk_string|ok|GET y|"},
		drops: [l7.NumDropReasons]int{l7.DropGap: 15}},
	{name: "line too long", steps: []step{
		cli(bulk("PING")), srv("+" + strings.Repeat("x", 600) + "\r\n"), cli(bulk("PING")), srv("+PONG\r\n")},
		ctx:   func(c *l7.Context) { c.MaxMessage = 512 },
		want:  []string{"PING|||no_response|PING| T", "PING||simple_string|ok|PING|"},
		drops: [l7.NumDropReasons]int{l7.DropTooLarge: 603}},
	{name: "cut by the end", steps: []step{
		cli(bulk("GET", "a")), srv("$5\r\nab")},
		// The reply's type is known: it answers GET a, truncated.
		want: []string{"GET|a|bulk_string|ok|GET a| T"}},
	{name: "request cut by the end", steps: []step{
		cli(bulk("GET", "a") + "*2\r\n$3\r\nGET\r\n$1\r\n"), srv("$1\r\na\r\n")},
		// The second GET's key had not begun.
		want: []string{"GET|a|bulk_string|ok|GET a|", "GET|||no_response|GET | T"}},
	{name: "command name cut by the end", steps: []step{cli("*1\r\n$4\r\nPI")},
		want: []string{"PI|||no_response|PI| T"}},
	{name: "end in a header line", steps: []step{
		cli(bulk("GET", "a")), srv("$1")},
		want:  []string{"GET|a||no_response|GET a|"},
		drops: [l7.NumDropReasons]int{l7.DropOther: 2}},
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tweak []func(*l7.Context)
			if c.ctx != nil {
				tweak = append(tweak, c.ctx)
			}
			s := run(t, c.steps, 0, tweak...)
			checkSink(t, s)
			got := brief(s)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if s.Drops != c.drops {
				t.Errorf("drops %v, want %v", s.Drops, c.drops)
			}
		})
	}
}

// TestSplitAnywhere cuts every data step of every case at every position
// (and feeds each byte alone): the transactions and drops must not
// change.
func TestSplitAnywhere(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tweak []func(*l7.Context)
			if c.ctx != nil {
				tweak = append(tweak, c.ctx)
			}
			whole := l7test.Describe(run(t, c.steps, 0, tweak...))
			if got := l7test.Describe(run(t, c.steps, 1, tweak...)); got != whole {
				t.Fatalf("byte by byte:\n%s\nwhole:\n%s", got, whole)
			}
			for k, st := range c.steps {
				for at := 1; at < len(st.data); at++ {
					if got := l7test.Describe(runAt(t, c.steps, k, at, tweak...)); got != whole {
						t.Fatalf("step %d cut at %d:\n%s\nwhole:\n%s", k, at, got, whole)
					}
				}
			}
		})
	}
}
