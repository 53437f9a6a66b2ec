#!/usr/bin/env bash
# Regenerates cmd/wirewatch/default.pgo: the CPU profile that the Go
# compiler uses for profile-guided optimization (go build picks it up by
# itself; measured: about 5 % less CPU on the throughput benchmark). The
# workload is `wirewatch read` of a capture of real traffic with every
# parser on, with one and with two workers.
#
#   scripts/pgo.sh [CAPTURE]   (default bench/out/real.pcap, which
#                               bench/throughput.sh records once)
set -euo pipefail
cd "$(dirname "$0")/.."
cap=${1:-bench/out/real.pcap}
if [ ! -s "$cap" ]; then
	echo "scripts/pgo.sh: no capture $cap: run bench/throughput.sh once (it records it) or name one" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -pgo=off -o "$tmp/wirewatch" ./cmd/wirewatch
"$tmp/wirewatch" read "$cap" --format json --workers 1 --cpuprofile "$tmp/1.prof" >/dev/null
"$tmp/wirewatch" read "$cap" --format json --workers 2 --cpuprofile "$tmp/2.prof" >/dev/null
go tool pprof -proto "$tmp/1.prof" "$tmp/2.prof" >cmd/wirewatch/default.pgo
echo "wrote cmd/wirewatch/default.pgo"
