# Two small BPE tokenizers trained with Hugging Face `tokenizers` on a few KB of text, covering what
# the real ones do not, saved as synthetic/<name>.json, and their ids for the shared corpus plus
# added-token probes (synthetic_ids.json: ids, ids_with_specials, tokenizers' decodes):
#
# metaspace_unk  normalizer NFKC; pre_tokenizer Sequence[Digits(contiguous), Metaspace(always,
#                split)]; char-level BPE with unk_token + fuse_unk and no byte fallback (an
#                alphabet limited to 60 characters, so most non-Latin text is <unk>); decoder
#                Metaspace; template "<s> $A". Added tokens:
#                <mask> (special, lstrip), [R] (rstrip), word (single_word), ﬁne (normalized: NFKC
#                makes it "fine", matched in normalized text).
# bytelevel_split normalizer Sequence[NFC, Replace(regex \s{2,} → " ")]; pre_tokenizer
#                Sequence[Split([\p{P}\p{S}], MergedWithNext), Digits(individual), ByteLevel(
#                add_prefix_space)]; byte-level BPE; decoder ByteLevel; no post-processor. Added
#                tokens: <sep> (special, lstrip + rstrip), café (normalized, non-special).
# usage: python synthetic_tokenizers.py
import json, os
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from corpus import CORPUS, MORE, real_corpus, training_rows

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'synthetic')
os.makedirs(OUT, exist_ok=True)

training = training_rows() + CORPUS + MORE

PROBES = ['x <mask> y', '<mask>', '   <mask>   z', 'a[R]   b', '[R]\n\nc', 'word', 'a word here', 'sword words _word',
          'word_', 'ﬁne fine', 'so fine!', 'a<sep>b', 'a   <sep>   b', 'café cafe\u0301 CAFÉ', '<s>x</s>', 'ⅫⅢ ①',
          '12 345 6.7', 'tabs\tand\nnew  lines   here']


def metaspace_unk():
    tok = Tokenizer(models.BPE(unk_token='<unk>', fuse_unk=True))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=False),
                                                 pre_tokenizers.Metaspace(replacement='\u2581', prepend_scheme='always', split=True)])
    tok.decoder = decoders.Metaspace(replacement='\u2581', prepend_scheme='always', split=True)
    tok.train_from_iterator(training, trainers.BpeTrainer(vocab_size=400, special_tokens=['<unk>', '<s>', '</s>'],
                                                          limit_alphabet=60, show_progress=False))
    tok.add_tokens([AddedToken('<mask>', lstrip=True, special=True, normalized=False),
                    AddedToken('[R]', rstrip=True, normalized=False),
                    AddedToken('word', single_word=True, normalized=False),
                    AddedToken('\ufb01ne', normalized=True)])
    tok.post_processor = processors.TemplateProcessing(single='<s> $A', special_tokens=[('<s>', tok.token_to_id('<s>'))])
    return tok


def bytelevel_split():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r'\s{2,}'), ' ')])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r'[\p{P}\p{S}]'), 'merged_with_next'),
                                                 pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=True)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(training, trainers.BpeTrainer(vocab_size=500, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                          show_progress=False))
    tok.add_tokens([AddedToken('<sep>', lstrip=True, rstrip=True, special=True, normalized=False),
                    AddedToken('caf\u00e9', normalized=True)])
    return tok


cases = {}
for name, make in [('metaspace_unk', metaspace_unk), ('bytelevel_split', bytelevel_split)]:
    tok = make()
    tok.save(os.path.join(OUT, name + '.json'))
    tok = Tokenizer.from_file(os.path.join(OUT, name + '.json'))  # ids from the file as saved
    cases[name] = []
    for t in real_corpus(1) + PROBES:
        full = tok.encode(t).ids
        cases[name].append({'text': t, 'ids': tok.encode(t, add_special_tokens=False).ids, 'ids_with_specials': full,
                            'decoded': tok.decode(full, skip_special_tokens=False),
                            'decoded_skipping_special': tok.decode(full, skip_special_tokens=True)})
json.dump({'generator': 'Tests/Fixtures/tokenizers/synthetic_tokenizers.py', **cases},
          open(os.path.join(HERE, 'synthetic_ids.json'), 'w', encoding='utf-8'), ensure_ascii=False, separators=(',', ':'))
print({k: len(v) for k, v in cases.items()})
