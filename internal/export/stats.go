package export

import "github.com/wirewatch/wirewatch/internal/export/spool"

// Stats is the exporter's counters since New, for the probe's /metrics.
type Stats struct {
	Batches    uint64 // batches written to the spool
	Records    uint64 // records in them
	Sent       uint64 // batches sent to the center, resends included
	Acked      uint64 // batches the center stored
	Duplicates uint64 // batches the center had stored before (resends after a lost ack)
	Sessions   uint64 // Report streams opened
	Failures   uint64 // streams that ended in an error (each followed by a backoff)
	Connected  bool   // a stream is open now
	// Loss is what was dropped, by the export_* keys it is reported under
	// to the center (Loss* constants).
	Loss  map[string]uint64
	Spool spool.Stats
}

// Stats returns a snapshot of the counters.
func (e *Exporter) Stats() Stats {
	return Stats{
		Batches:    e.batches.Load(),
		Records:    e.records.Load(),
		Sent:       e.sent.Load(),
		Acked:      e.acked.Load(),
		Duplicates: e.duplicates.Load(),
		Sessions:   e.sessions.Load(),
		Failures:   e.sessionErrors.Load(),
		Connected:  e.connected.Load(),
		Loss:       e.exportLoss(),
		Spool:      e.sp.Stats(),
	}
}
