package decode

import "encoding/binary"

// FlowPeek is the 5-tuple of a frame read straight from its headers by
// Peek. Each address is its 16-byte form (IPv4 as IPv4-mapped IPv6, as
// netip.Addr.As16 gives it) read as two little-endian words: what a flow
// hash consumes, without copying the bytes around.
type FlowPeek struct {
	Src, Dst         [2]uint64
	SrcPort, DstPort uint16
	Proto            uint8
}

// AddrWords returns the words of a 16-byte address form as FlowPeek holds
// them.
func AddrWords(a [16]byte) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(a[:8]), binary.LittleEndian.Uint64(a[8:])}
}

// Peek reads the 5-tuple of the common frame, a TCP or UDP packet over
// Ethernet (VLAN tags allowed), a Linux cooked header or raw IP, without
// decoding it: no state, no counters, a few loads. It answers false for
// everything whose flow only Decode can tell: fragments, tunnels, IPv6
// extension headers, other protocols, link types and anything short or
// odd. When it answers true, Decode of the same frame either finds exactly
// this tuple or calls the frame malformed; the file reader relies on that
// to let each worker skip other workers' frames (see probe.ReadFile).
func (d *Decoder) Peek(link uint16, b []byte, f *FlowPeek) bool {
	var et uint16
	switch link {
	case linkEthernet:
		if len(b) < 14 {
			return false
		}
		et, b = be16(b[12:14]), b[14:]
		for range 2 {
			if et != etherVLAN && et != etherQinQ {
				break
			}
			if len(b) < 4 {
				return false
			}
			et, b = be16(b[2:4]), b[4:]
		}
	case linkSLL:
		if len(b) < 16 || be16(b[2:4]) == arphrdNetlink {
			return false
		}
		et, b = be16(b[14:16]), b[16:]
	case linkSLL2:
		if len(b) < 20 || be16(b[8:10]) == arphrdNetlink {
			return false
		}
		et, b = be16(b[0:2]), b[20:]
	case linkRaw, linkRawBSD12, linkRawBSD14, linkIPv4, linkIPv6:
		if len(b) == 0 {
			return false
		}
		switch b[0] >> 4 {
		case 4:
			et = etherIPv4
		case 6:
			et = etherIPv6
		}
		if (link == linkIPv4 && et != etherIPv4) || (link == linkIPv6 && et != etherIPv6) {
			return false
		}
	default:
		return false
	}
	var l4 []byte
	switch et {
	case etherIPv4:
		if len(b) < 20 || b[0]>>4 != 4 {
			return false
		}
		ihl := int(b[0]&0x0f) << 2
		if ihl < 20 || be16(b[6:8])&0x3fff != 0 || len(b) < ihl+4 {
			return false
		}
		// ::ffff:a.b.c.d: the first word is zero.
		f.Src = [2]uint64{0, 0xffff<<16 | uint64(binary.LittleEndian.Uint32(b[12:16]))<<32}
		f.Dst = [2]uint64{0, 0xffff<<16 | uint64(binary.LittleEndian.Uint32(b[16:20]))<<32}
		f.Proto = b[9]
		l4 = b[ihl:]
	case etherIPv6:
		if len(b) < 44 || b[0]>>4 != 6 {
			return false
		}
		f.Src = [2]uint64{binary.LittleEndian.Uint64(b[8:16]), binary.LittleEndian.Uint64(b[16:24])}
		f.Dst = [2]uint64{binary.LittleEndian.Uint64(b[24:32]), binary.LittleEndian.Uint64(b[32:40])}
		f.Proto = b[6]
		l4 = b[40:]
	default:
		return false
	}
	switch f.Proto {
	case ProtoTCP:
	case ProtoUDP:
		if port := be16(l4[2:4]); d.tunnelPorts[port>>6]&(1<<(port&63)) != 0 {
			return false
		}
	default:
		return false
	}
	f.SrcPort = be16(l4[0:2])
	f.DstPort = be16(l4[2:4])
	return true
}
