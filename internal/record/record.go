// Package record defines what a probe reports to the center and what the
// center keeps: summary windows, flow records, transactions, per-device
// traffic records, probe status and the traffic map's edges. These are
// plain values shared by the wire encoding (internal/wire), the center's
// ingest and graph stages and every store backend, so that none of them
// depends on another's types.
//
// Times are UTC time.Time values with nanosecond precision; a zero Time
// means "absent". Strings that came from captured traffic are kept as they
// were decoded (the l7 parsers already escaped nothing and cut values at
// l7.MaxField): whoever renders them escapes them.
package record

import (
	"net/netip"
	"time"
)

// Batch is the unit a probe sends and the center stores atomically: what
// one probe produced since its previous batch. Seq numbers a probe's
// batches (from its spool: monotonic, never reused), which makes a batch
// sent twice (a reconnect after a lost acknowledgement) detectable.
type Batch struct {
	Probe ProbeInfo
	Seq   uint64
	// SpoolID names the probe's spool: a probe whose spool was wiped (a
	// pod's emptyDir) numbers its batches from 1 again under a new
	// SpoolID, and the center must not take them for batches it stored.
	SpoolID      string
	Windows      []Window
	Flows        []Flow
	Transactions []Transaction
	Traffic      []Traffic
	// Edges are derived by the center from Flows and Transactions
	// (internal/center/graph) before the batch is stored; probes leave it
	// empty.
	Edges []Edge
	// Loss holds the probe's loss counters as cumulative totals since it
	// started, by name (capture, decode, flow, l7 and export causes; see
	// docs/summary-json.md). The newest batch's values are the probe's
	// current ones.
	Loss map[string]uint64
	// SentAt is the probe's clock when the batch was made.
	SentAt time.Time
}

// Records returns how many records the batch carries (windows, flows,
// transactions, traffic records and edges).
func (b *Batch) Records() int {
	return len(b.Windows) + len(b.Flows) + len(b.Transactions) + len(b.Traffic) + len(b.Edges)
}

// ProbeInfo identifies a probe and describes where it runs.
type ProbeInfo struct {
	ID       string // stable, from config (default: the hostname)
	Hostname string
	Version  string
	// Labels are the probe's inventory tags (env, archdomain, node, ...):
	// they apply to the probe's host and to the traffic it reports.
	Labels map[string]string
	// Devices are the capture devices (or the file name for a replay).
	Devices []string
	// Addresses are the host's own addresses, so the map can name them.
	Addresses []netip.Addr
	Started   time.Time
	// Period is the probe's summary window length: it reports at least
	// once per Period (a window closes). 0: not said (older probes).
	Period time.Duration
}

// StalePeriods is how many of its periods a probe may stay silent
// before the center calls it stale.
const StalePeriods = 3

// StaleAfter is how long the center waits for a probe's next report
// before calling it stale: StalePeriods of the probe's own Period, so
// that a fleet with different periods is judged probe by probe, or
// fallback when the probe did not say its period.
func (p *ProbeInfo) StaleAfter(fallback time.Duration) time.Duration {
	if p.Period <= 0 {
		return fallback
	}
	return StalePeriods * p.Period
}

// ProbeStatus is what the center knows of a probe.
type ProbeStatus struct {
	Info       ProbeInfo
	FirstSeen  time.Time
	LastReport time.Time // center clock when the latest batch arrived
	LastSeq    uint64
	Batches    uint64 // batches stored
	Records    uint64 // records stored
	Loss       map[string]uint64
}

// Window is one closed summary window of one probe.
type Window struct {
	Probe      string
	Start, End time.Time // [Start, End)
	// Summary is the window's summary.Bucket in its binary encoding
	// (summary.Bucket.MarshalBinary): sketches travel serialized so that
	// windows of many probes merge instead of being re-counted.
	Summary []byte
	// Packets and Bytes repeat the bucket's totals so that listings need
	// not decode the blob.
	Packets, Bytes uint64
}

// Direction of a flow's packets.
const (
	ClientToServer = 0
	ServerToClient = 1
)

// Flow is one flow's activity during one reporting period (a window): a
// long flow yields one record per window it was active in, the last one
// with Ended set. Summing the records of a flow over a time range gives
// its traffic in that range.
type Flow struct {
	Probe      string
	Start, End time.Time // first and last packet of the flow within the period
	Transport  string    // "tcp", "udp", "icmp", "icmpv6", "sctp", or the IANA number as text
	Client     netip.AddrPort
	Server     netip.AddrPort
	App        string // L7 protocol detected on the flow ("" if none)
	Device     string
	VLAN       uint16
	TunnelID   uint32
	// Indexed by ClientToServer / ServerToClient. Bytes are IP lengths.
	Packets         [2]uint64
	Bytes           [2]uint64
	Retransmissions [2]uint64
	// RTT is the TCP handshake round trip seen at the probe (0: not measured).
	RTT   time.Duration
	State string // TCP state name ("established", "closed", ...), "" for others
	Ended bool   // the flow ended in this period
}

// Transaction is one decoded request/response, as in docs/records.md.
type Transaction struct {
	Probe        string
	Proto        string // "http", "dns", ...
	Transport    string // "tcp" or "udp"
	Client       netip.AddrPort
	Server       netip.AddrPort
	RequestTime  time.Time // zero without a request
	ResponseTime time.Time // zero without a response
	// Latency is ResponseTime − RequestTime, or -1 when either is absent.
	Latency       time.Duration
	RequestBytes  int64
	ResponseBytes int64
	Op            string
	Target        string
	Status        string
	Outcome       string   // "ok", "client_error", "server_error", "no_response", "no_request", "one_way"
	Flags         []string // "sqli", "redacted", "truncated"
	Fields        []Field
}

// Time is when the transaction happened: the request's time, else the
// response's.
func (t *Transaction) Time() time.Time {
	if !t.RequestTime.IsZero() {
		return t.RequestTime
	}
	return t.ResponseTime
}

// Field is a protocol-specific value (docs/proto/*.md).
type Field struct {
	Key, Value string
}

// Traffic is one device's traffic in one direction over one period: the
// per-device traffic record (probe × device × direction).
type Traffic struct {
	Probe      string
	Device     string
	Direction  string // "in", "out", "other" (host CIDRs decide, as in the summary)
	Start, End time.Time
	Packets    uint64
	Bytes      uint64
}

// Edge is one conversation of the traffic map over one period: traffic
// from Client to Server for one application protocol and server port, with
// its request statistics. Nodes are addresses here; the center names and
// groups them (workload, host, external network) when it draws the map.
type Edge struct {
	Probe      string
	Start, End time.Time
	Client     netip.Addr
	Server     netip.Addr
	Transport  string
	App        string // L7 protocol, "" when none was detected
	Port       uint16 // server port
	Flows      uint64
	Packets    uint64 // both directions
	Bytes      uint64 // both directions, IP lengths
	Requests   uint64 // transactions
	Errors     uint64 // transactions whose outcome is not ok / one_way
	// LatencySum and LatencyCount give the mean; LatencyMax the worst.
	LatencySum   time.Duration
	LatencyCount uint64
	LatencyMax   time.Duration
}
