package tls

import "fmt"

type streamState uint8

const (
	stStart   streamState = iota // nothing decided yet: the first header tells TLS from not-TLS
	stRecords                    // walking TLS records
	stSSLv2                      // collecting an SSLv2 CLIENT-HELLO or SERVER-HELLO record
	stDone                       // not TLS, an error, or SSL 2.0 from here on: Feed consumes nothing more
)

// Stream decodes one direction of a TCP connection as TLS. Feed it the
// reassembled bytes in order, in pieces of any size; it walks the record
// layer, reassembles handshake messages that span records and Feed calls,
// and reports events. The zero value is ready to use.
//
// Memory is bounded: a record header (5 bytes), a 2-byte alert and one
// partial handshake message of at most MaxHandshakeMessage bytes. Record
// bodies that are not cleartext handshake (application data, ciphertext) are
// skipped without being copied, so feeding a stream after its handshake costs
// a header parse per record; callers may also simply stop feeding once they
// have what they need.
//
// A Stream stops for good (Done) when the first bytes are not TLS (a *NotTLS
// event), on a record header that is not TLS in the middle of the stream
// (ErrRecord), on a ClientHello or ServerHello longer than
// MaxHandshakeMessage (ErrTooLarge) or whose fixed fields do not fit
// (ErrMalformed). A Certificate that cannot be decoded does not stop it.
//
// After a ChangeCipherSpec the direction's handshake records are ciphertext
// (TLS 1.2 Finished, renegotiation) and are skipped, except a record that
// plainly starts a ClientHello or ServerHello: TLS 1.3 middlebox-compatibility
// mode sends ChangeCipherSpec before the cleartext second ClientHello that
// follows a HelloRetryRequest.
type Stream struct {
	state      streamState
	err        error
	hdr        [5]byte // partial record header carried between Feed calls
	hdrN       int
	recType    uint8
	recLen     int  // length of the current record
	recLeft    int  // bytes of the current record not yet consumed
	recFirst   bool // the cleartext-or-not decision for the current handshake record is pending
	recPlain   bool // the current handshake or alert record is cleartext
	encrypted  bool // a ChangeCipherSpec was sent in this direction
	sawAppData bool
	sslv2      bool   // the stream began with an SSLv2-compatible CLIENT-HELLO offering TLS
	hs         []byte // partial handshake message, header included; or the SSLv2 hello
	skipLeft   int    // bytes left of an over-cap message being skipped
	skipType   uint8
	alert      [2]byte
	alertN     int
	peek       [6]byte // first bytes of a handshake record after ChangeCipherSpec
	peekN      int
	events     []Event
	ends       []int64 // per event: stream offset just past the record that completed it
	pos        int64   // bytes consumed so far
	recEnd     int64   // stream offset just past the current record
}

// Feed consumes the next bytes of the direction and returns the events they
// completed, in stream order. The returned slice is reused by the next call
// to Feed (the events it points to are not). err is non-nil once the stream
// failed; the events before the failure are still returned. Feed does not
// retain b.
func (s *Stream) Feed(b []byte) (events []Event, err error) {
	s.events, s.ends = s.events[:0], s.ends[:0]
	for len(b) > 0 && s.state != stDone {
		switch {
		case s.state == stSSLv2:
			n := min(len(b), s.recLeft)
			s.hs = append(s.hs, b[:n]...)
			b = b[n:]
			s.pos += int64(n)
			s.recLeft -= n
			if s.recLeft == 0 {
				s.endSSLv2()
			}
		case s.recLeft > 0:
			n := min(len(b), s.recLeft)
			s.body(b[:n])
			b = b[n:]
			s.pos += int64(n)
			s.recLeft -= n
		case s.hdrN == 0 && len(b) >= 5:
			s.pos += 5
			s.header(b[:5])
			b = b[5:]
		default:
			n := copy(s.hdr[s.hdrN:], b)
			s.hdrN += n
			b = b[n:]
			s.pos += int64(n)
			if s.hdrN == 5 {
				s.hdrN = 0
				s.header(s.hdr[:])
			}
		}
	}
	return s.events, s.err
}

// Done reports whether the stream has stopped: it was not TLS, it failed,
// or it continues in SSL 2.0 records (encrypted, nothing more to report).
func (s *Stream) Done() bool { return s.state == stDone }

// Buffered returns how many bytes the stream holds waiting for the rest
// of a record header, a handshake message, an alert or a hello: what a
// gap in the stream makes undecodable.
func (s *Stream) Buffered() int {
	n := s.hdrN
	if s.recLeft > 0 && s.recType == recordAlert && s.alertN == 1 {
		n++
	}
	if s.recLeft > 0 && s.recType == recordHandshake && s.recFirst {
		n += s.peekN // bytes of a record after ChangeCipherSpec, not yet judged
	}
	if s.skipLeft == 0 || s.skipType == typeCertificate {
		n += len(s.hs)
	}
	return n
}

