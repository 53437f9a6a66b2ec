package decode

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// feeder decodes frames in order and checks the status of each.
type feeder struct {
	t   *testing.T
	d   *Decoder
	cfg Config
	p   Packet
	ts  int64
}

func newFeeder(t *testing.T, cfg Config) *feeder {
	return &feeder{t: t, d: New(cfg), cfg: cfg, ts: 1e9}
}

func (f *feeder) feed(link uint16, frame []byte, want Status) *Packet {
	f.t.Helper()
	st := f.d.Decode(link, frame, len(frame), f.ts, &f.p)
	if st != want {
		f.t.Fatalf("status %v (reason %v), want %v; defrag %+v", st, f.d.reason, want, f.d.Stats().Defrag)
	}
	checkInvariants(f.t, "feeder", f.d.Stats(), f.cfg)
	return &f.p
}

func (f *feeder) dropped(why string, n uint64) {
	f.t.Helper()
	if got := f.d.Stats().Defrag.Dropped[why]; got != n {
		f.t.Errorf("dropped[%s] = %d, want %d (%+v)", why, got, n, f.d.Stats().Defrag)
	}
}

// udpDatagram4 is an IPv4/UDP packet with n payload bytes (id 0x1234).
func udpDatagram4(n int) []byte {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return buildIPv4UDP(ip4Src, ip4Dst, 1111, 2222, payload)
}

func TestDefragInOrderAndReverse(t *testing.T) {
	orig := udpDatagram4(3000)
	frags := fragment4(orig, 1480)
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}} {
		f := newFeeder(t, DefaultConfig())
		for i, k := range order {
			if i < 2 {
				p := f.feed(101, frags[k], StatusFragment)
				if p.IPVersion != 4 || p.SrcIP.String() != "10.0.0.1" || p.IPLen != len(frags[k]) || p.Proto != ProtoUDP {
					t.Fatalf("fragment view %+v", *p)
				}
				continue
			}
			p := f.feed(101, frags[k], StatusOK)
			if !p.Fragmented || p.IPLen != len(orig) || p.PayloadLen != 3000 || !bytes.Equal(p.Payload, orig[28:]) ||
				p.SrcPort != 1111 || p.DstPort != 2222 || p.TTL != 64 {
				t.Fatalf("order %v: %+v", order, *p)
			}
		}
		s := f.d.Stats()
		if s.Defrag.Reassembled != 1 || s.Defrag.Delivered != 3 || s.Defrag.Held != 0 || s.Defrag.Datagrams != 0 || s.FragmentFrames != 2 || s.IP != 1 {
			t.Errorf("order %v: %+v", order, s)
		}
	}
}

func TestDefragIPv6(t *testing.T) {
	payload := make([]byte, 2000)
	for i := range payload {
		payload[i] = byte(i)
	}
	orig := buildIPv6(ProtoUDP, nil, nil, cat(udpHeader(7, 8, len(payload)), payload))
	frags := fragment6(orig, 1232, 0xabcdef01)
	f := newFeeder(t, DefaultConfig())
	p := f.feed(229, frags[1], StatusFragment)
	if p.IPVersion != 6 || p.Proto != ProtoUDP || p.IPLen != len(frags[1]) {
		t.Fatalf("fragment view %+v", *p)
	}
	p = f.feed(229, frags[0], StatusOK)
	if !p.Fragmented || p.IPLen != len(orig) || p.PayloadLen != 2000 || !bytes.Equal(p.Payload, payload) || p.DstPort != 8 {
		t.Fatalf("%+v", *p)
	}

	// Unfragmentable extension headers in front of the fragment header
	// count in IPLen; a destination-options header after it is part of the
	// fragmentable part and is skipped after reassembly.
	fragPart := cat(ext8(2), udpHeader(9, 10, 100), make([]byte, 100)) // dst opts (16) + UDP
	fragPart[0] = ProtoUDP
	mk := func(off, n int, more bool) []byte {
		fh := make([]byte, 8)
		fh[0] = 60
		fo := uint16(off)
		if more {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], 77)
		hbh := ext8(1)
		hbh[0] = 44
		body := cat(hbh, fh, fragPart[off:off+n])
		return cat(ipv6Header(0, len(body), ip6Src, ip6Dst), body)
	}
	f.feed(229, mk(64, len(fragPart)-64, false), StatusFragment)
	p = f.feed(229, mk(0, 64, true), StatusOK)
	if p.Proto != ProtoUDP || p.SrcPort != 9 || p.PayloadLen != 100 || p.IPLen != 40+8+len(fragPart) {
		t.Fatalf("%+v", *p)
	}
}

