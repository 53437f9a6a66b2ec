package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// Column conventions (docs/store.md):
//   - times are BIGINT nanoseconds since the Unix epoch; storeutil.NoTime
//     (math.MinInt64) stands for the zero time.Time;
//   - durations are BIGINT nanoseconds;
//   - an address is <x>_fam UTINYINT (0 none, 4, 6), <x>_hi and <x>_lo
//     UBIGINT (the halves of its 16-byte form), its port <x>_port;
//   - every VARCHAR holds encText's form of the original bytes;
//   - id is a store-wide sequence number, the tie-breaker of orderings
//     and cursors.
//
// Rows are appended in time order within a batch, so that DuckDB's zone
// maps (min/max per row group) on the time columns skip the row groups a
// time range does not touch.

// migrations[v] brings the schema from version v-1 to v. Append, never
// edit: a database records the version it reached.
var migrations = []string{
	1: schemaV1,
	2: schemaV2,
	3: schemaV3,
}

const schemaV1 = `
CREATE TABLE probes (
	id VARCHAR NOT NULL,
	info BLOB NOT NULL,          -- record.ProbeInfo, gob
	first_seen BIGINT NOT NULL,
	last_report BIGINT NOT NULL,
	last_seq UBIGINT NOT NULL,
	batches UBIGINT NOT NULL,
	records UBIGINT NOT NULL,
	loss BLOB                    -- map[string]uint64, gob
);
CREATE TABLE windows (
	id UBIGINT NOT NULL,
	probe VARCHAR NOT NULL,
	start_ns BIGINT NOT NULL,
	end_ns BIGINT NOT NULL,
	packets UBIGINT NOT NULL,
	bytes UBIGINT NOT NULL,
	summary BLOB
);
CREATE TABLE flows (
	id UBIGINT NOT NULL,
	probe VARCHAR NOT NULL,
	start_ns BIGINT NOT NULL,
	end_ns BIGINT NOT NULL,
	transport VARCHAR NOT NULL,
	c_fam UTINYINT NOT NULL, c_hi UBIGINT NOT NULL, c_lo UBIGINT NOT NULL, c_port USMALLINT NOT NULL,
	s_fam UTINYINT NOT NULL, s_hi UBIGINT NOT NULL, s_lo UBIGINT NOT NULL, s_port USMALLINT NOT NULL,
	app VARCHAR NOT NULL,
	device VARCHAR NOT NULL,
	vlan USMALLINT NOT NULL,
	tunnel UINTEGER NOT NULL,
	packets_cs UBIGINT NOT NULL, packets_sc UBIGINT NOT NULL,
	bytes_cs UBIGINT NOT NULL, bytes_sc UBIGINT NOT NULL,
	retrans_cs UBIGINT NOT NULL, retrans_sc UBIGINT NOT NULL,
	rtt_ns BIGINT NOT NULL,
	state VARCHAR NOT NULL,
	ended BOOLEAN NOT NULL
);
CREATE TABLE transactions (
	id UBIGINT NOT NULL,
	probe VARCHAR NOT NULL,
	ts BIGINT NOT NULL,          -- request time, else response time
	proto VARCHAR NOT NULL,
	transport VARCHAR NOT NULL,
	c_fam UTINYINT NOT NULL, c_hi UBIGINT NOT NULL, c_lo UBIGINT NOT NULL, c_port USMALLINT NOT NULL,
	s_fam UTINYINT NOT NULL, s_hi UBIGINT NOT NULL, s_lo UBIGINT NOT NULL, s_port USMALLINT NOT NULL,
	request_ns BIGINT NOT NULL,
	response_ns BIGINT NOT NULL,
	latency_ns BIGINT NOT NULL,
	request_bytes BIGINT NOT NULL,
	response_bytes BIGINT NOT NULL,
	op VARCHAR NOT NULL,
	target VARCHAR NOT NULL,
	status VARCHAR NOT NULL,
	outcome VARCHAR NOT NULL,
	flags VARCHAR[],
	fields STRUCT(k VARCHAR, v VARCHAR)[]
);
CREATE TABLE traffic (
	probe VARCHAR NOT NULL,
	device VARCHAR NOT NULL,
	direction VARCHAR NOT NULL,
	start_ns BIGINT NOT NULL,
	end_ns BIGINT NOT NULL,
	packets UBIGINT NOT NULL,
	bytes UBIGINT NOT NULL
);
CREATE TABLE edges (
	probe VARCHAR NOT NULL,
	start_ns BIGINT NOT NULL,
	end_ns BIGINT NOT NULL,
	c_fam UTINYINT NOT NULL, c_hi UBIGINT NOT NULL, c_lo UBIGINT NOT NULL,
	s_fam UTINYINT NOT NULL, s_hi UBIGINT NOT NULL, s_lo UBIGINT NOT NULL,
	transport VARCHAR NOT NULL,
	app VARCHAR NOT NULL,
	port USMALLINT NOT NULL,
	flows UBIGINT NOT NULL,
	packets UBIGINT NOT NULL,
	bytes UBIGINT NOT NULL,
	requests UBIGINT NOT NULL,
	errors UBIGINT NOT NULL,
	latency_sum_ns BIGINT NOT NULL,
	latency_count UBIGINT NOT NULL,
	latency_max_ns BIGINT NOT NULL
);
`

