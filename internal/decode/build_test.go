package decode

import "encoding/binary"

// Hand-built frames for table tests, fuzz seeds and benchmarks.

var (
	macs   = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
	ip4Src = [4]byte{10, 0, 0, 1}
	ip4Dst = [4]byte{10, 0, 0, 2}
)

func ethHeader(et uint16) []byte {
	b := append([]byte(nil), macs...)
	return binary.BigEndian.AppendUint16(b, et)
}

// ipv4Header builds a 20-byte header (plus options) for a payload of n bytes.
func ipv4Header(proto uint8, n int, opts []byte, src, dst [4]byte) []byte {
	ihl := 20 + len(opts)
	b := make([]byte, 20, ihl)
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(ihl+n))
	binary.BigEndian.PutUint16(b[4:], 0x1234)
	b[8] = 64
	b[9] = proto
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	return append(b, opts...)
}

func ipv6Header(nh uint8, n int, src, dst [16]byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	b[6] = nh
	b[7] = 63
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	return b
}

func tcpHeader(sport, dport uint16, flags uint8, opts []byte) []byte {
	b := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], 1000)
	binary.BigEndian.PutUint32(b[8:], 2000)
	b[12] = byte((20+len(opts))/4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 65535)
	return append(b, opts...)
}

func udpHeader(sport, dport uint16, n int) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+n))
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var tsOpts = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // NOP NOP timestamps

// buildEthIPv4TCP: Ethernet / IPv4 / TCP (with options) / payload.
func buildEthIPv4TCP(payload []byte) []byte {
	if payload == nil {
		payload = []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	}
	tcp := tcpHeader(40000, 80, TCPPsh|TCPAck, tsOpts)
	return cat(ethHeader(0x0800), ipv4Header(ProtoTCP, len(tcp)+len(payload), nil, ip4Src, ip4Dst), tcp, payload)
}

// buildIPv4UDP returns an IPv4/UDP packet (no link header).
func buildIPv4UDP(src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	return cat(ipv4Header(ProtoUDP, 8+len(payload), nil, src, dst), udpHeader(sport, dport, len(payload)), payload)
}

// buildVXLAN: Ethernet / IPv4 / UDP 4789 / VXLAN vni / Ethernet / IPv4 / TCP.
func buildVXLAN(vni uint32) []byte {
	inner := buildEthIPv4TCP([]byte("inner payload"))
	// Rewrite the inner addresses so that inner and outer differ.
	copy(inner[14+12:], []byte{192, 168, 1, 1})
	copy(inner[14+16:], []byte{192, 168, 1, 2})
	vx := make([]byte, 8)
	vx[0] = 0x08
	binary.BigEndian.PutUint32(vx[4:], vni<<8)
	return cat(ethHeader(0x0800), buildIPv4UDP(ip4Src, ip4Dst, 55555, 4789, cat(vx, inner)))
}

var (
	ip6Src = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	ip6Dst = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
)

// buildIPv6 returns an IPv6 packet: header, extension headers (each given
// as its full bytes with the next-header byte filled in here), transport.
func buildIPv6(proto uint8, exts [][]byte, extTypes []uint8, l4 []byte) []byte {
	n := len(l4)
	for _, e := range exts {
		n += len(e)
	}
	first := proto
	if len(extTypes) > 0 {
		first = extTypes[0]
	}
	b := ipv6Header(first, n, ip6Src, ip6Dst)
	for i, e := range exts {
		e = append([]byte(nil), e...)
		if i+1 < len(extTypes) {
			e[0] = extTypes[i+1]
		} else {
			e[0] = proto
		}
		b = append(b, e...)
	}
	return append(b, l4...)
}

// ext8 returns an extension header of 8*(units) bytes in the common
// (next header, length in 8-byte units - 1) format.
func ext8(units int) []byte {
	e := make([]byte, 8*units)
	e[1] = byte(units - 1)
	if units*8 >= 4 { // PadN over the rest
		e[2] = 1
		e[3] = byte(len(e) - 4)
	}
	return e
}

// fragment4 splits an IPv4 packet (20-byte header) into fragments of at most
// chunk data bytes (a multiple of 8).
func fragment4(pkt []byte, chunk int) [][]byte {
	ihl := int(pkt[0]&0x0f) * 4
	data := pkt[ihl:]
	var out [][]byte
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		h := append([]byte(nil), pkt[:ihl]...)
		binary.BigEndian.PutUint16(h[2:], uint16(ihl+end-off))
		fo := uint16(off / 8)
		if end < len(data) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		out = append(out, cat(h, data[off:end]))
	}
	return out
}

// fragment6 splits an IPv6 packet without extension headers into fragments
// with a fragment header (id), chunk data bytes each.
func fragment6(pkt []byte, chunk int, id uint32) [][]byte {
	nh := pkt[6]
	data := pkt[40:]
	var out [][]byte
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		h := append([]byte(nil), pkt[:40]...)
		h[6] = 44
		binary.BigEndian.PutUint16(h[4:], uint16(8+end-off))
		fh := make([]byte, 8)
		fh[0] = nh
		fo := uint16(off)
		if end < len(data) {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		out = append(out, cat(h, fh, data[off:end]))
	}
	return out
}

func eth(et uint16, payload []byte) []byte { return cat(ethHeader(et), payload) }

// tcpPacket4 returns an IPv4/TCP packet with n payload bytes.
func tcpPacket4(src, dst [4]byte, n int) []byte {
	tcp := tcpHeader(1234, 443, TCPAck, nil)
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i)
	}
	return cat(ipv4Header(ProtoTCP, len(tcp)+n, nil, src, dst), tcp, payload)
}

// vxlanHdr returns a VXLAN header with the I flag and a VNI.
func vxlanHdr(vni uint32) []byte {
	b := make([]byte, 8)
	b[0] = 0x08
	binary.BigEndian.PutUint32(b[4:], vni<<8)
	return b
}

// greHdr builds a GRE header with optional checksum, key and sequence.
func greHdr(proto uint16, csum bool, key *uint32, seq bool) []byte {
	var flags uint16
	var rest []byte
	if csum {
		flags |= greChecksum
		rest = append(rest, 0, 0, 0, 0)
	}
	if key != nil {
		flags |= greKey
		rest = binary.BigEndian.AppendUint32(rest, *key)
	}
	if seq {
		flags |= greSeq
		rest = append(rest, 0, 0, 0, 7)
	}
	b := binary.BigEndian.AppendUint16(nil, flags)
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, rest...)
}

// outer4 wraps an IPv4 payload of protocol proto in Ethernet/IPv4 with
// addresses 172.16.0.1 > 172.16.0.2.
func outer4(proto uint8, payload []byte) []byte {
	return eth(0x0800, cat(ipv4Header(proto, len(payload), nil, [4]byte{172, 16, 0, 1}, [4]byte{172, 16, 0, 2}), payload))
}
