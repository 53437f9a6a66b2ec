package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/probe"
	"github.com/wirewatch/wirewatch/internal/sketch"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// TestThreeProbesMergeToWholeCapture runs three probes on disjoint parts
// of one capture (TCP, UDP, everything else: tcpdump filters), reporting
// to one center over gRPC, and checks that the center's global summary —
// the merge of the three probes' windows — equals the summary of the
// whole capture read by one probe: counters exactly, quantiles and
// distinct counts within the sketches' documented error, top-N lists
// within Space-Saving's bounds.
func TestThreeProbesMergeToWholeCapture(t *testing.T) {
	path := corpus.Path(t, "pcapplusplus/PcapExamples/example2.pcap")
	period := time.Hour
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	cfg := config.DefaultCenter()
	cfg.DataDir = t.TempDir()
	cfg.GRPC.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Retention.MaxAge = 100 * 365 * 24 * time.Hour // the capture is old
	parts := []struct{ id, filter string }{{"part-tcp", "tcp"}, {"part-udp", "udp"}, {"part-other", "not tcp and not udp"}}
	tokens := map[string]string{}
	for _, p := range parts {
		tokens[p.id] = randomToken()
	}
	cfg.GRPC.Tokens = tokens
	c, err := center.New(cfg, center.Options{Version: "test", ReportInterval: period}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopCenter(c, log)

	pcfg := config.DefaultProbe()
	pcfg.Summary.Period = period
	pcfg.Summary.TopN = 10
	for _, p := range parts {
		opt, err := probe.OptionsFrom(pcfg)
		if err != nil {
			t.Fatal(err)
		}
		opt.Filter = p.filter
		stop, err := startReport(config.Report{Address: c.IngestAddr(), ID: p.id, Token: tokens[p.id], Insecure: true,
			SpoolDir: filepath.Join(t.TempDir(), p.id)}, []string{"example2.pcap"}, false, &opt, log)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := probe.ReadFile(context.Background(), path, opt, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := stop(ctx); err != nil {
			t.Fatalf("%s: delivering: %v", p.id, err)
		}
		cancel()
	}

	opt, err := probe.OptionsFrom(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := probe.ReadFile(context.Background(), path, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	whole := res.Whole.Report(10, true, len(res.Windows))

	var resp struct {
		Probes  []string        `json:"probes"`
		Windows int             `json:"windows"`
		Report  *summary.Report `json:"report"`
	}
	q := url.Values{"from": {time.Unix(0, res.Whole.Start).UTC().Format(time.RFC3339)}, "to": {time.Unix(0, res.Whole.End).UTC().Format(time.RFC3339)}}
	getJSON(t, "http://"+c.APIAddr()+"/api/v1/summary?"+q.Encode(), &resp)
	got := resp.Report
	if got == nil || len(resp.Probes) != 3 {
		t.Fatalf("center merged %d windows of probes %v; want the three parts", resp.Windows, resp.Probes)
	}
	t.Logf("merged %d windows of %v: %d packets, %d bytes (whole: %d, %d)", resp.Windows, resp.Probes,
		got.Packets.Total, got.Bytes.Total, whole.Packets.Total, whole.Bytes.Total)

	// Counters: exactly.
	if got.Packets.Counters != whole.Packets.Counters || got.Bytes.Counters != whole.Bytes.Counters {
		t.Errorf("counters differ:\n merged packets %+v bytes %+v\n whole  packets %+v bytes %+v",
			got.Packets.Counters, got.Bytes.Counters, whole.Packets.Counters, whole.Bytes.Counters)
	}
	if got.Flows.Created != whole.Flows.Created {
		t.Errorf("flows created: merged %d, whole %d", got.Flows.Created, whole.Flows.Created)
	}
	for name, w := range whole.L7 {
		if g := got.L7[name]; g.Transactions != w.Transactions {
			t.Errorf("l7 %s transactions: merged %d, whole %d", name, g.Transactions, w.Transactions)
		}
	}
	// Distinct counts: HyperLogLog with 2^14 registers, σ ≈ 0.81 %; a
	// merge is the union of registers, so 3σ is generous.
	card := func(name string, g, w uint64) {
		if math.Abs(float64(g)-float64(w)) > 0.025*float64(w)+1 {
			t.Errorf("cardinality %s: merged %d, whole %d", name, g, w)
		}
	}
	card("src_ips", got.Packets.Cardinality.SrcIPs, whole.Packets.Cardinality.SrcIPs)
	card("dst_ips", got.Packets.Cardinality.DstIPs, whole.Packets.Cardinality.DstIPs)
	// Quantiles: relative accuracy α = 1 %.
	quant := func(name string, g, w summary.Quantiles) {
		for _, pair := range [][2]float64{{g.P50, w.P50}, {g.P90, w.P90}, {g.P99, w.P99}} {
			if math.Abs(pair[0]-pair[1]) > 0.02*math.Abs(pair[1])+1e-9 {
				t.Errorf("quantiles %s: merged %+v, whole %+v", name, g, w)
				return
			}
		}
	}
	quant("payload_size", got.Packets.PayloadSize, whole.Packets.PayloadSize)
	quant("rtt", got.Flows.RTTMicro, whole.Flows.RTTMicro)
	// Top-N: every heavy hitter of the whole capture (its counts are
	// exact: the capture has fewer keys than counters) is in the merged
	// list with its true weight inside [estimate − error, estimate].
	top := func(name string, g, w []sketch.Item) {
		m := map[string]sketch.Item{}
		for _, it := range g {
			m[it.Name] = it
		}
		for i, it := range w {
			if i >= 5 {
				break
			}
			gi, ok := m[it.Name]
			if !ok || it.Estimate > gi.Estimate || it.Estimate < gi.Estimate-gi.Error {
				t.Errorf("top %s: %s weighs %d; merged says %+v (present %v)", name, it.Name, it.Estimate, gi, ok)
			}
		}
	}
	top("ipv4 packets", got.Packets.TopIPv4, whole.Packets.TopIPv4)
	top("ports packets", got.Packets.TopPorts, whole.Packets.TopPorts)
	top("ipv4 bytes", got.Bytes.TopIPv4, whole.Bytes.TopIPv4)
	top("conversations", got.Bytes.TopConversations, whole.Bytes.TopConversations)
}
