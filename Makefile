# Sleutelbos — developer tasks. `make test` is what CI runs (.ci/run).
#
# Every recipe runs in one bash shell with -euo pipefail (.ONESHELL), so a failing step fails the
# target, and the EXIT trap in WITH_TEST_POSTGRES stops a throwaway PostgreSQL even on failure.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := test

GO ?= go
BIN := bin/sleutelbos

# Load driver (make bench): cmd/loadtest seeds distinct citizens, starts real serve processes on
# 127.0.0.1 (SQLite; PostgreSQL with one and two nodes) and reports E, the hash's share of the
# server's CPU per logon (README, "Performance"). Its defaults are a bounded matrix of a few
# minutes; LOADTEST_FLAGS add to or override them ("-clients 1,2,4,8 -kinds password,totp").
# It bounds itself in time and count; LOADTEST_TIMEOUT is a hard cap (SIGINT: it stops cleanly).
# The figures are also written to bin/loadtest.json.
LOADTEST_FLAGS ?=
LOADTEST_TIMEOUT ?= 900s

# WITH_TEST_POSTGRES: get a PostgreSQL URL from scripts/testdb.sh (the local server, or a throwaway
# cluster it starts), export SLEUTELBOS_TEST_POSTGRES_URL and SLEUTELBOS_REQUIRE_POSTGRES=1, and
# stop/remove any throwaway cluster when the recipe's shell exits, however it exits.
define WITH_TEST_POSTGRES
testdb_state="$$(mktemp "$${TMPDIR:-/tmp}/sleutelbos-testdb-state.XXXXXX")"
export SLEUTELBOS_TESTDB_STATE="$$testdb_state"
trap 'scripts/testdb.sh stop || true; rm -f "$$testdb_state"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
SLEUTELBOS_TEST_POSTGRES_URL="$$(scripts/testdb.sh)"
export SLEUTELBOS_TEST_POSTGRES_URL
export SLEUTELBOS_REQUIRE_POSTGRES=1
echo "make: PostgreSQL for tests: $$SLEUTELBOS_TEST_POSTGRES_URL" >&2
endef

.PHONY: test vet fmt-check go-test e2e bench build run

## test: gofmt check, go vet, Go tests with -race on SQLite and PostgreSQL, then the browser tests.
test: fmt-check vet
	$(WITH_TEST_POSTGRES)
	$(GO) test -race -count=1 ./...
	scripts/e2e.sh

## vet: go vet ./...
vet:
	$(GO) vet ./...

## fmt-check: fail when any Go file is not gofmt-formatted.
fmt-check:
	unformatted="$$(find . \( -path ./.git -o -path ./e2e -o -path ./data -o -path ./bin \) -prune \
		-o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l)"
	if [ -n "$$unformatted" ]; then
		echo "gofmt needed on:" >&2
		echo "$$unformatted" >&2
		exit 1
	fi

## go-test: only the Go tests (with PostgreSQL), without vet/fmt/e2e.
go-test:
	$(WITH_TEST_POSTGRES)
	$(GO) test -race -count=1 ./...

## e2e: Playwright browser tests (builds the server, installs chromium/npm packages when missing).
e2e:
	scripts/e2e.sh

## bench: Go benchmarks (with PostgreSQL), then the load driver cmd/loadtest if it exists.
## BenchmarkImport imports BENCH_IMPORT_ROWS citizens (default 1,000,000) on each database.
## BenchmarkCampaign reports over BENCH_CAMPAIGN_ACCOUNTS citizens (default 1,000,000),
## BenchmarkReminderRound reminds BENCH_REMINDERS citizens at risk (default 100,000), and
## BenchmarkExpiryJob expires BENCH_EXPIRY_KEYS token cards (default 100,000, to keep the run
## bounded; BENCH_EXPIRY_KEYS=1000000 make bench measures a million). BENCH_TIMEOUT bounds
## each package.
BENCH_IMPORT_ROWS ?= 1000000
BENCH_CAMPAIGN_ACCOUNTS ?= 1000000
BENCH_REMINDERS ?= 100000
BENCH_EXPIRY_KEYS ?= 100000
BENCH_TIMEOUT ?= 60m
bench:
	$(WITH_TEST_POSTGRES)
	SLEUTELBOS_BENCH_IMPORT_ROWS=$(BENCH_IMPORT_ROWS) SLEUTELBOS_BENCH_CAMPAIGN_ACCOUNTS=$(BENCH_CAMPAIGN_ACCOUNTS) \
		SLEUTELBOS_BENCH_REMINDERS=$(BENCH_REMINDERS) SLEUTELBOS_BENCH_EXPIRY_KEYS=$(BENCH_EXPIRY_KEYS) \
		$(GO) test -run='^$$' -bench=. -benchmem -timeout=$(BENCH_TIMEOUT) ./...
	if [ -d cmd/loadtest ]; then
		$(GO) build -o $(BIN) ./cmd/sleutelbos
		$(GO) build -o bin/loadtest ./cmd/loadtest
		echo "make: running bin/loadtest $(LOADTEST_FLAGS) (hard cap $(LOADTEST_TIMEOUT))" >&2
		timeout --signal=INT --kill-after=15s $(LOADTEST_TIMEOUT) bin/loadtest -json bin/loadtest.json $(LOADTEST_FLAGS)
	else
		echo "make: no cmd/loadtest yet; skipping the load driver" >&2
	fi

## build: bin/sleutelbos
build:
	$(GO) build -o $(BIN) ./cmd/sleutelbos

## run: the server with demo citizens on 127.0.0.1:8080 (SQLite under ./data)
run:
	$(GO) run ./cmd/sleutelbos serve --demo
