"""Tiny random-weight models of four LLaMA-style families, made with transformers, with the references
the Swift tests compare against (the tests never run Python: everything they need is stored here).

WHAT. For each family a folder beside this script holds
  model.safetensors   bf16 weights (as real checkpoints are), written by transformers' save_pretrained
  config.json         as transformers 5.25 writes it (`rope_parameters`, `layer_types` where it has them)
  config.v4.json      the same model in transformers 4.x's layout (`rope_theta` + `rope_scaling` with
                      `rope_type`, `torch_dtype`; Qwen2: `use_sliding_window`/`max_window_layers`, no
                      `layer_types`; no `rope_parameters`)
  model.gguf          made from the folder by llama.cpp's own convert_hf_to_gguf.py --outtype bf16
  reference.json      float32 references computed by transformers (schema: README.md)
qwen2/ also holds a sliding-window variant of the same weights: config.sliding.json,
config.sliding.v4.json, reference.sliding.json (no GGUF of its own).
  llama3   LlamaForCausalLM, rope_type llama3, GQA, tied head, Llama 3 tokenizer (vocab 128256)
  llama2   LlamaForCausalLM, untied, attention_bias + mlp_bias, rope_type linear, Mistral v0.1 SentencePiece
  mistral  MistralForCausalLM, untied, head_dim 16 != 32/4, GQA, sliding_window 8, Mistral tokenizer
  qwen2    Qwen2ForCausalLM, q/k/v biases, tied head, Mistral tokenizer; variant: layer 1 slides (window 8)
Tokenizer files are NOT copied into the family folders: the script assembles a temporary complete
folder (weights + config + ../tokenizers/<tok>/ files) whenever it needs one.

HOW. From anywhere:  python3 Tests/Fixtures/families/make_families.py [--sdist DIR] [--tf4 DIR]
  --sdist DIR  folder holding llama_cpp_python-0.3.36.tar.gz; default: <repo>/.cache/llama.cpp if it
               holds it, else `pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36` into a
               temporary folder. The converter runs from that sdist's vendor/llama.cpp/ with the sdist's own
               gguf-py first on PYTHONPATH (not PyPI gguf; checked).
  --tf4 DIR    optional: a `pip install --target DIR transformers==4.46.3`; then each config.v4.json is also
               loaded by transformers 4.46.3 and must be written back by it with the same values.
Needs: torch, transformers==5.25.*, safetensors, tokenizers, sentencepiece, numpy, gguf (PyPI, only to read
the GGUFs back). Deterministic: every weight comes from a seeded torch.Generator; running twice gives
byte-identical files (checked: two runs, same sha256 for every file; see README.md).

PINNED INPUTS (sha256 checked before use)
  llama_cpp_python-0.3.36.tar.gz   832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
  ../tokenizers/llama3/*, ../tokenizers/mistral/*: see TOKENIZER_SHA256 below (made by
  ../tokenizers/make_real_tokenizers.py).

CHECKS (the script stops on any failure): token ids agree between tokenizers' tokenizer.json,
transformers' AutoTokenizer and (Mistral) sentencepiece; config.json and config.v4.json give bit-identical
logits; generate() equals a plain argmax loop over full forwards; every GGUF tensor equals the safetensors
tensor (after the converter's documented Q/K row permutation for arch llama); the GGUF converted from
config.v4.json equals the one from config.json; a wrong RoPE / window / bias changes the logits by far more
than the tests' 1e-4 tolerance.
"""
import argparse, hashlib, json, os, shutil, subprocess, sys, tarfile, tempfile
import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, MistralConfig, Qwen2Config

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
TOKENIZERS = os.path.join(HERE, '..', 'tokenizers')
SDIST = 'llama_cpp_python-0.3.36.tar.gz'
SDIST_SHA256 = '832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e'
TOKENIZER_SHA256 = {
    'llama3/tokenizer.json': 'f46d5ac47bcdaa1e632d9163eac8aa2d7f48c8e00a32d13d202fd6e4cc74f45b',
    'llama3/tokenizer_config.json': '653549117c3875fe67b2af2f5c06117e5e68b8dbb5620d269a6fc3cf593ba592',
    'mistral/tokenizer.json': '0e4c50df18cb55b2a95783b18cf5d5e02b663b46e653bcc3b603f2343b0821e0',
    'mistral/tokenizer.model': 'dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055',
    'mistral/tokenizer_config.json': '07a3ddef5a2075718b78bed7760f44f9555f3dc3e242b03271b5c0d8fe1601a9',
}
TOKENIZER_FILES = {'llama3': ['tokenizer.json', 'tokenizer_config.json'],
                   'mistral': ['tokenizer.model', 'tokenizer.json', 'tokenizer_config.json']}

