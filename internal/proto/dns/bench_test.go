package dns

import (
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

func BenchmarkParse(b *testing.B) {
	b.Run("query", func(b *testing.B) { benchParse(b, [][]byte{queryA()}) })
	b.Run("response", func(b *testing.B) { benchParse(b, [][]byte{responseA()}) })
	// Every message of a real capture in turn: 5851 messages, about 2000
	// distinct names, so the 256-entry intern table mostly misses and the
	// string allocations show.
	b.Run("capture", func(b *testing.B) {
		msgs, _ := readMessages(b, "pktvisor/dns_udp_tcp_random.pcap", nil)
		payloads := make([][]byte, len(msgs))
		for i, c := range msgs {
			payloads[i] = c.payload
		}
		benchParse(b, payloads)
	})
}

func benchParse(b *testing.B, msgs [][]byte) {
	var m Message
	size := 0
	for _, p := range msgs {
		size += len(p)
	}
	b.SetBytes(int64(size / len(msgs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = Parse(msgs[i], &m)
		if i++; i == len(msgs) {
			i = 0
		}
	}
}

func BenchmarkLooks(b *testing.B) {
	msg := responseA()
	b.ReportAllocs()
	for b.Loop() {
		Looks(msg, false)
	}
}

// countSink counts what it receives and keeps nothing, as the probe's
// sink does not copy on the hot path.
type countSink struct{ txs, drops int }

func (s *countSink) Transaction(*l7.Transaction) { s.txs++ }
func (s *countSink) Drop(_ l7.DropReason, n int) { s.drops += n }
func (s *countSink) Stop()                       {}

// BenchmarkParser measures the transaction parser per query/response
// pair (one op = one transaction: both messages decoded and matched, the
// transaction built and handed over). "udp" and "tcp" run on one
// long-lived flow, as dnsperf's few client sockets do; "capture" replays
// the 5851 messages of pktvisor's random capture (about 2000 distinct
// names, every answer type) as pairs on one flow; "udp-new-flow" starts a
// new parser per pair, as a client with a fresh port per query makes the
// probe do.
func BenchmarkParser(b *testing.B) {
	q, r := queryA(), responseA()
	b.Run("udp", func(b *testing.B) {
		benchPairs(b, l7.UDP, [][2][]byte{{q, r}}, false)
	})
	b.Run("tcp", func(b *testing.B) {
		benchPairs(b, l7.TCP, [][2][]byte{{tcpMsg(q), tcpMsg(r)}}, false)
	})
	b.Run("capture", func(b *testing.B) {
		msgs, _ := readMessages(b, "pktvisor/dns_udp_tcp_random.pcap", nil)
		// Pair each reply with the last query of its id and question.
		type key struct {
			id   uint16
			name string
			typ  uint16
		}
		last := map[key][]byte{}
		var pairs [][2][]byte
		var m Message
		for _, c := range msgs {
			if Parse(c.payload, &m) != nil || len(m.Questions) == 0 {
				continue
			}
			k := key{m.ID, m.Questions[0].Name, m.Questions[0].Type}
			if !m.Response {
				last[k] = c.payload
			} else if q := last[k]; q != nil {
				pairs = append(pairs, [2][]byte{q, c.payload})
				delete(last, k)
			}
		}
		benchPairs(b, l7.UDP, pairs, false)
	})
	b.Run("udp-new-flow", func(b *testing.B) {
		benchPairs(b, l7.UDP, [][2][]byte{{q, r}}, true)
	})
}

func benchPairs(b *testing.B, tr l7.Transport, pairs [][2][]byte, newFlow bool) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(tr)
	ctx.Sink = sink
	p := Protocol.New(ctx)
	size := 0
	for _, pr := range pairs {
		size += len(pr[0]) + len(pr[1])
	}
	b.SetBytes(int64(size / len(pairs)))
	b.ReportAllocs()
	ts, i := int64(1), 0
	for b.Loop() {
		if newFlow {
			p = Protocol.New(ctx)
		}
		pr := pairs[i]
		p.Data(flow.ClientToServer, pr[0], ts)
		p.Data(flow.ServerToClient, pr[1], ts+1000)
		if newFlow {
			p.End(ts + 2000)
		}
		ts += 10000
		if i++; i == len(pairs) {
			i = 0
		}
	}
	b.StopTimer()
	if sink.txs != b.N || sink.drops != 0 {
		b.Fatalf("%d transactions for %d pairs, %d bytes dropped", sink.txs, b.N, sink.drops)
	}
}
