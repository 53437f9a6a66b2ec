// Package config loads wirewatch's YAML configuration. Decoding is strict:
// an unknown or mistyped key is an error that names the key and its line,
// because a silently ignored setting is worse than a refusal to start.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Capture configures where frames come from.
type Capture struct {
	Devices     []string `yaml:"devices"`      // device names, or "any"
	BPF         string   `yaml:"bpf"`          // tcpdump filter expression
	Workers     int      `yaml:"workers"`      // fanout sockets per device (live) / analysis workers (files)
	SnapLen     int      `yaml:"snaplen"`      // bytes captured per frame
	BlockSize   int      `yaml:"block_size"`   // TPACKET_V3 block size, bytes
	NumBlocks   int      `yaml:"num_blocks"`   // TPACKET_V3 blocks per ring
	Promiscuous bool     `yaml:"promiscuous"`  // put devices in promiscuous mode
	IgnorePorts []uint16 `yaml:"ignore_ports"` // never count traffic to/from these local TCP ports (e.g. the probe's own API)
}

// Summary configures the time windows.
type Summary struct {
	Period      time.Duration `yaml:"period"`       // window length
	Keep        int           `yaml:"keep"`         // closed windows kept in memory
	HostCIDRs   []string      `yaml:"host_cidrs"`   // addresses that count as "the host" for in/out
	TopN        int           `yaml:"top_n"`        // entries in each top list
	TopCapacity int           `yaml:"top_capacity"` // counters per top-N sketch
}

// Flows configures the flow table.
type Flows struct {
	Max              int           `yaml:"max"`
	IdleTimeout      time.Duration `yaml:"idle_timeout"`
	TCPIdleTimeout   time.Duration `yaml:"tcp_idle_timeout"`
	TCPClosedTimeout time.Duration `yaml:"tcp_closed_timeout"`
	TCPSynTimeout    time.Duration `yaml:"tcp_syn_timeout"`
	ActiveTimeout    time.Duration `yaml:"active_timeout"`
}

// L7 configures stream reassembly, protocol detection and the parsers.
// Zero values mean "the package default".
type L7 struct {
	// Enabled: false turns the application layer off (flows and
	// summaries only). Default true.
	Enabled *bool `yaml:"enabled"`
	// Protocols lists the protocols to detect and decode; empty = all.
	Protocols       []string      `yaml:"protocols"`
	KeepCredentials bool          `yaml:"keep_credentials"`
	DetectBytes     int           `yaml:"detect_bytes"`
	MaxMessage      int           `yaml:"max_message"`
	MaxPending      int           `yaml:"max_pending"`
	Timeout         time.Duration `yaml:"timeout"`
	Reassembly      Reassembly    `yaml:"reassembly"`
}

// Reassembly bounds TCP stream reassembly (per probe worker).
type Reassembly struct {
	MaxBufferedPerDir int           `yaml:"max_buffered_per_dir"`
	MaxBufferedTotal  int64         `yaml:"max_buffered_total"`
	MaxStreams        int           `yaml:"max_streams"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
}

// On reports whether the application layer is enabled.
func (l L7) On() bool { return l.Enabled == nil || *l.Enabled }

// Decode configures the packet decoder.
type Decode struct {
	DefragMaxBytes     int           `yaml:"defrag_max_bytes"`
	DefragMaxDatagrams int           `yaml:"defrag_max_datagrams"`
	DefragTimeout      time.Duration `yaml:"defrag_timeout"`
	VXLANPorts         []uint16      `yaml:"vxlan_ports"`
	GenevePorts        []uint16      `yaml:"geneve_ports"`
}

// API configures the probe's HTTP server.
type API struct {
	Listen string `yaml:"listen"` // host:port; empty disables the server
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Probe is the whole probe configuration (config/probe.yaml).
type Probe struct {
	Capture Capture `yaml:"capture"`
	Summary Summary `yaml:"summary"`
	Flows   Flows   `yaml:"flows"`
	Decode  Decode  `yaml:"decode"`
	L7      L7      `yaml:"l7"`
	API     API     `yaml:"api"`
	Log     Log     `yaml:"log"`
	// Center: where the probe reports (empty address: standalone).
	Center Report `yaml:"center"`
}

// DefaultProbe returns the configuration used when a key is not given.
// Zero values in Flows and Decode mean "the package default".
func DefaultProbe() Probe {
	return Probe{
		Capture: Capture{Workers: 1, SnapLen: 262144, BlockSize: 1 << 20, NumBlocks: 64},
		Summary: Summary{Period: 60 * time.Second, Keep: 5, TopN: 10, TopCapacity: 256},
		API:     API{Listen: "127.0.0.1:10860"},
		Log:     Log{Level: "info", Format: "text"},
	}
}

// Load reads a probe configuration file over the defaults.
func Load(path string) (Probe, error) {
	cfg := DefaultProbe()
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := Unmarshal(f, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Unmarshal strictly decodes YAML from r into dst.
func Unmarshal(r io.Reader, dst any) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file keeps the defaults
		}
		return cleanYAMLError(err)
	}
	return nil
}

// cleanYAMLError rewrites yaml.v3's "field x not found in type config.Probe"
// into words a user can act on, keeping the line number.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if i := strings.Index(m, "field "); i >= 0 && strings.Contains(m, " not found in type ") {
			key := m[i+len("field "):]
			key = key[:strings.Index(key, " not found")]
			m = m[:i] + "unknown key " + fmt.Sprintf("%q", key)
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// HostPrefixes parses Summary.HostCIDRs.
func (s Summary) HostPrefixes() ([]netip.Prefix, error) {
	return ParsePrefixes(s.HostCIDRs)
}

// ParsePrefixes parses CIDRs; a bare address is taken as a host prefix.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if !strings.Contains(s, "/") {
				a, err := netip.ParseAddr(s)
				if err != nil {
					return nil, fmt.Errorf("host cidr %q: %w", s, err)
				}
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("host cidr %q: %w", s, err)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// Validate checks values that decode fine but make no sense.
func (p Probe) Validate() error {
	var errs []error
	if p.Capture.Workers < 1 || p.Capture.Workers > 256 {
		errs = append(errs, fmt.Errorf("capture.workers: %d is not between 1 and 256", p.Capture.Workers))
	}
	if p.Capture.SnapLen < 64 || p.Capture.SnapLen > 262144 {
		errs = append(errs, fmt.Errorf("capture.snaplen: %d is not between 64 and 262144", p.Capture.SnapLen))
	}
	if p.Summary.Period < time.Second {
		errs = append(errs, fmt.Errorf("summary.period: %v is shorter than 1s", p.Summary.Period))
	}
	if p.Summary.Keep < 1 || p.Summary.Keep > 1440 {
		errs = append(errs, fmt.Errorf("summary.keep: %d is not between 1 and 1440", p.Summary.Keep))
	}
	if p.Summary.TopN < 1 || p.Summary.TopN > 1000 {
		errs = append(errs, fmt.Errorf("summary.top_n: %d is not between 1 and 1000", p.Summary.TopN))
	}
	if p.Summary.TopCapacity < p.Summary.TopN || p.Summary.TopCapacity > 65536 {
		errs = append(errs, fmt.Errorf("summary.top_capacity: %d must be at least top_n and at most 65536", p.Summary.TopCapacity))
	}
	if _, err := p.Summary.HostPrefixes(); err != nil {
		errs = append(errs, fmt.Errorf("summary.host_cidrs: %w", err))
	}
	errs = append(errs, p.Log.validate()...)
	errs = append(errs, p.Center.validate()...)
	return errors.Join(errs...)
}
