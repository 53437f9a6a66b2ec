package kafka

import "encoding/binary"

const (
	// maxNest bounds array nesting in a program (the deepest, Produce
	// response record_errors, is 3).
	maxNest = 4
	// Captured text limits. A pending request keeps its captures until
	// its response comes, so these bound what MaxPending requests hold.
	maxClientID = 128
	maxTopics   = 192
	maxParts    = 64
	maxGroup    = 128
)

// Phases of the field being read.
const (
	phField   uint8 = iota // a fixed-width field, or a length/count prefix
	phPayload              // the bytes of a string or bytes field
	phTagNum               // tagged fields: the count
	phTag                  // tagged fields: a tag number
	phTagSize              // tagged fields: a tag's size
)

// walker runs a program over a frame's bytes, which come in pieces. It
// keeps nothing of the bytes but what the captures ask for.
type walker struct {
	prog  []op
	pc    int
	done  bool
	bad   bool // the bytes did not fit the program (the frame is kept, its body not decoded)
	phase uint8

	// The field being read: fixed-width bytes gathered in fb, or an
	// unsigned varint.
	fb   [16]byte
	nfb  int
	uv   uint64
	uvSh uint

	skip   int64 // payload bytes still to skip (or to capKind)
	tagsN  int64 // tagged fields left
	depth  int
	left   [maxNest]int64 // iterations left per nesting level
	strCap capKind        // what the payload being read is captured as

	c *caps
}

// caps are the values captured from one message.
type caps struct {
	key, ver        int16
	corr            int32
	haveKey, haveCo bool

	client    [maxClientID]byte
	nClient   int
	topics    [maxTopics]byte
	nTopics   int
	nTopic    int // topics seen
	firstEnd  int // end of the first topic in topics
	parts     [maxParts]byte
	nParts    int
	nPart     int
	group     [maxGroup]byte
	nGroup    int
	acks      int16
	haveAcks  bool
	topErr    int16
	haveTop   bool
	partErr   int16 // the first non-zero partition error, else 0
	havePart  bool
	truncated bool // a capKind was cut to its limit
}

func (c *caps) reset() {
	*c = caps{}
}

// start begins a program.
func (w *walker) start(prog []op, c *caps) {
	*w = walker{prog: prog, c: c}
	if len(prog) == 0 {
		w.done = true
	}
}

// fixedSize is the width of a fixed-width op, or of its length prefix.
func fixedSize(c opcode) int {
	switch c {
	case opI8:
		return 1
	case opI16, opStr:
		return 2
	case opI32, opBytes, opArr:
		return 4
	case opI64:
		return 8
	case opUUID:
		return 16
	}
	return 0 // varint-prefixed, or no bytes
}

// feed runs the program over b. It returns at opHeader (the caller
// picks the rest of the program and calls feed again with the bytes
// left), or when b is used up or the program is done. It returns how
// many bytes it consumed.
func (w *walker) feed(b []byte) int {
	n := 0
	for !w.done && !w.bad {
		if w.pc >= len(w.prog) {
			w.done = true
			break
		}
		o := &w.prog[w.pc]
		switch w.phase {
		case phPayload:
			k := int(min(int64(len(b)-n), w.skip))
			if k > 0 {
				w.c.text(w.strCap, b[n:n+k])
			}
			n += k
			w.skip -= int64(k)
			if w.skip > 0 {
				return n
			}
			w.phase = phField
			w.pc++
			continue
		case phTagNum, phTag, phTagSize:
			v, ok, used := w.varint(b[n:])
			n += used
			if !ok {
				return n
			}
			switch w.phase {
			case phTagNum:
				w.tagsN = int64(v)
				w.phase = phTag
			case phTag:
				w.phase = phTagSize
				continue
			case phTagSize:
				w.tagsN--
				w.phase = phTag
				if v > 0 {
					// Skip the tag's data, then come back for the next.
					w.skip = int64(v)
					k := int(min(int64(len(b)-n), w.skip))
					n += k
					w.skip -= int64(k)
					if w.skip > 0 {
						w.phase = phTagSkip
						return n
					}
				}
			}
			if w.phase == phTag && w.tagsN <= 0 {
				w.phase = phField
				w.pc++
			}
			continue
		case phTagSkip:
			k := int(min(int64(len(b)-n), w.skip))
			n += k
			w.skip -= int64(k)
			if w.skip > 0 {
				return n
			}
			w.phase = phTag
			if w.tagsN <= 0 {
				w.phase = phField
				w.pc++
			}
			continue
		}
		switch o.code {
		case opStop:
			w.done = true
			return n
		case opHeader:
			w.pc++
			return n
		case opEnd:
			d := w.depth - 1
			if d < 0 {
				w.bad = true
				return n
			}
			w.left[d]--
			if w.left[d] > 0 {
				w.pc = int(o.jump)
			} else {
				w.depth--
				w.pc++
			}
			continue
		case opTags:
			w.phase = phTagNum
			w.uv, w.uvSh = 0, 0
			continue
		case opCStr, opCBytes, opCArr:
			v, ok, used := w.varint(b[n:])
			n += used
			if !ok {
				return n
			}
			// v is length+1 (count+1); 0 means null.
			w.value(o, int64(v)-1)
			continue
		}
		size := fixedSize(o.code)
		if w.nfb == 0 && len(b)-n >= size {
			// The whole field is here: no copy.
			w.fixed(o, b[n:n+size])
			n += size
			continue
		}
		k := copy(w.fb[w.nfb:size], b[n:])
		w.nfb += k
		n += k
		if w.nfb < size {
			return n
		}
		w.nfb = 0
		w.fixed(o, w.fb[:size])
	}
	return n
}

