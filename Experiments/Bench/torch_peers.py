#!/usr/bin/env python3
"""PyTorch peer of `qaft bench`: times one workload of SmolLM2 in torch (CPU) + transformers + peft and
prints one JSON line for qaft's TorchPeer to parse.

    python3 torch_peers.py --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf \
        --workload lora --precision bf16 [--tokens ids.json | --batch 4 --length 256] [--steps 3 --warmup 1]

Workloads (each timed `--steps` times after `--warmup` untimed runs; the median is reported):
  forward  all logits of the batch, no grad
  lora     one training step: LoRA r 16, alpha 32 on q k v o gate up down (peft), AdamW, causal-LM
           cross-entropy over the batch, forward + backward + optimizer step
Precisions: fp32, or bf16 = torch.autocast("cpu", bfloat16) around forward and loss with fp32 master
weights and optimizer state (the standard mixed-precision recipe).
Token ids: `--tokens` (qaft's TorchPeer writes the very ids of qaft's own bench row there), else
--batch × --length ids drawn by torch from seed 1.

The model is loaded from the GGUF qaft reads (transformers dequantizes it to fp32). After timing, the
loaded weights are checked against the GGUF's own dequantization (gguf.quants, the reference qaft's
GGUF reader is tested against), so both sides provably run the same model; a mismatch exits non-zero.
Peak memory, three figures: the whole process's peak RSS (getrusage and VmHWM), read right after timing,
before the check; the peak right after loading (transformers' GGUF dequantization is the largest part of
it); and the timed repetitions' own peak: VmHWM reset after the warm-up (freed heap returned first), so
it holds the resident model, libraries and the workload's working set but not loading's transient, the
same figure qaft's bench rows report for themselves.
"""
import argparse, ctypes, gc, json, os, resource, statistics, sys, time

import numpy as np
import torch
import transformers
import peft
from gguf import GGUFReader
from gguf.quants import dequantize

PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def reset_peak_rss():
    """Restarts the kernel's peak-RSS count (VmHWM) at the current resident set so the timed part's own
    peak can be read apart from loading's and the warm-up's; heap that Python and glibc hold freed is
    returned first (as qaft's ResidentMemory.resetPeak does), so it does not count as the workload's.
    Returns False where /proc/self/clear_refs is not writable."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_hwm_bytes():
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    return int(kib) * 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the GGUF file qaft benches")
    p.add_argument("--workload", required=True, choices=["forward", "lora"])
    p.add_argument("--precision", required=True, choices=["fp32", "bf16"])
    p.add_argument("--tokens", help="JSON file: a list of equally long lists of token ids (qaft's bench batch)")
    p.add_argument("--batch", type=int, default=4, help="sequences when --tokens is not given")
    p.add_argument("--length", type=int, default=256, help="tokens per sequence when --tokens is not given")
    p.add_argument("--steps", type=int, default=3, help="timed repetitions (the median is reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions before timing")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (one per core; never more)")
    a = p.parse_args()
    if a.steps < 1 or a.warmup < 0 or a.threads < 1:
        p.error(f"--steps {a.steps} must be ≥ 1, --warmup {a.warmup} ≥ 0, --threads {a.threads} ≥ 1")
    return a


def token_batch(args, vocab):
    if args.tokens is None:
        g = torch.Generator().manual_seed(1)
        return torch.randint(0, vocab, (args.batch, args.length), generator=g)
    with open(args.tokens) as f:
        rows = json.load(f)
    if not rows or not all(isinstance(r, list) and len(r) == len(rows[0]) and r for r in rows):
        sys.exit(f"{args.tokens}: expected a non-empty list of equally long, non-empty lists of token ids")
    bad = [t for r in rows for t in r if not isinstance(t, int) or not 0 <= t < vocab]
    if bad:
        sys.exit(f"{args.tokens}: token id {bad[0]!r} is not in 0..<{vocab}")
    return torch.tensor(rows, dtype=torch.long)


def autocast(precision):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def forward_runner(model, ids, precision):
    model.eval()

    def run():
        with torch.inference_mode(), autocast(precision):
            return model(input_ids=ids, use_cache=False).logits
    return run, None


def lora_runner(model, ids, precision):
    config = peft.LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=PROJECTIONS,
                             bias="none", task_type="CAUSAL_LM")
    tuned = peft.get_peft_model(model, config)
    tuned.train()
    optimizer = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
    losses = []

    def run():
        optimizer.zero_grad(set_to_none=True)
        with autocast(precision):
            loss = tuned(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return run, losses


def gguf_permute(w, heads):
    """The row order GGUF stores attn_q/attn_k in (llama.cpp's convert permutes them for its RoPE);
    transformers undoes it on load, so it is redone here to compare with the file."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_same_weights(path, model):
    """Every tensor of the first and last layer, the embedding and the final norm as loaded by
    transformers must equal gguf.quants' dequantization of the file bit for bit."""
    reader = GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    cfg = model.config
    last = cfg.num_hidden_layers - 1
    names = {"token_embd.weight": ("model.embed_tokens.weight", None),
             "output_norm.weight": ("model.norm.weight", None)}
    for i in (0, last):
        for g, h, heads in [("attn_q", "self_attn.q_proj", cfg.num_attention_heads),
                            ("attn_k", "self_attn.k_proj", cfg.num_key_value_heads),
                            ("attn_v", "self_attn.v_proj", None), ("attn_output", "self_attn.o_proj", None),
                            ("ffn_gate", "mlp.gate_proj", None), ("ffn_up", "mlp.up_proj", None),
                            ("ffn_down", "mlp.down_proj", None), ("attn_norm", "input_layernorm", None),
                            ("ffn_norm", "post_attention_layernorm", None)]:
            names[f"blk.{i}.{g}.weight"] = (f"model.layers.{i}.{h}.weight", heads)
    params = dict(model.named_parameters())
    for gname, (hname, heads) in names.items():
        t = tensors[gname]
        expected = dequantize(t.data, t.tensor_type).astype(np.float32)
        # peft wraps a projection in place: its frozen weight moves to `….base_layer.weight`.
        wrapped = hname.replace(".weight", ".base_layer.weight")
        got = params[hname if hname in params else wrapped].detach().float().numpy()
        if heads is not None:
            got = gguf_permute(got, heads)
        if got.shape != expected.shape or not np.array_equal(got, expected):
            diff = np.abs(got - expected).max() if got.shape == expected.shape else f"shape {got.shape} vs {expected.shape}"
            sys.exit(f"{path}: transformers' {hname} differs from the file's {gname} (max |Δ| {diff})")
    return len(names)


def main():
    args = parse_args()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.dirname(os.path.abspath(args.model)), gguf_file=os.path.basename(args.model), dtype=torch.float32)
    load_peak = peak_rss_bytes()
    ids = token_batch(args, model.config.vocab_size)
    make = forward_runner if args.workload == "forward" else lora_runner
    run, losses = make(model, ids, args.precision)
    for _ in range(args.warmup):
        run()
    warm_peak = peak_rss_bytes()
    reset = reset_peak_rss()
    seconds = []
    for _ in range(args.steps):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    # The reset also restarts getrusage's count, so the whole run's peak is the largest of the three.
    peak, workload_peak = max(load_peak, warm_peak, peak_rss_bytes()), vm_hwm_bytes() if reset else None
    checked = check_same_weights(args.model, model)
    median = statistics.median(seconds)
    result = dict(workload=args.workload, precision=args.precision, batch=int(ids.shape[0]), length=int(ids.shape[1]),
                  steps=args.steps, warmup=args.warmup, threads=torch.get_num_threads(),
                  seconds=seconds, tokens_per_second=ids.numel() / median,
                  peak_rss_bytes=peak, load_peak_rss_bytes=load_peak,
                  workload_peak_rss_bytes=workload_peak, weights_checked=checked,
                  torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__)
    if losses is not None:
        result["losses"] = losses
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
