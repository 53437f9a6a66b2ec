package http2

import (
	"bytes"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// HTTP/2 over cleartext may start as HTTP/1.1 (RFC 7540 §3.2): the client
// sends a request with "Upgrade: h2c" and an HTTP2-Settings header, the
// server answers "101 Switching Protocols" and then speaks HTTP/2, the
// client sends the connection preface, and the response to the HTTP/1.1
// request comes on stream 1. The functions here read the two HTTP/1.1
// heads; a declined upgrade leaves an HTTP/1.1 connection, which this
// package does not decode (it emits stream 1 and stops).

// maxHTTP1Head bounds the HTTP/1.1 head the detector looks for.
const maxHTTP1Head = 4096

// isRequestLine reports whether b starts like an HTTP/1 request line: a
// method token of upper-case letters and a space.
func isRequestLine(b []byte) bool {
	i := 0
	for i < len(b) && i < 16 && b[i] >= 'A' && b[i] <= 'Z' {
		i++
	}
	return i > 0 && i < len(b) && b[i] == ' '
}

// isMethodPrefix reports whether b could be the start of a request line
// that has not reached its space yet.
func isMethodPrefix(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// headEnd returns the length of the HTTP/1 head at the start of b
// (through the empty line), or -1 if it is not complete.
func headEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// headerLines calls fn for each "name: value" line of a complete head
// (after the start line). It stops if fn returns false.
func headerLines(head []byte, fn func(name, value []byte) bool) {
	i := bytes.Index(head, []byte("\r\n"))
	if i < 0 {
		return
	}
	rest := head[i+2:]
	for len(rest) > 0 {
		j := bytes.Index(rest, []byte("\r\n"))
		if j <= 0 {
			return
		}
		line := rest[:j]
		rest = rest[j+2:]
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue
		}
		if !fn(line[:c], bytes.TrimSpace(line[c+1:])) {
			return
		}
	}
}

// hasToken reports whether a comma-separated header value lists token
// (case-insensitive).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(token)) {
			return true
		}
	}
	return false
}

// detectUpgrade answers for bytes that start like an HTTP/1 request: Yes
// for a request asking to upgrade to h2c.
func detectUpgrade(b []byte) l7.Verdict {
	n := headEnd(b[:min(len(b), maxHTTP1Head)])
	if n < 0 {
		if len(b) < maxHTTP1Head {
			return l7.NeedMore
		}
		return l7.No
	}
	upgrade := false
	headerLines(b[:n], func(name, value []byte) bool {
		if bytes.EqualFold(name, []byte("upgrade")) && hasToken(value, "h2c") {
			upgrade = true
			return false
		}
		return true
	})
	if upgrade {
		return l7.Yes
	}
	return l7.No
}

