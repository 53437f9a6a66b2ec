package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// Live runs the pipeline over live devices: one shard per capture socket
// (the kernel's fanout keeps each flow on one socket).
type Live struct {
	opt      Options
	sources  []capture.Source
	shards   []*shard
	windows  *Windows
	hosts    *summary.Hosts
	started  time.Time
	stopOnce sync.Once
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	log      *slog.Logger

	totalsMu sync.Mutex
	totals   summary.Totals // running sums of every closed window
}

// closedTotals returns a copy of the running sums of closed windows.
func (l *Live) closedTotals() *summary.Totals {
	l.totalsMu.Lock()
	defer l.totalsMu.Unlock()
	return l.totals.Clone()
}

// StartLive opens the devices and starts capturing.
func StartLive(ctx context.Context, opt Options, live capture.LiveConfig, log *slog.Logger) (*Live, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	live.Filter = opt.Filter
	if live.Workers < 1 {
		live.Workers = opt.Workers
	}
	sources, err := capture.OpenLive(live)
	if err != nil {
		return nil, err
	}
	if len(sources) == 0 {
		return nil, errors.New("no capture source opened")
	}
	hosts := summary.NewHosts(opt.Hosts)
	// The devices' own addresses are host addresses: traffic to them is
	// inbound, from them outbound.
	seen := map[string]bool{}
	for _, src := range sources {
		for _, itf := range src.Interfaces() {
			for _, a := range itf.Addrs {
				if !seen[a.String()] {
					seen[a.String()] = true
					hosts.Add(netip.PrefixFrom(a.Addr(), a.Addr().BitLen()))
				}
			}
		}
	}
	l := &Live{opt: opt, sources: sources, hosts: hosts, started: time.Now(), log: log}
	l.windows = NewWindows(len(sources), opt.Keep, opt.TopCapacity, func(b *summary.Bucket) {
		// Called with the collector's lock held: keep it short.
		l.totalsMu.Lock()
		l.totals.Add(b)
		l.totalsMu.Unlock()
		if opt.Report != nil {
			opt.Report.Window(b)
		}
		log.Debug("window closed", "start", time.Unix(0, b.Start).UTC(), "packets", b.Packets.Total)
	})
	ctx, l.cancel = context.WithCancel(ctx)
	for i, src := range sources {
		names := &ifaceNames{src: src}
		names.refresh(len(src.Interfaces()) - 1)
		sh := newShard(i, &l.opt, hosts, names.name, true, true, l.windows)
		sh.src = src
		l.shards = append(l.shards, sh)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(ctx, src, sh, names)
		}()
	}
	return l, nil
}

func (l *Live) run(ctx context.Context, src capture.Source, sh *shard, names *ifaceNames) {
	var n uint64
	for ctx.Err() == nil {
		f, err := src.Next()
		switch {
		case err == nil:
			names.refresh(f.Interface)
			sh.mu.Lock()
			sh.frame(&f)
			sh.mu.Unlock()
			n++
			// Under steady traffic the timeout branch never runs: check
			// the clock every few thousand frames so quiet windows close.
			if n%4096 == 0 {
				sh.tick(time.Now())
			}
		case errors.Is(err, capture.ErrTimeout):
			sh.tick(time.Now())
		default:
			if ctx.Err() == nil {
				l.log.Error("capture stopped", "err", err)
			}
			return
		}
	}
}

// Stop stops capturing and closes the open window, so that what was
// captured up to now is in Windows().
func (l *Live) Stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		for _, s := range l.sources {
			s.Close()
		}
		l.wg.Wait()
		for _, sh := range l.shards {
			sh.end()
		}
	})
}

// Windows returns the window collector.
func (l *Live) Windows() *Windows { return l.windows }

// Current merges the shards' open windows.
func (l *Live) Current() *summary.Bucket {
	var m *summary.Bucket
	for _, sh := range l.shards {
		b := sh.snapshot()
		if b == nil {
			continue
		}
		if m == nil {
			m = b
			continue
		}
		m.Merge(b)
	}
	return m
}

// CaptureStats sums the sources' counters.
func (l *Live) CaptureStats() capture.Stats {
	var t capture.Stats
	for _, s := range l.sources {
		st := s.Stats()
		t.Packets += st.Packets
		t.Bytes += st.Bytes
		t.KernelDrops += st.KernelDrops
		t.FilteredOut += st.FilteredOut
		t.TruncatedRecords += st.TruncatedRecords
		t.BadRecords += st.BadRecords
		t.SnapTruncated += st.SnapTruncated
		t.BadWireLen += st.BadWireLen
	}
	return t
}

// Interfaces lists the capture interfaces of all sources.
func (l *Live) Interfaces() []capture.Interface {
	var out []capture.Interface
	seen := map[string]bool{}
	for _, s := range l.sources {
		for _, itf := range s.Interfaces() {
			if !seen[itf.Name] {
				seen[itf.Name] = true
				out = append(out, itf)
			}
		}
	}
	return out
}

// Hosts returns the host prefixes in use (configured plus device addresses).
func (l *Live) Hosts() []string {
	var out []string
	for _, p := range l.hosts.Prefixes() {
		out = append(out, p.String())
	}
	return out
}

// Started is when capture began.
func (l *Live) Started() time.Time { return l.started }

// Options returns the options in use.
func (l *Live) Options() Options { return l.opt }

func (l *Live) String() string { return fmt.Sprintf("live(%d sources)", len(l.sources)) }
