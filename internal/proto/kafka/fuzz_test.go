package kafka

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// fuzzSeedFiles give FuzzKafka real messages to mutate.
var fuzzSeedFiles = []string{
	"deepflow/flow_generator/kafka/00-produce-v9.pcap",
	"deepflow/flow_generator/kafka/01-fetch-v12-ok.pcap",
	"deepflow/flow_generator/kafka/11-join-group-v7.pcap",
	"deepflow/flow_generator/kafka/18-api-versions-v3.pcap",
	"deepflow/flow_generator/kafka/mixed-with-unsupported.pcap",
}

// play runs calls through a parser, checking its bounds after each;
// pieces > 0 cuts every data call into pieces of that size.
func play(calls []l7test.Call, ctx func(*l7.Context), pieces int) *l7test.Sink {
	sink := &l7test.Sink{}
	c := sink.Context(l7.TCP)
	if ctx != nil {
		ctx(&c)
	}
	p := Protocol.New(c).(*parser)
	l7test.Play(p, calls, pieces, func() {
		if p.pending.Len() > p.ctx.MaxPending || len(p.expired) > p.ctx.MaxPending ||
			p.sides[0].ncarry > window || p.sides[1].ncarry > window || p.npre > window ||
			p.sides[0].w.depth > maxNest || p.sides[1].w.depth > maxNest {
			panic("state over its bounds")
		}
	})
	return sink
}

// FuzzKafka feeds arbitrary bytes both ways, cut at arbitrary points,
// with gaps, and requires: no panic, bounded state, the sink's
// invariants (checkSink), no more bytes dropped than fed, and the same
// transactions and drops however the data calls are cut.
//
//	go test -run '^$' -fuzz FuzzKafka -fuzztime 3m ./internal/proto/kafka/
func FuzzKafka(f *testing.F) {
	for _, c := range cases {
		var b []byte
		for _, st := range c.steps {
			b = append(b, st.data...)
		}
		f.Add(b[:min(len(b), 4096)], uint64(len(c.name)))
	}
	if dir := corpus.Dir(); dir != "" {
		for _, rel := range fuzzSeedFiles {
			var b []byte
			_, data := l7test.Payloads(f, dir+"/"+rel, 0)
			for _, d := range data {
				b = append(b, d...)
			}
			f.Add(b[:min(len(b), 4096)], uint64(len(b)))
		}
	}
	small := func(c *l7.Context) { c.MaxPending, c.Timeout = 2, 40 }
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		// The first bytes go client to server, so that requests come first.
		calls := l7test.ScriptWith(data, seed, l7test.ScriptOptions{MaxChunk: 160, ClientFirst: true})
		fed := 0
		for _, c := range calls {
			fed += len(c.Data)
		}
		for _, ctx := range []func(*l7.Context){nil, small} {
			sink := play(calls, ctx, 0)
			checkSink(t, sink)
			dropped := 0
			for _, n := range sink.Drops {
				dropped += n
			}
			if dropped > fed {
				t.Fatalf("%d bytes dropped of %d fed", dropped, fed)
			}
			whole := l7test.Describe(sink)
			for _, pieces := range []int{1, 5} {
				if got := l7test.Describe(play(calls, ctx, pieces)); got != whole {
					t.Fatalf("pieces of %d:\n%s\nwhole:\n%s", pieces, got, whole)
				}
			}
		}
	})
}
