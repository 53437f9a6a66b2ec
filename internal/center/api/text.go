package api

import (
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// text makes a string that came from captured traffic safe to hand to
// encoding/json without loss: valid UTF-8 stays as it is (the encoder
// escapes control characters, <, >, &, U+2028 and U+2029), and each byte
// that is not valid UTF-8 becomes the four characters \xNN, as in the
// probe's transaction records (docs/records.md), instead of the
// encoder's silent U+FFFD.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[s[i]>>4])
			b.WriteByte(hexDigits[s[i]&0xf])
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

// textMap applies text to a map's keys and values.
func textMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[text(k)] = text(v)
	}
	return out
}
