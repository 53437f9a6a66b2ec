package dns

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// fuzzScript drives a parser from fuzzer bytes. The first byte picks the
// transport and small limits; then each step is a control byte (bit 0:
// direction; bits 1-2: data, gap of a known size, gap of unknown size;
// bits 3-7 with the next byte: a length) and, for data, that many bytes.
// Timestamps advance by a fuzzer-chosen amount so that timeouts fire.
func fuzzScript(t *testing.T, script []byte) {
	if len(script) == 0 {
		return
	}
	sink := &l7test.Sink{}
	tr := l7.UDP
	if script[0]&1 != 0 {
		tr = l7.TCP
	}
	ctx := sink.Context(tr)
	ctx.MaxPending = 1 + int(script[0]>>1&7)
	ctx.Timeout = 1000
	if script[0]&0x10 != 0 {
		ctx.MaxMessage = 512
	}
	h := Protocol.New(ctx).(*handle)
	p := h.p
	script = script[1:]
	var (
		ts                   int64 = 1
		dataBytes, datagrams int
		shorts, shortBytes   int
	)
	for len(script) >= 2 {
		c, n := script[0], int(script[0]>>3)<<8|int(script[1])
		script = script[2:]
		dir := flow.Dir(c & 1)
		ts += int64(n & 0x3ff)
		switch c >> 1 & 3 {
		case 0, 1:
			n = min(n, len(script))
			b := script[:n]
			script = script[n:]
			h.Data(dir, b, ts)
			dataBytes += n
			datagrams++
			if n < HeaderLen {
				shorts++
				shortBytes += n
			}
		case 2:
			h.Gap(dir, int64(n), ts)
		default:
			h.Gap(dir, -1, ts)
		}
		for i := range p.dirs {
			if l := p.dirs[i].buf.Len(); l > p.limit {
				t.Fatalf("holding %d bytes, limit %d", l, p.limit)
			}
		}
		if len(p.pending) > ctx.MaxPending {
			t.Fatalf("%d pending, MaxPending %d", len(p.pending), ctx.MaxPending)
		}
	}
	h.End(ts + 1)
	before := len(sink.Txs)
	h.End(ts + 2)
	h.Data(flow.ClientToServer, responseA(), ts+3)
	h.Gap(flow.ClientToServer, -1, ts+3)
	if len(sink.Txs) != before {
		t.Fatal("transactions after End")
	}

	msgs, sizes, cut := 0, int64(0), false
	for _, tx := range sink.Txs {
		checkTx(t, tx)
		if tx.ReqTS != 0 {
			msgs++
			sizes += tx.ReqBytes
		}
		if tx.RespTS != 0 {
			msgs++
			sizes += tx.RespBytes
		}
		cut = cut || tx.Flags&l7.FlagTruncated != 0
	}
	drops := 0
	for _, d := range sink.Drops {
		drops += d
	}
	if tr == l7.UDP {
		// Every datagram is one message or a malformed drop.
		if msgs != datagrams-shorts || sink.Drops[l7.DropMalformed] != shortBytes || int(sizes)+drops != dataBytes {
			t.Fatalf("UDP accounting: %d datagrams (%d short, %d bytes), %d messages of %d bytes, drops %v, data %d",
				datagrams, shorts, shortBytes, msgs, sizes, sink.Drops, dataBytes)
		}
		return
	}
	// TCP: every byte received is in a reported message or a drop. A
	// message cut at MaxMessage counts its whole length, part of which
	// may never have come.
	if got := int(sizes) + drops; got != dataBytes && !(cut && got > dataBytes) {
		t.Fatalf("TCP accounting: messages %d + drops %v != %d bytes received", sizes, sink.Drops, dataBytes)
	}
}

var fieldOrder = map[string]int{FieldID: 1, FieldQClass: 2, FieldAnswers: 3, FieldAnswer: 4, FieldTruncated: 5, FieldECS: 6, FieldOpcode: 7, FieldMalformed: 8}

