// Package sqli flags SQL-injection patterns in SQL text seen on the wire
// (MySQL, PostgreSQL) and in already percent-decoded HTTP request targets.
//
// It is a small SQL tokenizer (strings with ” and \ escapes, `quoted`
// identifiers, PostgreSQL $tag$ strings, numbers, @@variables, operators,
// --, # and /* */ comments, MySQL /*! */ executable comments) followed by
// pattern rules over the token stream. Keywords are matched case-insensitively
// and comments between tokens are ignored, so "UnIoN/**/SeLeCt" and
// "or/**/1=1" are caught. There is no regexp and no allocation; each input
// byte is scanned at most three times.
//
// Two kinds of input:
//
//   - A URL (it starts with "/" but not "/*", or with "http://" or
//     "https://"): an attacker's fragment, whose quotes are unbalanced
//     because the application's SQL template supplies the rest. The path and
//     each query parameter value are checked as they are, as if they followed
//     an opening ' and as if they followed an opening ", and every rule
//     applies. CheckParam does the same for one value (a form field).
//   - Anything else is complete SQL text as a server received it. Only what
//     is outside string literals counts, and the rules that ordinary
//     application SQL also matches (UNION SELECT, multi-statement batches,
//     information_schema) need more evidence, listed below.
//
// Caught:
//
//   - tautologies after OR (or ||): a literal compared with a literal and
//     the comparison true or unknown ("' or '1'='1", "or 1=1", `" or ""="`,
//     "or 'a' like 'a'", "or 2>1"), or OR followed by a non-zero number or
//     TRUE and then the end, a comment or ';' ("' or 1--"). "x = 1 OR 1 = 0"
//     (a false comparison) is not flagged.
//   - UNION [ALL|DISTINCT] SELECT: always in a URL. In SQL text only when the
//     select list calls version(), user(), database(), concat(),
//     group_concat(), char(), ... or reads an @@variable, or when it is made
//     of literals only (numbers, strings, NULL) and has three or more items,
//     a NULL, or is followed by a comment that truncates the query. "SELECT
//     a FROM t UNION SELECT b FROM u" and "UNION SELECT 0, 'none'" are not.
//   - a comment right after a closing quote (optionally after ')'):
//     "admin'--", "admin'#", "admin')/*". In SQL text the comment must also
//     hold a quote (the template's own closing quote it swallowed), so
//     "WHERE a = 'x' -- note" is not flagged.
//   - stacked queries: ';' then DROP, SHUTDOWN, EXEC, EXECUTE, DECLARE,
//     TRUNCATE, ALTER, CREATE, INSERT, UPDATE, DELETE or GRANT. Always in a
//     URL; "; SHUTDOWN" always; in SQL text the others only after a string
//     or number literal and with a truncating comment later
//     ("'Robert'); DROP TABLE students;--'"), so migration batches are not.
//   - time and blind probes: sleep(, benchmark(, pg_sleep(, WAITFOR DELAY
//     or WAITFOR TIME; xp_cmdshell; load_file(; INTO OUTFILE/DUMPFILE.
//   - information_schema: always in a URL; in SQL text only after a
//     UNION SELECT or a boolean subquery probe ("and (select ...",
//     "or 1=(select ..."), so schema introspection by ORMs is not flagged.
//
// Not caught: payloads in encodings the caller did not undo (double
// percent-encoding, base64, JSON escapes), blind probes with AND ("' and
// 1=1--", "and substring(...)=..."), tautologies between expressions or
// columns ("or a=a", "or 2-1=1"), string concatenation that builds keywords
// (CHAR(85,78,...)), a query string parameter value containing a decoded
// '&', and injections that look exactly like ordinary SQL in the complete
// query text (an attacker who closes the template's quote properly and adds
// "AND 1=1" produces ordinary SQL).
package sqli

// Check reports whether b, complete SQL text or a percent-decoded URL path
// with its query string, matches an SQL-injection pattern (see the package
// comment). It does not allocate.
func Check(b []byte) bool {
	if isURL(b) {
		if plainURL(b) {
			return false
		}
		return checkURL(b)
	}
	var s scanner
	return s.run(b, 0, false)
}

// CheckParam reports whether b, one untrusted value (a query or form
// parameter, a cookie value) that the application may paste into SQL,
// matches an SQL-injection pattern, with the rules Check uses for URLs.
func CheckParam(b []byte) bool {
	var s scanner
	return s.fragment(b)
}

// plain marks the bytes a URL can hold without being able to express any
// pattern this package looks for: no quotes, spaces, parentheses,
// comment or statement separators, operators other than '=' in key=value.
// Every rule needs at least one of the excluded bytes (or "--"), so a URL
// made only of plain bytes is answered without tokenizing it: most URLs
// are like that, and HTTP parsing calls Check on every request.
var plain = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "/._~-?&=:,!$@" {
		t[c] = true
	}
	return t
}()

func plainURL(b []byte) bool {
	for i, c := range b {
		if !plain[c] || c == '-' && i+1 < len(b) && b[i+1] == '-' {
			return false
		}
	}
	return true
}

func isURL(b []byte) bool {
	if len(b) > 0 && b[0] == '/' {
		return len(b) == 1 || b[1] != '*'
	}
	return hasPrefixFold(b, "http://") || hasPrefixFold(b, "https://")
}

// checkURL checks the path and each query parameter value on their own, so
// that an unterminated quote in one does not swallow the next.
func checkURL(b []byte) bool {
	var s scanner
	q := indexByte(b, '?')
	if q < 0 {
		return s.fragment(b)
	}
	if s.fragment(b[:q]) {
		return true
	}
	rest := b[q+1:]
	for len(rest) > 0 {
		p := rest
		if i := indexByte(rest, '&'); i >= 0 {
			p, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if i := indexByte(p, '='); i >= 0 {
			p = p[i+1:]
		}
		if len(p) > 0 && s.fragment(p) {
			return true
		}
	}
	return false
}

// fragment checks an attacker-controlled piece in the three places it may
// have been pasted: outside quotes, inside '...', inside "...".
func (s *scanner) fragment(p []byte) bool {
	if s.run(p, 0, true) {
		return true
	}
	if indexByte(p, '\'') >= 0 && s.run(p, '\'', true) {
		return true
	}
	return indexByte(p, '"') >= 0 && s.run(p, '"', true)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lower(b[i]) != p[i] {
			return false
		}
	}
	return true
}

func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}
