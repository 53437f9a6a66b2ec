package tls

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// tsharkFields are the ClientHello fields compared with Wireshark's
// dissection, in the order of canonicalHello.
var tsharkFields = []string{
	"ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
	"tls.handshake.version", "tls.handshake.session_id_length",
	"tls.handshake.ciphersuite", "tls.handshake.extension.type",
	"tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
	"tls.handshake.extensions_supported_group", "tls.handshake.extensions_ec_point_format",
	"tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
	"tls.handshake.ja3_full",
}

func joinU16(vs []uint16, hex bool) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		if hex {
			fmt.Fprintf(&b, "0x%04x", v)
		} else {
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// canonicalHello renders a ClientHello and its direction like tshark's
// field output, so that the two can be compared field by field.
func canonicalHello(d *direction, ch *ClientHello) []string {
	pf := make([]string, len(ch.ECPointFormats))
	for i, f := range ch.ECPointFormats {
		pf[i] = fmt.Sprint(f)
	}
	ja3, _ := JA3(ch)
	return []string{
		d.Src.Addr().String(), fmt.Sprint(d.Src.Port()), d.Dst.Addr().String(), fmt.Sprint(d.Dst.Port()),
		fmt.Sprintf("0x%04x", ch.LegacyVersion), fmt.Sprint(ch.SessionIDLen),
		joinU16(ch.CipherSuites, true), joinU16(ch.Extensions, false),
		ch.SNI, strings.Join(ch.ALPN, ","),
		joinU16(ch.SupportedGroups, true), strings.Join(pf, ","),
		joinU16(ch.SignatureAlgorithms, true), joinU16(ch.SupportedVersions, true),
		ja3,
	}
}

// tsharkHellos runs tshark over a capture and renders each ClientHello it
// dissects like canonicalHello.
func tsharkHellos(t *testing.T, path string) [][]string {
	t.Helper()
	// Decode port 80 as TLS too (ndpi/tls_port_80.pcapng).
	args := []string{"-r", path, "-d", "tcp.port==80,tls", "-Y", "tls.handshake.type==1", "-T", "fields",
		"-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=|"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	var hellos [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		last := func(s string) string { // inner header of a tunnel
			return s[strings.LastIndexByte(s, ',')+1:]
		}
		src, dst := last(f[0]), last(f[3])
		if src == "" {
			src, dst = last(f[1]), last(f[4])
		}
		hellos = append(hellos, append([]string{src, last(f[2]), dst, last(f[5])}, f[6:]...))
	}
	return hellos
}

// tsharkFiles are the captures whose hellos are compared with tshark's.
var tsharkFiles = []string{
	"pcapplusplus/ExamplesTest/pcap_examples/tls2.pcap",
	"pcapplusplus/ExamplesTest/pcap_examples/tls.pcap",
	"pcapplusplus/PcapExamples/example2.pcap",
	"pcapplusplus/PacketExamples/tls_grease.pcap",
	"pcapplusplus/PacketExamples/tls1_3.pcap",
	"pcapplusplus/PacketExamples/tls_zero_size_ext.pcap",
	"pcapplusplus/PacketExamples/tls_server_hello.pcap",
	"pcapplusplus/PacketExamples/SSL-ClientHello1.pcap",
	"ndpi/443-chrome.pcap", "ndpi/443-curl.pcap", "ndpi/443-firefox.pcap",
	"ndpi/tls_2_reasms.pcapng", "ndpi/tls_2_reasms_b.pcapng", "ndpi/tls_alert.pcap",
	"ndpi/tls_ech.pcapng", "ndpi/tls_esni_sni_both.pcap", "ndpi/tls_false_positives.pcapng",
	"ndpi/tls_invalid_reads.pcap", "ndpi/tls_missing_ch_frag.pcap",
	"ndpi/tls_multiple_synack_different_seq.pcapng", "ndpi/tls_port_80.pcapng",
	"ndpi/tls_unidirectional.pcap", "ndpi/tls_verylong_certificate.pcap",
	"ndpi/tls_with_huge_ch.pcapng", "ndpi/tls_1.3_unidirectional_client.pcapng",
	"ndpi/tls-esni-fuzzed.pcap",
}

// Every ClientHello field we decode, and the JA3 string, equal what
// Wireshark 4.0 dissects, hello by hello, on the TLS captures of the corpus.
// Two tshark habits are masked: it appends signature_algorithms_cert (50)
// to the signature algorithm field, and it stops its JA3 string at the first
// damage in a malformed hello (or even at a missing extension block, where
// JA3 proper, PcapPlusPlus and we keep the empty trailing fields).
func TestClientHelloMatchesTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	if testing.Short() {
		t.Skip("runs tshark on many captures")
	}
	const (
		fSigAlgs = 12
		fJA3     = 14
	)
	total := 0
	for _, rel := range tsharkFiles {
		t.Run(rel, func(t *testing.T) {
			r := runCapture(t, rel)
			theirs := map[string][][]string{} // by 4-tuple, in file order
			for _, f := range tsharkHellos(t, corpus.Path(t, rel)) {
				k := strings.Join(f[:4], " ")
				theirs[k] = append(theirs[k], f)
			}
			for _, h := range r.clients {
				ours := canonicalHello(h.d, h.ch)
				k := strings.Join(ours[:4], " ")
				if len(theirs[k]) == 0 {
					t.Errorf("ClientHello tshark does not see: %q", ours)
					continue
				}
				tf := theirs[k][0]
				theirs[k] = theirs[k][1:]
				if slices.Contains(h.ch.Extensions, 50) {
					ours[fSigAlgs], tf[fSigAlgs] = "*", "*"
				}
				if h.ch.Malformed || len(h.ch.Extensions) == 0 {
					ours[fJA3] = strings.TrimRight(ours[fJA3], ",")
					if !strings.HasPrefix(ours[fJA3], strings.TrimRight(tf[fJA3], ",")) {
						t.Errorf("%s: JA3 %q is not an extension of tshark's %q", k, ours[fJA3], tf[fJA3])
					}
					ours[fJA3], tf[fJA3] = "*", "*"
				}
				if !slices.Equal(ours, tf) {
					t.Errorf("%s:\n ours   %q\n tshark %q", k, ours, tf)
				}
				total++
			}
			t.Logf("%d ClientHellos", len(r.clients))
			for k, l := range theirs {
				if len(l) > 0 {
					t.Errorf("%s: %d ClientHellos tshark sees and we do not", k, len(l))
				}
			}
		})
	}
	t.Logf("%d ClientHellos equal to tshark's", total)
}

// The leaf certificate of every cleartext Certificate message equals the
// first certificate tshark extracts (same SHA-256), its subject CN is among
// the directory strings tshark shows, and its DNS SANs among tshark's
// dNSName values.
func TestCertificatesMatchTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	if testing.Short() {
		t.Skip("runs tshark on several captures")
	}
	files := []string{
		"ndpi/443-curl.pcap", "ndpi/443-firefox.pcap", "ndpi/tls_verylong_certificate.pcap",
		"ndpi/tls_alert.pcap", "pcapplusplus/ExamplesTest/pcap_examples/tls.pcap",
		"pcapplusplus/PcapExamples/example2.pcap", "pcapplusplus/ExamplesTest/pcap_examples/tls2.pcap",
	}
	total := 0
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			r := runCapture(t, rel)
			out, err := exec.Command("tshark", "-r", corpus.Path(t, rel), "-Y", "tls.handshake.type==11", "-T", "fields",
				"-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=\t",
				"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
				"-e", "tls.handshake.certificate", "-e", "x509sat.uTF8String", "-e", "x509sat.printableString",
				"-e", "x509ce.dNSName").Output()
			if err != nil {
				t.Fatal(err)
			}
			type tcert struct {
				leafSHA string
				strs    map[string]bool
			}
			theirs := map[string][]tcert{}
			for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				if line == "" {
					continue
				}
				f := strings.Split(line, "\t")
				src, dst := f[0], f[3]
				if src == "" {
					src, dst = f[1], f[4]
				}
				leaf, _, _ := strings.Cut(f[6], "|")
				der, err := hexDecode(leaf)
				if err != nil {
					t.Fatalf("tshark certificate hex: %v", err)
				}
				c := tcert{leafSHA: fmt.Sprintf("%x", sha256Sum(der)), strs: map[string]bool{}}
				for _, col := range f[7:] {
					for _, v := range strings.Split(col, "|") {
						c.strs[v] = true
					}
				}
				k := src + " " + f[2] + " " + dst + " " + f[5]
				theirs[k] = append(theirs[k], c)
			}
			for _, cs := range r.certs {
				k := cs.d.Src.Addr().String() + " " + fmt.Sprint(cs.d.Src.Port()) + " " + cs.d.Dst.Addr().String() + " " + fmt.Sprint(cs.d.Dst.Port())
				if len(theirs[k]) == 0 {
					t.Errorf("%s: certificate tshark does not see (CN %q)", k, cs.c.SubjectCN)
					continue
				}
				tc := theirs[k][0]
				theirs[k] = theirs[k][1:]
				if cs.c.Err != nil {
					t.Errorf("%s: %v", k, cs.c.Err)
				}
				if got := fmt.Sprintf("%x", cs.c.SHA256); got != tc.leafSHA {
					t.Errorf("%s: leaf SHA-256 %s, tshark's first certificate %s", k, got, tc.leafSHA)
				}
				if cs.c.SubjectCN == "" || !tc.strs[cs.c.SubjectCN] {
					t.Errorf("%s: subject CN %q not among tshark's strings", k, cs.c.SubjectCN)
				}
				for _, san := range cs.c.SANs {
					if !tc.strs[san] {
						t.Errorf("%s: SAN %q not among tshark's dNSName values", k, san)
					}
				}
				t.Logf("%s: CN %q issuer %q, %d SANs, notAfter %s, chain %d", k, cs.c.SubjectCN, cs.c.IssuerCN, len(cs.c.SANs), cs.c.NotAfter.Format("2006-01-02"), cs.c.ChainLen)
				total++
			}
			for k, l := range theirs {
				if len(l) > 0 {
					t.Errorf("%s: %d certificates tshark sees and we do not", k, len(l))
				}
			}
		})
	}
	t.Logf("%d leaf certificates equal to tshark's", total)
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(strings.ReplaceAll(s, ":", "")) }

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Every ServerHello: version, selected version, suite, extensions, ALPN and
// the JA3S string equal tshark's, hello by hello.
func TestServerHelloMatchesTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	if testing.Short() {
		t.Skip("runs tshark on many captures")
	}
	total := 0
	for _, rel := range tsharkFiles {
		t.Run(rel, func(t *testing.T) {
			r := runCapture(t, rel)
			out, err := exec.Command("tshark", "-r", corpus.Path(t, rel), "-d", "tcp.port==80,tls",
				"-Y", "tls.handshake.type==2", "-T", "fields",
				"-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=|",
				"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
				"-e", "tls.handshake.version", "-e", "tls.handshake.extensions.supported_version",
				"-e", "tls.handshake.ciphersuite", "-e", "tls.handshake.extension.type",
				"-e", "tls.handshake.extensions_alpn_str", "-e", "tls.handshake.ja3s_full").Output()
			if err != nil {
				t.Fatal(err)
			}
			theirs := map[string][]string{}
			for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				if line == "" {
					continue
				}
				f := strings.Split(line, "|")
				src, dst := f[0], f[3]
				if src == "" {
					src, dst = f[1], f[4]
				}
				k := src + " " + f[2] + " " + dst + " " + f[5]
				theirs[k] = append(theirs[k], strings.Join(f[6:], "|"))
			}
			for _, s := range r.servers {
				sh := s.sh
				k := s.d.Src.Addr().String() + " " + fmt.Sprint(s.d.Src.Port()) + " " + s.d.Dst.Addr().String() + " " + fmt.Sprint(s.d.Dst.Port())
				sv := ""
				if slices.Contains(sh.Extensions, extSupportedVersions) {
					sv = fmt.Sprintf("0x%04x", sh.SelectedVersion)
				}
				ja3s, _ := JA3S(sh)
				ours := strings.Join([]string{fmt.Sprintf("0x%04x", sh.LegacyVersion), sv, fmt.Sprintf("0x%04x", sh.CipherSuite),
					joinU16(sh.Extensions, false), sh.ALPN, ja3s}, "|")
				if len(theirs[k]) == 0 {
					if rel == "ndpi/tls_multiple_synack_different_seq.pcapng" {
						// Three SYN-ACKs with different sequence numbers: tshark
						// files the server's data as retransmissions and does
						// not dissect it. nDPI does, with our JA3S
						// (TestNDPIFingerprints).
						continue
					}
					t.Errorf("%s: ServerHello tshark does not see: %s", k, ours)
					continue
				}
				if theirs[k][0] != ours {
					t.Errorf("%s:\n ours   %s\n tshark %s", k, ours, theirs[k][0])
				}
				theirs[k] = theirs[k][1:]
				total++
			}
			for k, l := range theirs {
				if len(l) > 0 {
					t.Errorf("%s: %d ServerHellos tshark sees and we do not", k, len(l))
				}
			}
		})
	}
	t.Logf("%d ServerHellos equal to tshark's", total)
}
