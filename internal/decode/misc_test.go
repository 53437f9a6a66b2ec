package decode

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

func TestNoAllocations(t *testing.T) {
	innerEth := eth(0x0800, tcpPacket4([4]byte{192, 168, 0, 1}, [4]byte{192, 168, 0, 2}, 100))
	cases := map[string]struct {
		link  uint16
		frame []byte
	}{
		"ethernet ipv4 tcp": {1, buildEthIPv4TCP(nil)},
		"vxlan":             {1, buildVXLAN(7)},
		"gre erspan":        {1, outer4(ProtoGRE, cat(greHdr(0x88be, false, nil, true), make([]byte, 8), innerEth))},
		"ipv6 extensions":   {229, buildIPv6(ProtoTCP, [][]byte{ext8(1), ext8(2)}, []uint8{0, 60}, tcpHeader(1, 2, 0, nil))},
		"sll":               {113, cat(sllHeader(0, 1, 0x0800), pkt4)},
		"malformed":         {1, buildEthIPv4TCP(nil)[:40]},
		"unsupported":       {147, pkt4},
	}
	for name, c := range cases {
		d := New(DefaultConfig())
		var p Packet
		if n := testing.AllocsPerRun(1000, func() { d.Decode(c.link, c.frame, len(c.frame), 1, &p) }); n != 0 {
			t.Errorf("%s: %v allocations per frame", name, n)
		}
	}

	// Reassembly: once the buffer pool is warm, a datagram's life (three
	// fragments, completion, buffer back to the pool) allocates nothing.
	frags := fragment4(udpDatagram4(4000), 1480)
	frags6 := fragment6(buildIPv6(ProtoUDP, nil, nil, cat(udpHeader(1, 2, 3000), make([]byte, 3000))), 1232, 9)
	d := New(DefaultConfig())
	var p Packet
	ts := int64(0)
	cycle := func() {
		for _, fr := range frags {
			ts += 1000
			d.Decode(101, fr, len(fr), ts, &p)
		}
		for _, fr := range frags6 {
			ts += 1000
			d.Decode(229, fr, len(fr), ts, &p)
		}
		ts += 2e9 // cross a second: the expiry scan runs too
	}
	cycle()
	if n := testing.AllocsPerRun(200, cycle); n != 0 {
		t.Errorf("reassembly: %v allocations per datagram cycle", n)
	}
	// AllocsPerRun runs cycle once more to warm up: 1 + 1 + 200 cycles.
	if s := d.Stats().Defrag; s.Reassembled != 2*202 || s.Held != 0 {
		t.Errorf("%+v", s)
	}
}

// TestNoAllocationsCorpus decodes example.pcap and ip-frag.pcap (1859
// fragments) twice with one decoder: the second pass must not allocate.
func TestNoAllocationsCorpus(t *testing.T) {
	for _, rel := range []string{"pcapplusplus/PcapExamples/example.pcap", "pcapplusplus/ExamplesTest/pcap_examples/ip-frag.pcap"} {
		frames := mustFrames(t, corpus.Path(t, rel))
		d := New(DefaultConfig())
		var p Packet
		pass := func() {
			for _, f := range frames {
				d.Decode(f.link, f.data, f.wireLen, f.ts, &p)
			}
		}
		pass()
		if n := testing.AllocsPerRun(3, pass); n != 0 {
			t.Errorf("%s: %v allocations per pass of %d frames", rel, n, len(frames))
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config (all defaults): %v", err)
	}
	bad := []struct {
		field string
		mod   func(*Config)
	}{
		{"DefragMaxBytes", func(c *Config) { c.DefragMaxBytes = -1 }},
		{"DefragMaxBytes", func(c *Config) { c.DefragMaxBytes = 1000 }},
		{"DefragMaxDatagrams", func(c *Config) { c.DefragMaxDatagrams = -5 }},
		{"DefragMaxDatagrams", func(c *Config) { c.DefragMaxDatagrams = 1 << 30 }},
		{"DefragTimeout", func(c *Config) { c.DefragTimeout = -time.Second }},
		{"MaxTunnelDepth", func(c *Config) { c.MaxTunnelDepth = 100 }},
		{"VXLANPorts[1]", func(c *Config) { c.VXLANPorts = []uint16{4789, 0} }},
		{"GenevePorts[0]", func(c *Config) { c.GenevePorts = []uint16{4789} }},
		{"VXLANGPEPorts", func(c *Config) { c.VXLANGPEPorts = []uint16{6081} }},
	}
	for _, b := range bad {
		c := DefaultConfig()
		b.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), b.field) {
			t.Errorf("%s: error %v does not name the field", b.field, err)
		}
		New(c) // must not panic on a bad configuration either
	}
	// New fills zero fields with the defaults.
	d := New(Config{})
	if d.maxDepth != DefaultMaxTunnelDepth || d.fr.maxBytes != DefaultDefragMaxBytes || d.fr.maxDgrams != DefaultDefragMaxDatagrams ||
		d.fr.timeout != int64(DefaultDefragTimeout) || len(d.vxlanPorts) != 2 || len(d.genevePorts) != 1 || len(d.gpePorts) != 1 {
		t.Errorf("defaults not applied: %+v", d)
	}
}