func TestDefragDuplicateOverlapInconsistent(t *testing.T) {
	frags := fragment4(udpDatagram4(3000), 1024)
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}

	t.Run("covered by two held fragments", func(t *testing.T) {
		// [512, 1536) adds nothing to [0, 1024) + [1024, 2048): first wins.
		f := newFeeder(t, DefaultConfig())
		f.feed(101, frags[0], StatusFragment)
		f.feed(101, frags[1], StatusFragment)
		o := append([]byte(nil), frags[0]...)
		binary.BigEndian.PutUint16(o[6:], 0x2000|512/8)
		f.feed(101, o, StatusFragment)
		f.dropped("duplicate", 1)
		f.feed(101, frags[2], StatusOK)
	})
	t.Run("duplicate", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		f.feed(101, frags[0], StatusFragment)
		f.feed(101, frags[0], StatusFragment)
		f.feed(101, frags[1], StatusFragment)
		f.feed(101, frags[2], StatusOK)
		f.dropped("duplicate", 1)
	})
	t.Run("overlap drops the datagram", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		f.feed(101, frags[0], StatusFragment)
		// A fragment over [512, 1536): half of it already held.
		o := append([]byte(nil), frags[0]...)
		binary.BigEndian.PutUint16(o[6:], 0x2000|512/8)
		f.feed(101, o, StatusFragment)
		f.dropped("overlap", 2)
		f.feed(101, frags[1], StatusFragment) // remembered as dropped
		f.feed(101, frags[2], StatusFragment)
		f.dropped("overlap", 4)
		if s := f.d.Stats().Defrag; s.Held != 0 || s.Reassembled != 0 {
			t.Errorf("%+v", s)
		}
	})
	t.Run("two different ends", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		f.feed(101, frags[2], StatusFragment)
		last := append([]byte(nil), frags[2]...)
		binary.BigEndian.PutUint16(last[6:], 2048/8+8) // ends 64 bytes later
		f.feed(101, last, StatusFragment)
		f.dropped("inconsistent", 2)
	})
	t.Run("non-final fragment not a multiple of 8", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		odd := append([]byte(nil), frags[0][:len(frags[0])-1]...)
		binary.BigEndian.PutUint16(odd[2:], uint16(len(odd)))
		f.feed(101, odd, StatusFragment)
		f.dropped("inconsistent", 1)
	})
	t.Run("data past the end", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		f.feed(101, frags[1], StatusFragment) // ends at 2048
		short := append([]byte(nil), frags[2][:20+8]...)
		binary.BigEndian.PutUint16(short[2:], 28)
		binary.BigEndian.PutUint16(short[6:], 1024/8) // last fragment ending at 1032, inside held data
		f.feed(101, short, StatusFragment)
		f.dropped("inconsistent", 2)
	})
	t.Run("zero length", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		z := append([]byte(nil), frags[0][:20]...)
		binary.BigEndian.PutUint16(z[2:], 20)
		f.feed(101, z, StatusFragment)
		f.dropped("inconsistent", 1)
		if s := f.d.Stats().Defrag; s.Datagrams != 0 {
			t.Errorf("a zero-length fragment started a datagram: %+v", s)
		}
	})
	t.Run("too large", func(t *testing.T) {
		f := newFeeder(t, DefaultConfig())
		big := append([]byte(nil), frags[2]...)
		binary.BigEndian.PutUint16(big[6:], 8189) // offset 65512 + 952 bytes > 65535
		f.feed(101, big, StatusFragment)
		f.feed(101, frags[0], StatusFragment)
		f.dropped("too_large", 2)
	})
}

