# Reference ids and decodes for the real tokenizers in llama3/ and mistral/ (made by
# make_real_tokenizers.py), computed by Hugging Face `tokenizers` over the shared corpus:
#
# llama3_ids.json
#   cases       text → ids (add_special_tokens=False), ids_with_specials (the template's
#               <|begin_of_text|>), and tokenizers' decode of ids_with_specials with and without
#               skip_special_tokens
#   invalid     byte strings that are not UTF-8: ids of raw.decode('utf-8', errors='replace')
#   wikitext2   the whole WikiText-2 test split: token count and FNV-1a-64 of the uint32le ids
#   qwen2_regex the same vocabulary with Qwen2's Split regex (`\p{N}` instead of `\p{N}{1,3}`) and
#               ignore_merges off, as llama.cpp runs a GGUF with tokenizer.ggml.pre = qwen2
#   gpt2_regex  the same vocabulary with ByteLevel's own GPT-2 split and ignore_merges off
#               (tokenizer.ggml.pre = gpt2)
# mistral_ids.json
#   cases, invalid, wikitext2 as above for Mistral 7B v0.1's legacy conversion
#   metaspace   the non-legacy conversion of the same model: no normalizer, pre_tokenizer
#               Metaspace(replacement ▁, prepend_scheme first, split false); ids, ids_with_specials
#               and decodes
# usage: python real_tokenizer_ids.py
import copy, json, os, struct
from tokenizers import Tokenizer
from corpus import INVALID_UTF8, real_corpus, wikitext_test

HERE = os.path.dirname(os.path.abspath(__file__))
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def fnv1a64_uint32le(ids):
    h = 0xcbf29ce484222325
    for b in struct.pack('<%dI' % len(ids), *ids):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return '%016x' % h


def variant(tok_json, edit):
    j = copy.deepcopy(tok_json)
    edit(j)
    return Tokenizer.from_str(json.dumps(j))


def cases(tok, texts, decodes=True):
    out = []
    for t in texts:
        ids, full = tok.encode(t, add_special_tokens=False).ids, tok.encode(t).ids
        c = {'text': t, 'ids': ids, 'ids_with_specials': full}
        if decodes:
            c['decoded'] = tok.decode(full, skip_special_tokens=False)
            c['decoded_skipping_special'] = tok.decode(full, skip_special_tokens=True)
        out.append(c)
    return out


def invalid(tok):
    return [{'bytes': list(raw), 'text': raw.decode('utf-8', errors='replace'),
             'ids': tok.encode(raw.decode('utf-8', errors='replace'), add_special_tokens=False).ids}
            for raw in INVALID_UTF8]


def wikitext(tok):
    ids = tok.encode(wikitext_test(), add_special_tokens=False).ids
    return {'tokens': len(ids), 'fnv1a64_uint32le': fnv1a64_uint32le(ids)}


def write(name, content):
    content = {'generator': 'Tests/Fixtures/tokenizers/real_tokenizer_ids.py', **content}
    json.dump(content, open(os.path.join(HERE, name), 'w'), ensure_ascii=True, separators=(',', ':'))


def llama3():
    path = os.path.join(HERE, 'llama3', 'tokenizer.json')
    j = json.load(open(path, encoding='utf-8'))
    tok = Tokenizer.from_file(path)

    def qwen2(v):
        v['pre_tokenizer']['pretokenizers'][0]['pattern'] = {'Regex': QWEN2}
        v['model']['ignore_merges'] = False

    def gpt2(v):
        v['pre_tokenizer'] = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
        v['model']['ignore_merges'] = False

    texts = real_corpus()
    write('llama3_ids.json', {
        'cases': cases(tok, texts), 'invalid': invalid(tok), 'wikitext2': wikitext(tok),
        'qwen2_regex': cases(variant(j, qwen2), texts, decodes=False),
        'gpt2_regex': cases(variant(j, gpt2), texts, decodes=False),
    })


def mistral():
    path = os.path.join(HERE, 'mistral', 'tokenizer.json')
    j = json.load(open(path, encoding='utf-8'))
    tok = Tokenizer.from_file(path)

    def metaspace(v):
        v['normalizer'] = None
        v['pre_tokenizer'] = {'type': 'Metaspace', 'replacement': '\u2581', 'prepend_scheme': 'first', 'split': False}

    texts = real_corpus()
    write('mistral_ids.json', {
        'cases': cases(tok, texts), 'invalid': invalid(tok), 'wikitext2': wikitext(tok),
        'metaspace': cases(variant(j, metaspace), texts),
    })


if __name__ == '__main__':
    llama3()
    mistral()
