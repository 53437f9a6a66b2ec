package http2

import (
	"encoding/binary"

	"golang.org/x/net/http2/hpack"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

const (
	// initialTableSize is HPACK's initial dynamic table size (RFC 9113
	// §6.5.2 SETTINGS_HEADER_TABLE_SIZE default).
	initialTableSize = 4096
	// maxTableLimit caps a dynamic table whatever SETTINGS or size updates
	// say: the hpack package stores every entry as strings, so this is
	// what one direction's table may cost beyond per-entry overhead.
	maxTableLimit = 64 << 10
)

// Direction states.
const (
	stPreface       uint8 = iota // client direction, nothing seen yet: the preface may come
	stSync                       // at a frame boundary, in step
	stResync                     // looking for a frame boundary
	stHTTP1Response              // server direction after an h2c upgrade request: the HTTP/1.1 answer comes first
)

// What the bytes of a frame being skipped (not buffered) are.
const (
	skipIgnore uint8 = iota // a frame type with nothing to decode
	skipData                // DATA: counted for its stream
	skipDrop                // a frame too large to buffer: counted as dropped
)

// direction is the state of one direction of the connection.
type direction struct {
	buf    l7.Buf
	tailTS int64 // ts of the Data call that brought the first byte held in buf
	seen   bool  // Data was called
	state  uint8
	// fresh: resynchronising and the next byte follows a gap (or is the
	// first of the direction), so a plausible frame header right there is
	// taken without looking further.
	fresh        bool
	resyncReason l7.DropReason

	// The frame whose payload is being skipped or counted, not buffered.
	skip       int // payload bytes still to come
	skipKind   uint8
	skipReason l7.DropReason // skipDrop
	data       frameHeader   // skipData: the DATA frame
	padPending bool          // skipData: the pad length byte is still to come
	padLen     int

	// The header block being assembled from HEADERS or PUSH_PROMISE and
	// CONTINUATION frames.
	inBlock     bool
	blkLost     bool   // it was given up (too large): skip its CONTINUATIONs
	blk         l7.Buf // the fragments so far (bounded by MaxMessage, charged to the budget)
	blkType     uint8
	blkFlags    uint8
	blkStream   uint32
	blkPromised uint32
	blkBytes    int64
	blkTS       int64

	dec      *hpack.Decoder
	tableMax uint32 // the dynamic table size in force
	synth    []byte // scratch for placeholder insertions
}

// parser is the Parser of one connection.
type parser struct {
	ctx      l7.Context
	sink     l7.Sink
	maxMsg   int
	maxPend  int
	maxTable uint32
	dirs     [2]direction

	streams streamTable
	stopped bool // an h2c upgrade was declined: nothing more to decode

	// The target of the header block being decoded (set around
	// decodeBlock for onField).
	cur         *stream
	side        uint8
	placeholder bool // a placeholder insertion is being decoded: ignore its field
	unknownName bool // onField saw a placeholder's name

	tx      l7.Transaction
	fields  []l7.Field
	num     [64]byte
	scratch []byte
}

// New returns a parser for one connection.
func New(ctx l7.Context) l7.Parser {
	p := &parser{ctx: ctx, sink: ctx.Sink, maxMsg: ctx.MaxMessage, maxPend: ctx.MaxPending}
	if p.sink == nil {
		p.sink = nopSink{}
	}
	if p.maxMsg <= 0 {
		p.maxMsg = l7.DefaultConfig().MaxMessage
	}
	if p.maxPend <= 0 {
		p.maxPend = l7.DefaultConfig().MaxPending
	}
	p.maxTable = uint32(min(p.maxMsg, maxTableLimit))
	ctx.MaxMessage = p.maxMsg
	emit := p.onField // one closure for both decoders
	for i := range p.dirs {
		d := &p.dirs[i]
		// Held bytes: an incomplete frame of at most MaxMessage bytes
		// (header included), charged to the flow's memory budget.
		d.buf = ctx.NewBuf()
		d.blk = ctx.NewBuf()
		d.state = stResync
		d.fresh = true
		d.resyncReason = l7.DropResync
		d.tableMax = initialTableSize
		d.dec = hpack.NewDecoder(initialTableSize, emit)
		// Until SETTINGS say otherwise (a capture that started late never
		// sees them), accept any size update up to the cap: a table
		// larger than the peer's only keeps entries the peer no longer
		// references.
		d.dec.SetAllowedMaxDynamicTableSize(p.maxTable)
		d.dec.SetMaxStringLength(p.maxMsg)
	}
	p.dirs[flow.ClientToServer].state = stPreface
	p.streams.init()
	return p
}

type nopSink struct{}

func (nopSink) Transaction(*l7.Transaction) {}
func (nopSink) Drop(l7.DropReason, int)     {}
func (nopSink) Stop()                       {}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if p.stopped {
		return
	}
	dir &= 1
	p.expire(ts)
	d := &p.dirs[dir]
	d.seen = true
	if d.skip > 0 {
		n := p.skipBytes(dir, d, b, ts)
		b = b[n:]
		if len(b) == 0 {
			return
		}
	}
	held := d.buf.Len()
	buf := d.buf.Feed(b)
	off := p.frames(dir, d, buf, held, ts)
	rest := buf[off:]
	if len(rest) > 0 && off >= held {
		d.tailTS = ts
	}
	if n := d.buf.Keep(rest); n > 0 {
		// Only frames of at most MaxMessage bytes are held, so the flow's
		// memory budget said no: the frame is lost.
		p.sink.Drop(l7.DropTooLarge, n)
		if d.inBlock {
			p.abandonBlock(d, l7.DropTooLarge)
		}
		d.toResync(l7.DropResync, false)
		d.resetTable()
	}
}

