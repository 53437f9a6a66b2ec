package api

import (
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Param kinds: how a query parameter is parsed, and how the OpenAPI
// document describes it.
const (
	kindString   = "string"
	kindTime     = "time"     // RFC 3339, "now" or "-<duration>"
	kindPrefix   = "prefix"   // address or CIDR
	kindPort     = "port"     // 1..65535
	kindInt      = "integer"  // with Min, Max
	kindNumber   = "number"   // with Min, Max
	kindBool     = "boolean"  // true/false/1/0
	kindList     = "list"     // comma-separated, repeatable
	kindEnum     = "enum"     // one of Enum
	kindEnumList = "enumlist" // comma-separated values of Enum
	kindLabel    = "label"    // label=value
	kindCursor   = "cursor"   // opaque
)

// Limits on parameter values: a query string is attacker-controlled.
const (
	maxParamLen    = 1024
	maxTargetLen   = 4096 // as long as a transaction's target can be
	maxListItems   = 64
	maxFieldParams = 16
	maxCursorLen   = 4096
	fieldPrefix    = "field."
)

// param describes one query parameter.
type param struct {
	Name    string
	Kind    string
	Desc    string
	Enum    []string
	Default string
	Example string // a value the OpenAPI test sends (and docs show)
	Min     float64
	Max     float64
	MaxLen  int
	// Prefix: the name is a prefix ("field.") followed by a key chosen by
	// the caller.
	Prefix bool
}

// query is a request's parsed parameters.
type query struct {
	vals   map[string]string // single values
	lists  map[string][]string
	fields map[string]string // field.<key> → value
	specs  map[string]*param
}

// parseQuery checks the request's parameters against the route's: an
// unknown name, a repeated single value or an over-long value is a 400
// naming the parameter.
func parseQuery(r *http.Request, params []*param) (*query, error) {
	raw, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("query string: %v", err)
	}
	q := &query{vals: map[string]string{}, lists: map[string][]string{}, specs: map[string]*param{}}
	var prefixed *param
	for _, p := range params {
		q.specs[p.Name] = p
		if p.Prefix {
			prefixed = p
		}
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad one reported is stable
	for _, name := range names {
		vs := raw[name]
		p := q.specs[name]
		if p == nil && prefixed != nil && strings.HasPrefix(name, prefixed.Name) {
			key := name[len(prefixed.Name):]
			if key == "" || len(key) > 128 || !utf8.ValidString(key) {
				return nil, badRequest("parameter %q: want %s<key> with a key of 1 to 128 characters", text(name), prefixed.Name)
			}
			if len(vs) > 1 {
				return nil, badRequest("parameter %q: given %d times, once is allowed", text(name), len(vs))
			}
			if len(vs[0]) > maxParamLen {
				return nil, badRequest("parameter %q: longer than %d bytes", text(name), maxParamLen)
			}
			if q.fields == nil {
				q.fields = map[string]string{}
			}
			if len(q.fields) >= maxFieldParams {
				return nil, badRequest("parameter %q: at most %d %s<key> parameters", text(name), maxFieldParams, prefixed.Name)
			}
			q.fields[key] = vs[0]
			continue
		}
		if p == nil || p.Prefix {
			return nil, badRequest("unknown parameter %q; this endpoint takes: %s", text(name), paramNames(params))
		}
		limit := maxParamLen
		if p.MaxLen > 0 {
			limit = p.MaxLen
		}
		for _, v := range vs {
			if len(v) > limit {
				return nil, badRequest("parameter %q: longer than %d bytes", name, limit)
			}
		}
		if p.Kind == kindList || p.Kind == kindEnumList {
			var items []string
			for _, v := range vs {
				for _, it := range strings.Split(v, ",") {
					if it = strings.TrimSpace(it); it != "" {
						items = append(items, it)
					}
				}
			}
			if len(items) > maxListItems {
				return nil, badRequest("parameter %q: %d values, at most %d", name, len(items), maxListItems)
			}
			if p.Kind == kindEnumList {
				for _, it := range items {
					if !slices.Contains(p.Enum, it) {
						return nil, badRequest("parameter %q: unknown value %q; want %s", name, text(it), listHint(p.Enum))
					}
				}
			}
			q.lists[name] = items
			continue
		}
		if len(vs) > 1 {
			return nil, badRequest("parameter %q: given %d times, once is allowed", name, len(vs))
		}
		v := vs[0]
		if p.Kind == kindEnum && v != "" && !slices.Contains(p.Enum, v) {
			return nil, badRequest("parameter %q: unknown value %q; want %s", name, text(v), listHint(p.Enum))
		}
		q.vals[name] = v
	}
	return q, nil
}

func paramNames(params []*param) string {
	var names []string
	for _, p := range params {
		n := p.Name
		if p.Prefix {
			n += "<key>"
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return "no parameters"
	}
	return strings.Join(names, ", ")
}

// str returns a string parameter ("" when absent).
func (q *query) str(name string) string { return q.vals[name] }

// list returns a list parameter's values.
func (q *query) list(name string) []string { return q.lists[name] }

// time parses a time parameter: RFC 3339 (with or without fractions),
// "now", or a negative duration from now ("-15m", "-1h30m", "-2d").
func (q *query) time(name string, now time.Time, def time.Time) (time.Time, error) {
	v := q.vals[name]
	if v == "" {
		return def, nil
	}
	t, ok := parseTime(v, now)
	if !ok {
		return time.Time{}, badRequest("parameter %q: %q is not a time; want RFC 3339 (2024-05-01T10:00:00Z), now, or -DURATION (-15m, -2h, -7d)", name, text(v))
	}
	return t, nil
}

// parseTime is the time syntax of every time parameter.
func parseTime(v string, now time.Time) (time.Time, bool) {
	if v == "now" {
		return now, true
	}
	if strings.HasPrefix(v, "-") {
		d, ok := parseAgo(v[1:])
		if !ok {
			return time.Time{}, false
		}
		return now.Add(-d), true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// maxAgo keeps now − d far from time.Time's and int64's edges.
const maxAgo = 100 * 365 * 24 * time.Hour

// parseAgo parses a positive Go duration, or a number of days ("7d").
func parseAgo(s string) (time.Duration, bool) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || math.IsNaN(n) || n <= 0 || n > maxAgo.Hours()/24 || strings.ContainsAny(s, "+-eE") {
			return 0, false
		}
		return time.Duration(n * float64(24*time.Hour)), true
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxAgo {
		return 0, false
	}
	return d, true
}

// prefix parses an address ("10.0.0.1", "fd00::1": a single-address
// prefix) or a CIDR ("10.0.0.0/8").
func (q *query) prefix(name string) (netip.Prefix, error) {
	v := q.vals[name]
	if v == "" {
		return netip.Prefix{}, nil
	}
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, badRequest("parameter %q: %q is not an address or a CIDR", name, text(v))
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, badRequest("parameter %q: %q is not an address or a CIDR", name, text(v))
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// port parses a port (0 when absent).
func (q *query) port(name string) (uint16, error) {
	v := q.vals[name]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return 0, badRequest("parameter %q: %q is not a port; want 1 to 65535", name, text(v))
	}
	return uint16(n), nil
}

// integer parses an integer within the parameter's Min and Max.
func (q *query) integer(name string, def int) (int, error) {
	v := q.vals[name]
	if v == "" {
		return def, nil
	}
	p := q.specs[name]
	n, err := strconv.Atoi(v)
	if err != nil || float64(n) < p.Min || float64(n) > p.Max {
		return 0, badRequest("parameter %q: %q: want a whole number from %g to %g", name, text(v), p.Min, p.Max)
	}
	return n, nil
}

// number parses a decimal number within the parameter's Min and Max.
func (q *query) number(name string) (float64, bool, error) {
	v := q.vals[name]
	if v == "" {
		return 0, false, nil
	}
	p := q.specs[name]
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || n < p.Min || n > p.Max {
		return 0, false, badRequest("parameter %q: %q: want a number from %g to %g", name, text(v), p.Min, p.Max)
	}
	return n, true, nil
}

// boolean parses true/false (or 1/0).
func (q *query) boolean(name string) (bool, error) {
	switch v := q.vals[name]; v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, badRequest("parameter %q: %q: want true or false", name, text(v))
	}
}

// label parses "name=value".
func (q *query) label(name string) (key, value string, err error) {
	v := q.vals[name]
	if v == "" {
		return "", "", nil
	}
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" || value == "" {
		return "", "", badRequest("parameter %q: %q: want LABEL=VALUE (env=prod)", name, text(v))
	}
	return key, value, nil
}
