"""Analogy evaluation: hand-computed answers, agreement with gensim, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtlembed import eval as ev
from mtlembed.errors import ConfigError, FormatError
from mtlembed.eval.analogy import MUL_EPSILON, read_questions
from mtlembed.io import load_word2vec, save_word2vec

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
TINY = FIXTURES / "tiny.vec"
QUESTIONS = FIXTURES / "tiny_questions.txt"


def questions_words() -> Path:
    """questions-words.txt from the shared data, else the identical copy in gensim's wheel."""
    root = ev.find_data_dir()
    if root is not None and (root / "analogy/en/questions-words.txt").is_file():
        return root / "analogy/en/questions-words.txt"
    test_utils = pytest.importorskip(
        "gensim.test.utils", reason="needs questions-words.txt (shared data or gensim)"
    )
    return Path(test_utils.datapath("questions-words.txt"))


class FakeEmbeddings:
    """Duck-typed stand-in for mtlembed.model.Embeddings."""

    def __init__(self, words, vectors):
        self.words, self.vectors = words, vectors


# ----------------------------------------------------------------------------- hand-computed


def test_tiny_fixture_hand_computed():
    # royal: 2 right (queen, QUEEN), 1 wrong (expects apple, gets queen), 1 OOV (berlin)
    # misc: king and man right; "woman woman man ?" is wrong: the best, Man, is a case variant
    # of the question word man, so (as gensim) the next best, king, is the answer, not MAN
    r = ev.analogy(TINY, QUESTIONS)
    assert (r["correct"], r["total"], r["oov"], r["questions"]) == (4, 6, 1, 7)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert [(s["section"], s["correct"], s["total"], s["oov"]) for s in r["sections"]] == [
        ("royal", 2, 3, 1),
        ("misc", 2, 3, 0),
    ]
    # restricted to man, woman, king, queen: apple and Man fall out of the vocabulary
    r = ev.analogy(TINY, QUESTIONS, restrict=4)
    assert [(s["correct"], s["total"], s["oov"]) for s in r["sections"]] == [(2, 2, 2), (2, 3, 0)]
    assert r["restrict"] == 4
    # case-sensitive: "MAN WOMAN KING QUEEN" is out of the vocabulary
    r = ev.analogy(TINY, QUESTIONS, case_insensitive=False)
    assert (r["correct"], r["total"], r["oov"]) == (3, 5, 2)


def test_tiny_fixture_3cosmul_hand_computed(tmp_path):
    # man:woman :: king:? with 3CosMul. Shifted cosines (cos + 1) / 2 of queen with woman, king, man are
    # 0.854, 0.75, 0.5: score 1.278, far above apple (0.249) and paris (0.146)
    words, vectors = load_word2vec(TINY)
    questions = tmp_path / "q.txt"
    questions.write_text(": one\nman woman king queen\n")
    r = ev.analogy((words, vectors), questions, method="mul")
    assert (r["correct"], r["total"]) == (1, 1)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    shifted = (unit @ unit[[0, 1, 2]].T + 1) / 2
    score = shifted[:, 1] * shifted[:, 2] / (shifted[:, 0] + MUL_EPSILON)
    assert score[3] == pytest.approx(0.8536 * 0.75 / 0.501, rel=1e-3)