// toResync makes d look for the next frame boundary.
func (d *direction) toResync(reason l7.DropReason, fresh bool) {
	d.state, d.fresh, d.resyncReason = stResync, fresh, reason
	d.skip = 0
}

// frames parses the frames in b (held bytes first: frames that start
// before held began in the call of d.tailTS) and returns how many bytes it
// consumed; the rest is an incomplete frame to hold.
func (p *parser) frames(dir flow.Dir, d *direction, b []byte, held int, ts int64) int {
	off := 0
	for off < len(b) {
		if d.skip > 0 {
			off += p.skipBytes(dir, d, b[off:], ts)
			continue
		}
		switch d.state {
		case stPreface:
			rest := b[off:]
			if len(rest) < len(preface) && preface[:len(rest)] == string(rest) {
				return off
			}
			if len(rest) >= len(preface) && string(rest[:len(preface)]) == preface {
				// A connection seen from its start: both tables are known.
				off += len(preface)
				d.state = stSync
				continue
			}
			if isRequestLine(rest) {
				frameTS := ts
				if off < held {
					frameTS = d.tailTS
				}
				switch n := p.upgradeRequest(d, rest, frameTS, ts); {
				case n == 0:
					return off
				case n > 0:
					off += n // the preface follows (after any body)
					continue
				}
			}
			if len(rest) < 16 && isMethodPrefix(rest) {
				return off // the start of a request line: wait for the rest
			}
			d.toResync(l7.DropResync, true)
			continue
		case stHTTP1Response:
			switch n := p.upgradeResponse(d, b[off:], ts); {
			case n == 0:
				return off
			case n > 0:
				off += n
			}
			if p.stopped {
				p.sink.Drop(l7.DropOther, len(b)-off)
				return len(b)
			}
			continue
		case stResync:
			i, ok := findFrame(b[off:], d.fresh)
			if !ok {
				if d.fresh && len(b)-off < frameHeaderLen {
					return off // the first bytes after a gap: wait for a whole header
				}
				p.sink.Drop(d.resyncReason, len(b)-off)
				d.fresh = false
				return len(b)
			}
			if i > 0 {
				p.sink.Drop(d.resyncReason, i)
			}
			off += i
			d.state, d.fresh = stSync, false
		}
		if len(b)-off < frameHeaderLen {
			return off
		}
		h := readFrameHeader(b[off:])
		if !h.valid() {
			d.toResync(l7.DropMalformed, false)
			p.sink.Drop(l7.DropMalformed, 1)
			off++
			continue
		}
		frameTS := ts
		if off < held {
			frameTS = d.tailTS
		}
		if d.inBlock && (h.typ != frameContinuation || h.stream != d.blkStream) {
			// A header block must be followed by its CONTINUATIONs only.
			p.abandonBlock(d, l7.DropMalformed)
		}
		switch h.typ {
		case frameHeaders, frameContinuation, framePushPromise, frameSettings,
			frameRSTStream, frameGoAway, framePing, framePriority, frameWindowUpdate:
			if frameHeaderLen+h.length > p.maxMsg {
				if h.typ == frameHeaders || h.typ == frameContinuation || h.typ == framePushPromise {
					p.loseBlockFrame(d, h)
				}
				p.sink.Drop(l7.DropTooLarge, frameHeaderLen)
				off += frameHeaderLen
				d.skip, d.skipKind, d.skipReason = h.length, skipDrop, l7.DropTooLarge
				continue
			}
			end := off + frameHeaderLen + h.length
			if end > len(b) {
				return off
			}
			p.frame(dir, d, h, b[off+frameHeaderLen:end], frameTS, ts)
			off = end
		case frameData:
			off += frameHeaderLen
			p.startData(dir, d, h, ts)
		default:
			// Extension frame types are ignored (RFC 9113 §4.1).
			off += frameHeaderLen
			d.skip, d.skipKind = h.length, skipIgnore
		}
	}
	return off
}

