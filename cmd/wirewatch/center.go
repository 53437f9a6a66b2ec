package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/center"
	"github.com/wirewatch/wirewatch/internal/center/webui"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/probe"
)

// centerFlags override the center's configuration file.
type centerFlags struct {
	config, dataDir, grpc, api string
	insecure                   bool
}

func (c *centerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "c", "", "YAML configuration file (see config/center.yaml)")
	fs.StringVar(&c.config, "config", "", "same as -c")
	fs.StringVar(&c.dataDir, "data-dir", "", "where the embedded store keeps its data (default ./wirewatch-data)")
	fs.StringVar(&c.grpc, "grpc", "", "gRPC address probes report to (default 127.0.0.1:10861)")
	fs.StringVar(&c.api, "api", "", "REST API and web UI address (default 127.0.0.1:10870; 'off' disables it)")
	fs.BoolVar(&c.insecure, "insecure", false, "accept plaintext, unauthenticated probes (tests and demos only)")
}

func (c *centerFlags) load() (config.Center, error) {
	cfg := config.DefaultCenter()
	if c.config != "" {
		var err error
		if cfg, err = config.LoadCenter(c.config); err != nil {
			return cfg, err
		}
	}
	if c.dataDir != "" {
		cfg.DataDir = c.dataDir
	}
	if c.grpc != "" {
		cfg.GRPC.Listen = c.grpc
	}
	if c.api != "" {
		cfg.API.Listen = c.api
	}
	if c.insecure {
		cfg.GRPC.Insecure = true
	}
	return cfg, cfg.Validate()
}

func cmdCenter(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("center", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf centerFlags
	cf.register(fs)
	replay := fs.String("replay", "", "feed this capture file through a probe into this center (demos, tests), then keep serving")
	period := fs.Duration("period", time.Minute, "window length of --replay")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wirewatch center [-c center.yaml] [flags]\n\n"+
			"Receive probes' reports over gRPC, store them (embedded DuckDB in the data\n"+
			"directory by default, or a shared ClickHouse: store.kind in the config) and\n"+
			"serve the web UI at http://API/ and the REST API at http://API/api/v1/...\n"+
			"(docs/api.md).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{fmt.Errorf("unexpected argument %q", pos[0])}
	}
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	if *replay != "" {
		// A capture's records carry the capture's times, usually older
		// than retention.max_age: age-based retention would delete them
		// within a minute. Size-based retention still holds.
		cfg.Retention.MaxAge = 100 * 365 * 24 * time.Hour
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ui, err := webui.Default(log)
	if err != nil {
		return err
	}
	opt := center.Options{Version: probe.Version, ReportInterval: *period, Handler: ui}
	var replayToken string
	if *replay != "" {
		replayToken = randomToken()
		opt.ExtraTokens = map[string]string{replayProbeID(*replay): replayToken}
	}
	c, err := center.New(cfg, opt, log)
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	defer stopCenter(c, log)
	if *replay != "" {
		if err := replayFile(ctx, *replay, *period, c.IngestAddr(), replayToken, cfg.DataDir, log); err != nil {
			return err
		}
		log.Info("replay delivered; serving until interrupted", "file", *replay, "ui", "http://"+c.APIAddr()+"/", "api", "http://"+c.APIAddr()+"/api/v1/probes")
	}
	<-ctx.Done()
	return nil
}

func stopCenter(c *center.Center, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		log.Warn("center stop", "err", err)
	}
}

func replayProbeID(path string) string { return "replay-" + filepath.Base(path) }

