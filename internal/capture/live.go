package capture

import (
	"strings"
	"time"
)

// LiveConfig configures OpenLive. Zero values take the defaults.
type LiveConfig struct {
	// Devices are device names, or "any" for every device of the network
	// namespace (a socket bound to none).
	Devices []string
	// Workers is the number of sockets per device, joined in a
	// PACKET_FANOUT_HASH group: the kernel spreads flows over them with a
	// symmetric hash, so both directions of a flow reach the same worker.
	// Default 1.
	Workers int
	// Filter is a tcpdump expression, attached to the sockets so that the
	// kernel filters (see OpenLive for when it runs in user space). Frames
	// the kernel rejects are not counted anywhere (it does not say how
	// many); those rejected in user space count as Stats.FilteredOut.
	Filter string
	// SnapLen is the most bytes kept per frame. Default and maximum
	// 262144.
	SnapLen int
	// BlockSize is the size of one TPACKET_V3 ring block, a multiple of
	// the page size. Default 1 MiB.
	BlockSize int
	// NumBlocks is the number of blocks in each socket's ring (the ring
	// is BlockSize*NumBlocks bytes of locked memory per socket). Default 64.
	NumBlocks int
	// PollTimeout is how long Next waits for a frame before returning
	// ErrTimeout. Default 200ms.
	PollTimeout time.Duration
	// Promiscuous puts the devices in promiscuous mode (not for "any").
	Promiscuous bool
	// FanoutGroup is the first PACKET_FANOUT group id to use (one per
	// device, counting up). Fanout groups are shared by every process of
	// the network namespace: two probes must not use the same ids. 0 picks
	// random ids.
	FanoutGroup uint16
}

// Live capture defaults.
const (
	DefaultBlockSize   = 1 << 20
	DefaultNumBlocks   = 64
	DefaultPollTimeout = 200 * time.Millisecond
)

// withDefaults fills zero fields.
func (c LiveConfig) withDefaults() LiveConfig {
	if c.Workers < 1 {
		c.Workers = 1
	}
	if c.SnapLen <= 0 || c.SnapLen > DefaultSnapLen {
		c.SnapLen = DefaultSnapLen
	}
	if c.BlockSize <= 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks <= 0 {
		c.NumBlocks = DefaultNumBlocks
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	return c
}

// linkTypeForARPHRD maps a Linux device type (/sys/class/net/DEV/type,
// linux/if_arp.h) to the link type of the frames an AF_PACKET SOCK_RAW
// socket reads from it, following libpcap's map_arphrd_to_dlt.
func linkTypeForARPHRD(t int) LinkType {
	switch t {
	case 1, // ARPHRD_ETHER
		772: // ARPHRD_LOOPBACK: the kernel puts a zeroed Ethernet header on lo
		return LinkEthernet
	case 65534, // ARPHRD_NONE: tun, wireguard
		519, // ARPHRD_RAWIP
		512, // ARPHRD_PPP: the kernel strips the PPP header
		768, // ARPHRD_TUNNEL (ipip)
		769, // ARPHRD_TUNNEL6 (ip6tnl)
		776, // ARPHRD_SIT
		778, // ARPHRD_IPGRE
		823: // ARPHRD_IP6GRE
		return LinkRaw
	case 6: // ARPHRD_IEEE802 (token ring)
		return 6
	case 24: // ARPHRD_IEEE1394
		return 138
	case 280: // ARPHRD_CAN
		return 227
	case 513: // ARPHRD_CISCO (HDLC)
		return 104
	case 770: // ARPHRD_FRAD
		return 107
	case 774: // ARPHRD_FDDI
		return 10
	case 801: // ARPHRD_IEEE80211
		return 105
	case 802: // ARPHRD_IEEE80211_PRISM
		return 119
	case 803: // ARPHRD_IEEE80211_RADIOTAP
		return 127
	case 804: // ARPHRD_IEEE802154
		return 230
	case 824: // ARPHRD_NETLINK
		return 253
	case 826: // ARPHRD_VSOCKMON
		return 271
	}
	return LinkLinuxARPHRD | LinkType(t&0x7fff)
}

// mentionsVLAN reports whether a filter expression uses the vlan keyword.
// The kernel strips the outer VLAN tag before socket filters run (it is
// offloaded to the packet's metadata), so a program compiled for frames
// that carry the tag, as libpcap compiles for us, gives wrong answers for
// such expressions in the kernel: those are run in user space, on the frame
// with its tag put back.
func mentionsVLAN(expr string) bool {
	for _, w := range strings.FieldsFunc(expr, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	}) {
		if strings.EqualFold(w, "vlan") {
			return true
		}
	}
	return false
}
