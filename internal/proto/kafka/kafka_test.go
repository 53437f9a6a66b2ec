package kafka

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// brief renders what a case asserts: Op|Target|Status|outcome|corr|
// topics|partitions|group|acks, and T for FlagTruncated.
func brief(s *l7test.Sink) []string {
	var out []string
	for _, t := range s.Txs {
		line := fmt.Sprintf("%s|%s|%s|%v|%s|%s|%s|%s|%s", t.Op, t.Target, t.Status, t.Outcome,
			t.Field(FieldCorrelationID), t.Field(FieldTopics), t.Field(FieldPartitions), t.Field(FieldGroupID), t.Field(FieldAcks))
		if t.Flags&l7.FlagTruncated != 0 {
			line += " T"
		}
		out = append(out, line)
	}
	return out
}

var topicID = [16]byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}

const topicIDText = "550e8400-e29b-41d4-a716-446655440000"

// produceReq writes a Produce request body of version v: topics, each
// with the partitions given, records of 30 bytes each.
func produceReq(v int16, acks int16, topics map[string][]int32, order []string) func(e *enc) {
	return func(e *enc) {
		if v >= 3 {
			e.str("\x00null")
		}
		e.i16(acks)
		e.i32(1500)
		e.arr(len(order), func(i int) {
			if v >= 13 {
				e.uuid(topicID)
			} else {
				e.str(order[i])
			}
			parts := topics[order[i]]
			e.arr(len(parts), func(j int) {
				e.i32(parts[j])
				e.bytes(30)
				e.tags()
			})
			e.tags()
		})
		e.tags()
	}
}

// produceResp writes a Produce response body with the given partition
// error codes, one topic.
func produceResp(v int16, topic string, errs ...int16) func(e *enc) {
	return func(e *enc) {
		e.arr(1, func(int) {
			if v >= 13 {
				e.uuid(topicID)
			} else {
				e.str(topic)
			}
			e.arr(len(errs), func(j int) {
				e.i32(int32(j))
				e.i16(errs[j])
				e.i64(35)
				if v >= 2 {
					e.i64(-1)
				}
				if v >= 5 {
					e.i64(0)
				}
				if v >= 8 {
					e.arr(1, func(int) { e.i32(0); e.str("bad record"); e.tags() })
					e.str("\x00null")
				}
				e.tags()
			})
			e.tags()
		})
		if v >= 1 {
			e.i32(0)
		}
		e.tags()
	}
}

// fetchReq writes a Fetch request body of version v for one topic.
func fetchReq(v int16, topic string, parts ...int32) func(e *enc) {
	return func(e *enc) {
		if v <= 14 {
			e.i32(-1)
		}
		e.i32(500)
		e.i32(1)
		if v >= 3 {
			e.i32(52428800)
		}
		if v >= 4 {
			e.i8(0)
		}
		if v >= 7 {
			e.i32(0)
			e.i32(-1)
		}
		e.arr(1, func(int) {
			if v >= 13 {
				e.uuid(topicID)
			} else {
				e.str(topic)
			}
			e.arr(len(parts), func(j int) {
				e.i32(parts[j])
				if v >= 9 {
					e.i32(0)
				}
				e.i64(36)
				if v >= 12 {
					e.i32(-1)
				}
				if v >= 5 {
					e.i64(-1)
				}
				e.i32(1048576)
				if v >= 17 {
					e.tags(topicID[:]) // replica_directory_id, tag 0
				} else {
					e.tags()
				}
			})
			e.tags()
		})
		if v >= 7 {
			e.arr(0, nil)
		}
		if v >= 11 {
			e.str("")
		}
		e.tags()
	}
}

