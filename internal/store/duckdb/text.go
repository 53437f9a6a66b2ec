package duckdb

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// DuckDB's VARCHAR must be valid UTF-8: the appender turns a string that is
// not into NULL (silently), and a query parameter that is not fails to
// bind. Strings from captured traffic may hold any bytes, so every string
// goes through encText on its way in and decText on its way out. The
// mapping is injective and leaves valid UTF-8 untouched, except for the
// 256 private-use code points U+F700..U+F7FF that it uses as escapes:
//
//   - a byte that is not part of valid UTF-8 (always 0x80..0xFF) becomes
//     the code point U+F700+byte (U+F780..U+F7FF);
//   - a real code point in U+F700..U+F7FF becomes U+F700 followed by
//     itself.
//
// Equality of encoded strings is equality of the originals, and a valid
// UTF-8 needle is a substring of a value exactly when its encoding is a
// substring of the value's encoding, so filters run on the encoded column
// directly.

const (
	escBase = 0xF700 // escape prefix and base of the byte escapes
	escLast = 0xF7FF
)

// escLead is the first byte of the UTF-8 form of every code point in
// U+F700..U+F7FF (EF 9C 80 .. EF 9F BF): a string without it needs no
// escaping if it is valid UTF-8.
const escLead = 0xEF

var errBadText = errors.New("corrupt escaped text")

// encText maps s to valid UTF-8 (see above).
func encText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, escLead) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(rune(escBase + int(s[i])))
		case r >= escBase && r <= escLast:
			b.WriteRune(escBase)
			b.WriteRune(r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// decText inverts encText. It fails on text encText cannot have produced
// (a corrupt database), never panics.
func decText(s string) (string, error) {
	if strings.IndexByte(s, escLead) < 0 {
		if !utf8.ValidString(s) {
			return "", errBadText
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return "", errBadText
		case r == escBase:
			r2, n2 := utf8.DecodeRuneInString(s[i+n:])
			if r2 < escBase || r2 > escLast {
				return "", errBadText
			}
			b.WriteRune(r2)
			n += n2
		case r > escBase && r <= escLast:
			if r < escBase+0x80 {
				return "", errBadText
			}
			b.WriteByte(byte(r - escBase))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String(), nil
}
