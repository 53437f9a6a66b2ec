package decode

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// pcap LINKTYPE values understood by the decoder.
const (
	linkNull      = 0
	linkEthernet  = 1
	linkRawBSD12  = 12 // DLT_RAW as written by some platforms' tools
	linkRawBSD14  = 14
	linkRaw       = 101
	linkLoop      = 108
	linkSLL       = 113
	linkIPv4      = 228
	linkIPv6      = 229
	linkSLL2      = 276
	etherIPv4     = 0x0800
	etherIPv6     = 0x86dd
	etherVLAN     = 0x8100
	etherQinQ     = 0x88a8
	etherQinQ9100 = 0x9100
	etherQinQ9200 = 0x9200
	etherMPLS     = 0x8847
	etherMPLSMC   = 0x8848
	etherPPPoE    = 0x8864
	etherTEB      = 0x6558 // transparent Ethernet bridging (GRE, Geneve)
	etherERSPAN2  = 0x88be
	etherERSPAN3  = 0x22eb
	etherPPP      = 0x880b // PPTP enhanced GRE
)

// Decoder decodes frames into Packets. It holds the reassembly state and the
// counters of one goroutine: it is not safe for concurrent use.
type Decoder struct {
	maxDepth int
	// tunnelPorts is a bitmap of every UDP port that may start a tunnel, so
	// that ordinary UDP costs one bit test.
	tunnelPorts [1024]uint64
	vxlanPorts  []uint16
	gpePorts    []uint16
	genevePorts []uint16

	// snapped is true while decoding bytes that were cut short by the
	// capture (snaplen): a length field pointing past the captured bytes is
	// then expected rather than malformed.
	snapped  bool
	reason   reason // why the current frame is malformed
	ts       int64  // packet time of the current frame
	wireLen  int    // of the current frame
	frameLen int    // captured length of the current frame

	c  counters
	fr defrag
}

// New returns a Decoder. Zero fields of cfg take their defaults; call
// cfg.Validate first to reject a bad configuration.
func New(cfg Config) *Decoder {
	cfg = cfg.withDefaults()
	d := &Decoder{
		maxDepth:    cfg.MaxTunnelDepth,
		vxlanPorts:  append([]uint16(nil), cfg.VXLANPorts...),
		gpePorts:    append([]uint16(nil), cfg.VXLANGPEPorts...),
		genevePorts: append([]uint16(nil), cfg.GenevePorts...),
	}
	for _, l := range [][]uint16{d.vxlanPorts, d.gpePorts, d.genevePorts} {
		for _, port := range l {
			d.tunnelPorts[port>>6] |= 1 << (port & 63)
		}
	}
	d.fr.init(cfg)
	return d
}

// Decode decodes one frame captured on a link of pcap LINKTYPE link.
// wireLen is the frame's length on the wire (the captured data may be
// shorter) and ts its time in Unix nanoseconds, which also drives the expiry
// of incomplete fragmented datagrams. p is overwritten; its Payload may point
// into data or into a reassembly buffer owned by the Decoder, valid until the
// next call.
func (d *Decoder) Decode(link uint16, data []byte, wireLen int, ts int64, p *Packet) Status {
	*p = Packet{Timestamp: ts, WireLen: wireLen, PktType: PktTypeUnknown}
	d.c.frames++
	d.reason = reasonNone
	d.ts = ts
	d.snapped = wireLen > len(data)
	d.wireLen, d.frameLen = wireLen, len(data)
	if d.fr.active() {
		d.fr.maintain(d, ts)
	}
	var st Status
	switch link {
	case linkEthernet:
		st = d.ethernet(data, p, 0)
	case linkRaw, linkRawBSD12, linkRawBSD14:
		st = d.rawIP(data, p, 0)
	case linkIPv4:
		st = d.ipv4(data, p, 0)
	case linkIPv6:
		st = d.ipv6(data, p, 0)
	case linkSLL:
		st = d.sll(data, p)
	case linkSLL2:
		st = d.sll2(data, p)
	case linkNull, linkLoop:
		st = d.null(link, data, p)
	default:
		d.c.unsupported++
		return StatusUnsupportedLink
	}
	switch st {
	case StatusOK:
		d.c.ip++
	case StatusNotIP:
		d.c.notIP++
	case StatusFragment:
		d.c.fragFrames++
	case StatusMalformed:
		d.c.malformed[d.reason]++
	}
	return st
}

