package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

func TestPcapngSynthetic(t *testing.T) {
	for _, big := range []bool{false, true} {
		n := newNG(big)
		le := func(v uint64) []byte { b := make([]byte, 8); n.bo.PutUint64(b, v); return b }
		n.shb(1, 0).
			idb(1, 0, n.opt(ngOptIfName, []byte("eth0"))).                                // 0: µs
			idb(101, 128, n.opt(ngOptTSResol, []byte{9}), n.opt(ngOptTSOffset, le(100))). // 1: ns, +100 s
			idb(0, 0, n.opt(ngOptTSResol, []byte{0x80 | 10}))                             // 2: 2^-10 s
		n.epb(0, 1_500_000, payload(60, 1), 60)      // 1.5 s
		n.block(4, make([]byte, 12))                 // NRB: skipped
		n.epb(1, 2_000_000_123, payload(30, 2), 100) // 2.000000123 s + 100 s, snap-truncated
		n.epb(2, 3<<10|512, payload(44, 3), 44)      // 3.5 s
		n.spb(payload(20, 4), 20)                    // interface 0, previous timestamp
		n.block(5, make([]byte, 16))                 // ISB: skipped
		n.pb(1, 7_000_000_000, payload(16, 5), 16)   // obsolete packet block
		n.block(0x40000bad, make([]byte, 8))         // custom block: skipped
		// Second section: interfaces start again at 0.
		n.shb(1, 0).idb(228, 0).epb(0, 9_000_000, payload(24, 6), 24)
		frames, st := readBytes(t, n.bytes(), FileOptions{})
		type want struct {
			ts    int64
			iface int
			link  LinkType
			n     int
			wire  int
		}
		wants := []want{
			{1_500_000_000, 0, 1, 60, 60},
			{102_000_000_123, 1, 101, 30, 100},
			{3_500_000_000, 2, 0, 44, 44},
			{3_500_000_000, 0, 1, 20, 20},
			{107_000_000_000, 1, 101, 16, 16},
			{9_000_000_000, 3, 228, 24, 24},
		}
		if len(frames) != len(wants) {
			t.Fatalf("big=%v: %d frames, want %d (%+v)", big, len(frames), len(wants), st)
		}
		for i, w := range wants {
			f := frames[i]
			if f.Timestamp != w.ts || f.Interface != w.iface || f.LinkType != w.link || len(f.data) != w.n || f.WireLen != w.wire {
				t.Errorf("big=%v frame %d: ts %d iface %d link %d len %d wire %d; want %+v", big, i, f.Timestamp, f.Interface, f.LinkType, len(f.data), f.WireLen, w)
			}
		}
		if !bytes.Equal(frames[2].data, payload(44, 3)) || !bytes.Equal(frames[3].data, payload(20, 4)) {
			t.Error("data differs")
		}
		if st.SnapTruncated != 1 || st.BadRecords != 0 || st.TruncatedRecords != 0 || st.Packets != 6 {
			t.Errorf("stats %+v", st)
		}
		src, _ := OpenReader(bytes.NewReader(n.bytes()), "x", FileOptions{})
		readAll(t, src)
		names := []string{}
		for _, itf := range src.Interfaces() {
			names = append(names, itf.Name)
		}
		if len(names) != 4 || names[0] != "eth0" || names[1] != "if1" || names[3] != "if3" {
			t.Errorf("interfaces %q", names)
		}
	}
}

func TestPcapngSPBSnaplen(t *testing.T) {
	// An SPB's captured length is min(original length, snaplen, block).
	n := newNG(false).shb(1, 0).idb(1, 16).spb(payload(16, 0), 1000)
	frames, st := readBytes(t, n.bytes(), FileOptions{})
	if len(frames) != 1 || len(frames[0].data) != 16 || frames[0].WireLen != 1000 || st.SnapTruncated != 1 {
		t.Fatalf("%d frames %+v", len(frames), st)
	}
}

