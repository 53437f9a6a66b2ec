package reassembly

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/flow"
)

// TestWalkCorpus runs every capture of the tcpdump and nDPI test suites
// through decode → flow → Assembler, with small budgets so that they bite,
// and checks, per file: no panic; the internal invariants (every 64
// segments and at the end); the counters add up (captured bytes ==
// delivered + held + dropped by reason; consumers' Data/Gap totals ==
// counters); every stream ends once; and, per direction of every stream
// that did not resynchronise, the invariant
//
//	Data bytes + Gap bytes == highest accepted sequence offset − start
//
// where the start is the first segment's sequence number (+1 after a SYN)
// and the highest accepted offset is one past the highest byte of the
// segments the Assembler accepted, bytes from an accepted FIN on excluded.
// It holds because the Assembler never gives up a sequence number beyond
// data it holds or is placing (Gaps end at a buffered range or at the
// segment being placed), and at End it delivers everything it holds.
func TestWalkCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("walks ~1000 captures")
	}
	root := corpus.Dir()
	corpus.Path(t, "tcpdump") // skips when the corpus is absent
	var files []string
	for _, dir := range []string{"tcpdump", "ndpi"} {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isCapture(p) {
				files = append(files, p)
			}
			return nil
		})
	}
	sort.Strings(files)
	var total Stats
	var defined, undefined, unseen, streams, read int
	for _, f := range files {
		// Small budgets, so that the budget paths run on real traffic.
		w := newWalker(t, Config{MaxBufferedPerDir: 8 << 10, MaxBufferedTotal: 32 << 10, MaxStreams: 512})
		w.checkN = 64
		if err := w.file(f); err != nil {
			continue // not a capture we can read: internal/capture's business
		}
		read++
		rel, _ := filepath.Rel(root, f)
		w.check(rel)
		st := w.asm.Stats()
		addStats(&total, st)
		defined += w.defined
		undefined += w.undefined
		unseen += w.unseen
		streams += len(w.streams)
	}
	t.Logf("%d files (%d read), %d streams, %d directions checked, %d not (resynchronised), %d without a segment",
		len(files), read, streams, defined, undefined, unseen)
	t.Logf("totals: %+v", total)
	if read < 900 || defined < 3000 || total.BudgetDir == 0 || total.BudgetTotal == 0 || total.GapAcked == 0 || total.Snaplen == 0 {
		t.Errorf("walked too little: %d files, %d directions", read, defined)
	}
}

