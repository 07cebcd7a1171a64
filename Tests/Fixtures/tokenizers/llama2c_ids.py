# Reference ids for the llama2.c tokenizer tok512.bin, from the NumPy reference's `encode`
# (/work/shared/tools/l2c.py; pass its folder if elsewhere). Its leading BOS is dropped: the Swift
# `encode` returns ids without BOS.
# usage: python llama2c_ids.py [TOOLS_DIR]   (writes llama2c_ids.json beside this script)
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else '/work/shared/tools')
from l2c import encode, load_tok

vocab, scores = load_tok(os.path.join(here, '..', 'stories260K', 'tok512.bin'), 512)
texts = [
    "Once upon a time, there was a little girl named Lily.",
    "She loved to play outside in the park. One day, she saw a big dog.",
    "Tom said, \"I don't want to go!\" and ran away.",
    "The cat's toy was red, blue and green; it was 3 years old.",
    "  Two leading spaces and  double  spaces.\nA new line\tand a tab.",
    "Zoë and François ate crème brûlée in Köln.",
    "The bird sang 🎶 and the sun was ☀️ happy 😊!",
    "小猫很开心。",
    "a",
    "Lily and Ben were best friends. They liked to play with their toys and share them with each other. " * 3,
]
cases = []
for t in texts:
    ids = encode(t, vocab, scores)
    assert ids[0] == 1
    cases.append({'text': t, 'ids': ids[1:]})
json.dump({'generator': 'Tests/Fixtures/tokenizers/llama2c_ids.py', 'tokenizer': 'stories260K/tok512.bin', 'cases': cases},
          open(os.path.join(here, 'llama2c_ids.json'), 'w'), ensure_ascii=True, indent=1)
print(len(cases), 'cases;', sum(len(c['ids']) for c in cases), 'ids')
