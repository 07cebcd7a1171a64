#!/usr/bin/env bash
# Regenerates smollm2-q4_1.json: llama-bench's real JSON output (the pinned llama.cpp of the
# Makefile, llama-cpp-python==0.3.36's vendored sources) on SmolLM2-135M-Instruct Q4_1, four tests
# in one run (pp64 and tg8, each at depth 0 and 64), so a parser must pick its test by n_prompt,
# n_gen and n_depth. The speeds in it are whatever the machine gave; tests read them, not expect them.
# Usage: LLAMA_BENCH=path/to/llama-bench MODEL=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf [LLAMA_COMPLETION=… BASE=… ADAPTER=…] make-fixture.sh
set -euo pipefail
: "${LLAMA_BENCH:?}" "${MODEL:?}"
"$LLAMA_BENCH" -m "$MODEL" -p 64 -n 8 -d 0,64 -t 2 -r 2 -o json 2>/dev/null > "$(dirname "$0")/smollm2-q4_1.json"

# llama-completion-lora.log: llama-completion's log (stderr) timing a base model with a LoRA
# adapter, as `LlamaCompletion` runs it: a 15-token prompt, 16 tokens generated (15 timed decode
# steps). BASE and ADAPTER are `make export-check`'s QLoRA* export
# (.cache/export/qlora-uniform-w4g64.gguf and .lora.gguf); LLAMA_COMPLETION is beside llama-bench.
if [ -n "${LLAMA_COMPLETION:-}" ]; then
  : "${BASE:?}" "${ADAPTER:?}"
  "$LLAMA_COMPLETION" -m "$BASE" --lora "$ADAPTER" -p "The capital of France is a city with a long history. It has been" \
    -n 16 --ignore-eos --temp 0 -t 2 -no-cnv --perf --simple-io < /dev/null 2> "$(dirname "$0")/llama-completion-lora.log" > /dev/null
fi