# Sequences whose logits are stored: one token (BOS alone), a short sentence, one longer than 3 windows.
TEXTS = ['',
         'The quick brown fox jumps over the lazy dog.',
         'Once upon a time, there was a little girl named Lily. She loved to play outside in the park '
         'with her friends. One day, she saw a big red ball under a tree.']
# Greedy prompts: a short one, and one longer than the sliding window (8).
PROMPTS = ['Hello, my name is',
           'In a small village at the foot of the mountains, there lived an old clockmaker who']
MAX_NEW_TOKENS = 16
N_FIRST, N_RANDOM, N_TOP = 16, 48, 8

COMMON = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              hidden_act='silu', initializer_range=0.02, attention_dropout=0.0, use_cache=True)
# name: (config class, tokenizer folder, seed, 5.x constructor arguments, {variant suffix: overrides})
FAMILIES = {
    'llama3': (LlamaConfig, 'llama3', 2, dict(
        COMMON, vocab_size=128256, num_key_value_heads=2, max_position_embeddings=2048, rms_norm_eps=1e-5,
        bos_token_id=128000, eos_token_id=128001, tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
        rope_parameters=dict(rope_type='llama3', rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                             high_freq_factor=4.0, original_max_position_embeddings=256)), {'': {}}),
    'llama2': (LlamaConfig, 'mistral', 2, dict(
        COMMON, vocab_size=32000, num_key_value_heads=4, max_position_embeddings=1024, rms_norm_eps=1e-5,
        bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, attention_bias=True, mlp_bias=True,
        rope_parameters=dict(rope_type='linear', rope_theta=10000.0, factor=2.0)), {'': {}}),
    'mistral': (MistralConfig, 'mistral', 2, dict(
        COMMON, vocab_size=32000, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024,
        rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, sliding_window=8,
        rope_parameters=dict(rope_type='default', rope_theta=10000.0)), {'': {}}),
    'qwen2': (Qwen2Config, 'mistral', 1, dict(
        COMMON, vocab_size=32000, num_key_value_heads=2, max_position_embeddings=1024, rms_norm_eps=1e-6,
        bos_token_id=1, eos_token_id=2, tie_word_embeddings=True, use_sliding_window=False, sliding_window=8,
        max_window_layers=1, rope_parameters=dict(rope_type='default', rope_theta=1000000.0)),
        {'': {}, '.sliding': dict(use_sliding_window=True)}),
}
# Weight init (replaces transformers' init, which zeroes biases and sets norms to 1): every matrix (embedding,
# head, projections) N(0, 0.3^2), every RMSNorm weight 1 + 0.1 N(0,1), every bias 0.05 N(0,1). At std 0.1 and
# hidden 32 the tied models only repeated the input token greedily, attention was nearly uniform and top-2
# margins fell to 2e-4; at 0.3 continuations vary, attention is peaked (RoPE and window matter) and the
# margins below hold. Seeds: the first of 1..8 per family passing MIN_GREEDY_MARGIN / MIN_POSITION_MARGIN.
STD_MATRIX, STD_BIAS, STD_NORM = 0.3, 0.05, 0.1
MIN_GREEDY_MARGIN = 5e-3    # top-1 minus top-2 logit at every greedy step
MIN_POSITION_MARGIN = 1e-3  # ... and at every position of every stored sequence


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def check_tokenizers():
    for rel, want in TOKENIZER_SHA256.items():
        got = sha256(os.path.join(TOKENIZERS, rel))
        assert got == want, f'{rel}: sha256 {got}, expected {want}'


# ----------------------------------------------------------------------------------------------- configs

