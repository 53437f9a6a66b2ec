// Package tls decodes the cleartext part of TLS (and SSL 3.0 / SSLv2-compatible)
// handshakes from one direction of a reassembled TCP stream, computes the
// client and server fingerprints that traffic tools key on (JA3, JA3S and
// FoxIO's JA4), and reports each handshake as a transaction.
//
// The building block is Stream: it is fed the bytes of one direction as they
// are reassembled and reports what it sees (ClientHello, ServerHello, the
// leaf certificate when it travels in clear, alerts, the start of application
// data, or "this is not TLS"). Nothing is decrypted; TLS 1.3 encrypts
// everything after the ServerHello, so its certificates are never visible.
//
// The transaction layer is Protocol ("tls", TCP, detected by content on
// any port) and its parser: one transaction per handshake, the request
// being the ClientHello and the response the ServerHello, plus the
// server's Certificate in TLS 1.2 and earlier.
//
//	Op      "handshake"
//	Target  the SNI (server_name) the client asked for, "" without one
//	Status  the negotiated version ("TLS 1.3", "TLS 1.2", ...), or the
//	        description of the fatal alert that ended the handshake
//	        ("handshake_failure", "unknown_ca", ...)
//	Outcome ok: a ServerHello came (and no fatal alert); client_error: the
//	        server sent a fatal alert (it rejected the ClientHello), or the
//	        client sent internal_error; server_error: the client sent a
//	        fatal alert (it rejected the server's hello or certificate), or
//	        the server sent internal_error; no_response: no ServerHello
//	        (the flow ended, or a gap cut the handshake); no_request: a
//	        ServerHello whose ClientHello was not seen
//	ReqTS   the time of the first byte of the client's direction;
//	        RespTS the time the ServerHello (or, TLS <= 1.2, the
//	        Certificate, or the alert) completed
//	ReqBytes, RespBytes  bytes each side sent up to the end of the
//	        record that completed its hello (certificate, alert)
//
// Fields, in this order, each only when known: sni, alpn (offered,
// comma-separated), alpn_selected, versions (offered, GREASE left out),
// version, cipher (IANA name or 0xNNNN), ja3 (MD5), ja3s (MD5), ja4,
// cert_subject, cert_issuer (RFC 2253), cert_sans (at most 16,
// comma-separated), cert_not_after (RFC 3339), alert ("client: unknown_ca"
// or "server: handshake_failure"). Nothing is redacted: a handshake's
// cleartext carries no credentials.
//
// The handshake is done, the transaction emitted and Sink.Stop called (so
// the probe stops reassembling the encrypted bulk) when a TLS 1.3 or SSL
// 2.0 ServerHello arrives, when application data has been seen both ways
// (TLS 1.2 and earlier), on a fatal alert, on bytes that are not TLS, or
// on a gap: TLS records cannot be found again in ciphertext, so a gap
// ends the parsing with what was seen (flagged truncated). A direction
// whose capture started mid-connection (Gap(-1) before its first byte)
// is decoded only if its first bytes start a hello (captures without the
// SYNs, like PcapPlusPlus's tls2.pcap, begin so); otherwise the handshake
// was missed and parsing stops at once (the bytes counted DropResync).
// Warning alerts (an unrecognized_name warning, close_notify) do not end
// the handshake.
//
// Captured bytes are hostile. Every length field is checked against what is
// left of its enclosing structure, a handshake message is buffered only up to
// MaxHandshakeMessage bytes, and no allocation is sized from a wire length
// beyond that cap. Parsing never panics (the fuzz target holds it to that).
package tls

import (
	"errors"
	"strconv"
)

// MaxHandshakeMessage caps the size of a handshake message (header included)
// that a Stream will buffer. Real ClientHellos are a few KiB even with
// post-quantum key shares; a longer ClientHello or ServerHello is treated as
// an attack or as not TLS and stops the stream. Longer messages of other types
// (a big certificate chain) are skipped without being buffered in full.
const MaxHandshakeMessage = 64 << 10

// maxRecordLen is the largest legal TLSCiphertext fragment (RFC 5246 §6.2.3:
// 2^14 + 2048). A longer record header means we are not looking at TLS.
const maxRecordLen = 1<<14 + 2048

// Record content types (RFC 8446 §5.1).
const (
	recordChangeCipherSpec = 20
	recordAlert            = 21
	recordHandshake        = 22
	recordApplicationData  = 23
	recordHeartbeat        = 24 // RFC 6520; tolerated and skipped
)

