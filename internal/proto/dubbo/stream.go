package dubbo

import (
	"bytes"
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// stream assembles the messages of one direction. A message that fits in
// MaxMessage is decoded from one contiguous slice: the caller's bytes when
// it lies within one Data call (no copy), otherwise the bytes held in buf.
// A longer one (or one holed by a gap) is "long": its first bytes are
// copied into head, the rest is only counted.
type stream struct {
	buf     l7.Buf
	startTS int64 // when the first byte of the message held in buf came
	sync    bool  // looking for a message boundary (after a gap, a mid-stream start, garbage)

	long  bool
	head  []byte // the long message's first bytes, contiguous (at most MaxMessage)
	total int    // its length
	seen  int    // its bytes received or lost so far
	holed bool   // a gap fell inside it: later bytes are not kept
	kept  int    // its bytes received before any hole (not counted as dropped)
	ts0   int64
}

// feed consumes the bytes of one Data call.
func (p *parser) feed(dir flow.Dir, b []byte, ts int64) {
	s := &p.s[dir]
	if s.long {
		n := p.feedLong(dir, s, b, ts)
		b = b[n:]
		if len(b) == 0 {
			return
		}
	}
	held := s.buf.Len()
	data := s.buf.Feed(b)
	off := 0
	for off < len(data) {
		rest := data[off:]
		if s.sync {
			i, found := resync(rest)
			p.drop(l7.DropResync, i)
			off += i
			if !found {
				break
			}
			s.sync = false
			continue
		}
		if len(rest) < headerLen {
			break
		}
		l, ok := frameLen(rest)
		if !ok {
			// Not a header where one should be: the framing is lost.
			s.sync = true
			continue
		}
		t0 := ts
		if off == 0 && held > 0 {
			t0 = s.startTS
		}
		if len(rest) >= l {
			p.message(dir, rest[:l], l, l, false, t0, ts)
			off += l
			continue
		}
		if l > p.ctx.MaxMessage {
			// Too long to hold: keep its first bytes, count the rest.
			s.long, s.total, s.seen, s.holed, s.ts0 = true, l, len(rest), false, t0
			s.kept = len(rest)
			s.head = append(s.head[:0], rest[:min(len(rest), p.ctx.MaxMessage)]...)
			off = len(data)
		}
		break
	}
	rest := data[off:]
	if len(rest) > 0 && (off > 0 || held == 0) {
		s.startTS = ts
	}
	if d := s.buf.Keep(rest); d > 0 {
		p.drop(l7.DropTooLarge, d)
		s.sync = true
	}
}

// feedLong consumes bytes of a long message and returns how many.
func (p *parser) feedLong(dir flow.Dir, s *stream, b []byte, ts int64) int {
	n := min(len(b), s.total-s.seen)
	if s.holed {
		p.drop(l7.DropGap, n)
	} else {
		s.kept += n
		if k := min(n, p.ctx.MaxMessage-len(s.head)); k > 0 {
			s.head = append(s.head, b[:k]...)
		}
	}
	s.seen += n
	if s.seen == s.total {
		p.endLong(dir, s, ts)
	}
	return n
}

// endLong decodes a long message from its head.
func (p *parser) endLong(dir flow.Dir, s *stream, ts int64) {
	s.long = false
	if len(s.head) >= headerLen {
		p.message(dir, s.head, s.total, s.kept, s.holed, s.ts0, ts)
	} else {
		p.drop(l7.DropGap, s.kept)
	}
	s.head = s.head[:0]
	if cap(s.head) > 4096 {
		s.head = nil
	}
}

// gap handles n missing bytes (n < 0: unknown).
func (p *parser) gap(dir flow.Dir, n int64, ts int64) {
	s := &p.s[dir]
	if !s.long && !s.sync && s.buf.Len() >= headerLen && n >= 0 {
		// The message being assembled has a known length: keep the
		// framing by treating it as a long message with a hole.
		h := s.buf.Feed(nil)
		if l, ok := frameLen(h); ok && l > len(h) {
			s.long, s.total, s.seen, s.kept, s.ts0 = true, l, len(h), len(h), s.startTS
			s.head = append(s.head[:0], h...)
			s.buf.Reset()
		}
	}
	if s.long {
		s.holed = true
		if n >= 0 && n <= int64(s.total-s.seen) {
			s.seen += int(n)
			if s.seen == s.total {
				p.endLong(dir, s, ts)
			}
			return
		}
		// The hole runs past the message's end: decode what there is,
		// then look for the next boundary.
		p.endLong(dir, s, ts)
	}
	if held := s.buf.Reset(); held > 0 {
		if s.sync {
			p.drop(l7.DropResync, held)
		} else {
			p.drop(l7.DropGap, held)
		}
	}
	s.sync = true
}

// endStream settles a direction at the end of the flow: a long message
// is decoded from what was seen, a partial one held in buf is counted
// (DropOther: the flow ended in the middle of a message).
func (p *parser) endStream(dir flow.Dir, ts int64) {
	s := &p.s[dir]
	if s.long {
		s.holed = true
		p.endLong(dir, s, ts)
	}
	if held := s.buf.Reset(); held > 0 {
		if s.sync {
			p.drop(l7.DropResync, held)
		} else {
			p.drop(l7.DropOther, held)
		}
	}
}

// frameLen returns the length of the message whose header starts b
// (at least headerLen bytes), or false when b does not start a header.
func frameLen(b []byte) (int, bool) {
	if b[0] != magicHi || b[1] != magicLo {
		return 0, false
	}
	n := int64(int32(binary.BigEndian.Uint32(b[12:])))
	if n < 0 || n > maxBody {
		return 0, false
	}
	return headerLen + int(n), true
}

// resync returns how many bytes of b to skip to reach a plausible message
// start, and whether one was found (else the bytes after the skip are a
// consistent prefix to keep until more come).
func resync(b []byte) (skip int, found bool) {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], magicHi)
		if j < 0 {
			return len(b), false
		}
		i += j
		switch Detect(b[i:], 0, 0) {
		case l7.Yes:
			return i, true
		case l7.NeedMore:
			return i, false
		}
		i++
	}
	return len(b), false
}