// schemaV2 adds the top talkers rollup (talkers.go) and builds it from
// the flows already stored, with the same rules as the writers: flows
// without a start time are left out, a flow ending before it starts only
// marks its bucket, sums hold at 2^64-1.
var schemaV2 = `
CREATE TABLE talkers (
	bucket BIGINT NOT NULL,       -- start of the bucket of the flows' start (talkerBucket)
	probe VARCHAR NOT NULL,
	h_fam UTINYINT NOT NULL, h_hi UBIGINT NOT NULL, h_lo UBIGINT NOT NULL,
	flows UBIGINT NOT NULL,
	packets UBIGINT NOT NULL,
	bytes UBIGINT NOT NULL
);
CREATE TABLE meta (
	key VARCHAR NOT NULL,
	value BIGINT NOT NULL
);
INSERT INTO talkers
SELECT bucket, probe, h_fam, h_hi, h_lo, ` + saturate("sum(n)") + `, ` + saturate("sum(p)") + `, ` + saturate("sum(b)") + `
FROM (
	SELECT ` + bucketSQL + ` AS bucket, probe, c_fam AS h_fam, c_hi AS h_hi, c_lo AS h_lo,
		1 AS n, packets_cs::HUGEINT + packets_sc AS p, bytes_cs::HUGEINT + bytes_sc AS b
	FROM flows WHERE start_ns >= ` + minRolledSQL + ` AND end_ns >= start_ns
	UNION ALL
	SELECT ` + bucketSQL + `, probe, s_fam, s_hi, s_lo, 1, packets_cs::HUGEINT + packets_sc, bytes_cs::HUGEINT + bytes_sc
	FROM flows WHERE start_ns >= ` + minRolledSQL + ` AND end_ns >= start_ns AND NOT (c_fam = s_fam AND c_hi = s_hi AND c_lo = s_lo)
	UNION ALL
	SELECT DISTINCT ` + bucketSQL + `, probe, ` + strconv.Itoa(talkerMarker) + `, 0, 0, 0, 0, 0
	FROM flows WHERE start_ns >= ` + minRolledSQL + ` AND end_ns < start_ns
) GROUP BY bucket, probe, h_fam, h_hi, h_lo ORDER BY bucket;
`

// schemaV3 deduplicates per (probe, spool ID) instead of per probe
// (store.Store.Write). A probe's row holds its current spool (that of its
// newest stored batch) with last_seq; spools holds the last seq of its
// other spools. The rows stored before have no spool ID (NULL): the
// first spool ID the probe then reports takes the sequence over
// (write.go), since that is almost always the spool the probe was using,
// so its batches resent across the upgrade stay duplicates.
const schemaV3 = `
ALTER TABLE probes ADD COLUMN spool_id VARCHAR;
CREATE TABLE spools (
	probe VARCHAR NOT NULL,
	spool_id VARCHAR NOT NULL,
	last_seq UBIGINT NOT NULL,
	last_report BIGINT NOT NULL
);
`

var minRolledSQL = strconv.FormatInt(minRolled, 10)

// bucketSQL is floorBucket(start_ns) in SQL (constants only).
var bucketSQL = "(start_ns - (((start_ns % " + strconv.FormatInt(talkerBucket, 10) + ") + " +
	strconv.FormatInt(talkerBucket, 10) + ") % " + strconv.FormatInt(talkerBucket, 10) + "))"

// schemaVersion is the version this code reads and writes.
func schemaVersion() int { return len(migrations) - 1 }

// migrate creates the schema or brings it up to schemaVersion, one version
// per transaction. A database written by a newer version is refused
// rather than misread.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER NOT NULL, applied_ns BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	cur := int(v.Int64)
	if cur > schemaVersion() {
		return fmt.Errorf("schema version %d is newer than this program's %d", cur, schemaVersion())
	}
	for next := cur + 1; next <= schemaVersion(); next++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[next]); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema migration to version %d: %w", next, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (?, ?)`, next, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema migration to version %d: %w", next, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("schema migration to version %d: %w", next, err)
		}
	}
	return nil
}
