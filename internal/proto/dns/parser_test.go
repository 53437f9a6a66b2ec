package dns

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

// txString renders a transaction compactly for comparisons.
func txString(t *l7.Transaction) string {
	var b strings.Builder
	dash := func(b []byte) string {
		if len(b) == 0 {
			return "-"
		}
		return string(b)
	}
	fmt.Fprintf(&b, "%s %s %q %s req=%d/%d resp=%d/%d flags=%d", t.Outcome, dash(t.Op), t.Target, dash(t.Status), t.ReqTS, t.ReqBytes, t.RespTS, t.RespBytes, t.Flags)
	for _, f := range t.Fields {
		fmt.Fprintf(&b, " %s=%s", f.Key, f.Value)
	}
	return b.String()
}

func txStrings(txs []*l7.Transaction) []string {
	var out []string
	for _, t := range txs {
		out = append(out, txString(t))
	}
	return out
}

func newTest(tr l7.Transport) (*l7test.Sink, l7.Parser) {
	s := &l7test.Sink{}
	return s, Protocol.New(s.Context(tr))
}

func nxdomain() []byte {
	return cat(hdr(0x2222, flagQR|flagRD|flagRA|3, 1, 0, 1, 0),
		quest(wname("nope.example"), 28, 1),
		rrec(wname("example"), 6, 1, 900, cat(wname("ns.example"), wname("host.example"), u32(1), u32(2), u32(3), u32(4), u32(5))))
}

