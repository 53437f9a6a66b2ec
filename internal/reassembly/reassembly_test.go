package reassembly

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/flow"
)

// A connection with client ISN 1000 (data from 1001) and server ISN 5000
// (data from 5001).
var handshake = []seg{
	{dir: c2s, seq: 1000, flags: syn},
	{dir: s2c, seq: 5000, ack: 1001, flags: syn | ack},
	{dir: c2s, seq: 1001, ack: 5001, flags: ack},
}

func TestTable(t *testing.T) {
	small := Config{MaxBufferedPerDir: 1000, MaxBufferedTotal: 1 << 20}
	tests := []struct {
		name     string
		cfg      Config
		segs     []seg
		close    EndReason // 0: none
		c2s, s2c string
		end      EndReason // 0: must not have ended
		check    func(t *testing.T, st Stats)
	}{
		{
			name: "in order, FIN both ways",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, ack: 5001, flags: ack | psh, data: "GET / HTTP/1.1\r\n\r\n"},
				seg{dir: s2c, seq: 5001, ack: 1019, flags: ack, data: "HTTP/1.1 200 OK\r\n"},
				seg{dir: s2c, seq: 5018, ack: 1019, flags: ack | psh, data: "\r\nhello"},
				seg{dir: s2c, seq: 5025, ack: 1019, flags: ack | fin},
				seg{dir: c2s, seq: 1019, ack: 5026, flags: ack | fin},
				seg{dir: s2c, seq: 5026, ack: 1020, flags: ack}, // after End: unknown stream
			),
			c2s: "GET / HTTP/1.1\r\n\r\n", s2c: "HTTP/1.1 200 OK\r\n\r\nhello", end: EndClosed,
			check: func(t *testing.T, st Stats) {
				if st.UnknownSegments != 1 || st.GapMissing+st.OverlapDropped != 0 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "reversed",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1009, flags: ack, data: "ghi"},
				seg{dir: c2s, seq: 1007, flags: ack, data: "ef"},
				seg{dir: c2s, seq: 1004, flags: ack, data: "cd"},
				seg{dir: c2s, seq: 1006, flags: ack, data: "X"}, // fills 1006
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
			),
			c2s: "abccdXefghi",
			check: func(t *testing.T, st Stats) {
				if st.BufferedBytes != 0 || st.BufferedMemory != 0 || st.DeliveredBytes != 11 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "duplicates",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1004, flags: ack, data: "def"},
				seg{dir: c2s, seq: 1002, flags: ack, data: "bcdefg"}, // 5 old, 1 new
			),
			c2s: "abcdefg",
			check: func(t *testing.T, st Stats) {
				if st.OverlapDropped != 8 || st.OverlapConflict != 0 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "overlap with buffered, same and different bytes: first wins",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1005, flags: ack, data: "efgh"},
				seg{dir: c2s, seq: 1003, flags: ack, data: "cdef"},  // ef same
				seg{dir: c2s, seq: 1007, flags: ack, data: "XYij"},  // gh differ → conflict
				seg{dir: c2s, seq: 1001, flags: ack, data: "abCDE"}, // CDE vs cde: conflict 3
			),
			c2s: "abcdefghij",
			check: func(t *testing.T, st Stats) {
				if st.OverlapDropped != 2 || st.OverlapConflict != 5 {
					t.Errorf("dropped %d conflict %d", st.OverlapDropped, st.OverlapConflict)
				}
			},
		},
		{
			name: "hole never filled, released by Close",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1010, flags: ack, data: "jk"},
				seg{dir: c2s, seq: 1020, flags: ack, data: "tu"},
			),
			close: EndClosed,
			c2s:   "abc[gap 6]jk[gap 8]tu", end: EndClosed,
			check: func(t *testing.T, st Stats) {
				if st.GapMissing != 14 || st.BufferedBytes != 0 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "hole never filled, released by the per-direction budget",
			cfg:  small,
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1104, flags: ack, data: strings.Repeat("x", 400)}, // 512+48
				seg{dir: c2s, seq: 1504, flags: ack, data: strings.Repeat("y", 300)}, // 384+48: 992 fits
				seg{dir: c2s, seq: 1804, flags: ack, data: "z"},                      // 64+48: too much
			),
			c2s: "abc[gap 100]" + strings.Repeat("x", 400) + strings.Repeat("y", 300) + "z",
			check: func(t *testing.T, st Stats) {
				if st.BudgetDir != 100 || st.BufferedBytes != 0 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "SYN retransmission",
			segs: []seg{
				{dir: c2s, seq: 1000, flags: syn},
				{dir: c2s, seq: 1000, flags: syn},
				{dir: s2c, seq: 5000, ack: 1001, flags: syn | ack},
				{dir: c2s, seq: 1000, flags: syn},
				{dir: s2c, seq: 5000, ack: 1001, flags: syn | ack},
				{dir: c2s, seq: 1001, ack: 5001, flags: ack, data: "hi"},
			},
			c2s: "hi",
		},
		{
			name: "SYN with data (TFO), retransmitted",
			segs: []seg{
				{dir: c2s, seq: 1000, flags: syn, data: "tfo"},
				{dir: c2s, seq: 1000, flags: syn, data: "tfo"},
				{dir: c2s, seq: 1004, flags: ack, data: "!"},
			},
			c2s: "tfo!",
		},
		{
			name: "data after FIN",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1005, flags: ack, data: "efgh"}, // buffered, partly beyond the FIN
				seg{dir: c2s, seq: 1007, flags: ack | fin},
				seg{dir: c2s, seq: 1004, flags: ack, data: "d"},
				seg{dir: c2s, seq: 1007, flags: ack, data: "zz"},
			),
			c2s: "abcdef",
			check: func(t *testing.T, st Stats) {
				if st.AfterFIN != 4 {
					t.Errorf("after FIN %d", st.AfterFIN)
				}
			},
		},
		{
			name: "FIN waits for the hole before it",
			segs: append(append([]seg{}, handshake...),
				seg{dir: s2c, seq: 5001, flags: ack | fin},
				seg{dir: c2s, seq: 1004, flags: ack | fin, data: "de"},
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
			),
			c2s: "abcde", end: EndClosed,
		},
		{
			name: "RST delivers what it can and ends",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1010, flags: ack, data: "jk"},
				seg{dir: s2c, seq: 5001, flags: rst},
				seg{dir: c2s, seq: 1004, flags: ack, data: "def"},
			),
			c2s: "abc[gap 6]jk", end: EndReset,
			check: func(t *testing.T, st Stats) {
				if st.GapMissing != 6 || st.UnknownStream != 3 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "sequence wraparound",
			segs: []seg{
				{dir: c2s, seq: 0xfffffffa, flags: syn},
				{dir: c2s, seq: 0x00000001, flags: ack, data: "ghij"}, // out of order, past the wrap
				{dir: c2s, seq: 0xfffffffb, flags: ack, data: "abcd"},
				{dir: c2s, seq: 0xffffffff, flags: ack, data: "ef"}, // crosses 2^32
				{dir: c2s, seq: 0x00000005, flags: ack | fin, data: "k"},
			},
			c2s: "abcdefghijk",
		},
		{
			name: "mid-stream start",
			segs: []seg{
				{dir: s2c, seq: 777, flags: ack, data: "ody\r\n"},
				{dir: c2s, seq: 333, flags: ack | psh, data: "GET /"},
				{dir: c2s, seq: 330, flags: ack, data: "xyzGE"}, // before the start
			},
			c2s: "[gap -1]GET /", s2c: "[gap -1]ody\r\n",
			check: func(t *testing.T, st Stats) {
				if st.MidstreamUnknown != 2 || st.BeforeStart != 3 || st.OverlapDropped != 2 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "payload shorter than payloadLen (snap length)",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc", plen: 10},
				seg{dir: c2s, seq: 1031, flags: ack, data: "EF", plen: 5}, // out of order, cut
				seg{dir: c2s, seq: 1011, flags: ack, data: "klmnopqrst"},
				seg{dir: c2s, seq: 1021, flags: ack, data: "u", plen: 10}, // fills the hole
			),
			c2s: "abc[gap 7]klmnopqrstu[gap 9]EF[gap 3]",
			check: func(t *testing.T, st Stats) {
				if st.Snaplen != 19 {
					t.Errorf("snaplen %d", st.Snaplen)
				}
			},
		},
		{
			name: "ACK beyond a hole skips it",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1010, flags: ack, data: "jkl"},
				seg{dir: s2c, seq: 5001, ack: 1008, flags: ack}, // partial: [1004,1008)
				seg{dir: s2c, seq: 5001, ack: 1013, flags: ack}, // the rest
				seg{dir: c2s, seq: 1004, flags: ack, data: "defghi"},
				seg{dir: s2c, seq: 5001, ack: 1100, flags: ack}, // nothing buffered: no skip
				seg{dir: c2s, seq: 1050, flags: ack, data: "!"}, // already acked: skipped at once
			),
			c2s: "abc[gap 4][gap 2]jkl[gap 37]!",
			check: func(t *testing.T, st Stats) {
				if st.GapAcked != 43 || st.OverlapDropped != 6 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "sequence jump resynchronises",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abc"},
				seg{dir: c2s, seq: 1010, flags: ack, data: "jk"},
				seg{dir: c2s, seq: 1001 + 1<<31, flags: ack, data: "new"},
				seg{dir: c2s, seq: 1004 + 1<<31, flags: ack, data: "er"},
			),
			c2s: "abc[gap 6]jk[gap -1]newer",
			check: func(t *testing.T, st Stats) {
				if st.Resyncs != 1 || st.GapMissing != 6 {
					t.Errorf("%+v", st)
				}
			},
		},
		{
			name: "FIN in the past is ignored",
			segs: append(append([]seg{}, handshake...),
				seg{dir: c2s, seq: 1001, flags: ack, data: "abcdef"},
				seg{dir: c2s, seq: 1003, flags: ack | fin},
				seg{dir: c2s, seq: 1007, flags: ack, data: "g"},
			),
			c2s: "abcdefg",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(tc.cfg)
			k := testKey(1)
			r := newRecorder(t)
			a.Open(k, r, 1)
			feed(a, k, tc.segs, 10)
			if tc.close != 0 {
				a.Close(k, tc.close, 100)
			}
			if got := r.String(c2s); got != tc.c2s {
				t.Errorf("client→server\n got %q\nwant %q", got, tc.c2s)
			}
			if got := r.String(s2c); got != tc.s2c {
				t.Errorf("server→client\n got %q\nwant %q", got, tc.s2c)
			}
			if tc.end == 0 && r.ended > 0 {
				t.Errorf("ended (%v)", r.reason)
			} else if tc.end != 0 && (r.ended != 1 || r.reason != tc.end) {
				t.Errorf("end %d×%v, want %v", r.ended, r.reason, tc.end)
			}
			st := a.Stats()
			if tc.check != nil {
				tc.check(t, st)
			}
			var captured uint64
			for _, s := range tc.segs {
				captured += uint64(len(s.data))
			}
			checkAccounting(t, st, captured)
			a.Flush(200)
			if r.ended != 1 {
				t.Errorf("End after Flush: %d", r.ended)
			}
			st = a.Stats()
			checkAccounting(t, st, captured)
			if st.BufferedBytes != 0 || st.BufferedMemory != 0 || st.StreamsActive != 0 {
				t.Errorf("after Flush: %+v", st)
			}
		})
	}
}

