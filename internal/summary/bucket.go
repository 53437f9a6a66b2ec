// Package summary folds decoded packets and flows into time windows, the way
// pktvisor's net handler does: counters, per-second rate quantiles, payload
// size quantiles, distinct source/destination addresses and top-N talkers.
// Every part of a Bucket is mergeable (sums, per-second samples, sketches),
// so buckets from several workers, windows or probes combine into one.
package summary

import (
	"net/netip"
	"sort"

	"github.com/wirewatch/wirewatch/internal/sketch"
)

// Side says where a packet travels relative to the monitored host(s).
type Side uint8

const (
	SideUnknown Side = iota // neither address is a host address
	SideIn                  // destination is a host address ("toHost")
	SideOut                 // source is a host address, destination is not ("fromHost")
)

// Counters is one set of per-protocol tallies, used for packets and bytes.
type Counters struct {
	Total   uint64 `json:"total"`
	IPv4    uint64 `json:"ipv4"`
	IPv6    uint64 `json:"ipv6"`
	TCP     uint64 `json:"tcp"`
	UDP     uint64 `json:"udp"`
	OtherL4 uint64 `json:"other_l4"`
	NonIP   uint64 `json:"non_ip"`
	// Fragments counts IP fragments held for reassembly: their transport is
	// only known once the datagram is complete, and is counted then (as
	// tshark does), on the frame that completes it.
	Fragments uint64 `json:"ip_fragments"`
	In        uint64 `json:"in"`
	Out       uint64 `json:"out"`
	Unknown   uint64 `json:"unknown_dir"`
}

func (c *Counters) add(o *Counters) {
	c.Total += o.Total
	c.IPv4 += o.IPv4
	c.IPv6 += o.IPv6
	c.TCP += o.TCP
	c.UDP += o.UDP
	c.OtherL4 += o.OtherL4
	c.NonIP += o.NonIP
	c.Fragments += o.Fragments
	c.In += o.In
	c.Out += o.Out
	c.Unknown += o.Unknown
}

// secondSample holds one second of traffic; rate quantiles are computed
// from these when a bucket is reported, so that merging buckets from
// several workers first sums the same second and only then takes quantiles
// (quantiles of per-worker rates would not add up).
type secondSample struct {
	PktsIn, PktsOut, PktsTotal    uint64
	BytesIn, BytesOut, BytesTotal uint64
}

func (s *secondSample) add(o *secondSample) {
	s.PktsIn += o.PktsIn
	s.PktsOut += o.PktsOut
	s.PktsTotal += o.PktsTotal
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.BytesTotal += o.BytesTotal
}

// TCPCounters summarises TCP behaviour in a window.
type TCPCounters struct {
	SYN             uint64 `json:"syn"`
	SYNACK          uint64 `json:"synack"`
	Handshakes      uint64 `json:"handshakes"`
	FIN             uint64 `json:"fin"`
	Resets          uint64 `json:"resets"`
	Retransmissions uint64 `json:"retransmissions"`
	OutOfOrder      uint64 `json:"out_of_order"`
}

func (t *TCPCounters) add(o *TCPCounters) {
	t.SYN += o.SYN
	t.SYNACK += o.SYNACK
	t.Handshakes += o.Handshakes
	t.FIN += o.FIN
	t.Resets += o.Resets
	t.Retransmissions += o.Retransmissions
	t.OutOfOrder += o.OutOfOrder
}

// FlowCounters counts flow life-cycle events in a window.
type FlowCounters struct {
	Created       uint64 `json:"created"`
	EndedIdle     uint64 `json:"ended_idle"`
	EndedClosed   uint64 `json:"ended_closed"`
	EndedActive   uint64 `json:"ended_active_timeout"`
	EndedFlush    uint64 `json:"ended_flush"`
	Evicted       uint64 `json:"evicted"`
	ActiveAtClose uint64 `json:"active"`
}

