package probe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/summary"
)

func testOptions(hosts ...string) Options {
	o := Options{
		Decode:      decode.DefaultConfig(),
		Flows:       flow.DefaultConfig(),
		Period:      60 * time.Second,
		Keep:        5,
		SummaryMode: true,
		TopN:        10,
		TopCapacity: 256,
		Workers:     1,
	}
	for _, h := range hosts {
		o.Hosts = append(o.Hosts, netip.MustParsePrefix(h))
	}
	return o
}

func readReport(t *testing.T, rel string, opt Options) *summary.Report {
	t.Helper()
	res, err := ReadFile(context.Background(), corpus.Path(t, rel), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Whole.Report(opt.TopN, true, len(res.Windows))
}

// pktvisor's net handler tests (src/handlers/net/v1/tests/test_net_layer.cpp,
// transcribed in shared/corpus/peer_expectations.json) assert these counts.
func TestPktvisorNetCounts(t *testing.T) {
	cases := []struct {
		file                             string
		hosts                            []string
		total, ipv4, ipv6, tcp, udp, syn uint64
		in, out                          uint64 // checked when hosts are given
		firstTS, lastTS                  float64
		srcInCard, dstOutCard            uint64
		topIPv4                          string
		topIPv4Count                     uint64
	}{
		{file: "pktvisor/dns_ipv4_tcp.pcap", total: 2100, ipv4: 2100, tcp: 2100, syn: 420, firstTS: 1567706433.056403},
		{file: "pktvisor/dns_ipv4_udp.pcap", total: 140, ipv4: 140, udp: 140, firstTS: 1567706414.599964, lastTS: 1567706420.602866},
		{file: "pktvisor/dns_ipv6_tcp.pcap", total: 1800, ipv6: 1800, tcp: 1800, syn: 360, firstTS: 1567706308.958184},
		{file: "pktvisor/dns_ipv6_udp.pcap", total: 140, ipv6: 140, udp: 140, firstTS: 1567706365.513271},
		{file: "pktvisor/dns_udp_tcp_random.pcap", hosts: []string{"192.168.0.0/24"}, total: 16147, ipv4: 16147, tcp: 13176, udp: 2971, syn: 2846,
			in: 6648, out: 9499, firstTS: 1614874231.565771, srcInCard: 1, dstOutCard: 1, topIPv4: "8.8.8.8", topIPv4Count: 16147},
		{file: "pktvisor/dns_udp_mixed_rcode.pcap", hosts: []string{"192.168.0.0/24"}, total: 24, ipv4: 24, udp: 24, topIPv4: "198.51.44.1", topIPv4Count: 4},
	}
	for _, c := range cases {
		for _, workers := range []int{1, 3} {
			opt := testOptions(c.hosts...)
			opt.Workers = workers
			r := readReport(t, c.file, opt)
			p := r.Packets
			name := c.file
			if p.Total != c.total || p.IPv4 != c.ipv4 || p.IPv6 != c.ipv6 || p.TCP != c.tcp || p.UDP != c.udp || p.OtherL4 != 0 {
				t.Errorf("%s workers=%d: total/ipv4/ipv6/tcp/udp/other = %d/%d/%d/%d/%d/%d, pktvisor %d/%d/%d/%d/%d/0",
					name, workers, p.Total, p.IPv4, p.IPv6, p.TCP, p.UDP, p.OtherL4, c.total, c.ipv4, c.ipv6, c.tcp, c.udp)
			}
			if p.TCPSyn != c.syn {
				t.Errorf("%s: tcp_syn %d, pktvisor %d", name, p.TCPSyn, c.syn)
			}
			if c.in+c.out > 0 && (p.In != c.in || p.Out != c.out) {
				t.Errorf("%s: in/out %d/%d, pktvisor %d/%d", name, p.In, p.Out, c.in, c.out)
			}
			if diff := r.Period.FirstTS - c.firstTS; c.firstTS != 0 && (diff > 1e-6 || diff < -1e-6) {
				t.Errorf("%s: first_ts %.6f, pktvisor %.6f", name, r.Period.FirstTS, c.firstTS)
			}
			if c.lastTS != 0 {
				if diff := r.Period.LastTS - c.lastTS; diff > 1e-6 || diff < -1e-6 {
					t.Errorf("%s: last_ts %.6f, pktvisor %.6f", name, r.Period.LastTS, c.lastTS)
				}
			}
			if c.srcInCard != 0 && (p.Cardinality.SrcIPsIn != c.srcInCard || p.Cardinality.DstIPsOut != c.dstOutCard) {
				t.Errorf("%s: cardinality src_ips_in/dst_ips_out %d/%d, pktvisor %d/%d", name, p.Cardinality.SrcIPsIn, p.Cardinality.DstIPsOut, c.srcInCard, c.dstOutCard)
			}
			if c.topIPv4 != "" {
				if len(p.TopIPv4) == 0 || p.TopIPv4[0].Name != c.topIPv4 || p.TopIPv4[0].Estimate != c.topIPv4Count {
					t.Errorf("%s: top_ipv4 %+v, pktvisor [%s %d]", name, p.TopIPv4, c.topIPv4, c.topIPv4Count)
				}
			}
			if p.In+p.Out+p.Unknown != p.Total {
				t.Errorf("%s: in+out+unknown %d != total %d", name, p.In+p.Out+p.Unknown, p.Total)
			}
		}
	}
}

// pktvisor asserts payload_size p50 >= 66 on dns_udp_tcp_random ("confirmed
// with wireshark"): frame sizes, not transport payloads.
func TestPayloadSizeIsFrameSize(t *testing.T) {
	r := readReport(t, "pktvisor/dns_udp_tcp_random.pcap", testOptions("192.168.0.0/24"))
	if r.Packets.PayloadSize.P50 < 66 {
		t.Fatalf("payload_size p50 %.1f < 66", r.Packets.PayloadSize.P50)
	}
	if r.Packets.PayloadSize.N != r.Packets.Total {
		t.Fatalf("payload_size count %d != packets %d", r.Packets.PayloadSize.N, r.Packets.Total)
	}
}

// PcapPlusPlus (Tests/Pcap++Test/Tests/FileTests.cpp) counts these per file.
func TestPcapPlusPlusCounts(t *testing.T) {
	cases := []struct {
		file                        string
		total, ipv4, ipv6, tcp, udp uint64
	}{
		{"pcapplusplus/PcapExamples/example.pcap", 4631, 4631, 0, 4492, 139},
		{"pcapplusplus/PcapExamples/raw_ip.pcap", 100, 50, 50, 92, 8},
		{"pcapplusplus/PcapExamples/many_interfaces-1.pcapng", 64, 64, 0, 32, 32},
		{"pcapplusplus/PcapExamples/pcapng-example.pcapng", 159, 155, 4, 159, 0},
	}
	for _, c := range cases {
		r := readReport(t, c.file, testOptions())
		p := r.Packets
		if p.Total != c.total || p.IPv4 != c.ipv4 || p.IPv6 != c.ipv6 || p.TCP != c.tcp || p.UDP != c.udp {
			t.Errorf("%s: total/ipv4/ipv6/tcp/udp = %d/%d/%d/%d/%d, PcapPlusPlus %d/%d/%d/%d/%d",
				c.file, p.Total, p.IPv4, p.IPv6, p.TCP, p.UDP, c.total, c.ipv4, c.ipv6, c.tcp, c.udp)
		}
	}
}

// Windows split by packet time must add up to the whole file, and the
// merged view must not depend on how many workers shared the work.
func TestWindowsAddUpAndWorkersAgree(t *testing.T) {
	rel := "pktvisor/dns_udp_tcp_random.pcap"
	base := testOptions("192.168.0.0/24")
	base.SummaryMode = false
	base.Period = 5 * time.Second
	base.Keep = 1000
	var reports []*summary.Report
	for _, workers := range []int{1, 2, 4} {
		opt := base
		opt.Workers = workers
		res, err := ReadFile(context.Background(), corpus.Path(t, rel), opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Total < 2 {
			t.Fatalf("expected several 5s windows, got %d", res.Total)
		}
		var sum uint64
		prevStart := int64(-1 << 62)
		for _, w := range res.Windows {
			sum += w.Packets.Total
			if w.Start <= prevStart || w.End-w.Start != int64(opt.Period) {
				t.Fatalf("window order/bounds wrong: start %d after %d, length %d", w.Start, prevStart, w.End-w.Start)
			}
			prevStart = w.Start
		}
		if sum != 16147 || res.Whole.Packets.Total != 16147 {
			t.Fatalf("workers=%d: windows sum %d, whole %d, want 16147", workers, sum, res.Whole.Packets.Total)
		}
		reports = append(reports, res.Whole.Report(10, true, len(res.Windows)))
	}
	for i, r := range reports[1:] {
		a, b := reports[0], r
		if a.Packets.Counters != b.Packets.Counters || a.Bytes.Counters != b.Bytes.Counters || a.Flows.TCP != b.Flows.TCP {
			t.Errorf("workers run %d differs from 1 worker:\n%+v\n%+v", i+1, b.Packets.Counters, a.Packets.Counters)
		}
		if a.Flows.Created != b.Flows.Created {
			t.Errorf("flows created %d vs %d", b.Flows.Created, a.Flows.Created)
		}
		if len(a.Packets.TopIPv4) == 0 || a.Packets.TopIPv4[0] != b.Packets.TopIPv4[0] {
			t.Errorf("top_ipv4 differs: %+v vs %+v", b.Packets.TopIPv4, a.Packets.TopIPv4)
		}
		if a.Packets.Cardinality != b.Packets.Cardinality {
			t.Errorf("cardinality differs: %+v vs %+v", b.Packets.Cardinality, a.Packets.Cardinality)
		}
	}
}
