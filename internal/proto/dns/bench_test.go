package dns

import "testing"

func BenchmarkParse(b *testing.B) {
	b.Run("query", func(b *testing.B) { benchParse(b, [][]byte{queryA()}) })
	b.Run("response", func(b *testing.B) { benchParse(b, [][]byte{responseA()}) })
	// Every message of a real capture in turn: 5851 messages, about 2000
	// distinct names, so the 256-entry intern table mostly misses and the
	// string allocations show.
	b.Run("capture", func(b *testing.B) {
		msgs, _ := readMessages(b, "pktvisor/dns_udp_tcp_random.pcap", nil)
		payloads := make([][]byte, len(msgs))
		for i, c := range msgs {
			payloads[i] = c.payload
		}
		benchParse(b, payloads)
	})
}

func benchParse(b *testing.B, msgs [][]byte) {
	var m Message
	size := 0
	for _, p := range msgs {
		size += len(p)
	}
	b.SetBytes(int64(size / len(msgs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = Parse(msgs[i], &m)
		if i++; i == len(msgs) {
			i = 0
		}
	}
}

func BenchmarkLooks(b *testing.B) {
	msg := responseA()
	b.ReportAllocs()
	for b.Loop() {
		Looks(msg, false)
	}
}
