package sketch

import (
	"strings"
	"testing"
)

// Published XXH64 (seed 0) vectors, as used by github.com/cespare/xxhash;
// the 63-byte one exercises the 32-byte stripes and every tail path.
func TestHash64Vectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"as", 0x1c330fb2d66be179},
		{"asd", 0x631c37ce72a97393},
		{"asdf", 0x415872f599cea71e},
		{"Call me Ishmael. Some years ago--never mind how long precisely-", 0x02a2e85470d6fd96},
	} {
		if got := Hash64([]byte(tc.in)); got != tc.want {
			t.Errorf("Hash64(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
		if got := hashString(tc.in); got != tc.want {
			t.Errorf("hashString(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

// Every input length up to a few stripes must hash without panicking and,
// for inputs differing in one byte, differently.
func TestHash64Lengths(t *testing.T) {
	seen := map[uint64]int{}
	for n := 0; n <= 200; n++ {
		b := []byte(strings.Repeat("x", n))
		h := Hash64(b)
		if m, dup := seen[h]; dup {
			t.Fatalf("length %d collides with length %d", n, m)
		}
		seen[h] = n
	}
}

func TestHash64NoAlloc(t *testing.T) {
	b := make([]byte, 100)
	s := "www.example.com."
	if a := testing.AllocsPerRun(1000, func() { _ = Hash64(b); _ = hashString(s) }); a != 0 {
		t.Fatalf("Hash64 allocates %v times", a)
	}
}
