package kafka

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// dfField reads one field of a DeepFlow KafkaInfo line
// (agent/src/flow_generator/protocol_logs/mq/kafka.rs, Debug format).
func dfField(line, name string) string {
	re := regexp.MustCompile(`\b` + name + `: ("(?:[^"\\]|\\.)*"|Some\([^)]*\)|None|-?\w+)`)
	m := re.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	v := m[1]
	v = strings.TrimSuffix(strings.TrimPrefix(v, "Some("), ")")
	return strings.Trim(v, `"`)
}

type dfMsg struct {
	request                        bool
	corr, api, ver, client, topic  string
	partition, group, status, code string
	size                           int64
}

func readDeepflow(t *testing.T, path string) []dfMsg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dfMsg
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "KafkaInfo {") {
			// "is_kafka: false" alone: a packet DeepFlow did not parse
			// (the TCP handshake and ACKs of 00-produce-v7-sw8).
			continue
		}
		m := dfMsg{
			request:   dfField(line, "msg_type") == "Request",
			corr:      dfField(line, "correlation_id"),
			api:       dfField(line, "api_key"),
			ver:       dfField(line, "api_version"),
			client:    dfField(line, "client_id"),
			topic:     dfField(line, "topic_name"),
			partition: dfField(line, "partition"),
			group:     dfField(line, "group_id"),
			status:    dfField(line, "status"),
			code:      dfField(line, "status_code"),
		}
		size := dfField(line, "req_msg_size")
		if !m.request {
			size = dfField(line, "resp_msg_size")
		}
		m.size, _ = strconv.ParseInt(size, 10, 64)
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no messages", path)
	}
	return out
}

var dfOutcome = map[string]l7.Outcome{"Ok": l7.OutcomeOK, "ServerError": l7.OutcomeServerError, "ClientError": l7.OutcomeClientError}

