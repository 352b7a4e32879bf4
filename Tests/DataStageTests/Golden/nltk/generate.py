"""Expected tokens of captions.txt, one JSON list per line, from NLTK's NLTKWordTokenizer.

The reference tokenises with nltk.tokenize.word_tokenize(caption.lower()), which is
sent_tokenize (punkt) followed by NLTKWordTokenizer on each sentence. The punkt model cannot be
downloaded here, so this applies NLTKWordTokenizer to the whole lower-cased caption, as
word_tokenize does for a caption that is one sentence.

    /root/refvenv/bin/pip install nltk      # nltk 3.10.4
    /root/refvenv/bin/python generate.py < captions.txt > expected.jsonl
"""
import json
import sys

import nltk
from nltk.tokenize import NLTKWordTokenizer

tokenizer = NLTKWordTokenizer()
for line in sys.stdin.read().split("\n")[:-1]:
    print(json.dumps(tokenizer.tokenize(line.lower()), ensure_ascii=False))
print(f"nltk {nltk.__version__}", file=sys.stderr)