// Err returns the error that stopped the stream, or nil.
func (s *Stream) Err() error { return s.err }

// Reset returns the stream to its zero state, keeping its buffers.
func (s *Stream) Reset() {
	hs, ev, ends := s.hs[:0], s.events[:0], s.ends[:0]
	clear(s.events[:cap(s.events)]) // do not pin the last flow's hellos
	*s = Stream{hs: hs, events: ev, ends: ends}
}

func (s *Stream) emit(e Event) {
	s.events = append(s.events, e)
	s.ends = append(s.ends, s.recEnd)
}

// Ends returns, for each event of the last Feed, the number of bytes of
// the direction up to the end of the record that completed it (for an
// SSLv2 hello, the end of its record; for NotTLS, the first header). It
// does not depend on how the bytes were cut into Feed calls. The slice
// is reused by the next Feed.
func (s *Stream) Ends() []int64 { return s.ends }

func (s *Stream) fail(err error) {
	s.err = err
	s.state = stDone
	s.hs = nil
}

// recordHeaderOK checks a TLS record header: a known content type, an
// SSL 3.0-TLS 1.3 record version and a length no longer than a ciphertext
// fragment may be.
func recordHeaderOK(h []byte) bool {
	typ, n := h[0], int(h[3])<<8|int(h[4])
	return typ >= recordChangeCipherSpec && typ <= recordHeartbeat &&
		recordVersionOK(h[1], h[2]) && n <= maxRecordLen
}

func (s *Stream) header(h []byte) {
	if s.state == stStart {
		if h[0]&0x80 != 0 && looksSSLv2(h) {
			n := int(h[0]&0x7f)<<8 | int(h[1])
			s.state = stSSLv2
			s.hs = append(s.hs[:0], h[2:]...)
			s.recLeft = n - 3 // the length counts from msg_type; 3 of those bytes are in h
			s.recEnd = s.pos + int64(s.recLeft)
			return
		}
		if !recordHeaderOK(h) {
			s.recEnd = s.pos
			s.emit(&NotTLS{})
			s.state = stDone
			return
		}
		s.state = stRecords
	} else if !recordHeaderOK(h) {
		if s.sslv2 && h[0]&0x80 != 0 {
			s.state = stDone // SSLv2 hello answered in SSL 2.0: see endSSLv2
			return
		}
		s.fail(fmt.Errorf("%w: type %d, version 0x%02x%02x, length %d", ErrRecord, h[0], h[1], h[2], int(h[3])<<8|int(h[4])))
		return
	}
	s.recType = h[0]
	s.recLen = int(h[3])<<8 | int(h[4])
	s.recLeft = s.recLen
	s.recEnd = s.pos + int64(s.recLen)
	s.recFirst = true
	s.peekN = 0
	switch s.recType {
	case recordChangeCipherSpec:
		// Whatever handshake message was half-assembled cannot continue
		// into ciphertext; drop it rather than glue encrypted bytes to it.
		s.encrypted = true
		s.resetHS()
		s.skipLeft = 0
	case recordAlert:
		// A cleartext alert is 2 bytes; any cipher adds a MAC or tag, so a
		// 2-byte alert record is cleartext even after ChangeCipherSpec. A few
		// cleartext alerts may share a record; only the first is reported.
		s.recPlain = s.recLen == 2 || (!s.encrypted && s.recLen > 0 && s.recLen%2 == 0 && s.recLen <= 8)
		s.alertN = 0
		if !s.recPlain {
			s.emit(&Alert{Encrypted: true})
		}
	case recordApplicationData:
		if !s.sawAppData {
			s.sawAppData = true
			s.emit(&AppData{})
		}
	}
}

// body handles the next piece of the current record's body.
func (s *Stream) body(p []byte) {
	switch s.recType {
	case recordHandshake:
		if s.recFirst {
			if !s.encrypted || len(s.hs) > 0 || s.skipLeft > 0 {
				s.recFirst, s.recPlain = false, true
			} else {
				// Ciphertext or a cleartext hello? Decide on the first 6
				// bytes, however the record is cut into Feed calls.
				want := min(len(s.peek), s.recLen)
				k := copy(s.peek[s.peekN:want], p)
				s.peekN += k
				p = p[k:]
				if s.peekN < want {
					return
				}
				s.recFirst = false
				s.recPlain = plausibleHello(s.peek[:want])
				if s.recPlain {
					s.handshake(s.peek[:want])
				}
			}
		}
		if s.recPlain && len(p) > 0 {
			s.handshake(p)
		}
	case recordAlert:
		if s.recPlain && s.alertN < 2 {
			n := copy(s.alert[s.alertN:], p)
			s.alertN += n
			if s.alertN == 2 {
				s.emit(&Alert{Level: s.alert[0], Description: s.alert[1]})
			}
		}
	}
}

