package clickhouse

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// addrSet adds "the address in columns <x>_fam/<x>_addr is one of addrs"
// (nothing for an empty list). An IPv4 address, or its IPv4-mapped form,
// matches both forms (the map names them as one host).
// storeutil.CheckBreakdown checked the addresses.
func (w *where) addrSet(x string, addrs []netip.Addr) {
	if len(addrs) == 0 {
		return
	}
	conds := make([]string, 0, len(addrs))
	for _, a := range addrs {
		fam, b := splitAddr(a)
		if u := a.Unmap(); u.Is4() {
			// ::ffff:a.b.c.d is stored with family 6, a.b.c.d with 4.
			fam, b = 4, u.As16()
			conds = append(conds, "("+x+"_fam = 6 AND "+x+"_addr = "+addr16(b)+")")
		}
		conds = append(conds, "("+x+"_fam = "+strconv.Itoa(int(fam))+" AND "+x+"_addr = "+addr16(b)+")")
	}
	w.add("(" + strings.Join(conds, " OR ") + ")")
}

// hasLatency is true for a transaction with both sides and a latency, the
// ones record.Edge's latency figures count.
const hasLatency = `(latency_ns >= 0 AND request_ns != -9223372036854775808 AND response_ns != -9223372036854775808)`

// nearestRank is the q-quantile of the latencies as DuckDB's quantile_disc
// gives it (the value at rank ⌈q·n⌉ of the sorted latencies, computed
// with the same floating point), so that both stores answer the same.
func nearestRank(q float64) string {
	n := "toFloat64(countIf(" + hasLatency + "))"
	qs := strconv.FormatFloat(q, 'g', -1, 64)
	return "toInt64(arrayElement(arraySort(groupArrayIf(latency_ns, " + hasLatency + ")), " +
		"toUInt64(greatest(1, " + n + " - floor(" + n + " - " + n + " * " + qs + ")))))"
}

// TxBreakdown aggregates the transactions between two address sets: per
// protocol (count, errors, exact latency quantiles), per status, and the
// newest ones.
func (s *Store) TxBreakdown(ctx context.Context, q store.TxBreakdownQuery) (*store.TxBreakdown, error) {
	statuses, from, to, err := storeutil.CheckBreakdown(&q)
	if err != nil {
		return nil, err
	}
	var w where
	txTime(&w, from, to)
	if err := w.in("probe", q.Probes, "probes"); err != nil {
		return nil, err
	}
	w.addrSet("c", q.Clients)
	w.addrSet("s", q.Servers)
	if q.Port != 0 {
		w.add("s_port = " + strconv.Itoa(int(q.Port)))
	}
	recent := where{conds: slices.Clone(w.conds)}
	s.visible(&w, "ts", from, to)
	out := &store.TxBreakdown{Protocols: []store.TxProtoStats{}, Statuses: []store.TxStatusCount{}, Recent: []record.Transaction{}}

	d, err := s.query(ctx, `SELECT proto, toUInt64(count()) AS n,
		toUInt64(countIf(outcome NOT IN ('ok', 'one_way'))),
		toUInt64(countIf(`+hasLatency+`)),
		toFloat64(if(countIf(`+hasLatency+`) = 0, 0, avgIf(toFloat64(latency_ns), `+hasLatency+`))),
		`+nearestRank(0.5)+`, `+nearestRank(0.9)+`, `+nearestRank(0.99)+`,
		toInt64(if(countIf(`+hasLatency+`) = 0, 0, maxIf(latency_ns, `+hasLatency+`)))
		FROM transactions`+w.sql()+` GROUP BY proto ORDER BY n DESC, proto LIMIT `+strconv.Itoa(store.MaxLimit))
	if err != nil {
		return nil, err
	}
	for !d.done() {
		p := store.TxProtoStats{Proto: d.str(), Count: d.u64(), Errors: d.u64(), LatencyCount: d.u64()}
		mean := math.Float64frombits(d.u64())
		p.LatencyMean = time.Duration(math.Round(mean))
		p.LatencyP50, p.LatencyP90, p.LatencyP99 = time.Duration(d.i64()), time.Duration(d.i64()), time.Duration(d.i64())
		p.LatencyMax = time.Duration(d.i64())
		out.Protocols = append(out.Protocols, p)
	}
	if d.err != nil {
		return nil, d.err
	}

	d, err = s.query(ctx, `SELECT proto, status, outcome, toUInt64(count()) AS n FROM transactions`+w.sql()+
		` GROUP BY proto, status, outcome ORDER BY n DESC, proto, status, outcome LIMIT `+strconv.Itoa(statuses))
	if err != nil {
		return nil, err
	}
	for !d.done() {
		out.Statuses = append(out.Statuses, store.TxStatusCount{Proto: d.str(), Status: d.str(), Outcome: d.str(), Count: d.u64()})
	}
	if d.err != nil {
		return nil, d.err
	}

	if q.Recent > 0 {
		err := s.newestFirst(ctx, from, to-1, q.Recent-1, s.txStmt(&recent, from, to, q.Recent), func(d *decoder) (int, error) {
			out.Recent = out.Recent[:0]
			for !d.done() {
				t, _ := d.readTx()
				out.Recent = append(out.Recent, t)
			}
			return len(out.Recent), d.err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
