"""Character n-grams hashed as fastText hashes them (mtlembed.subwords)."""

import numpy as np
import pytest
from gensim.models.fasttext import ft_ngram_hashes
from gensim.models.fasttext_inner import compute_ngrams_bytes, ft_hash_bytes

from mtlembed import subwords
from mtlembed.errors import ConfigError, UnknownWordError
from mtlembed.subwords import SubwordSpec, SubwordVectors, build_table, compose, fnv1a, ngram_buckets, ngrams

WORDS = ["the", "héllo", "日本語", "🙂", "naïve", "Straße", "ab", "x", "", "Ελλάδα", "🙂🙂x", "a b"]
SPECS = [SubwordSpec(3, 6, 1000), SubwordSpec(1, 3, 97), SubwordSpec(2, 2, 5), SubwordSpec(1, 1, 1000),
         SubwordSpec(5, 9, 2_000_000)]


def test_hash_is_fasttexts_with_sign_extended_bytes():
    assert fnv1a(b"") == 2166136261
    for data in [b"a", b"<ab>", "é".encode(), "日本".encode(), bytes(range(256))]:
        assert fnv1a(data) == ft_hash_bytes(data)
    # the quirk: 0x80 and above are xor-ed as 0xFFFFFF80..., not 0x80...
    assert fnv1a(b"\x80") == ((2166136261 ^ 0xFFFFFF80) * 16777619) & 0xFFFFFFFF


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_ngrams_and_buckets_agree_with_gensim(spec):
    for word in WORDS:
        assert sorted(ngrams(word, spec.min_n, spec.max_n)) == sorted(
            compute_ngrams_bytes(word, spec.min_n, spec.max_n))
        assert ngram_buckets(word, spec) == list(ft_ngram_hashes(word, spec.min_n, spec.max_n, spec.buckets))


def test_ngrams_count_characters_not_bytes():
    assert ngrams("日本", 3, 3) == ["<日本".encode(), "日本>".encode()]
    assert ngrams("a", 1, 3) == [b"<a", b"<a>", b"a", b"a>"]  # '<' and '>' alone are never n-grams


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_table_matches_the_reference(spec):
    table = build_table(WORDS, spec, n_words=len(WORDS))
    assert table.offsets.dtype == np.int64 and table.rows.dtype == np.int32
    assert table.offsets[0] == 0 and table.offsets[-1] == len(table.rows)
    for i, word in enumerate(WORDS):
        assert table.rows_of(i).tolist() == [i] + [len(WORDS) + b for b in ngram_buckets(word, spec)]


def test_table_of_unseen_words_and_shifts(monkeypatch):
    spec = SubwordSpec(3, 6, 1000)
    own = np.array([5, -1, 7, -1] * 3)
    shifts = np.arange(12) * 37
    monkeypatch.setattr(subwords, "WORDS_PER_BLOCK", 5)  # blocks joined correctly
    table = build_table(WORDS, spec, 20, own, shifts)
    for i, word in enumerate(WORDS):
        expected = ([own[i]] if own[i] >= 0 else []) + [20 + b for b in ngram_buckets(word, spec, shifts[i])]
        assert table.rows_of(i).tolist() == expected


def test_a_large_vocabulary_table_matches_the_reference():
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzéß日本🙂"))
    text = "".join(alphabet[rng.integers(0, len(alphabet), 2_000_000)])
    cuts = np.cumsum(rng.integers(1, 14, 200_000))
    words = [text[a:b] for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist())]
    table = build_table(words, SubwordSpec(), len(words))
    sample = rng.choice(len(words), 200, replace=False)
    for i in sample:
        assert table.rows_of(i).tolist() == [i] + [len(words) + b for b in ngram_buckets(words[i])]


def test_languages_share_ngrams_by_default_and_hash_apart_per_language():
    from mtlembed.vocab import Vocabulary

    vocab = Vocabulary(["casa", "house", "casa"], np.array([3, 2, 1]), ["es", "en"], np.array([0, 1, 3]))
    apart = subwords.vocabulary_table(vocab, SubwordSpec(3, 6, 1000, sharing="language"))
    shared = subwords.vocabulary_table(vocab, SubwordSpec(3, 6, 1000))
    assert apart.rows_of(0).tolist()[1:] != apart.rows_of(2).tolist()[1:]
    assert shared.rows_of(0).tolist()[1:] == shared.rows_of(2).tolist()[1:]
    assert apart.rows_of(0).tolist() == shared.rows_of(0).tolist()  # the first language is not moved
    assert SubwordSpec(buckets=10).shifts(1).tolist() == [0]
    assert SubwordSpec(buckets=10, sharing="language").shifts(3).tolist() == [0, 3, 6]
    assert SubwordSpec(buckets=10).shifts(3).tolist() == [0, 0, 0]


