// Package wire converts between the records a probe reports
// (internal/record) and their protobuf encoding on the wire
// (api/wirewatch/v1/wirewatch.proto, generated into wirewatchv1), and
// encodes a batch to bytes for the probe's spool.
//
// The center runs FromProto on what any client sent, so FromProto treats
// its input as hostile: every address length, port, count and string size
// is checked against the limits below and a violation is an error naming
// the record and the field, never a panic. docs/wire.md describes the
// protocol.
package wire

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/wirewatch/wirewatch/internal/record"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// Version is the envelope version this package writes and the only one it
// reads.
const Version = 1

// Limits FromProto enforces. They sit far above what a healthy probe
// sends (the l7 parsers cut values at 4 KiB; the exporter cuts batches at
// 10,000 records by default) and exist so that a hostile message cannot
// make the center keep absurd values.
const (
	MaxRecords      = 100_000        // windows + flows + transactions + traffic records per batch
	MaxSummaryBytes = 32 << 20       // one window's summary blob
	MaxValueBytes   = 64 << 10       // a value copied from traffic: op, target, status, field key or value
	MaxNameBytes    = 1024           // any other string: probe ID, hostname, label, device, app, ...
	MaxFields       = 1024           // fields of one transaction
	MaxFlags        = 64             // flags of one transaction
	MaxLabels       = 1024           // probe labels
	MaxDevices      = 4096           // probe devices
	MaxAddresses    = 4096           // probe addresses
	MaxLoss         = 4096           // loss counters per batch
	MaxPeriod       = 24 * time.Hour // a probe's window period
)

// gRPC metadata of a Report stream. The probe sends MetaProbe (its ID)
// and, when the center uses tokens, MetaAuthorization ("Bearer <token>");
// the center answers with MetaMaxMessage in the response header, its
// message size limit, so that the probe can drop (and count) a batch the
// center would refuse instead of failing the stream over it.
const (
	MetaProbe         = "x-wirewatch-probe"
	MetaAuthorization = "authorization"
	MetaMaxMessage    = "x-wirewatch-max-message-bytes"
)

// ErrInvalid is wrapped by every FromProto and Decode error about the
// content of a message.
var ErrInvalid = errors.New("invalid batch")

// Encode returns the protobuf encoding of b (what the probe's spool keeps).
// b.Edges do not travel: the center derives them.
func Encode(b *record.Batch) ([]byte, error) {
	m, err := ToProto(b)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode batch: %w", err)
	}
	return out, nil
}

