package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
)

// JA3 returns the classic JA3 client fingerprint (Salesforce): the string
// "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats"
// with decimal values joined by '-', and its MD5 in lower-case hex. The
// version is the ClientHello legacy_version; GREASE values (RFC 8701) are
// left out of the cipher, extension and curve lists, as JA3, Wireshark and
// PcapPlusPlus do.
func JA3(ch *ClientHello) (str, md5hex string) {
	var stack [512]byte
	b := appendJA3(stack[:0], ch)
	return string(b), md5Hex(b)
}

// appendJA3 appends the JA3 string of ch to b.
func appendJA3(b []byte, ch *ClientHello) []byte {
	b = strconv.AppendUint(b, uint64(ch.LegacyVersion), 10)
	b = append(b, ',')
	b = appendDecList(b, ch.CipherSuites)
	b = append(b, ',')
	b = appendDecList(b, ch.Extensions)
	b = append(b, ',')
	b = appendDecList(b, ch.SupportedGroups)
	b = append(b, ',')
	for i, f := range ch.ECPointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	return b
}

// JA3S returns the JA3S server fingerprint: "SSLVersion,Cipher,Extensions"
// (legacy_version, selected suite, extension types in order, GREASE left
// out) and its MD5 in lower-case hex, as Wireshark's tls.handshake.ja3s.
func JA3S(sh *ServerHello) (str, md5hex string) {
	var stack [256]byte
	b := appendJA3S(stack[:0], sh)
	return string(b), md5Hex(b)
}

// appendJA3S appends the JA3S string of sh to b.
func appendJA3S(b []byte, sh *ServerHello) []byte {
	b = strconv.AppendUint(b, uint64(sh.LegacyVersion), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(sh.CipherSuite), 10)
	b = append(b, ',')
	return appendDecList(b, sh.Extensions)
}

func appendDecList(b []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

func md5Hex(b []byte) string {
	var h [32]byte
	return string(appendMD5Hex(h[:0], b))
}

// appendMD5Hex appends the MD5 of b in lower-case hex to dst.
func appendMD5Hex(dst, b []byte) []byte {
	sum := md5.Sum(b)
	n := len(dst)
	dst = append(dst, make([]byte, 32)...)
	hex.Encode(dst[n:], sum[:])
	return dst
}

// JA4 returns FoxIO's JA4 client fingerprint, e.g.
// "t13d1516h2_8daaf6152771_e5627efa2ab1" (github.com/FoxIO-LLC/ja4,
// technical_details/JA4.md). transport is 't' for TLS over TCP, 'q' for
// QUIC, 'd' for DTLS. The rules, GREASE ignored everywhere:
//
//   - version: highest supported_versions entry, else legacy_version:
//     "13" "12" "11" "10" "s3" "s2" "d1" "d2" "d3", unknown "00";
//   - 'd' when the server_name extension is present, else 'i';
//   - cipher and extension counts, two digits, capped at 99 (SNI and ALPN
//     count as extensions);
//   - first and last character of the first ALPN value, "00" when there is
//     none; when either byte is not ASCII alphanumeric, the first and last
//     digits of the value's hex form instead;
//   - first 12 hex digits of the SHA-256 of the cipher suites as 4-digit hex,
//     sorted, comma-separated ("000000000000" when there are none);
//   - the same of the sorted extensions without SNI (0000) and ALPN (0010),
//     then '_' and the signature algorithms in wire order (no '_' when there
//     are none; "000000000000" when no extension is left).
func JA4(ch *ClientHello, transport byte) string {
	var out [36]byte
	return string(appendJA4(out[:0], ch, transport))
}

// appendJA4 appends the JA4 fingerprint of ch (36 bytes) to o.
func appendJA4(o []byte, ch *ClientHello, transport byte) []byte {
	o = append(o, transport)
	o = append(o, ja4Version(ch)...)

	var extStack [64]uint16
	exts := extStack[:0]
	nExt, sni := 0, byte('i')
	for _, e := range ch.Extensions {
		if IsGREASE(e) {
			continue
		}
		nExt++
		switch e {
		case extServerName:
			sni = 'd'
		case extALPN:
		default:
			exts = append(exts, e)
		}
	}
	var cStack [128]uint16
	ciphers := cStack[:0]
	for _, c := range ch.CipherSuites {
		if !IsGREASE(c) {
			ciphers = append(ciphers, c)
		}
	}
	o = append(o, sni)
	o = appendCount(o, len(ciphers))
	o = appendCount(o, nExt)
	o = appendALPN(o, ch.ALPN)
	o = append(o, '_')

	var text [1024]byte
	slices.Sort(ciphers)
	o = appendHash12(o, appendHexList(text[:0], ciphers), len(ciphers) == 0)
	o = append(o, '_')

	slices.Sort(exts)
	t := appendHexList(text[:0], exts)
	first := true
	for _, a := range ch.SignatureAlgorithms {
		if IsGREASE(a) {
			continue
		}
		if first {
			t = append(t, '_')
			first = false
		} else {
			t = append(t, ',')
		}
		t = appendHex4(t, a)
	}
	return appendHash12(o, t, len(exts) == 0)
}

// ja4Version is the two-character version of JA4's first section.
func ja4Version(ch *ClientHello) string {
	v, have := uint16(0), false
	for _, sv := range ch.SupportedVersions {
		if !IsGREASE(sv) && (!have || sv > v) {
			v, have = sv, true
		}
	}
	if !have {
		v = ch.LegacyVersion
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0x0100:
		return "s1"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func appendCount(b []byte, n int) []byte {
	n = min(n, 99)
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func appendALPN(b []byte, alpn []string) []byte {
	if len(alpn) == 0 || len(alpn[0]) == 0 {
		return append(b, '0', '0')
	}
	v := alpn[0]
	first, last := v[0], v[len(v)-1]
	if isAlnum(first) && isAlnum(last) {
		return append(b, first, last)
	}
	// First digit of the hex form is the high nibble of the first byte,
	// last digit the low nibble of the last byte.
	return append(b, hexDigits[first>>4], hexDigits[last&0xf])
}

func appendHexList(b []byte, vs []uint16) []byte {
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHex4(b, v)
	}
	return b
}

func appendHash12(b, text []byte, empty bool) []byte {
	if empty {
		return append(b, "000000000000"...)
	}
	sum := sha256.Sum256(text)
	var h [64]byte
	hex.Encode(h[:], sum[:])
	return append(b, h[:12]...)
}
