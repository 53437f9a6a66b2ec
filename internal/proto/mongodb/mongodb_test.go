package mongodb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
	ms  = int64(1e6)
)

var oid = [12]byte{0x65, 0x22, 0x13, 0xba, 0x46, 0xc3, 0x35, 0xfa, 0x28, 0x20, 0xb0, 0xdc}

func findReq(id int32) []byte {
	return opMsgBytes(id, 0, 0, D{
		{"find", "users"},
		{"filter", D{{"name", "ann"}, {"age", D{{"$gt", 30}}}}},
		{"limit", int64(5)},
		{"lsid", D{{"id", binData{4, []byte("0123456789abcdef")}}}},
		{"$clusterTime", D{{"clusterTime", timestamp{1730962788, 1}}}},
		{"$db", "shop"},
	})
}

func findReply(id, to int32, n int) []byte {
	var batch A
	for i := 0; i < n; i++ {
		batch = append(batch, D{{"_id", oid}, {"name", "ann"}})
	}
	return opMsgBytes(id, to, 0, D{
		{"cursor", D{{"firstBatch", batch}, {"id", int64(0)}, {"ns", "shop.users"}}},
		{"ok", 1.0},
	})
}

// TestFind: an OP_MSG find and its reply, delivered whole and split at
// every byte offset: the same transaction each time.
func TestFind(t *testing.T) {
	req, rep := findReq(7), findReply(99, 7, 3)
	steps := []step{data(c2s, 1000*ms, req), data(s2c, 1003*ms, rep)}
	wantCmd := `{ "find": "users", "filter": { "name": "ann", "age": { "$gt": 30 } }, "limit": 5, ` +
		`"lsid": { "id": Binary(0x4, MDEyMzQ1Njc4OWFiY2RlZg==) }, "$clusterTime": { "clusterTime": Timestamp(1730962788, 1) }, "$db": "shop" }`
	check := func(t *testing.T, s *checkSink) {
		t.Helper()
		if len(s.Txs) != 1 {
			t.Fatalf("got %d transactions", len(s.Txs))
		}
		tx := s.Txs[0]
		if string(tx.Op) != "find" || string(tx.Target) != "shop.users" || len(tx.Status) != 0 || tx.Outcome != l7.OutcomeOK {
			t.Fatalf("op %q target %q status %q outcome %v", tx.Op, tx.Target, tx.Status, tx.Outcome)
		}
		if tx.ReqTS != 1000*ms || tx.RespTS != 1003*ms || tx.ReqBytes != int64(len(req)) || tx.RespBytes != int64(len(rep)) {
			t.Fatalf("times %d %d sizes %d %d", tx.ReqTS, tx.RespTS, tx.ReqBytes, tx.RespBytes)
		}
		for k, v := range map[string]string{
			FieldOpcode: "OP_MSG", FieldRequestID: "7", FieldDatabase: "shop", FieldCollection: "users",
			FieldCommand: wantCmd, FieldDocuments: "3",
		} {
			if got := field(tx, k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if tx.Flags != 0 {
			t.Errorf("flags %v", tx.Flags)
		}
		if s.Drops != [l7.NumDropReasons]int{} {
			t.Errorf("drops %v", s.Drops)
		}
	}
	check(t, run(t, nil, steps, 2000*ms))
	for cut := 0; cut <= max(len(req), len(rep)); cut++ {
		check(t, runSplit(t, steps, cut, 2000*ms))
	}
	// Byte by byte.
	p, s := newParser(t, nil)
	for i := range req {
		p.Data(c2s, req[i:i+1], 1000*ms)
	}
	for i := range rep {
		p.Data(s2c, rep[i:i+1], 1003*ms)
	}
	p.End(2000 * ms)
	check(t, s)
}

// TestReplies covers reply classification: errors, write errors, legacy
// OP_QUERY/OP_REPLY, counts.
func TestReplies(t *testing.T) {
	type want struct {
		op, target, status string
		outcome            l7.Outcome
		fields             map[string]string
	}
	tests := []struct {
		name     string
		req, rep []byte
		want     want
	}{
		{
			name: "command error",
			req:  opMsgBytes(11, 0, 0, D{{"replSetGetStatus", 1.0}, {"forShell", 1.0}, {"$db", "admin"}}),
			rep:  opMsgBytes(71, 11, 0, D{{"ok", 0.0}, {"errmsg", "not running with --replSet"}, {"code", 76}, {"codeName", "NoReplicationEnabled"}}),
			want: want{"replSetGetStatus", "admin", "76", l7.OutcomeClientError, map[string]string{
				FieldErrorMessage: "not running with --replSet", FieldCodeName: "NoReplicationEnabled"}},
		},
		{
			name: "server side error",
			req:  opMsgBytes(12, 0, 0, D{{"insert", "orders"}, {"$db", "shop"}}, "documents", []D{{{"a", 1}}, {{"a", 2}}}),
			rep:  opMsgBytes(72, 12, 0, D{{"ok", 0.0}, {"errmsg", "not primary"}, {"code", 10107}, {"codeName", "NotWritablePrimary"}}),
			want: want{"insert", "shop.orders", "10107", l7.OutcomeServerError, map[string]string{FieldCodeName: "NotWritablePrimary"}},
		},
		{
			name: "duplicate key write error",
			req:  opMsgBytes(13, 0, 0, D{{"insert", "orders"}, {"documents", A{D{{"_id", 1}}}}, {"$db", "shop"}}),
			rep: opMsgBytes(73, 13, 0, D{{"n", 0}, {"writeErrors", A{D{{"index", 0}, {"code", 11000},
				{"errmsg", "E11000 duplicate key error"}}}}, {"ok", 1.0}}),
			want: want{"insert", "shop.orders", "11000", l7.OutcomeClientError, map[string]string{
				FieldErrorMessage: "E11000 duplicate key error", FieldN: "0"}},
		},
		{
			name: "update counts",
			req:  opMsgBytes(14, 0, msgChecksumPresent, D{{"update", "orders"}, {"ordered", true}, {"$db", "shop"}}, "updates", []D{{{"q", D{}}, {"u", D{{"$set", D{{"x", 1}}}}}}}),
			rep:  opMsgBytes(74, 14, msgChecksumPresent, D{{"n", 4}, {"nModified", int64(3)}, {"ok", 1.0}}),
			want: want{"update", "shop.orders", "", l7.OutcomeOK, map[string]string{FieldN: "4", FieldNModified: "3"}},
		},
		{
			name: "getMore",
			req:  opMsgBytes(15, 0, 0, D{{"getMore", int64(77)}, {"collection", "users"}, {"$db", "shop"}}),
			rep:  opMsgBytes(75, 15, 0, D{{"cursor", D{{"nextBatch", A{D{{"a", 1}}, D{{"a", 2}}}}, {"id", int64(0)}}}, {"ok", 1}}),
			want: want{"getMore", "shop.users", "", l7.OutcomeOK, map[string]string{FieldDocuments: "2", FieldCollection: "users"}},
		},
		{
			name: "legacy command",
			req:  opQueryBytes(0, "admin.$cmd", D{{"isMaster", 1}, {"client", D{{"driver", D{{"name", "x"}}}}}}),
			rep:  opReplyBytes(60, 0, 8, D{{"ismaster", true}, {"maxWireVersion", 9}, {"ok", 1.0}}),
			want: want{"isMaster", "admin", "", l7.OutcomeOK, map[string]string{FieldOpcode: "OP_QUERY", FieldDatabase: "admin"}},
		},
		{
			name: "legacy wrapped command",
			req:  opQueryBytes(3, "db1.$cmd", D{{"$query", D{{"count", "things"}}}, {"$readPreference", D{{"mode", "secondary"}}}}),
			rep:  opReplyBytes(61, 3, 0, D{{"n", 12}, {"ok", 1.0}}),
			want: want{"count", "db1.things", "", l7.OutcomeOK, map[string]string{FieldN: "12"}},
		},
		{
			name: "legacy query",
			req:  opQueryBytes(4, "db1.things", D{{"ok", 0}}),
			rep:  opReplyBytes(62, 4, 0, D{{"ok", 0}, {"n", 5}}, D{{"ok", 0}}),
			want: want{"find", "db1.things", "", l7.OutcomeOK, map[string]string{FieldDocuments: "2", FieldCollection: "things"}},
		},
		{
			name: "legacy query failure",
			req:  opQueryBytes(5, "db1.things", D{{"$where", "x"}}),
			rep:  opReplyBytes(63, 5, 2, D{{"$err", "bad query"}, {"code", 2}}),
			want: want{"find", "db1.things", "2", l7.OutcomeClientError, map[string]string{FieldErrorMessage: "bad query"}},
		},
		{
			name: "ok:0 without code",
			req:  opMsgBytes(16, 0, 0, D{{"ping", 1}, {"$db", "admin"}}),
			rep:  opMsgBytes(76, 16, 0, D{{"ok", 0}, {"errmsg", "no"}}),
			want: want{"ping", "admin", "", l7.OutcomeClientError, map[string]string{FieldErrorMessage: "no"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			steps := []step{data(c2s, 10*ms, tc.req), data(s2c, 12*ms, tc.rep)}
			for cut := 0; cut <= len(tc.req); cut += 7 {
				s := runSplit(t, steps, cut, 20*ms)
				if len(s.Txs) != 1 {
					t.Fatalf("%d transactions", len(s.Txs))
				}
				tx := s.Txs[0]
				if string(tx.Op) != tc.want.op || string(tx.Target) != tc.want.target || string(tx.Status) != tc.want.status || tx.Outcome != tc.want.outcome {
					t.Fatalf("op %q target %q status %q outcome %v, want %+v", tx.Op, tx.Target, tx.Status, tx.Outcome, tc.want)
				}
				for k, v := range tc.want.fields {
					if got := field(tx, k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				if tx.Latency() != 2*ms {
					t.Errorf("latency %d", tx.Latency())
				}
			}
		})
	}
}

// TestRequestIDZero: a reply to requestID 0 has responseTo 0; it is still
// known as a reply because the server sends it.
func TestRequestIDZero(t *testing.T) {
	s := run(t, nil, []step{
		data(c2s, 1*ms, opMsgBytes(0, 0, 0, D{{"hello", 1}, {"$db", "admin"}})),
		data(s2c, 2*ms, opMsgBytes(5, 0, 0, D{{"ok", 1.0}})),
	}, 3*ms)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeOK || string(s.Txs[0].Op) != "hello" {
		t.Fatalf("%+v", s.Txs)
	}
}

// TestSwappedDirections: when the flow table took the server for the
// client (a capture without the handshake), OP_MSG requests arrive as
// ServerToClient: they are still requests (responseTo 0, no request 0
// waiting), and the replies (responseTo set) match them.
func TestSwappedDirections(t *testing.T) {
	s := run(t, nil, []step{
		data(s2c, 1*ms, findReq(3)),
		data(c2s, 2*ms, findReply(90, 3, 1)),
		data(s2c, 3*ms, findReq(4)),
		data(c2s, 4*ms, findReply(91, 4, 2)),
	}, 5*ms)
	if len(s.Txs) != 2 || s.Txs[0].Outcome != l7.OutcomeOK || s.Txs[1].Outcome != l7.OutcomeOK || field(s.Txs[1], FieldDocuments) != "2" {
		t.Fatalf("%+v", s.Txs)
	}
}

func TestOneWay(t *testing.T) {
	ins := binary.LittleEndian.AppendUint32(nil, 0)
	ins = append(ins, "db.c\x00"...)
	ins = append(ins, encDoc(D{{"a", 1}})...)
	del := binary.LittleEndian.AppendUint32(nil, 0)
	del = append(del, "db.c\x00"...)
	del = binary.LittleEndian.AppendUint32(del, 0)
	del = append(del, encDoc(D{{"a", 1}})...)
	kill := binary.LittleEndian.AppendUint32(nil, 0)
	kill = binary.LittleEndian.AppendUint32(kill, 1)
	kill = binary.LittleEndian.AppendUint64(kill, 42)
	s := run(t, nil, []step{data(c2s, ms,
		hdr(1, 0, opInsert, ins),
		hdr(2, 0, opDelete, del),
		hdr(3, 0, opKillCursors, kill),
		opMsgBytes(4, 0, msgMoreToCome, D{{"insert", "c"}, {"$db", "db"}}),
	)}, 2*ms)
	want := []string{"insert db.c", "delete db.c", "killCursors ", "insert db.c"}
	if len(s.Txs) != len(want) {
		t.Fatalf("%d transactions", len(s.Txs))
	}
	for i, tx := range s.Txs {
		if got := string(tx.Op) + " " + string(tx.Target); got != want[i] || tx.Outcome != l7.OutcomeOneWay {
			t.Errorf("%d: %q %v, want %q one_way", i, got, tx.Outcome, want[i])
		}
	}
}

func TestRedaction(t *testing.T) {
	sasl := opMsgBytes(1, 0, 0, D{{"saslStart", 1}, {"mechanism", "SCRAM-SHA-256"}, {"payload", binData{0, []byte("n,,n=admin,r=abc")}}, {"$db", "admin"}})
	hello := opQueryBytes(2, "admin.$cmd", D{{"isMaster", 1}, {"speculativeAuthenticate", D{{"saslStart", 1}, {"payload", binData{0, []byte("secret")}}, {"db", "admin"}}}})
	create := opMsgBytes(3, 0, 0, D{{"createUser", "bob"}, {"pwd", "hunter2"}, {"roles", A{}}, {"$db", "admin"}})
	// A "payload" key outside an authentication command is data.
	plain := opMsgBytes(4, 0, 0, D{{"insert", "c"}, {"documents", A{D{{"payload", "x"}, {"key", 1}}}}, {"$db", "d"}})
	steps := []step{data(c2s, ms, sasl, hello, create, plain)}
	s := run(t, nil, steps, 2*ms)
	want := []string{
		`{ "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": <redacted>, "$db": "admin" }`,
		`{ "isMaster": 1, "speculativeAuthenticate": { "saslStart": 1, "payload": <redacted>, "db": "admin" } }`,
		`{ "createUser": "bob", "pwd": <redacted>, "roles": [], "$db": "admin" }`,
		`{ "insert": "c", "documents": [{ "payload": "x", "key": 1 }], "$db": "d" }`,
	}
	if len(s.Txs) != 4 {
		t.Fatalf("%d transactions", len(s.Txs))
	}
	for i, tx := range s.Txs {
		if got := field(tx, FieldCommand); got != want[i] {
			t.Errorf("%d: %s\nwant %s", i, got, want[i])
		}
		if red := tx.Flags&l7.FlagRedacted != 0; red != (i < 3) {
			t.Errorf("%d: redacted flag %v", i, red)
		}
		if strings.Contains(field(tx, FieldCommand), "hunter2") || strings.Contains(field(tx, FieldCommand), "c2VjcmV0") {
			t.Errorf("%d: credential leaked", i)
		}
	}
	s = run(t, func(c *l7.Context) { c.KeepCredentials = true }, steps, 2*ms)
	if got := field(s.Txs[2], FieldCommand); !strings.Contains(got, `"pwd": "hunter2"`) || s.Txs[2].Flags&l7.FlagRedacted != 0 {
		t.Errorf("KeepCredentials: %s", got)
	}
	if got := field(s.Txs[1], FieldCommand); !strings.Contains(got, `"payload": Binary(0x0, c2VjcmV0)`) {
		t.Errorf("KeepCredentials: %s", got)
	}
}

func TestPendingLimitTimeoutEnd(t *testing.T) {
	// MaxPending 2: the third request evicts the first.
	s := run(t, func(c *l7.Context) { c.MaxPending = 2 }, []step{
		data(c2s, 1*ms, findReq(1), findReq(2), findReq(3)),
		data(s2c, 2*ms, findReply(50, 3, 0)),
	}, 3*ms)
	var got []string
	for _, tx := range s.Txs {
		got = append(got, field(tx, FieldRequestID)+":"+tx.Outcome.String())
	}
	if strings.Join(got, " ") != "1:no_response 3:ok 2:no_response" {
		t.Errorf("eviction: %v", got)
	}
	// Timeout: the request is emitted when a later call sees its age.
	s = run(t, func(c *l7.Context) { c.Timeout = 10 * ms }, []step{
		data(c2s, 1*ms, findReq(1)),
		data(c2s, 5*ms, findReq(2)),
		data(c2s, 12*ms, findReq(3)),
		data(s2c, 13*ms, findReply(51, 1, 0)), // too late: no request
	}, 14*ms)
	got = got[:0]
	for _, tx := range s.Txs {
		got = append(got, field(tx, FieldRequestID)+":"+tx.Outcome.String())
	}
	if strings.Join(got, " ") != "1:no_response 1:no_request 2:no_response 3:no_response" {
		t.Errorf("timeout: %v", got)
	}
	if tx := s.Txs[1]; tx.ReqTS != 0 || tx.RespTS != 13*ms || len(tx.Op) != 0 || field(tx, FieldDocuments) != "0" {
		t.Errorf("no_request transaction: %+v", tx)
	}
}

func TestCompressed(t *testing.T) {
	orig := findReq(9)
	body := orig[headerLen:]
	comp := func(id byte, data []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, opMsg)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
		b = append(b, id)
		b = append(b, data...)
		return hdr(9, 0, opCompressed, b)
	}
	var zb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	zw.Write(body)
	zw.Close()
	// snappy: the first 20 bytes as a literal, then the rest as a literal
	// preceded by a copy of 4 bytes at offset 4 replacing nothing: build
	// a valid stream with one literal and one copy by hand.
	sn := binary.AppendUvarint(nil, uint64(len(body)))
	sn = append(sn, byte(59<<2)) // literal of 60 bytes
	sn = append(sn, body[:60]...)
	rest := body[60:]
	for len(rest) > 0 {
		n := min(len(rest), 60)
		sn = append(sn, byte((n-1)<<2))
		sn = append(sn, rest[:n]...)
		rest = rest[n:]
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		cmd  bool
	}{
		{"noop", comp(compNoop, body), true},
		{"zlib", comp(compZlib, zb.Bytes()), true},
		{"snappy", comp(compSnappy, sn), true},
		{"zstd", comp(compZstd, []byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, nil, []step{data(c2s, ms, tc.msg), data(s2c, 2*ms, findReply(1, 9, 1))}, 3*ms)
			if len(s.Txs) != 1 {
				t.Fatalf("%d transactions", len(s.Txs))
			}
			tx := s.Txs[0]
			if field(tx, FieldOpcode) != "OP_MSG" {
				t.Errorf("opcode %s", field(tx, FieldOpcode))
			}
			if got, want := field(tx, FieldCompressor), tc.name; got != want {
				t.Errorf("compressor %q want %q", got, want)
			}
			if tc.cmd && (string(tx.Op) != "find" || string(tx.Target) != "shop.users") {
				t.Errorf("op %q target %q", tx.Op, tx.Target)
			}
			if !tc.cmd && len(tx.Op) != 0 {
				t.Errorf("zstd op %q", tx.Op)
			}
			if tx.Outcome != l7.OutcomeOK || tx.ReqBytes != int64(len(tc.msg)) {
				t.Errorf("outcome %v bytes %d", tx.Outcome, tx.ReqBytes)
			}
		})
	}
}

func TestSnappyCopies(t *testing.T) {
	// "abcd" literal, then copy len 8 offset 4 (tag type 1), then copy
	// len 3 offset 2 (tag type 2).
	src := binary.AppendUvarint(nil, 15)
	src = append(src, 3<<2, 'a', 'b', 'c', 'd')
	src = append(src, byte((8-4)<<2|1), 4)
	src = append(src, byte((3-1)<<2|2), 2, 0)
	if got := string(snappyDecode(nil, src, 100)); got != "abcdabcdabcdcdc" {
		t.Errorf("got %q", got)
	}
	if got := string(snappyDecode(nil, src, 6)); got != "abcdab" {
		t.Errorf("limited: got %q", got)
	}
	// offset beyond the output
	bad := append(binary.AppendUvarint(nil, 4), byte(0<<2|1), 9)
	if got := snappyDecode(nil, bad, 100); len(got) != 0 {
		t.Errorf("bad copy: %q", got)
	}
}

// TestGapInsideMessage: a hole of known size inside a request keeps the
// framing: the request is decoded from its first bytes (truncated), the
// reply still matches, and the next request decodes normally.
func TestGapInsideMessage(t *testing.T) {
	req := findReq(3)
	s := run(t, nil, []step{
		data(c2s, 1*ms, req[:40]),
		gapStep(c2s, 20, 1*ms),
		data(c2s, 2*ms, req[60:]),
		data(c2s, 2*ms, findReq(4)),
		data(s2c, 3*ms, findReply(10, 3, 1), findReply(11, 4, 1)),
	}, 4*ms)
	if len(s.Txs) != 2 {
		t.Fatalf("%d transactions", len(s.Txs))
	}
	a, b := s.Txs[0], s.Txs[1]
	if string(a.Op) != "find" || a.Flags&l7.FlagTruncated == 0 || a.Outcome != l7.OutcomeOK || a.ReqBytes != int64(len(req)) || a.ReqTS != 1*ms {
		t.Errorf("holed request: op %q flags %v outcome %v bytes %d ts %d", a.Op, a.Flags, a.Outcome, a.ReqBytes, a.ReqTS)
	}
	if string(b.Op) != "find" || b.Flags != 0 || b.Outcome != l7.OutcomeOK {
		t.Errorf("next request: %+v", b)
	}
	if s.Drops[l7.DropGap] != len(req)-60 || s.Drops[l7.DropResync] != 0 {
		t.Errorf("drops %v", s.Drops)
	}
}

// TestMidStream: a capture that starts mid-connection (Gap(-1)) in the
// middle of a message: the tail is skipped (DropResync) and the next
// messages decode.
func TestMidStream(t *testing.T) {
	prev := findReq(1)
	tail := prev[25:]
	s := run(t, nil, []step{
		gapStep(c2s, -1, ms),
		data(c2s, ms, tail, findReq(2)),
		gapStep(s2c, -1, ms),
		data(s2c, 2*ms, findReply(9, 2, 2)),
	}, 3*ms)
	if len(s.Txs) != 1 || field(s.Txs[0], FieldRequestID) != "2" || s.Txs[0].Outcome != l7.OutcomeOK {
		t.Fatalf("%+v", s.Txs)
	}
	if s.Drops[l7.DropResync] != len(tail) {
		t.Errorf("resync drops %d, want %d", s.Drops[l7.DropResync], len(tail))
	}
	// Garbage between messages is skipped the same way.
	junk := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	s = run(t, nil, []step{data(c2s, ms, findReq(1), junk, findReq(2)), data(s2c, ms, findReply(5, 1, 0), findReply(6, 2, 0))}, 2*ms)
	if len(s.Txs) != 2 || s.Drops[l7.DropResync] != len(junk) {
		t.Errorf("junk: %d txs, drops %v", len(s.Txs), s.Drops)
	}
}

// TestLongMessage: a reply longer than MaxMessage is decoded from its
// first bytes and the rest is counted, not buffered.
func TestLongMessage(t *testing.T) {
	var batch A
	for i := 0; i < 400; i++ {
		batch = append(batch, D{{"blob", strings.Repeat("x", 100)}})
	}
	big := opMsgBytes(20, 1, 0, D{{"cursor", D{{"firstBatch", batch}, {"id", int64(0)}}}, {"ok", 1.0}})
	if len(big) < 40000 {
		t.Fatal("reply too small")
	}
	mod := func(c *l7.Context) { c.MaxMessage = 4096 }
	for _, chunk := range []int{1000, 1460, len(big)} {
		p, s := newParser(t, mod)
		p.Data(c2s, findReq(1), ms)
		for off := 0; off < len(big); off += chunk {
			p.Data(s2c, big[off:min(off+chunk, len(big))], 2*ms)
			if held(&p.fr, s2c, 0) > 4096 || held(&p.fr, s2c, 1) > 4096 {
				t.Fatalf("held %d / head %d bytes", held(&p.fr, s2c, 0), held(&p.fr, s2c, 1))
			}
		}
		p.Data(c2s, findReq(2), 3*ms)
		p.Data(s2c, findReply(21, 2, 1), 4*ms)
		p.End(5 * ms)
		if len(s.Txs) != 2 {
			t.Fatalf("chunk %d: %d transactions", chunk, len(s.Txs))
		}
		tx := s.Txs[0]
		// Delivered in one piece, the reply is decoded whole without
		// being copied; in pieces, from its first MaxMessage bytes.
		whole := chunk == len(big)
		if tx.RespBytes != int64(len(big)) || (tx.Flags&l7.FlagTruncated == 0) == !whole || tx.Outcome != l7.OutcomeOK || tx.Latency() != ms {
			t.Errorf("chunk %d: %+v", chunk, tx)
		}
		if whole && field(tx, FieldDocuments) != "400" {
			t.Errorf("whole: documents %s", field(tx, FieldDocuments))
		}
		if s.Txs[1].Outcome != l7.OutcomeOK || field(s.Txs[1], FieldDocuments) != "1" {
			t.Errorf("chunk %d: next %+v", chunk, s.Txs[1])
		}
		if s.Drops != [l7.NumDropReasons]int{} {
			t.Errorf("chunk %d: drops %v", chunk, s.Drops)
		}
	}
}

func TestEndWithPartial(t *testing.T) {
	req := findReq(1)
	s := run(t, nil, []step{data(c2s, ms, findReq(5), req[:30])}, 2*ms)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeNoResponse {
		t.Fatalf("%+v", s.Txs)
	}
	if s.Drops[l7.DropOther] != 30 {
		t.Errorf("drops %v", s.Drops)
	}
}

func TestDetect(t *testing.T) {
	yes := [][]byte{
		findReq(1), findReply(2, 1, 1),
		opQueryBytes(0, "admin.$cmd", D{{"isMaster", 1}}),
		opReplyBytes(1, 0, 8, D{{"ok", 1.0}}),
		opMsgBytes(1, 0, 0, D{{"insert", "c"}, {"$db", "d"}}, "documents", []D{{{"a", 1}}}),
	}
	for i, m := range yes {
		if v := Detect(m, c2s, 27017); v != l7.Yes {
			t.Errorf("%d: %v on a whole message", i, v)
		}
		if v := Detect(m[:20], c2s, 27017); v != l7.NeedMore {
			t.Errorf("%d: %v on 20 bytes", i, v)
		}
	}
	no := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x01\x02\x03\x04\x05\x06\x07\x08"),
		hdr(1, 0, 9999, make([]byte, 20)),                           // unknown opcode
		hdr(1, 0, opMsg, append([]byte{0, 0, 0, 0, 7}, 1, 2, 3, 4)), // bad section kind
		hdr(1, 0, opMsg, []byte{4, 0, 0, 0, 0, 5, 0, 0, 0, 0}),      // unknown required flag bit
		hdr(1, 0, opReply, append([]byte{0xcf, 0xa8, 0xe0, 0x8f}, make([]byte, 16)...)),
	}
	for i, m := range no {
		if v := Detect(m, c2s, 27017); v != l7.No {
			t.Errorf("no %d: %v", i, v)
		}
	}
}
