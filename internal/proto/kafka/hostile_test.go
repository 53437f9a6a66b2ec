package kafka

import (
	"encoding/binary"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// TestHugeFrame: a 200 MiB Produce request (one partition's record
// batch) is walked, not held: no allocation per Data call, and the
// request's topic and partition come out.
func TestHugeFrame(t *testing.T) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := Protocol.New(ctx).(*parser)
	const records = 200 << 20
	e := &enc{}
	e.i16(0)
	e.i16(3)
	e.i32(1)
	e.hstr("producer")
	e.str("\x00null")
	e.i16(-1)
	e.i32(1500)
	e.i32(1)
	e.str("big")
	e.i32(1)
	e.i32(4)
	e.i32(records)
	head := binary.BigEndian.AppendUint32(nil, uint32(len(e.b)+records))
	head = append(head, e.b...)
	p.Data(c2s, head, 1)
	chunk := make([]byte, 64<<10)
	fed := 0
	allocs := testing.AllocsPerRun(records/len(chunk)-1, func() {
		p.Data(c2s, chunk, 2)
		fed += len(chunk)
	})
	for fed < records {
		n := min(len(chunk), records-fed)
		p.Data(c2s, chunk[:n], 2)
		fed += n
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per 64 KiB of records", allocs)
	}
	if p.pending.Len() != 1 {
		t.Fatalf("%d pending", p.pending.Len())
	}
	r := p.pending.At(0)
	if string(r.c.topics[:r.c.nTopics]) != "big" || string(r.c.parts[:r.c.nParts]) != "4" || r.bytes != int64(len(head))+records {
		t.Errorf("topics %q partitions %q bytes %d", r.c.topics[:r.c.nTopics], r.c.parts[:r.c.nParts], r.bytes)
	}
}

// TestHostileCounts: array counts and lengths are never used to size
// anything; a frame that claims more than it holds ends the walk, not
// the framing.
func TestHostileCounts(t *testing.T) {
	for _, c := range []struct {
		name string
		body func(e *enc)
	}{
		{"topics 2^31-1", func(e *enc) { e.str("\x00null"); e.i16(1); e.i32(0); e.i32(0x7fffffff) }},
		{"string longer than the frame", func(e *enc) { e.str("\x00null"); e.i16(1); e.i32(0); e.i32(1); e.i16(30000) }},
		{"negative count", func(e *enc) { e.str("\x00null"); e.i16(1); e.i32(0); e.i32(-7) }},
		{"varint too long", func(e *enc) { e.b = append(e.b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := int16(3)
			if c.name == "varint too long" {
				v = 9
			}
			s := run(t, []step{cli(req(0, v, 1, "p", c.body)), cli(req(12, 4, 2, "p", group("g"))),
				srv(resp(0, v, 1, nil)), srv(resp(12, 4, 2, func(e *enc) { e.i32(0); e.i16(0) }))}, 0)
			checkSink(t, s)
			if len(s.Txs) != 2 || s.Txs[0].Flags&l7.FlagTruncated == 0 || string(s.Txs[1].Op) != "Heartbeat" || s.Txs[1].Outcome != l7.OutcomeOK {
				t.Errorf("%s", l7test.Describe(s))
			}
		})
	}
}
