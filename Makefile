# Kilt — build, run and test. `make test` is what CI runs; it installs what the tests need.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-deps vet fmt bench clean screenshots fuzz

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -tags no_otel -ldflags '$(LDFLAGS)' -o bin/kilt ./cmd/kilt

run:
	$(GO) run -tags no_otel ./cmd/kilt serve --dev

# Every test, with the race detector, the PostgreSQL suite on (a missing PostgreSQL fails).
test: test-deps
	$(GO) vet ./...
	KILT_TEST_POSTGRES=1 KILT_TEST_BROWSER=1 KILT_TEST_LINT=1 $(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	@scripts/test-deps.sh

# Every fuzz target for FUZZTIME each (default 60s: `make fuzz FUZZTIME=10m`), stopping at the
# first failure; `make test` runs only their seed corpora.
fuzz:
	GO='$(GO)' FUZZTIME='$(FUZZTIME)' FUZZMINIMIZETIME='$(FUZZMINIMIZETIME)' scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# docs/screenshots/: the Kazakh pages on a phone and a desktop, taken by the browser tests.
screenshots:
	@GO='$(GO)' scripts/screenshots.sh
