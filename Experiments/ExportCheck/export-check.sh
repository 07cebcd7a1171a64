#!/usr/bin/env bash
# `make export-check`: models qaft deploys, exported by `qaft export` to llama.cpp's own types and
# run by llama.cpp itself. Per model it checks that
#   * llama-tokenize's ids of the text equal `qaft tokenize`'s (the exported tokenizer keys work,
#     and both perplexities below see the same tokens);
#   * llama-perplexity equals `qaft perplexity --protocol llama-cpp` of the same deployed model
#     within 0.5 % (both score the second half of each 512-token chunk; llama.cpp rounds
#     activations to 8 bits in its quantized dot products, qaft does not, hence a bound, not equality);
#   * greedy text of llama.cpp (llama-completion --temp 0) equals `qaft generate`'s with float
#     activations (the deployed model's exact products; qaft's default decode rounds them to int8),
#     same prompt, same token count, or the two part at a near-tie: a step where qaft's top two
#     logits are less than NEAR_TIE apart (column "greedy" says "tie"). NEAR_TIE is the size of
#     the logit moves 8-bit activations cause: qaft's own int8 decode moves the chosen token's
#     logit by 0.11 (RTN w4) and 0.23 (GPTQ w3) on average over this prompt's steps, at most 0.37
#     and 0.61, against its float decode.
# llama.cpp runs in its most precise settings (RUNTIME: no flash attention, fp32 KV cache; its
# defaults keep K and V in fp16), so what differs is the file's arithmetic, not the runtime's options.
# prints one table row per model and exits non-zero when any check fails.
#
# Environment: QAFT (the qaft binary), LLAMA_BIN (llama.cpp's build/bin), MODEL (SmolLM2 GGUF),
# EXPORT_DIR (work folder), DATA (WikiText-2 test rows, JSON Lines). The fine-tuned rows run a few
# steps only: the check is about export, not accuracy.
set -euo pipefail
: "${QAFT:?}" "${LLAMA_BIN:?}" "${MODEL:?}" "${EXPORT_DIR:?}" "${DATA:?}"
CTX=512 BOUND=0.005 NEAR_TIE=0.25 PROMPT="The capital of France is" NEW_TOKENS=24
ALPACA=Experiments/Data/alpaca/alpaca_en_demo.json
RUNTIME=(-fa off -ctk f32 -ctv f32 -t 2)
mkdir -p "$EXPORT_DIR"
started=$SECONDS

# The first 100 test rows with the last newline dropped: llama.cpp's -f strips one trailing
# newline, qaft reads the file as it is, so the file must not end with one.
TEXT=$EXPORT_DIR/wikitext-100.txt
python3 -c 'import json,sys; t="".join(json.loads(l)["text"] for l in list(open(sys.argv[1]))[:100]); sys.stdout.write(t[:-1] if t.endswith("\n") else t)' \
  "$DATA" > "$TEXT"

# The deployed models: NAME then the command that writes $EXPORT_DIR/NAME.qaft.gguf.
finetune=(finetune --model "$MODEL" --quiet --data "$ALPACA" --steps 8 --batch-size 4 --micro-batch-size 4 --max-length 128)
deploy() {
  local name=$1; shift
  echo "== $name: $*" >&2
  "$QAFT" "$@" > "$EXPORT_DIR/$name.log"
}
deploy rtn-w4g64 quantize --model "$MODEL" --quiet --method rtn --bits 4 --group 64 --calibration-windows 0 -o "$EXPORT_DIR/rtn-w4g64.qaft.gguf"
deploy gptq-w3g64 quantize --model "$MODEL" --quiet --method gptq --bits 3 --group 64 --calibration-windows 16 -o "$EXPORT_DIR/gptq-w3g64.qaft.gguf"
deploy l4q-w4g64 "${finetune[@]}" --method l4q --bits 4 --group-size 64 --lr 1e-3 --deployed "$EXPORT_DIR/l4q-w4g64.qaft.gguf"
deploy lota-qaf-w4g64 "${finetune[@]}" --method lota-qaf --bits 4 --group-size 64 --calibration-windows 16 --deployed "$EXPORT_DIR/lota-qaf-w4g64.qaft.gguf"
deploy qlora-uniform-w4g64 "${finetune[@]}" --method qlora-uniform --bits 4 --group-size 64 --lr 2e-3 --deployed "$EXPORT_DIR/qlora-uniform-w4g64.qaft.gguf"

