package redis

import (
	"fmt"
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

// step is one call to the parser: data in a direction, a gap, or (at
// the end of a script) End.
type step struct {
	dir  flow.Dir
	data string
	gap  int64 // a Gap call when data is empty and gap != 0
	ts   int64
}

func cli(s string) step { return step{dir: c2s, data: s} }
func srv(s string) step { return step{dir: s2c, data: s} }

// run feeds a script to a fresh parser, each data step cut in pieces of
// at most piece bytes (0: whole), and returns what the sink got.
func run(t testing.TB, steps []step, piece int, tweak ...func(*l7.Context)) *l7test.Sink {
	t.Helper()
	sink := &l7test.Sink{}
	ctx := sink.Context(l7.TCP)
	for _, f := range tweak {
		f(&ctx)
	}
	p := Protocol.New(ctx)
	ts := int64(1000)
	for _, st := range steps {
		if st.ts != 0 {
			ts = st.ts
		} else {
			ts++
		}
		if st.data == "" {
			if st.gap != 0 {
				p.Gap(st.dir, st.gap, ts)
			}
			continue
		}
		b := []byte(st.data)
		for len(b) > 0 {
			n := len(b)
			if piece > 0 && n > piece {
				n = piece
			}
			p.Data(st.dir, b[:n], ts)
			b = b[n:]
		}
	}
	p.End(ts + 1)
	return sink
}

// runAt feeds the script with data step k cut at position at.
func runAt(t testing.TB, steps []step, k, at int, tweak ...func(*l7.Context)) *l7test.Sink {
	t.Helper()
	var cut []step
	for i, st := range steps {
		if i == k && st.data != "" && at > 0 && at < len(st.data) {
			a, b := st, st
			a.data, b.data = st.data[:at], st.data[at:]
			b.ts = -1 // same ts as a: marked below
			cut = append(cut, a, b)
			continue
		}
		cut = append(cut, st)
	}
	// Keep timestamps identical to the unsplit run: give every step its
	// own explicit ts, the second half of a cut the same as the first.
	ts := int64(1000)
	for i := range cut {
		switch {
		case cut[i].ts == -1:
			cut[i].ts = ts
		case cut[i].ts != 0:
			ts = cut[i].ts
		default:
			ts++
			cut[i].ts = ts
		}
	}
	return run(t, cut, 0, tweak...)
}

// describe renders transactions and drops as text for comparisons.
// checkSink asserts what must hold for any input.
func checkSink(t testing.TB, s *l7test.Sink) {
	t.Helper()
	for i, tx := range s.Txs {
		if len(tx.Op) > maxOp {
			t.Fatalf("tx %d: op %d bytes", i, len(tx.Op))
		}
		if len(tx.Target) > maxArg {
			t.Fatalf("tx %d: target %d bytes", i, len(tx.Target))
		}
		for _, f := range tx.Fields {
			if len(f.Value) > l7.MaxField {
				t.Fatalf("tx %d: field %s %d bytes", i, f.Key, len(f.Value))
			}
			if f.Key == FieldRequest && len(f.Value) > maxText+len(l7.Redacted) {
				t.Fatalf("tx %d: request %d bytes", i, len(f.Value))
			}
		}
		if tx.ReqBytes < 0 || tx.RespBytes < 0 {
			t.Fatalf("tx %d: negative sizes %d %d", i, tx.ReqBytes, tx.RespBytes)
		}
		hasReq, hasResp := tx.ReqBytes > 0, tx.RespBytes > 0
		switch tx.Outcome {
		case l7.OutcomeOK, l7.OutcomeClientError, l7.OutcomeServerError:
			if !hasReq || !hasResp {
				t.Fatalf("tx %d: outcome %v without both sides: %+v", i, tx.Outcome, tx)
			}
		case l7.OutcomeNoResponse:
			if !hasReq || hasResp || tx.Status != nil {
				t.Fatalf("tx %d: no_response %+v", i, tx)
			}
		case l7.OutcomeNoRequest:
			if hasReq || !hasResp || tx.Op != nil {
				t.Fatalf("tx %d: no_request %+v", i, tx)
			}
		case l7.OutcomeOneWay:
			if hasReq == hasResp {
				t.Fatalf("tx %d: one_way with both or neither side %+v", i, tx)
			}
		default:
			t.Fatalf("tx %d: outcome %d", i, tx.Outcome)
		}
		if hasReq && hasResp && tx.RespTS < tx.ReqTS {
			t.Fatalf("tx %d: response before request", i)
		}
	}
	for r, n := range s.Drops {
		if n < 0 {
			t.Fatalf("drop %v negative", l7.DropReason(r))
		}
	}
}

// bulk builds a RESP array of bulk strings.
func bulk(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func bstr(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