// bad records why the current frame is malformed.
func (d *Decoder) bad(r reason) Status {
	d.reason = r
	return StatusMalformed
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// null decodes the BSD loopback header: an address family, in host byte
// order for LINKTYPE_NULL (so in either order, depending on the machine that
// wrote the file) and in network order for LINKTYPE_LOOP.
func (d *Decoder) null(link uint16, b []byte, p *Packet) Status {
	if len(b) < 4 {
		return d.bad(reasonNullShort)
	}
	var af uint32
	if link == linkLoop {
		af = binary.BigEndian.Uint32(b)
	} else {
		af = binary.LittleEndian.Uint32(b)
	}
	if af&0xffff0000 != 0 {
		// Families are small numbers: high bits mean the other byte order.
		af = bits.ReverseBytes32(af)
	}
	switch af {
	case 2:
		return d.ipv4(b[4:], p, 0)
	case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
		return d.ipv6(b[4:], p, 0)
	}
	return StatusNotIP
}

// rawIP decodes a frame that starts with an IP header of either version.
func (d *Decoder) rawIP(b []byte, p *Packet, depth int) Status {
	if len(b) == 0 {
		return d.bad(reasonRawShort)
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p, depth)
	case 6:
		return d.ipv6(b, p, depth)
	}
	return d.bad(reasonIPVersion)
}

// ARPHRD values whose cooked-header protocol field is not an ethertype.
const arphrdNetlink = 824

func (d *Decoder) sll(b []byte, p *Packet) Status {
	if len(b) < 16 {
		return d.bad(reasonSLLShort)
	}
	pt := be16(b[0:2])
	if pt > 0xff {
		pt = PktTypeUnknown
	}
	p.PktType = uint8(pt)
	return d.cooked(be16(b[2:4]), be16(b[14:16]), b[16:], p)
}

func (d *Decoder) sll2(b []byte, p *Packet) Status {
	if len(b) < 20 {
		return d.bad(reasonSLL2Short)
	}
	p.PktType = b[10]
	return d.cooked(be16(b[8:10]), be16(b[0:2]), b[20:], p)
}

// cooked dispatches on the protocol field of a Linux cooked header. Below
// 0x0600 the field is a Linux ETH_P_* pseudo-protocol (802.2, CAN, ...), and
// on netlink captures it is a netlink family: neither carries IP.
func (d *Decoder) cooked(hatype, proto uint16, b []byte, p *Packet) Status {
	if hatype == arphrdNetlink || proto < 0x0600 {
		return StatusNotIP
	}
	return d.ethertype(proto, b, p, 0)
}

func (d *Decoder) ethernet(b []byte, p *Packet, depth int) Status {
	if len(b) < 14 {
		return d.bad(reasonEthernetShort)
	}
	return d.ethertype(be16(b[12:14]), b[14:], p, depth)
}

// ethertype decodes b as the payload of ethertype et, peeling any number of
// VLAN tags. Link-layer facts (tags, labels) are recorded only for the
// outermost link (depth 0).
func (d *Decoder) ethertype(et uint16, b []byte, p *Packet, depth int) Status {
	for {
		switch et {
		case etherIPv4:
			return d.ipv4(b, p, depth)
		case etherIPv6:
			return d.ipv6(b, p, depth)
		case etherVLAN, etherQinQ, etherQinQ9100, etherQinQ9200:
			if len(b) < 4 {
				return d.bad(reasonVLANShort)
			}
			if depth == 0 {
				if p.NumVLANs < 2 {
					p.VLANs[p.NumVLANs] = be16(b[0:2]) & 0x0fff
				}
				if p.NumVLANs < 255 {
					p.NumVLANs++
				}
			}
			et = be16(b[2:4])
			b = b[4:]
		case etherMPLS, etherMPLSMC:
			return d.mpls(b, p, depth)
		case etherPPPoE:
			return d.pppoe(b, p, depth)
		case etherTEB:
			// An Ethernet frame follows (GRE, Geneve, cooked IPGRE). Looping
			// rather than recursing keeps a hostile chain of such headers
			// linear in its length.
			if len(b) < 14 {
				return d.bad(reasonEthernetShort)
			}
			et = be16(b[12:14])
			b = b[14:]
		default:
			// ARP, LLDP, 802.3 length fields (<= 1500) and the rest.
			return StatusNotIP
		}
	}
}

