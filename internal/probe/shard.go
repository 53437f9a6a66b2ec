package probe

import (
	"math"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// shard is one worker's share of the pipeline: a decoder (when the shard
// reads its own source), a flow table and a summary recorder. A shard is
// driven by one goroutine; mu is held while it processes a frame so that
// the API can take a consistent snapshot of the open window.
type shard struct {
	mu sync.Mutex

	id      int
	opt     *Options
	dec     *decode.Decoder // nil when a dispatcher decodes for this shard
	flows   *flow.Table     // nil for the dispatcher, which keeps no flows
	l7      *l7.Tracker     // nil without flows or with L7 off
	rec     *summary.Recorder
	windows *Windows
	src     capture.Source // nil unless this shard accounts for a source's loss

	pkt      decode.Packet
	winStart int64
	winEnd   int64
	started  bool
	lastSec  int64
	lastTS   int64

	lastDec  decode.Stats
	lastFlow flow.Stats
	lastSrc  capture.Stats
	lastL7   map[string]uint64
}

func newShard(id int, opt *Options, hosts *summary.Hosts, devName func(int) string, withDecoder, withFlows bool, windows *Windows) *shard {
	s := &shard{id: id, opt: opt, windows: windows}
	s.rec = summary.NewRecorder(hosts, opt.TopCapacity, devName)
	if withDecoder {
		s.dec = decode.New(opt.Decode)
	}
	if withFlows {
		s.flows = flow.NewTable(opt.Flows, s.flowEnded)
		if !opt.NoL7 {
			tr, err := l7.NewTracker(opt.L7, opt.Protocols, s)
			if err != nil {
				panic(err) // Options.Validate checked the configuration
			}
			s.l7 = tr
		}
	}
	return s
}

// flowEnded ends the flow's L7 state first (its last transactions belong
// to the window the flow is folded into), then folds the flow.
func (s *shard) flowEnded(f *flow.Flow, why flow.EndReason) {
	if s.l7 != nil {
		s.l7.FlowEnded(f, why)
	}
	s.reportFlow(f, true)
	s.rec.FlowEnded(f, why)
}

// reportFlow hands the flow's activity since its last fold to the
// reporter; call it before the fold resets the window counters.
func (s *shard) reportFlow(f *flow.Flow, ended bool) {
	if s.opt.Report == nil {
		return
	}
	app := ""
	if s.l7 != nil {
		app = s.l7.ProtocolOf(f)
	}
	if r, ok := flowRecord(f, s.winStart, app, ended); ok {
		s.opt.Report.Flow(&r)
	}
}

// Transaction implements l7.Output.
func (s *shard) Transaction(t *l7.Transaction) {
	s.rec.Transaction(t)
	if s.opt.Records != nil {
		s.opt.Records(t)
	}
}

// bounds returns the window that holds ts.
func (s *shard) bounds(ts int64) (int64, int64) {
	if s.opt.SummaryMode {
		return math.MinInt64 / 2, math.MaxInt64 / 2
	}
	p := int64(s.opt.Period)
	start := ts - ts%p
	if ts < 0 && ts%p != 0 {
		start -= p
	}
	return start, start + p
}

// advance makes sure the open window covers ts, closing the previous one
// when ts is past its end. Time never goes backwards for windows: a late
// packet lands in the open window.
func (s *shard) advance(ts int64) {
	if !s.started {
		s.started = true
		s.winStart, s.winEnd = s.bounds(ts)
		s.rec.Begin(s.winStart, s.winEnd)
		return
	}
	if ts >= s.winEnd {
		s.closeWindow(ts)
	}
}

// closeWindow folds the flows into the open window, adds the loss counters
// since the previous close, submits it, and opens the window holding next.
func (s *shard) closeWindow(next int64) {
	b := s.finish()
	s.winStart, s.winEnd = s.bounds(next)
	s.rec.Begin(s.winStart, s.winEnd)
	if nothingHappened(b) {
		b = nil // do not make the window exist for this shard
	}
	s.windows.Submit(s.id, b, s.winStart)
}

// finish completes the open bucket and returns it.
func (s *shard) finish() *summary.Bucket {
	if s.flows != nil {
		s.flows.Range(func(f *flow.Flow) bool {
			s.reportFlow(f, false)
			s.rec.FoldFlow(f)
			return true
		})
	}
	b := s.rec.Current()
	s.addLoss(b)
	return b
}

func nothingHappened(b *summary.Bucket) bool {
	return b.Empty() && b.Flows == (summary.FlowCounters{ActiveAtClose: b.Flows.ActiveAtClose}) && lossEmpty(&b.Loss)
}

func lossEmpty(l *summary.Loss) bool {
	return l.KernelDrops == 0 && l.FilteredOut == 0 && l.TruncatedRecords == 0 && l.BadRecords == 0 &&
		l.SnapTruncated == 0 && l.BadWireLen == 0 && l.UnsupportedLink == 0 && len(l.Malformed) == 0 && len(l.FragmentsDropped) == 0 &&
		l.FlowsEvicted == 0 && l.QueueDrops == 0 && len(l.L7) == 0
}

// addLoss adds the loss counters accumulated since the last call.
func (s *shard) addLoss(b *summary.Bucket) {
	l := &b.Loss
	if s.dec != nil {
		cur := s.dec.Stats()
		l.UnsupportedLink += cur.UnsupportedLink - s.lastDec.UnsupportedLink
		l.Malformed = deltaMap(l.Malformed, cur.Malformed, s.lastDec.Malformed)
		l.FragmentsDropped = deltaMap(l.FragmentsDropped, cur.Defrag.Dropped, s.lastDec.Defrag.Dropped)
		s.lastDec = cur
	}
	if s.flows != nil {
		cur := s.flows.Stats()
		l.FlowsEvicted += cur.Evicted - s.lastFlow.Evicted
		b.Flows.ActiveAtClose = uint64(s.flows.Len())
		s.lastFlow = cur
	}
	if s.l7 != nil {
		cur := l7Loss(s.l7.Stats())
		l.L7 = deltaMap(l.L7, cur, s.lastL7)
		s.lastL7 = cur
	}
	if s.src != nil {
		cur := s.src.Stats()
		l.KernelDrops += cur.KernelDrops - s.lastSrc.KernelDrops
		l.FilteredOut += cur.FilteredOut - s.lastSrc.FilteredOut
		l.TruncatedRecords += cur.TruncatedRecords - s.lastSrc.TruncatedRecords
		l.BadRecords += cur.BadRecords - s.lastSrc.BadRecords
		l.SnapTruncated += cur.SnapTruncated - s.lastSrc.SnapTruncated
		l.BadWireLen += cur.BadWireLen - s.lastSrc.BadWireLen
		s.lastSrc = cur
	}
}

func deltaMap(dst, cur, prev map[string]uint64) map[string]uint64 {
	for k, v := range cur {
		if d := v - prev[k]; d > 0 {
			if dst == nil {
				dst = map[string]uint64{}
			}
			dst[k] += d
		}
	}
	return dst
}

// frame decodes and accounts one captured frame (shards with a decoder).
func (s *shard) frame(f *capture.Frame) {
	st := s.dec.Decode(uint16(f.LinkType), f.Data, f.WireLen, f.Timestamp, &s.pkt)
	s.pkt.Interface = f.Interface
	s.decoded(&s.pkt, st)
}

// clock moves the shard's time to ts: windows close and idle flows expire
// by packet time, also on frames that another shard accounts.
func (s *shard) clock(ts int64) {
	s.lastTS = ts
	s.advance(ts)
	if sec := ts / 1e9; sec != s.lastSec {
		s.lastSec = sec
		if s.flows != nil {
			s.flows.Expire(ts)
		}
		if s.l7 != nil {
			s.l7.Expire(ts)
		}
	}
}

// decoded accounts one decoded frame.
func (s *shard) decoded(p *decode.Packet, st decode.Status) {
	s.clock(p.Timestamp)
	switch st {
	case decode.StatusOK:
		if s.flows == nil {
			return
		}
		if s.opt.ignored(p) {
			return
		}
		ev := s.flows.Observe(p)
		s.rec.IP(p, &ev, false)
		if s.l7 != nil {
			s.l7.Packet(&ev, p)
		}
	case decode.StatusFragment:
		s.rec.Fragment(p)
	default:
		s.rec.NonIP(p.Timestamp, p.WireLen, p.Interface)
	}
}

// tick closes the open window when the wall clock is past its end (live
// capture on a quiet link) and expires idle flows.
func (s *shard) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := now.UnixNano()
	if !s.started {
		s.advance(ts)
		return
	}
	if ts >= s.winEnd+int64(s.opt.Grace) {
		s.closeWindow(ts)
	}
	if s.flows != nil {
		s.flows.Expire(ts - int64(s.opt.Grace))
	}
	if s.l7 != nil {
		s.l7.Expire(ts - int64(s.opt.Grace))
	}
}

