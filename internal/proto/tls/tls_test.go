package tls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"
)

// --- builders for synthetic handshakes ---

type ext struct {
	typ  uint16
	data []byte
}

func be16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
func be24(v int) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }

func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }
func vec16(b []byte) []byte { return append(be16(len(b)), b...) }

func u16list(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = append(b, byte(v>>8), byte(v))
	}
	return b
}

func sniExt(name string) ext {
	return ext{extServerName, vec16(append([]byte{0}, vec16([]byte(name))...))}
}

func alpnExt(names ...string) ext {
	var l []byte
	for _, n := range names {
		l = append(l, vec8([]byte(n))...)
	}
	return ext{extALPN, vec16(l)}
}

// clientHelloBody builds a ClientHello body (no handshake header).
func clientHelloBody(version uint16, ciphers []uint16, exts ...ext) []byte {
	b := be16(int(version))
	b = append(b, make([]byte, 32)...)                  // random
	b = append(b, vec8(bytes.Repeat([]byte{7}, 32))...) // session id
	b = append(b, vec16(u16list(ciphers...))...)
	b = append(b, vec8([]byte{0})...) // null compression
	if exts != nil {
		var e []byte
		for _, x := range exts {
			e = append(e, be16(int(x.typ))...)
			e = append(e, vec16(x.data)...)
		}
		b = append(b, vec16(e)...)
	}
	return b
}

func handshakeMsg(typ byte, body []byte) []byte {
	return append(append([]byte{typ}, be24(len(body))...), body...)
}

// records cuts payload into records of at most max bytes.
func records(typ byte, payload []byte, max int) []byte {
	var out []byte
	for len(payload) > 0 {
		n := min(max, len(payload))
		out = append(out, typ, 3, 1)
		out = append(out, be16(n)...)
		out = append(out, payload[:n]...)
		payload = payload[n:]
	}
	return out
}

// The JA4 specification example (FoxIO technical_details/JA4.md): 15
// ciphers, 16 extensions, h2, TLS 1.3, with GREASE sprinkled in, which
// must not count.
var (
	specCiphers = []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	specExts    = []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015}
	specSigAlgs = []uint16{0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}
)

func specClientHelloBytes() []byte {
	var exts []ext
	exts = append(exts, ext{0x1a1a, nil}) // GREASE
	for _, e := range specExts {
		switch e {
		case extServerName:
			exts = append(exts, sniExt("example.com"))
		case extALPN:
			exts = append(exts, alpnExt("h2", "http/1.1"))
		case extSignatureAlgorithms:
			exts = append(exts, ext{e, vec16(u16list(append([]uint16{0x3a3a}, specSigAlgs...)...))})
		case extSupportedVersions:
			exts = append(exts, ext{e, vec8(u16list(0x4a4a, 0x0304, 0x0303))})
		case extSupportedGroups:
			exts = append(exts, ext{e, vec16(u16list(0x5a5a, 0x001d, 0x0017, 0x0018))})
		case extECPointFormats:
			exts = append(exts, ext{e, vec8([]byte{0})})
		default:
			exts = append(exts, ext{e, []byte{0}})
		}
	}
	exts = append(exts, ext{0xfafa, []byte{0}}) // GREASE
	return clientHelloBody(0x0303, append([]uint16{0x0a0a}, specCiphers...), exts...)
}

func TestJA4SpecExample(t *testing.T) {
	ch, err := ParseClientHello(specClientHelloBytes())
	if err != nil {
		t.Fatal(err)
	}
	if ch.SNI != "example.com" || !slices.Equal(ch.ALPN, []string{"h2", "http/1.1"}) || ch.Malformed {
		t.Fatalf("decoded %+v", ch)
	}
	if got, want := JA4(ch, 't'), "t13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("JA4 = %s, spec %s", got, want)
	}
	if got, want := JA4(ch, 'q'), "q13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("JA4 QUIC = %s, want %s", got, want)
	}
	// Spec: "If there are no signature algorithms in the hello packet, then
	// the string ends without an underscore": 6d807ffa2a79.
	noSig := *ch
	noSig.SignatureAlgorithms = nil
	if got, want := JA4(&noSig, 't'), "t13d1516h2_8daaf6152771_6d807ffa2a79"; got != want {
		t.Errorf("JA4 without signature algorithms = %s, spec %s", got, want)
	}
}

