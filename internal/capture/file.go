package capture

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// How files are read.
//
// pcap and pcapng go through one read buffer (inbuf) that hands out slices
// of itself: a frame's Data is its record's bytes in the buffer, no copy,
// no allocation, valid until the next Next (which may move or refill the
// buffer). Every length taken from the file is checked against a fixed
// bound before it is used, and nothing is allocated from one.
//
// What goes wrong is counted, never fatal once the header was good: a file
// cut inside a record delivers the records before it, then counts a
// TruncatedRecords and ends (io.EOF); a record or block whose lengths are
// impossible counts a BadRecords and ends, because in both formats the
// only way to the next record is the current one's length. Only a failing
// read of the file itself (an I/O error) is returned as an error.

// FileOptions configures OpenFile.
type FileOptions struct {
	// Filter is a tcpdump expression. libpcap compiles it (per link type:
	// a pcapng file may mix several) and our interpreter applies it in
	// user space; rejected frames count as Stats.FilteredOut.
	Filter string
}

const (
	// maxCaplen bounds the captured length of one record: libpcap's and
	// Wireshark's maximum snap length (256 KiB). A record claiming more
	// cannot be real, and its length is the only way to find the next
	// record, so the file cannot be read past it.
	maxCaplen = 262144

	// readBufSize is the file read buffer. Frames are handed out as slices
	// of it, so it must hold the largest record (maxCaplen plus headers)
	// with room to spare; a large buffer also means few read syscalls.
	readBufSize = 1 << 20

	// mmapMinSize: files at least this large are memory-mapped (where the
	// platform can): no read system calls, no copy. Smaller ones are not
	// worth a mapping.
	mmapMinSize = 4 << 20
	// mmapWindowDefault is how much of a mapped file is mapped at a time
	// (plus room for one more record, so that a record never straddles the
	// window's end unless it is the file's end); mmapPage aligns windows.
	mmapWindowDefault = 8 << 20
	mmapPage          = 64 << 10

	// maxNameLen bounds strings taken from a file (interface names).
	maxNameLen = 256
)

// mmapWindow is a variable so that tests can slide small windows over
// small files.
var mmapWindow int64 = mmapWindowDefault

// File format magics, as the first four bytes read big-endian.
const (
	magicMicroBE    = 0xa1b2c3d4 // pcap, microseconds, big-endian
	magicMicroLE    = 0xd4c3b2a1
	magicNanoBE     = 0xa1b23c4d // pcap, nanoseconds
	magicNanoLE     = 0x4d3cb2a1
	magicModifiedBE = 0xa1b2cd34 // Kuznetsov's patched libpcap: 24-byte records
	magicModifiedLE = 0x34cdb2a1
	magicNG         = 0x0a0d0d0a // pcapng section header block type
)

// OpenFile opens a pcap or pcapng capture file, plain or gzip-compressed.
// It fails with an error naming the file when the file cannot be opened,
// is not a capture, has a bad header, or when the filter does not compile.
func OpenFile(path string, opt FileOptions) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("capture: %s is a directory, not a capture file", path)
	}
	if err == nil && st.Mode().IsRegular() && st.Size() >= mmapMinSize {
		if src, ok, err := openMapped(f, st.Size(), path, opt); ok {
			if err != nil {
				f.Close()
				return nil, err
			}
			return src, nil
		}
	}
	src, err := OpenReader(f, path, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	src.(*fileSource).closer = f
	return src, nil
}

// OpenReader reads a capture from r (e.g. standard input or an upload).
// name is used in error messages. Closing the Source does not close r.
func OpenReader(r io.Reader, name string, opt FileOptions) (Source, error) {
	var head [4]byte
	n, err := io.ReadFull(r, head[:])
	if err != nil {
		if n == 0 && err == io.EOF {
			return nil, fmt.Errorf("capture: %s: empty file, not a capture", name)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("capture: %s: file too short to be a capture (%d bytes)", name, n)
		}
		return nil, fmt.Errorf("capture: %s: %w", name, err)
	}
	in := io.MultiReader(bytes.NewReader(head[:]), r)
	gzipped := head[0] == 0x1f && head[1] == 0x8b
	if gzipped {
		// Wireshark and tcpdump (via libpcap's callers) read .pcap.gz and
		// .pcapng.gz transparently; so do we. Multistream is on (the
		// default): concatenated gzip members form one capture.
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: gzip: %v", name, err)
		}
		in = zr
		if n, err := io.ReadFull(in, head[:]); err != nil {
			if n == 0 && err == io.EOF {
				return nil, fmt.Errorf("capture: %s: empty gzip stream, not a capture", name)
			}
			return nil, fmt.Errorf("capture: %s: gzip: %v", name, err)
		}
		in = io.MultiReader(bytes.NewReader(head[:]), in)
	}
	s := &fileSource{name: name, gzipped: gzipped}
	s.in.src = in
	// A file smaller than the buffer gets a buffer of its size (it grows
	// if the file does): cheap opens of small captures.
	size := int64(readBufSize)
	if st, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok && !gzipped {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	} else if sz, ok := r.(interface{ Size() int64 }); ok && !gzipped {
		size = sz.Size()
	}
	s.in.buf = make([]byte, min(max(size, 4096), readBufSize))
	if err := s.open(binary.BigEndian.Uint32(head[:]), opt); err != nil {
		return nil, err
	}
	return s, nil
}

