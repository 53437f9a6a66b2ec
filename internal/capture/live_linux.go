//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// closeGrace is how long Close waits, when the caller may still be using
// the last frame (it points into the ring), before unmapping the ring.
const closeGrace = time.Second

// OpenLive opens AF_PACKET (TPACKET_V3, memory-mapped ring) sockets: one
// per device and worker. It returns one Source per socket; run each in its
// own goroutine.
//
// The filter is compiled by libpcap for the device's link type and
// attached to the sockets, so the kernel drops what does not match before
// it reaches the ring. Two cases are filtered in user space instead, with
// the same programs: "any" (one socket sees devices of different link
// types, and one program cannot serve them all), and expressions that use
// "vlan" (see mentionsVLAN).
//
// Frames carry the device's own link layer (SOCK_RAW), also on "any",
// where Frame.Interface tells the device. VLAN tags the kernel took off are
// put back into the frame.
func OpenLive(cfg LiveConfig) ([]Source, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Devices) == 0 {
		return nil, errors.New("capture: no capture device given")
	}
	if page := os.Getpagesize(); cfg.BlockSize%page != 0 {
		return nil, fmt.Errorf("capture: block size %d is not a multiple of the page size %d", cfg.BlockSize, page)
	}
	// A frame never spans ring blocks: with blocks smaller than the snap
	// length, the kernel cuts frames to fit (counted as SnapTruncated).
	var all []*liveSource
	fail := func(err error) ([]Source, error) {
		for _, s := range all {
			s.teardown()
		}
		return nil, err
	}
	group := cfg.FanoutGroup
	if group == 0 {
		group = uint16(rand.UintN(1<<16-256)) + 1
	}
	for di, dev := range cfg.Devices {
		socks, err := openDevice(cfg, dev, group+uint16(di))
		all = append(all, socks...)
		if err != nil {
			return fail(err)
		}
	}
	// Every socket exists and is in its fanout group: now let packets in.
	for _, s := range all {
		if err := s.tp.SetBPF(s.kernelProg); err != nil {
			if s.kernelFilter == nil {
				return fail(fmt.Errorf("capture on %s: attach socket filter: %w", s.name, err))
			}
			// The kernel refused libpcap's program (e.g. longer than
			// it accepts): filter in user space.
			s.userFilter = newLiveFilterSet(s.kernelFilter)
			s.kernelFilter = nil
			if err := s.tp.SetBPF(snapProgram(cfg.SnapLen)); err != nil {
				return fail(fmt.Errorf("capture on %s: attach socket filter: %w", s.name, err))
			}
		}
	}
	out := make([]Source, len(all))
	for i, s := range all {
		out[i] = s
	}
	return out, nil
}

// dropAll is the socket filter in place until every socket of a device has
// joined its fanout group: a socket that is bound but not yet in the group
// would receive every packet of the device, duplicates of its siblings'.
var dropAll = []bpf.RawInstruction{{Op: 0x06, K: 0}} // ret #0

// snapProgram keeps every frame, cut to snaplen: the kernel applies the
// snap length through the filter's return value.
func snapProgram(snaplen int) []bpf.RawInstruction {
	return []bpf.RawInstruction{{Op: 0x06, K: uint32(snaplen)}} // ret #snaplen
}

