package tls

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

const (
	c2s = flow.ClientToServer
	s2c = flow.ServerToClient
)

func txString(t *l7.Transaction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q %s req=%d/%d resp=%d/%d flags=%d", t.Outcome, t.Op, t.Target, t.Status, t.ReqTS, t.ReqBytes, t.RespTS, t.RespBytes, t.Flags)
	for _, f := range t.Fields {
		fmt.Fprintf(&b, " %s=%s", f.Key, f.Value)
	}
	return b.String()
}

type tlsStep struct {
	dir  flow.Dir
	data []byte
}

// runSteps feeds steps (each cut by cuts) and ends the flow, as the
// Tracker does: nothing is fed after Stop.
func runSteps(steps []tlsStep, cuts func(i int, b []byte) [][]byte) *l7test.Sink {
	s := &l7test.Sink{}
	p := Protocol.New(s.Context(l7.TCP))
	ts := int64(100)
	for i, st := range steps {
		for _, piece := range cuts(i, st.data) {
			if s.Stopped {
				break
			}
			p.Data(st.dir, piece, ts)
			ts++
		}
	}
	p.End(ts)
	return s
}

func whole(_ int, b []byte) [][]byte { return [][]byte{b} }

var appData = records(recordApplicationData, []byte("0123456789abcdef0123"), 100)

func tls12Handshake(t testing.TB) ([]tlsStep, []byte) {
	der := selfSigned(t, "example.com", time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC))
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 16384)
	sh := handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0xc02f, ext{extALPN, vec16(vec8([]byte("h2")))}))
	flight := records(recordHandshake, append(append(sh, certificateMsg(der)...), handshakeMsg(14, nil)...), 300)
	ccs := records(recordChangeCipherSpec, []byte{1}, 10)
	fin := records(recordHandshake, make([]byte, 40), 100) // encrypted Finished
	return []tlsStep{
		{c2s, ch},
		{s2c, flight},
		{c2s, append(append(records(recordHandshake, make([]byte, 70), 100), ccs...), fin...)},
		{s2c, append(ccs, fin...)},
		{c2s, appData},
		{s2c, appData},
		{c2s, appData}, // after Stop: not fed
	}, der
}

func TestTLS12Handshake(t *testing.T) {
	steps, der := tls12Handshake(t)
	s := runSteps(steps, whole)
	if len(s.Txs) != 1 || !s.Stopped {
		t.Fatalf("%d transactions, stopped %v", len(s.Txs), s.Stopped)
	}
	ch, _ := ParseClientHello(specClientHelloBytes())
	_, ja3 := JA3(ch)
	// The response ends with the record that completed the Certificate:
	// the server's flight (ServerHello, Certificate, ServerHelloDone) is
	// cut into records of 300 bytes.
	shLen := len(handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0xc02f, ext{extALPN, vec16(vec8([]byte("h2")))})))
	payload := shLen + len(certificateMsg(der))
	certEnd := min((payload+299)/300*305, len(steps[1].data))
	want := fmt.Sprintf(`ok handshake "example.com" TLS 1.2 req=100/%d resp=101/%d flags=0 sni=example.com alpn=h2,http/1.1 alpn_selected=h2 versions=TLS 1.3,TLS 1.2 version=TLS 1.2 cipher=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ja3=%s`,
		len(steps[0].data), certEnd, ja3)
	got := txString(s.Txs[0])
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got  %s\nwant %s...", got, want)
	}
	tx := s.Txs[0]
	if string(tx.Field(FieldJA4)) != JA4(ch, 't') || len(tx.Field(FieldJA3S)) != 32 ||
		string(tx.Field(FieldCertSubject)) != "CN=example.com,O=Wirewatch Test" || string(tx.Field(FieldCertIssuer)) != "CN=example.com,O=Wirewatch Test" ||
		string(tx.Field(FieldCertSANs)) != "example.com,www.example.com,192.0.2.1" || string(tx.Field(FieldCertNotAfter)) != "2031-05-06T07:08:09Z" {
		t.Errorf("fields: %s", got)
	}
	// Chunking does not matter: cut every step at every position.
	for i := range steps {
		for cut := 1; cut < len(steps[i].data); cut += 1 + len(steps[i].data)/200 {
			g := runSteps(steps, func(j int, b []byte) [][]byte {
				if j != i {
					return [][]byte{b}
				}
				return [][]byte{b[:cut], b[cut:]}
			})
			if len(g.Txs) != 1 || !g.Stopped {
				t.Fatalf("step %d cut %d: %d transactions", i, cut, len(g.Txs))
			}
			c := *g.Txs[0]
			c.ReqTS, c.RespTS = s.Txs[0].ReqTS, s.Txs[0].RespTS
			if txString(&c) != got {
				t.Fatalf("step %d cut %d:\n%s\n%s", i, cut, txString(&c), got)
			}
		}
	}
}

func TestTLS13HandshakeStopsAtServerHello(t *testing.T) {
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 16384)
	sh := records(recordHandshake, handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0x1301, ext{extSupportedVersions, u16list(0x0304)})), 16384)
	ccs := records(recordChangeCipherSpec, []byte{1}, 10)
	s := runSteps([]tlsStep{{c2s, ch}, {s2c, append(append(sh, ccs...), appData...)}, {c2s, appData}}, whole)
	if len(s.Txs) != 1 || !s.Stopped {
		t.Fatalf("%d transactions, stopped %v", len(s.Txs), s.Stopped)
	}
	tx := s.Txs[0]
	if tx.Outcome != l7.OutcomeOK || string(tx.Status) != "TLS 1.3" || string(tx.Field(FieldCipher)) != "TLS_AES_128_GCM_SHA256" || tx.RespTS != 101 {
		t.Errorf("%s", txString(tx))
	}
}

