package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// AMQP is the Advanced Message Queuing Protocol: 0-9-1 (RabbitMQ) and
// 0-10, and AMQP 1.0.
var AMQP = &l7.Protocol{
	Name:   "amqp",
	TCP:    true,
	Ports:  amqpPorts,
	Detect: detectAMQP,
}

var amqpPorts = []uint16{5672}

// detectAMQP recognises
//   - the protocol header "AMQP" + 4 bytes (0-9-1: 00 00 09 01; 0-10:
//     01 01 00 0a; 1.0: 00/02/03 01 00 00 for AMQP/TLS/SASL), sent by the
//     client, and by a server that refuses the version: Yes;
//   - AMQP 0-9-1 frames (type, channel, size, payload, frame-end 0xCE):
//     a method frame of a known class and method whose frame end is in
//     place, or the 8-byte heartbeat frame, is Yes (this is how a capture
//     that started mid-connection is recognised, and the server's first
//     frame, Connection.Start); other complete frames are Maybe on port
//     5672;
//   - AMQP 1.0 frames (size, data offset, type, channel) holding a
//     performative (descriptor 0x00 0x53 0x10..0x18) or a SASL frame
//     (0x40..0x44): Yes.
func detectAMQP(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if b[0] == 'A' {
		if v := prefix(b, "AMQP"); v != l7.Yes {
			return v
		}
		if len(b) < 8 {
			return l7.NeedMore
		}
		if b[4] <= 3 && b[5] <= 1 && b[6] <= 10 && b[7] <= 10 {
			return l7.Yes
		}
		return l7.No
	}
	if len(b) < 8 {
		if b[0] <= 8 {
			return l7.NeedMore
		}
		return l7.No
	}
	if v := amqp10(b); v != l7.No {
		return v
	}
	return amqp091(b, port)
}

// amqp091 checks an AMQP 0-9-1 frame.
func amqp091(b []byte, port uint16) l7.Verdict {
	typ, size := b[0], be32(b[3:])
	switch typ {
	case 1, 2, 3: // method, content header, content body
	case 8: // heartbeat: channel 0, empty
		if be16(b[1:]) == 0 && size == 0 && b[7] == 0xce {
			return l7.Yes
		}
		return l7.No
	default:
		return l7.No
	}
	// frame_max is negotiated (RabbitMQ: 128 KiB by default); 16 MiB is
	// beyond any broker's setting.
	if size == 0 && typ != 3 || size > 16<<20 {
		return l7.No
	}
	if uint32(len(b)) < 8+size {
		// The frame end is still to come: wait for it if the frame is
		// a method frame (or may be one) small enough to complete
		// within the detection window.
		if typ == 1 && size <= 4096 && (len(b) < 11 || amqpMethod(be16(b[7:]), be16(b[9:]))) {
			return l7.NeedMore
		}
		return weak(port, amqpPorts)
	}
	if b[7+size] != 0xce {
		return l7.No
	}
	if typ == 1 && size >= 4 && amqpMethod(be16(b[7:]), be16(b[9:])) {
		return l7.Yes
	}
	return weak(port, amqpPorts)
}

// amqpMethod reports whether class/method is an AMQP 0-9-1 method
// (including RabbitMQ's confirm extension).
func amqpMethod(class, method uint16) bool {
	switch class {
	case 10: // connection
		return method >= 10 && method <= 61 && method%10 <= 1
	case 20: // channel
		return method == 10 || method == 11 || method == 20 || method == 21 || method == 40 || method == 41
	case 40: // exchange
		return method >= 10 && method <= 51 && method%10 <= 1
	case 50: // queue
		return method >= 10 && method <= 51 && method%10 <= 1
	case 60: // basic
		return method >= 10 && method <= 120 && method%10 <= 2
	case 85: // confirm
		return method == 10 || method == 11
	case 90: // tx
		return method >= 10 && method <= 31 && method%10 <= 1
	}
	return false
}

// amqp10 checks an AMQP 1.0 frame: size >= 8, data offset >= 2 (in
// 4-byte words), type 0 (AMQP) or 1 (SASL); the body opens with a
// described type whose descriptor is a small ulong (0x53) naming a
// performative (0x10..0x18) or a SASL frame (0x40..0x44).
func amqp10(b []byte) l7.Verdict {
	size, doff, typ := be32(b), int(b[4]), b[5]
	if size < 8 || doff < 2 || typ > 1 || size > 16<<20 || uint32(doff*4) > size {
		return l7.No
	}
	o := doff * 4
	if len(b) < o+3 {
		return l7.NeedMore
	}
	if b[o] != 0x00 || b[o+1] != 0x53 {
		return l7.No
	}
	d := b[o+2]
	if typ == 0 && d >= 0x10 && d <= 0x18 || typ == 1 && d >= 0x40 && d <= 0x44 {
		return l7.Yes
	}
	return l7.No
}
