package wire

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// FromProto converts and validates a batch received from anyone. Errors
// wrap ErrInvalid and name the record (by index) and the field. Every
// record's Probe is set to the batch's probe ID. The returned batch
// shares the windows' summary blobs with m.
func FromProto(m *pb.Batch) (*record.Batch, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no batch", ErrInvalid)
	}
	if m.Version != Version {
		if m.Version == 0 {
			return nil, fmt.Errorf("%w: version missing (this center reads version %d)", ErrInvalid, Version)
		}
		return nil, fmt.Errorf("%w: version %d not supported (this center reads version %d)", ErrInvalid, m.Version, Version)
	}
	n := len(m.Windows) + len(m.Flows) + len(m.Transactions) + len(m.Traffic)
	if n > MaxRecords {
		return nil, fmt.Errorf("%w: %d records, more than %d", ErrInvalid, n, MaxRecords)
	}
	if len(m.Loss) > MaxLoss {
		return nil, fmt.Errorf("%w: %d loss counters, more than %d", ErrInvalid, len(m.Loss), MaxLoss)
	}
	d := decoder{}
	if len(m.SpoolId) > MaxNameBytes {
		return nil, fmt.Errorf("%w: spool_id of %d bytes, more than %d", ErrInvalid, len(m.SpoolId), MaxNameBytes)
	}
	b := &record.Batch{Seq: m.Seq, SpoolID: m.SpoolId}
	d.probeInfo(&b.Probe, m.Probe)
	if d.err == nil && b.Probe.ID == "" {
		d.fail("probe.id is empty")
	}
	id := b.Probe.ID
	b.SentAt = d.time(m.SentAt)
	if len(m.Loss) > 0 {
		b.Loss = make(map[string]uint64, len(m.Loss))
		for k, v := range m.Loss {
			d.name("loss key", k)
			b.Loss[k] = v
		}
	}
	if len(m.Windows) > 0 && d.err == nil {
		b.Windows = make([]record.Window, len(m.Windows))
		for i, w := range m.Windows {
			if w == nil {
				w = &pb.Window{}
			}
			d.at("windows", i)
			if len(w.Summary) > MaxSummaryBytes {
				d.fail("summary is %d bytes, more than %d", len(w.Summary), MaxSummaryBytes)
			}
			r := &b.Windows[i]
			r.Probe = id
			r.Start, r.End = d.span(w.Start, w.End)
			r.Summary = w.Summary
			r.Packets, r.Bytes = w.Packets, w.Bytes
			if d.err != nil {
				break
			}
		}
	}
	if len(m.Flows) > 0 && d.err == nil {
		b.Flows = make([]record.Flow, len(m.Flows))
		for i, f := range m.Flows {
			if f == nil {
				f = &pb.Flow{}
			}
			d.at("flows", i)
			r := &b.Flows[i]
			r.Probe = id
			r.Start, r.End = d.span(f.Start, f.End)
			r.Transport = d.name("transport", f.Transport)
			r.Client = d.addrPort("client", f.ClientAddr, f.ClientPort)
			r.Server = d.addrPort("server", f.ServerAddr, f.ServerPort)
			r.App = d.name("app", f.App)
			r.Device = d.name("device", f.Device)
			if f.Vlan > 0xffff {
				d.fail("vlan %d is not a 16-bit value", f.Vlan)
			}
			r.VLAN = uint16(f.Vlan)
			r.TunnelID = f.TunnelId
			r.Packets = [2]uint64{f.PacketsC2S, f.PacketsS2C}
			r.Bytes = [2]uint64{f.BytesC2S, f.BytesS2C}
			r.Retransmissions = [2]uint64{f.RetransmissionsC2S, f.RetransmissionsS2C}
			if f.Rtt < 0 {
				d.fail("rtt %d is negative", f.Rtt)
			}
			r.RTT = time.Duration(f.Rtt)
			r.State = d.name("state", f.State)
			r.Ended = f.Ended
			if d.err != nil {
				break
			}
		}
	}
	if len(m.Transactions) > 0 && d.err == nil {
		b.Transactions = make([]record.Transaction, len(m.Transactions))
		for i, t := range m.Transactions {
			if t == nil {
				t = &pb.Transaction{}
			}
			d.at("transactions", i)
			r := &b.Transactions[i]
			r.Probe = id
			r.Proto = d.name("proto", t.Proto)
			r.Transport = d.name("transport", t.Transport)
			r.Client = d.addrPort("client", t.ClientAddr, t.ClientPort)
			r.Server = d.addrPort("server", t.ServerAddr, t.ServerPort)
			r.RequestTime = d.time(t.RequestTime)
			r.ResponseTime = d.time(t.ResponseTime)
			if t.Latency < -1 {
				d.fail("latency %d is below -1", t.Latency)
			}
			r.Latency = time.Duration(t.Latency)
			r.RequestBytes, r.ResponseBytes = t.RequestBytes, t.ResponseBytes
			r.Op = d.value("op", t.Op)
			r.Target = d.value("target", t.Target)
			r.Status = d.value("status", t.Status)
			r.Outcome = d.name("outcome", t.Outcome)
			if len(t.Flags) > MaxFlags {
				d.fail("%d flags, more than %d", len(t.Flags), MaxFlags)
			} else if len(t.Flags) > 0 {
				r.Flags = make([]string, len(t.Flags))
				for j, f := range t.Flags {
					r.Flags[j] = d.name("flag", f)
				}
			}
			if len(t.Fields) > MaxFields {
				d.fail("%d fields, more than %d", len(t.Fields), MaxFields)
			} else if len(t.Fields) > 0 {
				r.Fields = make([]record.Field, len(t.Fields))
				for j, f := range t.Fields {
					if f != nil {
						r.Fields[j] = record.Field{Key: d.value("field key", f.Key), Value: d.value("field value", f.Value)}
					}
				}
			}
			if d.err != nil {
				break
			}
		}
	}
	if len(m.Traffic) > 0 && d.err == nil {
		b.Traffic = make([]record.Traffic, len(m.Traffic))
		for i, t := range m.Traffic {
			if t == nil {
				t = &pb.Traffic{}
			}
			d.at("traffic", i)
			r := &b.Traffic[i]
			r.Probe = id
			r.Device = d.name("device", t.Device)
			r.Direction = d.name("direction", t.Direction)
			r.Start, r.End = d.span(t.Start, t.End)
			r.Packets, r.Bytes = t.Packets, t.Bytes
			if d.err != nil {
				break
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return b, nil
}

// decoder keeps the first validation error and where it happened.
type decoder struct {
	err   error
	where string // "flows[3]", ...
}

func (d *decoder) at(list string, i int) { d.where = fmt.Sprintf("%s[%d]", list, i) }

func (d *decoder) fail(format string, args ...any) {
	if d.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if d.where != "" {
		msg = d.where + ": " + msg
	}
	d.err = fmt.Errorf("%w: %s", ErrInvalid, msg)
}

func (d *decoder) name(field, s string) string {
	if len(s) > MaxNameBytes {
		d.fail("%s is %d bytes, more than %d", field, len(s), MaxNameBytes)
		return ""
	}
	return s
}

func (d *decoder) value(field string, b []byte) string {
	if len(b) > MaxValueBytes {
		d.fail("%s is %d bytes, more than %d", field, len(b), MaxValueBytes)
		return ""
	}
	return string(b)
}

func (d *decoder) time(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// span decodes a [start, end) pair; an end before its start is refused.
func (d *decoder) span(start, end int64) (time.Time, time.Time) {
	if start != 0 && end != 0 && end < start {
		d.fail("end %d is before start %d", end, start)
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
	d.fail("%s address is %d bytes, want 4 or 16", field, len(b))
	return netip.Addr{}
}

func (d *decoder) addrPort(field string, b []byte, port uint32) netip.AddrPort {
	a := d.addr(field, b)
	if port > 0xffff {
		d.fail("%s port %d is above 65535", field, port)
		return netip.AddrPort{}
	}
	if !a.IsValid() {
		if port != 0 {
			d.fail("%s port %d without an address", field, port)
		}
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(port))
}

func (d *decoder) probeInfo(p *record.ProbeInfo, m *pb.ProbeInfo) {
	if m == nil {
		d.fail("probe info missing")
		return
	}
	d.where = "probe"
	p.ID = d.name("id", m.Id)
	p.Hostname = d.name("hostname", m.Hostname)
	p.Version = d.name("version", m.Version)
	p.Started = d.time(m.Started)
	switch {
	case len(m.Labels) > MaxLabels:
		d.fail("%d labels, more than %d", len(m.Labels), MaxLabels)
	case len(m.Labels) > 0:
		p.Labels = make(map[string]string, len(m.Labels))
		for k, v := range m.Labels {
			p.Labels[d.name("label key", k)] = d.name("label value", v)
		}
	}
	switch {
	case len(m.Devices) > MaxDevices:
		d.fail("%d devices, more than %d", len(m.Devices), MaxDevices)
	case len(m.Devices) > 0:
		p.Devices = make([]string, len(m.Devices))
		for i, s := range m.Devices {
			p.Devices[i] = d.name("device", s)
		}
	}
	switch {
	case len(m.Addresses) > MaxAddresses:
		d.fail("%d addresses, more than %d", len(m.Addresses), MaxAddresses)
	case len(m.Addresses) > 0:
		p.Addresses = make([]netip.Addr, len(m.Addresses))
		for i, a := range m.Addresses {
			if len(a) != 4 && len(a) != 16 {
				d.fail("addresses[%d] is %d bytes, want 4 or 16", i, len(a))
				break
			}
			p.Addresses[i] = d.addr("", a)
		}
	}
	d.where = ""
}
