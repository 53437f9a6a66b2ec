package l7

import "github.com/wirewatch/wirewatch/internal/flow"

// Framer assembles the messages of a protocol whose messages start with a
// fixed-size header that gives their length (MongoDB, Dubbo, ...), for
// both directions of a flow. A message that fits in MaxMessage is handed
// over as one contiguous slice: the caller's bytes when it lies within one
// Data call (no copy), otherwise the bytes held in a Buf. A longer one (or
// one a gap holed) is "long": its first MaxMessage bytes are kept, the
// rest only counted. After a gap, a mid-stream start or a broken header,
// Resync finds the next message boundary.
//
// Set the fields, call Init, then Feed / Gap / End from the parser's Data
// / Gap / End.
type Framer struct {
	HeaderLen int
	// FrameLen returns the length of the message whose header starts b
	// (len(b) >= HeaderLen), or false when b does not start a header.
	FrameLen func(b []byte) (int, bool)
	// Resync returns how many bytes of b to skip to reach a plausible
	// message start, and whether one was found (else the bytes after the
	// skip are a consistent prefix to keep until more come).
	Resync func(b []byte) (skip int, found bool)
	// Message receives a whole message, or the kept head of a long one:
	// total is its length, kept the bytes received before any hole, holed
	// whether a hole fell inside it; t0 is when its first byte came.
	Message func(dir flow.Dir, msg []byte, total, kept int, holed bool, t0, ts int64)
	// Drop counts bytes the framer could not give to Message.
	Drop func(reason DropReason, n int)

	max int
	s   [2]frameDir
}

type frameDir struct {
	buf     Buf
	startTS int64 // when the first byte of the message held in buf came
	sync    bool  // looking for a message boundary

	long  bool
	head  []byte // the long message's first bytes (at most max)
	total int    // its length
	seen  int    // its bytes received or lost so far
	holed bool   // a gap fell inside it: later bytes are not kept
	kept  int    // its bytes received before any hole
	ts0   int64
}

// Init sets the buffers up from the parser's context.
func (f *Framer) Init(ctx Context) {
	f.max = ctx.MaxMessage
	for d := range f.s {
		f.s[d].buf = ctx.NewBuf()
	}
}

// Feed consumes the bytes of one Data call.
func (f *Framer) Feed(dir flow.Dir, b []byte, ts int64) {
	s := &f.s[dir]
	if s.long {
		n := f.feedLong(dir, s, b, ts)
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
			i, found := f.Resync(rest)
			f.Drop(DropResync, i)
			off += i
			if !found {
				break
			}
			s.sync = false
			continue
		}
		if len(rest) < f.HeaderLen {
			break
		}
		l, ok := f.FrameLen(rest)
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
			f.Message(dir, rest[:l], l, l, false, t0, ts)
			off += l
			continue
		}
		if l > f.max {
			// Too long to hold: keep its first bytes, count the rest.
			s.long, s.total, s.seen, s.holed, s.ts0 = true, l, len(rest), false, t0
			s.kept = len(rest)
			s.head = append(s.head[:0], rest[:min(len(rest), f.max)]...)
			off = len(data)
		}
		break
	}
	rest := data[off:]
	if len(rest) > 0 && (off > 0 || held == 0) {
		s.startTS = ts
	}
	if d := s.buf.Keep(rest); d > 0 {
		f.Drop(DropTooLarge, d)
		s.sync = true
	}
}

// feedLong consumes bytes of a long message and returns how many.
func (f *Framer) feedLong(dir flow.Dir, s *frameDir, b []byte, ts int64) int {
	n := min(len(b), s.total-s.seen)
	if s.holed {
		f.Drop(DropGap, n)
	} else {
		s.kept += n
		if k := min(n, f.max-len(s.head)); k > 0 {
			s.head = append(s.head, b[:k]...)
		}
	}
	s.seen += n
	if s.seen == s.total {
		f.endLong(dir, s, ts)
	}
	return n
}

// endLong hands a long message over from its head.
func (f *Framer) endLong(dir flow.Dir, s *frameDir, ts int64) {
	s.long = false
	if len(s.head) >= f.HeaderLen {
		f.Message(dir, s.head, s.total, s.kept, s.holed, s.ts0, ts)
	} else {
		f.Drop(DropGap, s.kept)
	}
	s.head = s.head[:0]
	if cap(s.head) > 4096 {
		s.head = nil
	}
}

// Gap handles n missing bytes of dir (n < 0: unknown).
func (f *Framer) Gap(dir flow.Dir, n int64, ts int64) {
	s := &f.s[dir]
	if !s.long && !s.sync && s.buf.Len() >= f.HeaderLen && n >= 0 {
		// The message being assembled has a known length: keep the
		// framing by treating it as a long message with a hole.
		h := s.buf.Feed(nil)
		if l, ok := f.FrameLen(h); ok && l > len(h) {
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
				f.endLong(dir, s, ts)
			}
			return
		}
		// The hole runs past the message's end: hand over what there is,
		// then look for the next boundary.
		f.endLong(dir, s, ts)
	}
	if held := s.buf.Reset(); held > 0 {
		if s.sync {
			f.Drop(DropResync, held)
		} else {
			f.Drop(DropGap, held)
		}
	}
	s.sync = true
}

// End settles dir at the end of the flow: a long message is handed over
// from what was seen, a partial one held is counted (DropOther: the flow
// ended in the middle of a message).
func (f *Framer) End(dir flow.Dir, ts int64) {
	s := &f.s[dir]
	if s.long {
		s.holed = true
		f.endLong(dir, s, ts)
	}
	if held := s.buf.Reset(); held > 0 {
		if s.sync {
			f.Drop(DropResync, held)
		} else {
			f.Drop(DropOther, held)
		}
	}
}

// Held returns how many bytes dir holds: in its buffer, and as the head
// of a long message (for tests of the bounds).
func (f *Framer) Held(dir flow.Dir) (buffered, head int) {
	return f.s[dir].buf.Len(), len(f.s[dir].head)
}
