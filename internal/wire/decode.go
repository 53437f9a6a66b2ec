package wire

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// Reasons a record is dropped by FromProto, the keys of Dropped.Records.
// The center reports them in the probe's loss counters as
// LossInvalidPrefix + reason.
const (
	ReasonTime    = "time"     // an end before its start, or a time no store can hold
	ReasonAddress = "address"  // an address of the wrong length, a port above 65535 or without an address
	ReasonTooLong = "too_long" // a string or summary over its limit
	ReasonTooMany = "too_many" // more fields or flags than the limit
	ReasonValue   = "value"    // a value out of its range (negative RTT, latency below -1, VLAN over 16 bits)
)

// LossInvalidPrefix starts the loss keys under which the center counts
// the records it dropped as invalid (center_invalid_records_time, ...).
// It is one of the center's keys (store.CenterLossPrefix), which the
// store adds up across batches; a probe may not send such keys itself.
const LossInvalidPrefix = store.CenterLossPrefix + "invalid_records_"

// Dropped is what FromProto left out of a batch it accepted.
type Dropped struct {
	// Records counts the records that failed validation, by reason.
	Records map[string]uint64
	// First names the first of them and what was wrong (for logs); nil
	// when nothing was dropped.
	First error
}

// Total is how many records were dropped.
func (d Dropped) Total() uint64 {
	var n uint64
	for _, v := range d.Records {
		n += v
	}
	return n
}