// findFrame returns the offset of the first plausible frame boundary in
// b. At a fresh position (right after a gap) one plausible header at
// offset 0 is enough: segments usually start with a frame. Elsewhere the
// frame must be followed by another plausible header, or end exactly at
// the end of b.
func findFrame(b []byte, fresh bool) (int, bool) {
	for i := 0; i+frameHeaderLen <= len(b); i++ {
		h := readFrameHeader(b[i:])
		if !h.plausible() {
			continue
		}
		if i == 0 && fresh {
			return 0, true
		}
		end := i + frameHeaderLen + h.length
		if end == len(b) {
			return i, true
		}
		if end+frameHeaderLen <= len(b) && readFrameHeader(b[end:]).plausible() {
			return i, true
		}
	}
	return 0, false
}

// skipBytes consumes up to d.skip payload bytes of the frame being
// skipped or counted.
func (p *parser) skipBytes(dir flow.Dir, d *direction, b []byte, ts int64) int {
	n := min(len(b), d.skip)
	switch d.skipKind {
	case skipData:
		p.dataBytes(dir, d, b[:n], ts)
		return n
	case skipDrop:
		p.sink.Drop(d.skipReason, n)
	}
	d.skip -= n
	return n
}

// startData begins a DATA frame, whose payload is counted, not buffered.
func (p *parser) startData(dir flow.Dir, d *direction, h frameHeader, ts int64) {
	d.data = h
	d.skip, d.skipKind = h.length, skipData
	d.padPending = h.flags&flagPadded != 0
	d.padLen = 0
	if s := p.streams.get(h.stream); s != nil {
		s.addBytes(dir, int64(frameHeaderLen+h.length), ts)
	}
	if h.length == 0 {
		p.endData(dir, d, ts)
	}
}

// dataBytes counts the next bytes of the DATA frame's payload (b is at
// most d.skip long).
func (p *parser) dataBytes(dir flow.Dir, d *direction, b []byte, ts int64) {
	if d.padPending && len(b) > 0 {
		d.padPending = false
		d.padLen = int(b[0])
		d.skip--
		b = b[1:]
		if d.padLen > d.skip {
			// Padding longer than the frame: a protocol error. The frame's
			// length still delimits it; count its bytes as data.
			p.sink.Drop(l7.DropMalformed, 1)
			d.padLen = 0
		}
	}
	// The last padLen bytes of the payload are padding.
	data := len(b)
	if after := d.skip - len(b); after < d.padLen {
		data -= d.padLen - after
	}
	d.skip -= len(b)
	if data > 0 {
		if s := p.streams.get(d.data.stream); s != nil {
			s.grpc[dir].feed(b[:data])
		}
	}
	if d.skip == 0 {
		p.endData(dir, d, ts)
	}
}

