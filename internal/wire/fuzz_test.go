package wire

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/wirewatch/wirewatch/internal/record"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// FuzzDecode feeds Decode arbitrary bytes. It must never panic, must fail
// only with ErrInvalid, must account for every record it leaves out, and
// what it accepts must survive a round trip unchanged (so the center
// stores exactly what it validated).
func FuzzDecode(f *testing.F) {
	f.Add(mustEncode(f, fullBatch()))
	f.Add(mustEncode(f, &record.Batch{Probe: record.ProbeInfo{ID: "p"}, Seq: 1}))
	f.Add(mustEncode(f, benchBatch(6)))
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, dropped, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		var m pb.Batch
		if err := proto.Unmarshal(data, &m); err != nil {
			t.Fatalf("Decode accepted what protobuf refuses: %v", err)
		}
		sent := len(m.Windows) + len(m.Flows) + len(m.Transactions) + len(m.Traffic)
		if uint64(b.Records())+dropped.Total() != uint64(sent) {
			t.Fatalf("%d records sent, %d kept, %d dropped", sent, b.Records(), dropped.Total())
		}
		if (dropped.First != nil) != (dropped.Total() > 0) || (dropped.First != nil && !errors.Is(dropped.First, ErrInvalid)) {
			t.Fatalf("dropped %v, first %v", dropped.Records, dropped.First)
		}
		again, err := Encode(b)
		if err != nil {
			t.Fatalf("accepted batch does not encode: %v", err)
		}
		b2, dropped2, err := Decode(again)
		if err != nil || dropped2.Total() != 0 {
			t.Fatalf("re-encoded batch does not decode whole: %v, dropped %v", err, dropped2.Records)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, b2)
		}
	})
}
