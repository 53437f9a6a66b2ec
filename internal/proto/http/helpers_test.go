package http

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
)

// step is one call to the parser.
type step struct {
	dir  flow.Dir
	data string
	gap  int64 // with data == "": Gap(dir, gap)
	ts   int64 // 0: the previous step's ts + 1ms
}

func send(d flow.Dir, s string) step { return step{dir: d, data: s} }
func req(s string) step              { return send(c2s, s) }
func resp(s string) step             { return send(s2c, s) }
func gap(d flow.Dir, n int64) step   { return step{dir: d, gap: n} }
func at(ts int64, s step) step       { s.ts = ts; return s }
func ms(n int64) int64               { return n * 1e6 }
func crlf(lines ...string) string    { return strings.Join(lines, "\r\n") + "\r\n\r\n" }
func lf(lines ...string) string      { return strings.Join(lines, "\n") + "\n\n" }

// run feeds steps to a new parser (ctx nil: the Tracker's defaults) and
// ends it 1ms after the last step.
func run(ctx func(*l7test.Sink) l7.Context, steps []step) *l7test.Sink {
	sink := &l7test.Sink{}
	c := sink.Context(l7.TCP)
	if ctx != nil {
		c = ctx(sink)
	}
	p := New(c)
	ts := int64(1e9)
	for _, s := range steps {
		if s.ts != 0 {
			ts = s.ts
		} else {
			ts += ms(1)
		}
		if s.data == "" {
			p.Gap(s.dir, s.gap, ts)
			continue
		}
		p.Data(s.dir, []byte(s.data), ts)
	}
	p.End(ts + ms(1))
	return sink
}

// splitSteps returns steps with data step i cut at byte k into two calls
// with the same timestamp (ok false when there is no such cut).
func splitSteps(steps []step, i, k int) ([]step, bool) {
	s := steps[i]
	if s.data == "" || k <= 0 || k >= len(s.data) {
		return nil, false
	}
	out := make([]step, 0, len(steps)+1)
	out = append(out, steps[:i]...)
	first, second := s, s
	first.data, second.data = s.data[:k], s.data[k:]
	out = append(out, first)
	// Same timestamp for the second piece: ts semantics stay equal.
	ts := s.ts
	if ts == 0 {
		ts = stepTS(steps, i)
		first.ts = ts
		out[len(out)-1] = first
	}
	second.ts = ts
	out = append(out, second)
	// The steps after keep their own timestamps.
	for j := i + 1; j < len(steps); j++ {
		t := steps[j]
		if t.ts == 0 {
			t.ts = stepTS(steps, j)
		}
		out = append(out, t)
	}
	return out, true
}

// stepTS is the timestamp run gives step i.
func stepTS(steps []step, i int) int64 {
	ts := int64(1e9)
	for j := 0; j <= i; j++ {
		if steps[j].ts != 0 {
			ts = steps[j].ts
		} else {
			ts += ms(1)
		}
	}
	return ts
}

// describe renders a transaction for comparisons and failure messages.
func describe(t *l7.Transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q %v req=%d/%d resp=%d/%d flags=%b", t.Op, t.Target, t.Status, t.Outcome,
		t.ReqTS, t.ReqBytes, t.RespTS, t.RespBytes, t.Flags)
	for _, f := range t.Fields {
		fmt.Fprintf(&b, " %s=%q", f.Key, f.Value)
	}
	return b.String()
}

func describeAll(s *l7test.Sink) string {
	var b strings.Builder
	for _, t := range s.Txs {
		b.WriteString(describe(t))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "drops %v stopped %v", s.Drops, s.Stopped)
	return b.String()
}

// want is what a test expects of one transaction. Fields lists only the
// fields checked ("" value: must be absent).
type want struct {
	op, target, status string
	outcome            l7.Outcome
	reqBytes           int64
	respBytes          int64
	flags              l7.Flags
	fields             map[string]string
}

func check(t *testing.T, got *l7.Transaction, w want) {
	t.Helper()
	if string(got.Op) != w.op || string(got.Target) != w.target || string(got.Status) != w.status ||
		got.Outcome != w.outcome || got.ReqBytes != w.reqBytes || got.RespBytes != w.respBytes || got.Flags != w.flags {
		t.Errorf("got  %s\nwant %q %q %q %v reqBytes=%d respBytes=%d flags=%b", describe(got),
			w.op, w.target, w.status, w.outcome, w.reqBytes, w.respBytes, w.flags)
	}
	for k, v := range w.fields {
		if g := string(got.Field(k)); g != v {
			t.Errorf("field %s = %q, want %q (%s)", k, g, v, describe(got))
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
