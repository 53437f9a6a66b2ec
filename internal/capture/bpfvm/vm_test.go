package bpfvm

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

func asm(t testing.TB, ins ...bpf.Instruction) []bpf.RawInstruction {
	t.Helper()
	raw, err := bpf.Assemble(ins)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRunSemantics(t *testing.T) {
	pkt := []byte{0x45, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09}
	cases := []struct {
		name string
		prog []bpf.Instruction
		wire int
		want uint32
	}{
		{"ld word", []bpf.Instruction{bpf.LoadAbsolute{Off: 6, Size: 4}, bpf.RetA{}}, 10, 0x06070809},
		{"ld word out of bounds", []bpf.Instruction{bpf.LoadAbsolute{Off: 7, Size: 4}, bpf.RetConstant{Val: 9}}, 10, 0},
		{"ld half at end", []bpf.Instruction{bpf.LoadAbsolute{Off: 8, Size: 2}, bpf.RetA{}}, 10, 0x0809},
		{"ld byte past end", []bpf.Instruction{bpf.LoadAbsolute{Off: 10, Size: 1}, bpf.RetConstant{Val: 9}}, 10, 0},
		{"ld huge offset", []bpf.Instruction{bpf.LoadAbsolute{Off: 0xfffffffe, Size: 4}, bpf.RetConstant{Val: 9}}, 10, 0},
		{"len is wire length", []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}, bpf.RetA{}}, 1500, 1500},
		{"ldx len", []bpf.Instruction{bpf.RawInstruction{Op: 0x81}, bpf.TXA{}, bpf.RetA{}}, 77, 77},
		{"neg", []bpf.Instruction{bpf.LoadConstant{Val: 1}, bpf.NegateA{}, bpf.RetA{}}, 1, 0xffffffff},
		{"msh", []bpf.Instruction{bpf.LoadMemShift{Off: 0}, bpf.TXA{}, bpf.RetA{}}, 10, 20},
		{"msh out of bounds", []bpf.Instruction{bpf.LoadMemShift{Off: 10}, bpf.RetConstant{Val: 1}}, 10, 0},
		{"indirect", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 2}, bpf.LoadIndirect{Off: 4, Size: 4}, bpf.RetA{}}, 10, 0x06070809},
		{"indirect out of bounds", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 3}, bpf.LoadIndirect{Off: 4, Size: 4}, bpf.RetConstant{Val: 1}}, 10, 0},
		{"indirect wraps", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 0xffffffff}, bpf.LoadIndirect{Off: 2, Size: 1}, bpf.RetConstant{Val: 1}}, 10, 0},
		{"div by zero X", []bpf.Instruction{bpf.LoadConstant{Val: 7}, bpf.LoadConstant{Dst: bpf.RegX, Val: 0}, bpf.ALUOpX{Op: bpf.ALUOpDiv}, bpf.RetConstant{Val: 1}}, 10, 0},
		{"mod by zero X", []bpf.Instruction{bpf.LoadConstant{Val: 7}, bpf.LoadConstant{Dst: bpf.RegX, Val: 0}, bpf.ALUOpX{Op: bpf.ALUOpMod}, bpf.RetConstant{Val: 1}}, 10, 0},
		{"div", []bpf.Instruction{bpf.LoadConstant{Val: 7}, bpf.ALUOpConstant{Op: bpf.ALUOpDiv, Val: 2}, bpf.RetA{}}, 10, 3},
		{"shift X >= 32", []bpf.Instruction{bpf.LoadConstant{Val: 0x80000001}, bpf.LoadConstant{Dst: bpf.RegX, Val: 33}, bpf.ALUOpX{Op: bpf.ALUOpShiftLeft}, bpf.RetA{}}, 10, 0},
		{"rsh", []bpf.Instruction{bpf.LoadConstant{Val: 0x80000001}, bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 31}, bpf.RetA{}}, 10, 1},
		{"memory", []bpf.Instruction{bpf.LoadConstant{Val: 5}, bpf.StoreScratch{Src: bpf.RegA, N: 15}, bpf.LoadConstant{Val: 0}, bpf.LoadScratch{Dst: bpf.RegA, N: 15}, bpf.RetA{}}, 10, 5},
		{"jump", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x45, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, 10, 2},
		{"jset", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x02, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, 10, 1},
		{"ja", []bpf.Instruction{bpf.Jump{Skip: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, 10, 2},
	}
	for _, c := range cases {
		p, err := New(asm(t, c.prog...))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := p.Run(pkt, c.wire); got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
		// libpcap agrees.
		if got := libpcapRun(t, p.Raw(), pkt, c.wire); got != (c.want != 0) {
			t.Errorf("%s: libpcap says %v", c.name, got)
		}
	}
}

