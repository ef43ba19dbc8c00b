# nsqpub: `make test` is what CI runs (.ci/run). Everything it needs is built
# here from the Go module proxy, including the real nsqd v1.3.0.
GO      ?= go
NSQD    := e2e/bin/nsqd
NSQLOOKUPD := e2e/bin/nsqlookupd
NSQPUB  := bin/nsqpub

.PHONY: test lint unit e2e soak demo nsqd bench clean

test: lint unit e2e

lint:
	@if grep -qE '^\s*require' go.mod; then echo "go.mod has a require: the library must stay stdlib-only"; exit 1; fi
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd e2e && $(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

e2e: $(NSQD) $(NSQLOOKUPD)
	cd e2e && NSQD_BIN=$(CURDIR)/$(NSQD) NSQLOOKUPD_BIN=$(CURDIR)/$(NSQLOOKUPD) $(GO) test -race -count=1 -timeout 30m ./...

# The fault suite (e2e/faults_test.go) in its long form: more seeds, more
# messages, more cuts and restarts. Every run prints its RESULT lines.
soak: $(NSQD)
	cd e2e && NSQPUB_SOAK=1 NSQD_BIN=$(CURDIR)/$(NSQD) $(GO) test -race -count=1 -v -timeout 90m -run 'TestFault' ./...

nsqd: $(NSQD)

$(NSQD): e2e/go.mod e2e/go.sum
	cd e2e && $(GO) build -o bin/nsqd github.com/nsqio/nsq/apps/nsqd

$(NSQLOOKUPD): e2e/go.mod e2e/go.sum
	cd e2e && $(GO) build -o bin/nsqlookupd github.com/nsqio/nsq/apps/nsqlookupd

$(NSQPUB): $(wildcard *.go cmd/nsqpub/*.go)
	$(GO) build -o $(NSQPUB) ./cmd/nsqpub

demo: $(NSQD) $(NSQPUB)
	cd e2e && $(GO) run ./cmd/demo -nsqd $(CURDIR)/$(NSQD) -nsqpub $(CURDIR)/$(NSQPUB) -n 100000

# bench compares nsqpub with go-nsq v1.1.0 on a real nsqd (see
# BENCHMARKS.md); it writes its charts and results.md to docs/bench. Flags go
# through BENCHFLAGS, e.g. BENCHFLAGS="-parts table -modes async -sizes 100".
bench: $(NSQD)
	cd e2e && $(GO) run ./cmd/bench -nsqd $(CURDIR)/$(NSQD) -out $(CURDIR)/docs/bench $(BENCHFLAGS)

clean:
	rm -rf bin e2e/bin
