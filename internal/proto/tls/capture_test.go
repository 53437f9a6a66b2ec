package tls

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// direction is one direction of one TCP connection of a capture, with its
// payload reassembled the simple way: segments ordered by sequence number,
// duplicates and overlaps dropped, stopping at the first hole.
type direction struct {
	Src, Dst  netip.AddrPort
	Data      []byte
	Gap       bool // a hole was found; Data stops before it
	FirstPkt  int  // index of the first packet of the direction in the file
	segs      []segment
	isn       uint32
	syn       bool
	firstSeen uint32
}

type segment struct {
	seq  uint32
	data []byte
}

type dirKey struct{ src, dst netip.AddrPort }

// readDirections reads a pcap or pcapng file and returns every TCP direction
// that carried payload, in order of first appearance. A SYN with a new
// initial sequence number on a known 4-tuple starts a new connection.
func readDirections(t testing.TB, path string) []*direction {
	t.Helper()
	dirs, _ := readCapture(t, path)
	return dirs
}

// readCapture is readDirections that also returns every TCP payload as
// captured, packet by packet, for per-packet tools (PcapPlusPlus).
func readCapture(t testing.TB, path string) ([]*direction, [][]byte) {
	t.Helper()
	dirs, payloads, err := readCaptureErr(path)
	if err != nil {
		t.Fatal(err)
	}
	return dirs, payloads
}

func readCaptureErr(path string) ([]*direction, [][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var (
		src source
		lt  layers.LinkType
	)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		src, lt = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		src, lt = r, r.LinkType()
	}

	live := map[dirKey]*direction{}
	var (
		all      []*direction
		payloads [][]byte
	)
	for i := 0; ; i++ {
		data, _, err := src.ReadPacketData()
		if err != nil {
			// EOF, a file cut short, or a broken record: keep what was read.
			break
		}
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tl == nil {
			continue
		}
		// The IP header right before TCP: the inner one of a tunnel.
		var sa, da netip.Addr
		for _, l := range pkt.Layers() {
			switch nl := l.(type) {
			case *layers.IPv4:
				sa, _ = netip.AddrFromSlice(nl.SrcIP.To4())
				da, _ = netip.AddrFromSlice(nl.DstIP.To4())
			case *layers.IPv6:
				sa, _ = netip.AddrFromSlice(nl.SrcIP)
				da, _ = netip.AddrFromSlice(nl.DstIP)
			}
		}
		if !sa.IsValid() {
			continue
		}
		k := dirKey{netip.AddrPortFrom(sa, uint16(tl.SrcPort)), netip.AddrPortFrom(da, uint16(tl.DstPort))}
		d := live[k]
		if tl.SYN && d != nil && (!d.syn || d.isn != tl.Seq) {
			d = nil // port reuse: a new connection
		}
		if d == nil {
			d = &direction{Src: k.src, Dst: k.dst, FirstPkt: i}
			live[k] = d
			all = append(all, d)
		}
		if tl.SYN {
			d.syn, d.isn = true, tl.Seq
		}
		if len(tl.Payload) > 0 {
			if len(d.segs) == 0 {
				d.firstSeen = tl.Seq
			}
			p := append([]byte(nil), tl.Payload...)
			d.segs = append(d.segs, segment{tl.Seq, p})
			payloads = append(payloads, p)
		}
	}
	var out []*direction
	for _, d := range all {
		if len(d.segs) == 0 {
			continue
		}
		d.reassemble()
		out = append(out, d)
	}
	return out, payloads, nil
}

func (d *direction) reassemble() {
	ref := d.firstSeen
	rel := func(seq uint32) int64 { return int64(int32(seq - ref)) }
	sort.SliceStable(d.segs, func(i, j int) bool { return rel(d.segs[i].seq) < rel(d.segs[j].seq) })
	cur := rel(d.segs[0].seq)
	if d.syn {
		cur = rel(d.isn + 1)
	}
	for _, s := range d.segs {
		start, end := rel(s.seq), rel(s.seq)+int64(len(s.data))
		if end <= cur {
			continue
		}
		if start > cur {
			d.Gap = true
			break
		}
		d.Data = append(d.Data, s.data[cur-start:]...)
		cur = end
	}
	d.segs = nil
}

// feedAll runs a Stream over data cut into pieces of the given size (0: one
// piece) and returns all events and the final error.
func feedAll(data []byte, piece int) ([]Event, error) {
	var s Stream
	var out []Event
	if piece <= 0 {
		piece = len(data) + 1
	}
	for len(data) > 0 {
		n := min(piece, len(data))
		ev, err := s.Feed(data[:n])
		out = append(out, ev...)
		data = data[n:]
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
