"""Independent consumer check of qaft's GPTQ export (issue 27 item 3).

Usage: python3 gptq_consumer.py EXPORT_DIR
EXPORT_DIR holds the folders the Swift tests exported (run them once with
QAFT_GPTQ_EXPORT_DIR=EXPORT_DIR); each fixture is remade when its folders are there:
  * 4bit/ and 3bit/ (GPTQConsumerTests) -> consumer.json: the tiny llama2 family model read from its
    Hugging Face folder, RTN asymmetric group 32, with the quantizer's deployable scales
    (GridParameters.deployable: GPTQ's fp16 dequantization is exact);
  * smollm2/ (GPTQGGUFConsumerTests) -> consumer-smollm2.json: SmolLM2-135M-Instruct read from its
    llama.cpp GGUF (q/k rows in llama.cpp's interleaved order, byte-level BPE tokenizer in GGUF keys),
    the same RTN w4 g32 grids, exported with config.json and tokenizer files written by qaft. Its
    tokens are TEXTS encoded by the exported tokenizer (AutoTokenizer); the fixture stores every
    text's ids, which the Swift test compares with qaft's own tokenizer of the GGUF.

For each folder this script
  1. records the SHA-256 of every file (the Swift test checks its re-export is byte-identical),
  2. unpacks every qweight/qzeros with its own numpy code written from the format's description
     (little-endian bit stream per column/group, v1 zeros stored minus one), checks that the fp16
     product scale·(code − zero) equals the exact one (the export claims exactness), and checks the
     result against GPTQModel's own dequantize_weight() of the loaded module, bit for bit,
  3. loads the folder with transformers.AutoModelForCausalLM (quantization through GPTQModel, CPU,
     float32, its torch kernel), checks that every projection became a GPTQModel QuantLinear, and
     stores its logits on fixed tokens: the first 64 ids, 192 random ids and every position's top 8,
     plus each position's full-row logsumexp (float64).
Writes consumer.json beside this script. Needs: pip install gptqmodel==7.7.0 (it pulls its own deps);
transformers 5.25.0, torch 2.15.0 (CPU is enough).
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS = [1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889, 9038, 2501, 263]
TEXTS = ['The quick brown fox jumps over the lazy dog.',
         'In 2024, 3.14159 × 12 = 37.69908; naïve café résumé 日本語 🙂',
         '<|im_start|>user\nHello  there,\t\tworld!<|im_end|>\n',
         '    indented code:\n\tdef f(x):\n\t\treturn x**2  # comment\n\n\n']
PROJ = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj',
        'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        h.update(f.read())
    return h.hexdigest()


def unpack(words, count, bits):
    """words: uint32 [n]; the count values of a little-endian bit stream."""
    stream = np.unpackbits(words.astype('<u4').view(np.uint8), bitorder='little')
    fields = stream[:count * bits].reshape(count, bits).astype(np.int64)
    return (fields << np.arange(bits)).sum(axis=1)


def my_dequantize(st, name, bits, group_size, fmt):
    qweight = st[name + '.qweight'].numpy().view(np.uint32)    # [in*bits/32, out]
    qzeros = st[name + '.qzeros'].numpy().view(np.uint32)      # [groups, out*bits/32]
    scales = st[name + '.scales'].numpy().astype(np.float32)   # [groups, out]
    g_idx = st[name + '.g_idx'].numpy()
    n_in = qweight.shape[0] * 32 // bits
    n_out = qweight.shape[1]
    assert np.array_equal(g_idx, np.arange(n_in) // group_size), name
    codes = np.stack([unpack(qweight[:, o], n_in, bits) for o in range(n_out)], axis=1)   # [in, out]
    zeros = np.stack([unpack(qzeros[g], n_out, bits) for g in range(qzeros.shape[0])])     # [groups, out]
    if fmt == 'gptq':
        zeros = zeros + 1
    exact = scales[g_idx] * (codes - zeros[g_idx]).astype(np.float32)                      # [in, out]
    # GPTQ consumers multiply in fp16; the export says the product is an fp16 number: check it.
    fp16 = (scales[g_idx].astype(np.float16) * (codes - zeros[g_idx]).astype(np.float16)).astype(np.float32)
    assert np.array_equal(exact, fp16), f'{name}: the fp16 dequantization is not exact'
    return exact


def check(folder, rng_ids, tokens):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    from gptqmodel.nn_modules.qlinear import BaseQuantLinear

    files = {f: sha256(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}
    qc = json.load(open(os.path.join(folder, 'quantize_config.json')))
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    assert cfg['quantization_config'] == qc, 'config.json quantization_config differs from quantize_config.json'
    bits, group = qc['bits'], qc['group_size']
    st = load_file(os.path.join(folder, 'model.safetensors'))

    model = AutoModelForCausalLM.from_pretrained(folder, device_map='cpu', dtype=torch.float32)
    model.eval()
    kernels = set()
    for i in range(cfg['num_hidden_layers']):
        for p in PROJ:
            mod = model.get_submodule(f'model.layers.{i}.{p}')
            assert isinstance(mod, BaseQuantLinear), f'layer {i} {p} is {type(mod)}, not a GPTQ QuantLinear'
            kernels.add(type(mod).__name__)
            theirs = mod.dequantize_weight().float().numpy()
            mine = my_dequantize(st, f'model.layers.{i}.{p}', bits, group, qc['checkpoint_format'])
            assert theirs.shape == mine.shape and np.array_equal(theirs, mine), \
                f'{folder}: layer {i} {p}: GPTQModel dequantizes differently (max diff {np.abs(theirs - mine).max()})'
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0].float()
    top8 = set(torch.topk(logits, 8, dim=-1).indices.flatten().tolist())
    ids = sorted(set(range(64)) | set(rng_ids) | top8)
    lse = torch.logsumexp(logits.double(), dim=-1)
    import gptqmodel
    import transformers
    return {
        'bits': bits, 'group_size': group, 'checkpoint_format': qc['checkpoint_format'], 'files': files,
        'consumer': {'transformers': transformers.__version__, 'gptqmodel': gptqmodel.__version__,
                     'torch': torch.__version__, 'kernels': sorted(kernels),
                     'dequantize_weight equals the script\'s own unpacking': True},
        'ids': ids,
        'logits': [[float(logits[p, i]) for i in ids] for p in range(len(tokens))],
        'logsumexp': [float(v) for v in lse],
    }


def tokenize(folder):
    """Each text's ids from the exported tokenizer files, loaded as a user would."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.is_fast, type(tok)
    out = []
    for text in TEXTS:
        ids = tok(text)['input_ids']
        assert tok.decode(ids) == text, f'{text!r} does not decode back: {tok.decode(ids)!r}'
        out.append({'text': text, 'ids': ids})
    return type(tok).__name__, out


