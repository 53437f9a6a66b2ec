package mongodb

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// nopSink counts what it gets and keeps nothing (the probe's sinks copy
// what they keep; the parser's own cost is what is measured).
type nopSink struct{ txs, drops int }

func (s *nopSink) Transaction(*l7.Transaction) { s.txs++ }
func (s *nopSink) Drop(l7.DropReason, int)     { s.drops++ }
func (s *nopSink) Stop()                       {}

// BenchmarkParse: request/reply pairs through Data, in steady state
// (parser warmed up). Each op is one transaction; bytes are both messages.
func BenchmarkParse(b *testing.B) {
	hello := opQueryBytes(0, "admin.$cmd", D{{"isMaster", 1}, {"client", D{{"application", D{{"name", "MongoDB Shell"}}},
		{"driver", D{{"name", "MongoDB Internal Client"}, {"version", "4.4.25"}}},
		{"os", D{{"type", "Linux"}, {"name", "CentOS Linux release 7.9.2009 (Core)"}, {"architecture", "x86_64"}}}}}})
	cases := []struct {
		name     string
		req, rep []byte
		split    bool
	}{
		{"find", findReq(1), findReply(2, 1, 3), false},
		{"find-split", findReq(1), findReply(2, 1, 3), true},
		{"error", opMsgBytes(1, 0, 0, D{{"replSetGetStatus", 1.0}, {"$db", "admin"}}),
			opMsgBytes(2, 1, 0, D{{"ok", 0.0}, {"errmsg", "not running with --replSet"}, {"code", 76}, {"codeName", "NoReplicationEnabled"}}), false},
		{"legacy-hello", hello, opReplyBytes(2, 0, 8, D{{"ismaster", true}, {"maxWireVersion", 9}, {"ok", 1.0}}), false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := &nopSink{}
			ctx := l7.DefaultConfig().Context(l7.TCP)
			ctx.Sink = s
			p := New(ctx)
			b.SetBytes(int64(len(tc.req) + len(tc.rep)))
			b.ReportAllocs()
			ts := int64(1)
			for b.Loop() {
				ts++
				if tc.split {
					h := len(tc.req) / 2
					p.Data(c2s, tc.req[:h], ts)
					p.Data(c2s, tc.req[h:], ts)
					h = len(tc.rep) / 3
					p.Data(s2c, tc.rep[:h], ts)
					p.Data(s2c, tc.rep[h:], ts)
				} else {
					p.Data(c2s, tc.req, ts)
					p.Data(s2c, tc.rep, ts)
				}
			}
			if s.txs < b.N || s.drops != 0 {
				b.Fatalf("%d transactions, %d drops for %d ops", s.txs, s.drops, b.N)
			}
		})
	}
}

func BenchmarkDetect(b *testing.B) {
	m := findReq(1)
	b.ReportAllocs()
	for b.Loop() {
		Detect(m, c2s, 27017)
	}
}