// Handshake message types (RFC 8446 §4).
const (
	typeClientHello = 1
	typeServerHello = 2
	typeCertificate = 11
)

// Extension types used by the decoder and the fingerprints.
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extECPointFormats      = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
	extQUICTransportParams = 0x0039
	extECH                 = 0xfe0d
	extESNI                = 0xffce
)

// Errors returned by Stream.Feed and the Parse functions. They are wrapped
// with detail; test with errors.Is.
var (
	// ErrRecord: a record header in the middle of a TLS stream is not a TLS
	// record header (bad content type, version or length).
	ErrRecord = errors.New("tls: invalid record header")
	// ErrTooLarge: a ClientHello or ServerHello is longer than MaxHandshakeMessage.
	ErrTooLarge = errors.New("tls: handshake message too large")
	// ErrMalformed: a hello's fixed fields do not fit in the message.
	ErrMalformed = errors.New("tls: malformed handshake message")
)

// Event is something a Stream saw. The concrete types are *ClientHello,
// *ServerHello, *Certificate, *Alert, *AppData and *NotTLS; callers type-switch.
type Event interface{ tlsEvent() }

// ClientHello is a decoded ClientHello. Lists keep wire order and include
// GREASE values (RFC 8701); the fingerprint functions remove them.
type ClientHello struct {
	LegacyVersion       uint16   // legacy_version field (0x0303 for TLS 1.2 and 1.3 clients)
	SupportedVersions   []uint16 // supported_versions extension (0x002b), if sent
	CipherSuites        []uint16
	Extensions          []uint16 // extension types in order, duplicates kept
	SNI                 string   // first host_name of server_name; raw bytes, unescaped
	ALPN                []string // protocol names offered, in order; raw bytes, unescaped
	SupportedGroups     []uint16
	ECPointFormats      []uint8
	SignatureAlgorithms []uint16
	SessionIDLen        int
	CompressionMethods  int  // number of compression methods offered
	HasECH              bool // encrypted_client_hello (0xfe0d) present
	HasESNI             bool // draft encrypted_server_name (0xffce) present
	// SSLv2 is set for an SSLv2 CLIENT-HELLO: SSL 2.0 itself, or the
	// SSLv2-compatible hello of RFC 5246 appendix E.2 offering SSL 3.0/TLS.
	// It has no extensions, and only its 3-byte cipher specs whose first
	// byte is zero are kept in CipherSuites (those are SSL 3.0/TLS suites).
	SSLv2 bool
	// Malformed is set when the extension block or an extension's body did
	// not fit its length fields; what could be decoded is kept, the rest is
	// left empty.
	Malformed bool
}

// ServerHello is a decoded ServerHello (or TLS 1.3 HelloRetryRequest).
type ServerHello struct {
	LegacyVersion uint16
	// SelectedVersion is the version from the supported_versions extension
	// when present (TLS 1.3), else LegacyVersion: the negotiated version.
	SelectedVersion   uint16
	CipherSuite       uint16
	CompressionMethod uint8
	ALPN              string // selected protocol, raw bytes
	Extensions        []uint16
	SessionIDLen      int
	HelloRetryRequest bool // random is the RFC 8446 §4.1.3 HRR magic value
	// SSLv2 is set for an SSL 2.0 SERVER-HELLO: versions are 0x0002, and
	// CipherSuite is zero (SSL 2.0 servers offer a list; the client picks).
	SSLv2     bool
	Malformed bool
}

// Alert is an alert record. A record that is not a bare 2-byte alert (after
// ChangeCipherSpec it carries a MAC or an AEAD tag) is reported as Encrypted,
// with Level and Description zero. TLS 1.3 hides its encrypted alerts in
// application_data records: those are not seen at all.
type Alert struct {
	Level       uint8 // 1 warning, 2 fatal
	Description uint8 // RFC 8446 §6 AlertDescription
	Encrypted   bool
}

// AppData marks the first application_data record of the direction. In
// TLS 1.3 that is the encrypted remainder of the handshake, so it means "from
// here on nothing is readable", not necessarily "the application is talking".
type AppData struct{}

// NotTLS reports that the stream did not start with a TLS record or an
// SSLv2 hello. The Stream is done afterwards.
type NotTLS struct{}

