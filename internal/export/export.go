// Package export is the probe's way to the center. Producers (the summary
// windows, the flow table, the L7 tracker, the device counters) hand it
// records from any goroutine without ever waiting on the network: records
// gather in a bounded in-memory batch, which is cut when full or every
// FlushInterval, encoded (internal/wire) and appended to an on-disk spool
// (internal/export/spool). A sender streams the spool to the center's
// ingest service over gRPC with several batches in flight, releases what
// the center acknowledged, and after any failure reconnects with backoff
// and resends what was not acknowledged; the center drops what it already
// stored by sequence number. Whatever is dropped on the way is counted and
// reported to the center in the next batch's Loss under export_* keys.
package export

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wirewatch/wirewatch/internal/export/spool"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/wire"
)

// Loss keys the exporter adds to every batch's Loss (cumulative since the
// exporter started).
const (
	// Records of batches dropped because the encoder was queueLen batches
	// behind (the disk was slow or stuck) when they were cut: producers
	// never wait for it.
	LossQueueFull = "export_queue_full_records"
	// Records added after Stop.
	LossQueueDropped = "export_queue_dropped_records"
	// Records of batches that could not be encoded (a time outside the
	// years 1678..2262).
	LossEncodeFailed = "export_encode_failed_records"
	// Records of batches the spool refused: larger than Spool.MaxRecord,
	// or a write error.
	LossSpoolRefused = "export_spool_refused_records"
	// Batches the spool's size bound deleted before the center
	// acknowledged them (the center was away too long).
	LossSpoolDropped = "export_spool_dropped_batches"
	// Batches found damaged in the spool.
	LossSpoolCorrupt = "export_spool_corrupt_batches"
	// Batches larger than the center's message limit, dropped unsent.
	LossTooLarge = "export_too_large_batches"
	// Batches the center refused as invalid (it says why in its log and
	// in the ingest refused counters).
	LossRefused = "export_refused_batches"
)

// queueLen is how many cut batches may wait for the encoder: it bounds
// the exporter's memory at (queueLen + 2) × MaxBatchRecords records. A
// batch cut while the queue is full is dropped and counted (LossQueueFull)
// at once, since the producers are the capture path, which must never
// wait for a disk; with Config.WaitWhenFull (a capture file's reader) the
// producer waits instead.
const queueLen = 4

// Exporter batches records and delivers them to the center.
type Exporter struct {
	cfg   Config
	info  record.ProbeInfo
	log   *slog.Logger
	creds credentials.TransportCredentials
	sp    *spool.Spool

	mu          sync.Mutex
	cur         record.Batch // Windows, Flows, Transactions, Traffic
	curRecords  int
	curBytes    int
	loss        map[string]uint64 // the producers' counters (SetLoss)
	lossChanged bool
	period      time.Duration // the windows' length, when info does not say it
	queueStuck  bool          // the last cut found the queue full
	lastExport  uint64        // sum of the export counters in the last batch cut
	closed      bool          // Stop has cut the last batch

	queue chan cut

	conn      *grpc.ClientConn
	cancel    context.CancelFunc
	flushDone chan struct{}
	encDone   chan struct{}
	sendDone  chan struct{}
	started   bool
	stopOnce  sync.Once
	stopErr   error

	// Counters.
	queueFull, queueDropped                    atomic.Uint64
	encodeFailed, spoolRefused                 atomic.Uint64
	batches, records                           atomic.Uint64
	sent, acked, duplicates, refused, tooLarge atomic.Uint64
	sessions, sessionErrors                    atomic.Uint64
	connected                                  atomic.Bool
}

// cut is a batch on its way to the encoder, with the producers' loss
// counters and the window period as they were when it was cut.
type cut struct {
	b      *record.Batch
	loss   map[string]uint64
	period time.Duration
}

