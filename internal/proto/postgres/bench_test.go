package postgres

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

type nopSink struct{ n int }

func (s *nopSink) Transaction(*l7.Transaction) { s.n++ }
func (s *nopSink) Drop(l7.DropReason, int)     {}
func (s *nopSink) Stop()                       {}

// pgbench's TPC-B-like script, as its messages: one transaction.
var pgbenchSQL = []string{
	"BEGIN;",
	"UPDATE pgbench_accounts SET abalance = abalance + -2316 WHERE aid = 85331;",
	"SELECT abalance FROM pgbench_accounts WHERE aid = 85331;",
	"UPDATE pgbench_tellers SET tbalance = tbalance + -2316 WHERE tid = 7;",
	"UPDATE pgbench_branches SET bbalance = bbalance + -2316 WHERE bid = 1;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 85331, -2316, CURRENT_TIMESTAMP);",
	"END;",
}

var pgbenchTags = []string{"BEGIN", "UPDATE 1", "SELECT 1", "UPDATE 1", "UPDATE 1", "INSERT 0 1", "COMMIT"}

func pgbenchResponse(i int) []byte {
	var b []byte
	if pgbenchTags[i] == "SELECT 1" {
		b = append(b, rowDesc("abalance")...)
		b = append(b, dataRow("-4632")...)
	}
	b = append(b, complete(pgbenchTags[i])...)
	return b
}

// BenchmarkSimple: pgbench -M simple, one Simple Query and its answer
// per statement, each in its own Data call as on the wire.
func BenchmarkSimple(b *testing.B) {
	var reqs, resps [][]byte
	n := 0
	for i, q := range pgbenchSQL {
		reqs = append(reqs, query(q))
		resps = append(resps, append(pgbenchResponse(i), ready('T')...))
		n += len(reqs[i]) + len(resps[i])
	}
	sink := &nopSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := newParser(ctx)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	ts := int64(1)
	for b.Loop() {
		for i := range reqs {
			ts += 1000
			p.Data(c2s, reqs[i], ts)
			p.Data(s2c, resps[i], ts+500)
		}
	}
	if sink.n == 0 {
		b.Fatal("no transactions")
	}
}

// BenchmarkPrepared: pgbench -M prepared: statements parsed once, then
// Bind/Execute/Sync per statement.
func BenchmarkPrepared(b *testing.B) {
	sink := &nopSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := newParser(ctx)
	var reqs, resps [][]byte
	n := 0
	ts := int64(1)
	for i, q := range pgbenchSQL {
		name := string(rune('A' + i))
		p.Data(c2s, bytes.Join([][]byte{parse(name, q), msg('D', s("S"), cstring(name)), sync()}, nil), ts)
		p.Data(s2c, append(msg('1'), ready('I')...), ts)
		reqs = append(reqs, bytes.Join([][]byte{bind("", name, "85331"), execute(""), sync()}, nil))
		resps = append(resps, bytes.Join([][]byte{msg('2'), pgbenchResponse(i), ready('T')}, nil))
		n += len(reqs[i]) + len(resps[i])
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for i := range reqs {
			ts += 1000
			p.Data(c2s, reqs[i], ts)
			p.Data(s2c, resps[i], ts+500)
		}
	}
}
