"""Tiny random-weight models of the papers' model families, made with transformers, with the
references the Swift tests compare against (tests never run Python).

For each family a folder holds `model.safetensors` (bf16, as real checkpoints are), `config.json`
as transformers 5.x writes it (`rope_parameters`, `layer_types`), `config.v4.json` describing the
same model in transformers 4.x's layout (`rope_theta` + `rope_scaling`, Qwen2's
`use_sliding_window`/`max_window_layers`), `model.gguf` made from the folder by llama.cpp's own
`convert_hf_to_gguf.py` (--outtype bf16), `reference.json` and `reference_logits.f32`.

- llama3:  LlamaForCausalLM, Llama 3.1 RoPE scaling (rope_type llama3, factor 8, original context 16
           so most frequencies are rescaled), GQA, tied head.
- llama2:  LlamaForCausalLM, LLaMA-2 layout with untied head, attention_bias + mlp_bias (all seven
           projections carry non-zero biases), linear RoPE scaling (factor 2).
- mistral: MistralForCausalLM, head_dim 16 ≠ hidden 32 / 4 heads, sliding window 4 (every layer).
- qwen2:   Qwen2ForCausalLM, non-zero q/k/v biases, tied head, use_sliding_window with
           max_window_layers 1: layer 1 slides (window 4), layer 0 does not (transformers:
           layer i slides iff use_sliding_window and i >= max_window_layers).

All use the tiny byte-level BPE tokenizer of ../tokenizers/tiny_bpe (vocab 600, padded to 608);
it is not one llama.cpp's converter recognises, so its pre-tokenizer check is bypassed (it only
names the pre-tokenizer; every tensor and model key is the converter's own).

References are float32: the bf16 checkpoint upcast exactly, eager attention. reference.json:
{"sequence": ids (BOS first, longer than 3 windows), "rows": positions, "vocab": V,
 "prompt": ids, "greedy": 16 greedy ids after the prompt (EOS neither stops nor is suppressed),
 "transformers": version, "torch": version}; reference_logits.f32: little-endian float32 logits of
 every position of "sequence", row-major (rows × vocab). config.json and config.v4.json are checked
here to give bit-identical logits.

Run from the repository root: python3 Tests/Fixtures/families/make_families.py SDIST_DIR, where
SDIST_DIR holds llama_cpp_python-0.3.36.tar.gz (`pip download --no-deps --no-binary :all:
llama-cpp-python==0.3.36`, the sdist the Makefile pins; its sha256 is checked).
"""
import hashlib, json, os, shutil, subprocess, sys, tarfile, tempfile
import numpy as np, torch, transformers
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
TOK = os.path.join(HERE, '..', 'tokenizers', 'tiny_bpe')
SDIST = 'llama_cpp_python-0.3.36.tar.gz'
SDIST_SHA256 = '832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e'
TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park "
        "with her friends. One day, she saw a big red ball under a tree.")
COMMON = dict(vocab_size=608, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1)
FAMILIES = {
    'llama3': (LlamaConfig(**COMMON, tie_word_embeddings=True, rope_parameters=dict(
        rope_type='llama3', rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=16)),
        dict(rope_theta=500000.0, rope_scaling=dict(rope_type='llama3', factor=8.0, low_freq_factor=1.0,
                                                    high_freq_factor=4.0, original_max_position_embeddings=16))),
    'llama2': (LlamaConfig(**COMMON, tie_word_embeddings=False, attention_bias=True, mlp_bias=True,
                           rope_parameters=dict(rope_type='linear', rope_theta=10000.0, factor=2.0)),
               dict(rope_theta=10000.0, rope_scaling=dict(type='linear', factor=2.0))),
    'mistral': (MistralConfig(**COMMON, tie_word_embeddings=False, head_dim=16, sliding_window=4,
                              rope_parameters=dict(rope_type='default', rope_theta=10000.0)),
                dict(rope_theta=10000.0, rope_scaling=None)),
    'qwen2': (Qwen2Config(**COMMON, tie_word_embeddings=True, use_sliding_window=True, sliding_window=4, max_window_layers=1,
                          rope_parameters=dict(rope_type='default', rope_theta=10000.0)),
              dict(rope_theta=10000.0, rope_scaling=None)),
}


def v4_layout(config, rope):
    """The 4.x config.json: rope_theta/rope_scaling instead of rope_parameters, no layer_types."""
    c = {k: v for k, v in config.items() if k not in ('rope_parameters', 'layer_types')}
    c.update(rope)
    c['transformers_version'] = '4.46.0'
    return c


