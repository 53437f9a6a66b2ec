package l7

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/reassembly"
)

// Output receives a Tracker's transactions (see Sink.Transaction for the
// lifetime of t).
type Output interface {
	Transaction(t *Transaction)
}

// NotParsed says why stream bytes never reached a parser, for the bytes
// the Tracker itself did not deliver (reassembly counts its own holes and
// duplicates; parsers count theirs with Drop).
type NotParsed uint8

const (
	NotParsedUnknown    NotParsed = iota // no protocol detected on the flow
	NotParsedDetectOnly                  // the protocol is detected but has no parser
	NotParsedOpaque                      // the parser called Stop (encrypted bulk, upgraded connection)
	NotParsedPanic                       // the parser panicked earlier on this flow
	NotParsedNoState                     // UDP flows beyond the state cap (TCP streams that idled out or were evicted are followed again from their next segment)
	NotParsedDisabled                    // the flow's protocol was detected but is not enabled
	NotParsedEnded                       // bytes after the stream ended (FIN both ways, RST): retransmissions, stray segments
	NumNotParsed
)

var notParsedNames = [...]string{"unknown_protocol", "detect_only", "opaque", "parser_panic", "no_state", "disabled", "after_end"}

// notParsedResume is the tag reason of a TCP flow whose stream the
// reassembler gave up (idle, evicted) while the flow lives on: its next
// segment opens a new stream, mid-stream, with the same parser (or with
// detection again if none was chosen).
const notParsedResume NotParsed = 255

func (r NotParsed) String() string {
	if int(r) < len(notParsedNames) {
		return notParsedNames[r]
	}
	return "unknown"
}

// Stats counts what a Tracker did. Byte counters count transport payload
// bytes.
type Stats struct {
	Transactions       uint64
	ParsedBytes        uint64                 // bytes delivered to parsers
	ParserDrops        [NumDropReasons]uint64 // bytes parsers received but could not decode
	NotParsed          [NumNotParsed]uint64   // bytes the Tracker did not deliver, by reason
	ParserPanics       uint64                 // panics recovered from parsers (the flow left L7)
	DetectorPanics     uint64                 // panics recovered from detectors (counted as No)
	Flows              [2]uint64              // flows tracked: [0] TCP, [1] UDP
	Detected           map[string]uint64      // flows per detected protocol
	Unknown            uint64                 // flows on which detection gave up
	StateCap           uint64                 // UDP flows not tracked because the state cap was reached
	Resumed            uint64                 // TCP streams followed again after the reassembler gave them up (idle, evicted)
	RolesSwapped       uint64                 // flows whose parser found client and server the other way round
	ParserMemory       uint64                 // bytes held in parser and detection buffers now
	ParserMemoryPeak   uint64
	ParserMemoryDenied uint64           // buffer growths refused by MaxParserMemory (the message was dropped)
	Reassembly         reassembly.Stats // the TCP reassembler's counters
	detected           []uint64         // by protocol index
}

// Flow.L7 encoding. 0: no L7 state yet. Below tagFinished: slot index
// + 1 of a flow being detected or parsed. At or above tagFinished: the
// flow is done with L7: bits 16..23 say why (a NotParsed), bits 0..15
// the detected protocol's index + 1 (0 = none). tagUDPTry marks UDP flows
// still being detected, with the number of datagrams tried in bits 0..7.
const (
	tagFinished uint32 = 1 << 31
	tagUDPTry   uint32 = 1 << 30
	maxUDPTries        = 4
)

func finishedTag(why NotParsed, proto int) uint32 {
	return tagFinished | uint32(why)<<16 | uint32(proto+1)&0xffff
}

// Tracker runs detection and the parsers for the flows of one probe
// shard. Not safe for concurrent use.
type Tracker struct {
	cfg    Config
	ctx    Context
	protos []*Protocol
	tcp    []int // indexes of TCP protocols, in registry order
	udp    []int
	asm    *reassembly.Assembler
	out    Output

	slots   []*slot
	free    []uint32
	udpLive int
	maxUDP  int

	stats       Stats
	budget      sharedBudget
	loggedPanic bool
}