// Every order of five segments delivers the same bytes.
func TestPermutations(t *testing.T) {
	parts := []string{"The ", "quick ", "brown ", "fox ", "jumps"}
	var segs []seg
	seq := uint32(0xfffffff0) // across the wrap, too
	for _, p := range parts {
		segs = append(segs, seg{dir: c2s, seq: seq, flags: ack, data: p})
		seq += uint32(len(p))
	}
	want := strings.Join(parts, "")
	n := 0
	permute(len(segs), func(order []int) {
		n++
		a := New(Config{})
		k := testKey(7)
		r := newRecorder(t)
		a.Open(k, r, 0)
		// The SYN fixes the start, so that any segment may come first.
		a.Segment(k, c2s, 0xfffffff0-1, 0, syn, nil, 0, 1)
		for i, j := range order {
			s := segs[j]
			a.Segment(k, c2s, s.seq, 0, s.flags, []byte(s.data), len(s.data), int64(2+i))
		}
		if got := r.String(c2s); got != want {
			t.Fatalf("order %v: %q", order, got)
		}
		if st := a.Stats(); st.BufferedBytes != 0 || st.BufferedMemory != 0 || st.DeliveredBytes != uint64(len(want)) {
			t.Fatalf("order %v: %+v", order, st)
		}
	})
	if n != 120 {
		t.Fatalf("%d permutations", n)
	}
}

