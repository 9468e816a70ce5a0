"""negatives = auto | center | pair (issues 21, 19): skip-gram's draw of negatives per center or per (center,
context) pair, CBOW's per cbow_share centers or per center, auto's choice, the kernel fields it sets, CUDA's
refusal and old checkpoints (of every setting whose default changed training)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import zipf_text
from test_subword_training import SMALL, _rewrite_meta, interrupted_after_a_checkpoint

from mtlembed import ConfigError, TaskSpec, TrainConfig, Trainer, backend, kernel
from mtlembed.checkpoint import CONFIG_AS_BEFORE
from mtlembed.cli import main
from mtlembed.model import Embeddings


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("negatives") / "corpus.txt"
    path.write_text(zipf_text(60000, vocab=2000, seed=5))
    return path


def train(corpus, **changes) -> np.ndarray:
    return Trainer(TrainConfig(**{**SMALL, **changes}), [TaskSpec("t", (str(corpus),))]).train().vectors


LONG = kernel.PAIR_FROM_WORDS  # corpus words: with one epoch, training long enough for per-pair draws


@pytest.mark.parametrize("changes, device, words, expected", [
    (dict(subwords=True, epochs=1), "cpu", LONG, "pair"),         # where per-pair draws score higher
    (dict(subwords=True, epochs=1), "cpu", LONG - 1, "center"),   # less text: the shared draw learns faster
    (dict(subwords=True, epochs=5), "cpu", LONG // 5, "pair"),    # training words = corpus words x epochs
    (dict(subwords=False), "cpu", LONG, "center"),
    (dict(subwords=True), "cuda", LONG, "center"),                # the CUDA kernel draws per center only
    (dict(subwords=True, negatives="center"), "cpu", LONG, "center"),
    (dict(subwords=False, negatives="pair"), "cpu", 0, "pair"),
    (dict(subwords=True, model="cbow"), "cpu", LONG, "center"),   # the training-words rule is skip-gram's
    (dict(subwords=True, model="cbow", negatives="pair"), "cpu", LONG, "pair"),  # word2vec's CBOW
    (dict(epochs=15), "cpu", 0, "pair"),                          # many epochs: pair, with or without
    (dict(epochs=14), "cpu", 0, "center"),                        # subwords, whatever the corpus
    (dict(epochs=20, model="cbow"), "cpu", 0, "pair"),
    (dict(epochs=20, model="cbow"), "cuda", 0, "pair"),           # the CUDA kernel draws CBOW's per center
    (dict(epochs=20), "cuda", 0, "center"),
    (dict(epochs=20, negatives="center"), "cpu", 0, "center"),
])
def test_auto_resolves_by_model_subwords_device_epochs_and_training_words(changes, device, words, expected):
    config = TrainConfig(**changes)
    assert config.negatives == changes.get("negatives", "auto")
    assert kernel.negatives_of(config, device, words) == expected
    p = kernel.params(config, 16, device, words)
    assert p.shared_negatives == (expected == "center")
    assert p.cbow_share == (config.cbow_share if expected == "center" else 1)


def test_auto_counts_the_whole_corpus(corpus, monkeypatch):
    """The trainer hands the kernel the vocabulary's word count (the same on every rank of a distributed
    run): a small corpus keeps the shared draw, and with the threshold below it auto draws per pair."""
    small = train(corpus)
    assert np.array_equal(small, train(corpus, negatives="center"))
    monkeypatch.setattr(kernel, "PAIR_FROM_WORDS", 1000)
    assert np.array_equal(train(corpus), train(corpus, negatives="pair"))


def test_cbow_pair_is_word2vecs_draw_per_center_bit_for_bit(corpus):
    pair = train(corpus, model="cbow", negatives="pair")
    assert not np.allclose(train(corpus, model="cbow", negatives="center"), pair)
    assert np.array_equal(train(corpus, model="cbow", negatives="center", cbow_share=1), pair)


def test_pair_is_the_kernels_per_pair_update_bit_for_bit(corpus, monkeypatch):
    pair = train(corpus, negatives="pair")
    center = train(corpus, negatives="center")
    assert not np.allclose(center, pair)
    plain = kernel.params

    def per_pair(config, dim, *device):
        p = plain(config, dim, *device)
        p.shared_negatives = False
        return p

    monkeypatch.setattr(kernel, "params", per_pair)
    assert np.array_equal(train(corpus, negatives="center"), pair)


def test_pair_on_cuda_is_one_line_before_reading(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Trainer, "read", lambda *_: pytest.fail("the corpus was read first"))
    out = tmp_path / "v.vec"
    assert main(["train", str(corpus), "-o", str(out), "--subwords", "--negatives", "pair",
                 "--device", "cuda", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == ("mtlembed: error: device 'cuda' does not train skip-gram with per-pair negatives yet; "
                   "use device 'cpu' (or 'auto')\n")
    assert not out.exists()
    with pytest.raises(ConfigError, match="per-pair negatives"):
        backend.device_for_job("cuda", kernel.job_features([], [], [], TrainConfig(negatives="pair")))
    # auto never asks for skip-gram's per-pair draws, and CBOW's (per center) are CUDA's own: both keep CUDA.
    for config in (TrainConfig(subwords=True), TrainConfig(model="cbow", negatives="pair")):
        assert "per_pair_negatives" not in kernel.job_features([], [], [], config)


@pytest.mark.parametrize("choice", ["pair", "center"])
def test_the_cli_trains_with_negatives(corpus, tmp_path, choice):
    out = tmp_path / "v.vec"
    assert main(["train", str(corpus), "-o", str(out), "--negatives", choice, "--subwords", "--buckets",
                 str(SMALL["buckets"]), "--dim", "16", "--epochs", "2", "--threads", "1", "--min-count", "2",
                 "--sample", "0", "--seed", "3", "--quiet"]) == 0
    # The API's vectors for that choice (.vec rounds them); the two choices differ (the test above).
    assert np.allclose(Embeddings.load(out).vectors, train(corpus, negatives=choice), atol=1e-5)


@pytest.mark.parametrize("key, before", sorted(CONFIG_AS_BEFORE.items()))
def test_a_checkpoint_written_before_a_setting_resumes_as_it_was_trained(key, before, corpus, tmp_path,
                                                                          monkeypatch):
    """An older checkpoint names no `negatives` (its run drew per center) or `order` (it read in corpus
    order), and resumes so, not with today's defaults."""
    assert getattr(TrainConfig(), key) != before
    config = TrainConfig(**{**SMALL, key: before})
    whole = train(corpus, **{key: before})
    ckpt = tmp_path / "ckpt"
    interrupted_after_a_checkpoint(config, corpus, ckpt, monkeypatch)
    _rewrite_meta(ckpt / "checkpoint.npz", lambda meta: meta["config"].pop(key))
    resumed = Trainer.resume(ckpt)
    assert getattr(resumed.config, key) == before
    assert np.array_equal(resumed.train(checkpoint_dir=str(ckpt)).vectors, whole)


