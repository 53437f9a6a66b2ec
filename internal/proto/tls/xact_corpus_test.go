package tls

// Handshake transactions through the probe's own pipeline
// (l7test.ReadFile: capture, decode, flow table, TCP reassembly,
// detection, this parser) against what PcapPlusPlus's examples and nDPI
// print for the same captures.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

func readTLS(t *testing.T, rel string) *l7test.Result {
	t.Helper()
	res := l7test.ReadFile(t, corpus.Path(t, rel), Protocol)
	for _, tx := range res.Txs {
		checkTx(t, tx)
	}
	return res
}

// TestTLS2Fingerprints: PcapPlusPlus's TLSFingerprinting example lists
// every ClientHello of tls2.pcap with its JA3 and 4-tuple
// (expected_output/tls_fp_ch.txt, 323 lines, 12 distinct JA3). Every line
// must be one transaction's ja3 with its client and server, and the other
// way round. Reassembled, tls2.pcap holds 294 ServerHellos (tshark; see
// TestPcapPlusPlusTLS2), so as many transactions have a response.
func TestTLS2Fingerprints(t *testing.T) {
	res := readTLS(t, "pcapplusplus/ExamplesTest/pcap_examples/tls2.pcap")
	f, err := os.Open(corpus.Path(t, "pcapplusplus/ExamplesTest/expected_output/tls_fp_ch.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]int{}
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if len(fs) != 7 {
			t.Fatalf("tls_fp_ch.txt line %q", sc.Text())
		}
		want[strings.Join([]string{fs[0], fs[3], fs[4], fs[5], fs[6]}, " ")]++
		lines++
	}
	got := map[string]int{}
	distinct := map[string]bool{}
	responses := 0
	for _, tx := range res.Txs {
		if ja3 := tx.Field(FieldJA3); ja3 != nil {
			got[fmt.Sprintf("%s %s %d %s %d", ja3, tx.Client.Addr(), tx.Client.Port(), tx.Server.Addr(), tx.Server.Port())]++
			distinct[string(ja3)] = true
		}
		if tx.Field(FieldVersion) != nil {
			responses++
		}
	}
	if lines != 323 || len(distinct) != 12 {
		t.Errorf("%d lines in tls_fp_ch.txt, %d distinct JA3 here (PcapPlusPlus: 323, 12)", lines, len(distinct))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("tls_fp_ch.txt %s x%d, ours x%d", k, n, got[k])
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			t.Errorf("ours not in tls_fp_ch.txt: %s x%d", k, n)
		}
	}
	checkInt(t, "transactions with a ServerHello", responses, 294)
	if n := res.Count("tls"); n != len(res.Txs) {
		t.Errorf("%d TLS flows, %d transactions", n, len(res.Txs))
	}
}

// gtpU reports whether the pipeline saw a GTP-U tunnel (UDP 2152).
func gtpU(res *l7test.Result) bool {
	for _, f := range res.Flows {
		if f.Transport == l7.UDP && (f.Server.Port() == 2152 || f.Client.Port() == 2152) {
			return true
		}
	}
	return false
}

func checkInt(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

// sslReportTables reads the "| name | count |" tables of a PcapPlusPlus
// SSLAnalyzer report by section title, and its "Client-hello message:"
// style counters.
func sslReportTables(t *testing.T, rel string) (map[string]map[string]int, map[string]int) {
	t.Helper()
	b, err := os.ReadFile(corpus.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]map[string]int{}
	counters := map[string]int{}
	row := regexp.MustCompile(`^\|\s*(.*?)\s*\|\s*(\d+)\s*\|$`)
	counter := regexp.MustCompile(`^([A-Za-z][^:]*):\s+(\d+)`)
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r ")
		if m := counter.FindStringSubmatch(line); m != nil {
			counters[m[1]], _ = strconv.Atoi(m[2])
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && section != "" {
			n, _ := strconv.Atoi(m[2])
			if tables[section] == nil {
				tables[section] = map[string]int{}
			}
			tables[section][m[1]] = n
			continue
		}
		if line != "" && !strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "|") && !strings.HasPrefix(line, "=") {
			section = line
		}
	}
	return tables, counters
}

// TestSSLAnalyzerReports: PcapPlusPlus's SSLAnalyzer on tls.pcap and on
// example2.pcap (its many-protocols.pcap): ClientHello and ServerHello
// counts, and the negotiated versions, cipher suites (by IANA name) and
// server names, against the transactions' fields.
func TestSSLAnalyzerReports(t *testing.T) {
	for _, tc := range []struct{ pcap, report string }{
		{"pcapplusplus/ExamplesTest/pcap_examples/tls.pcap", "sslanalyzer_tls.txt"},
		{"pcapplusplus/PcapExamples/example2.pcap", "sslanalyzer_manyprotocols.txt"},
	} {
		t.Run(tc.report, func(t *testing.T) {
			tables, counters := sslReportTables(t, "pcapplusplus/ExamplesTest/expected_output/"+tc.report)
			res := readTLS(t, tc.pcap)
			got := map[string]map[string]int{"versions": {}, "ciphers": {}, "names": {}}
			hellos, servers := 0, 0
			for _, tx := range res.Txs {
				if tx.ReqTS != 0 {
					hellos++
				}
				if v := tx.Field(FieldVersion); v != nil {
					servers++
					got["versions"][string(v)]++
					got["ciphers"][string(tx.Field(FieldCipher))]++
				}
				if sni := tx.Field(FieldSNI); sni != nil {
					got["names"][string(sni)]++
				}
			}
			checkInt(t, "ClientHellos", hellos, counters["Client-hello message"])
			checkInt(t, "ServerHellos", servers, counters["Server-hello message"])
			for section, key := range map[string]string{"SSL/TLS versions count": "versions", "Cipher-suite count": "ciphers", "Server-name count": "names"} {
				want := tables[section]
				if len(want) == 0 {
					t.Fatalf("no %q table", section)
				}
				if fmt.Sprint(got[key]) != fmt.Sprint(want) {
					t.Errorf("%s:\n ours %v\n PcapPlusPlus %v", section, got[key], want)
				}
			}
		})
	}
}

