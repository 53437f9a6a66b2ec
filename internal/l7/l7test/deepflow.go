package l7test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
)

// rustFields parses the fields of a Rust Debug line "Name { k: v, ... }":
// quoted values are unescaped, others kept as written.
func rustFields(line string) map[string]string {
	out := map[string]string{}
	i := strings.Index(line, "{")
	if i < 0 {
		return out
	}
	s := line[i+1:]
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" || s[0] == '}' {
			return out
		}
		c := strings.Index(s, ": ")
		if c < 0 {
			return out
		}
		key := s[:c]
		s = s[c+2:]
		var val strings.Builder
		depth, j, quoted := 0, 0, false
	loop:
		for ; j < len(s); j++ {
			switch ch := s[j]; {
			case ch == '"':
				// a quoted string: copy it unescaped (top level) or as is
				k := j + 1
				for ; k < len(s) && s[k] != '"'; k++ {
					if s[k] == '\\' && k+1 < len(s) {
						k++
					}
				}
				if depth == 0 && val.Len() == 0 {
					val.WriteString(unescapeRust(s[j+1 : k]))
					j = k + 1
					quoted = true
					break loop
				}
				val.WriteString(s[j : k+1])
				j = k
			case ch == '(' || ch == '[' || ch == '{':
				depth++
				val.WriteByte(ch)
			case ch == ')' || ch == ']' || ch == '}':
				if depth == 0 {
					break loop
				}
				depth--
				val.WriteByte(ch)
			case ch == ',' && depth == 0:
				break loop
			default:
				val.WriteByte(ch)
			}
		}
		if quoted {
			out[key] = val.String()
		} else {
			out[key] = strings.TrimSpace(val.String())
		}
		s = s[j:]
	}
}

func unescapeRust(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// DeepFlowResult reads one of DeepFlow's expected-output files
// (deepflow/**/*.result, relative to the corpus): one Rust Debug line per
// parsed message, "Name { key: value, ... }", as a map per line.
func DeepFlowResult(t *testing.T, rel string) []map[string]string {
	t.Helper()
	f, err := os.Open(corpus.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			out = append(out, rustFields(sc.Text()))
		}
	}
	return out
}
