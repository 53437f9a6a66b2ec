package duckdb

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// addrSetCond appends "the address in columns <col>_fam/_hi/_lo is one of
// addrs" (nothing for an empty list); storeutil.CheckBreakdown checked
// the addresses.
func addrSetCond(w *where, col string, addrs []netip.Addr) {
	if len(addrs) == 0 {
		return
	}
	conds := make([]string, 0, len(addrs))
	args := make([]any, 0, 3*len(addrs))
	for _, a := range addrs {
		// An IPv4 address also matches its IPv4-mapped IPv6 form (the
		// map names both as one address).
		forms := []netip.Addr{a}
		if u := a.Unmap(); u.Is4() {
			forms = []netip.Addr{u, netip.AddrFrom16(u.As16())}
		}
		for _, f := range forms {
			c := splitAddr(f)
			conds = append(conds, "("+col+"_fam = ? AND "+col+"_hi = ? AND "+col+"_lo = ?)")
			args = append(args, c.fam, c.hi, c.lo)
		}
	}
	w.add("("+strings.Join(conds, " OR ")+")", args)
}

// hasLatency is true for a transaction with both sides and a latency, the
// ones record.Edge's latency figures count.
const hasLatency = `(latency_ns >= 0 AND request_ns <> ` + noTimeSQL + ` AND response_ns <> ` + noTimeSQL + `)`

// TxBreakdown aggregates the transactions between two address sets: per
// protocol (count, errors, exact latency quantiles), per status, and the
// newest ones.
func (s *Store) TxBreakdown(ctx context.Context, q store.TxBreakdownQuery) (*store.TxBreakdown, error) {
	statuses, from, to, err := storeutil.CheckBreakdown(&q)
	if err != nil {
		return nil, err
	}
	var w where
	w.add("ts < ?", []any{to})
	if from != math.MinInt64 {
		w.add("ts >= ?", []any{from})
	}
	if err := w.in("probe", q.Probes, "probes"); err != nil {
		return nil, err
	}
	addrSetCond(&w, "c", q.Clients)
	addrSetCond(&w, "s", q.Servers)
	if q.Port != 0 {
		w.add("s_port = ?", []any{q.Port})
	}
	out := &store.TxBreakdown{Protocols: []store.TxProtoStats{}, Statuses: []store.TxStatusCount{}, Recent: []record.Transaction{}}
	if err := s.breakdownProtocols(ctx, &w, out); err != nil {
		return nil, err
	}
	if err := s.breakdownStatuses(ctx, &w, statuses, out); err != nil {
		return nil, err
	}
	if q.Recent > 0 {
		if err := s.breakdownRecent(ctx, &w, q.Recent, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) breakdownProtocols(ctx context.Context, w *where, out *store.TxBreakdown) error {
	lat := ` FILTER (WHERE ` + hasLatency + `)`
	rows, err := s.query(ctx, `SELECT proto, count(*)::UBIGINT AS n,
		(count(*) FILTER (WHERE outcome NOT IN ('ok', 'one_way')))::UBIGINT,
		(count(*)`+lat+`)::UBIGINT,
		coalesce(avg(latency_ns)`+lat+`, 0)::DOUBLE,
		coalesce(quantile_disc(latency_ns, 0.5)`+lat+`, 0)::BIGINT,
		coalesce(quantile_disc(latency_ns, 0.9)`+lat+`, 0)::BIGINT,
		coalesce(quantile_disc(latency_ns, 0.99)`+lat+`, 0)::BIGINT,
		coalesce(max(latency_ns)`+lat+`, 0)::BIGINT
		FROM transactions`+w.sql()+` GROUP BY proto ORDER BY n DESC, proto LIMIT ?`, append(w.args, store.MaxLimit))
	if err != nil {
		return err
	}
	defer rows.Close()
	r := newRowScanner(9)
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return err
		}
		mean, ok := r.vals[4].(float64)
		if !ok {
			r.fail(4, "float64")
		}
		p := store.TxProtoStats{
			Proto: r.str(0), Count: r.u64(1), Errors: r.u64(2), LatencyCount: r.u64(3),
			LatencyMean: time.Duration(math.Round(mean)),
			LatencyP50:  time.Duration(r.i64(5)), LatencyP90: time.Duration(r.i64(6)), LatencyP99: time.Duration(r.i64(7)),
			LatencyMax: time.Duration(r.i64(8)),
		}
		if err := r.err(); err != nil {
			return err
		}
		out.Protocols = append(out.Protocols, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

func (s *Store) breakdownStatuses(ctx context.Context, w *where, limit int, out *store.TxBreakdown) error {
	rows, err := s.query(ctx, `SELECT proto, status, outcome, count(*)::UBIGINT AS n
		FROM transactions`+w.sql()+` GROUP BY proto, status, outcome ORDER BY n DESC, proto, status, outcome LIMIT ?`,
		append(w.args, limit))
	if err != nil {
		return err
	}
	defer rows.Close()
	r := newRowScanner(4)
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return err
		}
		c := store.TxStatusCount{Proto: r.str(0), Status: r.str(1), Outcome: r.str(2), Count: r.u64(3)}
		if err := r.err(); err != nil {
			return err
		}
		out.Statuses = append(out.Statuses, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

func (s *Store) breakdownRecent(ctx context.Context, w *where, limit int, out *store.TxBreakdown) error {
	rows, err := s.query(ctx, `SELECT `+txCols+` FROM transactions`+w.sql()+` ORDER BY ts DESC, id DESC LIMIT ?`,
		append(w.args, limit))
	if err != nil {
		return err
	}
	defer rows.Close()
	r := newRowScanner(24)
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return err
		}
		t := record.Transaction{
			Probe: r.str(1), Proto: r.str(3), Transport: r.str(4),
			Client: r.addrPort(5), Server: r.addrPort(9),
			RequestTime: storeutil.NSTime(r.i64(13)), ResponseTime: storeutil.NSTime(r.i64(14)), Latency: time.Duration(r.i64(15)),
			RequestBytes: r.i64(16), ResponseBytes: r.i64(17),
			Op: r.str(18), Target: r.str(19), Status: r.str(20), Outcome: r.str(21),
			Flags: r.strList(22), Fields: r.fields(23),
		}
		if err := r.err(); err != nil {
			return err
		}
		out.Recent = append(out.Recent, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

// Extent is the span of the stored summary windows.
func (s *Store) Extent(ctx context.Context) (store.TimeRange, error) {
	rows, err := s.query(ctx, `SELECT min(start_ns), max(end_ns) FROM windows WHERE start_ns > `+noTimeSQL, nil)
	if err != nil {
		return store.TimeRange{}, err
	}
	defer rows.Close()
	var lo, hi *int64
	if rows.Next() {
		if err := rows.Scan(&lo, &hi); err != nil {
			return store.TimeRange{}, fmt.Errorf("duckdb: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return store.TimeRange{}, fmt.Errorf("duckdb: %w", err)
	}
	if lo == nil || hi == nil {
		return store.TimeRange{}, nil
	}
	return store.TimeRange{From: storeutil.NSTime(*lo), To: storeutil.NSTime(*hi)}, nil
}
