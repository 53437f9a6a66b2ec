package storeutil

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/wirewatch/wirewatch/internal/store"
)

// The two backends' codecs, as they use them.
var codecs = []CursorCodec{{Kind: 'f'}, {Kind: 't'}, {Kind: 'F', Idx: true}, {Kind: 'T', Idx: true}}

// TestCursorLayout builds cursors byte by byte as docs/store.md describes
// them (kind, big-endian key, CRC-32 of what precedes, URL-safe base64
// without padding) and checks that the codec writes and reads exactly
// those, and refuses them under another kind or with a byte changed.
func TestCursorLayout(t *testing.T) {
	c := Cursor{TS: -5, ID: 1<<63 + 7, Idx: 1<<31 + 3}
	for _, cc := range codecs {
		b := []byte{cc.Kind}
		b = binary.BigEndian.AppendUint64(b, uint64(c.TS))
		b = binary.BigEndian.AppendUint64(b, c.ID)
		want := c
		if cc.Idx {
			b = binary.BigEndian.AppendUint32(b, c.Idx)
		} else {
			want.Idx = 0
		}
		b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
		text := base64.RawURLEncoding.EncodeToString(b)
		if got := cc.Encode(c); got != text {
			t.Errorf("%c: Encode = %q, want %q", cc.Kind, got, text)
		}
		got, ok, err := cc.Decode(text)
		if err != nil || !ok || got != want {
			t.Errorf("%c: Decode(%q) = %+v, %v, %v; want %+v", cc.Kind, text, got, ok, err, want)
		}
		for _, other := range codecs {
			if other == cc {
				continue
			}
			if _, _, err := other.Decode(text); !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("%c cursor decoded as %c: %v", cc.Kind, other.Kind, err)
			}
		}
		for i := range b {
			bad := append([]byte(nil), b...)
			bad[i] ^= 0x10
			if _, _, err := cc.Decode(base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("%c: byte %d changed: %v", cc.Kind, i, err)
			}
		}
	}
	if c, ok, err := codecs[0].Decode(""); ok || err != nil || c != (Cursor{}) {
		t.Errorf(`Decode("") = %+v, %v, %v; want the first page`, c, ok, err)
	}
}

// FuzzCursor: a cursor comes from an API client and is untrusted.
// Anything but a cursor handed out for that kind of query is an error
// wrapping store.ErrBadQuery, never a panic, and what decodes encodes
// back to the same text.
func FuzzCursor(f *testing.F) {
	for _, cc := range codecs {
		f.Add(cc.Encode(Cursor{TS: 1, ID: 2, Idx: 3}))
		f.Add(cc.Encode(Cursor{TS: -1, ID: 1 << 63, Idx: 1 << 31}))
	}
	f.Add("")
	f.Add("AAAA")
	f.Add("!!!!")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		for _, cc := range codecs {
			c, ok, err := cc.Decode(s)
			if err != nil {
				if !errors.Is(err, store.ErrBadQuery) {
					t.Fatalf("%c: Decode(%q): %v is not ErrBadQuery", cc.Kind, s, err)
				}
				continue
			}
			if ok && cc.Encode(c) != s {
				t.Fatalf("%c: Decode(%q) = %+v, which encodes to %q", cc.Kind, s, c, cc.Encode(c))
			}
		}
	})
}