def v4_layout(saved, overrides):
    """transformers 4.x's config.json for the same model: rope_theta + rope_scaling (None for default RoPE),
    torch_dtype instead of dtype, no rope_parameters / layer_types (Qwen2 keeps use_sliding_window,
    sliding_window, max_window_layers). Keys 4.x does not write when unset (pad_token_id None) are left out."""
    c = {k: v for k, v in saved.items() if k not in ('rope_parameters', 'layer_types', 'dtype', 'transformers_version')}
    if c.get('pad_token_id') is None:
        c.pop('pad_token_id', None)
    rope = dict(saved['rope_parameters'])
    c['rope_theta'] = rope.pop('rope_theta')
    kind = rope['rope_type']
    if kind == 'default':
        if saved['model_type'] != 'mistral':  # 4.x MistralConfig has no rope_scaling at all
            c['rope_scaling'] = None
    elif kind == 'linear':  # LLaMA-2-era configs said {"type": "linear"}; 4.4x wrote rope_type beside it
        c['rope_scaling'] = dict(rope, type='linear')
    else:
        c['rope_scaling'] = rope
    if saved['model_type'] == 'qwen2':
        # Qwen2.5 checkpoints (config.json written by 4.43) keep the window size even when use_sliding_window
        # is false; so does this file (4.46.3 itself would write null there: same model, no layer slides).
        c['sliding_window'] = 8
        c['use_sliding_window'] = saved['use_sliding_window']
    c['torch_dtype'] = saved['dtype']
    c['transformers_version'] = '4.46.3'
    return dict(sorted(c.items()))


def write_json(path, obj, indent=2):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=indent, sort_keys=False)
        f.write('\n')


# ----------------------------------------------------------------------------------------------- weights

def make_weights(cls, kwargs, seed, out):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cls(**kwargs), attn_implementation='eager')
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):  # tied lm_head is not listed separately
            if name.endswith('norm.weight'):
                p.copy_(1 + STD_NORM * torch.randn(p.shape, generator=g))
            elif name.endswith('.bias'):
                p.copy_(STD_BIAS * torch.randn(p.shape, generator=g))
            else:
                p.copy_(STD_MATRIX * torch.randn(p.shape, generator=g))
    model.to(torch.bfloat16).save_pretrained(out)
    os.remove(os.path.join(out, 'generation_config.json'))  # not needed: references set generation explicitly
    return json.load(open(os.path.join(out, 'config.json')))


def assemble(out, config_name, tok, dest):
    """A complete Hugging Face folder: weights, the chosen config as config.json, the tokenizer files."""
    os.makedirs(dest, exist_ok=True)
    shutil.copy(os.path.join(out, 'model.safetensors'), dest)
    shutil.copy(os.path.join(out, config_name), os.path.join(dest, 'config.json'))
    for f in TOKENIZER_FILES[tok]:
        shutil.copy(os.path.join(TOKENIZERS, tok, f), dest)
    return dest


# -------------------------------------------------------------------------------------------- references

def token_ids(folder, tok):
    from tokenizers import Tokenizer
    fast = Tokenizer.from_file(os.path.join(folder, 'tokenizer.json'))
    # From the tokenizer's own folder: transformers 5.25's AutoTokenizer on a folder whose config.json says
    # model_type qwen2 ignores tokenizer_class LlamaTokenizer and builds a Qwen2Tokenizer (byte-level BPE
    # pre-tokenisation) from tokenizer.json's vocab, which tokenises differently (qwen2 is in its
    # MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS). The family's tokenizer is the SentencePiece one.
    auto = AutoTokenizer.from_pretrained(os.path.join(TOKENIZERS, tok))
    spm = None
    if tok == 'mistral':
        import sentencepiece
        spm = sentencepiece.SentencePieceProcessor(model_file=os.path.join(folder, 'tokenizer.model'))
    result = {}
    for text in TEXTS + PROMPTS:
        ids = fast.encode(text).ids
        assert auto(text)['input_ids'] == ids, (tok, text, auto(text)['input_ids'], ids)
        if spm is not None:
            assert [spm.bos_id()] + spm.encode(text) == ids, (tok, text)
        result[text] = ids
    return result


def load(folder):
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation='eager').eval()


@torch.no_grad()
def all_logits(model, seqs):
    return [model(torch.tensor([ids])).logits[0].float() for ids in seqs]


def row_reference(row, fixed):
    top = torch.topk(row, N_TOP)
    ids = sorted(set(fixed) | set(top.indices.tolist()))
    values = row.numpy()
    margin = float(top.values[0] - top.values[1])
    assert margin >= MIN_POSITION_MARGIN, f'top-2 margin {margin}: choose another seed'
    return {'argmax': int(top.indices[0]),
            'top2_margin': margin,
            'logsumexp': float(torch.logsumexp(row.double(), 0)),
            'top8': top.indices.tolist(),
            'logits': [[i, float(values[i])] for i in ids]}


