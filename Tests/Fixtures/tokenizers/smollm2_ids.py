# Reference ids for the SmolLM2-135M-Instruct tokenizer (tokenizer.ggml.* of its GGUF), computed by
# Hugging Face `tokenizers` over the same vocabulary and merges, built as /work/shared/tools/smol.py
# does (Digits(individual_digits) then ByteLevel, no prefix space) plus the control tokens (GGUF
# token type 3) added as special tokens.
# usage: python smollm2_ids.py [MODEL.gguf]  (writes smollm2_ids.json beside this script)
import json, os, struct, sys, time
from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
from corpus import ROOT, corpus_with_wikitext, wikitext_test

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf')
r = GGUFReader(path)
f = {k: v.contents() for k, v in r.fields.items() if k.startswith('tokenizer.ggml.')}
tokens, merges, types = f['tokenizer.ggml.tokens'], f['tokenizer.ggml.merges'], f['tokenizer.ggml.token_type']
assert f['tokenizer.ggml.pre'] == 'smollm' and f['tokenizer.ggml.model'] == 'gpt2'
tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(' ', 1)) for m in merges]))
tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])

# GPT-2's byte -> symbol table; SmolLM2's vocabulary lacks some symbols, which HF then drops.
printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
others = [b for b in range(256) if b not in printable]
symbol = {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}
missing = [b for b in range(256) if symbol[b] not in set(tokens)]

cases = [{'text': t, 'ids': tok.encode(t).ids} for t in corpus_with_wikitext()]
assert cases[0]['text'] == '\n\n3' and cases[0]['ids'] == [1116, 35], cases[0]
wiki = wikitext_test()
t0 = time.time(); wiki_ids = tok.encode(wiki).ids; dt = time.time() - t0

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

digest = '%016x' % fnv1a64(struct.pack('<%dI' % len(wiki_ids), *wiki_ids))
out = {
    'generator': 'Tests/Fixtures/tokenizers/smollm2_ids.py',
    'model': os.path.basename(path),
    'missing_byte_symbols': missing,
    'cases': cases,
    # The whole test split's ids are too many to store: their count and the 64-bit FNV-1a hash of
    # them as little-endian uint32s.
    'wikitext2_test': {'tokens': len(wiki_ids), 'fnv1a64_uint32le': digest},
}
json.dump(out, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'smollm2_ids.json'), 'w'), ensure_ascii=True, indent=1)
print('%d cases; wikitext2 test: %d tokens (HF tokenizers %.2fs)' % (len(cases), len(wiki_ids), dt))
