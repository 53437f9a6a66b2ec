package sqli

import (
	"bytes"
	"testing"
)

// FuzzSQLi: Check and CheckParam never panic, and ASCII case never changes
// the answer (keywords are case-insensitive, literals compare folded, and
// everything else is case-blind).
func FuzzSQLi(f *testing.F) {
	for _, s := range attacks {
		f.Add([]byte(s))
	}
	for _, s := range benign {
		f.Add([]byte(s))
	}
	f.Add([]byte("$a$ x $a$ union select 1,2,3 $b$"))
	f.Add([]byte("/*!union*/ select null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if isURL(b) && plainURL(b) && checkURL(b) {
			t.Fatalf("%q takes the plain-URL fast path but the full check flags it", b)
		}
		got := Check(b)
		p := CheckParam(b)
		up := bytes.ToUpper(b)
		if len(up) == len(b) && bytes.Equal(bytes.ToLower(up), bytes.ToLower(b)) {
			if Check(up) != got {
				t.Fatalf("Check(%q) = %v but Check(%q) = %v", b, got, up, !got)
			}
			if CheckParam(up) != p {
				t.Fatalf("CheckParam(%q) = %v but upper-cased = %v", b, p, !p)
			}
		}
	})
}