// fetchResp writes a Fetch response body: top-level error (v7+), one
// topic whose partitions have the given errors and recs bytes of records.
func fetchResp(v int16, recs int, top int16, errs ...int16) func(e *enc) {
	return func(e *enc) {
		if v >= 1 {
			e.i32(0)
		}
		if v >= 7 {
			e.i16(top)
			e.i32(7)
		}
		e.arr(1, func(int) {
			if v >= 13 {
				e.uuid(topicID)
			} else {
				e.str("orders")
			}
			e.arr(len(errs), func(j int) {
				e.i32(int32(j))
				e.i16(errs[j])
				e.i64(100)
				if v >= 4 {
					e.i64(100)
				}
				if v >= 5 {
					e.i64(0)
				}
				if v >= 4 {
					e.arr(1, func(int) { e.i64(9); e.i64(10); e.tags() })
				}
				if v >= 11 {
					e.i32(-1)
				}
				e.bytes(recs)
				e.tags([]byte{0, 0, 0, 1, 0, 0, 0, 2}) // e.g. current_leader
			})
			e.tags()
		})
		e.tags()
	}
}

type tcase struct {
	name  string
	steps []step
	want  []string
	drops [l7.NumDropReasons]int
	ctx   func(*l7.Context)
}

func group(g string) func(e *enc) { return func(e *enc) { e.str(g) } }

