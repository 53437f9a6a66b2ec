package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// TestNoFalsePositives runs every detector of this package, and nothing
// else, over the corpus's HTTP, DNS, TLS, MySQL and Redis captures
// (PcapPlusPlus and DeepFlow): none of their flows may be labelled. With
// no other protocol competing, even a Maybe off its port would label a
// flow here, so this checks Maybe verdicts too.
func TestNoFalsePositives(t *testing.T) {
	dir := corpus.Dir()
	if dir == "" {
		corpus.Path(t, "pcapplusplus") // skips (or fails under CI)
	}
	var files []string
	for _, d := range []string{"deepflow/flow_generator/http", "deepflow/flow_generator/dns",
		"deepflow/flow_generator/mysql", "deepflow/flow_generator/redis"} {
		m, _ := filepath.Glob(filepath.Join(dir, d, "*.pcap*"))
		files = append(files, m...)
	}
	for _, f := range []string{
		"pcapplusplus/PcapExamples/4KHttpRequests.pcap",
		"pcapplusplus/PcapExamples/650HttpResponses.pcap",
		"pcapplusplus/PcapExamples/DnsPackets.pcap",
		"pcapplusplus/PcapExamples/four_ipv6_http_streams.pcap",
		"pcapplusplus/PcapExamples/three_http_streams.pcap",
		"pcapplusplus/ExamplesTest/pcap_examples/http-packets2.pcap",
		"pcapplusplus/ExamplesTest/pcap_examples/tls.pcap",
		"pcapplusplus/ExamplesTest/pcap_examples/tls2.pcap",
		"pcapplusplus/PacketExamples/mysql.pcapng",
		"pcapplusplus/PacketExamples/dns_over_tcp.pcapng",
		"pcapplusplus/PacketExamples/Dns.pcap",
		"pcapplusplus/PacketExamples/tls1_3.pcap",
		"pcapplusplus/PacketExamples/SSL-MultipleRecords1.pcap",
		"pcapplusplus/PacketExamples/HttpMalformedResponse.pcapng",
	} {
		files = append(files, corpus.Path(t, f))
	}
	if len(files) < 40 {
		t.Fatalf("only %d captures found", len(files))
	}
	total := 0
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		res := ourFlows(t, f, All...)
		for k, p := range res {
			t.Errorf("%s: %s labelled %s", strings.TrimPrefix(f, dir+"/"), k, p)
		}
		total++
	}
	t.Logf("%d captures, no flow labelled", total)
}
