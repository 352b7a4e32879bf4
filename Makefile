# Thin wrapper: system packages, build, and the entry points. The logic lives in Swift.
SHELL := /bin/bash
NOISE ?= 0.2
DATA ?= builtin
LAYOUT ?= images
EPOCHS ?=
SEED ?= 0
META_RULE ?=
FOLDS ?=
SETS ?=
JOBS ?= 2
APT_PACKAGES := pkg-config libopenblas-dev libzstd-dev libjpeg-dev
# Where stages run: local, or slurm (one sbatch job per stage; SLURM_ARGS like
# "--slurm-partition cpu --slurm-time 4:00:00 --retries 2").
EXECUTOR ?= local
SLURM_ARGS ?=
EXEC_ARGS = --executor $(EXECUTOR) $(SLURM_ARGS)

# META_RULE (flickr, coco, given) and FOLDS (test images per fold; 1000 by default with coco)
# override the pipeline's defaults when set; SETS passes further "--set name=value" words.
RUN_SETS = --set noise=$(NOISE) --set data=$(DATA) --set layout=$(LAYOUT) --set seed=$(SEED) $(if $(EPOCHS),--set epochs=$(EPOCHS)) \
  $(if $(META_RULE),--set meta_rule=$(META_RULE)) $(if $(FOLDS),--set folds=$(FOLDS)) $(SETS)

NOISES ?= 0.0 0.2 0.5 0.7
SEEDS ?= 0 1 2

.PHONY: deps fresh-build-dir build release pipeline baseline standard oracle sweep test test-slurm fuzz bench bench-compare parity-grid parity-sizes

# Installs the system libraries when pkg-config cannot find them (machines run as root).
deps:
	@if ! command -v pkg-config >/dev/null || ! pkg-config --exists openblas libzstd libjpeg; then \
	  echo "installing $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

# SwiftPM's incremental build can leave a module compiled against an older layout of another
# module's public struct: after a commit that added a stored property to TensorFile's StoredTensor,
# an incremental build from the commit before kept Artefacts on the old layout and the stages
# crashed (a clean build was fine). So a build after the checkout moved to another commit, or
# into a build folder of unknown origin, starts from scratch; the resolved packages are kept.
BUILT_FROM := .build/mscn-built-from
fresh-build-dir:
	@head=$$(git rev-parse HEAD 2>/dev/null || echo unknown); \
	if [ "$$(cat $(BUILT_FROM) 2>/dev/null)" != "$$head" ]; then \
	  if [ -n "$$(ls -d .build/*-*-*/debug .build/*-*-*/release 2>/dev/null)" ]; then \
	    echo "the checkout is not the one last built ($$head): building from scratch"; \
	    rm -rf .build/*-*-*/debug .build/*-*-*/release; \
	  fi; \
	  mkdir -p .build && echo "$$head" > $(BUILT_FROM); \
	fi

build: deps fresh-build-dir
	swift build

release: deps fresh-build-dir
	swift build -c release

# The make variables that pick this run's data and settings, to repeat in the comparison hint.
SAME_RUN = NOISE=$(NOISE)$(if $(filter-out builtin,$(DATA)), DATA=$(DATA))$(if $(filter-out images,$(LAYOUT)), LAYOUT=$(LAYOUT))$(if \
  $(filter-out 0,$(SEED)), SEED=$(SEED))$(if $(EPOCHS), EPOCHS=$(EPOCHS))$(if $(META_RULE), META_RULE=$(META_RULE))$(if \
  $(FOLDS), FOLDS=$(FOLDS))$(if $(SETS), SETS='$(SETS)')
# The finished run in a few lines (cached or not): warm-up AUC, purification, dev rSum per round, test.
SUMMARY = @echo; .build/release/mscn report --run Data/runs/latest --summary

