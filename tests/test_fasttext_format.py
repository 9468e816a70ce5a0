"""fastText's .bin model format (mtlembed.fasttext_format): gensim and fastText load what we
write, with the same vectors for words seen and unseen; we read theirs; bad files are one error."""

import json
import os
import struct

import numpy as np
import pytest
from gensim.models.fasttext import FastText, load_facebook_vectors, save_facebook_model

from mtlembed.errors import ConfigError, FormatError
from mtlembed.fasttext_format import (
    FastTextArgs,
    is_fasttext,
    load_vectors,
    read_fasttext,
    write_fasttext,
    write_trained,
)
from mtlembed.subwords import SubwordSpec, SubwordVectors

WORDS = ["the", "héllo", "日本語", "🙂", "naïve", "Straße", "ab", "x", "Ελλάδα", "maison"]
UNSEEN = ["unseen", "日本", "🙂🙂", "naïveté", "a", "Hello", "Ελλάς", "maisons"]
BUCKETS, DIM = 1000, 8


def random_model(words=WORDS, buckets=BUCKETS, dim=DIM, seed=0):
    rng = np.random.default_rng(seed)
    word_rows = rng.normal(size=(len(words), dim)).astype(np.float32)
    bucket_rows = rng.normal(size=(buckets, dim)).astype(np.float32)
    output_rows = rng.normal(size=(len(words), dim)).astype(np.float32)
    counts = np.arange(len(words), 0, -1) * 10
    return word_rows, bucket_rows, output_rows, counts


@pytest.fixture
def written(tmp_path):
    """A model file from random matrices, and our vectors for it."""
    word_rows, bucket_rows, output_rows, counts = random_model()
    path = tmp_path / "model.bin"
    write_fasttext(path, WORDS, counts, word_rows, bucket_rows, output_rows,
                   FastTextArgs(dim=DIM, bucket=BUCKETS, min_count=1))
    ours = SubwordVectors(WORDS, np.vstack([word_rows, bucket_rows]), SubwordSpec(3, 6, BUCKETS))
    return path, ours


def assert_same_vectors(ours, theirs):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    cosine = (ours * theirs).sum(1)[norms > 0] / norms[norms > 0]
    assert cosine.min() >= 0.999
    assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-6)  # in fact equal to float precision


def test_gensim_loads_our_model_with_our_vectors(written):
    path, ours = written
    kv = load_facebook_vectors(path)
    assert kv.index_to_key == WORDS and (kv.min_n, kv.max_n, kv.bucket) == (3, 6, BUCKETS)
    assert_same_vectors(ours.vectors(WORDS), [kv[w] for w in WORDS])
    assert_same_vectors(ours.vectors(UNSEEN), [kv[w] for w in UNSEEN])


def test_fasttext_loads_our_model_with_our_vectors(written):
    fasttext = pytest.importorskip("fasttext")
    path, ours = written
    model = fasttext.load_model(str(path))
    assert model.get_words() == WORDS
    assert_same_vectors(ours.vectors(WORDS + UNSEEN), [model.get_word_vector(w) for w in WORDS + UNSEEN])


@pytest.mark.parametrize("sharing", ["language", "all"])
def test_each_language_of_a_joint_model_exports_exactly(tmp_path, sharing):
    """The per-language bucket rotation is undone on export: each file alone gives the joint vectors."""
    from mtlembed.config import TrainConfig
    from mtlembed.vocab import Vocabulary

    vocab = Vocabulary(WORDS, np.array([5, 4, 3, 2, 1] * 2), ["en", "es"], np.array([0, 5, 10]))
    spec = SubwordSpec(3, 6, BUCKETS, sharing)
    rng = np.random.default_rng(3)
    w_in = rng.normal(size=(len(WORDS) + BUCKETS, DIM + 3)).astype(np.float32)  # padded, as the kernel's
    w_out = rng.normal(size=(len(WORDS), DIM + 3)).astype(np.float32)
    joint = SubwordVectors(vocab.keys(), w_in[:, :DIM], spec, languages=vocab.languages)
    config = TrainConfig(dim=DIM, model="cbow")
    for language in vocab.languages:
        path = tmp_path / f"{language}.bin"
        write_trained(path, vocab, w_in, w_out, spec, config, language)
        kv = load_facebook_vectors(path)
        queries = WORDS + UNSEEN
        assert_same_vectors(joint.vectors([f"{language}:{w}" for w in queries]), [kv[w] for w in queries])
        model = read_fasttext(path)
        lo, hi = vocab.range_of(language)
        assert model.args.model == 1 and np.array_equal(model.output_matrix, w_out[lo:hi, :DIM])
    with pytest.raises(ConfigError, match="one language at a time"):
        write_trained(tmp_path / "x.bin", vocab, w_in, w_out, spec, config)


