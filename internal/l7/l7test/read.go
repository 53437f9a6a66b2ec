package l7test

import (
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Flow is one flow of a ReadFile run, as the flow table ended it.
type Flow struct {
	Client, Server netip.AddrPort
	Transport      l7.Transport
	// Proto is the L7 protocol detected on the flow ("" if none).
	Proto string
}

// Result is what ReadFile saw.
type Result struct {
	// Txs are the transactions in the order the parsers emitted them
	// (cloned: they own their bytes).
	Txs []*l7.Transaction
	// Flows are the TCP and UDP flows in the order they ended.
	Flows []Flow
	// Stats are the Tracker's counters at the end (drops by reason,
	// bytes not parsed by reason, panics, reassembly counters).
	Stats l7.Stats
	// Frames is the number of frames read.
	Frames int
}

// Count returns how many flows were detected as proto.
func (r *Result) Count(proto string) int {
	n := 0
	for _, f := range r.Flows {
		if f.Proto == proto {
			n++
		}
	}
	return n
}

type collector struct{ txs []*l7.Transaction }

func (c *collector) Transaction(t *l7.Transaction) { c.txs = append(c.txs, t.Clone()) }

// ReadFile runs the probe's pipeline over a capture file: capture,
// decode (tunnels, defragmentation), the flow table (which decides who
// the client is), TCP reassembly, content detection among protos (in the
// order given; ports as hints), and their parsers, with the default
// Tracker configuration. It fails the test if the file cannot be opened;
// frames the pipeline cannot decode are skipped, as the probe does.
func ReadFile(t testing.TB, path string, protos ...*l7.Protocol) *Result {
	t.Helper()
	return ReadFileConfig(t, path, l7.DefaultConfig(), protos...)
}

// ReadFileConfig is ReadFile with a Tracker configuration.
func ReadFileConfig(t testing.TB, path string, cfg l7.Config, protos ...*l7.Protocol) *Result {
	t.Helper()
	src, err := capture.OpenFile(path, capture.FileOptions{})
	if err != nil {
		t.Fatalf("l7test: %v", err)
	}
	defer src.Close()
	res, err := Run(src, cfg, protos...)
	if err != nil {
		t.Fatalf("l7test: %s: %v", path, err)
	}
	return res
}

// Run is ReadFileConfig over an open source; it returns the source's
// error if reading stopped on one (the frames before it are processed).
func Run(src capture.Source, cfg l7.Config, protos ...*l7.Protocol) (*Result, error) {
	res := &Result{}
	col := &collector{}
	tr, err := l7.NewTracker(cfg, protos, col)
	if err != nil {
		return nil, err
	}
	var tracker *l7.Tracker = tr
	table := flow.NewTable(flow.DefaultConfig(), func(f *flow.Flow, why flow.EndReason) {
		tracker.FlowEnded(f, why)
		if why == flow.EndActive || (f.Proto != decode.ProtoTCP && f.Proto != decode.ProtoUDP) {
			return
		}
		tp := l7.TCP
		if f.Proto == decode.ProtoUDP {
			tp = l7.UDP
		}
		res.Flows = append(res.Flows, Flow{Client: f.Client, Server: f.Server, Transport: tp, Proto: tracker.ProtocolOf(f)})
	})
	dec := decode.New(decode.DefaultConfig())
	var pkt decode.Packet
	var last int64
	var readErr error
	for {
		fr, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		res.Frames++
		if dec.Decode(uint16(fr.LinkType), fr.Data, fr.WireLen, fr.Timestamp, &pkt) != decode.StatusOK {
			continue
		}
		if sec := pkt.Timestamp / 1e9; sec != last/1e9 {
			table.Expire(pkt.Timestamp)
			tracker.Expire(pkt.Timestamp)
		}
		last = pkt.Timestamp
		ev := table.Observe(&pkt)
		tracker.Packet(&ev, &pkt)
	}
	table.Flush()
	tracker.Flush(last)
	res.Txs = col.txs
	res.Stats = tracker.Stats()
	return res, readErr
}
