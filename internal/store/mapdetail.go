package store

import (
	"net/netip"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

// MaxBreakdownAddrs bounds each address list of a TxBreakdownQuery.
const MaxBreakdownAddrs = 1000

// TxBreakdownQuery selects the transactions behind a node or an edge of
// the traffic map: those whose client address is one of Clients and whose
// server address is one of Servers (an empty list matches any address).
type TxBreakdownQuery struct {
	TimeRange
	Probes  []string
	Clients []netip.Addr // at most MaxBreakdownAddrs
	Servers []netip.Addr // at most MaxBreakdownAddrs
	Port    uint16       // server port; 0: any
	// Statuses is the most TxStatusCount rows returned (largest counts);
	// 0 means DefaultLimit, above MaxLimit is an error.
	Statuses int
	// Recent is how many of the newest matching transactions to return
	// (0 to MaxLimit).
	Recent int
}

// TxBreakdown aggregates the transactions a TxBreakdownQuery selects.
// Counts cover every matching transaction, not only the returned rows.
type TxBreakdown struct {
	// Protocols has one entry per protocol, by Count (largest first),
	// then Proto.
	Protocols []TxProtoStats
	// Statuses counts by (Proto, Status, Outcome), by Count (largest
	// first), then Proto, Status, Outcome; at most Statuses rows.
	Statuses []TxStatusCount
	// Recent are the newest transactions (by request time, else response
	// time), newest first, as Transactions returns them.
	Recent []record.Transaction
}

// TxProtoStats sums one protocol's transactions.
type TxProtoStats struct {
	Proto string
	Count uint64
	// Errors counts the transactions whose outcome is not ok or one_way
	// (as record.Edge.Errors does).
	Errors uint64
	// LatencyCount counts the transactions with a latency (both a request
	// and a response); the latency figures are over those.
	LatencyCount uint64
	LatencyMean  time.Duration
	LatencyP50   time.Duration
	LatencyP90   time.Duration
	LatencyP99   time.Duration
	LatencyMax   time.Duration
}

// TxStatusCount is how many transactions of a protocol ended with one
// status and outcome.
type TxStatusCount struct {
	Proto, Status, Outcome string
	Count                  uint64
}
