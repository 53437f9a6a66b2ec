package capture

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

var filterExprs = []string{
	"tcp",
	"udp port 53",
	"vlan 118",
	"vlan and tcp",
	"ip6",
	"host 8.8.8.8",
	"net 192.168.0.0/16",
	"tcp[tcpflags] & tcp-syn != 0",
	"ether dst 00:13:c3:df:ae:18",
	"ip[6:2] & 0x1fff != 0",
	"greater 1000",
	"portrange 8000-9000",
	"not arp",
	"icmp or icmp6",
	"ip proto 47",
	"ether proto 0x8100",
	"less 64",
	"tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
}

var filterFiles = []string{
	"pcapplusplus/PcapExamples/VlanPackets.pcap",
	"pcapplusplus/PcapExamples/example.pcap",
	"pcapplusplus/PcapExamples/sll.pcap",
	"pcapplusplus/PcapExamples/sll2.pcap",
	"pcapplusplus/PcapExamples/raw_ip.pcap",
	"pcapplusplus/PcapExamples/linktype_ipv4.pcap",
	"pcapplusplus/PcapExamples/linktype_ipv6.pcap",
	"pcapplusplus/PcapExamples/null_loopback.pcap",
	"pcapplusplus/PcapExamples/ip4_fragments.pcap",
	"pcapplusplus/PcapExamples/ip6_fragments.pcap",
	"pcapplusplus/PcapExamples/GrePackets.cap",
	"pktvisor/dns_udp_tcp_random.pcap",
	"pktvisor/dns_ipv6_udp.pcap",
	"deepflow/flow_generator/postgre/pgsql-all.pcap", // snap-truncated frames: loads past the end
	"tcpdump/babel_update_oobr.pcap",                 // idem
	"deepflow/common/ipip.pcap",                      // VLAN-tagged TCP
	"deepflow/flow_generator/mysql/binary-in-sql.pcap",
	"tcpdump/icmp6-rfc8335.pcap", // ICMP and ICMPv6
	"deepflow/common/decapsulate_test.pcap",
	"pcapplusplus/PcapExamples/pcapng-example.pcapng", // Ethernet and SLL in one file
	"pcapplusplus/PcapExamples/many_interfaces-1.pcapng",
}

