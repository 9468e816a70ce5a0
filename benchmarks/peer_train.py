"""Train one peer through its Python API, in a process of its own (run.py starts it).

gensim and fastText have no command-line trainer we can time from outside, so this
script calls them and prints one JSON line on stdout with time.monotonic() stamps
(CLOCK_MONOTONIC: comparable with the parent's clock) taken between the stages:
start, vocabulary built, training done, vectors written. The parent also timestamps
the peer's own progress output, which is how fastText's vocabulary pass is separated
(its API builds the vocabulary and trains in one call).

Vectors are written in word2vec binary format, most frequent word first, so the same
evaluator (restricted to the first 30,000 rows) reads every tool's output. With --buckets
(subwords: gensim's FastText, fastText's n-grams) the model is written in fastText's .bin
format instead, so that unseen words can be scored from their n-grams.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata

T_START = time.monotonic()  # before the heavy imports: they count as the peer's start-up


def write_word2vec_binary(path: str, words: list[str], matrix) -> None:
    import numpy as np

    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    with open(path, "wb") as f:
        f.write(f"{len(words)} {matrix.shape[1]}\n".encode())
        f.write(b"".join(w.encode() + b" " + row.tobytes() + b"\n" for w, row in zip(words, matrix)))


def train_gensim(a: argparse.Namespace) -> dict:
    from gensim.models import FastText, Word2Vec
    from gensim.models.fasttext import save_facebook_model
    from gensim.models.word2vec import LineSentence
    from gensim.models.word2vec_corpusfile import CORPUSFILE_VERSION  # noqa: F401 (needs the compiled module)

    t_import = time.monotonic()
    shared = dict(vector_size=a.dim, window=a.window, negative=a.negative, hs=0, sample=a.sample,
                  min_count=a.min_count, epochs=a.epochs, alpha=a.alpha, sg=int(a.model == "sg"),
                  workers=a.threads, seed=a.seed)
    model = (FastText(**shared, min_n=a.min_n, max_n=a.max_n, bucket=a.buckets) if a.buckets
             else Word2Vec(**shared))
    # corpus_file: each worker reads its own part of the file and decays the learning rate over its own
    # words only (word2vec_corpusfile.pyx), so with W workers the rate falls 1/W as far within an epoch.
    # iterable: one producer thread hands out jobs with the rate of the words pushed so far
    # (Word2Vec._job_producer -> _get_next_alpha): word2vec's global linear schedule, as mtlembed's.
    corpus = ({"corpus_file": a.corpus} if a.input == "corpus_file"
              else {"corpus_iterable": LineSentence(a.corpus)})
    model.build_vocab(**corpus)
    t_vocab = time.monotonic()
    trained, raw = model.train(**corpus, total_words=model.corpus_total_words, epochs=model.epochs)
    t_train = time.monotonic()
    if a.buckets:
        save_facebook_model(model, a.out)
    else:
        model.wv.save_word2vec_format(a.out, binary=True)
    t_export = time.monotonic()
    return {
        "t_import": t_import, "t_vocab": t_vocab, "t_train": t_train, "t_export": t_export,
        "vocab_size": len(model.wv), "corpus_words": model.corpus_total_words,
        "effective_words": trained, "version": metadata.version("gensim"), "input": a.input,
    }


def fasttext_version() -> str:
    for dist in ("fasttext", "fasttext-wheel"):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            pass
    return "unknown"


def train_fasttext(a: argparse.Namespace) -> dict:
    import fasttext
    import fasttext.FastText as api

    t_import = time.monotonic()
    # fastText's trainer takes a seed (its CLI's -seed: it draws the input matrix and seeds thread i's
    # generator with seed + i), but the Python API's train_unsupervised passes none on, so every run
    # would start from seed 0 and differ from the last only in its threads' timing. --seed goes in
    # through the arguments the API builds (a field of the C++ Args).
    build_args = api._build_args

    def seeded(*args, **kwargs):
        built = build_args(*args, **kwargs)
        built.seed = a.seed
        return built

    api._build_args = seeded
    # Without --buckets, minn=maxn=0 and wordNgrams=1: plain word2vec, no subword or n-gram rows
    # (the API then sets bucket=0 itself; said explicitly so the matrix is surely words only).
    # fastText fills only threads/10 of its input matrix at random (DenseMatrix::uniform runs one
    # block of 10 per thread): the other rows start at zero (a fresh mapping) or whatever the
    # allocator returns. That is how fastText trains, so it stays.
    try:
        model = fasttext.train_unsupervised(
            input=a.corpus, model="skipgram" if a.model == "sg" else "cbow", dim=a.dim, ws=a.window,
            neg=a.negative, loss="ns", t=a.sample, minCount=a.min_count, epoch=a.epochs, lr=a.alpha,
            thread=a.threads, minn=a.min_n if a.buckets else 0, maxn=a.max_n if a.buckets else 0,
            wordNgrams=1, bucket=a.buckets, verbose=2,
        )
    finally:
        api._build_args = build_args
    t_train = time.monotonic()
    if model.f.getArgs().seed != a.seed:
        raise SystemExit(f"fastText trained with seed {model.f.getArgs().seed}, not --seed {a.seed}")
    words = model.get_words()
    if a.buckets:
        model.save_model(a.out)
    else:
        write_word2vec_binary(a.out, words, model.get_input_matrix()[: len(words)])
    t_export = time.monotonic()
    return {
        "t_import": t_import, "t_train": t_train, "t_export": t_export,
        "vocab_size": len(words), "version": fasttext_version(), "seed": a.seed,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="train one peer and print stage timestamps")
    ap.add_argument("tool", choices=["gensim", "fasttext"])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", choices=["sg", "cbow"], required=True)
    for name, kind in [("dim", int), ("window", int), ("negative", int), ("sample", float),
                       ("min-count", int), ("epochs", int), ("alpha", float), ("threads", int),
                       ("seed", int)]:
        ap.add_argument(f"--{name}", type=kind, required=True)
    ap.add_argument("--input", choices=["corpus_file", "iterable"], default="corpus_file",
                    help="gensim: how the corpus is read, which also sets its learning-rate schedule "
                         "with several workers (see train_gensim)")
    ap.add_argument("--buckets", type=int, default=0, help="subwords: n-gram buckets (0: none)")
    ap.add_argument("--min-n", type=int, default=3, help="subwords: the shortest n-gram")
    ap.add_argument("--max-n", type=int, default=6, help="subwords: the longest n-gram")
    a = ap.parse_args(argv)
    stamps = train_gensim(a) if a.tool == "gensim" else train_fasttext(a)
    sys.stderr.flush()
    print(json.dumps({"t_start": T_START, **stamps}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