// NewTracker returns a Tracker for the given protocols (the registry's
// list, in detection order), sending transactions to out.
func NewTracker(cfg Config, protos []*Protocol, out Output) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	t := &Tracker{cfg: cfg, out: out}
	t.ctx = cfg.Context(TCP)
	t.budget.limit = cfg.MaxParserMemory
	for _, p := range protos {
		if len(cfg.Enabled) > 0 && !named(p, cfg.Enabled) {
			continue
		}
		i := len(t.protos)
		t.protos = append(t.protos, p)
		if p.TCP {
			t.tcp = append(t.tcp, i)
		}
		if p.UDP {
			t.udp = append(t.udp, i)
		}
	}
	if err := CheckNames(cfg.Enabled, protos); err != nil {
		return nil, err
	}
	t.asm = reassembly.New(cfg.Reassembly)
	t.maxUDP = cfg.Reassembly.MaxStreams
	if t.maxUDP == 0 {
		t.maxUDP = reassembly.DefaultConfig().MaxStreams
	}
	t.stats.detected = make([]uint64, len(t.protos))
	return t, nil
}

// CheckNames reports the first name that is not one of protos.
func CheckNames(names []string, protos []*Protocol) error {
	for _, n := range names {
		found := false
		for _, p := range protos {
			found = found || p.Named(n)
		}
		if !found {
			known := make([]string, len(protos))
			for i, p := range protos {
				known[i] = p.Name
			}
			return fmt.Errorf("l7: unknown protocol %q (known: %v)", n, known)
		}
	}
	return nil
}

func named(p *Protocol, names []string) bool {
	for _, n := range names {
		if p.Named(n) {
			return true
		}
	}
	return false
}

// Protocols returns the enabled protocols in detection order.
func (t *Tracker) Protocols() []*Protocol { return t.protos }

// Stats returns the counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.detected = nil
	s.Detected = make(map[string]uint64, len(t.protos))
	for i, n := range t.stats.detected {
		if n > 0 {
			s.Detected[t.protos[i].Name] += n
		}
	}
	s.Reassembly = t.asm.Stats()
	s.ParserMemory = uint64(t.budget.used)
	s.ParserMemoryPeak = uint64(t.budget.peak)
	s.ParserMemoryDenied = t.budget.denied
	return s
}

// ProtocolOf returns the L7 protocol detected on f ("" if none yet).
func (t *Tracker) ProtocolOf(f *flow.Flow) string {
	tag := f.L7
	switch {
	case tag == 0 || tag&tagFinished == 0 && tag&tagUDPTry != 0:
		return ""
	case tag&tagFinished != 0:
		if i := int(tag&0xffff) - 1; i >= 0 && i < len(t.protos) {
			return t.protos[i].Name
		}
		return ""
	}
	if s := t.slotOf(tag); s != nil && s.proto >= 0 {
		return t.protos[s.proto].Name
	}
	return ""
}

func (t *Tracker) slotOf(tag uint32) *slot {
	if tag == 0 || tag >= tagUDPTry {
		return nil
	}
	i := int(tag - 1)
	if i >= len(t.slots) {
		return nil
	}
	return t.slots[i]
}

// Packet feeds one packet that the flow table has just observed.
func (t *Tracker) Packet(ev *flow.Event, p *decode.Packet) {
	f := ev.Flow
	switch p.Proto {
	case decode.ProtoTCP:
		t.tcpPacket(f, ev.Dir, p)
	case decode.ProtoUDP:
		if p.PayloadLen > 0 {
			t.udpPacket(f, ev.Dir, p)
		}
	}
}

