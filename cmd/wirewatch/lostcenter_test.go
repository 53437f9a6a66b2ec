package main

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/corpus"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/probe"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// countingReporter counts what the pipeline handed to the exporter.
type countingReporter struct {
	next         probe.Reporter
	flows, wins  atomic.Int64
	transactions atomic.Int64
}

func (c *countingReporter) Flow(r *record.Flow)      { c.flows.Add(1); c.next.Flow(r) }
func (c *countingReporter) Window(b *summary.Bucket) { c.wins.Add(1); c.next.Window(b) }

// TestLostCenter stops the center (store closed, listener gone) while a
// probe streams a capture to it, starts a new center on the same data
// directory and port, and finds every transaction, flow record and window
// stored exactly once: the probe spooled what it could not send, resent
// what was not acknowledged, and the store dropped what it had already.
func TestLostCenter(t *testing.T) {
	path := corpus.Path(t, "bench/mixed_l7_concat_bench.pcap")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.DefaultCenter()
	cfg.DataDir = t.TempDir()
	cfg.GRPC.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Retention.MaxAge = 100 * 365 * 24 * time.Hour
	token := randomToken()
	cfg.GRPC.Tokens = map[string]string{"p1": token}
	c1, err := center.New(cfg, center.Options{Version: "test"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Start(); err != nil {
		t.Fatal(err)
	}
	cfg.GRPC.Listen = c1.IngestAddr() // the restarted center takes the same port

	pcfg := config.DefaultProbe()
	pcfg.Summary.Period = 10 * time.Minute
	opt, err := probe.OptionsFrom(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startReport(config.Report{Address: c1.IngestAddr(), ID: "p1", Token: token, Insecure: true,
		SpoolDir: filepath.Join(t.TempDir(), "spool"), BatchRecords: 500}, []string{"mixed"}, false, &opt, log)
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingReporter{next: opt.Report}
	opt.Report = counter
	records := opt.Records
	opt.Records = func(tx *l7.Transaction) { counter.transactions.Add(1); records(tx) }

	readDone := make(chan error, 1)
	go func() {
		_, err := probe.ReadFile(context.Background(), path, opt, nil)
		readDone <- err
	}()
	// Kill the center once some batches are stored, i.e. mid-stream.
	deadline := time.Now().Add(time.Minute)
	for c1.Store().Stats().Batches < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no batch reached the center")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopCenter(c1, log)
	storedBefore := c1.Store().Stats().Batches
	time.Sleep(1500 * time.Millisecond) // the probe keeps reading and spooling, and retries
	c2, err := center.New(cfg, center.Options{Version: "test"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(); err != nil {
		t.Fatal(err)
	}
	defer stopCenter(c2, log)
	if err := <-readDone; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatalf("delivering after the restart: %v", err)
	}
	t.Logf("first center stored %d batches before it stopped; produced %d transactions, %d flow records, %d windows",
		storedBefore, counter.transactions.Load(), counter.flows.Load(), counter.wins.Load())

	base := "http://" + c2.APIAddr()
	from := url.QueryEscape("2000-01-01T00:00:00Z")
	count := func(path string, list func(any) int, v func() any) int {
		n, cursor := 0, ""
		for {
			u := base + path + "&limit=10000&from=" + from
			if cursor != "" {
				u += "&cursor=" + url.QueryEscape(cursor)
			}
			page := v()
			getJSON(t, u, page)
			n += list(page)
			next := page.(interface{ next() string }).next()
			if next == "" {
				return n
			}
			cursor = next
		}
	}
	txs := count("/api/v1/transactions?probe=p1", func(p any) int { return len(p.(*txPage).Transactions) }, func() any { return &txPage{} })
	flows := count("/api/v1/flows?probe=p1", func(p any) int { return len(p.(*flowPage).Flows) }, func() any { return &flowPage{} })
	var wins struct {
		Windows []struct{} `json:"windows"`
	}
	getJSON(t, base+"/api/v1/summary/windows?probe=p1&from="+from, &wins)
	if txs != int(counter.transactions.Load()) || flows != int(counter.flows.Load()) {
		t.Errorf("stored %d transactions and %d flow records; the probe produced %d and %d",
			txs, flows, counter.transactions.Load(), counter.flows.Load())
	}
	if len(wins.Windows) != int(counter.wins.Load()) {
		t.Errorf("stored %d windows; the probe closed %d", len(wins.Windows), counter.wins.Load())
	}
	if txs == 0 || flows == 0 {
		t.Fatal("nothing stored")
	}
}

type txPage struct {
	Transactions []struct{} `json:"transactions"`
	Next         string     `json:"next"`
}

func (p *txPage) next() string { return p.Next }

type flowPage struct {
	Flows []struct{} `json:"flows"`
	Next  string     `json:"next"`
}

func (p *flowPage) next() string { return p.Next }