// JA4 of FoxIO's sigalg-grease.pcapng (python/test/testdata): a Chrome
// hello with ECH and a GREASE signature algorithm, rebuilt from its raw
// original-order rendering JA4_ro.
func TestJA4SigalgGrease(t *testing.T) {
	ch := &ClientHello{
		LegacyVersion:     0x0303,
		SupportedVersions: []uint16{0x8a8a, 0x0304, 0x0303},
		CipherSuites:      []uint16{0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		Extensions: []uint16{0xdada, 0xfe0d, 0x0010, 0x0017, 0x0033, 0x44cd, 0xff01, 0x000a, 0x000d, 0x0023, 0x002b,
			0x000b, 0xca34, 0x002d, 0x0000, 0x0005, 0x001b, 0x0012, 0x1a1a},
		SignatureAlgorithms: []uint16{0x0904, 0x0905, 0x0906, 0xbaba, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601},
		ALPN:                []string{"h2", "http/1.1"},
	}
	if got, want := JA4(ch, 't'), "t13d1517h2_8daaf6152771_cb7bf5808d99"; got != want {
		t.Errorf("JA4 = %s, FoxIO %s", got, want)
	}
}

func TestJA4Rules(t *testing.T) {
	base := func() *ClientHello {
		return &ClientHello{LegacyVersion: 0x0303, CipherSuites: []uint16{0x002f}, Extensions: []uint16{0x000a}}
	}
	for _, tc := range []struct {
		name string
		mod  func(*ClientHello)
		want string // first section, or the whole fingerprint when longer
	}{
		{"legacy version, no SNI, no ALPN", func(*ClientHello) {}, "t12i010100"},
		{"SSL 3.0", func(c *ClientHello) { c.LegacyVersion = 0x0300 }, "ts3i010100"},
		{"SSL 2.0", func(c *ClientHello) { c.LegacyVersion = 0x0002 }, "ts2i010100"},
		{"unknown", func(c *ClientHello) { c.LegacyVersion = 0x0123 }, "t00i010100"},
		{"DTLS 1.2", func(c *ClientHello) { c.LegacyVersion = 0xfefd }, "td2i010100"},
		{"supported_versions wins, GREASE ignored", func(c *ClientHello) { c.SupportedVersions = []uint16{0x0302, 0xfafa, 0x0304} }, "t13i010100"},
		{"SNI extension present", func(c *ClientHello) { c.Extensions = append(c.Extensions, 0) }, "t12d010200"},
		{"ALPN http/1.1", func(c *ClientHello) { c.ALPN = []string{"http/1.1", "h2"} }, "t12i0101h1"},
		{"ALPN single char", func(c *ClientHello) { c.ALPN = []string{"x"} }, "t12i0101xx"},
		{"ALPN empty first value", func(c *ClientHello) { c.ALPN = []string{"", "h2"} }, "t12i010100"},
		{"ALPN 0xab", func(c *ClientHello) { c.ALPN = []string{"\xab"} }, "t12i0101ab"},
		{"ALPN 0xab 0xcd", func(c *ClientHello) { c.ALPN = []string{"\xab\xcd"} }, "t12i0101ad"},
		{"ALPN 0x30 0xab", func(c *ClientHello) { c.ALPN = []string{"0\xab"} }, "t12i01013b"},
		{"ALPN 0x30 0x31 0xab 0xcd", func(c *ClientHello) { c.ALPN = []string{"01\xab\xcd"} }, "t12i01013d"},
		{"ALPN 0x30 0xab 0xcd 0x31", func(c *ClientHello) { c.ALPN = []string{"0\xab\xcd1"} }, "t12i010101"},
		{"counts capped at 99", func(c *ClientHello) {
			c.CipherSuites = make([]uint16, 150)
			c.Extensions = make([]uint16, 120)
			for i := range c.CipherSuites {
				c.CipherSuites[i] = uint16(i + 1)
			}
			for i := range c.Extensions {
				c.Extensions[i] = uint16(i + 100)
			}
		}, "t12i9999"},
		{"no ciphers, only SNI and ALPN", func(c *ClientHello) {
			c.CipherSuites = []uint16{0x0a0a}
			c.Extensions = []uint16{0, 16}
			c.ALPN = []string{"h2"}
			c.SignatureAlgorithms = []uint16{0x0403}
		}, "t12d0002h2_000000000000_000000000000"},
	} {
		ch := base()
		tc.mod(ch)
		got := JA4(ch, 't')
		if len(got) != 36 || got[10] != '_' || got[23] != '_' || got[:len(tc.want)] != tc.want {
			t.Errorf("%s: JA4 = %s, want prefix %s", tc.name, got, tc.want)
		}
	}
}

func TestJA3(t *testing.T) {
	ch, err := ParseClientHello(specClientHelloBytes())
	if err != nil {
		t.Fatal(err)
	}
	str, sum := JA3(ch)
	want := "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53," +
		"27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0"
	if str != want {
		t.Errorf("JA3 = %s\nwant  %s", str, want)
	}
	if sum != md5Hex([]byte(want)) || len(sum) != 32 {
		t.Errorf("JA3 md5 = %s", sum)
	}
	// No extensions at all: the trailing fields stay, empty (JA3 proper).
	old, err := ParseClientHello(clientHelloBody(0x0301, []uint16{4, 5}))
	if err != nil {
		t.Fatal(err)
	}
	if str, _ := JA3(old); str != "769,4-5,,," {
		t.Errorf("JA3 without extensions = %q", str)
	}

	sh := &ServerHello{LegacyVersion: 0x0303, SelectedVersion: 0x0304, CipherSuite: 0x1301, Extensions: []uint16{0x0033, 0x002b}}
	if str, sum := JA3S(sh); str != "771,4865,51-43" || sum != "eb1d94daa7e0344597e756a1fb6e7054" {
		t.Errorf("JA3S = %s %s, want tshark's 771,4865,51-43 eb1d94daa7e0344597e756a1fb6e7054", str, sum)
	}
}

func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{
		0x0304: "TLS 1.3", 0x0303: "TLS 1.2", 0x0302: "TLS 1.1", 0x0301: "TLS 1.0", 0x0300: "SSL 3.0",
		0x0002: "SSL 2.0", 0xfefd: "DTLS 1.2", 0x7f17: "TLS 1.3 draft 23", 0xfb1a: "TLS 1.3 Facebook draft 26",
		0x2a2a: "GREASE", 0x1234: "0x1234",
	} {
		if got := VersionName(v); got != want {
			t.Errorf("VersionName(%#04x) = %q, want %q", v, got, want)
		}
	}
}

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := 0; v < 1<<16; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if v&0x0f0f != 0x0a0a || v>>8 != v&0xff {
				t.Errorf("%#04x reported GREASE", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, RFC 8701 reserves 16", n)
	}
}

