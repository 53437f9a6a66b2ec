package redis

import (
	"bytes"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// detect recognises the first bytes of a direction.
//
// Client side: a RESP array whose first bulk string is a command name is
// proof (Yes) — a known command, or any plausible name (letters first,
// then letters, digits, '.', '_', '-', '|': module commands such as
// JSON.GET). An inline command ("PING\r\n") is only Maybe: many text
// protocols start with a word and CRLF.
//
// Server side: a reply (+OK, -ERR, :1, $5, *2, RESP3 types) is Maybe,
// which the port hints (6379, 6380) turn into a decision. POP3 greets
// with "+OK" too.
func detect(b []byte, dir flow.Dir, _ uint16) l7.Verdict {
	if len(b) == 0 {
		return l7.NeedMore
	}
	if dir == flow.ClientToServer {
		if b[0] == '*' {
			return detectArray(b)
		}
		return detectInline(b)
	}
	switch serverStart(b) {
	case candYes:
		return l7.Maybe
	case candMore:
		return l7.NeedMore
	}
	return l7.No
}

// detectArray checks "*<n>\r\n$<m>\r\n<name>\r\n".
func detectArray(b []byte) l7.Verdict {
	n, i, v := lenLine(b, '*')
	if v != l7.Yes {
		return v
	}
	if n < 1 || n > 1<<20 {
		return l7.No
	}
	m, j, v := lenLine(b[i:], '$')
	if v != l7.Yes {
		return v
	}
	if m < 1 || m > maxOp {
		return l7.No
	}
	name := b[i+j:]
	if int64(len(name)) < m+2 {
		if !plausible(name[:min(int64(len(name)), m)]) {
			return l7.No
		}
		return l7.NeedMore
	}
	if name[m] != '\r' || name[m+1] != '\n' || !plausible(name[:m]) {
		return l7.No
	}
	return l7.Yes
}

// lenLine reads a "<t><digits>\r\n" header at the start of b: its value,
// its length, and Yes, No or NeedMore.
func lenLine(b []byte, t byte) (int64, int, l7.Verdict) {
	if len(b) == 0 {
		return 0, 0, l7.NeedMore
	}
	if b[0] != t {
		return 0, 0, l7.No
	}
	var n int64
	i := 1
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i > 10 {
			return 0, 0, l7.No
		}
		n = n*10 + int64(b[i]-'0')
	}
	if i == len(b) || (i+1 == len(b) && b[i] == '\r') {
		return 0, 0, l7.NeedMore
	}
	if i == 1 || b[i] != '\r' || b[i+1] != '\n' {
		return 0, 0, l7.No
	}
	return n, i + 2, l7.Yes
}

// plausible says whether b can be a command name.
func plausible(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if !isLetter(b[0]) {
		return false
	}
	for _, c := range b[1:] {
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' && c != '|' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// detectInline checks for a known command name followed by a space or
// the end of the line.
func detectInline(b []byte) l7.Verdict {
	// Redis skips blank lines before an inline command.
	for k := 0; len(b) > 0 && (b[0] == '\r' || b[0] == '\n'); k++ {
		if k == 8 {
			return l7.No
		}
		b = b[1:]
	}
	if len(b) == 0 {
		return l7.NeedMore
	}
	i := 0
	for i < len(b) && i <= maxOp && isLetter(b[i]) {
		i++
	}
	if i == len(b) && i <= maxOp {
		return l7.NeedMore
	}
	if i == 0 || i > maxOp {
		return l7.No
	}
	if c := b[i]; c != ' ' && c != '\r' && c != '\n' {
		return l7.No
	}
	var up [maxOp]byte
	for k, c := range b[:i] {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[k] = c
	}
	if _, ok := lookup(up[:i]); !ok {
		return l7.No
	}
	// The line must end before the detector's window runs out, and hold
	// text only.
	end := bytes.IndexByte(b, '\n')
	if end < 0 {
		if len(b) >= 512 {
			return l7.No
		}
		return l7.NeedMore
	}
	for _, c := range b[:end] {
		if c < 0x20 && c != '\t' && c != '\r' {
			return l7.No
		}
	}
	return l7.Maybe
}

// Candidate verdicts while resynchronising.
const (
	candNo = iota
	candMore
	candYes
)

// candidate says whether c starts a message of side s.
func candidate(s *side, c []byte) int {
	if s.client {
		return clientStart(c)
	}
	return serverStart(c)
}

// clientStart: a request is "*<n>\r\n$" (at most 16 bytes, well within
// the window).
func clientStart(c []byte) int {
	_, i, v := lenLine(c, '*')
	switch v {
	case l7.NeedMore:
		return candMore
	case l7.No:
		return candNo
	}
	if i == len(c) {
		return candMore
	}
	if c[i] != '$' {
		return candNo
	}
	return candYes
}

// serverStart: a well-formed reply header line (and, for a bulk string
// whose end falls in the window, the CRLF after its payload). The
// verdict depends on the first carryMax bytes only, so that it does not
// depend on how the stream was cut into calls: candMore means the window
// is not full yet.
func serverStart(c []byte) int {
	if len(c) > carryMax {
		c = c[:carryMax]
	}
	full := len(c) == carryMax
	t := c[0]
	end := bytes.IndexByte(c, '\n')
	if end < 0 {
		if !prefixOK(t, c[1:]) {
			return candNo
		}
		if !full {
			return candMore
		}
		// No line end in the window: only a status or error line can be
		// that long.
		if t == '+' || t == '-' {
			return candYes
		}
		return candNo
	}
	if end < 2 || c[end-1] != '\r' {
		return candNo
	}
	body := c[1 : end-1]
	switch t {
	case '+':
		return textLine(body)
	case '-':
		if len(body) == 0 || body[0] < 'A' || body[0] > 'Z' {
			return candNo
		}
		return textLine(body)
	case ':', '(', ',', '#', '_':
		if validScalar(t, body) {
			return candYes
		}
	case '$', '=', '!':
		if t == '$' && len(body) == 1 && body[0] == '?' {
			return candYes
		}
		n, ok := parseLen(body)
		if !ok || n < -1 || (n == -1 && t != '$') || n > maxBulk {
			return candNo
		}
		if e := int64(end) + 1 + n; n >= 0 && e+1 < carryMax {
			if e+1 >= int64(len(c)) {
				return candMore
			}
			if c[e] != '\r' || c[e+1] != '\n' {
				return candNo
			}
		}
		return candYes
	case '*', '%', '~', '>', '|':
		if len(body) == 1 && body[0] == '?' && t != '|' {
			return candYes
		}
		n, ok := parseLen(body)
		if !ok || n < -1 || (n == -1 && t != '*') || n > maxCount {
			return candNo
		}
		if n > 0 && end+1 < carryMax {
			if end+1 >= len(c) {
				return candMore
			}
			if !isType(c[end+1]) {
				return candNo
			}
		}
		return candYes
	}
	return candNo
}

func textLine(b []byte) int {
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return candNo
		}
	}
	return candYes
}

