package decode

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// TestCorpusWalk decodes every frame of every readable capture under
// tcpdump/ (mostly fuzzer-found reproducers of out-of-bounds reads in
// tcpdump's printers) and ndpi/, with the default configuration and with
// tiny reassembly caps, and asserts:
//
//  1. no panic;
//  2. every frame lands in exactly one bucket, and the decoder's counters
//     equal the statuses it returned:
//     Frames == IP + NotIP + UnsupportedLink + FragmentFrames + sum(Malformed);
//  3. fragments are conserved:
//     Defrag.Fragments == Delivered + sum(Dropped) + Held, with the memory
//     and datagram gauges within their caps after every frame;
//  4. every StatusOK packet is sane: IP version 4 or 6, valid addresses,
//     0 <= len(Payload) <= PayloadLen, IPLen > 0;
//  5. a StatusMalformed frame names a reason;
//  6. Peek agrees with Decode (see peekAgrees).
func TestCorpusWalk(t *testing.T) {
	root := corpus.Dir()
	if root == "" {
		corpus.Path(t, "tcpdump") // skips (or fails under CI)
	}
	tiny := Config{DefragMaxBytes: MinDefragMaxBytes, DefragMaxDatagrams: 2, MaxTunnelDepth: 1}
	var files, unreadable, totalFrames int
	var all Stats
	for _, dir := range []string{"tcpdump", "ndpi"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			if ext := filepath.Ext(path); ext != ".pcap" && ext != ".pcapng" && ext != ".cap" && ext != ".pcapdump" {
				return nil
			}
			frames, rerr := readFrames(path)
			if rerr != nil {
				unreadable++ // pcapgo rejects some hostile headers; frames read so far still count
			}
			files++
			totalFrames += len(frames)
			name := strings.TrimPrefix(path, root+"/")
			for _, cfg := range []Config{DefaultConfig(), tiny} {
				all.Add(walkFrames(t, name, frames, cfg))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 500 {
		t.Errorf("walked only %d files", files)
	}
	t.Logf("%d files (%d read with errors), %d frames; totals over both configurations: %d IP, %d not IP, %d unsupported link, %d fragment frames, malformed %v, defrag %+v",
		files, unreadable, totalFrames, all.IP, all.NotIP, all.UnsupportedLink, all.FragmentFrames, all.Malformed, all.Defrag)
}

func walkFrames(t *testing.T, name string, frames []frame, cfg Config) Stats {
	d := New(cfg)
	var p Packet
	var ok, notIP, unsupported, frag, bad uint64
	limits := cfg.withDefaults()
	var fp FlowPeek
	for i, f := range frames {
		peeked := d.Peek(f.link, f.data, &fp)
		st := d.Decode(f.link, f.data, f.wireLen, f.ts, &p)
		if err := peekAgrees(peeked, &fp, st, &p); err != "" {
			t.Errorf("%s frame %d: %s", name, i+1, err)
		}
		switch st {
		case StatusOK:
			ok++
			if p.IPVersion != 4 && p.IPVersion != 6 || !p.SrcIP.IsValid() || !p.DstIP.IsValid() ||
				len(p.Payload) > p.PayloadLen || p.PayloadLen < 0 || p.IPLen <= 0 {
				t.Errorf("%s frame %d: insane packet: v%d %v>%v IPLen %d PayloadLen %d captured %d",
					name, i+1, p.IPVersion, p.SrcIP, p.DstIP, p.IPLen, p.PayloadLen, len(p.Payload))
			}
		case StatusNotIP:
			notIP++
		case StatusUnsupportedLink:
			unsupported++
		case StatusFragment:
			frag++
		case StatusMalformed:
			bad++
			if d.reason == reasonNone || d.reason >= numReasons {
				t.Errorf("%s frame %d: malformed without a reason", name, i+1)
			}
		default:
			t.Fatalf("%s frame %d: status %d", name, i+1, st)
		}
		if d.fr.alloc > limits.DefragMaxBytes || d.fr.count > limits.DefragMaxDatagrams {
			t.Fatalf("%s frame %d: reassembly over its caps: %d bytes, %d datagrams", name, i+1, d.fr.alloc, d.fr.count)
		}
	}
	s := d.Stats()
	if s.Frames != uint64(len(frames)) || s.IP != ok || s.NotIP != notIP || s.UnsupportedLink != unsupported ||
		s.FragmentFrames != frag || s.MalformedTotal() != bad {
		t.Errorf("%s: stats %+v disagree with the statuses returned: %d frames, %d ok, %d not IP, %d unsupported, %d fragment, %d malformed",
			name, s, len(frames), ok, notIP, unsupported, frag, bad)
	}
	checkInvariants(t, name, s, cfg)
	return s
}

// peekAgrees checks Peek's promise: a frame it reads decodes to the same
// 5-tuple, or is malformed. It returns what went wrong, or "".
func peekAgrees(peeked bool, fp *FlowPeek, st Status, p *Packet) string {
	if !peeked || st == StatusMalformed {
		return ""
	}
	if st != StatusOK {
		return fmt.Sprintf("Peek read a tuple, Decode says status %d", st)
	}
	got := FlowPeek{Src: AddrWords(p.SrcIP.As16()), Dst: AddrWords(p.DstIP.As16()), SrcPort: p.SrcPort, DstPort: p.DstPort, Proto: p.Proto}
	if got != *fp {
		return fmt.Sprintf("Peek read %+v, Decode %+v", *fp, got)
	}
	return ""
}