// openDevice opens the workers' sockets for one device ("any" included).
func openDevice(cfg LiveConfig, dev string, group uint16) ([]*liveSource, error) {
	anyDev := dev == "any"
	var itf liveInterface
	if !anyDev {
		ni, err := net.InterfaceByName(dev)
		if err != nil {
			return nil, fmt.Errorf("capture: device %q not found (devices: %s)", dev, strings.Join(deviceNames(), ", "))
		}
		itf = describeInterface(ni)
	}
	var kernelFilter *Filter
	var userFilter *filterSet
	if cfg.Filter != "" {
		lt := itf.LinkType
		if anyDev {
			lt = LinkEthernet // checks the expression; frames are filtered per link type
		}
		f, err := CompileFilter(cfg.Filter, lt, cfg.SnapLen)
		if err != nil {
			return nil, fmt.Errorf("capture on %s: %v", dev, err)
		}
		if anyDev || mentionsVLAN(cfg.Filter) {
			userFilter = newLiveFilterSet(f)
		} else {
			kernelFilter = f
		}
	}
	opts := []any{
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptBlockSize(cfg.BlockSize),
		afpacket.OptNumBlocks(cfg.NumBlocks),
		afpacket.OptPollTimeout(cfg.PollTimeout),
		// A block is handed over when full or after this long: at low
		// rates, the delay before a frame shows up.
		afpacket.OptBlockTimeout(max(time.Millisecond, min(cfg.PollTimeout, 64*time.Millisecond))),
		afpacket.OptAddVLANHeader(true),
	}
	if !anyDev {
		opts = append(opts, afpacket.OptInterface(dev))
	}
	var socks []*liveSource
	for w := range cfg.Workers {
		tp, err := afpacket.NewTPacket(opts...)
		if err != nil {
			return socks, liveError(dev, cfg, err)
		}
		s := &liveSource{
			name:         dev,
			tp:           tp,
			any:          anyDev,
			kernelFilter: kernelFilter,
			userFilter:   userFilter,
			byIndex:      map[int]int{},
		}
		socks = append(socks, s)
		if err := tp.SetBPF(dropAll); err != nil {
			return socks, fmt.Errorf("capture on %s: attach socket filter: %w", dev, err)
		}
		// Frames the ring took before dropAll was attached are neither
		// filtered nor fanned out: Next skips them by their timestamp.
		s.cutoff = time.Now().UnixNano()
		s.warm = true
		s.kernelProg = snapProgram(cfg.SnapLen)
		if kernelFilter != nil {
			s.kernelProg = kernelFilter.Raw()
		}
		if cfg.Workers > 1 {
			err := tp.SetFanout(afpacket.FanoutHash, group)
			// A group id another process uses with other settings is
			// refused: with a random id, try others.
			for try := 0; err != nil && w == 0 && cfg.FanoutGroup == 0 && try < 8; try++ {
				group = uint16(rand.UintN(1<<16-256)) + 1
				err = tp.SetFanout(afpacket.FanoutHash, group)
			}
			if err != nil {
				return socks, fmt.Errorf("capture on %s: join fanout group %d: %w", dev, group, err)
			}
		}
		if cfg.Promiscuous && !anyDev {
			if err := tp.SetPromiscuous(true); err != nil {
				return socks, fmt.Errorf("capture on %s: promiscuous mode: %w", dev, err)
			}
		}
		if anyDev {
			s.ifaces = allInterfaces()
			for i, li := range s.ifaces {
				s.byIndex[li.index] = i
			}
		} else {
			s.ifaces = []liveInterface{itf}
		}
	}
	return socks, nil
}

// liveError explains the usual reasons opening a socket fails.
func liveError(dev string, cfg LiveConfig, err error) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		return fmt.Errorf("capture on %s: %v: capture needs root or CAP_NET_RAW; try sudo, or `wirewatch read FILE`", dev, err)
	case errors.Is(err, unix.ENOMEM) || strings.Contains(err.Error(), "cannot allocate memory"):
		return fmt.Errorf("capture on %s: %v: the ring (%d blocks of %d bytes per socket) does not fit; use fewer or smaller blocks",
			dev, err, cfg.NumBlocks, cfg.BlockSize)
	case errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO):
		return fmt.Errorf("capture on %s: %v: device gone", dev, err)
	}
	return fmt.Errorf("capture on %s: %w", dev, err)
}

func deviceNames() []string {
	ifs, _ := net.Interfaces()
	names := make([]string, 0, len(ifs))
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

// liveInterface is an Interface with its ifindex.
type liveInterface struct {
	Interface
	index int
}

// describeInterface reads a device's link type and addresses.
func describeInterface(ni *net.Interface) liveInterface {
	itf := liveInterface{Interface: Interface{Name: ni.Name}, index: ni.Index}
	if b, err := os.ReadFile("/sys/class/net/" + ni.Name + "/type"); err == nil {
		if t, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			itf.LinkType = linkTypeForARPHRD(t)
		}
	} else {
		// No sysfs (some containers): guess from what net knows.
		switch {
		case ni.Flags&net.FlagLoopback != 0 || len(ni.HardwareAddr) == 6:
			itf.LinkType = LinkEthernet
		case len(ni.HardwareAddr) == 0:
			itf.LinkType = LinkRaw
		default:
			itf.LinkType = LinkLinuxARPHRD
		}
	}
	if addrs, err := ni.Addrs(); err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			ip = ip.Unmap()
			if ip.Is4() && ones > 32 {
				ones -= 96
			}
			itf.Addrs = append(itf.Addrs, netip.PrefixFrom(ip, ones))
		}
	}
	return itf
}

func allInterfaces() []liveInterface {
	ifs, _ := net.Interfaces()
	out := make([]liveInterface, 0, len(ifs))
	for i := range ifs {
		out = append(out, describeInterface(&ifs[i]))
	}
	return out
}

// newLiveFilterSet filters in user space with live semantics, starting
// from a filter already compiled.
func newLiveFilterSet(f *Filter) *filterSet {
	s := newFilterSet(f.expr, 0, false)
	s.live = true
	s.byLink[f.link] = f
	return s
}

