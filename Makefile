# Thin wrapper: system packages, build, and the entry points. The logic lives in Swift.
SHELL := /bin/bash
NOISE ?= 0.2
DATA ?= builtin
LAYOUT ?= images
EPOCHS ?=
SEED ?= 0
JOBS ?= 2
APT_PACKAGES := pkg-config libopenblas-dev libzstd-dev libjpeg-dev

RUN_SETS = --set noise=$(NOISE) --set data=$(DATA) --set layout=$(LAYOUT) --set seed=$(SEED) $(if $(EPOCHS),--set epochs=$(EPOCHS))

NOISES ?= 0.0 0.2 0.5 0.7
SEEDS ?= 0 1 2

.PHONY: deps build release pipeline baseline standard oracle sweep test bench

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

# The whole MSCN experiment; prints the test metrics, leaves Data/runs/latest/.
pipeline: release
	.build/release/mscn run Pipelines/mscn.yaml $(RUN_SETS) -j $(JOBS)

# The robust-loss baseline (warm-up loss throughout) with the same data, noise and warm-up.
baseline: release
	.build/release/mscn run Pipelines/baseline.yaml $(RUN_SETS) -j $(JOBS)

# The paper's comparison rows: standard training on all noisy pairs (SGRAF), and on the clean
# pairs only (SGR-C, an oracle).
standard: release
	.build/release/mscn run Pipelines/standard.yaml $(RUN_SETS) -j $(JOBS)

oracle: release
	.build/release/mscn run Pipelines/oracle.yaml $(RUN_SETS) -j $(JOBS)

# Every NOISES × SEEDS combination for MSCN, standard, oracle and the robust-loss baseline, sharing
# cached stages; writes a
# results table (CSV, Markdown) and an HTML report under Data/sweeps/.
sweep: release
	.build/release/mscn sweep Pipelines/mscn.yaml --grid "noise=$(NOISES)" --grid "seed=$(SEEDS)" \
	  --set data=$(DATA) --set layout=$(LAYOUT) $(if $(EPOCHS),--set epochs=$(EPOCHS)) -j $(JOBS)

test: deps
	swift build --build-tests
	swift test --skip-build

bench: release
	.build/release/mscn-bench $(BENCH)
