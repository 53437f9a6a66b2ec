#!/usr/bin/env bash
# Regenerates the gRPC/protobuf Go code in internal/wire/wirewatchv1 from
# api/wirewatch/v1/wirewatch.proto. The generated files are committed, so
# building wirewatch never needs this; run it after editing the .proto.
# Installs protoc (Debian's protobuf-compiler) and the two Go plugins at the
# pinned versions when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# protoc-gen-go must match the google.golang.org/protobuf version in go.mod.
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

if ! command -v protoc >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "gen-proto: installing protobuf-compiler" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
fi

bin=$(go env GOPATH)/bin
want_version() { # $1 binary, $2 version: true when the installed one is that version
  [ -x "$bin/$1" ] && go version -m "$bin/$1" 2>/dev/null | grep -q "mod.*[[:space:]]$2[[:space:]]"
}
want_version protoc-gen-go "${PROTOC_GEN_GO##*@}" || go install "$PROTOC_GEN_GO"
want_version protoc-gen-go-grpc "${PROTOC_GEN_GO_GRPC##*@}" || go install "$PROTOC_GEN_GO_GRPC"

out=internal/wire/wirewatchv1
mkdir -p "$out"
PATH=$bin:$PATH protoc -I api \
  --go_out=. --go_opt=module=github.com/wirewatch/wirewatch \
  --go-grpc_out=. --go-grpc_opt=module=github.com/wirewatch/wirewatch \
  api/wirewatch/v1/wirewatch.proto
gofmt -l "$out"
echo "gen-proto: wrote $out" >&2
