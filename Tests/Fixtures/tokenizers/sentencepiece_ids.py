# Mistral 7B v0.1's SentencePiece model (mistral/tokenizer.model) as llama.cpp's converter stores it
# in a GGUF (tokenizer.ggml.model = llama: pieces, scores, token types, BOS/EOS/UNK ids,
# add_bos_token, add_space_prefix), written with the `gguf` package into mistral/tokenizer.gguf
# (metadata only, no tensors), and SentencePiece's own ids for the shared corpus in
# mistral_spm_ids.json.
#
# SentencePiece does not look for control tokens in text; llama.cpp (and Hugging Face's legacy
# conversion) cut the text at them first and encode each stretch in between on its own, with
# SentencePiece's dummy-prefix space. The reference does the same: each stretch between the
# leftmost-longest matches of <unk>, <s>, </s> is encoded by SentencePiece. It is checked against
# Hugging Face's mistral/tokenizer.json here (they agree on the whole corpus).
# Each case also has SentencePiece's decode of its ids.
# usage: python sentencepiece_ids.py
import json, os, re
import gguf
import sentencepiece
from sentencepiece import sentencepiece_model_pb2 as pb
from tokenizers import Tokenizer
from corpus import INVALID_UTF8, real_corpus

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, 'mistral', 'tokenizer.model')

proto = pb.ModelProto()
proto.ParseFromString(open(MODEL, 'rb').read())
assert proto.normalizer_spec.name == 'identity' and proto.normalizer_spec.add_dummy_prefix
assert not proto.normalizer_spec.remove_extra_whitespaces
# SentencePiece piece types are GGUF token types: 1 normal, 2 unknown, 3 control, 6 byte.
pieces = [(p.piece, p.score, p.type) for p in proto.pieces]

w = gguf.GGUFWriter(os.path.join(HERE, 'mistral', 'tokenizer.gguf'), 'llama')
w.add_tokenizer_model('llama')
w.add_tokenizer_pre('default')
w.add_token_list([p for p, _, _ in pieces])
w.add_token_scores([s for _, s, _ in pieces])
w.add_token_types([t for _, _, t in pieces])
w.add_add_space_prefix(proto.normalizer_spec.add_dummy_prefix)
w.add_bos_token_id(proto.trainer_spec.bos_id)
w.add_eos_token_id(proto.trainer_spec.eos_id)
w.add_unk_token_id(proto.trainer_spec.unk_id)
w.add_add_bos_token(True)
w.add_add_eos_token(False)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

sp = sentencepiece.SentencePieceProcessor(model_file=MODEL)
controls = sorted((p for p, _, t in pieces if t in (2, 3)), key=len, reverse=True)
control_re = re.compile('|'.join(re.escape(c) for c in controls))


def encode(text):
    ids, start = [], 0
    for m in control_re.finditer(text):
        ids += sp.encode(text[start:m.start()]) + [sp.piece_to_id(m.group())]
        start = m.end()
    return ids + sp.encode(text[start:])


hf = Tokenizer.from_file(os.path.join(HERE, 'mistral', 'tokenizer.json'))
texts = real_corpus() + [raw.decode('utf-8', errors='replace') for raw in INVALID_UTF8]
cases = []
for t in texts:
    ids = encode(t)
    assert ids == hf.encode(t, add_special_tokens=False).ids, t
    cases.append({'text': t, 'ids': ids, 'decoded': sp.decode(ids)})
json.dump({'generator': 'Tests/Fixtures/tokenizers/sentencepiece_ids.py', 'cases': cases},
          open(os.path.join(HERE, 'mistral_spm_ids.json'), 'w'), ensure_ascii=True, separators=(',', ':'))
print(len(cases), 'cases')