func TestPcapngBadAndTruncated(t *testing.T) {
	base := func() *ng { return newNG(false).shb(1, 0).idb(1, 0).epb(0, 1, payload(40, 0), 40) }
	full := base().epb(0, 2, payload(40, 0), 40).bytes()

	// Cut anywhere inside the second packet block: one frame, one truncation.
	first := len(base().bytes())
	for cut := first + 1; cut < len(full); cut += 7 {
		frames, st := readBytes(t, full[:cut], FileOptions{})
		if len(frames) != 1 || st.TruncatedRecords != 1 || st.BadRecords != 0 {
			t.Fatalf("cut at %d: %d frames %+v", cut, len(frames), st)
		}
	}

	bad := map[string][]byte{}
	// caplen larger than the block.
	b := base().epb(0, 2, payload(40, 0), 40).bytes()
	binary.LittleEndian.PutUint32(b[first+20:], 4000)
	bad["caplen > block"] = b
	// Trailer length disagrees.
	b = base().epb(0, 2, payload(40, 0), 40).bytes()
	binary.LittleEndian.PutUint32(b[len(b)-4:], 999)
	bad["trailer"] = b
	// Packet for an interface the section does not have.
	bad["interface"] = base().epb(7, 2, payload(40, 0), 40).bytes()
	// Block length not a multiple of 4.
	b = base().epb(0, 2, payload(40, 0), 40).bytes()
	binary.LittleEndian.PutUint32(b[first+4:], 13)
	bad["length"] = b
	// A section of version 2.0 (pcapgo's test901).
	n := base()
	n.shb(2, 0).idb(1, 0).epb(0, 3, payload(10, 0), 10)
	bad["version"] = n.bytes()
	// SPB before any interface of its section.
	n = base()
	n.shb(1, 0).spb(payload(10, 0), 10)
	bad["spb without idb"] = n.bytes()
	for name, b := range bad {
		frames, st := readBytes(t, b, FileOptions{})
		if len(frames) != 1 || st.BadRecords != 1 || st.TruncatedRecords != 0 {
			t.Errorf("%s: %d frames %+v", name, len(frames), st)
		}
	}
}

func TestPcapngOversizedBlock(t *testing.T) {
	// A packet block with 2 MiB of options (larger than the read buffer):
	// the packet is delivered and the rest skipped.
	n := newNG(true).shb(1, 0).idb(1, 0)
	body := make([]byte, 20)
	n.bo.PutUint32(body[12:], 64)
	n.bo.PutUint32(body[16:], 64)
	body = append(body, payload(64, 7)...)
	comment := bytes.Repeat([]byte("x"), 60000)
	for len(body) < 2<<20 {
		body = append(body, n.opt(1, comment)...)
	}
	body = append(body, n.endOpt()...)
	n.block(ngBlockEPB, body)
	n.epb(0, 5, payload(10, 1), 10)
	frames, st := readBytes(t, n.bytes(), FileOptions{})
	if len(frames) != 2 || !bytes.Equal(frames[0].data, payload(64, 7)) || st.BadRecords != 0 {
		t.Fatalf("%d frames %+v", len(frames), st)
	}
	// The same file cut inside the options.
	b := n.bytes()
	frames, st = readBytes(t, b[:1<<20+12345], FileOptions{})
	if len(frames) != 1 || st.TruncatedRecords != 1 {
		t.Fatalf("cut: %d frames %+v", len(frames), st)
	}
}

func TestPcapngTimestampResolutions(t *testing.T) {
	cases := []struct {
		resol byte
		ts    uint64
		want  int64
	}{
		{6, 1_000_001, 1_000_001_000},
		{9, 1_000_000_001, 1_000_000_001},
		{3, 1500, 1_500_000_000},
		{0, 7, 7_000_000_000},
		{12, 1_000_000_000_001_000, 1_000_000_000_001},
		{0x80, 7, 7_000_000_000},
		{0x80 | 1, 3, 1_500_000_000},
		{0x80 | 20, 5<<20 | 1<<19, 5_500_000_000},
		{0x80 | 30, 1<<30 + 1, 1_000_000_000}, // 2^-30 s ≈ 0.93 ns: floor
		{0x80 | 63, 1 << 62, 500_000_000},
	}
	for _, c := range cases {
		n := newNG(false).shb(1, 0).idb(1, 0, newNG(false).opt(ngOptTSResol, []byte{c.resol})).epb(0, c.ts, payload(4, 0), 4)
		frames, _ := readBytes(t, n.bytes(), FileOptions{})
		if len(frames) != 1 || frames[0].Timestamp != c.want {
			t.Errorf("resol %#x ts %d: got %v, want %d", c.resol, c.ts, frames, c.want)
		}
	}
}

