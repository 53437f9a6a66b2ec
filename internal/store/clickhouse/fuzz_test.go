package clickhouse

import (
	"testing"
)

// FuzzCursor: a cursor comes from an API client. Anything but a cursor
// this store handed out (for that kind of query) is refused, never a
// panic, and one it handed out decodes to what it encoded.
func FuzzCursor(f *testing.F) {
	f.Add("", byte(cursorFlows))
	f.Add(cursor{ts: 1, wid: 2, idx: 3}.encode(cursorFlows), byte(cursorFlows))
	f.Add(cursor{ts: -1, wid: 1 << 63, idx: 1 << 31}.encode(cursorTx), byte(cursorFlows))
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", byte(cursorTx))
	f.Fuzz(func(t *testing.T, s string, kind byte) {
		c, ok, err := decodeCursor(s, kind)
		if err != nil || !ok {
			return
		}
		if c.encode(kind) != s {
			t.Fatalf("cursor %q decoded to %+v, which encodes as %q", s, c, c.encode(kind))
		}
	})
}

// FuzzRowBinary: an answer the decoder does not expect (a server of
// another version, a proxy in between) is an error, never a panic nor a
// huge allocation.
func FuzzRowBinary(f *testing.F) {
	var e encoder
	e.str("probe")
	e.i64(1)
	e.strs([]string{"a", "b"})
	f.Add(e.b)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := &decoder{b: b}
		for !d.done() {
			d.readTx()
			d.addrPort()
			d.blob()
		}
		d = &decoder{b: b}
		for !d.done() {
			d.strs()
			d.fixed16()
			d.u32()
		}
	})
}
