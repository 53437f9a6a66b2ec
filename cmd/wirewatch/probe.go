package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/probe"
)

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	var devices listFlag
	fs.Var(&devices, "i", "capture device, or 'any' (repeatable; default: the default-route device)")
	fs.Var(&devices, "device", "same as -i")
	listen := fs.String("listen", "", "HTTP API address (default 127.0.0.1:10860; 'off' disables it)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	recordsFile := fs.String("records-file", "", "write every decoded transaction to this file as JSON lines (docs/records.md)")
	var rep reportFlags
	rep.register(fs.StringVar, fs.BoolVar)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wirewatch probe [-c probe.yaml] [-i DEVICE]... [flags]\n\n"+
			"Capture live traffic (AF_PACKET, needs root or CAP_NET_RAW), keep time windows,\n"+
			"and serve them at http://LISTEN/api/v1/... and /metrics (see docs/api.md).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{fmt.Errorf("unexpected argument %q", pos[0])}
	}
	cfg, err := common.load(fs)
	if err != nil {
		return err
	}
	if len(devices) > 0 {
		cfg.Capture.Devices = devices
	}
	if *listen != "" {
		cfg.API.Listen = *listen
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	log := newLogger(cfg.Log, stderr)
	if len(cfg.Capture.Devices) == 0 {
		dev, err := defaultRouteDevice()
		if err != nil {
			return fmt.Errorf("no device given and %w; use -i DEVICE", err)
		}
		cfg.Capture.Devices = []string{dev}
	}
	opt, err := probe.OptionsFrom(cfg)
	if err != nil {
		return err
	}
	var recOut *recordWriter
	if *recordsFile != "" {
		if opt.NoL7 {
			return usageError{errors.New("--records-file needs the L7 decoders (l7.enabled is false)")}
		}
		f, err := os.OpenFile(*recordsFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		recOut = newRecordWriter(f)
		opt.Records = recOut.write
		defer func() {
			if err := recOut.close(); err != nil {
				log.Error("records", "err", err)
			}
		}()
	}
	rep.apply(&cfg.Center)
	if err := cfg.Center.Validate(); err != nil {
		return err
	}
	if cfg.Center.Address != "" {
		stopReport, err := startReport(cfg.Center, cfg.Capture.Devices, true, &opt, log)
		if err != nil {
			return err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := stopReport(dctx); err != nil {
				log.Warn("center: not everything was delivered; the spool keeps the rest", "err", err)
			}
		}()
		log.Info("reporting to the center", "center", cfg.Center.Address)
	}
	var apiLn net.Listener
	if cfg.API.Listen != "off" && cfg.API.Listen != "" {
		// Listen before capturing, so a busy port fails fast, and so the
		// probe knows its own API port and does not count its own traffic.
		if apiLn, err = net.Listen("tcp", cfg.API.Listen); err != nil {
			return fmt.Errorf("api: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if recOut != nil {
		go recOut.flushEvery(ctx, time.Second)
	}
	live, err := probe.StartLive(ctx, opt, capture.LiveConfig{
		Devices:     cfg.Capture.Devices,
		Workers:     cfg.Capture.Workers,
		SnapLen:     cfg.Capture.SnapLen,
		BlockSize:   cfg.Capture.BlockSize,
		NumBlocks:   cfg.Capture.NumBlocks,
		Promiscuous: cfg.Capture.Promiscuous,
	}, log)
	if err != nil {
		if apiLn != nil {
			apiLn.Close()
		}
		return err
	}
	log.Info("capturing", "devices", cfg.Capture.Devices, "workers", cfg.Capture.Workers, "period", opt.Period, "hosts", live.Hosts())
	var srv *http.Server
	if apiLn != nil {
		srv = &http.Server{Handler: probe.APIHandler(live), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("api stopped", "err", err)
			}
		}()
		log.Info("api listening", "url", "http://"+apiLn.Addr().String()+"/api/v1/windows")
	}
	<-ctx.Done()
	log.Info("stopping: flushing the open window")
	live.Stop()
	closed := live.Windows().Closed()
	if n := len(closed); n > 0 {
		last := closed[n-1]
		cs := live.CaptureStats()
		log.Info("final window", "start", time.Unix(0, last.Start).UTC(), "packets", last.Packets.Total,
			"bytes", last.Bytes.Total, "kernel_drops", cs.KernelDrops)
	}
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}
	return nil
}

// defaultRouteDevice finds the device of the IPv4 default route.
func defaultRouteDevice() (string, error) {
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", fmt.Errorf("cannot read the routing table: %w", err)
	}
	var dev, dest string
	lines := splitLines(string(data))
	for _, line := range lines[1:] {
		if _, err := fmt.Sscan(line, &dev, &dest); err == nil && dest == "00000000" {
			return dev, nil
		}
	}
	return "", errors.New("there is no default route")
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}
