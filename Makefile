# The two entry points of README.md: `make quickstart` and `make test`.
# Fetched models, ONNX Runtime and the feature cache live in the gitignored .cache/.
export DOGRUN_CACHE ?= $(CURDIR)/.cache/dogrun
GO ?= go

.PHONY: quickstart test setup build

build:
	$(GO) build -o dogrun ./cmd/dogrun

# Installs what dogrun needs from the package registries and fetches every
# backbone with its sha256 checked. Idempotent.
setup: build
	scripts/bootstrap
	./dogrun setup

quickstart: setup
	./dogrun run experiments/quickstart.yaml
	./dogrun report quickstart

test: setup
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) test -timeout 30m ./...
