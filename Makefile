# berth: run `make help` for the targets.

# Go from the go.dev tarball lives in /usr/local/go.
ifeq ($(shell command -v go 2>/dev/null),)
ifneq ($(wildcard /usr/local/go/bin/go),)
export PATH := $(PATH):/usr/local/go/bin
endif
endif

# Any user may run the unit tests. When HOME is not writable (nobody's is
# /nonexistent), Go's and staticcheck's caches go under the temp dir.
ifeq ($(shell test -n "$$HOME" && test -w "$$HOME" && echo yes),)
GO_TMP_HOME := $(or $(TMPDIR),/tmp)/berth-go-$(shell id -u)
$(shell mkdir -p -m 0700 $(GO_TMP_HOME))
ifneq ($(shell stat -c %u $(GO_TMP_HOME)),$(shell id -u))
$(error $(GO_TMP_HOME) belongs to another user: set GOCACHE and GOPATH to directories of your own)
endif
export GOCACHE ?= $(GO_TMP_HOME)/cache
export GOPATH ?= $(GO_TMP_HOME)/gopath
export XDG_CACHE_HOME ?= $(GO_TMP_HOME)/xdg-cache
export GOFLAGS += -modcacherw
endif

# Go stamps binaries with git's view of the checkout; when git refuses to
# look (a checkout that belongs to another user), build without the stamp.
ifeq ($(shell git rev-parse --git-dir >/dev/null 2>&1 && echo ok),)
export GOFLAGS += -buildvcs=false
endif

GO ?= go
export CGO_ENABLED := 1
STATICCHECK_VERSION ?= v0.7.0
# The binaries are linked statically, as runc's releases are: every
# container start and exec runs the binary twice (the command and the
# container's init), and a static one starts without the dynamic loader
# (about 1 ms less per exec here). netgo and osusergo keep glibc's
# name-service code, which a static binary cannot load, out of it.
STATIC := netgo osusergo
STATIC_LDFLAGS := -linkmode external -extldflags -static
# Flags for go test, e.g. make test-unit TESTFLAGS='-run TestBundle -v'
TESTFLAGS ?=

.DEFAULT_GOAL := help
# Targets run one after another: test-root must not overlap test-unit.
.NOTPARALLEL:
.PHONY: help setup setup-docker build test test-unit test-root bench bench-runtime bench-images bench-containers bench-network bench-build bench-compose lint demo clean

help: ## show the targets
	@echo "usage: make TARGET"
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## install missing build, test and benchmark packages (root), check Go
	scripts/setup.sh

setup-docker: ## setup, plus docker.io for the Docker tests
	scripts/setup.sh --docker

build: ## build bin/berth, bin/berth-compose (berth whole, for compose), bin/berth-runc (the runtime alone), and bin/berth-init, the static init of run --init
	$(GO) build -tags 'lean $(STATIC)' -ldflags '$(STATIC_LDFLAGS)' -o bin/berth ./cmd/berth
	$(GO) build -tags '$(STATIC)' -ldflags '$(STATIC_LDFLAGS)' -o bin/berth-compose ./cmd/berth
	rm -f bin/berth-runc
	$(GO) build -tags '$(STATIC)' -ldflags '$(STATIC_LDFLAGS)' -o bin/berth-runc ./cmd/berth-runc
	$(CC) -static -Os -s -Wall -Wextra -o bin/berth-init cmd/berth-init/init.c

test: setup-docker test-unit test-root ## setup (Docker too, for its tests), then unit and root tests (what CI runs)

test-unit: ## unit tests: any user, fast; root tests skip
	env -u BERTH_TEST_ROOT $(GO) test -short $(TESTFLAGS) ./...

test-root: ## all tests, root ones included (as root)
	@if [ "$$(id -u)" -ne 0 ]; then echo "make test-root: run it as root" >&2; exit 1; fi
	BERTH_TEST_ROOT=1 $(GO) test -p 1 -count=1 $(TESTFLAGS) ./...

bench: setup-docker build ## every part: runtime, images, containers, network, build, compose; one docs/BENCHMARKS.md (root)
	bench/setup.sh
	@status=0; \
	bench/run.sh || status=1; \
	bench/images.sh || status=1; \
	bench/containers.sh || status=1; \
	bench/network.sh || status=1; \
	bench/build.sh || status=1; \
	bench/compose.sh || status=1; \
	exit $$status

bench-runtime: setup build ## berth-runc vs runc and crun; its part of docs/BENCHMARKS.md (root)
	bench/run.sh

bench-images: setup-docker build ## pull, load, import, save vs docker, skopeo, tar; its part of docs/BENCHMARKS.md (root)
	bench/images.sh

bench-containers: setup-docker build ## run, exec, idle memory, 1000 containers vs docker, podman; its part of docs/BENCHMARKS.md (root)
	bench/setup.sh
	bench/containers.sh

bench-network: setup-docker build ## throughput of a published port on loopback vs docker-proxy and podman; its part of docs/BENCHMARKS.md (root)
	bench/setup.sh
	bench/network.sh

bench-build: setup-docker build ## berth build vs docker's classic builder and buildah; its part of docs/BENCHMARKS.md (root)
	bench/setup.sh
	bench/build.sh

bench-compose: setup-docker build ## compose up -d and down of examples/busybox vs docker-compose; its part of docs/BENCHMARKS.md (root)
	bench/setup.sh
	bench/compose.sh

lint: ## gofmt, go vet and staticcheck; runs all three, fails if any fails
	@status=0; \
	files=$$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || \
		find . -name '*.go' -not -path './.git/*'); \
	out=$$(if [ -n "$$files" ]; then gofmt -l $$files; fi); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; status=1; fi; \
	echo "$(GO) vet ./..."; $(GO) vet ./... || status=1; \
	echo "$(GO) vet -tags lean ./internal/cli"; $(GO) vet -tags lean ./internal/cli || status=1; \
	echo "staticcheck $(STATICCHECK_VERSION) ./..."; \
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./... || status=1; \
	exit $$status

demo: setup build ## run a busybox container: own hostname, own ps, a memory limit (root)
	scripts/demo.sh

clean: ## remove bin/ and bench/out/
	rm -rf bin bench/out

.PHONY: conformance
conformance: setup build ## OCI runtime-tools validation suite on runc and berth; writes docs/CONFORMANCE.md (root)
	conformance/run.sh