// permute calls fn with every permutation of 0..n-1 (Heap's algorithm).
func permute(n int, fn func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var gen func(k int)
	gen = func(k int) {
		if k == 1 {
			fn(p)
			return
		}
		for i := 0; i < k; i++ {
			gen(k - 1)
			if k%2 == 0 {
				p[i], p[k-1] = p[k-1], p[i]
			} else {
				p[0], p[k-1] = p[k-1], p[0]
			}
		}
	}
	gen(n)
}

func TestTotalBudget(t *testing.T) {
	// Each stream holds one chunk of 100 bytes (128 + 48 = 176 charged);
	// the total budget holds three.
	a := New(Config{MaxBufferedTotal: 3 * 176})
	var recs []*recorder
	for i := range 5 {
		k := testKey(i)
		r := newRecorder(t)
		recs = append(recs, r)
		a.Open(k, r, int64(i))
		a.Segment(k, c2s, 1000, 0, syn, nil, 0, int64(i))
		a.Segment(k, c2s, 1011, 0, ack, make([]byte, 100), 100, int64(i))
	}
	st := a.Stats()
	if st.BudgetTotal != 20 || st.BufferedMemory != 3*176 || st.BufferedMemoryPeak != 3*176 {
		t.Fatalf("%+v", st)
	}
	// The two oldest holders gave up their holes.
	for i, r := range recs {
		want := ""
		if i < 2 {
			want = "[gap 10]" + string(make([]byte, 100))
		}
		if got := r.String(c2s); got != want {
			t.Errorf("stream %d: %q", i, got)
		}
	}
}

