package decode

// reason says why a frame was malformed. Counters are a fixed array indexed
// by reason so that the hot path never writes to a map; Stats builds the map.
type reason uint8

const (
	reasonNone reason = iota
	reasonNullShort
	reasonEthernetShort
	reasonSLLShort
	reasonSLL2Short
	reasonRawShort
	reasonVLANShort
	reasonMPLSShort
	reasonPPPoEShort
	reasonPPPShort
	reasonIPVersion
	reasonIPv4HeaderShort
	reasonIPv4IHL
	reasonIPv4TotalLength
	reasonIPv6HeaderShort
	reasonIPv6PayloadLength
	reasonIPv6ExtHeader
	reasonAHHeader
	reasonTCPHeaderShort
	reasonTCPDataOffset
	reasonUDPHeaderShort
	reasonUDPLength
	reasonICMPHeaderShort
	reasonSCTPHeaderShort
	reasonGREHeader
	reasonERSPANHeader
	reasonVXLANShort
	reasonNSHHeader
	reasonGeneveHeader
	reasonTunnelDepth
	numReasons
)

var reasonNames = [numReasons]string{
	reasonNone:              "none",
	reasonNullShort:         "null_short",
	reasonEthernetShort:     "ethernet_short",
	reasonSLLShort:          "sll_short",
	reasonSLL2Short:         "sll2_short",
	reasonRawShort:          "raw_short",
	reasonVLANShort:         "vlan_short",
	reasonMPLSShort:         "mpls_short",
	reasonPPPoEShort:        "pppoe_short",
	reasonPPPShort:          "ppp_short",
	reasonIPVersion:         "ip_version",
	reasonIPv4HeaderShort:   "ipv4_header_short",
	reasonIPv4IHL:           "ipv4_ihl",
	reasonIPv4TotalLength:   "ipv4_total_length",
	reasonIPv6HeaderShort:   "ipv6_header_short",
	reasonIPv6PayloadLength: "ipv6_payload_length",
	reasonIPv6ExtHeader:     "ipv6_ext_header",
	reasonAHHeader:          "ah_header",
	reasonTCPHeaderShort:    "tcp_header_short",
	reasonTCPDataOffset:     "tcp_data_offset",
	reasonUDPHeaderShort:    "udp_header_short",
	reasonUDPLength:         "udp_length",
	reasonICMPHeaderShort:   "icmp_header_short",
	reasonSCTPHeaderShort:   "sctp_header_short",
	reasonGREHeader:         "gre_header",
	reasonERSPANHeader:      "erspan_header",
	reasonVXLANShort:        "vxlan_short",
	reasonNSHHeader:         "nsh_header",
	reasonGeneveHeader:      "geneve_header",
	reasonTunnelDepth:       "tunnel_depth",
}