// plausibleHello reports whether a handshake record body that follows a
// ChangeCipherSpec starts a cleartext ClientHello or ServerHello: type 1 or
// 2, a length below the cap and an SSL 3.0-TLS 1.2 legacy_version. Random
// ciphertext passes with probability about 2^-29.
func plausibleHello(p []byte) bool {
	return len(p) >= 6 && (p[0] == typeClientHello || p[0] == typeServerHello) &&
		p[1] == 0 && p[4] == 3 && p[5] <= 3
}

// handshake consumes cleartext handshake-record bytes: whole messages are
// decoded in place when a record holds them entirely (the usual case, no
// copy), pieces are collected in s.hs.
func (s *Stream) handshake(p []byte) {
	for len(p) > 0 && s.state != stDone {
		if s.skipLeft > 0 {
			n := min(len(p), s.skipLeft)
			if s.skipType == typeCertificate {
				k := min(n, MaxHandshakeMessage-len(s.hs))
				s.hs = append(s.hs, p[:k]...)
			}
			p = p[n:]
			s.skipLeft -= n
			if s.skipLeft == 0 {
				if s.skipType == typeCertificate {
					s.emit(parseCertificateMsg(s.hs[4:], true))
				}
				s.resetHS()
			}
			continue
		}
		if len(s.hs) == 0 && len(p) >= 4 {
			if n := u24(p[1:]); n <= len(p)-4 {
				s.message(p[0], p[4:4+n])
				p = p[4+n:]
				continue
			}
		}
		if len(s.hs) < 4 {
			k := min(4-len(s.hs), len(p))
			s.hs = append(s.hs, p[:k]...)
			p = p[k:]
			if len(s.hs) < 4 {
				return
			}
			if n := u24(s.hs[1:]); 4+n > MaxHandshakeMessage {
				typ := s.hs[0]
				if typ == typeClientHello || typ == typeServerHello {
					s.fail(fmt.Errorf("%w: hello type %d of %d bytes", ErrTooLarge, typ, n))
					return
				}
				// Another message type (a huge certificate chain, say):
				// skip it, keeping the first bytes of a Certificate, where
				// the leaf is.
				s.skipType, s.skipLeft = typ, n
				if typ != typeCertificate {
					s.resetHS()
				}
				continue
			}
		}
		need := 4 + u24(s.hs[1:]) - len(s.hs)
		k := min(need, len(p))
		s.hs = append(s.hs, p[:k]...)
		p = p[k:]
		if k == need {
			s.message(s.hs[0], s.hs[4:])
			s.resetHS()
		}
	}
}

// resetHS empties the message buffer, dropping it when it grew large so
// that a long-lived stream does not pin a 64 KiB buffer after its handshake.
func (s *Stream) resetHS() {
	if cap(s.hs) > 4<<10 {
		s.hs = nil
	} else {
		s.hs = s.hs[:0]
	}
}

// message handles one complete handshake message. body may alias the
// caller's input: everything reported is copied out.
func (s *Stream) message(typ uint8, body []byte) {
	switch typ {
	case typeClientHello:
		ch, err := ParseClientHello(body)
		s.hello(ch, err)
	case typeServerHello:
		sh, err := ParseServerHello(body)
		s.hello(sh, err)
	case typeCertificate:
		s.emit(parseCertificateMsg(body, false))
	}
}

func (s *Stream) hello(e Event, err error) {
	switch {
	case err == nil:
		s.emit(e)
	case s.encrypted:
		// A ciphertext record that happened to look like a hello: ignore.
	default:
		s.fail(err)
	}
}

// endSSLv2 decodes the SSLv2 hello collected in s.hs. A hello that does not
// parse means the guess made from 5 bytes was wrong: not TLS, not an error.
func (s *Stream) endSSLv2() {
	var version uint16
	switch s.hs[0] {
	case 1:
		ch, err := parseSSLv2ClientHello(s.hs)
		if err != nil {
			break
		}
		s.emit(ch)
		version = ch.LegacyVersion
	case 4:
		sh, der, err := parseSSLv2ServerHello(s.hs)
		if err != nil {
			break
		}
		s.emit(sh)
		if len(der) > 0 {
			c := &Certificate{ChainLen: 1}
			c.leaf(der)
			s.emit(c)
		}
		version = sh.LegacyVersion
	}
	s.resetHS()
	switch version {
	case 0:
		s.emit(&NotTLS{})
		s.state = stDone
	case 0x0002:
		// The connection goes on in SSL 2.0 records, all encrypted from
		// here: nothing more to report.
		s.state = stDone
	default:
		// An SSLv2-compatible CLIENT-HELLO offering SSL 3.0 or TLS: the
		// server answers in TLS records if it accepts, and so does the
		// client from then on; if the server only speaks SSL 2.0, the
		// client's next record is SSLv2 and the stream ends quietly.
		s.sslv2 = true
		s.state = stRecords
	}
}