// endData ends a DATA frame: END_STREAM ends its side of the stream.
func (p *parser) endData(dir flow.Dir, d *direction, ts int64) {
	d.skip = 0
	if d.data.flags&flagEndStream != 0 {
		p.endStream(dir, d.data.stream, ts)
	}
}

// frame handles a buffered frame; payload is complete.
func (p *parser) frame(dir flow.Dir, d *direction, h frameHeader, payload []byte, frameTS, ts int64) {
	size := int64(frameHeaderLen + h.length)
	switch h.typ {
	case frameHeaders, framePushPromise:
		frag, promised, ok := blockFragment(h, payload)
		if !ok {
			// Padding longer than the payload: the block cannot be
			// trusted, nor what it inserted into the table.
			p.sink.Drop(l7.DropMalformed, int(size))
			d.resetTable()
			return
		}
		if h.flags&flagEndHeaders != 0 {
			p.headerBlock(dir, d, h.typ, h.flags, h.stream, promised, frag, size, frameTS, ts)
			return
		}
		d.inBlock, d.blkLost = true, false
		d.blkType, d.blkFlags, d.blkStream, d.blkPromised = h.typ, h.flags, h.stream, promised
		d.blkBytes, d.blkTS = size, frameTS
		d.blk.Reset()
		if d.blk.Keep(frag) > 0 {
			// Over the flow's memory budget.
			p.sink.Drop(l7.DropTooLarge, int(size))
			p.loseBlock(d)
		}
	case frameContinuation:
		switch {
		case !d.inBlock:
			// Its HEADERS was not seen (or was not HEADERS): the fragment
			// may have inserted entries we cannot know.
			p.sink.Drop(l7.DropMalformed, int(size))
			d.resetTable()
			return
		case d.blkLost:
			p.sink.Drop(l7.DropTooLarge, int(size))
		default:
			// Keep refuses more than MaxMessage (or what the flow's
			// memory budget allows).
			if d.blk.Keep(d.blk.Feed(payload)) > 0 {
				p.sink.Drop(l7.DropTooLarge, int(size+d.blkBytes))
				p.loseBlock(d)
			} else {
				d.blkBytes += size
			}
		}
		if h.flags&flagEndHeaders != 0 {
			d.inBlock = false
			if !d.blkLost {
				p.headerBlock(dir, d, d.blkType, d.blkFlags, d.blkStream, d.blkPromised, d.blk.Feed(nil), d.blkBytes, d.blkTS, ts)
			}
			d.blkLost = false
			d.blk.Reset()
		}
	case frameRSTStream:
		p.reset(dir, h.stream, binary.BigEndian.Uint32(payload), ts)
	case frameSettings:
		if h.flags&flagAck != 0 {
			return
		}
		for i := 0; i+6 <= len(payload); i += 6 {
			if binary.BigEndian.Uint16(payload[i:]) == 0x1 { // SETTINGS_HEADER_TABLE_SIZE
				// It bounds what the other side's encoder may use.
				p.dirs[1-dir].setTableLimit(binary.BigEndian.Uint32(payload[i+2:]), p.maxTable)
			}
		}
	case frameGoAway:
		if dir == flow.ServerToClient {
			p.goAway(binary.BigEndian.Uint32(payload)&^(1<<31), ts)
		}
	}
}

// blockFragment strips the padding and priority fields of a HEADERS or
// PUSH_PROMISE payload.
func blockFragment(h frameHeader, payload []byte) (frag []byte, promised uint32, ok bool) {
	pad := 0
	if h.flags&flagPadded != 0 {
		pad = int(payload[0]) // valid() guarantees the byte
		payload = payload[1:]
	}
	if h.typ == framePushPromise {
		promised = binary.BigEndian.Uint32(payload) &^ (1 << 31)
		payload = payload[4:]
	} else if h.flags&flagPriority != 0 {
		payload = payload[5:]
	}
	if pad > len(payload) {
		return nil, 0, false
	}
	return payload[:len(payload)-pad], promised, true
}

