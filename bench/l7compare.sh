#!/usr/bin/env bash
# Compares wirewatch's transaction counts with tshark's on a real capture
# (../shared/bench/make-capture.sh: nginx+wrk, redis-benchmark, dnsperf,
# pgbench, TLS): HTTP requests, DNS queries and PostgreSQL queries must
# agree within 0.5 %.
#
#   bench/l7compare.sh [CAPTURE.pcap]     (default bench/out/real.pcap)
#
# What is counted on each side:
#   HTTP requests: tshark's http.request.method occurrences (a pipelined
#     packet holds several) / wirewatch http transactions with a request.
#   DNS queries: tshark's DNS messages with QR=0 / wirewatch dns
#     transactions with a request (each counts its query message once).
#   PostgreSQL queries: tshark's "Simple query" and "Parse"... messages of
#     type Query ('Q') and Execute ('E') / wirewatch postgresql
#     transactions whose op is QUERY or EXECUTE.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
bin=bin/wirewatch
[ -x "$bin" ] || make -s build
cap=${1:-bench/out/real.pcap}
if [ ! -s "$cap" ]; then
  mkdir -p bench/out
  echo "recording $cap with ../shared/bench/make-capture.sh (${CAPTURE_SECONDS:-20}s)..." >&2
  ../shared/bench/make-capture.sh "$cap" "${CAPTURE_SECONDS:-20}" >&2
fi
out=bench/out/l7compare; mkdir -p "$out"
echo "capture: $cap" >&2
"$bin" read "$cap" --records --progress off > "$out/records.jsonl"
# tshark: one pass, the fields we count; the ports the capture uses are
# declared so that tshark dissects them whatever its defaults.
tshark -r "$cap" -n -d tcp.port==8080,http -d tcp.port==5432,pgsql \
  -Y 'http.request || dns || pgsql' -T fields -E occurrence=a -E aggregator=';' \
  -e http.request.method -e dns.flags.response -e pgsql.type > "$out/tshark.tsv"
python3 - "$out/records.jsonl" "$out/tshark.tsv" <<'PY'
import json, sys
ww = {"http": 0, "dns": 0, "postgresql": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = r["proto"]
    if "request_time" not in r:
        continue
    if p == "http":
        ww["http"] += 1
    elif p == "dns":
        ww["dns"] += 1
    elif p == "postgresql" and r["op"] in ("QUERY", "EXECUTE"):
        ww["postgresql"] += 1
ts = {"http": 0, "dns": 0, "postgresql": 0}
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    f += [""] * (3 - len(f))
    if f[0]:
        ts["http"] += len(f[0].split(";"))
    if f[1]:
        ts["dns"] += sum(1 for v in f[1].split(";") if v in ("0", "False", "false"))
    if f[2]:
        ts["postgresql"] += sum(1 for v in f[2].split(";") if v in ("Simple query", "Execute"))
ok = True
print(f"{'':12}{'tshark':>12}{'wirewatch':>12}{'diff':>9}")
for k in ("http", "dns", "postgresql"):
    a, b = ts[k], ww[k]
    d = (b - a) / a * 100 if a else float("inf")
    good = a > 0 and abs(d) <= 0.5
    ok &= good
    print(f"{k:12}{a:>12,}{b:>12,}{d:>8.2f}%  {'ok' if good else 'OFF'}")
sys.exit(0 if ok else 1)
PY