def test_compose_is_the_mean_of_the_rows(monkeypatch):
    rng = np.random.default_rng(1)
    spec = SubwordSpec(2, 4, 50)
    w_in = rng.normal(size=(len(WORDS) + 50, 7)).astype(np.float32)
    own = np.array([i if i % 3 else -1 for i in range(len(WORDS))])
    table = build_table(WORDS, spec, len(WORDS), own)
    expected = np.array([w_in[table.rows_of(i)].astype(np.float64).mean(axis=0) if len(table.rows_of(i))
                         else np.zeros(7) for i in range(len(WORDS))])
    monkeypatch.setattr(subwords, "BLOCK_BYTES", 7 * 4 * 3)  # a few rows per block, one word at least
    assert np.allclose(compose(table, w_in), expected, atol=1e-6)
    empty = build_table(["", "x"], SubwordSpec(4, 6, 50), len(WORDS), own_rows=[-1, -1])
    assert not compose(empty, w_in).any()  # no own row, no n-gram: zero, never NaN


def test_vectors_of_a_joint_model_need_a_known_language():
    spec = SubwordSpec(3, 4, 100, sharing="language")
    keys = ["en:house", "es:casa"]
    w_in = np.random.default_rng(2).normal(size=(102, 4)).astype(np.float32)
    model = SubwordVectors(keys, w_in, spec, languages=["en", "es"])
    out = model.vectors(["en:house", "es:house", "en:casa"])
    assert out.shape == (3, 4) and not np.allclose(out[1], model.vector("en:house"))
    buckets = [2 + b for b in ngram_buckets("house", spec, shift=50)]
    assert np.allclose(out[1], w_in[buckets].mean(axis=0), atol=1e-6)
    with pytest.raises(UnknownWordError, match="fr:maison"):
        model.vector("fr:maison")
    with pytest.raises(ConfigError, match="bucket rows"):
        SubwordVectors(keys, w_in[:50], spec)


@pytest.mark.parametrize("kwargs", [dict(min_n=0), dict(min_n=4, max_n=3), dict(buckets=0),
                                    dict(sharing="none"), dict(buckets=2**31)])
def test_bad_spec_is_one_config_error(kwargs):
    with pytest.raises(ConfigError):
        SubwordSpec(**kwargs)


def test_end_of_line_token_has_no_ngrams_as_in_fasttext():
    assert ngrams("</s>", 1, 6) == []
    table = build_table(["</s>", "s"], SubwordSpec(2, 4, 100), 2)
    assert table.rows_of(0).tolist() == [0] and len(table.rows_of(1)) > 1


def test_trained_vectors_of_a_joint_vocabulary():
    from mtlembed.vocab import Vocabulary

    vocab = Vocabulary(["casa", "perro", "house"], np.array([3, 2, 1]), ["es", "en"], np.array([0, 2, 3]))
    spec = SubwordSpec(3, 5, 64)
    w_in = np.random.default_rng(4).normal(size=(3 + 64, 6)).astype(np.float32)  # 5 dims + padding
    vectors, model = subwords.trained_vectors(vocab, w_in, spec, dim=5)
    assert vectors.shape == (3, 5)
    assert np.allclose(vectors, model.vectors(["es:casa", "es:perro", "en:house"]))
    shift = spec.shifts(2)[1]
    expected = w_in[[2] + [3 + b for b in ngram_buckets("house", spec, shift)], :5].mean(axis=0)
    assert np.allclose(vectors[2], expected, atol=1e-6)


def test_invalid_utf8_is_cut_by_fasttexts_byte_rule():
    """A fastText model's words are bytes: read with surrogateescape, they hash as those bytes."""
    word = b"a\xffb\x80c".decode("utf-8", "surrogateescape")
    assert ngrams(word, 3, 3) == [b"<a\xff", b"a\xffb\x80", b"\xffb\x80c", b"b\x80c>"]  # 0x80 continues b
    spec = SubwordSpec(2, 4, 777)
    expected = [0] + [1 + b for b in ngram_buckets(word, spec)]
    assert build_table([word], spec, 1).rows_of(0).tolist() == expected
