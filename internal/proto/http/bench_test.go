package http

import (
	"fmt"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

// countSink counts and discards: the probe's sinks copy what they keep,
// the parser's cost is what is measured.
type countSink struct{ txs, drops int }

func (s *countSink) Transaction(*l7.Transaction) { s.txs++ }
func (s *countSink) Drop(_ l7.DropReason, n int) { s.drops += n }
func (s *countSink) Stop()                       {}

// wrkRequest and nginxResponse are what the probe's throughput capture
// holds (../shared/bench/make-capture.sh: wrk with a Lua script asking
// nginx for /api/itemN.json, keep-alive).
func wrkRequest(i int) []byte {
	return fmt.Appendf(nil, "GET /api/item%d.json HTTP/1.1\r\nHost: 10.77.0.2:8080\r\nUser-Agent: bench-client/%d\r\n\r\n", i%50+1, i%3)
}

func nginxResponse(body int) []byte {
	b := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 16:18:04 GMT\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nLast-Modified: Mon, 23 Nov 2026 16:17:58 GMT\r\n"+
		"Connection: keep-alive\r\nETag: \"6741fa36-%x\"\r\nAccept-Ranges: bytes\r\n\r\n", body, body)
	for range body {
		b = append(b, 'A')
	}
	return b
}

// benchKeepAlive runs one keep-alive connection: each iteration is one
// transaction, the request in one segment, the response in segments of
// at most mss bytes (the capture has TSO/GRO off).
func benchKeepAlive(b *testing.B, body, mss int) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := New(ctx)
	reqs := make([][]byte, 150)
	for i := range reqs {
		reqs[i] = wrkRequest(i)
	}
	resp := nginxResponse(body)
	var segs [][]byte
	for r := resp; len(r) > 0; {
		n := min(len(r), mss)
		segs = append(segs, r[:n])
		r = r[n:]
	}
	b.SetBytes(int64(len(reqs[0]) + len(resp)))
	b.ReportAllocs()
	ts := int64(1e18)
	i := 0
	for b.Loop() {
		ts += 50_000
		p.Data(c2s, reqs[i%len(reqs)], ts)
		for _, s := range segs {
			ts += 1000
			p.Data(s2c, s, ts)
		}
		i++
	}
	b.StopTimer()
	p.End(ts)
	if sink.txs != i || sink.drops != 0 {
		b.Fatalf("%d transactions for %d iterations, %d bytes dropped", sink.txs, i, sink.drops)
	}
}

// One transaction per op: wrk asking nginx for a 2208-byte JSON file
// (item23.json of the capture: 23*97 random bytes, base64) in two
// segments, and for /health ("ok\n", one segment).
func BenchmarkWrkKeepAlive(b *testing.B) { benchKeepAlive(b, 2208, 1448) }
func BenchmarkWrkSmall(b *testing.B)     { benchKeepAlive(b, 3, 1448) }

// BenchmarkPipelined: 16 requests in one segment, then their 16
// responses in one (the worst case for the pending queue's copies).
func BenchmarkPipelined(b *testing.B) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := New(ctx)
	var reqs, resps []byte
	for i := range 16 {
		reqs = append(reqs, wrkRequest(i)...)
		resps = append(resps, nginxResponse(3)...)
	}
	b.SetBytes(int64(len(reqs) + len(resps)))
	b.ReportAllocs()
	ts := int64(1e18)
	for b.Loop() {
		ts += 50_000
		p.Data(c2s, reqs, ts)
		p.Data(s2c, resps, ts+1000)
	}
	b.StopTimer()
	if sink.drops != 0 {
		b.Fatalf("%d bytes dropped", sink.drops)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sink.txs), "ns/tx")
}

// BenchmarkDetect: the detector on a request line (it runs on every new
// flow until a protocol says Yes).
func BenchmarkDetect(b *testing.B) {
	req := wrkRequest(7)
	b.ReportAllocs()
	for b.Loop() {
		if Detect(req, c2s, 8080) != l7.Yes {
			b.Fatal("not detected")
		}
	}
}

// BenchmarkSQLiCheck is the part of BenchmarkWrkKeepAlive spent in
// internal/l7/sqli (one Check per request target).
func BenchmarkSQLiCheck(b *testing.B) {
	sink := &countSink{}
	ctx := l7.DefaultConfig().Context(l7.TCP)
	ctx.Sink = sink
	p := NewParser(ctx)
	m := newMsg()
	m.target = m.put([]byte("/api/item23.json"), l7.MaxField)
	b.ReportAllocs()
	for b.Loop() {
		p.sqli(m)
	}
}
