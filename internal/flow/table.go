package flow

import (
	"math/bits"
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
)

// ref is a flow reference: index+1 into the table's slab, 0 = none. 32-bit
// references instead of pointers halve the size of the list links and of
// the index.
type ref uint32

// Timeout classes: every flow is on exactly one LRU list, the one of its
// class. All flows on a list share one timeout and the list is ordered by
// last-seen time, so expiry only ever looks at list heads.
const (
	classIdle   = iota // non-TCP: IdleTimeout
	classSyn           // TCP half-open: TCPSynTimeout
	classTCP           // TCP established / mid-stream / half-closed: TCPIdleTimeout
	classClosed        // TCP closed: TCPClosedTimeout
	numClasses

	classNone = 0xff // not on a list (being created)
)

// list is an intrusive doubly-linked list of flows, ordered by the time
// each took its place (Flow.listed). A flow with packets keeps its place
// for up to lazy[class] (see touch): listed ≤ touched < listed + lazy, so
// the order by touched holds within that slack, and expiry checks touched
// before it ends a flow. headListed mirrors the head flow's listed time so that expiry and
// eviction can compare the heads without reading them (a cache miss each
// in a large table).
type list struct {
	head, tail ref
	headListed int64
}

// Table tracks the flows of one packet stream. It is not safe for
// concurrent use: use one Table per worker goroutine.
type Table struct {
	cfg     Config
	onEnd   func(*Flow, EndReason)
	seed    seed
	timeout [numClasses]int64
	// lazy is how long a flow with packets keeps its list place: moving
	// it on every packet costs two cache misses (its neighbours), and
	// expiry happens about once a second anyway.
	lazy   [numClasses]int64
	active int64 // ActiveTimeout in ns, 0 = off

	// clock is the table's monotonic packet time: the maximum of every
	// packet timestamp and every Expire argument seen. Lists are ordered
	// by it, so a capture whose time goes backwards (stitched files) can
	// neither reorder them nor make a duration negative; flows simply
	// expire when time passes the previous maximum again.
	clock int64

	// Flow storage: fixed-size chunks that never move, so *Flow stays
	// valid while the flow lives; ended flows go to a free list.
	chunks    [][]Flow
	chunkBits uint
	allocated int // flow structs handed out of the chunks so far
	free      ref // free list, linked through Flow.next

	idx     index
	lists   [numClasses]list
	actList list // ordered by activeAt, when ActiveTimeout > 0

	stats Stats
}

// NewTable returns an empty table. Zero fields of cfg take their default
// values; NewTable panics if the result is invalid (check user input with
// Config.Validate first). onEnd, which may be nil, is called once for every
// flow that ends and for every active-timeout report, before the Flow is
// recycled: it must not keep the pointer nor call back into the Table.
func NewTable(cfg Config, onEnd func(f *Flow, why EndReason)) *Table {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	t := &Table{cfg: cfg, onEnd: onEnd, seed: newSeed()}
	t.timeout = [numClasses]int64{
		classIdle:   int64(cfg.IdleTimeout),
		classSyn:    int64(cfg.TCPSynTimeout),
		classTCP:    int64(cfg.TCPIdleTimeout),
		classClosed: int64(cfg.TCPClosedTimeout),
	}
	for c, to := range t.timeout {
		t.lazy[c] = min(int64(time.Second), to/8)
	}
	t.active = int64(cfg.ActiveTimeout)
	// Chunks of up to 1024 flows (~400 KiB): large enough that allocation
	// is rare, small enough that a small table stays small.
	t.chunkBits = uint(min(10, bits.Len(uint(cfg.MaxFlows-1))))
	maxSlots := 1 << bits.Len(uint(2*cfg.MaxFlows-1)) // load factor <= 1/2 at MaxFlows
	t.idx.init(min(maxSlots, 1024), maxSlots)
	return t
}

// Len returns the number of live flows.
func (t *Table) Len() int { return int(t.stats.Active) }

// Stats returns the table's counters.
func (t *Table) Stats() Stats { return t.stats }

func (t *Table) flow(r ref) *Flow {
	i := uint32(r - 1)
	return &t.chunks[i>>t.chunkBits][i&(1<<t.chunkBits-1)]
}

// alloc returns a flow struct from the free list or the slab.
func (t *Table) alloc() *Flow {
	if t.free != 0 {
		f := t.flow(t.free)
		t.free = f.next
		return f
	}
	size := 1 << t.chunkBits
	if t.allocated == len(t.chunks)*size {
		t.chunks = append(t.chunks, make([]Flow, size))
	}
	t.allocated++
	f := t.flow(ref(t.allocated))
	f.ref = ref(t.allocated)
	return f
}

// ---- intrusive lists ----