func (*ClientHello) tlsEvent() {}
func (*ServerHello) tlsEvent() {}
func (*Certificate) tlsEvent() {}
func (*Alert) tlsEvent()       {}
func (*AppData) tlsEvent()     {}
func (*NotTLS) tlsEvent()      {}

// IsGREASE reports whether v is one of the 16 reserved GREASE values
// 0x0a0a, 0x1a1a, ... 0xfafa (RFC 8701): both bytes equal, low nibble 0xa.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// VersionName names a protocol version: "TLS 1.3", "TLS 1.2", "TLS 1.1",
// "TLS 1.0", "SSL 3.0", "SSL 2.0", "DTLS 1.x", "GREASE", TLS 1.3 drafts as
// "TLS 1.3 draft N" (or "TLS 1.3 Facebook draft N"), anything else as "0x"
// and four hex digits.
func VersionName(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	case 0x0302:
		return "TLS 1.1"
	case 0x0301:
		return "TLS 1.0"
	case 0x0300:
		return "SSL 3.0"
	case 0x0002:
		return "SSL 2.0"
	case 0xfeff:
		return "DTLS 1.0"
	case 0xfefd:
		return "DTLS 1.2"
	case 0xfefc:
		return "DTLS 1.3"
	}
	if IsGREASE(v) {
		return "GREASE"
	}
	switch v >> 8 {
	case 0x7f: // pre-RFC 8446 drafts were 0x7f00 | draft number
		return "TLS 1.3 draft " + strconv.Itoa(int(v&0xff))
	case 0xfb: // Facebook's Fizz ran its own draft numbers
		return "TLS 1.3 Facebook draft " + strconv.Itoa(int(v&0xff))
	}
	var b [6]byte
	return string(appendHex4(append(b[:0], '0', 'x'), v))
}

// Looks reports whether b plausibly starts a TLS handshake: a handshake
// record header (TLS 1.0-1.3 or SSL 3.0 record version, sane length) whose
// first message is a ClientHello or ServerHello with an SSL 3.0-TLS 1.2
// hello version, or an SSLv2 CLIENT-HELLO / SERVER-HELLO. It is meant for
// detecting TLS on any port from the first packet of either side, and looks
// at most at the first 11 bytes; it accepts as few as 5 (SSLv2) or 6.
func Looks(b []byte) bool {
	if len(b) >= 5 && b[0]&0x80 != 0 {
		return looksSSLv2(b)
	}
	if len(b) < 6 || b[0] != recordHandshake || !recordVersionOK(b[1], b[2]) {
		return false
	}
	n := int(b[3])<<8 | int(b[4])
	if n < 4 || n > maxRecordLen || (b[5] != typeClientHello && b[5] != typeServerHello) {
		return false
	}
	if len(b) >= 9 && b[6] != 0 { // a hello longer than 64 KiB: no
		return false
	}
	if len(b) >= 11 {
		// legacy_version of the hello: SSL 3.0 to TLS 1.2 (1.3 keeps 0x0303).
		if b[9] != 3 || b[10] > 3 {
			return false
		}
	}
	return true
}

// recordVersionOK accepts the record-layer versions seen in the wild:
// 0x0300 (SSL 3.0) to 0x0304. TLS 1.3 records say 0x0303 (0x0301 for the
// first ClientHello) but a lenient bound costs nothing.
func recordVersionOK(major, minor byte) bool {
	return major == 3 && minor <= 4
}

// looksSSLv2 checks the start of an SSLv2 record with a 2-byte header
// carrying a CLIENT-HELLO (version SSL 2.0 or SSL 3.0-TLS 1.3: the
// SSLv2-compatible hello of RFC 5246 appendix E.2) or an SSL 2.0
// SERVER-HELLO. It needs 5 bytes; the SERVER-HELLO version is checked when
// 7 are there.
func looksSSLv2(b []byte) bool {
	if len(b) < 5 || b[0]&0x80 == 0 {
		return false
	}
	n := int(b[0]&0x7f)<<8 | int(b[1])
	switch b[2] {
	case 1: // msg_type, version, then three 2-byte lengths
		return n >= 9 && ((b[3] == 0 && b[4] == 2) || (b[3] == 3 && b[4] <= 4))
	case 4: // msg_type, session-id-hit, certificate type, version, three lengths
		return n >= 11 && b[3] <= 1 && b[4] <= 1 && (len(b) < 7 || (b[5] == 0 && b[6] == 2))
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendHex4 appends v as four lower-case hex digits.
func appendHex4(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}
