"""BLI: hand-computed answers, an independent float64 MUSE implementation, memory, bad input."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mtlembed import eval as ev
from mtlembed.errors import ConfigError, FormatError
from mtlembed.eval.bli import read_dictionary, topk_mean
from mtlembed.io import load_word2vec, save_word2vec

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
SRC, TGT, DICT = FIXTURES / "tiny_src.vec", FIXTURES / "tiny_tgt.vec", FIXTURES / "tiny_dict.txt"


def test_tiny_fixture_hand_computed():
    # e1 -> s1 and e2 -> s2 are nearest; e3 = (1, 0.9) is nearest to s1 and s2, its gold s3 = (-1, -1) is last
    # of 4 candidates. e4 and s9 are out of the vocabularies: 3 queries of 5 dictionary source words.
    r = ev.bli(SRC, TGT, DICT, method="nn")
    assert r["p@1"] == pytest.approx(2 / 3)
    assert r["p@5"] == r["p@10"] == 1.0
    assert (r["queries"], r["pairs"], r["pairs_total"]) == (3, 4, 6)
    assert r["coverage"] == pytest.approx(3 / 5)
    # e2 has two gold translations (s2, s4): a hit if either is retrieved
    dict2 = FIXTURES / "tiny_dict.txt"
    assert read_dictionary(dict2)[1:3] == [("e2", "s2"), ("e2", "s4")]


def test_one_joint_model_with_prefixes(tmp_path):
    sw, sv = load_word2vec(SRC)
    tw, tv = load_word2vec(TGT)
    joint = tmp_path / "joint.vec"
    order = np.random.default_rng(0).permutation(8)  # languages interleaved by frequency
    words = [f"en:{w}" for w in sw] + [f"es:{w}" for w in tw]
    save_word2vec(joint, [words[i] for i in order], np.vstack([sv, tv])[order])
    for method in ("nn", "csls"):
        two = ev.bli(SRC, TGT, DICT, method=method)
        one = ev.bli(joint, None, DICT, method=method, src_lang="en", tgt_lang="es")
        assert {k: one[k] for k in ("p@1", "p@5", "p@10", "queries", "coverage")} == {
            k: two[k] for k in ("p@1", "p@5", "p@10", "queries", "coverage")
        }


def muse_reference(src, tgt, pairs, method, k=10):
    """MUSE's get_word_translation_accuracy, written plainly in float64 with full sorts."""
    src = src.astype(np.float64) / np.linalg.norm(src, axis=1, keepdims=True)
    tgt = tgt.astype(np.float64) / np.linalg.norm(tgt, axis=1, keepdims=True)
    queries = sorted({s for s, _ in pairs})
    scores = src[queries] @ tgt.T
    if method == "csls":
        r_tgt = np.sort(src @ tgt.T, axis=1)[:, -k:].mean(axis=1)  # each source word's k nearest targets
        r_src = np.sort(tgt @ src.T, axis=1)[:, -k:].mean(axis=1)  # each target word's k nearest sources
        scores = 2 * scores - r_tgt[queries][:, None] - r_src[None, :]
    top = np.argsort(-scores, axis=1)[:, :10]
    gold = {q: {t for s, t in pairs if s == q} for q in queries}
    return {
        f"p@{n}": np.mean([bool(gold[q] & set(top[i, :n])) for i, q in enumerate(queries)])
        for n in (1, 5, 10)
    }


@pytest.mark.parametrize("method", ["nn", "csls"])
@pytest.mark.parametrize("max_vocab", [None, 900])
def test_equals_float64_muse_reference(tmp_path, method, max_vocab):
    rng = np.random.default_rng(11)
    n_src, n_tgt, dim = 1200, 1000, 32
    src = rng.standard_normal((n_src, dim)).astype(np.float32)
    mapping = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    tgt = rng.standard_normal((n_tgt, dim)).astype(np.float32)
    gold = rng.permutation(n_tgt)[:600]
    tgt[gold] = (src[:600] @ mapping + 1.1 * rng.standard_normal((600, dim))).astype(np.float32)
    lines = [f"s{i} t{gold[i]}" for i in range(600)]
    lines += [f"s{i} t{rng.integers(n_tgt)}" for i in range(0, 600, 3)]  # second translations
    lines += ["s99999 t1", "s5 t99999"]  # out of vocabulary
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("\n".join(lines) + "\n")
    src_words = [f"s{i}" for i in range(n_src)]
    tgt_words = [f"t{i}" for i in range(n_tgt)]
    r = ev.bli(
        (src_words, src),
        (tgt_words, tgt @ mapping.T.astype(np.float32)),
        dictionary,
        method=method,
        max_vocab=max_vocab,
    )
    ns, nt = (max_vocab or n_src), (max_vocab or n_tgt)
    pairs = {(int(a[1:]), int(b[1:])) for a, b in (line.split() for line in lines)}
    pairs = sorted((a, b) for a, b in pairs if a < ns and b < nt)
    expected = muse_reference(src[:ns], (tgt @ mapping.T)[:nt], pairs, method)
    for key in ("p@1", "p@5", "p@10"):
        assert r[key] == pytest.approx(expected[key], abs=1e-6)
    assert 0.05 < r["p@1"] < 0.95  # informative: neither trivial nor hopeless
    assert r["queries"] == len({a for a, _ in pairs})
    assert r["coverage"] == pytest.approx(r["queries"] / 601)