def write(name, out):
    with open(os.path.join(HERE, name), 'w') as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write('\n')


def main():
    root = sys.argv[1]
    if os.path.isdir(os.path.join(root, '4bit')):
        rng = np.random.default_rng(27)
        rng_ids = rng.choice(np.arange(64, 32000), 192, replace=False).tolist()
        exports = [check(os.path.join(root, f'{b}bit'), rng_ids, TOKENS) for b in (4, 3)]
        write('consumer.json', {'script': 'Tests/Fixtures/export/gptq/gptq_consumer.py', 'model': 'Tests/Fixtures/families/llama2',
                                'quantization': 'qaft UniformQuantizer asymmetric (RTN), group 32, scales rounded to fp16',
                                'tokens': TOKENS, 'exports': exports})
        for e in exports:
            print(e['bits'], 'bit', e['consumer']['kernels'], 'files', e['files'])
    smol = os.path.join(root, 'smollm2')
    if os.path.isdir(smol):
        tokenizer_class, texts = tokenize(smol)
        rng = np.random.default_rng(27)
        rng_ids = rng.choice(np.arange(64, 49152), 192, replace=False).tolist()
        export = check(smol, rng_ids, texts[0]['ids'])
        export['consumer']['tokenizer'] = tokenizer_class
        write('consumer-smollm2.json', {'script': 'Tests/Fixtures/export/gptq/gptq_consumer.py',
                                        'model': 'SmolLM2-135M-Instruct.Q4_1.gguf (QAFT_SMOLLM2)',
                                        'quantization': 'qaft UniformQuantizer asymmetric (RTN), group 32, scales rounded to fp16',
                                        'tokens': texts[0]['ids'], 'texts': texts, 'exports': [export]})
        print('smollm2', export['consumer']['kernels'], tokenizer_class, 'files', export['files'])


if __name__ == '__main__':
    main()