func TestUDPPair(t *testing.T) {
	s, p := newTest(l7.UDP)
	p.Data(c2s, queryA(), 1000)
	if len(s.Txs) != 0 {
		t.Fatalf("transaction before the response: %v", txStrings(s.Txs))
	}
	p.Data(s2c, responseA(), 1500)
	p.End(2000)
	want := []string{
		fmt.Sprintf(`ok A "www.example.com" NOERROR req=1000/%d resp=1500/%d flags=0 id=4660 qclass=IN answers=3 answer=CNAME cdn.example.com, A 192.0.2.1, A 192.0.2.2`, len(queryA()), len(responseA())),
	}
	if got := txStrings(s.Txs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if s.Drops != [l7.NumDropReasons]int{} {
		t.Errorf("drops %v", s.Drops)
	}
}

func TestOutcomes(t *testing.T) {
	s, p := newTest(l7.UDP)
	q := cat(hdr(0x2222, flagRD, 1, 0, 0, 0), quest(wname("NoPe.Example"), 28, 1)) // 0x20 case
	p.Data(c2s, q, 10)
	p.Data(s2c, nxdomain(), 20)
	servfail := cat(hdr(7, flagQR|2, 1, 0, 0, 0), quest(wname("x.y"), 1, 1))
	p.Data(c2s, cat(hdr(7, 0, 1, 0, 0, 0), quest(wname("x.y"), 1, 1)), 30)
	p.Data(s2c, servfail, 40)
	// A response with no query, and a query with no response.
	p.Data(s2c, responseA(), 50)
	p.Data(c2s, cat(hdr(9, 0, 1, 0, 0, 0), quest(wname("lost.example"), 16, 3)), 60)
	p.End(70)
	want := []string{
		fmt.Sprintf(`client_error AAAA "nope.example" NXDOMAIN req=10/%d resp=20/%d flags=0 id=8738 qclass=IN answers=0`, len(q), len(nxdomain())),
		`server_error A "x.y" SRVFAIL req=30/21 resp=40/21 flags=0 id=7 qclass=IN answers=0`,
		fmt.Sprintf(`no_request A "www.example.com" NOERROR req=0/0 resp=50/%d flags=0 id=4660 qclass=IN answers=3 answer=CNAME cdn.example.com, A 192.0.2.1, A 192.0.2.2`, len(responseA())),
		`no_response TXT "lost.example" - req=60/30 resp=0/0 flags=0 id=9 qclass=CH`,
	}
	if got := txStrings(s.Txs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatchByIDAndQuestion(t *testing.T) {
	s, p := newTest(l7.UDP)
	qa := cat(hdr(5, 0, 1, 0, 0, 0), quest(wname("a.example"), 1, 1))
	qb := cat(hdr(5, 0, 1, 0, 0, 0), quest(wname("b.example"), 1, 1))
	rb := cat(hdr(5, flagQR, 1, 0, 0, 0), quest(wname("b.example"), 1, 1))
	formerr := hdr(5, flagQR|1, 0, 0, 0, 0) // no question: matches by id
	p.Data(c2s, qa, 1)
	p.Data(c2s, qb, 2)
	p.Data(s2c, rb, 3)      // same id, b's question: b
	p.Data(s2c, formerr, 4) // a
	p.Data(c2s, rb, 5)      // a response from the client side matches nothing
	p.End(6)
	want := []string{
		`ok A "b.example" NOERROR req=2/27 resp=3/27 flags=0 id=5 qclass=IN answers=0`,
		`client_error A "a.example" FORMERR req=1/27 resp=4/12 flags=0 id=5 qclass=IN answers=0`,
		`no_request A "b.example" NOERROR req=0/0 resp=5/27 flags=0 id=5 qclass=IN answers=0`,
	}
	if got := txStrings(s.Txs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRetryTimeoutAndPendingLimit(t *testing.T) {
	s := &l7test.Sink{}
	ctx := s.Context(l7.UDP)
	ctx.MaxPending = 2
	ctx.Timeout = 100
	p := Protocol.New(ctx)
	q := func(id uint16) []byte { return cat(hdr(id, 0, 1, 0, 0, 0), quest(wname("r.example"), 1, 1)) }
	r := func(id uint16) []byte { return cat(hdr(id, flagQR, 1, 0, 0, 0), quest(wname("r.example"), 1, 1)) }
	p.Data(c2s, q(1), 10)
	p.Data(c2s, q(1), 20) // retry: the first copy is reported unanswered
	p.Data(s2c, r(1), 30) // answers the retry
	p.Data(c2s, q(2), 40)
	p.Data(c2s, q(3), 50)
	p.Data(c2s, q(4), 60)  // third pending with MaxPending 2: 2 evicted
	p.Data(s2c, r(3), 151) // 3 is 101 old: timed out before this response
	p.End(200)
	want := []string{
		`no_response A "r.example" - req=10/27 resp=0/0 flags=0 id=1 qclass=IN`,
		`ok A "r.example" NOERROR req=20/27 resp=30/27 flags=0 id=1 qclass=IN answers=0`,
		`no_response A "r.example" - req=40/27 resp=0/0 flags=0 id=2 qclass=IN`,
		`no_response A "r.example" - req=50/27 resp=0/0 flags=0 id=3 qclass=IN`,
		`no_request A "r.example" NOERROR req=0/0 resp=151/27 flags=0 id=3 qclass=IN answers=0`,
		`no_response A "r.example" - req=60/27 resp=0/0 flags=0 id=4 qclass=IN`,
	}
	if got := txStrings(s.Txs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFieldsECSTruncatedOpcodeMalformed(t *testing.T) {
	s, p := newTest(l7.UDP)
	ecs := rrec(wname(""), 41, 1232, 0, cat(u16(8), u16(7), u16(1), []byte{24, 0}, []byte{192, 0, 2}))
	qECS := cat(hdr(1, flagRD, 1, 0, 0, 1), quest(wname("e.example"), 1, 1), ecs)
	p.Data(c2s, qECS, 1)
	p.Data(s2c, cat(hdr(1, flagQR|0x0200, 1, 0, 0, 0), quest(wname("e.example"), 1, 1)), 2) // TC
	p.Data(c2s, cat(hdr(2, 5<<11, 1, 0, 0, 0), quest(wname("zone.example"), 6, 1)), 3)      // UPDATE
	p.Data(c2s, cat(hdr(3, 0, 1, 0, 0, 0), []byte{3, 'a', 'b'}), 4)                         // cut name
	p.Data(c2s, []byte{1, 2, 3}, 5)                                                         // not a header
	p.End(6)
	want := []string{
		fmt.Sprintf(`ok A "e.example" NOERROR req=1/%d resp=2/27 flags=0 id=1 qclass=IN answers=0 truncated=true edns_client_subnet=192.0.2.0/24`, len(qECS)),
		`no_response SOA "zone.example" - req=3/30 resp=0/0 flags=0 id=2 qclass=IN opcode=UPDATE`,
		`no_response - "" - req=4/15 resp=0/0 flags=0 id=3 malformed=message truncated`,
	}
	if got := txStrings(s.Txs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s.Drops[l7.DropMalformed] != 3 {
		t.Errorf("drops %v", s.Drops)
	}
}

func tcpMsg(m []byte) []byte { return append(u16(uint16(len(m))), m...) }

// feed runs a TCP conversation given as (dir, bytes) steps, each step's
// bytes cut at the given points, and returns the transactions and drops.
type step struct {
	dir  flow.Dir
	data []byte
}

func feed(ctx func(*l7test.Sink) l7.Context, steps []step, cuts func(i int, b []byte) [][]byte) *l7test.Sink {
	s := &l7test.Sink{}
	p := Protocol.New(ctx(s))
	ts := int64(100)
	for i, st := range steps {
		for _, piece := range cuts(i, st.data) {
			p.Data(st.dir, piece, ts)
			ts++
		}
	}
	p.End(ts)
	return s
}

func tcpCtx(s *l7test.Sink) l7.Context { return s.Context(l7.TCP) }

// Two queries in one segment, their responses in another, cut at every
// position of every step: the transactions (ignoring timestamps, which
// depend on the cuts) and the drops do not change.
func TestTCPChunking(t *testing.T) {
	q1 := cat(hdr(1, flagRD, 1, 0, 0, 0), quest(wname("one.example"), 1, 1))
	q2 := cat(hdr(2, flagRD, 1, 0, 0, 0), quest(wname("two.example"), 28, 1))
	steps := []step{
		{c2s, cat(tcpMsg(q1), tcpMsg(q2))},
		{s2c, cat(tcpMsg(responseA()), tcpMsg(cat(hdr(2, flagQR, 1, 0, 0, 0), quest(wname("two.example"), 28, 1))))},
		{s2c, tcpMsg(cat(hdr(1, flagQR, 1, 1, 0, 0), quest(wname("one.example"), 1, 1), rrec(ptr(12), 1, 1, 5, []byte{10, 0, 0, 1})))},
	}
	whole := feed(tcpCtx, steps, func(_ int, b []byte) [][]byte { return [][]byte{b} })
	noTS := func(txs []*l7.Transaction) []string {
		var out []string
		for _, t := range txs {
			c := *t
			c.ReqTS, c.RespTS = 0, 0
			out = append(out, txString(&c))
		}
		return out
	}
	// In stream order: the unsolicited response, two's response in the
	// same segment, then one's. Sizes include the 2-byte length prefix.
	want := []string{
		fmt.Sprintf(`no_request A "www.example.com" NOERROR req=0/0 resp=0/%d flags=0 id=4660 qclass=IN answers=3 answer=CNAME cdn.example.com, A 192.0.2.1, A 192.0.2.2`, 2+len(responseA())),
		`ok AAAA "two.example" NOERROR req=0/31 resp=0/31 flags=0 id=2 qclass=IN answers=0`,
		`ok A "one.example" NOERROR req=0/31 resp=0/47 flags=0 id=1 qclass=IN answers=1 answer=A 10.0.0.1`,
	}
	if got := noTS(whole.Txs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// ReqTS is the time of the call carrying the query's first byte: both
	// queries came in the first call.
	if whole.Txs[1].ReqTS != 100 || whole.Txs[2].ReqTS != 100 || whole.Txs[2].RespTS != 102 {
		t.Errorf("timestamps: %v", txStrings(whole.Txs))
	}
	for i := range steps {
		for cut := 1; cut < len(steps[i].data); cut++ {
			for _, cut2 := range []int{cut + 1, len(steps[i].data)} {
				if cut2 > len(steps[i].data) {
					continue
				}
				got := feed(tcpCtx, steps, func(j int, b []byte) [][]byte {
					if j != i {
						return [][]byte{b}
					}
					return [][]byte{b[:cut], b[cut:cut2], b[cut2:]}
				})
				if fmt.Sprint(noTS(got.Txs)) != fmt.Sprint(want) || got.Drops != whole.Drops {
					t.Fatalf("step %d cut at %d,%d:\n%s\ndrops %v", i, cut, cut2, strings.Join(noTS(got.Txs), "\n"), got.Drops)
				}
			}
		}
	}
	// Byte by byte.
	got := feed(tcpCtx, steps, func(_ int, b []byte) [][]byte {
		var out [][]byte
		for k := range b {
			out = append(out, b[k:k+1])
		}
		return out
	})
	if fmt.Sprint(noTS(got.Txs)) != fmt.Sprint(want) {
		t.Fatalf("byte by byte:\n%s", strings.Join(noTS(got.Txs), "\n"))
	}
	// The first query's first byte came in call 100, its last in 100+30.
	if got.Txs[1].ReqTS != 100+int64(len(tcpMsg(q1))) || got.Txs[2].ReqTS != 100 {
		t.Errorf("byte by byte ReqTS: %d %d", got.Txs[1].ReqTS, got.Txs[2].ReqTS)
	}
}

func TestTCPOversized(t *testing.T) {
	// A response of 1000 records with MaxMessage 512. When a Data call
	// brings 512 bytes or more of it and not its end, it is reported from
	// its first 512 bytes, flagged truncated, its full size in RespBytes,
	// and the rest is passed over. When it lies whole in what is parsed
	// (one call, or fewer than 512 bytes held and the rest in the next
	// call), it is decoded in full.
	var rrs []byte
	for i := range 1000 {
		rrs = append(rrs, rrec(ptr(12), 1, 1, 5, []byte{10, 0, byte(i >> 8), byte(i)})...)
	}
	q := cat(hdr(1, 0, 1, 0, 0, 0), quest(wname("big.example"), 1, 1))
	r := cat(hdr(1, flagQR, 1, 1000, 0, 0), quest(wname("big.example"), 1, 1), rrs)
	after := cat(hdr(2, 0, 1, 0, 0, 0), quest(wname("after.example"), 1, 1))
	small := func(s *l7test.Sink) l7.Context { c := s.Context(l7.TCP); c.MaxMessage = 512; return c }
	for _, cut := range []int{0, 1, 100, 511, 512, 513, 5000} {
		got := feed(small, []step{{c2s, tcpMsg(q)}, {s2c, tcpMsg(r)}, {c2s, tcpMsg(after)}}, func(i int, b []byte) [][]byte {
			if i != 1 || cut == 0 {
				return [][]byte{b}
			}
			return [][]byte{b[:cut], b[cut:]}
		})
		if len(got.Txs) != 2 {
			t.Fatalf("cut %d: %v", cut, txStrings(got.Txs))
		}
		tx := got.Txs[0]
		if tx.Outcome != l7.OutcomeOK || tx.RespBytes != int64(2+len(r)) || (tx.Flags&l7.FlagTruncated == 0) != (cut < 512) || string(tx.Field(FieldAnswers)) != "1000" ||
			string(tx.Field(FieldAnswer)) != "A 10.0.0.0, A 10.0.0.1, A 10.0.0.2, A 10.0.0.3, A 10.0.0.4, A 10.0.0.5, A 10.0.0.6, A 10.0.0.7" ||
			tx.Field(FieldMalformed) != nil {
			t.Errorf("cut %d: %s", cut, txString(tx))
		}
		if string(got.Txs[1].Target) != "after.example" || got.Drops != [l7.NumDropReasons]int{} {
			t.Errorf("cut %d: after: %s, drops %v", cut, txString(got.Txs[1]), got.Drops)
		}
	}
}

func TestTCPGaps(t *testing.T) {
	q1 := tcpMsg(cat(hdr(1, 0, 1, 0, 0, 0), quest(wname("one.example"), 1, 1)))
	q2 := tcpMsg(cat(hdr(2, 0, 1, 0, 0, 0), quest(wname("two.example"), 1, 1)))
	q3 := tcpMsg(cat(hdr(3, 0, 1, 0, 0, 0), quest(wname("three.example"), 1, 1)))

	// A hole inside q2 (known size): q2 is lost, framing is kept, q3 is
	// decoded at once.
	s, p := newTest(l7.TCP)
	p.Data(c2s, cat(q1, q2[:10]), 1)
	p.Gap(c2s, 5, 2)
	p.Data(c2s, cat(q2[15:], q3), 3)
	p.End(4)
	if got := targets(s.Txs); got != "one.example three.example" {
		t.Errorf("hole in a message: %s", got)
	}
	if s.Drops[l7.DropGap] != len(q2)-5 || s.Drops[l7.DropResync] != 0 {
		t.Errorf("hole in a message: drops %v", s.Drops)
	}

	// A mid-stream start: the bytes before the first message boundary
	// are skipped and counted.
	s, p = newTest(l7.TCP)
	p.Gap(c2s, -1, 1)
	p.Data(c2s, cat(q1[7:], q2[:20]), 2)
	p.Data(c2s, cat(q2[20:], q3), 3)
	p.End(4)
	if got := targets(s.Txs); got != "two.example three.example" {
		t.Errorf("mid-stream: %s", got)
	}
	if s.Drops[l7.DropResync] != len(q1)-7 {
		t.Errorf("mid-stream: drops %v", s.Drops)
	}

	// A hole at a boundary: resynchronise (the next message is found
	// even when its start arrives in pieces).
	s, p = newTest(l7.TCP)
	p.Data(c2s, q1, 1)
	p.Gap(c2s, 100, 2)
	junk := []byte{0xff, 0xff, 0, 1}
	msg := cat(junk, q2, q3)
	for i := range msg {
		p.Data(c2s, msg[i:i+1], int64(3+i))
	}
	p.End(1000)
	if got := targets(s.Txs); got != "one.example two.example three.example" {
		t.Errorf("hole at boundary: %s", got)
	}
	if s.Drops[l7.DropResync] != len(junk) {
		t.Errorf("hole at boundary: drops %v", s.Drops)
	}

	// Garbage framing (a zero length) makes the parser look for the next
	// message rather than decode garbage.
	s, p = newTest(l7.TCP)
	p.Data(c2s, cat(q1, []byte{0, 0, 9, 9, 9}, q2), 1)
	p.End(2)
	if got := targets(s.Txs); got != "one.example two.example" || s.Drops[l7.DropResync] != 5 {
		t.Errorf("zero length: %s, drops %v", got, s.Drops)
	}

	// A message cut by the end of the flow.
	s, p = newTest(l7.TCP)
	p.Data(c2s, cat(q1, q2[:9]), 1)
	p.End(2)
	if got := targets(s.Txs); got != "one.example" || s.Drops[l7.DropOther] != 9 {
		t.Errorf("cut at end: %s, drops %v", got, s.Drops)
	}
}

func targets(txs []*l7.Transaction) string {
	var out []string
	for _, t := range txs {
		out = append(out, string(t.Target))
	}
	return strings.Join(out, " ")
}

func TestDetect(t *testing.T) {
	tcpQ := tcpMsg(queryA())
	for _, tc := range []struct {
		name string
		b    []byte
		port uint16
		want l7.Verdict
	}{
		{"udp query on 53", queryA(), 53, l7.Yes},
		{"udp response on 5353", responseA(), 5353, l7.Yes},
		{"udp query elsewhere", queryA(), 53000, l7.Maybe},
		{"tcp query on 53", tcpQ, 53, l7.Yes},
		{"tcp query elsewhere", tcpQ, 8053, l7.Maybe},
		{"tcp length only", tcpQ[:2], 53, l7.NeedMore},
		{"tcp header part", tcpQ[:9], 53, l7.NeedMore},
		{"tcp name part", tcpQ[:20], 53, l7.NeedMore},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 53, l7.No},
		{"tls", []byte{22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3}, 53, l7.No},
		{"empty", nil, 53, l7.NeedMore},
	} {
		if got := Protocol.Detect(tc.b, c2s, tc.port); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
