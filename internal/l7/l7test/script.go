package l7test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// What the parsers' fuzz targets share: a way to turn fuzz input into a
// conversation (Script, Records), to play it through a parser (Play), to
// compare runs (Describe) and to check what every transaction must
// satisfy (CheckTransaction).

// Call is one parser call: Data when Data is non-nil, else Gap(Gap). TS
// is its packet time; 0 lets Play advance the clock by 7 ns a call.
type Call struct {
	Dir  flow.Dir
	Data []byte
	Gap  int64
	TS   int64
}

// rng is a small deterministic generator (xorshift) for Script.
type rng uint64

func (r *rng) next(n int) int {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	if n <= 0 {
		return 0
	}
	return int(uint64(*r) % uint64(n))
}

// Script cuts data into chunks of 1–96 bytes sent one way or the other,
// with gaps (unknown or of 1–64 bytes) sprinkled in; seed drives every
// choice, so a fuzz input replays identically.
func Script(data []byte, seed uint64) []Call {
	return ScriptWith(data, seed, ScriptOptions{})
}

// ScriptOptions adjust Script.
type ScriptOptions struct {
	MaxChunk    int  // largest chunk (default 96)
	ClientFirst bool // the first chunk goes client to server
}

// ScriptWith is Script with options.
func ScriptWith(data []byte, seed uint64, o ScriptOptions) []Call {
	if o.MaxChunk <= 0 {
		o.MaxChunk = 96
	}
	r := rng(seed | 1)
	var calls []Call
	first := o.ClientFirst
	for len(data) > 0 {
		switch r.next(16) {
		case 0:
			calls = append(calls, Call{Dir: flow.Dir(r.next(2)), Gap: -1})
		case 1:
			calls = append(calls, Call{Dir: flow.Dir(r.next(2)), Gap: int64(r.next(64) + 1)})
		}
		n := min(len(data), r.next(o.MaxChunk)+1)
		d := flow.Dir(r.next(2))
		if first {
			d, first = flow.ClientToServer, false
		}
		calls = append(calls, Call{Dir: d, Data: data[:n]})
		data = data[n:]
	}
	return calls
}

// Records reads the record form of a conversation: a control byte (bit
// 0: direction; bit 7: a gap of the next byte's size, unknown when 0;
// else a Data call of the next byte's count of bytes), the clock moving
// by the control byte's value in ms at each record (so that inputs reach
// timeouts). EncodeRecords writes it.
func Records(data []byte) []Call {
	var calls []Call
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
			calls = append(calls, Call{Dir: dir, Gap: g, TS: ts})
			continue
		}
		n = min(n, len(data))
		calls = append(calls, Call{Dir: dir, Data: data[:n], TS: ts})
		data = data[n:]
	}
	return calls
}

// EncodeRecords writes calls in the form Records reads (Data longer than
// 255 bytes takes several records; gaps are written as unknown).
func EncodeRecords(calls []Call) []byte {
	var out []byte
	for _, c := range calls {
		if c.Data == nil {
			out = append(out, 0x80|byte(c.Dir), 0)
			continue
		}
		for b := c.Data; len(b) > 0; {
			n := min(len(b), 255)
			out = append(out, byte(c.Dir), byte(n))
			out = append(out, b[:n]...)
			b = b[n:]
		}
	}
	return out
}

// Play runs calls through p and ends it. pieces > 0 cuts every Data call
// into pieces of that size (same time); after, when set, runs after each
// call (to check the parser's bounds).
func Play(p l7.Parser, calls []Call, pieces int, after func()) {
	ts := int64(1)
	for _, c := range calls {
		if c.TS != 0 {
			ts = max(ts, c.TS)
		} else {
			ts += 7
		}
		if c.Data == nil {
			p.Gap(c.Dir, c.Gap, ts)
		} else {
			for b := c.Data; len(b) > 0; {
				n := len(b)
				if pieces > 0 {
					n = min(n, pieces)
				}
				p.Data(c.Dir, b[:n], ts)
				b = b[n:]
			}
		}
		if after != nil {
			after()
		}
	}
	p.End(ts + 1)
}