func TestManyInterfaces(t *testing.T) {
	frames, st := readFile(t, corpus.Path(t, "pcapplusplus/PcapExamples/many_interfaces-1.pcapng"), FileOptions{})
	byLink := map[LinkType]int{}
	for _, f := range frames {
		byLink[f.LinkType]++
	}
	// PcapPlusPlus FileTests.cpp: 64 packets, 62 Ethernet, 2 Null.
	if len(frames) != 64 || byLink[LinkEthernet] != 62 || byLink[LinkNull] != 2 || st.Packets != 64 {
		t.Fatalf("%d frames, by link %v, %+v", len(frames), byLink, st)
	}
}

func TestPcapngExample(t *testing.T) {
	src, err := OpenFile(corpus.Path(t, "pcapplusplus/PcapExamples/pcapng-example.pcapng"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := readAll(t, src)
	byLink := map[LinkType]int{}
	for _, f := range frames {
		byLink[f.LinkType]++
		if src.Interfaces()[f.Interface].LinkType != f.LinkType {
			t.Fatal("frame link type is not its interface's")
		}
	}
	if len(frames) != 159 || byLink[LinkEthernet] != 59 || byLink[LinkSLL] != 100 {
		t.Fatalf("%d frames, by link %v", len(frames), byLink)
	}
}

// TestPcapngAgainstPcapgo reads gopacket's pcapng conformance files (both
// byte orders) with pcapgo.NgReader and with ours, frame by frame.
// Differences by design: SPBs have no timestamp and pcapgo reports the zero
// time where we repeat the previous packet's; our interface indexes are
// file-wide where pcapgo's restart in every section (compared by name and
// link type instead).
func TestPcapngAgainstPcapgo(t *testing.T) {
	dir := filepath.Dir(corpus.Path(t, "gopacket/pcapgo/tests/le/test001.pcapng"))
	for _, bo := range []string{"le", "be"} {
		files, _ := filepath.Glob(filepath.Join(dir, "..", bo, "*.pcapng"))
		if len(files) < 20 {
			t.Fatalf("%s: only %d files", bo, len(files))
		}
		for _, p := range files {
			name := bo + "/" + filepath.Base(p)
			want, wantErr := readPcapgo(t, p)
			src, err := OpenFile(p, FileOptions{})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			got, st := readAll(t, src)
			if len(got) != len(want) {
				t.Errorf("%s: %d frames, pcapgo %d (pcapgo error %v, our stats %+v)", name, len(got), len(want), wantErr, st)
				continue
			}
			if errors.Is(wantErr, pcapgo.ErrNgVersionMismatch) != (st.BadRecords == 1) {
				t.Errorf("%s: pcapgo ended with %v, our stats %+v", name, wantErr, st)
			}
			var prev int64
			for i, w := range want {
				g := got[i]
				wantTS := w.ts
				if w.zeroTime {
					wantTS = prev
				}
				itf := src.Interfaces()[g.Interface]
				if !bytes.Equal(g.data, w.data) || g.Timestamp != wantTS || g.WireLen != w.wire ||
					itf.LinkType != w.link || (w.ifName != "" && itf.Name != w.ifName) {
					t.Errorf("%s frame %d: got ts %d wire %d link %d if %q len %d; pcapgo ts %d wire %d link %d if %q len %d",
						name, i, g.Timestamp, g.WireLen, itf.LinkType, itf.Name, len(g.data), wantTS, w.wire, w.link, w.ifName, len(w.data))
				}
				prev = g.Timestamp
			}
		}
	}
}

type pcapgoFrame struct {
	data     []byte
	ts       int64
	zeroTime bool
	wire     int
	link     LinkType
	ifName   string
}

func readPcapgo(t *testing.T, path string) ([]pcapgoFrame, error) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		return nil, err
	}
	var out []pcapgoFrame
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		itf, _ := r.Interface(ci.InterfaceIndex)
		out = append(out, pcapgoFrame{
			data:     data,
			ts:       ci.Timestamp.UnixNano(),
			zeroTime: ci.Timestamp.Equal(time.Time{}),
			wire:     ci.Length,
			link:     LinkType(ci.AncillaryData[0].(layers.LinkType)),
			ifName:   itf.Name,
		})
	}
}
