package mysql

import (
	"bytes"
	"compress/zlib"
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

// step is one Data call (gap: a Gap call of that many bytes instead).
type step struct {
	dir flow.Dir
	b   []byte
	gap int64
}

func cs(b ...[]byte) step { return step{dir: c2s, b: bytes.Join(b, nil)} }
func sc(b ...[]byte) step { return step{dir: s2c, b: bytes.Join(b, nil)} }

// pkt frames a MySQL packet.
func pkt(seq byte, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	return append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}, p...)
}

func s(x string) []byte { return []byte(x) }

func lenencStr(x string) []byte { return append([]byte{byte(len(x))}, x...) }

// okPkt: OK packet with affected rows, insert id, status, 0 warnings.
func okPkt(seq byte, affected, id byte, status uint16) []byte {
	return pkt(seq, []byte{0x00, affected, id, byte(status), byte(status >> 8), 0, 0})
}

func eofPkt(seq byte, status uint16) []byte {
	return pkt(seq, []byte{0xfe, 0, 0, byte(status), byte(status >> 8)})
}

func errPkt(seq byte, code uint16, state, msg string) []byte {
	return pkt(seq, []byte{0xff, byte(code), byte(code >> 8), '#'}, s(state), s(msg))
}

// colDef is a ColumnDefinition41 for a column named n.
func colDef(seq byte, n string) []byte {
	return pkt(seq, lenencStr("def"), lenencStr("db"), lenencStr("t"), lenencStr("t"), lenencStr(n), lenencStr(n),
		[]byte{0x0c, 0x21, 0x00, 0xff, 0, 0, 0, 0xfd, 0, 0, 0x1f, 0, 0})
}

func row(seq byte, vals ...string) []byte {
	var p []byte
	for _, v := range vals {
		p = append(p, lenencStr(v)...)
	}
	return pkt(seq, p)
}

func greetingPkt(version string, caps uint32) []byte {
	p := []byte{10}
	p = append(p, version...)
	p = append(p, 0, 1, 0, 0, 0)                // thread id
	p = append(p, s("abcdefgh")...)             // auth data 1
	p = append(p, 0, byte(caps), byte(caps>>8)) // filler, caps low
	p = append(p, 0x21, 2, 0)                   // charset, status
	p = append(p, byte(caps>>16), byte(caps>>24), 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, s("ijklmnopqrst\x00")...)
	p = append(p, s("mysql_native_password\x00")...)
	return pkt(0, p)
}

func loginPkt(seq byte, caps uint32, user, auth, db string) []byte {
	p := []byte{byte(caps), byte(caps >> 8), byte(caps >> 16), byte(caps >> 24), 0, 0, 0, 1, 0x21}
	p = append(p, make([]byte, 23)...)
	p = append(p, user...)
	p = append(p, 0, byte(len(auth)))
	p = append(p, auth...)
	if db != "" {
		p = append(p, db...)
		p = append(p, 0)
	}
	p = append(p, s("mysql_native_password\x00")...)
	return pkt(seq, p)
}

// compress wraps MySQL packets into one compressed-protocol frame.
func compress(seq byte, deflate bool, inner ...[]byte) []byte {
	p := bytes.Join(inner, nil)
	ulen := 0
	if deflate {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(p)
		w.Close()
		ulen = len(p)
		p = z.Bytes()
	}
	h := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq, byte(ulen), byte(ulen >> 8), byte(ulen >> 16)}
	return append(h, p...)
}

// play feeds the steps to a new parser, timestamps 1000, 2000, ... and
// ends the flow.
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

// playSplit is play with step i cut in two Data calls at k.
func playSplit(t testing.TB, steps []step, i, k int, mod func(*l7.Context)) *l7test.Sink {
	t.Helper()
	var out []step
	for j, st := range steps {
		if j == i && st.b != nil {
			out = append(out, step{dir: st.dir, b: st.b[:k]}, step{dir: st.dir, b: st.b[k:]})
			continue
		}
		out = append(out, st)
	}
	return play(t, out, mod)
}

// describe renders what a test compares, timestamps aside (a split adds
// calls and so moves them).
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

// checkSplits asserts that cutting any step at any point changes nothing.
func checkSplits(t *testing.T, steps []step, mod func(*l7.Context)) {
	t.Helper()
	want := describe(play(t, steps, mod).Txs)
	for i, st := range steps {
		for _, k := range splitPoints(len(st.b)) {
			got := playSplit(t, steps, i, k, mod)
			if d := describe(got.Txs); d != want {
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