# The whole MSCN experiment; prints the test metrics and the run's summary, leaves Data/runs/latest/.
pipeline: release
	.build/release/mscn run Pipelines/mscn.yaml $(RUN_SETS) -j $(JOBS) $(EXEC_ARGS)
	$(SUMMARY)
	@echo "beside it, on the same data and noise: make oracle $(SAME_RUN) (clean pairs only)," \
	  "make standard $(SAME_RUN) (all noisy pairs, the usual loss), make baseline $(SAME_RUN) (a robust loss);" \
	  "the page: Data/runs/latest/report.html"

# The robust-loss baseline (warm-up loss throughout) with the same data, noise and warm-up.
baseline: release
	.build/release/mscn run Pipelines/baseline.yaml $(RUN_SETS) -j $(JOBS) $(EXEC_ARGS)
	$(SUMMARY)

# The paper's comparison rows: standard training on all noisy pairs (SGRAF), and on the clean
# pairs only (SGR-C, an oracle).
standard: release
	.build/release/mscn run Pipelines/standard.yaml $(RUN_SETS) -j $(JOBS) $(EXEC_ARGS)
	$(SUMMARY)

oracle: release
	.build/release/mscn run Pipelines/oracle.yaml $(RUN_SETS) -j $(JOBS) $(EXEC_ARGS)
	$(SUMMARY)

# Every NOISES × SEEDS combination for MSCN, standard, oracle and the robust-loss baseline, sharing
# cached stages; writes a
# results table (CSV, Markdown) and an HTML report under Data/sweeps/. DRY_RUN=1 only says what
# would run and about how long it takes.
sweep: release
	.build/release/mscn sweep Pipelines/mscn.yaml --grid "noise=$(NOISES)" --grid "seed=$(SEEDS)" \
	  --set data=$(DATA) --set layout=$(LAYOUT) $(if $(EPOCHS),--set epochs=$(EPOCHS)) -j $(JOBS) $(EXEC_ARGS) $(if $(DRY_RUN),--dry-run)

test: deps fresh-build-dir
	swift build --build-tests
	swift test --skip-build

# The SLURM tests against a real one-node cluster on localhost (Tests/Slurm/cluster.sh), started
# for the tests and stopped afterwards even when they fail. `make test` skips them.
SLURM_APT_PACKAGES := slurm-wlm munge
test-slurm: deps
	@if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then \
	  echo "installing $(SLURM_APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SLURM_APT_PACKAGES); \
	fi
	swift build --build-tests
	@dir="$$(mktemp -d /tmp/mscn-slurm-XXXXXX)" && rmdir "$$dir" && \
	trap 'Tests/Slurm/cluster.sh stop "$$dir"' EXIT && \
	Tests/Slurm/cluster.sh start "$$dir" && \
	SLURM_CONF="$$dir/slurm.conf" MSCN_SLURM_TESTS=1 swift test --skip-build --filter SlurmTests

# The bad-input campaign (Tests/Fuzz/fuzz.py): ~730 damaged inputs over every stage (truncated and
# bit-flipped tensor files, well-formed files with wrong contents, damaged JPEGs and caption files,
# bad npy headers and JSON, missing files, unwritable outputs, a full disk, out-of-range options);
# each must fail with one error line, no crash or hang, no finished-looking output and no temporary
# left behind. Its inputs (a 100-image data set through every stage) are made with the release
# build into Data/fuzz/inputs and reused while the binaries are unchanged; results go to
# Data/fuzz/results.jsonl and Data/fuzz/fuzz.log; it fails when a case is flagged. The full-disk
# (tmpfs) and unwritable-folder (setpriv to nobody) cases need root and are skipped without it.
# FUZZ="mscn-noise report" runs the cases whose stage or name contains one of the words.
# (zstd comes from libzstd1, which `deps` installs with libzstd-dev; mount and setpriv from util-linux.)
FUZZ ?=
FUZZ_APT_PACKAGES := python3 python3-numpy
fuzz: release
	@if ! command -v python3 >/dev/null || ! python3 -c 'import numpy' 2>/dev/null; then \
	  echo "installing $(FUZZ_APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FUZZ_APT_PACKAGES); \
	fi
	python3 Tests/Fuzz/fuzz.py --bin .build/release --work Data/fuzz $(FUZZ)

