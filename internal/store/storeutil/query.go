package storeutil

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/store"
)

// MaxListParams bounds the lists a query may carry (probes, apps,
// fields), so that a hostile request cannot build an enormous statement.
const MaxListParams = 1000

// BadQuery is an error about a query's parameters, wrapping
// store.ErrBadQuery (the API answers 400 with the message).
func BadQuery(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrBadQuery}, a...)...)
}

// CheckList refuses a list of n values (what: "probes", "apps") over
// MaxListParams.
func CheckList(n int, what string) error {
	if n > MaxListParams {
		return BadQuery("%d %s (at most %d)", n, what, MaxListParams)
	}
	return nil
}

// Limit is a query's row limit: 0 means store.DefaultLimit; negative or
// above store.MaxLimit is an error.
func Limit(n int) (int, error) {
	switch {
	case n == 0:
		return store.DefaultLimit, nil
	case n < 0 || n > store.MaxLimit:
		return 0, BadQuery("limit %d out of range [1, %d]", n, store.MaxLimit)
	}
	return n, nil
}

// Range turns [From, To) into the column form: a zero From is the
// beginning (math.MinInt64), a zero To is now.
func Range(tr store.TimeRange) (from, to int64, err error) {
	from = math.MinInt64
	if !tr.From.IsZero() {
		var ok bool
		if from, ok = TimeNS(tr.From); !ok {
			return 0, 0, BadQuery("from %v out of range", tr.From)
		}
	}
	toT := tr.To
	if toT.IsZero() {
		toT = time.Now()
	}
	to, ok := TimeNS(toT)
	if !ok {
		return 0, 0, BadQuery("to %v out of range", tr.To)
	}
	if from > to {
		return 0, 0, BadQuery("from %v is after to %v", tr.From, toT)
	}
	return from, to, nil
}

// Page checks a paged query's limit and cursor (of the codec's kind).
// hasCur is false on the first page.
func Page(limit int, cursor string, codec CursorCodec) (n int, cur Cursor, hasCur bool, err error) {
	if n, err = Limit(limit); err != nil {
		return 0, Cursor{}, false, err
	}
	cur, hasCur, err = codec.Decode(cursor)
	return n, cur, hasCur, err
}

// CheckPrefix refuses a prefix filter that is set but not valid (what:
// "host", "client", "server").
func CheckPrefix(p netip.Prefix, what string) error {
	if p != (netip.Prefix{}) && !p.IsValid() {
		return BadQuery("%s prefix %q is not valid", what, p.String())
	}
	return nil
}

// groupColumns are the columns FlowGroups accepts.
var groupColumns = map[string]bool{
	store.ColProbe: true, store.ColClient: true, store.ColServer: true, store.ColHost: true,
	store.ColPort: true, store.ColApp: true, store.ColTransport: true, store.ColDevice: true,
}

// CheckGroups checks a FlowGroups query but its filter: the limit, the
// group columns (known, none twice) and the order, which it returns
// ("" is store.OrderBytes). Both backends name the summed columns after
// the orders (flows, packets, bytes), so the order is also the column to
// sort by.
func CheckGroups(q *store.GroupQuery) (limit int, order string, err error) {
	if limit, err = Limit(q.Limit); err != nil {
		return 0, "", err
	}
	if len(q.GroupBy) == 0 {
		return 0, "", BadQuery("group by: no column")
	}
	order = q.OrderBy
	if order == "" {
		order = store.OrderBytes
	}
	switch order {
	case store.OrderBytes, store.OrderPackets, store.OrderFlows:
	default:
		return 0, "", BadQuery("order by %q: not one of bytes, packets, flows", order)
	}
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		if !groupColumns[g] {
			return 0, "", BadQuery("group by %q: not one of probe, client, server, host, port, app, transport, device", g)
		}
		if seen[g] {
			return 0, "", BadQuery("group by %q: listed twice", g)
		}
		seen[g] = true
	}
	return limit, order, nil
}

// CheckTx checks a Transactions query but its prefixes and lists of
// probes: the limit, the cursor (of codec's kind), the latency and the
// number of fields.
func CheckTx(q *store.TxQuery, codec CursorCodec) (limit int, cur Cursor, hasCur bool, err error) {
	if limit, cur, hasCur, err = Page(q.Limit, q.Cursor, codec); err != nil {
		return 0, Cursor{}, false, err
	}
	if q.MinLatency < 0 {
		return 0, Cursor{}, false, BadQuery("min latency %v is negative", q.MinLatency)
	}
	if err := CheckList(len(q.Fields), "fields"); err != nil {
		return 0, Cursor{}, false, err
	}
	return limit, cur, hasCur, nil
}

// CheckBreakdown checks a TxBreakdown query: the number of statuses and
// recent transactions, the time range (returned in the column form), the
// probes and the address lists.
func CheckBreakdown(q *store.TxBreakdownQuery) (statuses int, from, to int64, err error) {
	if statuses, err = Limit(q.Statuses); err != nil {
		return 0, 0, 0, err
	}
	if q.Recent < 0 || q.Recent > store.MaxLimit {
		return 0, 0, 0, BadQuery("recent %d out of range [0, %d]", q.Recent, store.MaxLimit)
	}
	if from, to, err = Range(q.TimeRange); err != nil {
		return 0, 0, 0, err
	}
	if err := CheckList(len(q.Probes), "probes"); err != nil {
		return 0, 0, 0, err
	}
	for _, l := range []struct {
		addrs []netip.Addr
		what  string
	}{{q.Clients, "client"}, {q.Servers, "server"}} {
		if len(l.addrs) > store.MaxBreakdownAddrs {
			return 0, 0, 0, BadQuery("%d %s addresses (at most %d)", len(l.addrs), l.what, store.MaxBreakdownAddrs)
		}
		for _, a := range l.addrs {
			if !a.IsValid() {
				return 0, 0, 0, BadQuery("%s address is not valid", l.what)
			}
		}
	}
	return statuses, from, to, nil
}
