#!/usr/bin/env bash
# The center's embedded store (internal/store/duckdb): ingest of flow
# records through Write (batches of 10,000 flows from 1, 2, 4 and 8 probes at
# once), p50/p95 latency of the "top 10 talkers" query (FlowGroups by host,
# by bytes, limit 10) over the last hour and the last day of FLOWS stored
# flows (default 10,000,000), spread over one day and over seven days, and
# what the size retention does to the disk. Figures: docs/store.md.
#
#   bench/center-store.sh [FLOWS]
#
# The stored data sets are kept in bench/out/center-store-* and reused by
# the next run (delete them after changing the schema or the generator).
set -euo pipefail
cd "$(dirname "$0")/.."
flows=${1:-10000000}
mkdir -p bench/out
bin=bench/out/center-store.test
go test -c -o "$bin" ./internal/store/duckdb
echo "center store: $(nproc) cores, GOMAXPROCS ${GOMAXPROCS:-$(nproc)}"
echo "ingest (batches of 10,000 flows):"
for p in 1 2 4 8; do
	printf '  %d probe(s): ' "$p"
	WIREWATCH_BENCH_PROBES=$p "$bin" -test.run '^$' -test.bench '^BenchmarkWrite$' -test.benchtime 200x |
		awk '/^BenchmarkWrite/ { for (i = 1; i <= NF; i++) if ($(i) == "flows/s") printf "%s flows/s\n", $(i-1) }'
done
echo "top 10 talkers over $flows stored flows:"
for span in 24h 168h; do
	dir=bench/out/center-store-$flows-$span
	WIREWATCH_BENCH_FLOWS=$flows WIREWATCH_BENCH_SPAN=$span WIREWATCH_BENCH_DIR=$dir \
		"$bin" -test.run '^$' -test.bench '^BenchmarkTopTalkers$' -test.benchtime 40x -test.v |
		grep -E 'stored [0-9]+ flows|^BenchmarkTopTalkers/' | sed 's/^ *//'
done
echo "size retention (MaxBytes 64 MiB, 8,000,000 flows written):"
WIREWATCH_BENCH_RETAIN_MB=64 "$bin" -test.run '^$' -test.bench '^BenchmarkRetention$' -test.benchtime 800x |
	grep -E '^BenchmarkRetention'

# The shared ClickHouse store (internal/store/clickhouse), on a throwaway
# clickhouse-server the benchmark starts (Debian's; scripts/deps.sh bench),
# or on WIREWATCH_BENCH_CLICKHOUSE_URL, whose data sets are then kept.
chbin=bench/out/center-store-clickhouse.test
go test -c -o "$chbin" ./internal/store/clickhouse
echo "clickhouse store: ingest (batches of 10,000 flows):"
for p in 1 2 4 8; do
	printf '  %d probe(s): ' "$p"
	WIREWATCH_BENCH_PROBES=$p "$chbin" -test.run '^$' -test.bench '^BenchmarkWrite$' -test.benchtime 200x |
		awk '/^BenchmarkWrite/ { for (i = 1; i <= NF; i++) if ($(i) == "flows/s") printf "%s flows/s\n", $(i-1) }'
done
echo "clickhouse store: top 10 talkers and a page of flows over $flows stored flows (one day):"
WIREWATCH_BENCH_FLOWS=$flows "$chbin" -test.run '^$' -test.bench '^(BenchmarkTopTalkers|BenchmarkFlowPage)$' -test.benchtime 20x -test.v |
	grep -E 'stored [0-9]+ flows|^Benchmark(TopTalkers|FlowPage)/' | sed 's/^ *//'