func TestAlerts(t *testing.T) {
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 16384)
	alert := func(level, desc byte) []byte { return records(recordAlert, []byte{level, desc}, 10) }
	sh := records(recordHandshake, handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0x002f)), 16384)
	for _, tc := range []struct {
		name  string
		steps []tlsStep
		want  string
	}{
		{"server refuses", []tlsStep{{c2s, ch}, {s2c, alert(2, 40)}},
			`client_error handshake "example.com" handshake_failure`},
		{"server fails", []tlsStep{{c2s, ch}, {s2c, alert(2, 80)}},
			`server_error handshake "example.com" internal_error`},
		{"client rejects the certificate", []tlsStep{{c2s, ch}, {s2c, sh}, {c2s, alert(2, 48)}},
			`server_error handshake "example.com" unknown_ca`},
		{"warning then no answer", []tlsStep{{c2s, ch}, {s2c, alert(1, 112)}},
			`no_response handshake "example.com" `},
		{"no server hello", []tlsStep{{c2s, ch}},
			`no_response handshake "example.com" `},
	} {
		s := runSteps(tc.steps, whole)
		if len(s.Txs) != 1 || !strings.HasPrefix(txString(s.Txs[0]), tc.want) {
			t.Errorf("%s: %d transactions: %v", tc.name, len(s.Txs), s.Txs)
			continue
		}
		if a := s.Txs[0].Field(FieldAlert); strings.Contains(tc.want, "error") != (a != nil) {
			t.Errorf("%s: alert field %q", tc.name, a)
		}
	}
	s := runSteps([]tlsStep{{c2s, ch}, {s2c, alert(2, 40)}}, whole)
	if got := string(s.Txs[0].Field(FieldAlert)); got != "server: handshake_failure" || !s.Stopped {
		t.Errorf("alert field %q", got)
	}
}

func TestGapsAndNotTLS(t *testing.T) {
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 100)

	// Mid-stream start inside application data: the handshake was
	// missed, stop at once.
	s := &l7test.Sink{}
	p := Protocol.New(s.Context(l7.TCP))
	p.Gap(c2s, -1, 1)
	p.Data(c2s, appData[3:], 2)
	if !s.Stopped || s.Drops[l7.DropResync] != len(appData)-3 {
		t.Errorf("mid-stream start did not stop: drops %v", s.Drops)
	}
	p.End(3)
	if len(s.Txs) != 0 {
		t.Errorf("mid-stream: %v", s.Txs)
	}

	// Mid-stream start (no SYN captured) right at the handshake: decoded.
	s = &l7test.Sink{}
	p = Protocol.New(s.Context(l7.TCP))
	p.Gap(c2s, -1, 1)
	p.Data(c2s, ch, 2)
	p.Gap(s2c, -1, 3)
	p.Data(s2c, records(recordHandshake, handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0x1301, ext{extSupportedVersions, u16list(0x0304)})), 100), 4)
	p.End(5)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeOK || !s.Stopped {
		t.Errorf("no SYN: %v", s.Txs)
	}

	// A hole in the server's flight: report the ClientHello, flagged.
	s = &l7test.Sink{}
	p = Protocol.New(s.Context(l7.TCP))
	p.Data(c2s, ch, 1)
	p.Data(s2c, []byte{22, 3, 3, 0, 80, 2, 0}, 2)
	p.Gap(s2c, 100, 3)
	p.End(4)
	// The 2 bytes of the ServerHello held when the hole came are lost.
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeNoResponse || s.Txs[0].Flags&l7.FlagTruncated == 0 || !s.Stopped || s.Drops[l7.DropGap] != 2 {
		t.Errorf("gap: %v, drops %v", s.Txs, s.Drops)
	}

	// The server answers in plain text.
	s = &l7test.Sink{}
	p = Protocol.New(s.Context(l7.TCP))
	p.Data(c2s, ch, 1)
	p.Data(s2c, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), 2)
	p.End(3)
	if len(s.Txs) != 1 || s.Txs[0].Outcome != l7.OutcomeNoResponse || s.Drops[l7.DropMalformed] != 28 || !s.Stopped {
		t.Errorf("not TLS: %v, drops %v", s.Txs, s.Drops)
	}
}

func TestDetect(t *testing.T) {
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 16384)
	for _, tc := range []struct {
		b    []byte
		want l7.Verdict
	}{
		{ch, l7.Yes}, {ch[:6], l7.Yes}, {ch[:3], l7.NeedMore}, {nil, l7.NeedMore},
		{sslv2ClientHello(0x0301), l7.Yes}, {[]byte("GET / HTTP/1.1\r\n"), l7.No}, {[]byte{23, 3, 3, 0, 10, 0}, l7.No},
	} {
		if got := Protocol.Detect(tc.b, c2s, 443); got != tc.want {
			t.Errorf("%x: %v, want %v", tc.b[:min(len(tc.b), 8)], got, tc.want)
		}
	}
}
