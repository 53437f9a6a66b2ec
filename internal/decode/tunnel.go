package decode

// Tunnels. The Packet describes the innermost IP packet; Tunnel and TunnelID
// name the outermost encapsulation. When the inner frame is not IP (ARP in
// VXLAN, LLDP over GRE, an unknown GRE protocol), the outer packet is the
// most useful description, so it is restored and returned as is, without a
// tunnel: Tunnel != TunnelNone always means "these addresses are inner ones".

// enterTunnel checks the nesting bound and records the outermost tunnel.
func (d *Decoder) enterTunnel(p *Packet, depth int, tt TunnelType, id uint32) bool {
	if depth >= d.maxDepth {
		d.reason = reasonTunnelDepth
		return false
	}
	if p.Tunnel == TunnelNone {
		p.Tunnel = tt
		p.TunnelID = id
	}
	// The inner packet must not inherit the outer transport (an inner ICMP
	// packet has no ports); the IP fields are all rewritten by the inner
	// header.
	p.SrcPort, p.DstPort = 0, 0
	p.TCPFlags, p.Seq, p.Ack, p.Window = 0, 0, 0, 0
	p.ICMPType, p.ICMPCode = 0, 0
	p.PayloadLen, p.Payload = 0, nil
	return true
}

// leaveTunnel falls back to the outer packet when the inner one is not IP.
func leaveTunnel(st Status, p, outer *Packet) Status {
	if st == StatusNotIP {
		*p = *outer
		return StatusOK
	}
	return st
}

func (d *Decoder) udpTunnel(port uint16, b []byte, p *Packet, depth int) Status {
	for _, v := range d.vxlanPorts {
		if v == port {
			return d.vxlan(b, p, depth)
		}
	}
	for _, v := range d.gpePorts {
		if v == port {
			return d.vxlanGPE(b, p, depth)
		}
	}
	for _, v := range d.genevePorts {
		if v == port {
			return d.geneve(b, p, depth)
		}
	}
	return StatusOK
}

// vxlan decodes RFC 7348: flags (I = VNI valid), 3 reserved bytes, VNI, 1
// reserved byte, then an Ethernet frame.
func (d *Decoder) vxlan(b []byte, p *Packet, depth int) Status {
	if len(b) < 8 {
		return d.bad(reasonVXLANShort)
	}
	if b[0]&0x08 == 0 {
		// No VNI: some other protocol shares the port. Keep the UDP view.
		return StatusOK
	}
	outer := *p
	if !d.enterTunnel(p, depth, TunnelVXLAN, be32(b[4:8])>>8) {
		return StatusMalformed
	}
	return leaveTunnel(d.ethernet(b[8:], p, depth+1), p, &outer)
}

// vxlanGPE decodes the generic protocol extension of VXLAN: byte 3 names the
// payload (1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS) when the P flag is set.
func (d *Decoder) vxlanGPE(b []byte, p *Packet, depth int) Status {
	if len(b) < 8 {
		return d.bad(reasonVXLANShort)
	}
	np := b[3]
	if b[0]&0x04 == 0 {
		np = 3 // without P the payload is Ethernet, as in plain VXLAN
	}
	outer := *p
	if !d.enterTunnel(p, depth, TunnelVXLAN, be32(b[4:8])>>8) {
		return StatusMalformed
	}
	return leaveTunnel(d.gpePayload(np, b[8:], p, depth+1, true), p, &outer)
}

// gpePayload decodes a payload named by a VXLAN-GPE / NSH next-protocol
// value. NSH may appear once (an NSH inside NSH is not a real deployment).
func (d *Decoder) gpePayload(np uint8, b []byte, p *Packet, depth int, nshOK bool) Status {
	switch np {
	case 1:
		return d.ipv4(b, p, depth)
	case 2:
		return d.ipv6(b, p, depth)
	case 3:
		return d.ethernet(b, p, depth)
	case 4:
		if nshOK {
			return d.nsh(b, p, depth)
		}
	case 5:
		return d.mpls(b, p, depth)
	}
	return StatusNotIP
}

// nsh skips a Network Service Header (RFC 8300), whose 6-bit length field
// counts 4-byte words of the whole header, metadata included.
func (d *Decoder) nsh(b []byte, p *Packet, depth int) Status {
	if len(b) < 8 || b[0]>>6 != 0 {
		return d.bad(reasonNSHHeader)
	}
	hl := int(be16(b[0:2])&0x3f) << 2
	if hl < 8 || len(b) < hl {
		return d.bad(reasonNSHHeader)
	}
	return d.gpePayload(b[3], b[hl:], p, depth, false)
}

