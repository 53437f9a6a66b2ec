package mongodb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// whatsmyuri is a real request (deepflow mongo.pcap frame 13: OP_MSG with
// the checksum flag set).
var whatsmyuri, _ = hex.DecodeString("3d00000003000000000000" + "00dd070000010000000024000000107768617473" +
	"6d79757269000100000002246462000600000061646d696e0000983c47d5")

func fuzzSeeds() (c2sSeeds, s2cSeeds [][]byte) {
	c2sSeeds = [][]byte{
		whatsmyuri,
		findReq(1),
		opQueryBytes(0, "admin.$cmd", D{{"isMaster", 1}, {"speculativeAuthenticate", D{{"saslStart", 1}, {"payload", binData{0, []byte("x")}}}}}),
		opMsgBytes(2, 0, msgChecksumPresent, D{{"insert", "c"}, {"$db", "d"}}, "documents", []D{{{"a", 1}}, {{"b", "x"}}}),
		opMsgBytes(3, 0, msgMoreToCome, D{{"createUser", "u"}, {"pwd", "p"}, {"$db", "admin"}}),
	}
	s2cSeeds = [][]byte{
		findReply(5, 1, 2),
		opReplyBytes(6, 0, 8, D{{"ismaster", true}, {"ok", 1.0}}),
		opMsgBytes(7, 2, 0, D{{"n", 0}, {"writeErrors", A{D{{"code", 11000}, {"errmsg", "dup"}}}}, {"ok", 1.0}}),
		opMsgBytes(8, 3, 0, D{{"ok", 0.0}, {"errmsg", "e"}, {"code", 13}, {"codeName", "Unauthorized"}}),
	}
	return
}

// FuzzMongo feeds random bytes in both directions, cut at random points,
// interleaved with gaps, then ends the flow. It checks that nothing
// panics, that every transaction is well formed, that buffering and the
// pending queue stay within their limits, and that no more bytes are
// counted as dropped than were fed.
func FuzzMongo(f *testing.F) {
	cs, ss := fuzzSeeds()
	f.Add([]byte{0x10, 0x31, 0x22, 0x05, 0x40}, bytes.Join(cs, nil), bytes.Join(ss, nil))
	f.Add([]byte{0xff, 0x00}, cs[1], ss[0])
	f.Add([]byte{0x81, 0x02, 0x93}, append(cs[0], cs[3]...), append(ss[1], ss[2]...))
	f.Add([]byte{}, whatsmyuri[:30], whatsmyuri[30:])
	f.Fuzz(func(t *testing.T, ctl, a, b []byte) {
		const maxMsg, maxPend = 600, 3
		p, s := newParser(t, func(c *l7.Context) {
			c.MaxMessage, c.MaxPending, c.Timeout = maxMsg, maxPend, 50
			c.KeepCredentials = len(ctl) > 0 && ctl[0]&1 != 0
		})
		streams := [2][]byte{a, b}
		fed := 0
		ts := int64(1)
		for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
			c := byte(i * 37)
			if len(ctl) > 0 {
				c = ctl[i%len(ctl)]
			}
			dir := flow.Dir(c >> 7)
			if len(streams[dir]) == 0 {
				dir = 1 - dir
			}
			ts += int64(c & 0x0f)
			switch {
			case c&0x70 == 0x70:
				// a hole of 1..8 bytes, its size told or not
				n := min(1+int(c&0x07), len(streams[dir]))
				if c&0x08 != 0 {
					p.Gap(dir, -1, ts)
				} else {
					p.Gap(dir, int64(n), ts)
				}
				streams[dir] = streams[dir][n:]
			default:
				n := min(len(streams[dir]), 1+int(c&0x3f)*int(c&0x3f))
				p.Data(dir, streams[dir][:n], ts)
				fed += n
				streams[dir] = streams[dir][n:]
			}
			for d := range flow.Dir(2) {
				if held(&p.fr, d, 0) > maxMsg || held(&p.fr, d, 1) > maxMsg {
					t.Fatalf("buffered %d/%d bytes", held(&p.fr, d, 0), held(&p.fr, d, 1))
				}
			}
			if p.pending.Len() > maxPend {
				t.Fatalf("%d pending", p.pending.Len())
			}
		}
		p.End(ts + 1)
		if p.pending.Len() != 0 {
			t.Fatalf("pending after End")
		}
		total := 0
		for _, d := range s.Drops {
			if d < 0 {
				t.Fatalf("negative drop count")
			}
			total += d
		}
		if total > fed {
			t.Fatalf("dropped %d of %d bytes", total, fed)
		}
		if !p.ctx.KeepCredentials {
			for _, tx := range s.Txs {
				if bytes.Contains(tx.Field(FieldCommand), []byte(`"pwd": "`)) {
					t.Fatalf("password not redacted: %s", tx.Field(FieldCommand))
				}
			}
		}
	})
}

// FuzzBSON runs the BSON reader and renderer, the message probe and the
// snappy decoder over random bytes.
func FuzzBSON(f *testing.F) {
	cs, ss := fuzzSeeds()
	for _, m := range append(cs, ss...) {
		f.Add(m[headerLen:])
		f.Add(m)
	}
	f.Add(encDoc(D{{"a", A{D{{"b", A{A{1.5, "x", nil, true, int64(-1)}}}}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, binary.LittleEndian.AppendUint32(nil, uint32(len(b)+4))} {
			if len(in) == 4 {
				in = append(in, b...)
			}
			body, n, complete, ok := docBody(in)
			if ok && complete && (n > len(in) || len(body) != n-5) {
				t.Fatalf("docBody: n %d body %d", n, len(body))
			}
			it := iter{b: body}
			last := 0
			for {
				e, ok := it.next()
				if !ok {
					break
				}
				if it.off <= last || it.off > len(body) || !validType(e.typ) {
					t.Fatalf("iterator at %d after %d", it.off, last)
				}
				last = it.off
				e.num()
				e.integer()
				e.str()
				if d, ok := e.doc(); ok {
					countElems(d)
				}
			}
			for _, redact := range []bool{false, true} {
				r := renderer{limit: l7.MaxField, redact: redact}
				r.document(body, false, 0, false)
				if len(r.out) > l7.MaxField+64 {
					t.Fatalf("rendered %d bytes", len(r.out))
				}
			}
		}
		probe(b)
		Detect(b, flow.ClientToServer, 27017)
		if out := snappyDecode(nil, b, 1000); len(out) > 1000 {
			t.Fatalf("snappy: %d bytes", len(out))
		}
		var inf inflater
		for id := byte(0); id < 4; id++ {
			if out, _ := inf.inflate(id, b, 500); len(out) > 500 {
				t.Fatalf("inflate %d: %d bytes", id, len(out))
			}
		}
	})
}
