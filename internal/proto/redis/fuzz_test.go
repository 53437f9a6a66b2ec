package redis

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// fuzzSeedFiles give FuzzRedis real conversations to mutate.
var fuzzSeedFiles = []string{
	"deepflow/flow_generator/redis/redis-error.pcap",
	"tcpdump/resp_2_inline.pcap",
	"tcpdump/resp_3_malicious.pcap",
	"ndpi/resp.pcap",
}

// play runs calls through a parser; pieces > 0 cuts every data call
// into pieces of that size (same timestamps).
func play(calls []l7test.Call, ctx func(*l7.Context), pieces int) (*l7test.Sink, *parser) {
	sink := &l7test.Sink{}
	c := sink.Context(l7.TCP)
	if ctx != nil {
		ctx(&c)
	}
	p := Protocol.New(c).(*parser)
	l7test.Play(p, calls, pieces, func() { checkBounds(p) })
	return sink, p
}

// checkBounds panics (failing the fuzz run) when the parser holds more
// than its limits allow.
func checkBounds(p *parser) {
	for i := range p.sides {
		s := &p.sides[i]
		if s.split.Len() > p.lineCap || s.ncarry > carryMax || s.depth > maxDepth || s.depth < 0 {
			panic("side over its bounds")
		}
	}
	if p.pending.Len() > p.ctx.MaxPending || len(p.free) > p.ctx.MaxPending+1 || p.owed > p.ctx.MaxPending {
		panic("pending over its bound")
	}
	if len(p.req.text) > maxText+len(l7.Redacted) || len(p.errBuf) > l7.MaxField || len(p.el) > 3*maxElem {
		panic("capture over its bound")
	}
}

// FuzzRedis feeds arbitrary bytes both ways, cut at arbitrary points,
// with gaps, and requires: no panic, bounded state, the sink's
// invariants (checkSink), no more bytes accounted than fed, and the same
// transactions and drops however the data calls are cut.
//
//	go test -run '^$' -fuzz FuzzRedis -fuzztime 3m ./internal/proto/redis/
func FuzzRedis(f *testing.F) {
	for _, c := range cases {
		var b []byte
		for _, st := range c.steps {
			b = append(b, st.data...)
		}
		f.Add(b, uint64(len(c.name)))
	}
	if dir := corpus.Dir(); dir != "" {
		for _, rel := range fuzzSeedFiles {
			_, data := l7test.Payloads(f, dir+"/"+rel, 6379)
			var b []byte
			for _, d := range data {
				b = append(b, d[:min(len(d), 512)]...)
			}
			f.Add(b[:min(len(b), 4096)], uint64(len(b)))
		}
	}
	small := func(c *l7.Context) { c.MaxMessage, c.MaxPending, c.Timeout = 512, 3, 50 }
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		calls := l7test.Script(data, seed)
		var fed, holes int
		for _, c := range calls {
			fed += len(c.Data)
			holes += int(max(c.Gap, 0))
		}
		for _, ctx := range []func(*l7.Context){nil, small} {
			sink, _ := play(calls, ctx, 0)
			checkSink(t, sink)
			dropped := 0
			for _, n := range sink.Drops {
				dropped += n
			}
			if dropped > fed {
				t.Fatalf("%d bytes dropped of %d fed", dropped, fed)
			}
			var accounted int64
			for _, tx := range sink.Txs {
				accounted += tx.ReqBytes + tx.RespBytes
			}
			// Message sizes are lengths on the wire: they include the
			// holes skipped inside a bulk payload.
			if accounted+int64(dropped) > int64(fed+holes) {
				t.Fatalf("%d bytes in transactions + %d dropped > %d fed + %d in holes", accounted, dropped, fed, holes)
			}
			whole := l7test.Describe(sink)
			for _, pieces := range []int{1, 3} {
				s, _ := play(calls, ctx, pieces)
				if got := l7test.Describe(s); got != whole {
					t.Fatalf("pieces of %d:\n%s\nwhole:\n%s", pieces, got, whole)
				}
			}
		}
	})
}
