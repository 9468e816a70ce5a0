"""Word similarity: file formats, hand-computed and scipy/gensim-checked correlations, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtlembed import eval as ev
from mtlembed.errors import FormatError
from mtlembed.eval.similarity import read_pairs
from mtlembed.io import load_word2vec

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
TINY = FIXTURES / "tiny.vec"

# the four in-vocabulary pairs of tiny_pairs.*: apple-man, man-woman, king-queen, man-king
COSINES = np.array([-(0.5**0.5), 0.0, 0.5, 0.5**0.5])
GOLD = np.array([1.0, 2.0, 3.0, 4.0])


def test_tiny_fixture_hand_computed():
    r = ev.similarity(TINY, FIXTURES / "tiny_pairs.tsv")
    assert r["spearman"] == pytest.approx(1.0)  # cosines rank the pairs exactly as the gold scores
    assert r["pearson"] == pytest.approx(np.corrcoef(GOLD, COSINES)[0, 1], abs=1e-12)
    assert (r["pairs"], r["oov"], r["total"]) == (4, 1, 5)


@pytest.mark.parametrize(
    "text",
    [
        "apple man 1\nman woman 2\nking queen 3\nman king 4\nman berlin 5\n",  # space-separated
        "# comment\n# Word 1\tWord 2\tHuman (mean)\napple\tman\t1\r\nman\twoman\t2\r\nking\tqueen\t3\r\n"
        "man\tking\t4\r\nman\tberlin\t5\r\n",  # gensim's copies, CRLF
        "word1\tword2\tPOS\tSimLex999\tconc(w1)\napple\tman\tN\t1\t3.1\nman\twoman\tN\t2\t2\n"
        "king\tqueen\tN\t3\t1\nman\tking\tN\t4\t1\nman\tberlin\tN\t5\t1\n",  # SimLex-999's own columns
        "word 1\tword 2\tscore\rapple\tman\t1\rman\twoman\t2\rking\tqueen\t3\rman\tking\t4\rman\tberlin\t5\r",
        "word1,word2,similarity\nApple,MAN,1\nman,woman,2\nking,queen,3\nman,king,4\nman,berlin,5\n",
    ],
    ids=["space", "gensim-tsv", "simlex-columns", "cr-only", "csv-upper-case"],
)
def test_file_formats_give_the_same_answer(tmp_path, text):
    path = tmp_path / "pairs.txt"
    path.write_text(text, newline="")
    expected = ev.similarity(TINY, FIXTURES / "tiny_pairs.tsv")
    r = ev.similarity(TINY, path)
    assert {k: r[k] for k in ("spearman", "pearson", "pairs", "oov")} == {
        k: expected[k] for k in ("spearman", "pearson", "pairs", "oov")
    }


def test_csv_with_index_column():
    pairs = read_pairs(FIXTURES / "tiny_pairs.csv")
    assert pairs[0] == (2, "apple", "man", 1.0)
    assert len(pairs) == 5


def test_spearman_equals_scipy_and_gensim_with_ties(tmp_path):
    scipy_stats = pytest.importorskip("scipy.stats")
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(300)]
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    pairs = rng.integers(0, 330, size=(400, 2))  # some indices past the vocabulary: OOV
    gold = rng.integers(0, 10, size=400) / 2  # many ties
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"w{a}\tw{b}\t{g}\n" for (a, b), g in zip(pairs, gold)))
    r = ev.similarity((words, vectors), path)
    keep = (pairs < 300).all(axis=1)
    unit = vectors.astype(np.float64) / np.linalg.norm(vectors, axis=1, keepdims=True)
    cos = np.einsum("ij,ij->i", unit[pairs[keep, 0]], unit[pairs[keep, 1]])
    assert r["spearman"] == pytest.approx(scipy_stats.spearmanr(gold[keep], cos).statistic, abs=1e-9)
    assert r["pearson"] == pytest.approx(scipy_stats.pearsonr(gold[keep], cos).statistic, abs=1e-9)
    assert (r["pairs"], r["oov"]) == (keep.sum(), (~keep).sum())
    kv = gensim_models.KeyedVectors(16)
    kv.add_vectors(words, vectors)
    pearson, spearman, oov_ratio = kv.evaluate_word_pairs(str(path))
    assert r["spearman"] == pytest.approx(spearman.statistic, abs=1e-6)
    assert r["oov"] / r["total"] * 100 == pytest.approx(oov_ratio)


def test_case_variants_use_the_most_frequent():
    words, vectors = load_word2vec(TINY)  # "man" (1, 0, 0) comes before "Man" (1, 0, 0.2)
    path = FIXTURES / "tiny_pairs.tsv"
    before = ev.similarity((words, vectors), path)
    order = [6, 1, 2, 3, 4, 5, 0]  # now "Man" (1, 0, 0.2) is the most frequent variant
    words2, vectors2 = [words[i] for i in order], vectors[order]
    r = ev.similarity((words2, vectors2), path)
    assert r["pairs"] == 4
    assert r["pearson"] != pytest.approx(before["pearson"])
    strict = ev.similarity((words2, vectors2), path, case_insensitive=False)
    assert strict["pearson"] == pytest.approx(before["pearson"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a\tb\t1\nc\td\n", r"p\.txt:2: expected 'word1 word2 score' \(3 fields\), got 2"),
        ("a\tb\t1\nc\td\tmany\n", r"p\.txt:2: score 'many' is not a finite number"),
        ("a\tb\t1\nc\td\tnan\n", r"p\.txt:2: score 'nan'"),
        ("a b x\nc d 1\n", r"p\.txt:1: score 'x' is not a number"),
        ("# only comments\n\n", r"p\.txt: no word pairs"),
    ],
)
def test_malformed_pairs_name_file_and_line(tmp_path, text, match):
    path = tmp_path / "p.txt"
    path.write_text(text)
    with pytest.raises(FormatError, match=match):
        ev.similarity(TINY, path)


def test_no_pair_in_vocabulary_is_a_clear_error(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("tiger cat 7\nman berlin 3\n")
    with pytest.raises(FormatError, match=r"only 0 of its 2 pairs have both words in the vocabulary"):
        ev.similarity(TINY, path)


def test_constant_or_zero_vectors_never_give_nan(tmp_path):
    words = ["a", "b", "c", "d"]
    vectors = np.array([[1, 0], [0, 0], [0, 1], [1, 1]], np.float32)  # "b" is all zeros
    path = tmp_path / "p.txt"
    path.write_text("a b 1\nc b 2\nd b 3\n")  # every cosine is 0
    r = ev.similarity((words, vectors), path)
    assert r["spearman"] is None and r["pearson"] is None and r["pairs"] == 3


@pytest.mark.parametrize(
    "relative",
    [
        "similarity/en/SimLex-999/SimLex-999.txt",
        "similarity/en/faruqui/EN-MTurk-771.txt",
        "similarity/multilingual/leviant_reichart_2015/simlex-german.txt",
        "similarity/crosslingual/vecto/en-de/semeval17.csv",
        "similarity/en/gensim_wordsim353.tsv",
    ],
)
def test_reads_every_shared_format(relative):
    root = ev.find_data_dir()
    if root is None or not (root / relative).is_file():
        pytest.skip(f"shared data file {relative} not found (set MTLEMBED_DATA to the shared data folder)")
    pairs = read_pairs(root / relative)
    assert len(pairs) > 25
    assert all(isinstance(s, float) for *_, s in pairs)
    assert all(a and b and " " not in a + b or relative.endswith(".csv") for _, a, b, _ in pairs)
