package probe

import (
	"math"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/sketch"
)

func top(items []sketch.Item) map[string]uint64 {
	m := map[string]uint64{}
	for _, it := range items {
		m[it.Name] = it.Estimate
	}
	return m
}

// pktvisor's DNS handler tests (src/handlers/dns/v1 and v2 tests,
// transcribed in shared/corpus/peer_expectations.json) assert these
// numbers; the dns section is built from transactions, through the whole
// pipeline, with 1 and 3 workers.
func TestPktvisorDNSSummary(t *testing.T) {
	cases := []struct {
		file                                   string
		hosts                                  []string
		total, queries, replies, tcp, udp      uint64
		noerror, nxdomain, refused, srvfail    uint64
		nodata, xacts, xactOut                 uint64
		qname2                                 string
		qname2N                                uint64
		qname3                                 string
		qnameCard                              uint64
		udpPort                                string
		udpPortN                               uint64
		qtypes                                 map[string]uint64
		checkRcodes, checkXactOut, checkNodata bool
	}{
		{file: "pktvisor/dns_ipv4_udp.pcap", total: 140, queries: 70, replies: 70, udp: 140, xacts: 70, qname2: ".test.com", qname2N: 140},
		{file: "pktvisor/dns_ipv4_tcp.pcap", total: 420, queries: 210, replies: 210, tcp: 420, xacts: 210, qname2: ".test.com", qname2N: 420},
		{file: "pktvisor/dns_ipv6_udp.pcap", total: 140, queries: 70, replies: 70, udp: 140, qname2: ".test.com", qname2N: 140},
		{file: "pktvisor/dns_ipv6_tcp.pcap", total: 360, queries: 180, replies: 180, tcp: 360, xacts: 180},
		{file: "pktvisor/dns_udp_tcp_random.pcap", hosts: []string{"192.168.0.0/24"}, total: 5851, queries: 2930, replies: 2921, tcp: 2880, udp: 2971,
			noerror: 2921, nodata: 2254, xacts: 2921, xactOut: 2921, qname2: ".test.com", qname2N: 5851, qnameCard: 2036, udpPort: "57975", udpPortN: 302,
			qtypes:      map[string]uint64{"AAAA": 1476, "CNAME": 825, "SOA": 794, "MX": 757, "A": 717, "NS": 662, "TXT": 620},
			checkRcodes: true, checkXactOut: true, checkNodata: true},
		{file: "pktvisor/dns_udp_mixed_rcode.pcap", hosts: []string{"192.168.0.0/24"}, total: 24, udp: 24, noerror: 10, refused: 1, nxdomain: 1,
			qname2: ".mwbsys.com", qname3: "sirius.mwbsys.com", checkRcodes: true},
	}
	for _, c := range cases {
		for _, workers := range []int{1, 3} {
			opt := testOptions(c.hosts...)
			opt.Workers = workers
			r := readReport(t, c.file, opt)
			d := r.DNS
			if d == nil {
				t.Errorf("%s workers=%d: no dns section", c.file, workers)
				continue
			}
			w := d.WirePackets
			if w.Total != c.total || w.TCP != c.tcp || w.UDP != c.udp {
				t.Errorf("%s workers=%d: dns total/tcp/udp %d/%d/%d, pktvisor %d/%d/%d", c.file, workers, w.Total, w.TCP, w.UDP, c.total, c.tcp, c.udp)
			}
			if c.queries+c.replies > 0 && (w.Queries != c.queries || w.Replies != c.replies) {
				t.Errorf("%s: queries/replies %d/%d, pktvisor %d/%d", c.file, w.Queries, w.Replies, c.queries, c.replies)
			}
			if c.checkRcodes && (w.NoError != c.noerror || w.NXDomain != c.nxdomain || w.Refused != c.refused || w.SrvFail != c.srvfail) {
				t.Errorf("%s: noerror/nxdomain/refused/srvfail %d/%d/%d/%d, pktvisor %d/%d/%d/%d", c.file, w.NoError, w.NXDomain, w.Refused, w.SrvFail,
					c.noerror, c.nxdomain, c.refused, c.srvfail)
			}
			if c.checkNodata && w.NoData != c.nodata {
				t.Errorf("%s: nodata %d, pktvisor %d", c.file, w.NoData, c.nodata)
			}
			if c.xacts > 0 && d.Xact.Counts.Total != c.xacts {
				t.Errorf("%s: xact total %d, pktvisor %d", c.file, d.Xact.Counts.Total, c.xacts)
			}
			if c.checkXactOut && (d.Xact.Out.Total != c.xactOut || d.Xact.In.Total != 0) {
				t.Errorf("%s: xact out/in %d/%d, pktvisor %d/0", c.file, d.Xact.Out.Total, d.Xact.In.Total, c.xactOut)
			}
			if c.qname2 != "" {
				if len(d.TopQName2) == 0 || d.TopQName2[0].Name != c.qname2 || (c.qname2N > 0 && d.TopQName2[0].Estimate != c.qname2N) {
					t.Errorf("%s: top_qname2 %v, pktvisor [%s %d]", c.file, d.TopQName2, c.qname2, c.qname2N)
				}
			}
			if c.qname3 != "" && (len(d.TopQName3) == 0 || d.TopQName3[0].Name != c.qname3) {
				t.Errorf("%s: top_qname3 %v, pktvisor %s", c.file, d.TopQName3, c.qname3)
			}
			// Thousands of distinct client ports (one per TCP query) go
			// through a 256-counter sketch: pktvisor's count must lie
			// within the listed entry's bounds [estimate-error, estimate].
			if c.udpPort != "" {
				found := false
				for _, it := range d.TopUDPPorts {
					found = found || it.Name == c.udpPort && it.Estimate-it.Error <= c.udpPortN && c.udpPortN <= it.Estimate
				}
				if !found {
					t.Errorf("%s: top_udp_ports %v, pktvisor [%s %d]", c.file, d.TopUDPPorts, c.udpPort, c.udpPortN)
				}
			}
			// Both sides estimate: the file has 1999 distinct names
			// (counted from --records); pktvisor's sketch says 2036.
			if c.qnameCard > 0 && math.Abs(float64(d.Cardinality.QName)-float64(c.qnameCard)) > 0.03*float64(c.qnameCard) {
				t.Errorf("%s: cardinality.qname %d, pktvisor %d (two estimates: within 3%%)", c.file, d.Cardinality.QName, c.qnameCard)
			}
			if c.qtypes != nil {
				got := top(d.TopQType)
				for k, v := range c.qtypes {
					if got[k] != v {
						t.Errorf("%s: top_qtype %s = %d, pktvisor %d", c.file, k, got[k], v)
					}
				}
			}
		}
	}
}