func TestIdleAndEviction(t *testing.T) {
	a := New(Config{MaxStreams: 3, IdleTimeout: 10 * time.Second})
	sec := int64(time.Second)
	var recs []*recorder
	open := func(i int, ts int64) {
		r := newRecorder(t)
		recs = append(recs, r)
		k := testKey(i)
		a.Open(k, r, ts)
		a.Segment(k, c2s, 100, 0, ack, []byte("x"), 1, ts)
		a.Segment(k, c2s, 110, 0, ack, []byte("later"), 5, ts) // a hole of 9
	}
	open(0, 0)
	open(1, 1*sec)
	open(2, 2*sec)
	a.Segment(testKey(0), c2s, 101, 0, ack, []byte("y"), 1, 3*sec) // 0 is now the most recent
	open(3, 4*sec)                                                 // evicts 1
	if recs[1].reason != EndEvicted || recs[0].ended+recs[2].ended != 0 {
		t.Fatalf("eviction: %v %v %v", recs[0].reason, recs[1].reason, recs[2].reason)
	}
	if got := recs[1].String(c2s); got != "[gap -1]x[gap 9]later" {
		t.Errorf("evicted stream got %q", got)
	}
	a.Expire(12*sec + sec/2) // 2 idle since 2s; 0 active at 3s
	if recs[2].reason != EndIdle || recs[0].ended+recs[3].ended != 0 {
		t.Fatalf("expire: %v %v %v", recs[0].reason, recs[2].reason, recs[3].reason)
	}
	// A segment on a stream idle for longer than the timeout ends it,
	// even without Expire.
	if a.Segment(testKey(0), c2s, 102, 0, ack, []byte("z"), 1, 14*sec) {
		t.Errorf("segment accepted on an idle stream")
	}
	if recs[0].reason != EndIdle {
		t.Errorf("stream 0: %v", recs[0].reason)
	}
	st := a.Stats()
	if st.EvictedStream != 9 || st.IdleEnd != 9+8 || st.EndedEvicted != 1 || st.EndedIdle != 2 || st.StreamsActive != 1 {
		t.Errorf("%+v", st)
	}
	// Opening a key whose stream is idle ends that stream as idle.
	a.Open(testKey(3), nil, 15*sec)
	if recs[3].reason != EndIdle || a.Stats().StreamsReplaced != 0 {
		t.Errorf("reopen: %v", recs[3].reason)
	}
}

// reenter calls the Assembler from inside its callbacks, then panics.
type reenter struct {
	a      *Assembler
	k      flow.Key
	panics bool
	calls  int
}

