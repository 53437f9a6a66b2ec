// Package kafka decodes the Kafka wire protocol into transactions: one
// request and its response, matched by correlation id.
//
// What is decoded: the request header (v0, v1, and v2 with its tagged
// fields) of every API key (Produce=0 up to DeleteShareGroupOffsets=92,
// Kafka 4.1), and the response header (v0, v1). The response header
// carries only the correlation id: each request's API key and version
// are kept (at most Context.MaxPending requests) to know how to read its
// response. Bodies are read by a streaming interpreter of the message
// layouts (schema.go) that skips record batches by counting, so a large
// Produce or Fetch costs no buffering:
//   - Produce requests v0-v13: acks, topics (names; topic ids from v13),
//     partitions; responses: the partition error codes.
//   - Fetch requests v0-v18: topics (names; topic ids from v13),
//     partitions; responses: the top-level error code (v7+) and the
//     partition error codes.
//   - ListOffsets and Metadata requests: topics (and ListOffsets
//     partitions); ListOffsets and OffsetCommit responses: partition
//     error codes.
//   - The group id of JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//     OffsetCommit, OffsetFetch (v0-v7), DescribeGroups (the first),
//     TxnOffsetCommit, AddOffsetsToTxn and ConsumerGroupHeartbeat.
//   - The top-level error code of the responses that start with it, or
//     with throttle_time_ms then it: ApiVersions, JoinGroup, SyncGroup,
//     Heartbeat, LeaveGroup, ListGroups, FindCoordinator (v0-v3),
//     SaslHandshake, SaslAuthenticate, InitProducerId, AddOffsetsToTxn,
//     EndTxn, and the other APIs listed in schema.go.
//
// Transactions:
//
//	Op      the API name ("Produce", "Fetch", "JoinGroup")
//	Target  the first topic (its id, as 8-4-4-4-12 hex, for Fetch and
//	        Produce from v13); without topics, the group id
//	Status  the error code as a number ("0": none): the response's
//	        top-level error code when non-zero, else the first non-zero
//	        partition error code, else 0; empty when this package does
//	        not read the response's error code
//
// Fields, in this order, each when known:
//
//	api_key, api_version, correlation_id, client_id
//	topics       topic names (or ids) of the request, comma-separated,
//	             at most 192 bytes (FlagTruncated beyond)
//	partitions   partition indexes of the request, in order, comma-
//	             separated, at most 64 bytes
//	group_id     the group of a group-coordinator request
//	acks         Produce acks (0: no response expected, Outcome one_way)
//	error_code   as Status
//
// Outcome: ok for error code 0 (or no error code read); server_error for
// the codes that report the broker's or cluster's state (-1
// UNKNOWN_SERVER_ERROR, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER,
// REQUEST_TIMED_OUT, NOT_COORDINATOR, NOT_ENOUGH_REPLICAS, ..., see
// apis.go) and for codes Kafka does not define; client_error for the
// other codes. A response whose request was emitted unanswered (timeout,
// MaxPending) is still decoded when its request's API is remembered, and
// emitted as no_request with Op and error code. Kafka answers a
// connection's requests in order, so when a response arrives the
// requests sent before its request are emitted as no_response.
//
// ReqBytes and RespBytes count whole frames, the 4-byte size included.
//
// Gaps: a hole inside a frame (whose length is known) loses what the
// interpreter had not read (FlagTruncated) but not the framing. Any
// other gap drops the frame being read (DropGap) and the side
// resynchronises: a request start is a plausible header (size, API key,
// version in range for the key, client id length within the frame and
// printable); a response start is a plausible size followed by the
// correlation id of a pending request. Skipped bytes are DropResync; a
// frame size no frame can have is DropMalformed (4 bytes) and starts a
// resynchronisation; a frame cut by the end of the flow is DropOther.
//
// Nothing in the decoded fields is a credential (SaslAuthenticate's
// bytes are never read).
package kafka