// end closes everything at the end of input.
func (s *shard) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flows != nil {
		s.flows.Flush()
	}
	if s.l7 != nil {
		s.l7.Flush(s.lastTS)
	}
	if !s.started {
		s.windows.Submit(s.id, nil, math.MaxInt64)
		return
	}
	b := s.finish()
	if nothingHappened(b) {
		b = nil
	}
	s.windows.Submit(s.id, b, math.MaxInt64)
}

// snapshot copies the open window for the API.
func (s *shard) snapshot() *summary.Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	rangeFlows := func(fn func(*flow.Flow) bool) {}
	if s.flows != nil {
		rangeFlows = s.flows.Range
	}
	return s.rec.Snapshot(rangeFlows)
}

// l7Loss names the tracker's loss counters for the window's loss.l7
// section (docs/summary-json.md).
func l7Loss(st l7.Stats) map[string]uint64 {
	m := make(map[string]uint64, 32)
	put := func(k string, v uint64) {
		if v > 0 {
			m[k] = v
		}
	}
	for r := l7.DropReason(0); r < l7.NumDropReasons; r++ {
		put("parser_"+r.String()+"_bytes", st.ParserDrops[r])
	}
	for r := l7.NotParsed(0); r < l7.NumNotParsed; r++ {
		put("not_parsed_"+r.String()+"_bytes", st.NotParsed[r])
	}
	put("parser_panics", st.ParserPanics)
	put("detector_panics", st.DetectorPanics)
	put("udp_state_cap", st.StateCap)
	put("parser_memory_denied", st.ParserMemoryDenied)
	ra := st.Reassembly
	put("reassembly_gap_missing_bytes", ra.GapMissing)
	put("reassembly_gap_acked_bytes", ra.GapAcked)
	put("reassembly_budget_dir_bytes", ra.BudgetDir)
	put("reassembly_budget_total_bytes", ra.BudgetTotal)
	put("reassembly_evicted_stream_bytes", ra.EvictedStream)
	put("reassembly_idle_end_bytes", ra.IdleEnd)
	put("reassembly_snaplen_bytes", ra.Snaplen)
	put("reassembly_overlap_bytes", ra.OverlapDropped)
	put("reassembly_overlap_conflict_bytes", ra.OverlapConflict)
	put("reassembly_after_fin_bytes", ra.AfterFIN)
	put("reassembly_before_start_bytes", ra.BeforeStart)
	put("reassembly_unknown_stream_bytes", ra.UnknownStream)
	put("reassembly_streams_evicted", ra.EndedEvicted)
	return m
}
