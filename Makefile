# wirewatch — see README.md. `make run` and `make test` work on a fresh
# Debian machine: they install what they need first (scripts/deps.sh).
GO      ?= go
BIN     := bin/wirewatch
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/wirewatch/wirewatch/internal/probe.Version=$(VERSION)
# Flags for `make run`; e.g. make run ARGS='-i eth0 --period 10s'
ARGS    ?=
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

export CGO_ENABLED := 1

.PHONY: all build run test test-short lint fuzz bench clean deps pgo web

all: build

deps:
	@scripts/deps.sh

# The web UI (web/): npm install (the versions of package-lock.json) +
# type check + vite build into internal/center/webui/dist, which the
# binary embeds. Not `npm ci`: the registry mirror here does not serve
# rollup's optional binaries for other platforms, so the lock file lacks
# them and `npm ci` refuses it.
WEB_STAMP := web/node_modules/.package-lock.json
$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm install --no-audit --no-fund --loglevel=error
web: deps $(WEB_STAMP)
	cd web && npm run -s build

build: web
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wirewatch

# The main job: probe + center + embedded store in one process, capturing
# the default-route device; REST API on http://127.0.0.1:10870 (capturing
# needs root or CAP_NET_RAW).
run: build
	$(BIN) $(ARGS)

test: web
	@scripts/deps.sh test
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short ./...

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Runs every fuzz target for FUZZTIME each (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

bench: build
	@scripts/deps.sh bench
	bench/throughput.sh
	bench/flowflood.sh
	bench/streamflood.sh
	bench/l7compare.sh
	bench/center-store.sh
	bench/ui-map.sh

# Regenerates cmd/wirewatch/default.pgo, the profile go build optimizes
# with, from the benchmark capture (scripts/pgo.sh).
pgo:
	scripts/pgo.sh

clean:
	rm -rf bin web/node_modules internal/center/webui/dist/assets internal/center/webui/dist/index.html
