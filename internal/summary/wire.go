package summary

// The binary encoding of a Bucket, for probes shipping closed windows to a
// center that stores them and later merges them. The sketches travel in
// their own encodings (internal/sketch) so that the center merges them
// rather than re-counting. docs/wire-summary.md describes the layout; the
// decoder treats its input as hostile.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"

	"github.com/wirewatch/wirewatch/internal/sketch"
)

// ErrInvalidBucket is wrapped by every error of UnmarshalBinary and
// DecodeBucket (and by MarshalBinary when a bucket exceeds a cap of the
// encoding); match it with errors.Is.
var ErrInvalidBucket = errors.New("summary: invalid bucket encoding")

// MaxBucketBytes caps an encoded bucket. Real windows take a few KiB to a
// few hundred KiB (a dense HyperLogLog is 16 KiB, a full top-256 list ~5–12
// KiB); the cap only bounds what a hostile sender can make the center read.
const MaxBucketBytes = 64 << 20

const (
	wireMagic   = "WWSB"
	wireVersion = 1
	headerLen   = len(wireMagic) + 1
	trailerLen  = 4 // CRC-32C of everything before it

	// Caps of the decoder, and of the encoder so that it never writes what
	// the decoder would reject.
	maxNameLen    = 1024    // device names, loss keys, protocol names
	maxMapEntries = 4096    // entries of each loss map
	maxDevices    = 4096    // devices of a bucket
	maxSeconds    = 1 << 20 // per-second samples: 12 days of merged windows
	maxProtocols  = 64      // L7 protocols (the registry has ~25)
	// Seconds are Unix nanoseconds / 1e9: anything further out never
	// came from a timestamp, and would overflow the span of the rate
	// computation.
	maxAbsSecond = math.MaxInt64 / 1_000_000_000
)

// Section ids, in the order they must appear. A section's tag on the wire
// is id<<1 | skippable: a reader skips an unknown section whose tag says it
// is skippable and rejects any other unknown section, so that a newer
// writer decides whether its additions may be ignored by older readers or
// would be silently lost by them.
const (
	secWindow   = 1
	secCounters = 2
	secLoss     = 3
	secDevices  = 4
	secSeconds  = 5
	secSizes    = 6
	secSketches = 7
	secL7       = 8
	secDNS      = 9
	secHTTP     = 10
	secTLS      = 11
)

