# paxos — build, test and run a Multi-Paxos replicated log.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
PKGS  := ./...
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/paxos-go/paxos/cli.Version=$(VERSION)

.PHONY: all build test test-short vet fmt clean clean-data

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