// mpls pops the label stack; what follows the bottom label has no type
// field, so the IP version nibble decides.
func (d *Decoder) mpls(b []byte, p *Packet, depth int) Status {
	for {
		if len(b) < 4 {
			return d.bad(reasonMPLSShort)
		}
		bottom := b[2]&1 != 0
		if depth == 0 && p.MPLS < 255 {
			p.MPLS++
		}
		b = b[4:]
		if bottom {
			break
		}
	}
	if len(b) == 0 {
		return d.bad(reasonMPLSShort)
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p, depth)
	case 6:
		return d.ipv6(b, p, depth)
	}
	return StatusNotIP // pseudowire control word, or a payload we do not know
}

// pppoe decodes a PPPoE session frame (RFC 2516).
func (d *Decoder) pppoe(b []byte, p *Packet, depth int) Status {
	if len(b) < 8 {
		return d.bad(reasonPPPoEShort)
	}
	n := int(be16(b[4:6])) // PPP protocol field + payload
	if n < 2 {
		return d.bad(reasonPPPoEShort)
	}
	proto := be16(b[6:8])
	b = b[8:]
	if n-2 < len(b) {
		b = b[:n-2] // Ethernet padding
	}
	return d.pppProto(proto, b, p, depth)
}

// ppp decodes a PPP frame as carried by PPTP's enhanced GRE: optional
// address/control bytes and a possibly compressed protocol field.
func (d *Decoder) ppp(b []byte, p *Packet, depth int) Status {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 {
		return d.bad(reasonPPPShort)
	}
	var proto uint16
	if b[0]&1 == 1 { // protocol-field compression: one byte
		proto = uint16(b[0])
		b = b[1:]
	} else {
		if len(b) < 2 {
			return d.bad(reasonPPPShort)
		}
		proto = be16(b)
		b = b[2:]
	}
	return d.pppProto(proto, b, p, depth)
}

func (d *Decoder) pppProto(proto uint16, b []byte, p *Packet, depth int) Status {
	switch proto {
	case 0x0021:
		return d.ipv4(b, p, depth)
	case 0x0057:
		return d.ipv6(b, p, depth)
	}
	return StatusNotIP
}

// ipv4 decodes an IPv4 header and what it carries.
func (d *Decoder) ipv4(b []byte, p *Packet, depth int) Status {
	if len(b) < 20 {
		return d.bad(reasonIPv4HeaderShort)
	}
	if b[0]>>4 != 4 {
		return d.bad(reasonIPVersion)
	}
	ihl := int(b[0]&0x0f) << 2
	if ihl < 20 {
		return d.bad(reasonIPv4IHL)
	}
	if len(b) < ihl {
		return d.bad(reasonIPv4HeaderShort)
	}
	total := int(be16(b[2:4]))
	if total < ihl {
		if total != 0 {
			return d.bad(reasonIPv4TotalLength)
		}
		// A capture taken before segmentation offload (TSO/GSO, BIG TCP)
		// sees a super-packet whose total length the stack left at 0;
		// tcpdump ("presumed TSO") and Wireshark use the frame length.
		total = d.presumedLength(b, depth)
	}
	if total < len(b) {
		b = b[:total] // link-layer padding or trailer
	} else if total > len(b) && !d.snapped {
		return d.bad(reasonIPv4TotalLength)
	}
	p.IPVersion = 4
	p.SrcIP = netip.AddrFrom4([4]byte(b[12:16]))
	p.DstIP = netip.AddrFrom4([4]byte(b[16:20]))
	p.TTL = b[8]
	p.IPLen = total
	if fo := be16(b[6:8]); fo&0x3fff != 0 { // MF or a fragment offset
		p.Proto = b[9]
		return d.fr.fragment4(d, b, ihl, total, p, depth)
	}
	return d.transport(b[9], b[ihl:], total-ihl, p, depth)
}