var sectionNames = [...]string{
	secWindow: "window", secCounters: "counters", secLoss: "loss", secDevices: "devices",
	secSeconds: "seconds", secSizes: "sizes", secSketches: "sketches", secL7: "l7",
	secDNS: "dns", secHTTP: "http", secTLS: "tls",
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// refQuantiles and refDistinct are empty sketches with the parameters every
// sketch of a bucket is built with. Merging one into a decoded sketch fails
// exactly when the two could not merge, which Bucket.Merge would otherwise
// ignore: a decoded sketch of other parameters is rejected instead of being
// silently dropped at merge time. Merge never modifies its argument, so
// these are shared read-only.
var (
	refQuantiles = sketch.NewQuantiles()
	refDistinct  = sketch.NewDistinct()
)

// MarshalBinary encodes the bucket: every counter, map, per-second sample
// and sketch, so that the decoded bucket reports and merges exactly as b
// does. The running "slow" thresholds and the recorder's caches are not
// encoded: they steer recording only, never Merge or Report. Encoding a
// bucket twice gives the same bytes; buckets of equal content may still
// differ in the order of HyperLogLog sparse buffers, which follows
// insertion.
func (b *Bucket) MarshalBinary() ([]byte, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil bucket", ErrInvalidBucket)
	}
	w := &wireWriter{out: make([]byte, 0, 4096)}
	w.out = append(w.out, wireMagic...)
	w.out = append(w.out, wireVersion)
	w.section(secWindow, func() {
		w.varint(b.Start)
		w.varint(b.End)
		w.varint(b.FirstTS)
		w.varint(b.LastTS)
		w.uvarint(uint64(min(max(b.topCapacity, 0), sketch.MaxTopCapacity)))
	})
	w.section(secCounters, func() {
		w.counters(&b.Packets)
		w.counters(&b.Bytes)
		t := &b.TCP
		w.uvarints(t.SYN, t.SYNACK, t.Handshakes, t.FIN, t.Resets, t.Retransmissions, t.OutOfOrder)
		f := &b.Flows
		w.uvarints(f.Created, f.EndedIdle, f.EndedClosed, f.EndedActive, f.EndedFlush, f.Evicted, f.ActiveAtClose)
	})
	w.section(secLoss, func() {
		l := &b.Loss
		w.uvarints(l.KernelDrops, l.FilteredOut, l.TruncatedRecords, l.BadRecords, l.SnapTruncated,
			l.BadWireLen, l.UnsupportedLink, l.FlowsEvicted, l.QueueDrops)
		w.lossMap("malformed", l.Malformed)
		w.lossMap("fragments_dropped", l.FragmentsDropped)
		w.lossMap("l7", l.L7)
	})
	w.section(secDevices, func() { w.devices(b.Devices) })
	w.section(secSeconds, func() { w.seconds(b.seconds) })
	w.section(secSizes, func() {
		w.sizeDist(b.payloadSize)
		w.sizeDist(b.l4Payload)
	})
	w.section(secSketches, func() {
		w.quantiles(b.RTT)
		for _, d := range []*sketch.Distinct{b.SrcIPs, b.DstIPs, b.SrcIPsIn, b.DstIPsOut} {
			w.distinct(d)
		}
		w.topks(b.TopIPv4, b.TopIPv6, b.TopPorts, b.TopIPv4Bytes, b.TopIPv6Bytes, b.TopPortsBytes, b.TopConversations)
	})
	if len(b.L7) > 0 {
		w.section(secL7, func() { w.protocols(b.L7) })
	}
	if d := b.DNS; d != nil {
		w.section(secDNS, func() {
			c := &d.DNSCounters
			w.uvarints(c.Total, c.Queries, c.Replies, c.NoError, c.NXDomain, c.Refused, c.SrvFail, c.NoData,
				c.TCP, c.UDP, c.IPv4, c.IPv6, d.Xact, d.XactTimedOut, d.XactIn, d.XactOut)
			w.distinct(d.QNames)
			w.topks(d.TopQName2, d.TopQName3, d.TopQType, d.TopRcode, d.TopNXDomain,
				d.TopRefused, d.TopSrvFail, d.TopUDPPorts, d.SlowIn, d.SlowOut)
			w.quantiles(d.LatIn)
			w.quantiles(d.LatOut)
		})
	}
	if h := b.HTTP; h != nil {
		w.section(secHTTP, func() {
			w.uvarints(h.Requests, h.Responses)
			w.topks(h.TopMethods, h.TopStatus, h.TopHosts, h.TopPaths, h.TopSlow)
			w.quantiles(h.Latency)
		})
	}
	if t := b.TLS; t != nil {
		w.section(secTLS, func() {
			w.uvarints(t.Handshakes, t.ServerHellos)
			w.topks(t.TopSNI, t.TopVersions, t.TopJA4, t.TopJA3, t.TopALPN)
		})
	}
	if w.err != nil {
		return nil, w.err
	}
	if len(w.out)+trailerLen > MaxBucketBytes {
		return nil, fmt.Errorf("%w: %d bytes exceed the %d-byte cap", ErrInvalidBucket, len(w.out)+trailerLen, MaxBucketBytes)
	}
	return binary.LittleEndian.AppendUint32(w.out, crc32.Checksum(w.out, crcTable)), nil
}

// wireWriter appends sections to out. Section bodies are built in body
// (reused) because their length prefix comes first.
type wireWriter struct {
	out, body []byte
	sec       string
	err       error
}

func (w *wireWriter) failf(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: section %s: "+format, append([]any{ErrInvalidBucket, w.sec}, args...)...)
	}
}

func (w *wireWriter) section(id int, fill func()) {
	w.sec = sectionNames[id]
	w.body = w.body[:0]
	fill()
	w.out = binary.AppendUvarint(w.out, uint64(id)<<1)
	w.out = binary.AppendUvarint(w.out, uint64(len(w.body)))
	w.out = append(w.out, w.body...)
}

func (w *wireWriter) uvarint(v uint64) { w.body = binary.AppendUvarint(w.body, v) }
func (w *wireWriter) varint(v int64)   { w.body = binary.AppendVarint(w.body, v) }

func (w *wireWriter) uvarints(vs ...uint64) {
	for _, v := range vs {
		w.body = binary.AppendUvarint(w.body, v)
	}
}

