// Package store is the center's storage contract: what every backend
// (the embedded DuckDB default in store/duckdb, and the fleet backends)
// accepts and answers. The center is stateless; everything it must
// remember across restarts and share between replicas lives behind this
// interface: records, probe status and the per-probe sequence numbers
// that make a batch sent twice harmless.
package store

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

// Store is implemented by every backend. Methods are safe for concurrent
// use. Queries are bounded: a Limit above MaxLimit is an error, a zero
// Limit means DefaultLimit.
type Store interface {
	// Write stores a batch atomically and records the probe's status
	// (info, last report time = now, loss counters, sequence).
	//
	// The dedup key is (probe ID, spool ID): a batch is a duplicate iff a
	// batch of the same probe and the same SpoolID with a Seq ≥ this one
	// was stored before; Write then stores nothing (no records, no status
	// change) and reports duplicate = true. A new SpoolID starts a new
	// sequence: a probe whose spool was wiped numbers its batches from 1
	// again and they are stored. Each spool keeps its own last Seq, so a
	// late batch of an older spool of the same probe is still deduped
	// against that spool's last Seq, not the newest spool's. An empty
	// SpoolID (a probe older than spool IDs) is a spool like any other.
	//
	// Loss: keys with the prefix CenterLossPrefix are counted by the
	// center for this batch alone (records it dropped as invalid): Write
	// adds them to the probe's stored totals. Every other key is the
	// probe's own cumulative counter and replaces the stored value. A
	// batch without Loss leaves the stored counters as they are.
	Write(ctx context.Context, b *record.Batch, now time.Time) (duplicate bool, err error)
	// LastSeq is the highest Seq stored for a probe's spool (0 if none).
	LastSeq(ctx context.Context, probe, spoolID string) (uint64, error)

	Probes(ctx context.Context) ([]record.ProbeStatus, error)
	// Windows returns the windows that overlap [From, To), of the given
	// probes (all when empty), oldest first. The caller merges them.
	Windows(ctx context.Context, q WindowQuery) ([]record.Window, error)
	// Flows returns flow records matching the filter, newest first, a page
	// at a time.
	Flows(ctx context.Context, q FlowQuery) (*FlowPage, error)
	// FlowGroups aggregates flow records by the given columns and returns
	// the top groups by the order column ("top 10 talkers").
	FlowGroups(ctx context.Context, q GroupQuery) ([]Group, error)
	// Transactions searches transactions, newest first, a page at a time.
	Transactions(ctx context.Context, q TxQuery) (*TxPage, error)
	// Traffic returns per-device traffic records, summed per probe,
	// device and direction over [From, To).
	Traffic(ctx context.Context, q TrafficQuery) ([]record.Traffic, error)
	// Edges returns the map's edges over [From, To), at most Limit by
	// bytes. Records with the same (Client, Server, Transport, App, Port)
	// are summed per probe across periods, then the maximum is taken
	// across probes (Packets, Bytes and Flows each their own maximum;
	// Start/End span every record). Why the maximum: two probes that see
	// one conversation (one on the client, one on the server) each report
	// all of it, and a sum would double it; the probe that missed fewer
	// packets has the larger count, which is the better estimate.
	// Different conversations seen by different probes are distinct
	// edges unless they share all five key columns, in which case the
	// maximum undercounts them: the map prefers that to double counting.
	Edges(ctx context.Context, q EdgeQuery) ([]record.Edge, error)
	// TxBreakdown aggregates the transactions between two address sets
	// over [From, To) (the details of a map node or edge): counts and
	// latency quantiles per protocol, counts per status, and the newest
	// transactions. See mapdetail.go.
	TxBreakdown(ctx context.Context, q TxBreakdownQuery) (*TxBreakdown, error)
	// Extent is the time span of the stored summary windows: From is the
	// earliest window start, To the latest window end; the zero
	// TimeRange when none is stored. The UI's time scrubber spans it.
	Extent(ctx context.Context) (TimeRange, error)

	// Retain applies the retention policy (age and size) now and reports
	// what it removed. Backends also run it periodically by themselves.
	Retain(ctx context.Context, now time.Time) (RetainStats, error)
	Stats() Stats
	Close() error
}

