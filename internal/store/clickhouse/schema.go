package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// schemaVersion is the version this code writes; Open refuses a
// database with a newer one.
const schemaVersion = 1

// dayNS is the partition width: every table is partitioned by the day
// (since 1970, rounded towards zero) of its retention time, so that
// retention drops whole partitions.
const dayNS = 24 * int64(time.Hour)

// partitionBy is the partition expression of a time column.
func partitionBy(col string) string {
	return "PARTITION BY intDiv(" + col + ", toInt64(" + i64(dayNS) + "))"
}

// dataTables are the tables of records, each with the column retention
// goes by (a row is dropped when that time is before the cutoff).
var dataTables = []struct{ name, end, start string }{
	{"windows", "end_ns", "start_ns"},
	{"flows", "end_ns", "start_ns"},
	{"transactions", "ts", "ts"},
	{"traffic", "end_ns", "start_ns"},
	{"edges", "end_ns", "start_ns"},
}

// Every record row carries wid, the random id of the write that stored
// it, and idx, its index in that write: the write's commit row in batches
// names its wid, and queries count only rows of committed writes (see the
// package comment). (start, wid, idx) orders the rows for paging.
const rowID = `, wid UInt64, idx UInt32`

var migrations = [][]string{
	1: {
		`CREATE TABLE IF NOT EXISTS batches (
			probe String, spool_id String, seq UInt64,
			wid UInt64, written_ns Int64, ord Int64, records UInt64,
			min_ns Int64, max_ns Int64, span_ns Int64,
			info String, own_loss String, has_own_loss UInt8,
			center_loss_keys Array(String), center_loss_values Array(UInt64)
		) ENGINE = MergeTree ` + partitionBy("max_ns") + ` ORDER BY (probe, spool_id, seq)`,

		`CREATE TABLE IF NOT EXISTS probe_status (
			probe String,
			first_seen AggregateFunction(min, Int64),
			last_report AggregateFunction(max, Int64),
			info AggregateFunction(argMax, String, Int64),
			last_seq AggregateFunction(argMax, UInt64, Int64),
			batches AggregateFunction(sum, UInt64),
			records AggregateFunction(sum, UInt64),
			own_loss AggregateFunction(argMaxIf, String, Int64, UInt8)
		) ENGINE = AggregatingMergeTree ORDER BY probe`,

		// The probes' status follows from their committed batches, in the
		// same insert: it survives the retention of batches. The probe's
		// own loss counters are cumulative: the latest batch that has
		// any gives them all.
		`CREATE MATERIALIZED VIEW IF NOT EXISTS probe_status_mv TO probe_status AS
		SELECT probe,
			minState(written_ns) AS first_seen,
			maxState(written_ns) AS last_report,
			argMaxState(info, ord) AS info,
			argMaxState(seq, ord) AS last_seq,
			sumState(toUInt64(1)) AS batches,
			sumState(records) AS records,
			argMaxIfState(own_loss, ord, has_own_loss) AS own_loss
		FROM batches GROUP BY probe`,

		// The loss counters the center counts per batch
		// (store.CenterLossPrefix) add up across batches and replicas.
		`CREATE TABLE IF NOT EXISTS center_loss (probe String, key String, n UInt64)
			ENGINE = SummingMergeTree ORDER BY (probe, key)`,
		`CREATE MATERIALIZED VIEW IF NOT EXISTS center_loss_mv TO center_loss AS
		SELECT probe, k AS key, v AS n FROM batches ARRAY JOIN center_loss_keys AS k, center_loss_values AS v`,

		`CREATE TABLE IF NOT EXISTS windows (
			probe String, start_ns Int64, end_ns Int64, packets UInt64, bytes UInt64, summary String` + rowID + `
		) ENGINE = MergeTree ` + partitionBy("end_ns") + ` ORDER BY (start_ns, wid, idx)`,

		`CREATE TABLE IF NOT EXISTS flows (
			probe String, start_ns Int64, end_ns Int64, transport String,
			c_fam UInt8, c_addr FixedString(16), c_port UInt16,
			s_fam UInt8, s_addr FixedString(16), s_port UInt16,
			app String, device String, vlan UInt16, tunnel UInt32,
			packets_cs UInt64, packets_sc UInt64, bytes_cs UInt64, bytes_sc UInt64,
			retrans_cs UInt64, retrans_sc UInt64, rtt_ns Int64, state String, ended UInt8` + rowID + `
		) ENGINE = MergeTree ` + partitionBy("end_ns") + ` ORDER BY (start_ns, wid, idx)`,

		// nil_lists: bit 0 = Flags is nil, bit 1 = Fields is nil (an
		// Array cannot be NULL; the difference from empty survives).
		`CREATE TABLE IF NOT EXISTS transactions (
			probe String, ts Int64, proto String, transport String,
			c_fam UInt8, c_addr FixedString(16), c_port UInt16,
			s_fam UInt8, s_addr FixedString(16), s_port UInt16,
			request_ns Int64, response_ns Int64, latency_ns Int64,
			request_bytes Int64, response_bytes Int64,
			op String, target String, status String, outcome String,
			flags Array(String), field_keys Array(String), field_values Array(String), nil_lists UInt8` + rowID + `
		) ENGINE = MergeTree ` + partitionBy("ts") + ` ORDER BY (ts, wid, idx)`,

		`CREATE TABLE IF NOT EXISTS traffic (
			probe String, device String, direction String, start_ns Int64, end_ns Int64,
			packets UInt64, bytes UInt64` + rowID + `
		) ENGINE = MergeTree ` + partitionBy("end_ns") + ` ORDER BY (start_ns, wid, idx)`,

		`CREATE TABLE IF NOT EXISTS edges (
			probe String, start_ns Int64, end_ns Int64,
			c_fam UInt8, c_addr FixedString(16), s_fam UInt8, s_addr FixedString(16),
			transport String, app String, port UInt16,
			flows UInt64, packets UInt64, bytes UInt64, requests UInt64, errors UInt64,
			latency_sum_ns Int64, latency_count UInt64, latency_max_ns Int64` + rowID + `
		) ENGINE = MergeTree ` + partitionBy("end_ns") + ` ORDER BY (start_ns, wid, idx)`,

		// The retention cutoff every replica applies: rows whose time is
		// before it are gone, whether or not their partition was dropped
		// yet. Only the largest value counts.
		`CREATE TABLE IF NOT EXISTS retention (k UInt8, cutoff_ns Int64)
			ENGINE = ReplacingMergeTree(cutoff_ns) ORDER BY k`,
	},
}