import (
	"encoding/binary"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Field keys.
const (
	FieldAPIKey        = "api_key"
	FieldAPIVersion    = "api_version"
	FieldCorrelationID = "correlation_id"
	FieldClientID      = "client_id"
	FieldTopics        = "topics"
	FieldPartitions    = "partitions"
	FieldGroupID       = "group_id"
	FieldAcks          = "acks"
	FieldErrorCode     = "error_code"
)

// Protocol is Kafka, on its usual port.
var Protocol = &l7.Protocol{
	Name:   "kafka",
	TCP:    true,
	Ports:  []uint16{9092},
	Detect: detect,
	New:    newParser,
}

// Candidate verdicts (detection and resynchronisation).
const (
	candNo = iota
	candMore
	candYes
	candMaybe
)

// reqStart judges b as the start of a request: size, API key, version
// in range for the key, client id length within the frame. It looks at
// the first window bytes only. printable reports a non-empty client id
// made of printable ASCII.
func reqStart(b []byte) (verdict int, printable bool) {
	if len(b) > window {
		b = b[:window]
	}
	if len(b) < 14 {
		// What is there must already fit.
		if len(b) >= 4 {
			if n := int32(binary.BigEndian.Uint32(b)); n < minReqFrame+2 || n > maxFrame {
				return candNo, false
			}
		}
		if len(b) >= 8 && !knownAPI(int16(binary.BigEndian.Uint16(b[4:])), int16(binary.BigEndian.Uint16(b[6:]))) {
			return candNo, false
		}
		return candMore, false
	}
	size := int32(binary.BigEndian.Uint32(b))
	key := int16(binary.BigEndian.Uint16(b[4:]))
	ver := int16(binary.BigEndian.Uint16(b[6:]))
	cl := int16(binary.BigEndian.Uint16(b[12:]))
	if size < minReqFrame+2 || size > maxFrame || !knownAPI(key, ver) {
		return candNo, false
	}
	if cl < -1 || int32(cl) > size-10 {
		return candNo, false
	}
	if cl <= 0 {
		return candYes, false
	}
	id := b[14:]
	if len(id) > int(cl) {
		id = id[:cl]
	}
	for _, c := range id {
		if c < 0x20 || c > 0x7e {
			return candYes, false
		}
	}
	if 14+int(cl) > len(b) && len(b) < window {
		return candMore, false
	}
	return candYes, true
}

// detect recognises the first bytes of a direction. A request header
// that passes reqStart is Yes on port 9092 or when its client id is
// printable (every Kafka client sets one), Maybe otherwise. A response
// has only a size and a correlation id to show: Maybe when the size is
// plausible, which only the port hint can turn into a decision (or when
// the server side starts with a request header: Yes, see decide).
func detect(b []byte, dir flow.Dir, serverPort uint16) l7.Verdict {
	if dir == flow.ClientToServer {
		v, printable := reqStart(b)
		switch v {
		case candMore:
			return l7.NeedMore
		case candNo:
			return l7.No
		}
		if printable || serverPort == 9092 {
			return l7.Yes
		}
		return l7.Maybe
	}
	// The flow table may have the roles wrong (a capture that starts
	// mid-connection): a request header here is proof too, and the
	// parser swaps the sides.
	if v, printable := reqStart(b); v == candYes && printable {
		return l7.Yes
	}
	if len(b) < 8 {
		return l7.NeedMore
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < minRespFrame+1 || n > maxFrame {
		return l7.No
	}
	// A second frame after the first must look like one too.
	if rest := int64(len(b)) - 4 - int64(n); rest >= 4 {
		m := int32(binary.BigEndian.Uint32(b[4+n:]))
		if m < minRespFrame+1 || m > maxFrame {
			return l7.No
		}
	}
	return l7.Maybe
}

// candidate judges b (at most window bytes) as a message start of side
// s while resynchronising.
func (p *parser) candidate(s *side, b []byte) int {
	if s.client {
		v, _ := reqStart(b)
		return v
	}
	if len(b) < 8 {
		return candMore
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < minRespFrame || n > maxFrame {
		return candNo
	}
	corr := int32(binary.BigEndian.Uint32(b[4:]))
	for i := range p.pending.Len() {
		if p.pending.At(i).c.corr == corr {
			return candYes
		}
	}
	for _, e := range p.expired {
		if e.corr == corr {
			return candYes
		}
	}
	return candNo
}

// resync skips bytes until a plausible frame start and returns what is
// left of b from there (nil when all of b was skipped or held). A
// candidate cut by the end of b is held (at most window bytes) and
// judged with the next bytes, so that the verdict does not depend on
// where the stream was cut.
func (p *parser) resync(s *side, b []byte, ts int64) []byte {
	if s.ncarry > 0 {
		var tmp [2 * window]byte
		k := copy(tmp[:], s.carry[:s.ncarry])
		k += copy(tmp[k:], b)
		for i := range s.ncarry {
			switch p.candidate(s, tmp[i:min(k, i+window)]) {
			case candYes:
				p.skip(i)
				var held [window]byte
				h := copy(held[:], s.carry[i:s.ncarry])
				s.ncarry, s.resync = 0, false
				p.feed(s, held[:h], ts)
				return b
			case candMore:
				// The window from i is not full: b is short enough to
				// be held with it.
				p.skip(i)
				h := copy(s.carry[:], s.carry[i:s.ncarry])
				s.ncarry = h + copy(s.carry[h:], b)
				return nil
			}
		}
		p.skip(s.ncarry)
		s.ncarry = 0
	}
	for pos := range len(b) {
		switch p.candidate(s, b[pos:min(len(b), pos+window)]) {
		case candYes:
			p.skip(pos)
			s.resync = false
			return b[pos:]
		case candMore:
			p.skip(pos)
			s.ncarry = copy(s.carry[:], b[pos:])
			return nil
		}
	}
	p.skip(len(b))
	return nil
}

func (p *parser) skip(n int) {
	if n > 0 {
		p.ctx.Sink.Drop(l7.DropResync, n)
	}
}

// emit hands a request without a response to the sink.
func (p *parser) emit(r *request, oc l7.Outcome) {
	t := &p.tx
	*t = l7.Transaction{ReqTS: r.ts, ReqBytes: r.bytes, Flags: r.flags, Outcome: oc}
	t.Fields = p.fields[:0]
	p.reqFields(t, &r.c, p.num[:0])
	p.ctx.Sink.Transaction(t)
}

// emitResp hands a response (with its request r, or nil) to the sink.
func (p *parser) emitResp(r *request, s *side, ts int64, oc l7.Outcome) {
	t := &p.tx
	*t = l7.Transaction{RespTS: ts, RespBytes: s.size, Outcome: oc}
	t.Fields = p.fields[:0]
	num := p.num[:0]
	if r != nil {
		if r.ts != 0 {
			t.ReqTS, t.ReqBytes, t.Flags = r.ts, r.bytes, r.flags
		}
		num = p.reqFields(t, &r.c, num)
	} else {
		start := len(num)
		num = itoa(num, int64(s.c.corr))
		t.Fields = append(t.Fields, l7.Field{Key: FieldCorrelationID, Value: num[start:]})
	}
	if s.trunc || s.w.bad || (p.matched && !s.w.done) {
		// A hole, or a body shorter than its layout.
		t.Flags |= l7.FlagTruncated
	}
	c := &s.c
	code, have := int16(0), false
	switch {
	case c.haveTop && c.topErr != 0:
		code, have = c.topErr, true
	case c.havePart:
		code, have = c.partErr, true
	case c.haveTop:
		code, have = c.topErr, true
	}
	if have {
		start := len(num)
		num = itoa(num, int64(code))
		t.Status = num[start:]
		t.Fields = append(t.Fields, l7.Field{Key: FieldErrorCode, Value: t.Status})
		if code != 0 && oc == l7.OutcomeOK {
			t.Outcome = l7.OutcomeClientError
			if errorOutcomeServer(code) {
				t.Outcome = l7.OutcomeServerError
			}
		}
	}
	p.ctx.Sink.Transaction(t)
}

// reqFields fills Op, Target and the request's fields; numbers are
// formatted into num, which it returns extended.
func (p *parser) reqFields(t *l7.Transaction, c *caps, num []byte) []byte {
	if c.key >= 0 && int(c.key) < len(names) {
		t.Op = names[c.key]
	} else {
		t.Op = opUnknown
	}
	add := func(key string, v int64) {
		start := len(num)
		num = itoa(num, v)
		t.Fields = append(t.Fields, l7.Field{Key: key, Value: num[start:len(num):len(num)]})
	}
	add(FieldAPIKey, int64(c.key))
	add(FieldAPIVersion, int64(c.ver))
	add(FieldCorrelationID, int64(c.corr))
	if c.nClient > 0 {
		t.Fields = append(t.Fields, l7.Field{Key: FieldClientID, Value: c.client[:c.nClient]})
	}
	if c.nTopic > 0 {
		t.Fields = append(t.Fields, l7.Field{Key: FieldTopics, Value: c.topics[:c.nTopics]})
		t.Target = c.topics[:c.firstEnd]
	}
	if c.nPart > 0 && c.nParts > 0 {
		t.Fields = append(t.Fields, l7.Field{Key: FieldPartitions, Value: c.parts[:c.nParts]})
	}
	if c.nGroup > 0 {
		t.Fields = append(t.Fields, l7.Field{Key: FieldGroupID, Value: c.group[:c.nGroup]})
		if c.nTopic == 0 {
			t.Target = c.group[:c.nGroup]
		}
	}
	if c.haveAcks {
		add(FieldAcks, int64(c.acks))
	}
	if c.truncated {
		t.Flags |= l7.FlagTruncated
	}
	return num
}
