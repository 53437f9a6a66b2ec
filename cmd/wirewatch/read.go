package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"time"

	"golang.org/x/term"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/probe"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// commonFlags are the pipeline settings shared by read and probe; a flag
// given on the command line wins over the configuration file.
type commonFlags struct {
	config    string
	bpf       string
	hostCIDRs listFlag
	period    time.Duration
	keep      int
	top       int
	workers   int
	maxFlows  int
	noL7      bool
	protocols listFlag
	keepCreds bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "c", "", "YAML configuration file (see config/probe.yaml)")
	fs.StringVar(&c.config, "config", "", "same as -c")
	fs.StringVar(&c.bpf, "bpf", "", "tcpdump filter expression, e.g. 'tcp port 80 or udp port 53'")
	fs.Var(&c.hostCIDRs, "host-cidr", "address or CIDR of the monitored host(s), for in/out (repeatable, or comma-separated)")
	fs.DurationVar(&c.period, "period", 0, "window length (default 60s)")
	fs.IntVar(&c.keep, "keep", 0, "closed windows to keep (default 5)")
	fs.IntVar(&c.top, "top", 0, "entries in each top-N list (default 10)")
	fs.IntVar(&c.workers, "workers", 0, "analysis workers (default 1; live: fanout sockets per device)")
	fs.IntVar(&c.maxFlows, "max-flows", 0, "hard cap on tracked flows (default 1048576)")
	fs.BoolVar(&c.noL7, "no-l7", false, "no stream reassembly or protocol decoding (flows and summaries only)")
	fs.Var(&c.protocols, "protocols", "detect and decode only these L7 protocols (comma-separated names, see docs/records.md)")
	fs.BoolVar(&c.keepCreds, "keep-credentials", false, "do not redact credentials (Authorization, Cookie, SQL/Redis auth, URL userinfo)")
}

