package kafka

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

type countSink struct{ txs, errs, drops int }

func (c *countSink) Transaction(t *l7.Transaction) {
	c.txs++
	if t.Outcome != l7.OutcomeOK {
		c.errs++
	}
}
func (c *countSink) Drop(l7.DropReason, int) { c.drops++ }
func (c *countSink) Stop()                   {}

// BenchmarkKafka: one op is one request and its response, each in one
// Data call. "produce" is a Produce v9 of one topic and partition with a
// 1 KiB record batch, "fetch" a Fetch v12 whose response carries 16 KiB
// of records in each of two partitions (skipped by counting), "heartbeat"
// a Heartbeat v4.
func BenchmarkKafka(b *testing.B) {
	for _, bc := range []struct {
		name      string
		req, resp func(corr int32) []byte
	}{
		{"produce",
			func(c int32) []byte {
				return req(0, 9, c, "console-producer", func(e *enc) {
					e.str("\x00null")
					e.i16(1)
					e.i32(1500)
					e.arr(1, func(int) {
						e.str("orders")
						e.arr(1, func(int) { e.i32(0); e.bytes(1024); e.tags() })
						e.tags()
					})
					e.tags()
				})
			},
			func(c int32) []byte { return resp(0, 9, c, produceResp(9, "orders", 0)) }},
		{"fetch",
			func(c int32) []byte { return req(1, 12, c, "consumer-1", fetchReq(12, "orders", 0, 1)) },
			func(c int32) []byte { return resp(1, 12, c, fetchResp(12, 16<<10, 0, 0, 0)) }},
		{"heartbeat",
			func(c int32) []byte { return req(12, 4, c, "consumer-1", group("g")) },
			func(c int32) []byte { return resp(12, 4, c, func(e *enc) { e.i32(0); e.i16(0) }) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 64
			var rq, rs [n][]byte
			for i := range n {
				rq[i], rs[i] = bc.req(int32(i)), bc.resp(int32(i))
			}
			sink := &countSink{}
			ctx := l7.DefaultConfig().Context(l7.TCP)
			ctx.Sink = sink
			p := Protocol.New(ctx)
			b.SetBytes(int64(len(rq[0]) + len(rs[0])))
			b.ReportAllocs()
			b.ResetTimer()
			ts := int64(1)
			for i := range b.N {
				k := i % n
				ts += 1000
				p.Data(c2s, rq[k], ts)
				p.Data(s2c, rs[k], ts+500)
			}
			b.StopTimer()
			if sink.txs != b.N || sink.errs != 0 || sink.drops != 0 {
				b.Fatalf("%d transactions (%d not ok, %d drops) for %d pairs", sink.txs, sink.errs, sink.drops, b.N)
			}
		})
	}
}
