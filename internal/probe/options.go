// Package probe wires the pipeline of one probe: capture sources feed
// shards (decoder, flow table, summary recorder), whose per-window buckets
// are merged into closed windows. It runs over a capture file (`wirewatch
// read`) or live devices (`wirewatch probe`), and serves the windows over
// HTTP.
package probe

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/config"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/flow"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/proto/registry"
)

// Options configures a pipeline run.
type Options struct {
	Decode      decode.Config
	Flows       flow.Config
	Period      time.Duration // window length
	Keep        int           // closed windows kept
	SummaryMode bool          // fold everything into one bucket (files)
	Hosts       []netip.Prefix
	TopN        int
	TopCapacity int
	Workers     int
	Filter      string          // tcpdump expression
	Grace       time.Duration   // live: how long after a window's end late packets may still arrive
	IgnorePorts map[uint16]bool // TCP/UDP ports whose traffic is not counted (the probe's own)

	// L7 configures reassembly, detection and parsers; NoL7 turns them
	// off. Protocols is the detection list (nil: the registry's).
	L7        l7.Config
	NoL7      bool
	Protocols []*l7.Protocol
	// Records, when set, receives every transaction. It is called from
	// the shards' goroutines (one at a time per shard, several shards at
	// once) and the transaction is valid only during the call.
	Records func(*l7.Transaction)
	// Report, when set, receives flow records and closed windows for a
	// center (see Reporter).
	Report Reporter
	// IgnoreEndpoints: traffic to or from these addresses and ports is
	// not counted — the probe's own connection to its center.
	IgnoreEndpoints []netip.AddrPort
}

// OptionsFrom builds pipeline options from a probe configuration.
func OptionsFrom(cfg config.Probe) (Options, error) {
	hosts, err := cfg.Summary.HostPrefixes()
	if err != nil {
		return Options{}, err
	}
	o := Options{
		Decode:      decode.DefaultConfig(),
		Flows:       flow.DefaultConfig(),
		Period:      cfg.Summary.Period,
		Keep:        cfg.Summary.Keep,
		Hosts:       hosts,
		TopN:        cfg.Summary.TopN,
		TopCapacity: cfg.Summary.TopCapacity,
		Workers:     cfg.Capture.Workers,
		Filter:      cfg.Capture.BPF,
		Grace:       2 * time.Second,
		L7:          l7.DefaultConfig(),
		NoL7:        !cfg.L7.On(),
	}
	lc := cfg.L7
	o.L7.Enabled = lc.Protocols
	o.L7.KeepCredentials = lc.KeepCredentials
	setPos(&o.L7.DetectBytes, lc.DetectBytes)
	setPos(&o.L7.MaxMessage, lc.MaxMessage)
	setPos(&o.L7.MaxPending, lc.MaxPending)
	setPos(&o.L7.Timeout, lc.Timeout)
	setPos(&o.L7.Reassembly.MaxBufferedPerDir, lc.Reassembly.MaxBufferedPerDir)
	setPos(&o.L7.Reassembly.MaxBufferedTotal, lc.Reassembly.MaxBufferedTotal)
	setPos(&o.L7.Reassembly.MaxStreams, lc.Reassembly.MaxStreams)
	setPos(&o.L7.Reassembly.IdleTimeout, lc.Reassembly.IdleTimeout)
	d := cfg.Decode
	if d.DefragMaxBytes > 0 {
		o.Decode.DefragMaxBytes = d.DefragMaxBytes
	}
	if d.DefragMaxDatagrams > 0 {
		o.Decode.DefragMaxDatagrams = d.DefragMaxDatagrams
	}
	if d.DefragTimeout > 0 {
		o.Decode.DefragTimeout = d.DefragTimeout
	}
	if d.VXLANPorts != nil {
		o.Decode.VXLANPorts = d.VXLANPorts
	}
	if d.GenevePorts != nil {
		o.Decode.GenevePorts = d.GenevePorts
	}
	f := cfg.Flows
	if f.Max > 0 {
		o.Flows.MaxFlows = f.Max
	}
	if f.IdleTimeout > 0 {
		o.Flows.IdleTimeout = f.IdleTimeout
	}
	if f.TCPIdleTimeout > 0 {
		o.Flows.TCPIdleTimeout = f.TCPIdleTimeout
	}
	if f.TCPClosedTimeout > 0 {
		o.Flows.TCPClosedTimeout = f.TCPClosedTimeout
	}
	if f.TCPSynTimeout > 0 {
		o.Flows.TCPSynTimeout = f.TCPSynTimeout
	}
	if f.ActiveTimeout > 0 {
		o.Flows.ActiveTimeout = f.ActiveTimeout
	}
	if len(cfg.Capture.IgnorePorts) > 0 {
		o.IgnorePorts = map[uint16]bool{}
		for _, p := range cfg.Capture.IgnorePorts {
			o.IgnorePorts[p] = true
		}
	}
	return o, o.Validate()
}

func setPos[T int | int64 | time.Duration](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}

// Validate checks the options and the components' configurations.
func (o *Options) Validate() error {
	if err := o.Decode.Validate(); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if err := o.Flows.Validate(); err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	if !o.SummaryMode && o.Period < time.Second {
		return fmt.Errorf("period %v is shorter than 1s", o.Period)
	}
	if !o.NoL7 {
		if o.Protocols == nil {
			o.Protocols = registry.All()
		}
		if err := o.L7.Validate(); err != nil {
			return err
		}
		if err := l7.CheckNames(o.L7.Enabled, o.Protocols); err != nil {
			return err
		}
	}
	if o.Keep < 1 {
		o.Keep = 1
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.TopN < 1 {
		o.TopN = 10
	}
	if o.TopCapacity < o.TopN {
		o.TopCapacity = max(256, o.TopN)
	}
	return nil
}

func (o *Options) ignored(p *decode.Packet) bool {
	for _, e := range o.IgnoreEndpoints {
		if e.Port() == p.DstPort && e.Addr() == p.DstIP || e.Port() == p.SrcPort && e.Addr() == p.SrcIP {
			return true
		}
	}
	if o.IgnorePorts == nil {
		return false
	}
	return o.IgnorePorts[p.SrcPort] || o.IgnorePorts[p.DstPort]
}
