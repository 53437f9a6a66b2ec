package http2

import (
	"encoding/binary"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// checkSink checks every transaction as it arrives.
type checkSink struct {
	t     *testing.T
	txs   int
	drops int
}

var fieldOrder = []string{FieldAuthority, FieldPath, FieldStreamID, FieldUserAgent, FieldContentType, FieldHTTPStatus,
	FieldGRPCMessage, FieldRequestMessages, FieldResponseMessages, FieldReset, FieldRequestHeaders, FieldResponseHeaders}

func (s *checkSink) Transaction(tx *l7.Transaction) {
	t := s.t
	s.txs++
	if tx.Proto != "http2" && tx.Proto != "grpc" {
		t.Fatalf("proto %q", tx.Proto)
	}
	if tx.Outcome > l7.OutcomeOneWay || tx.Outcome == l7.OutcomeOneWay {
		t.Fatalf("outcome %v", tx.Outcome)
	}
	if tx.Outcome == l7.OutcomeNoRequest && (tx.ReqTS != 0 || tx.ReqBytes != 0) {
		t.Fatalf("no_request with a request: %s", render(tx))
	}
	if tx.Outcome == l7.OutcomeNoResponse && tx.RespTS != 0 {
		t.Fatalf("no_response with a response time: %s", render(tx))
	}
	if tx.ReqBytes < 0 || tx.RespBytes < 0 {
		t.Fatalf("negative bytes: %s", render(tx))
	}
	if len(tx.Op) > l7.MaxField || len(tx.Target) > l7.MaxField || len(tx.Status) > l7.MaxField {
		t.Fatalf("value over MaxField")
	}
	next := 0
	for _, f := range tx.Fields {
		for next < len(fieldOrder) && fieldOrder[next] != f.Key {
			next++
		}
		if next == len(fieldOrder) {
			t.Fatalf("field %q out of order or unknown: %s", f.Key, render(tx))
		}
		next++
		if f.Value == nil || len(f.Value) > l7.MaxField {
			t.Fatalf("field %s: %d bytes", f.Key, len(f.Value))
		}
	}
	if tx.Field(FieldStreamID) == nil {
		t.Fatalf("no stream id: %s", render(tx))
	}
	_ = tx.Clone() // as a keeping sink does
}

func (s *checkSink) Drop(r l7.DropReason, n int) {
	if r >= l7.NumDropReasons || n < 0 {
		s.t.Fatalf("drop %v %d", r, n)
	}
	s.drops += n
}

func (s *checkSink) Stop() {}

// checkBounds checks the parser's memory bounds.
func checkBounds(t *testing.T, p *parser) {
	t.Helper()
	for i := range p.dirs {
		d := &p.dirs[i]
		if d.buf.Len() > p.maxMsg || d.blk.Len() > p.maxMsg || d.skip < 0 {
			t.Fatalf("dir %d: held %d, block %d, skip %d (max %d)", i, d.buf.Len(), d.blk.Len(), d.skip, p.maxMsg)
		}
	}
	st := &p.streams
	if len(st.s) > p.maxPend || len(st.index) != len(st.s) || len(st.order) > 2*p.maxPend+16 {
		t.Fatalf("%d streams, %d indexed, max %d", len(st.s), len(st.index), p.maxPend)
	}
	for i := range st.s {
		s := &st.s[i]
		if len(s.vals) > maxVals || len(s.reqText) > l7.MaxField || len(s.respText) > l7.MaxField {
			t.Fatalf("stream %d: vals %d texts %d/%d", s.id, len(s.vals), len(s.reqText), len(s.respText))
		}
		if j, ok := st.index[s.id]; !ok || int(j) != i {
			t.Fatalf("stream %d not indexed at %d", s.id, i)
		}
	}
}

// FuzzHTTP2 feeds data to a parser in both directions, cut where script
// says, with gaps and End, under small or default limits, and checks that
// it does not panic, stays within its memory bounds, emits well-formed
// transactions and never counts more bytes dropped than it was given.
//
// script: byte 0 picks the limits; then 3 bytes per call: op (bit 0:
// direction; bits 1-2: 0, 1 Data, 2 Gap, 3 Gap(-1); bits 3-7: time
// step), and a 16-bit length (Data: bytes to deliver; Gap: hole size).
func FuzzHTTP2(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.data, s.script)
	}
	f.Fuzz(func(t *testing.T, data, script []byte) {
		ctx := defaultCtx()
		if len(script) > 0 {
			ctx.MaxMessage = [...]int{512, 1024, 4096, 64 << 10}[script[0]&3]
			ctx.MaxPending = [...]int{1, 3, 16, 64}[script[0]>>2&3]
			ctx.Timeout = [...]int64{1000, 1e9, 1e10, 0}[script[0]>>4&3]
			ctx.KeepCredentials = script[0]&0x40 != 0
			script = script[1:]
		}
		sink := &checkSink{t: t}
		ctx.Sink = sink
		p := New(ctx).(*parser)
		ts := int64(1)
		given := 0
		for len(script) >= 3 {
			op, n := script[0], int(binary.BigEndian.Uint16(script[1:3]))
			script = script[3:]
			dir := flow.Dir(op & 1)
			ts += int64(op >> 3)
			switch op >> 1 & 3 {
			case 0, 1:
				n = min(n, len(data))
				p.Data(dir, data[:n], ts)
				given += n
				data = data[n:]
			case 2:
				p.Gap(dir, int64(n), ts)
			case 3:
				p.Gap(dir, -1, ts)
			}
			checkBounds(t, p)
			if sink.drops > given {
				t.Fatalf("dropped %d of %d bytes", sink.drops, given)
			}
		}
		if len(data) > 0 {
			p.Data(flow.ClientToServer, data, ts)
			given += len(data)
		}
		p.End(ts + 1)
		if sink.drops > given {
			t.Fatalf("dropped %d of %d bytes", sink.drops, given)
		}
		if len(p.streams.s) != 0 || len(p.streams.index) != 0 {
			t.Fatalf("streams left after End")
		}
	})
}