// New checks cfg, loads the TLS files and opens the spool. Producers may
// call the Add methods right away; nothing is encoded or sent before
// Start. Stop releases the spool even without Start.
func New(cfg Config, info record.ProbeInfo, log *slog.Logger) (*Exporter, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if info.ID == "" {
		return nil, errors.New("export: the probe info has no ID")
	}
	if len(info.ID) > wire.MaxNameBytes {
		return nil, fmt.Errorf("export: probe ID is %d bytes, more than %d", len(info.ID), wire.MaxNameBytes)
	}
	if info.Period < 0 || info.Period > wire.MaxPeriod {
		return nil, fmt.Errorf("export: probe period %v is not between 0 and %v", info.Period, wire.MaxPeriod)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "export")
	creds, err := clientCreds(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Insecure && cfg.Token != "" {
		log.Warn("the bearer token goes to the center in clear text (Insecure)")
	}
	sp, err := spool.Open(cfg.Spool, log)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &Exporter{
		cfg:   cfg,
		info:  info,
		log:   log,
		creds: creds,
		sp:    sp,
		queue: make(chan cut, queueLen),
	}, nil
}

func clientCreds(cfg Config) (credentials.TransportCredentials, error) {
	if cfg.Insecure {
		return insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.TLS.ServerName}
	if cfg.TLS.CAFile != "" {
		pem, err := os.ReadFile(cfg.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("export: TLS.CAFile: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("export: TLS.CAFile %s holds no PEM certificate", cfg.TLS.CAFile)
		}
	}
	if cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("export: TLS.CertFile/TLS.KeyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(tc), nil
}

// Start starts the flusher, the encoder and the sender.
func (e *Exporter) Start() error {
	if e.started {
		return errors.New("export: already started")
	}
	conn, err := e.dial()
	if err != nil {
		return err
	}
	e.conn = conn
	e.started = true
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.flushDone = make(chan struct{})
	e.encDone = make(chan struct{})
	e.sendDone = make(chan struct{})
	go e.flushLoop(ctx)
	go e.encodeLoop()
	go e.sendLoop(ctx)
	return nil
}

// Stop cuts what is buffered, writes it to the spool, and tries to deliver
// everything the spool holds until ctx ends; what is left stays in the
// spool for the next start. It returns an error when ctx ended first.
func (e *Exporter) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { e.stopErr = e.stop(ctx) })
	return e.stopErr
}

func (e *Exporter) stop(ctx context.Context) error {
	if !e.started {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		return e.sp.Close()
	}
	// The last cut; the flusher cuts nothing once closed is set.
	e.mu.Lock()
	e.closed = true
	e.cutLocked(true)
	e.mu.Unlock()
	close(e.queue)
	<-e.encDone
	err := e.drain(ctx)
	e.cancel()
	<-e.flushDone
	<-e.sendDone
	if cerr := e.conn.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("export: closing the connection: %w", cerr)
	}
	if cerr := e.sp.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("export: closing the spool: %w", cerr)
	}
	return err
}

// drain waits until the center acknowledged everything in the spool, or
// ctx ends.
func (e *Exporter) drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		n := e.sp.Stats().Pending.Records
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("export: stop: %w with %d batches not delivered (kept in the spool)", ctx.Err(), n)
		case <-t.C:
		}
	}
}

// AddWindow adds a closed summary window. The Add methods are safe from
// any goroutine and never wait, neither on the network nor on the disk:
// when the encoder is queueLen batches behind, the batch they cut is
// dropped and counted (LossQueueFull). With Config.WaitWhenFull they wait
// for the encoder instead (which runs from Start on). Records are
// copied, but the slices they hold (a window's Summary, a transaction's
// Flags and Fields) are kept until the batch is encoded: do not modify
// them after adding.
//
// The window's length is the probe's period (ProbeInfo.Period) reported
// to the center when the ProbeInfo given to New does not say it.
func (e *Exporter) AddWindow(w record.Window) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuseLocked(1) {
		return
	}
	if d := w.End.Sub(w.Start); d > 0 && d <= wire.MaxPeriod {
		e.period = d
	}
	e.cur.Windows = append(e.cur.Windows, w)
	e.addedLocked(64 + len(w.Probe) + len(w.Summary))
}

// AddFlows adds flow records.
func (e *Exporter) AddFlows(fs []record.Flow) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuseLocked(len(fs)) {
		return
	}
	for i := range fs {
		e.addFlowLocked(&fs[i])
	}
}

// AddFlow adds one flow record, copied: the flow table's per-flow hook
// calls it without making a slice per flow.
func (e *Exporter) AddFlow(f *record.Flow) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuseLocked(1) {
		return
	}
	e.addFlowLocked(f)
}

func (e *Exporter) addFlowLocked(f *record.Flow) {
	e.cur.Flows = append(e.cur.Flows, *f)
	e.addedLocked(120 + len(f.Transport) + len(f.App) + len(f.Device) + len(f.State))
}

// AddTransaction adds one transaction.
func (e *Exporter) AddTransaction(t record.Transaction) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuseLocked(1) {
		return
	}
	e.cur.Transactions = append(e.cur.Transactions, t)
	n := 110 + len(t.Proto) + len(t.Transport) + len(t.Op) + len(t.Target) + len(t.Status) + len(t.Outcome)
	for _, f := range t.Flags {
		n += 2 + len(f)
	}
	for _, f := range t.Fields {
		n += 6 + len(f.Key) + len(f.Value)
	}
	e.addedLocked(n)
}

