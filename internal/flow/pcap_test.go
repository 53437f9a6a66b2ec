package flow

// A test-only capture reader: it turns capture files into decode.Packet
// values with gopacket, so that this package's tests do not depend on the
// decoder being written alongside. Speed does not matter here.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/decode"
)

type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// readCapture returns the IP packets of a corpus capture (relative to the
// corpus root), in file order; non-IP frames and fragments are skipped.
func readCapture(t testing.TB, rel string) []decode.Packet {
	t.Helper()
	var out []decode.Packet
	readFrames(t, rel, func(data []byte, link layers.LinkType, ci gopacket.CaptureInfo) {
		if p, ok := toPacket(data, link, ci); ok {
			out = append(out, p)
		}
	})
	return out
}

// readDecoded returns the packets internal/decode makes of a corpus
// capture: those it decodes completely (StatusOK), as the probe feeds them
// to the flow table.
func readDecoded(t testing.TB, rel string) []decode.Packet {
	t.Helper()
	d := decode.New(decode.DefaultConfig())
	var out []decode.Packet
	readFrames(t, rel, func(data []byte, link layers.LinkType, ci gopacket.CaptureInfo) {
		var p decode.Packet
		if d.Decode(uint16(link), data, ci.Length, ci.Timestamp.UnixNano(), &p) == decode.StatusOK && p.IPVersion != 0 {
			p.Payload = nil // aliases the frame or the decoder's buffers
			out = append(out, p)
		}
	})
	return out
}

// readFrames calls fn for every frame of a pcap or pcapng corpus file.
func readFrames(t testing.TB, rel string, fn func([]byte, layers.LinkType, gopacket.CaptureInfo)) {
	t.Helper()
	path := corpus.Path(t, rel)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	br := bufio.NewReader(fh)
	magic, err := br.Peek(4)
	if err != nil {
		t.Fatal(err)
	}
	var src packetSource
	var link layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src, link = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		src, link = r, r.LinkType()
	}
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		fn(data, link, ci)
	}
}

// toPacket fills a decode.Packet the way the decoder documents it: the
// innermost IP header and its transport, lengths from the headers (not the
// captured bytes).
func toPacket(data []byte, link layers.LinkType, ci gopacket.CaptureInfo) (decode.Packet, bool) {
	pkt := gopacket.NewPacket(data, link, gopacket.DecodeOptions{NoCopy: true})
	p := decode.Packet{Timestamp: ci.Timestamp.UnixNano(), WireLen: ci.Length, PktType: decode.PktTypeUnknown}
	var l4Len int // transport length according to the IP header
	for _, l := range pkt.Layers() {
		switch v := l.(type) {
		case *layers.Dot1Q:
			if p.NumVLANs < 2 {
				p.VLANs[p.NumVLANs] = v.VLANIdentifier
			}
			p.NumVLANs++
		case *layers.VXLAN:
			if p.Tunnel == decode.TunnelNone {
				p.Tunnel, p.TunnelID = decode.TunnelVXLAN, v.VNI
			}
		case *layers.IPv4:
			if v.Flags&layers.IPv4MoreFragments != 0 || v.FragOffset != 0 {
				return p, false
			}
			resetTransport(&p)
			p.IPVersion = 4
			p.SrcIP, _ = netip.AddrFromSlice(v.SrcIP.To4())
			p.DstIP, _ = netip.AddrFromSlice(v.DstIP.To4())
			p.IPLen = int(v.Length)
			p.TTL = v.TTL
			p.Proto = uint8(v.Protocol)
			l4Len = int(v.Length) - int(v.IHL)*4
		case *layers.IPv6:
			resetTransport(&p)
			p.IPVersion = 6
			p.SrcIP, _ = netip.AddrFromSlice(v.SrcIP)
			p.DstIP, _ = netip.AddrFromSlice(v.DstIP)
			p.IPLen = 40 + int(v.Length)
			p.TTL = v.HopLimit
			p.Proto = uint8(v.NextHeader)
			l4Len = int(v.Length)
		case *layers.IPv6Fragment:
			return p, false
		case *layers.IPv6HopByHop:
			p.Proto = uint8(v.NextHeader)
			l4Len -= len(v.Contents)
		case *layers.IPv6Routing:
			p.Proto = uint8(v.NextHeader)
			l4Len -= len(v.Contents)
		case *layers.IPv6Destination:
			p.Proto = uint8(v.NextHeader)
			l4Len -= len(v.Contents)
		case *layers.TCP:
			p.Proto = decode.ProtoTCP
			p.SrcPort, p.DstPort = uint16(v.SrcPort), uint16(v.DstPort)
			p.Seq, p.Ack, p.Window = v.Seq, v.Ack, v.Window
			var f uint8
			for _, b := range []struct {
				on  bool
				bit uint8
			}{{v.FIN, decode.TCPFin}, {v.SYN, decode.TCPSyn}, {v.RST, decode.TCPRst}, {v.PSH, decode.TCPPsh},
				{v.ACK, decode.TCPAck}, {v.URG, decode.TCPUrg}, {v.ECE, decode.TCPEce}, {v.CWR, decode.TCPCwr}} {
				if b.on {
					f |= b.bit
				}
			}
			p.TCPFlags = f
			p.PayloadLen = max(l4Len-int(v.DataOffset)*4, 0)
			p.Payload = v.Payload
		case *layers.UDP:
			p.Proto = decode.ProtoUDP
			p.SrcPort, p.DstPort = uint16(v.SrcPort), uint16(v.DstPort)
			p.PayloadLen = max(l4Len-8, 0)
			p.Payload = v.Payload
		case *layers.ICMPv4:
			p.Proto = decode.ProtoICMP
			p.ICMPType, p.ICMPCode = v.TypeCode.Type(), v.TypeCode.Code()
			p.PayloadLen = max(l4Len-8, 0)
		case *layers.ICMPv6:
			p.Proto = decode.ProtoICMPv6
			p.ICMPType, p.ICMPCode = v.TypeCode.Type(), v.TypeCode.Code()
			p.PayloadLen = max(l4Len-8, 0)
		}
	}
	if !knownTransport(p.Proto) {
		p.PayloadLen = max(l4Len, 0) // as internal/decode: the whole transport
	}
	return p, p.IPVersion != 0
}

func knownTransport(proto uint8) bool {
	switch proto {
	case decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP, decode.ProtoICMPv6:
		return true
	}
	return false
}

// resetTransport forgets an outer transport header when an inner IP header
// follows (tunnels).
func resetTransport(p *decode.Packet) {
	p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window = 0, 0, 0, 0, 0, 0
	p.ICMPType, p.ICMPCode, p.PayloadLen, p.Payload = 0, 0, 0, nil
}
