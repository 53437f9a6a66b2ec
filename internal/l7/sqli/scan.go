package sqli

type kind uint8

const (
	kNone   kind = iota
	kWord        // bare word: keyword or identifier
	kNum         // number, 0x hex, $1 parameter
	kStr         // '...' or "..." string, $tag$...$tag$
	kIdent       // `quoted` identifier (never a keyword)
	kVar         // @var, @@var
	kOp          // operator characters
	kLParen      // (
	kRParen      // )
	kComma       // ,
	kSemi        // ;
	kDot         // .
)

type token struct {
	k  kind
	kw kw
	v  []byte // word text, string contents, operator text
}

// comment describes a comment token, which is not kept in the history.
type comment struct {
	quote bool // the body holds a quote: the rest of a template it cut off
	line  bool // --, #: not /* */
	trunc bool // a line comment that reaches the end, or an unclosed /*
}

const histLen = 8

// scanner holds the state of one pass over one input. Everything is fixed
// size: the input is tokenized once, each token is judged against the few
// before it.
type scanner struct {
	in   []byte
	pos  int
	frag bool // the input is an attacker's fragment, not complete SQL

	hist [histLen]token // ring of the last non-comment tokens
	top  int            // index of the next slot
	n    int            // tokens pushed

	injected bool // full SQL: a UNION SELECT or subquery probe was seen
	stacked  bool // full SQL: "lit; drop" seen, waiting for a truncating comment
	litUnion bool // full SQL: an all-literal UNION SELECT ended, waiting for a truncating comment

	// The select list of a UNION SELECT in full SQL.
	uActive bool
	uDepth  int
	uItems  int
	uAllLit bool
	uNull   bool
}

// prev returns the i-th previous token (0 = the last one), or a zero token.
func (s *scanner) prev(i int) *token {
	if i >= s.n || i >= histLen {
		return &token{}
	}
	return &s.hist[(s.top-1-i)&(histLen-1)]
}

func (s *scanner) push(t token) {
	s.hist[s.top] = t
	s.top = (s.top + 1) & (histLen - 1)
	s.n++
}

// run tokenizes in and applies the rules. quote != 0 starts inside a string
// opened by that quote (the application's template opened it).
func (s *scanner) run(in []byte, quote byte, frag bool) bool {
	*s = scanner{in: in, frag: frag}
	if quote != 0 {
		end, closed := scanString(in, 0, quote)
		if !closed {
			return false
		}
		s.push(token{k: kStr, v: in[:end]})
		s.pos = end + 1
	}
	for {
		t, c, isComment, ok := s.next()
		if !ok {
			return s.atEnd()
		}
		if isComment {
			if s.onComment(c) {
				return true
			}
			continue
		}
		if s.onToken(t) {
			return true
		}
	}
}

const (
	clSpace = 1 << iota
	clWord
)

var class = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\v\f\x00") {
		t[c] = clSpace
	}
	for c := 0; c < 256; c++ {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80 {
			t[c] = clWord
		}
	}
	return t
}()

func isSpace(c byte, frag bool) bool {
	// In a URL's query string '+' is a space; in SQL it is an operator.
	return class[c]&clSpace != 0 || (frag && c == '+')
}

func isWordByte(c byte) bool { return class[c]&clWord != 0 }

// scanString returns the end of a string whose body starts at i (the index
// of its closing quote, or len(b)) and whether it was closed. A doubled
// quote and a backslash escape stay in the string.
func scanString(b []byte, i int, q byte) (end int, closed bool) {
	for i < len(b) {
		c := b[i]
		switch {
		case c == '\\':
			i += 2
		case c == q:
			if i+1 < len(b) && b[i+1] == q {
				i += 2
				continue
			}
			return i, true
		default:
			i++
		}
	}
	return len(b), false
}