func TestLooks(t *testing.T) {
	ch := records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 1<<14)
	sh := records(recordHandshake, handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0xc02f)), 1<<14)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"ClientHello", ch, true},
		{"ClientHello, first 6 bytes", ch[:6], true},
		{"ServerHello", sh, true},
		{"SSLv2 CLIENT-HELLO", sslv2ClientHello(0x0301), true},
		{"SSLv2 SERVER-HELLO", []byte{0x83, 0xb4, 4, 0, 1, 0, 2}, true},
		{"HTTP", []byte("GET / HTTP/1.1\r\n"), false},
		{"application data", []byte{23, 3, 3, 0, 40, 1, 2, 3}, false},
		{"handshake, not a hello", []byte{22, 3, 3, 0, 40, 11, 0, 0, 36}, false},
		{"record too long", []byte{22, 3, 1, 0x50, 0, 1, 0, 1, 0}, false},
		{"record version 4.1", []byte{22, 4, 1, 0, 40, 1, 0, 0, 36}, false},
		{"hello version 0x0304", []byte{22, 3, 1, 0, 40, 1, 0, 0, 36, 3, 4}, false},
		{"too short", ch[:5], false},
		{"empty", nil, false},
	} {
		if got := Looks(tc.b); got != tc.want {
			t.Errorf("Looks(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func serverHelloBody(version, cipher uint16, exts ...ext) []byte {
	b := be16(int(version))
	b = append(b, make([]byte, 32)...)
	b = append(b, vec8(nil)...)
	b = append(b, be16(int(cipher))...)
	b = append(b, 0)
	if exts != nil {
		var e []byte
		for _, x := range exts {
			e = append(e, be16(int(x.typ))...)
			e = append(e, vec16(x.data)...)
		}
		b = append(b, vec16(e)...)
	}
	return b
}

// sslv2ClientHello is an SSLv2-compatible CLIENT-HELLO offering two TLS
// suites and one SSLv2-only spec.
func sslv2ClientHello(version uint16) []byte {
	specs := []byte{0, 0x00, 0x2f, 0x07, 0x00, 0xc0, 0, 0x00, 0x35}
	chal := bytes.Repeat([]byte{9}, 16)
	msg := append([]byte{1}, be16(int(version))...)
	msg = append(msg, be16(len(specs))...)
	msg = append(msg, be16(0)...)
	msg = append(msg, be16(len(chal))...)
	msg = append(msg, specs...)
	msg = append(msg, chal...)
	return append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...)
}

// feedPieces feeds b in pieces of every size from 1 to 9 and checks that
// the events never depend on the cut.
func feedPieces(t *testing.T, b []byte) ([]Event, error) {
	t.Helper()
	want, werr := feedAll(b, 0)
	for piece := 1; piece < 10; piece++ {
		got, err := feedAll(b, piece)
		if !reflect.DeepEqual(got, want) || !errors.Is(err, werr) && (err == nil) != (werr == nil) {
			t.Fatalf("%d-byte pieces: %v %v, whole: %v %v", piece, describe(got), err, describe(want), werr)
		}
	}
	return want, werr
}

func TestStreamHelloAcrossRecords(t *testing.T) {
	msg := handshakeMsg(typeClientHello, specClientHelloBytes())
	// A hello cut into 50-byte records, as ndpi/tls_*split* captures do.
	evs, err := feedPieces(t, records(recordHandshake, msg, 50))
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
	if ch := evs[0].(*ClientHello); JA4(ch, 't') != "t13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("JA4 = %s", JA4(ch, 't'))
	}
	// Two messages in one record, then application data and an alert.
	flight := append(handshakeMsg(typeServerHello, serverHelloBody(0x0303, 0x1301,
		ext{extSupportedVersions, be16(0x0304)}, alpnExt("h2"))), handshakeMsg(14, nil)...)
	stream := records(recordHandshake, flight, 1<<14)
	stream = append(stream, records(recordChangeCipherSpec, []byte{1}, 1)...)
	stream = append(stream, records(recordApplicationData, make([]byte, 100), 1<<14)...)
	stream = append(stream, records(recordApplicationData, make([]byte, 100), 1<<14)...)
	stream = append(stream, records(recordAlert, make([]byte, 26), 1<<14)...)
	evs, err = feedPieces(t, stream)
	if err != nil || !slices.Equal(describe(evs), []string{"ServerHello", "AppData", "Alert"}) {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
	sh := evs[0].(*ServerHello)
	if sh.SelectedVersion != 0x0304 || sh.LegacyVersion != 0x0303 || sh.ALPN != "h2" || sh.CipherSuite != 0x1301 {
		t.Errorf("ServerHello %+v", sh)
	}
	if a := evs[2].(*Alert); !a.Encrypted {
		t.Errorf("alert after ChangeCipherSpec: %+v", a)
	}
}

func TestStreamAlertAndNotTLS(t *testing.T) {
	evs, err := feedPieces(t, records(recordAlert, []byte{2, 40}, 10))
	if err != nil || len(evs) != 1 || *evs[0].(*Alert) != (Alert{Level: 2, Description: 40}) {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
	var s Stream
	evs, err = s.Feed([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err != nil || len(evs) != 1 || !s.Done() {
		t.Fatalf("HTTP: events %v, err %v", describe(evs), err)
	}
	if _, ok := evs[0].(*NotTLS); !ok {
		t.Fatalf("HTTP: %v", describe(evs))
	}
	if evs, err := s.Feed(records(recordAlert, []byte{2, 40}, 10)); len(evs) != 0 || err != nil {
		t.Errorf("Feed after NotTLS: %v %v", describe(evs), err)
	}
	// A record header that is not TLS after a valid record is an error.
	bad := append(records(recordAlert, []byte{1, 0}, 10), "HTTP/1.1 200 OK\r\n"...)
	evs, err = feedPieces(t, bad)
	if !errors.Is(err, ErrRecord) || len(evs) != 1 {
		t.Errorf("events %v, err %v", describe(evs), err)
	}
}

func TestStreamLimits(t *testing.T) {
	// A ClientHello longer than the cap stops the stream with ErrTooLarge,
	// before the rest of it is buffered.
	huge := clientHelloBody(0x0303, []uint16{0x1301}, ext{0x0015, make([]byte, MaxHandshakeMessage)})
	var s Stream
	_, err := s.Feed(records(recordHandshake, handshakeMsg(typeClientHello, huge), 1<<14)[:1<<15])
	if !errors.Is(err, ErrTooLarge) || !s.Done() {
		t.Fatalf("huge ClientHello: err %v", err)
	}
	if len(s.hs) != 0 {
		t.Errorf("buffer kept %d bytes after failing", len(s.hs))
	}

	// A Certificate message longer than the cap is skipped; its leaf, in
	// the first bytes, is still reported; what follows still decodes.
	der := selfSigned(t, "big.example", time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	list := append(be24(len(der)), der...)
	filler := make([]byte, 70000)
	list = append(list, be24(len(filler))...)
	list = append(list, filler...)
	msg := handshakeMsg(typeCertificate, append(be24(len(list)), list...))
	stream := append(records(recordHandshake, msg, 1<<14), records(recordAlert, []byte{1, 0}, 2)...)
	evs, err := feedPieces(t, stream)
	if err != nil || !slices.Equal(describe(evs), []string{"Certificate", "Alert"}) {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
	c := evs[0].(*Certificate)
	if !c.Truncated || c.SubjectCN != "big.example" || c.ChainLen != 1 || c.Err != nil {
		t.Errorf("certificate %+v", c)
	}
}

func selfSigned(t testing.TB, cn string, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Wirewatch Test"}},
		Issuer:       pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     notAfter,
		DNSNames:     []string{cn, "www." + cn},
		IPAddresses:  []net.IP{net.IPv4(192, 0, 2, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func certificateMsg(certs ...[]byte) []byte {
	var list []byte
	for _, c := range certs {
		list = append(list, be24(len(c))...)
		list = append(list, c...)
	}
	return handshakeMsg(typeCertificate, append(be24(len(list)), list...))
}

func TestCertificate(t *testing.T) {
	notAfter := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	der := selfSigned(t, "leaf.example", notAfter)
	evs, err := feedPieces(t, records(recordHandshake, certificateMsg(der, []byte("not a certificate")), 300))
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
	c := evs[0].(*Certificate)
	if c.SubjectCN != "leaf.example" || c.IssuerCN != "leaf.example" || !c.NotAfter.Equal(notAfter) ||
		!slices.Equal(c.SANs, []string{"leaf.example", "www.leaf.example", "192.0.2.1"}) ||
		c.ChainLen != 2 || c.LeafLen != len(der) || c.Err != nil || c.Subject != "CN=leaf.example,O=Wirewatch Test" {
		t.Errorf("certificate %+v", c)
	}

	// A leaf crypto/x509 refuses (trailing bytes after the DER) still
	// yields its names through the lenient decoding, with Err set.
	evs, _ = feedAll(records(recordHandshake, certificateMsg(append(der, 0, 0)), 1<<14), 0)
	c = evs[0].(*Certificate)
	if c.Err == nil || c.SubjectCN != "leaf.example" || c.IssuerCN != "leaf.example" || !c.NotAfter.Equal(notAfter) {
		t.Errorf("lenient certificate %+v", c)
	}

	// Garbage and lies: an event with Err, never a stopped stream.
	for _, body := range [][]byte{nil, {0, 0, 0}, {0, 0, 9, 0, 0, 200, 1}, append(be24(5), be24(2)...)} {
		evs, err := feedAll(records(recordHandshake, handshakeMsg(typeCertificate, body), 1<<14), 0)
		if err != nil || len(evs) != 1 || evs[0].(*Certificate).Err == nil {
			t.Errorf("certificate body %x: events %v err %v", body, describe(evs), err)
		}
	}
}

func TestStreamAfterChangeCipherSpec(t *testing.T) {
	// TLS 1.2: the Finished after ChangeCipherSpec is ciphertext in a
	// handshake record and must be skipped, not decoded.
	finished := make([]byte, 40)
	for i := range finished {
		finished[i] = byte(i*37 + 1)
	}
	stream := records(recordChangeCipherSpec, []byte{1}, 1)
	stream = append(stream, records(recordHandshake, finished, 1<<14)...)
	// TLS 1.3 HelloRetryRequest in middlebox-compatibility mode: the second
	// ClientHello comes in clear after the client's ChangeCipherSpec.
	stream = append(stream, records(recordHandshake, handshakeMsg(typeClientHello, specClientHelloBytes()), 100)...)
	evs, err := feedPieces(t, stream)
	if err != nil || !slices.Equal(describe(evs), []string{"ClientHello"}) {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
}

func TestSSLv2(t *testing.T) {
	evs, err := feedPieces(t, append(sslv2ClientHello(0x0301), records(recordHandshake, handshakeMsg(16, make([]byte, 20)), 100)...))
	if err != nil || len(evs) != 1 {
		t.Fatalf("events %v, err %v", describe(evs), err)
	}
	ch := evs[0].(*ClientHello)
	if !ch.SSLv2 || ch.LegacyVersion != 0x0301 || !slices.Equal(ch.CipherSuites, []uint16{0x002f, 0x0035}) {
		t.Errorf("SSLv2 hello %+v", ch)
	}
	if got := JA4(ch, 't'); got[:10] != "t10i020000" {
		t.Errorf("JA4 of SSLv2 hello = %s", got)
	}
	// A pure SSL 2.0 client goes on in SSLv2 records: the stream ends
	// quietly, no error.
	evs, err = feedPieces(t, append(sslv2ClientHello(0x0002), 0x81, 0x12, 2, 7, 0))
	if err != nil || len(evs) != 1 || !evs[0].(*ClientHello).SSLv2 {
		t.Errorf("SSL 2.0 client: events %v err %v", describe(evs), err)
	}
	// An SSL 2.0 SERVER-HELLO carries the certificate in clear.
	der := selfSigned(t, "v2.example", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	specs := []byte{1, 0, 0x80, 7, 0, 0xc0}
	msg := []byte{4, 0, 1, 0, 2}
	msg = append(msg, be16(len(der))...)
	msg = append(msg, be16(len(specs))...)
	msg = append(msg, be16(16)...)
	msg = append(msg, der...)
	msg = append(msg, specs...)
	msg = append(msg, make([]byte, 16)...)
	rec := append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...)
	evs, err = feedPieces(t, rec)
	if err != nil || !slices.Equal(describe(evs), []string{"ServerHello", "Certificate"}) {
		t.Fatalf("SSL 2.0 server: events %v err %v", describe(evs), err)
	}
	if sh := evs[0].(*ServerHello); !sh.SSLv2 || VersionName(sh.SelectedVersion) != "SSL 2.0" {
		t.Errorf("SSLv2 server hello %+v", sh)
	}
	if c := evs[1].(*Certificate); c.SubjectCN != "v2.example" {
		t.Errorf("SSLv2 certificate %+v", c)
	}
	// Bytes that only look like an SSLv2 header for 5 bytes: not TLS.
	evs, err = feedPieces(t, []byte{0x80, 0x0c, 4, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9})
	if err != nil || !slices.Equal(describe(evs), []string{"NotTLS"}) {
		t.Errorf("fake SSLv2: events %v err %v", describe(evs), err)
	}
}

func TestParseClientHelloMalformed(t *testing.T) {
	good := specClientHelloBytes()
	// Every truncation inside the fixed fields is ErrMalformed; every
	// truncation inside the extensions decodes with Malformed set.
	fixed := 2 + 32 + 1 + 32 + 2 + 2*16 + 2
	for n := 0; n < len(good); n++ {
		ch, err := ParseClientHello(good[:n])
		switch {
		case n < fixed:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("cut at %d: err %v", n, err)
			}
		case err != nil:
			t.Fatalf("cut at %d: %v", n, err)
		case n > fixed && !ch.Malformed:
			t.Fatalf("cut at %d: not marked malformed", n)
		}
	}
	// An SNI extension whose inner length lies (ssl-malformed1.pcap): the
	// other extensions are still decoded.
	body := clientHelloBody(0x0302, []uint16{0xc014}, ext{extServerName, []byte{1}}, ext{extECPointFormats, vec8([]byte{0, 1})})
	ch, err := ParseClientHello(body)
	if err != nil || !ch.Malformed || ch.SNI != "" || !bytes.Equal(ch.ECPointFormats, []byte{0, 1}) || len(ch.Extensions) != 2 {
		t.Errorf("%+v %v", ch, err)
	}
}

func TestParseServerHello(t *testing.T) {
	hrr := serverHelloBody(0x0303, 0x1301, ext{extSupportedVersions, be16(0x0304)})
	copy(hrr[2:], helloRetryRandom[:])
	sh, err := ParseServerHello(hrr)
	if err != nil || !sh.HelloRetryRequest || sh.SelectedVersion != 0x0304 {
		t.Errorf("%+v %v", sh, err)
	}
	if _, err := ParseServerHello(hrr[:37]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short ServerHello: %v", err)
	}
	// TLS 1.3 draft 18 (seen in bench/mixed_l7_concat_bench.pcap): no
	// session id, no compression method.
	draft := append(append(be16(0x7f12), make([]byte, 32)...), be16(0x1301)...)
	draft = append(draft, vec16(append(be16(40), vec16(make([]byte, 36))...))...)
	sh, err = ParseServerHello(draft)
	if err != nil || sh.CipherSuite != 0x1301 || !slices.Equal(sh.Extensions, []uint16{40}) || sh.Malformed ||
		VersionName(sh.SelectedVersion) != "TLS 1.3 draft 18" {
		t.Errorf("draft ServerHello %+v %v", sh, err)
	}
	if str, _ := JA3S(sh); str != "32530,4865,40" { // tshark's JA3S of that packet
		t.Errorf("draft JA3S %s", str)
	}
	sh, err = ParseServerHello(serverHelloBody(0x0301, 0x0005))
	if err != nil || sh.SelectedVersion != 0x0301 || sh.Extensions != nil || sh.Malformed {
		t.Errorf("%+v %v", sh, err)
	}
}
