# paxos — build, test and run a Multi-Paxos replicated log.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...
SCHEDULES ?= 5000
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/paxos-go/paxos/cli.Version=$(VERSION)
# The Compose command: "docker compose" (plugin) or "docker-compose".
DOCKER_COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: all build test test-short vet fmt clean clean-data up down

all: build

## build: static binaries bin/paxosd and bin/paxosctl (CGO_ENABLED=0)
build:
	@mkdir -p $(BIN)
	@for cmd in paxosd paxosctl; do \
		if [ -d cmd/$$cmd ]; then \
			CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$cmd ./cmd/$$cmd || exit 1; \
		fi; \
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

## test-short: quick loop while developing
test-short:
	$(GO) test -short -count=1 $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

## clean-data: delete every node's data under ./volumes (keeps the folders)
clean-data:
	find volumes -mindepth 2 -delete 2>/dev/null || true

## up: start the 10 nodes: Docker Compose when a Docker engine answers and
## docker-compose.yml exists, otherwise local processes (scripts/local.sh);
## waits until they are healthy, then prints paxosctl status
up:
	@if docker info >/dev/null 2>&1 && [ -f docker-compose.yml ] && [ -x scripts/dk-deploy.sh ]; then \
		echo "up: Docker engine found: deploying with Docker Compose (scripts/dk-deploy.sh)"; \
		scripts/dk-deploy.sh || exit 1; \
	else \
		if docker info >/dev/null 2>&1 && [ -f docker-compose.yml ]; then \
			echo "up: TODO(compose): scripts/dk-deploy.sh is missing; using local mode"; \
		fi; \
		scripts/local.sh up || exit 1; \
	fi
	@if [ -x $(BIN)/paxosctl ]; then $(BIN)/paxosctl status; fi

## down: stop the nodes (local processes, and the Compose project if it runs); keeps the data
down:
	scripts/local.sh down
	@if docker info >/dev/null 2>&1 && [ -f docker-compose.yml ] && \
		[ -n "$$($(DOCKER_COMPOSE) ps -q 2>/dev/null)" ]; then \
		$(DOCKER_COMPOSE) down; \
	fi