func isCapture(p string) bool {
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

func addStats(t *Stats, s Stats) {
	t.StreamsOpened += s.StreamsOpened
	t.Segments += s.Segments
	t.UnknownSegments += s.UnknownSegments
	t.DeliveredBytes += s.DeliveredBytes
	t.MidstreamUnknown += s.MidstreamUnknown
	t.Resyncs += s.Resyncs
	t.GapMissing += s.GapMissing
	t.GapAcked += s.GapAcked
	t.BudgetDir += s.BudgetDir
	t.BudgetTotal += s.BudgetTotal
	t.EvictedStream += s.EvictedStream
	t.IdleEnd += s.IdleEnd
	t.Snaplen += s.Snaplen
	t.OverlapDropped += s.OverlapDropped
	t.OverlapConflict += s.OverlapConflict
	t.AfterFIN += s.AfterFIN
	t.BeforeStart += s.BeforeStart
	t.UnknownStream += s.UnknownStream
	t.EndedClosed += s.EndedClosed
	t.EndedReset += s.EndedReset
	t.EndedIdle += s.EndedIdle
	t.EndedEvicted += s.EndedEvicted
	t.EndedFlush += s.EndedFlush
	t.BufferedMemoryPeak = max(t.BufferedMemoryPeak, s.BufferedMemoryPeak)
}

// TestPcapPlusPlus reassembles PcapPlusPlus' TcpReassembly example capture
// and compares the stream 172.16.133.54:64370 ↔ 23.21.118.18:80 with
// PcapPlusPlus' own output (Tests/ExamplesTest/expected_output/
// tcpreassembly_sanity): the .txt file is both sides' data in the order
// delivered (the example writes each message as it is ready), and the
// metadata file counts data packets, bytes and messages (runs of one side)
// per side. Side 0 is the connection's initiator.
func TestPcapPlusPlus(t *testing.T) {
	const dir = "pcapplusplus/ExamplesTest/"
	const name = "172.16.133.54.64370-23.21.118.18.80"
	want, err := os.ReadFile(corpus.Path(t, dir+"expected_output/tcpreassembly_sanity/"+name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(corpus.Path(t, dir+"expected_output/tcpreassembly_sanity/"+name+"-metadata.txt"))
	if err != nil {
		t.Fatal(err)
	}
	w := newWalker(t, Config{})
	w.checkN = 1
	if err := w.file(corpus.Path(t, dir+"pcap_examples/tcp-reassembly.pcap")); err != nil {
		t.Fatal(err)
	}
	w.check("tcp-reassembly.pcap")
	var r *streamRec
	for _, s := range w.streams {
		if s.client == netip.MustParseAddrPort("172.16.133.54:64370") && s.server == netip.MustParseAddrPort("23.21.118.18:80") {
			r = s
		}
	}
	if r == nil {
		t.Fatal("stream not found")
	}
	if !bytes.Equal(r.combined, want) {
		t.Errorf("reassembled stream differs from PcapPlusPlus': %d bytes, want %d (first difference at %d)",
			len(r.combined), len(want), firstDiff(r.combined, want))
	}
	// The metadata, computed the way PcapPlusPlus does.
	var msgs [2]int
	for i, d := range r.order {
		if i == 0 || r.order[i-1] != d {
			msgs[d]++
		}
	}
	got := fmt.Sprintf("Number of data packets in side 0:  %d\nNumber of data packets in side 1:  %d\nTotal number of data packets:      %d\n\n"+
		"Number of bytes in side 0:         %d\nNumber of bytes in side 1:         %d\nTotal number of bytes:             %d\n\n"+
		"Number of messages in side 0:      %d\nNumber of messages in side 1:      %d\n",
		r.dirs[0].dataCall, r.dirs[1].dataCall, r.dirs[0].dataCall+r.dirs[1].dataCall,
		r.dirs[0].data, r.dirs[1].data, r.dirs[0].data+r.dirs[1].data, msgs[0], msgs[1])
	if got != string(meta) {
		t.Errorf("metadata:\n%s\nwant:\n%s", got, meta)
	}
	st := w.asm.Stats()
	// One retransmission of 593 bytes (frame 10), nothing lost.
	if st.OverlapDropped != 593 || gapBytes(st) != 0 || r.reason != EndClosed {
		t.Errorf("%+v, end %v", st, r.reason)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Captures compared with tshark's "Follow TCP stream" (raw). The
// reference, testdata/tshark_follow.txt, holds for each TCP stream tshark
// found its two endpoints and, per endpoint, the length and SHA-256 of
// the bytes tshark's follow prints for it, "[N bytes missing in capture
// file]\0" markers included. Regenerate it (tshark 4.0 was used) with
//
//	WIREWATCH_TSHARK_UPDATE=1 go test -run TestTshark ./internal/reassembly/
//
// A name ending in "@snapN" is the capture cut to N bytes per frame
// (editcap -s N for tshark; the walker cuts the frames the same way): it
// checks the snap-length path. tshark's follow then prints the captured
// bytes only, no marker for the cut ones, so Data bytes are compared.
var tsharkFiles = []string{
	"pcapplusplus/ExamplesTest/pcap_examples/tcp-reassembly.pcap@snap200",
	"deepflow/flow_generator/http.pcap@snap100",
	"pcapplusplus/ExamplesTest/pcap_examples/tcp-reassembly.pcap",
	"deepflow/flow_generator/out-of-order.pcap",
	"deepflow/flow_generator/tcp-segment.pcap",
	"deepflow/flow_generator/client-keep-alive.pcap",
	"deepflow/flow_generator/http.pcap",
	"pktvisor/dns_udp_tcp_random.pcap",
	"pktvisor/dns_ipv4_tcp.pcap",
	"pktvisor/dns_ipv6_tcp.pcap",
}

const tsharkRef = "testdata/tshark_follow.txt"

// tsharkStream is one line of the reference.
type tsharkStream struct {
	file   string
	node   [2]netip.AddrPort
	length [2]int
	sum    [2]string
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:12])
}

func TestTshark(t *testing.T) {
	if os.Getenv("WIREWATCH_TSHARK_UPDATE") != "" {
		updateTshark(t)
	}
	ref := readTsharkRef(t)
	var compared, markers, nbytes int
	for _, rel := range tsharkFiles {
		file, snap := splitSnap(rel)
		w := newWalker(t, Config{})
		w.checkN = 16
		w.snap = snap
		if err := w.file(corpus.Path(t, file)); err != nil {
			t.Fatal(err)
		}
		w.check(rel)
		// Our streams by endpoint pair, in order of appearance (a pair
		// reused by a later connection is a later stream for both tools).
		ours := map[[2]netip.AddrPort][]*streamRec{}
		for _, r := range w.streams {
			ours[[2]netip.AddrPort{r.client, r.server}] = append(ours[[2]netip.AddrPort{r.client, r.server}], r)
		}
		n := 0
		for _, ts := range ref {
			if ts.file != rel {
				continue
			}
			n++
			var r *streamRec
			var flip bool
			for _, pair := range [][2]netip.AddrPort{{ts.node[0], ts.node[1]}, {ts.node[1], ts.node[0]}} {
				if l := ours[pair]; len(l) > 0 {
					r, ours[pair] = l[0], l[1:]
					flip = pair[0] != ts.node[0]
					break
				}
			}
			if r == nil {
				t.Errorf("%s: no stream %v ↔ %v", rel, ts.node[0], ts.node[1])
				continue
			}
			for node := range 2 {
				d := flow.Dir(node)
				if flip {
					d ^= 1
				}
				got := r.dirs[d].follow
				if snap > 0 {
					got = r.dirs[d].bytes
				}
				if len(got) != ts.length[node] || digest(got) != ts.sum[node] {
					t.Errorf("%s: %v → %v: %d bytes (%s), tshark %d (%s)", rel, ts.node[node], ts.node[node^1],
						len(got), digest(got), ts.length[node], ts.sum[node])
				}
				markers += bytes.Count(got, []byte("bytes missing in capture file]"))
				nbytes += len(got)
			}
			compared++
		}
		if n == 0 {
			t.Errorf("%s: no tshark reference", rel)
		}
	}
	t.Logf("%d streams (%d bytes) identical to tshark's follow, %d missing-bytes markers among them", compared, nbytes, markers)
	if compared < 1800 || nbytes < 300000 {
		t.Errorf("compared too little")
	}
}

// splitSnap splits "file@snapN" into the file and N (0 without suffix).
func splitSnap(rel string) (string, int) {
	file, n, ok := strings.Cut(rel, "@snap")
	if !ok {
		return rel, 0
	}
	snap, _ := strconv.Atoi(n)
	return file, snap
}

func readTsharkRef(t *testing.T) []tsharkStream {
	f, err := os.Open(tsharkRef)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tsharkStream
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.Split(line, "\t")
		if len(fs) != 7 {
			t.Fatalf("bad reference line %q", line)
		}
		ts := tsharkStream{file: fs[0]}
		for i := range 2 {
			ts.node[i] = netip.MustParseAddrPort(fs[1+i])
			ts.length[i], _ = strconv.Atoi(fs[3+2*i])
			ts.sum[i] = fs[4+2*i]
		}
		out = append(out, ts)
	}
	return out
}

// updateTshark regenerates the reference with tshark.
func updateTshark(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("# file\tnode0\tnode1\tlen0\tsha256/12 of node 0's bytes\tlen1\tsha256/12 of node 1's bytes\n")
	buf.WriteString("# tshark -r FILE -q -z follow,tcp,raw,N (every stream), hex decoded, per node, in order\n")
	for _, rel := range tsharkFiles {
		file, snap := splitSnap(rel)
		path := corpus.Path(t, file)
		if snap > 0 {
			cut := filepath.Join(t.TempDir(), "cut.pcap")
			if out, err := exec.Command("editcap", "-s", strconv.Itoa(snap), path, cut).CombinedOutput(); err != nil {
				t.Fatalf("editcap: %v: %s", err, out)
			}
			path = cut
		}
		out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "tcp.stream").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		ids := map[int]bool{}
		for _, l := range strings.Fields(string(out)) {
			if id, err := strconv.Atoi(l); err == nil {
				ids[id] = true
			}
		}
		args := []string{"-r", path, "-q"}
		for id := range len(ids) {
			args = append(args, "-z", fmt.Sprintf("follow,tcp,raw,%d", id))
		}
		out, err = exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		streams := parseFollow(t, string(out))
		for _, s := range streams {
			fmt.Fprintf(&buf, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", rel, s.node[0], s.node[1],
				len(s.data[0]), digest(s.data[0]), len(s.data[1]), digest(s.data[1]))
		}
	}
	if err := os.WriteFile(tsharkRef, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type followed struct {
	id   int
	node [2]netip.AddrPort
	data [2][]byte
}

// parseFollow parses tshark's raw follow output: per stream a header
// ("Filter: tcp.stream eq N", "Node 0: addr:port", "Node 1: ...") then
// one hex line per chunk, indented with a tab for node 1. tshark prints
// the streams in reverse order of the -z options: they are sorted here.
func parseFollow(t *testing.T, out string) []followed {
	var res []followed
	var cur *followed
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Filter: tcp.stream eq "):
			id, _ := strconv.Atoi(strings.TrimPrefix(line, "Filter: tcp.stream eq "))
			res = append(res, followed{id: id})
			cur = &res[len(res)-1]
		case cur == nil || strings.HasPrefix(line, "====") || strings.HasPrefix(line, "Follow:") || line == "":
		case strings.HasPrefix(line, "Node 0: "), strings.HasPrefix(line, "Node 1: "):
			i := int(line[5] - '0')
			ap, err := parseEndpoint(line[8:])
			if err != nil {
				t.Fatalf("tshark endpoint %q: %v", line, err)
			}
			cur.node[i] = ap
		default:
			i := 0
			if line[0] == '\t' {
				i = 1
			}
			b, err := hex.DecodeString(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("tshark hex %q: %v", line, err)
			}
			cur.data[i] = append(cur.data[i], b...)
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].id < res[j].id })
	return res
}

// parseEndpoint parses tshark's "addr:port" (IPv6 addresses unbracketed).
func parseEndpoint(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port")
	}
	a, err := netip.ParseAddr(strings.Trim(s[:i], "[]"))
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}
