# paxos — build, test and run a Multi-Paxos replicated log.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...
SCHEDULES ?= 5000
CHAOS ?= 20s
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

.PHONY: all build image test test-short vet fmt clean clean-data up down drill drill-tls drill-broken compose-fresh swarm-drill k8s-api-check bench mutants deploy-check screenshots

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

## test: the one command CI runs: vet, then every test with the race detector,
## then the deploy checks
test: vet build
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -timeout 20m -run 'TestSimulation' ./replog -schedules $(SCHEDULES)
	# The drills' history checker needs no Docker; a short chaos run (kills,
	# pauses, restarts under load, porcupine) checks what the e2e suite does
	# not schedule by itself.
	$(GO) test -count=1 -tags drill -run 'TestChecker' ./test/drill/
	$(GO) test -count=1 -timeout 10m -run 'TestE2EChaos' ./test/e2e/ -chaos $(CHAOS)
	# 128 MiB of 64 KiB values, the learner under 150 MiB while it writes
	# and while /get-values pages them (issue 13): opt-in alone, so it
	# runs here, every time.
	$(GO) test -count=1 -timeout 10m -run 'TestE2EBigValues$$' ./test/e2e/ -big-values
	$(MAKE) deploy-check

## deploy-check: decode deploy/kubernetes strictly against the Kubernetes
## API types and check it against the topology (ordinals = node IDs, peer
## lists, probes, PVCs, PDB), and check deploy/swarm/paxos-stack.yml with
## docker stack config and against the topology; a module of its own
## (deploy/kubernetes/check), whose dependencies this target downloads first
deploy-check:
	cd deploy/kubernetes/check && $(GO) mod download && $(GO) vet ./... && $(GO) test -count=1 ./...

## mutants: break the core and the storage on purpose, one mutation of
## scripts/mutants.txt at a time in a temporary copy, and fail unless the
## fast tests (storage, replog, server) catch every one; prints a table
mutants:
	scripts/mutants.sh

## image: the node image $(IMAGE): static binaries on scratch (no pull needed)
image: build
	docker build -t $(IMAGE) --label org.opencontainers.image.version=$(VERSION) .

## drill: the fault drills of issue 5 against a fresh Compose cluster
## (project paxosdrill, its own data folder), and paxosctl run with docker
## exec inside it (issue 17); needs a Docker engine
drill: image
	$(GO) vet -tags drill ./test/drill/
	$(GO) test -tags drill -count=1 -timeout 30m -v -run 'TestChecker|TestPaxosctlInContainers|TestScriptSuites|TestDrills' ./test/drill/

## drill-tls: drills 1, 3 and 5 (stop an acceptor, kill the leader, a
## partition) against a Compose cluster with TLS on (DRILL_TLS=1: a CA and
## certificates made by scripts/secure.sh, each node's folder mounted
## read-only at /tls; the drills speak https with paxosctl's certificate)
drill-tls: image
	$(GO) vet -tags drill ./test/drill/
	DRILL_TLS=1 $(GO) test -tags drill -count=1 -timeout 15m -v -run 'TestDrills/(1-|3-|5-)' ./test/drill/

## drill-broken: the drills' checker against acceptors that forget their
## state (wiped data): it passes only when the checker reports the loss
drill-broken: image
	$(GO) test -tags drill -count=1 -timeout 30m -v -run 'TestDrillBrokenAcceptor' ./test/drill/

## swarm-drill: three Docker engines on this machine, each in a network
## namespace of its own, joined into one swarm; the stack of deploy/swarm
## under the drills' workload and checker while a task is stopped and a
## whole engine is killed and brought back (scripts/swarm-drill.sh; root;
## opt-in, a few minutes; everything torn down on exit)
swarm-drill: image
	$(GO) vet -tags drill ./test/drill/
	scripts/swarm-drill.sh

## k8s-api-check: deploy/kubernetes against a real control plane (etcd,
## kube-apiserver, controller-manager, scheduler built from the Go module
## proxy into ~/.cache/paxos-k8s, kwok for fake nodes, no kubelet):
## server-side strict validation, NODE_IDs, PVCs bound, the PDB refusing an
## eviction (scripts/k8s-api-check.sh; opt-in: the first build takes long;
## K8S_TRANSCRIPT=file keeps a copy of what it prints)
k8s-api-check:
	scripts/k8s-api-check.sh $(K8S_TRANSCRIPT)

## compose-fresh: a bare "compose up -d" in a fresh clone of HEAD (no bin/)
## builds the image inside Docker (Dockerfile.multistage) and brings the ten
## nodes to healthy; makes the offline golang:1.26 stand-in first when it is
## missing (scripts/golang-standin.sh). Takes minutes: not part of make drill
compose-fresh:
	scripts/golang-standin.sh
	$(GO) vet -tags drill ./test/drill/
	$(GO) test -tags drill -count=1 -timeout 20m -v -run 'TestFreshCloneComposeUp' ./test/drill/

## bench: a fresh local cluster, paxosctl bench at N = 1, 16, 64, 256
## (3 runs each, medians), the table printed and written to bench/results/
bench: build
	scripts/bench.sh

## screenshots: docs/status-page.png (an ordinary slot) and
## docs/status-election.png (the election after the leader stopped), taken
## by TestStatusPageInChromium on an in-process cluster; needs chromium
screenshots:
	PAXOS_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run 'TestStatusPageInChromium' ./server/

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

## up: start the 10 nodes, closed by default: a cluster secret made into
## .env on first run and reused, and with TLS=1 the certificates (./certs)
## and TLS on every node (scripts/secure.sh); Docker Compose when a Docker engine answers and
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
	@if [ -x $(BIN)/paxosctl ]; then eval "$$(scripts/secure.sh env)" && $(BIN)/paxosctl status; fi

## down: stop the nodes (local processes, and the Compose cluster if it
## runs); keeps the data
down:
	scripts/local.sh down
	@if [ "$(HAVE_DOCKER)" = yes ] && [ -n "$$($(COMPOSE) ps -q 2>/dev/null)" ]; then \
		$(COMPOSE) down; \
	fi
