package duckdb

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTextRoundTrip(t *testing.T) {
	cases := []string{
		"", "plain", "with\x00nul", "bad\xff\xfe", "\xc3", "é", "\uf700", "\uf7ff\uf780x",
		"\xef\x9c", "mixed \xe2\x82 \uf7a0 é \x80", strings.Repeat("\"'`;--", 100),
		string([]byte{0xef, 0x9c, 0x80, 0xff}),
	}
	for _, s := range cases {
		e := encText(s)
		if !utf8.ValidString(e) {
			t.Errorf("encText(%q) = %q: not valid UTF-8", s, e)
		}
		d, err := decText(e)
		if err != nil || d != s {
			t.Errorf("decText(encText(%q)) = %q, %v", s, d, err)
		}
		if utf8.ValidString(s) && !strings.ContainsRune(s, 0xf700) && strings.IndexFunc(s, func(r rune) bool { return r >= escBase && r <= escLast }) < 0 && e != s {
			t.Errorf("encText changed valid %q to %q", s, e)
		}
	}
}

func TestTextSubstring(t *testing.T) {
	// A valid UTF-8 needle is found in the encoded value exactly when it is
	// in the raw value.
	hay := []string{"GET /a\xffb/é?x=1", "\xe2\x82/api", "q\xc3", "\x80\x80/"}
	needles := []string{"/a", "b/é", "/api", "q", "é", "x=1", "/"}
	for _, h := range hay {
		for _, n := range needles {
			want := strings.Contains(h, n)
			got := strings.Contains(encText(h), encText(n))
			if want != got {
				t.Errorf("contains(%q, %q): raw %v, encoded %v", h, n, want, got)
			}
		}
	}
}

func TestDecTextCorrupt(t *testing.T) {
	for _, s := range []string{"\xff", "\uf701", "\uf700", "\uf700x", "a\uf77f"} {
		if _, err := decText(s); err == nil {
			t.Errorf("decText(%q) accepted corrupt text", s)
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("a\xffb")
	f.Add("\uf700\uf7ff")
	f.Add("é")
	f.Fuzz(func(t *testing.T, s string) {
		e := encText(s)
		if !utf8.ValidString(e) {
			t.Fatalf("encText(%q) = %q: not valid UTF-8", s, e)
		}
		d, err := decText(e)
		if err != nil || d != s {
			t.Fatalf("round trip of %q: %q, %v", s, d, err)
		}
		// decText of arbitrary input must not panic, and what it accepts
		// must encode back to itself (the mapping is a bijection onto its
		// image).
		if d2, err := decText(s); err == nil && encText(d2) != s {
			t.Fatalf("decText(%q) = %q, which encodes to %q", s, d2, encText(d2))
		}
	})
}