func TestStatsAddAndJSON(t *testing.T) {
	d := New(DefaultConfig())
	var p Packet
	d.Decode(1, buildEthIPv4TCP(nil), 99, 1, &p)
	d.Decode(1, buildEthIPv4TCP(nil)[:20], 99, 1, &p)
	d.Decode(1, eth(0x0806, make([]byte, 28)), 42, 1, &p)
	d.Decode(200, nil, 0, 1, &p)
	fr := fragment4(udpDatagram4(3000), 1480)
	d.Decode(101, fr[0], len(fr[0]), 1, &p)
	d.Decode(101, fr[0], len(fr[0]), 1, &p)
	a := d.Stats()
	want := Stats{Frames: 6, IP: 1, NotIP: 1, UnsupportedLink: 1, FragmentFrames: 2,
		Malformed: map[string]uint64{"ipv4_header_short": 1},
		Defrag:    DefragStats{Fragments: 2, Dropped: map[string]uint64{"duplicate": 1}, Held: 1, Datagrams: 1, BufferBytes: uint64(classBytes(0))}}
	if js, wjs := mustJSON(t, a), mustJSON(t, want); js != wjs {
		t.Fatalf("stats\n%s\nwant\n%s", js, wjs)
	}
	var sum Stats
	sum.Add(a)
	sum.Add(a)
	if sum.Frames != 12 || sum.Malformed["ipv4_header_short"] != 2 || sum.Defrag.Dropped["duplicate"] != 2 || sum.Defrag.Held != 2 {
		t.Errorf("sum %+v", sum)
	}
	js := mustJSON(t, a)
	for _, k := range []string{`"frames"`, `"ip"`, `"not_ip"`, `"unsupported_link"`, `"fragment_frames"`, `"malformed"`, `"defrag"`,
		`"fragments"`, `"reassembled"`, `"delivered"`, `"dropped"`, `"held"`, `"datagrams"`, `"buffer_bytes"`} {
		if !strings.Contains(js, k) {
			t.Errorf("JSON %s lacks %s", js, k)
		}
	}
	if len(ReasonNames()) != int(numReasons)-1 || len(DropReasonNames()) != int(numDropReasons) {
		t.Error("reason name lists incomplete")
	}
	for _, n := range append(ReasonNames(), DropReasonNames()...) {
		if n == "" || n == "unknown" || strings.ToLower(n) != n {
			t.Errorf("bad reason name %q", n)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The hash key must cover every field of fragKey (a missed field would make
// distinct datagrams collide in the probe chain but never compare equal,
// which only costs time; a wrong equality would merge datagrams).
func TestFragKeyDistinct(t *testing.T) {
	d := New(DefaultConfig())
	d.fr.ensure()
	base := fragKey{id: 1, version: 4, proto: 17}
	variants := []fragKey{base}
	for i, mod := range []func(*fragKey){
		func(k *fragKey) { k.src[3] = 1 }, func(k *fragKey) { k.dst[3] = 1 }, func(k *fragKey) { k.id = 2 },
		func(k *fragKey) { k.tunID = 1 }, func(k *fragKey) { k.vlan = 1 }, func(k *fragKey) { k.proto = 6 },
		func(k *fragKey) { k.version = 6 }, func(k *fragKey) { k.tunnel = TunnelVXLAN },
	} {
		k := base
		mod(&k)
		variants = append(variants, k)
		if d.fr.hashKey(&k) == d.fr.hashKey(&base) {
			t.Errorf("variant %d hashes like the base key", i)
		}
	}
}