// load reads the configuration file (if any) and applies the flags.
func (c *commonFlags) load(fs *flag.FlagSet) (config.Probe, error) {
	cfg := config.DefaultProbe()
	if c.config != "" {
		var err error
		if cfg, err = config.Load(c.config); err != nil {
			return cfg, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["bpf"] {
		cfg.Capture.BPF = c.bpf
	}
	if len(c.hostCIDRs) > 0 {
		cfg.Summary.HostCIDRs = append(cfg.Summary.HostCIDRs, c.hostCIDRs...)
	}
	if set["period"] {
		cfg.Summary.Period = c.period
	}
	if set["keep"] {
		cfg.Summary.Keep = c.keep
	}
	if set["top"] {
		cfg.Summary.TopN = c.top
		if cfg.Summary.TopCapacity < c.top {
			cfg.Summary.TopCapacity = c.top
		}
	}
	if set["workers"] {
		cfg.Capture.Workers = c.workers
	}
	if set["max-flows"] {
		cfg.Flows.Max = c.maxFlows
	}
	if set["no-l7"] {
		on := !c.noL7
		cfg.L7.Enabled = &on
	}
	if len(c.protocols) > 0 {
		cfg.L7.Protocols = c.protocols
	}
	if set["keep-credentials"] {
		cfg.L7.KeepCredentials = c.keepCreds
	}
	return cfg, cfg.Validate()
}

// ReadOutput is the JSON document `wirewatch read --format json` prints;
// docs/summary-json.md describes every field.
type ReadOutput struct {
	*summary.Report
	File       string              `json:"file"`
	Capture    capture.Stats       `json:"capture"`
	Interfaces []capture.Interface `json:"interfaces"`
	ElapsedS   float64             `json:"elapsed_s"`
	WindowsN   uint64              `json:"windows_total"`
	Windows    []*summary.Report   `json:"windows,omitempty"`
	// L7Stats are each worker's reassembly, detection and parser
	// counters at the end of the file (docs/summary-json.md).
	L7Stats []L7StatsJSON `json:"l7_stats,omitempty"`
}

// L7StatsJSON is one worker's application-layer state at the end.
type L7StatsJSON struct {
	Transactions        uint64            `json:"transactions"`
	FlowsTCP            uint64            `json:"flows_tcp"`
	FlowsUDP            uint64            `json:"flows_udp"`
	Detected            map[string]uint64 `json:"detected"`
	Unknown             uint64            `json:"unknown"`
	ParsedBytes         uint64            `json:"parsed_bytes"`
	ParserMemoryPeak    uint64            `json:"parser_memory_peak"`
	StreamsOpened       uint64            `json:"streams_opened"`
	StreamsEvicted      uint64            `json:"streams_evicted"`
	StreamsIdle         uint64            `json:"streams_idle"`
	BufferedMemoryPeak  uint64            `json:"reassembly_memory_peak"`
	ReassemblyBoundByte int64             `json:"reassembly_memory_bound"`
}

func cmdRead(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	format := fs.String("format", "table", "output format: table or json")
	summaryMode := fs.Bool("summary", false, "fold the whole file into one bucket instead of time windows")
	progress := fs.String("progress", "auto", "progress line on stderr: auto (when stderr is a terminal), on, off")
	records := fs.Bool("records", false, "write the decoded transactions to stdout as JSON lines (docs/records.md) instead of the summary")
	recordsFile := fs.String("records-file", "", "also write the transactions as JSON lines to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the run to this file (for performance work)")
	var rep reportFlags
	rep.register(fs.StringVar, fs.BoolVar)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wirewatch read FILE [flags]\n\nSummarize a pcap or pcapng capture file (gzip-compressed too).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError{errors.New("expected exactly one capture file")}
	}
	if *format != "table" && *format != "json" {
		return usageError{fmt.Errorf("--format %q: want table or json", *format)}
	}
	cfg, err := common.load(fs)
	if err != nil {
		return err
	}
	opt, err := probe.OptionsFrom(cfg)
	if err != nil {
		return err
	}
	opt.SummaryMode = *summaryMode
	var recOut *recordWriter
	switch {
	case *records && *recordsFile != "":
		return usageError{errors.New("--records and --records-file: choose one")}
	case *records:
		recOut = newRecordWriter(stdout)
	case *recordsFile != "":
		f, err := os.Create(*recordsFile)
		if err != nil {
			return err
		}
		defer f.Close()
		recOut = newRecordWriter(f)
	}
	if recOut != nil {
		if opt.NoL7 {
			return usageError{errors.New("--records needs the L7 decoders: drop --no-l7")}
		}
		opt.Records = recOut.write
	}

	rcfg := cfg.Center
	rep.apply(&rcfg)
	var stopReport func(context.Context) error
	if rcfg.Address != "" {
		if opt.SummaryMode {
			return usageError{errors.New("--center sends time windows: drop --summary")}
		}
		if err := rcfg.Validate(); err != nil {
			return err
		}
		stopReport, err = startReport(rcfg, []string{filepath.Base(pos[0])}, false, &opt, newLogger(cfg.Log, stderr))
		if err != nil {
			return err
		}
	}

	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var prog probe.Progress
	showProgress := *progress == "on" || (*progress == "auto" && isTerminal(stderr))
	if showProgress {
		prog = func(frames uint64, elapsed time.Duration) {
			fmt.Fprintf(stderr, "\r%s: %d frames, %.0f frames/s ", filepath.Base(pos[0]), frames, float64(frames)/elapsed.Seconds())
		}
	}
	res, err := probe.ReadFile(ctx, pos[0], opt, prog)
	if showProgress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if stopReport != nil {
		// Deliver everything before exiting: the spool keeps what the
		// center does not take in time, for the next run to send.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		rerr := stopReport(dctx)
		cancel()
		if err == nil && rerr != nil {
			err = fmt.Errorf("center: %w", rerr)
		}
	}
	if err != nil {
		return err
	}
	if recOut != nil {
		if err := recOut.close(); err != nil {
			return fmt.Errorf("records: %w", err)
		}
		if *records {
			return nil
		}
	}
	out := ReadOutput{
		Report:     res.Whole.Report(opt.TopN, true, len(res.Windows)),
		File:       pos[0],
		Capture:    res.Capture,
		Interfaces: res.Interfaces,
		ElapsedS:   res.Elapsed.Seconds(),
		WindowsN:   res.Total,
	}
	for _, st := range res.L7 {
		out.L7Stats = append(out.L7Stats, L7StatsJSON{
			Transactions: st.Transactions, FlowsTCP: st.Flows[0], FlowsUDP: st.Flows[1],
			Detected: st.Detected, Unknown: st.Unknown, ParsedBytes: st.ParsedBytes, ParserMemoryPeak: st.ParserMemoryPeak,
			StreamsOpened: st.Reassembly.StreamsOpened, StreamsEvicted: st.Reassembly.EndedEvicted, StreamsIdle: st.Reassembly.EndedIdle,
			BufferedMemoryPeak: st.Reassembly.BufferedMemoryPeak, ReassemblyBoundByte: opt.L7.Reassembly.MemoryBound(),
		})
	}
	if !opt.SummaryMode {
		for _, b := range res.Windows {
			out.Windows = append(out.Windows, b.Report(opt.TopN, true, 1))
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printTable(stdout, &out)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
