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
	// (info, last report time = now, loss counters, sequence). A batch
	// whose Seq is not above the probe's last stored Seq was stored
	// before: Write stores nothing and reports duplicate = true.
	Write(ctx context.Context, b *record.Batch, now time.Time) (duplicate bool, err error)
	// LastSeq is the highest Seq stored for a probe (0 if none).
	LastSeq(ctx context.Context, probe string) (uint64, error)

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
	// Edges returns the map's edges over [From, To): records with the same
	// (Client, Server, Transport, App, Port) summed across periods and
	// probes, Start/End spanning them; at most Limit edges by bytes.
	Edges(ctx context.Context, q EdgeQuery) ([]record.Edge, error)

	// Retain applies the retention policy (age and size) now and reports
	// what it removed. Backends also run it periodically by themselves.
	Retain(ctx context.Context, now time.Time) (RetainStats, error)
	Stats() Stats
	Close() error
}

// Limits of every query.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// ErrBadQuery is wrapped by errors about a query's parameters (the API
// answers 400 with the message).
var ErrBadQuery = errors.New("bad query")

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