func (f *FlowCounters) add(o *FlowCounters) {
	f.Created += o.Created
	f.EndedIdle += o.EndedIdle
	f.EndedClosed += o.EndedClosed
	f.EndedActive += o.EndedActive
	f.EndedFlush += o.EndedFlush
	f.Evicted += o.Evicted
	f.ActiveAtClose += o.ActiveAtClose
}

// DirCounters is traffic in one direction.
type DirCounters struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// DeviceCounters is the per-device traffic record of a window: what a
// center stores as probe × device × direction.
type DeviceCounters struct {
	In    DirCounters `json:"in"`
	Out   DirCounters `json:"out"`
	Other DirCounters `json:"other"`
}

func (d *DeviceCounters) add(o *DeviceCounters) {
	d.In.Packets += o.In.Packets
	d.In.Bytes += o.In.Bytes
	d.Out.Packets += o.Out.Packets
	d.Out.Bytes += o.Out.Bytes
	d.Other.Packets += o.Other.Packets
	d.Other.Bytes += o.Other.Bytes
}

// Loss gathers every counter of something not seen or not kept, so that a
// window always says how complete it is.
type Loss struct {
	KernelDrops      uint64            `json:"kernel_drops"`
	FilteredOut      uint64            `json:"filtered_out"`
	TruncatedRecords uint64            `json:"truncated_records"`
	BadRecords       uint64            `json:"bad_records"`
	SnapTruncated    uint64            `json:"snap_truncated"`
	BadWireLen       uint64            `json:"bad_wire_len"`
	UnsupportedLink  uint64            `json:"unsupported_link"`
	Malformed        map[string]uint64 `json:"malformed"`
	FragmentsDropped map[string]uint64 `json:"fragments_dropped"`
	FlowsEvicted     uint64            `json:"flows_evicted"`
	QueueDrops       uint64            `json:"queue_drops"`
	// L7 counts what the application layer did not decode: stream bytes
	// by reason (reassembly holes and duplicates, parser drops, bytes of
	// flows with no or an opaque protocol), parser panics, evicted
	// streams. docs/summary-json.md lists the keys.
	L7 map[string]uint64 `json:"l7"`
}

