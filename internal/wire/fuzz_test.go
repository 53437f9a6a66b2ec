package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/wirewatch/wirewatch/internal/record"
)

// FuzzDecode feeds Decode arbitrary bytes. It must never panic, must fail
// only with ErrInvalid, and what it accepts must survive a round trip
// unchanged (so the center stores exactly what it validated).
func FuzzDecode(f *testing.F) {
	f.Add(mustEncode(f, fullBatch()))
	f.Add(mustEncode(f, &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: 1}))
	f.Add(mustEncode(f, benchBatch(6)))
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := Encode(b)
		if err != nil {
			t.Fatalf("accepted batch does not encode: %v", err)
		}
		b2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v", err)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, b2)
		}
	})
}
