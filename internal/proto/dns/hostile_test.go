package dns

// Hostile and odd captures: malformed, crafted and edge-case DNS from
// nDPI, Suricata (suricata-verify) and PcapPlusPlus. Every payload must
// decode without a panic, with one of the package's errors when it is
// broken, and with what the peers' checks say where they say something.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// parseAll parses every UDP payload and TCP message of a capture (any
// port) and checks the invariants; it returns the messages and results.
func parseAll(t *testing.T, rel string) ([]capMsg, []Message, []error) {
	t.Helper()
	msgs, _ := readMessages(t, rel, nil)
	out := make([]Message, len(msgs))
	errs := make([]error, len(msgs))
	for i, c := range msgs {
		errs[i] = Parse(c.payload, &out[i])
		checkInvariants(t, c.payload, &out[i], errs[i])
		// Looks must not panic on anything either.
		Looks(c.payload, c.tcp)
	}
	return msgs, out, errs
}

func TestHostileCaptures(t *testing.T) {
	files := []string{
		"ndpi/malformed_dns.pcap",
		"ndpi/dns-invalid-chars.pcap",
		"ndpi/dns_long_domainname.pcap",
		"ndpi/bad-dns-traffic.pcap",
		"ndpi/dns_ambiguous_names.pcap",
		"ndpi/dns-tunnel-iodine.pcap",
		"ndpi/dns_exfiltration.pcap",
		"ndpi/dns_fragmented.pcap",
		"pcapplusplus/PacketExamples/dns_stack_overflow.pcap",
		"pcapplusplus/PacketExamples/DnsTooManyResources.pcap",
		"pcapplusplus/PacketExamples/DnsEdit.pcap",
		"pcapplusplus/PacketExamples/DnsEdit7.pcap",
	}
	// Everything under suricata-verify that is about DNS.
	if dir := corpus.Dir(); dir != "" {
		_ = filepath.WalkDir(filepath.Join(dir, "suricata-verify"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, "dns") && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, rel)
			}
			return nil
		})
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			msgs, _, errs := parseAll(t, f)
			nerr := 0
			for _, e := range errs {
				if e != nil {
					nerr++
				}
			}
			t.Logf("%d messages, %d with errors", len(msgs), nerr)
		})
	}
}

// byDirection splits parse results into queries and responses.
func requestsResponses(ms []Message) (q, r []*Message) {
	for i := range ms {
		if ms[i].Response {
			r = append(r, &ms[i])
		} else {
			q = append(q, &ms[i])
		}
	}
	return q, r
}

