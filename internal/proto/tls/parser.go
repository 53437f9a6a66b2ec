package tls

// The L7 glue: Protocol, the detector, and the handshake transaction
// parser. What it emits is described in the package comment (tls.go).

import (
	"strconv"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Protocol declares TLS to the probe. Detection is by content on any
// port (a handshake record carrying a hello, or an SSLv2 hello); the
// ports are the usual TLS services, which only order the detectors.
var Protocol = &l7.Protocol{
	Name: "tls",
	TCP:  true,
	// HTTPS, alternative HTTPS, IMAPS, POP3S, SMTPS (submission), LDAPS,
	// DNS over TLS, FTPS, SIPS, MQTT over TLS, WinRM over HTTPS, IRCS.
	Ports:  []uint16{443, 8443, 993, 995, 465, 636, 853, 990, 5061, 8883, 5986, 6697},
	Detect: detect,
	New:    newParser,
}

// Field keys, in the order they appear in a transaction.
const (
	FieldSNI          = "sni"            // server_name the client asked for
	FieldALPN         = "alpn"           // ALPN protocols offered, comma-separated
	FieldALPNSelected = "alpn_selected"  // ALPN protocol the server chose
	FieldVersions     = "versions"       // versions offered (supported_versions, else the hello's version), comma-separated
	FieldVersion      = "version"        // version negotiated
	FieldCipher       = "cipher"         // cipher suite selected: IANA name, or 0x and four hex digits
	FieldJA3          = "ja3"            // JA3 of the ClientHello (MD5, hex)
	FieldJA3S         = "ja3s"           // JA3S of the ServerHello (MD5, hex)
	FieldJA4          = "ja4"            // JA4 of the ClientHello
	FieldCertSubject  = "cert_subject"   // leaf certificate subject (RFC 2253), TLS 1.2 and earlier
	FieldCertIssuer   = "cert_issuer"    // leaf certificate issuer (RFC 2253)
	FieldCertSANs     = "cert_sans"      // leaf certificate DNS and IP SANs, comma-separated, at most maxSANs
	FieldCertNotAfter = "cert_not_after" // leaf certificate expiry, RFC 3339 UTC
	FieldAlert        = "alert"          // the fatal alert that ended the handshake, and who sent it: "client: unknown_ca"
)

// maxSANs bounds the names listed in cert_sans (a CDN certificate can
// carry hundreds).
const maxSANs = 16

func detect(b []byte, _ flow.Dir, _ uint16) l7.Verdict {
	if Looks(b) {
		return l7.Yes
	}
	// Too short to tell, but what is there is the start of a handshake
	// record or of an SSLv2 hello.
	if len(b) < 6 && (len(b) < 1 || b[0] == recordHandshake && (len(b) < 2 || b[1] == 3) || b[0]&0x80 != 0 && len(b) < 5) {
		return l7.NeedMore
	}
	return l7.No
}

type parser struct {
	ctx     l7.Context
	streams [2]Stream
	seen    [2]bool
	midway  [2]bool  // the direction started mid-stream (Gap(-1) before its first byte)
	firstTS [2]int64 // ts of each direction's first Data call
	appData [2]bool

	ch      *ClientHello
	chDir   flow.Dir
	reqTS   int64
	reqSize int64

	sh       *ServerHello // the final ServerHello (not a HelloRetryRequest)
	hrr      bool         // a HelloRetryRequest came first
	respTS   int64
	respSize int64
	cert     *Certificate
	alert    Alert
	alertDir flow.Dir
	haveAl   bool
	cut      bool // part of the handshake was lost in a gap

	emitted, stopped bool

	tx     l7.Transaction
	fields [14]l7.Field
	out    []byte
}

// handle is the Parser the probe holds; the state behind it is recycled
// at End (one handshake per connection makes per-flow state the cost
// that matters), and calls after End do nothing.
type handle struct{ p *parser }

var parsers = sync.Pool{New: func() any { return new(parser) }}

func newParser(ctx l7.Context) l7.Parser {
	p := parsers.Get().(*parser)
	p.ctx = ctx
	return &handle{p}
}

func (h *handle) Data(dir flow.Dir, b []byte, ts int64) {
	if h.p != nil {
		h.p.Data(dir, b, ts)
	}
}

func (h *handle) Gap(dir flow.Dir, n int64, ts int64) {
	if h.p != nil {
		h.p.Gap(dir, n, ts)
	}
}

func (h *handle) End(ts int64) {
	if p := h.p; p != nil {
		h.p = nil
		p.End(ts)
		p.recycle()
		parsers.Put(p)
	}
}

// recycle clears the parser for another flow, keeping its buffers.
func (p *parser) recycle() {
	streams, out := p.streams, p.out[:0]
	for i := range streams {
		streams[i].Reset()
	}
	*p = parser{streams: streams, out: out}
}

// Data implements l7.Parser.
func (p *parser) Data(dir flow.Dir, b []byte, ts int64) {
	if p.stopped || dir > flow.ServerToClient || len(b) == 0 {
		return
	}
	if !p.seen[dir] {
		p.seen[dir], p.firstTS[dir] = true, ts
		if p.midway[dir] && !Looks(b) {
			// The capture started inside the connection and these bytes
			// are not a hello: the handshake was missed.
			p.ctx.Sink.Drop(l7.DropResync, len(b))
			p.finish()
			return
		}
	}
	evs, err := p.streams[dir].Feed(b)
	ends := p.streams[dir].Ends()
	for i, e := range evs {
		switch e := e.(type) {
		case *ClientHello:
			// The first ClientHello is the request; a second one (after
			// a HelloRetryRequest) belongs to the same handshake.
			if p.ch == nil {
				p.ch, p.chDir = e, dir
				p.reqTS, p.reqSize = p.firstTS[dir], ends[i]
			}
		case *ServerHello:
			if e.HelloRetryRequest {
				p.hrr = true
				continue
			}
			if p.sh != nil {
				continue
			}
			p.sh = e
			p.respTS, p.respSize = ts, ends[i]
			if tls13(e.SelectedVersion) || e.SSLv2 {
				// Everything after a TLS 1.3 ServerHello is encrypted,
				// and SSL 2.0 goes on in its own encrypted records:
				// nothing more to read.
				p.finish()
				return
			}
		case *Certificate:
			if p.cert == nil && p.sh != nil {
				// TLS 1.2 and earlier: the server's certificate in clear
				// completes the response.
				p.cert = e
				p.respTS, p.respSize = ts, ends[i]
			}
		case *Alert:
			if !e.Encrypted && e.Level == 2 && p.ch != nil {
				p.alert, p.alertDir, p.haveAl = *e, dir, true
				if p.sh == nil {
					// The alert is the response.
					p.respTS, p.respSize = ts, ends[i]
				}
				p.finish()
				return
			}
		case *AppData:
			p.appData[dir] = true
			if p.appData[0] && p.appData[1] {
				p.finish() // the handshake is over both ways
				return
			}
		case *NotTLS:
			// This direction does not start with TLS (a detection on the
			// other direction, or not TLS at all): nothing to decode.
			p.ctx.Sink.Drop(l7.DropMalformed, len(b))
			p.finish()
			return
		}
	}
	if err != nil {
		// A record or hello that breaks the format: the stream cannot
		// go on. The bytes of this call are the ones that did not decode.
		p.ctx.Sink.Drop(l7.DropMalformed, len(b))
		p.finish()
	}
}

// tls13 reports a TLS 1.3 (or draft) negotiated version.
func tls13(v uint16) bool { return v == 0x0304 || isTLS13Draft(v) }

// Gap implements l7.Parser. A TLS stream cannot be resynchronised (record
// boundaries are not recognisable in ciphertext), so a gap ends the
// parsing: whatever the handshake showed so far is reported. A direction
// that starts mid-stream (Gap(-1) before any byte) is given one chance:
// if its first bytes start a hello the handshake is all there (a capture
// without the SYNs), otherwise it was missed and parsing stops at once.
func (p *parser) Gap(dir flow.Dir, n int64, ts int64) {
	if p.stopped || dir > flow.ServerToClient || n == 0 {
		return
	}
	if n < 0 && !p.seen[dir] {
		// A mid-stream start. A capture that begins without the SYNs
		// often begins with the handshake all the same: the first bytes
		// decide (see Data).
		p.midway[dir] = true
		return
	}
	p.ctx.Sink.Drop(l7.DropGap, p.streams[dir].Buffered())
	p.cut = true
	p.finish()
}

// End implements l7.Parser.
func (p *parser) End(ts int64) {
	if !p.emitted {
		p.emit()
	}
	p.stopped = true
}

// finish reports the handshake and tells the probe to stop feeding the
// flow: the rest is encrypted.
func (p *parser) finish() {
	if p.stopped {
		return
	}
	p.emit()
	p.stopped = true
	p.ctx.Sink.Stop()
}

// emit builds and hands over the transaction, once, if there is anything
// to report (a hello from either side).
func (p *parser) emit() {
	if p.emitted || p.ch == nil && p.sh == nil {
		return
	}
	p.emitted = true
	t := &p.tx
	*t = l7.Transaction{Fields: p.fields[:0], Op: handshakeOp}
	if p.cut {
		t.Flags |= l7.FlagTruncated
	}
	var keys [len(p.fields)]string
	var ends [len(p.fields)]int
	n := 0
	o := p.out[:0]
	add := func(key string) {
		keys[n], ends[n] = key, len(o)
		n++
	}
	// Field values are appended to o; Op, Target and Status point into
	// it too, so every slice is taken once o stops growing.
	var sniEnd, statusStart, statusEnd int

	ch, sh := p.ch, p.sh
	if ch != nil {
		t.ReqTS, t.ReqBytes = p.reqTS, p.reqSize
		if ch.SNI != "" {
			o = appendCapped(o, ch.SNI)
			sniEnd = len(o)
			add(FieldSNI)
		}
		if len(ch.ALPN) > 0 {
			for i, a := range ch.ALPN {
				if i > 0 {
					o = append(o, ',')
				}
				o = appendCapped(o, a)
			}
			add(FieldALPN)
		}
	}
	if sh != nil && sh.ALPN != "" {
		o = appendCapped(o, sh.ALPN)
		add(FieldALPNSelected)
	}
	if ch != nil {
		o = appendVersions(o, ch)
		add(FieldVersions)
	}
	if sh != nil {
		statusStart = len(o)
		o = append(o, VersionName(sh.SelectedVersion)...)
		statusEnd = len(o)
		add(FieldVersion)
		if !sh.SSLv2 {
			o = appendCipher(o, sh.CipherSuite)
			add(FieldCipher)
		}
	}
	if ch != nil {
		var js [512]byte
		o = appendMD5Hex(o, appendJA3(js[:0], ch))
		add(FieldJA3)
	}
	if sh != nil && !sh.SSLv2 {
		var js [256]byte
		o = appendMD5Hex(o, appendJA3S(js[:0], sh))
		add(FieldJA3S)
	}
	if ch != nil {
		o = appendJA4(o, ch, 't')
		add(FieldJA4)
	}
	if c := p.cert; c != nil {
		if c.Subject != "" {
			o = appendCapped(o, c.Subject)
			add(FieldCertSubject)
		}
		if c.Issuer != "" {
			o = appendCapped(o, c.Issuer)
			add(FieldCertIssuer)
		}
		if len(c.SANs) > 0 {
			start := len(o)
			for i, s := range c.SANs[:min(len(c.SANs), maxSANs)] {
				if i > 0 {
					o = append(o, ',')
				}
				o = append(o, s...)
			}
			if len(o)-start > l7.MaxField || len(c.SANs) > maxSANs {
				o = o[:start+min(len(o)-start, l7.MaxField)]
				t.Flags |= l7.FlagTruncated
			}
			add(FieldCertSANs)
		}
		if !c.NotAfter.IsZero() {
			o = c.NotAfter.UTC().AppendFormat(o, time.RFC3339)
			add(FieldCertNotAfter)
		}
	}
	if p.haveAl {
		if p.alertDir == p.chDir {
			o = append(o, "client: "...)
		} else {
			o = append(o, "server: "...)
		}
		statusStart = len(o)
		o = appendAlertName(o, p.alert.Description)
		statusEnd = len(o)
		add(FieldAlert)
	}
	p.out = o

	// Now that o is final, slice it.
	start := 0
	for i := range n {
		t.Fields = append(t.Fields, l7.Field{Key: keys[i], Value: o[start:ends[i]:ends[i]]})
		if keys[i] == FieldSNI {
			t.Target = o[start:sniEnd:sniEnd]
			if len(t.Target) > l7.MaxField {
				t.Target = t.Target[:l7.MaxField]
			}
		}
		start = ends[i]
	}
	if statusEnd > statusStart {
		t.Status = o[statusStart:statusEnd:statusEnd]
	}
	for i := range t.Fields {
		if len(t.Fields[i].Value) > l7.MaxField {
			t.Fields[i].Value = t.Fields[i].Value[:l7.MaxField]
			t.Flags |= l7.FlagTruncated
		}
	}

	if sh != nil || p.haveAl {
		t.RespTS, t.RespBytes = p.respTS, p.respSize
	}
	switch {
	case ch == nil:
		t.Outcome = l7.OutcomeNoRequest
	case p.haveAl:
		t.Outcome = alertOutcome(p.alert.Description, p.alertDir == p.chDir)
	case sh != nil:
		t.Outcome = l7.OutcomeOK
	default:
		t.Outcome = l7.OutcomeNoResponse
	}
	p.ctx.Sink.Transaction(t)
	if cap(p.out) > 16<<10 {
		p.out = nil
	}
}

var handshakeOp = []byte("handshake")

// appendCapped appends s, at most MaxField+1 bytes of it (so that the
// caller's cut still marks the field truncated).
func appendCapped(o []byte, s string) []byte {
	return append(o, s[:min(len(s), l7.MaxField+1)]...)
}

// appendVersions lists the versions a ClientHello offers, GREASE left
// out: its supported_versions, or its legacy version without them.
func appendVersions(o []byte, ch *ClientHello) []byte {
	first := true
	for _, v := range ch.SupportedVersions {
		if IsGREASE(v) {
			continue
		}
		if !first {
			o = append(o, ',')
		}
		first = false
		o = append(o, VersionName(v)...)
	}
	if first {
		o = append(o, VersionName(ch.LegacyVersion)...)
	}
	return o
}

// alertOutcome: a fatal alert from the server rejects the client's hello
// (no common version or cipher, an unknown server name): client_error,
// unless the server says it failed itself (internal_error). A fatal alert
// from the client rejects what the server sent (its certificate above
// all): server_error, unless the client failed itself.
func alertOutcome(desc uint8, fromClient bool) l7.Outcome {
	const internalError = 80
	if fromClient == (desc == internalError) {
		return l7.OutcomeClientError
	}
	return l7.OutcomeServerError
}

// alertNames are the AlertDescription names of RFC 8446 §6 and the
// registry (RFC 5246, 7301, 8446, 6066).
var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
	42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
	109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
	112: "unrecognized_name", 113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol",
}