func (t *Table) listRemove(f *Flow) {
	l := &t.lists[f.class]
	if f.prev != 0 {
		t.flow(f.prev).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != 0 {
		n := t.flow(f.next)
		n.prev = f.prev
		if f.prev == 0 {
			l.headListed = n.listed // n is the new head, and in cache now
		}
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = 0, 0
	f.class = classNone
}

func (t *Table) listPush(f *Flow, class uint8) {
	l := &t.lists[class]
	f.class = class
	f.next = 0
	f.prev = l.tail
	if l.tail != 0 {
		t.flow(l.tail).next = f.ref
	} else {
		l.head = f.ref
		l.headListed = f.listed
	}
	l.tail = f.ref
}

// touch records a packet: the flow moves to the back of its class list,
// unless it took its place there less than lazy[class] ago.
func (t *Table) touch(f *Flow, class uint8) {
	f.touched = t.clock
	if f.class == class {
		if t.clock-f.listed < t.lazy[class] {
			return
		}
		if l := &t.lists[class]; l.tail == f.ref {
			// Already last (the common case in a burst): no neighbour to
			// touch, and no flow is listed later.
			f.listed = t.clock
			if l.head == f.ref {
				l.headListed = f.listed
			}
			return
		}
	}
	if f.class != classNone {
		t.listRemove(f)
	}
	f.listed = t.clock
	t.listPush(f, class)
}

func (t *Table) actRemove(f *Flow) {
	l := &t.actList
	if f.aprev != 0 {
		t.flow(f.aprev).anext = f.anext
	} else {
		l.head = f.anext
	}
	if f.anext != 0 {
		t.flow(f.anext).aprev = f.aprev
	} else {
		l.tail = f.aprev
	}
	f.aprev, f.anext = 0, 0
}

func (t *Table) actPush(f *Flow) {
	l := &t.actList
	f.anext = 0
	f.aprev = l.tail
	if l.tail != 0 {
		t.flow(l.tail).anext = f.ref
	} else {
		l.head = f.ref
	}
	l.tail = f.ref
}

// ---- lifecycle ----

func classReason(class uint8) EndReason {
	if class == classClosed {
		return EndClosed
	}
	return EndIdle
}

// end reports a flow, unlinks it and recycles it.
func (t *Table) end(f *Flow, why EndReason) {
	if t.onEnd != nil {
		t.onEnd(f, why)
	}
	switch why {
	case EndIdle:
		t.stats.EndedIdle++
	case EndClosed:
		t.stats.EndedClosed++
	case EndEvicted:
		t.stats.Evicted++
	case EndFlush:
		t.stats.Flushed++
	}
	t.stats.Active--
	t.idx.remove(f.tag, f.ref)
	if f.class != classNone {
		t.listRemove(f)
	}
	if t.active > 0 {
		t.actRemove(f)
	}
	// create zeroes the struct when it is reused.
	f.next = t.free
	t.free = f.ref
}

// expireClasses ends every flow whose class timeout has passed at now.
func (t *Table) expireClasses(now int64) {
	for c := range t.lists {
		l := &t.lists[c]
		for l.head != 0 && now-l.headListed >= t.timeout[c] {
			f := t.flow(l.head)
			if now-f.touched < t.timeout[c] {
				// Seen since it took its place, less than lazy[c] after:
				// it times out within lazy[c], or moves on its next
				// packet. The flows behind it wait that long at most.
				break
			}
			t.end(f, classReason(uint8(c)))
		}
	}
}

// makeRoom frees one slot in a full table: timed-out flows first (their
// end is not the table's fault), else the least recently seen flow.
func (t *Table) makeRoom() {
	t.expireClasses(t.clock)
	if t.stats.Active < uint64(t.cfg.MaxFlows) {
		return
	}
	lru := -1
	for c := range t.lists {
		if l := &t.lists[c]; l.head != 0 && (lru < 0 || l.headListed < t.lists[lru].headListed) {
			lru = c
		}
	}
	t.end(t.flow(t.lists[lru].head), EndEvicted)
}

// Expire ends the flows whose timeout has passed at now (Unix ns, packet
// time) and makes the active-timeout reports that are due. It costs
// O(1 + flows ended): call it about once per second of packet time. A now
// earlier than a time already seen is clamped to it.
func (t *Table) Expire(now int64) {
	if now > t.clock {
		t.clock = now
	}
	t.expireClasses(t.clock)
	if t.active > 0 {
		for h := t.actList.head; h != 0; h = t.actList.head {
			f := t.flow(h)
			if t.clock-f.activeAt < t.active {
				break
			}
			t.report(f)
		}
	}
}

// report makes an active-timeout report: the flow continues with fresh
// counters from now.
func (t *Table) report(f *Flow) {
	if t.onEnd != nil {
		t.onEnd(f, EndActive)
	}
	t.stats.EndedActive++
	f.Stats[0].resetCounters()
	f.Stats[1].resetCounters()
	f.PeriodStart = t.clock
	f.activeAt = t.clock
	t.actRemove(f)
	t.actPush(f)
}

// Flush ends every flow (EndFlush), e.g. at the end of a capture file.
func (t *Table) Flush() {
	for c := range t.lists {
		for h := t.lists[c].head; h != 0; h = t.lists[c].head {
			t.end(t.flow(h), EndFlush)
		}
	}
}

// Range calls fn for every live flow until fn returns false. fn may read
// and reset the flow's window counters; it must not call Observe, Expire
// or Flush.
func (t *Table) Range(fn func(*Flow) bool) {
	for c := range t.lists {
		for r := t.lists[c].head; r != 0; {
			f := t.flow(r)
			r = f.next
			if !fn(f) {
				return
			}
		}
	}
}

// Lookup returns the live flow with key k, or nil.
func (t *Table) Lookup(k Key) *Flow {
	return t.lookup(&k, k.hash(&t.seed))
}

func (t *Table) lookup(k *Key, h uint64) *Flow {
	x := &t.idx
	tag := uint32(h >> 32)
	mask := uint64(len(x.slots) - 1)
	for i := x.home(tag); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return nil
		}
		if uint32(s>>32) == tag {
			if f := t.flow(ref(s)); f.Key() == *k {
				return f
			}
		}
	}
}