func TestSuricataVerify(t *testing.T) {
	const sv = "suricata-verify/"
	t.Run("dns-forward-pointer", func(t *testing.T) {
		// Two A questions for codemonkey.net, the first a forward pointer
		// to the second; the response answers 152.53.82.239, TTL 300.
		_, ms, errs := parseAll(t, sv+"dns/dns-forward-pointer/input.pcap")
		if len(ms) != 2 || errs[0] != nil || errs[1] != nil {
			t.Fatalf("%d messages, errors %v", len(ms), errs)
		}
		q := ms[0]
		if q.ID != 36356 || q.Response || len(q.Questions) != 2 {
			t.Fatalf("request: %+v", q)
		}
		for _, x := range q.Questions {
			if x.Name != "codemonkey.net" || x.Type != 1 {
				t.Errorf("question %+v", x)
			}
		}
		a := ms[1].Answers
		if len(a) != 1 || a[0] != (RR{Name: "codemonkey.net", Type: 1, Class: 1, TTL: 300, RDLength: 4, Data: "152.53.82.239"}) {
			t.Errorf("answers %+v", a)
		}
	})
	t.Run("dns-truncated-rname", func(t *testing.T) {
		// One TCP request with 1500 TXT questions whose names are 1025
		// characters (Suricata logs them truncated). Here: ErrNameTooLong,
		// each kept name cut to the labels that fit in 255 bytes, 256
		// questions kept and 1244 skipped.
		_, ms, errs := parseAll(t, sv+"dns/dns-truncated-rname/poc2.pcap")
		if len(ms) != 1 || !errors.Is(errs[0], ErrNameTooLong) {
			t.Fatalf("%d messages, err %v", len(ms), errs)
		}
		m := ms[0]
		if m.QDCount != 1500 || len(m.Questions) != MaxRecords || m.Skipped != 1500-MaxRecords {
			t.Errorf("questions %d of %d, skipped %d", len(m.Questions), m.QDCount, m.Skipped)
		}
		for _, q := range m.Questions {
			if q.Type != 16 || len(q.Name) > 253 || !strings.HasPrefix(q.Name, "123456789abcdef") {
				t.Fatalf("question %q %d", q.Name, q.Type)
			}
		}
	})
	t.Run("dns-corrupt-additionals", func(t *testing.T) {
		// The response's additional section is corrupt; Suricata still logs
		// answers[0].rrname _sip._udp.sip.voice.google.com, and the query
		// type SRV.
		_, ms, errs := parseAll(t, sv+"dns/dns-corrupt-additionals/input.pcap")
		if len(ms) != 2 || errs[0] != nil || !errors.Is(errs[1], ErrTruncated) {
			t.Fatalf("%d messages, errors %v", len(ms), errs)
		}
		r := ms[1]
		var e *Error
		if !r.Partial || !errors.As(errs[1], &e) || e.Section != "additional" {
			t.Errorf("partial %v err %v", r.Partial, errs[1])
		}
		if len(r.Answers) != 2 || r.Answers[0].Name != "_sip._udp.sip.voice.google.com" || TypeName(r.Questions[0].Type) != "SRV" {
			t.Errorf("answers %+v", r.Answers)
		}
		if r.Answers[0].Data != "20 1 5060 sip-anycast-2.voice.google.com" {
			t.Errorf("SRV data %q", r.Answers[0].Data)
		}
	})
	t.Run("dns-udp-eve-dig", func(t *testing.T) {
		// suricata-verify dns/dns-udp-eve-dig on cond-log-dns-dig: the
		// response for www.suricata-ids.org, flags 81a0, NOERROR, a CNAME
		// (TTL 3544) then two A records (TTL 244).
		_, ms, errs := parseAll(t, sv+"cond-log-dns-dig/input.pcap")
		if len(ms) != 2 || errs[0] != nil || errs[1] != nil {
			t.Fatalf("%d messages, errors %v", len(ms), errs)
		}
		if q := ms[0]; q.ID != 36146 || q.Questions[0].Name != "www.suricata-ids.org" || q.Questions[0].Type != 1 {
			t.Errorf("request %+v", q)
		}
		r := ms[1]
		if !(r.Response && r.RD && r.RA && r.AD && !r.AA && !r.TC && !r.CD && r.Rcode == 0) {
			t.Errorf("flags %+v", r)
		}
		want := []RR{
			{Name: "www.suricata-ids.org", Type: 5, Class: 1, TTL: 3544, RDLength: 18, Data: "suricata-ids.org"},
			{Name: "suricata-ids.org", Type: 1, Class: 1, TTL: 244, RDLength: 4, Data: "192.0.78.24"},
			{Name: "suricata-ids.org", Type: 1, Class: 1, TTL: 244, RDLength: 4, Data: "192.0.78.25"},
		}
		if len(r.Answers) != 3 {
			t.Fatalf("answers %+v", r.Answers)
		}
		for i := range want {
			if r.Answers[i] != want[i] {
				t.Errorf("answer %d = %+v, want %+v", i, r.Answers[i], want[i])
			}
		}
	})
	for _, tc := range []struct {
		name, file string
		req, resp  int
	}{
		// test.yaml counts of dns.type request / response.
		{"dns-eve", "dns/dns-eve/input.pcap", 4, 4},
		{"dns-udp-double-request-response", "dns/dns-udp-double-request-response/dns-udp-double-request-response.pcap", 2, 2},
		{"dns-tcp-multirequest-buffer", "dns/dns-tcp-multirequest-buffer/dns-tcp-multirequest-buffer.pcap", 20, 20},
		{"dns-tcp-www-google-com", "dns/dns-tcp-www-google-com/dns.pcap", 1, 1},
		{"dns-udp-nxdomain-soa", "dns-eve-v2-udp-nxdomain-soa/dns-udp-nxdomain-soa.pcap", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ms, errs := parseAll(t, sv+tc.file)
			for i, e := range errs {
				if e != nil {
					t.Errorf("message %d: %v", i, e)
				}
			}
			q, r := requestsResponses(ms)
			checkInt(t, "requests", len(q), tc.req)
			checkInt(t, "responses", len(r), tc.resp)
			if tc.name == "dns-udp-nxdomain-soa" && (RcodeName(r[0].Rcode) != "NXDOMAIN" || len(r[0].Authority) != 1 ||
				r[0].Authority[0].Data != "ns-110.awsdns-13.com awsdns-hostmaster.amazon.com 1 7200 900 1209600 86400") {
				t.Errorf("NXDOMAIN response %+v", r[0])
			}
		})
	}
	t.Run("dns-tcp-ts-gap", func(t *testing.T) {
		// A segment of the to-server stream is missing. Suricata logs three
		// responses of 12 answers each; this test's reassembler stops at
		// the hole, so only the requests before it are seen.
		_, ms, errs := parseAll(t, sv+"dns-tcp-ts-gap/input.pcap")
		for i, e := range errs {
			if e != nil {
				t.Errorf("message %d: %v", i, e)
			}
		}
		_, r := requestsResponses(ms)
		checkInt(t, "responses", len(r), 3)
		for _, m := range r {
			checkInt(t, "answers", len(m.Answers), 12)
		}
	})
}