// checkTx holds a transaction to the Sink contract and this package's
// record format.
func checkTx(t *testing.T, tx *l7.Transaction) {
	t.Helper()
	switch tx.Outcome {
	case l7.OutcomeNoResponse:
		if tx.ReqTS == 0 || tx.RespTS != 0 || tx.Status != nil {
			t.Fatalf("no_response with a response: %s", txString(tx))
		}
	case l7.OutcomeNoRequest:
		if tx.ReqTS != 0 || tx.RespTS == 0 {
			t.Fatalf("no_request with a request: %s", txString(tx))
		}
	case l7.OutcomeOK, l7.OutcomeClientError, l7.OutcomeServerError:
		if tx.ReqTS == 0 || tx.RespTS == 0 || tx.RespTS < tx.ReqTS {
			t.Fatalf("%s without both sides: %s", tx.Outcome, txString(tx))
		}
	default:
		t.Fatalf("outcome %v", tx.Outcome)
	}
	if tx.RespTS != 0 && len(tx.Status) == 0 {
		t.Fatalf("response without a status: %s", txString(tx))
	}
	if len(tx.Op) > l7.MaxField || len(tx.Target) > l7.MaxField {
		t.Fatalf("op/target too long")
	}
	last := 0
	for _, f := range tx.Fields {
		o := fieldOrder[f.Key]
		if o <= last {
			t.Fatalf("field %q out of order or unknown: %s", f.Key, txString(tx))
		}
		last = o
		if len(f.Value) > l7.MaxField || len(f.Value) == 0 {
			t.Fatalf("field %s of %d bytes", f.Key, len(f.Value))
		}
	}
	if tx.Field(FieldID) == nil {
		t.Fatalf("no id: %s", txString(tx))
	}
}

func FuzzDNSParser(f *testing.F) {
	step := func(dir flow.Dir, kind byte, b []byte) []byte {
		n := len(b)
		return append([]byte{byte(dir) | kind<<1 | byte(n>>8)<<3, byte(n)}, b...)
	}
	var msgs [][]byte
	msgs = append(msgs, queryA(), responseA(), nxdomain())
	if corpus.Dir() != "" {
		for _, file := range []string{"pktvisor/ecs.pcap", "deepflow/flow_generator/dns/a-and-ns.pcap", "ndpi/malformed_dns.pcap"} {
			cm, _ := readMessages(f, file, nil)
			for i, c := range cm {
				if i < 6 {
					msgs = append(msgs, c.payload)
				}
			}
		}
	}
	for _, m := range msgs {
		// UDP: the message each way.
		f.Add(append([]byte{2}, append(step(flow.ClientToServer, 0, m), step(flow.ServerToClient, 0, m)...)...))
		// TCP: framed, cut in two, a gap, a mid-stream start.
		tm := tcpMsg(m)
		s := []byte{1 | 4}
		s = append(s, step(flow.ClientToServer, 0, tm[:len(tm)/2])...)
		s = append(s, step(flow.ClientToServer, 0, tm[len(tm)/2:])...)
		s = append(s, step(flow.ServerToClient, 3, nil)...) // mid-stream start
		s = append(s, step(flow.ServerToClient, 0, append(tm[3:], tm...))...)
		s = append(s, byte(flow.ClientToServer)|2<<1, 5) // a 5-byte hole
		s = append(s, step(flow.ClientToServer, 0, tm)...)
		f.Add(s)
	}
	f.Fuzz(fuzzScript)
}

// TestFuzzInvariantsOnCorpus runs the fuzz target's invariants over
// whole corpus captures, message by message in both framings.
func TestFuzzInvariantsOnCorpus(t *testing.T) {
	for _, file := range []string{"pktvisor/dns_udp_tcp_random.pcap", "pcapplusplus/PcapExamples/DnsPackets.pcap", "ndpi/malformed_dns.pcap"} {
		cm, _ := readMessages(t, file, nil)
		for _, tr := range []byte{2, 3} {
			script := []byte{tr}
			for _, c := range cm {
				b := c.payload
				if tr == 3 {
					b = tcpMsg(b)
				}
				dir := flow.ClientToServer
				if c.srcPort == 53 {
					dir = flow.ServerToClient
				}
				script = append(script, byte(dir)|byte(len(b)>>8)<<3, byte(len(b)))
				script = append(script, b...)
			}
			fuzzScript(t, script)
		}
	}
}
