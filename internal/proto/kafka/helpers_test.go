package kafka

import (
	"encoding/binary"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
)

// enc writes Kafka primitive types (flexible: compact forms).
type enc struct {
	b    []byte
	flex bool
}

func (e *enc) i8(v int8)   { e.b = append(e.b, byte(v)) }
func (e *enc) i16(v int16) { e.b = binary.BigEndian.AppendUint16(e.b, uint16(v)) }
func (e *enc) i32(v int32) { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) i64(v int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) uvar(v uint64) {
	e.b = binary.AppendUvarint(e.b, v)
}
func (e *enc) uuid(u [16]byte) { e.b = append(e.b, u[:]...) }

// str writes a string; "\x00null" writes a null one.
func (e *enc) str(s string) {
	null := s == "\x00null"
	switch {
	case e.flex && null:
		e.uvar(0)
	case e.flex:
		e.uvar(uint64(len(s)) + 1)
		e.b = append(e.b, s...)
	case null:
		e.i16(-1)
	default:
		e.i16(int16(len(s)))
		e.b = append(e.b, s...)
	}
}

// header-style string: never compact.
func (e *enc) hstr(s string) {
	e.i16(int16(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) bytes(n int) {
	if e.flex {
		e.uvar(uint64(n) + 1)
	} else {
		e.i32(int32(n))
	}
	for i := range n {
		e.b = append(e.b, byte(i))
	}
}

func (e *enc) arr(n int, f func(i int)) {
	if e.flex {
		e.uvar(uint64(n) + 1)
	} else {
		e.i32(int32(n))
	}
	for i := range n {
		f(i)
	}
}

// tags writes an empty tagged-fields section, or the given fields.
func (e *enc) tags(fields ...[]byte) {
	if !e.flex {
		return
	}
	e.uvar(uint64(len(fields)))
	for i, f := range fields {
		e.uvar(uint64(i))
		e.uvar(uint64(len(f)))
		e.b = append(e.b, f...)
	}
}

// frame prefixes b with its size.
func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// req builds a request frame: the header of key/ver (v0, v1 or v2 as
// the API version says) and the body body writes.
func req(key, ver int16, corr int32, client string, body func(e *enc)) []byte {
	e := &enc{}
	e.i16(key)
	e.i16(ver)
	e.i32(corr)
	if key != 7 || ver != 0 {
		e.hstr(client)
	}
	e.flex = flexible(key, ver)
	e.tags()
	if body != nil {
		body(e)
	}
	return frame(e.b)
}

// resp builds a response frame.
func resp(key, ver int16, corr int32, body func(e *enc)) []byte {
	e := &enc{}
	e.i32(corr)
	e.flex = flexible(key, ver)
	if key != 18 {
		e.tags()
	}
	if body != nil {
		body(e)
	}
	return frame(e.b)
}

type step struct {
	dir  flow.Dir
	data []byte
	gap  int64
	ts   int64
}

func cli(b []byte) step { return step{dir: c2s, data: b} }
func srv(b []byte) step { return step{dir: s2c, data: b} }

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
		if st.data == nil {
			if st.gap != 0 {
				p.Gap(st.dir, st.gap, ts)
			}
			continue
		}
		b := st.data
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

// checkSink asserts what must hold for any input.
func checkSink(t testing.TB, s *l7test.Sink) {
	t.Helper()
	for i, tx := range s.Txs {
		for _, f := range tx.Fields {
			if len(f.Value) > l7.MaxField {
				t.Fatalf("tx %d: field %s %d bytes", i, f.Key, len(f.Value))
			}
		}
		if len(tx.Target) > maxTopics {
			t.Fatalf("tx %d: target %d bytes", i, len(tx.Target))
		}
		hasReq, hasResp := tx.ReqBytes > 0, tx.RespBytes > 0
		switch tx.Outcome {
		case l7.OutcomeOK, l7.OutcomeClientError, l7.OutcomeServerError:
			if !hasReq || !hasResp {
				t.Fatalf("tx %d: %v without both sides", i, tx.Outcome)
			}
			if tx.RespTS < tx.ReqTS {
				t.Fatalf("tx %d: response before request", i)
			}
		case l7.OutcomeNoResponse, l7.OutcomeOneWay:
			if !hasReq || hasResp || tx.Status != nil || tx.Op == nil {
				t.Fatalf("tx %d: %v %+v", i, tx.Outcome, tx)
			}
		case l7.OutcomeNoRequest:
			if hasReq || !hasResp || tx.Field(FieldCorrelationID) == nil {
				t.Fatalf("tx %d: no_request %+v", i, tx)
			}
		default:
			t.Fatalf("tx %d: outcome %d", i, tx.Outcome)
		}
		if tx.Status != nil && string(tx.Status) != string(tx.Field(FieldErrorCode)) {
			t.Fatalf("tx %d: status %q error_code %q", i, tx.Status, tx.Field(FieldErrorCode))
		}
	}
	for r, n := range s.Drops {
		if n < 0 {
			t.Fatalf("drop %v negative", l7.DropReason(r))
		}
	}
}
