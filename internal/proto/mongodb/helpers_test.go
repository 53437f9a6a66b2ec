package mongodb

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// A tiny BSON encoder for building test messages.

type kv struct {
	k string
	v any
}

// D is an ordered document.
type D []kv

// A is an array.
type A []any

type binData struct {
	sub  byte
	data []byte
}

type timestamp struct{ t, i uint32 }

func encDoc(d D) []byte {
	var body []byte
	for _, e := range d {
		body = encElem(body, e.k, e.v)
	}
	return wrapDoc(body)
}

func encArr(a A) []byte {
	var body []byte
	for i, v := range a {
		body = encElem(body, itoa(i), v)
	}
	return wrapDoc(body)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func wrapDoc(body []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(body)+5))
	out = append(out, body...)
	return append(out, 0)
}

func encElem(b []byte, k string, v any) []byte {
	name := func(t byte) {
		b = append(b, t)
		b = append(b, k...)
		b = append(b, 0)
	}
	switch v := v.(type) {
	case float64:
		name(tDouble)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	case string:
		name(tString)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)+1))
		b = append(b, v...)
		b = append(b, 0)
	case int:
		name(tInt32)
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
	case int32:
		name(tInt32)
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	case int64:
		name(tInt64)
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	case bool:
		name(tBool)
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case nil:
		name(tNull)
	case D:
		name(tDocument)
		b = append(b, encDoc(v)...)
	case A:
		name(tArray)
		b = append(b, encArr(v)...)
	case binData:
		name(tBinary)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v.data)))
		b = append(b, v.sub)
		b = append(b, v.data...)
	case timestamp:
		name(tTimestamp)
		b = binary.LittleEndian.AppendUint32(b, v.i)
		b = binary.LittleEndian.AppendUint32(b, v.t)
	case [12]byte:
		name(tObjectID)
		b = append(b, v[:]...)
	default:
		panic("encElem: unsupported type")
	}
	return b
}

// hdr prepends a message header to body.
func hdr(reqID, respTo int32, op uint32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(body)+headerLen))
	b = binary.LittleEndian.AppendUint32(b, uint32(reqID))
	b = binary.LittleEndian.AppendUint32(b, uint32(respTo))
	b = binary.LittleEndian.AppendUint32(b, op)
	return append(b, body...)
}

// opMsgBytes builds an OP_MSG with a body document and optional kind 1
// sequences (identifier, documents).
func opMsgBytes(reqID, respTo int32, flags uint32, body D, seqs ...any) []byte {
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = append(b, 0)
	b = append(b, encDoc(body)...)
	for i := 0; i+1 < len(seqs); i += 2 {
		id := seqs[i].(string)
		var docs []byte
		for _, d := range seqs[i+1].([]D) {
			docs = append(docs, encDoc(d)...)
		}
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(4+len(id)+1+len(docs)))
		b = append(b, id...)
		b = append(b, 0)
		b = append(b, docs...)
	}
	if flags&msgChecksumPresent != 0 {
		b = append(b, 0xde, 0xad, 0xbe, 0xef)
	}
	return hdr(reqID, respTo, opMsg, b)
}

func opQueryBytes(reqID int32, ns string, q D) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0)
	b = append(b, ns...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(0xffffffff))
	b = append(b, encDoc(q)...)
	return hdr(reqID, 0, opQuery, b)
}

func opReplyBytes(reqID, respTo int32, flags uint32, docs ...D) []byte {
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(docs)))
	for _, d := range docs {
		b = append(b, encDoc(d)...)
	}
	return hdr(reqID, respTo, opReply, b)
}

// checkSink is an l7test.Sink that checks the invariants every
// transaction must hold.
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
	hasReq, hasResp := tx.ReqTS != 0 || tx.ReqBytes != 0, tx.RespTS != 0 || tx.RespBytes != 0
	switch tx.Outcome {
	case l7.OutcomeNoRequest:
		if hasReq || !hasResp {
			t.Fatalf("no_request with request side or without response: %+v", tx)
		}
	case l7.OutcomeNoResponse, l7.OutcomeOneWay:
		if hasResp || !hasReq {
			t.Fatalf("%v with response side or without request: %+v", tx.Outcome, tx)
		}
	default:
		if !hasReq || !hasResp {
			t.Fatalf("%v without both sides: %+v", tx.Outcome, tx)
		}
	}
	if tx.ReqBytes < 0 || tx.RespBytes < 0 || (tx.ReqBytes > 0 && tx.ReqBytes < headerLen) || (tx.RespBytes > 0 && tx.RespBytes < headerLen) {
		t.Fatalf("bad sizes %d %d", tx.ReqBytes, tx.RespBytes)
	}
	for _, v := range [][]byte{tx.Op, tx.Target, tx.Status} {
		if len(v) > l7.MaxField {
			t.Fatalf("value of %d bytes", len(v))
		}
	}
	seen := map[string]bool{}
	for _, f := range tx.Fields {
		if len(f.Value) > l7.MaxField {
			t.Fatalf("field %s of %d bytes", f.Key, len(f.Value))
		}
		if seen[f.Key] {
			t.Fatalf("field %s twice", f.Key)
		}
		seen[f.Key] = true
		if len(f.Value) == 0 {
			t.Fatalf("empty field %s", f.Key)
		}
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

// step is one parser call.
type step struct {
	dir  flow.Dir
	b    []byte
	ts   int64
	gap  int64 // when b is nil and gap != 0: a Gap call
	isGp bool
}

func data(dir flow.Dir, ts int64, msgs ...[]byte) step {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
	}
	return step{dir: dir, b: b, ts: ts}
}

func gapStep(dir flow.Dir, n, ts int64) step { return step{dir: dir, gap: n, ts: ts, isGp: true} }

// run feeds steps (each Data split into pieces at the given cut points
// of the concatenated stream of that call) and ends the flow.
func run(t testing.TB, mod func(*l7.Context), steps []step, end int64) *checkSink {
	p, s := newParser(t, mod)
	for _, st := range steps {
		if st.isGp {
			p.Gap(st.dir, st.gap, st.ts)
			continue
		}
		p.Data(st.dir, st.b, st.ts)
	}
	p.End(end)
	if p.pending.Len() != 0 {
		t.Fatalf("pending after End: %d", p.pending.Len())
	}
	return s
}

// runSplit feeds each Data step split at cut (a byte offset into it),
// the two pieces with the same timestamp.
func runSplit(t testing.TB, steps []step, cut int, end int64) *checkSink {
	p, s := newParser(t, nil)
	for _, st := range steps {
		if st.isGp {
			p.Gap(st.dir, st.gap, st.ts)
			continue
		}
		c := min(cut, len(st.b))
		p.Data(st.dir, st.b[:c], st.ts)
		if c < len(st.b) {
			p.Data(st.dir, st.b[c:], st.ts)
		}
	}
	p.End(end)
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