// replayFile reads a capture through a probe pipeline that reports to the
// center at addr, and waits until everything is delivered.
func replayFile(ctx context.Context, path string, period time.Duration, addr, token, dataDir string, log *slog.Logger) error {
	cfg := config.DefaultProbe()
	cfg.Summary.Period = period
	if err := cfg.Validate(); err != nil {
		return err
	}
	opt, err := probe.OptionsFrom(cfg)
	if err != nil {
		return err
	}
	rc := config.Report{
		Address:  addr,
		ID:       replayProbeID(path),
		Token:    token,
		Insecure: true,
		SpoolDir: filepath.Join(dataDir, "spool", replayProbeID(path)),
		Labels:   map[string]string{"source": "replay"},
	}
	stopReport, err := startReport(rc, []string{filepath.Base(path)}, false, &opt, log)
	if err != nil {
		return err
	}
	_, rerr := probe.ReadFile(ctx, path, opt, nil)
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return errors.Join(rerr, stopReport(dctx))
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cmdAll is `wirewatch` alone: a center on the embedded store and a probe
// on the default-route device reporting to it, in one process.
func cmdAll(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wirewatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf centerFlags
	cf.register(fs)
	var devices listFlag
	fs.Var(&devices, "i", "capture device, or 'any' (repeatable; default: the default-route device)")
	probeConfig := fs.String("probe-config", "", "the probe's YAML configuration (see config/probe.yaml)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wirewatch [flags]\n\n"+
			"Capture the default-route device and serve the traffic map, summaries, flows\n"+
			"and transactions at http://127.0.0.1:10870 — probe, center and embedded store\n"+
			"in one process. Other commands: wirewatch help.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{fmt.Errorf("unexpected argument %q (commands: read, probe, center, version)", pos[0])}
	}
	ccfg, err := cf.load()
	if err != nil {
		return err
	}
	pcfg := config.DefaultProbe()
	if *probeConfig != "" {
		if pcfg, err = config.Load(*probeConfig); err != nil {
			return err
		}
	}
	if len(devices) > 0 {
		pcfg.Capture.Devices = devices
	}
	log := newLogger(ccfg.Log, stderr)
	if len(pcfg.Capture.Devices) == 0 {
		dev, err := defaultRouteDevice()
		if err != nil {
			return fmt.Errorf("no device given and %w; use -i DEVICE", err)
		}
		pcfg.Capture.Devices = []string{dev}
	}
	opt, err := probe.OptionsFrom(pcfg)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	id := pcfg.Center.ID
	if id == "" {
		id = host
	}
	token := randomToken()
	ui, err := webui.Default(log)
	if err != nil {
		return err
	}
	c, err := center.New(ccfg, center.Options{Version: probe.Version, ExtraTokens: map[string]string{id: token}, ReportInterval: opt.Period, Handler: ui}, log)
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	defer stopCenter(c, log)
	rc := pcfg.Center
	rc.Address, rc.ID, rc.Token, rc.TokenFile, rc.Insecure = c.IngestAddr(), id, token, "", true
	if rc.SpoolDir == "" {
		rc.SpoolDir = filepath.Join(ccfg.DataDir, "spool")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopReport, err := startReport(rc, pcfg.Capture.Devices, true, &opt, log)
	if err != nil {
		return err
	}
	// The center's API port is this process's own traffic too.
	if p := portOf(c.APIAddr()); p != 0 {
		if opt.IgnorePorts == nil {
			opt.IgnorePorts = map[uint16]bool{}
		}
		opt.IgnorePorts[p] = true
	}
	live, err := probe.StartLive(ctx, opt, capture.LiveConfig{
		Devices:     pcfg.Capture.Devices,
		Workers:     pcfg.Capture.Workers,
		SnapLen:     pcfg.Capture.SnapLen,
		BlockSize:   pcfg.Capture.BlockSize,
		NumBlocks:   pcfg.Capture.NumBlocks,
		Promiscuous: pcfg.Capture.Promiscuous,
	}, log)
	if err != nil {
		_ = stopReport(context.Background())
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "operation not permitted") {
			return fmt.Errorf("capturing on %s needs root or CAP_NET_RAW: run `sudo %s`, "+
				"or look at a capture file instead: `wirewatch read FILE`, or `wirewatch center --replay FILE` to browse it through the API",
				strings.Join(pcfg.Capture.Devices, ","), strings.Join(os.Args, " "))
		}
		return err
	}
	log.Info("wirewatch running", "devices", pcfg.Capture.Devices, "ui", "http://"+c.APIAddr()+"/", "api", "http://"+c.APIAddr()+"/api/v1/map")
	<-ctx.Done()
	live.Stop()
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return stopReport(dctx)
}

func portOf(hostport string) uint16 {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0
	}
	p, _ := strconv.ParseUint(port, 10, 16)
	return uint16(p)
}
