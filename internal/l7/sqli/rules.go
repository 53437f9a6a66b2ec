package sqli

// kw identifies the keywords and function names the rules look at.
type kw uint8

const (
	kwNone kw = iota
	kwOr
	kwAnd
	kwUnion
	kwAll
	kwDistinct
	kwSelect
	kwFrom
	kwInto
	kwWhere
	kwLimit
	kwOrder
	kwGroup
	kwHaving
	kwNull
	kwTrue
	kwLike
	kwSleep
	kwBenchmark
	kwPgSleep
	kwWaitfor
	kwDelay
	kwTime
	kwXpCmdshell
	kwInformationSchema
	kwLoadFile
	kwOutfile
	kwDumpfile
	kwShutdown
	kwStacked // drop, exec, execute, declare, truncate, alter, create, insert, update, delete, grant
	kwLeak    // version, user, database, concat, ...: what a UNION SELECT reads out
)

// keywords lists every word lookup knows, to build kwLens.
var keywords = []string{
	"or", "and", "union", "all", "distinct", "select", "from", "into", "where", "limit", "order",
	"group", "having", "null", "true", "like", "rlike", "regexp", "ilike", "sleep", "benchmark",
	"pg_sleep", "waitfor", "delay", "time", "xp_cmdshell", "information_schema", "load_file",
	"outfile", "dumpfile", "shutdown", "drop", "exec", "execute", "declare", "truncate", "alter",
	"create", "insert", "update", "delete", "grant", "version", "user", "current_user",
	"system_user", "session_user", "database", "schema", "concat", "concat_ws", "group_concat",
	"string_agg", "char", "chr", "hex", "unhex",
}

// kwLens[c-'a'] has bit n set when a keyword of length n starts with c:
// most identifiers are rejected by this test alone.
var kwLens = func() (m [26]uint32) {
	for _, k := range keywords {
		m[k[0]-'a'] |= 1 << len(k)
	}
	return m
}()

// lookup returns the keyword w is (case-insensitive), kwNone for others.
func lookup(w []byte) kw {
	if len(w) < 2 || len(w) > 18 {
		return kwNone
	}
	c := lower(w[0])
	if c < 'a' || c > 'z' || kwLens[c-'a']&(1<<len(w)) == 0 {
		return kwNone
	}
	var buf [18]byte
	for i, c := range w {
		buf[i] = lower(c)
	}
	switch string(buf[:len(w)]) {
	case "or":
		return kwOr
	case "and":
		return kwAnd
	case "union":
		return kwUnion
	case "all":
		return kwAll
	case "distinct":
		return kwDistinct
	case "select":
		return kwSelect
	case "from":
		return kwFrom
	case "into":
		return kwInto
	case "where":
		return kwWhere
	case "limit":
		return kwLimit
	case "order":
		return kwOrder
	case "group":
		return kwGroup
	case "having":
		return kwHaving
	case "null":
		return kwNull
	case "true":
		return kwTrue
	case "like", "rlike", "regexp", "ilike":
		return kwLike
	case "sleep":
		return kwSleep
	case "benchmark":
		return kwBenchmark
	case "pg_sleep":
		return kwPgSleep
	case "waitfor":
		return kwWaitfor
	case "delay":
		return kwDelay
	case "time":
		return kwTime
	case "xp_cmdshell":
		return kwXpCmdshell
	case "information_schema":
		return kwInformationSchema
	case "load_file":
		return kwLoadFile
	case "outfile":
		return kwOutfile
	case "dumpfile":
		return kwDumpfile
	case "shutdown":
		return kwShutdown
	case "drop", "exec", "execute", "declare", "truncate", "alter", "create", "insert", "update", "delete", "grant":
		return kwStacked
	case "version", "user", "current_user", "system_user", "session_user", "database", "schema",
		"concat", "concat_ws", "group_concat", "string_agg", "char", "chr", "hex", "unhex":
		return kwLeak
	}
	return kwNone
}

func isLit(t *token) bool { return t.k == kNum || t.k == kStr }

func isOr(t *token) bool {
	return t.k == kWord && t.kw == kwOr || t.k == kOp && string(t.v) == "||"
}

func isAndOr(t *token) bool {
	return isOr(t) || t.k == kWord && t.kw == kwAnd || t.k == kOp && string(t.v) == "&&"
}

func isCmp(t *token) bool {
	if t.k == kWord {
		return t.kw == kwLike
	}
	if t.k != kOp {
		return false
	}
	switch string(t.v) {
	case "=", "==", "<=>", "!=", "<>", "<", ">", "<=", ">=":
		return true
	}
	return false
}

// tautology reports whether "l op r" may be true: an equality between
// different literals is false, anything else between literals counts.
func tautology(l, op, r *token) bool {
	eq := equalFold(l.v, r.v)
	switch string(op.v) {
	case "=", "==", "<=>":
		return eq
	case "!=", "<>":
		return !eq
	}
	if op.k == kWord { // LIKE
		return eq || len(r.v) > 0 && r.v[len(r.v)-1] == '%' || string(r.v) == "%"
	}
	return true
}