// next returns the next token or comment; ok is false at the end.
func (s *scanner) next() (t token, c comment, isComment, ok bool) {
	b := s.in
	for s.pos < len(b) {
		ch := b[s.pos]
		switch {
		case isSpace(ch, s.frag):
			s.pos++
			continue
		case ch == '*' && s.pos+1 < len(b) && b[s.pos+1] == '/':
			// The end of a MySQL /*! ... */ executable comment.
			s.pos += 2
			continue
		case ch == '/' && s.pos+1 < len(b) && b[s.pos+1] == '*':
			if s.pos+2 < len(b) && b[s.pos+2] == '!' {
				// /*!50000 union */: MySQL runs the body, so tokenize it.
				s.pos += 3
				for s.pos < len(b) && b[s.pos] >= '0' && b[s.pos] <= '9' {
					s.pos++
				}
				continue
			}
			return token{}, s.blockComment(), true, true
		case ch == '#' || ch == '-' && s.pos+1 < len(b) && b[s.pos+1] == '-':
			return token{}, s.lineComment(), true, true
		}
		break
	}
	if s.pos >= len(b) {
		return token{}, comment{}, false, false
	}
	start := s.pos
	ch := b[start]
	switch {
	case ch == '\'' || ch == '"':
		end, closed := scanString(b, start+1, ch)
		s.pos = end
		if closed {
			s.pos++
		}
		return token{k: kStr, v: b[start+1 : end]}, comment{}, false, true
	case ch == '`':
		end, closed := scanString(b, start+1, '`')
		s.pos = end
		if closed {
			s.pos++
		}
		return token{k: kIdent, v: b[start+1 : end]}, comment{}, false, true
	case ch == '$':
		if t, ok := s.dollar(); ok {
			return t, comment{}, false, true
		}
		s.pos++
		for s.pos < len(b) && isWordByte(b[s.pos]) {
			s.pos++
		}
		return token{k: kNum, v: b[start:s.pos]}, comment{}, false, true
	case ch >= '0' && ch <= '9':
		s.pos++
		for s.pos < len(b) && (isWordByte(b[s.pos]) || b[s.pos] == '.') {
			s.pos++
		}
		return token{k: kNum, v: b[start:s.pos]}, comment{}, false, true
	case isWordByte(ch):
		s.pos++
		for s.pos < len(b) && isWordByte(b[s.pos]) {
			s.pos++
		}
		w := b[start:s.pos]
		return token{k: kWord, kw: lookup(w), v: w}, comment{}, false, true
	case ch == '@':
		s.pos++
		for s.pos < len(b) && (b[s.pos] == '@' || isWordByte(b[s.pos])) {
			s.pos++
		}
		return token{k: kVar, v: b[start:s.pos]}, comment{}, false, true
	case ch == '=' || ch == '<' || ch == '>' || ch == '!':
		s.pos++
		for s.pos < len(b) && (b[s.pos] == '=' || b[s.pos] == '<' || b[s.pos] == '>' || b[s.pos] == '!') {
			s.pos++
		}
		return token{k: kOp, v: b[start:s.pos]}, comment{}, false, true
	case ch == '|' && start+1 < len(b) && b[start+1] == '|', ch == '&' && start+1 < len(b) && b[start+1] == '&':
		s.pos += 2
		return token{k: kOp, v: b[start:s.pos]}, comment{}, false, true
	}
	s.pos++
	k := kOp
	switch ch {
	case '(':
		k = kLParen
	case ')':
		k = kRParen
	case ',':
		k = kComma
	case ';':
		k = kSemi
	case '.':
		k = kDot
	}
	return token{k: k, v: b[start:s.pos]}, comment{}, false, true
}

// dollar scans a PostgreSQL dollar-quoted string ($$...$$, $tag$...$tag$)
// at s.pos. Function bodies in migrations are written this way, and their
// comments and semicolons are not the query's.
func (s *scanner) dollar() (token, bool) {
	b := s.in
	i := s.pos + 1
	for i < len(b) && b[i] != '$' {
		c := b[i]
		if i-s.pos > 64 {
			return token{}, false // not a tag: keeps the search below linear
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80 || (i > s.pos+1 && c >= '0' && c <= '9')) {
			return token{}, false
		}
		i++
	}
	if i >= len(b) {
		return token{}, false
	}
	tag := b[s.pos : i+1]
	body := i + 1
	for j := body; j+len(tag) <= len(b); j++ {
		// PostgreSQL tags are case-sensitive; folding them here keeps the
		// answer independent of case (what FuzzSQLi checks), and a tag
		// that differs only in case is no real-world way to hide a query.
		if b[j] == '$' && equalFold(b[j:j+len(tag)], tag) {
			s.pos = j + len(tag)
			return token{k: kStr, v: b[body:j]}, true
		}
	}
	s.pos = len(b)
	return token{k: kStr, v: b[body:]}, true
}

func (s *scanner) lineComment() comment {
	b := s.in
	c := comment{line: true}
	for s.pos < len(b) && b[s.pos] != '\n' {
		if q := b[s.pos]; q == '\'' || q == '"' || q == '`' {
			c.quote = true
		}
		s.pos++
	}
	c.trunc = s.pos >= len(b)
	return c
}

func (s *scanner) blockComment() comment {
	b := s.in
	var c comment
	s.pos += 2
	for s.pos < len(b) {
		if b[s.pos] == '*' && s.pos+1 < len(b) && b[s.pos+1] == '/' {
			s.pos += 2
			return c
		}
		if q := b[s.pos]; q == '\'' || q == '"' || q == '`' {
			c.quote = true
		}
		s.pos++
	}
	c.trunc = true
	return c
}