func (r *reenter) Data(d flow.Dir, b []byte, ts int64) {
	r.calls++
	r.a.Close(r.k, EndClosed, ts)
	r.a.Segment(r.k, d, 0, 0, 0, b, len(b), ts)
	r.a.Flush(ts)
	r.a.Open(r.k, nil, ts)
	r.a.Expire(ts)
	if r.panics {
		panic("consumer bug")
	}
}
func (r *reenter) Gap(flow.Dir, int64, int64) {}
func (r *reenter) End(EndReason, int64)       {}

func TestReentryAndPanic(t *testing.T) {
	a := New(Config{})
	k := testKey(1)
	c := &reenter{a: a, k: k}
	a.Open(k, c, 0)
	a.Segment(k, c2s, 1, 0, ack, []byte("abc"), 3, 1)
	if st := a.Stats(); st.IgnoredCalls != 5 || st.StreamsActive != 1 || c.calls != 1 {
		t.Fatalf("%+v", st)
	}
	c.panics = true
	func() {
		defer func() { recover() }()
		a.Segment(k, c2s, 4, 0, ack, []byte("def"), 3, 2)
	}()
	// The Assembler is not left locked, and still works.
	c.panics = false
	if !a.Segment(k, c2s, 7, 0, ack, []byte("g"), 1, 3) {
		t.Fatal("segment refused after a consumer panic")
	}
	if st := a.Stats(); st.DeliveredBytes != 7 {
		t.Fatalf("%+v", st)
	}
	if a.Segment(k, 2, 8, 0, ack, []byte("h"), 1, 4) {
		t.Fatal("invalid direction accepted")
	}
	a.Flush(5)
	if st := a.Stats(); st.StreamsActive != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestUnknownAndNil(t *testing.T) {
	a := New(Config{})
	if a.Segment(testKey(1), c2s, 1, 0, ack, []byte("abc"), 3, 1) {
		t.Fatal("unknown key accepted")
	}
	a.Close(testKey(1), EndReset, 2)
	a.Open(testKey(2), nil, 3) // count only
	a.Segment(testKey(2), c2s, 10, 0, ack, []byte("abc"), 3, 4)
	r := newRecorder(t)
	a.Open(testKey(2), r, 4)   // the port pair is reused: the old stream ends
	a.Close(testKey(2), 99, 5) // invalid reason: closed
	st := a.Stats()
	if st.StreamsReplaced != 1 || r.reason != EndClosed {
		t.Fatalf("%+v %v", st, r.reason)
	}
	if st.UnknownSegments != 1 || st.UnknownStream != 3 || st.DeliveredBytes != 3 || st.EndedClosed != 2 {
		t.Fatalf("%+v", st)
	}
	checkAccounting(t, st, 6)
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{MaxBufferedPerDir: -1, MaxBufferedTotal: 1, MaxStreams: 1, IdleTimeout: 1},
		{MaxBufferedPerDir: 1, MaxBufferedTotal: 0, MaxStreams: 1, IdleTimeout: 1},
		{MaxBufferedPerDir: 1, MaxBufferedTotal: 1, MaxStreams: 1 << 31, IdleTimeout: 1},
		{MaxBufferedPerDir: 1, MaxBufferedTotal: 1, MaxStreams: 1, IdleTimeout: -1},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if b := DefaultConfig().MemoryBound(); b < 64<<20 || b > 160<<20 {
		t.Errorf("default bound %d", b)
	}
	for r := range EndReason(7) {
		if r.String() == "" {
			t.Errorf("%d", r)
		}
	}
	b, err := json.Marshal(Stats{})
	if err != nil || !strings.Contains(string(b), `"overlap_conflict":0`) || !strings.Contains(string(b), `"streams_opened":0`) {
		t.Errorf("%s %v", b, err)
	}
}

func TestSizeClasses(t *testing.T) {
	prev := 0
	for c := range numClasses {
		sz := classSize(c)
		if sz <= prev || classOf(sz) != c || classOf(prev+1) != c {
			t.Errorf("class %d size %d", c, sz)
		}
		prev = sz
	}
	if prev != maxChunk {
		t.Errorf("last class %d", prev)
	}
	if classSize(classOf(1460)) != 1536 {
		t.Errorf("1460 → %d", classSize(classOf(1460)))
	}
}