// abandonBlock gives up the header block being assembled.
func (p *parser) abandonBlock(d *direction, reason l7.DropReason) {
	if !d.blkLost {
		p.sink.Drop(reason, int(d.blkBytes))
		p.markTruncated(d.blkType, d.blkStream, d.blkPromised)
	}
	d.inBlock, d.blkLost = false, false
	d.blk.Reset()
	d.resetTable()
}

// loseBlock gives up the block being assembled (already counted) but
// keeps skipping its CONTINUATIONs.
func (p *parser) loseBlock(d *direction) {
	d.blkLost = true
	d.blk.Reset()
	p.markTruncated(d.blkType, d.blkStream, d.blkPromised)
	d.resetTable()
}

// loseBlockFrame records that a header block frame is too large to
// buffer: the stream loses its headers, the table its insertions, and
// the block's CONTINUATIONs are skipped.
func (p *parser) loseBlockFrame(d *direction, h frameHeader) {
	typ, promised := h.typ, uint32(0)
	if h.typ == frameContinuation {
		if !d.inBlock {
			d.resetTable()
			return
		}
		if !d.blkLost {
			p.sink.Drop(l7.DropTooLarge, int(d.blkBytes)) // the fragments so far
		}
		typ, promised = d.blkType, d.blkPromised
	}
	p.markTruncated(typ, h.stream, promised)
	d.resetTable()
	d.inBlock = h.flags&flagEndHeaders == 0
	d.blkLost = true
	d.blk.Reset()
	d.blkType, d.blkStream, d.blkPromised = typ, h.stream, promised
}

// markTruncated flags the stream a lost header block belonged to.
func (p *parser) markTruncated(typ uint8, stream, promised uint32) {
	if typ == framePushPromise {
		stream = promised
	}
	if s := p.streams.get(stream); s != nil {
		s.txFlags |= l7.FlagTruncated
	}
}

// truncateCur flags the stream whose header block is being decoded: a
// field of it could not be decoded.
func (p *parser) truncateCur() {
	if p.cur != nil {
		p.cur.txFlags |= l7.FlagTruncated
		if p.side == sideResp {
			p.cur.st |= stRespLost
		}
	}
}

// Gap implements l7.Parser.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	dir &= 1
	if n == 0 {
		return
	}
	d := &p.dirs[dir]
	if n < 0 && !d.seen {
		// The direction starts mid-stream (the capture started late):
		// nothing we hold is lost, and the start states already look for
		// a boundary.
		return
	}
	if n > 0 && d.state == stSync && d.buf.Len() == 0 && int64(d.skip) >= n {
		// The hole is inside a payload being skipped or counted: the
		// framing is intact.
		switch d.skipKind {
		case skipData:
			if s := p.streams.get(d.data.stream); s != nil {
				s.txFlags |= l7.FlagTruncated
				s.grpc[dir].lost = true
			}
			d.padPending = false
			d.skip -= int(n)
			if d.skip == 0 {
				p.endData(dir, d, ts)
			}
		default:
			d.skip -= int(n)
		}
		return
	}
	lost := d.buf.Reset()
	if d.skip > 0 && d.skipKind == skipData {
		// The gap swallowed the end of a DATA frame and more: its stream
		// lost data, but the header said whether the stream ends there.
		if s := p.streams.get(d.data.stream); s != nil {
			s.txFlags |= l7.FlagTruncated
		}
		p.endData(dir, d, ts)
	}
	if d.inBlock {
		p.abandonBlock(d, l7.DropGap)
	}
	p.sink.Drop(l7.DropGap, lost)
	d.toResync(l7.DropResync, true)
	d.resetTable()
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	for i := range p.dirs {
		d := &p.dirs[i]
		lost := d.buf.Reset()
		if d.inBlock && !d.blkLost {
			lost += int(d.blkBytes)
			p.markTruncated(d.blkType, d.blkStream, d.blkPromised)
		}
		d.inBlock = false
		d.blk.Reset()
		p.sink.Drop(l7.DropGap, lost)
	}
	p.finishAll(ts)
}