// CenterLossPrefix starts the Loss keys the center counts per batch
// (center_invalid_records_<reason>, see internal/wire): Write adds them up
// across batches instead of replacing them, so that they survive center
// restarts and add up across center replicas.
const CenterLossPrefix = "center_"

// Limits of every query.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// ErrBadQuery is wrapped by errors about a query's parameters (the API
// answers 400 with the message).
var ErrBadQuery = errors.New("bad query")

// ErrBadBatch is wrapped by Write's errors about a batch that can never be
// stored (no probe ID, times out of range): the center refuses it, so that
// the probe drops and counts it instead of resending it forever.
var ErrBadBatch = errors.New("bad batch")

// TimeRange is [From, To). A zero From means the beginning, a zero To means
// now.
type TimeRange struct {
	From, To time.Time
}

// WindowQuery selects summary windows.
type WindowQuery struct {
	TimeRange
	Probes []string // empty: every probe
	Limit  int      // at most this many windows (oldest first); see Limit rules
}

// FlowFilter selects flow records. Zero fields do not filter.
type FlowFilter struct {
	TimeRange
	Probes    []string
	Transport string
	App       string
	// Host matches the client or the server address (a single address is
	// a /32 or /128 prefix); Client and Server match one side.
	Host, Client, Server netip.Prefix
	Port                 uint16 // server port
	Device               string
}

// FlowQuery pages through flow records.
type FlowQuery struct {
	FlowFilter
	Limit  int
	Cursor string // from the previous page's Next; "" for the first page
}

// FlowPage is one page of flow records.
type FlowPage struct {
	Flows []record.Flow
	Next  string // cursor of the next page, "" when this is the last
}

// Columns FlowGroups can group by.
const (
	ColProbe     = "probe"
	ColClient    = "client" // client address
	ColServer    = "server" // server address
	ColHost      = "host"   // either address: a flow counts for both of its hosts ("talkers")
	ColPort      = "port"   // server port
	ColApp       = "app"    // L7 protocol
	ColTransport = "transport"
	ColDevice    = "device"
)

// Orders FlowGroups can sort by (descending).
const (
	OrderBytes   = "bytes"
	OrderPackets = "packets"
	OrderFlows   = "flows"
)

// GroupQuery aggregates flow records.
type GroupQuery struct {
	FlowFilter
	GroupBy []string // one or more Col* names, no duplicates
	OrderBy string   // Order*; "" means bytes
	Limit   int
}

// Group is one aggregated row: Key holds one value per GroupBy column,
// as text (addresses in netip form, ports in decimal).
type Group struct {
	Key     []string
	Flows   uint64 // flow records summed (a long flow counts once per period)
	Packets uint64
	Bytes   uint64
}

// TxQuery searches transactions. Zero fields do not filter.
type TxQuery struct {
	TimeRange
	Probes  []string
	Proto   string
	Outcome string
	Op      string
	Status  string
	// Target matches a substring of the target (case-sensitive).
	Target     string
	Client     netip.Prefix
	Server     netip.Prefix
	Port       uint16 // server port
	MinLatency time.Duration
	Flag       string            // one of the record flags
	Fields     map[string]string // field key → exact value
	Limit      int
	Cursor     string
}

// TxPage is one page of transactions.
type TxPage struct {
	Transactions []record.Transaction
	Next         string
}

// TrafficQuery selects per-device traffic.
type TrafficQuery struct {
	TimeRange
	Probes []string
}

// EdgeQuery selects map edges.
type EdgeQuery struct {
	TimeRange
	Probes []string
	Apps   []string // keep only these protocols (empty: all)
	Limit  int
}

// RetainStats tells what one retention pass removed.
type RetainStats struct {
	RemovedRows map[string]uint64 // by table
	OldestKept  time.Time
	BytesOnDisk int64
}

// Stats are a backend's counters since it opened, for /metrics.
type Stats struct {
	Batches      uint64
	Duplicates   uint64
	Rows         map[string]uint64 // written, by table
	WriteErrors  uint64
	RetainedRows map[string]uint64 // removed by retention, by table
	BytesOnDisk  int64
}
