# A small byte-level BPE trained with Hugging Face `tokenizers` on a few KB of text, saved as
# tiny_bpe/tokenizer.json (+ tokenizer_config.json naming EOS), and its ids for the shared corpus
# (tiny_bpe_ids.json): ids without special tokens added, and the ids with the template's BOS.
# The GGUF fixture covers SmolLM2's digit-splitting pre-tokenizer; this one covers plain ByteLevel,
# merges stored as pairs, a BOS template and non-special added tokens.
# usage: python tiny_bpe.py
import json, os
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from corpus import CORPUS, corpus_with_wikitext, training_rows

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, 'tiny_bpe')
os.makedirs(out_dir, exist_ok=True)

training = training_rows() + CORPUS

tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=['<s>', '</s>', '<|user|>'],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator(training, trainer)
tok.add_tokens([AddedToken('[NOTE]', special=False, normalized=False)])
tok.post_processor = processors.TemplateProcessing(single='<s> $A', special_tokens=[('<s>', tok.token_to_id('<s>'))])
tok.save(os.path.join(out_dir, 'tokenizer.json'))
json.dump({'bos_token': '<s>', 'eos_token': {'content': '</s>'}}, open(os.path.join(out_dir, 'tokenizer_config.json'), 'w'), indent=1)

texts = corpus_with_wikitext(4) + ['[NOTE] added<|user|>tokens [NOTE]x', '<s>literal bos</s>']
cases = [{'text': t, 'ids': tok.encode(t, add_special_tokens=False).ids, 'ids_with_bos': tok.encode(t).ids} for t in texts]
json.dump({'generator': 'Tests/Fixtures/tokenizers/tiny_bpe.py', 'vocab_size': tok.get_vocab_size(),
           'bos': tok.token_to_id('<s>'), 'eos': tok.token_to_id('</s>'), 'cases': cases},
          open(os.path.join(here, 'tiny_bpe_ids.json'), 'w'), ensure_ascii=True, indent=1)
print('vocab', tok.get_vocab_size(), 'cases', len(cases))