// PcapPlusPlus's tests (PacketParsingTests.cpp, the HttpAnalyzer and
// SSLAnalyzer/TLS fingerprinting example tests) count HTTP methods,
// statuses, hosts and TLS handshakes on these captures.
func TestPcapPlusPlusHTTPAndTLSSummary(t *testing.T) {
	// PcapPlusPlus parses each of the 385 packets; 4 of them are
	// retransmitted copies of a request (tshark -Y
	// tcp.analysis.retransmission: frames 15, 113, 297 and 351, all GETs),
	// which reassembly folds into their original: 381 requests, 213 GETs.
	opt := testOptions()
	opt.TopN = 50
	r := readReport(t, "pcapplusplus/PcapExamples/4KHttpRequests.pcap", opt)
	if r.HTTP == nil || r.HTTP.Requests != 385-4 {
		t.Fatalf("4KHttpRequests: http %+v, PcapPlusPlus 385 request packets of which 4 retransmitted copies", r.HTTP)
	}
	m := top(r.HTTP.TopMethods)
	if m["GET"] != 217-4 || m["POST"] != 156 || m["OPTIONS"] != 7 || m["HEAD"] != 5 {
		t.Errorf("4KHttpRequests methods %v, PcapPlusPlus GET 217 (4 copies) POST 156 OPTIONS 7 HEAD 5", m)
	}
	h := top(r.HTTP.TopHosts)
	if h["www.winwin.co.il"] != 20 || h["www.yad2.co.il"] != 15 || h["www.google.com"] != 12 {
		t.Errorf("4KHttpRequests hosts %v, PcapPlusPlus winwin 20, yad2 15, google 12", h)
	}

	r = readReport(t, "pcapplusplus/ExamplesTest/pcap_examples/http-packets2.pcap", testOptions())
	if r.HTTP == nil || r.HTTP.Requests != 57 || r.HTTP.Responses != 58 {
		t.Fatalf("http-packets2: %+v, PcapPlusPlus 57 requests, 58 responses", r.HTTP)
	}
	s := top(r.HTTP.TopStatus)
	if s["200"] != 4 || s["301"] != 53 || s["404"] != 1 {
		t.Errorf("http-packets2 statuses %v, PcapPlusPlus 200:4 301:53 404:1", s)
	}

	r = readReport(t, "pcapplusplus/ExamplesTest/pcap_examples/tls2.pcap", testOptions())
	if r.TLS == nil || r.TLS.ClientHellos != 323 {
		t.Fatalf("tls2: tls %+v, PcapPlusPlus 323 ClientHellos", r.TLS)
	}
	j := top(r.TLS.TopJA3)
	if j["b32309a26951912be7dba376398abc3b"] != 201 || j["a75de44db3e351bbd8d38b64c41f444e"] != 52 || j["80471ac42a1b2f0650bedc57b2b37031"] != 17 {
		t.Errorf("tls2 top JA3 %v, PcapPlusPlus 201/52/17", j)
	}

	r = readReport(t, "pcapplusplus/ExamplesTest/pcap_examples/tls.pcap", testOptions())
	if r.TLS == nil || r.TLS.ClientHellos != 3 || r.TLS.ServerHellos != 3 {
		t.Fatalf("tls.pcap: %+v, PcapPlusPlus 3 ClientHellos, 3 ServerHellos", r.TLS)
	}
	v := top(r.TLS.TopVersions)
	if v["TLS 1.3"] != 1 || v["TLS 1.2"] != 1 || v["TLS 1.0"] != 1 {
		t.Errorf("tls.pcap versions %v, PcapPlusPlus one each of TLS 1.3, 1.2, 1.0", v)
	}
	sni := top(r.TLS.TopSNI)
	for _, n := range []string{"www.gstatic.com", "ssl.gstatic.com", "bawmashbij"} {
		if sni[n] != 1 {
			t.Errorf("tls.pcap SNI %v, PcapPlusPlus has %s", sni, n)
		}
	}
}

