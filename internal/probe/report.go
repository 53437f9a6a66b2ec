package probe

import (
	"fmt"
	"sort"
	"time"

	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// Reporter receives what a probe reports to a center (internal/export
// implements it): each flow's activity per window, and each closed window.
// Both are called from the pipeline's goroutines and must not block.
// Transactions go through Options.Records.
type Reporter interface {
	// Flow is called when a flow is folded into a window: at the window's
	// close for every flow that had traffic in it, and when a flow ends.
	Flow(r *record.Flow)
	// Window is called with each closed window, merged across the
	// workers. The bucket belongs to the window collector: encode it
	// during the call, do not keep it.
	Window(b *summary.Bucket)
}

// flowRecord builds the record of f's activity since its last fold (its
// window counters). ok is false when the flow had no traffic since and
// did not end.
//
// Device stays empty: a flow may cross several devices, and the
// per-device traffic travels in the window's traffic records.
func flowRecord(f *flow.Flow, winStart int64, app string, ended bool) (r record.Flow, ok bool) {
	w := f.Win
	if w[0].Packets == 0 && w[1].Packets == 0 && !ended {
		return r, false
	}
	// A flow that ends after the window it was last active in (an idle
	// timeout found by a later packet) has nothing in the new window:
	// its record is the instant of its last packet.
	start := min(max(f.First, winStart), f.Last)
	r = record.Flow{
		Start:     time.Unix(0, start).UTC(),
		End:       time.Unix(0, f.Last).UTC(),
		Transport: decode.ProtoName(f.Proto),
		Client:    f.Client,
		Server:    f.Server,
		App:       app,
		VLAN:      f.VLAN,
		TunnelID:  f.TunnelID,
		Packets:   [2]uint64{w[0].Packets, w[1].Packets},
		Bytes:     [2]uint64{w[0].Bytes, w[1].Bytes},
		RTT:       time.Duration(f.TCP.HandshakeRTT),
		Ended:     ended,
	}
	if f.Proto == decode.ProtoTCP {
		r.State = f.TCP.State.String()
	}
	if ended {
		// Retransmissions are counted per flow, not per window: the record
		// that ends the flow carries the flow's totals.
		r.Retransmissions = [2]uint64{f.Stats[0].Retransmissions, f.Stats[1].Retransmissions}
	}
	return r, true
}

// TransactionRecord converts a decoded transaction (valid only during the
// Records call) into a record that owns its strings.
func TransactionRecord(t *l7.Transaction) record.Transaction {
	r := record.Transaction{
		Proto:         t.Proto,
		Transport:     t.Transport.String(),
		Client:        t.Client,
		Server:        t.Server,
		Latency:       time.Duration(t.Latency()),
		RequestBytes:  t.ReqBytes,
		ResponseBytes: t.RespBytes,
		Op:            string(t.Op),
		Target:        string(t.Target),
		Status:        string(t.Status),
		Outcome:       t.Outcome.String(),
	}
	if t.ReqTS != 0 {
		r.RequestTime = time.Unix(0, t.ReqTS).UTC()
	}
	if t.RespTS != 0 {
		r.ResponseTime = time.Unix(0, t.RespTS).UTC()
	}
	if t.Flags&l7.FlagSQLi != 0 {
		r.Flags = append(r.Flags, "sqli")
	}
	if t.Flags&l7.FlagRedacted != 0 {
		r.Flags = append(r.Flags, "redacted")
	}
	if t.Flags&l7.FlagTruncated != 0 {
		r.Flags = append(r.Flags, "truncated")
	}
	if len(t.Fields) > 0 {
		r.Fields = make([]record.Field, len(t.Fields))
		for i, f := range t.Fields {
			r.Fields[i] = record.Field{Key: f.Key, Value: string(f.Value)}
		}
	}
	return r
}

// WindowRecords converts a closed window into its summary record (the
// bucket encoded) and its per-device traffic records.
func WindowRecords(b *summary.Bucket) (record.Window, []record.Traffic, error) {
	blob, err := b.MarshalBinary()
	if err != nil {
		return record.Window{}, nil, fmt.Errorf("encoding window %s: %w", time.Unix(0, b.Start).UTC(), err)
	}
	start, end := time.Unix(0, b.Start).UTC(), time.Unix(0, b.End).UTC()
	w := record.Window{Start: start, End: end, Summary: blob, Packets: b.Packets.Total, Bytes: b.Bytes.Total}
	names := make([]string, 0, len(b.Devices))
	for name := range b.Devices {
		names = append(names, name)
	}
	sort.Strings(names)
	var traffic []record.Traffic
	for _, name := range names {
		d := b.Devices[name]
		for _, dir := range []struct {
			name string
			c    summary.DirCounters
		}{{"in", d.In}, {"out", d.Out}, {"other", d.Other}} {
			if dir.c.Packets == 0 {
				continue
			}
			traffic = append(traffic, record.Traffic{Device: name, Direction: dir.name, Start: start, End: end, Packets: dir.c.Packets, Bytes: dir.c.Bytes})
		}
	}
	return w, traffic, nil
}

// LossCounters flattens the loss counters of totals into names, as the
// center shows them per probe: every counter, zero ones included, so that
// a probe's page lists what could be lost.
func LossCounters(l *summary.Loss) map[string]uint64 {
	m := map[string]uint64{
		"kernel_drops":      l.KernelDrops,
		"filtered_out":      l.FilteredOut,
		"truncated_records": l.TruncatedRecords,
		"bad_records":       l.BadRecords,
		"snap_truncated":    l.SnapTruncated,
		"bad_wire_len":      l.BadWireLen,
		"unsupported_link":  l.UnsupportedLink,
		"flows_evicted":     l.FlowsEvicted,
		"queue_drops":       l.QueueDrops,
	}
	for k, v := range l.Malformed {
		m["malformed."+k] = v
	}
	for k, v := range l.FragmentsDropped {
		m["fragments_dropped."+k] = v
	}
	for k, v := range l.L7 {
		m["l7."+k] = v
	}
	return m
}