// phTagSkip: skipping a tagged field's data.
const phTagSkip uint8 = 5

// varint reads an unsigned varint (at most 5 bytes: Kafka's are 32-bit)
// across calls.
func (w *walker) varint(b []byte) (v uint64, ok bool, used int) {
	for used < len(b) {
		c := b[used]
		used++
		w.uv |= uint64(c&0x7f) << w.uvSh
		w.uvSh += 7
		if c&0x80 == 0 {
			v = w.uv
			w.uv, w.uvSh = 0, 0
			return v, true, used
		}
		if w.uvSh >= 35 {
			w.bad = true
			return 0, false, used
		}
	}
	return 0, false, used
}

// fixed handles a fixed-width field or length prefix whose bytes are b.
func (w *walker) fixed(o *op, b []byte) {
	switch o.code {
	case opI8, opI64:
		w.pc++
	case opI16:
		w.c.int16(o.cap, int16(binary.BigEndian.Uint16(b)))
		w.pc++
	case opI32:
		w.c.int32(o.cap, int32(binary.BigEndian.Uint32(b)))
		w.pc++
	case opUUID:
		if o.cap == capTopicID {
			w.c.topicID(b)
		}
		w.pc++
	case opStr:
		w.value(o, int64(int16(binary.BigEndian.Uint16(b))))
	case opBytes, opArr:
		w.value(o, int64(int32(binary.BigEndian.Uint32(b))))
	}
}

// value handles a length or count: n < 0 is null.
func (w *walker) value(o *op, n int64) {
	switch o.code {
	case opStr, opCStr, opBytes, opCBytes:
		if n < -1 {
			w.bad = true
			return
		}
		w.c.textStart(o.cap, n)
		if n <= 0 {
			w.pc++
			return
		}
		w.skip, w.strCap, w.phase = n, o.cap, phPayload
	case opArr, opCArr:
		if n < -1 {
			w.bad = true
			return
		}
		if n <= 0 {
			w.pc = int(o.jump) + 1
			return
		}
		if w.depth == maxNest {
			w.bad = true
			return
		}
		w.left[w.depth] = n
		w.depth++
		w.pc++
	}
}

func (c *caps) int16(k capKind, v int16) {
	switch k {
	case capKey:
		c.key, c.haveKey = v, true
	case capVer:
		c.ver = v
	case capAcks:
		c.acks, c.haveAcks = v, true
	case capErr:
		if !c.havePart || c.partErr == 0 {
			c.partErr = v
		}
		c.havePart = true
	case capTopErr:
		c.topErr, c.haveTop = v, true
	}
}

func (c *caps) int32(k capKind, v int32) {
	switch k {
	case capCorr:
		c.corr, c.haveCo = v, true
	case capPartition:
		c.nPart++
		var tmp [12]byte
		s := itoa(tmp[:0], int64(v))
		sep := 0
		if c.nParts > 0 {
			sep = 1
		}
		if c.nParts+sep+len(s) > maxParts {
			c.truncated = true
			return
		}
		if sep == 1 {
			c.parts[c.nParts] = ','
			c.nParts++
		}
		c.nParts += copy(c.parts[c.nParts:], s)
	}
}

// textStart begins a captured string of n bytes (n < 0: null).
func (c *caps) textStart(k capKind, _ int64) {
	if k == capTopic {
		if c.nTopic > 0 {
			if c.nTopics+1 >= maxTopics {
				c.truncated = true
			} else {
				c.topics[c.nTopics] = ','
				c.nTopics++
			}
		}
		c.nTopic++
	}
}

// text appends payload bytes of a captured string.
func (c *caps) text(k capKind, b []byte) {
	var dst []byte
	var n *int
	switch k {
	case capClientID:
		dst, n = c.client[:], &c.nClient
	case capTopic:
		dst, n = c.topics[:], &c.nTopics
	case capGroup:
		dst, n = c.group[:], &c.nGroup
	default:
		return
	}
	room := len(dst) - *n
	if len(b) > room {
		b = b[:room]
		c.truncated = true
	}
	*n += copy(dst[*n:], b)
	if k == capTopic && c.nTopic == 1 {
		c.firstEnd = c.nTopics
	}
}

// topicID appends a topic id as text (8-4-4-4-12 hex digits).
func (c *caps) topicID(u []byte) {
	const hexd = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, x := range u[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexd[x>>4], hexd[x&15]
		j += 2
	}
	c.textStart(capTopic, 36)
	c.text(capTopic, s[:])
}

// itoa appends the decimal form of v.
func itoa(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, tmp[i:]...)
}
