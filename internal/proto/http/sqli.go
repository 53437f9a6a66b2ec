package http

import (
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/sqli"
)

// sqli sets FlagSQLi on a request whose target, percent-decoded, matches
// an SQL-injection pattern. Targets without escapes are checked as they
// are; others are decoded into a parser-owned buffer.
func (p *Parser) sqli(m *msg) {
	t := m.get(m.target)
	if needsDecoding(t) {
		p.scratch = percentDecode(p.scratch[:0], t)
		t = p.scratch
	}
	if sqli.Check(t) {
		m.flags |= l7.FlagSQLi
	}
}

func needsDecoding(t []byte) bool {
	for _, c := range t {
		if c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// percentDecode appends t to dst with %XX escapes decoded, and '+' in the
// query decoded to a space (form encoding). A '%' not followed by two hex
// digits is kept as it is.
func percentDecode(dst, t []byte) []byte {
	query := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '?':
			query = true
		case c == '+' && query:
			c = ' '
		case c == '%' && i+2 < len(t) && isHex(t[i+1]) && isHex(t[i+2]):
			c = unhex(t[i+1])<<4 | unhex(t[i+2])
			i += 2
		}
		dst = append(dst, c)
	}
	return dst
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
