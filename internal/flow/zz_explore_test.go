package flow

import (
	"fmt"
	"testing"
)

func TestZZExplore(t *testing.T) {
	for _, f := range []string{"ndpi/1kxun.pcap", "pktvisor/dns_udp_tcp_random.pcap", "pcapplusplus/PcapExamples/example.pcap", "ndpi/android.pcap", "ndpi/synscan.pcap", "pcapplusplus/PcapExamples/example2.pcap", "ndpi/alexa-app.pcapng", "pcapplusplus/PcapExamples/one_tcp_stream.pcap", "tcpdump/kday4.pcap", "ndpi/tls_multiple_synack_different_seq.pcapng", "pcapplusplus/ExamplesTest/pcap_examples/tcp-reassembly.pcap", "ndpi/reasm_segv_anon.pcapng"} {
		pk := readCapture(t, f)
		tb := NewTable(DefaultConfig(), nil)
		var re, ooo, hs, n int
		for i := range pk {
			ev := tb.Observe(&pk[i])
			if ev.Retransmission { re++ }
			if ev.OutOfOrder { ooo++ }
			if ev.HandshakeRTT > 0 { hs++ }
			if ev.New { n++ }
		}
		fmt.Printf("%s pkts=%d flows=%d retrans=%d ooo=%d handshakes=%d\n", f, len(pk), n, re, ooo, hs)
	}
}
