# Generates the GGUF fixtures of Tests/ModelsTests/GGUFTests.swift with the reference `gguf` Python
# package (GGUFWriter, GGUFReader, gguf.quants), independently of qaft's Swift reader.
#   python3 make_gguf_fixtures.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
# Writes, next to this script:
#   types.gguf           metadata of every value type (incl. nested arrays), alignment 64, and tensors
#                        in F32 (3-D), F16, BF16, Q8_0, Q4_0, Q4_1 plus raw Q6_K bytes; each decodable
#                        tensor `x` has a companion F32 tensor `x.expected` = gguf.quants.dequantize(x)
#   types.json           offsets of metadata fields and tensor infos in types.gguf (for truncation tests)
#   smollm2_reference.json  metadata, the full tensor table and dequantized values of the real model
import json, os, sys
import numpy as np
import gguf
from gguf import GGUFReader, GGUFWriter, GGMLQuantizationType as Q
from gguf.quants import quantize, dequantize

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240607)

def tensor_table(reader):
    return [dict(name=t.name, dims=[int(d) for d in t.shape], type=int(t.tensor_type),
                 offset=int(t.data_offset), bytes=int(t.n_bytes), info_offset=int(t.field.offset))
            for t in reader.tensors]

# ---- types.gguf -------------------------------------------------------------------------------
path = os.path.join(here, 'types.gguf')
w = GGUFWriter(path, arch='llama')
w.add_custom_alignment(64)
w.add_uint8('test.u8', 200)
w.add_int8('test.i8', -100)
w.add_uint16('test.u16', 60000)
w.add_int16('test.i16', -30000)
w.add_uint32('test.u32', 4000000000)
w.add_int32('test.i32', -2000000000)
w.add_float32('test.f32', 0.15625)
w.add_uint64('test.u64', 2**63 + 5)
w.add_int64('test.i64', -2**62)
w.add_float64('test.f64', 1.0 / 3.0)
w.add_bool('test.bool', True)
w.add_string('test.string', 'héllo wörld ✓')
w.add_array('test.ints', [1, -2, 3])
w.add_array('test.strings', ['a', 'bc', ''])
w.add_array('test.nested', [[1, 2], [3], [4, 5, 6]])
w.add_array('test.nested_strings', [['x', 'y'], ['z']])

expected = {}
def add(name, data, qtype):
    if qtype == Q.F32:
        w.add_tensor(name, data)
        return
    raw = quantize(data, qtype)
    w.add_tensor(name, raw, raw_dtype=qtype)
    # dequantize() of the stored blocks is the reference our reader must reproduce bit for bit
    w.add_tensor(name + '.expected', dequantize(raw, qtype).astype(np.float32))

add('f32_3d', rng.standard_normal((2, 3, 4)).astype(np.float32), Q.F32)
add('f16', rng.standard_normal((3, 40)).astype(np.float32) * 4, Q.F16)
add('bf16', rng.standard_normal((3, 40)).astype(np.float32) * 1e3, Q.BF16)
for name, qtype in [('q8_0', Q.Q8_0), ('q4_0', Q.Q4_0), ('q4_1', Q.Q4_1)]:
    x = rng.standard_normal((4, 64)).astype(np.float32) * 0.05
    x[1, 3] = 0.5   # an outlier so the scales differ between blocks
    add(name, x, qtype)
w.add_tensor('q6_k', rng.integers(0, 256, (2, 210), dtype=np.uint8), raw_dtype=Q.Q6_K)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

r = GGUFReader(path)
with open(os.path.join(here, 'types.json'), 'w') as f:
    json.dump(dict(size=os.path.getsize(path),
                   fields={k: int(v.offset) for k, v in r.fields.items()},
                   tensors=tensor_table(r)), f, indent=1)

# ---- SmolLM2 reference values -----------------------------------------------------------------
if len(sys.argv) > 1:
    r = GGUFReader(sys.argv[1])
    def field(k):
        v = r.fields[k]
        return v.contents()
    def summary(name, row=None):
        t = next(t for t in r.tensors if t.name == name)
        x = dequantize(t.data, t.tensor_type).astype(np.float32)
        if row is not None: x = x[row]
        flat = x.reshape(-1).astype(np.float64)
        return dict(shape=list(x.shape), sum=float(flat.sum()), abs_sum=float(np.abs(flat).sum()),
                    first=[float(v) for v in flat[:8]], last=[float(v) for v in flat[-8:]])
    tokens = field('tokenizer.ggml.tokens'); merges = field('tokenizer.ggml.merges')
    ref = dict(
        metadata={k: field(k) for k in ['general.architecture', 'llama.block_count', 'llama.context_length',
                                         'llama.embedding_length', 'llama.feed_forward_length',
                                         'llama.attention.head_count', 'llama.attention.head_count_kv',
                                         'llama.rope.freq_base', 'llama.attention.layer_norm_rms_epsilon',
                                         'tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.bos_token_id',
                                         'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.add_bos_token', 'general.alignment']
                  if k in r.fields},
        token_count=len(tokens), tokens_sample={str(i): tokens[i] for i in [0, 1, 2, 100, 1116, 49151]},
        merge_count=len(merges), merges_sample={str(i): merges[i] for i in [0, 1, 48899]},
        token_type_counts={str(k): int(v) for k, v in zip(*np.unique(field('tokenizer.ggml.token_type'), return_counts=True))},
        data_offset=int(r.data_offset),
        tensors=tensor_table(r),
        values={
            'blk.0.attn_q.weight': summary('blk.0.attn_q.weight'),
            'blk.0.attn_q.weight[5]': summary('blk.0.attn_q.weight', 5),
            'blk.29.ffn_down.weight': summary('blk.29.ffn_down.weight'),
            'token_embd.weight': summary('token_embd.weight'),
            'token_embd.weight[100]': summary('token_embd.weight', 100),
            'output_norm.weight': summary('output_norm.weight'),
        })
    with open(os.path.join(here, 'smollm2_reference.json'), 'w') as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
