package decode

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
)

// IP reassembly.
//
// Each datagram under reassembly owns one buffer holding its fragmentable
// part at the fragments' offsets, followed by a coverage bitmap with one bit
// per 8-byte unit (fragment offsets count 8-byte units, so every fragment but
// the last covers whole units). Buffers come in power-of-two size classes
// from 2 KiB to 64 KiB and are pooled, so that steady-state reassembly does
// not allocate; every byte allocated counts against DefragMaxBytes.
//
// Policy, in the spirit of RFC 5722: a fragment that exactly repeats bytes
// already held is dropped (first wins, "duplicate"); any other overlap drops
// the whole datagram ("overlap"), as does a fragment that contradicts the
// datagram's length ("inconsistent") or would make it exceed the IP maximum
// ("too_large"). A dropped datagram is remembered until its timeout, so that
// its late fragments are dropped under the same reason instead of starting
// a datagram that can never complete.

const (
	minBufShift = 11
	maxBufShift = 16 // the fragmentable part of a datagram is < 64 KiB
	numClasses  = maxBufShift - minBufShift + 1
	maxBufSize  = 1 << maxBufShift
)

func classSize(c int) int  { return 1 << (c + minBufShift) }
func classBytes(c int) int { s := classSize(c); return s + s/64 }

// classFor returns the smallest class that holds n data bytes.
func classFor(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// classOf returns the class of a buffer from its length.
func classOf(b []byte) int { return bits.Len(uint(len(b))) - 1 - minBufShift }

type fragKey struct {
	src, dst [16]byte
	id       uint32
	tunID    uint32 // inner fragments of different tenants must not meet
	vlan     uint16
	proto    uint8 // IPv4 only
	version  uint8
	tunnel   TunnelType
}

type datagram struct {
	key        fragKey
	hash       uint64
	first      int64 // packet time of the first fragment seen
	prev, next int32 // age list, oldest first
	buf        []byte
	class      int8 // class of buf, -1 without a buffer
	dead       bool
	deadWhy    dropReason
	proto      uint8 // of the fragmentable part, from the offset-0 fragment
	ttl        uint8
	frags      uint32 // fragments held
	filled     int    // data bytes held
	total      int    // fragmentable length, -1 until the last fragment
	maxEnd     int
	capEnd     int // first byte that was not captured (snaplen)
	hdrLen     int // L3 header bytes in front of the fragmentable part
}

// fragment is one fragment as the IP decoders found it.
type fragment struct {
	off, length int
	more        bool
	data        []byte // captured bytes of the fragment's data
	hdrLen      int
	proto, ttl  uint8
	maxLen      int // largest legal L3 length of the reassembled datagram
}

type defrag struct {
	maxBytes   int
	maxDgrams  int
	timeout    int64
	seed       maphash.Seed
	slots      []datagram // capacity maxDgrams, so pointers into it stay valid
	freeSlots  []int32
	index      []int32 // open addressing with linear probing, -1 = empty
	mask       uint64
	head, tail int32
	count      int
	alloc      int // bytes allocated to buffers: held, lent or pooled
	pool       [numClasses][][]byte
	lent       [][]byte // buffers of datagrams completed by the current frame
	lastMaint  int64
}

func (f *defrag) init(cfg Config) {
	f.maxBytes = cfg.DefragMaxBytes
	f.maxDgrams = cfg.DefragMaxDatagrams
	f.timeout = int64(cfg.DefragTimeout)
	f.seed = maphash.MakeSeed()
	f.head, f.tail = -1, -1
}

// ensure allocates the tables on the first fragment, so that decoders that
// never see one stay small.
func (f *defrag) ensure() {
	if f.index != nil {
		return
	}
	n := 8
	for n < 2*f.maxDgrams {
		n <<= 1
	}
	f.index = make([]int32, n)
	for i := range f.index {
		f.index[i] = -1
	}
	f.mask = uint64(n - 1)
	f.slots = make([]datagram, 0, f.maxDgrams)
	f.freeSlots = make([]int32, 0, f.maxDgrams)
	f.lent = make([][]byte, 0, 4)
}

func (f *defrag) active() bool { return f.count > 0 || len(f.lent) > 0 }

// maintain runs at the start of each Decode while reassembly holds state:
// it takes back the buffers lent to the previous frame and, at most once per
// second of packet time, expires stale datagrams.
func (f *defrag) maintain(d *Decoder, ts int64) {
	for i, b := range f.lent {
		f.putBuf(b)
		f.lent[i] = nil
	}
	f.lent = f.lent[:0]
	if f.count > 0 && (ts-f.lastMaint >= 1e9 || ts < f.lastMaint) {
		f.lastMaint = ts
		for f.head >= 0 && f.stale(&f.slots[f.head], ts) {
			f.remove(d, f.head, dropTimeout)
		}
	}
}

// stale tells whether g is past its timeout. Capture files stitched from
// several sessions jump in time both ways, so distance counts, not order.
func (f *defrag) stale(g *datagram, ts int64) bool {
	age := ts - g.first
	return age >= f.timeout || age <= -f.timeout
}

func (f *defrag) fragment4(d *Decoder, b []byte, ihl, total int, p *Packet, depth int) Status {
	fo := be16(b[6:8])
	k := fragKey{
		id:      uint32(be16(b[4:6])),
		proto:   b[9],
		version: 4,
		vlan:    p.VLANs[0],
		tunnel:  p.Tunnel,
		tunID:   p.TunnelID,
	}
	copy(k.src[:], b[12:16])
	copy(k.dst[:], b[16:20])
	fr := fragment{
		off:    int(fo&0x1fff) << 3,
		length: total - ihl,
		more:   fo&0x2000 != 0,
		data:   b[ihl:],
		hdrLen: ihl,
		proto:  b[9],
		ttl:    b[8],
		maxLen: 0xffff,
	}
	return f.add(d, &k, &fr, p, depth)
}

// fragment6 handles the fragment header at off in pkt; the headers in front
// of it are the unfragmentable part.
func (f *defrag) fragment6(d *Decoder, pkt []byte, off, total int, p *Packet, depth int) Status {
	fo := be16(pkt[off+2 : off+4])
	k := fragKey{
		id:      be32(pkt[off+4 : off+8]),
		version: 6,
		vlan:    p.VLANs[0],
		tunnel:  p.Tunnel,
		tunID:   p.TunnelID,
	}
	copy(k.src[:], pkt[8:24])
	copy(k.dst[:], pkt[24:40])
	fr := fragment{
		off:    int(fo &^ 7),
		length: total - (off + 8),
		more:   fo&1 != 0,
		data:   pkt[off+8:],
		hdrLen: off,
		proto:  pkt[off],
		ttl:    pkt[7],
		maxLen: 40 + 0xffff, // the payload length field is 16 bits
	}
	return f.add(d, &k, &fr, p, depth)
}

// drop counts the current fragment as dropped.
func (d *Decoder) dropFrag(why dropReason) Status {
	d.c.dropped[why]++
	return StatusFragment
}

func (f *defrag) add(d *Decoder, k *fragKey, fr *fragment, p *Packet, depth int) Status {
	d.c.fragments++
	f.ensure()
	end := fr.off + fr.length
	if fr.length <= 0 {
		return d.dropFrag(dropInconsistent)
	}
	h := f.hashKey(k)
	s := f.lookup(k, h)
	if s >= 0 && f.stale(&f.slots[s], d.ts) {
		f.remove(d, s, dropTimeout)
		s = -1
	}
	if s < 0 {
		if s = f.create(d, k, h); s < 0 {
			return d.dropFrag(dropDatagramCap)
		}
	}
	g := &f.slots[s]
	if g.dead {
		return d.dropFrag(g.deadWhy)
	}
	if fr.hdrLen+end > fr.maxLen {
		f.kill(d, s, dropTooLarge)
		return d.dropFrag(dropTooLarge)
	}
	if (fr.more && (fr.length&7 != 0 || (g.total >= 0 && end >= g.total))) ||
		(!fr.more && ((g.total >= 0 && end != g.total) || end < g.maxEnd)) {
		f.kill(d, s, dropInconsistent)
		return d.dropFrag(dropInconsistent)
	}
	switch f.coverage(g, fr.off, end) {
	case covFull:
		return d.dropFrag(dropDuplicate)
	case covPartial:
		f.kill(d, s, dropOverlap)
		return d.dropFrag(dropOverlap)
	}
	if c := classFor(end); int(g.class) < c {
		nb := f.getBuf(d, c, s)
		if nb == nil {
			f.kill(d, s, dropMemoryCap)
			return d.dropFrag(dropMemoryCap)
		}
		if g.class >= 0 {
			os, ns := classSize(int(g.class)), classSize(c)
			copy(nb[:g.maxEnd], g.buf[:g.maxEnd])
			copy(nb[ns:], g.buf[os:])
			f.putBuf(g.buf)
		}
		g.buf, g.class = nb, int8(c)
	}
	n := min(len(fr.data), fr.length)
	copy(g.buf[fr.off:fr.off+n], fr.data[:n])
	if fr.off+n < g.capEnd && n < fr.length {
		g.capEnd = fr.off + n
	}
	f.cover(g, fr.off, end)
	g.filled += fr.length
	g.frags++
	d.c.held++
	if fr.off == 0 {
		g.hdrLen, g.proto, g.ttl = fr.hdrLen, fr.proto, fr.ttl
	}
	if !fr.more {
		g.total = end
	}
	g.maxEnd = max(g.maxEnd, end)
	if g.total < 0 || g.filled != g.total {
		return StatusFragment
	}
	if g.hdrLen+g.total > fr.maxLen { // the first fragment had a longer header
		f.kill(d, s, dropTooLarge)
		return StatusFragment
	}
	return f.complete(d, s, p, depth)
}

// complete hands the reassembled datagram to the transport decoder. Its
// buffer is lent to the caller until the next Decode.
func (f *defrag) complete(d *Decoder, s int32, p *Packet, depth int) Status {
	g := &f.slots[s]
	total, hdrLen, proto, version := g.total, g.hdrLen, g.proto, g.key.version
	capEnd := min(g.capEnd, total)
	buf := g.buf
	g.buf, g.class = nil, -1
	f.lent = append(f.lent, buf)
	d.c.reassembled++
	d.c.delivered += uint64(g.frags)
	d.c.held -= uint64(g.frags)
	g.frags = 0
	p.TTL = g.ttl
	f.remove(d, s, dropTimeout) // nothing held any more: counts nothing

	p.Fragmented = true
	p.IPLen = hdrLen + total
	snapped := d.snapped
	d.snapped = capEnd < total
	var st Status
	data := buf[:capEnd:capEnd] // the coverage bitmap follows: not the caller's to append to
	if version == 4 {
		st = d.transport(proto, data, total, p, depth)
	} else {
		st = d.ipv6Next(proto, data, 0, total, p, depth, true)
	}
	d.snapped = snapped
	return st
}

// create starts tracking a datagram, evicting the oldest one when the table
// is full.
func (f *defrag) create(d *Decoder, k *fragKey, h uint64) int32 {
	var s int32
	switch {
	case len(f.freeSlots) > 0:
		s = f.freeSlots[len(f.freeSlots)-1]
		f.freeSlots = f.freeSlots[:len(f.freeSlots)-1]
	case len(f.slots) < f.maxDgrams:
		f.slots = append(f.slots, datagram{})
		s = int32(len(f.slots) - 1)
	case f.head >= 0:
		f.remove(d, f.head, dropDatagramCap)
		s = f.freeSlots[len(f.freeSlots)-1]
		f.freeSlots = f.freeSlots[:len(f.freeSlots)-1]
	default:
		return -1
	}
	f.slots[s] = datagram{
		key:    *k,
		hash:   h,
		first:  d.ts,
		prev:   f.tail,
		next:   -1,
		class:  -1,
		total:  -1,
		capEnd: math.MaxInt,
	}
	if f.tail >= 0 {
		f.slots[f.tail].next = s
	} else {
		f.head = s
	}
	f.tail = s
	for i := h & f.mask; ; i = (i + 1) & f.mask {
		if f.index[i] < 0 {
			f.index[i] = s
			break
		}
	}
	f.count++
	return s
}

// kill drops what datagram s holds and remembers it as dead.
func (f *defrag) kill(d *Decoder, s int32, why dropReason) {
	g := &f.slots[s]
	f.release(d, g, why)
	g.dead, g.deadWhy = true, why
}

// release drops the fragments and the buffer of g.
func (f *defrag) release(d *Decoder, g *datagram, why dropReason) {
	if g.frags > 0 {
		d.c.dropped[why] += uint64(g.frags)
		d.c.held -= uint64(g.frags)
		g.frags = 0
	}
	if g.class >= 0 {
		f.putBuf(g.buf)
		g.buf, g.class = nil, -1
	}
	g.filled, g.total, g.maxEnd = 0, -1, 0
}

// remove forgets datagram s, counting what it held as dropped for why.
func (f *defrag) remove(d *Decoder, s int32, why dropReason) {
	g := &f.slots[s]
	f.release(d, g, why)
	if g.prev >= 0 {
		f.slots[g.prev].next = g.next
	} else {
		f.head = g.next
	}
	if g.next >= 0 {
		f.slots[g.next].prev = g.prev
	} else {
		f.tail = g.prev
	}
	// Backward-shift deletion keeps probe chains intact without tombstones.
	i := g.hash & f.mask
	for f.index[i] != s {
		i = (i + 1) & f.mask
	}
	for j := i; ; {
		j = (j + 1) & f.mask
		t := f.index[j]
		if t < 0 {
			break
		}
		home := f.slots[t].hash & f.mask
		// t may move to i only if its home is not in the cyclic range (i, j].
		if (i < j && i < home && home <= j) || (i > j && (i < home || home <= j)) {
			continue
		}
		f.index[i] = t
		i = j
	}
	f.index[i] = -1
	f.freeSlots = append(f.freeSlots, s)
	f.count--
}

func (f *defrag) lookup(k *fragKey, h uint64) int32 {
	for i := h & f.mask; ; i = (i + 1) & f.mask {
		s := f.index[i]
		if s < 0 {
			return -1
		}
		if g := &f.slots[s]; g.hash == h && g.key == *k {
			return s
		}
	}
}

// hashKey hashes with a per-decoder random seed, so that crafted fragment
// IDs cannot line up probe chains.
func (f *defrag) hashKey(k *fragKey) uint64 {
	var b [45]byte
	copy(b[0:16], k.src[:])
	copy(b[16:32], k.dst[:])
	binary.LittleEndian.PutUint32(b[32:36], k.id)
	binary.LittleEndian.PutUint32(b[36:40], k.tunID)
	binary.LittleEndian.PutUint16(b[40:42], k.vlan)
	b[42], b[43], b[44] = k.proto, k.version, byte(k.tunnel)
	return maphash.Bytes(f.seed, b[:])
}

// getBuf returns a zeroed-bitmap buffer of class c, allocating within the
// memory cap, releasing pooled buffers of other classes, or evicting the
// oldest datagram that holds memory (never except, the one being filled).
func (f *defrag) getBuf(d *Decoder, c int, except int32) []byte {
	need := classBytes(c)
	for {
		if n := len(f.pool[c]); n > 0 {
			b := f.pool[c][n-1]
			f.pool[c][n-1] = nil
			f.pool[c] = f.pool[c][:n-1]
			clear(b[classSize(c):])
			return b
		}
		if f.alloc+need <= f.maxBytes {
			f.alloc += need
			return make([]byte, need)
		}
		if f.unpool() {
			continue
		}
		if !f.evict(d, except) {
			return nil
		}
	}
}

func (f *defrag) putBuf(b []byte) {
	c := classOf(b)
	f.pool[c] = append(f.pool[c], b)
}

// unpool gives one pooled buffer back to the garbage collector, largest
// class first.
func (f *defrag) unpool() bool {
	for c := numClasses - 1; c >= 0; c-- {
		if n := len(f.pool[c]); n > 0 {
			f.pool[c][n-1] = nil
			f.pool[c] = f.pool[c][:n-1]
			f.alloc -= classBytes(c)
			return true
		}
	}
	return false
}

// evict kills the oldest datagram that holds a buffer.
func (f *defrag) evict(d *Decoder, except int32) bool {
	for s := f.head; s >= 0; s = f.slots[s].next {
		if s != except && f.slots[s].class >= 0 {
			f.kill(d, s, dropMemoryCap)
			return true
		}
	}
	return false
}

type coverState uint8

const (
	covNone coverState = iota
	covFull
	covPartial
)

// coverage tells how much of [off, end) g already holds.
func (f *defrag) coverage(g *datagram, off, end int) coverState {
	if g.class < 0 {
		return covNone
	}
	size := classSize(int(g.class))
	bm := g.buf[size:]
	u0, u1 := off>>3, (end+7)>>3
	units := u1 - u0
	if lim := size >> 3; u1 > lim {
		u1 = lim // units past the buffer are not held
	}
	set := 0
	for u := u0; u < u1; {
		if u&7 == 0 && u+8 <= u1 {
			set += bits.OnesCount8(bm[u>>3])
			u += 8
			continue
		}
		if bm[u>>3]&(1<<(u&7)) != 0 {
			set++
		}
		u++
	}
	switch set {
	case 0:
		return covNone
	case units:
		return covFull
	}
	return covPartial
}

func (f *defrag) cover(g *datagram, off, end int) {
	bm := g.buf[classSize(int(g.class)):]
	u1 := (end + 7) >> 3
	for u := off >> 3; u < u1; {
		if u&7 == 0 && u+8 <= u1 {
			bm[u>>3] = 0xff
			u += 8
			continue
		}
		bm[u>>3] |= 1 << (u & 7)
		u++
	}
}