// Decode parses bytes written by Encode (or received from anyone) and
// validates them as FromProto does.
func Decode(data []byte) (*record.Batch, Dropped, error) {
	var m pb.Batch
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, Dropped{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return FromProto(&m)
}

// ToProto converts a batch to its wire form. Records' Probe fields are not
// sent (the batch's probe ID stands for them) and neither are Edges. It
// fails only on times the wire cannot carry (outside the years
// 1678..2262); limits are FromProto's business.
func ToProto(b *record.Batch) (*pb.Batch, error) {
	if b == nil {
		return nil, errors.New("wire: nil batch")
	}
	var e encoder
	m := &pb.Batch{
		Version: Version,
		Seq:     b.Seq,
		SpoolId: b.SpoolID,
		Probe:   e.probe(&b.Probe),
		SentAt:  e.time("sent_at", b.SentAt),
	}
	if len(b.Loss) > 0 {
		m.Loss = make(map[string]uint64, len(b.Loss))
		for k, v := range b.Loss {
			m.Loss[k] = v
		}
	}
	m.Windows = protoList(b.Windows, func(w *record.Window, p *pb.Window) {
		*p = pb.Window{
			Start:   e.time("window start", w.Start),
			End:     e.time("window end", w.End),
			Summary: w.Summary,
			Packets: w.Packets,
			Bytes:   w.Bytes,
		}
	})
	m.Flows = protoList(b.Flows, func(f *record.Flow, p *pb.Flow) {
		*p = pb.Flow{
			Start:              e.time("flow start", f.Start),
			End:                e.time("flow end", f.End),
			Transport:          f.Transport,
			ClientAddr:         addrBytes(f.Client.Addr()),
			ClientPort:         uint32(f.Client.Port()),
			ServerAddr:         addrBytes(f.Server.Addr()),
			ServerPort:         uint32(f.Server.Port()),
			App:                f.App,
			Device:             f.Device,
			Vlan:               uint32(f.VLAN),
			TunnelId:           f.TunnelID,
			PacketsC2S:         f.Packets[record.ClientToServer],
			PacketsS2C:         f.Packets[record.ServerToClient],
			BytesC2S:           f.Bytes[record.ClientToServer],
			BytesS2C:           f.Bytes[record.ServerToClient],
			RetransmissionsC2S: f.Retransmissions[record.ClientToServer],
			RetransmissionsS2C: f.Retransmissions[record.ServerToClient],
			Rtt:                int64(f.RTT),
			State:              f.State,
			Ended:              f.Ended,
		}
	})
	m.Transactions = protoList(b.Transactions, func(t *record.Transaction, p *pb.Transaction) {
		*p = pb.Transaction{
			Proto:         t.Proto,
			Transport:     t.Transport,
			ClientAddr:    addrBytes(t.Client.Addr()),
			ClientPort:    uint32(t.Client.Port()),
			ServerAddr:    addrBytes(t.Server.Addr()),
			ServerPort:    uint32(t.Server.Port()),
			RequestTime:   e.time("transaction request_time", t.RequestTime),
			ResponseTime:  e.time("transaction response_time", t.ResponseTime),
			Latency:       int64(t.Latency),
			RequestBytes:  t.RequestBytes,
			ResponseBytes: t.ResponseBytes,
			Op:            strBytes(t.Op),
			Target:        strBytes(t.Target),
			Status:        strBytes(t.Status),
			Outcome:       t.Outcome,
			Flags:         t.Flags,
			Fields: protoList(t.Fields, func(f *record.Field, p *pb.Field) {
				*p = pb.Field{Key: strBytes(f.Key), Value: strBytes(f.Value)}
			}),
		}
	})
	m.Traffic = protoList(b.Traffic, func(t *record.Traffic, p *pb.Traffic) {
		*p = pb.Traffic{
			Device:    t.Device,
			Direction: t.Direction,
			Start:     e.time("traffic start", t.Start),
			End:       e.time("traffic end", t.End),
			Packets:   t.Packets,
			Bytes:     t.Bytes,
		}
	})
	if e.err != nil {
		return nil, e.err
	}
	return m, nil
}

// protoList converts a list of records to their messages, all in one
// allocation; nil when there are none.
func protoList[R, M any](in []R, conv func(*R, *M)) []*M {
	if len(in) == 0 {
		return nil
	}
	out := make([]*M, len(in))
	ms := make([]M, len(in))
	for i := range in {
		conv(&in[i], &ms[i])
		out[i] = &ms[i]
	}
	return out
}

// encoder keeps the first error of a conversion, so that the conversion
// code reads as one assignment per field.
type encoder struct{ err error }

// minTime and maxTime bound the times int64 nanoseconds can carry.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

func (e *encoder) time(what string, t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if t.Before(minTime) || t.After(maxTime) {
		if e.err == nil {
			e.err = fmt.Errorf("wire: %s %v is outside the years 1678..2262", what, t)
		}
		return 0
	}
	return t.UnixNano()
}

func (e *encoder) probe(p *record.ProbeInfo) *pb.ProbeInfo {
	m := &pb.ProbeInfo{
		Id:       p.ID,
		Hostname: p.Hostname,
		Version:  p.Version,
		Devices:  p.Devices,
		Started:  e.time("probe started", p.Started),
		Period:   int64(p.Period),
	}
	if len(p.Labels) > 0 {
		m.Labels = make(map[string]string, len(p.Labels))
		for k, v := range p.Labels {
			m.Labels[k] = v
		}
	}
	if len(p.Addresses) > 0 {
		m.Addresses = make([][]byte, len(p.Addresses))
		for i, a := range p.Addresses {
			m.Addresses[i] = addrBytes(a)
		}
	}
	return m
}

// addrBytes is the 4- or 16-byte form of a; nil for the zero Addr. An
// IPv4-mapped IPv6 address stays 16 bytes, so it comes back as it was.
func addrBytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

func strBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