@pytest.mark.parametrize("exponent", [0.75, 0.5, 0.0, -0.5])
def test_ns_exponent_sets_the_noise_distribution_of_each_language(exponent):
    from mtlembed.vocab import Vocabulary

    counts = np.array([500, 90, 7, 1, 40, 3], np.int64)
    vocab = Vocabulary(list("abcdef"), counts, ["en", "de"], np.array([0, 4, 6]))
    for (prob, alias, first), (begin, end) in zip(vocab.noise_tables(exponent), [(0, 4), (4, 6)]):
        assert first == begin
        n = len(prob)  # a draw picks k uniformly, then k with prob[k], else alias[k]
        mass = np.bincount(np.arange(n), weights=prob / n, minlength=n)
        mass += np.bincount(alias, weights=(1 - prob) / n, minlength=n)
        wanted = counts[begin:end].astype(np.float64) ** exponent
        np.testing.assert_allclose(mass, wanted / wanted.sum(), atol=1e-6)


LONG_RUN = kernel.LONG_SUBWORD_RUN


@pytest.mark.parametrize("changes, words, noise, order", [
    (dict(subwords=True, epochs=1), LONG_RUN, 0.5, "shuffled"),      # where each scores higher
    (dict(subwords=True, epochs=1), LONG_RUN - 1, 0.75, "corpus"),   # word2vec's on less training
    (dict(subwords=True, epochs=5), LONG_RUN // 5, 0.5, "shuffled"),  # training words = corpus x epochs
    (dict(subwords=False), LONG_RUN, 0.75, "corpus"),
    (dict(subwords=True, model="cbow"), LONG_RUN, 0.75, "corpus"),   # measured for skip-gram only
    (dict(subwords=True, ns_exponent=0.75, order="corpus"), LONG_RUN, 0.75, "corpus"),  # asked for: as asked
    (dict(subwords=False, ns_exponent=0.0, order="shuffled"), 0, 0.0, "shuffled"),
])
def test_the_default_noise_and_order_resolve_by_model_subwords_and_training_words(changes, words, noise,
                                                                                  order):
    config = TrainConfig(**changes)
    assert kernel.noise_exponent_of(config, words) == noise and kernel.order_of(config, words) == order


def test_a_long_subword_run_trains_shuffled_with_fastTexts_noise(corpus, monkeypatch):
    """The trainer resolves the defaults with the vocabulary's word count: on this small corpus as
    corpus order and count^0.75, and as shuffled and count^0.5 with the threshold below it."""
    plain, shuffled = (train(corpus, order=order, ns_exponent=0.5) for order in ("corpus", "shuffled"))
    assert not np.array_equal(plain, shuffled)  # the order changes training
    assert np.array_equal(train(corpus), train(corpus, order="corpus", ns_exponent=0.75))
    monkeypatch.setattr(kernel, "LONG_SUBWORD_RUN", 1)
    assert np.array_equal(train(corpus), shuffled)


def test_the_trainer_draws_from_ns_exponent(corpus, monkeypatch):
    from mtlembed.vocab import Vocabulary

    default = train(corpus)
    assert np.array_equal(train(corpus, ns_exponent=0.75), default)
    powers = []
    plain = Vocabulary.noise_tables
    monkeypatch.setattr(Vocabulary, "noise_tables",
                        lambda self, power: powers.append(power) or plain(self, power))
    flatter = train(corpus, ns_exponent=0.5)
    assert powers == [0.5] and not np.allclose(flatter, default)
    with pytest.raises(ConfigError, match="ns_exponent"):
        TrainConfig(ns_exponent=2.0)
