package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Spark is Apache Spark's RPC transport (org.apache.spark.network): the
// standalone master (7077), workers, executors, the block manager and
// the external shuffle service (7337) all speak it.
var Spark = &l7.Protocol{
	Name:   "spark",
	TCP:    true,
	Ports:  sparkPorts,
	Detect: detectSpark,
}

var sparkPorts = []uint16{7077, 7337}

// Spark message types (protocol.Message.Type).
const (
	sparkChunkFetchRequest = 0
	sparkChunkFetchSuccess = 1
	sparkChunkFetchFailure = 2
	sparkRPCRequest        = 3
	sparkRPCResponse       = 4
	sparkRPCFailure        = 5
	sparkStreamRequest     = 6
	sparkStreamResponse    = 7
	sparkStreamFailure     = 8
	sparkOneWayMessage     = 9
	sparkUploadStream      = 10
)

// detectSpark reads Spark's frame: an 8-byte big-endian frame length
// that counts itself, the type byte and the body, then a 1-byte message
// type and the type's header. Neither nDPI nor Wireshark has a Spark
// dissector; the evidence used here is the frame encoder's (MessageEncoder):
//   - RpcRequest and RpcResponse carry a request id (non-negative: it is
//     built from a random UUID's bits with the sign cleared) and a 4-byte
//     body size that must equal the frame length minus the 21 header
//     bytes; OneWayMessage carries the body size alone (frame length
//     minus 13). Two lengths that agree, four zero bytes and a type byte:
//     Yes;
//   - the chunk and stream messages have a fixed or string-sized header
//     that must fit the frame length: Maybe on Spark's ports.
func detectSpark(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	// The frame length is below 2^31 (TransportFrameDecoder's limit), so
	// its first 4 bytes are 0.
	for i := 0; i < 4 && i < len(b); i++ {
		if b[i] != 0 {
			return l7.No
		}
	}
	if len(b) < 9 {
		return l7.NeedMore
	}
	fl := be64(b)
	if fl < 9 || fl > 1<<31-1 {
		return l7.No
	}
	typ := b[8]
	need := 0
	switch typ {
	case sparkRPCRequest, sparkRPCResponse:
		need = 21
	case sparkOneWayMessage:
		need = 13
	case sparkChunkFetchRequest, sparkChunkFetchSuccess:
		need = 21
	case sparkChunkFetchFailure:
		need = 25
	case sparkRPCFailure, sparkUploadStream:
		need = 21
	case sparkStreamRequest, sparkStreamResponse, sparkStreamFailure:
		need = 13
	default:
		return l7.No
	}
	if len(b) < need {
		return l7.NeedMore
	}
	switch typ {
	case sparkRPCRequest, sparkRPCResponse:
		// Either side may send requests: an RpcEnv in client mode is
		// reached over the connection it opened.
		if b[9]&0x80 != 0 {
			return l7.No
		}
		if fl == 21+uint64(be32(b[17:])) {
			return l7.Yes
		}
	case sparkOneWayMessage:
		if fl == 13+uint64(be32(b[9:])) {
			return l7.Yes
		}
	case sparkChunkFetchRequest, sparkChunkFetchSuccess:
		// stream id (8), chunk index (4); ChunkFetchSuccess's body is
		// sent outside the frame.
		if fl == 21 {
			return weak(port, sparkPorts)
		}
	case sparkChunkFetchFailure:
		// stream chunk id (12), error string (4 + n).
		if fl == 25+uint64(be32(b[21:])) {
			return weak(port, sparkPorts)
		}
	case sparkRPCFailure:
		// request id (8), error string (4 + n).
		if fl == 21+uint64(be32(b[17:])) {
			return weak(port, sparkPorts)
		}
	case sparkUploadStream:
		// request id (8), meta size (4), meta, body size (8).
		if fl == 29+uint64(be32(b[17:])) {
			return weak(port, sparkPorts)
		}
	case sparkStreamRequest, sparkStreamResponse, sparkStreamFailure:
		// stream id string (4 + n) [, byte count (8) | error string].
		s := uint64(be32(b[9:]))
		if fl == 13+s || typ == sparkStreamResponse && fl == 21+s || typ == sparkStreamFailure && fl > 17+s {
			return weak(port, sparkPorts)
		}
	}
	return l7.No
}
