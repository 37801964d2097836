# Reelay. `make run` sets up and runs the app on its built-in demo;
# `make test` sets up and runs every test.
SHELL := /bin/bash
GO ?= go
BIN := reelay
# Build tags of every build and test: migrated_fynedo says every widget is
# touched on Fyne's goroutine (through fyne.Do), so Fyne skips its thread
# checks; no_emoji leaves out Fyne's 4 MB colour emoji font, which Fyne
# would parse into memory for each text style (the system's fonts still
# draw an emoji when one is needed).
TAGS := migrated_fynedo no_emoji

.PHONY: run test build bundle deps deps-test bench demo-assets clean

run: deps build
	./$(BIN) demo

# Fuzzing for each of the wire's request decoder, the link parser and the
# manifest parser (-fuzz takes one target a run), then every test. The
# budgets are counts of inputs, about 10 s each here: a budget in time
# races Go 1.26's fuzzing coordinator at its deadline on a busy machine
# ("context deadline exceeded" with no failing input, go.dev/issue/75804).
FUZZ := -run '^$$' -fuzztime 30000x
test: deps-test
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test $(FUZZ) -fuzz '^FuzzDecodeRequest$$' ./net/
	$(GO) test $(FUZZ) -fuzz '^FuzzParseLink$$' ./net/
	$(GO) test $(FUZZ) -fuzz '^FuzzParseManifest$$' ./net/
	.ci/av-env $(GO) test -tags '$(TAGS)' -race -count=1 -timeout 20m ./...

build: deps
	$(GO) build -tags '$(TAGS)' -o $(BIN) .

# An installable desktop bundle, dist/Reelay.tar.xz: the binary, a
# .desktop entry and the icon (from FyneApp.toml), with a Makefile that
# installs them: tar xJf dist/Reelay.tar.xz && make -C reelay user-install
FYNE := $(shell $(GO) env GOPATH)/bin/fyne
bundle: deps
	test -x $(FYNE) || $(GO) install fyne.io/fyne/v2/cmd/fyne@v2.7.1
	rm -rf dist/bundle && mkdir -p dist/bundle/assets
	$(GO) build -tags '$(TAGS)' -trimpath -ldflags "-s -w" -o dist/bundle/$(BIN) .
	cp FyneApp.toml dist/bundle/ && cp assets/icon.png dist/bundle/assets/
	cd dist/bundle && $(FYNE) package -os linux --executable $(BIN) --release
	mv dist/bundle/Reelay.tar.xz dist/ && rm -rf dist/bundle

deps:
	.ci/deps build

deps-test:
	.ci/deps test

# Benchmarks report ratios against a baseline measured in the same run.
bench: deps-test
	.ci/av-env $(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchtime 3x ./...

# Regenerates assets/demo (committed) from FFmpeg's test sources.
demo-assets:
	assets/make-demo.sh

clean:
	rm -rf $(BIN) dist
