package clickhouse

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// Column lists of the inserts, in the order the encoders write them.
const (
	windowCols  = `probe, start_ns, end_ns, packets, bytes, summary, wid, idx`
	flowCols    = `probe, start_ns, end_ns, transport, c_fam, c_addr, c_port, s_fam, s_addr, s_port, app, device, vlan, tunnel, packets_cs, packets_sc, bytes_cs, bytes_sc, retrans_cs, retrans_sc, rtt_ns, state, ended, wid, idx`
	txCols      = `probe, ts, proto, transport, c_fam, c_addr, c_port, s_fam, s_addr, s_port, request_ns, response_ns, latency_ns, request_bytes, response_bytes, op, target, status, outcome, flags, field_keys, field_values, nil_lists, wid, idx`
	trafficCols = `probe, device, direction, start_ns, end_ns, packets, bytes, wid, idx`
	edgeCols    = `probe, start_ns, end_ns, c_fam, c_addr, s_fam, s_addr, transport, app, port, flows, packets, bytes, requests, errors, latency_sum_ns, latency_count, latency_max_ns, wid, idx`
	batchCols   = `probe, spool_id, seq, wid, written_ns, ord, records, min_ns, max_ns, span_ns, info, own_loss, has_own_loss, center_loss_keys, center_loss_values`
)

// tableCount is len(dataTables); rows are counted per table in that order.
const tableCount = 5

const (
	queueLen = 16
	maxGroup = 64
)

// writer inserts the batches of the probes given to it, in order. A
// probe's batches always go to the same writer, so the duplicate check
// and the insert of one probe's batches never race within a replica.
type writer struct {
	s *Store
	q *storeutil.Queue
}

func newWriter(s *Store) *writer {
	return &writer{s: s, q: storeutil.NewQueue("clickhouse", ErrClosed, queueLen)}
}

// run serves the queue until stop.
func (w *writer) run(stop <-chan struct{}) {
	w.q.Run(stop, w.s.cfg.GroupRecords, maxGroup, w.writeGroup)
}

