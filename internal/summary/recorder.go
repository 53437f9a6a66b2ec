package summary

import (
	"net/netip"
	"strconv"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
)

// Hosts decides which side of the monitored host a packet travels on, from
// the host CIDRs (--host-cidr, plus the capture devices' own addresses).
type Hosts struct {
	prefixes []netip.Prefix
}

// NewHosts returns a classifier for the given prefixes.
func NewHosts(prefixes []netip.Prefix) *Hosts {
	return &Hosts{prefixes: append([]netip.Prefix(nil), prefixes...)}
}

// Add appends prefixes (e.g. a device's addresses learned at start).
func (h *Hosts) Add(p ...netip.Prefix) { h.prefixes = append(h.prefixes, p...) }

// Prefixes returns the configured prefixes.
func (h *Hosts) Prefixes() []netip.Prefix { return h.prefixes }

func (h *Hosts) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Side follows pktvisor: inbound when the destination is a host address,
// else outbound when the source is, else unknown.
func (h *Hosts) Side(src, dst netip.Addr) Side {
	if len(h.prefixes) == 0 {
		return SideUnknown
	}
	if h.contains(dst) {
		return SideIn
	}
	if h.contains(src) {
		return SideOut
	}
	return SideUnknown
}

// Flow.Tag layout: the sides of both directions are computed once per flow
// rather than once per packet.
const (
	tagClassified = 1 << 0
	tagShift0     = 1 // side of client->server packets
	tagShift1     = 3 // side of server->client packets
)

// Recorder accumulates one worker's traffic into the current bucket. It is
// owned by one goroutine.
type Recorder struct {
	hosts       *Hosts
	topCapacity int
	cur         *Bucket
	devNames    func(iface int) string
	devCache    []*DeviceCounters

	// The protocol section of the previous transaction and the bucket it
	// is in: transactions come in runs of one protocol, and a section
	// never moves once made (merges update it in place).
	lastProto string
	lastStats *ProtoStats
	lastIn    *Bucket
}

// NewRecorder returns a recorder; devName maps a capture interface index to
// its device name.
func NewRecorder(hosts *Hosts, topCapacity int, devName func(iface int) string) *Recorder {
	return &Recorder{hosts: hosts, topCapacity: topCapacity, devNames: devName}
}

// Begin starts a new bucket [start, end) and returns the previous one.
func (r *Recorder) Begin(start, end int64) *Bucket {
	prev := r.cur
	r.cur = NewBucket(start, end, r.topCapacity)
	r.devCache = r.devCache[:0]
	return prev
}

// Current returns the bucket being filled.
func (r *Recorder) Current() *Bucket { return r.cur }

func (r *Recorder) device(iface int) *DeviceCounters {
	if iface < 0 {
		iface = 0
	}
	if iface < len(r.devCache) && r.devCache[iface] != nil {
		return r.devCache[iface]
	}
	for len(r.devCache) <= iface {
		r.devCache = append(r.devCache, nil)
	}
	name := r.devNames(iface)
	d := r.cur.Devices[name]
	if d == nil {
		d = &DeviceCounters{}
		r.cur.Devices[name] = d
	}
	r.devCache[iface] = d
	return d
}

// NonIP counts a frame that carries no IP packet the summary can classify
// (ARP, malformed, unsupported link): it still is traffic on the device.
func (r *Recorder) NonIP(ts int64, wireLen, iface int) {
	b := r.cur
	b.stamp(ts)
	n := uint64(wireLen)
	b.Packets.Total++
	b.Packets.NonIP++
	b.Packets.Unknown++
	b.Bytes.Total += n
	b.Bytes.NonIP += n
	b.Bytes.Unknown += n
	s := b.second(ts)
	s.PktsTotal++
	s.BytesTotal += n
	b.payloadSize.add(wireLen)
	d := r.device(iface)
	d.Other.Packets++
	d.Other.Bytes += n
}

// Side classifies a packet, using the flow's cached classification.
func (r *Recorder) side(f *flow.Flow, dir flow.Dir) Side {
	if f.Tag&tagClassified == 0 {
		s0 := r.hosts.Side(f.Client.Addr(), f.Server.Addr())
		s1 := r.hosts.Side(f.Server.Addr(), f.Client.Addr())
		f.Tag |= tagClassified | uint32(s0)<<tagShift0 | uint32(s1)<<tagShift1
	}
	if dir == 0 {
		return Side(f.Tag >> tagShift0 & 3)
	}
	return Side(f.Tag >> tagShift1 & 3)
}

// Fragment counts an IP fragment held for reassembly.
func (r *Recorder) Fragment(p *decode.Packet) {
	r.IP(p, &flow.Event{}, true)
}