// Describe renders what a sink received, to compare two runs (the same
// conversation cut differently must decode the same).
func Describe(s *Sink) string {
	var b strings.Builder
	for _, t := range s.Txs {
		fmt.Fprintf(&b, "%s|%s|%s|%v|%x|req=%d/%d resp=%d/%d", t.Op, t.Target, t.Status, t.Outcome, t.Flags, t.ReqTS, t.ReqBytes, t.RespTS, t.RespBytes)
		for _, f := range t.Fields {
			fmt.Fprintf(&b, " %s=%q", f.Key, f.Value)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "drops=%v", s.Drops)
	return b.String()
}

// CheckTransaction fails tb when tx breaks what every transaction must
// satisfy: a known outcome consistent with which sides it has (by their
// times), a response no earlier than its request, sizes not negative,
// field values within l7.MaxField.
func CheckTransaction(tb testing.TB, tx *l7.Transaction) {
	tb.Helper()
	req, resp := tx.ReqTS != 0, tx.RespTS != 0
	switch tx.Outcome {
	case l7.OutcomeOK, l7.OutcomeClientError, l7.OutcomeServerError:
		if !resp {
			tb.Fatalf("%v without a response: %+v", tx.Outcome, tx)
		}
	case l7.OutcomeNoResponse, l7.OutcomeOneWay:
		if !req || resp {
			tb.Fatalf("%v with ReqTS %d RespTS %d", tx.Outcome, tx.ReqTS, tx.RespTS)
		}
	case l7.OutcomeNoRequest:
		if req || !resp {
			tb.Fatalf("no_request with ReqTS %d RespTS %d", tx.ReqTS, tx.RespTS)
		}
	default:
		tb.Fatalf("outcome %d", tx.Outcome)
	}
	if req && resp && tx.RespTS < tx.ReqTS {
		tb.Fatalf("response before request: %d < %d", tx.RespTS, tx.ReqTS)
	}
	if tx.ReqBytes < 0 || tx.RespBytes < 0 {
		tb.Fatalf("negative sizes %d/%d", tx.ReqBytes, tx.RespBytes)
	}
	for _, f := range tx.Fields {
		if len(f.Value) > l7.MaxField {
			tb.Fatalf("field %s: %d bytes", f.Key, len(f.Value))
		}
	}
}

// Payloads returns the TCP payloads of a capture in order, with their
// direction relative to the server port (0: every payload, all
// ClientToServer), for seeding fuzz targets with real conversations.
func Payloads(tb testing.TB, path string, port uint16) (dirs []flow.Dir, data [][]byte) {
	tb.Helper()
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dec := decode.New(decode.DefaultConfig())
	var pkt decode.Packet
	for {
		fr, err := src.Next()
		if err != nil {
			break
		}
		if dec.Decode(uint16(fr.LinkType), fr.Data, fr.WireLen, fr.Timestamp, &pkt) != decode.StatusOK ||
			pkt.Proto != decode.ProtoTCP || len(pkt.Payload) == 0 {
			continue
		}
		d := flow.ClientToServer
		if port != 0 {
			if pkt.SrcPort == port {
				d = flow.ServerToClient
			} else if pkt.DstPort != port {
				continue
			}
		}
		dirs = append(dirs, d)
		data = append(data, append([]byte(nil), pkt.Payload...))
	}
	return dirs, data
}

// CheckingSink is an l7.Sink that checks every transaction as it comes
// (its slices are only valid during the call): CheckTransaction, plus
// that the fields named in Secrets are l7.Redacted (with FlagRedacted)
// unless KeepCredentials, that Op, Target and Status stay within the
// given sizes, and, with SizesMatchTimes, that a side has bytes exactly
// when it has a time. Extra, when set, checks what is particular to a
// protocol.
type CheckingSink struct {
	TB                          testing.TB
	KeepCredentials             bool
	Secrets                     []string
	MaxOp, MaxTarget, MaxStatus int
	SizesMatchTimes             bool
	Extra                       func(tx *l7.Transaction)
	N                           int // transactions seen
}

// Transaction implements l7.Sink.
func (s *CheckingSink) Transaction(tx *l7.Transaction) {
	s.N++
	tb := s.TB
	tb.Helper()
	CheckTransaction(tb, tx)
	if s.MaxOp > 0 && len(tx.Op) > s.MaxOp || s.MaxTarget > 0 && len(tx.Target) > s.MaxTarget || s.MaxStatus > 0 && len(tx.Status) > s.MaxStatus {
		tb.Fatalf("oversized op/target/status: %d %d %d", len(tx.Op), len(tx.Target), len(tx.Status))
	}
	if s.SizesMatchTimes && (tx.ReqTS != 0) != (tx.ReqBytes > 0) {
		tb.Fatalf("request bytes %d with ReqTS %d", tx.ReqBytes, tx.ReqTS)
	}
	if !s.KeepCredentials {
		for _, k := range s.Secrets {
			if v := tx.Field(k); v != nil && (string(v) != string(l7.Redacted) || tx.Flags&l7.FlagRedacted == 0) {
				tb.Fatalf("%s not redacted: %q (flags %x)", k, v, tx.Flags)
			}
		}
	}
	if s.Extra != nil {
		s.Extra(tx)
	}
}

// Drop implements l7.Sink.
func (s *CheckingSink) Drop(r l7.DropReason, n int) {
	if r >= l7.NumDropReasons || n < 0 {
		s.TB.Fatalf("drop %d %d", r, n)
	}
}

// Stop implements l7.Sink.
func (s *CheckingSink) Stop() {}