func TestNewRejects(t *testing.T) {
	raw := func(op uint16, jt, jf uint8, k uint32, more ...bpf.RawInstruction) []bpf.RawInstruction {
		return append([]bpf.RawInstruction{{Op: op, Jt: jt, Jf: jf, K: k}}, more...)
	}
	ret := bpf.RawInstruction{Op: 0x06, K: 1}
	cases := map[string][]bpf.RawInstruction{
		"empty":             nil,
		"no return":         raw(0x00, 0, 0, 1),
		"unknown opcode":    raw(0xff, 0, 0, 0, ret),
		"misc other":        raw(0x07|0x40, 0, 0, 0, ret),
		"ld msh into A":     raw(0x00|0x10|0xa0, 0, 0, 0, ret),
		"jump out":          raw(0x15, 0, 1, 0, ret),
		"ja out":            raw(0x05, 0, 0, 1, ret),
		"ja wraps":          raw(0x05, 0, 0, 0xffffffff, ret),
		"mem index":         raw(0x02, 0, 0, 16, ret),
		"div by constant 0": raw(0x34, 0, 0, 0, ret),
		"mod by constant 0": raw(0x94, 0, 0, 0, ret),
		"shift 32":          raw(0x64, 0, 0, 32, ret),
		"uninit memory":     raw(0x60, 0, 0, 3, ret),
		"uninit on a path": {
			{Op: 0x15, Jt: 0, Jf: 1, K: 0}, // jeq #0 → st M[0]; else skip it
			{Op: 0x02, K: 0},
			{Op: 0x60, K: 0}, // ld M[0]: not written when the jump was not taken
			{Op: 0x16},
		},
	}
	for name, prog := range cases {
		if _, err := New(prog); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	long := make([]bpf.RawInstruction, MaxInstructions+1)
	for i := range long {
		long[i] = ret
	}
	if _, err := New(long); err == nil {
		t.Error("too long: accepted")
	}
	// Written on both paths: accepted.
	ok := []bpf.RawInstruction{
		{Op: 0x15, Jt: 0, Jf: 2, K: 0},
		{Op: 0x02, K: 0},
		{Op: 0x05, K: 1},
		{Op: 0x02, K: 0},
		{Op: 0x60, K: 0},
		{Op: 0x16},
	}
	if _, err := New(ok); err != nil {
		t.Errorf("written on both paths: %v", err)
	}
}

// libpcapHandle returns a savefile handle (any handle can build a BPF from
// instructions; gopacket offers no pcap_open_dead for it).
func libpcapHandle(t testing.TB) *pcap.Handle {
	t.Helper()
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	p := filepath.Join(t.TempDir(), "h.pcap")
	if err := os.WriteFile(p, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := pcap.OpenOffline(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// libpcapRun runs a program with pcap_offline_filter (libpcap's
// bpf_filter) and returns its verdict.
func libpcapRun(t testing.TB, raw []bpf.RawInstruction, pkt []byte, wire int) bool {
	t.Helper()
	ins := make([]pcap.BPFInstruction, len(raw))
	for i, r := range raw {
		ins[i] = pcap.BPFInstruction{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	b, err := libpcapHandle(t).NewBPFInstructionFilter(ins)
	if err != nil {
		t.Fatal(err)
	}
	return b.Matches(gopacket.CaptureInfo{CaptureLength: len(pkt), Length: wire}, pkt)
}

// seedExprs are compiled by libpcap for the fuzz corpus.
var seedExprs = []string{
	"tcp", "udp port 53", "vlan 118", "vlan and tcp", "ip6", "host 8.8.8.8",
	"net 192.168.0.0/16", "tcp[tcpflags] & tcp-syn != 0", "ether dst 00:13:c3:df:ae:18",
	"ip[6:2] & 0x1fff != 0", "greater 1000", "portrange 8000-9000", "not arp",
	"icmp or icmp6", "ip proto 47", "tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
	"ip6 and tcp port 443", "mpls and ip", "ip[0] & 0xf > 5 and udp[8:4] = 0x12345678",
}

func encode(raw []bpf.RawInstruction) []byte {
	b := make([]byte, 8*len(raw))
	for i, r := range raw {
		binary.LittleEndian.PutUint16(b[8*i:], r.Op)
		b[8*i+2], b[8*i+3] = r.Jt, r.Jf
		binary.LittleEndian.PutUint32(b[8*i+4:], r.K)
	}
	return b
}

func decode(b []byte) []bpf.RawInstruction {
	raw := make([]bpf.RawInstruction, 0, len(b)/8)
	for ; len(b) >= 8; b = b[8:] {
		raw = append(raw, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])})
	}
	return raw
}

// FuzzBPF runs random programs (mutated from libpcap-compiled ones) over
// random packets: New must never panic, Run must never panic on a program
// New accepted, and its verdict must be libpcap's (bpf_filter) — every
// program New accepts is one libpcap runs deterministically.
func FuzzBPF(f *testing.F) {
	tcpSyn := []byte{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, // Ethernet, IPv4
		0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 192, 168, 1, 1, 8, 8, 8, 8, // IPv4 TCP
		0x1f, 0x90, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP SYN 8080 → 80
	}
	for _, e := range seedExprs {
		ins, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, 262144, e)
		if err != nil {
			f.Fatalf("%q: %v", e, err)
		}
		raw := make([]bpf.RawInstruction, len(ins))
		for i, in := range ins {
			raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
		f.Add(encode(raw), tcpSyn, uint32(len(tcpSyn)))
		f.Add(encode(raw), tcpSyn[:20], uint32(1500))
	}
	h := libpcapHandle(f)
	f.Fuzz(func(t *testing.T, progBytes, pkt []byte, wire uint32) {
		raw := decode(progBytes)
		p, err := New(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bpf: ") {
				t.Fatalf("error %v", err)
			}
			return
		}
		got := p.Run(pkt, int(wire)) != 0
		ins := make([]pcap.BPFInstruction, len(raw))
		for i, r := range raw {
			ins[i] = pcap.BPFInstruction{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
		}
		b, err := h.NewBPFInstructionFilter(ins)
		if err != nil {
			t.Fatal(err)
		}
		want := b.Matches(gopacket.CaptureInfo{CaptureLength: len(pkt), Length: int(wire)}, pkt)
		if got != want {
			t.Fatalf("ours %v, libpcap %v, program %v", got, want, raw)
		}
	})
}

func BenchmarkRun(b *testing.B) {
	ins, err := pcap.CompileBPFFilter(layers.LinkTypeEthernet, 262144, "tcp port 80 or udp port 53")
	if err != nil {
		b.Fatal(err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	p, err := New(raw)
	if err != nil {
		b.Fatal(err)
	}
	pkt := make([]byte, 74)
	copy(pkt[12:], []byte{0x08, 0x00, 0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 17})
	pkt[36], pkt[37] = 0, 53
	b.ReportAllocs()
	for b.Loop() {
		if p.Run(pkt, len(pkt)) == 0 {
			b.Fatal("no match")
		}
	}
}