func (t *Tracker) tcpPacket(f *flow.Flow, dir flow.Dir, p *decode.Packet) {
	tag := f.L7
	resume := -2
	if tag >= tagFinished {
		why := NotParsed((tag >> 16) & 0xff)
		if why != notParsedResume {
			t.stats.NotParsed[why] += uint64(p.PayloadLen)
			return
		}
		if p.PayloadLen == 0 {
			return // a bare ACK or FIN does not bring a stream back
		}
		resume = int(tag&0xffff) - 1
		tag = 0
		t.stats.Resumed++
	}
	var s *slot
	if tag == 0 {
		if len(t.tcp) == 0 {
			f.L7 = finishedTag(NotParsedUnknown, -1)
			t.stats.NotParsed[NotParsedUnknown] += uint64(p.PayloadLen)
			return
		}
		s = t.newSlot(f, TCP)
		if resume == -2 {
			t.stats.Flows[0]++
		} else if resume >= 0 && t.protos[resume].New != nil {
			s.start(resume)
		}
		t.asm.OpenHint(&s.hint, s.key, s, p.Timestamp)
	} else if s = t.slotOf(tag); s == nil {
		return
	}
	if !t.asm.SegmentHint(&s.hint, s.key, dir, p.Seq, p.Ack, p.TCPFlags, p.Payload, p.PayloadLen, p.Timestamp) {
		// The stream had ended (idle) before this segment: the slot ended
		// with it and set the flow's tag.
		return
	}
	if s.state == stateStopping || s.state == stateDone {
		// Nothing more to parse: stop reassembling; the tag counts the
		// rest of the flow's bytes.
		t.asm.Close(s.key, reassembly.EndClosed, p.Timestamp)
	}
}

func (t *Tracker) udpPacket(f *flow.Flow, dir flow.Dir, p *decode.Packet) {
	tag := f.L7
	if tag >= tagFinished {
		t.stats.NotParsed[(tag>>16)&0xff] += uint64(p.PayloadLen)
		return
	}
	if tag == 0 || tag&tagUDPTry != 0 {
		if tag == 0 {
			t.stats.Flows[1]++
		}
		tries := tag & 0xff
		pi := t.detect(t.udp, p.Payload, dir, f.Server.Port(), true)
		if pi < 0 {
			tries++
			t.stats.NotParsed[NotParsedUnknown] += uint64(p.PayloadLen)
			if tries >= maxUDPTries {
				f.L7 = finishedTag(NotParsedUnknown, -1)
				t.stats.Unknown++
			} else {
				f.L7 = tagUDPTry | tries
			}
			return
		}
		t.stats.detected[pi]++
		if t.protos[pi].New == nil {
			f.L7 = finishedTag(NotParsedDetectOnly, pi)
			t.stats.NotParsed[NotParsedDetectOnly] += uint64(p.PayloadLen)
			return
		}
		if t.udpLive >= t.maxUDP {
			f.L7 = finishedTag(NotParsedNoState, pi)
			t.stats.StateCap++
			t.stats.NotParsed[NotParsedNoState] += uint64(p.PayloadLen)
			return
		}
		s := t.newSlot(f, UDP)
		t.udpLive++
		s.start(pi)
		if s.state != stateParsing {
			s.finish(p.Timestamp)
			return
		}
	}
	s := t.slotOf(f.L7)
	if s == nil {
		return
	}
	s.deliver(dir, p.Payload, p.Timestamp)
	if s.state != stateParsing {
		s.finish(p.Timestamp)
	}
}

// FlowEnded ends the L7 state of a flow the flow table reports ended.
// Active-timeout reports (the flow lives on) are ignored. The flow's last
// packet time is the end time.
func (t *Tracker) FlowEnded(f *flow.Flow, why flow.EndReason) {
	ts := f.Last
	if why == flow.EndActive {
		return
	}
	s := t.slotOf(f.L7)
	if s == nil {
		return
	}
	if s.transport == TCP {
		t.asm.Close(s.key, endReason(why), ts)
		return
	}
	s.finish(ts)
}

func endReason(why flow.EndReason) reassembly.EndReason {
	switch why {
	case flow.EndIdle:
		return reassembly.EndIdle
	case flow.EndEvicted:
		return reassembly.EndEvicted
	case flow.EndFlush:
		return reassembly.EndFlush
	}
	return reassembly.EndClosed
}

// Expire ends TCP streams idle since before now (packet time).
func (t *Tracker) Expire(now int64) { t.asm.Expire(now) }

// Flush ends every stream (end of input).
func (t *Tracker) Flush(ts int64) {
	t.asm.Flush(ts)
	for _, s := range t.slots {
		if s.state != stateFree && s.transport == UDP {
			s.finish(ts)
		}
	}
}

