package postgres

import (
	"bytes"
	"encoding/binary"
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

type step struct {
	dir flow.Dir
	b   []byte
	gap int64
}

func cs(b ...[]byte) step { return step{dir: c2s, b: bytes.Join(b, nil)} }
func sc(b ...[]byte) step { return step{dir: s2c, b: bytes.Join(b, nil)} }

func s(x string) []byte { return []byte(x) }

// msg frames a typed message.
func msg(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(b)))
	return append(out, b...)
}

func cstring(x string) []byte { return append([]byte(x), 0) }

func i16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }

func i32(v int) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// startupMsg: StartupMessage for protocol 3.0 with key/value pairs.
func startupMsg(kv ...string) []byte {
	b := i32(codeProtocol3)
	for _, x := range kv {
		b = append(b, cstring(x)...)
	}
	b = append(b, 0)
	return append(i32(4+len(b)), b...)
}

func query(q string) []byte { return msg('Q', cstring(q)) }

func parse(name, q string) []byte { return msg('P', cstring(name), cstring(q), i16(0)) }

func bind(portal, stmt string, params ...string) []byte {
	b := append(cstring(portal), cstring(stmt)...)
	b = append(b, i16(0)...)
	b = append(b, i16(len(params))...)
	for _, p := range params {
		b = append(b, i32(len(p))...)
		b = append(b, p...)
	}
	return msg('B', b, i16(0))
}

func describeP(portal string) []byte { return msg('D', s("P"), cstring(portal)) }
func execute(portal string) []byte   { return msg('E', cstring(portal), i32(0)) }
func sync() []byte                   { return msg('S') }

func rowDesc(cols ...string) []byte {
	b := i16(len(cols))
	for _, c := range cols {
		b = append(b, cstring(c)...)
		b = append(b, make([]byte, 18)...)
	}
	return msg('T', b)
}

func dataRow(vals ...string) []byte {
	b := i16(len(vals))
	for _, v := range vals {
		b = append(b, i32(len(v))...)
		b = append(b, v...)
	}
	return msg('D', b)
}

func complete(tag string) []byte { return msg('C', cstring(tag)) }
func ready(st byte) []byte       { return msg('Z', []byte{st}) }

func errResp(sev, code, m string) []byte {
	return msg('E', s("S"), cstring(sev), s("V"), cstring(sev), s("C"), cstring(code), s("M"), cstring(m), []byte{0})
}

func play(t testing.TB, steps []step, mod func(*l7.Context)) *l7test.Sink {
	t.Helper()
	sink := &l7test.Sink{}
	ctx := sink.Context(l7.TCP)
	if mod != nil {
		mod(&ctx)
	}
	p := newParser(ctx)
	ts := int64(0)
	for _, st := range steps {
		ts += 1000
		if st.b == nil {
			p.Gap(st.dir, st.gap, ts)
			continue
		}
		p.Data(st.dir, st.b, ts)
	}
	p.End(ts + 1000)
	return sink
}

func describe(txs []*l7.Transaction) string {
	var b strings.Builder
	for _, x := range txs {
		fmt.Fprintf(&b, "%s|%q|%s|%s|req=%d|resp=%d|flags=%d", x.Op, x.Target, x.Status, x.Outcome, x.ReqBytes, x.RespBytes, x.Flags)
		for _, f := range x.Fields {
			fmt.Fprintf(&b, " %s=%q", f.Key, f.Value)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkSplits(t *testing.T, steps []step, mod func(*l7.Context)) {
	t.Helper()
	want := describe(play(t, steps, mod).Txs)
	for i, st := range steps {
		for _, k := range splitPoints(len(st.b)) {
			var out []step
			out = append(out, steps[:i]...)
			out = append(out, step{dir: st.dir, b: st.b[:k]}, step{dir: st.dir, b: st.b[k:]})
			out = append(out, steps[i+1:]...)
			if d := describe(play(t, out, mod).Txs); d != want {
				t.Fatalf("step %d split at %d:\n got %s\nwant %s", i, k, d, want)
			}
		}
	}
}

func field(x *l7.Transaction, k string) string { return string(x.Field(k)) }

// splitPoints: every cut of a short step; of a long one, the first and
// last 64 bytes and every 61st in between (each run replays everything).
func splitPoints(n int) []int {
	var ks []int
	for k := 1; k < n; k++ {
		if n <= 600 || k <= 64 || k >= n-64 || k%61 == 0 {
			ks = append(ks, k)
		}
	}
	return ks
}
