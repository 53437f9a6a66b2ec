package capture

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// tcpdumpCounts are `tcpdump --count -r FILE` (tcpdump 4.99.3, libpcap
// 1.10.3) for the corpus files whose link type Wireshark 4.0 does not know,
// so capinfos gives no count. We deliver frames whatever the link type.
var tcpdumpCounts = map[string]int{
	"tcpdump/brcm-tag-prepend.pcap":                      15,
	"tcpdump/brcm-tag.pcap":                              23,
	"tcpdump/dsa-high-vid.pcap":                          4,
	"tcpdump/dsa.pcap":                                   8,
	"tcpdump/edsa-high-vid.pcap":                         4,
	"tcpdump/edsa.pcap":                                  10,
	"tcpdump/frf16_magic_ie-oobr.pcap":                   1,
	"tcpdump/hoobr_juniper3.pcap":                        1,
	"tcpdump/juniper_es_oobr.pcap":                       1,
	"tcpdump/juniper_monitor_invalid_cookie_length.pcap": 1,
	"tcpdump/kday6.pcap":                                 1,
	"tcpdump/vtp_asan-2.pcap":                            1,
	"tcpdump/vtp_asan-3.pcap":                            1,
	"tcpdump/vtp_asan.pcap":                              5,
}

// wireByteExceptions are files whose sum of wire lengths differs from
// tshark's sum of frame.len, with the reason. Files where tshark counts
// more frames than capinfos (it lists non-packet pcapng blocks as frames:
// gopacket test017/018/102/202) are not compared either.
var wireByteExceptions = map[string]string{
	"tcpdump/aoe-oobr-1.pcap":                     "record with wire length < captured length: we raise it to the captured length, Wireshark keeps it",
	"tcpdump/icmp-icmp_print-oobr-2.pcap":         "wire length < captured length (see above)",
	"tcpdump/pim_header_asan-2.pcap":              "wire length < captured length (see above)",
	"tcpdump/rsvp-rsvp_obj_print-oobr.pcap":       "wire length 0 < captured length (see above)",
	"tcpdump/slip-compressed_sl_print-oobr.pcap":  "wire length < captured length (see above)",
	"tcpdump/slip-sliplink_print-oobr.pcap":       "wire length < captured length (see above)",
	"tcpdump/atm-heapoverflow.pcap":               "SunATM: Wireshark takes the 4-byte pseudo-header out of frame.len",
	"tcpdump/atm-oam-heapoverflow.pcap":           "SunATM pseudo-header (see above)",
	"tcpdump/atm-oam-loopback-print-overrun.pcap": "SunATM pseudo-header (see above)",
	"ndpi/fuzz-2021-06-07-c6c72a0a56.pcap":        "orig_len 0xf3fdfe30; tshark's sum saturates at 2^31-1",
}

type tsharkRef struct {
	Frames     *int   `json:"tshark_frames"`
	FrameBytes *int64 `json:"frame_bytes"`
	Stderr     string `json:"tshark_stderr"`
}

