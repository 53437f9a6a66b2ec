package detect

import (
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// TDS is Tabular Data Stream, Microsoft SQL Server's protocol ([MS-TDS]).
var TDS = &l7.Protocol{
	Name:   "tds",
	TCP:    true,
	Ports:  tdsPorts,
	Detect: detectTDS,
}

var tdsPorts = []uint16{1433}

// TDS packet types.
const (
	tdsSQLBatch  = 0x01
	tdsPreTDS7   = 0x02
	tdsRPC       = 0x03
	tdsResponse  = 0x04
	tdsAttention = 0x06
	tdsBulkLoad  = 0x07
	tdsFedAuth   = 0x08
	tdsTxManager = 0x0e
	tdsLogin7    = 0x10
	tdsSSPI      = 0x11
	tdsPrelogin  = 0x12
)

// detectTDS reads the 8-byte packet header: type, status (only the
// defined bits), length (at least the header; if b holds more than one
// packet, the next header must be valid too), SPID, packet id, window 0.
// Then, by type:
//   - PRELOGIN from the client, or its answer (a response packet), whose
//     payload is an option table (tokens 0..8 with offsets and lengths
//     that fit, VERSION first, 0xFF last): Yes; a PRELOGIN that carries a
//     TLS handshake record (encryption negotiated): Yes;
//   - LOGIN7 whose length field matches and whose TDS version is one of
//     the published ones: Yes;
//   - SQL batch, RPC or transaction manager request opening with
//     ALL_HEADERS (TDS 7.2+) whose headers tile its declared length: Yes
//     (this is how captures that start mid-session are recognised);
//   - any other valid header: Maybe on port 1433.
//
// Port 102 is excluded: ISO-TSAP's TPKT header (03 00 len) reads as a
// TDS RPC header.
func detectTDS(b []byte, dir flow.Dir, port uint16) l7.Verdict {
	if port == 102 {
		return l7.No
	}
	if len(b) < 8 {
		if len(b) > 0 && !tdsType(b[0]) || len(b) > 1 && b[1]&0xe0 != 0 {
			return l7.No
		}
		return l7.NeedMore
	}
	if !tdsHeader(b) {
		return l7.No
	}
	n := int(be16(b[2:]))
	if len(b) > n && (len(b)-n < 8 || !tdsHeader(b[n:])) {
		if len(b)-n >= 8 || !tdsType(b[n]) {
			return l7.No
		}
	}
	payload := b[8:]
	if len(payload) > n-8 {
		payload = payload[:n-8]
	}
	complete := len(payload) == n-8
	typ := b[0]
	switch {
	case typ == tdsPrelogin && dir == flow.ClientToServer, typ == tdsResponse && dir == flow.ServerToClient:
		if len(payload) >= 3 && payload[0] == 0x16 && payload[1] == 3 && payload[2] <= 4 && typ == tdsPrelogin {
			return l7.Yes // TLS handshake inside PRELOGIN packets
		}
		switch v := tdsPreloginTable(payload, complete); v {
		case l7.Yes, l7.NeedMore:
			return v
		}
	case typ == tdsLogin7 && dir == flow.ClientToServer:
		if len(payload) < 8 {
			if complete {
				return l7.No
			}
			return l7.NeedMore
		}
		if l := le32(payload); l >= 36 && l < 1<<17 && tdsVersion(le32(payload[4:])) {
			return l7.Yes
		}
	case (typ == tdsSQLBatch || typ == tdsRPC || typ == tdsTxManager) && dir == flow.ClientToServer:
		switch v := tdsAllHeaders(payload, complete); v {
		case l7.Yes, l7.NeedMore:
			return v
		}
	}
	if (dir == flow.ClientToServer) == (typ == tdsResponse) {
		return l7.No
	}
	return weak(port, tdsPorts)
}

func tdsType(t byte) bool {
	switch t {
	case tdsSQLBatch, tdsPreTDS7, tdsRPC, tdsResponse, tdsAttention, tdsBulkLoad,
		tdsFedAuth, tdsTxManager, tdsLogin7, tdsSSPI, tdsPrelogin:
		return true
	}
	return false
}

// tdsHeader checks an 8-byte packet header.
func tdsHeader(b []byte) bool {
	// Status: end of message 0x01, ignore 0x02, reset connection 0x08,
	// reset connection skip tran 0x10 (and 0x04, event notification, in
	// older versions).
	return tdsType(b[0]) && b[1]&0xe0 == 0 && be16(b[2:]) >= 8 && b[7] == 0
}

// tdsVersion reports whether v (as LOGIN7 sends it, little endian) is a
// published TDS version.
func tdsVersion(v uint32) bool {
	switch v {
	case 0x70000000, 0x71000000, 0x71000001, 0x72090002, 0x730A0003, 0x730B0003, 0x74000004:
		return true
	}
	return false
}

// tdsPreloginTable walks a PRELOGIN option table: 5-byte entries (token,
// big-endian offset and length, offsets counted from the payload start)
// ending with 0xFF, VERSION (token 0, 6 bytes) first, each option's data
// after the table and inside the payload.
func tdsPreloginTable(p []byte, complete bool) l7.Verdict {
	if len(p) == 0 {
		if complete {
			return l7.No
		}
		return l7.NeedMore
	}
	if p[0] != 0 {
		return l7.No
	}
	// Find the terminator first: offsets must point past the table.
	end := -1
	for i := 0; i < 10*5 && i < len(p); i += 5 {
		if p[i] == 0xff {
			end = i
			break
		}
	}
	if end < 0 {
		if !complete && len(p) < 50 {
			return l7.NeedMore
		}
		return l7.No
	}
	tableLen := end + 1
	for i := 0; i < end; i += 5 {
		if i+5 > len(p) {
			return l7.No
		}
		tok, off, l := p[i], int(be16(p[i+1:])), int(be16(p[i+3:]))
		if tok > 8 || off < tableLen || (i == 0 && l != 6) {
			return l7.No
		}
		if off+l > len(p) {
			if complete {
				return l7.No
			}
			return l7.NeedMore
		}
	}
	return l7.Yes
}

// tdsAllHeaders walks ALL_HEADERS: a little-endian total length, then
// headers (length, type 1 query notifications, 2 transaction
// descriptor, 3 trace activity) that add up to it exactly.
func tdsAllHeaders(p []byte, complete bool) l7.Verdict {
	if len(p) < 4 {
		if complete {
			return l7.No
		}
		return l7.NeedMore
	}
	total := int(le32(p))
	if total < 4+6 || total > 1<<16 {
		return l7.No
	}
	off := 4
	for k := 0; off < total; k++ {
		if k == 8 {
			return l7.No
		}
		if off+6 > len(p) {
			if complete || len(p) >= total {
				return l7.No
			}
			return l7.NeedMore
		}
		hl, ht := int(le32(p[off:])), le16(p[off+4:])
		if hl < 6 || ht < 1 || ht > 3 {
			return l7.No
		}
		off += hl
	}
	if off != total {
		return l7.No
	}
	return l7.Yes
}
