package tls

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

var (
	ndpiFlowRE  = regexp.MustCompile(`TCP (\S+) <-> (\S+) `)
	ndpiFieldRE = regexp.MustCompile(`\[(JA4|JA3C|JA3S|Hostname/SNI|Subject|Issuer|Validity): ([^\]]*)\]`)
	ndpiCNRE    = regexp.MustCompile(`(?:^|, )CN=([^,]*)`)
)

// ndpiFlows reads the TCP flow lines of an nDPI expected result file and
// returns, per flow (endpoints sorted), the TLS fields nDPI printed.
func ndpiFlows(t *testing.T, path string) map[string]map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flows := map[string]map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := ndpiFlowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := map[string]string{}
		for _, f := range ndpiFieldRE.FindAllStringSubmatch(line, -1) {
			fields[f[1]] = f[2]
		}
		if len(fields) == 0 {
			continue
		}
		// Re-render the endpoints: nDPI prints IPv6 through inet_ntop, which
		// shortens a single zero group to "::" where Go (RFC 5952) does not.
		ap, err1 := netip.ParseAddrPort(m[1])
		zp, err2 := netip.ParseAddrPort(m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: flow %s <-> %s", path, m[1], m[2])
		}
		a, z := ap.String(), zp.String()
		if a > z {
			a, z = z, a
		}
		flows[a+" "+z] = fields
	}
	return flows
}

// nDPI's expected results (ndpi/expected/*.out) print JA4, JA3 (JA3C),
// JA3S, the SNI and the leaf certificate's subject, issuer and validity of
// every TLS flow it dissects: ours agree, flow by flow, on every nDPI capture
// of the corpus whose result has a JA4 over TCP.
func TestNDPIFingerprints(t *testing.T) {
	dir := filepath.Dir(corpus.Path(t, "ndpi/expected/443-curl.pcap.out"))
	outs, _ := filepath.Glob(filepath.Join(dir, "*.out"))
	compared := map[string]int{}
	ruleDiffs := map[string]int{}
	for _, out := range outs {
		want := ndpiFlows(t, out)
		hasJA4 := false
		for _, f := range want {
			if f["JA4"] != "" {
				hasJA4 = true
			}
		}
		rel := "ndpi/" + strings.TrimSuffix(filepath.Base(out), ".out")
		if !hasJA4 {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			r := runCapture(t, rel)
			got := map[string]map[string]string{}
			flow := func(d *direction) map[string]string {
				k := flowOf(d)
				if got[k] == nil {
					got[k] = map[string]string{}
				}
				return got[k]
			}
			for _, h := range r.clients {
				f := flow(h.d)
				if f["JA4"] == "" { // nDPI fingerprints the first hello of a flow
					_, f["JA3C"] = JA3(h.ch)
					f["JA4"] = JA4(h.ch, 't')
					f["Hostname/SNI"] = h.ch.SNI
				}
			}
			for _, c := range r.certs {
				if f := flow(c.d); f["Validity"] == "" && c.c.Err == nil {
					f["Subject"], f["Issuer"] = c.c.SubjectCN, c.c.IssuerCN
					f["Validity"] = c.c.NotBefore.UTC().Format(time.DateTime) + " - " + c.c.NotAfter.UTC().Format(time.DateTime)
				}
			}
			for _, s := range r.servers {
				if f := flow(s.d); f["JA3S"] == "" {
					_, f["JA3S"] = JA3S(s.sh)
				}
			}
			for k, w := range want {
				g := got[k]
				// nDPI appends its verdicts to JA3S ("... (WEAK)" for a weak
				// cipher).
				w["JA3S"], _, _ = strings.Cut(w["JA3S"], " ")
				// nDPI's JA4 departs from FoxIO's in two places of the first
				// section. The SNI flag: nDPI writes 'i' when the server_name
				// is an IP literal and 'd' when it knows a host name from
				// elsewhere (DNS) with no server_name extension; FoxIO looks
				// only at the extension. The ALPN: nDPI takes the first two
				// characters ("ht" for http/1.1), FoxIO the first and the last
				// ("h1"). Our ALPN values equal tshark's and the rule is tested
				// on the spec's examples; here the rest is compared: version,
				// counts, and both hashes.
				if gj, wj := g["JA4"], w["JA4"]; len(gj) == 36 && len(wj) == 36 {
					if gj[3] != wj[3] {
						ruleDiffs["SNI flag"]++
					}
					if gj[8:10] != wj[8:10] {
						ruleDiffs["ALPN"]++
					}
					w["JA4"] = wj[:3] + gj[3:4] + wj[4:8] + gj[8:10] + wj[10:]
				}
				// nDPI prints whole names; we compare the common names.
				for _, field := range []string{"Subject", "Issuer"} {
					if m := ndpiCNRE.FindStringSubmatch(w[field]); m != nil {
						w[field] = m[1]
					} else {
						w[field] = ""
					}
				}
				for _, field := range []string{"JA4", "JA3C", "JA3S", "Hostname/SNI", "Subject", "Issuer", "Validity"} {
					if w[field] == "" || (field == "Hostname/SNI" && g["JA4"] == "") {
						continue
					}
					if g[field] != w[field] {
						t.Errorf("%s %s: %s = %q, nDPI %q", rel, k, field, g[field], w[field])
						continue
					}
					compared[field]++
				}
			}
		})
	}
	t.Logf("agreeing with nDPI: %v; JA4 characters where nDPI follows its own rule: %v", compared, ruleDiffs)
}