// open reads the file header (the first four bytes were magic) and
// prepares the filter.
func (s *fileSource) open(magic uint32, opt FileOptions) error {
	name, gzipped := s.name, s.gzipped
	var err error
	switch magic {
	case magicMicroBE, magicMicroLE, magicNanoBE, magicNanoLE, magicModifiedBE, magicModifiedLE:
		err = s.openPcap()
	case magicNG:
		err = s.openPcapng()
	default:
		what := "not a pcap or pcapng file"
		if gzipped {
			what = "gzip-compressed, but not a pcap or pcapng file inside"
		}
		return fmt.Errorf("capture: %s: %s (starts with %#08x)", name, what, magic)
	}
	if err != nil {
		return fmt.Errorf("capture: %s: %v", name, err)
	}
	if opt.Filter != "" {
		s.filter = newFilterSet(opt.Filter, DefaultSnapLen, s.filterSwapped())
		// Compile now for the first link type, so that a bad expression
		// fails OpenFile rather than silently matching nothing.
		lt := LinkEthernet
		if len(s.ifaces) > 0 {
			lt = s.ifaces[0].LinkType
		} else if l, ok := s.ngs.firstLinkType(&s.in); ok {
			lt = l
		}
		if _, err := s.filter.forLink(lt); err != nil {
			return fmt.Errorf("capture: %s: %v", name, err)
		}
	}
	return nil
}

// fileSource reads pcap and pcapng. Everything but the record parsing is
// shared: the read buffer, counters, filter, interfaces.
type fileSource struct {
	name    string
	gzipped bool
	closer  io.Closer
	in      inbuf
	cnt     counters
	filter  *filterSet
	ifMu    sync.RWMutex // Interfaces may be called from other goroutines
	ifaces  []Interface
	done    bool // io.EOF returned: the stream is over
	ng      bool // pcapng (else pcap)
	pc      pcapState
	ngs     ngState
}

// Next returns the next frame. Frame.Data points into the read buffer and
// is valid until the next call.
func (s *fileSource) Next() (Frame, error) {
	if s.done {
		return Frame{}, io.EOF
	}
	var f Frame
	var err error
	if s.ng {
		f, err = s.nextNG()
	} else {
		f, err = s.nextPcap()
	}
	if err != nil {
		s.done = true
		s.cnt.publish()
	}
	return f, err
}

func (s *fileSource) Interfaces() []Interface {
	s.ifMu.RLock()
	defer s.ifMu.RUnlock()
	// Entries are never changed once listed, and the three-index slice
	// makes a caller's append copy instead of writing into our array.
	return s.ifaces[:len(s.ifaces):len(s.ifaces)]
}

func (s *fileSource) Stats() Stats { return s.cnt.snapshot() }

func (s *fileSource) Close() error {
	s.cnt.publish()
	s.done = true
	if s.closer != nil {
		c := s.closer
		s.closer = nil
		return c.Close()
	}
	return nil
}

// accept counts a record that parsed, applies the filter and the counters,
// and reports whether to deliver it.
func (s *fileSource) accept(f *Frame) bool {
	s.cnt.tick()
	if f.WireLen < len(f.Data) {
		// Some writers put 0 or garbage in the wire length; the bytes we
		// hold were on the wire, so it was at least that long.
		f.WireLen = len(f.Data)
	}
	if f.WireLen > MaxWireLen {
		s.cnt.local.BadWireLen++
		f.WireLen = len(f.Data)
	}
	if s.filter != nil && !s.filter.match(f.LinkType, f.Data, f.WireLen) {
		s.cnt.local.FilteredOut++
		return false
	}
	if len(f.Data) < f.WireLen {
		s.cnt.local.SnapTruncated++
	}
	s.cnt.local.Packets++
	s.cnt.local.Bytes += uint64(f.WireLen)
	return true
}

// endOfData decides how a read that came up short ends the stream: a clean
// end of file between records is io.EOF; bytes of a partial record are a
// truncated record (then io.EOF); a corrupt gzip stream is a bad record
// (then io.EOF); any other read error is returned as an error.
func (s *fileSource) endOfData() error {
	err := s.in.err
	switch {
	case err == nil || err == io.EOF:
		if s.in.buffered() > 0 || s.in.skipShort {
			s.cnt.local.TruncatedRecords++
		}
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		// A gzip stream cut short: the file was truncated.
		s.cnt.local.TruncatedRecords++
		return io.EOF
	case isGzipCorrupt(err):
		s.cnt.local.BadRecords++
		return io.EOF
	}
	return fmt.Errorf("capture: %s: %w", s.name, err)
}