// lookupPacket is lookup for Observe: it compares the flow's endpoints
// with the packet's directly (netip.Addr equality tells IPv4 from
// IPv4-mapped IPv6 as the key does), which is cheaper than building the
// flow's key.
func (t *Table) lookupPacket(h uint64, src, dst netip.AddrPort, proto uint8, vlan uint16, tunnel uint32) *Flow {
	x := &t.idx
	tag := uint32(h >> 32)
	mask := uint64(len(x.slots) - 1)
	for i := x.home(tag); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return nil
		}
		if uint32(s>>32) != tag {
			continue
		}
		f := t.flow(ref(s))
		if f.Proto == proto && f.VLAN == vlan && f.TunnelID == tunnel &&
			(f.Client == src && f.Server == dst || f.Client == dst && f.Server == src) {
			return f
		}
	}
}

// ---- the packet path ----

// Observe accounts one decoded IP packet (IPVersion != 0, decoded OK) to
// its flow, creating the flow if needed, and returns what happened.
//
// Initiator: the sender of a SYN (without ACK) is the client; if the flow
// starts with a SYN-ACK, its receiver is. ICMP echo (and timestamp,
// information, address-mask) requesters are clients. Otherwise the first
// packet's sender is the client, unless its source port looks like the
// service side: below 1024 (and the destination port is not a lower one),
// or below the ephemeral range while the destination port is in it (>=
// 32768); Flow.InitiatorGuessed is set in these cases.
//
// TCP sequence analysis, per direction, in sequence arithmetic (mod 2^32);
// a segment's sequence space is its payload plus one for SYN and FIN:
//   - Retransmission: a segment that lies entirely at or below the highest
//     sequence already seen in its direction and carries no byte of the
//     latest unfilled gap. Keep-alive probes (one byte just below the
//     highest sequence) and pure ACKs are not retransmissions.
//   - OutOfOrder: a segment that starts beyond the next expected sequence,
//     i.e. that opens a gap (reordering, or loss before the probe). It is
//     counted once; the segments that later fill the gap are neither
//     retransmissions nor out of order. Only the latest gap is tracked: a
//     filler of an older gap counts as a retransmission.
//   - A segment farther than the largest possible TCP window (2^30) from
//     what was seen cannot belong to the same byte stream: the direction
//     resynchronises on it without counting anything.
//
// Port reuse: a SYN (without ACK) that cannot belong to the flow ends it
// (EndClosed) and starts a new flow: a client SYN with an ISN other than
// the flow's (whatever the state), a SYN on a flow that never saw a
// handshake (mid-stream, from either side), or any SYN or SYN-ACK with a
// new ISN on a closed flow. A SYN with the flow's own ISN is a retransmission, even after the
// close.
func (t *Table) Observe(p *decode.Packet) Event {
	ts := p.Timestamp
	if ts > t.clock {
		t.clock = ts
	}
	sport, dport := p.SrcPort, p.DstPort
	if !hasPorts(p.Proto) {
		sport, dport = 0, 0
	}
	vlan := innerVLAN(p)
	k, srcIsA := makeKey(p.SrcIP, p.DstIP, sport, dport, p.Proto, vlan, p.TunnelID)
	h := k.hash(&t.seed)
	src, dst := netip.AddrPortFrom(p.SrcIP, sport), netip.AddrPortFrom(p.DstIP, dport)
	f := t.lookupPacket(h, src, dst, p.Proto, vlan, p.TunnelID)
	var ev Event
	if f != nil {
		dir := ClientToServer
		if srcIsA != f.clientIsA {
			dir = ServerToClient
		}
		switch {
		case t.clock-f.touched >= t.timeout[f.class]:
			// Timed out but not expired yet (Expire not called since):
			// end it now, so that results do not depend on how often the
			// caller calls Expire.
			t.end(f, classReason(f.class))
			f = nil
		case p.Proto == decode.ProtoTCP && f.reusedBy(p, dir):
			t.end(f, EndClosed)
			f = nil
		}
	}
	if f == nil {
		f = t.create(h, p, src, dst, vlan, srcIsA)
		ev.New = true
	}
	ev.Flow = f
	if srcIsA != f.clientIsA {
		ev.Dir = ServerToClient
	}

	st := &f.Stats[ev.Dir]
	ipLen := uint64(max(p.IPLen, 0))
	st.Packets++
	st.Bytes += ipLen
	st.PayloadBytes += uint64(max(p.PayloadLen, 0))
	w := &f.Win[ev.Dir]
	w.Packets++
	w.Bytes += ipLen
	if ts > f.Last {
		f.Last = ts
	}

	class := uint8(classIdle)
	if p.Proto == decode.ProtoTCP {
		f.tcp(p, ev.Dir, &ev)
		class = f.TCP.class()
	}
	t.touch(f, class)
	return ev
}