// The expected values follow the message layouts of Kafka's protocol
// guide (https://kafka.apache.org/protocol), written by hand from them.
var cases = []tcase{
	{name: "produce v0..v13", steps: func() []step {
		var st []step
		for _, v := range []int16{0, 2, 3, 7, 8, 9, 11, 13} {
			st = append(st,
				cli(req(0, v, int32(v), "app", produceReq(v, 1, map[string][]int32{"orders": {0, 2}, "audit": {5}}, []string{"orders", "audit"}))),
				srv(resp(0, v, int32(v), produceResp(v, "orders", 0, 6))))
		}
		return st
	}(), want: []string{
		"Produce|orders|6|server_error|0|orders,audit|0,2,5||1",
		"Produce|orders|6|server_error|2|orders,audit|0,2,5||1",
		"Produce|orders|6|server_error|3|orders,audit|0,2,5||1",
		"Produce|orders|6|server_error|7|orders,audit|0,2,5||1",
		"Produce|orders|6|server_error|8|orders,audit|0,2,5||1",
		"Produce|orders|6|server_error|9|orders,audit|0,2,5||1",
		"Produce|orders|6|server_error|11|orders,audit|0,2,5||1",
		"Produce|" + topicIDText + "|6|server_error|13|" + topicIDText + "," + topicIDText + "|0,2,5||1",
	}},
	{name: "produce acks 0", steps: []step{
		cli(req(0, 9, 1, "app", produceReq(9, 0, map[string][]int32{"t": {0}}, []string{"t"}))),
		cli(req(0, 9, 2, "app", produceReq(9, -1, map[string][]int32{"t": {1}}, []string{"t"}))),
		srv(resp(0, 9, 2, produceResp(9, "t", 0)))},
		want: []string{"Produce|t||one_way|1|t|0||0", "Produce|t|0|ok|2|t|1||-1"}},
	{name: "fetch v0..v18", steps: func() []step {
		var st []step
		for _, v := range []int16{0, 3, 4, 5, 7, 9, 11, 12, 13, 15, 17, 18} {
			st = append(st,
				cli(req(1, v, int32(100+v), "consumer-1", fetchReq(v, "orders", 0, 1))),
				srv(resp(1, v, int32(100+v), fetchResp(v, 60, 0, 0, 1))))
		}
		return st
	}(), want: []string{
		"Fetch|orders|1|client_error|100|orders|0,1||",
		"Fetch|orders|1|client_error|103|orders|0,1||",
		"Fetch|orders|1|client_error|104|orders|0,1||",
		"Fetch|orders|1|client_error|105|orders|0,1||",
		"Fetch|orders|1|client_error|107|orders|0,1||",
		"Fetch|orders|1|client_error|109|orders|0,1||",
		"Fetch|orders|1|client_error|111|orders|0,1||",
		"Fetch|orders|1|client_error|112|orders|0,1||",
		"Fetch|" + topicIDText + "|1|client_error|113|" + topicIDText + "|0,1||",
		"Fetch|" + topicIDText + "|1|client_error|115|" + topicIDText + "|0,1||",
		"Fetch|" + topicIDText + "|1|client_error|117|" + topicIDText + "|0,1||",
		"Fetch|" + topicIDText + "|1|client_error|118|" + topicIDText + "|0,1||",
	}},
	{name: "fetch top-level error", steps: []step{
		cli(req(1, 12, 5, "c", fetchReq(12, "orders", 0))),
		srv(resp(1, 12, 5, fetchResp(12, 60, 70))), // FETCH_SESSION_ID_NOT_FOUND, no partitions
		cli(req(1, 12, 6, "c", fetchReq(12, "orders", 0))),
		srv(resp(1, 12, 6, fetchResp(12, 60, 0, 0)))},
		want: []string{"Fetch|orders|70|client_error|5|orders|0||", "Fetch|orders|0|ok|6|orders|0||"}},
	{name: "group apis", steps: []step{
		cli(req(11, 7, 120, "consumer-g-1", group("g"))),
		srv(resp(11, 7, 120, func(e *enc) { e.i32(0); e.i16(79); e.i32(-1) })), // MEMBER_ID_REQUIRED
		cli(req(14, 5, 121, "consumer-g-1", group("g"))),
		srv(resp(14, 5, 121, func(e *enc) { e.i32(0); e.i16(27) })), // REBALANCE_IN_PROGRESS
		cli(req(12, 0, 122, "consumer-g-1", group("g"))),
		srv(resp(12, 0, 122, func(e *enc) { e.i16(0) })), // v0: no throttle
		cli(req(13, 4, 123, "consumer-g-1", group("g"))),
		srv(resp(13, 4, 123, func(e *enc) { e.i32(0); e.i16(16) })), // NOT_COORDINATOR
		cli(req(10, 0, 124, "c", func(e *enc) { e.str("g") })),
		srv(resp(10, 0, 124, func(e *enc) { e.i16(15) })), // COORDINATOR_NOT_AVAILABLE
		cli(req(9, 5, 125, "c", func(e *enc) {
			e.str("g")
			e.arr(1, func(int) { e.str("t"); e.arr(2, func(j int) { e.i32(int32(j)) }) })
		})),
		srv(resp(9, 5, 125, func(e *enc) { e.i32(0); e.arr(0, nil); e.i16(0) }))},
		want: []string{
			"JoinGroup|g|79|client_error|120|||g|",
			"SyncGroup|g|27|client_error|121|||g|",
			"Heartbeat|g|0|ok|122|||g|",
			"LeaveGroup|g|16|server_error|123|||g|",
			"FindCoordinator||15|server_error|124||||",
			// OffsetFetch's error code is at the end: not read.
			"OffsetFetch|t||ok|125|t|0,1|g|",
		}},
	{name: "api versions", steps: []step{
		cli(req(18, 3, 2, "adminclient-1", func(e *enc) { e.str("apache-kafka-java"); e.str("3.5.0"); e.tags() })),
		// The response header stays v0 (no tagged fields) in flexible
		// versions; the body is flexible.
		srv(resp(18, 3, 2, func(e *enc) { e.i16(35); e.arr(0, nil); e.i32(0); e.tags() }))},
		want: []string{"ApiVersions||35|client_error|2||||"}},
	{name: "metadata and list offsets", steps: []step{
		cli(req(3, 12, 1, "c", func(e *enc) {
			e.arr(2, func(i int) { e.uuid([16]byte{}); e.str([]string{"a", "b"}[i]); e.tags() })
			e.i8(1)
			e.i8(0)
			e.tags()
		})),
		srv(resp(3, 12, 1, func(e *enc) { e.i32(0); e.arr(0, nil) })),
		cli(req(2, 1, 2, "c", func(e *enc) {
			e.i32(-1)
			e.arr(1, func(int) { e.str("a"); e.arr(2, func(j int) { e.i32(int32(j) + 3); e.i64(-1) }) })
		})),
		srv(resp(2, 1, 2, func(e *enc) {
			e.arr(1, func(int) { e.str("a"); e.arr(1, func(int) { e.i32(3); e.i16(3); e.i64(0); e.i64(0) }) })
		}))},
		want: []string{"Metadata|a||ok|1|a,b|||", "ListOffsets|a|3|client_error|2|a|3,4||"}},
	{name: "correlation order", steps: []step{
		cli(req(12, 4, 10, "c", group("g"))),
		cli(req(12, 4, 11, "c", group("g"))),
		cli(req(12, 4, 12, "c", group("g"))),
		srv(resp(12, 4, 12, func(e *enc) { e.i32(0); e.i16(0) })),
		srv(resp(12, 4, 99, func(e *enc) { e.i32(0); e.i16(0) }))},
		// Kafka answers in order: 12's response means 10 and 11 get
		// none. 99 answers nothing seen.
		want: []string{
			"Heartbeat|g||no_response|10|||g|", "Heartbeat|g||no_response|11|||g|",
			"Heartbeat|g|0|ok|12|||g|", "|||no_request|99||||",
		}},
	{name: "max pending and late response", steps: []step{
		cli(req(12, 4, 1, "c", group("g"))),
		cli(req(12, 4, 2, "c", group("g"))),
		cli(req(12, 4, 3, "c", group("g"))),
		srv(resp(12, 4, 1, func(e *enc) { e.i32(0); e.i16(25) }))},
		ctx: func(c *l7.Context) { c.MaxPending = 2 },
		// 1 is evicted by 3; its response is still decoded.
		want: []string{"Heartbeat|g||no_response|1|||g|", "Heartbeat||25|no_request|1||||", "Heartbeat|g||no_response|2|||g|", "Heartbeat|g||no_response|3|||g|"}},
	{name: "timeout", steps: []step{
		{dir: c2s, data: req(1, 12, 20, "c", fetchReq(12, "t", 0)), ts: 1000},
		{dir: s2c, data: resp(1, 12, 20, fetchResp(12, 60, 0, 0)), ts: 1200}},
		ctx:  func(c *l7.Context) { c.Timeout = 100 },
		want: []string{"Fetch|t||no_response|20|t|0||", "Fetch||0|no_request|20||||"}},
	{name: "gap inside a frame", steps: []step{
		cli(req(1, 12, 1, "c", fetchReq(12, "orders", 0))),
		srv(resp(1, 12, 1, fetchResp(12, 1000, 0, 3))[:200]), {dir: s2c, gap: 500}, srv(resp(1, 12, 1, fetchResp(12, 1000, 0, 3))[700:]),
		cli(req(1, 12, 2, "c", fetchReq(12, "orders", 0))), srv(resp(1, 12, 2, fetchResp(12, 60, 0, 0)))},
		// The hole is in the first partition's records: its error code
		// was read, the frame end is known, the next frame is whole.
		want: []string{"Fetch|orders|3|client_error|1|orders|0|| T", "Fetch|orders|0|ok|2|orders|0||"}},
	{name: "gap between frames", steps: []step{
		cli(req(12, 4, 1, "c", group("g"))), cli(req(12, 4, 2, "c", group("g"))),
		srv(resp(12, 4, 1, func(e *enc) { e.i32(0); e.i16(0) })[:10]), {dir: s2c, gap: 20},
		srv([]byte("junk")), srv(resp(12, 4, 2, func(e *enc) { e.i32(0); e.i16(0) }))},
		// The first response is lost (10 bytes read: DropGap); "junk" is
		// skipped until a size followed by a pending correlation id.
		want:  []string{"Heartbeat|g||no_response|1|||g|", "Heartbeat|g|0|ok|2|||g|"},
		drops: [l7.NumDropReasons]int{l7.DropGap: 10, l7.DropResync: 4}},
	{name: "mid-stream start", steps: []step{
		{dir: c2s, gap: -1}, {dir: s2c, gap: -1},
		cli(append([]byte{0, 1, 2, 3, 4, 5, 6}, req(12, 4, 7, "consumer-1", group("g"))...)),
		srv(append([]byte{9, 9, 9}, resp(12, 4, 7, func(e *enc) { e.i32(0); e.i16(0) })...))},
		want:  []string{"Heartbeat|g|0|ok|7|||g|"},
		drops: [l7.NumDropReasons]int{l7.DropResync: 10}},
	{name: "roles swapped", steps: []step{
		{dir: s2c, gap: -1}, {dir: c2s, gap: -1},
		srv(req(11, 7, 120, "consumer-g-1", group("g"))),
		cli(resp(11, 7, 120, func(e *enc) { e.i32(0); e.i16(-1) }))},
		want: []string{"JoinGroup|g|-1|server_error|120|||g|"}},
	{name: "bad size", steps: []step{
		cli([]byte{0xff, 0xff, 0xff, 0xff}), cli(req(12, 4, 1, "consumer-1", group("g"))),
		srv(resp(12, 4, 1, func(e *enc) { e.i32(0); e.i16(0) }))},
		want:  []string{"Heartbeat|g|0|ok|1|||g|"},
		drops: [l7.NumDropReasons]int{l7.DropMalformed: 4}},
	{name: "unknown version", steps: []step{
		cli(req(0, 15, 1, "future", func(e *enc) { e.i16(1) })), srv(resp(0, 15, 1, func(e *enc) { e.i32(0) }))},
		// A version past the table: the header is read, not the body.
		want: []string{"Produce|||ok|1||||"}},
	// partitions holds 64 bytes: "0,1,...,24" is 64, ",25" would pass.
	{name: "truncated captures", steps: []step{
		cli(req(0, 3, 1, "c", produceReq(3, 1, map[string][]int32{strings.Repeat("t", 150): {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29}, "u": {0}}, []string{strings.Repeat("t", 150), "u"}))),
		srv(resp(0, 3, 1, produceResp(3, "t", 0)))},
		want: []string{"Produce|" + strings.Repeat("t", 150) + "|0|ok|1|" + strings.Repeat("t", 150) + ",u|0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24||1 T"}},
	{name: "cut by the end", steps: []step{
		cli(req(12, 4, 1, "c", group("g"))), srv(resp(12, 4, 1, func(e *enc) { e.i32(0); e.i16(0) })[:9])},
		want:  []string{"Heartbeat|g||no_response|1|||g|"},
		drops: [l7.NumDropReasons]int{l7.DropOther: 9}},
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tweak []func(*l7.Context)
			if c.ctx != nil {
				tweak = append(tweak, c.ctx)
			}
			s := run(t, c.steps, 0, tweak...)
			checkSink(t, s)
			got := brief(s)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if s.Drops != c.drops {
				t.Errorf("drops %v, want %v", s.Drops, c.drops)
			}
		})
	}
}

