"""Builds the Hugging Face tokenizer.json of two real tokenizers obtainable here, as transformers
converts them, into llama3/ and mistral/ beside this script.

- Llama 3: `llama_models/llama3/tokenizer.model` (tiktoken ranks) from the PyPI wheel
  llama-models==0.3.0, converted by transformers' TikTokenConverter with Llama 3's 256 special
  tokens and the post-processor of Meta's Llama-3.x tokenizer.json (ByteLevel, then
  TemplateProcessing "<|begin_of_text|> $A"). Llama 3 Community License (LICENSE.md here).
- Mistral 7B v0.1: `mistral_common/data/tokenizer.model.v1` (SentencePiece) from the PyPI wheel
  mistral-common==1.13.1 (Apache-2.0), kept as tokenizer.model and converted by transformers'
  LlamaConverter in its legacy form, the one Mistral-7B-v0.1 ships (normalizer Prepend + Replace,
  BPE with byte_fallback and fuse_unk, "<s> $A").

Run: pip download --no-deps llama-models==0.3.0 mistral-common==1.13.1 (the sha256 below are
checked), then `python3 make_real_tokenizers.py WHEEL_DIR`. Needs transformers, tokenizers,
tiktoken, sentencepiece, protobuf.
"""
import hashlib, json, os, sys, tempfile, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
WHEELS = {
    'llama_models-0.3.0-py3-none-any.whl': '7f77f78ff13fca09f70d76a376aff6414cd901623fb9d57e69c2f8367a73032f',
    'mistral_common-1.13.1-py3-none-any.whl': '98b4d0755b8d90bf4691fa8f1b70cb3b4a8cd4dc1653c4ed08ef3d1c7d2c29af',
}


def member(wheel_dir, wheel, name):
    path = os.path.join(wheel_dir, wheel)
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    assert digest == WHEELS[wheel], f'{wheel}: sha256 {digest}'
    return zipfile.ZipFile(path).read(name)


def llama3(wheel_dir):
    from tokenizers import processors
    from transformers.convert_slow_tokenizer import TikTokenConverter
    from transformers import PreTrainedTokenizerFast
    model = member(wheel_dir, 'llama_models-0.3.0-py3-none-any.whl', 'llama_models/llama3/tokenizer.model')
    with tempfile.NamedTemporaryFile(suffix='.model') as f:
        f.write(model); f.flush()
        named = ['<|begin_of_text|>', '<|end_of_text|>', '<|reserved_special_token_0|>', '<|reserved_special_token_1|>',
                 '<|finetune_right_pad_id|>', '<|step_id|>', '<|start_header_id|>', '<|end_header_id|>',
                 '<|eom_id|>', '<|eot_id|>', '<|python_tag|>', '<|image|>']
        specials = named + [f'<|reserved_special_token_{2 + i}|>' for i in range(256 - len(named))]
        tok = TikTokenConverter(vocab_file=f.name, extra_special_tokens=specials).converted()
    bos = '<|begin_of_text|>'
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single=f'{bos}:0 $A:0', pair=f'{bos}:0 $A:0 {bos}:1 $B:1',
                                      special_tokens=[(bos, tok.token_to_id(bos))]),
    ])
    out = os.path.join(HERE, 'llama3')
    tok.save(os.path.join(out, 'tokenizer.json'), pretty=False)
    json.dump({'bos_token': bos, 'eos_token': '<|end_of_text|>', 'tokenizer_class': 'PreTrainedTokenizerFast',
               'model_max_length': 131072, 'clean_up_tokenization_spaces': True},
              open(os.path.join(out, 'tokenizer_config.json'), 'w'), indent=2)
    PreTrainedTokenizerFast(tokenizer_file=os.path.join(out, 'tokenizer.json'))  # loads


def mistral(wheel_dir):
    """Mistral-7B-v0.1's tokenizer.json, built as transformers 4.x's legacy LlamaConverter built it
    (transformers 5's converter no longer runs on a bare SentencePiece file): the SentencePiece
    pieces as a BPE vocabulary with merges ordered by piece score, byte fallback, fused unknowns."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2 as pb
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import generate_merges
    model = member(wheel_dir, 'mistral_common-1.13.1-py3-none-any.whl', 'mistral_common/data/tokenizer.model.v1')
    out = os.path.join(HERE, 'mistral')
    open(os.path.join(out, 'tokenizer.model'), 'wb').write(model)
    proto = pb.ModelProto()
    proto.ParseFromString(model)
    assert proto.trainer_spec.model_type == 2 and proto.trainer_spec.byte_fallback
    pieces = [(p.piece, p.score) for p in proto.pieces]
    vocab = {piece: i for i, (piece, _) in enumerate(pieces)}
    merges = generate_merges(vocab, {piece: score for piece, score in pieces})
    tok = Tokenizer(BPE(vocab, merges, unk_token='<unk>', fuse_unk=True, byte_fallback=True, dropout=None))
    tok.add_tokens([AddedToken(p.piece, normalized=False, special=p.type == 3)
                    for p in proto.pieces if p.type in (2, 3)])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend('\u2581'), normalizers.Replace(' ', '\u2581')])
    tok.decoder = decoders.Sequence([decoders.Replace('\u2581', ' '), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=' ', left=1)])
    tok.post_processor = processors.TemplateProcessing(
        single='<s>:0 $A:0', pair='<s>:0 $A:0 <s>:1 $B:1', special_tokens=[('<s>', 1)])
    tok.save(os.path.join(out, 'tokenizer.json'), pretty=False)
    json.dump({'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'add_bos_token': True,
               'add_eos_token': False, 'legacy': True, 'tokenizer_class': 'LlamaTokenizer',
               'model_max_length': 32768, 'clean_up_tokenization_spaces': False},
              open(os.path.join(out, 'tokenizer_config.json'), 'w'), indent=2)
    spm = sentencepiece.SentencePieceProcessor(model_file=os.path.join(out, 'tokenizer.model'))
    for text in ['Hello world  x', 'tab\there 1234', ' leading', 'emoji 👋🏽 日本語', 'x\u00a0y']:
        assert tok.encode(text, add_special_tokens=False).ids == spm.encode(text), text


if __name__ == '__main__':
    llama3(sys.argv[1])
    mistral(sys.argv[1])
