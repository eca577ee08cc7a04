# Kilt — build, run and test. `make test` is what CI runs; it installs what the tests need.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-deps vet fmt bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kilt ./cmd/kilt

run:
	$(GO) run ./cmd/kilt serve --dev

# Every test, with the race detector, the PostgreSQL suite on (a missing PostgreSQL fails).
test: test-deps
	$(GO) vet ./...
	KILT_TEST_POSTGRES=1 $(GO) test -race -count=1 -timeout 20m ./...

test-deps:
	@scripts/test-deps.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
