# Reference values for the LLaMA forward tests, from independent NumPy implementations:
#   stories260K: shared/tools/l2c.py (llama2.c format + tokenizer), float64 forward.
#   SmolLM2-135M-Instruct: the `gguf` package's reader/dequantizer + HF `tokenizers` + a float64
#   NumPy forward written here (same math as shared/tools/smol.py).
# usage: python make_fixtures.py SHARED_TOOLS_DIR STORIES_DIR SMOLLM2.gguf   (writes into this folder)
import sys, os, json, struct, numpy as np
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, sys.argv[1])
import l2c

# --- stories260K ---------------------------------------------------------------------------
sd = sys.argv[2]
m = l2c.load_model(os.path.join(sd, 'stories260K.bin'))
vocab, scores = l2c.load_tok(os.path.join(sd, 'tok512.bin'), m['V'])
text = open(os.path.join(here, 'stories_paragraph.txt')).read().strip()
toks = l2c.encode(text, vocab, scores)
lg = l2c.forward(m, toks)
nll = float(l2c.nll(lg, toks))
seq = [1]
for _ in range(40):
    seq.append(int(l2c.forward(m, seq)[-1].argmax()))
json.dump({'text': text, 'tokens': toks, 'nll': nll, 'perplexity': float(np.exp(nll)),
           'logits_first3': lg[:3].tolist(), 'greedy_from_bos': seq[1:],
           'greedy_text': b''.join(vocab[t] for t in seq[1:]).decode('utf-8', 'replace')},
          open(os.path.join(here, 'stories260K.json'), 'w'), indent=1)
print('stories260K: %d tokens, ppl %.4f' % (len(toks), np.exp(nll)))

# --- SmolLM2-135M-Instruct ------------------------------------------------------------------
from gguf import GGUFReader
from gguf.quants import dequantize
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
r = GGUFReader(sys.argv[3])
f = {k: v.contents() for k, v in r.fields.items() if not k.startswith('GGUF.')}
dim = f['llama.embedding_length']; L = f['llama.block_count']; nh = f['llama.attention.head_count']
nkv = f['llama.attention.head_count_kv']; eps = f['llama.attention.layer_norm_rms_epsilon']; theta = f['llama.rope.freq_base']
hs = dim // nh
W = {t.name: np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(tuple(int(x) for x in reversed(t.shape))) for t in r.tensors}
emb = W['token_embd.weight']; out = W.get('output.weight', emb)
tokens = f['tokenizer.ggml.tokens']; merges = f['tokenizer.ggml.merges']
tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(x.split(' ', 1)) for x in merges]))
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
tok.decoder = decoders.ByteLevel()
def rms(x, w): return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w
def forward(ids):
    T = len(ids); x = emb[ids]
    fr = 1.0 / (theta ** (np.arange(0, hs, 2) / hs)); ang = np.arange(T)[:, None] * fr[None]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    def rope(q):  # interleaved pairs: llama.cpp's converter permuted the Q/K rows
        q0, q1 = q[..., 0::2], q[..., 1::2]
        o = np.empty_like(q); o[..., 0::2] = q0 * cos - q1 * sin; o[..., 1::2] = q0 * sin + q1 * cos; return o
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        p = 'blk.%d.' % l
        h = rms(x, W[p + 'attn_norm.weight'])
        q = (h @ W[p + 'attn_q.weight'].T).reshape(T, nh, hs); k = (h @ W[p + 'attn_k.weight'].T).reshape(T, nkv, hs)
        v = (h @ W[p + 'attn_v.weight'].T).reshape(T, nkv, hs)
        q, k = rope(q), rope(k); k = np.repeat(k, nh // nkv, 1); v = np.repeat(v, nh // nkv, 1)
        a = np.einsum('thd,shd->hts', q, k) / np.sqrt(hs) + mask
        a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        x = x + np.einsum('hts,shd->thd', a, v).reshape(T, -1) @ W[p + 'attn_output.weight'].T
        h = rms(x, W[p + 'ffn_norm.weight'])
        g = h @ W[p + 'ffn_gate.weight'].T; u = h @ W[p + 'ffn_up.weight'].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + 'ffn_down.weight'].T
    return rms(x, W['output_norm.weight']) @ out.T
def nll_of(ids):
    lg = forward(ids)[:-1]; lg = lg - lg.max(-1, keepdims=True)
    lp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
    return float(-lp[np.arange(len(ids) - 1), ids[1:]].mean())
text = open(os.path.join(here, 'wiki_paragraph.txt')).read().strip()
ids = tok.encode(text).ids
logits = forward(ids)
stride = 48  # logits of every 48th vocabulary id at every position, and the full last row
cols = list(range(0, logits.shape[1], stride))
with open(os.path.join(here, 'smollm2_logits.f32'), 'wb') as fh:
    fh.write(np.asarray(logits[:, cols], dtype='<f4').tobytes()); fh.write(np.asarray(logits[-1], dtype='<f4').tobytes())
nll = nll_of(ids)
prompt = tok.encode('The capital of France is').ids
seq = list(prompt)
for _ in range(8):
    seq.append(int(forward(seq)[-1].argmax()))
json.dump({'text': text, 'tokens': ids, 'nll': nll, 'perplexity': float(np.exp(nll)),
           'logits_file': 'smollm2_logits.f32', 'logits_layout': 'float32 LE: [T][vocab ids 0,48,96,...] then the full last row',
           'column_stride': stride, 'greedy_prompt': prompt, 'greedy_continuation': seq[len(prompt):],
           'greedy_text': tok.decode(seq[len(prompt):])},
          open(os.path.join(here, 'smollm2.json'), 'w'), indent=1)
print('smollm2: %d tokens, ppl %.4f, greedy %r' % (len(ids), np.exp(nll), tok.decode(seq[len(prompt):])))
