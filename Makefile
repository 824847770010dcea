# LOKIZ backend. The two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
SQLC  := $(GO) -C tools tool sqlc -f ../db/sqlc.yaml
# A local .env (see .env.example) is read by `make run`.
ifneq (,$(wildcard .env))
include .env
export
endif

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: run test services build vet lint sqlc sqlc-check bench fuzz chaos load clean

## run: make sure Postgres, Redis and ffmpeg are there, then start every role in one process
run: services build
	./bin/lokiz dev

## test: vet, lint, the sqlc drift check and every test (race detector on) against real services
test: services vet lint sqlc-check
	$(GO) test -race -count=1 ./...

## services: start (or install on Debian/Ubuntu, or docker compose) Postgres, Redis and ffmpeg
services:
	@./scripts/services.sh

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/lokiz ./cmd/lokiz

vet:
	$(GO) vet ./...

## lint: golangci-lint, pinned in tools/go.mod, with .golangci.yml: the layering rules and a few linters
# `go tool -n` builds the linter (cached like any `go tool`) and prints its
# path; it runs from here, so it lints the main module, not tools.
lint:
	@lint=$$($(GO) -C tools tool -n golangci-lint) && "$$lint" run ./...

## sqlc: regenerate the query code in db/ after editing db/queries or db/migrations
sqlc:
	$(SQLC) generate

## sqlc-check: fail when the generated code in db/ is out of date
sqlc-check:
	@$(SQLC) diff || { echo "db/*.gen.go is out of date: run 'make sqlc' and commit the result" >&2; exit 1; }

## bench: the benchmarks, 5 runs each (results and how to read them: docs/benchmarks.md)
bench: services
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./... | tee bench.out

## fuzz: every fuzz target (found by scripts/fuzz.sh), FUZZTIME each, one after another
# (docs/reliability.md, "Fuzzing"). `make fuzz FUZZTIME=30s FUZZPARALLEL=1`.
FUZZTIME ?= 5m
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZPARALLEL=$(FUZZPARALLEL) ./scripts/fuzz.sh

## chaos: the chaos suite for CHAOS_DURATION (default 8m): real processes, kills and restarts, invariants (docs/reliability.md)
CHAOS_DURATION ?= 8m
chaos:
	CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -count=1 -timeout 60m -run '^TestChaos$$' -v ./internal/chaos/

## load: seed a private database (lokiz seed -bulk), start api and worker, drive them with wrk; one table (docs/benchmarks.md, "Load harness")
# `make load LOAD_DURATION=30s LOAD_CONNECTIONS="20 500"`; the other settings are in scripts/load.sh.
LOAD_DURATION ?= 10s
LOAD_CONNECTIONS ?= 20 500
load:
	LOAD_DURATION=$(LOAD_DURATION) LOAD_CONNECTIONS="$(LOAD_CONNECTIONS)" ./scripts/load.sh

clean:
	rm -rf bin
