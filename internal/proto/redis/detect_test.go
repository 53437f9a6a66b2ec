package redis

import (
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
)

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		dir  flow.Dir
		in   string
		want l7.Verdict
	}{
		{c2s, bulk("GET", "k"), l7.Yes},
		{c2s, bulk("hello", "3"), l7.Yes},
		{c2s, bulk("JSON.SET", "k", "$", "{}"), l7.Yes}, // a module command: plausible
		{c2s, bulk("FT.SEARCH"), l7.Yes},
		{c2s, "*2\r\n$3\r\nGE", l7.NeedMore},
		{c2s, "*2\r\n", l7.NeedMore},
		{c2s, "*", l7.NeedMore},
		{c2s, "*2\r\n$3\r\n1AB\r\n", l7.No},        // not a command name
		{c2s, "*2\r\n:1\r\n", l7.No},               // arguments are bulk strings
		{c2s, "*99999999\r\n$3\r\nGET\r\n", l7.No}, // more arguments than Redis takes before auth
		{c2s, "*1\r\n$40\r\n" + strings.Repeat("A", 40) + "\r\n", l7.No},
		{c2s, "PING\r\n", l7.Maybe},
		{c2s, "\r\nPING\r\n", l7.Maybe},
		{c2s, "set test 1\r\n", l7.Maybe},
		// An inline GET with a path: Redis would run it, so it is Maybe
		// like any inline command, and the port hint decides (HTTP's
		// detector says Yes first on other ports).
		{c2s, "GET / HTTP/1.1\r\n", l7.Maybe},
		{c2s, "HELO mail.example.com\r\n", l7.No},
		{c2s, "USER anonymous\r\n", l7.No},
		{c2s, "PIN", l7.NeedMore},
		{c2s, "\x16\x03\x01\x02\x00", l7.No},
		{s2c, "+OK\r\n", l7.Maybe},
		{s2c, "-NOAUTH Authentication required.\r\n", l7.Maybe},
		{s2c, ":1\r\n", l7.Maybe},
		{s2c, "$5\r\nhello\r\n", l7.Maybe},
		{s2c, "$5\r\nhelloXX", l7.No},
		{s2c, "$-1\r\n", l7.Maybe},
		{s2c, "*2\r\n$1\r\na\r\n", l7.Maybe},
		{s2c, "%1\r\n+a\r\n:1\r\n", l7.Maybe},
		{s2c, "_\r\n", l7.Maybe},
		{s2c, "+OK", l7.NeedMore},
		{s2c, "HTTP/1.1 200 OK\r\n", l7.No},
		{s2c, "-err lower case\r\n", l7.No},
		{s2c, "\x00\x00\x00\x10", l7.No},
	} {
		if got := detect([]byte(c.in), c.dir, 0); got != c.want {
			t.Errorf("%v %q: %v, want %v", c.dir, c.in, got, c.want)
		}
	}
}

// TestDetectPrefixes runs the detector over every prefix of the test
// conversations: a prefix of a request is never No.
func TestDetectPrefixes(t *testing.T) {
	for _, c := range cases {
		for _, st := range c.steps {
			full := detect([]byte(st.data), st.dir, 6379)
			for i := range len(st.data) + 1 {
				if v := detect([]byte(st.data[:i]), st.dir, 6379); full != l7.No && v == l7.No {
					t.Errorf("%s: %q is %v, its prefix %q is No", c.name, st.data, full, st.data[:i])
					break
				}
			}
		}
	}
}