// liveSource is one AF_PACKET socket.
type liveSource struct {
	name         string
	tp           *afpacket.TPacket
	any          bool
	kernelFilter *Filter              // attached to the socket (nil: none)
	kernelProg   []bpf.RawInstruction // what OpenLive attaches last
	userFilter   *filterSet           // run here (nil: none)

	// mu serialises Next and Close: Close waits for a Next in progress
	// (at most PollTimeout).
	mu       sync.Mutex
	closed   bool
	holding  bool // the caller may be using the last frame (it points into the ring)
	warm     bool // still skipping frames stamped before cutoff
	cutoff   int64
	lastIdx  int // "any": the last ifindex seen and its entry
	lastIfx  int
	lastLink LinkType
	cnt      counters

	ifMu    sync.RWMutex
	ifaces  []liveInterface
	byIndex map[int]int // ifindex → index in ifaces ("any")

	statsMu  sync.Mutex // guards the socket for Stats against teardown
	tornDown bool
	drops    uint64
}

func (s *liveSource) Next() (Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding = false
	for {
		if s.closed {
			s.teardown()
			return Frame{}, io.EOF
		}
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				s.cnt.publish()
				return Frame{}, ErrTimeout
			}
			s.cnt.publish()
			return Frame{}, fmt.Errorf("capture on %s: %w", s.name, err)
		}
		ts := ci.Timestamp.UnixNano()
		if s.warm {
			if ts < s.cutoff {
				continue
			}
			// Rings are filled in order: once past the cutoff, stop
			// checking (a clock step back must not drop frames).
			s.warm = false
		}
		f := Frame{Data: data, Timestamp: ts, WireLen: ci.Length}
		if s.any {
			f.Interface, f.LinkType = s.interfaceFor(ci.InterfaceIndex)
		} else {
			f.LinkType = s.ifaces[0].LinkType
		}
		s.cnt.tick()
		if f.WireLen < len(f.Data) {
			f.WireLen = len(f.Data)
		}
		if s.userFilter != nil && !s.userFilter.match(f.LinkType, f.Data, f.WireLen) {
			s.cnt.local.FilteredOut++
			continue
		}
		if len(f.Data) < f.WireLen {
			s.cnt.local.SnapTruncated++
		}
		s.cnt.local.Packets++
		s.cnt.local.Bytes += uint64(f.WireLen)
		s.holding = true
		return f, nil
	}
}

// interfaceFor maps an ifindex to its Interfaces() entry, adding devices
// that appeared since the socket was opened.
func (s *liveSource) interfaceFor(ifindex int) (int, LinkType) {
	if ifindex == s.lastIfx && s.lastIfx != 0 {
		return s.lastIdx, s.lastLink
	}
	s.ifMu.RLock()
	i, ok := s.byIndex[ifindex]
	s.ifMu.RUnlock()
	if !ok {
		itf := liveInterface{Interface: Interface{Name: "ifindex" + strconv.Itoa(ifindex), LinkType: LinkLinuxARPHRD | 0x7fff}, index: ifindex}
		if ni, err := net.InterfaceByIndex(ifindex); err == nil {
			itf = describeInterface(ni)
		}
		s.ifMu.Lock()
		i = len(s.ifaces)
		s.ifaces = append(s.ifaces, itf)
		s.byIndex[ifindex] = i
		s.ifMu.Unlock()
	}
	s.lastIfx, s.lastIdx, s.lastLink = ifindex, i, s.ifaces[i].LinkType
	return i, s.lastLink
}

func (s *liveSource) Interfaces() []Interface {
	s.ifMu.RLock()
	defer s.ifMu.RUnlock()
	out := make([]Interface, len(s.ifaces))
	for i := range s.ifaces {
		out[i] = s.ifaces[i].Interface
	}
	return out
}

func (s *liveSource) Stats() Stats {
	st := s.cnt.snapshot()
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.readDrops()
	st.KernelDrops = s.drops
	return st
}

// readDrops adds the kernel's drop count (which reading resets; afpacket
// accumulates it). statsMu held.
func (s *liveSource) readDrops() {
	if s.tornDown {
		return
	}
	if _, v3, err := s.tp.SocketStats(); err == nil {
		s.drops = uint64(v3.Drops())
	}
}

// Close stops the capture. Close waits for a Next in progress to return.
// If the caller may still be using the frame Next returned last (its Data
// points into the ring), the socket is told to drop everything at once and
// the ring is unmapped at the next call to Next (which returns io.EOF) or
// after closeGrace, whichever comes first.
func (s *liveSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.holding {
		s.teardown()
		return nil
	}
	s.tp.SetBPF(dropAll)
	time.AfterFunc(closeGrace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.teardown()
	})
	return nil
}

// teardown closes the socket and unmaps the ring, once. mu held (or the
// source never handed out).
func (s *liveSource) teardown() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.tornDown {
		return
	}
	s.readDrops()
	s.tp.Close()
	s.tornDown = true
	s.cnt.publish()
}
