package flow

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/wirewatch/wirewatch/internal/decode"
)

// Key identifies a bidirectional flow: both directions of a conversation
// map to the same Key. It holds the two endpoints in a canonical order
// (lower address, then lower port, first), the transport protocol, the
// innermost VLAN tag and the tunnel ID, so that the same 5-tuple in two
// VLANs or two VXLAN segments stays two flows.
//
// Key is comparable (usable as a map key) and hashes cheaply: the
// addresses are stored as 16-byte words, with no pointers.
type Key struct {
	ahi, alo uint64 // first endpoint's address (As16 as big-endian words); (a, port) <= (b, port)
	bhi, blo uint64 // second endpoint's address
	ports    uint32 // a's port << 16 | b's port; 0 for protocols without ports
	vlan     uint16
	proto    uint8
	family   uint8 // 4 or 6 (keeps 1.2.3.4 apart from IPv6 ::ffff:1.2.3.4)
	tunnel   uint32
}

// hasPorts reports whether the protocol's header starts with 16-bit source
// and destination ports that identify a conversation. Everything else
// (ICMP, GRE, ESP, ...) is keyed by addresses and protocol only.
func hasPorts(proto uint8) bool {
	switch proto {
	case decode.ProtoTCP, decode.ProtoUDP, decode.ProtoSCTP,
		33,  // DCCP
		136: // UDP-Lite
		return true
	}
	return false
}

// addrWords returns the 16-byte form of a (IPv4 as ::ffff:a.b.c.d) as two
// big-endian words. IPv4 takes the cheaper 4-byte path: it is most of the
// traffic and this runs on every packet.
// Two scalar results (not an array) stay in registers.
func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func wordsAddr(hi, lo uint64, family uint8) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	a := netip.AddrFrom16(b)
	if family == 4 {
		a = a.Unmap()
	}
	return a
}

func familyOf(a netip.Addr) uint8 {
	if a.Is4() {
		return 4
	}
	if a.Is6() {
		return 6
	}
	return 0
}

// endpointLess orders (address words, port) pairs.
func endpointLess(ahi, alo uint64, ap uint16, bhi, blo uint64, bp uint16) bool {
	if ahi != bhi {
		return ahi < bhi
	}
	if alo != blo {
		return alo < blo
	}
	return ap < bp
}

// makeKey builds the canonical key of src→dst; srcIsA reports whether the
// source endpoint is the key's first endpoint.
func makeKey(src, dst netip.Addr, sport, dport uint16, proto uint8, vlan uint16, tunnel uint32) (k Key, srcIsA bool) {
	if !hasPorts(proto) {
		sport, dport = 0, 0
	}
	shi, slo := addrWords(src)
	dhi, dlo := addrWords(dst)
	k.proto = proto
	k.vlan = vlan
	k.tunnel = tunnel
	k.family = familyOf(src)
	if !endpointLess(dhi, dlo, dport, shi, slo, sport) { // src <= dst
		k.ahi, k.alo, k.bhi, k.blo = shi, slo, dhi, dlo
		k.ports = uint32(sport)<<16 | uint32(dport)
		return k, true
	}
	k.ahi, k.alo, k.bhi, k.blo = dhi, dlo, shi, slo
	k.ports = uint32(dport)<<16 | uint32(sport)
	return k, false
}

// innerVLAN returns the innermost VLAN tag the decoder kept (0 if none).
// With more than two tags only the outer two are kept; the second is the
// best we have.
func innerVLAN(p *decode.Packet) uint16 {
	switch {
	case p.NumVLANs >= 2:
		return p.VLANs[1] & 0x0fff
	case p.NumVLANs == 1:
		return p.VLANs[0] & 0x0fff
	}
	return 0
}

// KeyOf returns the flow key of a decoded packet. Both directions of a
// conversation return the same Key.
func KeyOf(p *decode.Packet) Key {
	k, _ := makeKey(p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, p.Proto, innerVLAN(p), p.TunnelID)
	return k
}

// Proto returns the key's IANA transport protocol number.
func (k Key) Proto() uint8 { return k.proto }

// VLAN returns the key's innermost VLAN ID (0 when untagged).
func (k Key) VLAN() uint16 { return k.vlan }

// TunnelID returns the key's tunnel ID (VNI, GRE key; 0 when none).
func (k Key) TunnelID() uint32 { return k.tunnel }

// Endpoints returns the two endpoints in canonical order (not client and
// server: see Flow for those).
func (k Key) Endpoints() (a, b netip.AddrPort) {
	return netip.AddrPortFrom(wordsAddr(k.ahi, k.alo, k.family), uint16(k.ports>>16)),
		netip.AddrPortFrom(wordsAddr(k.bhi, k.blo, k.family), uint16(k.ports))
}

// String formats the key for logs and test failures.
func (k Key) String() string {
	a, b := k.Endpoints()
	return a.String() + "<->" + b.String() + "/" + decode.ProtoName(k.proto)
}

// seed is a secret per-table (or per-process) hash seed. Captured traffic
// is chosen by strangers: with a fixed, public hash function an attacker
// could send packets whose keys all collide and turn every lookup into a
// linear scan. Every input word is XORed with a seed word before it is
// multiplied, so nobody outside the process can force a zero multiplicand.
type seed [4]uint64

func newSeed() seed {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("flow: crypto/rand: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	var s seed
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(b[i*8:]) | 1
	}
	return s
}

// mix is the 64×64→128-bit multiply folded to 64 bits (wyhash's "mum"):
// a strong, branch-free mixer costing one MUL.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (k *Key) hash(s *seed) uint64 {
	h1 := mix(k.ahi^s[0], k.alo^s[1])
	h2 := mix(k.bhi^s[2], k.blo^s[3])
	meta := uint64(k.ports)<<32 | uint64(k.vlan)<<16 | uint64(k.proto)<<8 | uint64(k.family)
	h3 := mix(meta^s[1], uint64(k.tunnel)^s[2])
	return mix(h1^h3^s[3], h2^s[0])
}

var processSeed = newSeed()

// Hash returns a well-mixed hash of the key, with a seed chosen at process
// start (so it differs between runs and cannot be targeted). Both
// directions of a flow hash alike, which makes it suitable for spreading
// packets over workers by flow.
func (k Key) Hash() uint64 { return k.hash(&processSeed) }
