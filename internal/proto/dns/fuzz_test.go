package dns

import (
	"bytes"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// fuzzSeedFiles are captures whose DNS messages seed the fuzzers: normal
// traffic of every shape (EDNS, ECS, DNSSEC, mDNS, TCP) and the hostile
// files.
var fuzzSeedFiles = []string{
	"pktvisor/dns_udp_mixed_rcode.pcap",
	"pktvisor/ecs.pcap",
	"pktvisor/dnssec.pcap",
	"pcapplusplus/PcapExamples/DnsPackets.pcap",
	"ndpi/malformed_dns.pcap",
	"ndpi/dns-invalid-chars.pcap",
	"ndpi/dns_long_domainname.pcap",
	"suricata-verify/dns/dns-forward-pointer/input.pcap",
	"suricata-verify/dns/dns-corrupt-additionals/input.pcap",
	"suricata-verify/cond-log-dns-dig/input.pcap",
	"suricata-verify/dns-eve-v2-udp-nxdomain-soa/dns-udp-nxdomain-soa.pcap",
	"pcapplusplus/PacketExamples/dns_stack_overflow.pcap",
	"pcapplusplus/PacketExamples/DnsTooManyResources.pcap",
}

// seeds returns crafted messages plus, when the corpus is present, up to
// 40 distinct messages per seed file.
func seeds(tb testing.TB) [][]byte {
	out := [][]byte{queryA(), responseA(), hdr(1, 0, 1, 1, 1, 1)}
	if corpus.Dir() == "" {
		return out
	}
	seen := map[string]bool{}
	for _, f := range fuzzSeedFiles {
		msgs, _ := readMessages(tb, f, nil)
		n := 0
		for _, c := range msgs {
			if n < 40 && !seen[string(c.payload)] {
				seen[string(c.payload)] = true
				out = append(out, c.payload)
				n++
			}
		}
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	var m Message // reused, as callers do: stale state must not leak
	f.Fuzz(func(t *testing.T, msg []byte) {
		orig := bytes.Clone(msg)
		err := Parse(msg, &m)
		checkInvariants(t, msg, &m, err)
		if !bytes.Equal(msg, orig) {
			t.Fatal("Parse modified its input")
		}
		// A fresh Message decodes the same.
		var fresh Message
		err2 := Parse(msg, &fresh)
		if (err == nil) != (err2 == nil) || len(fresh.Questions) != len(m.Questions) || len(fresh.Answers) != len(m.Answers) ||
			len(fresh.Additional) != len(m.Additional) || fresh.Partial != m.Partial || fresh.Rcode != m.Rcode {
			t.Fatalf("reused and fresh Message differ: %v / %v", err, err2)
		}
		for i := range fresh.Answers {
			if fresh.Answers[i] != m.Answers[i] {
				t.Fatalf("answer %d differs: %+v / %+v", i, fresh.Answers[i], m.Answers[i])
			}
		}
		Looks(msg, false)
		Looks(msg, true)
		for _, q := range m.Questions {
			QName2(q.Name)
			QName3(q.Name)
		}
	})
}

func FuzzSplitTCP(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(append(u16(uint16(len(s))), s...), uint8(0))
	}
	f.Add([]byte{0, 0, 0, 1, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, stream []byte, stopAt uint8) {
		total, calls := 0, 0
		n := SplitTCP(stream, func(msg []byte) bool {
			calls++
			total += 2 + len(msg)
			if cap(msg) != len(msg) {
				t.Fatal("message has spare capacity")
			}
			var m Message
			_ = Parse(msg, &m)
			return stopAt == 0 || calls < int(stopAt)
		})
		if n != total || n < 0 || n > len(stream) {
			t.Fatalf("consumed %d, messages cover %d, stream %d", n, total, len(stream))
		}
		// Unless stopped, what is left is less than one whole message.
		if rest := stream[n:]; (stopAt == 0 || calls < int(stopAt)) && len(rest) >= 2 && int(rest[0])<<8|int(rest[1]) <= len(rest)-2 {
			t.Fatalf("a whole message was left: %d bytes", len(rest))
		}
		// Splitting in two calls gives the same as one.
		if stopAt == 0 && len(stream) > 0 {
			cut := len(stream) / 2
			a := SplitTCP(stream[:cut], func([]byte) bool { return true })
			b := SplitTCP(stream[a:], func([]byte) bool { return true })
			if a+b != n {
				t.Fatalf("split at %d: %d+%d, whole %d", cut, a, b, n)
			}
		}
	})
}
