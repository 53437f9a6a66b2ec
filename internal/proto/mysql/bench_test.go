package mysql

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

type nopSink struct{ n int }

func (s *nopSink) Transaction(*l7.Transaction) { s.n++ }
func (s *nopSink) Drop(l7.DropReason, int)     {}
func (s *nopSink) Stop()                       {}

// BenchmarkOLTP: a sysbench/pgbench-like mix on one connection: a point
// SELECT with one row, an UPDATE, an INSERT, and a prepared SELECT
// executed, each request and response in its own Data call.
func BenchmarkOLTP(b *testing.B) {
	sink := &nopSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := newParser(ctx)
	ts := int64(1)
	for _, st := range sessionClassic()[:3] {
		p.Data(st.dir, st.b, ts)
	}
	p.Data(c2s, pkt(0, s("\x16SELECT c FROM sbtest1 WHERE id=?")), ts)
	p.Data(s2c, bytes.Join([][]byte{pkt(1, []byte{0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}), colDef(2, "?"), eofPkt(3, 2), colDef(4, "c"), eofPkt(5, 2)}, nil), ts)
	steps := []step{
		cs(pkt(0, s("\x03SELECT c FROM sbtest1 WHERE id=5021"))),
		sc(pkt(1, []byte{1}), colDef(2, "c"), eofPkt(3, 0x22), row(4, "83868641912-28773972837-60736120486-75162659906"), eofPkt(5, 0x22)),
		cs(pkt(0, s("\x03UPDATE sbtest1 SET k=k+1 WHERE id=4974"))),
		sc(okPkt(1, 1, 0, 0x22)),
		cs(pkt(0, s("\x03INSERT INTO sbtest1 (id, k, c, pad) VALUES (5018, 4991, '0-1', '2-3')"))),
		sc(okPkt(1, 1, 0, 0x22)),
		cs(pkt(0, []byte{comStmtExecute, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 0x9d, 0x13, 0, 0})),
		sc(pkt(1, []byte{1}), colDef(2, "c"), eofPkt(3, 0x22), row(4, "\x0083868641912"), eofPkt(5, 0x22)),
	}
	n := 0
	for _, st := range steps {
		n += len(st.b)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, st := range steps {
			ts += 1000
			p.Data(st.dir, st.b, ts)
		}
	}
	if sink.n == 0 {
		b.Fatal("no transactions")
	}
}