// bad counts a record that cannot be parsed. Records carry no sync marker,
// so after one whose length cannot be trusted there is no way to find the
// next: the stream ends here (with io.EOF, like a file cut short).
func (s *fileSource) bad() error {
	s.cnt.local.BadRecords++
	return io.EOF
}

func isGzipCorrupt(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce)
}

// inbuf is a read buffer that hands out slices of itself. Data in
// buf[r:w] is unread; ensure(n) makes n bytes contiguous at buf[r:],
// moving the unread tail to the front and reading more when needed (which
// invalidates slices handed out earlier: only Next calls it).
//
// A large regular file is read through a memory mapping instead (see
// openMapped): buf is then a read-only window of the file, moved forward
// as records are consumed, and records are handed out with no copy and no
// read system call. The window is bounded (mmapWindow) so that the mapped
// pages the process holds stay bounded too. When the file's size at open
// is used up, ensure and skip leave the mapping for an ordinary buffer and
// read on from src, which starts where the mapped size ends: a file that
// grew while it was read is read to its new end, as with read(2).
type inbuf struct {
	src       io.Reader
	buf       []byte
	r, w      int
	err       error // sticky error from src, io.EOF included
	skipShort bool  // skip hit the end of the data
	mm        *mapping
}

// mapping is the state of a memory-mapped file (mmap_unix.go).
type mapping struct {
	f    *os.File
	size int64 // file size at open: what is mapped, window by window
	base int64 // file offset of buf[0]
	// move maps the window that starts at file offset off (page-aligned)
	// in place of the current one.
	move  func(off int64) ([]byte, error)
	unmap func() error
}

// slide makes the mapped window start at file offset pos: the unread data
// (ensure) or where a skip lands. When the mapped size is used up (or a
// new mapping fails), it switches to ordinary reads from pos instead.
// It reports whether the skip landed inside the file.
func (b *inbuf) slide(pos int64) bool {
	m := b.mm
	if pos < m.size && m.base+int64(b.w) < m.size {
		off := pos &^ (mmapPage - 1)
		if data, err := m.move(off); err == nil {
			b.buf, m.base = data, off
			b.r, b.w = int(pos-off), len(data)
			return true
		}
	}
	return b.leaveMapping(pos)
}

// leaveMapping moves the unread data from file offset pos to the end of
// the window into an ordinary buffer and reads the rest of the file from
// there on, as far as it has grown since it was opened.
func (b *inbuf) leaveMapping(pos int64) bool {
	m := b.mm
	nb := make([]byte, readBufSize)
	n := 0
	if end := m.base + int64(b.w); pos < end {
		n = copy(nb, b.buf[pos-m.base:b.w])
	}
	from := max(pos, m.base+int64(b.w))
	_ = m.unmap()
	b.buf, b.r, b.w, b.mm = nb, 0, n, nil
	b.src = io.NewSectionReader(m.f, from, 1<<62)
	if st, err := m.f.Stat(); err == nil && pos > st.Size() {
		b.skipShort = true
		return false
	}
	return true
}

func (b *inbuf) buffered() int { return b.w - b.r }

// ensure reports whether n (≤ readBufSize) bytes are available at
// buf[r:].
func (b *inbuf) ensure(n int) bool {
	if b.w-b.r >= n {
		return true
	}
	for b.mm != nil {
		b.slide(b.mm.base + int64(b.r))
		if b.w-b.r >= n {
			return true
		}
	}
	if n > len(b.buf) {
		if n > readBufSize {
			return false
		}
		nb := make([]byte, readBufSize)
		b.w = copy(nb, b.buf[b.r:b.w])
		b.r = 0
		b.buf = nb
	}
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	for b.w < n && b.err == nil {
		// Read as much as fits: one large read serves many records.
		m, err := b.src.Read(b.buf[b.w:])
		b.w += m
		if err != nil {
			b.err = err
		}
	}
	return b.w >= n
}

// skip discards n bytes; false when the data ended first.
func (b *inbuf) skip(n int64) bool {
	if avail := int64(b.w - b.r); n <= avail {
		b.r += int(n)
		return true
	}
	if b.mm != nil {
		return b.slide(b.mm.base + int64(b.r) + n)
	}
	n -= int64(b.w - b.r)
	b.r, b.w = 0, 0
	return b.skipSrc(n)
}

// skipSrc discards n bytes of src (the buffer is empty).
func (b *inbuf) skipSrc(n int64) bool {
	for n > 0 {
		if b.err != nil {
			b.skipShort = true
			return false
		}
		m, err := b.src.Read(b.buf[:min(int64(len(b.buf)), n)])
		n -= int64(m)
		if err != nil {
			b.err = err
		}
	}
	return true
}

// filterSwapped reports whether the file's byte order differs from the
// host's: libpcap compiles DLT_NULL filters differently then. Like libpcap,
// we take the byte order of the file header (of the first section for
// pcapng) as the file's.
func (s *fileSource) filterSwapped() bool {
	if s.ng {
		return s.ngs.bigEndian != hostBigEndian
	}
	return s.pc.bigEndian != hostBigEndian
}
