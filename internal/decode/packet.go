// Package decode turns a captured frame into a flat Packet: link layer,
// tunnels, IP (with fragment reassembly) and the transport header. It is the
// hot path of the probe, so it allocates nothing per packet and never trusts
// a length field: every malformed frame is counted by Reason, never a panic.
package decode

import "net/netip"

// TunnelType names the outermost encapsulation a packet arrived in.
type TunnelType uint8

const (
	TunnelNone TunnelType = iota
	TunnelGRE
	TunnelERSPAN
	TunnelVXLAN
	TunnelGeneve
	TunnelIPIP // IPv4/IPv6 in IPv4/IPv6
)

// Status is the outcome of decoding one frame.
type Status uint8

const (
	// StatusOK: the packet is IP and decoded up to its transport header
	// (or as far as the transport is known).
	StatusOK Status = iota
	// StatusNotIP: a valid frame that carries no IP (ARP, LLDP, ...).
	StatusNotIP
	// StatusFragment: an IP fragment held for reassembly. IPVersion,
	// addresses and IPLen are set; the transport is not, yet. The frame that
	// completes the datagram returns StatusOK with Fragmented set.
	StatusFragment
	// StatusMalformed: counted under a Reason; the fields may be partial.
	StatusMalformed
	// StatusUnsupportedLink: the link type is not one the decoder knows.
	StatusUnsupportedLink
)

// Transport protocol numbers (IANA) used across the pipeline.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// TCP flag bits as they appear in the TCP header.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Linux cooked-capture packet types (sll_pkttype), kept so that live capture
// on "any" can tell outgoing from incoming frames.
const (
	PktTypeHost      = 0
	PktTypeBroadcast = 1
	PktTypeMulticast = 2
	PktTypeOtherHost = 3
	PktTypeOutgoing  = 4
	PktTypeUnknown   = 0xff
)

// Packet is the decoded view of one frame. Decode overwrites every field, so
// one Packet can be reused for every frame. Payload aliases the frame (or the
// reassembly buffer) and is valid until the next Decode call.
type Packet struct {
	Timestamp int64 // Unix nanoseconds
	WireLen   int   // frame length on the wire
	Interface int   // capture interface index
	PktType   uint8 // PktType* from a cooked header; PktTypeUnknown otherwise

	// Link layer (outermost)
	VLANs    [2]uint16 // up to two 802.1Q/802.1ad tags, outermost first
	NumVLANs uint8     // number of tags seen (may exceed 2; only 2 kept)
	MPLS     uint8     // number of MPLS labels popped

	// Encapsulation: the outermost tunnel, if any; the IP and transport
	// fields below describe the innermost packet.
	Tunnel   TunnelType
	TunnelID uint32 // VNI, GRE key, ERSPAN session id

	// Network layer (innermost)
	IPVersion  uint8 // 4, 6, or 0 when not IP
	SrcIP      netip.Addr
	DstIP      netip.Addr
	IPLen      int   // L3 length from the header (IPv4 total length; IPv6 40 + payload length)
	TTL        uint8 // TTL or hop limit
	Fragmented bool  // this datagram was reassembled from fragments

	// Transport layer
	Proto      uint8 // IANA protocol number of the transport (after extension headers)
	SrcPort    uint16
	DstPort    uint16
	TCPFlags   uint8
	Seq        uint32
	Ack        uint32
	Window     uint16
	ICMPType   uint8
	ICMPCode   uint8
	PayloadLen int    // transport payload length according to the headers
	Payload    []byte // captured transport payload (len <= PayloadLen)
}