func (w *wireWriter) str(what, s string) {
	if len(s) > maxNameLen {
		w.failf("%s of %d bytes exceeds %d", what, len(s), maxNameLen)
		return
	}
	w.uvarint(uint64(len(s)))
	w.body = append(w.body, s...)
}

func (w *wireWriter) blob(b []byte) {
	w.uvarint(uint64(len(b)))
	w.body = append(w.body, b...)
}

func (w *wireWriter) counters(c *Counters) {
	w.uvarints(c.Total, c.IPv4, c.IPv6, c.TCP, c.UDP, c.OtherL4, c.NonIP, c.Fragments, c.In, c.Out, c.Unknown)
}

func (w *wireWriter) lossMap(what string, m map[string]uint64) {
	if len(m) > maxMapEntries {
		w.failf("%s: %d entries exceed %d", what, len(m), maxMapEntries)
		return
	}
	w.uvarint(uint64(len(m)))
	for _, k := range sortedKeys(m) {
		w.str(what+" key", k)
		w.uvarint(m[k])
	}
}

func (w *wireWriter) devices(m map[string]*DeviceCounters) {
	if len(m) > maxDevices {
		w.failf("%d devices exceed %d", len(m), maxDevices)
		return
	}
	w.uvarint(uint64(len(m)))
	var zero DeviceCounters
	for _, k := range sortedKeys(m) {
		w.str("device name", k)
		d := m[k]
		if d == nil {
			d = &zero
		}
		w.uvarints(d.In.Packets, d.In.Bytes, d.Out.Packets, d.Out.Bytes, d.Other.Packets, d.Other.Bytes)
	}
}

func (w *wireWriter) seconds(m map[int64]*secondSample) {
	if len(m) > maxSeconds {
		w.failf("%d seconds exceed %d", len(m), maxSeconds)
		return
	}
	w.uvarint(uint64(len(m)))
	var zero secondSample
	prev := int64(0)
	for i, sec := range sortedKeys(m) {
		if sec < -maxAbsSecond || sec > maxAbsSecond {
			w.failf("second %d out of range", sec)
			return
		}
		if i == 0 {
			w.varint(sec)
		} else {
			w.uvarint(uint64(sec - prev))
		}
		prev = sec
		s := m[sec]
		if s == nil {
			s = &zero
		}
		w.uvarints(s.PktsIn, s.PktsOut, s.PktsTotal, s.BytesIn, s.BytesOut, s.BytesTotal)
	}
}

// sizeDist: the non-zero exact counts as (index delta, count) pairs, then
// the sketch of the large values.
func (w *wireWriter) sizeDist(d *sizeDist) {
	if d == nil {
		w.uvarint(0)
		w.blob(nil)
		return
	}
	n := 0
	for _, c := range d.small {
		if c != 0 {
			n++
		}
	}
	w.uvarint(uint64(n))
	prev := 0
	for i, c := range d.small {
		if c != 0 {
			w.uvarint(uint64(i - prev))
			w.uvarint(c)
			prev = i
		}
	}
	w.quantiles(d.big)
}

// A nil sketch is written as an empty blob, which decodes to an empty
// sketch with the bucket's parameters.
func writeSketch[S any, P interface {
	*S
	MarshalBinary() ([]byte, error)
}](w *wireWriter, s P) {
	if s == nil {
		w.blob(nil)
		return
	}
	b, err := s.MarshalBinary()
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("%w: section %s: %w", ErrInvalidBucket, w.sec, err)
		}
		return
	}
	w.blob(b)
}

func (w *wireWriter) quantiles(q *sketch.Quantiles) { writeSketch(w, q) }
func (w *wireWriter) distinct(d *sketch.Distinct)   { writeSketch(w, d) }

func (w *wireWriter) topks(ts ...*sketch.TopK) {
	for _, t := range ts {
		writeSketch(w, t)
	}
}

func (w *wireWriter) protocols(m map[string]*ProtoStats) {
	if len(m) > maxProtocols {
		w.failf("%d protocols exceed %d", len(m), maxProtocols)
		return
	}
	w.uvarint(uint64(len(m)))
	for _, name := range sortedKeys(m) {
		p := m[name]
		if p == nil {
			p = &ProtoStats{}
		}
		w.str("protocol name", name)
		w.uvarints(p.Transactions, p.SQLi, p.Truncated, p.ReqBytes, p.RespBytes)
		// Counted, so that a reader built with fewer or more outcomes
		// still finds the fields after them.
		w.uvarint(uint64(len(p.Outcomes)))
		w.uvarints(p.Outcomes[:]...)
		w.quantiles(p.Latency)
		w.topks(p.TopOps, p.TopStatus, p.TopTargets, p.TopSlow)
	}
}

