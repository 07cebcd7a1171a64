# Generates the stories260K fixtures of Tests/ModelsTests (Safetensors/Llama2C/ModelLoader tests).
#   python3 make_stories260K_fixtures.py   (needs numpy, safetensors, tokenizers)
# From Tests/Fixtures/stories260K/stories260K.bin (llama2.c v0) it writes, next to this script:
#   stories260K_reference.json   header and numpy-computed values of the llama2.c weights
#   hf-f32/                      Hugging Face folder: config.json, model.safetensors (F32), tokenizer.json
#   hf-f16/                      the same with F16 weights
#   hf-bf16-sharded/             BF16 weights in two shards + model.safetensors.index.json
# Q/K rows are permuted exactly as transformers' convert_llama_weights_to_hf.py `permute` does, which
# turns llama2.c's interleaved RoPE pairs into Hugging Face's rotate-half layout.
# tokenizer.json is a small byte-level BPE (vocab 512) trained with `tokenizers` on a few KB of
# wikitext: it exists to test the folder format, it does not match the model's own vocabulary.
import json, os, shutil, struct
import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers, processors

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, '..', '..', '..'))
blob = open(os.path.join(root, 'Tests/Fixtures/stories260K/stories260K.bin'), 'rb').read()
dim, hid, L, nh, nkv, V, T = struct.unpack('7i', blob[:28])
assert V > 0, 'stories260K has a tied classifier'
hs = dim // nh; kvd = nkv * hs
a = np.frombuffer(blob, dtype=np.float32, offset=28); p = 0
def take(*shape):
    global p
    n = int(np.prod(shape)); t = a[p:p + n].reshape(shape); p += n; return t
emb = take(V, dim); rms_att = take(L, dim); wq = take(L, dim, dim); wk = take(L, kvd, dim)
wv = take(L, kvd, dim); wo = take(L, dim, dim); rms_ffn = take(L, dim); w1 = take(L, hid, dim)
w2 = take(L, dim, hid); w3 = take(L, hid, dim); rms_f = take(dim); take(2, T, hs // 2)
assert p == a.size

def summary(x):
    f = x.reshape(-1).astype(np.float64)
    return dict(shape=list(x.shape), sum=float(f.sum()), abs_sum=float(np.abs(f).sum()),
                first=[float(v) for v in f[:4]], last=[float(v) for v in f[-4:]])
with open(os.path.join(here, 'stories260K_reference.json'), 'w') as f:
    json.dump(dict(header=[dim, hid, L, nh, nkv, V, T], values={
        'token_embedding': summary(emb), 'token_embedding[300]': summary(emb[300]),
        'layers[0].attn_norm': summary(rms_att[0]), 'layers[2].wq': summary(wq[2]), 'layers[4].wk': summary(wk[4]),
        'layers[1].wv': summary(wv[1]), 'layers[3].wo': summary(wo[3]), 'layers[4].ffn_norm': summary(rms_ffn[4]),
        'layers[0].gate': summary(w1[0]), 'layers[2].down': summary(w2[2]), 'layers[4].up': summary(w3[4]),
        'final_norm': summary(rms_f)}), f, indent=1)

def permute(w, n_heads, dim1, dim2):  # transformers/models/llama/convert_llama_weights_to_hf.py
    return w.reshape(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(0, 2, 1, 3).reshape(dim1, dim2)

tensors = {'model.embed_tokens.weight': emb, 'model.norm.weight': rms_f}
for l in range(L):
    pre = f'model.layers.{l}.'
    tensors.update({
        pre + 'input_layernorm.weight': rms_att[l], pre + 'post_attention_layernorm.weight': rms_ffn[l],
        pre + 'self_attn.q_proj.weight': permute(wq[l], nh, dim, dim),
        pre + 'self_attn.k_proj.weight': permute(wk[l], nkv, kvd, dim),
        pre + 'self_attn.v_proj.weight': wv[l], pre + 'self_attn.o_proj.weight': wo[l],
        pre + 'mlp.gate_proj.weight': w1[l], pre + 'mlp.up_proj.weight': w3[l], pre + 'mlp.down_proj.weight': w2[l]})
tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}

config = dict(architectures=['LlamaForCausalLM'], model_type='llama', hidden_act='silu', hidden_size=dim,
              intermediate_size=hid, num_hidden_layers=L, num_attention_heads=nh, num_key_value_heads=nkv,
              vocab_size=V, max_position_embeddings=T, rope_theta=10000.0, rms_norm_eps=1e-5,
              tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, torch_dtype='float32')

text = ''
for line in open(os.path.join(root, 'Experiments/Data/wikitext2/wikitext-2-raw-v1_test.jsonl')):
    text += json.loads(line)['text']
    if len(text) > 8000: break
tok = Tokenizer(models.BPE(unk_token=None))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.train_from_iterator([text], trainers.BpeTrainer(vocab_size=V, special_tokens=['<unk>', '<s>', '</s>'],
                                                     initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
tok.post_processor = processors.TemplateProcessing(single='<s> $A', special_tokens=[('<s>', 1)])
assert tok.get_vocab_size() == V

def folder(name, dtype):
    d = os.path.join(here, name)
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(dict(config, torch_dtype=dtype), f, indent=2)
    tok.save(os.path.join(d, 'tokenizer.json'))
    return d

save_file(tensors, os.path.join(folder('hf-f32', 'float32'), 'model.safetensors'), metadata={'format': 'pt'})
save_file({k: v.astype(np.float16) for k, v in tensors.items()},
          os.path.join(folder('hf-f16', 'float16'), 'model.safetensors'), metadata={'format': 'pt'})

# numpy has no bfloat16, so BF16 shards are written by hand in the safetensors layout: round to
# nearest even on the upper 16 bits, header JSON padded with spaces to a multiple of 8 bytes.
def bf16_bytes(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()
def save_bf16(named, path):
    header, data = {'__metadata__': {'format': 'pt'}}, b''
    for k in sorted(named):
        b = bf16_bytes(named[k])
        header[k] = dict(dtype='BF16', shape=list(named[k].shape), data_offsets=[len(data), len(data) + len(b)])
        data += b
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + data)
    return len(data)
d = folder('hf-bf16-sharded', 'bfloat16')
names = sorted(tensors)
shards = {'model-00001-of-00002.safetensors': [n for n in names if not n.startswith(('model.layers.3', 'model.layers.4'))],
          'model-00002-of-00002.safetensors': [n for n in names if n.startswith(('model.layers.3', 'model.layers.4'))]}
total = sum(save_bf16({n: tensors[n] for n in ns}, os.path.join(d, s)) for s, ns in shards.items())
with open(os.path.join(d, 'model.safetensors.index.json'), 'w') as f:
    json.dump({'metadata': {'total_size': total}, 'weight_map': {n: s for s, ns in shards.items() for n in ns}}, f, indent=2)
