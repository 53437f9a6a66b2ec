package http

import (
	"bytes"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// ndpiFlow is one TCP flow line of an nDPI expected result
// (ndpi/expected/*.out), with the HTTP metadata nDPI prints.
type ndpiFlow struct {
	a, b                         netip.AddrPort
	http                         bool // HTTP (7), HTTP_Connect (130) or HTTP_Proxy (131), as master or app
	host, url, status, ua, ctype string
}

var (
	ndpiLine  = regexp.MustCompile(`^\s+\d+\s+TCP (\S+) <?-> (\S+) \[proto: ([0-9.]+)/`)
	ndpiAttrs = regexp.MustCompile(`\[(Hostname/SNI|URL|StatusCode|User-Agent|Content-Type): ([^\]]*)\]`)
)

func readNDPI(t *testing.T, path string) []ndpiFlow {
	t.Helper()
	var out []ndpiFlow
	for _, l := range strings.Split(string(readFile(t, path)), "\n") {
		m := ndpiLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		f := ndpiFlow{a: netip.MustParseAddrPort(m[1]), b: netip.MustParseAddrPort(m[2])}
		for _, id := range strings.Split(m[3], ".") {
			f.http = f.http || id == "7" || id == "130" || id == "131"
		}
		for _, a := range ndpiAttrs.FindAllStringSubmatch(l, -1) {
			switch a[1] {
			case "Hostname/SNI":
				f.host = a[2]
			case "URL":
				f.url = a[2]
			case "StatusCode":
				f.status = a[2]
			case "User-Agent":
				f.ua = a[2]
			case "Content-Type":
				f.ctype = a[2]
			}
		}
		out = append(out, f)
	}
	return out
}

func sameFlow(f ndpiFlow, c, s netip.AddrPort) bool {
	return f.a == c && f.b == s || f.a == s && f.b == c
}

// TestNDPI compares with nDPI's expected results for its HTTP captures:
// the flows detected as HTTP, and the metadata nDPI prints for each (host
// without port, URL as host + target or the target itself when absolute
// or authority-form, status, User-Agent, Content-Type without
// parameters).
func TestNDPI(t *testing.T) {
	for _, c := range []struct {
		file string
		// uaPrefix: nDPI keeps the part of a User-Agent that arrived in
		// the request's first segment (http_ua_splitted_in_two_pkts has
		// "Mozil"); the parser reads the header block whole.
		uaPrefix bool
		// urlPrefix: nDPI cuts long URLs in its output.
		urlPrefix bool
	}{
		{file: "http-lines-split.pcap"},
		{file: "http-manipulated.pcap"},
		{file: "http-proxy.pcapng"},
		{file: "http.pcapng"},
		{file: "http2.pcapng"},
		{file: "http_asymmetric.pcapng"},
		{file: "http_auth.pcap"},
		{file: "http_connect.pcap"},
		{file: "http_invalid_server.pcap"},
		{file: "http_ipv6.pcap"},
		{file: "http_on_sip_port.pcap"},
		{file: "http_starting_with_reply.pcapng"},
		{file: "http_ua_splitted_in_two_pkts.pcapng", uaPrefix: true},
		{file: "windowsupdate_over_http.pcap", urlPrefix: true},
	} {
		t.Run(c.file, func(t *testing.T) {
			want := readNDPI(t, corpus.Path(t, "ndpi/expected/"+c.file+".out"))
			r := l7test.ReadFile(t, corpus.Path(t, "ndpi/"+c.file), Protocol)
			for _, f := range r.Flows {
				if f.Transport != l7.TCP {
					continue
				}
				nd := false
				for _, w := range want {
					if sameFlow(w, f.Client, f.Server) {
						nd = w.http
					}
				}
				if (f.Proto == "http") != nd {
					t.Errorf("flow %v -> %v: detected %q, nDPI http=%v", f.Client, f.Server, f.Proto, nd)
				}
			}
			for _, w := range want {
				if !w.http {
					continue
				}
				// nDPI keeps one value per attribute, overwritten by each
				// message it inspects until its per-flow packet budget
				// ("DPI packets") runs out, so the message it describes
				// varies; its value must be one of the flow's.
				seen := map[string]map[string]bool{}
				add := func(k, v string) {
					if seen[k] == nil {
						seen[k] = map[string]bool{}
					}
					seen[k][v] = true
				}
				for _, tx := range r.Txs {
					if !sameFlow(w, tx.Client, tx.Server) {
						continue
					}
					host := string(tx.Field(FieldHost))
					if i := strings.LastIndexByte(host, ':'); i >= 0 {
						add("host", host[:i])
					} else {
						add("host", host)
					}
					if tx.Target != nil {
						if tx.Target[0] == '/' {
							add("url", string(tx.Field(FieldHost))+string(tx.Target))
						} else {
							add("url", string(tx.Target))
						}
					}
					add("status", string(tx.Status))
					add("user-agent", string(tx.Field(FieldUserAgent)))
					ct := tx.Field(FieldContentType)
					if i := bytes.IndexByte(ct, ';'); i >= 0 {
						ct = ct[:i]
					}
					add("content-type", string(ct))
				}
				for _, a := range []struct {
					what, want string
					prefix     bool
				}{
					{"host", w.host, false}, {"url", w.url, c.urlPrefix}, {"status", w.status, false},
					{"user-agent", w.ua, c.uaPrefix}, {"content-type", w.ctype, false},
				} {
					if a.want == "" {
						continue
					}
					ok := seen[a.what][a.want]
					for v := range seen[a.what] {
						ok = ok || a.prefix && strings.HasPrefix(v, a.want)
					}
					if !ok {
						t.Errorf("flow %v <-> %v %s: nDPI %q, the flow's: %q", w.a, w.b, a.what, a.want, keys(seen[a.what]))
					}
				}
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
