package redis

import (
	"fmt"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// countSink counts what it gets and keeps nothing, like a sink that
// aggregates: the benchmark measures the parser.
type countSink struct{ txs, errs, drops int }

func (c *countSink) Transaction(t *l7.Transaction) {
	c.txs++
	if t.Outcome != l7.OutcomeOK {
		c.errs++
	}
}
func (c *countSink) Drop(l7.DropReason, int) { c.drops++ }
func (c *countSink) Stop()                   {}

// benchPairs is redis-benchmark's default mix (redis-benchmark -t
// set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,lrange,mset): the
// commands it sends and the replies Redis gives, 3-byte values.
func benchPairs() (reqs, resps []string) {
	add := func(req, resp string) { reqs, resps = append(reqs, req), append(resps, resp) }
	for i := range 4 {
		k := fmt.Sprintf("key:%012d", 1000+i)
		add(bulk("SET", k, "xxx"), "+OK\r\n")
		add(bulk("GET", k), "$3\r\nxxx\r\n")
		add(bulk("INCR", fmt.Sprintf("counter:%012d", i)), ":42\r\n")
		add(bulk("LPUSH", "mylist", "xxx"), ":47158\r\n")
		add(bulk("RPUSH", "mylist", "xxx"), ":47159\r\n")
		add(bulk("LPOP", "mylist"), "$3\r\nxxx\r\n")
		add(bulk("RPOP", "mylist"), "$3\r\nxxx\r\n")
		add(bulk("SADD", "myset", fmt.Sprintf("element:%012d", i)), ":1\r\n")
		add(bulk("HSET", "myhash", fmt.Sprintf("element:%012d", i), "xxx"), ":0\r\n")
		add(bulk("SPOP", "myset"), "$20\r\nelement:000000000063\r\n")
	}
	add(bulk("LRANGE", "mylist", "0", "9"), "*10\r\n"+repeat("$3\r\nxxx\r\n", 10))
	add(bulk("PING"), "+PONG\r\n")
	return reqs, resps
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// BenchmarkRedis: one op is one command and its reply. "single" sends
// each in its own Data call (redis-benchmark -P 1), "pipeline16" sixteen
// commands per call and their sixteen replies per call (-P 16).
func BenchmarkRedis(b *testing.B) {
	reqs, resps := benchPairs()
	n := len(reqs)
	var total int
	for i := range n {
		total += len(reqs[i]) + len(resps[i])
	}
	b.Run("single", func(b *testing.B) {
		sink := &countSink{}
		ctx := l7.DefaultConfig().Context(l7.TCP)
		ctx.Sink = sink
		p := Protocol.New(ctx)
		rq, rs := make([][]byte, n), make([][]byte, n)
		for i := range n {
			rq[i], rs[i] = []byte(reqs[i]), []byte(resps[i])
		}
		b.SetBytes(int64(total / n))
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
	b.Run("pipeline16", func(b *testing.B) {
		sink := &countSink{}
		ctx := l7.DefaultConfig().Context(l7.TCP)
		ctx.Sink = sink
		p := Protocol.New(ctx)
		var rq, rs [][]byte
		for i := 0; i+16 <= n; i += 16 {
			var a, c []byte
			for j := i; j < i+16; j++ {
				a, c = append(a, reqs[j]...), append(c, resps[j]...)
			}
			rq, rs = append(rq, a), append(rs, c)
		}
		var sz int
		for i := range rq {
			sz += len(rq[i]) + len(rs[i])
		}
		b.SetBytes(int64(sz / len(rq) / 16))
		b.ReportAllocs()
		b.ResetTimer()
		ts := int64(1)
		pairs := 0
		for i := 0; pairs < b.N; i++ {
			k := i % len(rq)
			ts += 1000
			p.Data(c2s, rq[k], ts)
			p.Data(s2c, rs[k], ts+500)
			pairs += 16
		}
		b.StopTimer()
		if sink.txs != pairs || sink.errs != 0 || sink.drops != 0 {
			b.Fatalf("%d transactions (%d not ok, %d drops) for %d pairs", sink.txs, sink.errs, sink.drops, pairs)
		}
	})
}
