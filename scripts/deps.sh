#!/usr/bin/env bash
# Installs what building and testing wirewatch needs on a fresh Debian
# machine, and nothing when it is already there. Safe to run repeatedly.
#   scripts/deps.sh          build deps (Go toolchain check, libpcap-dev, nodejs + npm for the web UI)
#   scripts/deps.sh test     + what the tests drive (tcpdump, tshark, iproute2, ping, curl, python3, redis, chromium)
#   scripts/deps.sh bench    + the benchmark peers (ndpiReader, tcpdump, GNU time)
set -euo pipefail
want=(libpcap-dev:/usr/include/pcap/pcap.h nodejs:/usr/bin/node npm:/usr/bin/npm)
case "${1:-}" in
  test)  want+=(tcpdump:/usr/bin/tcpdump tshark:/usr/bin/tshark iproute2:/usr/sbin/ip iputils-ping:/usr/bin/ping curl:/usr/bin/curl python3:/usr/bin/python3 redis-server:/usr/bin/redis-server redis-tools:/usr/bin/redis-cli chromium:/usr/bin/chromium) ;;
  bench) want+=(tcpdump:/usr/bin/tcpdump libndpi-bin:/usr/bin/ndpiReader time:/usr/bin/time tshark:/usr/bin/tshark chromium:/usr/bin/chromium) ;;
esac
# The ClickHouse store's tests and benchmark start a real server (Debian's
# clickhouse-server, 18.16 in bookworm; internal/store/clickhouse/chtest).
case "${1:-}" in
  test|bench) want+=(clickhouse-server:/usr/sbin/clickhouse-server) ;;
esac
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null 2>&1 || { echo "deps: Go is not installed (https://go.dev/dl/); need Go >= 1.26" >&2; exit 1; }
missing=()
for item in "${want[@]}"; do
  pkg=${item%%:*}; file=${item#*:}
  [ -e "$file" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps: missing Debian packages: ${missing[*]} (run as root or install them)" >&2; exit 1
  fi
else SUDO=; fi
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
