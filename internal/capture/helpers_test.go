package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// frameCopy is a Frame whose data outlives the next Next call.
type frameCopy struct {
	Frame
	data []byte
}

// readAll reads a source to the end and returns copies of its frames.
func readAll(t testing.TB, src Source) ([]frameCopy, Stats) {
	t.Helper()
	var out []frameCopy
	for {
		f, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		fc := frameCopy{Frame: f, data: append([]byte(nil), f.Data...)}
		fc.Frame.Data = nil // points into the source's buffer (or mapping): invalid after Close
		out = append(out, fc)
	}
	st := src.Stats()
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out, st
}

func readFile(t testing.TB, path string, opt FileOptions) ([]frameCopy, Stats) {
	t.Helper()
	src, err := OpenFile(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, src)
}

func readBytes(t testing.TB, b []byte, opt FileOptions) ([]frameCopy, Stats) {
	t.Helper()
	src, err := OpenReader(bytes.NewReader(b), "test", opt)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, src)
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --- synthetic pcap ---

type rec struct {
	sec, frac       uint32
	caplen, wirelen uint32 // caplen 0: len(data)
	data            []byte
	cutTo           int // > 0: keep only the first cutTo bytes of the record
}

func order(big bool) binary.ByteOrder {
	if big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// pcapBytes builds a pcap file: magic in the given byte order, 2.4.
func pcapBytes(big, nano bool, link uint32, recs ...rec) []byte {
	bo := order(big)
	var b bytes.Buffer
	h := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	bo.PutUint32(h[0:], magic)
	bo.PutUint16(h[4:], 2)
	bo.PutUint16(h[6:], 4)
	bo.PutUint32(h[16:], 262144)
	bo.PutUint32(h[20:], link)
	b.Write(h)
	for _, r := range recs {
		rh := make([]byte, 16)
		caplen := r.caplen
		if caplen == 0 {
			caplen = uint32(len(r.data))
		}
		bo.PutUint32(rh[0:], r.sec)
		bo.PutUint32(rh[4:], r.frac)
		bo.PutUint32(rh[8:], caplen)
		bo.PutUint32(rh[12:], r.wirelen)
		whole := append(rh, r.data...)
		if r.cutTo > 0 {
			whole = whole[:r.cutTo]
		}
		b.Write(whole)
	}
	return b.Bytes()
}

// --- synthetic pcapng ---

type ng struct {
	bo binary.ByteOrder
	b  bytes.Buffer
}

func newNG(big bool) *ng { return &ng{bo: order(big)} }

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// opt encodes one option (code, value, padding).
func (n *ng) opt(code uint16, val []byte) []byte {
	o := make([]byte, 4)
	n.bo.PutUint16(o, code)
	n.bo.PutUint16(o[2:], uint16(len(val)))
	return pad4(append(o, val...))
}

func (n *ng) endOpt() []byte { return make([]byte, 4) }

// block appends a block with the given body (already padded).
func (n *ng) block(typ uint32, body []byte) *ng {
	l := uint32(12 + len(body))
	h := make([]byte, 8)
	n.bo.PutUint32(h, typ)
	n.bo.PutUint32(h[4:], l)
	n.b.Write(h)
	n.b.Write(body)
	t := make([]byte, 4)
	n.bo.PutUint32(t, l)
	n.b.Write(t)
	return n
}

func (n *ng) shb(major, minor uint16) *ng {
	body := make([]byte, 16)
	n.bo.PutUint32(body, ngByteOrderMagic)
	n.bo.PutUint16(body[4:], major)
	n.bo.PutUint16(body[6:], minor)
	binary.LittleEndian.PutUint64(body[8:], ^uint64(0)) // section length unknown
	return n.block(ngBlockSHB, body)
}

func (n *ng) idb(link uint16, snaplen uint32, opts ...[]byte) *ng {
	body := make([]byte, 8)
	n.bo.PutUint16(body, link)
	n.bo.PutUint32(body[4:], snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, n.endOpt()...)
	}
	return n.block(ngBlockIDB, body)
}

func (n *ng) epb(id uint32, ts uint64, data []byte, wirelen uint32) *ng {
	body := make([]byte, 20)
	n.bo.PutUint32(body, id)
	n.bo.PutUint32(body[4:], uint32(ts>>32))
	n.bo.PutUint32(body[8:], uint32(ts))
	n.bo.PutUint32(body[12:], uint32(len(data)))
	n.bo.PutUint32(body[16:], wirelen)
	body = pad4(append(body, data...))
	return n.block(ngBlockEPB, body)
}

func (n *ng) pb(id uint16, ts uint64, data []byte, wirelen uint32) *ng {
	body := make([]byte, 20)
	n.bo.PutUint16(body, id)
	n.bo.PutUint32(body[4:], uint32(ts>>32))
	n.bo.PutUint32(body[8:], uint32(ts))
	n.bo.PutUint32(body[12:], uint32(len(data)))
	n.bo.PutUint32(body[16:], wirelen)
	body = pad4(append(body, data...))
	return n.block(ngBlockPB, body)
}

func (n *ng) spb(data []byte, wirelen uint32) *ng {
	body := make([]byte, 4)
	n.bo.PutUint32(body, wirelen)
	body = pad4(append(body, data...))
	return n.block(ngBlockSPB, body)
}

func (n *ng) bytes() []byte { return append([]byte(nil), n.b.Bytes()...) }

// payload returns n recognisable bytes.
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}
