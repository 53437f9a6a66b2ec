// Package l7test helps protocol packages test their parsers: a Sink that
// keeps copies of what it receives, and (ReadFile) the probe's own
// pipeline — capture, decode, flow table, reassembly, detection — run over
// a capture file with a chosen set of protocols.
package l7test

import (
	"github.com/wirewatch/wirewatch/internal/l7"
)

// Sink keeps a copy of every transaction and sums drops by reason.
type Sink struct {
	Txs     []*l7.Transaction
	Drops   [l7.NumDropReasons]int
	Stopped bool
}

// Transaction implements l7.Sink.
func (s *Sink) Transaction(t *l7.Transaction) { s.Txs = append(s.Txs, t.Clone()) }

// Drop implements l7.Sink.
func (s *Sink) Drop(r l7.DropReason, n int) {
	if r < l7.NumDropReasons {
		s.Drops[r] += n
	}
}

// Stop implements l7.Sink: it records that the parser stopped.
func (s *Sink) Stop() { s.Stopped = true }

// Context returns a parser context with the Tracker's defaults and this
// sink.
func (s *Sink) Context(tr l7.Transport) l7.Context {
	c := l7.DefaultConfig().Context(tr)
	c.Sink = s
	return c
}