func (r reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// ReasonNames lists every malformed-frame reason the decoder can report, so
// that exporters can publish zero counters for them.
func ReasonNames() []string {
	out := make([]string, 0, numReasons-1)
	for r := reasonNone + 1; r < numReasons; r++ {
		out = append(out, reasonNames[r])
	}
	return out
}

// dropReason says why reassembly discarded fragments.
type dropReason uint8

const (
	dropTimeout dropReason = iota
	dropMemoryCap
	dropDatagramCap
	dropOverlap
	dropInconsistent
	dropTooLarge
	dropDuplicate
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropTimeout:      "timeout",
	dropMemoryCap:    "memory_cap",
	dropDatagramCap:  "datagram_cap",
	dropOverlap:      "overlap",
	dropInconsistent: "inconsistent",
	dropTooLarge:     "too_large",
	dropDuplicate:    "duplicate",
}

func (r dropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// DropReasonNames lists every reason reassembly can drop fragments for.
func DropReasonNames() []string {
	return append([]string(nil), dropNames[:]...)
}

// Stats counts what a Decoder saw. Every frame passed to Decode is counted
// exactly once in IP, NotIP, UnsupportedLink, FragmentFrames or Malformed:
//
//	Frames == IP + NotIP + UnsupportedLink + FragmentFrames + sum(Malformed)
//
// Counters only grow, except the gauges in DefragStats.
type Stats struct {
	Frames          uint64            `json:"frames"`
	IP              uint64            `json:"ip"`               // StatusOK
	NotIP           uint64            `json:"not_ip"`           // StatusNotIP
	UnsupportedLink uint64            `json:"unsupported_link"` // StatusUnsupportedLink
	FragmentFrames  uint64            `json:"fragment_frames"`  // StatusFragment
	Malformed       map[string]uint64 `json:"malformed"`        // StatusMalformed, by reason; only non-zero reasons
	Defrag          DefragStats       `json:"defrag"`
}

// DefragStats counts IP fragments. Each fragment seen is, at any time,
// delivered (part of a reassembled datagram), dropped, or held:
//
//	Fragments == Delivered + sum(Dropped) + Held
//
// A frame can carry two fragments (a fragment tunnelled inside a fragment),
// so Fragments may exceed the number of fragment frames.
type DefragStats struct {
	Fragments   uint64            `json:"fragments"`    // fragments seen
	Reassembled uint64            `json:"reassembled"`  // datagrams completed
	Delivered   uint64            `json:"delivered"`    // fragments that went into a completed datagram
	Dropped     map[string]uint64 `json:"dropped"`      // fragments discarded, by reason; only non-zero reasons
	Held        uint64            `json:"held"`         // gauge: fragments waiting for the rest of their datagram
	Datagrams   uint64            `json:"datagrams"`    // gauge: datagrams tracked (incomplete or remembered as dropped)
	BufferBytes uint64            `json:"buffer_bytes"` // gauge: reassembly memory allocated (<= DefragMaxBytes)
}

// Add adds o to s (gauges too, so that the stats of several decoders add up
// to the whole probe's).
func (s *Stats) Add(o Stats) {
	s.Frames += o.Frames
	s.IP += o.IP
	s.NotIP += o.NotIP
	s.UnsupportedLink += o.UnsupportedLink
	s.FragmentFrames += o.FragmentFrames
	s.Malformed = addMap(s.Malformed, o.Malformed)
	s.Defrag.Add(o.Defrag)
}

// Add adds o to s.
func (s *DefragStats) Add(o DefragStats) {
	s.Fragments += o.Fragments
	s.Reassembled += o.Reassembled
	s.Delivered += o.Delivered
	s.Dropped = addMap(s.Dropped, o.Dropped)
	s.Held += o.Held
	s.Datagrams += o.Datagrams
	s.BufferBytes += o.BufferBytes
}

func addMap(dst, src map[string]uint64) map[string]uint64 {
	for k, v := range src {
		if v == 0 {
			continue
		}
		if dst == nil {
			dst = make(map[string]uint64, len(src))
		}
		dst[k] += v
	}
	return dst
}

// MalformedTotal sums the malformed counters.
func (s Stats) MalformedTotal() uint64 {
	var n uint64
	for _, v := range s.Malformed {
		n += v
	}
	return n
}

// DroppedTotal sums the fragments dropped.
func (s DefragStats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// counters is the decoder's private, allocation-free form of Stats.
type counters struct {
	frames, ip, notIP, unsupported, fragFrames uint64
	malformed                                  [numReasons]uint64

	fragments, reassembled, delivered, held uint64
	dropped                                 [numDropReasons]uint64
}

// Stats returns a snapshot of the counters. Call it from the goroutine that
// calls Decode.
func (d *Decoder) Stats() Stats {
	c := &d.c
	s := Stats{
		Frames:          c.frames,
		IP:              c.ip,
		NotIP:           c.notIP,
		UnsupportedLink: c.unsupported,
		FragmentFrames:  c.fragFrames,
		Malformed:       map[string]uint64{},
		Defrag: DefragStats{
			Fragments:   c.fragments,
			Reassembled: c.reassembled,
			Delivered:   c.delivered,
			Dropped:     map[string]uint64{},
			Held:        c.held,
			Datagrams:   uint64(d.fr.count),
			BufferBytes: uint64(d.fr.alloc),
		},
	}
	for r, v := range c.malformed {
		if v != 0 {
			s.Malformed[reason(r).String()] = v
		}
	}
	for r, v := range c.dropped {
		if v != 0 {
			s.Defrag.Dropped[dropReason(r).String()] = v
		}
	}
	return s
}
