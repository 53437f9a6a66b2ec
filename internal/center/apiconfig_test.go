package center

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/wire"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// startFromYAML starts a center from a configuration file with the given
// keys in its api section, on free loopback ports, with its data in a
// temporary directory.
func startFromYAML(t *testing.T, api string) *Center {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "center.yaml")
	src := fmt.Sprintf("data_dir: %s\ngrpc:\n  listen: 127.0.0.1:0\n  insecure: true\napi:\n  listen: 127.0.0.1:0\n%s", filepath.Join(dir, "data"), api)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadCenter(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, Options{Version: "test"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
	return c
}

// report sends batches over one Report stream and returns their acks.
func report(t *testing.T, c *Center, probe string, ms ...*pb.Batch) []*pb.Ack {
	t.Helper()
	conn, err := grpc.NewClient(c.IngestAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := pb.NewIngestClient(conn).Report(metadata.AppendToOutgoingContext(ctx, wire.MetaProbe, probe))
	if err != nil {
		t.Fatal(err)
	}
	var acks []*pb.Ack
	for _, m := range ms {
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
		ack, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack)
	}
	return acks
}

func get(t *testing.T, c *Center, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + c.APIAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// The api section of center.yaml reaches the API: default_range and
// max_windows decide whether a summary without from is too wide,
// staleness is the probes' staleness.
func TestAPISectionReachesTheAPI(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	b := &record.Batch{Probe: record.ProbeInfo{ID: "p1"}, SpoolID: "s", Seq: 1}
	for i := range 3 {
		start := now.Add(-90*time.Minute + time.Duration(i)*time.Minute)
		b.Windows = append(b.Windows, record.Window{Start: start, End: start.Add(time.Minute)})
	}
	m, err := wire.ToProto(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		yaml       string
		status     int
		staleAfter float64
	}{
		// The defaults: 15 minutes back hold none of the windows.
		{"", http.StatusOK, 180},
		{"  default_range: 2h\n  max_windows: 2\n  staleness: 42s\n", http.StatusBadRequest, 42},
		{"  default_range: 2h\n  max_windows: 3\n", http.StatusOK, 180},
	} {
		c := startFromYAML(t, tc.yaml)
		if ack := report(t, c, "p1", m)[0]; ack.Refused != "" || ack.Duplicate {
			t.Fatalf("%q: ack %v", tc.yaml, ack)
		}
		code, body := get(t, c, "/api/v1/summary")
		if code != tc.status {
			t.Errorf("%q: summary answered %d, want %d: %s", tc.yaml, code, tc.status, body)
		}
		if code == http.StatusBadRequest && !strings.Contains(body, "more than 2 summary windows") {
			t.Errorf("%q: %s", tc.yaml, body)
		}
		var probes struct {
			Probes []struct {
				StaleAfterS float64 `json:"stale_after_s"`
			} `json:"probes"`
		}
		if code, body := get(t, c, "/api/v1/probes"); code != http.StatusOK || json.Unmarshal([]byte(body), &probes) != nil || len(probes.Probes) != 1 {
			t.Fatalf("%q: probes answered %d: %s", tc.yaml, code, body)
		}
		if got := probes.Probes[0].StaleAfterS; got != tc.staleAfter {
			t.Errorf("%q: stale after %vs, want %vs", tc.yaml, got, tc.staleAfter)
		}
	}
}

// A batch with invalid records is stored without them; how many were
// dropped, and why, shows in the probe's loss counters (the API's
// /api/v1/probes and /metrics) and in the ingest metrics, once however
// often the batch is resent.
func TestInvalidRecordsAreCounted(t *testing.T) {
	c := startFromYAML(t, "")
	at := time.Now().UTC().Add(-time.Minute)
	b := &record.Batch{Probe: record.ProbeInfo{ID: "p1"}, SpoolID: "s", Seq: 1, Loss: map[string]uint64{"capture_kernel_drops": 3}}
	for i := range 6 {
		b.Flows = append(b.Flows, record.Flow{Start: at, End: at.Add(time.Second), Transport: "tcp",
			Client:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 40000),
			Server:  netip.MustParseAddrPort("10.0.1.1:80"),
			Packets: [2]uint64{1, 1}, Bytes: [2]uint64{100, 100}})
	}
	m, err := wire.ToProto(b)
	if err != nil {
		t.Fatal(err)
	}
	m.Flows[1].ClientAddr = []byte{1, 2, 3}
	m.Flows[4].ServerAddr = make([]byte, 5)
	m.Flows[5].Start = m.Flows[5].End + 1
	acks := report(t, c, "p1", m, m)
	if acks[0].Refused != "" || acks[0].Duplicate || !acks[1].Duplicate {
		t.Fatalf("acks %v", acks)
	}
	stored, err := c.Store().Flows(context.Background(), storeFlowsOfLastHour())
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Flows) != 3 {
		t.Errorf("%d flows stored, want the 3 valid ones", len(stored.Flows))
	}

	var probes struct {
		Probes []struct {
			Loss map[string]uint64 `json:"loss"`
		} `json:"probes"`
	}
	code, body := get(t, c, "/api/v1/probes")
	if code != http.StatusOK || json.Unmarshal([]byte(body), &probes) != nil || len(probes.Probes) != 1 {
		t.Fatalf("probes answered %d: %s", code, body)
	}
	want := map[string]uint64{"capture_kernel_drops": 3, "center_invalid_records_address": 2, "center_invalid_records_time": 1}
	for k, v := range want {
		if probes.Probes[0].Loss[k] != v {
			t.Errorf("loss %s = %d, want %d (all: %v)", k, probes.Probes[0].Loss[k], v, probes.Probes[0].Loss)
		}
	}
	_, metrics := get(t, c, "/metrics")
	for _, line := range []string{
		`wirewatch_center_ingest_invalid_records_total{probe="p1",reason="address"} 2`,
		`wirewatch_center_ingest_invalid_records_total{probe="p1",reason="time"} 1`,
		`wirewatch_center_probe_loss_total{cause="center_invalid_records_address",probe="p1"} 2`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

func storeFlowsOfLastHour() store.FlowQuery {
	return store.FlowQuery{FlowFilter: store.FlowFilter{TimeRange: store.TimeRange{From: time.Now().Add(-time.Hour)}}}
}

// The api section's bounds are the API's own: at each bound and one past
// it, the configuration and the API accept or refuse alike.
func TestAPISectionBoundsAreTheAPIs(t *testing.T) {
	set := map[string]func(*config.CenterAPI, int){
		"top_n":       func(a *config.CenterAPI, v int) { a.TopN = v },
		"max_windows": func(a *config.CenterAPI, v int) { a.MaxWindows = v },
		"max_merges":  func(a *config.CenterAPI, v int) { a.MaxMerges = v },
		"map_edges":   func(a *config.CenterAPI, v int) { a.MapEdges = v },
	}
	bounds := map[string]int{"top_n": config.MaxAPITopN, "max_windows": config.MaxAPIRows, "max_merges": config.MaxAPIMerges, "map_edges": config.MaxAPIRows}
	for key, f := range set {
		for _, v := range []int{-1, 0, 1, bounds[key], bounds[key] + 1} {
			cfg := config.DefaultCenter()
			f(&cfg.API, v)
			cerr := cfg.Validate()
			aerr := apiConfig(cfg.API, 0).Validate()
			if (cerr == nil) != (aerr == nil) {
				t.Errorf("%s %d: the configuration says %v, the API %v", key, v, cerr, aerr)
			}
		}
	}
}