failed=0
: > "$EXPORT_DIR/notes.txt"
printf '\n%-22s %-11s %10s %14s %9s %7s %7s\n' model export "qaft ppl" "llama.cpp ppl" "rel diff" tokens greedy
for name in rtn-w4g64 gptq-w3g64 l4q-w4g64 lota-qaf-w4g64 qlora-uniform-w4g64; do
  deployed=$EXPORT_DIR/$name.qaft.gguf gguf=$EXPORT_DIR/$name.gguf adapter=$EXPORT_DIR/$name.lora.gguf
  rm -f "$gguf" "$adapter"
  "$QAFT" export "$deployed" -o "$gguf" > "$EXPORT_DIR/$name.export.txt"
  exact=$(grep -q '^bit-exact' "$EXPORT_DIR/$name.export.txt" && echo bit-exact || echo "not exact")
  lora=()
  [ -f "$adapter" ] && lora=(--lora "$adapter")

  "$QAFT" tokenize --model "$deployed" --quiet "$TEXT" > "$EXPORT_DIR/$name.qaft-ids.txt"
  "$LLAMA_BIN/llama-tokenize" -m "$gguf" -f "$TEXT" --ids --no-escape --log-disable 2>/dev/null > "$EXPORT_DIR/$name.llama-ids.txt"
  same_tokens=$(cmp -s "$EXPORT_DIR/$name.qaft-ids.txt" "$EXPORT_DIR/$name.llama-ids.txt" && echo same || echo DIFFER)

  "$QAFT" perplexity --model "$deployed" --quiet --protocol llama-cpp --window $CTX "$TEXT" > "$EXPORT_DIR/$name.qaft-ppl.txt"
  "$LLAMA_BIN/llama-perplexity" -m "$gguf" "${lora[@]}" -f "$TEXT" -c $CTX "${RUNTIME[@]}" > "$EXPORT_DIR/$name.llama-ppl.txt" 2>&1
  qppl=$(awk '/^perplexity/ {print $2}' "$EXPORT_DIR/$name.qaft-ppl.txt")
  lppl=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$EXPORT_DIR/$name.llama-ppl.txt")
  qchunks=$(sed -n 's/.*protocol: \([0-9]*\) chunks.*/\1/p' "$EXPORT_DIR/$name.qaft-ppl.txt")
  lchunks=$(sed -n 's/.*perplexity over \([0-9]*\) chunks.*/\1/p' "$EXPORT_DIR/$name.llama-ppl.txt")
  [ -n "$lppl" ] || { echo "$name: llama-perplexity gave no estimate (see $EXPORT_DIR/$name.llama-ppl.txt)"; lppl=nan; }
  rel=$(awk -v q="$qppl" -v l="$lppl" 'BEGIN { d = (l - q) / q; printf "%.5f", d < 0 ? -d : d }')

  "$QAFT" generate --model "$deployed" --quiet --tokens $NEW_TOKENS --decode-activations float32 --show-top 2 "$PROMPT" \
    > "$EXPORT_DIR/$name.qaft-greedy.txt" 2> "$EXPORT_DIR/$name.qaft-top.txt"
  "$LLAMA_BIN/llama-completion" -m "$gguf" "${lora[@]}" -p "$PROMPT" -n $NEW_TOKENS --temp 0 -no-cnv --no-display-prompt \
    "${RUNTIME[@]}" --simple-io 2>/dev/null < /dev/null | perl -0pe 's/\n\n\z/\n/' > "$EXPORT_DIR/$name.llama-greedy.txt"  # it ends with two newlines, qaft with one
  greedy=$(cmp -s "$EXPORT_DIR/$name.qaft-greedy.txt" "$EXPORT_DIR/$name.llama-greedy.txt" && echo yes || echo NO)
  if [ "$greedy" = NO ]; then
    # Where the texts part, the qaft step whose token covers that byte, and its top-2 margin.
    greedy=$(python3 -c 'import re, sys
a, b = (open(f).read() for f in sys.argv[1:3]); name, tie = sys.argv[4], float(sys.argv[5])
i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
at = len(a[:i].encode())
steps = [tuple(map(float, m.groups()[:2])) + (m.group(3),) for m in (re.match(r"top step (\d+) byte (\d+): .*\| \d+ .* ([+-][0-9.]+)$", l) for l in open(sys.argv[3])) if m]
step, start, second = [s for s in steps if s[1] <= at][-1]
margin = -float(second)
verdict = "near-tie" if margin < tie else "not a near-tie"
print("tie" if margin < tie else "NO")
print(f"  {name}: greedy texts part after {i} characters, at qaft step {int(step)} whose top-2 margin is {margin:.4f} "
      f"({verdict}, bound {tie}): qaft {a[i:i+40]!r}, llama.cpp {b[i:i+40]!r}", file=sys.stderr)' \
      "$EXPORT_DIR/$name.qaft-greedy.txt" "$EXPORT_DIR/$name.llama-greedy.txt" "$EXPORT_DIR/$name.qaft-top.txt" "$name" $NEAR_TIE \
      2>> "$EXPORT_DIR/notes.txt")
  fi

  ok=$(awk -v r="$rel" -v b=$BOUND 'BEGIN { print (r <= b) ? "yes" : "no" }')
  [ "$ok" = yes ] && [ "$same_tokens" = same ] && [ "$greedy" != NO ] && [ "$qchunks" = "$lchunks" ] || failed=1
  printf '%-22s %-11s %10s %14s %8.3f%% %7s %7s%s\n' "$name" "$exact" "$qppl" "$lppl" "$(awk -v r="$rel" 'BEGIN{print 100*r}')" \
    "$same_tokens" "$greedy" "$([ "$ok" = yes ] || echo "  ppl bound $BOUND broken")$([ "$qchunks" = "$lchunks" ] || echo "  chunks $qchunks vs $lchunks")"
  if [ ${#lora[@]} -gt 0 ]; then
    base=$("$LLAMA_BIN/llama-perplexity" -m "$gguf" -f "$TEXT" -c $CTX "${RUNTIME[@]}" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
    echo "  ($name without its adapter: llama.cpp ppl $base)"
  fi
done
cat "$EXPORT_DIR/notes.txt"
echo
echo "protocol: $(sed -n 's/.*; \(llama.cpp llama-perplexity protocol.*\))$/\1/p' "$EXPORT_DIR/rtn-w4g64.qaft-ppl.txt"); -c $CTX; llama.cpp ${RUNTIME[*]}; prompt \"$PROMPT\", $NEW_TOKENS greedy tokens"
echo "export-check took $((SECONDS - started)) s; $([ $failed = 0 ] && echo "every check holds" || echo "FAILED: a check above does not hold")"
exit $failed
