package postgres

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// encode turns steps into the fuzzer's input language (l7test.Records).
func encode(steps []step) []byte {
	calls := make([]l7test.Call, len(steps))
	for i, st := range steps {
		calls[i] = l7test.Call{Dir: st.dir, Data: st.b, Gap: st.gap}
	}
	return l7test.EncodeRecords(calls)
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
		sink := &l7test.CheckingSink{TB: t, KeepCredentials: keep, Secrets: []string{FieldAuth},
			MaxOp: 64, MaxTarget: l7.MaxField, MaxStatus: 8, SizesMatchTimes: true}
		ctx := l7.DefaultConfig().Context(l7.TCP)
		ctx.Sink, ctx.KeepCredentials = sink, keep
		ctx.MaxMessage, ctx.MaxPending = 1024, 4
		p := newParser(ctx).(*parser)
		l7test.Play(p, l7test.Records(data), 0, func() { checkBounds(t, p) })
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