// geneve decodes RFC 8926: version, option length in 4-byte words,
// protocol type (an ethertype), VNI, options.
func (d *Decoder) geneve(b []byte, p *Packet, depth int) Status {
	if len(b) < 8 || b[0]>>6 != 0 {
		return d.bad(reasonGeneveHeader)
	}
	hl := 8 + int(b[0]&0x3f)<<2
	if len(b) < hl {
		return d.bad(reasonGeneveHeader)
	}
	outer := *p
	if !d.enterTunnel(p, depth, TunnelGeneve, be32(b[4:8])>>8) {
		return StatusMalformed
	}
	return leaveTunnel(d.ethertype(be16(b[2:4]), b[hl:], p, depth+1), p, &outer)
}

// GRE flag bits (RFC 1701, 2784, 2890, 2637).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greAck      = 0x0080 // PPTP (version 1)
	maxGRESRE   = 16
)

func (d *Decoder) gre(b []byte, p *Packet, depth int) Status {
	if len(b) < 4 {
		return d.bad(reasonGREHeader)
	}
	flags := be16(b[0:2])
	proto := be16(b[2:4])
	off := 4
	var key uint32
	switch flags & 7 {
	case 0:
		if flags&(greChecksum|greRouting) != 0 {
			off += 4 // checksum and offset come together
		}
		if flags&greKey != 0 {
			if len(b) < off+4 {
				return d.bad(reasonGREHeader)
			}
			key = be32(b[off : off+4])
			off += 4
		}
		if flags&greSeq != 0 {
			off += 4
		}
		if flags&greRouting != 0 { // RFC 1701 source route entries, NULL-terminated
			for n := 0; ; n++ {
				if n >= maxGRESRE || len(b) < off+4 {
					return d.bad(reasonGREHeader)
				}
				af, l := be16(b[off:off+2]), int(b[off+3])
				off += 4 + l
				if af == 0 && l == 0 {
					break
				}
			}
		}
	case 1: // PPTP enhanced GRE: key = payload length + call ID
		if flags&greKey == 0 || proto != etherPPP || len(b) < 8 {
			return d.bad(reasonGREHeader)
		}
		key = uint32(be16(b[6:8]))
		off = 8
		if flags&greSeq != 0 {
			off += 4
		}
		if flags&greAck != 0 {
			off += 4
		}
	default:
		return d.bad(reasonGREHeader)
	}
	if len(b) < off {
		return d.bad(reasonGREHeader)
	}
	inner := b[off:]
	outer := *p
	var st Status
	switch proto {
	case etherERSPAN2:
		if flags&greSeq == 0 {
			// ERSPAN type I: no sequence number and no ERSPAN header.
			if !d.enterTunnel(p, depth, TunnelERSPAN, 0) {
				return StatusMalformed
			}
			st = d.ethernet(inner, p, depth+1)
			break
		}
		if len(inner) < 8 {
			return d.bad(reasonERSPANHeader)
		}
		if !d.enterTunnel(p, depth, TunnelERSPAN, uint32(be16(inner[2:4])&0x3ff)) {
			return StatusMalformed
		}
		st = d.ethernet(inner[8:], p, depth+1)
	case etherERSPAN3:
		if len(inner) < 12 {
			return d.bad(reasonERSPANHeader)
		}
		hl := 12
		if inner[11]&1 != 0 { // O: platform-specific subheader
			hl += 8
		}
		if len(inner) < hl {
			return d.bad(reasonERSPANHeader)
		}
		if !d.enterTunnel(p, depth, TunnelERSPAN, uint32(be16(inner[2:4])&0x3ff)) {
			return StatusMalformed
		}
		switch ft := (inner[10] >> 2) & 0x1f; ft {
		case 0:
			st = d.ethernet(inner[hl:], p, depth+1)
		case 2:
			st = d.rawIP(inner[hl:], p, depth+1)
		default:
			st = StatusNotIP
		}
	case etherPPP:
		if !d.enterTunnel(p, depth, TunnelGRE, key) {
			return StatusMalformed
		}
		st = d.ppp(inner, p, depth+1)
	default: // IPv4, IPv6, transparent Ethernet bridging, MPLS, ...
		if !d.enterTunnel(p, depth, TunnelGRE, key) {
			return StatusMalformed
		}
		st = d.ethertype(proto, inner, p, depth+1)
	}
	return leaveTunnel(st, p, &outer)
}

// ipInIP decodes IPv4 (protocol 4) or IPv6 (protocol 41) carried in IP.
func (d *Decoder) ipInIP(b []byte, p *Packet, depth int, version uint8) Status {
	if !d.enterTunnel(p, depth, TunnelIPIP, 0) {
		return StatusMalformed
	}
	if version == 4 {
		return d.ipv4(b, p, depth+1)
	}
	return d.ipv6(b, p, depth+1)
}