// AddTraffic adds per-device traffic records.
func (e *Exporter) AddTraffic(ts []record.Traffic) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.refuseLocked(len(ts)) {
		return
	}
	for i := range ts {
		e.cur.Traffic = append(e.cur.Traffic, ts[i])
		e.addedLocked(50 + len(ts[i].Device) + len(ts[i].Direction))
	}
}

// SetLoss replaces the producers' cumulative loss counters sent with the
// next batches (the exporter adds its own export_* ones). m is copied.
func (e *Exporter) SetLoss(m map[string]uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !maps.Equal(e.loss, m) {
		e.loss = maps.Clone(m)
		e.lossChanged = true
	}
}

// refuseLocked counts records added after Stop.
func (e *Exporter) refuseLocked(n int) bool {
	if e.closed {
		e.queueDropped.Add(uint64(n))
		return true
	}
	return false
}

// addedLocked accounts for one record and cuts the batch when full.
func (e *Exporter) addedLocked(size int) {
	e.curRecords++
	e.curBytes += size
	if e.curRecords >= e.cfg.MaxBatchRecords || e.curBytes >= e.cfg.MaxBatchBytes {
		e.cutLocked(false)
	}
}

// cutLocked hands the buffered records to the encoder. Without records it
// still cuts (an empty batch carrying Loss) when force is set or when a
// loss counter changed, so that losses reach the center while the probe
// is idle.
func (e *Exporter) cutLocked(force bool) {
	exp := e.exportLossSum()
	if e.curRecords == 0 && !force && !e.lossChanged && exp == e.lastExport {
		return
	}
	b := &record.Batch{
		Windows:      e.cur.Windows,
		Flows:        e.cur.Flows,
		Transactions: e.cur.Transactions,
		Traffic:      e.cur.Traffic,
	}
	n := e.curRecords
	e.cur = record.Batch{}
	e.curRecords, e.curBytes = 0, 0
	e.lossChanged = false
	e.lastExport = exp
	c := cut{b, maps.Clone(e.loss), e.period}
	if e.cfg.WaitWhenFull {
		// In order, holding the lock: every producer waits its turn.
		e.queue <- c
		return
	}
	select {
	case e.queue <- c:
		e.queueStuck = false
	default:
		// The encoder is queueLen batches behind (the disk is slow or
		// stuck): waiting would stall the capture path, so this batch is
		// what the slow disk costs. The next batch carries the count.
		e.queueFull.Add(uint64(n))
		if !e.queueStuck {
			e.queueStuck = true
			e.log.Warn("encoder behind: dropping batches until it catches up", "records", n, "queued", queueLen)
		}
	}
}

func (e *Exporter) flushLoop(ctx context.Context) {
	defer close(e.flushDone)
	t := time.NewTicker(e.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.mu.Lock()
			if !e.closed {
				e.cutLocked(false)
			}
			e.mu.Unlock()
		}
	}
}

// encodeLoop encodes cut batches and appends them to the spool; the
// spool's sequence number becomes the batch's Seq when it is sent.
func (e *Exporter) encodeLoop() {
	defer close(e.encDone)
	for c := range e.queue {
		b := c.b
		b.Probe = e.info
		if b.Probe.Period == 0 {
			b.Probe.Period = c.period
		}
		b.SentAt = time.Now().UTC()
		b.Loss = c.loss
		if b.Loss == nil {
			b.Loss = make(map[string]uint64, 8)
		}
		maps.Copy(b.Loss, e.exportLoss())
		n := uint64(b.Records())
		data, err := wire.Encode(b)
		if err != nil {
			e.encodeFailed.Add(n)
			e.log.Error("batch not encoded: dropped", "records", n, "err", err)
			continue
		}
		if _, err := e.sp.Append(data); err != nil {
			e.spoolRefused.Add(n)
			e.log.Error("spool refused a batch: dropped", "records", n, "bytes", len(data), "err", err)
			continue
		}
		e.batches.Add(1)
		e.records.Add(n)
	}
}

// exportLoss is the export_* counters now.
func (e *Exporter) exportLoss() map[string]uint64 {
	st := e.sp.Stats()
	return map[string]uint64{
		LossQueueFull:    e.queueFull.Load(),
		LossQueueDropped: e.queueDropped.Load(),
		LossEncodeFailed: e.encodeFailed.Load(),
		LossSpoolRefused: e.spoolRefused.Load(),
		LossSpoolDropped: st.Dropped.Records, // the spool's counters run from Open, like ours
		LossSpoolCorrupt: st.Corrupt.Records,
		LossTooLarge:     e.tooLarge.Load(),
		LossRefused:      e.refused.Load(),
	}
}

func (e *Exporter) exportLossSum() uint64 {
	var s uint64
	for _, v := range e.exportLoss() {
		s += v
	}
	return s
}
