package http2

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

type countSink struct{ n, drops int }

func (s *countSink) Transaction(*l7.Transaction) { s.n++ }
func (s *countSink) Drop(_ l7.DropReason, n int) { s.drops += n }
func (s *countSink) Stop()                       {}

// setStream rewrites the stream id of every frame in b.
func setStream(b []byte, id uint32) {
	for off := 0; off+frameHeaderLen <= len(b); {
		h := readFrameHeader(b[off:])
		if h.stream != 0 {
			binary.BigEndian.PutUint32(b[off+5:], id)
		}
		off += frameHeaderLen + h.length
	}
}

// BenchmarkGRPCUnary feeds one gRPC unary call per iteration on a
// connection in steady state: a client calling the same method again, so
// its header fields are all in the HPACK dynamic tables (as with real
// clients), with a 64-byte request message and a 256-byte response. One
// transaction per op. The "varying" variant adds a header sent as a
// literal with a literal name (x-request-id, a new value per call): hpack
// decodes its name and value into two new strings, the only allocations.
func BenchmarkGRPCUnary(b *testing.B) {
	b.Run("steady", func(b *testing.B) { benchUnary(b, false) })
	b.Run("varying", func(b *testing.B) { benchUnary(b, true) })
}

func benchUnary(b *testing.B, varying bool) {
	c := newConv()
	call := func(id uint32) [3][]byte {
		blk := c.block(c2s, grpcReq...)
		if varying {
			// A literal without indexing, raw (not Huffman): its value
			// is patched per call below.
			blk = append(blk, literal("x-request-id", "r-00000000")...)
		}
		return [3][]byte{
			append(frame(frameHeaders, flagEndHeaders, id, blk), frame(frameData, flagEndStream, id, grpcMsg(64))...),
			append(c.headers(s2c, id, 0, ":status", "200", "content-type", "application/grpc"), frame(frameData, 0, id, grpcMsg(256))...),
			c.headers(s2c, id, flagEndStream, "grpc-status", "0", "grpc-message", ""),
		}
	}
	// The first call fills the tables; the second is the template.
	first := call(1)
	tmpl := call(3)
	sink := &countSink{}
	ctx := defaultCtx()
	ctx.Sink = sink
	p := New(ctx)
	p.Data(c2s, []byte(preface), 1)
	p.Data(c2s, first[0], 1)
	p.Data(s2c, first[1], 1)
	p.Data(s2c, first[2], 1)
	size := len(tmpl[0]) + len(tmpl[1]) + len(tmpl[2])
	b.SetBytes(int64(size))
	b.ReportAllocs()
	id := uint32(5)
	ts := int64(10)
	var reqID []byte
	end := len(tmpl[0]) - len(frame(frameData, flagEndStream, 0, grpcMsg(64))) // the end of the HEADERS frame
	for b.Loop() {
		for i := range tmpl {
			setStream(tmpl[i], id)
		}
		if varying {
			// Same length, new digits: the literal value changes.
			reqID = strconv.AppendUint(reqID[:0], uint64(id), 10)
			copy(tmpl[0][end-len(reqID):end], reqID)
		}
		p.Data(flow.ClientToServer, tmpl[0], ts)
		p.Data(flow.ServerToClient, tmpl[1], ts+1)
		p.Data(flow.ServerToClient, tmpl[2], ts+2)
		id += 2
		ts += 3
	}
	b.StopTimer()
	if sink.drops != 0 || sink.n < b.N {
		b.Fatalf("%d transactions for %d calls, %d bytes dropped", sink.n, b.N, sink.drops)
	}
}

func BenchmarkDetect(b *testing.B) {
	c := newConv()
	mid := append(c.headers(c2s, 1, 0, grpcReq...), frame(frameData, flagEndStream, 1, grpcMsg(64))...)
	b.ReportAllocs()
	for b.Loop() {
		Detect(mid, flow.ClientToServer, 50051)
	}
}