def test_csls_beats_nn_on_hubs(tmp_path):
    # "hub" targets close to many source words steal nearest-neighbour ranks; CSLS discounts them
    rng = np.random.default_rng(2)
    src = rng.standard_normal((300, 16)).astype(np.float32)
    tgt = (src + 0.8 * rng.standard_normal((300, 16))).astype(np.float32)
    hubs = 6 * src[:60].mean(axis=0) + rng.standard_normal((5, 16))
    tgt = np.vstack([tgt, hubs.astype(np.float32)])
    words_s, words_t = [f"s{i}" for i in range(300)], [f"t{i}" for i in range(305)]
    path = tmp_path / "dict.txt"
    path.write_text("".join(f"s{i} t{i}\n" for i in range(300)))
    nn = ev.bli((words_s, src), (words_t, tgt), path, method="nn")
    csls = ev.bli((words_s, src), (words_t, tgt), path, method="csls")
    assert csls["p@1"] > nn["p@1"]


def test_topk_mean_matches_sort():
    rng = np.random.default_rng(0)
    for width in (5, 10, 300, 2571, 9000):
        scores = rng.standard_normal((37, width)).astype(np.float32)
        scores[3, :] = 0.5  # all ties
        scores[4, width // 2 :] = 10  # many equal maxima
        for k in (1, 10):
            expected = np.sort(scores.astype(np.float64), axis=1)[:, -k:].mean(axis=1)
            np.testing.assert_allclose(topk_mean(scores, k), expected, rtol=1e-6)


def test_csls_memory_is_bounded(tmp_path, monkeypatch):
    # 4000 x 4000 would be a 64 MB score matrix: chunked, the peak stays a small multiple of a block
    # (mtlembed.eval.bli is the function; its module is in sys.modules)
    monkeypatch.setattr(sys.modules["mtlembed.eval.bli"], "CHUNK_BYTES", 1 << 21)
    rng = np.random.default_rng(4)
    n, dim = 4000, 8
    src = rng.standard_normal((n, dim)).astype(np.float32)
    tgt = (src + 0.3 * rng.standard_normal((n, dim))).astype(np.float32)
    words_s, words_t = [f"s{i}" for i in range(n)], [f"t{i}" for i in range(n)]
    path = tmp_path / "dict.txt"
    path.write_text("".join(f"s{i} t{i}\n" for i in range(0, n, 2)))
    tracemalloc.start()
    try:
        r = ev.bli((words_s, src), (words_t, tgt), path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r["queries"] == n // 2 and r["p@1"] > 0.5
    assert peak < 16e6, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("e1 s1\ne2\n", r"d\.txt:2: expected 'source target'.*got 1 column"),
        ("e1 s1\ne2 s2 s3\n", r"d\.txt:2: expected 'source target'.*got 3 column"),
        ("\n\n", r"d\.txt: no word pairs"),
    ],
)
def test_malformed_dictionary_names_file_and_line(tmp_path, text, match):
    path = tmp_path / "d.txt"
    path.write_text(text)
    with pytest.raises(FormatError, match=match):
        ev.bli(SRC, TGT, path)


def test_no_usable_pair_and_other_user_errors(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("house casa\ne1 casa\n")
    with pytest.raises(FormatError, match=r"none of its 2 pairs.*\(1 source words found.*0 target words"):
        ev.bli(SRC, TGT, path)
    with pytest.raises(FormatError, match="has dim 2 but .* has dim 3"):
        ev.bli(SRC, FIXTURES / "tiny.vec", DICT)
    with pytest.raises(ConfigError, match="method"):
        ev.bli(SRC, TGT, DICT, method="cosine")
    with pytest.raises(ConfigError, match="no key starts with 'en:'; its keys have no language prefix"):
        ev.bli(SRC, None, DICT, src_lang="en", tgt_lang="es")