// create makes a flow for the packet, evicting one if the table is full.
func (t *Table) create(h uint64, p *decode.Packet, src, dst netip.AddrPort, vlan uint16, srcIsA bool) *Flow {
	if t.stats.Active >= uint64(t.cfg.MaxFlows) {
		t.makeRoom()
	}
	f := t.alloc()
	r := f.ref
	*f = Flow{ref: r, class: classNone}

	clientIsSrc, guessed := initiator(p, src.Port(), dst.Port())
	if clientIsSrc {
		f.Client, f.Server = src, dst
	} else {
		f.Client, f.Server = dst, src
	}
	f.clientIsA = clientIsSrc == srcIsA
	f.Proto = p.Proto
	f.VLAN = vlan
	f.TunnelID = p.TunnelID
	f.InitiatorGuessed = guessed
	f.First, f.Last, f.PeriodStart = p.Timestamp, p.Timestamp, p.Timestamp
	f.touched, f.activeAt = t.clock, t.clock

	f.tag = uint32(h >> 32)
	t.idx.insert(f.tag, r)
	if t.active > 0 {
		t.actPush(f)
	}
	t.stats.Created++
	t.stats.Active++
	return f
}

// initiator decides whether the packet's sender is the client of the
// flow it creates, and whether that was a guess.
func initiator(p *decode.Packet, sport, dport uint16) (clientIsSrc, guessed bool) {
	switch p.Proto {
	case decode.ProtoTCP:
		switch p.TCPFlags & (decode.TCPSyn | decode.TCPAck | decode.TCPRst) {
		case decode.TCPSyn:
			return true, false
		case decode.TCPSyn | decode.TCPAck:
			return false, false
		}
	case decode.ProtoICMP:
		switch p.ICMPType {
		case 8, 13, 15, 17: // echo, timestamp, information, address mask requests
			return true, false
		case 0, 14, 16, 18: // their replies
			return false, false
		}
		return true, true
	case decode.ProtoICMPv6:
		switch p.ICMPType {
		case 128: // echo request
			return true, false
		case 129: // echo reply
			return false, false
		}
		return true, true
	}
	return !serviceSide(sport, dport), true
}

// serviceSide reports whether a first packet from sport to dport looks
// like it comes from the service (server) side, so that the receiver is
// the client: the source port is well-known (< 1024) and the destination
// port is not a lower well-known one, or the source port is a registered
// one (below the ephemeral range, < 32768) sending to an ephemeral port (>=
// 32768): 6379 → 44526 is a Redis reply. Two ephemeral ports, or two
// registered ones, say nothing: the first sender stays the client.
func serviceSide(sport, dport uint16) bool {
	if sport == dport {
		return false
	}
	if sport < 1024 {
		return dport >= 1024 || sport < dport
	}
	return sport < ephemeralPorts && dport >= ephemeralPorts
}

// ephemeralPorts is the start of the usual ephemeral port range (Linux
// 32768–60999; IANA's 49152–65535 lies within).
const ephemeralPorts = 32768