func sortedKeys[K string | int64, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DecodeBucket decodes an encoding of MarshalBinary into a new bucket.
func DecodeBucket(data []byte) (*Bucket, error) {
	b := &Bucket{}
	if err := b.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return b, nil
}

// UnmarshalBinary replaces b with the decoded bucket; b may be a zero
// Bucket. The result merges, is merged and reports like the encoded bucket.
// The input is untrusted: it is checksummed, every count and length is
// checked against a cap and against the bytes left before anything is
// allocated, and every sketch is validated by its own decoder and must
// have the parameters Merge expects. Errors wrap ErrInvalidBucket; on error
// b is unchanged.
func (b *Bucket) UnmarshalBinary(data []byte) error {
	if len(data) > MaxBucketBytes {
		return fmt.Errorf("%w: %d bytes exceed the %d-byte cap", ErrInvalidBucket, len(data), MaxBucketBytes)
	}
	if len(data) < headerLen+trailerLen {
		return fmt.Errorf("%w: %d bytes, shorter than header and checksum", ErrInvalidBucket, len(data))
	}
	if string(data[:len(wireMagic)]) != wireMagic {
		return fmt.Errorf("%w: bad magic %q", ErrInvalidBucket, data[:len(wireMagic)])
	}
	if v := data[len(wireMagic)]; v != wireVersion {
		return fmt.Errorf("%w: format version %d, this build reads version %d (a newer probe?)", ErrInvalidBucket, v, wireVersion)
	}
	body := data[:len(data)-trailerLen]
	if got, want := crc32.Checksum(body, crcTable), binary.LittleEndian.Uint32(data[len(body):]); got != want {
		return fmt.Errorf("%w: checksum %08x, want %08x (corrupt or truncated)", ErrInvalidBucket, got, want)
	}
	nb, err := decodeSections(body[headerLen:])
	if err != nil {
		return err
	}
	*b = *nb
	return nil
}

// decodeSections decodes the sections of a checksummed blob. It is the
// decoder proper, apart so that the fuzzer can reach it without forging
// checksums.
func decodeSections(data []byte) (*Bucket, error) {
	r := &wireReader{b: data}
	var b *Bucket
	last := uint64(0)
	for len(r.b) > 0 {
		r.sec = "header"
		tag := r.uvarint("section tag")
		size := r.uvarint("section length")
		if r.err != nil {
			return nil, r.err
		}
		id := tag >> 1
		if size > uint64(len(r.b)) {
			return nil, fmt.Errorf("%w: section %d: length %d, %d bytes left", ErrInvalidBucket, id, size, len(r.b))
		}
		if id == 0 {
			return nil, fmt.Errorf("%w: section id 0", ErrInvalidBucket)
		}
		if id <= last {
			return nil, fmt.Errorf("%w: section %d after section %d (sections must appear once, in order)", ErrInvalidBucket, id, last)
		}
		last = id
		sr := &wireReader{b: r.b[:size]}
		r.b = r.b[size:]
		if id >= uint64(len(sectionNames)) {
			if tag&1 == 1 {
				continue // a later version's addition it lets us ignore
			}
			return nil, fmt.Errorf("%w: unknown section %d that a newer writer marked required", ErrInvalidBucket, id)
		}
		sr.sec = sectionNames[id]
		if id == secWindow {
			b = sr.window()
		} else if b == nil {
			return nil, fmt.Errorf("%w: section %s before the window section", ErrInvalidBucket, sr.sec)
		} else {
			sr.section(b, int(id))
		}
		if sr.err == nil && len(sr.b) != 0 {
			sr.failf("%d trailing bytes", len(sr.b))
		}
		if sr.err != nil {
			return nil, sr.err
		}
	}
	if b == nil {
		return nil, fmt.Errorf("%w: no window section", ErrInvalidBucket)
	}
	// Sections that were absent are empty: fill what Merge and Report
	// dereference.
	b.fillEmpty()
	return b, nil
}

// fillEmpty gives a decoded bucket the maps and sketches NewBucket would
// have, where no section provided them (the encoder always writes these
// sections; a hand-made blob may omit them).
func (b *Bucket) fillEmpty() {
	if b.Devices == nil {
		b.Devices = map[string]*DeviceCounters{}
	}
	if b.seconds == nil {
		b.seconds = map[int64]*secondSample{}
	}
	if b.payloadSize == nil {
		b.payloadSize, b.l4Payload = newSizeDist(), newSizeDist()
	}
	if b.RTT == nil {
		n := NewBucket(b.Start, b.End, b.topCapacity)
		b.RTT = n.RTT
		b.SrcIPs, b.DstIPs, b.SrcIPsIn, b.DstIPsOut = n.SrcIPs, n.DstIPs, n.SrcIPsIn, n.DstIPsOut
		b.TopIPv4, b.TopIPv6, b.TopPorts = n.TopIPv4, n.TopIPv6, n.TopPorts
		b.TopIPv4Bytes, b.TopIPv6Bytes, b.TopPortsBytes = n.TopIPv4Bytes, n.TopIPv6Bytes, n.TopPortsBytes
		b.TopConversations = n.TopConversations
	}
}

// wireReader reads one section of untrusted bytes. The first failure
// sticks in err and later reads return zero values, so a section is
// checked once at its end.
type wireReader struct {
	b           []byte
	sec         string
	topCapacity int
	err         error
}

func (r *wireReader) failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: section %s: "+format, append([]any{ErrInvalidBucket, r.sec}, args...)...)
	}
}

