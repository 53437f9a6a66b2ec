package http

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// fuzzSeedFiles give FuzzHTTP real connections to mutate: pipelining,
// chunked bodies, 1xx, CONNECT, a capture starting with a response,
// folded and split headers.
var fuzzSeedFiles = []string{
	"pcapplusplus/ExamplesTest/pcap_examples/http-packets2.pcap",
	"pcapplusplus/PcapExamples/one_http_stream_fin.pcap",
	"deepflow/flow_generator/http/sw8.pcap",
	"ndpi/http_connect.pcap",
	"ndpi/http_starting_with_reply.pcapng",
	"ndpi/http-lines-split.pcap",
	"ndpi/http_auth.pcap",
	"pcapplusplus/PacketExamples/HttpMalformedResponse.pcapng",
}

// checkSink checks what the parser emits as it comes and keeps a
// description of it for comparisons.
type checkSink struct {
	t       *testing.T
	keep    bool // Context.KeepCredentials
	out     strings.Builder
	bytes   int64 // sum of ReqBytes and RespBytes
	drops   int64
	byWhy   [l7.NumDropReasons]int64
	stopped int
}

// String describes what the sink got: the transactions and the stop in
// order, the drops summed by reason (calls cut differently drop in
// different pieces).
func (s *checkSink) String() string {
	return fmt.Sprintf("%sdrops %v", s.out.String(), s.byWhy)
}

func (s *checkSink) Transaction(tx *l7.Transaction) {
	t := s.t
	fmt.Fprintln(&s.out, describe(tx))
	s.bytes += tx.ReqBytes + tx.RespBytes
	if s.stopped > 0 {
		t.Fatalf("transaction after Stop: %s", describe(tx))
	}
	hasReq, hasResp := len(tx.Op) > 0, len(tx.Status) > 0
	switch tx.Outcome {
	case l7.OutcomeNoResponse:
		if !hasReq || hasResp || tx.RespTS != 0 || tx.RespBytes != 0 {
			t.Fatalf("no_response: %s", describe(tx))
		}
	case l7.OutcomeNoRequest:
		if hasReq || !hasResp || tx.ReqTS != 0 || tx.ReqBytes != 0 {
			t.Fatalf("no_request: %s", describe(tx))
		}
	case l7.OutcomeOK, l7.OutcomeClientError, l7.OutcomeServerError:
		if !hasReq || !hasResp {
			t.Fatalf("%v: %s", tx.Outcome, describe(tx))
		}
	default:
		t.Fatalf("outcome %v", tx.Outcome)
	}
	if hasResp {
		st := tx.Status
		if len(st) != 3 || st[0] < '0' || st[0] > '9' || st[1] < '0' || st[1] > '9' || st[2] < '0' || st[2] > '9' {
			t.Fatalf("status %q", st)
		}
		if hasReq && tx.Outcome != outcome(int(st[0]-'0')*100+int(st[1]-'0')*10+int(st[2]-'0')) {
			t.Fatalf("outcome %v for %s", tx.Outcome, st)
		}
	}
	if hasReq && (len(tx.Op) > maxMethod || len(tx.Target) == 0) {
		t.Fatalf("op %q target %q", tx.Op, tx.Target)
	}
	if len(tx.Target) > l7.MaxField || tx.ReqBytes < 0 || tx.RespBytes < 0 {
		t.Fatalf("%s", describe(tx))
	}
	for _, f := range tx.Fields {
		if len(f.Value) == 0 || len(f.Value) > l7.MaxField {
			t.Fatalf("field %s: %d bytes", f.Key, len(f.Value))
		}
		if f.Key == FieldRequestHeaders || f.Key == FieldResponseHeaders {
			s.credentials(tx, f.Value)
		}
	}
}

// credentials checks that a header text shows no credential unless the
// context keeps them.
func (s *checkSink) credentials(tx *l7.Transaction, text []byte) {
	if s.keep {
		return
	}
	for _, l := range bytes.Split(text, []byte("\n")) {
		c := bytes.Index(l, []byte(": "))
		if c <= 0 {
			continue
		}
		switch strings.ToLower(string(l[:c])) {
		case "cookie", "set-cookie", "authorization", "proxy-authorization", "x-api-key", "x-auth-token":
			v := l[c+2:]
			if !bytes.HasSuffix(v, l7.Redacted) && !bytes.HasPrefix(l7.Redacted, v) || tx.Flags&l7.FlagRedacted == 0 {
				// A line cut at MaxField may end inside "<redacted>".
				s.t.Fatalf("credential shown: %q", l)
			}
		}
	}
}

func (s *checkSink) Drop(r l7.DropReason, n int) {
	if r >= l7.NumDropReasons || n <= 0 {
		s.t.Fatalf("Drop(%v, %d)", r, n)
	}
	s.byWhy[r] += int64(n)
	s.drops += int64(n)
}

func (s *checkSink) Stop() {
	s.stopped++
	fmt.Fprintln(&s.out, "stop")
	if s.stopped > 1 {
		s.t.Fatal("Stop twice")
	}
}

// fuzzStep is one parser call of a fuzz run.
type fuzzStep struct {
	dir  flow.Dir
	data []byte // nil: Gap(dir, gap)
	gap  int64
	ts   int64
}

