# Reelay. `make run` sets up and runs the app on its built-in demo;
# `make test` sets up and runs every test.
SHELL := /bin/bash
GO ?= go
BIN := reelay

.PHONY: run test build deps deps-test bench fuzz demo-assets clean

run: deps build
	./$(BIN) demo

test: deps-test
	$(GO) vet ./...
	.ci/av-env $(GO) test -race -count=1 -timeout 20m ./...

build: deps
	$(GO) build -o $(BIN) .

deps:
	.ci/deps build

deps-test:
	.ci/deps test

# Benchmarks report ratios against a baseline measured in the same run.
bench: deps-test
	.ci/av-env $(GO) test -run '^$$' -bench . -benchtime 3x ./...

# Regenerates assets/demo (committed) from FFmpeg's test sources.
demo-assets:
	assets/make-demo.sh

clean:
	rm -f $(BIN)
