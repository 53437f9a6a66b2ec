package postgres

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// checkSink checks every transaction as it comes (its slices are only
// valid during the call).
type checkSink struct {
	t    *testing.T
	keep bool
	n    int
}

func (s *checkSink) Transaction(x *l7.Transaction) {
	s.n++
	t := s.t
	if x.Outcome > l7.OutcomeOneWay {
		t.Fatalf("outcome %d", x.Outcome)
	}
	if len(x.Target) > l7.MaxField || len(x.Op) > 64 || len(x.Status) > 8 {
		t.Fatalf("oversized op/target/status: %d %d %d", len(x.Op), len(x.Target), len(x.Status))
	}
	if x.Outcome == l7.OutcomeNoResponse && (x.RespTS != 0 || x.ReqTS == 0) {
		t.Fatalf("no_response with RespTS %d ReqTS %d", x.RespTS, x.ReqTS)
	}
	if x.Outcome == l7.OutcomeNoRequest && (x.ReqTS != 0 || x.RespTS == 0) {
		t.Fatalf("no_request with ReqTS %d RespTS %d", x.ReqTS, x.RespTS)
	}
	if x.ReqTS != 0 && x.RespTS != 0 && x.RespTS < x.ReqTS {
		t.Fatalf("response before request: %d < %d", x.RespTS, x.ReqTS)
	}
	if x.ReqBytes < 0 || x.RespBytes < 0 || (x.ReqTS != 0) != (x.ReqBytes > 0) {
		t.Fatalf("bytes %d/%d with ReqTS %d", x.ReqBytes, x.RespBytes, x.ReqTS)
	}
	for _, f := range x.Fields {
		if len(f.Value) > l7.MaxField {
			t.Fatalf("field %s: %d bytes", f.Key, len(f.Value))
		}
		if f.Key == FieldAuth && !s.keep && !bytes.Equal(f.Value, l7.Redacted) {
			t.Fatalf("auth not redacted: %q", f.Value)
		}
	}
	if x.Field(FieldAuth) != nil && !s.keep && x.Flags&l7.FlagRedacted == 0 {
		t.Fatalf("redacted auth without FlagRedacted")
	}
}

func (s *checkSink) Drop(r l7.DropReason, n int) {
	if r >= l7.NumDropReasons || n < 0 {
		s.t.Fatalf("drop %d %d", r, n)
	}
}

func (s *checkSink) Stop() {}

// encode turns steps into the fuzzer's input language (see FuzzPostgres).
func encode(steps []step) []byte {
	var out []byte
	for _, st := range steps {
		if st.b == nil {
			out = append(out, 0x80|byte(st.dir), 0)
			continue
		}
		for b := st.b; len(b) > 0; {
			n := min(len(b), 255)
			out = append(out, byte(st.dir), byte(n))
			out = append(out, b[:n]...)
			b = b[n:]
		}
	}
	return out
}

// FuzzPostgres feeds both directions with arbitrary bytes cut at arbitrary
// points, with gaps, then ends the flow. The input is a list of records:
// a control byte (bit 0: direction; bit 7: a gap of the next byte's
// size, -1 when 0; else a Data call of the next byte's count of bytes).
// Seeds are the test sessions, built like real traffic.
func FuzzPostgres(f *testing.F) {
	for _, s := range [][]step{sessionSimple(), sessionExtended()} {
		f.Add(encode(s), false)
	}
	f.Add(encode([]step{{dir: c2s, gap: -1}, {dir: s2c, gap: -1}, cs(query("SELECT 1")), sc(complete("SELECT 1"), ready('I'))}), true)
	f.Add(encode([]step{cs(i32(8), i32(codeSSL)), sc(s("N")), cs(startupMsg("user", "u")), sc(errResp("FATAL", "28P01", "password authentication failed"))}), false)
	f.Fuzz(func(t *testing.T, data []byte, keep bool) {
		sink := &checkSink{t: t, keep: keep}
		ctx := l7.DefaultConfig().Context(l7.TCP)
		ctx.Sink, ctx.KeepCredentials = sink, keep
		ctx.MaxMessage, ctx.MaxPending = 1024, 4
		p := newParser(ctx).(*parser)
		ts := int64(1)
		for len(data) >= 2 {
			c, n := data[0], int(data[1])
			data = data[2:]
			dir := flow.Dir(c & 1)
			ts += int64(c) * 1e6
			if c&0x80 != 0 {
				g := int64(n)
				if g == 0 {
					g = -1
				}
				p.Gap(dir, g, ts)
				continue
			}
			n = min(n, len(data))
			p.Data(dir, data[:n], ts)
			data = data[n:]
			checkBounds(t, p)
		}
		p.End(ts + 1)
	})
}

// checkBounds: what the parser holds stays within its limits.
func checkBounds(t *testing.T, p *parser) {
	for i := range p.dirs {
		d := &p.dirs[i]
		if d.f.buf.Len() > d.f.max {
			t.Fatalf("buffer %d over its limit", d.f.buf.Len())
		}
	}
	if p.pending.Len() > p.ctx.MaxPending || len(p.stmts) > maxStmts || len(p.free) > 8 {
		t.Fatalf("pending %d stmts %d free %d", p.pending.Len(), len(p.stmts), len(p.free))
	}
	total := 0
	for _, s := range p.stmts {
		total += len(s.sql)
	}
	if total > p.ctx.MaxMessage {
		t.Fatalf("statements hold %d bytes", total)
	}
	if len(p.login.authData) > maxErr || len(p.resp.tag) > maxTag || len(p.resp.err.msg) > maxErr || len(p.lastErr.msg) > maxErr {
		t.Fatalf("login/resp buffers over limits")
	}
}