func TestNDPIAndPcapPlusPlusHostile(t *testing.T) {
	t.Run("malformed_dns", func(t *testing.T) {
		// Responses carry a second question whose name runs past 255 bytes
		// (tshark: "<Name too long>"). The first question, the answers and
		// the over-long name's first labels survive.
		_, ms, errs := parseAll(t, "ndpi/malformed_dns.pcap")
		checkInt(t, "messages", len(ms), 6)
		for i, m := range ms {
			if !m.Response {
				if errs[i] != nil || m.Questions[0].Name != "www.xt.com" {
					t.Errorf("query %d: %v %+v", i, errs[i], m.Questions)
				}
				continue
			}
			if !errors.Is(errs[i], ErrNameTooLong) || len(m.Questions) != 2 || m.Questions[0].Name != "www.xt.com" {
				t.Errorf("response %d: %v %+v", i, errs[i], m.Questions)
			}
			if len(m.Answers) != 2 || m.Answers[0].Data != "66.66.66.66" {
				t.Errorf("response %d answers %+v", i, m.Answers)
			}
		}
	})
	t.Run("dns-invalid-chars", func(t *testing.T) {
		// Control bytes inside labels come out as \DDD, as tshark and dig
		// print them.
		_, ms, _ := parseAll(t, "ndpi/dns-invalid-chars.pcap")
		if len(ms) != 2 || ms[0].Questions[0].Name != `www.allyourba\004\005\006arebelongto.cn` ||
			ms[1].Answers[0].Name != `www.allyourbasesare\001\002\003ongto.cn` {
			t.Errorf("names %+v", ms)
		}
	})
	t.Run("dns_stack_overflow", func(t *testing.T) {
		// A response whose question name uses a reserved label type; the
		// header is still there.
		_, ms, errs := parseAll(t, "pcapplusplus/PacketExamples/dns_stack_overflow.pcap")
		if len(ms) != 1 || !errors.Is(errs[0], ErrLabelTooLong) || ms[0].ANCount != 40 || len(ms[0].Questions) != 0 {
			t.Errorf("%v %+v", errs, ms)
		}
	})
	t.Run("DnsTooManyResources", func(t *testing.T) {
		// QDCOUNT 25528, ARCOUNT 40016 in a 706-byte packet.
		_, ms, errs := parseAll(t, "pcapplusplus/PacketExamples/DnsTooManyResources.pcap")
		if len(ms) != 1 || errs[0] == nil || ms[0].QDCount != 25528 || ms[0].ARCount != 40016 {
			t.Errorf("%v %+v", errs, ms)
		}
	})
}