@torch.no_grad()
def greedy(model, prompt):
    """generate() with greedy decoding and no EOS (generation_config.eos_token_id = None: EOS neither stops
    nor is suppressed), checked against a plain argmax loop over full forwards (no KV cache)."""
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = None
    x = torch.tensor([prompt])
    out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, num_beams=1,
                         max_new_tokens=MAX_NEW_TOKENS, min_new_tokens=MAX_NEW_TOKENS)[0, len(prompt):].tolist()
    ids, margins = list(prompt), []
    for _ in range(MAX_NEW_TOKENS):
        row = model(torch.tensor([ids])).logits[0, -1]
        top2 = torch.topk(row, 2).values
        margins.append(float(top2[0] - top2[1]))
        ids.append(int(torch.argmax(row)))
    assert out == ids[len(prompt):], ('generate() is not plain greedy', out, ids[len(prompt):])
    assert min(margins) >= MIN_GREEDY_MARGIN, f'greedy top-2 margin {min(margins)}: choose another seed'
    return out, min(margins)


def references(name, out, tok, suffix, fixed, work):
    folder = assemble(out, f'config{suffix}.json', tok, os.path.join(work, f'{name}{suffix}-ref'))
    texts = token_ids(folder, tok)
    seqs = [texts[t] for t in TEXTS]
    model = load(folder)
    ref = all_logits(model, seqs)
    # The 4.x layout must describe the same model: bit-identical logits.
    shutil.copy(os.path.join(out, f'config{suffix}.v4.json'), os.path.join(folder, 'config.json'))
    for a, b in zip(ref, all_logits(load(folder), seqs)):
        assert torch.equal(a, b), f'{name}{suffix}: config.v4.json gives other logits ({(a - b).abs().max()})'
    shutil.copy(os.path.join(out, f'config{suffix}.json'), os.path.join(folder, 'config.json'))
    gens = []
    for text in PROMPTS:
        generated, margin = greedy(model, texts[text])
        gens.append({'text': text, 'prompt': texts[text], 'generated': generated, 'min_top2_margin': margin})
    doc = {
        'family': name,
        'config': f'config{suffix}.json',
        'config_v4': f'config{suffix}.v4.json',
        'tokenizer': f'Tests/Fixtures/tokenizers/{tok}',
        'transformers': transformers.__version__,
        'torch': torch.__version__,
        'compute': 'bf16 checkpoint loaded with dtype=torch.float32 (exact upcast), attn_implementation="eager", '
                   'eval(), no_grad; logsumexp in float64 from the float32 logits',
        'vocab_size': model.config.vocab_size,
        'fixed_ids': fixed,
        'sequences': [{'text': t, 'ids': s, 'positions': [row_reference(r, fixed) for r in l]}
                      for t, s, l in zip(TEXTS, seqs, ref)],
        'generation': {'do_sample': False, 'num_beams': 1, 'max_new_tokens': MAX_NEW_TOKENS,
                       'min_new_tokens': MAX_NEW_TOKENS, 'eos_token_id': None,
                       'note': 'generate() with generation_config.eos_token_id = None (EOS neither stops nor is '
                               'suppressed); equals a plain argmax loop over full forwards without a KV cache'},
        'greedy': gens,
    }
    write_json(os.path.join(out, f'reference{suffix}.json'), doc, indent=1)
    return model, ref, seqs, folder


