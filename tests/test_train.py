"""Training end to end through the Python API: determinism, formats, quality signals."""

from __future__ import annotations

import numpy as np
import pytest

import mtlembed
from mtlembed import TaskSpec, TrainConfig, Trainer
from mtlembed.tasks import schedule


def test_one_thread_and_a_seed_give_bit_identical_vectors(small_corpus):
    runs = [mtlembed.train(small_corpus, dim=24, epochs=2, threads=1, seed=7) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].vectors, runs[1].vectors)
    other = mtlembed.train(small_corpus, dim=24, epochs=2, threads=1, seed=8)
    assert not np.array_equal(runs[0].vectors, other.vectors)


def test_initial_vectors_are_uniform_draws_whatever_the_block_size(small_corpus):
    import mtlembed.trainer as trainer_module

    trainer = Trainer(TrainConfig(dim=10, seed=5, epochs=2), [TaskSpec("c", (str(small_corpus),))])
    vocab = trainer.read().vocab
    rows = 3 * trainer_module.INIT_ROWS + 7  # the vocabulary's rows, then rows as a subword bucket's
    w_in, (w_out,) = trainer._initial_matrices(rows, 1)
    expected = ((np.random.default_rng(5).random((rows, 10), dtype=np.float32) - 0.5)
                / (10 / (2 * trainer_module.INIT_RANGE)))
    expected[:len(vocab)] *= trainer_module.start_scales(vocab.counts, 2)[:, None]
    assert np.abs(w_in[:, :10]).max() <= trainer_module.INIT_RANGE / 10
    np.testing.assert_array_equal(w_in[:, :10], expected)
    assert not w_in[:, 10:].any() and not w_out.any()


def test_words_trained_on_few_times_start_narrower(tmp_path):
    import mtlembed.trainer as trainer_module

    full = int(trainer_module.WIDE_FROM_UPDATES)  # occurrences x epochs from which a row starts at full range
    path = tmp_path / "c.txt"
    path.write_text("common " * 2 * full + "mid " * (full // 5) + "rare " * 2 + "\n")
    trainer = Trainer(TrainConfig(dim=64, seed=1, epochs=1, min_count=1), [TaskSpec("c", (str(path),))])
    vocab = trainer.read().vocab
    w_in, _ = trainer._initial_matrices(len(vocab), 1)
    widest = dict(zip(vocab.words, np.abs(w_in[:, :64]).max(axis=1) / (trainer_module.INIT_RANGE / 64)))
    for word, scale in (("common", 1.0), ("mid", np.sqrt(1 / 5)), ("rare", np.sqrt(2 / full))):
        assert 0.9 * scale < widest[word] <= scale, word
    # occurrences times epochs: 2 occurrences x full/2 epochs start at full range
    np.testing.assert_array_equal(trainer_module.start_scales(np.array([2, full // 5]), full // 2), [1, 1])


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_training_lowers_the_loss(small_corpus, model):
    losses = []
    for epochs in (1, 6):
        trainer = Trainer(TrainConfig(model=model, dim=16, epochs=epochs, threads=2, sample=0), [
            TaskSpec("c", (str(small_corpus),))])
        trainer.train()
        losses.append(trainer.report.final_loss)
    assert losses[1] < losses[0]


def test_vocabulary_is_sorted_by_frequency_and_respects_min_count(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a a a b b c\n" * 3 + "rare\n")
    vectors = mtlembed.train(path, dim=4, min_count=2, epochs=1)
    assert vectors.words == ["a", "b", "c"]
    assert vectors.counts.tolist() == [9, 6, 3]
    assert mtlembed.train(path, dim=4, min_count=2, max_vocab=2, epochs=1).words == ["a", "b"]


def test_gensim_loads_text_and_binary_with_the_same_vectors(small_corpus, tmp_path):
    gensim = pytest.importorskip("gensim")
    vectors = mtlembed.train(small_corpus, dim=12, epochs=1)
    for name, binary in (("v.bin", True), ("v.vec", False)):
        vectors.save(tmp_path / name)
        kv = gensim.models.KeyedVectors.load_word2vec_format(str(tmp_path / name), binary=binary)
        assert kv.index_to_key == vectors.words
        np.testing.assert_allclose(kv.vectors, vectors.vectors, rtol=1e-5, atol=1e-7)


def test_schedule_covers_every_sentence_once_per_epoch_in_order():
    offsets = np.array([0, 10, 50, 51, 90, 200], dtype=np.int64)
    chunks = schedule([offsets], epochs=3, chunk_tokens=40)
    per_epoch = len(chunks["task"]) // 3
    first = chunks["sentence_begin"][:per_epoch], chunks["sentence_end"][:per_epoch]
    assert first[0][0] == 0 and first[1][-1] == 5
    np.testing.assert_array_equal(first[0][1:], first[1][:-1])  # contiguous, no gap or overlap
    assert np.all(np.diff(chunks["progress_end"]) > 0) and chunks["progress_end"][-1] == pytest.approx(1.0)
    assert len(set(chunks["id"].tolist())) == len(chunks["id"])


def test_a_shuffled_schedule_reads_every_chunk_once_per_epoch_in_a_fresh_order():
    offsets = np.arange(0, 100_001, 100, dtype=np.int64)
    plain = schedule([offsets], epochs=3, chunk_tokens=1000)
    chunks = schedule([offsets], epochs=3, chunk_tokens=1000, shuffle_seed=7)
    per_epoch = len(plain["task"]) // 3
    epochs = [chunks["sentence_begin"][e * per_epoch:(e + 1) * per_epoch] for e in range(3)]
    for begins in epochs:  # every chunk once in each epoch, not in corpus order
        np.testing.assert_array_equal(np.sort(begins), plain["sentence_begin"][:per_epoch])
        assert not np.array_equal(begins, plain["sentence_begin"][:per_epoch])
    assert not np.array_equal(epochs[0], epochs[1])  # each epoch its own order
    # the learning rate's timeline still runs evenly over the words; ids and epochs' ends as before
    np.testing.assert_allclose(chunks["progress_end"], plain["progress_end"])
    np.testing.assert_array_equal(chunks["id"], plain["id"])
    again, other = (schedule([offsets], epochs=3, chunk_tokens=1000, shuffle_seed=s) for s in (7, 8))
    np.testing.assert_array_equal(again["sentence_begin"], chunks["sentence_begin"])
    assert not np.array_equal(other["sentence_begin"], chunks["sentence_begin"])


def test_shuffle_reads_text_from_all_over_the_corpus_in_every_stretch_of_the_run():
    """Trained in corpus order, a topic the corpus ends with is learned at the run's smallest learning
    rates; shuffled, every stretch of the run mixes both halves of the text."""
    offsets = np.arange(0, 400_001, 100, dtype=np.int64)
    chunks = schedule([offsets], epochs=1, chunk_tokens=1000, shuffle_seed=1)
    second_half = chunks["sentence_begin"] >= len(offsets) // 2
    for stretch in np.array_split(second_half, 4):
        assert 0.25 < stretch.mean() < 0.75


def test_most_similar_finds_a_planted_neighbour():
    words = ["a", "b", "c"]
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    emb = mtlembed.Embeddings(words, vectors)
    assert emb.most_similar("a", topn=1)[0][0] == "b"