func (r *wireReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.failf("truncated or overlong %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.failf("truncated or overlong %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) uvarints(what string, dst ...*uint64) {
	for _, p := range dst {
		*p = r.uvarint(what)
	}
}

func (r *wireReader) bytes(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.failf("%s of %d bytes, %d left", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) str(what string) string {
	n := r.uvarint(what + " length")
	if r.err == nil && n > maxNameLen {
		r.failf("%s of %d bytes exceeds %d", what, n, maxNameLen)
	}
	return string(r.bytes(n, what))
}

// count reads an entry count, bounded by max and by the entries the
// remaining bytes can hold (each takes at least minSize bytes), so that no
// allocation is sized by a number the input does not back.
func (r *wireReader) count(what string, max uint64, minSize int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if n > max || n > uint64(len(r.b)/minSize) {
		r.failf("%d %s: at most %d, and %d bytes left", n, what, max, len(r.b))
		return 0
	}
	return int(n)
}

func (r *wireReader) blob(what string) []byte {
	return r.bytes(r.uvarint(what+" length"), what)
}

func (r *wireReader) sketchErr(what string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: section %s: %s: %w", ErrInvalidBucket, r.sec, what, err)
	}
}

// readSketch reads a sketch blob: an empty one is fresh(), any other
// must decode and pass check (when not nil).
func readSketch[S any, P interface {
	*S
	UnmarshalBinary([]byte) error
}](r *wireReader, what string, fresh func() P, check func(P) error) P {
	data := r.blob(what)
	if r.err != nil {
		return nil
	}
	if len(data) == 0 {
		return fresh()
	}
	s := P(new(S))
	err := s.UnmarshalBinary(data)
	if err == nil && check != nil {
		err = check(s)
	}
	if err != nil {
		r.sketchErr(what, err)
		return nil
	}
	return s
}

func (r *wireReader) quantiles(what string) *sketch.Quantiles {
	return readSketch(r, what, sketch.NewQuantiles, func(q *sketch.Quantiles) error { return q.Merge(refQuantiles) })
}

func (r *wireReader) distinct(what string, dense bool) *sketch.Distinct {
	fresh := sketch.NewDistinct
	if dense {
		fresh = sketch.NewDenseDistinct
	}
	return readSketch(r, what, fresh, func(d *sketch.Distinct) error { return d.Merge(refDistinct) })
}

func (r *wireReader) topk(what string) *sketch.TopK {
	return readSketch(r, what, func() *sketch.TopK { return sketch.NewTopK(r.topCapacity) }, nil)
}

func (r *wireReader) window() *Bucket {
	b := &Bucket{}
	b.Start = r.varint("start")
	b.End = r.varint("end")
	b.FirstTS = r.varint("first_ts")
	b.LastTS = r.varint("last_ts")
	tc := r.uvarint("top capacity")
	if r.err == nil && tc > sketch.MaxTopCapacity {
		r.failf("top capacity %d exceeds %d", tc, sketch.MaxTopCapacity)
	}
	b.topCapacity = int(tc)
	return b
}

func (r *wireReader) section(b *Bucket, id int) {
	r.topCapacity = b.topCapacity
	switch id {
	case secCounters:
		r.counters(&b.Packets)
		r.counters(&b.Bytes)
		t := &b.TCP
		r.uvarints("tcp counter", &t.SYN, &t.SYNACK, &t.Handshakes, &t.FIN, &t.Resets, &t.Retransmissions, &t.OutOfOrder)
		f := &b.Flows
		r.uvarints("flow counter", &f.Created, &f.EndedIdle, &f.EndedClosed, &f.EndedActive, &f.EndedFlush, &f.Evicted, &f.ActiveAtClose)
	case secLoss:
		l := &b.Loss
		r.uvarints("loss counter", &l.KernelDrops, &l.FilteredOut, &l.TruncatedRecords, &l.BadRecords, &l.SnapTruncated,
			&l.BadWireLen, &l.UnsupportedLink, &l.FlowsEvicted, &l.QueueDrops)
		l.Malformed = r.lossMap("malformed")
		l.FragmentsDropped = r.lossMap("fragments_dropped")
		l.L7 = r.lossMap("l7")
	case secDevices:
		b.Devices = r.devices()
	case secSeconds:
		b.seconds = r.seconds()
	case secSizes:
		b.payloadSize = r.sizeDist("payload size")
		b.l4Payload = r.sizeDist("l4 payload size")
	case secSketches:
		b.RTT = r.quantiles("rtt")
		b.SrcIPs = r.distinct("src_ips", false)
		b.DstIPs = r.distinct("dst_ips", false)
		b.SrcIPsIn = r.distinct("src_ips_in", false)
		b.DstIPsOut = r.distinct("dst_ips_out", false)
		b.TopIPv4 = r.topk("top_ipv4")
		b.TopIPv6 = r.topk("top_ipv6")
		b.TopPorts = r.topk("top_ports")
		b.TopIPv4Bytes = r.topk("top_ipv4 bytes")
		b.TopIPv6Bytes = r.topk("top_ipv6 bytes")
		b.TopPortsBytes = r.topk("top_ports bytes")
		b.TopConversations = r.topk("top_conversations")
	case secL7:
		b.L7 = r.protocols()
	case secDNS:
		d := &DNSStats{}
		c := &d.DNSCounters
		r.uvarints("dns counter", &c.Total, &c.Queries, &c.Replies, &c.NoError, &c.NXDomain, &c.Refused, &c.SrvFail, &c.NoData,
			&c.TCP, &c.UDP, &c.IPv4, &c.IPv6, &d.Xact, &d.XactTimedOut, &d.XactIn, &d.XactOut)
		d.QNames = r.distinct("qnames", true)
		d.TopQName2 = r.topk("top_qname2")
		d.TopQName3 = r.topk("top_qname3")
		d.TopQType = r.topk("top_qtype")
		d.TopRcode = r.topk("top_rcode")
		d.TopNXDomain = r.topk("top_nxdomain")
		d.TopRefused = r.topk("top_refused")
		d.TopSrvFail = r.topk("top_srvfail")
		d.TopUDPPorts = r.topk("top_udp_ports")
		d.SlowIn = r.topk("slow in")
		d.SlowOut = r.topk("slow out")
		d.LatIn = r.quantiles("latency in")
		d.LatOut = r.quantiles("latency out")
		b.DNS = d
	case secHTTP:
		h := &HTTPStats{}
		r.uvarints("http counter", &h.Requests, &h.Responses)
		h.TopMethods = r.topk("top_methods")
		h.TopStatus = r.topk("top_status")
		h.TopHosts = r.topk("top_hosts")
		h.TopPaths = r.topk("top_paths")
		h.TopSlow = r.topk("top_slow")
		h.Latency = r.quantiles("latency")
		b.HTTP = h
	case secTLS:
		t := &TLSStats{}
		r.uvarints("tls counter", &t.Handshakes, &t.ServerHellos)
		t.TopSNI = r.topk("top_sni")
		t.TopVersions = r.topk("top_versions")
		t.TopJA4 = r.topk("top_ja4")
		t.TopJA3 = r.topk("top_ja3")
		t.TopALPN = r.topk("top_alpn")
		b.TLS = t
	}
}

func (r *wireReader) counters(c *Counters) {
	r.uvarints("counter", &c.Total, &c.IPv4, &c.IPv6, &c.TCP, &c.UDP, &c.OtherL4, &c.NonIP, &c.Fragments, &c.In, &c.Out, &c.Unknown)
}

// lossMap returns nil for no entries, as the recorder leaves untouched
// maps. Keys must strictly increase: no duplicates, one encoding.
func (r *wireReader) lossMap(what string) map[string]uint64 {
	n := r.count(what+" entries", maxMapEntries, 2)
	if n == 0 {
		return nil
	}
	m := make(map[string]uint64, n)
	prev := ""
	for i := range n {
		k := r.str(what + " key")
		v := r.uvarint(what + " value")
		if r.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			r.failf("%s keys out of order or repeated at %q", what, k)
			return nil
		}
		prev = k
		m[k] = v
	}
	return m
}