// TestFilterMatchesLibpcap proves that our interpreter gives libpcap's
// verdict (pcap_offline_filter, what tcpdump -r runs) on every frame of
// several captures for every expression, and that the counts equal
// tcpdump's own when tcpdump is installed.
func TestFilterMatchesLibpcap(t *testing.T) {
	_, tcpdumpErr := exec.LookPath("tcpdump")
	matchedSomewhere := map[string]int{}
	for _, rel := range filterFiles {
		path := corpus.Path(t, rel)
		frames, _ := readFile(t, path, FileOptions{})
		links := map[LinkType]bool{}
		for _, f := range frames {
			links[f.LinkType] = true
		}
		src, err := OpenFile(path, FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		swapped := src.(*fileSource).filterSwapped()
		src.Close()
		for _, expr := range filterExprs {
			ours := map[LinkType]*Filter{}
			theirs := map[LinkType]*pcap.BPF{}
			for lt := range links {
				f, err1 := compileFilter(expr, lt, 0, true, swapped)
				// What tcpdump -r compiles: from a handle on the file,
				// or for pcapng (libpcap only knows the first link
				// type) on a file of that link type and byte order.
				hpath := path
				if strings.HasSuffix(rel, ".pcapng") {
					hpath = pcapHeaderFile(t, lt, swapped != hostBigEndian)
				}
				h, err := pcap.OpenOffline(hpath)
				if err != nil {
					t.Fatal(err)
				}
				b, err2 := h.NewBPF(expr)
				h.Close()
				if (err1 == nil) != (err2 == nil) {
					t.Fatalf("%s %q link %d: our compile error %v, libpcap's %v", rel, expr, lt, err1, err2)
				}
				if err1 != nil && !strings.Contains(err1.Error(), err2.Error()) {
					t.Errorf("our error %q does not quote libpcap's %q", err1, err2)
				}
				ours[lt], theirs[lt] = f, b
			}
			matched := 0
			for i, f := range frames {
				o, l := ours[f.LinkType], theirs[f.LinkType]
				if o == nil {
					continue // expression not valid for this link type: no match
				}
				ci := gopacket.CaptureInfo{CaptureLength: len(f.data), Length: f.WireLen}
				got, want := o.Match(f.data, f.WireLen), l.Matches(ci, f.data)
				if got != want {
					t.Errorf("%s frame %d %q: ours %v, libpcap %v", rel, i, expr, got, want)
				}
				if got {
					matched++
				}
			}
			matchedSomewhere[expr] += matched
			if len(frames) > 0 && ours[frames[0].LinkType] == nil {
				// OpenFile rejects an expression invalid for the
				// first link type, as tcpdump does.
				if _, err := OpenFile(path, FileOptions{Filter: expr}); err == nil {
					t.Errorf("%s %q: OpenFile accepted an expression libpcap rejects", rel, expr)
				}
				continue
			}
			// The same through OpenFile: delivered + filtered = all.
			got, st := readFile(t, path, FileOptions{Filter: expr})
			if len(got) != matched || st.Packets != uint64(matched) || st.FilteredOut != uint64(len(frames)-matched) {
				t.Errorf("%s %q: OpenFile delivered %d, filtered %d; interpreter matched %d of %d", rel, expr, len(got), st.FilteredOut, matched, len(frames))
			}
			if tcpdumpErr == nil && !testing.Short() && !strings.HasSuffix(rel, ".pcapng") {
				if n := tcpdumpCount(t, path, expr); n != matched {
					t.Errorf("%s %q: we match %d frames, tcpdump %d", rel, expr, matched, n)
				}
			}
		}
	}
	for _, expr := range filterExprs {
		if matchedSomewhere[expr] == 0 {
			t.Errorf("%q matched no frame in any file: not a useful test", expr)
		}
	}
}

// pcapHeaderFile writes a capture with only a file header.
func pcapHeaderFile(t *testing.T, lt LinkType, big bool) string {
	return writeTemp(t, "hdr.pcap", pcapBytes(big, false, uint32(lt)))
}

// TestFilterLiveVersusSavefile: for DLT_NULL, libpcap compiles different
// code for a file (every OS's AF_INET6) than for a live handle (Linux's);
// CompileFilter is the live one, files get tcpdump -r's.
func TestFilterLiveVersusSavefile(t *testing.T) {
	live, err := CompileFilter("ip6", LinkNull, 0)
	if err != nil {
		t.Fatal(err)
	}
	file, err := compileFilter("ip6", LinkNull, 0, true, false)
	if err != nil {
		t.Fatal(err)
	}
	bsd := []byte{30, 0, 0, 0, 0x60, 0, 0, 0}
	linux := []byte{10, 0, 0, 0, 0x60, 0, 0, 0}
	if hostBigEndian {
		bsd[0], bsd[3], linux[0], linux[3] = 0, 30, 0, 10
	}
	if !file.Match(bsd, 8) || live.Match(bsd, 8) || !live.Match(linux, 8) {
		t.Fatal("live/savefile DLT_NULL semantics")
	}
}

// TestFilterPeerExpectations checks what PcapPlusPlus asserts about
// VlanPackets.pcap (FilterTests.cpp).
func TestFilterPeerExpectations(t *testing.T) {
	path := corpus.Path(t, "pcapplusplus/PcapExamples/VlanPackets.pcap")
	all, _ := readFile(t, path, FileOptions{})
	for expr, want := range map[string]int{
		"vlan 118":                    12,
		"ether proto 0x8100":          24,
		"ether dst 00:13:c3:df:ae:18": 5,
	} {
		frames, st := readFile(t, path, FileOptions{Filter: expr})
		if len(frames) != want || st.Packets != uint64(want) || st.Packets+st.FilteredOut != uint64(len(all)) {
			t.Errorf("%q: %d frames (%+v), want %d of %d", expr, len(frames), st, want, len(all))
		}
	}
}

func TestCompileFilterErrors(t *testing.T) {
	_, err := CompileFilter("tcp port", LinkEthernet, 0)
	if err == nil || !strings.Contains(err.Error(), "syntax error") || !strings.Contains(err.Error(), `"tcp port"`) {
		t.Fatalf("error %v", err)
	}
	// libpcap refuses Ethernet addresses on raw IP; so do we, quoting it.
	_, err = CompileFilter("ether host 00:11:22:33:44:55", LinkRaw, 0)
	if err == nil {
		t.Fatal("no error")
	}
	// OpenFile reports a bad expression, naming the file.
	p := corpus.Path(t, "pcapplusplus/PcapExamples/VlanPackets.pcap")
	if _, err := OpenFile(p, FileOptions{Filter: "port 99999999"}); err == nil || !strings.Contains(err.Error(), "VlanPackets.pcap") {
		t.Fatalf("OpenFile: %v", err)
	}
}

func TestFilterRaw(t *testing.T) {
	f, err := CompileFilter("udp port 53", LinkEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := f.Raw()
	ins, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, DefaultSnapLen, "udp port 53")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(ins) {
		t.Fatalf("%d instructions, libpcap %d", len(raw), len(ins))
	}
	for i := range ins {
		if raw[i].Op != ins[i].Code || raw[i].Jt != ins[i].Jt || raw[i].Jf != ins[i].Jf || raw[i].K != ins[i].K {
			t.Fatalf("instruction %d: %+v vs %+v", i, raw[i], ins[i])
		}
	}
	raw[0].K = 12345 // a copy: the filter is unchanged
	if f.Raw()[0].K == 12345 {
		t.Fatal("Raw exposes the program")
	}
	if f.String() != "udp port 53" || f.LinkType() != LinkEthernet {
		t.Fatal("String/LinkType")
	}
}

// TestFilterPcapngLinkTypes: one expression over a file mixing Ethernet and
// SLL is compiled per link type (tcp is at a different offset in each).
func TestFilterPcapngLinkTypes(t *testing.T) {
	p := corpus.Path(t, "pcapplusplus/PcapExamples/pcapng-example.pcapng")
	frames, st := readFile(t, p, FileOptions{Filter: "tcp"})
	byLink := map[LinkType]int{}
	for _, f := range frames {
		byLink[f.LinkType]++
	}
	// PcapPlusPlus: all 159 frames are TCP (59 Ethernet, 100 SLL).
	if len(frames) != 159 || byLink[LinkEthernet] != 59 || byLink[LinkSLL] != 100 || st.FilteredOut != 0 {
		t.Fatalf("%d frames %v %+v", len(frames), byLink, st)
	}
	// "ether host" compiles for Ethernet, not for SLL: the SLL frames
	// are filtered out rather than failing the file.
	frames, st = readFile(t, p, FileOptions{Filter: "ether src 00:00:00:00:00:00 or not ether src 00:00:00:00:00:00"})
	if len(frames) != 59 || st.FilteredOut != 100 {
		t.Fatalf("%d frames %+v", len(frames), st)
	}
}
