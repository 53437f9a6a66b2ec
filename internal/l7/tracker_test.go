package l7_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// lineProto is a toy protocol for the Tracker's tests: the client sends
// "REQ <x>\n", the server answers "RSP <x>\n". "PANIC\n" makes the parser
// panic, "STOP\n" makes it stop.
var lineProto = &l7.Protocol{
	Name: "line", TCP: true, UDP: true, Ports: []uint16{7777},
	Detect: func(b []byte, dir flow.Dir, port uint16) l7.Verdict {
		if len(b) < 4 {
			if bytes.HasPrefix([]byte("REQ "), b) {
				return l7.NeedMore
			}
			return l7.No
		}
		if bytes.HasPrefix(b, []byte("REQ ")) {
			return l7.Yes
		}
		return l7.No
	},
	New: func(ctx l7.Context) l7.Parser {
		return &lineParser{ctx: ctx, buf: [2]l7.Buf{ctx.NewBuf(), ctx.NewBuf()}}
	},
}

type lineParser struct {
	ctx     l7.Context
	buf     [2]l7.Buf
	pending l7.Queue[int64]
	tx      l7.Transaction
}

func (p *lineParser) Data(dir flow.Dir, b []byte, ts int64) {
	in := p.buf[dir].Feed(b)
	for {
		i := bytes.IndexByte(in, '\n')
		if i < 0 {
			break
		}
		line := in[:i]
		in = in[i+1:]
		switch {
		case string(line) == "PANIC":
			panic("asked to")
		case string(line) == "STOP":
			p.ctx.Sink.Stop()
		case string(line) == "SWAP":
			l7.SwapRoles(p.ctx.Sink)
		case dir == flow.ClientToServer:
			p.pending.Push(ts)
		default:
			start, ok := p.pending.Pop()
			p.tx = l7.Transaction{ReqTS: start, RespTS: ts, Target: line[min(4, len(line)):]}
			if !ok {
				p.tx.Outcome = l7.OutcomeNoRequest
			}
			p.ctx.Sink.Transaction(&p.tx)
		}
	}
	if n := p.buf[dir].Keep(in); n > 0 {
		p.ctx.Sink.Drop(l7.DropTooLarge, n)
	}
}

func (p *lineParser) Gap(dir flow.Dir, n int64, ts int64) {
	p.ctx.Sink.Drop(l7.DropGap, p.buf[dir].Reset())
}

func (p *lineParser) End(ts int64) {
	for {
		start, ok := p.pending.Pop()
		if !ok {
			return
		}
		p.tx = l7.Transaction{ReqTS: start, Outcome: l7.OutcomeNoResponse}
		p.ctx.Sink.Transaction(&p.tx)
	}
}

type out struct{ txs []*l7.Transaction }

func (o *out) Transaction(t *l7.Transaction) { o.txs = append(o.txs, t.Clone()) }

// conn drives one TCP connection through a flow table and a Tracker.
type conn struct {
	t        *testing.T
	table    *flow.Table
	tr       *l7.Tracker
	seq      [2]uint32
	ts       int64
	cli, srv netip.AddrPort
}

func newConn(t *testing.T, tr *l7.Tracker, port uint16) *conn {
	c := &conn{t: t, tr: tr, seq: [2]uint32{1000, 5000}, ts: 1e18,
		cli: netip.MustParseAddrPort("10.0.0.1:40000"), srv: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port)}
	c.table = flow.NewTable(flow.DefaultConfig(), tr.FlowEnded)
	return c
}

func (c *conn) send(dir flow.Dir, flags uint8, payload string) {
	p := decode.Packet{Timestamp: c.ts, IPVersion: 4, Proto: decode.ProtoTCP, TCPFlags: flags, Seq: c.seq[dir], Ack: c.seq[1-dir],
		Payload: []byte(payload), PayloadLen: len(payload), IPLen: 40 + len(payload), Window: 1000}
	p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = c.cli.Addr(), c.srv.Addr(), c.cli.Port(), c.srv.Port()
	if dir == flow.ServerToClient {
		p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = c.srv.Addr(), c.cli.Addr(), c.srv.Port(), c.cli.Port()
	}
	c.ts += 1e6
	c.seq[dir] += uint32(len(payload))
	if flags&(decode.TCPSyn|decode.TCPFin) != 0 {
		c.seq[dir]++
	}
	ev := c.table.Observe(&p)
	c.tr.Packet(&ev, &p)
}

