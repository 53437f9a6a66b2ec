package tls

import (
	"io/fs"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// hostileFiles are the captures with broken, truncated, fuzzed or unusual
// TLS; tls_* and 443-* of nDPI are added by glob.
var hostileFiles = []string{
	"pcapplusplus/PacketExamples/ssl-malformed1.pcap",
	"pcapplusplus/PacketExamples/tls_grease.pcap",
	"pcapplusplus/PacketExamples/tls1_3.pcap",
	"pcapplusplus/PacketExamples/tls_zero_size_ext.pcap",
	"pcapplusplus/PacketExamples/tls_server_hello.pcap",
}

func hostileList(t *testing.T) []string {
	dir := corpus.Dir()
	if dir == "" {
		corpus.Path(t, "ndpi") // skips, or fails under CI
	}
	files := append([]string(nil), hostileFiles...)
	for _, pat := range []string{"ndpi/tls*", "ndpi/443-*", "pcapplusplus/PacketExamples/SSL-*.pcap"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range m {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
	}
	sort.Strings(files)
	return files
}

// Hostile and odd captures: no panic, and the events do not depend on how
// the bytes are cut into Feed calls (whole, 1 byte, 7 bytes, 1000 bytes).
// Each captured packet is also fed on its own to a fresh Stream, as a
// detector on a mid-stream packet would.
func TestHostileCorpus(t *testing.T) {
	files := hostileList(t)
	if len(files) < 25 {
		t.Fatalf("only %d hostile captures found", len(files))
	}
	var dirs, hellos, notTLS, failed int
	for _, rel := range files {
		ds, payloads := readCapture(t, corpus.Path(t, rel))
		for _, d := range ds {
			dirs++
			whole, werr := feedAll(d.Data, 0)
			for _, piece := range []int{1, 7, 1000} {
				got, err := feedAll(d.Data, piece)
				if !reflect.DeepEqual(got, whole) || (err == nil) != (werr == nil) {
					t.Errorf("%s %v->%v: events differ when fed in %d-byte pieces:\n%v %v\nvs whole:\n%v %v",
						rel, d.Src, d.Dst, piece, describe(got), err, describe(whole), werr)
				}
			}
			if werr != nil {
				failed++
				t.Logf("%s %v->%v: %v", rel, d.Src, d.Dst, werr)
			}
			for _, e := range whole {
				switch e.(type) {
				case *ClientHello, *ServerHello:
					hellos++
				case *NotTLS:
					notTLS++
				}
			}
		}
		for _, p := range payloads {
			feedAll(p, 0)
			Looks(p)
		}
	}
	t.Logf("%d captures, %d directions: %d hellos, %d not TLS, %d stopped by an error", len(files), dirs, hellos, notTLS, failed)
}

func describe(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, reflect.TypeOf(e).Elem().Name())
	}
	return out
}

// Every TCP direction of every capture in the corpus (about 10,000, mostly
// not TLS) goes through a Stream, and every TCP payload through a fresh one
// and through Looks: no panic. Errors are listed.
func TestWholeCorpusNoPanic(t *testing.T) {
	dir := corpus.Dir()
	if dir == "" {
		corpus.Path(t, "ndpi")
	}
	if testing.Short() {
		t.Skip("reads the whole corpus")
	}
	counts := map[string]int{}
	files := 0
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".pcap", ".pcapng", ".cap":
		default:
			return nil
		}
		ds, payloads, err := readCaptureErr(p)
		if err != nil {
			return nil // not a capture gopacket reads
		}
		files++
		for _, d := range ds {
			evs, err := feedAll(d.Data, 0)
			if err != nil {
				counts["error"]++
				t.Logf("%s %v->%v: %v", p[len(dir)+1:], d.Src, d.Dst, err)
			}
			for _, e := range evs {
				counts[describe([]Event{e})[0]]++
			}
		}
		for _, pl := range payloads {
			feedAll(pl, 0)
			Looks(pl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d captures: %v", files, counts)
}