// migrate creates the database and applies the missing migrations. Every
// statement is idempotent (IF NOT EXISTS), so that replicas opening the
// same database at once, or a migration cut short, are harmless.
func (s *Store) migrate(ctx context.Context) error {
	if err := s.c.execNoDB(ctx, "CREATE DATABASE IF NOT EXISTS "+s.cfg.Database); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := s.c.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version UInt32, applied_ns Int64)
		ENGINE = MergeTree ORDER BY version`); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	d, err := s.c.query(ctx, `SELECT toUInt32(max(version)) FROM schema_version`)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	have := int(d.u32())
	if d.err != nil {
		return d.err
	}
	if have > schemaVersion {
		return fmt.Errorf("the database has schema version %d; this wirewatch knows up to %d", have, schemaVersion)
	}
	for v := have + 1; v <= schemaVersion; v++ {
		for _, stmt := range migrations[v] {
			if err := s.c.exec(ctx, stmt); err != nil {
				name := strings.Fields(stmt)
				return fmt.Errorf("migration %d (%s): %w", v, strings.Join(name[:min(6, len(name))], " "), err)
			}
		}
		if err := s.c.exec(ctx, fmt.Sprintf("INSERT INTO schema_version VALUES (%d, %d)", v, time.Now().UnixNano())); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		s.log.Info("schema migrated", "version", v, "database", s.cfg.Database)
	}
	return nil
}
