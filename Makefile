# paxos — build, test and run a Multi-Paxos replicated log.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...
SCHEDULES ?= 5000
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/paxos-go/paxos/cli.Version=$(VERSION)
# The Compose command: scripts/compose.sh runs "docker compose" (v2 plugin)
# when it answers, else docker-compose (v1); that script is the one place
# that decides (set DOCKER_COMPOSE to force one).
COMPOSE := scripts/compose.sh
# The image docker-compose.yml runs (FROM scratch + bin/, see Dockerfile).
IMAGE   ?= paxos:local
# A Docker engine answers: make up/down use Compose, CI runs the drills.
export PAXOS_IMAGE := $(IMAGE)
HAVE_DOCKER = $(shell docker info >/dev/null 2>&1 && [ -f docker-compose.yml ] && echo yes)

.PHONY: all build image test test-short vet fmt clean clean-data up down drill drill-broken bench

all: build

## build: static binaries bin/paxosd and bin/paxosctl (CGO_ENABLED=0)
build:
	@mkdir -p $(BIN)
	@for dir in cmd/*/; do \
		cmd=$$(basename "$$dir"); \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$cmd ./cmd/$$cmd || exit 1; \
	done

## vet: gofmt and go vet
vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## test: the one command CI runs: vet, then every test with the race detector
test: vet build
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -timeout 20m -run 'TestSimulation' ./replog -schedules $(SCHEDULES)

## image: the node image $(IMAGE): static binaries on scratch (no pull needed)
image: build
	docker build -t $(IMAGE) --label org.opencontainers.image.version=$(VERSION) .

## drill: the fault drills of issue 5 against a fresh Compose cluster
## (project paxosdrill, its own data folder); needs a Docker engine
drill: image
	$(GO) vet -tags drill ./test/drill/
	$(GO) test -tags drill -count=1 -timeout 30m -v -run 'TestChecker|TestDrills' ./test/drill/

## drill-broken: the drills' checker against acceptors that forget their
## state (wiped data): it passes only when the checker reports the loss
drill-broken: image
	$(GO) test -tags drill -count=1 -timeout 30m -v -run 'TestDrillBrokenAcceptor' ./test/drill/

## bench: a fresh local cluster, paxosctl bench at N = 1, 16, 64, 256
## (3 runs each, medians), the table printed and written to bench/results/
bench: build
	scripts/bench.sh

## test-short: quick loop while developing
test-short:
	$(GO) test -short -count=1 $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

## clean-data: delete every node's data under ./volumes (keeps the folders);
## refuses while Compose containers run
clean-data:
	@if [ "$(HAVE_DOCKER)" = yes ] && [ -n "$$($(COMPOSE) ps -q 2>/dev/null)" ]; then \
		echo "clean-data: the Compose cluster is running; run 'make down' first" >&2; exit 1; \
	fi
	find volumes -mindepth 2 -delete 2>/dev/null || true

## up: start the 10 nodes: Docker Compose when a Docker engine answers and
## docker-compose.yml exists (scripts/dk-deploy.sh: make image, up -d, wait
## until healthy), otherwise local processes (scripts/local.sh); then
## prints paxosctl status (PAXOS_MODE=local or PAXOS_MODE=compose skips the
## detection)
up:
	@if [ "$(PAXOS_MODE)" = compose ] || { [ "$(PAXOS_MODE)" != local ] && [ "$(HAVE_DOCKER)" = yes ]; }; then \
		echo "up: Docker Compose mode ($$($(COMPOSE) --which)); PAXOS_MODE=local runs local processes"; \
		scripts/dk-deploy.sh || exit 1; \
	else \
		echo "up: local mode (no Docker engine answers, or PAXOS_MODE=local): scripts/local.sh"; \
		scripts/local.sh up || exit 1; \
	fi
	@if [ -x $(BIN)/paxosctl ]; then $(BIN)/paxosctl status; fi

## down: stop the nodes (local processes, and the Compose cluster if it
## runs); keeps the data
down:
	scripts/local.sh down
	@if [ "$(HAVE_DOCKER)" = yes ] && [ -n "$$($(COMPOSE) ps -q 2>/dev/null)" ]; then \
		$(COMPOSE) down; \
	fi