// appendAlertName appends an alert description's name, or alert_N.
func appendAlertName(o []byte, d uint8) []byte {
	if s, ok := alertNames[d]; ok {
		return append(o, s...)
	}
	return strconv.AppendUint(append(o, "alert_"...), uint64(d), 10)
}

// cipherNames are the IANA names (TLS Cipher Suites registry) of the
// suites seen in practice; others are shown in hex.
var cipherNames = map[uint16]string{
	0x0000: "TLS_NULL_WITH_NULL_NULL", 0x0001: "TLS_RSA_WITH_NULL_MD5", 0x0002: "TLS_RSA_WITH_NULL_SHA",
	0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5", 0x0004: "TLS_RSA_WITH_RC4_128_MD5", 0x0005: "TLS_RSA_WITH_RC4_128_SHA",
	0x0009: "TLS_RSA_WITH_DES_CBC_SHA", 0x000a: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", 0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
	0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", 0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA",
	0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", 0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA", 0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
	0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x003c: "TLS_RSA_WITH_AES_128_CBC_SHA256",
	0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256", 0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
	0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", 0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
	0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", 0x008c: "TLS_PSK_WITH_AES_128_CBC_SHA",
	0x008d: "TLS_PSK_WITH_AES_256_CBC_SHA", 0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
	0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 0x00a8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
	0x00a9: "TLS_PSK_WITH_AES_256_GCM_SHA384", 0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
	0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384", 0x1303: "TLS_CHACHA20_POLY1305_SHA256",
	0x1304: "TLS_AES_128_CCM_SHA256", 0x1305: "TLS_AES_128_CCM_8_SHA256", 0x5600: "TLS_FALLBACK_SCSV",
	0xc007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 0xc008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
	0xc009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xc00a: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	0xc011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xc012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0xc013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xc014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	0xc023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	0xc027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	0xc09c: "TLS_RSA_WITH_AES_128_CCM", 0xc09d: "TLS_RSA_WITH_AES_256_CCM",
	0xc0ac: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", 0xc0ad: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
	0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	0xccaa: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// appendCipher appends a cipher suite's IANA name, or 0x and its hex.
func appendCipher(o []byte, c uint16) []byte {
	if s, ok := cipherNames[c]; ok {
		return append(o, s...)
	}
	return appendHex4(append(o, '0', 'x'), c)
}