func (c *conn) handshake() {
	c.send(0, decode.TCPSyn, "")
	c.send(1, decode.TCPSyn|decode.TCPAck, "")
	c.send(0, decode.TCPAck, "")
}

func TestTrackerDetectsSplitAndPairs(t *testing.T) {
	o := &out{}
	tr, err := l7.NewTracker(l7.DefaultConfig(), []*l7.Protocol{lineProto}, o)
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(t, tr, 31337) // not a hinted port: content decides
	c.handshake()
	c.send(0, decode.TCPAck, "RE") // NeedMore: held
	c.send(0, decode.TCPAck, "Q a\nREQ b\n")
	c.send(1, decode.TCPAck, "RSP a\n")
	c.send(1, decode.TCPAck, "RSP b\nRSP c\n")
	c.send(0, decode.TCPAck, "REQ d\n")
	c.table.Flush()
	if len(o.txs) != 4 {
		t.Fatalf("got %d transactions, want 4", len(o.txs))
	}
	if string(o.txs[0].Target) != "a" || string(o.txs[1].Target) != "b" || o.txs[0].Proto != "line" || o.txs[0].Server != c.srv {
		t.Errorf("first transactions: %+v %+v", o.txs[0], o.txs[1])
	}
	if o.txs[2].Outcome != l7.OutcomeNoRequest || o.txs[3].Outcome != l7.OutcomeNoResponse {
		t.Errorf("outcomes %v %v", o.txs[2].Outcome, o.txs[3].Outcome)
	}
	st := tr.Stats()
	if st.Detected["line"] != 1 || st.ParsedBytes != uint64(len("REQ a\nREQ b\nRSP a\nRSP b\nRSP c\nREQ d\n")) {
		t.Errorf("stats %+v", st)
	}
}

func TestTrackerUnknownAndPanicAndStop(t *testing.T) {
	o := &out{}
	tr, _ := l7.NewTracker(l7.DefaultConfig(), []*l7.Protocol{lineProto}, o)
	c := newConn(t, tr, 80)
	c.handshake()
	junk := string(bytes.Repeat([]byte("x"), 5000))
	c.send(0, decode.TCPAck, junk)
	c.send(0, decode.TCPAck, "REQ late\n") // detection gave up: counted, not parsed
	c.table.Flush()
	st := tr.Stats()
	if st.Unknown != 1 || st.NotParsed[l7.NotParsedUnknown] != uint64(len(junk)+9) || len(o.txs) != 0 {
		t.Errorf("unknown: %+v, %d txs", st, len(o.txs))
	}

	tr, _ = l7.NewTracker(l7.DefaultConfig(), []*l7.Protocol{lineProto}, o)
	c = newConn(t, tr, 7777)
	c.handshake()
	c.send(0, decode.TCPAck, "REQ a\nPANIC\n")
	c.send(0, decode.TCPAck, "REQ b\n")
	c.table.Flush()
	st = tr.Stats()
	if st.ParserPanics != 1 || st.NotParsed[l7.NotParsedPanic] != 6 {
		t.Errorf("panic: %+v", st)
	}

	tr, _ = l7.NewTracker(l7.DefaultConfig(), []*l7.Protocol{lineProto}, o)
	c = newConn(t, tr, 7777)
	c.handshake()
	c.send(0, decode.TCPAck, "REQ a\nSTOP\n")
	c.send(0, decode.TCPAck, "opaque bulk")
	c.table.Flush()
	st = tr.Stats()
	if st.NotParsed[l7.NotParsedOpaque] != 11 || st.Reassembly.StreamsActive != 0 {
		t.Errorf("stop: %+v", st)
	}
}

func TestTrackerUnknownEnabledName(t *testing.T) {
	cfg := l7.DefaultConfig()
	cfg.Enabled = []string{"nope"}
	if _, err := l7.NewTracker(cfg, []*l7.Protocol{lineProto}, &out{}); err == nil {
		t.Fatal("want an error for an unknown protocol name")
	}
}