// The l7 section counts every transaction the records carry, by protocol
// and op; protocols with a section of their own (http here) leave the
// generic rankings empty.
func TestL7SectionAgreesWithRecords(t *testing.T) {
	for _, rel := range []string{"deepflow/flow_generator/redis/redis.pcap", "pcapplusplus/ExamplesTest/pcap_examples/http-packets2.pcap"} {
		opt := testOptions()
		perProto, perOp := map[string]uint64{}, map[string]uint64{}
		opt.Records = func(tx *l7.Transaction) {
			perProto[tx.Proto]++
			perOp[tx.Proto+" "+string(tx.Op)]++
		}
		r := readReport(t, rel, opt)
		if len(perProto) == 0 {
			t.Fatalf("%s: no records", rel)
		}
		for proto, n := range perProto {
			s, ok := r.L7[proto]
			if !ok || s.Transactions != n {
				t.Errorf("%s: l7.%s.transactions %d, records %d", rel, proto, s.Transactions, n)
			}
			if s.OK+s.Errors+s.NoResponse+s.NoRequest+s.OneWay != n {
				t.Errorf("%s: %s outcomes %+v do not add up to %d", rel, proto, s, n)
			}
			own := proto == "http"
			if own != (len(s.TopOps) == 0) {
				t.Errorf("%s: %s top_ops %v", rel, proto, s.TopOps)
			}
			for _, it := range s.TopOps {
				if perOp[proto+" "+it.Name] != it.Estimate {
					t.Errorf("%s: %s op %s ranked %d, records %d", rel, proto, it.Name, it.Estimate, perOp[proto+" "+it.Name])
				}
			}
		}
	}
}
