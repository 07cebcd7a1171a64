"""Reference for PerplexityStageTests: GPTQ-style windowed perplexity (spec/eval-protocol.md §3b)
of stories260K on the first 3000 bytes of the TinyStories excerpt, computed with the NumPy
llama2.c implementation in /work/shared/tools/l2c.py. Run once from the repository root:
    python3 Tests/Fixtures/pipeline/tiny_perplexity.py > Tests/Fixtures/pipeline/tiny_perplexity.json
"""
import json, sys
import numpy as np
sys.path.insert(0, '/work/shared/tools')
import l2c

PREFIX_BYTES, WINDOW = 3000, 64
text = open('Experiments/Data/tinystories/tinystories_valid_excerpt.txt', 'rb').read()[:PREFIX_BYTES].decode('utf-8')
m = l2c.load_model('Tests/Fixtures/stories260K/stories260K.bin')
vocab, scores = l2c.load_tok('Tests/Fixtures/stories260K/tok512.bin', m['V'])
toks = l2c.encode(text, vocab, scores)  # BOS first: the tokenizer's default
n = len(toks) // WINDOW
window_nll = [float(l2c.nll(l2c.forward(m, toks[i * WINDOW:(i + 1) * WINDOW]), toks[i * WINDOW:(i + 1) * WINDOW])) for i in range(n)]
print(json.dumps({"prefixBytes": PREFIX_BYTES, "window": WINDOW, "tokens": len(toks), "windowNLL": window_nll,
                  "perplexity": float(np.exp(np.mean(window_nll)))}, indent=1))