// upgradeRequest reads the HTTP/1.1 request at the start of b (client
// direction, before the preface). It returns how many bytes it consumed:
// 0 while the head is incomplete, -1 if b does not hold an h2c upgrade
// request (the caller resynchronises).
func (p *parser) upgradeRequest(d *direction, b []byte, frameTS, ts int64) int {
	n := headEnd(b[:min(len(b), p.maxMsg)])
	if n < 0 {
		if len(b) >= p.maxMsg {
			return -1
		}
		return 0
	}
	head := b[:n]
	upgrade := false
	contentLength := int64(0)
	headerLines(head, func(name, value []byte) bool {
		switch {
		case bytes.EqualFold(name, []byte("upgrade")):
			upgrade = upgrade || hasToken(value, "h2c")
		case bytes.EqualFold(name, []byte("content-length")):
			contentLength = parseLength(value)
		}
		return true
	})
	if !upgrade {
		return -1
	}
	// The request becomes stream 1.
	t := &p.streams
	s := t.get(1)
	if s == nil {
		if !t.isNew(1) {
			return -1
		}
		s = p.open(1, ts)
		t.opened(1)
	}
	// The request, in HTTP/2 form as the server sees it (RFC 7540 §3.2):
	// pseudo-header fields from the request line and Host first, then
	// the other fields with lower-case names.
	var cut, c bool
	line := head[:bytes.Index(head, []byte("\r\n"))]
	if sp := bytes.IndexByte(line, ' '); sp > 0 {
		method, target := line[:sp], line[sp+1:]
		if e := bytes.LastIndexByte(target, ' '); e >= 0 {
			target = target[:e]
		}
		s.setBytes(&s.method, method)
		s.setBytes(&s.path, target)
		s.reqText, c = appendLine(s.reqText, ":method", method, false)
		cut = cut || c
		s.reqText, c = appendLine(s.reqText, ":path", target, false)
		cut = cut || c
	}
	headerLines(head, func(name, value []byte) bool {
		if bytes.EqualFold(name, []byte("host")) {
			s.setBytes(&s.authority, value)
			s.reqText, c = appendLine(s.reqText, ":authority", value, false)
			cut = cut || c
			return false
		}
		return true
	})
	headerLines(head, func(name, value []byte) bool {
		lower := append(p.scratch[:0], name...)
		for i, ch := range lower {
			if 'A' <= ch && ch <= 'Z' {
				lower[i] = ch + 'a' - 'A'
			}
		}
		p.scratch = lower
		switch string(lower) {
		case "host":
			return true
		case "user-agent":
			s.setBytes(&s.ua, value)
		case "content-type":
			s.setBytes(&s.ctReq, value)
		}
		redact := !p.ctx.KeepCredentials && isCredential(lower)
		if redact {
			s.txFlags |= l7.FlagRedacted
		}
		s.reqText, c = appendLine(s.reqText, lower, value, redact)
		cut = cut || c
		return true
	})
	if cut {
		s.txFlags |= l7.FlagTruncated
	}
	s.st |= stReq | stReqEnd
	s.reqTS, s.lastReq = frameTS, ts
	s.reqBytes = int64(n) + contentLength
	t.minWait = min(t.minWait, ts)
	// The server's answer is an HTTP/1.1 head too.
	if sd := &p.dirs[flow.ServerToClient]; sd.state == stResync && sd.fresh {
		sd.state = stHTTP1Response
	}
	if contentLength > 0 {
		d.skip, d.skipKind = int(min(contentLength, 1<<40)), skipIgnore
	}
	return n
}

// parseLength parses a Content-Length value (-1 if invalid), saturating
// at 2^40.
func parseLength(v []byte) int64 {
	if len(v) == 0 {
		return -1
	}
	n := int64(0)
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		if n < 1<<40 {
			n = n*10 + int64(c-'0')
		}
	}
	return n
}

// upgradeResponse reads the server's HTTP/1.1 answer to the upgrade. It
// returns the bytes consumed (0: incomplete head). A 101 switches the
// direction to frames; any other status declines the upgrade: stream 1 is
// emitted with it and the parser stops.
func (p *parser) upgradeResponse(d *direction, b []byte, ts int64) int {
	if len(b) >= 5 && string(b[:5]) != "HTTP/" || len(b) < 5 && string(b) != "HTTP/"[:len(b)] {
		d.toResync(l7.DropResync, true)
		return -1
	}
	n := headEnd(b[:min(len(b), p.maxMsg)])
	if n < 0 {
		if len(b) >= p.maxMsg {
			d.toResync(l7.DropTooLarge, false)
			return -1
		}
		return 0
	}
	head := b[:n]
	var status []byte
	if f := bytes.Fields(head[:bytes.Index(head, []byte("\r\n"))]); len(f) >= 2 {
		status = f[1]
	}
	if string(status) == "101" {
		d.state = stSync
		return n
	}
	if i, ok := p.streams.index[1]; ok {
		s := &p.streams.s[i]
		s.set(&s.status, string(status))
		s.respBytes += int64(n)
		s.respTS = ts
		s.st |= stResp
		s.txFlags |= l7.FlagTruncated // its body is HTTP/1.1, not decoded here
		p.finish(int(i), ts, whyDone)
	}
	p.sink.Stop()
	p.stopped = true
	return n
}