// ipv6 decodes an IPv6 header, its extension headers and what they carry.
func (d *Decoder) ipv6(b []byte, p *Packet, depth int) Status {
	if len(b) < 40 {
		return d.bad(reasonIPv6HeaderShort)
	}
	if b[0]>>4 != 6 {
		return d.bad(reasonIPVersion)
	}
	total := 40 + int(be16(b[4:6]))
	if total == 40 && b[6] != 59 && len(b) > 40 {
		// Payload length 0 yet a payload: a jumbogram (RFC 2675), whose
		// length is a hop-by-hop option, or a GSO super-packet (Linux BIG
		// TCP) that carries no length at all.
		if j := jumboLength(b); j > 0xffff {
			total = 40 + j
		} else {
			total = d.presumedLength(b, depth)
		}
	}
	if total < len(b) {
		b = b[:total]
	} else if total > len(b) && !d.snapped {
		return d.bad(reasonIPv6PayloadLength)
	}
	p.IPVersion = 6
	p.SrcIP = netip.AddrFrom16([16]byte(b[8:24]))
	p.DstIP = netip.AddrFrom16([16]byte(b[24:40]))
	p.TTL = b[7]
	p.IPLen = total
	return d.ipv6Next(b[6], b, 40, total, p, depth, false)
}

// presumedLength is the length of the IP packet b when its header has
// none: what the wire carried from b on, when b is the frame's own outermost
// packet, or else what was captured.
func (d *Decoder) presumedLength(b []byte, depth int) int {
	if depth == 0 && d.snapped {
		if n := d.wireLen - (d.frameLen - len(b)); n > len(b) {
			return n
		}
	}
	return len(b)
}

// maxExtHeaders bounds the IPv6 extension header chain: a legitimate packet
// carries a handful, a hostile one thousands of 8-byte headers.
const maxExtHeaders = 16

// ipv6Next walks the extension headers of pkt from off, where a header of
// type nh starts, and decodes the transport. total is the packet's length
// from its header. reassembled is set when pkt is a reassembled datagram, in
// which a further fragment header makes no sense.
func (d *Decoder) ipv6Next(nh uint8, pkt []byte, off, total int, p *Packet, depth int, reassembled bool) Status {
	for n := 0; ; n++ {
		switch nh {
		case 0, 43, 60, 135, 139, 140, 253, 254, 51:
			if n >= maxExtHeaders || len(pkt) < off+2 {
				return d.bad(reasonIPv6ExtHeader)
			}
			var hl int
			if nh == 51 { // AH counts 4-byte words, minus 2
				hl = (int(pkt[off+1]) + 2) << 2
			} else {
				hl = (int(pkt[off+1]) + 1) << 3
			}
			if len(pkt) < off+hl {
				return d.bad(reasonIPv6ExtHeader)
			}
			nh = pkt[off]
			off += hl
		case 44:
			if n >= maxExtHeaders || reassembled || len(pkt) < off+8 {
				return d.bad(reasonIPv6ExtHeader)
			}
			fo := be16(pkt[off+2 : off+4])
			next := pkt[off]
			if fo&0xfff9 == 0 { // offset 0, no more fragments: atomic (RFC 6946)
				nh = next
				off += 8
				continue
			}
			p.Proto = next
			return d.fr.fragment6(d, pkt, off, total, p, depth)
		default:
			return d.transport(nh, pkt[off:], total-off, p, depth)
		}
	}
}

