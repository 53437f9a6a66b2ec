package tls

import "fmt"

// reader walks a byte slice; every read is bounds-checked and a short read
// sets bad and returns zero values, so parsers can read a whole structure
// and check bad once.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }

// u16s decodes a list of big-endian uint16 into dst; a trailing odd byte is
// ignored (the caller marks the hello malformed).
func u16s(dst []uint16, b []byte) []uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return dst
}

// ParseClientHello decodes a ClientHello handshake message body: the bytes
// after the 4-byte handshake header (type 1, 24-bit length). It serves
// Stream and any transport that carries bare handshake messages (QUIC
// CRYPTO frames). The result does not reference body.
//
// The fixed fields (version, random, session id, cipher suites, compression
// methods) must fit or ErrMalformed is returned. Extension damage is
// tolerated: decoding stops at the first extension that overruns the block,
// an extension whose body contradicts its own lengths is skipped, and
// Malformed is set in both cases.
func ParseClientHello(body []byte) (*ClientHello, error) {
	r := reader{b: body}
	ch := &ClientHello{LegacyVersion: r.u16()}
	r.bytes(32) // random
	ch.SessionIDLen = len(r.vec8())
	ciphers := r.vec16()
	ch.CompressionMethods = len(r.vec8())
	if r.bad {
		return nil, fmt.Errorf("%w: ClientHello of %d bytes ends inside its fixed fields", ErrMalformed, len(body))
	}
	if len(ciphers)%2 != 0 {
		ch.Malformed = true
	}

	// First pass over the extensions: count them and keep the bodies the
	// struct exposes, so that every uint16 list shares one allocation.
	var exts []byte
	if len(r.b) >= 2 {
		n := int(r.b[0])<<8 | int(r.b[1])
		exts = r.b[2:]
		if n > len(exts) {
			ch.Malformed = true // declared block overruns the message: use what is there
		} else {
			exts = exts[:n]
		}
	} else if len(r.b) == 1 {
		ch.Malformed = true
	}
	var (
		nExt                               int
		sni, alpn, groups, pf, sigs, suppV []byte
		seen                               uint16 // bit per extension kept, so only first occurrences count
	)
	const (
		seenSNI = 1 << iota
		seenALPN
		seenGroups
		seenPF
		seenSigs
		seenVers
	)
	er := reader{b: exts}
	for len(er.b) > 0 {
		typ := er.u16()
		data := er.vec16()
		if er.bad {
			ch.Malformed = true
			break
		}
		nExt++
		switch typ {
		case extServerName:
			if seen&seenSNI == 0 {
				seen |= seenSNI
				sni = data
			}
		case extALPN:
			if seen&seenALPN == 0 {
				seen |= seenALPN
				alpn = data
			}
		case extSupportedGroups:
			if seen&seenGroups == 0 {
				seen |= seenGroups
				groups = listBody16(data, &ch.Malformed)
			}
		case extECPointFormats:
			if seen&seenPF == 0 {
				seen |= seenPF
				pf = listBody8(data, &ch.Malformed)
			}
		case extSignatureAlgorithms:
			if seen&seenSigs == 0 {
				seen |= seenSigs
				sigs = listBody16(data, &ch.Malformed)
			}
		case extSupportedVersions:
			if seen&seenVers == 0 {
				seen |= seenVers
				suppV = listBody8(data, &ch.Malformed)
			}
		case extECH:
			ch.HasECH = true
		case extESNI:
			ch.HasESNI = true
		}
	}

	all := make([]uint16, 0, len(ciphers)/2+nExt+len(groups)/2+len(sigs)/2+len(suppV)/2)
	take := func(b []byte) []uint16 {
		start := len(all)
		all = u16s(all, b)
		return all[start:len(all):len(all)]
	}
	ch.CipherSuites = take(ciphers)
	start := len(all)
	er = reader{b: exts}
	for i := 0; i < nExt; i++ {
		all = append(all, er.u16())
		er.vec16()
	}
	ch.Extensions = all[start:len(all):len(all)]
	if seen&seenGroups != 0 {
		ch.SupportedGroups = take(groups)
	}
	if seen&seenSigs != 0 {
		ch.SignatureAlgorithms = take(sigs)
	}
	if seen&seenVers != 0 {
		if len(suppV)%2 != 0 {
			ch.Malformed = true
		}
		ch.SupportedVersions = take(suppV)
	}
	if seen&seenPF != 0 {
		ch.ECPointFormats = append([]uint8(nil), pf...)
	}
	if seen&seenSNI != 0 {
		ch.SNI = parseSNI(sni, &ch.Malformed)
	}
	if seen&seenALPN != 0 {
		ch.ALPN = parseALPN(alpn, &ch.Malformed)
	}
	return ch, nil
}