// detect runs the detectors of the protocols at idx over b and returns
// the chosen protocol index, -1 for none, or -2 when some detector needs
// more bytes. Port-hinted protocols run first and win a Maybe.
func (t *Tracker) detect(idx []int, b []byte, dir flow.Dir, port uint16, final bool) (chosen int) {
	if len(b) == 0 {
		return -2
	}
	defer func() {
		if r := recover(); r != nil {
			t.stats.DetectorPanics++
			t.logPanic("detector", r)
			chosen = -1
		}
	}()
	hinted, maybe, more := -1, -1, false
	for pass := 0; pass < 2; pass++ {
		for _, i := range idx {
			p := t.protos[i]
			h := hasPort(p.Ports, port)
			if h != (pass == 0) {
				continue
			}
			switch p.Detect(b, dir, port) {
			case Yes:
				return i
			case Maybe:
				if h && hinted < 0 {
					hinted = i
				} else if maybe < 0 {
					maybe = i
				}
			case NeedMore:
				more = true
			}
		}
	}
	switch {
	case hinted >= 0:
		return hinted
	case more && !final:
		return -2
	case maybe >= 0:
		return maybe
	}
	return -1
}

func hasPort(ports []uint16, p uint16) bool {
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

func (t *Tracker) logPanic(what string, r any) {
	if t.loggedPanic {
		return
	}
	t.loggedPanic = true
	slog.Error("l7: recovered a panic (counted; the flow left L7; logged once per shard)", "in", what, "panic", fmt.Sprint(r))
}

// slot states
const (
	stateFree      uint8 = iota
	stateDetecting       // TCP: looking at the first bytes
	stateParsing         // a parser runs
	stateStopping        // the parser stopped or panicked: end the stream
	stateDone            // no parser (unknown, detect only): count bytes until the stream ends
)

// slot is the L7 state of one flow. For TCP it is the reassembly
// Consumer; for every flow it is the Sink its parser writes to.
type slot struct {
	t         *Tracker
	self      uint32
	state     uint8
	transport Transport
	why       NotParsed // stateDone, stateStopping: how to count later bytes
	proto     int       // protocol index, -1 while unknown
	flow      *flow.Flow
	key       flow.Key
	hint      reassembly.Hint // where the reassembler keeps this flow's stream
	client    netip.AddrPort
	server    netip.AddrPort
	parser    Parser
	det       [2][]byte // TCP detection: bytes held per direction
	seen      [2]int    // TCP detection: bytes looked at per direction
	detCharge int       // capacity of det charged to budget
	resumable bool      // ending because the reassembler gave the stream up (idle, evicted)
	gapped    [2]bool   // detection: the direction started mid-stream or had a hole
	budget    Budget    // this flow's account with the parser memory budget
}

func (t *Tracker) newSlot(f *flow.Flow, tr Transport) *slot {
	var s *slot
	if n := len(t.free); n > 0 {
		s = t.slots[t.free[n-1]]
		t.free = t.free[:n-1]
	} else {
		s = &slot{t: t, self: uint32(len(t.slots))}
		s.budget.shared = &t.budget
		t.slots = append(t.slots, s)
	}
	s.state = stateDetecting
	s.transport = tr
	s.proto = -1
	s.flow = f
	s.key = f.Key()
	s.client, s.server = f.Client, f.Server
	f.L7 = s.self + 1
	return s
}

// start creates the parser of protocol pi (which has one).
func (s *slot) start(pi int) {
	t := s.t
	s.proto = pi
	ctx := t.ctx
	ctx.Transport = s.transport
	ctx.Sink = s
	ctx.Budget = &s.budget
	var p Parser
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.stats.ParserPanics++
				t.logPanic(t.protos[pi].Name, r)
				s.state, s.why = stateStopping, NotParsedPanic
			}
		}()
		p = t.protos[pi].New(ctx)
	}()
	if p == nil {
		if s.state != stateStopping {
			s.state, s.why = stateStopping, NotParsedPanic
		}
		return
	}
	s.parser = p
	s.state = stateParsing
}

