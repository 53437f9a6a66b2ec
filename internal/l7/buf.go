package l7

// Redacted replaces a credential's value in a Field when
// Context.KeepCredentials is off.
var Redacted = []byte("<redacted>")

// MaxField bounds a field value a parser puts in a Transaction (SQL text,
// a URL, a header value): longer values are cut there and the transaction
// is marked FlagTruncated.
const MaxField = 4096

// Cut returns b cut to MaxField bytes and whether it was cut.
func Cut(b []byte) ([]byte, bool) {
	if len(b) > MaxField {
		return b[:MaxField], true
	}
	return b, false
}

// Buf holds the unparsed tail of one direction between Data calls, so
// that a parser can wait for a whole message header. The common case (a
// Data call that holds whole messages) costs no copy: Feed returns b
// itself when nothing is held.
//
//	p := buf.Feed(b)
//	n := parseAsMuchAsPossible(p)
//	if dropped := buf.Keep(p[n:]); dropped > 0 { sink.Drop(DropTooLarge, dropped) }
type Buf struct {
	held    []byte
	max     int
	budget  *Budget
	charged int // capacity of held charged to budget
}

// NewBuf returns a Buf that holds at most max bytes, outside any memory
// budget (tests). Parsers use Context.NewBuf.
func NewBuf(max int) Buf { return Buf{max: max} }

// NewBuf returns a Buf bounded by MaxMessage and charged to the flow's
// share of the Tracker's parser memory budget.
func (c Context) NewBuf() Buf { return Buf{max: c.MaxMessage, budget: c.Budget} }

// Budget is one flow's account with the Tracker's parser memory budget
// (Config.MaxParserMemory): what its Bufs hold is charged to it, and
// released when the flow ends, whatever the parser does.
type Budget struct {
	shared *sharedBudget
	used   int64
}

type sharedBudget struct {
	limit  int64
	used   int64
	peak   int64
	denied uint64
}

func (b *Budget) take(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	s := b.shared
	if s.used+int64(n) > s.limit {
		s.denied++
		return false
	}
	s.used += int64(n)
	s.peak = max(s.peak, s.used)
	b.used += int64(n)
	return true
}

func (b *Budget) give(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.shared.used -= int64(n)
	b.used -= int64(n)
}

// release returns everything the flow still holds to the shared budget.
func (b *Budget) release() {
	b.shared.used -= b.used
	b.used = 0
}

// settle charges the budget for held's capacity; if the budget says no,
// everything held is dropped and its length returned.
func (s *Buf) settle() (dropped int) {
	if s.budget == nil {
		return 0
	}
	c := cap(s.held)
	switch {
	case c > s.charged:
		if !s.budget.take(c - s.charged) {
			n := len(s.held)
			s.held = nil
			s.budget.give(s.charged)
			s.charged = 0
			return n
		}
	case c < s.charged:
		s.budget.give(s.charged - c)
	}
	s.charged = c
	return 0
}

// Feed returns what to parse: the held bytes followed by b.
func (s *Buf) Feed(b []byte) []byte {
	if len(s.held) == 0 {
		return b
	}
	s.held = append(s.held, b...)
	return s.held
}

// Keep holds rest (the unparsed tail of what Feed returned) for the next
// Feed. If rest is longer than the limit nothing is held and Keep returns
// len(rest): the caller counts those bytes as dropped and resynchronises.
func (s *Buf) Keep(rest []byte) (dropped int) {
	if len(rest) > s.max {
		s.held = s.held[:0]
		s.shrink()
		s.settle()
		return len(rest)
	}
	if len(rest) == 0 {
		s.held = s.held[:0]
		s.shrink()
		s.settle()
		return 0
	}
	// rest may alias s.held (copy handles the overlap) or the caller's b.
	if cap(s.held) < len(rest) {
		s.held = make([]byte, len(rest), max(len(rest), 256))
		copy(s.held, rest)
	} else {
		s.held = s.held[:len(rest)]
		copy(s.held, rest)
	}
	return s.settle()
}

// Reset drops what is held and returns how many bytes that was.
func (s *Buf) Reset() int {
	n := len(s.held)
	s.held = s.held[:0]
	s.shrink()
	s.settle()
	return n
}

// Len returns the number of bytes held.
func (s *Buf) Len() int { return len(s.held) }

// shrink gives a large idle buffer back to the heap: thousands of flows
// each keeping the largest header they ever saw would add up.
func (s *Buf) shrink() {
	if cap(s.held) > 4096 {
		s.held = nil
	}
}

// Queue is a bounded FIFO of pending requests. Push on a full queue
// returns the oldest element, which the caller emits as
// OutcomeNoResponse.
type Queue[T any] struct {
	items []T
	head  int
	max   int
}

// NewQueue returns a queue of at most max elements.
func NewQueue[T any](max int) Queue[T] { return Queue[T]{max: max} }

// Len returns the number of queued elements.
func (q *Queue[T]) Len() int { return len(q.items) - q.head }

// Push appends v. If the queue was full the oldest element is removed and
// returned with evicted true.
func (q *Queue[T]) Push(v T) (old T, evicted bool) {
	if q.Len() >= q.max && q.max > 0 {
		old, _ = q.Pop()
		evicted = true
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, v)
	return old, evicted
}

// Pop removes and returns the oldest element.
func (q *Queue[T]) Pop() (v T, ok bool) {
	if q.Len() == 0 {
		return v, false
	}
	v = q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return v, true
}

// Peek returns the oldest element without removing it.
func (q *Queue[T]) Peek() (v *T, ok bool) {
	if q.Len() == 0 {
		return nil, false
	}
	return &q.items[q.head], true
}

// At returns the i-th oldest element (0 = oldest).
func (q *Queue[T]) At(i int) *T { return &q.items[q.head+i] }

// Remove removes the i-th oldest element, keeping the order of the rest
// (for protocols that match responses by id rather than by order).
func (q *Queue[T]) Remove(i int) T {
	j := q.head + i
	v := q.items[j]
	copy(q.items[j:], q.items[j+1:])
	var zero T
	q.items[len(q.items)-1] = zero
	q.items = q.items[:len(q.items)-1]
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return v
}