func (l *Loss) add(o *Loss) {
	l.KernelDrops += o.KernelDrops
	l.FilteredOut += o.FilteredOut
	l.TruncatedRecords += o.TruncatedRecords
	l.BadRecords += o.BadRecords
	l.SnapTruncated += o.SnapTruncated
	l.BadWireLen += o.BadWireLen
	l.UnsupportedLink += o.UnsupportedLink
	l.FlowsEvicted += o.FlowsEvicted
	l.QueueDrops += o.QueueDrops
	l.Malformed = addMap(l.Malformed, o.Malformed)
	l.FragmentsDropped = addMap(l.FragmentsDropped, o.FragmentsDropped)
	l.L7 = addMap(l.L7, o.L7)
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

// Bucket is the summary of one window (or of a merge of windows). The zero
// value is not usable: create buckets with NewBucket.
type Bucket struct {
	Start, End      int64 // window bounds, Unix ns; End is exclusive
	FirstTS, LastTS int64 // first and last packet seen, Unix ns (0 when empty)

	Packets Counters
	Bytes   Counters
	TCP     TCPCounters
	Flows   FlowCounters
	Loss    Loss
	Devices map[string]*DeviceCounters

	seconds    map[int64]*secondSample
	lastSec    int64 // the second of lastSample: packets come in time order
	lastSample *secondSample

	payloadSize *sizeDist         // frame length, as pktvisor's payload_size
	l4Payload   *sizeDist         // transport payload length
	RTT         *sketch.Quantiles // TCP handshake RTT, microseconds

	SrcIPs, DstIPs      *sketch.Distinct // every source / destination address
	SrcIPsIn, DstIPsOut *sketch.Distinct // pktvisor: sources of inbound, destinations of outbound

	TopIPv4, TopIPv6, TopPorts                *sketch.TopK // by packets
	TopIPv4Bytes, TopIPv6Bytes, TopPortsBytes *sketch.TopK // by bytes
	TopConversations                          *sketch.TopK // address pairs by bytes

	// Application layer (l7.go): nil/empty until a transaction of the kind.
	L7   map[string]*ProtoStats
	DNS  *DNSStats
	HTTP *HTTPStats
	TLS  *TLSStats

	topCapacity int
}

// NewBucket returns an empty bucket for [start, end). topCapacity is the
// number of counters each top-N sketch keeps (see docs/sketches.md).
func NewBucket(start, end int64, topCapacity int) *Bucket {
	return &Bucket{
		Start:            start,
		End:              end,
		Devices:          map[string]*DeviceCounters{},
		seconds:          map[int64]*secondSample{},
		payloadSize:      newSizeDist(),
		l4Payload:        newSizeDist(),
		RTT:              sketch.NewQuantiles(),
		SrcIPs:           sketch.NewDistinct(),
		DstIPs:           sketch.NewDistinct(),
		SrcIPsIn:         sketch.NewDistinct(),
		DstIPsOut:        sketch.NewDistinct(),
		TopIPv4:          sketch.NewTopK(topCapacity),
		TopIPv6:          sketch.NewTopK(topCapacity),
		TopPorts:         sketch.NewTopK(topCapacity),
		TopIPv4Bytes:     sketch.NewTopK(topCapacity),
		TopIPv6Bytes:     sketch.NewTopK(topCapacity),
		TopPortsBytes:    sketch.NewTopK(topCapacity),
		TopConversations: sketch.NewTopK(topCapacity),
		topCapacity:      topCapacity,
	}
}

// Empty reports whether no frame was counted in the bucket.
func (b *Bucket) Empty() bool { return b.Packets.Total == 0 }

func (b *Bucket) second(ts int64) *secondSample {
	sec := ts / 1e9
	if b.lastSample != nil && sec == b.lastSec {
		return b.lastSample
	}
	s := b.seconds[sec]
	if s == nil {
		s = &secondSample{}
		b.seconds[sec] = s
	}
	b.lastSec, b.lastSample = sec, s
	return s
}

func (b *Bucket) stamp(ts int64) {
	if b.FirstTS == 0 || ts < b.FirstTS {
		b.FirstTS = ts
	}
	if ts > b.LastTS {
		b.LastTS = ts
	}
}

// Merge folds o into b. Window bounds widen to cover both.
func (b *Bucket) Merge(o *Bucket) {
	if o.Start < b.Start || b.Start == 0 {
		b.Start = o.Start
	}
	if o.End > b.End {
		b.End = o.End
	}
	if o.FirstTS != 0 && (b.FirstTS == 0 || o.FirstTS < b.FirstTS) {
		b.FirstTS = o.FirstTS
	}
	if o.LastTS > b.LastTS {
		b.LastTS = o.LastTS
	}
	b.Packets.add(&o.Packets)
	b.Bytes.add(&o.Bytes)
	b.TCP.add(&o.TCP)
	b.Flows.add(&o.Flows)
	b.Loss.add(&o.Loss)
	for name, d := range o.Devices {
		mine := b.Devices[name]
		if mine == nil {
			mine = &DeviceCounters{}
			b.Devices[name] = mine
		}
		mine.add(d)
	}
	for sec, s := range o.seconds {
		mine := b.seconds[sec]
		if mine == nil {
			mine = &secondSample{}
			b.seconds[sec] = mine
		}
		mine.add(s)
	}
	// Sketches built by NewBucket share parameters, so merges cannot fail.
	b.payloadSize.merge(o.payloadSize)
	b.l4Payload.merge(o.l4Payload)
	_ = b.RTT.Merge(o.RTT)
	_ = b.SrcIPs.Merge(o.SrcIPs)
	_ = b.DstIPs.Merge(o.DstIPs)
	_ = b.SrcIPsIn.Merge(o.SrcIPsIn)
	_ = b.DstIPsOut.Merge(o.DstIPsOut)
	b.TopIPv4.Merge(o.TopIPv4)
	b.TopIPv6.Merge(o.TopIPv6)
	b.TopPorts.Merge(o.TopPorts)
	b.TopIPv4Bytes.Merge(o.TopIPv4Bytes)
	b.TopIPv6Bytes.Merge(o.TopIPv6Bytes)
	b.TopPortsBytes.Merge(o.TopPortsBytes)
	b.TopConversations.Merge(o.TopConversations)
	b.mergeL7(o)
}

// rateQuantiles turns per-second samples into rate quantiles. Seconds
// between the first and last packet that saw no traffic count as zero
// rates: an idle second is a real observation of the rate.
func (b *Bucket) rateQuantiles() map[string]*sketch.Quantiles {
	names := []string{"pps_in", "pps_out", "pps_total", "bps_in", "bps_out", "bps_total"}
	qs := make(map[string]*sketch.Quantiles, len(names))
	for _, n := range names {
		qs[n] = sketch.NewQuantiles()
	}
	secs := make([]int64, 0, len(b.seconds))
	for s := range b.seconds {
		secs = append(secs, s)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	for _, sec := range secs {
		s := b.seconds[sec]
		qs["pps_in"].Add(float64(s.PktsIn))
		qs["pps_out"].Add(float64(s.PktsOut))
		qs["pps_total"].Add(float64(s.PktsTotal))
		qs["bps_in"].Add(float64(s.BytesIn * 8))
		qs["bps_out"].Add(float64(s.BytesOut * 8))
		qs["bps_total"].Add(float64(s.BytesTotal * 8))
	}
	if len(secs) > 1 {
		span := secs[len(secs)-1] - secs[0] + 1
		if idle := span - int64(len(secs)); idle > 0 {
			for _, q := range qs {
				q.AddN(0, uint64(idle))
			}
		}
	}
	return qs
}

// Seconds returns the number of distinct seconds that saw traffic.
func (b *Bucket) Seconds() int { return len(b.seconds) }

// appendConvKey appends the conversation key of a and b, the lower
// address first.
func appendConvKey(dst []byte, a, b netip.Addr) []byte {
	if b.Less(a) {
		a, b = b, a
	}
	return b.AppendTo(append(a.AppendTo(dst), " <-> "...))
}

// Totals keeps the running sums of a series of buckets: the counters only,
// for monotonic Prometheus counters that outlive the kept windows.
type Totals struct {
	Packets Counters
	Bytes   Counters
	TCP     TCPCounters
	Flows   FlowCounters
	Loss    Loss
	Devices map[string]*DeviceCounters
	L7      map[string]*L7Counters
	DNS     DNSCounters
}

// Add adds a bucket's counters.
func (t *Totals) Add(b *Bucket) {
	t.addL7(b)
	t.Packets.add(&b.Packets)
	t.Bytes.add(&b.Bytes)
	t.TCP.add(&b.TCP)
	t.Flows.add(&b.Flows)
	t.Loss.add(&b.Loss)
	if t.Devices == nil {
		t.Devices = map[string]*DeviceCounters{}
	}
	for name, d := range b.Devices {
		mine := t.Devices[name]
		if mine == nil {
			mine = &DeviceCounters{}
			t.Devices[name] = mine
		}
		mine.add(d)
	}
}

// Clone returns a deep copy.
func (t *Totals) Clone() *Totals {
	c := &Totals{Packets: t.Packets, Bytes: t.Bytes, TCP: t.TCP, Flows: t.Flows, DNS: t.DNS}
	c.Loss.add(&t.Loss)
	for name, l := range t.L7 {
		if c.L7 == nil {
			c.L7 = map[string]*L7Counters{}
		}
		lc := *l
		c.L7[name] = &lc
	}
	c.Devices = map[string]*DeviceCounters{}
	for name, d := range t.Devices {
		dc := *d
		c.Devices[name] = &dc
	}
	return c
}
