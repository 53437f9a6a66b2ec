package kafka

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// payloads returns the TCP payloads of a capture in order.
func payloads(tb testing.TB, path string) [][]byte {
	tb.Helper()
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dec := decode.New(decode.DefaultConfig())
	var pkt decode.Packet
	var out [][]byte
	for {
		fr, err := src.Next()
		if err != nil {
			break
		}
		if dec.Decode(uint16(fr.LinkType), fr.Data, fr.WireLen, fr.Timestamp, &pkt) != decode.StatusOK ||
			pkt.Proto != decode.ProtoTCP || len(pkt.Payload) == 0 {
			continue
		}
		out = append(out, append([]byte(nil), pkt.Payload...))
	}
	return out
}

// fuzzSeedFiles give FuzzKafka real messages to mutate.
var fuzzSeedFiles = []string{
	"deepflow/flow_generator/kafka/00-produce-v9.pcap",
	"deepflow/flow_generator/kafka/01-fetch-v12-ok.pcap",
	"deepflow/flow_generator/kafka/11-join-group-v7.pcap",
	"deepflow/flow_generator/kafka/18-api-versions-v3.pcap",
	"deepflow/flow_generator/kafka/mixed-with-unsupported.pcap",
}

type rng uint64

func (r *rng) next(n int) int {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	if n <= 0 {
		return 0
	}
	return int(uint64(*r) % uint64(n))
}

type call struct {
	dir  flow.Dir
	data []byte
	gap  int64
}

// script turns fuzz input into parser calls: data is cut into chunks
// sent one way or the other, with gaps; seed drives the choices. The
// first bytes go client to server, so that requests come first.
func script(data []byte, seed uint64) []call {
	r := rng(seed | 1)
	var calls []call
	first := true
	for len(data) > 0 {
		switch r.next(16) {
		case 0:
			calls = append(calls, call{dir: flow.Dir(r.next(2)), gap: -1})
		case 1:
			calls = append(calls, call{dir: flow.Dir(r.next(2)), gap: int64(r.next(64) + 1)})
		}
		n := min(len(data), r.next(160)+1)
		d := flow.Dir(r.next(2))
		if first {
			d, first = flow.ClientToServer, false
		}
		calls = append(calls, call{dir: d, data: data[:n]})
		data = data[n:]
	}
	return calls
}

func play(calls []call, ctx func(*l7.Context), pieces int) *l7test.Sink {
	sink := &l7test.Sink{}
	c := sink.Context(l7.TCP)
	if ctx != nil {
		ctx(&c)
	}
	p := Protocol.New(c).(*parser)
	ts := int64(1)
	for _, cl := range calls {
		ts += 7
		if cl.data == nil {
			p.Gap(cl.dir, cl.gap, ts)
			continue
		}
		b := cl.data
		for len(b) > 0 {
			n := len(b)
			if pieces > 0 {
				n = min(n, pieces)
			}
			p.Data(cl.dir, b[:n], ts)
			b = b[n:]
		}
		if p.pending.Len() > p.ctx.MaxPending || len(p.expired) > p.ctx.MaxPending ||
			p.sides[0].ncarry > window || p.sides[1].ncarry > window || p.npre > window ||
			p.sides[0].w.depth > maxNest || p.sides[1].w.depth > maxNest {
			panic("state over its bounds")
		}
	}
	p.End(ts + 1)
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
			for _, d := range payloads(f, dir+"/"+rel) {
				b = append(b, d...)
			}
			f.Add(b[:min(len(b), 4096)], uint64(len(b)))
		}
	}
	small := func(c *l7.Context) { c.MaxPending, c.Timeout = 2, 40 }
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		calls := script(data, seed)
		fed := 0
		for _, c := range calls {
			fed += len(c.data)
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
			whole := describe(sink)
			for _, pieces := range []int{1, 5} {
				if got := describe(play(calls, ctx, pieces)); got != whole {
					t.Fatalf("pieces of %d:\n%s\nwhole:\n%s", pieces, got, whole)
				}
			}
		}
	})
}
