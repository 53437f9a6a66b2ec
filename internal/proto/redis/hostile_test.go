package redis

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// TestHugeBulk: a 64 MiB value announced and sent is counted, not held:
// no allocation per Data call, nothing buffered, and the transaction
// comes out with the right sizes.
func TestHugeBulk(t *testing.T) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := Protocol.New(ctx).(*parser)
	const size = 64 << 20
	head := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$67108864\r\n"
	p.Data(c2s, []byte(head), 1)
	chunk := bytes.Repeat([]byte("v"), 64<<10)
	fed := 0
	allocs := testing.AllocsPerRun(size/len(chunk)-1, func() {
		p.Data(c2s, chunk, 2)
		fed += len(chunk)
	})
	for fed < size {
		p.Data(c2s, chunk[:min(len(chunk), size-fed)], 2)
		fed += min(len(chunk), size-fed)
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per 64 KiB of payload", allocs)
	}
	p.Data(c2s, []byte("\r\n"), 3)
	if p.sides[0].split.Len() != 0 || len(p.req.text) > maxText {
		t.Errorf("held %d bytes, request text %d", p.sides[0].split.Len(), len(p.req.text))
	}
	p.Data(s2c, []byte("+OK\r\n"), 4)
	if sink.txs != 1 || sink.drops != 0 {
		t.Fatalf("%d transactions, %d drops", sink.txs, sink.drops)
	}
}

// TestHostileCounts: counts and lengths no real message has are never
// used to size anything, and nesting is bounded.
func TestHostileCounts(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		drop l7.DropReason
	}{
		{"array count", "*4294967297\r\n", l7.DropMalformed},
		{"huge bulk", "$1099511627777\r\n", l7.DropMalformed},
		{"negative bulk", "$-5\r\n", l7.DropMalformed},
		{"deep nesting", strings.Repeat("*1\r\n", maxDepth+1) + ":1\r\n", l7.DropMalformed},
		{"not a number", "*1x\r\n", l7.DropMalformed},
		{"bad boolean", "#x\r\n", l7.DropMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := run(t, []step{cli(bulk("GET", "a")), srv(c.in)}, 0)
			checkSink(t, s)
			if s.Drops[c.drop] == 0 {
				t.Errorf("drops %v, want some %v", s.Drops, c.drop)
			}
			// The lost reply takes the request with it, unanswered
			// (what follows a resynchronisation may be a reply).
			if len(s.Txs) == 0 || s.Txs[0].Outcome != l7.OutcomeNoResponse {
				t.Errorf("%s", l7test.Describe(s))
			}
		})
	}
	// Nesting up to the limit is fine.
	s := run(t, []step{cli(bulk("GET", "a")), srv(strings.Repeat("*1\r\n", maxDepth) + ":1\r\n")}, 0)
	if len(s.Txs) != 1 || string(s.Txs[0].Status) != "array" {
		t.Errorf("%s", l7test.Describe(s))
	}
}
