package http2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
)

// frame builds one HTTP/2 frame.
func frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	b := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	n := len(payload)
	b[0], b[1], b[2], b[3], b[4] = byte(n>>16), byte(n>>8), byte(n), typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

func settings(pairs ...uint32) []byte {
	var p []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(pairs[i]))
		p = binary.BigEndian.AppendUint32(p, pairs[i+1])
	}
	return frame(frameSettings, 0, 0, p)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// grpcMsg is one length-prefixed gRPC message of n bytes.
func grpcMsg(n int) []byte {
	b := append([]byte{0}, u32(uint32(n))...)
	return append(b, bytes.Repeat([]byte{'m'}, n)...)
}

// step is one Data call.
type step struct {
	dir flow.Dir
	b   []byte
	ts  int64
	gap int64 // != 0: a Gap call instead
}

// conv builds a connection with one HPACK encoder per direction, as
// peers do.
type conv struct {
	enc   [2]*hpack.Encoder
	ebuf  [2]*bytes.Buffer
	steps []step
}

func newConv() *conv {
	c := &conv{}
	for i := range c.enc {
		c.ebuf[i] = &bytes.Buffer{}
		c.enc[i] = hpack.NewEncoder(c.ebuf[i])
	}
	return c
}

// block HPACK-encodes name/value pairs with dir's encoder.
func (c *conv) block(dir flow.Dir, kv ...string) []byte {
	c.ebuf[dir].Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := c.enc[dir].WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}); err != nil {
			panic(err)
		}
	}
	return bytes.Clone(c.ebuf[dir].Bytes())
}

// headers is a HEADERS frame (END_HEADERS, plus flags) with kv encoded.
func (c *conv) headers(dir flow.Dir, stream uint32, flags uint8, kv ...string) []byte {
	return frame(frameHeaders, flagEndHeaders|flags, stream, c.block(dir, kv...))
}

func (c *conv) send(dir flow.Dir, ts int64, frames ...[]byte) *conv {
	c.steps = append(c.steps, step{dir: dir, b: bytes.Join(frames, nil), ts: ts})
	return c
}

func (c *conv) gap(dir flow.Dir, n int64, ts int64) *conv {
	c.steps = append(c.steps, step{dir: dir, gap: n, ts: ts})
	return c
}

// run feeds steps to a new parser; split(i, b) says how to cut step i's
// bytes into Data calls.
func run(ctx l7.Context, steps []step, split func(i int, b []byte) [][]byte) *l7test.Sink {
	sink := &l7test.Sink{}
	ctx.Sink = sink
	p := New(ctx)
	var last int64
	for i, s := range steps {
		last = s.ts
		if s.gap != 0 {
			p.Gap(s.dir, s.gap, s.ts)
			continue
		}
		parts := [][]byte{s.b}
		if split != nil {
			parts = split(i, s.b)
		}
		for _, part := range parts {
			p.Data(s.dir, part, s.ts)
		}
	}
	p.End(last + 1)
	return sink
}

func defaultCtx() l7.Context { return l7.DefaultConfig().Context(l7.TCP) }

// render prints a transaction canonically, for comparisons.
func render(tx *l7.Transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s op=%q target=%q status=%q %v flags=%03b req=%d/%d resp=%d/%d", tx.Proto, tx.Op, tx.Target, tx.Status,
		tx.Outcome, tx.Flags, tx.ReqTS, tx.ReqBytes, tx.RespTS, tx.RespBytes)
	for _, f := range tx.Fields {
		fmt.Fprintf(&b, " %s=%q", f.Key, f.Value)
	}
	return b.String()
}

func renderAll(s *l7test.Sink) string {
	var b strings.Builder
	for _, tx := range s.Txs {
		b.WriteString(render(tx))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "drops=%v stopped=%v", s.Drops, s.Stopped)
	return b.String()
}

// checkSplits feeds steps whole, then each step cut at every position (in
// two Data calls), then one byte per call, and requires the same result.
func checkSplits(t *testing.T, ctx l7.Context, steps []step) *l7test.Sink {
	t.Helper()
	whole := run(ctx, steps, nil)
	want := renderAll(whole)
	for i, s := range steps {
		for cut := 1; cut < len(s.b); cut++ {
			got := renderAll(run(ctx, steps, func(j int, b []byte) [][]byte {
				if j == i {
					return [][]byte{b[:cut], b[cut:]}
				}
				return [][]byte{b}
			}))
			if got != want {
				t.Fatalf("step %d cut at %d:\n got %s\nwant %s", i, cut, got, want)
			}
		}
	}
	got := renderAll(run(ctx, steps, func(_ int, b []byte) [][]byte {
		out := make([][]byte, len(b))
		for i := range b {
			out[i] = b[i : i+1]
		}
		return out
	}))
	if got != want {
		t.Fatalf("byte by byte:\n got %s\nwant %s", got, want)
	}
	return whole
}

func field(tx *l7.Transaction, key string) string { return string(tx.Field(key)) }