// TestDeepflow compares with DeepFlow's expected parse, message by
// message. DeepFlow prints one line per message; we emit one
// transaction per request/response pair, found by correlation id.
// Differences, each checked below rather than skipped:
//   - DeepFlow's sizes exclude the 4-byte length prefix, ours include it.
//   - status_code -2 (OffsetCommit v8, Heartbeat v4 in
//     mixed-with-unsupported) is DeepFlow's "not parsed": it reads no
//     error code for those APIs. We read them; TestTshark compares them
//     with Wireshark's.
//   - 01-fetch-v12-unknown's response comes 13 s after its request, past
//     the 10 s timeout: the request is emitted no_response and the late
//     response, still decoded, no_request; DeepFlow pairs them.
//   - Fetch v13 names topics by id: DeepFlow shows no topic, we show the
//     id.
//   - DeepFlow reads topics for Produce and Fetch only; the topics of
//     OffsetCommit are compared with tshark.
func TestDeepflow(t *testing.T) {
	dir := filepath.Dir(corpus.Path(t, "deepflow/flow_generator/kafka/00-produce-v2.pcap"))
	results, _ := filepath.Glob(filepath.Join(dir, "*.result"))
	if len(results) != 10 {
		t.Fatalf("%d .result files, want 10", len(results))
	}
	compared := 0
	for _, result := range results {
		name := strings.TrimSuffix(filepath.Base(result), ".result")
		t.Run(name, func(t *testing.T) {
			want := readDeepflow(t, result)
			res := l7test.ReadFile(t, strings.TrimSuffix(result, ".result")+".pcap", Protocol)
			checkTxs(t, res)
			for i, m := range want {
				var tx *l7.Transaction
				for _, c := range res.Txs {
					if string(c.Field(FieldCorrelationID)) == m.corr && string(c.Op) == m.api &&
						((m.request && c.ReqBytes > 0) || (!m.request && c.RespBytes > 0)) {
						tx = c
						break
					}
				}
				if tx == nil {
					t.Errorf("line %d: no transaction for %s %s correlation id %s", i, m.api, map[bool]string{true: "request", false: "response"}[m.request], m.corr)
					continue
				}
				compared++
				if got := string(tx.Field(FieldAPIVersion)); got != m.ver {
					t.Errorf("line %d: api_version %s, DeepFlow %s", i, got, m.ver)
				}
				if !m.request {
					if got := tx.RespBytes; got != m.size+4 {
						t.Errorf("line %d: response %d bytes, DeepFlow %d (+4)", i, got, m.size)
					}
					if m.code != "-2" && m.code != "None" {
						if string(tx.Status) != m.code {
							t.Errorf("line %d: status %q, DeepFlow status_code %s", i, tx.Status, m.code)
						}
						if tx.ReqBytes > 0 && tx.Outcome != dfOutcome[m.status] {
							t.Errorf("line %d: outcome %v, DeepFlow status %s", i, tx.Outcome, m.status)
						}
					}
					continue
				}
				if got := tx.ReqBytes; got != m.size+4 {
					t.Errorf("line %d: request %d bytes, DeepFlow %d (+4)", i, got, m.size)
				}
				if got := string(tx.Field(FieldClientID)); got != m.client {
					t.Errorf("line %d: client_id %q, DeepFlow %q", i, got, m.client)
				}
				topics := string(tx.Field(FieldTopics))
				switch {
				case m.topic != "":
					first, _, _ := strings.Cut(topics, ",")
					if first != m.topic || string(tx.Target) != m.topic {
						t.Errorf("line %d: topics %q target %q, DeepFlow topic %q", i, topics, tx.Target, m.topic)
					}
					if parts := string(tx.Field(FieldPartitions)); !strings.HasPrefix(parts+",", m.partition+",") {
						t.Errorf("line %d: partitions %q, DeepFlow partition %s", i, parts, m.partition)
					}
				case (m.api == "Produce" || m.api == "Fetch") && tx.Field(FieldTopics) != nil && !isTopicIDList(topics):
					// DeepFlow reads topics of Produce and Fetch only (the
					// others are compared with tshark).
					t.Errorf("line %d: topics %q, DeepFlow none", i, topics)
				}
				if m.group != "" && string(tx.Field(FieldGroupID)) != m.group {
					t.Errorf("line %d: group_id %q, DeepFlow %q", i, tx.Field(FieldGroupID), m.group)
				}
			}
		})
	}
	t.Logf("%d DeepFlow messages compared", compared)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func isTopicIDList(s string) bool {
	for _, t := range strings.Split(s, ",") {
		if !uuidRE.MatchString(t) {
			return false
		}
	}
	return true
}

// checkTxs applies checkSink to a ReadFile result.
func checkTxs(t *testing.T, res *l7test.Result) {
	t.Helper()
	checkSink(t, &l7test.Sink{Txs: res.Txs})
	if res.Stats.ParserPanics != 0 {
		t.Errorf("%d parser panics", res.Stats.ParserPanics)
	}
}

// TestNDPI: nDPI's expected result for kafka.pcapng
// (tests/result/kafka.pcapng.out) lists 9 Kafka flows. The flow table
// ends two of them on idle and starts them again (the capture spans
// 15 minutes), so we see 11 flow records over the same 9 connections.
func TestNDPI(t *testing.T) {
	res := l7test.ReadFile(t, corpus.Path(t, "ndpi/kafka.pcapng"), Protocol)
	want := map[string]bool{
		"127.0.0.1:46136-127.0.0.1:9092":        true,
		"172.16.17.101:38176-172.30.0.237:9092": true,
		"172.16.17.101:58052-172.30.0.237:9092": true,
		"172.16.17.101:49280-172.30.0.237:9092": true,
		"172.16.17.101:56556-172.30.0.237:9092": true,
		"172.16.17.101:40042-172.30.0.237:9092": true,
		"172.16.17.101:53768-172.30.0.237:9092": true,
		"172.16.17.101:53052-172.30.0.237:9092": true,
		"172.16.17.101:58300-172.30.0.237:9092": true,
	}
	got := map[string]bool{}
	for _, f := range res.Flows {
		if f.Proto == "kafka" {
			got[f.Client.String()+"-"+f.Server.String()] = true
		} else if want[f.Client.String()+"-"+f.Server.String()] {
			t.Errorf("flow %v -> %v: %q", f.Client, f.Server, f.Proto)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("connection %s not detected as kafka", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d kafka connections, nDPI has %d", len(got), len(want))
	}
	checkTxs(t, res)
}
