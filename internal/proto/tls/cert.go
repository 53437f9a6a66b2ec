package tls

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"
)

// Certificate describes the leaf (first) certificate of a cleartext
// Certificate handshake message (TLS 1.2 and earlier; TLS 1.3 encrypts it).
// Strings are raw certificate content, unescaped.
type Certificate struct {
	ChainLen  int      // certificates in the message (counted within what was buffered)
	LeafLen   int      // DER length of the leaf
	SHA256    [32]byte // SHA-256 of the leaf DER, the usual certificate fingerprint
	SubjectCN string
	Subject   string   // RFC 2253 form
	SANs      []string // DNS names, then IP addresses
	IssuerCN  string
	Issuer    string // RFC 2253 form
	NotBefore time.Time
	NotAfter  time.Time
	// Truncated: the message was longer than MaxHandshakeMessage and only
	// its first MaxHandshakeMessage bytes were looked at.
	Truncated bool
	// Err is set when crypto/x509 rejected the leaf. Subject, issuer and
	// validity then come from a lenient decoding of the TBSCertificate when
	// that works; SANs are left empty.
	Err error
}

// parseCertificateMsg decodes a TLS 1.0-1.2 Certificate message body
// (RFC 5246 §7.4.2): a 24-bit list length, then 24-bit-length DER
// certificates. Errors never stop the stream: a certificate message that
// cannot be read still produces an event with Err set, because "the server
// sent a certificate" is itself worth reporting.
func parseCertificateMsg(body []byte, truncated bool) *Certificate {
	c := &Certificate{Truncated: truncated}
	if len(body) < 3 {
		c.Err = fmt.Errorf("%w: Certificate message of %d bytes", ErrMalformed, len(body))
		return c
	}
	list := body[3:]
	if n := u24(body); n < len(list) {
		list = list[:n]
	}
	var leaf []byte
	for len(list) >= 3 {
		n := u24(list)
		if n > len(list)-3 {
			switch {
			case c.ChainLen > 0:
				// A later certificate is cut (by our cap or by a lie): the
				// leaf is complete, which is all that is decoded.
			case truncated:
				c.Err = fmt.Errorf("%w: leaf certificate of %d bytes is beyond the buffering cap", ErrTooLarge, n)
				return c
			default:
				c.Err = fmt.Errorf("%w: certificate of %d bytes overruns its message", ErrMalformed, n)
				return c
			}
			break
		}
		if c.ChainLen == 0 {
			leaf = list[3 : 3+n]
		}
		c.ChainLen++
		list = list[3+n:]
	}
	if leaf == nil {
		c.Err = fmt.Errorf("%w: empty certificate list", ErrMalformed)
		return c
	}
	c.leaf(leaf)
	return c
}

// leaf fills c from the DER of the leaf certificate.
func (c *Certificate) leaf(leaf []byte) {
	c.LeafLen = len(leaf)
	c.SHA256 = sha256.Sum256(leaf)
	cert, err := x509.ParseCertificate(leaf)
	if err != nil {
		c.Err = err
		lenientNames(c, leaf)
		return
	}
	c.SubjectCN = cert.Subject.CommonName
	c.Subject = cert.Subject.String()
	c.IssuerCN = cert.Issuer.CommonName
	c.Issuer = cert.Issuer.String()
	c.NotBefore, c.NotAfter = cert.NotBefore, cert.NotAfter
	if n := len(cert.DNSNames) + len(cert.IPAddresses); n > 0 {
		c.SANs = make([]string, 0, n)
		c.SANs = append(c.SANs, cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			c.SANs = append(c.SANs, ip.String())
		}
	}
}

func u24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }

// lenientNames pulls subject, issuer and validity out of a certificate that
// crypto/x509 refused (negative serial numbers, unknown key types, odd
// extensions ...): those fields are what a traffic probe reports, and the
// reasons for refusal rarely touch them.
func lenientNames(c *Certificate, der []byte) {
	var cert struct {
		TBS asn1.RawValue
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		return
	}
	var tbs struct {
		Version   int `asn1:"optional,explicit,default:0,tag:0"`
		Serial    asn1.RawValue
		Signature asn1.RawValue
		Issuer    asn1.RawValue
		Validity  asn1.RawValue
		Subject   asn1.RawValue
	}
	if _, err := asn1.Unmarshal(cert.TBS.FullBytes, &tbs); err != nil {
		return
	}
	name := func(raw []byte) (cn, full string) {
		var rdn pkix.RDNSequence
		if _, err := asn1.Unmarshal(raw, &rdn); err != nil {
			return "", ""
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdn)
		return n.CommonName, rdn.String()
	}
	c.IssuerCN, c.Issuer = name(tbs.Issuer.FullBytes)
	c.SubjectCN, c.Subject = name(tbs.Subject.FullBytes)
	var validity struct {
		NotBefore, NotAfter time.Time
	}
	if _, err := asn1.Unmarshal(tbs.Validity.FullBytes, &validity); err == nil {
		c.NotBefore, c.NotAfter = validity.NotBefore, validity.NotAfter
	}
}
