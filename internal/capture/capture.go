// Package capture delivers raw link-layer frames to the pipeline, from
// capture files (pcap, pcapng) or from live devices (AF_PACKET TPACKET_V3).
// It knows nothing about protocols: it hands out bytes, a timestamp and the
// link type, and counts everything it could not deliver.
package capture

import (
	"errors"
	"net/netip"
)

// LinkType is a pcap LINKTYPE_* value (https://www.tcpdump.org/linktypes.html).
type LinkType uint16

// Link types the decoder understands. Others are delivered too and the
// decoder counts them as unsupported.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet LinkType = 1   // IEEE 802.3 Ethernet
	LinkRaw      LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop     LinkType = 108 // OpenBSD loopback: 4-byte network-order address family
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228 // raw IPv4
	LinkIPv6     LinkType = 229 // raw IPv6
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
)

// LinkLinuxARPHRD is the base of the link types given to Linux devices
// whose ARPHRD_* type has no LINKTYPE_* equivalent we map: the link type
// is LinkLinuxARPHRD|(ARPHRD & 0x7fff), which no decoder knows, so their
// frames are counted as an unsupported link type (and the ARPHRD value can
// still be read back for diagnostics).
const LinkLinuxARPHRD LinkType = 0x8000

// Frame is one captured frame. Data is only valid until the next call to
// Next on the Source that returned it: a consumer that keeps bytes copies them.
type Frame struct {
	Data      []byte   // captured bytes (may be shorter than WireLen)
	Timestamp int64    // Unix time in nanoseconds
	WireLen   int      // length of the frame on the wire
	LinkType  LinkType // link type of this frame's interface
	Interface int      // index into Source.Interfaces()
}

// Interface describes one capture interface: a live device, or an
// interface description block of a pcapng file.
type Interface struct {
	Name     string
	LinkType LinkType
	Addrs    []netip.Prefix // the device's own addresses (live capture only)
}

// Stats counts what a source delivered and what it lost, by cause. Every
// counter only grows.
type Stats struct {
	Packets          uint64 `json:"packets"`           // frames delivered to the caller
	Bytes            uint64 `json:"bytes"`             // wire bytes of delivered frames
	KernelDrops      uint64 `json:"kernel_drops"`      // dropped by the kernel: ring full (live)
	FilteredOut      uint64 `json:"filtered_out"`      // rejected by a user-space filter (files)
	TruncatedRecords uint64 `json:"truncated_records"` // a file cut short in the middle of a record
	BadRecords       uint64 `json:"bad_records"`       // record or block that could not be parsed
	SnapTruncated    uint64 `json:"snap_truncated"`    // frames captured shorter than on the wire
	BadWireLen       uint64 `json:"bad_wire_len"`      // records claiming an impossible wire length (taken as the captured length)
}

// MaxWireLen bounds a believable wire length: no link delivers larger
// frames (even GSO super-packets stay under 64 KiB plus headers), so a record
// claiming more is corrupt, and must not inflate byte counters.
const MaxWireLen = 262144

// ErrTimeout is returned by live sources when no frame arrived within the
// poll interval. It lets the caller do periodic work; it is not a failure.
var ErrTimeout = errors.New("capture: timeout")

// Source yields frames until io.EOF (files) or Close (live).
type Source interface {
	// Next returns the next frame, io.EOF at the end of a file, ErrTimeout
	// when a live source was idle for its poll interval, or another error
	// when the source can no longer be read.
	Next() (Frame, error)
	// Interfaces lists the interfaces that Frame.Interface indexes. For
	// pcapng files it grows as interface blocks are read.
	Interfaces() []Interface
	// Stats may be called from any goroutine.
	Stats() Stats
	Close() error
}