// fuzzScript cuts the two streams into calls, in an order, with gaps and
// time jumps, all chosen by the seed.
func fuzzScript(c2s, s2c []byte, seed uint64) []fuzzStep {
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	var steps []fuzzStep
	ts := int64(1e9)
	streams := [2][]byte{c2s, s2c}
	for len(streams[0])+len(streams[1]) > 0 {
		d := flow.Dir(rng.IntN(2))
		if len(streams[d]) == 0 {
			d = 1 - d
		}
		switch rng.IntN(20) {
		case 0:
			ts += 11e9 // beyond the default Timeout
		case 1:
			// A gap: the bytes it stands for leave the stream.
			n := int64(rng.IntN(64))
			if rng.IntN(4) == 0 {
				n = -1
			}
			skip := min(int(n), len(streams[d]))
			if n < 0 {
				skip = min(rng.IntN(64), len(streams[d]))
			}
			streams[d] = streams[d][skip:]
			steps = append(steps, fuzzStep{dir: d, gap: n, ts: ts})
			continue
		}
		ts += int64(rng.IntN(1e6))
		n := 1 + rng.IntN(min(len(streams[d]), 1+rng.IntN(2048)))
		steps = append(steps, fuzzStep{dir: d, data: streams[d][:n], ts: ts})
		streams[d] = streams[d][n:]
	}
	return steps
}

// fuzzRun feeds steps to a new parser, checking its bounds after every
// call, and returns the sink.
func fuzzRun(t *testing.T, ctx l7.Context, steps []fuzzStep) *checkSink {
	sink := &checkSink{t: t, keep: ctx.KeepCredentials}
	ctx.Sink = sink
	p := NewParser(ctx)
	var given, gaps int64
	last := int64(0)
	for _, s := range steps {
		if s.data == nil {
			p.Gap(s.dir, s.gap, s.ts)
			gaps += max(s.gap, 0)
		} else {
			p.Data(s.dir, s.data, s.ts)
			given += int64(len(s.data))
		}
		last = s.ts
		checkBounds(t, p, ctx)
	}
	p.End(last + 1)
	// Every byte given is in a message or dropped; a message's length may
	// also count bytes a gap took from its body.
	if total := sink.bytes + sink.drops; total < given || total > given+gaps {
		t.Fatalf("given %d (gaps %d), messages %d + drops %d\n%s", given, gaps, sink.bytes, sink.drops, sink)
	}
	return sink
}

// storeBound is the most a msg's store holds: method, target, version,
// status, and the reported values that did not fit in the header text.
const storeBound = maxMethod + l7.MaxField + 8 + 3 + numValues*maxValueCopy

func checkBounds(t *testing.T, p *Parser, ctx l7.Context) {
	msgs := []*msg{p.ans}
	for i := range p.h {
		h := &p.h[i]
		if h.buf.Len() > ctx.MaxMessage || h.hdrBytes > ctx.MaxMessage {
			t.Fatalf("direction %d holds %d bytes, %d header bytes", i, h.buf.Len(), h.hdrBytes)
		}
		msgs = append(msgs, h.m)
	}
	if p.q.n > ctx.MaxPending || len(p.q.s) > ctx.MaxPending {
		t.Fatalf("%d pending in %d slots", p.q.n, len(p.q.s))
	}
	msgs = append(msgs, p.q.s...)
	for _, m := range msgs {
		if len(m.hdrs) > l7.MaxField || len(m.store) > storeBound {
			t.Fatalf("msg holds %d + %d bytes", len(m.hdrs), len(m.store))
		}
	}
}

// longestLine returns the longest run of bytes without '\n'.
func longestLine(b []byte) int {
	n := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return max(n, len(b))
		}
		n = max(n, i)
		b = b[i+1:]
	}
	return n
}

// FuzzHTTP feeds two arbitrary byte streams to a parser as the two
// directions of a connection, cut into calls, interleaved, with gaps and
// time jumps (all chosen by seed), and requires: no panic; transactions
// that are consistent (outcome, status, sizes, no credential shown);
// bounded buffers; every byte accounted; and, when each call is cut
// again in two, the same output (the parser does not depend on how the
// stream is cut), except where a request line longer than resyncTail
// straddles a cut while looking for a start line.
//
//	go test -run '^$' -fuzz FuzzHTTP -fuzztime 3m ./internal/proto/http/
func FuzzHTTP(f *testing.F) {
	if dir := corpus.Dir(); dir != "" {
		for _, rel := range fuzzSeedFiles {
			for _, c := range readStreams(f, dir+"/"+rel) {
				f.Add(c[0][:min(len(c[0]), 4096)], c[1][:min(len(c[1]), 4096)], uint64(len(c[0])))
			}
		}
	}
	for i, c := range parserCases() {
		var s [2][]byte
		for _, st := range c.steps {
			s[st.dir] = append(s[st.dir], st.data...)
		}
		f.Add(s[0], s[1], uint64(i))
	}
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, seed uint64) {
		ctx := l7.DefaultConfig().Context(l7.TCP)
		switch seed % 4 {
		case 1:
			ctx.MaxMessage, ctx.MaxPending = 512, 2
		case 2:
			ctx.KeepCredentials = true
		case 3:
			ctx.MaxPending = 1
		}
		steps := fuzzScript(c2s, s2c, seed)
		a := fuzzRun(t, ctx, steps)
		// The same calls, each cut in two (the pieces share the
		// timestamp).
		rng := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, seed))
		var cut []fuzzStep
		for _, s := range steps {
			if len(s.data) > 1 {
				k := 1 + rng.IntN(len(s.data)-1)
				first, second := s, s
				first.data, second.data = s.data[:k], s.data[k:]
				cut = append(cut, first, second)
				continue
			}
			cut = append(cut, s)
		}
		b := fuzzRun(t, ctx, cut)
		if longestLine(c2s) <= resyncTail && longestLine(s2c) <= resyncTail && a.String() != b.String() {
			t.Fatalf("output depends on the cuts:\n%s\ncut again:\n%s", a, b)
		}
	})
}
