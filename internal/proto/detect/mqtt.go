package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// MQTT is MQTT 3.1, 3.1.1 and 5.0 over TCP.
var MQTT = &l7.Protocol{
	Name:   "mqtt",
	TCP:    true,
	Ports:  mqttPorts,
	Detect: detectMQTT,
}

var mqttPorts = []uint16{1883}

// detectMQTT: a CONNECT packet (0x10, remaining length, protocol name
// "MQTT" with level 4 or 5, or "MQIsdp" with level 3, connect flags with
// the reserved bit clear) is Yes. Anything else must be a run of
// well-formed control packets (valid type and fixed-header flags, a
// remaining length that fits, a PUBLISH topic that is text) ending
// exactly at the end of b: Maybe on port 1883 (a CONNACK, or a capture
// that started mid-session).
func detectMQTT(b []byte, _ flow.Dir, port uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if b[0] == 0x10 {
		return mqttConnect(b)
	}
	p := b
	for n := 0; len(p) > 0; n++ {
		if n == 16 {
			break // enough evidence; the rest is not looked at
		}
		typ, flags := p[0]>>4, p[0]&0x0f
		rl, hl, ok := mqttLength(p[1:])
		if !ok {
			if hl < 0 { // the length is cut short
				return weak(port, mqttPorts)
			}
			return l7.No
		}
		switch typ {
		case 3: // PUBLISH: DUP, QoS (not 3), RETAIN
			if flags&0x06 == 0x06 || rl < 2 {
				return l7.No
			}
		case 6, 8, 10: // PUBREL, SUBSCRIBE, UNSUBSCRIBE
			if flags != 2 {
				return l7.No
			}
		case 1, 2, 4, 5, 7, 9, 11, 12, 13, 14, 15:
			if flags != 0 {
				return l7.No
			}
		default:
			return l7.No
		}
		switch typ {
		case 12, 13: // PINGREQ, PINGRESP
			if rl != 0 {
				return l7.No
			}
		case 2: // CONNACK: acknowledge flags, return/reason code
			if rl < 2 || len(p) > 1+hl && p[1+hl]&0xfe != 0 {
				return l7.No
			}
		case 4, 5, 6, 7, 11: // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: packet id
			if rl < 2 {
				return l7.No
			}
		case 8, 9, 10: // SUBSCRIBE, SUBACK, UNSUBSCRIBE
			if rl < 3 {
				return l7.No
			}
		}
		end := 1 + hl + rl
		if typ == 3 {
			// Topic name: a UTF-8 string with no NUL and no wildcards.
			if len(p) >= 1+hl+2 {
				tl := int(be16(p[1+hl:]))
				if tl == 0 || tl+2 > rl {
					return l7.No
				}
				t := p[1+hl+2:]
				if len(t) > tl {
					t = t[:tl]
				}
				for _, c := range t {
					if c == 0 || c == '+' || c == '#' || c < 0x20 {
						return l7.No
					}
				}
			}
		}
		if end > len(p) {
			return weak(port, mqttPorts) // the last packet continues later
		}
		p = p[end:]
	}
	return weak(port, mqttPorts)
}

// mqttLength decodes the remaining length varint at the start of b: the
// length, the bytes it took, and ok. hl < 0 means b ends inside it.
func mqttLength(b []byte) (rl, hl int, ok bool) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i == len(b) {
			return 0, -1, false
		}
		rl += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return rl, i + 1, true
		}
		mult *= 128
	}
	return 0, 0, false
}

func mqttConnect(b []byte) l7.Verdict {
	rl, hl, ok := mqttLength(b[1:])
	if !ok {
		if hl < 0 {
			return l7.NeedMore
		}
		return l7.No
	}
	if rl < 10 {
		return l7.No
	}
	v := b[1+hl:]
	// Variable header: protocol name, level, connect flags, keep alive.
	if len(v) < 2 {
		return l7.NeedMore
	}
	switch be16(v) {
	case 4:
		if r := prefix(v, "\x00\x04MQTT"); r != l7.Yes {
			return r
		}
		v = v[6:]
		if len(v) < 2 {
			return l7.NeedMore
		}
		if v[0] != 4 && v[0] != 5 {
			return l7.No
		}
	case 6:
		if r := prefix(v, "\x00\x06MQIsdp"); r != l7.Yes {
			return r
		}
		v = v[8:]
		if len(v) < 2 {
			return l7.NeedMore
		}
		if v[0] != 3 {
			return l7.No
		}
	default:
		return l7.No
	}
	if v[1]&0x01 != 0 { // reserved flag
		return l7.No
	}
	return l7.Yes
}