def test_our_file_reads_back_equal(written):
    path, ours = written
    model = read_fasttext(path)
    assert model.words == WORDS and model.counts.tolist() == list(range(100, 0, -10))
    assert (model.args.dim, model.args.bucket, model.args.minn, model.args.maxn) == (DIM, BUCKETS, 3, 6)
    assert np.array_equal(model.input_matrix, ours.w_in)
    assert np.array_equal(model.word_vectors, ours.w_in[:len(WORDS)])
    assert model.bucket_vectors.shape == (BUCKETS, DIM) and model.output_matrix.shape == (len(WORDS), DIM)
    assert isinstance(model.input_matrix, np.memmap)  # the matrix is mapped, not read


def test_a_gensim_written_model_reads_back_equal(tmp_path):
    sentences = [["héllo", "wörld", "日本語", "the"] * 3, ["the", "cat", "🙂", "naïve"] * 3] * 5
    model = FastText(sentences, vector_size=6, min_count=1, bucket=300, min_n=2, max_n=4, epochs=1, seed=1,
                     workers=1)
    path = tmp_path / "gensim.bin"
    save_facebook_model(model, str(path))
    read = read_fasttext(path)
    assert read.words == model.wv.index_to_key
    assert (read.args.bucket, read.args.minn, read.args.maxn) == (300, 2, 4)
    assert np.array_equal(read.word_vectors, model.wv.vectors_vocab)
    assert np.array_equal(read.bucket_vectors, model.wv.vectors_ngrams)
    ours = SubwordVectors(read.words, read.input_matrix, SubwordSpec(2, 4, 300))
    assert_same_vectors(ours.vectors(read.words + UNSEEN), [model.wv[w] for w in read.words + UNSEEN])


def test_a_fasttext_trained_model_reads_with_its_vectors(tmp_path):
    fasttext = pytest.importorskip("fasttext")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(WORDS * 30) + "\n", encoding="utf-8")
    model = fasttext.train_unsupervised(str(corpus), dim=5, minCount=1, bucket=500, epoch=1, thread=1,
                                        minn=2, maxn=5, verbose=0)
    path = tmp_path / "fasttext.bin"
    model.save_model(str(path))
    read = read_fasttext(path)
    assert read.words == model.get_words() and "</s>" in read.words
    ours = SubwordVectors(read.words, read.input_matrix, SubwordSpec(2, 5, 500))
    queries = read.words + UNSEEN  # with </s>, which fastText gives no n-grams
    assert_same_vectors(ours.vectors(queries), [model.get_word_vector(w) for w in queries])


def test_fasttext_is_told_from_word2vec(written, tmp_path):
    path, _ = written
    w2v = tmp_path / "w2v.bin"
    w2v.write_bytes(b"2 3\nab " + bytes(12) + b"\n")
    assert is_fasttext(path) and not is_fasttext(w2v) and not is_fasttext(tmp_path / "missing.bin")


def _corrupt(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value):]


DICT_AT = 8 + 12 * 4 + 8                      # after the magic, version and args
ENTRIES_AT = DICT_AT + 3 * 4 + 2 * 8


