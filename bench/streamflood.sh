#!/usr/bin/env bash
# Stream flood: N TCP connections (default 1,000,000) that never close,
# each holding the start of an HTTP request header (held by the HTTP
# parser) and a segment beyond a hole (held by the reassembler), through
# `wirewatch read` with every parser on and idle timeouts far away, so
# that only the caps can free memory. Checks that the reassembler and the
# parsers stayed within their configured budgets, that streams beyond the
# cap were evicted and counted, and reports peak RSS.
#
#   bench/streamflood.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
bin=bin/wirewatch
[ -x "$bin" ] || make -s build
mkdir -p bench/out
pcap=bench/out/streams-$n.pcap
[ -s "$pcap" ] || go run ./bench/floodgen -streams -n "$n" -o "$pcap"
out=bench/out/streamflood.json
cfg=$(mktemp); trap 'rm -f "$cfg"' EXIT
printf 'flows:\n  idle_timeout: 24h\n  tcp_idle_timeout: 24h\nl7:\n  timeout: 24h\n  reassembly:\n    idle_timeout: 24h\n' > "$cfg"
tf=$(mktemp)
/usr/bin/time -o "$tf" -f '%e %M' "$bin" read "$pcap" -c "$cfg" --summary --format json > "$out"
res=$(tail -1 "$tf"); rm -f "$tf"
secs=${res% *}; rss=${res#* }
python3 - "$out" "$n" "$secs" "$rss" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[2]); secs, rss = float(sys.argv[3]), int(sys.argv[4])
st = d["l7_stats"][0]; loss = d["loss"]["l7"]
mib = lambda b: b / (1 << 20)
print(f"stream flood: {n} never-closing TCP streams ({5*n} frames)")
print(f"  read in {secs:.2f}s, peak RSS {rss/1024:.0f} MiB (flow table included: {d['flows']['created']} flows)")
print(f"  streams opened {st['streams_opened']}, evicted {st['streams_evicted']} (loss.l7.reassembly_streams_evicted {loss.get('reassembly_streams_evicted', 0)})")
print(f"  reassembly buffered peak {mib(st['reassembly_memory_peak']):.1f} MiB; reassembler bound {mib(st['reassembly_memory_bound']):.1f} MiB")
print(f"  parser buffers peak {mib(st['parser_memory_peak']):.1f} MiB (budget 64 MiB); denied growths {loss.get('parser_memory_denied', 0)}")
print(f"  bytes given up by the reassembler on eviction: {loss.get('reassembly_evicted_stream_bytes', 0)}; parser drops: { {k: v for k, v in loss.items() if k.startswith('parser_')} }")
ok = (st["streams_opened"] == n and st["streams_evicted"] == loss.get("reassembly_streams_evicted", 0) and st["streams_evicted"] > 0
      and st["reassembly_memory_peak"] <= st["reassembly_memory_bound"] and st["parser_memory_peak"] <= 64 << 20)
print("  within budget and every eviction counted:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
PY
