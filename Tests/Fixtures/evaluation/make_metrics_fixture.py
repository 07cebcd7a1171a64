"""Reference numbers for the Swift metric, pairing, windowing and WikiText tests.

Run once: python Tests/Fixtures/evaluation/make_metrics_fixture.py  (numpy, scipy, lm-eval 0.4.13)
- stderr / pooled stderr: lm-eval's own `mean_stderr` and `pooled_sample_stderr`;
- McNemar: scipy.stats.binomtest on the discordant counts;
- paired bootstrap: the same resampling stream as Swift (xoshiro256** seeded by SplitMix64, as in
  Sources/Tensor/Random.swift; bounded draws by Lemire's method), statistics by numpy;
- rolling windows: lm-eval's get_rolling_token_windows + make_disjoint_window;
- WikiText pages: lm-eval's wikitext_detokenizer and process_results counts on pages rebuilt
  from the rows (raw file lines, split at top-level headings).
"""
import gzip, hashlib, json, re
from pathlib import Path

import numpy as np
from scipy import stats
from lm_eval.api.metrics import mean_stderr, pooled_sample_stderr
from lm_eval import utils
from lm_eval.tasks.wikitext import preprocess_wikitext

ROOT = Path(__file__).resolve().parents[3]
M64 = (1 << 64) - 1


class Xoshiro:
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
        s3 = self.rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            prod = self.next() * n
            if (prod & M64) >= threshold:
                return prod >> 64


def bootstrap(a, b, resamples, seed):
    diff = np.asarray(b, float) - np.asarray(a, float)
    rng = Xoshiro(seed)
    n = len(diff)
    deltas = np.array([sum(diff[rng.below(n)] for _ in range(n)) / n for _ in range(resamples)])
    return {"observed": float(diff.mean()), "stderr": float(deltas.std(ddof=1)),
            "lower": float(np.percentile(deltas, 2.5)), "upper": float(np.percentile(deltas, 97.5)),
            "p": float(min(1.0, 2 * min((deltas <= 0).mean(), (deltas >= 0).mean())))}


gen = np.random.default_rng(7)
fixture = {"stderr": [], "pooled": [], "mcnemar": [], "bootstrap": [], "rolling": [], "first_draws": []}
for n, p in [(2, 0.5), (10, 0.3), (100, 0.62), (1534, 0.41)]:
    x = (gen.random(n) < p).astype(float).tolist()
    fixture["stderr"].append({"values": x, "mean": float(np.mean(x)), "stderr": mean_stderr(x)})
sizes = [100, 135, 1534, 5]
groups = [(gen.random(s) < 0.4).astype(float) for s in sizes]
fixture["pooled"] = {"values": [g.tolist() for g in groups], "sizes": sizes,
                     "weighted_mean": float(np.concatenate(groups).mean()),
                     "stderr": float(pooled_sample_stderr([mean_stderr(g.tolist()) for g in groups], sizes))}
for b, c in [(0, 0), (3, 0), (5, 9), (40, 61), (700, 640), (12, 12)]:
    fixture["mcnemar"].append({"b": b, "c": c, "p": float(stats.binomtest(min(b, c), b + c, 0.5).pvalue) if b + c else 1.0})
for n, resamples, seed in [(60, 500, 1), (300, 400, 1234)]:
    a = (gen.random(n) < 0.5).astype(float).tolist()
    b = [v if gen.random() < 0.8 else 1 - v for v in a]
    fixture["bootstrap"].append({"a": a, "b": b, "resamples": resamples, "seed": seed, **bootstrap(a, b, resamples, seed)})
r = Xoshiro(42)
fixture["first_draws"] = {"seed": 42, "raw": [str(r.next()) for _ in range(3)], "below_1000": [r.below(1000) for _ in range(5)]}
for count, max_len in [(1, 4), (5, 8), (8, 8), (9, 8), (20, 6), (23, 5)]:
    tokens = list(range(100, 100 + count))
    windows = [utils.make_disjoint_window(w) for w in utils.get_rolling_token_windows(
        token_list=tokens, prefix_token=1, max_seq_len=max_len, context_len=1)]
    fixture["rolling"].append({"count": count, "max_length": max_len,
                               "windows": [{"context": list(a), "continuation": list(b)} for a, b in windows]})

rows = [json.loads(l)["text"] for l in open(ROOT / "Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl", encoding="utf-8")]
raw_lines = "".join(" \n" if t == "" else t for t in rows).split("\n")
pages, current = [], []
for line in raw_lines:
    s = line.strip()
    if s.startswith("= ") and s.endswith(" =") and not s.startswith("= ="):
        if "\n".join(current).strip():
            pages.append("\n".join(current))
        current = []
    current.append(line)
if "\n".join(current).strip():
    pages.append("\n".join(current))
fixture["wikitext"] = {
    "gptq_bytes": len("\n\n".join(rows).encode("utf-8")),
    "pages": [{"original_sha256": hashlib.sha256(p.encode()).hexdigest(),
               "detokenized_sha256": hashlib.sha256(preprocess_wikitext.wikitext_detokenizer({"page": p}).encode()).hexdigest(),
               **{k: v[1] for k, v in preprocess_wikitext.process_results({"page": p}, [0.0]).items() if k != "bits_per_byte"}}
              for p in pages]}
with open(Path(__file__).with_name("metrics.json"), "w") as f:
    json.dump(fixture, f, indent=1)
print(len(pages), "pages;", {k: len(v) for k, v in fixture.items() if isinstance(v, list)})
