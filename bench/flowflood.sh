#!/usr/bin/env bash
# Flow-table flood: N distinct 5-tuples (default 5,000,000, one SYN each)
# through `wirewatch read` with a flow cap (default 1,000,000). Reports peak
# memory and checks that every flow beyond the cap was evicted and counted:
# created == evicted + ended otherwise + active at the end.
#
#   bench/flowflood.sh [N] [MAX_FLOWS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000000}; cap=${2:-1000000}
bin=bin/wirewatch
[ -x "$bin" ] || make -s build
mkdir -p bench/out
pcap=bench/out/flood-$n.pcap
[ -s "$pcap" ] || go run ./bench/floodgen -n "$n" -o "$pcap"
out=bench/out/flood.json
# Long idle timeouts: no flow may expire on its own, so every flow beyond
# the cap has to be evicted.
cfg=$(mktemp); trap 'rm -f "$cfg"' EXIT
printf 'flows:\n  max: %d\n  tcp_syn_timeout: 24h\n  idle_timeout: 24h\n  tcp_idle_timeout: 24h\n' "$cap" > "$cfg"
tf=$(mktemp)
/usr/bin/time -o "$tf" -f '%e %M' "$bin" read "$pcap" -c "$cfg" --summary --format json > "$out"
res=$(tail -1 "$tf"); rm -f "$tf"
secs=${res% *}; rss=${res#* }
python3 - "$out" "$n" "$cap" "$secs" "$rss" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n, cap = int(sys.argv[2]), int(sys.argv[3])
secs, rss = float(sys.argv[4]), int(sys.argv[5])
f = d["flows"]
ended = f["ended_idle"] + f["ended_closed"] + f["ended_active_timeout"] + f["ended_flush"]
print(f"flood: {n} distinct 5-tuples, flow cap {cap}")
print(f"  read in {secs:.2f}s ({n/secs:,.0f} frames/s), peak RSS {rss/1024:.0f} MiB")
print(f"  flows created {f['created']}, evicted {f['evicted']}, flushed at end {f['ended_flush']}, other ends {ended - f['ended_flush']}")
print(f"  loss.flows_evicted {d['loss']['flows_evicted']}")
ok = f["created"] == n and f["evicted"] == n - cap and f["evicted"] + ended == f["created"] and d["loss"]["flows_evicted"] == f["evicted"]
print("  every flow accounted for:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
PY
echo "  Go benchmark (flow table alone):"
go test -run '^$' -bench 'BenchmarkFlood' -benchtime 1x ./internal/flow | grep -E 'Benchmark|ok' || true