def hostile_files(good: bytes) -> dict:
    quant_at = len(good) - (1 + 16 + len(WORDS) * DIM * 4) - (16 + (len(WORDS) + BUCKETS) * DIM * 4) - 1
    return {
        "not a fastText model": _corrupt(good, 0, struct.pack("<i", 12345)),
        "unsupported fastText version 13": _corrupt(good, 4, struct.pack("<i", 13)),
        "bad arguments": _corrupt(good, 8, struct.pack("<i", 0)),
        "bad dictionary sizes": _corrupt(good, DICT_AT, struct.pack("<i", -1)),
        "pruned": _corrupt(good, DICT_AT + 12 + 8, struct.pack("<q", 4)),
        "cannot fit": _corrupt(good, DICT_AT, struct.pack("<ii", 2**31 - 1, 2**31 - 1)),
        "quantized model": _corrupt(good, quant_at, b"\x01"),
        "bad input matrix flag": _corrupt(good, quant_at, b"\x07"),
        "bad input matrix shape": _corrupt(good, quant_at + 9, struct.pack("<q", DIM + 1)),
        "unexpected bytes": good + b"\0",
        "entry types": _corrupt(good, ENTRIES_AT + len(b"the\0") + 8, b"\x01"),
        "truncated": good[:-1],
        r"row 1 \('héllo'\) of the input matrix holds a NaN": _corrupt(good, quant_at + 17 + DIM * 4 + 8,
                                                                      struct.pack("<f", float("nan"))),
        "bucket 0.* of the input matrix holds a NaN or infinite": _corrupt(
            good, quant_at + 17 + len(WORDS) * DIM * 4, struct.pack("<f", float("inf"))),
        "of the output matrix holds a NaN or infinite": _corrupt(good, len(good) - 4,
                                                                 struct.pack("<f", float("-inf"))),
    }


def test_hostile_files_are_one_format_error_naming_the_file(written, tmp_path):
    path, _ = written
    good = path.read_bytes()
    for what, data in hostile_files(good).items():
        bad = tmp_path / "bad.bin"
        bad.write_bytes(data)
        with pytest.raises(FormatError, match=what) as caught:
            read_fasttext(bad)
        assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


def test_every_truncation_is_one_format_error(written, tmp_path):
    path, _ = written
    good = path.read_bytes()
    bad = tmp_path / "cut.bin"
    cuts = {0, 3, 7, 9, 60, DICT_AT + 5, ENTRIES_AT + 2, ENTRIES_AT + 12, *range(0, len(good), 997)}
    for length in sorted(cuts):
        bad.write_bytes(good[:length])
        with pytest.raises(FormatError, match="cut.bin"):
            read_fasttext(bad)
    with pytest.raises(FormatError, match="cannot read: not a regular file but a folder"):
        read_fasttext(tmp_path)
    fifo = tmp_path / "fifo.bin"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match="a named pipe"):  # at once: a pipe is never waited on
        read_fasttext(fifo)
    assert not is_fasttext(fifo)


def test_writing_checks_its_inputs(tmp_path):
    word_rows, bucket_rows, output_rows, counts = random_model()
    args = FastTextArgs(dim=DIM, bucket=BUCKETS)
    path = tmp_path / "m.bin"
    with pytest.raises(ConfigError, match="most frequent first"):
        write_fasttext(path, WORDS, counts[::-1], word_rows, bucket_rows, output_rows, args)
    with pytest.raises(ConfigError, match="unique"):
        write_fasttext(path, ["a"] * len(WORDS), counts, word_rows, bucket_rows, output_rows, args)
    with pytest.raises(ConfigError, match="bucket_vectors"):
        write_fasttext(path, WORDS, counts, word_rows, bucket_rows[:5], output_rows, args)
    with pytest.raises(ConfigError, match="NUL"):
        write_fasttext(path, WORDS[:-1] + ["a\0b"], counts, word_rows, bucket_rows, output_rows, args)
    bucket_rows[3, 1] = np.nan  # a diverged model
    with pytest.raises(FormatError, match="row 3 of bucket_vectors holds a NaN"):
        write_fasttext(path, WORDS, counts, word_rows, bucket_rows, output_rows, args)
    assert not path.exists()


def test_load_vectors_gives_fasttexts_vectors(written, tmp_path):
    path, ours = written
    loaded = load_vectors(path)
    kv = load_facebook_vectors(path)
    assert loaded.words == WORDS and loaded.counts.tolist() == list(range(100, 0, -10))
    assert_same_vectors(loaded.vectors, [kv[w] for w in WORDS])
    assert_same_vectors(loaded.subwords.vectors(UNSEEN), [kv[w] for w in UNSEEN])
    head = load_vectors(path, limit=3)
    assert head.words == WORDS[:3] and np.array_equal(head.vectors, loaded.vectors[:3])
    assert np.array_equal(head.subwords.vectors(WORDS[5:]), loaded.vectors[5:])  # still the whole vocabulary