// Flows that never finish a message cannot make the parsers hold more
// than MaxParserMemory together.
func TestTrackerParserMemoryBudget(t *testing.T) {
	cfg := l7.DefaultConfig()
	cfg.MaxParserMemory = 64 << 10
	o := &out{}
	tr, _ := l7.NewTracker(cfg, []*l7.Protocol{lineProto}, o)
	table := flow.NewTable(flow.DefaultConfig(), tr.FlowEnded)
	partial := "REQ " + string(bytes.Repeat([]byte("y"), 1000)) // no newline: held
	for i := range 1000 {
		c := &conn{t: t, tr: tr, table: table, seq: [2]uint32{1000, 5000}, ts: 1e18 + int64(i)*1e6,
			cli: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(10000+i)), srv: netip.MustParseAddrPort("10.0.0.2:7777")}
		c.handshake()
		c.send(0, decode.TCPAck, partial)
		c.send(0, decode.TCPAck, "zz")
	}
	st := tr.Stats()
	if st.ParserMemoryPeak > uint64(cfg.MaxParserMemory) || st.ParserMemoryDenied == 0 || st.ParserDrops[l7.DropTooLarge] == 0 {
		t.Fatalf("peak %d (limit %d), denied %d, dropped %d", st.ParserMemoryPeak, cfg.MaxParserMemory, st.ParserMemoryDenied, st.ParserDrops[l7.DropTooLarge])
	}
	table.Flush()
	if st := tr.Stats(); st.ParserMemory != 0 {
		t.Errorf("after every flow ended, %d bytes still charged", st.ParserMemory)
	}
}

// A stream the reassembler gives up (idle) while the flow lives on is
// followed again from its next segment, with the parser already chosen.
func TestTrackerResumesIdledStream(t *testing.T) {
	cfg := l7.DefaultConfig()
	cfg.Reassembly.IdleTimeout = 1e9
	o := &out{}
	tr, _ := l7.NewTracker(cfg, []*l7.Protocol{lineProto}, o)
	c := newConn(t, tr, 7777)
	c.handshake()
	c.send(0, decode.TCPAck, "REQ a\n")
	c.ts += 5e9
	tr.Expire(c.ts) // the stream idles out in the reassembler; the flow table keeps the flow
	c.send(1, decode.TCPAck, "RSP a\n")
	c.send(0, decode.TCPAck, "REQ b\n")
	c.send(1, decode.TCPAck, "RSP b\n")
	c.table.Flush()
	st := tr.Stats()
	if st.Resumed != 1 || st.Detected["line"] != 1 {
		t.Fatalf("resumed %d, detected %v", st.Resumed, st.Detected)
	}
	// REQ a ended unanswered with the first stream; RSP a has no request
	// in the second; REQ b / RSP b pair.
	var outcomes []l7.Outcome
	for _, tx := range o.txs {
		outcomes = append(outcomes, tx.Outcome)
	}
	if len(o.txs) != 3 || outcomes[0] != l7.OutcomeNoResponse || outcomes[1] != l7.OutcomeNoRequest || outcomes[2] != l7.OutcomeOK || string(o.txs[2].Target) != "b" {
		t.Fatalf("transactions %v", outcomes)
	}
}

// A parser that finds the roles backwards swaps the endpoints of the
// flow's transactions from then on.
func TestTrackerSwapRoles(t *testing.T) {
	o := &out{}
	tr, _ := l7.NewTracker(l7.DefaultConfig(), []*l7.Protocol{lineProto}, o)
	c := newConn(t, tr, 7777)
	c.handshake()
	c.send(0, decode.TCPAck, "REQ a\nSWAP\nREQ b\n")
	c.table.Flush()
	if st := tr.Stats(); st.RolesSwapped != 1 || len(o.txs) != 2 {
		t.Fatalf("swapped %d, %d transactions", st.RolesSwapped, len(o.txs))
	}
	for _, tx := range o.txs {
		if tx.Client != c.srv || tx.Server != c.cli {
			t.Errorf("client %v server %v, want %v %v", tx.Client, tx.Server, c.srv, c.cli)
		}
	}
}
