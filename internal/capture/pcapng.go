package capture

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// pcapng block types (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
const (
	ngBlockIDB = 0x00000001 // interface description
	ngBlockPB  = 0x00000002 // packet (obsolete)
	ngBlockSPB = 0x00000003 // simple packet
	ngBlockEPB = 0x00000006 // enhanced packet
	ngBlockSHB = 0x0a0d0d0a // section header (a palindrome: same in both byte orders)

	ngByteOrderMagic = 0x1a2b3c4d

	ngOptEnd      = 0
	ngOptIfName   = 2
	ngOptTSResol  = 9
	ngOptTSOffset = 14
)

// Timestamp conversions, chosen per interface from if_tsresol.
const (
	tsMul  = iota // ns = ts * factor (resolutions of 1 ns or coarser, base 10)
	tsDiv         // ns = ts / factor (finer than 1 ns, base 10)
	tsPow2        // 2^-shift seconds per unit
)

// ngIface is an interface of the current section.
type ngIface struct {
	global   int // index into fileSource.ifaces
	link     LinkType
	snaplen  uint32 // 0: none
	tsKind   uint8
	tsShift  uint8
	tsFactor uint64
	offsetNS int64 // if_tsoffset, in ns
}

// ns converts a 64-bit pcapng timestamp to Unix nanoseconds. Hostile
// values wrap around; they never fault.
func (i *ngIface) ns(ts uint64) int64 {
	switch i.tsKind {
	case tsMul:
		return int64(ts*i.tsFactor) + i.offsetNS
	case tsDiv:
		return int64(ts/i.tsFactor) + i.offsetNS
	}
	sh := uint(i.tsShift) // 1..63
	sec := ts >> sh
	frac := ts & (1<<sh - 1)
	hi, lo := bits.Mul64(frac, 1e9)
	return int64(sec)*1e9 + int64(hi<<(64-sh)|lo>>sh) + i.offsetNS
}

// ngState is the pcapng reader's state: the current section's byte order
// and interfaces.
type ngState struct {
	bigEndian bool
	section   []ngIface
	lastTS    int64  // timestamp of the previous packet, for SPBs (they have none)
	pending   int64  // bytes of an oversized packet block left to skip, trailer included
	pendLen   uint32 // that block's length, to check its trailer
}

