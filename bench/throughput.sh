#!/usr/bin/env bash
# Throughput benchmark: wirewatch read (every L7 parser on, and --no-l7) vs
# ndpiReader vs tcpdump on the same
# capture, in the same run, best of N, with peak memory (GNU time).
#
#   bench/throughput.sh [CAPTURE.pcap]
#
# Without an argument it records a realistic capture with
# ../shared/bench/make-capture.sh (real nginx/redis/DNS/PostgreSQL/TLS
# traffic; needs root) into bench/out/real.pcap, once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
runs=${RUNS:-3}
bin=bin/wirewatch
[ -x "$bin" ] || make -s build
mkdir -p bench/out
cap=${1:-}
if [ -z "$cap" ]; then
  cap=bench/out/real.pcap
  if [ ! -s "$cap" ]; then
    echo "recording $cap with ../shared/bench/make-capture.sh (${CAPTURE_SECONDS:-20}s)..." >&2
    ../shared/bench/make-capture.sh "$cap" "${CAPTURE_SECONDS:-20}" >&2
  fi
fi
frames=$(capinfos -Mc "$cap" 2>/dev/null | awk -F': *' '/Number of packets/ {gsub(/ /,"",$2); print $2}')
[ -n "$frames" ] || frames=$(tcpdump -r "$cap" -nn 2>/dev/null | wc -l)
echo "capture: $cap ($frames frames, $(du -h "$cap" | cut -f1))"
# Warm the page cache so every tool reads from memory.
cat "$cap" > /dev/null

# best_of CMD...: prints "seconds peak_rss_kib" of the fastest run.
best_of() {
  local best="" rss="" t out tf
  tf=$(mktemp)
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>&1 || true
    out=$(tail -1 "$tf")
    t=${out% *}
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=${out#* }; fi
  done
  rm -f "$tf"
  echo "$best $rss"
}

row() {
  local name=$1; shift
  read -r secs rss < <(best_of "$@")
  local pps
  pps=$(awk "BEGIN{ if ($secs > 0) printf \"%.0f\", $frames / $secs; else print \"inf\" }")
  printf '%-34s %8.2fs %12s frames/s %8d MiB peak\n' "$name" "$secs" "$pps" "$((rss / 1024))"
}

echo "best of $runs runs; $(nproc) cores"
row "tcpdump -r -w /dev/null"          tcpdump -r "$cap" -w /dev/null
row "ndpiReader -i"                    ndpiReader -i "$cap" -q
row "wirewatch read (1 worker)"        "$bin" read "$cap" --format json --workers 1
row "wirewatch read ($(nproc) workers)" "$bin" read "$cap" --format json --workers "$(nproc)"
row "wirewatch read --summary (1 w.)"  "$bin" read "$cap" --format json --summary --workers 1
# The same without the application layer (no reassembly, detection or
# parsers): what L7 costs on this capture.
row "wirewatch read --no-l7 (1 w.)"    "$bin" read "$cap" --format json --workers 1 --no-l7