// prefixOK checks the start of a header line cut before its CRLF.
func prefixOK(t byte, b []byte) bool {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	switch t {
	case '+':
		return textLine(b) == candYes
	case '-':
		return (len(b) == 0 || 'A' <= b[0] && b[0] <= 'Z') && textLine(b) == candYes
	case '$', '=', '!', '*', '%', '~', '>', '|', ':', '(':
		for i, c := range b {
			if !(c >= '0' && c <= '9' || i == 0 && (c == '-' || c == '?' || c == '+')) {
				return false
			}
		}
		return true
	case ',', '#', '_':
		return len(b) < 64
	}
	return false
}

func isType(c byte) bool {
	switch c {
	case '+', '-', ':', '$', '*', '_', ',', '#', '!', '=', '(', '|', '~', '>', '%':
		return true
	}
	return false
}

// resync skips bytes until a plausible message start and returns what is
// left of b from there (nil when all of b was skipped or held). A
// candidate cut by the end of b is held (at most carryMax bytes) and
// judged with the next call's bytes, so that where the stream was cut
// does not change the verdict.
func (p *parser) resync(s *side, b []byte, ts int64) []byte {
	if s.ncarry > 0 {
		var tmp [carryMax]byte
		k := copy(tmp[:], s.carry[:s.ncarry])
		k += copy(tmp[k:], b)
		switch candidate(s, tmp[:k]) {
		case candYes:
			var held [carryMax]byte
			h := copy(held[:], s.carry[:s.ncarry])
			s.ncarry = 0
			s.resync, s.bound = false, false
			p.feed(s, held[:h], ts)
			return b
		case candMore:
			// The window is not full: all of b fits in the carry.
			s.ncarry += copy(s.carry[s.ncarry:], b)
			return nil
		}
		// Not a message start: skip to the next line start, which may be
		// inside the held bytes.
		var held [carryMax]byte
		h := copy(held[:], s.carry[:s.ncarry])
		s.ncarry = 0
		j := bytes.IndexByte(held[:h], '\n')
		if j < 0 {
			p.skip(s, h)
			s.bound = false
		} else {
			p.skip(s, j+1)
			s.bound = true
			if j+1 < h {
				p.feed(s, held[j+1:h], ts)
			}
		}
		return b
	}
	pos := 0
	if !s.bound {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			p.skip(s, len(b))
			return nil
		}
		pos = j + 1
	}
	for pos < len(b) {
		switch candidate(s, b[pos:]) {
		case candYes:
			p.skip(s, pos)
			s.resync, s.bound = false, false
			return b[pos:]
		case candMore:
			p.skip(s, pos)
			s.ncarry = copy(s.carry[:], b[pos:])
			return nil
		}
		j := bytes.IndexByte(b[pos:], '\n')
		if j < 0 {
			p.skip(s, len(b))
			s.bound = false
			return nil
		}
		pos += j + 1
	}
	p.skip(s, len(b))
	s.bound = true
	return nil
}

func (p *parser) skip(s *side, n int) {
	if n > 0 {
		p.ctx.Sink.Drop(l7.DropResync, n)
		s.off += int64(n)
	}
}