@torch.no_grad()
def sensitivity(name, suffix, model, ref, seqs, folder):
    """How far the logits of the long sequence move under the mistakes a loader could make."""
    long_ref, ids = ref[-1], torch.tensor([seqs[-1]])
    config = json.load(open(os.path.join(folder, 'config.json')))
    variants = {}
    rope = config['rope_parameters']
    if rope['rope_type'] != 'default':
        variants['no rope scaling'] = dict(rope_parameters={'rope_type': 'default', 'rope_theta': rope['rope_theta']})
    if rope['rope_type'] == 'llama3':
        variants['original_max_position_embeddings 8192'] = dict(rope_parameters=dict(rope, original_max_position_embeddings=8192))
    variants['rope_theta 10x'] = dict(rope_parameters=dict(rope, rope_theta=rope['rope_theta'] * 10))
    if config.get('sliding_window') is not None:
        variants['no sliding window'] = (dict(sliding_window=None, layer_types=['full_attention'] * 2)
                                         if 'layer_types' in config else dict(sliding_window=None))
        variants['window 9 (off by one)'] = dict(sliding_window=config['sliding_window'] + 1)
    if 'layer_types' in config and config.get('use_sliding_window'):
        variants['every layer slides'] = dict(layer_types=['sliding_attention'] * 2)
    if name == 'qwen2' and not config.get('use_sliding_window'):
        variants['window 8 in layer 1 (use_sliding_window ignored)'] = dict(
            use_sliding_window=True, sliding_window=8, layer_types=['full_attention', 'sliding_attention'])
    report = {}
    for what, change in variants.items():
        with open(os.path.join(folder, 'config.json'), 'w') as f:
            json.dump(dict(config, **change), f)
        other = load(folder)(ids).logits[0]
        report[what] = float((other - long_ref).abs().max())
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f)
    state = model.state_dict()
    if any(k.endswith('.bias') for k in state):
        zeroed = load(folder)
        for k, p in zeroed.named_parameters():
            if k.endswith('.bias'):
                p.zero_()
        report['biases zero'] = float((zeroed(ids).logits[0] - long_ref).abs().max())
    if not model.config.tie_word_embeddings:
        swapped = load(folder)
        swapped.lm_head.weight.copy_(swapped.model.embed_tokens.weight)
        report['head tied to embedding'] = float((swapped(ids).logits[0] - long_ref).abs().max())
    for what, diff in report.items():
        assert diff > 1e-2, f'{name}{suffix}: "{what}" moves the logits by only {diff}'
    return report


# ------------------------------------------------------------------------------------------------- GGUF

def llama_cpp_dir(sdist_arg, work):
    candidates = [sdist_arg] if sdist_arg else [os.path.join(REPO, '.cache', 'llama.cpp')]
    path = next((os.path.join(d, SDIST) for d in candidates if d and os.path.exists(os.path.join(d, SDIST))), None)
    if path is None:
        d = os.path.join(work, 'sdist')
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
                        'llama-cpp-python==0.3.36', '-d', d], check=True)
        path = os.path.join(d, SDIST)
    assert sha256(path) == SDIST_SHA256, f'{path}: sha256 differs from {SDIST_SHA256}'
    prefix = 'llama_cpp_python-0.3.36/vendor/llama.cpp/'
    with tarfile.open(path) as t:
        members = [m for m in t.getmembers() if m.name.startswith((prefix + 'convert_hf_to_gguf.py',
                                                                   prefix + 'gguf-py/', prefix + 'conversion/'))]
        t.extractall(work, members, filter='data')
    return os.path.join(work, prefix)


def convert(llama_cpp, folder, outfile, name):
    env = dict(os.environ, PYTHONPATH=os.path.join(llama_cpp, 'gguf-py'))
    probe = subprocess.run([sys.executable, '-c', 'import gguf; print(gguf.__file__)'], env=env, check=True,
                           capture_output=True, text=True, cwd=llama_cpp).stdout.strip()
    assert probe.startswith(os.path.join(llama_cpp, 'gguf-py')), f'the converter would use {probe}'
    run = subprocess.run([sys.executable, 'convert_hf_to_gguf.py', folder, '--outtype', 'bf16', '--outfile', outfile,
                          '--model-name', f'qaft-tiny-{name}'], env=env, cwd=llama_cpp, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f'convert_hf_to_gguf.py failed on {name}:\n{run.stdout}\n{run.stderr}')


GGUF_NAMES = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight',
              'lm_head.weight': 'output.weight'}
LAYER_NAMES = {'input_layernorm': 'attn_norm', 'post_attention_layernorm': 'ffn_norm', 'self_attn.q_proj': 'attn_q',
               'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
               'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down'}


def gguf_name(hf):
    if hf in GGUF_NAMES:
        return GGUF_NAMES[hf]
    _, _, i, rest = hf.split('.', 3)
    module, kind = rest.rsplit('.', 1)
    return f'blk.{i}.{LAYER_NAMES[module]}.{kind}'