// FromProto converts and validates a batch received from anyone. A
// record that fails validation is left out and counted in Dropped, so
// that one bad record does not cost its whole batch. A batch whose
// envelope is invalid (version, probe info, spool ID, loss counters,
// more than MaxRecords records) is refused whole: the error wraps
// ErrInvalid and names the field. Every record's Probe is set to the
// batch's probe ID. The returned batch shares the windows' summary blobs
// with m.
func FromProto(m *pb.Batch) (*record.Batch, Dropped, error) {
	var dropped Dropped
	if m == nil {
		return nil, dropped, fmt.Errorf("%w: no batch", ErrInvalid)
	}
	if m.Version != Version {
		if m.Version == 0 {
			return nil, dropped, fmt.Errorf("%w: version missing (this center reads version %d)", ErrInvalid, Version)
		}
		return nil, dropped, fmt.Errorf("%w: version %d not supported (this center reads version %d)", ErrInvalid, m.Version, Version)
	}
	n := len(m.Windows) + len(m.Flows) + len(m.Transactions) + len(m.Traffic)
	if n > MaxRecords {
		return nil, dropped, fmt.Errorf("%w: %d records, more than %d", ErrInvalid, n, MaxRecords)
	}
	if len(m.Loss) > MaxLoss {
		return nil, dropped, fmt.Errorf("%w: %d loss counters, more than %d", ErrInvalid, len(m.Loss), MaxLoss)
	}
	if len(m.SpoolId) > MaxNameBytes {
		return nil, dropped, fmt.Errorf("%w: spool_id of %d bytes, more than %d", ErrInvalid, len(m.SpoolId), MaxNameBytes)
	}
	d := decoder{}
	b := &record.Batch{Seq: m.Seq, SpoolID: m.SpoolId}
	d.probeInfo(&b.Probe, m.Probe)
	if d.err == nil && b.Probe.ID == "" {
		d.fail(ReasonValue, "probe.id is empty")
	}
	b.SentAt = d.time(m.SentAt)
	if len(m.Loss) > 0 {
		b.Loss = make(map[string]uint64, len(m.Loss))
		for k, v := range m.Loss {
			d.name("loss key", k)
			if strings.HasPrefix(k, store.CenterLossPrefix) {
				d.fail(ReasonValue, "loss key %q: the prefix %q is the center's", k, store.CenterLossPrefix)
			}
			b.Loss[k] = v
		}
	}
	if d.err != nil {
		return nil, dropped, d.err
	}
	id := b.Probe.ID
	b.Windows = decodeAll(&d, &dropped, "windows", m.Windows, func(w *pb.Window, r *record.Window) {
		r.Probe = id
		if len(w.Summary) > MaxSummaryBytes {
			d.fail(ReasonTooLong, "summary is %d bytes, more than %d", len(w.Summary), MaxSummaryBytes)
		}
		r.Start, r.End = d.span(w.Start, w.End)
		r.Summary = w.Summary
		r.Packets, r.Bytes = w.Packets, w.Bytes
	})
	b.Flows = decodeAll(&d, &dropped, "flows", m.Flows, func(f *pb.Flow, r *record.Flow) {
		r.Probe = id
		r.Start, r.End = d.span(f.Start, f.End)
		r.Transport = d.name("transport", f.Transport)
		r.Client = d.addrPort("client", f.ClientAddr, f.ClientPort)
		r.Server = d.addrPort("server", f.ServerAddr, f.ServerPort)
		r.App = d.name("app", f.App)
		r.Device = d.name("device", f.Device)
		if f.Vlan > 0xffff {
			d.fail(ReasonValue, "vlan %d is not a 16-bit value", f.Vlan)
		}
		r.VLAN = uint16(f.Vlan)
		r.TunnelID = f.TunnelId
		r.Packets = [2]uint64{f.PacketsC2S, f.PacketsS2C}
		r.Bytes = [2]uint64{f.BytesC2S, f.BytesS2C}
		r.Retransmissions = [2]uint64{f.RetransmissionsC2S, f.RetransmissionsS2C}
		if f.Rtt < 0 {
			d.fail(ReasonValue, "rtt %d is negative", f.Rtt)
		}
		r.RTT = time.Duration(f.Rtt)
		r.State = d.name("state", f.State)
		r.Ended = f.Ended
	})
	b.Transactions = decodeAll(&d, &dropped, "transactions", m.Transactions, func(t *pb.Transaction, r *record.Transaction) {
		r.Probe = id
		r.Proto = d.name("proto", t.Proto)
		r.Transport = d.name("transport", t.Transport)
		r.Client = d.addrPort("client", t.ClientAddr, t.ClientPort)
		r.Server = d.addrPort("server", t.ServerAddr, t.ServerPort)
		r.RequestTime = d.time(t.RequestTime)
		r.ResponseTime = d.time(t.ResponseTime)
		if t.Latency < -1 {
			d.fail(ReasonValue, "latency %d is below -1", t.Latency)
		}
		r.Latency = time.Duration(t.Latency)
		r.RequestBytes, r.ResponseBytes = t.RequestBytes, t.ResponseBytes
		r.Op = d.value("op", t.Op)
		r.Target = d.value("target", t.Target)
		r.Status = d.value("status", t.Status)
		r.Outcome = d.name("outcome", t.Outcome)
		if len(t.Flags) > MaxFlags {
			d.fail(ReasonTooMany, "%d flags, more than %d", len(t.Flags), MaxFlags)
		} else if len(t.Flags) > 0 {
			r.Flags = make([]string, len(t.Flags))
			for j, f := range t.Flags {
				r.Flags[j] = d.name("flag", f)
			}
		}
		if len(t.Fields) > MaxFields {
			d.fail(ReasonTooMany, "%d fields, more than %d", len(t.Fields), MaxFields)
		} else if len(t.Fields) > 0 {
			r.Fields = make([]record.Field, len(t.Fields))
			for j, f := range t.Fields {
				if f != nil {
					r.Fields[j] = record.Field{Key: d.value("field key", f.Key), Value: d.value("field value", f.Value)}
				}
			}
		}
	})
	b.Traffic = decodeAll(&d, &dropped, "traffic", m.Traffic, func(t *pb.Traffic, r *record.Traffic) {
		r.Probe = id
		r.Device = d.name("device", t.Device)
		r.Direction = d.name("direction", t.Direction)
		r.Start, r.End = d.span(t.Start, t.End)
		r.Packets, r.Bytes = t.Packets, t.Bytes
	})
	return b, dropped, nil
}

// decodeAll decodes a list of records, leaving out (and counting in
// dropped) those that fail validation. A nil element is an empty record.
func decodeAll[M any, R any](d *decoder, dropped *Dropped, list string, in []*M, decode func(*M, *R)) []R {
	if len(in) == 0 {
		return nil
	}
	out := make([]R, 0, len(in))
	for i, m := range in {
		if m == nil {
			m = new(M)
		}
		d.err, d.reason = nil, ""
		d.where = list + "[" + strconv.Itoa(i) + "]"
		var r R
		decode(m, &r)
		if d.err != nil {
			if dropped.Records == nil {
				dropped.Records = make(map[string]uint64, 2)
				dropped.First = d.err
			}
			dropped.Records[d.reason]++
			continue
		}
		out = append(out, r)
	}
	d.where = ""
	if len(out) == 0 {
		return nil // as an empty list decodes
	}
	return out
}

