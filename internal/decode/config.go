package decode

import (
	"fmt"
	"time"
)

// Config tunes a Decoder. The zero value of a field means "use the default"
// (see DefaultConfig), except for the port lists: a nil list means the
// default ports, an empty non-nil list turns that tunnel off.
type Config struct {
	// DefragMaxBytes caps the memory of the reassembly buffers (fragments
	// held plus the pooled buffers kept for reuse). Reaching it evicts the
	// oldest datagram under reassembly.
	DefragMaxBytes int
	// DefragMaxDatagrams caps the number of datagrams under reassembly.
	DefragMaxDatagrams int
	// DefragTimeout is how long, in packet time, a datagram may wait for its
	// missing fragments.
	DefragTimeout time.Duration
	// VXLANPorts are the UDP destination ports decoded as VXLAN (RFC 7348).
	VXLANPorts []uint16
	// VXLANGPEPorts are the UDP destination ports decoded as VXLAN-GPE
	// (next-protocol field, possibly NSH).
	VXLANGPEPorts []uint16
	// GenevePorts are the UDP destination ports decoded as Geneve (RFC 8926).
	GenevePorts []uint16
	// MaxTunnelDepth bounds nested encapsulations; a deeper packet is
	// malformed ("tunnel_depth"), which keeps hostile nesting from costing
	// unbounded work.
	MaxTunnelDepth int
}

// Defaults.
const (
	DefaultDefragMaxBytes     = 8 << 20
	DefaultDefragMaxDatagrams = 4096
	DefaultDefragTimeout      = 30 * time.Second
	DefaultMaxTunnelDepth     = 4

	// MinDefragMaxBytes is the smallest memory cap that can reassemble a
	// datagram of the maximal IP size in any fragment order: its buffer
	// grows from 32 to 64 KiB (plus coverage bitmaps) by copying.
	MinDefragMaxBytes  = (maxBufSize + maxBufSize/64) * 3 / 2
	maxDefragDatagrams = 1 << 20
	maxTunnelDepthCap  = 16
)

// DefaultConfig returns the configuration New uses for zero fields.
func DefaultConfig() Config {
	return Config{
		DefragMaxBytes:     DefaultDefragMaxBytes,
		DefragMaxDatagrams: DefaultDefragMaxDatagrams,
		DefragTimeout:      DefaultDefragTimeout,
		VXLANPorts:         []uint16{4789, 8472},
		VXLANGPEPorts:      []uint16{4790},
		GenevePorts:        []uint16{6081},
		MaxTunnelDepth:     DefaultMaxTunnelDepth,
	}
}

// Validate reports the first field that New could not honour.
func (c Config) Validate() error {
	if c.DefragMaxBytes < 0 || (c.DefragMaxBytes > 0 && c.DefragMaxBytes < MinDefragMaxBytes) {
		return fmt.Errorf("decode: DefragMaxBytes = %d: must be 0 (default) or at least %d, enough for one maximal datagram", c.DefragMaxBytes, MinDefragMaxBytes)
	}
	if c.DefragMaxDatagrams < 0 || c.DefragMaxDatagrams > maxDefragDatagrams {
		return fmt.Errorf("decode: DefragMaxDatagrams = %d: must be between 0 (default) and %d", c.DefragMaxDatagrams, maxDefragDatagrams)
	}
	if c.DefragTimeout < 0 {
		return fmt.Errorf("decode: DefragTimeout = %v: must not be negative", c.DefragTimeout)
	}
	if c.MaxTunnelDepth < 0 || c.MaxTunnelDepth > maxTunnelDepthCap {
		return fmt.Errorf("decode: MaxTunnelDepth = %d: must be between 0 (default) and %d", c.MaxTunnelDepth, maxTunnelDepthCap)
	}
	seen := map[uint16]string{}
	for _, l := range []struct {
		name  string
		ports []uint16
	}{{"VXLANPorts", c.VXLANPorts}, {"VXLANGPEPorts", c.VXLANGPEPorts}, {"GenevePorts", c.GenevePorts}} {
		for i, port := range l.ports {
			if port == 0 {
				return fmt.Errorf("decode: %s[%d] = 0: not a usable UDP port", l.name, i)
			}
			if prev, dup := seen[port]; dup && prev != l.name {
				return fmt.Errorf("decode: %s[%d] = %d: already listed in %s", l.name, i, port, prev)
			}
			seen[port] = l.name
		}
	}
	return nil
}

// withDefaults fills zero and out-of-range fields, so that New never fails.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.DefragMaxBytes <= 0 {
		c.DefragMaxBytes = def.DefragMaxBytes
	}
	if c.DefragMaxDatagrams <= 0 {
		c.DefragMaxDatagrams = def.DefragMaxDatagrams
	}
	if c.DefragMaxDatagrams > maxDefragDatagrams {
		c.DefragMaxDatagrams = maxDefragDatagrams
	}
	if c.DefragTimeout <= 0 {
		c.DefragTimeout = def.DefragTimeout
	}
	if c.VXLANPorts == nil {
		c.VXLANPorts = def.VXLANPorts
	}
	if c.VXLANGPEPorts == nil {
		c.VXLANGPEPorts = def.VXLANGPEPorts
	}
	if c.GenevePorts == nil {
		c.GenevePorts = def.GenevePorts
	}
	if c.MaxTunnelDepth <= 0 {
		c.MaxTunnelDepth = def.MaxTunnelDepth
	}
	if c.MaxTunnelDepth > maxTunnelDepthCap {
		c.MaxTunnelDepth = maxTunnelDepthCap
	}
	return c
}
