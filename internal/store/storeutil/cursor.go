package storeutil

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
)

// Cursor is the sort key of a page's last row: its time and the ids that
// break ties between rows of the same time (DuckDB: the row id;
// ClickHouse: the write's id and the row's index in it).
type Cursor struct {
	TS  int64
	ID  uint64
	Idx uint32
}

// CursorCodec writes and reads the cursors of one kind of query. A cursor
// is the URL-safe base64 of the kind, the key and a CRC of both, so that
// a damaged or foreign cursor (a flows cursor on transactions) is refused
// instead of silently positioning somewhere. Cursors are opaque, not
// secret.
type CursorCodec struct {
	Kind byte // tells the kinds of query apart
	Idx  bool // Cursor.Idx is part of the key (else it is always 0)
}

func (cc CursorCodec) size() int {
	if cc.Idx {
		return 1 + 8 + 8 + 4 + 4
	}
	return 1 + 8 + 8 + 4
}

// Encode is c as text.
func (cc CursorCodec) Encode(c Cursor) string {
	var a [25]byte
	b := cc.put(a[:cc.size()], c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// put fills b (of cc.size() bytes) with c and its checksum.
func (cc CursorCodec) put(b []byte, c Cursor) []byte {
	b[0] = cc.Kind
	binary.BigEndian.PutUint64(b[1:], uint64(c.TS))
	binary.BigEndian.PutUint64(b[9:], c.ID)
	if cc.Idx {
		binary.BigEndian.PutUint32(b[17:], c.Idx)
	}
	n := len(b) - 4
	binary.BigEndian.PutUint32(b[n:], crc32.ChecksumIEEE(b[:n]))
	return b
}

// Decode reads a cursor Encode wrote; ok is false for "" (the first
// page). Anything else is an error wrapping store.ErrBadQuery.
func (cc CursorCodec) Decode(s string) (c Cursor, ok bool, err error) {
	if s == "" {
		return c, false, nil
	}
	size := cc.size()
	if len(s) > 2*size {
		return c, false, BadQuery("invalid cursor")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	n := size - 4
	if err != nil || len(b) != size || b[0] != cc.Kind ||
		binary.BigEndian.Uint32(b[n:]) != crc32.ChecksumIEEE(b[:n]) {
		return c, false, BadQuery("invalid cursor")
	}
	c = Cursor{TS: int64(binary.BigEndian.Uint64(b[1:])), ID: binary.BigEndian.Uint64(b[9:])}
	if cc.Idx {
		c.Idx = binary.BigEndian.Uint32(b[17:])
	}
	if cc.Encode(c) != s {
		// The decoder skips newlines and tolerates stray bits: only the
		// form handed out is a cursor.
		return Cursor{}, false, BadQuery("invalid cursor")
	}
	return c, true, nil
}
