#!/usr/bin/env bash
# The web UI's traffic map on a big map: a generated store of 2,000 nodes
# and 10,000 edges (bench/uimapgen) served by `wirewatch center`, opened in
# Debian's Chromium (web/tests/map-bench.mjs); prints the time to first
# render and to a stable layout. Figures: docs/ui.md.
#
#   bench/ui-map.sh [NODES] [EDGES] [RUNS]
#
# Needs bin/wirewatch with the UI (make build) and web/node_modules (make web).
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-2000}
edges=${2:-10000}
runs=${3:-3}
dir=bench/out/ui-map-$nodes-$edges
rm -rf "$dir"
mkdir -p bench/out
# Recent traffic, so that the store's age retention keeps it.
start=$(date -u -d '-10 min' +%Y-%m-%dT%H:%M:00Z)
end=$(date -u -d "$start + 2 min" +%Y-%m-%dT%H:%M:%SZ)
go run ./bench/uimapgen -dir "$dir" -nodes "$nodes" -edges "$edges" -start "$start"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bin/wirewatch center --insecure --data-dir "$dir" --grpc 127.0.0.1:0 --api "127.0.0.1:$port" >"$dir.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/api/v1/probes" >/dev/null && break
	sleep 0.1
done
echo "ui map: $(nproc) cores, $(/usr/bin/chromium --version 2>/dev/null | head -1)"
WIREWATCH_SHOTS=bench/out/ui node web/tests/map-bench.mjs "http://127.0.0.1:$port" "$start" "$end" "$runs"
