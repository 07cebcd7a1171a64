# The texts the tokenizer fixtures are generated over (imported by every *_ids.py and tiny_bpe.py).
import json, os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
WIKITEXT = os.path.join(ROOT, 'Experiments', 'Data', 'wikitext2', 'wikitext-2-raw-v1_test.jsonl')

def wikitext_rows():
    return [json.loads(line)['text'] for line in open(WIKITEXT, encoding='utf-8')]

def wikitext_test():
    """The whole WikiText-2 test split, rows concatenated (each already ends in a newline)."""
    return ''.join(wikitext_rows())

CORPUS = [
    # digits (split one by one in SmolLM2's pre-tokenizer)
    "\n\n3", "1234567", "3.14159", "Pi is 3.14159 and e ≈ 2.71828; 10,000 people in 2024.", " 3", "x=42", "v1.2.3-rc4",
    "٣٤٥ Arabic-Indic, ४२ Devanagari, Ⅻ roman, ½ ² ① numerics",
    # whitespace runs
    "", " ", "  ", "a  b", "a   b", "tab\there", "\t\tindented", "\n", "\n\n\n", "trailing spaces   ", "   leading",
    "  \n  \n", "line\r\nwindows\r\n", "end with newline\n", " " * 40 + "x", "a \t b", "\n a", "x\u00a0y\u3000z\u2009w\u2028v\u0085u",
    # code
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])\n",
    "struct Point: Equatable {\n    var x: Double\n    var y: Double\n\n    func norm() -> Double { (x * x + y * y).squareRoot() }\n}\n\tlet p = Point(x: 3, y: 4) // p.norm() == 5\n",
    "if (a && b) || !c { return -1 } else { x += 0x1F; y <<= 2 }",
    # contractions and punctuation
    "I'm sure you'll see they've done it; it's what we'd do, isn't it? 'Quoted' text.",
    "DON'T SHOUT, it'S fine 'll 're 've 'm 'd 's 't ''s",
    "Hello, world!!! ... ?!? --- «guillemets» “smart quotes” (parens) [brackets] {braces}",
    # non-Latin scripts
    "机器学习是人工智能的一个分支。", "日本語のテキストとカタカナ、ひらがな。", "مرحبا بالعالم، هذا نص عربي.",
    "नमस्ते दुनिया, यह हिंदी पाठ है।", "Привет, мир! Это русский текст.", "Γειά σου Κόσμε, αυτό είναι ελληνικά.",
    "한국어 텍스트", "עברית מימין לשמאל",
    # combining marks, emoji (ZWJ sequences, skin tones, flags, keycaps), controls, U+FFFD
    "e\u0301 café naïve Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̯̳", "👋🏽 hello 👨‍👩‍👧‍👦 family 🇫🇷🇯🇵 flags ❤️ 1️⃣ 🏳️‍🌈",
    "a\x00b\x01c\x7f\x1b[0m", "ctrl \x04\x06\x13\x14\x16\x1d end", "plane 4 \U00040000\U000a0000.", "bad \ufffd byte", "\ufeffBOM",
    # chat text and special tokens
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more", "<<|im_start|>>", "<|im_start", "<|im_end|><|im_end|>", "<file_sep>main.py\n<issue_start>",
]

def training_rows(limit=6000):
    """The first non-empty WikiText-2 test rows, until they pass `limit` characters: the training
    text of the small BPEs (tiny_bpe.py, synthetic_tokenizers.py)."""
    rows = []
    for row in wikitext_rows():
        if sum(map(len, rows)) > limit: break
        if row.strip(): rows.append(row)
    return rows

def corpus_with_wikitext(lines=8):
    rows = [r for r in wikitext_rows() if r.strip()]
    return CORPUS + rows[:lines]


# Extra texts for the Llama 3, Mistral and synthetic fixtures (real_tokenizer_ids.py,
# sentencepiece_ids.py, synthetic_tokenizers.py): Llama 3's case-insensitive contractions (including
# U+017F, which Oniguruma case-folds to 's'), its CR/LF rules and 1-3 digit groups, both models'
# special tokens written in the text, and SentencePiece's leading-space cases.
MORE = [
    "IT'S, WE'LL, THEY'RE, I'VE, I'M, HE'D, DON'T; it'ſ; 'Sup 'LLama x'D",
    "1234567890 12 123 1,234,567.89 ٣٤٥٦٧ ⅫⅢ",
    "a\r\nb\r\n\r\nc \r\n d\n\n\n  e\t\n\tf", "x.\n\ny!\r\n\r\nz", "  \n", "\n  ", " \t \n \t ",
    "'hello' (quoted) \"double\" «x»", "\u00a0lead\u00a0nbsp", "\u2028line\u2029para\u0085nel\u000bvt\u000cff",
    " leading space", "  two leading", "trailing ", "▁already▁metaspace ▁", "<0x41> literal byte token",
    "<|begin_of_text|>Hello<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
    "text<|end_of_text|>more <|reserved_special_token_5|> x<|begin_of_text|", "<|finetune_right_pad_id|>",
    "<s>[INST] What is 2+2? [/INST] 4</s>", "hello <s> world", "<s>", "</s></s>", "a<unk>b", "<unk>",
    "Ünïcödé NFC: e\u0301 vs é, ﬁ ligature, ①②, ｆｕｌｌｗｉｄｔｈ, Å (U+212B)",
]

# Byte strings that are not valid UTF-8: Hugging Face only takes text, so their reference ids are
# those of `raw.decode('utf-8', errors='replace')` (one U+FFFD per maximal ill-formed subpart, as
# Swift's String(decoding:as:) does).
INVALID_UTF8 = [
    b"\xff", b"abc\x80def", b"\xc3\x28 caf\xc3", b"\xe2\x82\x41 euro", b"\xf0\x9f\x98 cut emoji",
    b"\xed\xa0\x80 surrogate", b"\xc0\xaf overlong", b"<|begin_of_text|>\xe2\x82x", b"<s>\xfe\xfe</s>",
]

def real_corpus(lines=3):
    """CORPUS, MORE and the first non-empty WikiText-2 test rows."""
    return CORPUS + MORE + [r for r in wikitext_rows() if r.strip()][:lines]
