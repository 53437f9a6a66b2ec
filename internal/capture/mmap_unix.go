//go:build unix

package capture

import (
	"errors"
	"os"
	"syscall"
)

// openMapped opens a large regular file through read-only shared mappings
// of a window at a time (see inbuf). ok is false when the file cannot or
// should not be mapped (gzip-compressed, mmap refused): the caller then
// reads it the ordinary way. Reading a mapped file that another process
// truncates meanwhile faults (SIGBUS); the probe's file reader turns that
// fault into an error (see probe.ReadFile).
func openMapped(f *os.File, size int64, path string, opt FileOptions) (_ Source, ok bool, _ error) {
	var cur []byte
	unmap := func() error {
		if cur == nil {
			return nil
		}
		err := syscall.Munmap(cur)
		cur = nil
		return err
	}
	// move maps the new window before it unmaps the old one: when the new
	// mapping fails, the caller still reads the unread tail from the old.
	move := func(off int64) ([]byte, error) {
		n := min(size-off, mmapWindow+maxCaplen+64)
		if int64(int(off)) != off || n <= 0 {
			return nil, errors.New("capture: offset out of range")
		}
		data, err := syscall.Mmap(int(f.Fd()), off, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			return nil, err
		}
		// The kernel reads ahead further for a sequential pass.
		_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL)
		if err := unmap(); err != nil {
			_ = syscall.Munmap(data)
			return nil, err
		}
		cur = data
		return data, nil
	}
	data, err := move(0)
	if err != nil {
		return nil, false, nil
	}
	if data[0] == 0x1f && data[1] == 0x8b {
		_ = unmap()
		return nil, false, nil
	}
	s := &fileSource{name: path}
	s.in.buf, s.in.w = data, len(data)
	s.in.mm = &mapping{f: f, size: size, move: move, unmap: unmap}
	s.closer = closerFunc(func() error { return errors.Join(unmap(), f.Close()) })
	if err := s.open(uint32(data[0])<<24|uint32(data[1])<<16|uint32(data[2])<<8|uint32(data[3]), opt); err != nil {
		_ = unmap() // the caller closes f
		return nil, true, err
	}
	return s, true, nil
}

type closerFunc func() error

func (c closerFunc) Close() error { return c() }
