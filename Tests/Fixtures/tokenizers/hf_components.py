# Hugging Face `tokenizers`' pre-tokenizers, normalizers and decoders one at a time, each as its
# tokenizer.json fragment with its outputs (hf_components.json):
#   pre_tokenizers  {config, pieces, random_pieces}: pre_tokenize_str's pieces of each text
#                   (byte-level ones in GPT-2's byte alphabet, as HF returns them)
#   normalizers     {config, normalized}: normalize_str of each of normalizer_texts
#   decoders        {config, decoded}: decode of each of token_lists
# The texts are the shared corpus without WikiText, plus for the hand-written regex matchers (and
# some for the normalizers) seeded random strings from the scalar ranges that stress them (letters,
# digits, apostrophes, CR/LF, Unicode spaces, marks, CJK, emoji, any scalar).
# usage: python hf_components.py
import json, os, random
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from corpus import CORPUS, MORE

HERE = os.path.dirname(os.path.abspath(__file__))
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def random_texts(count=100, seed=5):
    rng = random.Random(seed)
    ranges = [(0x00, 0x7F), (0x20, 0x20), (0x27, 0x27), (0x30, 0x39), (0x61, 0x7A), (0x41, 0x5A), (0x09, 0x0D),
              (0xA0, 0xFF), (0x17F, 0x17F), (0x300, 0x36F), (0x2000, 0x202F), (0x3000, 0x3000), (0x660, 0x669),
              (0x4E00, 0x9FFF), (0x1F300, 0x1FAFF), (0x85, 0x85), (0x2160, 0x2188), (0, 0x10FFFF)]
    out = []
    for _ in range(count):
        chars, length = [], rng.randint(1, 30)
        while len(chars) < length:
            lo, hi = ranges[rng.randrange(len(ranges))]
            c = rng.randint(lo, hi)
            if not 0xD800 <= c <= 0xDFFF:
                chars.append(chr(c))
        out.append(''.join(chars))
    return out


TEXTS = CORPUS + MORE
RANDOM = random_texts()


def fragment(field, value):
    """The tokenizer.json fragment HF writes for a component."""
    t = Tokenizer(models.BPE())
    setattr(t, field, value)
    return json.loads(t.to_str())[field]


def regex_split(pattern, behavior, invert=False):
    return pre_tokenizers.Split(Regex(pattern), behavior, invert)


PRE_TOKENIZERS = [
    pre_tokenizers.Sequence([regex_split(LLAMA3, 'isolated'), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
    pre_tokenizers.Sequence([regex_split(QWEN2, 'isolated'), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
    pre_tokenizers.Sequence([regex_split(GPT2, 'isolated'), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True),
    pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]),
    pre_tokenizers.Digits(individual_digits=False),
    pre_tokenizers.Metaspace(replacement='\u2581', prepend_scheme='always', split=True),
    pre_tokenizers.Metaspace(replacement='\u2581', prepend_scheme='first', split=False),
    pre_tokenizers.Metaspace(replacement='\u2581', prepend_scheme='never', split=True),
    pre_tokenizers.Sequence([pre_tokenizers.Split(' ', 'isolated'), pre_tokenizers.Metaspace(prepend_scheme='first', split=True)]),
    regex_split(r'\s+', 'removed'),
    regex_split(r'\s+', 'merged_with_previous'),
    regex_split(r'\s+', 'merged_with_next'),
    regex_split(r'\s+', 'contiguous'),
    regex_split(r'\s+', 'isolated', invert=True),
    regex_split(r'[\p{P}\p{S}]', 'contiguous'),
    regex_split(r'\w+|[^\w\s]+', 'isolated', invert=True),
    regex_split(r'(?i:the|and)|\d', 'merged_with_next'),
    regex_split(r'^.|.$', 'isolated'),
    pre_tokenizers.Split(', ', 'merged_with_previous'),
    pre_tokenizers.Split('\n', 'removed', invert=True),
]

NORMALIZERS = [
    normalizers.NFC(), normalizers.NFD(), normalizers.NFKC(), normalizers.NFKD(),
    normalizers.Prepend('\u2581'), normalizers.Replace(' ', '\u2581'), normalizers.Replace(Regex(r'\s{2,}'), ' '),
    normalizers.Sequence([normalizers.Prepend('\u2581'), normalizers.Replace(' ', '\u2581')]),
    normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r'\d'), '#')]),
]

DECODERS = [
    decoders.ByteLevel(),
    decoders.Sequence([decoders.Replace('\u2581', ' '), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(' ', 1, 0)]),
    decoders.Metaspace(replacement='\u2581', prepend_scheme='always'),
    decoders.Metaspace(replacement='\u2581', prepend_scheme='never'),
    decoders.ByteFallback(),
    decoders.Sequence([decoders.Strip('\u2581', 0, 1), decoders.Strip('x', 2, 0), decoders.Fuse()]),
    decoders.Sequence([decoders.Replace(Regex(r'\s+'), '_'), decoders.Fuse()]),
]


def token_lists():
    here = lambda *p: os.path.join(HERE, *p)
    lists = []
    for name in ['llama3', 'mistral']:
        tok = Tokenizer.from_file(here(name, 'tokenizer.json'))
        for text in CORPUS[::3] + MORE[::2]:
            ids = tok.encode(text).ids
            lists.append([tok.id_to_token(i) for i in ids])
    lists += [['<0xE2>', '<0x82>', '<0xAC>', 'a', '<0xFF>', 'b', '<0x41>'], ['<0xe2>', '<0x8>', '<0x41>'],
              ['\u2581x\u2581', 'xx', 'x'], ['x'], [], ['\u2581'], ['\u2581\u2581a', 'b\u2581']]
    return lists


NORMALIZER_TEXTS = TEXTS + RANDOM[:40]
TOKEN_LISTS = token_lists()
out = {
    'generator': 'Tests/Fixtures/tokenizers/hf_components.py',
    'texts': TEXTS, 'random_texts': RANDOM, 'normalizer_texts': NORMALIZER_TEXTS, 'token_lists': TOKEN_LISTS,
    # pieces[i] belongs to texts[i], random_pieces[i] to random_texts[i] (only for the regexes with
    # hand-written matchers, the first five)
    'pre_tokenizers': [{'config': fragment('pre_tokenizer', p),
                        'pieces': [[s for s, _ in p.pre_tokenize_str(t)] for t in TEXTS],
                        'random_pieces': [[s for s, _ in p.pre_tokenize_str(t)] for t in RANDOM] if i < 5 else []}
                       for i, p in enumerate(PRE_TOKENIZERS)],
    'normalizers': [{'config': fragment('normalizer', n), 'normalized': [n.normalize_str(t) for t in NORMALIZER_TEXTS]}
                    for n in NORMALIZERS],
    'decoders': [{'config': fragment('decoder', d), 'decoded': [d.decode(ts) for ts in TOKEN_LISTS]} for d in DECODERS],
}
json.dump(out, open(os.path.join(HERE, 'hf_components.json'), 'w', encoding='utf-8'), ensure_ascii=False,
          separators=(',', ':'))
print({k: len(v) for k, v in out.items() if k != 'generator'})