func TestDefragTimeout(t *testing.T) {
	frags := fragment4(udpDatagram4(3000), 1480)
	f := newFeeder(t, DefaultConfig())
	f.feed(101, frags[0], StatusFragment)
	f.ts += int64(31 * time.Second)
	f.feed(101, frags[1], StatusFragment) // the stale datagram goes; this one starts anew
	f.dropped("timeout", 1)
	f.ts += int64(31 * time.Second)
	f.feed(101, pkt4, StatusOK) // expiry runs on any frame
	f.dropped("timeout", 2)
	if s := f.d.Stats().Defrag; s.Held != 0 || s.Datagrams != 0 {
		t.Errorf("%+v", s)
	}
	// Time going backwards a long way (stitched captures) expires too.
	f.feed(101, frags[0], StatusFragment)
	f.ts -= int64(time.Hour)
	f.feed(101, pkt4, StatusOK)
	f.dropped("timeout", 3)
}

func TestDefragDatagramCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DefragMaxDatagrams = 2
	f := newFeeder(t, cfg)
	for id := 1; id <= 3; id++ {
		fr := fragment4(udpDatagram4(3000), 1480)[0]
		binary.BigEndian.PutUint16(fr[4:], uint16(id))
		f.feed(101, fr, StatusFragment)
	}
	f.dropped("datagram_cap", 1)
	if s := f.d.Stats().Defrag; s.Datagrams != 2 || s.Held != 2 {
		t.Errorf("%+v", s)
	}
}

func TestDefragMemoryCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DefragMaxBytes = MinDefragMaxBytes // room for one 64 KiB buffer and one 32 KiB buffer
	f := newFeeder(t, cfg)
	a := fragment4(udpDatagram4(40000), 1480)
	f.feed(101, a[len(a)-1], StatusFragment) // last fragment first: a 64 KiB buffer
	b := fragment4(udpDatagram4(40000), 1480)
	for _, fr := range b {
		binary.BigEndian.PutUint16(fr[4:], 99)
	}
	f.feed(101, b[len(b)-1], StatusFragment) // another 64 KiB: the oldest datagram goes
	f.dropped("memory_cap", 1)
	for _, fr := range b[:len(b)-2] {
		f.feed(101, fr, StatusFragment)
	}
	if p := f.feed(101, b[len(b)-2], StatusOK); p.PayloadLen != 40000 {
		t.Errorf("%+v", *p)
	}
	f.feed(101, a[0], StatusFragment) // remembered as dropped
	f.dropped("memory_cap", 2)

	// In capture order, a maximal datagram's buffer grows from 2 KiB to 64
	// KiB; the minimum cap must let it.
	f = newFeeder(t, cfg)
	c := fragment4(udpDatagram4(65535-28), 1480)
	for _, fr := range c[:len(c)-1] {
		f.feed(101, fr, StatusFragment)
	}
	if p := f.feed(101, c[len(c)-1], StatusOK); p.IPLen != 65535 || len(p.Payload) != 65535-28 {
		t.Errorf("IPLen %d captured %d", p.IPLen, len(p.Payload))
	}
	if s := f.d.Stats().Defrag; s.BufferBytes > uint64(MinDefragMaxBytes) || s.DroppedTotal() != 0 {
		t.Errorf("%+v", s)
	}
}

