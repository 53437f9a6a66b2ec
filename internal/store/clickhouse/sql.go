package clickhouse

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/wirewatch/wirewatch/internal/store/storeutil"
)

// The HTTP interface of ClickHouse 18.16 has no bound parameters, so the
// values of a query are spliced in as literals, and only through these
// functions: every string literal is quoted byte by byte (anything but
// printable ASCII as \xHH), numbers are formatted by strconv.

// lit is s as a ClickHouse string literal; any bytes survive.
func lit(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex.EncodeToString([]byte{c}))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// litList is "(lit, lit, ...)" for IN.
func litList(vals []string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = lit(v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func i64(v int64) string  { return strconv.FormatInt(v, 10) }
func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// addr16 is a FixedString(16) literal of a 16-byte address.
func addr16(a [16]byte) string {
	return "toFixedString(unhex('" + hex.EncodeToString(a[:]) + "'), 16)"
}

// Addresses are two columns: <x>_fam (0: none, 4, 6) and <x>_addr, the
// 16-byte form (IPv4 as ::ffff:a.b.c.d). A FixedString compares as bytes,
// so a prefix is a range of <x>_addr within one family.

func splitAddr(a netip.Addr) (fam uint8, b [16]byte) {
	switch {
	case !a.IsValid():
		return 0, b
	case a.Is4():
		return 4, a.As16()
	default:
		return 6, a.As16()
	}
}

func joinAddr(fam uint8, b [16]byte) (netip.Addr, error) {
	switch fam {
	case 0:
		if b != ([16]byte{}) {
			return netip.Addr{}, fmt.Errorf("clickhouse: address without family has bytes %x", b)
		}
		return netip.Addr{}, nil
	case 4:
		a := netip.AddrFrom16(b)
		if !a.Is4In6() {
			return netip.Addr{}, fmt.Errorf("clickhouse: IPv4 address %x is not ::ffff:a.b.c.d", b)
		}
		return a.Unmap(), nil
	case 6:
		return netip.AddrFrom16(b), nil
	}
	return netip.Addr{}, fmt.Errorf("clickhouse: address family %d", fam)
}

// prefixCond is the condition "column x's address is in p" ("" for the
// zero prefix). 10.0.0.0/8 matches IPv4 addresses only, as
// netip.Prefix.Contains does: ::ffff:10.1.2.3 stays an IPv6 address.
func prefixCond(x string, p netip.Prefix, what string) (string, error) {
	if p == (netip.Prefix{}) {
		return "", nil
	}
	if err := storeutil.CheckPrefix(p, what); err != nil {
		return "", err
	}
	p = p.Masked()
	fam, lo := splitAddr(p.Addr())
	hi := lo
	bits := p.Bits()
	if fam == 4 {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		hi[i/8] |= 0x80 >> (i % 8)
	}
	return fmt.Sprintf("(%s_fam = %d AND %s_addr >= %s AND %s_addr <= %s)", x, fam, x, addr16(lo), x, addr16(hi)), nil
}

// maxU64 is the saturated value of a sum; sums are computed as
// Decimal128 and held there rather than wrapping on hostile counters.
const maxU64Dec = "toDecimal128('18446744073709551615', 0)"

// satSum is sum(expr...) of UInt64 columns as a UInt64 that holds at
// 2^64-1 instead of wrapping.
func satSum(cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "sum(toDecimal128(" + c + ", 0))"
	}
	return "toUInt64(least(" + strings.Join(parts, " + ") + ", " + maxU64Dec + "))"
}

// satSumI64 is sum(col) of an Int64 column, held within Int64.
func satSumI64(col string) string {
	return "toInt64(greatest(least(sum(toDecimal128(" + col + ", 0)), toDecimal128('" + i64(math.MaxInt64) +
		"', 0)), toDecimal128('" + i64(math.MinInt64) + "', 0)))"
}