// IP counts a decoded IP packet and what the flow table made of it.
func (r *Recorder) IP(p *decode.Packet, ev *flow.Event, fragment bool) {
	b := r.cur
	b.stamp(p.Timestamp)
	n := uint64(p.WireLen)
	var side Side
	if ev.Flow != nil {
		side = r.side(ev.Flow, ev.Dir)
	} else {
		side = r.hosts.Side(p.SrcIP, p.DstIP)
	}
	b.Packets.Total++
	b.Bytes.Total += n
	if p.IPVersion == 4 {
		b.Packets.IPv4++
		b.Bytes.IPv4 += n
	} else {
		b.Packets.IPv6++
		b.Bytes.IPv6 += n
	}
	switch {
	case fragment:
		b.Packets.Fragments++
		b.Bytes.Fragments += n
	case p.Proto == decode.ProtoTCP:
		b.Packets.TCP++
		b.Bytes.TCP += n
		r.tcp(p, ev)
	case p.Proto == decode.ProtoUDP:
		b.Packets.UDP++
		b.Bytes.UDP += n
	default:
		b.Packets.OtherL4++
		b.Bytes.OtherL4 += n
	}
	s := b.second(p.Timestamp)
	s.PktsTotal++
	s.BytesTotal += n
	d := r.device(p.Interface)
	switch side {
	case SideIn:
		b.Packets.In++
		b.Bytes.In += n
		s.PktsIn++
		s.BytesIn += n
		d.In.Packets++
		d.In.Bytes += n
	case SideOut:
		b.Packets.Out++
		b.Bytes.Out += n
		s.PktsOut++
		s.BytesOut += n
		d.Out.Packets++
		d.Out.Bytes += n
	default:
		b.Packets.Unknown++
		b.Bytes.Unknown += n
		d.Other.Packets++
		d.Other.Bytes += n
	}
	b.payloadSize.add(p.WireLen)
	if ev.Flow != nil {
		b.l4Payload.add(p.PayloadLen)
	}
	if ev.New {
		b.Flows.Created++
	}
}

func (r *Recorder) tcp(p *decode.Packet, ev *flow.Event) {
	t := &r.cur.TCP
	f := p.TCPFlags
	switch {
	case f&decode.TCPSyn != 0 && f&decode.TCPAck == 0:
		t.SYN++
	case f&decode.TCPSyn != 0:
		t.SYNACK++
	}
	if f&decode.TCPFin != 0 {
		t.FIN++
	}
	if f&decode.TCPRst != 0 {
		t.Resets++
	}
	if ev.Retransmission {
		t.Retransmissions++
	}
	if ev.OutOfOrder {
		t.OutOfOrder++
	}
	if ev.HandshakeRTT > 0 {
		t.Handshakes++
		r.cur.RTT.Add(float64(ev.HandshakeRTT) / 1e3)
	}
}

// FoldFlow moves a flow's traffic since the last fold into the current
// bucket's address and port sketches, then resets the flow's window
// counters. Talkers are counted per flow and window rather than per packet:
// the sketches see one update per flow instead of one per packet.
func (r *Recorder) FoldFlow(f *flow.Flow) {
	r.foldInto(r.cur, f)
	f.ResetWindow()
}

// Snapshot returns a copy of the current bucket with the flows' traffic
// since the last fold included, leaving the recorder and flows untouched:
// what an API shows of a window still open.
func (r *Recorder) Snapshot(rangeFlows func(func(*flow.Flow) bool)) *Bucket {
	b := NewBucket(r.cur.Start, r.cur.End, r.topCapacity)
	b.Merge(r.cur)
	b.Start, b.End = r.cur.Start, r.cur.End
	rangeFlows(func(f *flow.Flow) bool {
		r.foldInto(b, f)
		return true
	})
	return b
}

func (r *Recorder) foldInto(b *Bucket, f *flow.Flow) {
	w := f.Win
	if w[0].Packets == 0 && w[1].Packets == 0 {
		return
	}
	ca, sa := f.Client.Addr(), f.Server.Addr()
	for dir := flow.Dir(0); dir < 2; dir++ {
		pk, by := w[dir].Packets, w[dir].Bytes
		if pk == 0 {
			continue
		}
		src, dst := ca, sa
		if dir == 1 {
			src, dst = sa, ca
		}
		b.SrcIPs.AddAddr(src)
		b.DstIPs.AddAddr(dst)
		// pktvisor counts the remote side of host traffic; with no host
		// known (a capture file read without --host-cidr) both ends count.
		switch r.side(f, dir) {
		case SideIn:
			b.SrcIPsIn.AddAddr(src)
			talker(b, src, pk, by)
		case SideOut:
			b.DstIPsOut.AddAddr(dst)
			talker(b, dst, pk, by)
		default:
			talker(b, src, pk, by)
			talker(b, dst, pk, by)
		}
	}
	pk := w[0].Packets + w[1].Packets
	by := w[0].Bytes + w[1].Bytes
	// Keys are built on the stack: a sketch copies a key only when it
	// starts tracking it.
	var buf [96]byte
	if port := f.Server.Port(); port != 0 || f.Proto == decode.ProtoTCP || f.Proto == decode.ProtoUDP {
		key := append(append(strconv.AppendUint(buf[:0], uint64(port), 10), '/'), decode.ProtoName(f.Proto)...)
		b.TopPorts.AddBytes(key, pk)
		b.TopPortsBytes.AddBytes(key, by)
	}
	b.TopConversations.AddBytes(appendConvKey(buf[:0], ca, sa), by)
}

func talker(b *Bucket, a netip.Addr, pk, by uint64) {
	var buf [48]byte
	a = a.Unmap()
	name := a.AppendTo(buf[:0])
	if a.Is4() {
		b.TopIPv4.AddBytes(name, pk)
		b.TopIPv4Bytes.AddBytes(name, by)
	} else {
		b.TopIPv6.AddBytes(name, pk)
		b.TopIPv6Bytes.AddBytes(name, by)
	}
}

// FlowEnded folds an ending flow and counts why it ended.
func (r *Recorder) FlowEnded(f *flow.Flow, why flow.EndReason) {
	r.FoldFlow(f)
	fc := &r.cur.Flows
	switch why {
	case flow.EndIdle:
		fc.EndedIdle++
	case flow.EndClosed:
		fc.EndedClosed++
	case flow.EndEvicted:
		fc.Evicted++
	case flow.EndActive:
		fc.EndedActive++
	case flow.EndFlush:
		fc.EndedFlush++
	}
}