func TestDefragSnaplen(t *testing.T) {
	orig := udpDatagram4(3000)
	frags := fragment4(orig, 1480)
	f := newFeeder(t, DefaultConfig())
	f.feed(101, frags[0], StatusFragment)
	// The middle fragment was cut to 100 bytes by the snaplen.
	st := f.d.Decode(101, frags[1][:100], len(frags[1]), f.ts, &f.p)
	if st != StatusFragment {
		t.Fatal(st)
	}
	p := f.feed(101, frags[2], StatusOK)
	// Captured: the first fragment (1480 - 8 UDP) plus 80 bytes of the second.
	if p.PayloadLen != 3000 || len(p.Payload) != 1472+80 || !bytes.Equal(p.Payload, orig[28:28+1552]) {
		t.Errorf("PayloadLen %d captured %d", p.PayloadLen, len(p.Payload))
	}
}

func TestDefragInTunnels(t *testing.T) {
	t.Run("inner fragments in vxlan", func(t *testing.T) {
		inner := fragment4(udpDatagram4(2000), 1024)
		wrap := func(vni uint32, fr []byte) []byte {
			return eth(0x0800, buildIPv4UDP([4]byte{172, 16, 0, 1}, [4]byte{172, 16, 0, 2}, 1, 4789, cat(vxlanHdr(vni), eth(0x0800, fr))))
		}
		f := newFeeder(t, DefaultConfig())
		f.feed(1, wrap(5, inner[0]), StatusFragment)
		f.feed(1, wrap(6, inner[1]), StatusFragment) // another tenant: must not complete VNI 5's datagram
		p := f.feed(1, wrap(5, inner[1]), StatusOK)
		if p.Tunnel != TunnelVXLAN || p.TunnelID != 5 || !p.Fragmented || p.PayloadLen != 2000 || p.SrcIP.String() != "10.0.0.1" {
			t.Errorf("%+v", *p)
		}
	})
	t.Run("vxlan in outer fragments", func(t *testing.T) {
		innerEth := eth(0x0800, tcpPacket4([4]byte{192, 168, 5, 1}, [4]byte{192, 168, 5, 2}, 1500))
		outer := buildIPv4UDP([4]byte{172, 16, 0, 1}, [4]byte{172, 16, 0, 2}, 1, 4789, cat(vxlanHdr(42), innerEth))
		frags := fragment4(outer, 1000)
		f := newFeeder(t, DefaultConfig())
		for _, fr := range frags[:len(frags)-1] {
			f.feed(1, eth(0x0800, fr), StatusFragment)
		}
		p := f.feed(1, eth(0x0800, frags[len(frags)-1]), StatusOK)
		if p.Tunnel != TunnelVXLAN || p.TunnelID != 42 || !p.Fragmented || p.Proto != ProtoTCP || p.PayloadLen != 1500 ||
			len(p.Payload) != 1500 || p.SrcIP.String() != "192.168.5.1" || p.IPLen != 1540 {
			t.Errorf("%+v", *p)
		}
		// The payload lives in a decoder buffer until the next Decode.
		want := append([]byte(nil), p.Payload...)
		if !bytes.Equal(want, innerEth[14+40:]) {
			t.Errorf("payload differs")
		}
	})
}

// The hash index must survive heavy churn: many datagrams created, completed
// and expired in interleaved order, with the table at its cap.
func TestDefragChurn(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DefragMaxDatagrams = 64
	f := newFeeder(t, cfg)
	const n = 5000
	var completed int
	for i := 0; i < n; i++ {
		a := fragment4(udpDatagram4(1600), 1480)
		binary.BigEndian.PutUint16(a[0][4:], uint16(i))
		binary.BigEndian.PutUint16(a[1][4:], uint16(i))
		f.feed(101, a[1], StatusFragment)
		if i >= 32 { // complete the datagram started 32 iterations ago
			b := fragment4(udpDatagram4(1600), 1480)[0]
			binary.BigEndian.PutUint16(b[4:], uint16(i-32))
			if f.d.Decode(101, b, len(b), f.ts, &f.p) == StatusOK {
				completed++
			}
		}
		f.ts += int64(time.Millisecond)
	}
	if completed != n-32 {
		t.Errorf("completed %d, want %d; %+v", completed, n-32, f.d.Stats().Defrag)
	}
	checkInvariants(t, "churn", f.d.Stats(), cfg)
}