// jumboLength returns the Jumbo Payload option of the hop-by-hop header
// that follows the fixed IPv6 header in b, or 0.
func jumboLength(b []byte) int {
	if len(b) < 48 {
		return 0
	}
	end := 40 + (int(b[41])+1)<<3
	if end > len(b) {
		return 0
	}
	for i := 42; i < end; {
		t := b[i]
		if t == 0 { // Pad1
			i++
			continue
		}
		if i+2 > end {
			return 0
		}
		l := int(b[i+1])
		if t == 0xc2 && l == 4 && i+6 <= end {
			return int(be32(b[i+2 : i+6]))
		}
		i += 2 + l
	}
	return 0
}

// maxAH bounds chained IPv4 authentication headers.
const maxAH = 4

// transport decodes the payload of an IP packet: b is what was captured of
// it, l4len its length according to the IP header.
func (d *Decoder) transport(proto uint8, b []byte, l4len int, p *Packet, depth int) Status {
	for n := 0; proto == 51; n++ { // IPv4 AH (IPv6 AH is an extension header)
		if n >= maxAH || len(b) < 2 {
			return d.bad(reasonAHHeader)
		}
		hl := (int(b[1]) + 2) << 2
		if len(b) < hl || l4len < hl {
			return d.bad(reasonAHHeader)
		}
		proto = b[0]
		b = b[hl:]
		l4len -= hl
	}
	p.Proto = proto
	switch proto {
	case ProtoTCP:
		if len(b) < 20 {
			return d.bad(reasonTCPHeaderShort)
		}
		off := int(b[12]>>4) << 2
		if off < 20 || off > l4len {
			return d.bad(reasonTCPDataOffset)
		}
		if off > len(b) {
			return d.bad(reasonTCPHeaderShort)
		}
		p.SrcPort = be16(b[0:2])
		p.DstPort = be16(b[2:4])
		p.Seq = be32(b[4:8])
		p.Ack = be32(b[8:12])
		p.TCPFlags = b[13]
		p.Window = be16(b[14:16])
		p.PayloadLen = l4len - off
		p.Payload = b[off:]
		return StatusOK
	case ProtoUDP:
		return d.udp(b, l4len, p, depth)
	case ProtoICMP, ProtoICMPv6:
		if len(b) < 8 {
			return d.bad(reasonICMPHeaderShort)
		}
		p.ICMPType = b[0]
		p.ICMPCode = b[1]
		p.PayloadLen = l4len - 8
		p.Payload = b[8:]
		return StatusOK
	case ProtoSCTP:
		if len(b) < 12 {
			return d.bad(reasonSCTPHeaderShort)
		}
		p.SrcPort = be16(b[0:2])
		p.DstPort = be16(b[2:4])
		p.PayloadLen = l4len - 12
		p.Payload = b[12:]
		return StatusOK
	case ProtoGRE:
		return d.gre(b, p, depth)
	case 4: // IPv4 in IP
		return d.ipInIP(b, p, depth, 4)
	case 41: // IPv6 in IP
		return d.ipInIP(b, p, depth, 6)
	}
	// ESP, no-next-header, OSPF, ...: no ports; the payload is opaque.
	p.PayloadLen = l4len
	p.Payload = b
	return StatusOK
}

func (d *Decoder) udp(b []byte, l4len int, p *Packet, depth int) Status {
	if len(b) < 8 {
		return d.bad(reasonUDPHeaderShort)
	}
	ulen := int(be16(b[4:6]))
	switch {
	case ulen == 0:
		ulen = l4len // jumbogram (RFC 2675) or GSO: the IP length rules
	case ulen < 8 || ulen > l4len:
		return d.bad(reasonUDPLength)
	}
	if ulen < len(b) {
		b = b[:ulen]
	}
	p.SrcPort = be16(b[0:2])
	p.DstPort = be16(b[2:4])
	p.PayloadLen = ulen - 8
	p.Payload = b[8:]
	if port := p.DstPort; d.tunnelPorts[port>>6]&(1<<(port&63)) != 0 {
		return d.udpTunnel(port, b[8:], p, depth)
	}
	return StatusOK
}
