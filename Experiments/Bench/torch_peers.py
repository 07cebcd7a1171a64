"""PyTorch peers of `qaft bench`: the same model and the same token ids, timed with torch + transformers + peft.

One run measures one workload at one precision and prints one JSON line on stdout:
  {"workload", "precision", "tokens_per_second", "peak_rss_bytes", "loaded_rss_bytes", "torch", "transformers", "peft"}
(tokens_per_second: median over --steps timed repetitions after --warmup untimed ones; peak_rss_bytes: the
process's peak resident memory, as qaft reports its own; loaded_rss_bytes: the peak right after loading).
Everything else (warnings, progress bars) goes to stderr. `qaft bench` runs it once per round (TorchPeer.swift).

Workloads (batch × length tokens, ids drawn as qaft's bench draws them: SeededRandom(seed) % vocab):
  forward  all logits, no grad (seed 1, as Bench.forwardSection);
  lora     one training step: LoRA r 16, alpha 32 on q k v o gate up down (peft), causal-LM cross-entropy over
           every position, backward, AdamW (lr 1e-4, no weight decay) (seed 2, as Bench.trainingSection);
  check    not timed: logits of Tests/Fixtures/llama/smollm2.json's paragraph against the float64 reference
           qaft's own forward is tested against; fails above --tolerance, so both sides run the same model.
Precision: fp32, or bf16 = torch.autocast("cpu", bfloat16) around forward and loss, fp32 master weights and
optimizer state (the standard mixed-precision recipe).

usage: python3 torch_peers.py --model M.gguf --workload forward|lora|check --precision fp32|bf16
         [--batch 4] [--length 256] [--steps 3] [--warmup 1]
"""
import argparse, contextlib, json, os, resource, statistics, sys, time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import torch
import transformers
import peft

M64 = (1 << 64) - 1
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SeededRandom:
    """Sources/Tensor/Random.swift: xoshiro256** seeded by SplitMix64."""

    def __init__(self, seed):
        sm = seed
        def splitmix():
            nonlocal sm
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            return z ^ (z >> 31)
        self.s = [splitmix() for _ in range(4)]

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (self.rotl((s1 * 5) & M64, 7) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        self.s = [s0, s1, s2, self.rotl(s3, 45)]
        return result


def bench_tokens(seed, batch, length, vocab):
    rng = SeededRandom(seed)
    return torch.tensor([[rng.next() % vocab for _ in range(length)] for _ in range(batch)])


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def load(model_path):
    from transformers import AutoModelForCausalLM
    path = os.path.abspath(model_path)
    # transformers dequantizes every GGUF tensor to float32 (and undoes llama.cpp's Q/K row permutation).
    return AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                dtype=torch.float32)


def autocast(precision):
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def median_seconds(step, steps, warmup):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_workload(model, args):
    ids = bench_tokens(1, args.batch, args.length, model.config.vocab_size)
    model.eval()
    def step():
        with torch.no_grad(), autocast(args.precision):
            model(ids).logits
    return median_seconds(step, args.steps, args.warmup)


def lora_workload(model, args):
    config = peft.LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, task_type="CAUSAL_LM",
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = peft.get_peft_model(model, config)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
    ids = bench_tokens(2, args.batch, args.length, model.config.vocab_size)
    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(args.precision):
            loss = model(input_ids=ids, labels=ids).loss  # shifted cross-entropy, computed in fp32
        loss.backward()
        optimizer.step()
    return median_seconds(step, args.steps, args.warmup)


def check_workload(model, args):
    """Max |logit difference| against the float64 NumPy reference of Tests/Fixtures/llama (make_fixtures.py)."""
    import numpy as np
    folder = os.path.join(REPO, "Tests", "Fixtures", "llama")
    ref = json.load(open(os.path.join(folder, "smollm2.json")))
    ids, stride = ref["tokens"], ref["column_stride"]
    raw = np.fromfile(os.path.join(folder, ref["logits_file"]), dtype="<f4")
    cols = list(range(0, model.config.vocab_size, stride))
    strided, last = raw[:len(ids) * len(cols)].reshape(len(ids), len(cols)), raw[len(ids) * len(cols):]
    model.eval()
    with torch.no_grad(), autocast(args.precision):
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    diff = max(float(np.abs(logits[:, cols] - strided).max()), float(np.abs(logits[-1] - last).max()))
    if not diff <= args.tolerance:
        sys.exit("torch_peers.py: %s logits differ from %s by %g (> --tolerance %g): not the model qaft runs"
                 % (args.model, os.path.join(folder, "smollm2.json"), diff, args.tolerance))
    return diff


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the GGUF qaft benchmarks (SmolLM2-135M-Instruct.Q4_1.gguf)")
    p.add_argument("--workload", required=True, choices=["forward", "lora", "check"])
    p.add_argument("--precision", required=True, choices=["fp32", "bf16"])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--steps", type=int, default=3, help="timed repetitions (the median is reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    p.add_argument("--tolerance", type=float, default=1e-3, help="check: largest allowed |logit difference|")
    args = p.parse_args()
    for name in ("batch", "length", "steps"):
        if getattr(args, name) < 1:
            p.error("--%s must be at least 1, got %d" % (name, getattr(args, name)))
    torch.set_num_threads(2)  # the bench machine's two cores, as qaft's OpenBLAS uses them
    torch.manual_seed(0)  # peft's LoRA A initialisation
    model = load(args.model)
    loaded = peak_rss_bytes()
    line = {"workload": args.workload, "precision": args.precision}
    if args.workload == "check":
        line["max_abs_logit_difference"] = check_workload(model, args)
    else:
        seconds = (forward_workload if args.workload == "forward" else lora_workload)(model, args)
        line["tokens_per_second"] = args.batch * args.length / seconds
    line.update(peak_rss_bytes=peak_rss_bytes(), loaded_rss_bytes=loaded,
                torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__)
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