func (r *wireReader) devices() map[string]*DeviceCounters {
	n := r.count("devices", maxDevices, 7)
	m := make(map[string]*DeviceCounters, n)
	slab := make([]DeviceCounters, n)
	prev := ""
	for i := range n {
		k := r.str("device name")
		d := &slab[i]
		r.uvarints("device counter", &d.In.Packets, &d.In.Bytes, &d.Out.Packets, &d.Out.Bytes, &d.Other.Packets, &d.Other.Bytes)
		if r.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			r.failf("device names out of order or repeated at %q", k)
			return nil
		}
		prev = k
		m[k] = d
	}
	return m
}

func (r *wireReader) seconds() map[int64]*secondSample {
	n := r.count("seconds", maxSeconds, 7)
	m := make(map[int64]*secondSample, n)
	slab := make([]secondSample, n)
	var sec int64
	for i := range n {
		if i == 0 {
			sec = r.varint("second")
			if r.err == nil && (sec < -maxAbsSecond || sec > maxAbsSecond) {
				r.failf("second %d out of range", sec)
			}
		} else {
			d := r.uvarint("second delta")
			if r.err == nil && (d == 0 || d > uint64(maxAbsSecond-sec)) {
				r.failf("second delta %d after %d", d, sec)
			}
			sec += int64(d)
		}
		s := &slab[i]
		r.uvarints("second sample", &s.PktsIn, &s.PktsOut, &s.PktsTotal, &s.BytesIn, &s.BytesOut, &s.BytesTotal)
		if r.err != nil {
			return nil
		}
		m[sec] = s
	}
	return m
}

