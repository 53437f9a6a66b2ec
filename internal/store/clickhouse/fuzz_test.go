package clickhouse

import (
	"testing"
)

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