// Transaction implements Sink.
func (s *slot) Transaction(tx *Transaction) {
	if tx.Proto == "" && s.proto >= 0 {
		tx.Proto = s.t.protos[s.proto].Name
	}
	tx.Transport = s.transport
	tx.Client, tx.Server = s.client, s.server
	s.t.stats.Transactions++
	s.t.out.Transaction(tx)
}

// Drop implements Sink.
func (s *slot) Drop(r DropReason, n int) {
	if r >= NumDropReasons {
		r = DropOther
	}
	if n > 0 {
		s.t.stats.ParserDrops[r] += uint64(n)
	}
}

// Swap implements Swapper.
func (s *slot) Swap() {
	s.client, s.server = s.server, s.client
	s.t.stats.RolesSwapped++
}

// Stop implements Sink.
func (s *slot) Stop() {
	if s.state == stateParsing {
		s.state, s.why = stateStopping, NotParsedOpaque
	}
}

// deliver gives b to the parser, recovering a panic.
func (s *slot) deliver(dir flow.Dir, b []byte, ts int64) {
	defer s.recoverParser()
	s.t.stats.ParsedBytes += uint64(len(b))
	s.parser.Data(dir, b, ts)
}

func (s *slot) recoverParser() {
	if r := recover(); r != nil {
		t := s.t
		t.stats.ParserPanics++
		t.logPanic(t.protos[s.proto].Name, r)
		s.state, s.why = stateStopping, NotParsedPanic
	}
}

// Data implements reassembly.Consumer.
func (s *slot) Data(dir flow.Dir, b []byte, ts int64) {
	switch s.state {
	case stateParsing:
		s.deliver(dir, b, ts)
	case stateDetecting:
		s.detectTCP(dir, b, ts)
	default:
		s.t.stats.NotParsed[s.why] += uint64(len(b))
	}
}

// Gap implements reassembly.Consumer.
func (s *slot) Gap(dir flow.Dir, n int64, ts int64) {
	switch s.state {
	case stateParsing:
		defer s.recoverParser()
		s.parser.Gap(dir, n, ts)
	case stateDetecting:
		// What was held for detection cannot be continued: look again at
		// what follows the hole. The parser chosen later is told that its
		// first bytes do not start the stream.
		s.t.stats.NotParsed[NotParsedUnknown] += uint64(len(s.det[dir]))
		s.det[dir] = s.det[dir][:0]
		s.gapped[dir] = true
	}
}

// End implements reassembly.Consumer.
func (s *slot) End(reason reassembly.EndReason, ts int64) {
	if s.transport == TCP && (reason == reassembly.EndIdle || reason == reassembly.EndEvicted) &&
		(s.state == stateParsing || s.state == stateDetecting) {
		s.resumable = true
	}
	s.finish(ts)
}

// finish ends the parser and frees the slot, leaving the outcome in the
// flow's tag.
func (s *slot) finish(ts int64) {
	t := s.t
	if s.state == stateFree {
		return
	}
	if s.parser != nil {
		func() {
			defer s.recoverParser()
			s.parser.End(ts)
		}()
	}
	why := s.why
	switch {
	case s.resumable:
		// The reassembler gave the stream up but the flow lives on.
		why = notParsedResume
		for d := range s.det {
			t.stats.NotParsed[NotParsedUnknown] += uint64(len(s.det[d]))
		}
	case s.state == stateDetecting:
		why = NotParsedUnknown
		t.stats.Unknown++
		for d := range s.det {
			t.stats.NotParsed[NotParsedUnknown] += uint64(len(s.det[d]))
		}
	case s.state == stateParsing:
		why = NotParsedEnded
	}
	s.resumable = false
	s.gapped = [2]bool{}
	if s.flow != nil {
		s.flow.L7 = finishedTag(why, s.proto)
	}
	if s.transport == UDP {
		t.udpLive--
	}
	for d := range s.det {
		if cap(s.det[d]) > 4096 {
			s.det[d] = nil
		} else {
			s.det[d] = s.det[d][:0]
		}
		s.seen[d] = 0
	}
	// The parser's buffers are garbage now, whatever it did with them;
	// the detection buffers stay with the slot for its next flow (and
	// stay charged).
	s.budget.release()
	s.detCharge = 0
	s.chargeDet()
	s.parser, s.flow = nil, nil
	s.state, s.why, s.proto = stateFree, 0, -1
	t.free = append(t.free, s.self)
}