func (r *wireReader) sizeDist(what string) *sizeDist {
	n := r.count(what+" entries", smallSizes, 2)
	d := &sizeDist{}
	idx := uint64(0)
	for i := range n {
		delta := r.uvarint(what + " index")
		c := r.uvarint(what + " count")
		if r.err != nil {
			return nil
		}
		if (i > 0 && delta == 0) || delta >= smallSizes || idx+delta >= smallSizes || c == 0 {
			r.failf("%s: entry %d: index delta %d after %d, count %d", what, i, delta, idx, c)
			return nil
		}
		idx += delta
		d.small[idx] = c
	}
	d.big = r.quantiles(what + " sketch")
	if r.err != nil {
		return nil
	}
	return d
}

func (r *wireReader) protocols() map[string]*ProtoStats {
	// An entry takes at least 1 (name) + 5 + 1 (outcomes) + 5 (sketches) bytes.
	n := r.count("protocols", maxProtocols, 12)
	m := make(map[string]*ProtoStats, n)
	prev := ""
	for i := range n {
		name := r.str("protocol name")
		if r.err == nil && i > 0 && name <= prev {
			r.failf("protocol names out of order or repeated at %q", name)
		}
		prev = name
		p := &ProtoStats{}
		r.uvarints("protocol counter", &p.Transactions, &p.SQLi, &p.Truncated, &p.ReqBytes, &p.RespBytes)
		no := r.uvarint("outcome count")
		if r.err == nil && no > uint64(len(p.Outcomes)) {
			// Outcomes this build does not know would be lost.
			r.failf("protocol %q: %d outcomes, this build knows %d", name, no, len(p.Outcomes))
		}
		if r.err != nil {
			return nil
		}
		for j := range no {
			p.Outcomes[j] = r.uvarint("outcome")
		}
		p.Latency = r.quantiles(name + " latency")
		p.TopOps = r.topk(name + " top_ops")
		p.TopStatus = r.topk(name + " top_status")
		p.TopTargets = r.topk(name + " top_targets")
		p.TopSlow = r.topk(name + " top_slow")
		if r.err != nil {
			return nil
		}
		m[name] = p
	}
	return m
}