// decoder keeps the first validation error of what it decodes (the
// envelope, or one record), its reason and where it happened.
type decoder struct {
	err    error
	reason string
	where  string // "flows[3]", ...
}

func (d *decoder) fail(reason, format string, args ...any) {
	if d.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if d.where != "" {
		msg = d.where + ": " + msg
	}
	d.err = fmt.Errorf("%w: %s", ErrInvalid, msg)
	d.reason = reason
}

func (d *decoder) name(field, s string) string {
	if len(s) > MaxNameBytes {
		d.fail(ReasonTooLong, "%s is %d bytes, more than %d", field, len(s), MaxNameBytes)
		return ""
	}
	return s
}

func (d *decoder) value(field string, b []byte) string {
	if len(b) > MaxValueBytes {
		d.fail(ReasonTooLong, "%s is %d bytes, more than %d", field, len(b), MaxValueBytes)
		return ""
	}
	return string(b)
}

func (d *decoder) time(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	if ns == math.MinInt64 {
		// The stores keep the smallest int64 for "no time".
		d.fail(ReasonTime, "time %d is out of range", ns)
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// span decodes a [start, end) pair; an end before its start is refused.
func (d *decoder) span(start, end int64) (time.Time, time.Time) {
	if start != 0 && end != 0 && end < start {
		d.fail(ReasonTime, "end %d is before start %d", end, start)
	}
	return d.time(start), d.time(end)
}

func (d *decoder) addr(field string, b []byte) netip.Addr {
	switch len(b) {
	case 0:
		return netip.Addr{}
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	d.fail(ReasonAddress, "%s address is %d bytes, want 4 or 16", field, len(b))
	return netip.Addr{}
}

func (d *decoder) addrPort(field string, b []byte, port uint32) netip.AddrPort {
	a := d.addr(field, b)
	if port > 0xffff {
		d.fail(ReasonAddress, "%s port %d is above 65535", field, port)
		return netip.AddrPort{}
	}
	if !a.IsValid() {
		if port != 0 {
			d.fail(ReasonAddress, "%s port %d without an address", field, port)
		}
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(port))
}

func (d *decoder) probeInfo(p *record.ProbeInfo, m *pb.ProbeInfo) {
	if m == nil {
		d.fail(ReasonValue, "probe info missing")
		return
	}
	d.where = "probe"
	p.ID = d.name("id", m.Id)
	p.Hostname = d.name("hostname", m.Hostname)
	p.Version = d.name("version", m.Version)
	p.Started = d.time(m.Started)
	if m.Period < 0 || m.Period > int64(MaxPeriod) {
		d.fail(ReasonValue, "period %d is not between 0 and %d", m.Period, int64(MaxPeriod))
	}
	p.Period = time.Duration(m.Period)
	switch {
	case len(m.Labels) > MaxLabels:
		d.fail(ReasonTooMany, "%d labels, more than %d", len(m.Labels), MaxLabels)
	case len(m.Labels) > 0:
		p.Labels = make(map[string]string, len(m.Labels))
		for k, v := range m.Labels {
			p.Labels[d.name("label key", k)] = d.name("label value", v)
		}
	}
	switch {
	case len(m.Devices) > MaxDevices:
		d.fail(ReasonTooMany, "%d devices, more than %d", len(m.Devices), MaxDevices)
	case len(m.Devices) > 0:
		p.Devices = make([]string, len(m.Devices))
		for i, s := range m.Devices {
			p.Devices[i] = d.name("device", s)
		}
	}
	switch {
	case len(m.Addresses) > MaxAddresses:
		d.fail(ReasonTooMany, "%d addresses, more than %d", len(m.Addresses), MaxAddresses)
	case len(m.Addresses) > 0:
		p.Addresses = make([]netip.Addr, len(m.Addresses))
		for i, a := range m.Addresses {
			if len(a) != 4 && len(a) != 16 {
				d.fail(ReasonAddress, "addresses[%d] is %d bytes, want 4 or 16", i, len(a))
				break
			}
			p.Addresses[i] = d.addr("", a)
		}
	}
	d.where = ""
}