// detectTCP looks at the first bytes of a direction. Bytes are held (up
// to DetectBytes per direction) while a detector needs more; once a
// protocol is chosen they are replayed to its parser.
func (s *slot) detectTCP(dir flow.Dir, b []byte, ts int64) {
	t := s.t
	buf, rest := b, []byte(nil)
	if len(s.det[dir]) > 0 {
		take := min(t.cfg.DetectBytes-len(s.det[dir]), len(b))
		s.det[dir] = append(s.det[dir], b[:take]...)
		buf, rest = s.det[dir], b[take:]
	}
	s.seen[dir] += len(b)
	final := s.seen[dir] >= t.cfg.DetectBytes
	pi := t.detect(t.tcp, buf, dir, s.server.Port(), final)
	switch {
	case pi == -2:
		// Not final, so everything seen so far fits in DetectBytes.
		if len(s.det[dir]) == 0 {
			s.det[dir] = append(s.det[dir], b...)
		}
		if !s.chargeDet() {
			// Over the memory budget: give up on this flow's detection.
			t.stats.NotParsed[NotParsedUnknown] += uint64(len(s.det[0]) + len(s.det[1]))
			s.state, s.why = stateDone, NotParsedUnknown
			t.stats.Unknown++
			s.releaseDet()
		}
		return
	case pi < 0:
		// Nothing matched these bytes. After a mid-stream start or a gap
		// they may be the middle of a message: the next segments get
		// their chance until DetectBytes have been seen each way.
		t.stats.NotParsed[NotParsedUnknown] += uint64(len(buf) + len(rest))
		s.det[dir] = s.det[dir][:0]
		if final {
			t.stats.NotParsed[NotParsedUnknown] += uint64(len(s.det[1-dir]))
			s.state, s.why = stateDone, NotParsedUnknown
			t.stats.Unknown++
			s.releaseDet()
		}
		return
	}
	t.stats.detected[pi]++
	if t.protos[pi].New == nil {
		s.proto = pi
		s.state, s.why = stateDone, NotParsedDetectOnly
		t.stats.NotParsed[NotParsedDetectOnly] += uint64(len(buf) + len(rest) + len(s.det[1-dir]))
		s.releaseDet()
		return
	}
	s.start(pi)
	if s.state != stateParsing {
		t.stats.NotParsed[s.why] += uint64(len(buf) + len(rest) + len(s.det[1-dir]))
		s.releaseDet()
		return
	}
	// The detected direction's bytes start where the detector found a
	// message; the other direction's held bytes were not checked, so if
	// that direction started mid-stream (or had a hole) the parser is
	// told before it sees them.
	if o := 1 - dir; s.gapped[o] && s.state == stateParsing {
		func() {
			defer s.recoverParser()
			s.parser.Gap(o, -1, ts)
		}()
	}
	// Replay: the other direction's held bytes came first.
	if o := 1 - dir; len(s.det[o]) > 0 && s.state == stateParsing {
		s.deliver(o, s.det[o], ts)
	}
	for _, part := range [2][]byte{buf, rest} {
		if len(part) == 0 {
			continue
		}
		if s.state == stateParsing {
			s.deliver(dir, part, ts)
		} else {
			t.stats.NotParsed[s.why] += uint64(len(part))
		}
	}
	s.releaseDet()
}

func (s *slot) releaseDet() {
	for d := range s.det {
		s.det[d] = s.det[d][:0]
	}
}

// chargeDet charges the detection buffers' capacity to the budget. When
// the budget refuses, the buffers are dropped and it reports false.
func (s *slot) chargeDet() bool {
	c := cap(s.det[0]) + cap(s.det[1])
	if c > s.detCharge {
		if !s.budget.take(c - s.detCharge) {
			s.budget.give(s.detCharge)
			s.detCharge = 0
			s.det = [2][]byte{}
			return false
		}
	} else {
		s.budget.give(s.detCharge - c)
	}
	s.detCharge = c
	return true
}
