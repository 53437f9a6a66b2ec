package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/export"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/probe"
	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// centerReport connects a probe pipeline to its center: it implements
// probe.Reporter and the Records hook over an export.Exporter, which never
// blocks the pipeline.
type centerReport struct {
	exp *export.Exporter
	log *slog.Logger

	mu     sync.Mutex
	totals summary.Totals // loss counters since the probe started
}

func (c *centerReport) Flow(r *record.Flow) { c.exp.AddFlow(r) }

func (c *centerReport) Transaction(t *l7.Transaction) {
	c.exp.AddTransaction(probe.TransactionRecord(t))
}

func (c *centerReport) Window(b *summary.Bucket) {
	w, traffic, err := probe.WindowRecords(b)
	if err != nil {
		c.log.Error("window not reported", "err", err)
		return
	}
	c.exp.AddWindow(w)
	c.exp.AddTraffic(traffic)
	c.mu.Lock()
	c.totals.Add(b)
	loss := probe.LossCounters(&c.totals.Loss)
	c.mu.Unlock()
	c.exp.SetLoss(loss)
}

// reportFlags are the flags of a probe that reports to a center (`probe`
// and `read`); they override the configuration's center section.
type reportFlags struct {
	center, token, id, spool string
	insecure                 bool
	ca, cert, key            string
}

func (r *reportFlags) register(fsVar func(p *string, name, value, usage string), boolVar func(p *bool, name string, value bool, usage string)) {
	fsVar(&r.center, "center", "", "report to the center at HOST:PORT (its gRPC ingest)")
	fsVar(&r.token, "token", "", "bearer token at the center (or center.token_file in the config)")
	fsVar(&r.id, "probe-id", "", "this probe's name at the center (default: the hostname)")
	fsVar(&r.spool, "spool-dir", "", "where undelivered batches wait (default: a wirewatch-spool folder in the user's cache directory)")
	boolVar(&r.insecure, "insecure", false, "plaintext gRPC to the center (loopback and tests only)")
	fsVar(&r.ca, "center-ca", "", "CA file that signs the center's certificate")
	fsVar(&r.cert, "cert", "", "this probe's client certificate (mTLS)")
	fsVar(&r.key, "key", "", "this probe's client key (mTLS)")
}

func (r *reportFlags) apply(c *config.Report) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Address, r.center)
	set(&c.Token, r.token)
	set(&c.ID, r.id)
	set(&c.SpoolDir, r.spool)
	set(&c.TLS.CA, r.ca)
	set(&c.TLS.Cert, r.cert)
	set(&c.TLS.Key, r.key)
	if r.insecure {
		c.Insecure = true
	}
}

// startReport starts an exporter to the center of cfg and hooks it into
// opt. It returns a stop function that delivers what is buffered (within
// the context's time) and stops.
//
// live says whether the probe captures this machine's devices: its
// addresses then name this host on the center's map. A capture file's
// traffic is not this machine's.
func startReport(cfg config.Report, devices []string, live bool, opt *probe.Options, log *slog.Logger) (stop func(context.Context) error, err error) {
	token, err := cfg.ResolveToken()
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	id := cfg.ID
	if id == "" {
		id = host
	}
	spoolDir := cfg.SpoolDir
	if spoolDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		spoolDir = filepath.Join(base, "wirewatch-spool", id)
	}
	ecfg := export.DefaultConfig(cfg.Address, spoolDir)
	ecfg.Token = token
	ecfg.Insecure = cfg.Insecure
	ecfg.TLS = export.TLSConfig{CAFile: cfg.TLS.CA, CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key, ServerName: cfg.TLS.ServerName}
	if cfg.BatchRecords > 0 {
		ecfg.MaxBatchRecords = cfg.BatchRecords
	}
	if cfg.SpoolMaxBytes > 0 {
		ecfg.Spool.MaxBytes = cfg.SpoolMaxBytes
	}
	// A capture file waits for the spool rather than drop what it reads;
	// live capture must never wait.
	ecfg.WaitWhenFull = !live
	info := record.ProbeInfo{
		ID:       id,
		Hostname: host,
		Version:  probe.Version,
		Labels:   cfg.Labels,
		Devices:  devices,
		Started:  time.Now().UTC(),
	}
	if live {
		info.Addresses = hostAddresses()
	}
	exp, err := export.New(ecfg, info, log)
	if err != nil {
		return nil, fmt.Errorf("center: %w", err)
	}
	if err := exp.Start(); err != nil {
		return nil, fmt.Errorf("center: %w", err)
	}
	rep := &centerReport{exp: exp, log: log}
	opt.Report = rep
	if opt.Records == nil {
		opt.Records = rep.Transaction
	} else {
		prev := opt.Records
		opt.Records = func(t *l7.Transaction) {
			prev(t)
			rep.Transaction(t)
		}
	}
	// The probe does not count its own traffic to the center.
	opt.IgnoreEndpoints = append(opt.IgnoreEndpoints, resolveEndpoints(cfg.Address)...)
	return exp.Stop, nil
}

// resolveEndpoints returns the addresses host:port resolves to.
func resolveEndpoints(hostport string) []netip.AddrPort {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	port, err := net.LookupPort("tcp", portStr)
	if err != nil {
		return nil
	}
	addrs, err := net.LookupHost(host)
	if err != nil {
		return nil
	}
	var out []netip.AddrPort
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		}
	}
	return out
}

// hostAddresses lists this machine's unicast addresses, so that the
// center's map can name them after this probe's host.
func hostAddresses() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			ip := p.Addr().Unmap()
			if !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				out = append(out, ip)
			}
		}
	}
	return out
}