def test_all_kinds_of_vectors_agree(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    words, vectors = load_word2vec(TINY)
    kv = gensim_models.KeyedVectors(3)
    kv.add_vectors(words, vectors)
    save_word2vec(tmp_path / "tiny.bin", words, vectors)
    results = [
        ev.analogy(source, QUESTIONS)
        for source in (TINY, str(tmp_path / "tiny.bin"), kv, FakeEmbeddings(words, vectors), (words, vectors))
    ]
    assert all(r["sections"] == results[0]["sections"] for r in results)


# ----------------------------------------------------------------------------- gensim agreement


def structured_model(path, dim=24, seed=3, n_fill=1500):
    """Vectors where b - a ~ d - c within a section (noisy), plus case variants and filler words."""
    rng = np.random.default_rng(seed)
    vec, offset = {}, None
    for line in path.read_text().splitlines():
        if line.startswith(":"):
            offset = rng.standard_normal(dim)
            continue
        a, b, c, d = line.lower().split()
        for x, y in ((a, b), (c, d)):
            vec.setdefault(x, rng.standard_normal(dim))
            vec.setdefault(y, vec[x] + offset + 1.2 * rng.standard_normal(dim))
    words = list(vec)
    rng.shuffle(words)
    vectors = [vec[w] for w in words]
    # case variants: more frequent than their lower-case form for some words, less for others
    for i, w in enumerate(words[:60]):
        words.insert(rng.integers(0, 200), w.capitalize() if i % 2 else w.upper())
        vectors.insert(0, vec[w] + 0.7 * rng.standard_normal(dim))
    words += [f"filler{i}" for i in range(n_fill)]
    vectors += list(1.3 * rng.standard_normal((n_fill, dim)))
    order = rng.permutation(len(words))  # mix fillers in so that `restrict` cuts through questions
    return [words[i] for i in order], np.asarray(vectors, np.float32)[order]


@pytest.mark.parametrize(("restrict", "case_insensitive"), [(1200, True), (2000, True), (2000, False)])
def test_counts_equal_gensim_evaluate_word_analogies(restrict, case_insensitive):
    gensim_models = pytest.importorskip("gensim.models")
    path = questions_words()
    words, vectors = structured_model(path)
    kv = gensim_models.KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    _, sections = kv.evaluate_word_analogies(
        str(path), restrict_vocab=restrict, case_insensitive=case_insensitive
    )
    ours = ev.analogy(kv, path, restrict=restrict, case_insensitive=case_insensitive)
    theirs = [
        (s["section"], len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections[:-1]
    ]
    assert [(s["section"], s["correct"], s["total"]) for s in ours["sections"]] == theirs
    total = sections[-1]
    assert (ours["correct"], ours["total"]) == (
        len(total["correct"]),
        len(total["correct"]) + len(total["incorrect"]),
    )
    assert ours["oov"] == ours["questions"] - ours["total"] > 0
    assert 0.05 < ours["accuracy"] < 0.95  # a test that can fail: neither all right nor all wrong


def reference_answers(words, vectors, questions, method, case_insensitive=True):
    """Per-question float64 loop: the slow, obvious implementation of the same rule."""
    key = str.upper if case_insensitive else str
    first = {}
    for i, w in enumerate(words):
        first.setdefault(key(w), i)
    unit = vectors.astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    correct = total = 0
    for a, b, c, d in questions:
        ids = [first.get(key(w)) for w in (a, b, c, d)]
        if None in ids:
            continue
        total += 1
        cos = unit @ unit[ids[:3]].T
        if method == "add":
            score = cos[:, 1] + cos[:, 2] - cos[:, 0]
        else:
            shifted = (cos + 1) / 2
            score = shifted[:, 1] * shifted[:, 2] / (shifted[:, 0] + MUL_EPSILON)
        score[ids[:3]] = -np.inf
        top = [j for j in np.argsort(-score, kind="stable")[:5] if np.isfinite(score[j])]
        answer = next((j for j in top if first[key(words[j])] not in ids[:3]), top[-1])
        correct += first[key(words[answer])] == ids[3]
    return correct, total


@pytest.mark.parametrize("method", ["add", "mul"])
def test_matches_float64_reference(tmp_path, method):
    path = questions_words()
    words, vectors = structured_model(path, seed=5)
    _, questions = read_questions(path)
    questions = [q for _, _, q in questions][::7]
    restrict = 2000
    expected = reference_answers(words[:restrict], vectors[:restrict], questions, method)
    subset = tmp_path / "q.txt"
    subset.write_text(": all\n" + "\n".join(" ".join(q) for q in questions) + "\n")
    r = ev.analogy((words, vectors), subset, restrict=restrict, method=method)
    assert (r["correct"], r["total"]) == expected
    assert 0 < expected[0] < expected[1]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (": s\nman woman king\n", r"q\.txt:2: expected a question 'a b c d'.*got 3 words"),
        (": s\nman woman king queen\nman woman king queen apple\n", r"q\.txt:3: .*got 5 words"),
        (": only a section\n\n", r"q\.txt: no questions"),
    ],
)
def test_malformed_questions_name_file_and_line(tmp_path, content, match):
    path = tmp_path / "q.txt"
    path.write_text(content)
    with pytest.raises(FormatError, match=match):
        ev.analogy(TINY, path)


def test_invalid_utf8_and_missing_files(tmp_path):
    path = tmp_path / "q.txt"
    path.write_bytes(b": s\nman woman king queen\n\xffman woman king queen\n")
    with pytest.raises(FormatError, match=r"q\.txt:3: not valid UTF-8"):
        ev.analogy(TINY, path)
    with pytest.raises(ConfigError, match="questions file not found"):
        ev.analogy(TINY, tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match="method"):
        ev.analogy(TINY, QUESTIONS, method="cos")


def test_no_question_in_vocabulary_is_a_clear_error(tmp_path):
    words, vectors = load_word2vec(TINY)
    prefixed = [f"en:{w}" for w in words]
    with pytest.raises(FormatError, match=r"none of the 7 questions.*language prefixes \(en\)"):
        ev.analogy((prefixed, vectors), QUESTIONS)
    # the language prefix selects and strips: the same result as the plain model
    assert ev.analogy((prefixed, vectors), QUESTIONS, lang="en")["correct"] == 4
    with pytest.raises(ConfigError, match=r"no key starts with 'es:'.*prefixes seen: en"):
        ev.analogy((prefixed, vectors), QUESTIONS, lang="es")


def test_zero_and_non_finite_vectors(tmp_path):
    words, vectors = load_word2vec(TINY)
    zero = np.vstack([vectors, np.zeros((1, 3), np.float32)])
    r = ev.analogy((words + ["nothing"], zero), QUESTIONS)
    assert r["correct"] == 4 and np.isfinite(r["accuracy"])
    bad = vectors.copy()
    bad[2, 1] = np.nan
    with pytest.raises(FormatError, match="'king'.*NaN"):
        ev.analogy((words, bad), QUESTIONS)
