package l7

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends t as one JSON object (docs/records.md) to dst,
// without a trailing newline. Captured bytes are written as JSON strings:
// valid UTF-8 as is, with control characters and <, >, & escaped as
// \uXXXX (safe to paste into HTML), and every byte that is not valid
// UTF-8 as the four characters \xNN, so that nothing is lost or
// silently replaced.
func AppendJSON(dst []byte, t *Transaction) []byte {
	dst = append(dst, `{"proto":`...)
	dst = appendString(dst, []byte(t.Proto))
	dst = append(dst, `,"transport":"`...)
	dst = append(dst, t.Transport.String()...)
	dst = append(dst, `","client":"`...)
	dst = t.Client.AppendTo(dst)
	dst = append(dst, `","server":"`...)
	dst = t.Server.AppendTo(dst)
	dst = append(dst, '"')
	dst = appendTime(dst, `,"request_time":`, t.ReqTS)
	dst = appendTime(dst, `,"response_time":`, t.RespTS)
	if l := t.Latency(); l >= 0 {
		dst = append(dst, `,"latency_us":`...)
		dst = strconv.AppendFloat(dst, float64(l)/1e3, 'f', -1, 64)
	}
	dst = append(dst, `,"request_bytes":`...)
	dst = strconv.AppendInt(dst, t.ReqBytes, 10)
	dst = append(dst, `,"response_bytes":`...)
	dst = strconv.AppendInt(dst, t.RespBytes, 10)
	dst = append(dst, `,"op":`...)
	dst = appendString(dst, t.Op)
	dst = append(dst, `,"target":`...)
	dst = appendString(dst, t.Target)
	dst = append(dst, `,"status":`...)
	dst = appendString(dst, t.Status)
	dst = append(dst, `,"outcome":"`...)
	dst = append(dst, t.Outcome.String()...)
	dst = append(dst, '"')
	if t.Flags != 0 {
		dst = append(dst, `,"flags":[`...)
		first := true
		for _, f := range []struct {
			bit  Flags
			name string
		}{{FlagSQLi, "sqli"}, {FlagRedacted, "redacted"}, {FlagTruncated, "truncated"}} {
			if t.Flags&f.bit == 0 {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '"')
			dst = append(dst, f.name...)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"fields":{`...)
	for i, f := range t.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, []byte(f.Key))
		dst = append(dst, ':')
		dst = appendString(dst, f.Value)
	}
	return append(dst, "}}"...)
}

func appendTime(dst []byte, key string, ts int64) []byte {
	if ts == 0 {
		return dst
	}
	dst = append(dst, key...)
	dst = append(dst, '"')
	dst = time.Unix(0, ts).UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends b as a JSON string (see AppendJSON).
func appendString(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, b[start:i]...)
			switch c {
			case '"':
				dst = append(dst, `\"`...)
			case '\\':
				dst = append(dst, `\\`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			default:
				dst = append(dst, `\u00`...)
				dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, `\\x`...)
			dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, b[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}