// listBody16 returns the body of a vector<2..2^16-2> of uint16: the 2-byte
// length must fit in data and be even.
func listBody16(data []byte, malformed *bool) []byte {
	r := reader{b: data}
	v := r.vec16()
	if r.bad || len(v)%2 != 0 {
		*malformed = true
	}
	return v
}

// listBody8 returns the body of a vector with a 1-byte length.
func listBody8(data []byte, malformed *bool) []byte {
	r := reader{b: data}
	v := r.vec8()
	if r.bad {
		*malformed = true
	}
	return v
}

// parseSNI returns the first host_name of a server_name extension body
// (RFC 6066 §3).
func parseSNI(data []byte, malformed *bool) string {
	r := reader{b: data}
	list := r.vec16()
	if r.bad {
		*malformed = true
		return ""
	}
	lr := reader{b: list}
	for len(lr.b) > 0 {
		typ := lr.u8()
		name := lr.vec16()
		if lr.bad {
			*malformed = true
			return ""
		}
		if typ == 0 {
			return string(name)
		}
	}
	return ""
}

// parseALPN returns the protocol names of an ALPN extension body
// (RFC 7301 §3.1). The names are substrings of one string conversion of the
// list, so an ALPN list costs two allocations however many names it holds.
func parseALPN(data []byte, malformed *bool) []string {
	r := reader{b: data}
	list := r.vec16()
	if r.bad {
		*malformed = true
		return nil
	}
	n := 0
	for lr := (reader{b: list}); len(lr.b) > 0; n++ {
		lr.vec8()
		if lr.bad {
			*malformed = true
			break
		}
	}
	if n == 0 {
		return []string{}
	}
	all := string(list)
	out := make([]string, 0, n)
	off := 0
	for i := 0; i < n; i++ {
		l := int(all[off])
		out = append(out, all[off+1:off+1+l])
		off += 1 + l
	}
	return out
}

// isTLS13Draft reports a pre-RFC TLS 1.3 version: IETF drafts 0x7fNN and
// Facebook's 0xfbNN.
func isTLS13Draft(v uint16) bool { return v>>8 == 0x7f || v>>8 == 0xfb }

