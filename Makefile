# The two entry points of README.md: `make quickstart` and `make test`.
# Fetched models, ONNX Runtime and the feature cache live in the gitignored .cache/.
export DOGRUN_CACHE ?= $(CURDIR)/.cache/dogrun
GO ?= go

.PHONY: quickstart test setup bootstrap build bench

build:
	$(GO) build -o dogrun ./cmd/dogrun

# Installs what dogrun needs from the package registries (first: the build
# needs a C compiler and libjpeg-turbo's headers) and fetches every backbone
# with its sha256 checked. Idempotent.
setup: bootstrap build
	./dogrun setup

bootstrap:
	scripts/bootstrap

quickstart: setup
	./dogrun run experiments/quickstart.yaml
	./dogrun report quickstart

test: setup
	scripts/bootstrap --test
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) test -timeout 30m ./...
	# A short fuzz of the experiment parser (schemas/fuzz_test.go); new
	# crashers land in schemas/testdata/fuzz/ and then run in every go test.
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 30s ./schemas

# README "Speed": minutes of benchmarks; run them on an idle machine. PyTorch
# (Debian's python3-torch) is installed here only, not for make test, with
# OpenBLAS: Debian's PyTorch calls whatever libblas.so.3 is, and without
# OpenBLAS that is the unoptimised reference BLAS, no fair peer.
# threadpoolctl lets the bench name the BLAS kernel PyTorch ran on.
BENCH_DEBS = python3-torch python3-threadpoolctl libopenblas0-pthread
bench: setup
	dpkg -s $(BENCH_DEBS) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEBS); }
	$(GO) run ./cmd/bench -data ../shared/data/dogfacenet -out bench/results.md
