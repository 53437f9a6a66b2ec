package probe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// collector exposes the probe to Prometheus. Counters are the sum of every
// closed window plus the open one, so they only grow and are current to
// the scrape; rate and RTT quantiles are those of the last closed window.
type collector struct {
	live *Live
	api  *api
}

var (
	descPackets    = prometheus.NewDesc("wirewatch_packets_total", "Frames seen, by class.", []string{"class"}, nil)
	descBytes      = prometheus.NewDesc("wirewatch_bytes_total", "Wire bytes seen, by class.", []string{"class"}, nil)
	descDevPackets = prometheus.NewDesc("wirewatch_device_packets_total", "Frames per device and direction.", []string{"device", "direction"}, nil)
	descDevBytes   = prometheus.NewDesc("wirewatch_device_bytes_total", "Wire bytes per device and direction.", []string{"device", "direction"}, nil)
	descFlows      = prometheus.NewDesc("wirewatch_flows_total", "Flow life-cycle events.", []string{"event"}, nil)
	descTCP        = prometheus.NewDesc("wirewatch_tcp_events_total", "TCP events.", []string{"event"}, nil)
	descLoss       = prometheus.NewDesc("wirewatch_loss_total", "Frames, fragments or flows lost or not decoded, by cause.", []string{"cause"}, nil)
	descRate       = prometheus.NewDesc("wirewatch_rate", "Per-second rate quantiles in the last closed window.", []string{"rate", "quantile"}, nil)
	descRTT        = prometheus.NewDesc("wirewatch_tcp_rtt_microseconds", "TCP handshake RTT quantiles in the last closed window.", []string{"quantile"}, nil)
	descActive     = prometheus.NewDesc("wirewatch_flows_active", "Flows in the flow tables at the last window close.", nil, nil)
	descWindows    = prometheus.NewDesc("wirewatch_windows_closed_total", "Windows closed since start.", nil, nil)
	descL7Tx       = prometheus.NewDesc("wirewatch_l7_transactions_total", "Decoded transactions, by protocol and outcome.", []string{"protocol", "outcome"}, nil)
	descL7Bytes    = prometheus.NewDesc("wirewatch_l7_message_bytes_total", "L7 request and response bytes of decoded transactions.", []string{"protocol", "direction"}, nil)
	descL7SQLi     = prometheus.NewDesc("wirewatch_l7_sqli_total", "Transactions flagged with an SQL-injection pattern.", []string{"protocol"}, nil)
	descL7Latency  = prometheus.NewDesc("wirewatch_l7_latency_microseconds", "Transaction latency quantiles in the last closed window.", []string{"protocol", "quantile"}, nil)
	descDNS        = prometheus.NewDesc("wirewatch_dns_wire_packets_total", "DNS messages (pktvisor's wire_packets), by kind.", []string{"kind"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPackets, descBytes, descDevPackets, descDevBytes, descFlows, descTCP, descLoss, descRate, descRTT, descActive, descWindows,
		descL7Tx, descL7Bytes, descL7SQLi, descL7Latency, descDNS} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	w := c.live.windows
	closed := w.Closed()
	var last *summary.Bucket
	if len(closed) > 0 {
		last = closed[len(closed)-1]
	}
	totals := c.live.closedTotals()
	if cur := c.live.Current(); cur != nil {
		totals.Add(cur)
	}
	ch <- prometheus.MustNewConstMetric(descWindows, prometheus.CounterValue, float64(w.Total()))
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	p, b := totals.Packets, totals.Bytes
	for _, kv := range []struct {
		name   string
		pk, by uint64
	}{
		{"total", p.Total, b.Total}, {"ipv4", p.IPv4, b.IPv4}, {"ipv6", p.IPv6, b.IPv6},
		{"tcp", p.TCP, b.TCP}, {"udp", p.UDP, b.UDP}, {"other_l4", p.OtherL4, b.OtherL4},
		{"non_ip", p.NonIP, b.NonIP}, {"ip_fragments", p.Fragments, b.Fragments},
		{"in", p.In, b.In}, {"out", p.Out, b.Out}, {"unknown_dir", p.Unknown, b.Unknown},
	} {
		counter(descPackets, kv.pk, kv.name)
		counter(descBytes, kv.by, kv.name)
	}
	for name, d := range totals.Devices {
		counter(descDevPackets, d.In.Packets, name, "in")
		counter(descDevPackets, d.Out.Packets, name, "out")
		counter(descDevPackets, d.Other.Packets, name, "other")
		counter(descDevBytes, d.In.Bytes, name, "in")
		counter(descDevBytes, d.Out.Bytes, name, "out")
		counter(descDevBytes, d.Other.Bytes, name, "other")
	}
	f := totals.Flows
	counter(descFlows, f.Created, "created")
	counter(descFlows, f.EndedIdle, "ended_idle")
	counter(descFlows, f.EndedClosed, "ended_closed")
	counter(descFlows, f.EndedActive, "ended_active_timeout")
	counter(descFlows, f.Evicted, "evicted")
	t := totals.TCP
	counter(descTCP, t.SYN, "syn")
	counter(descTCP, t.SYNACK, "synack")
	counter(descTCP, t.Handshakes, "handshake")
	counter(descTCP, t.FIN, "fin")
	counter(descTCP, t.Resets, "reset")
	counter(descTCP, t.Retransmissions, "retransmission")
	counter(descTCP, t.OutOfOrder, "out_of_order")
	l := totals.Loss
	cs := c.live.CaptureStats()
	counter(descLoss, cs.KernelDrops, "kernel_drop")
	counter(descLoss, cs.FilteredOut, "filtered_out")
	counter(descLoss, l.UnsupportedLink, "unsupported_link")
	counter(descLoss, l.FlowsEvicted, "flow_evicted")
	for reason, v := range l.Malformed {
		counter(descLoss, v, "malformed_"+reason)
	}
	for reason, v := range l.FragmentsDropped {
		counter(descLoss, v, "fragment_"+reason)
	}
	for reason, v := range l.L7 {
		counter(descLoss, v, "l7_"+reason)
	}
	for name, ps := range totals.L7 {
		for o, v := range ps.Outcomes {
			if v > 0 || o <= int(l7.OutcomeNoRequest) {
				counter(descL7Tx, v, name, l7.Outcome(o).String())
			}
		}
		counter(descL7Bytes, ps.ReqBytes, name, "request")
		counter(descL7Bytes, ps.RespBytes, name, "response")
		counter(descL7SQLi, ps.SQLi, name)
	}
	if d := totals.DNS; d.Total > 0 {
		for _, kv := range []struct {
			k string
			v uint64
		}{{"total", d.Total}, {"queries", d.Queries}, {"replies", d.Replies}, {"noerror", d.NoError}, {"nxdomain", d.NXDomain},
			{"refused", d.Refused}, {"srvfail", d.SrvFail}, {"nodata", d.NoData}, {"tcp", d.TCP}, {"udp", d.UDP}, {"ipv4", d.IPv4}, {"ipv6", d.IPv6}} {
			counter(descDNS, kv.v, kv.k)
		}
	}
	if last != nil {
		rep := c.api.report(last, true, 1)
		for name, q := range rep.Packets.Rates {
			for _, qv := range []struct {
				q string
				v float64
			}{{"0.5", q.P50}, {"0.9", q.P90}, {"0.95", q.P95}, {"0.99", q.P99}} {
				ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, qv.v, name, qv.q)
			}
		}
		for _, qv := range []struct {
			q string
			v float64
		}{{"0.5", rep.Flows.RTTMicro.P50}, {"0.9", rep.Flows.RTTMicro.P90}, {"0.95", rep.Flows.RTTMicro.P95}, {"0.99", rep.Flows.RTTMicro.P99}} {
			ch <- prometheus.MustNewConstMetric(descRTT, prometheus.GaugeValue, qv.v, qv.q)
		}
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(last.Flows.ActiveAtClose))
		for name, pr := range rep.L7 {
			if pr.LatencyMicro.N == 0 {
				continue
			}
			for _, qv := range []struct {
				q string
				v float64
			}{{"0.5", pr.LatencyMicro.P50}, {"0.9", pr.LatencyMicro.P90}, {"0.95", pr.LatencyMicro.P95}, {"0.99", pr.LatencyMicro.P99}} {
				ch <- prometheus.MustNewConstMetric(descL7Latency, prometheus.GaugeValue, qv.v, name, qv.q)
			}
		}
	}
}