// TestCorpusFrameCounts reads every capture of the corpus and checks our
// frame count against capinfos (index.tsv) and our wire-byte count
// against tshark's sum of frame.len (reference_tshark.json).
//
// Exception classes, taken from tshark's own error for the file:
//   - "cut short in the middle of a packet" (2 files): the file ends inside
//     a record. We deliver the complete records, which is capinfos' count,
//     and count one TruncatedRecords.
//   - "unknown SHB version 2.0" (gopacket test901, le and be): the second
//     section has a version no reader supports. capinfos reports nothing;
//     tshark, tcpdump and pcapgo deliver the 1 packet before it, so do we,
//     and count one BadRecords.
//   - "network type N unknown or unsupported" (14 tcpdump files with DSA,
//     Broadcom-tag, MFR and Juniper link types): no capinfos count. We
//     deliver frames regardless of link type; the count must equal
//     tcpdump's (tcpdumpCounts, and tcpdump itself when installed).
//
// Every other file must read cleanly: count == capinfos, no truncated or
// bad records.
func TestCorpusFrameCounts(t *testing.T) {
	root := corpus.Dir()
	corpus.Path(t, "index.tsv") // skips when absent
	refs := map[string]tsharkRef{}
	if b, err := os.ReadFile(filepath.Join(root, "reference_tshark.json")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, haveTcpdump := exec.LookPath("tcpdump")
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var files, frames, exceptions int
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 9 {
			t.Fatalf("bad index line %q", sc.Text())
		}
		rel, capinfos, format := col[0], col[6], col[7]
		ref := refs[rel]
		files++
		src, err := OpenFile(filepath.Join(root, rel), FileOptions{})
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		n := 0
		for {
			_, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			n++
		}
		st := src.Stats()
		src.Close()
		frames += n
		switch {
		case strings.Contains(ref.Stderr, "cut short in the middle of a packet"):
			exceptions++
			if strconv.Itoa(n) != capinfos || st.TruncatedRecords != 1 || st.BadRecords != 0 {
				t.Errorf("%s (cut short): %d frames, capinfos %s, %+v", rel, n, capinfos, st)
			}
		case strings.Contains(ref.Stderr, "unknown SHB version"):
			exceptions++
			if ref.Frames == nil || n != *ref.Frames || st.BadRecords != 1 {
				t.Errorf("%s (bad section version): %d frames, tshark %v, %+v", rel, n, ref.Frames, st)
			}
		case strings.Contains(ref.Stderr, "unknown or unsupported"):
			exceptions++
			want, ok := tcpdumpCounts[rel]
			if !ok {
				t.Errorf("%s: unsupported link type for tshark, but no tcpdump count", rel)
			}
			if haveTcpdump == nil {
				want = tcpdumpCount(t, filepath.Join(root, rel), "")
			}
			if n != want || st.BadRecords+st.TruncatedRecords != 0 {
				t.Errorf("%s (link type unknown to tshark): %d frames, tcpdump %d, %+v", rel, n, want, st)
			}
		default:
			if format != "pcap" && format != "pcapng" && format != "nsecpcap" {
				t.Errorf("%s: format %q with no tshark error", rel, format)
			}
			if strconv.Itoa(n) != capinfos || st.BadRecords+st.TruncatedRecords != 0 {
				t.Errorf("%s: %d frames, capinfos %s, %+v", rel, n, capinfos, st)
			}
			_, except := wireByteExceptions[rel]
			sameFrames := ref.Frames != nil && *ref.Frames == n
			if ref.FrameBytes != nil && sameFrames && !except && uint64(*ref.FrameBytes) != st.Bytes {
				t.Errorf("%s: %d wire bytes, tshark %d", rel, st.Bytes, *ref.FrameBytes)
			}
			if except && sameFrames && ref.FrameBytes != nil && uint64(*ref.FrameBytes) == st.Bytes {
				t.Errorf("%s: listed in wireByteExceptions but agrees with tshark", rel)
			}
		}
	}
	if files < 1269 || exceptions != 18 {
		t.Errorf("%d files, %d exceptions; want 1269 and 18", files, exceptions)
	}
	t.Logf("%d files, %d frames, %d exceptions", files, frames, exceptions)
}

var tcpdumpCountRE = regexp.MustCompile(`(?m)^(\d+) packets?$`)

// tcpdumpCount runs `tcpdump --count -r path expr` and returns the count.
func tcpdumpCount(t *testing.T, path, expr string) int {
	t.Helper()
	args := []string{"--count", "-r", path}
	if expr != "" {
		args = append(args, expr)
	}
	out, _ := exec.Command("tcpdump", args...).Output() // exit status 1 on a truncated file
	m := tcpdumpCountRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("tcpdump %q: no count in %q", args, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
