package http

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// TestScanLine checks scanLine against the obvious loops, for every
// position of '\n' and ':' in lines up to 40 bytes.
func TestScanLine(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for lf := 0; lf <= n; lf++ {
			for c := 0; c <= n; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				if c < n {
					b[c] = ':'
				}
				if lf < n {
					b[lf] = '\n'
				}
				gotC, gotLF := scanLine(b)
				wantLF := bytes.IndexByte(b, '\n')
				end := wantLF
				if end < 0 {
					end = len(b)
				}
				wantC := bytes.IndexByte(b[:end], ':')
				if wantC < 0 {
					wantC = len(b)
				}
				if gotLF != wantLF || gotLF >= 0 && gotC != wantC {
					t.Fatalf("%q: (%d, %d), want (%d, %d)", b, gotC, gotLF, wantC, wantLF)
				}
			}
		}
	}
}

// TestHostileBounds feeds what an attacker controls past the limits and
// checks that memory stays bounded and every byte is accounted for.
func TestHostileBounds(t *testing.T) {
	ctx := func(s *l7test.Sink) l7.Context { return s.Context(l7.TCP) }
	get := crlf("GET /x HTTP/1.1", "Host: h")

	// 10,000 pipelined requests, no response: at most MaxPending (64)
	// wait; the older ones go out no_response as newer ones come.
	s := &l7test.Sink{}
	p := NewParser(ctx(s))
	p.Data(c2s, []byte(strings.Repeat(get, 10000)), 1)
	if p.q.n != 64 || len(p.q.s) != 64 || len(s.Txs) != 10000-64 {
		t.Errorf("%d pending in %d slots, %d emitted", p.q.n, len(p.q.s), len(s.Txs))
	}
	p.End(2)
	if len(s.Txs) != 10000 {
		t.Errorf("%d transactions", len(s.Txs))
	}

	// A header line of 1 MiB, in 1 KiB pieces: dropped once past
	// MaxMessage (64 KiB) without being held, the next request read.
	s = &l7test.Sink{}
	p = NewParser(ctx(s))
	p.Data(c2s, []byte("GET / HTTP/1.1\r\nX-Big: "), 1)
	piece := bytes.Repeat([]byte{'b'}, 1024)
	maxHeld := 0
	for range 1024 {
		p.Data(c2s, piece, 1)
		maxHeld = max(maxHeld, p.h[c2s].buf.Len())
	}
	p.Data(c2s, []byte("\r\n\r\n"+get), 1)
	p.Data(s2c, []byte(crlf("HTTP/1.1 204 No Content")), 1)
	p.End(2)
	total := len("GET / HTTP/1.1\r\nX-Big: ") + 1024*1024 + len("\r\n\r\n")
	if maxHeld > 64<<10 || len(s.Txs) != 1 || string(s.Txs[0].Target) != "/x" ||
		s.Drops[l7.DropTooLarge]+s.Drops[l7.DropResync] != total {
		t.Errorf("held %d; %s", maxHeld, describeAll(s))
	}

	// Bodies that claim 2^59 bytes (chunked) and 10^18-1 bytes
	// (Content-Length) are counted, not allocated; 19 digits are not a
	// length.
	s = &l7test.Sink{}
	p = NewParser(ctx(s))
	p.Data(c2s, []byte(get+get+get), 1)
	p.Data(s2c, []byte(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked")+"800000000000000\r\n"), 1)
	p.Data(s2c, bytes.Repeat([]byte{'z'}, 100000), 1)
	p.End(2)
	if len(s.Txs) != 3 || s.Txs[0].Flags&l7.FlagTruncated == 0 || s.Txs[0].RespBytes < 100000 {
		t.Errorf("%s", describeAll(s))
	}
	for _, cl := range []string{"999999999999999999", "9999999999999999999", "-1", "1e3", "0x10", "1 2"} {
		s = &l7test.Sink{}
		p = NewParser(ctx(s))
		p.Data(c2s, []byte(get), 1)
		resp := crlf("HTTP/1.1 200 OK", "Content-Length: "+cl)
		p.Data(s2c, []byte(resp+"abc"), 1)
		p.End(2)
		valid := cl == "999999999999999999"
		if len(s.Txs) != 1 || s.Txs[0].Flags&l7.FlagTruncated == 0 ||
			valid && s.Txs[0].RespBytes != int64(len(resp)+3) || !valid && s.Drops[l7.DropResync] != 3 {
			t.Errorf("Content-Length %q: %s", cl, describeAll(s))
		}
	}

	// 5,000 header lines within MaxMessage: the header text stops at
	// MaxField, the transaction is marked truncated, the Host found.
	s = &l7test.Sink{}
	p = NewParser(ctx(s))
	var many strings.Builder
	many.WriteString("GET /many HTTP/1.1\r\n")
	for range 5000 {
		many.WriteString("A: b\r\n")
	}
	many.WriteString("Host: late.example\r\n\r\n")
	p.Data(c2s, []byte(many.String()), 1)
	p.End(2)
	if len(s.Txs) != 1 || len(s.Txs[0].Field(FieldRequestHeaders)) != l7.MaxField ||
		s.Txs[0].Flags&l7.FlagTruncated == 0 || string(s.Txs[0].Field(FieldHost)) != "late.example" {
		t.Errorf("%d transactions, %d bytes of header text, flags %b, host %q", len(s.Txs),
			len(s.Txs[0].Field(FieldRequestHeaders)), s.Txs[0].Flags, s.Txs[0].Field(FieldHost))
	}
}