def test_a_model_without_ngrams_has_no_subwords(tmp_path):
    word_rows, _, output_rows, counts = random_model()
    path = tmp_path / "plain.bin"
    write_fasttext(path, WORDS, counts, word_rows, np.zeros((0, DIM), np.float32), output_rows,
                   FastTextArgs(dim=DIM, bucket=0, maxn=0))
    loaded = load_vectors(path)
    assert loaded.subwords is None and np.array_equal(loaded.vectors, word_rows)
    assert np.allclose(load_facebook_vectors(path)["héllo"], word_rows[1])


def test_damaged_bytes_load_or_are_one_format_error(written, tmp_path):
    """Any byte of the header and dictionary changed: the file still reads, or one FormatError."""
    path, _ = written
    good = bytearray(path.read_bytes())
    bad = tmp_path / "flipped.bin"
    rng = np.random.default_rng(5)
    for offset in rng.integers(0, ENTRIES_AT + 120, 300):
        data = bytearray(good)
        data[offset] ^= 1 << int(rng.integers(0, 8))
        bad.write_bytes(bytes(data))
        try:
            read_fasttext(bad)
        except FormatError as error:
            assert "flipped.bin" in str(error)


# ---------------------------------------------------------------------------------------------
# A fastText .bin as vectors: Embeddings, word2vec loading and the evaluations (--oov subwords).

VOCAB = ["king", "queen", "man", "woman", "paris", "france", "berlin", "germany", "cat", "dog",
         "house", "casa", "perro", "gato", "rey", "reina"]


@pytest.fixture
def vocab_model(tmp_path):
    """A .bin of VOCAB (random rows) and gensim's vectors of it."""
    word_rows, bucket_rows, output_rows, counts = random_model(VOCAB, seed=7)
    path = tmp_path / "vocab.bin"
    write_fasttext(path, VOCAB, counts, word_rows, bucket_rows, output_rows,
                   FastTextArgs(dim=DIM, bucket=BUCKETS, min_count=1))
    return path, load_facebook_vectors(path)


def test_embeddings_of_a_fasttext_model_give_unseen_words_vectors(vocab_model):
    from mtlembed.io import load_word2vec
    from mtlembed.model import Embeddings

    path, kv = vocab_model
    embeddings = Embeddings.load(path)
    assert embeddings.words == VOCAB and embeddings.counts is not None
    assert_same_vectors(embeddings.vectors, [kv[w] for w in VOCAB])
    assert "kings" not in embeddings  # the vocabulary's words only...
    assert_same_vectors([embeddings["kings"]], [kv["kings"]])  # ...but every word has a vector
    neighbours = embeddings.most_similar("kings", topn=3)
    assert [w for w, _ in neighbours] == [w for w, _ in kv.most_similar("kings", topn=3)]
    words, vectors = load_word2vec(path)  # word2vec loading detects the model by its magic number
    assert words == VOCAB and np.allclose(vectors, embeddings.vectors)


def _cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_similarity_scores_unseen_words_from_their_ngrams(vocab_model, tmp_path):
    from mtlembed.eval.similarity import evaluate_similarity

    path, kv = vocab_model
    pairs = [("king", "queen", 9.0), ("kings", "queen", 8.0), ("cat", "dogs", 5.0), ("paris", "francia", 6.5),
             ("house", "casa", 7.0), ("gatos", "perros", 4.0)]
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs), encoding="utf-8")
    skipped = evaluate_similarity(path, pairs_file)
    scored = evaluate_similarity(path, pairs_file, oov="subwords")
    assert (skipped["pairs"], skipped["oov"], skipped["unseen"]) == (2, 4, 0)
    assert (scored["pairs"], scored["oov"], scored["unseen"]) == (6, 0, 4)
    assert skipped["coverage"] == skipped["coverage_vocabulary"] == scored["coverage_vocabulary"] == 2 / 6
    assert scored["coverage"] == 1.0
    gold = [s for _, _, s in pairs]
    cosines = [_cosine(kv[a], kv[b]) for a, b, _ in pairs]
    from scipy.stats import spearmanr

    assert scored["spearman"] == pytest.approx(spearmanr(gold, cosines).statistic, abs=1e-6)


