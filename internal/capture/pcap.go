package capture

import (
	"encoding/binary"
	"fmt"
)

// pcapState is what the pcap file header says about every record.
type pcapState struct {
	bigEndian bool
	fracMul   int64    // ns per unit of the sub-second field: 1000 (µs) or 1 (ns)
	hdrLen    int      // record header: 16, or 24 for the "modified" format
	link      LinkType // from the file header
	swapLens  uint8    // pre-2.4 files: 1 = caplen/len always swapped, 2 = maybe
}

// openPcap parses the 24-byte file header.
//
// The layout is https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html:
// magic, version (2.4), reserved ×2, snaplen, link type. The upper bits of
// the link-type field carry the FCS length (bits 28-31, valid when bit 26
// is set) and reserved bits: libpcap keeps only the low 16 bits as the
// link type, and so do we.
func (s *fileSource) openPcap() error {
	if !s.in.ensure(24) {
		return fmt.Errorf("pcap file header cut short (%d of 24 bytes)", s.in.buffered())
	}
	h := s.in.buf[s.in.r : s.in.r+24]
	magic := binary.BigEndian.Uint32(h)
	p := &s.pc
	p.hdrLen = 16
	p.fracMul = 1000
	switch magic {
	case magicMicroBE, magicNanoBE, magicModifiedBE:
		p.bigEndian = true
	}
	switch magic {
	case magicNanoBE, magicNanoLE:
		p.fracMul = 1
	case magicModifiedBE, magicModifiedLE:
		p.hdrLen = 24
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if p.bigEndian {
		bo = binary.BigEndian
	}
	major, minor := bo.Uint16(h[4:]), bo.Uint16(h[6:])
	if major != 2 {
		return fmt.Errorf("bad pcap header: unsupported version %d.%d", major, minor)
	}
	// libpcap: files older than 2.3 wrote caplen and len the other way
	// round; 2.3 files may have either order.
	switch {
	case minor < 3:
		p.swapLens = 1
	case minor == 3:
		p.swapLens = 2
	}
	p.link = LinkType(bo.Uint32(h[20:]) & 0xffff)
	s.in.r += 24
	s.ifaces = []Interface{{Name: "if0", LinkType: p.link}}
	return nil
}

// nextPcap reads records until one passes the filter.
func (s *fileSource) nextPcap() (Frame, error) {
	p := &s.pc
	in := &s.in
	hl := p.hdrLen
	for {
		if !in.ensure(hl) {
			return Frame{}, s.endOfData()
		}
		h := in.buf[in.r : in.r+hl]
		var sec, frac, caplen, wirelen uint32
		if p.bigEndian {
			sec = binary.BigEndian.Uint32(h[0:])
			frac = binary.BigEndian.Uint32(h[4:])
			caplen = binary.BigEndian.Uint32(h[8:])
			wirelen = binary.BigEndian.Uint32(h[12:])
		} else {
			sec = binary.LittleEndian.Uint32(h[0:])
			frac = binary.LittleEndian.Uint32(h[4:])
			caplen = binary.LittleEndian.Uint32(h[8:])
			wirelen = binary.LittleEndian.Uint32(h[12:])
		}
		if p.swapLens != 0 && (p.swapLens == 1 || caplen > wirelen) {
			caplen, wirelen = wirelen, caplen
		}
		if caplen > maxCaplen {
			return Frame{}, s.bad()
		}
		n := hl + int(caplen)
		if !in.ensure(n) {
			return Frame{}, s.endOfData()
		}
		start := in.r + hl
		in.r += n
		f := Frame{
			Data: in.buf[start : start+int(caplen) : start+int(caplen)],
			// The seconds field is unsigned in current libpcap and
			// Wireshark (files from after 2038 stay readable).
			Timestamp: int64(sec)*1e9 + int64(frac)*p.fracMul,
			WireLen:   int(wirelen),
			LinkType:  p.link,
		}
		if s.accept(&f) {
			return f, nil
		}
	}
}