// writeGroup stores the group with one insert per table and one commit
// insert; an error fails every batch of the group (none is committed).
func (w *writer) writeGroup(group []*storeutil.Request) []storeutil.Result {
	s := w.s
	// One caller giving up must not abort the others' write.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	res := make([]storeutil.Result, len(group))
	if err := w.writeTx(ctx, group, res); err != nil {
		for i := range res {
			res[i] = storeutil.Result{Err: err}
		}
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, x := range res {
		switch {
		case x.Err != nil:
			s.stats.WriteErrors++
		case x.Dup:
			s.stats.Duplicates++
		default:
			s.stats.Batches++
			for j, t := range dataTables {
				s.stats.Rows[t.name] += uint64(x.Counts[j])
			}
		}
	}
	return res
}

// spoolKey is a (probe, spool ID) pair.
type spoolKey struct{ probe, spool string }

// writeTx checks the group's batches against the stored sequences, then
// inserts the new ones' rows and commits them.
func (w *writer) writeTx(ctx context.Context, reqs []*storeutil.Request, res []storeutil.Result) error {
	last, err := w.s.lastSeqs(ctx, reqs)
	if err != nil {
		return err
	}
	return w.storeGroup(ctx, reqs, res, last)
}

// storeGroup stores the batches of reqs that are new against last (the
// stored last Seq of each spool, updated as the group goes).
func (w *writer) storeGroup(ctx context.Context, reqs []*storeutil.Request, res []storeutil.Result, last map[spoolKey]uint64) error {
	s := w.s
	var enc [tableCount]encoder
	var commit encoder
	stored := 0
	for i, r := range reqs {
		b := r.Batch
		k := spoolKey{b.Probe.ID, b.SpoolID}
		if seq, ok := last[k]; ok && b.Seq <= seq {
			res[i].Dup = true
			continue
		}
		last[k] = b.Seq
		wid := rand.Uint64() | 1 // never 0, which no commit names
		lo, hi, longest, counts, err := encodeBatch(&enc, b, wid)
		if err != nil {
			return err
		}
		if b.Records() == 0 {
			lo, hi = r.NowNS, r.NowNS
		}
		res[i].Counts = counts[:]
		info, err := storeutil.EncodeGob(b.Probe)
		if err != nil {
			return err
		}
		own, centerKeys, centerValues := splitLoss(b.Loss)
		var ownLoss []byte
		if own != nil {
			if ownLoss, err = storeutil.EncodeGob(own); err != nil {
				return err
			}
		}
		c := &commit
		c.str(b.Probe.ID)
		c.str(b.SpoolID)
		c.u64(b.Seq)
		c.u64(wid)
		c.i64(r.NowNS)
		c.i64(s.nextOrd(r.NowNS))
		c.u64(uint64(b.Records()))
		c.i64(lo)
		c.i64(hi)
		c.i64(longest)
		c.bytes(info)
		c.bytes(ownLoss)
		c.boolean(own != nil)
		c.strs(centerKeys)
		c.b = binary.AppendUvarint(c.b, uint64(len(centerValues)))
		for _, v := range centerValues {
			c.u64(v)
		}
		stored++
	}
	if stored == 0 {
		return nil
	}
	cols := [tableCount]string{windowCols, flowCols, txCols, trafficCols, edgeCols}
	for j, t := range dataTables {
		if len(enc[j].b) == 0 {
			continue
		}
		if err := s.c.insert(ctx, t.name, cols[j], enc[j].b); err != nil {
			return fmt.Errorf("insert into %s: %w", t.name, err)
		}
	}
	// The commit: from here on the rows count. If this insert fails
	// after the server took it, the probe's resend is a duplicate, as it
	// should be.
	if err := s.c.insert(ctx, "batches", batchCols, commit.b); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// splitLoss separates a batch's loss counters (store.Store.Write): the
// probe's own, cumulative (nil when the batch has none), and the ones the
// center counted for this batch alone, which add up.
func splitLoss(loss map[string]uint64) (own map[string]uint64, centerKeys []string, centerValues []uint64) {
	for k, v := range loss {
		if strings.HasPrefix(k, store.CenterLossPrefix) {
			centerKeys = append(centerKeys, k)
			centerValues = append(centerValues, v)
			continue
		}
		if own == nil {
			own = map[string]uint64{}
		}
		own[k] = v
	}
	return own, centerKeys, centerValues
}

// lastSeqs reads the stored last Seq of every (probe, spool) in the group.
func (s *Store) lastSeqs(ctx context.Context, reqs []*storeutil.Request) (map[spoolKey]uint64, error) {
	seen := map[spoolKey]bool{}
	var conds []string
	for _, r := range reqs {
		k := spoolKey{r.Batch.Probe.ID, r.Batch.SpoolID}
		if !seen[k] {
			seen[k] = true
			conds = append(conds, "(probe = "+lit(k.probe)+" AND spool_id = "+lit(k.spool)+")")
		}
	}
	d, err := s.c.query(ctx, `SELECT probe, spool_id, max(seq) FROM batches WHERE `+strings.Join(conds, " OR ")+
		` GROUP BY probe, spool_id`)
	if err != nil {
		return nil, fmt.Errorf("sequence check: %w", err)
	}
	out := map[spoolKey]uint64{}
	for !d.done() {
		k := spoolKey{d.str(), d.str()}
		out[k] = d.u64()
	}
	if d.err != nil {
		return nil, fmt.Errorf("sequence check: %w", d.err)
	}
	return out, nil
}

// Write stores a batch: a duplicate (a batch of the same probe and spool
// with a Seq at least this one's was committed) stores nothing.
func (s *Store) Write(ctx context.Context, b *record.Batch, now time.Time) (duplicate bool, err error) {
	nowNS, err := storeutil.CheckWrite(b, now)
	if err != nil {
		return false, fmt.Errorf("clickhouse: %w", err)
	}
	if err := storeutil.CheckTimes(b); err != nil {
		s.smu.Lock()
		s.stats.WriteErrors++
		s.smu.Unlock()
		return false, fmt.Errorf("clickhouse: probe %q batch %d: %w", b.Probe.ID, b.Seq, err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.isClosed() {
		return false, ErrClosed
	}
	h := fnv.New32a()
	h.Write([]byte(b.Probe.ID))
	return s.writers[h.Sum32()%uint32(len(s.writers))].q.Submit(ctx, b, nowNS)
}

// LastSeq is the highest Seq committed for the probe's spool (0 if none).
func (s *Store) LastSeq(ctx context.Context, probe, spoolID string) (uint64, error) {
	if s.isClosed() {
		return 0, ErrClosed
	}
	d, err := s.c.query(ctx, `SELECT max(seq) FROM batches WHERE probe = `+lit(probe)+` AND spool_id = `+lit(spoolID))
	if err != nil {
		return 0, err
	}
	seq := d.u64()
	return seq, d.err
}

// encodeBatch appends the batch's rows to the tables' encoders and
// returns, for the commit row, the span of its times, the longest
// duration of a record (end − start), and its row counts.
func encodeBatch(enc *[tableCount]encoder, b *record.Batch, wid uint64) (lo, hi, longest int64, counts [tableCount]int, err error) {
	lo, hi = math.MaxInt64, math.MinInt64
	span := func(ts ...int64) {
		for _, t := range ts {
			lo, hi = min(lo, t), max(hi, t)
		}
		if len(ts) == 2 {
			longest = max(longest, duration(ts[0], ts[1]))
		}
	}
	var idx uint32
	id := func(e *encoder) {
		e.u64(wid)
		e.u32(idx)
		idx++
	}
	for i := range b.Windows {
		r := &b.Windows[i]
		ts, err := storeutil.RecordTimes("windows", i, r.Start, r.End)
		if err != nil {
			return lo, hi, longest, counts, err
		}
		span(ts[0], ts[1])
		e := &enc[0]
		e.str(r.Probe)
		e.i64(ts[0])
		e.i64(ts[1])
		e.u64(r.Packets)
		e.u64(r.Bytes)
		e.bytes(r.Summary)
		id(e)
		counts[0]++
	}
	for i := range b.Flows {
		r := &b.Flows[i]
		ts, err := storeutil.RecordTimes("flows", i, r.Start, r.End)
		if err != nil {
			return lo, hi, longest, counts, err
		}
		span(ts[0], ts[1])
		e := &enc[1]
		e.str(r.Probe)
		e.i64(ts[0])
		e.i64(ts[1])
		e.str(r.Transport)
		e.addrPort(r.Client)
		e.addrPort(r.Server)
		e.str(r.App)
		e.str(r.Device)
		e.u16(r.VLAN)
		e.u32(r.TunnelID)
		e.u64(r.Packets[0])
		e.u64(r.Packets[1])
		e.u64(r.Bytes[0])
		e.u64(r.Bytes[1])
		e.u64(r.Retransmissions[0])
		e.u64(r.Retransmissions[1])
		e.i64(int64(r.RTT))
		e.str(r.State)
		e.boolean(r.Ended)
		id(e)
		counts[1]++
	}
	for i := range b.Transactions {
		r := &b.Transactions[i]
		ts, err := storeutil.RecordTimes("transactions", i, r.Time(), r.RequestTime, r.ResponseTime)
		if err != nil {
			return lo, hi, longest, counts, err
		}
		span(ts[0], ts[1], ts[2])
		e := &enc[2]
		e.str(r.Probe)
		e.i64(ts[0])
		e.str(r.Proto)
		e.str(r.Transport)
		e.addrPort(r.Client)
		e.addrPort(r.Server)
		e.i64(ts[1])
		e.i64(ts[2])
		e.i64(int64(r.Latency))
		e.i64(r.RequestBytes)
		e.i64(r.ResponseBytes)
		e.str(r.Op)
		e.str(r.Target)
		e.str(r.Status)
		e.str(r.Outcome)
		e.strs(r.Flags)
		keys := make([]string, len(r.Fields))
		vals := make([]string, len(r.Fields))
		for j, f := range r.Fields {
			keys[j], vals[j] = f.Key, f.Value
		}
		e.strs(keys)
		e.strs(vals)
		var nilLists uint8
		if r.Flags == nil {
			nilLists |= 1
		}
		if r.Fields == nil {
			nilLists |= 2
		}
		e.u8(nilLists)
		id(e)
		counts[2]++
	}
	for i := range b.Traffic {
		r := &b.Traffic[i]
		ts, err := storeutil.RecordTimes("traffic", i, r.Start, r.End)
		if err != nil {
			return lo, hi, longest, counts, err
		}
		span(ts[0], ts[1])
		e := &enc[3]
		e.str(r.Probe)
		e.str(r.Device)
		e.str(r.Direction)
		e.i64(ts[0])
		e.i64(ts[1])
		e.u64(r.Packets)
		e.u64(r.Bytes)
		id(e)
		counts[3]++
	}
	for i := range b.Edges {
		r := &b.Edges[i]
		ts, err := storeutil.RecordTimes("edges", i, r.Start, r.End)
		if err != nil {
			return lo, hi, longest, counts, err
		}
		span(ts[0], ts[1])
		e := &enc[4]
		e.str(r.Probe)
		e.i64(ts[0])
		e.i64(ts[1])
		e.addr(r.Client)
		e.addr(r.Server)
		e.str(r.Transport)
		e.str(r.App)
		e.u16(r.Port)
		e.u64(r.Flows)
		e.u64(r.Packets)
		e.u64(r.Bytes)
		e.u64(r.Requests)
		e.u64(r.Errors)
		e.i64(int64(r.LatencySum))
		e.u64(r.LatencyCount)
		e.i64(int64(r.LatencyMax))
		id(e)
		counts[4]++
	}
	return lo, hi, longest, counts, nil
}

// duration is how long a record [start, end] lasts, for the bound on the
// start of the records that reach a time (queries: start ≥ from − the
// longest duration). A record without an end never reaches a From; one
// without a start (or with an overflowing span) removes the bound.
func duration(start, end int64) int64 {
	switch {
	case end == storeutil.NoTime || end <= start:
		return 0
	case start == storeutil.NoTime || end > 0 && start < end-math.MaxInt64:
		return math.MaxInt64
	}
	return end - start
}