// truthy: a non-zero number or TRUE.
func truthy(t *token) bool {
	if t.k == kWord {
		return t.kw == kwTrue
	}
	if t.k != kNum {
		return false
	}
	for _, c := range t.v {
		if c != '0' && c != '.' {
			return true
		}
	}
	return false
}

// orTruthyEnd: "or 1" or "or true" right before the end, a comment or ';'.
func (s *scanner) orTruthyEnd() bool {
	return truthy(s.prev(0)) && isOr(s.prev(1))
}

// beforeParens returns the last token that is not ')', skipping from the
// i-th previous.
func (s *scanner) beforeParens(i int) *token {
	for ; i < histLen; i++ {
		if t := s.prev(i); t.k != kRParen {
			return t
		}
	}
	return &token{}
}

func (s *scanner) onToken(t token) bool {
	p0 := s.prev(0)
	switch t.k {
	case kNum, kStr:
		if isCmp(p0) && isLit(s.prev(1)) && tautology(s.prev(1), p0, &t) {
			// "or 1=1", "or ('1'='1"
			i := 2
			for i < histLen-1 && s.prev(i).k == kLParen {
				i++
			}
			if isOr(s.prev(i)) {
				return true
			}
		}
	case kWord:
		switch t.kw {
		case kwSelect:
			if s.unionSelect() {
				if s.frag {
					return true
				}
				s.injected = true
				s.uActive, s.uDepth, s.uItems, s.uAllLit, s.uNull = true, 0, 1, true, false
				s.push(t)
				return false
			}
			// A boolean subquery probe: "and (select", "or 1=(select".
			if p0.k == kLParen && (isAndOr(s.prev(1)) || isCmp(s.prev(1)) && isAndOr(s.prev(3))) {
				s.injected = true
			}
		case kwInformationSchema:
			if s.frag || s.injected {
				return true
			}
		case kwXpCmdshell:
			return true
		case kwDelay, kwTime:
			if p0.k == kWord && p0.kw == kwWaitfor {
				return true
			}
		case kwOutfile, kwDumpfile:
			if p0.k == kWord && p0.kw == kwInto {
				return true
			}
		case kwShutdown:
			if p0.k == kSemi {
				return true
			}
		case kwStacked:
			if p0.k == kSemi {
				if s.frag {
					return true
				}
				if isLit(s.beforeParens(1)) {
					s.stacked = true
				}
			}
		}
	case kLParen:
		if p0.k == kWord {
			switch p0.kw {
			case kwSleep, kwBenchmark, kwPgSleep, kwLoadFile:
				return true
			}
		}
	case kSemi:
		if s.orTruthyEnd() {
			return true
		}
	}
	if s.uActive && s.unionItem(&t) {
		return true
	}
	s.push(t)
	return false
}

// unionSelect: the SELECT just read follows UNION [ALL|DISTINCT] [(].
func (s *scanner) unionSelect() bool {
	i := 0
	if s.prev(i).k == kLParen {
		i++
	}
	t := s.prev(i)
	if t.k == kWord && (t.kw == kwAll || t.kw == kwDistinct) {
		i++
		t = s.prev(i)
	}
	return t.k == kWord && t.kw == kwUnion
}

// unionItem follows the select list of a UNION SELECT in full SQL.
func (s *scanner) unionItem(t *token) bool {
	if t.k == kWord && t.kw == kwLeak || t.k == kVar && len(t.v) > 2 && t.v[1] == '@' {
		return true
	}
	switch t.k {
	case kLParen:
		s.uDepth++
		return false
	case kRParen:
		if s.uDepth == 0 {
			return s.unionEnd(false)
		}
		s.uDepth--
		return false
	case kSemi:
		return s.unionEnd(false)
	}
	if s.uDepth > 0 {
		return false
	}
	switch t.k {
	case kComma:
		s.uItems++
	case kNum, kStr, kOp:
	case kWord:
		switch t.kw {
		case kwNull:
			s.uNull = true
		case kwFrom, kwInto, kwWhere, kwLimit, kwOrder, kwGroup, kwHaving, kwUnion:
			return s.unionEnd(false)
		default:
			s.uAllLit = false
		}
	default:
		s.uAllLit = false
	}
	return false
}

// unionEnd judges a finished all-literal select list; trunc says a
// truncating comment ended it.
func (s *scanner) unionEnd(trunc bool) bool {
	s.uActive = false
	if !s.uAllLit {
		return false
	}
	if s.uItems >= 3 || s.uNull || trunc {
		return true
	}
	s.litUnion = true
	return false
}

func (s *scanner) onComment(c comment) bool {
	if s.orTruthyEnd() {
		return true
	}
	// What a template left after the injection point ends up in a comment
	// that runs to the end, or in a line comment that holds its quote. An
	// inline /* */ comment, even one holding quotes (sqlcommenter tags),
	// is not that.
	remnant := c.trunc || c.line && c.quote
	if s.uActive && remnant && s.unionEnd(true) {
		return true
	}
	// A comment right after a closing quote.
	if s.beforeParens(0).k == kStr && (s.frag || c.quote && (c.line || c.trunc)) {
		return true
	}
	return remnant && (s.stacked || s.litUnion)
}

func (s *scanner) atEnd() bool {
	if s.orTruthyEnd() {
		return true
	}
	return s.uActive && s.unionEnd(false)
}
