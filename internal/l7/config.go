package l7

import (
	"fmt"
	"time"

	"github.com/wirewatch/wirewatch/internal/reassembly"
)

// Config configures a Tracker.
type Config struct {
	// Enabled lists the protocols to detect and decode by name; empty
	// means all registered protocols.
	Enabled []string
	// DetectBytes bounds how many bytes per direction of a TCP flow are
	// looked at before the flow is declared unknown (default 4096).
	DetectBytes int
	// MaxMessage, MaxPending, Timeout: see Context (defaults 64 KiB, 64,
	// 10s).
	MaxMessage int
	MaxPending int
	Timeout    time.Duration
	// MaxParserMemory bounds what all parsers of a Tracker hold in their
	// message buffers together (default 64 MiB). A parser that would go
	// beyond it drops the message (DropTooLarge) and resynchronises.
	MaxParserMemory int64
	// KeepCredentials turns redaction off (see Context).
	KeepCredentials bool
	// Reassembly bounds the TCP reassembly buffers and streams.
	Reassembly reassembly.Config
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		DetectBytes:     4096,
		MaxMessage:      64 << 10,
		MaxPending:      64,
		Timeout:         10 * time.Second,
		MaxParserMemory: 64 << 20,
		Reassembly:      reassembly.DefaultConfig(),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.DetectBytes == 0 {
		c.DetectBytes = d.DetectBytes
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = d.MaxMessage
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxParserMemory == 0 {
		c.MaxParserMemory = d.MaxParserMemory
	}
	return c
}

// Validate reports the first invalid field (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.DetectBytes < 16 || c.DetectBytes > 1<<20:
		return fmt.Errorf("l7: detect_bytes %d out of range [16, 1048576]", c.DetectBytes)
	case c.MaxMessage < 512 || c.MaxMessage > 16<<20:
		return fmt.Errorf("l7: max_message %d out of range [512, 16777216]", c.MaxMessage)
	case c.MaxPending < 1 || c.MaxPending > 1<<16:
		return fmt.Errorf("l7: max_pending %d out of range [1, 65536]", c.MaxPending)
	case c.MaxParserMemory < 64<<10 || c.MaxParserMemory > 1<<40:
		return fmt.Errorf("l7: max_parser_memory %d out of range [65536, 2^40]", c.MaxParserMemory)
	case c.Timeout < 0:
		return fmt.Errorf("l7: timeout %v must be positive", c.Timeout)
	}
	r := c.Reassembly
	d := reassembly.DefaultConfig()
	if r.MaxBufferedPerDir == 0 {
		r.MaxBufferedPerDir = d.MaxBufferedPerDir
	}
	if r.MaxBufferedTotal == 0 {
		r.MaxBufferedTotal = d.MaxBufferedTotal
	}
	if r.MaxStreams == 0 {
		r.MaxStreams = d.MaxStreams
	}
	if r.IdleTimeout == 0 {
		r.IdleTimeout = d.IdleTimeout
	}
	return r.Validate()
}

// Context returns the parser context these settings give, without a Sink.
func (c Config) Context(tr Transport) Context {
	c = c.withDefaults()
	return Context{
		Transport:       tr,
		KeepCredentials: c.KeepCredentials,
		MaxMessage:      c.MaxMessage,
		MaxPending:      c.MaxPending,
		Timeout:         int64(c.Timeout),
	}
}
