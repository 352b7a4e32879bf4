# Thin wrapper: system packages, build, and the entry points. The logic lives in Swift.
SHELL := /bin/bash
NOISE ?= 0.2
DATA ?= builtin
LAYOUT ?= images
EPOCHS ?=
SEED ?= 0
JOBS ?= 2
APT_PACKAGES := pkg-config libopenblas-dev libzstd-dev libjpeg-dev

.PHONY: deps build release pipeline test bench clean-cache

# Installs the system libraries when pkg-config cannot find them (machines run as root).
deps:
	@if ! command -v pkg-config >/dev/null || ! pkg-config --exists openblas libzstd libjpeg; then \
	  echo "installing $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	swift build

release: deps
	swift build -c release

pipeline: release
	.build/release/mscn run Pipelines/mscn.yaml --set noise=$(NOISE) --set data=$(DATA) \
	  --set layout=$(LAYOUT) --set seed=$(SEED) $(if $(EPOCHS),--set epochs=$(EPOCHS)) -j $(JOBS)

test: deps
	swift build --build-tests
	swift test --skip-build

bench: release
	.build/release/mscn-bench $(BENCH)
