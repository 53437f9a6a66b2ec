package decode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// frame is one captured frame read by the tests.
type frame struct {
	link    uint16
	data    []byte
	wireLen int
	ts      int64
}

// readFrames reads a pcap or pcapng file with gopacket's pcapgo (the
// project's own reader is another package's job). It returns the frames read
// before the first error, and the error (nil at a clean end of file).
func readFrames(path string) ([]frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	var out []frame
	if binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a {
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, err
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				return out, err
			}
			link := uint16(r.LinkType())
			if iface, err := r.Interface(ci.InterfaceIndex); err == nil {
				link = uint16(iface.LinkType)
			}
			out = append(out, frame{link, data, ci.Length, ci.Timestamp.UnixNano()})
		}
	}
	// pcap: read the link type from the file header ourselves; the upper
	// bits may carry FCS information.
	hdr, err := br.Peek(24)
	if err != nil {
		return nil, err
	}
	var link uint16
	switch binary.LittleEndian.Uint32(hdr) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		link = uint16(binary.LittleEndian.Uint32(hdr[20:24]))
	default:
		link = uint16(binary.BigEndian.Uint32(hdr[20:24]))
	}
	r, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
		out = append(out, frame{link, data, ci.Length, ci.Timestamp.UnixNano()})
	}
}

func mustFrames(t testing.TB, path string) []frame {
	t.Helper()
	fr, err := readFrames(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fr
}
