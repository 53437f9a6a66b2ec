package capture

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"

	"github.com/wirewatch/wirewatch/internal/capture/bpfvm"
)

// DefaultSnapLen is the snap length filters are compiled for and live
// sockets capture with: libpcap's and Wireshark's maximum (256 KiB).
const DefaultSnapLen = 262144

// Filter is a tcpdump expression compiled by libpcap for one link type. It
// is run by our own classic-BPF interpreter (files) or attached to a socket
// (live). A Filter is immutable and safe for concurrent use.
type Filter struct {
	expr string
	link LinkType
	prog *bpfvm.Program
}

// CompileFilter compiles a tcpdump filter expression for frames of the
// given link type captured live, exactly as tcpdump -i would (the program
// can be attached to a socket with Raw). Files get what tcpdump -r
// compiles, which differs only for the BSD loopback link type (see
// compileLibpcapSavefile). snaplen <= 0 means DefaultSnapLen. A bad
// expression returns an error quoting libpcap's message.
func CompileFilter(expr string, link LinkType, snaplen int) (*Filter, error) {
	return compileFilter(expr, link, snaplen, false, false)
}

// compileFilter compiles for a link type. savefile selects what libpcap
// compiles for a capture file (as tcpdump -r) rather than for a live
// device; swapped says the file's byte order is not this host's. See
// compileLibpcapSavefile for why either matters.
func compileFilter(expr string, link LinkType, snaplen int, savefile, swapped bool) (*Filter, error) {
	if snaplen <= 0 || snaplen > DefaultSnapLen {
		snaplen = DefaultSnapLen
	}
	var ins []pcap.BPFInstruction
	var err error
	if savefile {
		ins, err = compileLibpcapSavefile(expr, link, snaplen, swapped)
	} else {
		ins, err = compileLibpcap(expr, link, snaplen)
	}
	if err != nil {
		return nil, fmt.Errorf("filter %q (link type %d): %v", expr, link, err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog, err := bpfvm.New(raw)
	if err != nil {
		// libpcap's optimiser produced something our validator refuses:
		// a bug on one side or the other, not a user error.
		return nil, fmt.Errorf("filter %q (link type %d): compiled program rejected: %v", expr, link, err)
	}
	return &Filter{expr: expr, link: link, prog: prog}, nil
}

// pcapCompileMu serialises calls into libpcap's compiler: pcap_compile is
// only thread-safe from libpcap 1.8 on and gopacket guards only part of it.
var pcapCompileMu sync.Mutex

func compileLibpcap(expr string, link LinkType, snaplen int) ([]pcap.BPFInstruction, error) {
	pcapCompileMu.Lock()
	defer pcapCompileMu.Unlock()
	return pcap.CompileBPFFilter(layers.LinkType(dltForLinkType(link)), snaplen, expr)
}

// compileLibpcapSavefile compiles as tcpdump -r does. libpcap's code
// differs between a live handle (pcap_open_dead counts as one) and a
// savefile handle for DLT_NULL and DLT_ENC, whose link header is an address
// family in the capturing host's byte order: for a savefile, libpcap tests
// the AF_INET6 values of every OS (24, 28, 30), not only Linux's 10, and
// byte-swaps the constants when the file's byte order is not the host's.
// A savefile handle is only had by reading a file, so we hand libpcap a
// capture made of a bare file header, through a pipe.
func compileLibpcapSavefile(expr string, link LinkType, snaplen int, swapped bool) ([]pcap.BPFInstruction, error) {
	hdr := make([]byte, 24)
	var bo binary.ByteOrder = binary.LittleEndian
	if hostBigEndian != swapped {
		bo = binary.BigEndian
	}
	bo.PutUint32(hdr[0:], magicMicroBE)
	bo.PutUint16(hdr[4:], 2)
	bo.PutUint16(hdr[6:], 4)
	bo.PutUint32(hdr[16:], uint32(snaplen))
	bo.PutUint32(hdr[20:], uint32(link)) // a LINKTYPE: libpcap maps it to a DLT itself
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	_, err = w.Write(hdr) // 24 bytes always fit in the pipe buffer
	w.Close()
	if err != nil {
		return nil, err
	}
	pcapCompileMu.Lock()
	defer pcapCompileMu.Unlock()
	h, err := pcap.OpenOfflineFile(r)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.CompileBPFFilter(expr)
}

// hostBigEndian is this machine's byte order.
var hostBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// dltForLinkType maps a LINKTYPE_ value (what files store) to the DLT_
// value libpcap's compiler expects on Linux. They differ for a handful of
// old types, most importantly LINKTYPE_RAW (101) which is DLT_RAW (12);
// libpcap does the same mapping when it opens a file, so the programs are
// those tcpdump would run.
func dltForLinkType(l LinkType) int {
	switch l {
	case 100: // LINKTYPE_ATM_RFC1483
		return 11
	case LinkRaw:
		return 12
	case 102: // LINKTYPE_SLIP_BSDOS
		return 15
	case 103: // LINKTYPE_PPP_BSDOS
		return 16
	case 106: // LINKTYPE_ATM_CLIP
		return 19
	}
	return int(l)
}

// Match reports whether a frame passes the filter. data is the captured
// bytes, wireLen the length on the wire (what "len", "greater" and "less"
// test). A load beyond the captured bytes rejects the frame, as in libpcap.
func (f *Filter) Match(data []byte, wireLen int) bool {
	return f.prog.Run(data, wireLen) != 0
}

// Raw returns the compiled program, to attach to a socket.
func (f *Filter) Raw() []bpf.RawInstruction { return f.prog.Raw() }

// String returns the expression.
func (f *Filter) String() string { return f.expr }

// LinkType is the link type the filter was compiled for.
func (f *Filter) LinkType() LinkType { return f.link }

// filterSet compiles one expression lazily per link type: a pcapng file or
// an "any" socket delivers frames of several link types, and an offset
// that is right for one is wrong for another.
type filterSet struct {
	expr    string
	snaplen int
	swapped bool // the file's byte order is not the host's (matters for LinkNull)
	live    bool // compile for a live device rather than a savefile
	lastLT  LinkType
	last    *Filter // nil: the expression does not compile for lastLT
	valid   bool    // lastLT/last are set
	byLink  map[LinkType]*Filter
}

func newFilterSet(expr string, snaplen int, swapped bool) *filterSet {
	return &filterSet{expr: expr, snaplen: snaplen, swapped: swapped, byLink: map[LinkType]*Filter{}}
}

// forLink returns the filter for a link type, compiling it on first use.
// The error is returned only on that first use; later frames of a link
// type the expression cannot apply to get a nil filter (reject).
func (s *filterSet) forLink(lt LinkType) (*Filter, error) {
	if s.valid && lt == s.lastLT {
		return s.last, nil
	}
	f, seen := s.byLink[lt]
	var err error
	if !seen {
		f, err = compileFilter(s.expr, lt, s.snaplen, !s.live, s.swapped)
		s.byLink[lt] = f // nil on error: every frame of lt is rejected
	}
	s.lastLT, s.last, s.valid = lt, f, true
	return f, err
}

// match runs the filter for lt. A link type the expression does not
// compile for matches nothing (e.g. "ether host X" on raw-IP frames).
func (s *filterSet) match(lt LinkType, data []byte, wireLen int) bool {
	f, _ := s.forLink(lt)
	return f != nil && f.prog.Run(data, wireLen) != 0
}