def permute(w, n_head):
    """convert_hf_to_gguf.py's LlamaModel.permute: within each head, GGUF row 2i+j = HF row j*head_dim/2 + i."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_tensor(t):
    from gguf import GGMLQuantizationType as Q
    shape = tuple(reversed([int(d) for d in t.shape]))
    if t.tensor_type == Q.BF16:
        raw = np.asarray(t.data).view(np.uint16).astype(np.uint32) << 16
        return raw.view(np.float32).reshape(shape)
    assert t.tensor_type == Q.F32, t.tensor_type
    return np.asarray(t.data).reshape(shape)


def field_value(f):
    from gguf import GGUFValueType as V
    if f.types[0] == V.ARRAY:
        if f.types[1] == V.STRING:
            return [bytes(f.parts[i]).decode('utf-8', 'replace') for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    if f.types[0] == V.STRING:
        return bytes(f.parts[f.data[0]]).decode('utf-8')
    return f.parts[f.data[0]].tolist()[0]


def inspect_gguf(path, out, config):
    """Prints the metadata (big arrays summarised) and the tensor table; checks every tensor against the
    safetensors one (Q/K rows permuted for arch llama, not for qwen2); returns the summary."""
    from gguf import GGUFReader
    r = GGUFReader(path)
    meta = {}
    for key, f in r.fields.items():
        if key.startswith('GGUF.'):
            continue
        v = field_value(f)
        if isinstance(v, list) and len(v) > 16:
            v = f'[{len(v)} items: {v[:4]!r} ...]'
        meta[key] = v
    arch = meta['general.architecture']
    tensors = {t.name: t for t in r.tensors}
    n_head, n_kv = config['num_attention_heads'], config['num_key_value_heads']
    mapped = set()
    for k, w in torch_load_float(os.path.join(out, 'model.safetensors')).items():
        g = gguf_name(k)
        mapped.add(g)
        want = w
        if arch == 'llama' and ('q_proj' in k or 'k_proj' in k):
            want = permute(w, n_head if 'q_proj' in k else n_kv)
        got = gguf_tensor(tensors[g])
        assert got.shape == want.shape and np.array_equal(got, want), f'{path}: {g} differs from {k}'
    extra = {}
    for name, t in tensors.items():
        if name not in mapped:
            extra[name] = gguf_tensor(t).tolist()
    table = [(t.name, [int(d) for d in t.shape], t.tensor_type.name) for t in r.tensors]
    return {'metadata': meta, 'tensors': table, 'extra_tensors': extra}


def torch_load_float(path):
    from safetensors.torch import load_file as load_torch
    return {k: v.float().numpy() for k, v in load_torch(path).items()}


# ------------------------------------------------------------------------------------------------- main

def check_v4_with_transformers4(tf4, out, suffix):
    """Loads config{suffix}.v4.json with transformers 4.46.3 (pip install --target DIR) and checks that every key
    is one 4.46.3's config class has and that 4.46.3 gives back the same values (so the file is what 4.x itself
    writes for this model)."""
    code = ('import json, sys, transformers; from transformers import AutoConfig; '
            'c = AutoConfig.from_pretrained(sys.argv[1]); known = sorted(AutoConfig.for_model(c.model_type).to_dict()); '
            'print(json.dumps([transformers.__version__, c.to_dict(), known]))')
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(os.path.join(out, f'config{suffix}.v4.json'), os.path.join(d, 'config.json'))
        env = dict(os.environ, PYTHONPATH=tf4, USE_TORCH='0', USE_TF='0', TRANSFORMERS_NO_ADVISORY_WARNINGS='1')
        res = subprocess.run([sys.executable, '-c', code, d], env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        version, written, known = json.loads(res.stdout.strip().splitlines()[-1])
    mine = json.load(open(os.path.join(out, f'config{suffix}.v4.json')))
    assert set(mine) <= set(known), (out, suffix, 'keys 4.46.3 does not have', sorted(set(mine) - set(known)))
    differ = {k: (mine.get(k), written.get(k)) for k in mine if k != 'transformers_version' and mine.get(k) != written.get(k)}
    # Known, deliberate: the base Qwen2 file keeps sliding_window 8 beside use_sliding_window false, as Qwen2.5
    # checkpoints ship it (written by 4.43); 4.46.3 nulls it on load (the same model: no layer slides).
    if mine.get('model_type') == 'qwen2' and not mine['use_sliding_window']:
        assert differ.pop('sliding_window', None) == (8, None), differ
    assert version == '4.46.3' and not differ, (out, suffix, version, differ)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sdist')
    ap.add_argument('--tf4')
    args = ap.parse_args()
    assert transformers.__version__.startswith('5.25'), transformers.__version__
    check_tokenizers()
    summary = {}
    with tempfile.TemporaryDirectory() as work:
        llama_cpp = llama_cpp_dir(args.sdist, work)
        for name, (cls, tok, seed, kwargs, variants) in FAMILIES.items():
            out = os.path.join(HERE, name)
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            make_weights(cls, kwargs, seed, out)
            rng = np.random.default_rng(seed)
            fixed = list(range(N_FIRST)) + sorted(rng.choice(np.arange(N_FIRST, kwargs['vocab_size']), N_RANDOM,
                                                             replace=False).tolist())
            fam = summary[name] = {}
            for suffix, overrides in variants.items():
                # transformers 5.25 writes config{suffix}.json: save the variant config through it.
                cfg = cls(**dict(kwargs, **overrides))
                cfg.architectures = [{'llama3': 'LlamaForCausalLM', 'llama2': 'LlamaForCausalLM',
                                      'mistral': 'MistralForCausalLM', 'qwen2': 'Qwen2ForCausalLM'}[name]]
                cfg.dtype = torch.bfloat16
                with tempfile.TemporaryDirectory() as d:
                    cfg.save_pretrained(d)
                    saved = json.load(open(os.path.join(d, 'config.json')))
                base = json.load(open(os.path.join(out, 'config.json'))) if suffix == '' else None
                if base is not None:
                    assert base == saved, (name, {k: (base.get(k), saved.get(k)) for k in set(base) | set(saved)
                                                  if base.get(k) != saved.get(k)})
                write_json(os.path.join(out, f'config{suffix}.json'), saved)
                write_json(os.path.join(out, f'config{suffix}.v4.json'), v4_layout(saved, overrides))
                if args.tf4:
                    check_v4_with_transformers4(args.tf4, out, suffix)
                    fam[f'checked with 4.46.3{suffix}'] = True
                model, ref, seqs, folder = references(name, out, tok, suffix, fixed, work)
                fam[f'sensitivity{suffix}'] = sensitivity(name, suffix, model, ref, seqs, folder)
                fam[f'greedy{suffix}'] = json.load(open(os.path.join(out, f'reference{suffix}.json')))['greedy']
            # GGUF from the base config (5.x layout); the 4.x layout must give the same file.
            folder = assemble(out, 'config.json', tok, os.path.join(work, name))
            convert(llama_cpp, folder, os.path.join(out, 'model.gguf'), name)
            folder4 = assemble(out, 'config.v4.json', tok, os.path.join(work, 'v4', name))
            convert(llama_cpp, folder4, os.path.join(work, f'{name}.v4.gguf'), name)
            same = sha256(os.path.join(out, 'model.gguf')) == sha256(os.path.join(work, f'{name}.v4.gguf'))
            fam['gguf'] = inspect_gguf(os.path.join(out, 'model.gguf'), out, json.load(open(os.path.join(out, 'config.json'))))
            fam['gguf from config.v4.json identical'] = same
            if not same:
                fam['gguf.v4'] = inspect_gguf(os.path.join(work, f'{name}.v4.gguf'), out,
                                              json.load(open(os.path.join(out, 'config.json'))))['metadata']
            print(f'== {name}', flush=True)
    for name, fam in summary.items():
        print(f'\n######## {name}')
        g = fam.pop('gguf')
        for k, v in g['metadata'].items():
            print(f'  {k} = {v!r}')
        for n, shape, kind in g['tensors']:
            print(f'  tensor {n:28s} {str(shape):16s} {kind}')
        for n, v in g['extra_tensors'].items():
            print(f'  values of {n}: {v}')
        for k, v in fam.items():
            print(f'  {k}: {v}')
    print('\nsizes:')
    for root, _, files in sorted(os.walk(HERE)):
        for f in sorted(files):
            p = os.path.join(root, f)
            print(f'  {os.path.relpath(p, HERE):40s} {os.path.getsize(p):>10d}  {sha256(p)}')


if __name__ == '__main__':
    main()
