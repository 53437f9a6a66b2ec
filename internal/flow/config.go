package flow

import (
	"fmt"
	"time"
)

// Config sizes the flow table and sets its timeouts. All timeouts are in
// packet time (the capture's timestamps), not wall-clock time, so a capture
// file read in a second behaves like the live traffic it recorded.
type Config struct {
	// MaxFlows is a hard cap on live flows (default 1<<20). When the table
	// is full, flows whose timeout has already passed are ended first; if
	// that frees nothing, the least recently seen flow is evicted (OnEnd
	// reason EndEvicted, counted in Stats.Evicted) to make room.
	//
	// Memory: about 410 bytes per live flow on 64-bit platforms (measured
	// by BenchmarkFlood: a 392-byte Flow struct plus 8–16 bytes of index
	// slot, the index being kept at most half full), i.e. ~390 MiB for
	// 1,000,000 flows, ~410 MiB at the default 1<<20, ~40 MiB at 100,000.
	// Flow structs are recycled, never returned to the Go heap: a table
	// keeps the memory of its high-water mark. Size MaxFlows from the
	// concurrent flows you expect (new flows per second × lifetime), not
	// from the packet rate, and per table: each capture worker has one.
	MaxFlows int

	// IdleTimeout ends UDP, ICMP and other non-TCP flows after this long
	// without a packet (default 60s).
	IdleTimeout time.Duration
	// TCPIdleTimeout ends established, mid-stream and half-closed TCP flows
	// after this long without a packet (default 300s).
	TCPIdleTimeout time.Duration
	// TCPClosedTimeout keeps a closed TCP flow (FIN both ways, or RST) this
	// long after its last packet (default 10s), so that late
	// retransmissions and the final ACKs still land on it instead of
	// starting a new mid-stream flow.
	TCPClosedTimeout time.Duration
	// TCPSynTimeout ends half-open TCP flows (SYN seen, handshake not
	// complete) after this long without a packet (default 75s, beyond
	// Linux's last SYN retry at 63s, so that retries stay one flow): SYN scans
	// and unanswered connection attempts must not hold memory for the
	// established timeout.
	TCPSynTimeout time.Duration
	// ActiveTimeout, when > 0, reports a long-lived flow every
	// ActiveTimeout (OnEnd reason EndActive) and restarts its counters,
	// like NetFlow's active timeout: the flow stays in the table. Default 0
	// (off).
	ActiveTimeout time.Duration
}

// maxMaxFlows bounds MaxFlows so that flow indices and the index table fit
// in 32 bits.
const maxMaxFlows = 1 << 30

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{
		MaxFlows:         1 << 20,
		IdleTimeout:      60 * time.Second,
		TCPIdleTimeout:   300 * time.Second,
		TCPClosedTimeout: 10 * time.Second,
		TCPSynTimeout:    75 * time.Second,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.MaxFlows < 1 || c.MaxFlows > maxMaxFlows {
		return fmt.Errorf("flow: MaxFlows %d out of range [1, %d]", c.MaxFlows, maxMaxFlows)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"IdleTimeout", c.IdleTimeout},
		{"TCPIdleTimeout", c.TCPIdleTimeout},
		{"TCPClosedTimeout", c.TCPClosedTimeout},
		{"TCPSynTimeout", c.TCPSynTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("flow: %s must be > 0, got %v", d.name, d.v)
		}
	}
	if c.ActiveTimeout < 0 {
		return fmt.Errorf("flow: ActiveTimeout must be >= 0 (0 = off), got %v", c.ActiveTimeout)
	}
	return nil
}

// withDefaults fills zero fields with the defaults, so that Config{} and a
// partially filled Config work.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxFlows == 0 {
		c.MaxFlows = d.MaxFlows
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.TCPIdleTimeout == 0 {
		c.TCPIdleTimeout = d.TCPIdleTimeout
	}
	if c.TCPClosedTimeout == 0 {
		c.TCPClosedTimeout = d.TCPClosedTimeout
	}
	if c.TCPSynTimeout == 0 {
		c.TCPSynTimeout = d.TCPSynTimeout
	}
	return c
}