bench: release
	.build/release/mscn-bench $(BENCH)

# Our training/purification/evaluation phases against the official PyTorch code on identical
# inputs, at the built-in, d=256 and paper sizes (REF_PY: a Python with torch; MSCN_REF: the
# official code's folder). Without REF_PY only our side runs. COMPARE=builtin,d256 picks configs.
# Our side runs as the pipelines' training stages do (Pipelines/mscn.yaml: Haswell kernels,
# OpenBLAS's two-thread split replayed on one thread, idle OpenBLAS threads asleep); a value
# already in the environment wins, and without AVX2 none is set. OURS_BLAS=native: OpenBLAS's own.
REF_PY ?=
COMPARE ?=
OURS_BLAS ?= stages
STAGE_BLAS = OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-Haswell} MSCN_SERIAL_BLAS=$${MSCN_SERIAL_BLAS:-1} OPENBLAS_THREAD_TIMEOUT=$${OPENBLAS_THREAD_TIMEOUT:-12}
bench-compare: release
	env $(if $(filter stages,$(OURS_BLAS)),$$(grep -qsw avx2 /proc/cpuinfo && echo "$(STAGE_BLAS)")) \
	  MSCN_REF_PY=$(REF_PY) $(if $(COMPARE),MSCN_COMPARE=$(COMPARE)) .build/release/mscn-bench compare
# The reference parity grid (issue 11): dumps every configuration of Tests/Reference/parity-grid.txt
# with the official code (REF_PY: a Python with torch; MSCN_REF: the official code's folder; see
# Tests/Reference/parity_dump.py) into Data/parity-grid (skipping finished ones), then runs
# `mscn parity` on each with both similarity backends and prints the meta-gradient error table.
# PARITY=<regex> restricts it to matching names.
MSCN_REF ?= $(HOME)/mscn_ref
PARITY ?=
parity-grid: build
	@test -n "$(REF_PY)" || { echo 'make parity-grid needs REF_PY=/path/to/venv/bin/python (with torch)'; exit 2; }
	REFPY=$(REF_PY) MSCN_REF=$(MSCN_REF) Tests/Reference/parity_grid.sh generate Data/parity-grid '$(PARITY)'
	Tests/Reference/parity_grid.sh check Data/parity-grid .build/debug/mscn '$(PARITY)'
	Tests/Reference/parity_grid.sh table Data/parity-grid .build/debug/mscn '$(PARITY)'
# The same at the sizes the pipelines and the bench run (Tests/Reference/parity-sizes.txt: built-in,
# d=256, paper) into Data/parity-sizes, checked with the release build twice: as OpenBLAS comes and
# as the training stages run (STAGE_BLAS: Haswell kernels, the two-thread split replayed on one
# thread). The paper-size dump needs ~9 GB of memory and ~1.5 GB of disk.
parity-sizes: release
	@test -n "$(REF_PY)" || { echo 'make parity-sizes needs REF_PY=/path/to/venv/bin/python (with torch)'; exit 2; }
	GRID=Tests/Reference/parity-sizes.txt REFPY=$(REF_PY) MSCN_REF=$(MSCN_REF) Tests/Reference/parity_grid.sh generate Data/parity-sizes '$(PARITY)'
	GRID=Tests/Reference/parity-sizes.txt Tests/Reference/parity_grid.sh check Data/parity-sizes .build/release/mscn '$(PARITY)'
	env $$(grep -qsw avx2 /proc/cpuinfo && echo "$(STAGE_BLAS)") GRID=Tests/Reference/parity-sizes.txt \
	  Tests/Reference/parity_grid.sh check Data/parity-sizes .build/release/mscn '$(PARITY)'
	GRID=Tests/Reference/parity-sizes.txt Tests/Reference/parity_grid.sh table Data/parity-sizes .build/release/mscn '$(PARITY)'
