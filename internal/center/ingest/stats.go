package ingest

import (
	"fmt"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Refusal reasons, the keys of ProbeStats.Refused.
const (
	reasonAuth = iota
	reasonRate
	reasonSize
	reasonDecode
	reasonStore
	nReasons
)

var reasonNames = [nReasons]string{"auth", "rate", "size", "decode", "store"}

// Stats is the server's counters, for /metrics.
type Stats struct {
	Streams int // open Report streams
	// Probes holds one entry per probe seen; the entry "" counts refusals
	// before a probe was identified (missing ID, unknown probe, failed
	// TLS handshake).
	Probes map[string]ProbeStats
}

// ProbeStats counts one probe's traffic since the server started.
type ProbeStats struct {
	Streams    int    // open streams
	Batches    uint64 // batches stored
	Duplicates uint64 // batches found stored before (acknowledged, not stored again)
	Records    uint64 // records in the stored batches
	Bytes      uint64 // protobuf bytes received (uncompressed), refused batches included
	Errors     uint64 // Handler failures (the probe resends)
	// Refused counts by reason: "auth" (streams refused), "rate" (streams
	// ended over the rate limit), "size" (messages over MaxMessageBytes),
	// "decode" (batches whose envelope failed validation), "store"
	// (batches the Handler refused).
	Refused map[string]uint64
	// Invalid counts the records left out of stored batches because they
	// failed validation, by reason (wire.Reason*).
	Invalid map[string]uint64
}

type probeState struct {
	write      sync.Mutex // one Handler call at a time per probe
	bucket     bucket
	streams    atomic.Int64
	batches    atomic.Uint64
	duplicates atomic.Uint64
	records    atomic.Uint64
	bytes      atomic.Uint64
	errors     atomic.Uint64
	refused    [nReasons]atomic.Uint64

	imu     sync.Mutex
	invalid map[string]uint64 // by wire.Reason*
}

func (ps *probeState) addInvalid(byReason map[string]uint64) {
	ps.imu.Lock()
	defer ps.imu.Unlock()
	if ps.invalid == nil {
		ps.invalid = make(map[string]uint64, len(byReason))
	}
	for r, n := range byReason {
		ps.invalid[r] += n
	}
}

func newProbeState(cfg Config) *probeState {
	ps := &probeState{}
	ps.bucket.init(cfg.RecordsPerSecond, cfg.Burst)
	return ps
}

// probe returns the state of an authenticated probe, creating it.
func (s *Server) probe(id string) (*probeState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.probes[id]
	if ps == nil {
		if len(s.probes) >= maxProbes {
			return nil, status.Errorf(codes.ResourceExhausted, "center tracks %d probes, its limit", maxProbes)
		}
		ps = newProbeState(s.cfg)
		s.probes[id] = ps
	}
	return ps, nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{Streams: len(s.streams), Probes: make(map[string]ProbeStats)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ps := range s.probes {
		st.Probes[id] = ps.snapshot()
	}
	if u := s.unknown.snapshot(); len(u.Refused) > 0 {
		st.Probes[""] = u
	}
	return st
}

func (ps *probeState) snapshot() ProbeStats {
	out := ProbeStats{
		Streams:    int(ps.streams.Load()),
		Batches:    ps.batches.Load(),
		Duplicates: ps.duplicates.Load(),
		Records:    ps.records.Load(),
		Bytes:      ps.bytes.Load(),
		Errors:     ps.errors.Load(),
		Refused:    make(map[string]uint64),
	}
	for i := range ps.refused {
		if v := ps.refused[i].Load(); v > 0 {
			out.Refused[reasonNames[i]] = v
		}
	}
	ps.imu.Lock()
	out.Invalid = maps.Clone(ps.invalid)
	ps.imu.Unlock()
	if out.Invalid == nil {
		out.Invalid = map[string]uint64{}
	}
	return out
}

// bucket is a token bucket counted in records.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second; <= 0: no limit
	burst  float64
	tokens float64
	last   time.Time
}

func (b *bucket) init(rate float64, burst int) {
	b.rate, b.burst, b.tokens = rate, float64(burst), float64(burst)
}

// take takes n tokens at now, or returns how long to wait before trying
// again. A take larger than the burst passes when the bucket is full and
// leaves it negative, so that big batches are slowed, not starved.
func (b *bucket) take(n int, now time.Time) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		if el := now.Sub(b.last).Seconds(); el > 0 {
			b.tokens = math.Min(b.burst, b.tokens+el*b.rate)
		}
	}
	b.last = now
	need := math.Min(float64(n), b.burst)
	if b.tokens < need {
		wait := time.Duration((need - b.tokens) / b.rate * float64(time.Second))
		return max(wait, time.Millisecond)
	}
	b.tokens -= float64(n)
	return 0
}

func rateError(id string, rate float64, wait time.Duration) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("probe %q is over %g records/s; retry in %v", id, rate, wait))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return st.Err()
}
