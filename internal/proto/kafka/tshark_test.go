package kafka

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/l7/l7test"
)

// tsharkMsg is one Kafka message as Wireshark's dissector (packet-kafka.c)
// shows it.
type tsharkMsg struct {
	frame, ports               string
	request                    bool
	key, ver, corr, client     string
	topics, partitions, errors string
}

func tsharkKafka(t *testing.T, path string) []tsharkMsg {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-d", "tcp.port==36333,kafka", "-Y", "kafka",
		"-T", "fields", "-E", "separator=|", "-E", "aggregator=,",
		"-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport",
		"-e", "kafka.request_key", "-e", "kafka.api_version", "-e", "kafka.correlation_id",
		"-e", "kafka.client_id", "-e", "kafka.topic_name", "-e", "kafka.partition_id", "-e", "kafka.error").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var msgs []tsharkMsg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 10 {
			t.Fatalf("tshark line %q", line)
		}
		ports := portPair(atoiS(f[1]), atoiS(f[2]))
		msgs = append(msgs, tsharkMsg{frame: f[0], ports: ports, request: f[3] != "", key: f[3], ver: f[4], corr: f[5],
			client: f[6], topics: f[7], partitions: f[8], errors: f[9]})
	}
	return msgs
}

// errorAPIs are the APIs whose response error code this package reads
// (see the package comment): for the others Status stays empty.
var errorAPIs = map[string]bool{"0": true, "1": true, "2": true, "8": true}

func init() {
	for k := range errorFirst {
		errorAPIs[itoaS(int(k))] = true
	}
	for k := range throttleFirst {
		errorAPIs[itoaS(int(k))] = true
	}
	errorAPIs["10"] = true // FindCoordinator v0-v3
}

func itoaS(n int) string { return string(itoa(nil, int64(n))) }

// TestTshark compares every Kafka message with Wireshark's dissector, run
// at test time (tshark 4.0 here): API key, version, correlation id and
// client id of requests; their topics and partitions where Wireshark
// decodes them; response error codes where it shows them. Wireshark 4.0
// does not decode Produce v9+ topics nor the error codes of several
// flexible responses (Produce v9, SyncGroup v5, Fetch v12+), and shows
// Metadata v10+ topic names as null although the bytes hold them
// ("sampleTopic" in ndpi/kafka.pcapng frame 33); those are compared with
// DeepFlow (TestDeepflow) or not at all, and counted here. The captures
// are concatenated (mergecap -a) so that tshark starts once.
func TestTshark(t *testing.T) {
	for _, tool := range []string{"tshark", "mergecap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	dir := filepath.Dir(corpus.Path(t, "deepflow/flow_generator/kafka/00-produce-v2.pcap"))
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	files = append(files, corpus.Path(t, "ndpi/kafka.pcapng"))
	merged := filepath.Join(t.TempDir(), "kafka.pcapng")
	if out, err := exec.Command("mergecap", append([]string{"-a", "-F", "pcapng", "-w", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	msgs := tsharkKafka(t, merged)
	type key struct{ ports, corr string }
	type index struct{ reqs, resps map[key]*l7.Transaction }
	var byFile []index
	var firstFrame []int // frame number of each file's first frame in the merged capture
	// ndpi/kafka.pcapng leaves connections idle for 300 s and more
	// between a request and its response; the probe's reassembly gives
	// such streams up after 120 s (their later bytes never reach the
	// parser), where tshark keeps them. An idle timeout of a day makes
	// the pipeline see what tshark sees.
	cfg := l7.DefaultConfig()
	cfg.Reassembly.IdleTimeout = 24 * time.Hour
	frame := 1
	for _, path := range files {
		res := l7test.ReadFileConfig(t, path, cfg, Protocol)
		checkTxs(t, res)
		ix := index{map[key]*l7.Transaction{}, map[key]*l7.Transaction{}}
		for _, tx := range res.Txs {
			k := key{portPair(int(tx.Client.Port()), int(tx.Server.Port())), string(tx.Field(FieldCorrelationID))}
			if tx.ReqBytes > 0 {
				ix.reqs[k] = tx
			}
			if tx.RespBytes > 0 {
				ix.resps[k] = tx
			}
		}
		byFile = append(byFile, ix)
		firstFrame = append(firstFrame, frame)
		frame += res.Frames
	}
	var nreq, nresp, topics, noTopics, noErrors int
	for _, m := range msgs {
		f := 0
		n := atoiS(m.frame)
		for f+1 < len(firstFrame) && firstFrame[f+1] <= n {
			f++
		}
		ix := byFile[f]
		where := filepath.Base(files[f]) + " frame " + itoaS(n-firstFrame[f]+1)
		k := key{m.ports, m.corr}
		if m.request {
			tx := ix.reqs[k]
			if tx == nil {
				t.Errorf("%s: no request %s", where, m.corr)
				continue
			}
			nreq++
			if string(tx.Field(FieldAPIKey)) != m.key || string(tx.Field(FieldAPIVersion)) != m.ver || string(tx.Field(FieldClientID)) != m.client {
				t.Errorf("%s: api %s v%s client %q, tshark %s v%s %q", where, tx.Field(FieldAPIKey), tx.Field(FieldAPIVersion), tx.Field(FieldClientID), m.key, m.ver, m.client)
			}
			if m.topics == "" || strings.Contains(m.topics, "[ Null ]") {
				noTopics++
				continue
			}
			topics++
			if got := string(tx.Field(FieldTopics)); got != m.topics {
				t.Errorf("%s: topics %q, tshark %q", where, got, m.topics)
			}
			if got := string(tx.Field(FieldPartitions)); m.partitions != "" && got != m.partitions {
				t.Errorf("%s: partitions %q, tshark %q", where, got, m.partitions)
			}
			continue
		}
		tx := ix.resps[k]
		if tx == nil {
			t.Errorf("%s: no response %s", where, m.corr)
			continue
		}
		nresp++
		api := string(tx.Field(FieldAPIKey))
		switch {
		case api == "":
			// No request: the body was not read.
			if tx.Status != nil {
				t.Errorf("%s: status %q without a request", where, tx.Status)
			}
		case !errorAPIs[api]:
			if tx.Status != nil {
				t.Errorf("%s: status %q for api %s", where, tx.Status, api)
			}
		case m.errors == "":
			noErrors++
		default:
			// Status is the first non-zero code Wireshark shows (the
			// top-level one comes first in its order too), else 0.
			want := ""
			for _, e := range strings.Split(m.errors, ",") {
				if want == "" || want == "0" {
					want = e
				}
			}
			if string(tx.Status) != want {
				t.Errorf("%s: status %q, tshark errors %q", where, tx.Status, m.errors)
			}
		}
	}
	if nreq < 20 || nresp < 20 {
		t.Fatalf("only %d requests and %d responses compared", nreq, nresp)
	}
	t.Logf("%d requests and %d responses equal to tshark's; topics compared in %d requests (%d without topics in tshark); %d error codes tshark does not show", nreq, nresp, topics, noTopics, noErrors)
}

func portPair(a, b int) string {
	if b < a {
		a, b = b, a
	}
	return itoaS(a) + "-" + itoaS(b)
}

func atoiS(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