// helloRetryRandom is SHA-256("HelloRetryRequest"), the random of a TLS 1.3
// HelloRetryRequest (RFC 8446 §4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// ParseServerHello decodes a ServerHello handshake message body (after the
// 4-byte handshake header), including the shorter layout of TLS 1.3 drafts
// (version 0x7fNN or 0xfbNN). Same tolerance rules as ParseClientHello.
func ParseServerHello(body []byte) (*ServerHello, error) {
	r := reader{b: body}
	sh := &ServerHello{LegacyVersion: r.u16()}
	random := r.bytes(32)
	if isTLS13Draft(sh.LegacyVersion) {
		// TLS 1.3 drafts up to 21 (and Facebook's variants) dropped the
		// session id and compression method from the ServerHello; from
		// draft 22 on, the version moved to supported_versions.
		sh.CipherSuite = r.u16()
	} else {
		sh.SessionIDLen = len(r.vec8())
		sh.CipherSuite = r.u16()
		sh.CompressionMethod = r.u8()
	}
	if r.bad {
		return nil, fmt.Errorf("%w: ServerHello of %d bytes ends inside its fixed fields", ErrMalformed, len(body))
	}
	sh.HelloRetryRequest = [32]byte(random) == helloRetryRandom
	sh.SelectedVersion = sh.LegacyVersion

	var exts []byte
	if len(r.b) >= 2 {
		n := int(r.b[0])<<8 | int(r.b[1])
		exts = r.b[2:]
		if n > len(exts) {
			sh.Malformed = true
		} else {
			exts = exts[:n]
		}
	} else if len(r.b) == 1 {
		sh.Malformed = true
	}
	nExt := 0
	for er := (reader{b: exts}); len(er.b) > 0; nExt++ {
		er.u16()
		er.vec16()
		if er.bad {
			sh.Malformed = true
			break
		}
	}
	if nExt == 0 {
		return sh, nil
	}
	sh.Extensions = make([]uint16, 0, nExt)
	var haveVers, haveALPN bool
	er := reader{b: exts}
	for i := 0; i < nExt; i++ {
		typ := er.u16()
		data := er.vec16()
		sh.Extensions = append(sh.Extensions, typ)
		switch {
		case typ == extSupportedVersions && !haveVers:
			haveVers = true
			if len(data) == 2 {
				sh.SelectedVersion = uint16(data[0])<<8 | uint16(data[1])
			} else {
				sh.Malformed = true
			}
		case typ == extALPN && !haveALPN:
			haveALPN = true
			// The server's list holds exactly one name (RFC 7301 §3.1).
			names := parseALPN(data, &sh.Malformed)
			if len(names) > 0 {
				sh.ALPN = names[0]
			}
		}
	}
	return sh, nil
}

// parseSSLv2ClientHello decodes an SSLv2-compatible CLIENT-HELLO (RFC 5246
// appendix E.2). msg starts at msg_type, after the 2-byte record header.
func parseSSLv2ClientHello(msg []byte) (*ClientHello, error) {
	r := reader{b: msg}
	if r.u8() != 1 {
		return nil, fmt.Errorf("%w: SSLv2 record is not a CLIENT-HELLO", ErrMalformed)
	}
	ch := &ClientHello{SSLv2: true, LegacyVersion: r.u16()}
	specLen := int(r.u16())
	sidLen := int(r.u16())
	chalLen := int(r.u16())
	specs := r.bytes(specLen)
	r.bytes(sidLen)
	r.bytes(chalLen)
	if r.bad || specLen%3 != 0 {
		return nil, fmt.Errorf("%w: SSLv2 CLIENT-HELLO lengths do not fit", ErrMalformed)
	}
	ch.SessionIDLen = sidLen
	n := 0
	for i := 0; i < len(specs); i += 3 {
		if specs[i] == 0 {
			n++
		}
	}
	ch.CipherSuites = make([]uint16, 0, n)
	for i := 0; i < len(specs); i += 3 {
		if specs[i] == 0 {
			ch.CipherSuites = append(ch.CipherSuites, uint16(specs[i+1])<<8|uint16(specs[i+2]))
		}
	}
	return ch, nil
}

// parseSSLv2ServerHello decodes an SSL 2.0 SERVER-HELLO (msg starts at
// msg_type). It returns the hello and the server's certificate (DER, nil
// when the session was resumed).
func parseSSLv2ServerHello(msg []byte) (*ServerHello, []byte, error) {
	r := reader{b: msg}
	if r.u8() != 4 {
		return nil, nil, fmt.Errorf("%w: SSLv2 record is not a SERVER-HELLO", ErrMalformed)
	}
	r.u8() // session-id-hit
	r.u8() // certificate type
	v := r.u16()
	certLen := int(r.u16())
	specLen := int(r.u16())
	connIDLen := int(r.u16())
	cert := r.bytes(certLen)
	r.bytes(specLen)
	r.bytes(connIDLen)
	if r.bad || specLen%3 != 0 || v != 0x0002 {
		return nil, nil, fmt.Errorf("%w: SSLv2 SERVER-HELLO lengths do not fit", ErrMalformed)
	}
	return &ServerHello{SSLv2: true, LegacyVersion: v, SelectedVersion: v}, cert, nil
}