// TestSplitAnywhere cuts every data step of every case at every position
// and feeds each byte alone: the transactions and drops must not change.
func TestSplitAnywhere(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tweak []func(*l7.Context)
			if c.ctx != nil {
				tweak = append(tweak, c.ctx)
			}
			whole := l7test.Describe(run(t, c.steps, 0, tweak...))
			if got := l7test.Describe(run(t, c.steps, 1, tweak...)); got != whole {
				t.Fatalf("byte by byte:\n%s\nwhole:\n%s", got, whole)
			}
			for k, st := range c.steps {
				for at := 1; at < len(st.data); at++ {
					if got := l7test.Describe(run(t, cut(c.steps, k, at), 0, tweak...)); got != whole {
						t.Fatalf("step %d cut at %d:\n%s\nwhole:\n%s", k, at, got, whole)
					}
				}
			}
		})
	}
}

// cut splits data step k at position at, with every step's timestamp
// as in the uncut script.
func cut(steps []step, k, at int) []step {
	var out []step
	ts := int64(1000)
	for i, st := range steps {
		if st.ts != 0 {
			ts = st.ts
		} else {
			ts++
		}
		st.ts = ts
		if i == k && st.data != nil && at > 0 && at < len(st.data) {
			a, b := st, st
			a.data, b.data = st.data[:at], st.data[at:]
			out = append(out, a, b)
			continue
		}
		out = append(out, st)
	}
	return out
}
