package http

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// tsharkFields is what testdata/tshark/*.tsv hold, one HTTP message per
// line, after a first line with the tshark version and command:
//
//	tshark -r FILE -Y 'http.request || http.response' -T fields -E aggregator=\x1f \
//	    -e frame.number -e tcp.srcport -e tcp.dstport -e http.request.method -e http.request.uri -e http.response.code
//
// (tshark 4.0.17; no frame of these captures holds two messages, so the
// aggregator never shows.) Running tshark takes about 2 s per file here,
// so the test reads the files; WIREWATCH_TSHARK=1 runs tshark as well and
// checks that the files are what it prints.
var tsharkFields = []string{"frame.number", "tcp.srcport", "tcp.dstport", "http.request.method", "http.request.uri", "http.response.code"}

func tsharkFile(file string) string {
	return filepath.Join("testdata", "tshark", strings.ReplaceAll(file, "/", "_")+".tsv")
}

// tsharkMessages lists the HTTP requests ("Q ports method uri") and
// responses ("R ports code") tshark dissects in a capture, ports being the
// flow's two ports, lower first.
func tsharkMessages(t *testing.T, file, path string) []string {
	t.Helper()
	b := readFile(t, tsharkFile(file))
	first, rows, _ := strings.Cut(string(b), "\n")
	if !strings.HasPrefix(first, "# TShark") {
		t.Fatalf("%s: no command line", tsharkFile(file))
	}
	if os.Getenv("WIREWATCH_TSHARK") != "" {
		args := []string{"-r", path, "-Y", "http.request || http.response", "-T", "fields", "-E", "aggregator=\x1f"}
		for _, f := range tsharkFields {
			args = append(args, "-e", f)
		}
		live, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if string(live) != rows {
			t.Errorf("tshark prints:\n%s\n%s has:\n%s", live, tsharkFile(file), rows)
		}
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(rows, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != len(tsharkFields) {
			continue
		}
		if f[3] != "" {
			out = append(out, "Q "+ports(f[1], f[2])+" "+f[3]+" "+f[4])
		}
		if f[5] != "" {
			out = append(out, "R "+ports(f[1], f[2])+" "+f[5])
		}
	}
	return out
}

func ports(a, b string) string {
	if len(a) > len(b) || len(a) == len(b) && a > b {
		a, b = b, a
	}
	return a + "-" + b
}

// diff returns the lines of a not in b and of b not in a (multisets),
// sorted, as "+line" (ours only) and "-line" (tshark only).
func diff(a, b []string) []string {
	n := map[string]int{}
	for _, x := range a {
		n[x]++
	}
	for _, x := range b {
		n[x]--
	}
	var out []string
	for k, v := range n {
		for ; v > 0; v-- {
			out = append(out, "+"+k)
		}
		for ; v < 0; v++ {
			out = append(out, "-"+k)
		}
	}
	sort.Strings(out)
	return out
}

// TestTshark compares, message by message, the requests and responses of
// the transactions with those tshark (which reassembles TCP too)
// dissects. tshark reports a message when its PDU is complete; the parser
// reports a transaction whose message the capture cuts (at End or at a
// gap), marked truncated. Every difference is listed with its reason.
func TestTshark(t *testing.T) {
	cases := []struct {
		file string
		diff []string // "+": the parser only, "-": tshark only
		why  string
	}{
		{file: "deepflow/flow_generator/http.pcap"},
		{file: "deepflow/flow_generator/http/httpv1.pcap"},
		{file: "deepflow/flow_generator/http/sw8.pcap"},
		{file: "deepflow/flow_generator/http/client-ip.pcap",
			diff: []string{"+Q 8080-54034 POST /biz-inquiry-bff/bff/v1/common/check/polymerization?channel=webportal&terminalType=bff", "+R 8080-54034 200"},
			why:  "the capture has the first segment of the request (its header block cut) and of the chunked response: tshark waits for the rest"},
		{file: "deepflow/flow_generator/http/istio-tcp-frag.pcap",
			diff: []string{"+R 9080-36493 200"},
			why:  "the response segment is its status line alone; tshark waits for the headers"},
		{file: "ndpi/http-lines-split.pcap"},
		{file: "ndpi/http-manipulated.pcap",
			diff: []string{"+Q 8080-33684 GET /aaaaaaaaaaaaaaaaaaaaaaaa_very_long_uri", "-Q 8080-33684 GET ", "+R 8080-33684 200"},
			why: "the request line has 18 spaces after the method: tshark's URI is the empty string before the second one; " +
				"the rick.gif response announces 889479 bytes and the capture ends after 40 KB: tshark waits for the rest"},
		{file: "ndpi/http-proxy.pcapng"},
		{file: "ndpi/http.pcapng"},
		{file: "ndpi/http2.pcapng"},
		{file: "ndpi/http_asymmetric.pcapng"},
		{file: "ndpi/http_auth.pcap"},
		{file: "ndpi/http_connect.pcap"},
		{file: "ndpi/http_invalid_server.pcap"},
		{file: "ndpi/http_ipv6.pcap"},
		{file: "ndpi/http_on_sip_port.pcap",
			diff: []string{"+Q 5060-8888 GET /star-123456/index.m3u8?token=89b198b8844824ca15b8b379c26fc1b7dfcba368-5KUJTJ5Y73AGIAOV-1618753174-1618742374", "+R 5060-8888 403"},
			why:  "tshark dissects port 5060 as SIP; the parser is chosen by content"},
		{file: "ndpi/http_starting_with_reply.pcapng"},
		{file: "ndpi/http_ua_splitted_in_two_pkts.pcapng"},
		{file: "ndpi/windowsupdate_over_http.pcap",
			diff: []string{"+R 80-49815 206"},
			why:  "the 206 announces more body than the capture holds: tshark waits for the rest"},
		{file: "pcapplusplus/ExamplesTest/pcap_examples/http-packets.pcap"},
		{file: "pcapplusplus/ExamplesTest/pcap_examples/http-packets2.pcap"},
		{file: "pcapplusplus/ExamplesTest/pcap_examples/http_req.pcap"},
		{file: "pcapplusplus/PacketExamples/HttpMalformedResponse.pcapng",
			diff: []string{"+R 80-59812 403"},
			why:  "one segment: a 403 whose chunked body is cut by garbage bytes; tshark waits for the end of the chunked body"},
		{file: "pcapplusplus/PacketExamples/PartialHttpRequest.pcap",
			diff: []string{"+Q 80-59973 GET /spa/vendor.bundle.5d388fb8db38cec4d554.js"},
			why:  "one segment, a request whose header block it cuts; tshark waits for the rest"},
		{file: "pcapplusplus/PacketExamples/TwoHttpRequests.pcap"},
		{file: "pcapplusplus/PacketExamples/TwoHttpResponses.pcap",
			diff: []string{"+R 80-60379 200", "+R 80-60399 404"},
			why:  "each flow has one segment, a response's first 1360 bytes; tshark waits for the rest of the body"},
		{file: "pcapplusplus/PcapExamples/example.pcap",
			diff: []string{"+Q 5005-49682 SUBSCRIBE /evt/CmnIfCfg", "+R 80-44152 200", "+R 80-44153 200"},
			why: "tshark does not try HTTP on port 5005 (this UPnP GENA SUBSCRIBE); the parser is chosen by content; " +
				"the two 200s on ports 44152 and 44153 lose body segments at the end of the capture: tshark waits for them"},
		{file: "pcapplusplus/PcapExamples/four_ipv6_http_streams.pcap"},
		{file: "pcapplusplus/PcapExamples/frag_http_req.pcap"},
		{file: "pcapplusplus/PcapExamples/one_http_stream_fin.pcap"},
		{file: "pcapplusplus/PcapExamples/one_http_stream_fin2.pcap"},
		{file: "pcapplusplus/PcapExamples/one_http_stream_rst.pcap"},
		{file: "pcapplusplus/PcapExamples/one_ipv6_http_stream.pcap"},
		{file: "pcapplusplus/PcapExamples/three_http_streams.pcap"},
		{file: "tcpdump/ipv4_tcp_http_xml.pcap"},
		{file: "tcpdump/ipv4_tcp_http_xml_tso.pcap"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.file, "/", "_"), func(t *testing.T) {
			path := corpus.Path(t, c.file)
			r := l7test.ReadFile(t, path, Protocol)
			var ours []string
			for _, tx := range r.Txs {
				p := ports(fmt.Sprint(tx.Client.Port()), fmt.Sprint(tx.Server.Port()))
				if tx.Op != nil {
					ours = append(ours, "Q "+p+" "+string(tx.Op)+" "+string(tx.Target))
				}
				if tx.Status != nil {
					ours = append(ours, "R "+p+" "+string(tx.Status))
				}
			}
			ts := tsharkMessages(t, c.file, path)
			got := diff(ours, ts)
			want := append([]string(nil), c.diff...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("differences with tshark (%d messages; ours %d):\n%s\nwant:\n%s", len(ts), len(ours),
					strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if r.Stats.ParserPanics != 0 {
				t.Errorf("%d parser panics", r.Stats.ParserPanics)
			}
		})
	}
}
