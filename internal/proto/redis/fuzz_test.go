package redis

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// payloads returns the TCP payloads of a capture in order, with their
// direction relative to port (the server's).
func payloads(tb testing.TB, path string, port uint16) (dirs []flow.Dir, data [][]byte) {
	tb.Helper()
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dec := decode.New(decode.DefaultConfig())
	var pkt decode.Packet
	for {
		fr, err := src.Next()
		if err != nil {
			break
		}
		if dec.Decode(uint16(fr.LinkType), fr.Data, fr.WireLen, fr.Timestamp, &pkt) != decode.StatusOK ||
			pkt.Proto != decode.ProtoTCP || len(pkt.Payload) == 0 {
			continue
		}
		d := flow.ClientToServer
		if pkt.SrcPort == port {
			d = flow.ServerToClient
		} else if pkt.DstPort != port {
			continue
		}
		dirs = append(dirs, d)
		data = append(data, append([]byte(nil), pkt.Payload...))
	}
	return dirs, data
}

// fuzzSeedFiles give FuzzRedis real conversations to mutate.
var fuzzSeedFiles = []string{
	"deepflow/flow_generator/redis/redis-error.pcap",
	"tcpdump/resp_2_inline.pcap",
	"tcpdump/resp_3_malicious.pcap",
	"ndpi/resp.pcap",
}

// rng is a small deterministic generator for the fuzz scripts.
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

// script turns fuzz input into parser calls: data is cut into chunks,
// each sent one way or the other, with gaps sprinkled in; seed drives
// the choices.
type call struct {
	dir  flow.Dir
	data []byte
	gap  int64
}

func script(data []byte, seed uint64) []call {
	r := rng(seed | 1)
	var calls []call
	for len(data) > 0 {
		switch r.next(16) {
		case 0:
			calls = append(calls, call{dir: flow.Dir(r.next(2)), gap: -1})
		case 1:
			calls = append(calls, call{dir: flow.Dir(r.next(2)), gap: int64(r.next(64) + 1)})
		}
		n := min(len(data), r.next(96)+1)
		calls = append(calls, call{dir: flow.Dir(r.next(2)), data: data[:n]})
		data = data[n:]
	}
	return calls
}

// play runs calls through a parser; pieces > 0 cuts every data call
// into pieces of that size (same timestamps).
func play(calls []call, ctx func(*l7.Context), pieces int) (*l7test.Sink, *parser) {
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
		checkBounds(p)
	}
	p.End(ts + 1)
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
			_, data := payloads(f, dir+"/"+rel, 6379)
			var b []byte
			for _, d := range data {
				b = append(b, d[:min(len(d), 512)]...)
			}
			f.Add(b[:min(len(b), 4096)], uint64(len(b)))
		}
	}
	small := func(c *l7.Context) { c.MaxMessage, c.MaxPending, c.Timeout = 512, 3, 50 }
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		calls := script(data, seed)
		var fed, holes int
		for _, c := range calls {
			fed += len(c.data)
			holes += int(max(c.gap, 0))
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
			whole := describe(sink)
			for _, pieces := range []int{1, 3} {
				s, _ := play(calls, ctx, pieces)
				if got := describe(s); got != whole {
					t.Fatalf("pieces of %d:\n%s\nwhole:\n%s", pieces, got, whole)
				}
			}
		}
	})
}