type fuzzSeed struct{ data, script []byte }

// recorder is a Parser that records the calls the pipeline makes, to
// seed the fuzzer with real connections.
type recorder struct{ seed *fuzzSeed }

func (r *recorder) Data(dir flow.Dir, b []byte, ts int64) {
	r.seed.data = append(r.seed.data, b...)
	for len(b) > 0 {
		n := min(len(b), 65535)
		r.seed.script = binary.BigEndian.AppendUint16(append(r.seed.script, byte(dir)), uint16(n))
		b = b[n:]
	}
}
func (r *recorder) Gap(dir flow.Dir, n int64, ts int64) {
	if n < 0 {
		r.seed.script = append(r.seed.script, byte(dir)|6, 0, 0)
	} else {
		r.seed.script = binary.BigEndian.AppendUint16(append(r.seed.script, byte(dir)|4), uint16(min(n, 65535)))
	}
}
func (r *recorder) End(int64) {}

func fuzzSeeds(tb testing.TB) []fuzzSeed {
	var out []fuzzSeed
	// Built conversations: gRPC unary, concurrent streams with padding,
	// CONTINUATION, PUSH_PROMISE, an h2c upgrade, resets.
	c := newConv()
	c.send(c2s, 1, []byte(preface), settings(1, 4096))
	c.send(s2c, 2, settings(3, 100))
	unary(c, 1, 10, "0")
	unary(c, 3, 20, "5")
	c.send(c2s, 30, c.headers(c2s, 5, 0, grpcReq...), frame(frameRSTStream, 0, 5, u32(8)))
	c.send(s2c, 31, frame(frameGoAway, 0, 0, append(u32(5), u32(0)...)))
	out = append(out, stepsSeed(c.steps))
	blk := c.block(c2s, ":method", "GET", ":scheme", "http", ":path", "/index.html", ":authority", "example.org")
	c.steps = nil
	c.send(c2s, 40, frame(frameHeaders, flagPadded|flagEndStream, 7, append(append([]byte{2}, blk[:4]...), 0, 0)),
		frame(frameContinuation, flagEndHeaders, 7, blk[4:]))
	pp := append(u32(2), c.block(s2c, ":method", "GET", ":scheme", "http", ":path", "/s.css", ":authority", "example.org")...)
	c.send(s2c, 41, frame(framePushPromise, flagEndHeaders, 7, pp), c.headers(s2c, 7, flagEndStream, ":status", "200"),
		c.headers(s2c, 2, 0, ":status", "200"), frame(frameData, flagPadded|flagEndStream, 2, []byte{1, 'x', 0}))
	out = append(out, stepsSeed(c.steps))
	c = newConv()
	c.send(c2s, 1, []byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"))
	c.send(s2c, 2, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"), settings())
	c.send(c2s, 3, []byte(preface), settings())
	c.send(s2c, 4, c.headers(s2c, 1, flagEndStream, ":status", "200"))
	out = append(out, stepsSeed(c.steps))
	// The corpus captures, as the pipeline delivers them.
	if corpus.Dir() != "" {
		for _, rel := range []string{
			"deepflow/flow_generator/http/grpc-server-stream.pcap",
			"deepflow/flow_generator/http/grpc-unknown.pcap",
			"deepflow/flow_generator/http/http2-multi.pcap",
			"deepflow/flow_generator/http/h2c_ascii.pcap",
			"ndpi/http2.pcapng",
			"suricata-verify/http2-continuation/input.pcap",
			"suricata-verify/http2-keywords2/input.pcap",
		} {
			seed := &fuzzSeed{script: []byte{0x33}}
			rec := &l7.Protocol{Name: "rec", TCP: true, Detect: Detect, New: func(l7.Context) l7.Parser { return &recorder{seed} }}
			l7test.ReadFile(tb, corpus.Path(tb, rel), rec)
			out = append(out, *seed)
		}
	}
	return out
}

// stepsSeed turns built steps into fuzzer input (default limits).
func stepsSeed(steps []step) fuzzSeed {
	s := fuzzSeed{script: []byte{0x33}}
	for _, st := range steps {
		s.data = append(s.data, st.b...)
		s.script = binary.BigEndian.AppendUint16(append(s.script, byte(st.dir)|8), uint16(len(st.b)))
	}
	return s
}

// TestFuzzSeeds runs the seeds, and checks that they decode as they
// should (the fuzzer's starting points are real conversations).
func TestFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds(t)
	for i, s := range seeds {
		sink := &l7test.Sink{}
		ctx := defaultCtx()
		ctx.Sink = sink
		p := New(ctx)
		data, script := s.data, s.script[1:]
		for len(script) >= 3 {
			n := int(binary.BigEndian.Uint16(script[1:3]))
			switch script[0] >> 1 & 3 {
			case 0, 1:
				p.Data(flow.Dir(script[0]&1), data[:n], 1)
				data = data[n:]
			default:
				p.Gap(flow.Dir(script[0]&1), -1, 1)
			}
			script = script[3:]
		}
		p.End(2)
		if len(sink.Txs) == 0 || sink.Drops[l7.DropMalformed] != 0 {
			t.Errorf("seed %d: %s", i, renderAll(sink))
		}
	}
}