def converter(sdist_dir):
    path = os.path.join(sdist_dir, SDIST)
    assert hashlib.sha256(open(path, 'rb').read()).hexdigest() == SDIST_SHA256, path
    out = tempfile.mkdtemp()
    with tarfile.open(path) as t:
        members = [m for m in t.getmembers() if '/vendor/llama.cpp/convert_hf_to_gguf.py' in m.name
                   or '/vendor/llama.cpp/gguf-py/' in m.name or '/vendor/llama.cpp/conversion/' in m.name]
        t.extractall(out, members)
    return os.path.join(out, 'llama_cpp_python-0.3.36', 'vendor', 'llama.cpp')


def logits(folder, ids):
    m = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation='eager').eval()
    with torch.no_grad():
        return m, m(torch.tensor([ids])).logits[0].numpy()


def make(name, config, rope, llama_cpp):
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    torch.manual_seed(sorted(FAMILIES).index(name) + 1)
    model = AutoModelForCausalLM.from_config(config, attn_implementation='eager')
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith('norm.weight'): p.copy_(1 + 0.1 * torch.randn_like(p))
            elif n.endswith('bias'): p.copy_(0.05 * torch.randn_like(p))
            else: p.copy_(0.1 * torch.randn_like(p))
    model.to(torch.bfloat16).save_pretrained(out)
    for f in ['generation_config.json']:
        if os.path.exists(os.path.join(out, f)): os.remove(os.path.join(out, f))
    saved = json.load(open(os.path.join(out, 'config.json')))
    json.dump(v4_layout(saved, rope), open(os.path.join(out, 'config.v4.json'), 'w'), indent=2, sort_keys=True)

    ids = Tokenizer.from_file(os.path.join(TOK, 'tokenizer.json')).encode(TEXT).ids
    with tempfile.TemporaryDirectory() as d:  # a complete folder: weights, config, tokenizer
        for f in ['model.safetensors', 'config.json']: shutil.copy(os.path.join(out, f), d)
        for f in ['tokenizer.json', 'tokenizer_config.json']: shutil.copy(os.path.join(TOK, f), d)
        m, ref = logits(d, ids)
        prompt = ids[:12]
        m.generation_config.eos_token_id = None  # plain argmax: no EOS stop, no EOS suppression
        greedy = m.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=16)[0][12:].tolist()
        shutil.copy(os.path.join(out, 'config.v4.json'), os.path.join(d, 'config.json'))
        assert np.array_equal(ref, logits(d, ids)[1]), f'{name}: the 4.x layout is another model'
        shutil.copy(os.path.join(out, 'config.json'), d)
        # transformers 5 refuses tiny_bpe's {"content": ...} form of eos_token when the converter loads it.
        json.dump({'bos_token': '<s>', 'eos_token': '</s>'}, open(os.path.join(d, 'tokenizer_config.json'), 'w'))
        env = dict(os.environ, PYTHONPATH=os.path.join(llama_cpp, 'gguf-py'))
        # The tiny tokenizer's hash is unknown to the converter: name its pre-tokenizer "gpt2".
        patch = ("import sys; sys.argv = sys.argv[1:]; sys.path.insert(0, '.'); import conversion.base as b; "
                 "b.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'gpt2'; import convert_hf_to_gguf as c; c.main()")
        subprocess.run([sys.executable, '-c', patch, 'convert_hf_to_gguf.py', d, '--outtype', 'bf16',
                        '--outfile', os.path.join(out, 'model.gguf')], check=True, env=env, cwd=llama_cpp,
                       stdout=subprocess.DEVNULL)
    ref.astype('<f4').tofile(os.path.join(out, 'reference_logits.f32'))
    json.dump({'sequence': ids, 'rows': len(ids), 'vocab': config.vocab_size, 'prompt': prompt, 'greedy': greedy,
               'transformers': transformers.__version__, 'torch': torch.__version__},
              open(os.path.join(out, 'reference.json'), 'w'), indent=1)
    print(name, len(ids), 'tokens, greedy', greedy)


if __name__ == '__main__':
    llama_cpp = converter(sys.argv[1])
    sys.path.insert(0, llama_cpp)
    for name, (config, rope) in FAMILIES.items():
        make(name, config, rope, llama_cpp)
