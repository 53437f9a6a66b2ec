package dns

// A test-only capture reader: it pulls DNS messages out of corpus captures
// with gopacket (UDP payloads as they are, TCP streams reassembled per
// direction and cut with SplitTCP). Speed does not matter here.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// capMsg is one DNS message found in a capture.
type capMsg struct {
	frame            int // frame that carried it (for TCP: the stream's first data frame)
	tcp, v6          bool
	srcPort, dstPort uint16
	payload          []byte
}

type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// readFrames calls fn for every frame of a pcap or pcapng corpus file.
func readFrames(t testing.TB, rel string, fn func(frame int, data []byte, link layers.LinkType)) {
	t.Helper()
	fh, err := os.Open(corpus.Path(t, rel))
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
	for frame := 1; ; frame++ {
		data, _, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", rel, frame, err)
		}
		fn(frame, data, link)
	}
}

// tcpDir is one direction of one TCP connection.
type tcpDir struct {
	key        string
	firstFrame int
	isn        uint32
	haveISN    bool
	segs       []tcpSeg
	srcPort    uint16
	dstPort    uint16
	v6         bool
}

type tcpSeg struct {
	seq  uint32
	data []byte
}

// stream returns the direction's bytes: segments ordered by sequence
// number, retransmitted bytes dropped. Captures here have no lasting
// holes; a hole ends the stream (and is reported).
func (d *tcpDir) stream() (out []byte, hole bool) {
	base := d.isn
	if !d.haveISN && len(d.segs) > 0 {
		base = d.segs[0].seq
		for _, s := range d.segs {
			if int32(s.seq-base) < 0 {
				base = s.seq
			}
		}
	}
	segs := append([]tcpSeg(nil), d.segs...)
	sort.SliceStable(segs, func(i, j int) bool { return int32(segs[i].seq-base) < int32(segs[j].seq-base) })
	for _, s := range segs {
		rel := int(int32(s.seq - base))
		if rel > len(out) {
			return out, true
		}
		if end := rel + len(s.data); end > len(out) {
			out = append(out, s.data[len(out)-rel:]...)
		}
	}
	return out, false
}

// readMessages returns the DNS messages of a capture: UDP payloads in
// frame order (IP fragments skipped, as pktvisor does), then the messages
// of each TCP direction in order of the direction's first data frame.
// want selects the ports (src, dst); nil takes everything.
func readMessages(t testing.TB, rel string, want func(src, dst uint16) bool) (msgs []capMsg, holes int) {
	t.Helper()
	dirs := map[string]*tcpDir{}
	var order []*tcpDir
	readFrames(t, rel, func(frame int, data []byte, link layers.LinkType) {
		pkt := gopacket.NewPacket(data, link, gopacket.DecodeOptions{NoCopy: true, Lazy: false})
		var netKey string
		v6 := false
		for _, l := range pkt.Layers() {
			switch v := l.(type) {
			case *layers.IPv4:
				if v.Flags&layers.IPv4MoreFragments != 0 || v.FragOffset != 0 {
					return
				}
				netKey, v6 = v.SrcIP.String()+">"+v.DstIP.String(), false
			case *layers.IPv6:
				netKey, v6 = v.SrcIP.String()+">"+v.DstIP.String(), true
			case *layers.IPv6Fragment:
				return
			case *layers.UDP:
				if want != nil && !want(uint16(v.SrcPort), uint16(v.DstPort)) {
					return
				}
				msgs = append(msgs, capMsg{frame: frame, v6: v6, srcPort: uint16(v.SrcPort), dstPort: uint16(v.DstPort), payload: bytes.Clone(v.Payload)})
				return
			case *layers.TCP:
				if want != nil && !want(uint16(v.SrcPort), uint16(v.DstPort)) {
					return
				}
				key := fmt.Sprintf("%s %d>%d", netKey, v.SrcPort, v.DstPort)
				d := dirs[key]
				if v.SYN {
					// A new connection on this 4-tuple starts a new stream.
					d = &tcpDir{key: key, isn: v.Seq + 1, haveISN: true, srcPort: uint16(v.SrcPort), dstPort: uint16(v.DstPort), v6: v6}
					dirs[key] = d
					order = append(order, d)
					return
				}
				if len(v.Payload) == 0 {
					return
				}
				if d == nil {
					d = &tcpDir{key: key, srcPort: uint16(v.SrcPort), dstPort: uint16(v.DstPort), v6: v6}
					dirs[key] = d
					order = append(order, d)
				}
				if d.firstFrame == 0 {
					d.firstFrame = frame
				}
				d.segs = append(d.segs, tcpSeg{seq: v.Seq, data: bytes.Clone(v.Payload)})
				return
			}
		}
	})
	sort.SliceStable(order, func(i, j int) bool { return order[i].firstFrame < order[j].firstFrame })
	for _, d := range order {
		s, hole := d.stream()
		if hole {
			holes++
		}
		SplitTCP(s, func(m []byte) bool {
			msgs = append(msgs, capMsg{frame: d.firstFrame, tcp: true, v6: d.v6, srcPort: d.srcPort, dstPort: d.dstPort, payload: m})
			return true
		})
	}
	return msgs, holes
}

// portIs selects traffic to or from one of ports.
func portIs(ports ...uint16) func(src, dst uint16) bool {
	return func(src, dst uint16) bool {
		for _, p := range ports {
			if src == p || dst == p {
				return true
			}
		}
		return false
	}
}
