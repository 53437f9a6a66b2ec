package dubbo

import (
	"encoding/binary"
	"math"
	"testing"
	"unicode/utf16"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// A small Hessian 2 encoder for building test messages (the compact
// forms Java's Hessian2Output uses).

func hstr(s string) []byte {
	n := len(utf16.Encode([]rune(s)))
	switch {
	case n <= 31:
		return append([]byte{byte(n)}, s...)
	case n <= 1023:
		return append([]byte{byte(0x30 + n>>8), byte(n)}, s...)
	}
	b := []byte{'S', byte(n >> 8), byte(n)}
	return append(b, s...)
}

// hchunked writes s as chunks of at most size chars ('R' ... 'S').
func hchunked(s string, size int) []byte {
	var b []byte
	for len(s) > size {
		b = append(b, 'R', byte(size>>8), byte(size))
		b = append(b, s[:size]...)
		s = s[size:]
	}
	b = append(b, 'S', byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

func hint(v int32) []byte {
	switch {
	case v >= -16 && v <= 47:
		return []byte{byte(0x90 + v)}
	case v >= -2048 && v <= 2047:
		return []byte{byte(0xc8 + v>>8), byte(v)}
	case v >= -262144 && v <= 262143:
		return []byte{byte(0xd4 + v>>16), byte(v >> 8), byte(v)}
	}
	return binary.BigEndian.AppendUint32([]byte{'I'}, uint32(v))
}

func hlong(v int64) []byte {
	switch {
	case v >= -8 && v <= 15:
		return []byte{byte(0xe0 + v)}
	case v >= -2048 && v <= 2047:
		return []byte{byte(0xf8 + v>>8), byte(v)}
	case v >= -262144 && v <= 262143:
		return []byte{byte(0x3c + v>>16), byte(v >> 8), byte(v)}
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return binary.BigEndian.AppendUint32([]byte{'Y'}, uint32(v))
	}
	return binary.BigEndian.AppendUint64([]byte{'L'}, uint64(v))
}

func hdouble(f float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'D'}, math.Float64bits(f))
}

// hmap writes an untyped map of key/value encodings.
func hmap(kv ...[]byte) []byte {
	b := []byte{'H'}
	for _, x := range kv {
		b = append(b, x...)
	}
	return append(b, 'Z')
}

// hlist writes a fixed-length untyped list.
func hlist(vs ...[]byte) []byte {
	var b []byte
	if len(vs) < 8 {
		b = []byte{byte(0x78 + len(vs))}
	} else {
		b = append([]byte{'X'}, hint(int32(len(vs)))...)
	}
	for _, v := range vs {
		b = append(b, v...)
	}
	return b
}

// hclassDef writes a class definition.
func hclassDef(name string, fields ...string) []byte {
	b := append([]byte{'C'}, hstr(name)...)
	b = append(b, hint(int32(len(fields)))...)
	for _, f := range fields {
		b = append(b, hstr(f)...)
	}
	return b
}

// hobject writes an instance of class definition idx.
func hobject(idx int, vals ...[]byte) []byte {
	var b []byte
	if idx < 16 {
		b = []byte{byte(0x60 + idx)}
	} else {
		b = append([]byte{'O'}, hint(int32(idx))...)
	}
	for _, v := range vals {
		b = append(b, v...)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// frame builds a message: flag, status, id, body.
func frame(flag, status byte, id uint64, body []byte) []byte {
	b := []byte{magicHi, magicLo, flag, status}
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// hreq builds a two-way Hessian2 request.
func hreq(id uint64, service, method, desc string, args [][]byte, attach ...[]byte) []byte {
	body := cat(hstr("2.0.2"), hstr(service), hstr("1.0.0"), hstr(method), hstr(desc))
	for _, a := range args {
		body = append(body, a...)
	}
	if attach == nil {
		attach = [][]byte{hstr("path"), hstr(service)}
	}
	body = append(body, hmap(attach...)...)
	return frame(flagRequest|flagTwoWay|serHessian2, 0, id, body)
}

// hresp builds a Hessian2 response with a value.
func hresp(id uint64, status byte, body []byte) []byte {
	return frame(serHessian2, status, id, body)
}

type checkSink struct {
	l7test.Sink
	t testing.TB
}

func (s *checkSink) Transaction(tx *l7.Transaction) {
	checkTx(s.t, tx)
	s.Sink.Transaction(tx)
}

func checkTx(t testing.TB, tx *l7.Transaction) {
	t.Helper()
	if tx.Outcome > l7.OutcomeOneWay {
		t.Fatalf("bad outcome %d", tx.Outcome)
	}
	hasReq, hasResp := tx.ReqBytes != 0, tx.RespBytes != 0
	switch tx.Outcome {
	case l7.OutcomeNoRequest:
		if hasReq || !hasResp || tx.ReqTS != 0 {
			t.Fatalf("no_request with request side or without response: %+v", tx)
		}
	case l7.OutcomeNoResponse, l7.OutcomeOneWay:
		if hasResp || !hasReq || tx.RespTS != 0 || len(tx.Status) != 0 {
			t.Fatalf("%v with response side or without request: %+v", tx.Outcome, tx)
		}
	default:
		if !hasReq || !hasResp || len(tx.Status) == 0 {
			t.Fatalf("%v without both sides: %+v", tx.Outcome, tx)
		}
	}
	if (hasReq && tx.ReqBytes < headerLen) || (hasResp && tx.RespBytes < headerLen) {
		t.Fatalf("bad sizes %d %d", tx.ReqBytes, tx.RespBytes)
	}
	for _, v := range [][]byte{tx.Op, tx.Target, tx.Status} {
		if len(v) > l7.MaxField {
			t.Fatalf("value of %d bytes", len(v))
		}
	}
	seen := map[string]bool{}
	for _, f := range tx.Fields {
		if len(f.Value) > l7.MaxField || len(f.Value) == 0 || seen[f.Key] {
			t.Fatalf("field %s: %d bytes, seen %v", f.Key, len(f.Value), seen[f.Key])
		}
		seen[f.Key] = true
	}
	if !seen[FieldRequestID] || !seen[FieldSerialization] {
		t.Fatalf("no request id or serialization: %+v", tx.Fields)
	}
}

func newParser(t testing.TB, mod func(*l7.Context)) (*parser, *checkSink) {
	s := &checkSink{t: t}
	ctx := s.Sink.Context(l7.TCP)
	ctx.Sink = s
	if mod != nil {
		mod(&ctx)
	}
	return New(ctx).(*parser), s
}

type step struct {
	dir  flow.Dir
	b    []byte
	ts   int64
	gap  int64
	isGp bool
}

func data(dir flow.Dir, ts int64, msgs ...[]byte) step {
	return step{dir: dir, b: cat(msgs...), ts: ts}
}

func gapStep(dir flow.Dir, n, ts int64) step { return step{dir: dir, gap: n, ts: ts, isGp: true} }

// run feeds the steps, each Data cut in two at cut (when cut > 0), and
// ends the flow.
func run(t testing.TB, mod func(*l7.Context), steps []step, cut int, end int64) *checkSink {
	p, s := newParser(t, mod)
	for _, st := range steps {
		if st.isGp {
			p.Gap(st.dir, st.gap, st.ts)
			continue
		}
		c := len(st.b)
		if cut > 0 {
			c = min(cut, len(st.b))
		}
		p.Data(st.dir, st.b[:c], st.ts)
		if c < len(st.b) {
			p.Data(st.dir, st.b[c:], st.ts)
		}
	}
	p.End(end)
	if p.pending.Len() != 0 {
		t.Fatalf("pending after End")
	}
	return s
}

func field(tx *l7.Transaction, k string) string { return string(tx.Field(k)) }

// held returns what the framer holds for dir: which 0 = buffered bytes,
// 1 = the head of a long message.
func held(f *l7.Framer, dir flow.Dir, which int) int {
	b, h := f.Held(dir)
	if which == 0 {
		return b
	}
	return h
}