def test_analogy_answers_questions_with_unseen_words(vocab_model, tmp_path):
    from mtlembed.eval.analogy import evaluate_analogies

    path, kv = vocab_model
    questions = [("king", "queen", "man", "woman"), ("kings", "queen", "man", "woman"),
                 ("paris", "france", "berlin", "germanys"), ("cat", "dog", "gato", "perro")]
    questions_file = tmp_path / "questions.txt"
    questions_file.write_text(": test\n" + "".join(" ".join(q) + "\n" for q in questions), encoding="utf-8")
    skipped = evaluate_analogies(path, questions_file, case_insensitive=False)
    scored = evaluate_analogies(path, questions_file, case_insensitive=False, oov="subwords")
    assert (skipped["total"], skipped["oov"], skipped["unseen"]) == (2, 2, 0)
    assert (scored["total"], scored["oov"], scored["unseen"]) == (4, 0, 2)
    assert scored["coverage"] == 1.0 and scored["coverage_vocabulary"] == skipped["coverage"] == 0.5
    unit = np.array([kv[w] / np.linalg.norm(kv[w]) for w in VOCAB])
    correct = 0
    for a, b, c, d in questions:  # the answer is a vocabulary word: an unseen d is never found
        query = [kv[w] / np.linalg.norm(kv[w]) for w in (a, b, c)]
        scores = unit @ (query[1] - query[0] + query[2])
        scores[[VOCAB.index(w) for w in (a, b, c) if w in VOCAB]] = -np.inf
        correct += VOCAB[int(np.argmax(scores))] == d
    assert scored["correct"] == correct


def test_bli_retrieves_for_unseen_source_words(vocab_model, tmp_path):
    from mtlembed.eval.bli import evaluate_bli
    from mtlembed.io import save_word2vec

    path, kv = vocab_model
    targets = ["rey", "reina", "casa", "perro", "gato"]
    target_file = tmp_path / "es.vec"
    save_word2vec(target_file, targets, np.array([kv[w] for w in targets]))
    pairs = [("king", "rey"), ("queen", "reina"), ("houses", "casa"), ("dogs", "perro"), ("kitty", "gato"),
             ("cat", "gatito")]
    dictionary = tmp_path / "en-es.txt"
    dictionary.write_text("".join(f"{s} {t}\n" for s, t in pairs), encoding="utf-8")
    with pytest.warns(UserWarning, match="only"):
        skipped = evaluate_bli(path, target_file, dictionary, method="nn")
    scored = evaluate_bli(path, target_file, dictionary, method="nn", oov="subwords")
    assert (skipped["queries"], skipped["unseen"], scored["queries"], scored["unseen"]) == (2, 0, 5, 3)
    assert scored["coverage"] == 5 / 6 and scored["coverage_vocabulary"] == skipped["coverage"] == 2 / 6
    unit = np.array([kv[w] / np.linalg.norm(kv[w]) for w in targets])
    hits = sum(targets[int(np.argmax(unit @ kv[s]))] == t for s, t in pairs[:5])
    assert scored["p@1"] == pytest.approx(hits / 5)


def test_oov_subwords_needs_ngrams(tmp_path, capsys):
    from mtlembed.eval.cli import main
    from mtlembed.io import save_word2vec

    vectors = tmp_path / "plain.vec"
    save_word2vec(vectors, VOCAB, np.ones((len(VOCAB), 3), np.float32))
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("king queen 1\ncat dog 2\nkings dogs 3\n", encoding="utf-8")
    assert main(["eval", "similarity", str(vectors), str(pairs_file), "--oov", "subwords"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error: ") and "subwords" in err and err.count("\n") == 1


def test_eval_cli_scores_unseen_words_of_a_fasttext_model(vocab_model, tmp_path, capsys):
    from mtlembed.eval.cli import main

    path, _ = vocab_model
    pairs_file = tmp_path / "pairs.txt"
    pairs_file.write_text("king queen 1\ncat dog 2\nkings dogs 3\n", encoding="utf-8")
    assert main(["eval", "similarity", str(path), str(pairs_file), "--oov", "subwords", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["pairs"], result["unseen"], result["coverage_vocabulary"]) == (3, 1, 2 / 3)
    assert main(["eval", "similarity", str(path), str(pairs_file), "--oov", "subwords"]) == 0
    assert "coverage 100.00% (vocabulary 66.67%)" in capsys.readouterr().out