// TestNDPITransactions: for every nDPI capture whose expected result
// prints a JA4 for a TCP flow (TLS over many ports, ClientHellos split
// over several segments or records, certificates, alerts, ECH, ...), the
// transaction of that flow carries nDPI's JA3, JA3S, SNI, JA4 and
// certificate names and expiry. nDPI's JA4 differs from FoxIO's (and
// ours) in two characters (see TestNDPIFingerprints); those are not
// compared. nDPI fingerprints the first ClientHello of a flow, so does
// the transaction.
func TestNDPITransactions(t *testing.T) {
	dir := filepath.Dir(corpus.Path(t, "ndpi/expected/443-curl.pcap.out"))
	outs, _ := filepath.Glob(filepath.Join(dir, "*.out"))
	compared := map[string]int{}
	files, tunnelled := 0, 0
	for _, out := range outs {
		want := ndpiFlows(t, out)
		hasJA4 := false
		for _, f := range want {
			hasJA4 = hasJA4 || f["JA4"] != ""
		}
		if !hasJA4 {
			continue
		}
		rel := "ndpi/" + strings.TrimSuffix(filepath.Base(out), ".out")
		files++
		res := readTLS(t, rel)
		got := map[string]*l7.Transaction{}
		for _, tx := range res.Txs {
			a, z := tx.Client.String(), tx.Server.String()
			if a > z {
				a, z = z, a
			}
			if got[a+" "+z] == nil {
				got[a+" "+z] = tx
			}
		}
		for k, w := range want {
			if w["JA4"] == "" {
				continue
			}
			tx := got[k]
			if tx == nil {
				if gtpU(res) {
					// nDPI reads inside GTP-U tunnels; internal/decode
					// does not decapsulate GTP, so the probe sees only
					// the tunnel's UDP flow.
					t.Logf("%s %s: inside a GTP-U tunnel, not decapsulated", rel, k)
					tunnelled++
					continue
				}
				t.Errorf("%s %s: no transaction (nDPI JA4 %s)", rel, k, w["JA4"])
				continue
			}
			g := map[string]string{
				"JA3C": string(tx.Field(FieldJA3)), "JA3S": string(tx.Field(FieldJA3S)),
				"Hostname/SNI": string(tx.Field(FieldSNI)), "JA4": string(tx.Field(FieldJA4)),
			}
			if m := ndpiCNRE.FindStringSubmatch(string(tx.Field(FieldCertSubject))); m != nil {
				g["Subject"] = m[1]
			}
			if m := ndpiCNRE.FindStringSubmatch(string(tx.Field(FieldCertIssuer))); m != nil {
				g["Issuer"] = m[1]
			}
			if na := tx.Field(FieldCertNotAfter); na != nil {
				g["NotAfter"] = strings.Replace(strings.TrimSuffix(string(na), "Z"), "T", " ", 1)
			}
			w["JA3S"], _, _ = strings.Cut(w["JA3S"], " ")
			if gj, wj := g["JA4"], w["JA4"]; len(gj) == 36 && len(wj) == 36 {
				w["JA4"] = wj[:3] + gj[3:4] + wj[4:8] + gj[8:10] + wj[10:]
			}
			for _, field := range []string{"Subject", "Issuer"} {
				if m := ndpiCNRE.FindStringSubmatch(w[field]); m != nil {
					w[field] = m[1]
				} else {
					w[field] = ""
				}
			}
			if _, na, ok := strings.Cut(w["Validity"], " - "); ok {
				w["NotAfter"] = na
			}
			for _, field := range []string{"JA4", "JA3C", "JA3S", "Hostname/SNI", "Subject", "Issuer", "NotAfter"} {
				if w[field] == "" {
					continue
				}
				if g[field] != w[field] {
					t.Errorf("%s %s: %s = %q, nDPI %q", rel, k, field, g[field], w[field])
					continue
				}
				compared[field]++
			}
		}
	}
	t.Logf("%d nDPI captures; values agreeing with nDPI: %v; flows in GTP tunnels: %d", files, compared, tunnelled)
	if compared["JA4"] < 50 || compared["Hostname/SNI"] < 50 || tunnelled > 1 {
		t.Errorf("too few comparisons: %v", compared)
	}
}
