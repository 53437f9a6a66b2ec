package l7_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/l7"
)

func TestAppendJSONIsValidAndLossless(t *testing.T) {
	tx := &l7.Transaction{
		Proto: "http", Transport: l7.TCP,
		Client: netip.MustParseAddrPort("10.0.0.1:5000"), Server: netip.MustParseAddrPort("[2001:db8::1]:80"),
		ReqTS: 1_700_000_000_000_000_000, RespTS: 1_700_000_000_001_500_000, ReqBytes: 10, RespBytes: 20,
		Op: []byte("GET"), Target: []byte("/a?<script>alert(1)</script>&x=\"y\"\\"), Status: []byte("200"),
		Outcome: l7.OutcomeOK, Flags: l7.FlagSQLi | l7.FlagTruncated,
		Fields: []l7.Field{{Key: "host", Value: []byte("h\x00\x1b[31m\xff\xfeé\u2028")}},
	}
	b := l7.AppendJSON(nil, tx)
	if strings.Contains(string(b), "<") || strings.Contains(string(b), "\x1b") {
		t.Errorf("unescaped markup or control bytes: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	if m["target"] != string(tx.Target) || m["latency_us"] != 1500.0 || m["server"] != "[2001:db8::1]:80" {
		t.Errorf("decoded %v", m)
	}
	host := m["fields"].(map[string]any)["host"]
	if host != "h\x00\x1b[31m\\xff\\xfeé\u2028" {
		t.Errorf("host %q", host)
	}
	if f := m["flags"].([]any); len(f) != 2 || f[0] != "sqli" || f[1] != "truncated" {
		t.Errorf("flags %v", f)
	}
	if _, ok := m["request_time"]; !ok {
		t.Error("no request_time")
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add([]byte("GET"), []byte("/\xff<\u2028"))
	f.Fuzz(func(t *testing.T, op, target []byte) {
		tx := &l7.Transaction{Proto: "x", Op: op, Target: target, Fields: []l7.Field{{Key: "k", Value: target}}}
		var m map[string]any
		if err := json.Unmarshal(l7.AppendJSON(nil, tx), &m); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
	})
}
