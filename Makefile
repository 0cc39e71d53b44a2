# The two entry points of README.md: `make quickstart` and `make test`.
# Fetched models, ONNX Runtime and the feature cache live in the gitignored
# .cache/dogrun, where dogrun finds them from this folder or any below it.
export DOGRUN_CACHE ?= $(CURDIR)/.cache/dogrun
GO ?= go
export GO

.PHONY: quickstart test setup bootstrap build bench

# Each phase says what it does and, at its end, how long it took.
quickstart: build
	@scripts/phase setup ./dogrun setup
	@scripts/phase run ./dogrun run experiments/quickstart.yaml
	@scripts/phase report ./dogrun report quickstart

# Installs what the build needs (a C compiler, libjpeg-turbo's headers) when
# it is missing; `scripts/bootstrap --test` adds what only the tests need.
bootstrap:
	@scripts/phase bootstrap scripts/bootstrap

# Shows how far a first (cold) build got: it takes minutes.
build: bootstrap
	@scripts/phase build scripts/build

# ONNX Runtime and the default backbone; `./dogrun setup -all` fetches them all.
setup: build
	./dogrun setup

test: build
	scripts/bootstrap --test
	./dogrun setup -all
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) test -timeout 30m ./...
	# A short fuzz of the experiment parser (schemas/fuzz_test.go); new
	# crashers land in schemas/testdata/fuzz/ and then run in every go test.
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./schemas

# docs/benchmarks.md "Speed": minutes of benchmarks; run them on an idle machine. PyTorch
# (Debian's python3-torch) is installed here only, not for make test, with
# OpenBLAS: Debian's PyTorch calls whatever libblas.so.3 is, and without
# OpenBLAS that is the unoptimised reference BLAS, no fair peer.
# threadpoolctl lets the bench name the BLAS kernel PyTorch ran on.
BENCH_DEBS = python3-torch python3-threadpoolctl libopenblas0-pthread
bench: build
	./dogrun setup -all
	dpkg -s $(BENCH_DEBS) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEBS); }
	$(GO) run ./cmd/bench -data ../shared/data/dogfacenet -out bench/results.md
