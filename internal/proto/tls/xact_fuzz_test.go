package tls

import (
	"path/filepath"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

var fieldOrder = map[string]int{
	FieldSNI: 1, FieldALPN: 2, FieldALPNSelected: 3, FieldVersions: 4, FieldVersion: 5, FieldCipher: 6,
	FieldJA3: 7, FieldJA3S: 8, FieldJA4: 9, FieldCertSubject: 10, FieldCertIssuer: 11, FieldCertSANs: 12,
	FieldCertNotAfter: 13, FieldAlert: 14,
}

// checkTx holds a transaction to the Sink contract and this package's
// record format.
func checkTx(t testing.TB, tx *l7.Transaction) {
	t.Helper()
	switch tx.Outcome {
	case l7.OutcomeNoResponse:
		if tx.ReqTS == 0 || tx.RespTS != 0 {
			t.Fatalf("no_response: %s", txString(tx))
		}
	case l7.OutcomeNoRequest:
		if tx.ReqTS != 0 || tx.RespTS == 0 {
			t.Fatalf("no_request: %s", txString(tx))
		}
	case l7.OutcomeOK, l7.OutcomeClientError, l7.OutcomeServerError:
		if tx.ReqTS == 0 || tx.RespTS == 0 || tx.RespTS < tx.ReqTS || len(tx.Status) == 0 {
			t.Fatalf("%s: %s", tx.Outcome, txString(tx))
		}
		if tx.Outcome == l7.OutcomeOK && tx.Field(FieldVersion) == nil || tx.Outcome != l7.OutcomeOK && tx.Field(FieldAlert) == nil {
			t.Fatalf("%s: %s", tx.Outcome, txString(tx))
		}
	default:
		t.Fatalf("outcome %v", tx.Outcome)
	}
	if string(tx.Op) != "handshake" || len(tx.Target) > l7.MaxField || len(tx.Status) > l7.MaxField {
		t.Fatalf("op/target/status: %s", txString(tx))
	}
	last := 0
	for _, f := range tx.Fields {
		o := fieldOrder[f.Key]
		if o <= last || len(f.Value) > l7.MaxField {
			t.Fatalf("field %q out of order, unknown or too long: %s", f.Key, txString(tx))
		}
		last = o
	}
	if ja4 := tx.Field(FieldJA4); ja4 != nil && len(ja4) != 36 {
		t.Fatalf("ja4 %q", ja4)
	}
}

// FuzzTLSParser feeds both directions of a flow with fuzzer bytes cut at
// fuzzer-chosen points, with gaps, as the Tracker would (nothing after
// Stop), and holds the parser to: no panic, at most one transaction,
// nothing after End, a transaction whenever a ClientHello was decoded,
// and the record format. Script: the first byte picks whether the flow
// starts mid-stream; then steps of a control byte (bit 0 direction, bits
// 1-2: data, gap, gap of unknown size; bits 3-7 and the next byte a
// length) and data.
func FuzzTLSParser(f *testing.F) {
	step := func(dir flow.Dir, b []byte) []byte {
		return append([]byte{byte(dir) | byte(len(b)>>8)<<3, byte(len(b))}, b...)
	}
	add := func(c2sData, s2cData []byte) {
		s := []byte{0}
		for len(c2sData) > 0 || len(s2cData) > 0 {
			n := min(len(c2sData), 700)
			s = append(s, step(flow.ClientToServer, c2sData[:n])...)
			c2sData = c2sData[n:]
			n = min(len(s2cData), 900)
			s = append(s, step(flow.ServerToClient, s2cData[:n])...)
			s2cData = s2cData[n:]
		}
		f.Add(s)
	}
	if dir := corpus.Dir(); dir != "" {
		for _, rel := range fuzzSeedFiles {
			dirs, _, err := readCaptureErr(filepath.Join(dir, rel))
			if err != nil {
				continue
			}
			for i := 0; i+1 < len(dirs); i += 2 {
				add(dirs[i].Data[:min(len(dirs[i].Data), 3000)], dirs[i+1].Data[:min(len(dirs[i+1].Data), 3000)])
			}
		}
	}
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 100)
	sh := records(recordHandshake, handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0x1301, ext{extSupportedVersions, u16list(0x0304)})), 100)
	add(ch, sh)
	add(ch, records(recordAlert, []byte{2, 40}, 10))
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) == 0 {
			return
		}
		sink := &l7test.Sink{}
		h := Protocol.New(sink.Context(l7.TCP)).(*handle)
		p := h.p
		ts := int64(1)
		if script[0]&1 != 0 {
			p.Gap(flow.ClientToServer, -1, ts)
		}
		script = script[1:]
		hellos := 0
		for len(script) >= 2 && !sink.Stopped {
			c, n := script[0], int(script[0]>>3)<<8|int(script[1])
			script = script[2:]
			dir := flow.Dir(c & 1)
			ts++
			switch c >> 1 & 3 {
			case 0, 1:
				n = min(n, len(script))
				p.Data(dir, script[:n], ts)
				script = script[n:]
			case 2:
				p.Gap(dir, int64(n), ts)
			default:
				p.Gap(dir, -1, ts)
			}
			for i := range p.streams {
				if p.streams[i].Buffered() > MaxHandshakeMessage+16 {
					t.Fatalf("stream %d holds %d bytes", i, p.streams[i].Buffered())
				}
			}
			if p.ch != nil {
				hellos = 1
			}
		}
		h.End(ts + 1)
		n := len(sink.Txs)
		h.End(ts + 2)
		h.Data(flow.ClientToServer, ch, ts+3)
		h.Gap(flow.ClientToServer, 5, ts+3)
		if len(sink.Txs) != n {
			t.Fatal("transactions after End")
		}
		if n > 1 || n < hellos {
			t.Fatalf("%d transactions, ClientHello seen: %d", n, hellos)
		}
		for _, tx := range sink.Txs {
			checkTx(t, tx)
		}
	})
}
