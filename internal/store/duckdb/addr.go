package duckdb

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// An address is stored in three columns: its family (0 for the zero
// Addr, 4 or 6) and the two 64-bit halves of its 16-byte form (IPv4 as
// ::ffff:a.b.c.d). A prefix is then a range on (hi, lo) within one
// family, which DuckDB evaluates with plain integer comparisons; the
// family keeps an IPv4 address apart from the same address written as
// IPv4-mapped IPv6, as netip.Prefix.Contains does. Zones are not kept.
type addrCols struct {
	fam    uint8
	hi, lo uint64
}

func splitAddr(a netip.Addr) addrCols {
	if !a.IsValid() {
		return addrCols{}
	}
	b := a.As16()
	c := addrCols{fam: 6, hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
	if a.Is4() {
		c.fam = 4
	}
	return c
}

func joinAddr(fam uint8, hi, lo uint64) (netip.Addr, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	switch fam {
	case 0:
		return netip.Addr{}, nil
	case 4:
		a := netip.AddrFrom16(b)
		if !a.Is4In6() {
			return netip.Addr{}, fmt.Errorf("corrupt IPv4 address %x", b)
		}
		return a.Unmap(), nil
	case 6:
		return netip.AddrFrom16(b), nil
	}
	return netip.Addr{}, fmt.Errorf("corrupt address family %d", fam)
}

// addrText is the group key text of an address: netip form, "" for none.
func addrText(fam uint8, hi, lo uint64) (string, error) {
	a, err := joinAddr(fam, hi, lo)
	if err != nil || !a.IsValid() {
		return "", err
	}
	return a.String(), nil
}

// prefixCond appends to w the condition "the address in columns
// <col>_fam/_hi/_lo lies in p". A zero prefix adds nothing.
func prefixCond(w *where, col string, p netip.Prefix, what string) error {
	if p == (netip.Prefix{}) {
		return nil
	}
	if err := storeutil.CheckPrefix(p, what); err != nil {
		return err
	}
	w.add(prefixSQL(col, p))
	return nil
}

// prefixSQL returns the SQL condition and its arguments for one side.
func prefixSQL(col string, p netip.Prefix) (string, []any) {
	p = p.Masked()
	a := splitAddr(p.Addr())
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	args := []any{a.fam}
	cond := col + "_fam = ?"
	switch {
	case bits == 0:
	case bits <= 64:
		span := ^uint64(0) >> bits // bits in [1, 64]
		cond += " AND " + col + "_hi BETWEEN ? AND ?"
		args = append(args, a.hi, a.hi|span)
	default:
		span := uint64(0)
		if bits < 128 {
			span = ^uint64(0) >> (bits - 64)
		}
		cond += " AND " + col + "_hi = ? AND " + col + "_lo BETWEEN ? AND ?"
		args = append(args, a.hi, a.lo, a.lo|span)
	}
	return "(" + cond + ")", args
}
