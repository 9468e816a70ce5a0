"""Evaluation of word vectors: analogies, word similarity and bilingual lexicon induction.

Each function accepts an ``Embeddings``, a gensim ``KeyedVectors``, a
``(words, vectors)`` pair or the path of a word2vec file, and returns a plain
dict (JSON-ready). For one joint model with prefixed keys (``en:house``),
``lang`` / ``src_lang`` / ``tgt_lang`` select and strip the prefix.

>>> from mtlembed import eval as ev
>>> ev.analogy("vectors.bin", "questions-words.txt")["accuracy"]   # doctest: +SKIP
>>> ev.bli("out.en.vec", "out.es.vec", "en-es.5000-6500.txt")["p@1"]  # doctest: +SKIP
"""

from mtlembed.eval.analogy import evaluate_analogies as analogy
from mtlembed.eval.bli import evaluate_bli as bli
from mtlembed.eval.similarity import evaluate_similarity as similarity
from mtlembed.eval.suite import find_data_dir
from mtlembed.eval.suite import run_suite as suite

__all__ = ["analogy", "similarity", "bli", "suite", "find_data_dir"]
