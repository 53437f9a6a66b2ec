package redis

import (
	"encoding/hex"
	"encoding/xml"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

type pdmlField struct {
	Name   string      `xml:"name,attr"`
	Show   string      `xml:"show,attr"`
	Value  string      `xml:"value,attr"`
	Fields []pdmlField `xml:"field"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
}

type pdmlPacket struct {
	Protos []pdmlProto `xml:"proto"`
}

func (p *pdmlPacket) proto(name string) *pdmlProto {
	for i := range p.Protos {
		if p.Protos[i].Name == name {
			return &p.Protos[i]
		}
	}
	return nil
}

func (p *pdmlProto) field(name string) *pdmlField {
	for i := range p.Fields {
		if p.Fields[i].Name == name {
			return &p.Fields[i]
		}
	}
	return nil
}

// has reports whether f or a field under it is named name.
func (f *pdmlField) has(name string) bool {
	if f.Name == name {
		return true
	}
	for i := range f.Fields {
		if f.Fields[i].has(name) {
			return true
		}
	}
	return false
}

func (f *pdmlField) child(name string) *pdmlField {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// tsharkMsgs is what tshark's RESP dissector decoded on one connection:
// the client's commands (array arguments joined by spaces) and the
// server's reply types, in order; skipped counts the top-level values it
// could not decode whole (inline commands are "fragments" to it).
type tsharkMsgs struct {
	cmds, replies []string
	skipped       int
	cutAtEnd      bool // (ours) the last reply was cut by the end of the flow
}

// tsharkRESP runs tshark's RESP dissector over a capture, and groups
// what it shows by connection: file (fileOf a frame number) and client
// port.
func tsharkRESP(t *testing.T, path string, fileOf func(frame int) int) map[string]*tsharkMsgs {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-T", "pdml", "-Y", "resp").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var doc struct {
		Packets []pdmlPacket `xml:"packet"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("pdml: %v", err)
	}
	conns := map[string]*tsharkMsgs{}
	for _, pkt := range doc.Packets {
		tcp := pkt.proto("tcp")
		if tcp == nil {
			continue
		}
		sp, dp := tcp.field("tcp.srcport").Show, tcp.field("tcp.dstport").Show
		client := dp == "6379"
		port := sp
		if !client {
			port = dp
		}
		num, _ := strconv.Atoi(pkt.proto("geninfo").field("num").Show)
		key := strconv.Itoa(fileOf(num)) + ":" + port
		c := conns[key]
		if c == nil {
			c = &tsharkMsgs{}
			conns[key] = c
		}
		for _, pr := range pkt.Protos {
			if pr.Name != "resp" {
				continue
			}
			for _, f := range pr.Fields {
				// A value tshark shows in part: the array continues in a
				// later frame, where tshark shows it whole; or a fragment
				// it could not decode.
				if f.has("resp.reassembled_in_next_frame") || f.has("resp.partial") {
					continue
				}
				if f.Name == "resp.fragment" || f.has("resp.malformed_length") {
					c.skipped++
					continue
				}
				if client {
					if f.Name != "resp.array" {
						c.skipped++
						continue
					}
					var args []string
					for _, e := range f.Fields {
						if e.Name == "resp.bulk_string" {
							v, _ := hex.DecodeString(strings.ReplaceAll(e.child("resp.bulk_string.value").Value, ":", ""))
							args = append(args, string(v))
						}
					}
					c.cmds = append(c.cmds, strings.Join(args, " "))
					continue
				}
				c.replies = append(c.replies, tsharkType(&f))
			}
		}
	}
	return conns
}

// tsharkType names a reply as our Status does.
func tsharkType(f *pdmlField) string {
	switch f.Name {
	case "resp.string":
		return "simple_string"
	case "resp.error":
		pre, _, _ := strings.Cut(f.Show, " ")
		return pre
	case "resp.integer":
		return "integer"
	case "resp.bulk_string":
		if l := f.child("resp.bulk_string.length"); l != nil && l.Show == "-1" {
			return "nil"
		}
		return "bulk_string"
	case "resp.array":
		if l := f.child("resp.array.length"); l != nil && l.Show == "-1" {
			return "nil"
		}
		return "array"
	}
	return f.Name
}

// TestTshark compares, connection by connection, the commands and reply
// types with those of Wireshark's RESP dissector (packet-resp.c), run at
// test time. Wireshark decodes RESP arrays only: it shows inline
// commands as undecoded fragments, so connections where it skipped a
// value are compared with tcpdump instead (TestTcpdump). The captures
// are concatenated (mergecap -a) so that tshark starts once.
func TestTshark(t *testing.T) {
	for _, tool := range []string{"tshark", "mergecap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	var files []string
	for _, rel := range []string{
		"deepflow/flow_generator/redis/redis.pcap",
		"deepflow/flow_generator/redis/redis-debug.pcap",
		"deepflow/flow_generator/redis/redis-error.pcap",
		"ndpi/resp.pcap",
		"tcpdump/resp_1_benchmark.pcap",
		"tcpdump/resp_3_malicious.pcap",
	} {
		files = append(files, corpus.Path(t, rel))
	}
	merged := filepath.Join(t.TempDir(), "redis.pcapng")
	if out, err := exec.Command("mergecap", append([]string{"-a", "-F", "pcapng", "-w", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	got := map[string]*tsharkMsgs{}
	var firstFrame []int
	frame := 1
	for i, path := range files {
		res := l7test.ReadFile(t, path, Protocol)
		checkTxs(t, res)
		firstFrame = append(firstFrame, frame)
		frame += res.Frames
		for _, tx := range res.Txs {
			k := strconv.Itoa(i) + ":" + strconv.Itoa(int(tx.Client.Port()))
			c := got[k]
			if c == nil {
				c = &tsharkMsgs{}
				got[k] = c
			}
			if tx.ReqBytes > 0 {
				c.cmds = append(c.cmds, string(tx.Field(FieldRequest)))
			}
			if tx.RespBytes > 0 {
				c.replies = append(c.replies, string(tx.Status))
				c.cutAtEnd = tx.Flags&l7.FlagTruncated != 0
			}
		}
	}
	want := tsharkRESP(t, merged, func(n int) int {
		f := 0
		for f+1 < len(firstFrame) && firstFrame[f+1] <= n {
			f++
		}
		return f
	})
	compared, skippedConns, cutAtEnd := 0, 0, 0
	for conn, w := range want {
		if w.skipped > 0 {
			skippedConns++
			continue
		}
		g := got[conn]
		if g == nil {
			g = &tsharkMsgs{}
		}
		if a, b := strings.Join(g.cmds, "\n"), strings.Join(w.cmds, "\n"); a != b {
			t.Errorf("%s: commands\n%s\ntshark\n%s", conn, a, b)
		}
		if g.cutAtEnd && len(g.replies) == len(w.replies)+1 {
			// The capture ends inside the last reply (redis.pcap: a
			// 490493-byte bulk string lacks its final CRLF): tshark
			// shows nothing, we emit it truncated.
			g.replies = g.replies[:len(g.replies)-1]
			cutAtEnd++
		}
		if a, b := strings.Join(g.replies, " "), strings.Join(w.replies, " "); a != b {
			t.Errorf("%s: replies %s, tshark %s", conn, a, b)
		}
		compared += len(w.cmds) + len(w.replies)
	}
	if compared < 50 {
		t.Fatalf("only %d messages compared", compared)
	}
	t.Logf("%d connections, %d messages equal to tshark's; %d connections with values tshark could not decode, %d replies cut by the end of the capture", len(want), compared, skippedConns, cutAtEnd)
}