func (n *ngState) u16(b []byte) uint16 {
	if n.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (n *ngState) u32(b []byte) uint32 {
	if n.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// shbByteOrder reads the byte-order magic of a section header block.
func shbByteOrder(b []byte) (bigEndian, ok bool) {
	switch binary.BigEndian.Uint32(b) {
	case ngByteOrderMagic:
		return true, true
	case 0x4d3c2b1a:
		return false, true
	}
	return false, false
}

// shbVersionOK accepts 1.0, and 1.2 which some old writers put (libpcap
// accepts it too). Version 2 is pcapgo's test901: a reader must stop there.
func shbVersionOK(major, minor uint16) bool {
	return major == 1 && (minor == 0 || minor == 2)
}

// openPcapng checks the first section header, so that a file with a bad
// one fails to open. The block itself is read again by nextNG.
func (s *fileSource) openPcapng() error {
	if !s.in.ensure(28) {
		return fmt.Errorf("pcapng section header cut short (%d of at least 28 bytes)", s.in.buffered())
	}
	b := s.in.buf[s.in.r:]
	big, ok := shbByteOrder(b[8:])
	if !ok {
		return fmt.Errorf("bad pcapng section header: byte-order magic %#08x", binary.BigEndian.Uint32(b[8:]))
	}
	s.ngs.bigEndian = big
	if l := s.ngs.u32(b[4:]); l < 28 || l%4 != 0 {
		return fmt.Errorf("bad pcapng section header: block length %d", l)
	}
	if major, minor := s.ngs.u16(b[12:]), s.ngs.u16(b[14:]); !shbVersionOK(major, minor) {
		return fmt.Errorf("bad pcapng section header: unsupported version %d.%d", major, minor)
	}
	s.ng = true
	return nil
}

// firstLinkType looks ahead in the read buffer, without consuming
// anything, for the first interface description before any packet, so
// that OpenFile can compile the filter for it.
func (n *ngState) firstLinkType(in *inbuf) (LinkType, bool) {
	in.ensure(len(in.buf)) // fill the buffer; a short file is fine
	big := n.bigEndian
	u32 := func(b []byte) uint32 {
		if big {
			return binary.BigEndian.Uint32(b)
		}
		return binary.LittleEndian.Uint32(b)
	}
	for pos := in.r; pos+12 <= in.w; {
		b := in.buf[pos:in.w]
		typ := u32(b)
		if typ == ngBlockSHB {
			var ok bool
			if big, ok = shbByteOrder(b[8:]); !ok {
				return 0, false
			}
		}
		blen := u32(b[4:])
		switch typ {
		case ngBlockIDB:
			if big {
				return LinkType(binary.BigEndian.Uint16(b[8:])), true
			}
			return LinkType(binary.LittleEndian.Uint16(b[8:])), true
		case ngBlockEPB, ngBlockPB, ngBlockSPB:
			return 0, false
		}
		if blen < 12 || int64(blen) > int64(in.w-pos) {
			return 0, false
		}
		pos += int(blen)
	}
	return 0, false
}

// nextNG reads blocks until a packet passes the filter.
//
// Blocks are read whole into the buffer when they fit (all but
// pathological ones), which makes every field a bounds-checked slice
// index. A packet block larger than the buffer (huge options) has its
// fixed part and data read, and the rest skipped on the next call.
//
// Errors follow libpcap and Wireshark: a block whose length fields are impossible or
// disagree, a packet for an interface the section did not describe, or a
// section of an unknown version ends the stream (BadRecords, then io.EOF).
func (s *fileSource) nextNG() (Frame, error) {
	ng := &s.ngs
	in := &s.in
	for {
		if ng.pending > 0 {
			if err := s.skipBlockRest(ng.pending, ng.pendLen); err != nil {
				return Frame{}, err
			}
			ng.pending = 0
		}
		if !in.ensure(8) {
			return Frame{}, s.endOfData()
		}
		b := in.buf[in.r:in.w]
		typ := ng.u32(b)
		if typ == ngBlockSHB {
			if !in.ensure(12) {
				return Frame{}, s.endOfData()
			}
			b = in.buf[in.r:in.w]
			big, ok := shbByteOrder(b[8:])
			if !ok {
				return Frame{}, s.bad()
			}
			ng.bigEndian = big
		}
		blen := ng.u32(b[4:])
		if blen < 12 || blen%4 != 0 {
			return Frame{}, s.bad()
		}
		switch typ {
		case ngBlockSHB:
			if blen < 28 {
				return Frame{}, s.bad()
			}
			if !in.ensure(16) {
				return Frame{}, s.endOfData()
			}
			b = in.buf[in.r:in.w]
			if !shbVersionOK(ng.u16(b[12:]), ng.u16(b[14:])) {
				return Frame{}, s.bad()
			}
			// A new section: interface ids start again from 0. The
			// interfaces already listed stay in Interfaces().
			ng.section = ng.section[:0]
			if err := s.skipBlockRest(int64(blen), blen); err != nil {
				return Frame{}, err
			}

		case ngBlockIDB:
			if blen < 20 || blen > readBufSize {
				return Frame{}, s.bad()
			}
			if !in.ensure(int(blen)) {
				return Frame{}, s.endOfData()
			}
			b = in.buf[in.r : in.r+int(blen)]
			if ng.u32(b[blen-4:]) != blen {
				return Frame{}, s.bad()
			}
			s.addInterface(b)
			in.r += int(blen)

		case ngBlockEPB, ngBlockPB:
			if blen < 32 {
				return Frame{}, s.bad()
			}
			if !in.ensure(28) {
				return Frame{}, s.endOfData()
			}
			b = in.buf[in.r:in.w]
			var id uint32
			if typ == ngBlockEPB {
				id = ng.u32(b[8:])
			} else {
				id = uint32(ng.u16(b[8:])) // then a 16-bit drops count
			}
			ts := uint64(ng.u32(b[12:]))<<32 | uint64(ng.u32(b[16:]))
			caplen := ng.u32(b[20:])
			wirelen := ng.u32(b[24:])
			if id >= uint32(len(ng.section)) || caplen > blen-32 || caplen > maxCaplen {
				return Frame{}, s.bad()
			}
			data, err := s.packetBlock(28, caplen, blen)
			if err != nil {
				return Frame{}, err
			}
			itf := &ng.section[id]
			ng.lastTS = itf.ns(ts)
			f := Frame{Data: data, Timestamp: ng.lastTS, WireLen: int(wirelen), LinkType: itf.link, Interface: itf.global}
			if s.accept(&f) {
				return f, nil
			}

		case ngBlockSPB:
			if blen < 16 || len(ng.section) == 0 {
				return Frame{}, s.bad()
			}
			if !in.ensure(12) {
				return Frame{}, s.endOfData()
			}
			wirelen := ng.u32(in.buf[in.r+8:])
			itf := &ng.section[0]
			// The captured length is implied: the original length, cut
			// to the snap length and to what the block holds.
			caplen := min(wirelen, blen-16)
			if itf.snaplen != 0 && caplen > itf.snaplen {
				caplen = itf.snaplen
			}
			if caplen > maxCaplen {
				return Frame{}, s.bad()
			}
			data, err := s.packetBlock(12, caplen, blen)
			if err != nil {
				return Frame{}, err
			}
			// No timestamp in an SPB: reuse the previous packet's, which
			// keeps time monotonic for windowing.
			f := Frame{Data: data, Timestamp: ng.lastTS, WireLen: int(wirelen), LinkType: itf.link, Interface: itf.global}
			if s.accept(&f) {
				return f, nil
			}

		default:
			// NRB, ISB, DSB, custom, systemd journal, unknown: skipped by
			// length.
			if err := s.skipBlockRest(int64(blen), blen); err != nil {
				return Frame{}, err
			}
		}
	}
}

// packetBlock returns the data of a packet block whose fixed part is hdr
// bytes and consumes the block (or schedules the rest of an oversized one
// to be skipped).
func (s *fileSource) packetBlock(hdr int, caplen, blen uint32) ([]byte, error) {
	in := &s.in
	ng := &s.ngs
	start := hdr
	end := hdr + int(caplen)
	if blen <= readBufSize {
		if !in.ensure(int(blen)) {
			return nil, s.endOfData()
		}
		if ng.u32(in.buf[in.r+int(blen)-4:]) != blen {
			return nil, s.bad()
		}
		start += in.r
		end += in.r
		in.r += int(blen)
		return in.buf[start:end:end], nil
	}
	if !in.ensure(end) {
		return nil, s.endOfData()
	}
	start += in.r
	end += in.r
	in.r = end
	ng.pending = int64(blen) - int64(hdr) - int64(caplen)
	ng.pendLen = blen
	return in.buf[start:end:end], nil
}

// skipBlockRest skips the last n bytes of a block of length blen, the
// last four of which must repeat the length.
func (s *fileSource) skipBlockRest(n int64, blen uint32) error {
	in := &s.in
	if !in.skip(n - 4) {
		return s.endOfData()
	}
	if !in.ensure(4) {
		return s.endOfData()
	}
	if s.ngs.u32(in.buf[in.r:]) != blen {
		return s.bad()
	}
	in.r += 4
	return nil
}

// addInterface parses an interface description block (whole, trailer
// checked) and lists it.
func (s *fileSource) addInterface(b []byte) {
	ng := &s.ngs
	itf := ngIface{
		global:   len(s.ifaces),
		link:     LinkType(ng.u16(b[8:])),
		snaplen:  ng.u32(b[12:]),
		tsKind:   tsMul,
		tsFactor: 1000, // default resolution: microseconds
	}
	name := ""
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code, olen := ng.u16(opts), int(ng.u16(opts[2:]))
		if code == ngOptEnd {
			break
		}
		padded := (olen + 3) &^ 3
		if 4+padded > len(opts) {
			break // malformed options: keep what was read
		}
		val := opts[4 : 4+olen]
		switch code {
		case ngOptIfName:
			name = string(val[:min(len(val), maxNameLen)])
		case ngOptTSResol:
			if olen >= 1 {
				itf.setResolution(val[0])
			}
		case ngOptTSOffset:
			if olen >= 8 {
				var off uint64
				if ng.bigEndian {
					off = binary.BigEndian.Uint64(val)
				} else {
					off = binary.LittleEndian.Uint64(val)
				}
				itf.offsetNS = int64(off) * 1e9
			}
		}
		opts = opts[4+padded:]
	}
	if name == "" {
		name = fmt.Sprintf("if%d", itf.global)
	}
	ng.section = append(ng.section, itf)
	s.ifMu.Lock()
	s.ifaces = append(s.ifaces, Interface{Name: name, LinkType: itf.link})
	s.ifMu.Unlock()
}

// setResolution applies if_tsresol: the high bit selects base 2, the rest
// is the negative exponent. Resolutions too fine for 64 bits are accepted
// and yield 0 for the sub-unit part rather than failing the file.
func (i *ngIface) setResolution(r byte) {
	exp := uint(r & 0x7f)
	if r&0x80 != 0 {
		switch {
		case exp == 0:
			i.tsKind, i.tsFactor = tsMul, 1e9
		case exp < 64:
			i.tsKind, i.tsShift = tsPow2, uint8(exp)
		default:
			i.tsKind, i.tsFactor = tsDiv, math.MaxUint64
		}
		return
	}
	if exp <= 9 {
		f := uint64(1)
		for range 9 - exp {
			f *= 10
		}
		i.tsKind, i.tsFactor = tsMul, f
		return
	}
	f := uint64(1)
	for range exp - 9 {
		if f > math.MaxUint64/10 {
			f = math.MaxUint64
			break
		}
		f *= 10
	}
	i.tsKind, i.tsFactor = tsDiv, f
}
