"""Training with subwords (issue 21): the n-gram rows train in skip-gram and CBOW, fastText and gensim
load the exported model with mtlembed's vectors, unseen words get vectors, checkpoints carry the
buckets, and on real text subwords lift what they should."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file, zipf_text

from mtlembed import ConfigError, TaskSpec, TrainConfig, Trainer, checkpoint, subwords
from mtlembed import eval as ev
from mtlembed.cli import main
from mtlembed.errors import FormatError
from mtlembed.fasttext_format import read_fasttext, save_run
from mtlembed.model import Embeddings
from mtlembed.subwords import SubwordSpec, ngram_buckets
from mtlembed.trainer import INIT_RANGE

BUCKETS = 5000
UNSEEN = ["w12345678", "w7w7", "zzz", "w1x", "é"]
SMALL = dict(dim=16, epochs=2, threads=1, min_count=2, sample=0.0, seed=3, subwords=True, buckets=BUCKETS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("subwords") / "corpus.txt"
    path.write_text(zipf_text(60000, vocab=2000, seed=2))
    return path


def trained(corpus, **changes) -> tuple[Trainer, Embeddings]:
    trainer = Trainer(TrainConfig(**{**SMALL, **changes}), [TaskSpec("t", (str(corpus),))])
    return trainer, trainer.train()


def cosines(ours, theirs) -> np.ndarray:
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    return (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))


def reference_vector(w_in: np.ndarray, n_words: int, spec: SubwordSpec, word: str, own: int | None,
                     shift: int = 0) -> np.ndarray:
    """fastText's getWordVector in float64: the mean of the word's own row and its n-grams' rows."""
    rows = ([own] if own is not None else []) + [n_words + b for b in ngram_buckets(word, spec, shift)]
    return w_in[rows].astype(np.float64).mean(axis=0)


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_training_moves_the_ngram_rows_and_words_are_their_mean(corpus, model):
    trainer, embeddings = trained(corpus, model=model)
    n_words, dim = len(embeddings), trainer.config.dim
    w_in = trainer.w_in[:, :dim]
    assert w_in.shape[0] == n_words + BUCKETS
    start = Trainer(TrainConfig(**{**SMALL, "model": model}), [TaskSpec("t", (str(corpus),))])
    start.read()
    initial, _ = start._initial_matrices(n_words, 1)  # the same seed: the run's starting point
    spec = SubwordSpec(buckets=BUCKETS)
    moved = np.any(initial[n_words:, :dim] != w_in[n_words:], axis=1)
    used = np.unique(np.concatenate([ngram_buckets(w, spec) for w in embeddings.words]))
    unused = np.setdiff1d(np.arange(BUCKETS), used)
    assert len(unused) > 0 and moved[used].all()
    assert not w_in[n_words + unused].any()  # never trained: zero, not noise in unseen words' vectors
    assert np.abs(initial[n_words:, :dim]).max() <= INIT_RANGE / dim  # the buckets start as the words
    for i in (0, 7, n_words - 1):
        word = embeddings.words[i]
        assert np.allclose(embeddings.vectors[i], reference_vector(w_in, n_words, spec, word, i), atol=1e-6)
    for word in UNSEEN:
        assert np.allclose(embeddings[word], reference_vector(w_in, n_words, spec, word, None), atol=1e-6)


def test_zeroing_the_unused_buckets_changes_only_unseen_words(corpus, monkeypatch):
    _, zeroed = trained(corpus)
    monkeypatch.setattr(subwords, "clear_unused_rows", lambda w_in, table: 0)  # as before: random
    _, random = trained(corpus)
    assert np.array_equal(zeroed.vectors, random.vectors)  # the same run, bit for bit
    assert not np.allclose(zeroed.subwords.vectors(UNSEEN), random.subwords.vectors(UNSEEN))


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_fasttext_and_gensim_load_the_model_with_our_vectors(corpus, model, tmp_path):
    fasttext = pytest.importorskip("fasttext", reason="fasttext (fasttext-wheel) is not installed")
    gensim_fasttext = pytest.importorskip("gensim.models.fasttext", reason="gensim is not installed")
    trainer, embeddings = trained(corpus, model=model)
    [path] = save_run(tmp_path / "model.bin", trainer)
    loaded = fasttext.load_model(path)
    kv = gensim_fasttext.load_facebook_vectors(path)
    words = embeddings.words
    assert loaded.words == words and kv.index_to_key == words
    for theirs in ([loaded.get_word_vector(w) for w in words], [kv[w] for w in words]):
        assert cosines(embeddings.vectors, theirs).min() >= 0.999
    ours = np.vstack([embeddings[w] for w in UNSEEN])
    for theirs in ([loaded.get_word_vector(w) for w in UNSEEN], [kv[w] for w in UNSEEN]):
        assert cosines(ours, theirs).min() >= 0.999
    assert read_fasttext(path).args.model == {"cbow": 1, "sg": 2}[model]


@pytest.mark.parametrize("sharing", ["language", "all"])
def test_a_joint_model_exports_a_fasttext_model_per_language(tmp_path, sharing):
    fasttext = pytest.importorskip("fasttext", reason="fasttext (fasttext-wheel) is not installed")
    texts = {}
    for lang, seed in (("en", 1), ("es", 2)):
        texts[lang] = tmp_path / f"{lang}.txt"
        texts[lang].write_text(zipf_text(30000, vocab=800, seed=seed))
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in texts.items()]
    trainer = Trainer(TrainConfig(**{**SMALL, "subword_sharing": sharing}), tasks)
    embeddings = trainer.train()
    paths = save_run(tmp_path / "joint.bin", trainer)
    assert paths == [str(tmp_path / "joint.en.bin"), str(tmp_path / "joint.es.bin")]
    for lang, path in zip(("en", "es"), paths):
        part, model = embeddings.by_language(lang), fasttext.load_model(path)
        assert model.words == part.words
        assert cosines(part.vectors, [model.get_word_vector(w) for w in part.words]).min() >= 0.999
        ours = np.vstack([part[w] for w in UNSEEN])  # by_language keeps the language's n-grams
        assert cosines(ours, [model.get_word_vector(w) for w in UNSEEN]).min() >= 0.999
    same = [embeddings[f"{lang}:w12345678"] for lang in ("en", "es")]
    assert np.array_equal(*same) == (sharing == "all")  # its n-grams only: shared rows, or each language's


def test_cli_trains_subwords_and_writes_every_output(corpus, tmp_path, capsys):
    fasttext = pytest.importorskip("fasttext", reason="fasttext (fasttext-wheel) is not installed")
    vec, model, report = tmp_path / "v.vec", tmp_path / "m.bin", tmp_path / "r.json"
    assert main(["train", str(corpus), "-o", str(vec), "--fasttext-out", str(model), "--report", str(report),
                 "--subwords", "--buckets", str(BUCKETS), "--min-n", "2", "--max-n", "4", "--dim", "16",
                 "--epochs", "1", "--threads", "1", "--min-count", "2", "--quiet"]) == 0
    words = Embeddings.load(vec)  # the composed vectors, as fastText gives them
    loaded, args = fasttext.load_model(str(model)), read_fasttext(model).args
    assert (args.minn, args.maxn, args.bucket) == (2, 4, BUCKETS)
    assert cosines(words.vectors, [loaded.get_word_vector(w) for w in words.words]).min() >= 0.999
    assert json.loads(report.read_text())["outputs"] == [str(vec), str(model)]


@pytest.mark.parametrize("flags, message", [
    (["-o", "o.vec", "--fasttext-out", "m.bin"], "--fasttext-out writes a model trained with subwords: add "
                                                 "--subwords"),
    (["-o", "o.vec", "--subwords", "--fasttext-out", "m.vec"], "a fastText model's name must end with .bin"),
    (["-o", "o.vec", "--subwords", "--min-n", "5", "--max-n", "4"], "min_n (5) must not exceed max_n (4)"),
    (["-o", "o.bin", "--subwords", "--fasttext-out", "o.bin"], "is also the output"),
    (["-o", "o.vec", "--subwords", "--fasttext-out", "m.bin", "--refine", "procrustes"],
     "refine = 'procrustes' does not rotate"),
])
def test_bad_subword_flags_are_one_line_before_training(corpus, tmp_path, monkeypatch, capsys, flags,
                                                        message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(corpus), *flags, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error: ") and message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written: the flags are checked before training


def interrupted_after_a_checkpoint(config: TrainConfig, corpus, ckpt, monkeypatch) -> None:
    """A run stopped (as by Ctrl-C) right after its second checkpoint, mid-way."""
    saves = []

    def save_then_stop(directory, state):
        saves.append(real_save(directory, state))
        if len(saves) == 2:
            raise KeyboardInterrupt

    real_save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config, [TaskSpec("t", (str(corpus),))]).train(checkpoint_dir=str(ckpt),
                                                               checkpoint_every="20000w")
    monkeypatch.undo()


def test_resume_is_bit_identical_and_keeps_the_buckets(corpus, tmp_path, monkeypatch):
    uninterrupted, whole = trained(corpus)
    ckpt = tmp_path / "ckpt"
    interrupted_after_a_checkpoint(TrainConfig(**SMALL), corpus, ckpt, monkeypatch)
    resumed = Trainer.resume(ckpt)
    assert 0 < resumed._resume_state.next_chunk < resumed._resume_state.total_chunks
    assert resumed._resume_state.w_in.shape[0] == len(whole) + BUCKETS
    again = resumed.train(checkpoint_dir=str(ckpt))
    assert np.array_equal(again.vectors, whole.vectors)
    assert np.array_equal(resumed.w_in, uninterrupted.w_in)  # the bucket rows too, bit for bit
    for word in UNSEEN:
        assert np.array_equal(again[word], whole[word])


def _rewrite_meta(path: Path, change) -> None:
    """The checkpoint with its metadata edited by `change(meta)`."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("change", [
    lambda meta: meta["config"].update(buckets=BUCKETS + 1),
    lambda meta: meta["config"].update(subwords=False),
], ids=["other-buckets", "no-subwords"])
def test_a_checkpoint_whose_spec_does_not_fit_its_matrix_is_refused(corpus, tmp_path, monkeypatch, change):
    ckpt = tmp_path / "ckpt"
    interrupted_after_a_checkpoint(TrainConfig(**SMALL), corpus, ckpt, monkeypatch)
    assert Trainer.resume(ckpt)._resume_state.w_in.shape[0] > BUCKETS  # as saved, it resumes
    _rewrite_meta(ckpt / "checkpoint.npz", change)
    with pytest.raises(FormatError, match="malformed checkpoint: a matrix of float32"):
        Trainer.resume(ckpt)


def test_most_similar_answers_for_an_unseen_word(corpus):
    _, embeddings = trained(corpus)
    assert "w1x" not in embeddings
    neighbours = embeddings.most_similar("w1x", topn=5)
    assert len(neighbours) == 5 and all(w in embeddings for w, _ in neighbours)
    query = embeddings.get_vector("w1x", norm=True)
    best = embeddings.unit_vectors() @ query
    assert neighbours[0][0] == embeddings.words[int(np.argmax(best))]


def test_a_model_without_subwords_is_unchanged_and_refuses_unseen_words(corpus):
    trainer, embeddings = trained(corpus, subwords=False)
    assert trainer.w_in.shape[0] == len(embeddings) and embeddings.subwords is None
    with pytest.raises(KeyError):
        embeddings["w12345678"]


def test_config_rejects_an_impossible_spec():
    with pytest.raises(ConfigError, match="min_n"):
        TrainConfig(subwords=True, min_n=4, max_n=3)
    with pytest.raises(ConfigError, match="subword_sharing"):
        TrainConfig(subwords=True, subword_sharing="some")


# ---------------------------------------------------------------------------------------------
# Real text: 500k words of English Wikipedia, one pass. Rare and inflected words are where
# subwords help: the syntactic analogies (plural, past tense, -ly ...) and the Rare Words set.

@pytest.fixture(scope="module")
def english(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import prepare_corpus

    source = shared_file("corpora/en/enwiki-2015-first12695.txt.gz")
    path = tmp_path_factory.mktemp("english") / "en.txt"
    prepare_corpus.write_corpus(source, path, 500_000)
    return path


def test_on_real_text_subwords_lift_analogies_and_score_every_rare_word(english):
    questions = shared_file("analogy/en/questions-words.txt")
    rare_words = shared_file("similarity/en/faruqui/EN-RW-STANFORD.txt")
    config = dict(dim=50, epochs=1, threads=2, min_count=5, sample=1e-4, seed=1, buckets=200_000)
    _, plain = trained(english, **{**config, "subwords": False})
    _, ngrams = trained(english, **{**config, "subwords": True})
    accuracy = {name: ev.analogy(e, questions, restrict=30000)["accuracy"]
                for name, e in (("plain", plain), ("subwords", ngrams))}
    # Measured: 29-31% against 0% (one pass leaves skip-gram without subwords near its start);
    # fastText with subwords 16% on the same words.
    assert accuracy["subwords"] >= accuracy["plain"] + 0.15, accuracy
    rw = ev.similarity(ngrams, rare_words, oov="subwords")
    assert rw["coverage"] == 1.0 and rw["coverage_vocabulary"] < 0.2
    assert rw["spearman"] >= 0.06, rw  # measured 0.11-0.16 over seeds (fastText: 0.10; garbage: ~0)


def test_eval_scores_unseen_words_of_trained_models_and_reports_both_coverages(tmp_path, capsys):
    """`eval similarity|analogy|bli --oov subwords` on the .bin models mtlembed writes."""
    texts = {}
    for lang, seed in (("en", 1), ("es", 2)):
        texts[lang] = tmp_path / f"{lang}.txt"
        texts[lang].write_text(zipf_text(30000, vocab=800, seed=seed))
    job = tmp_path / "job.toml"
    tasks = "".join(f'[[task]]\nname = "{lang}"\nlang = "{lang}"\npaths = "{path}"\n'
                    for lang, path in texts.items())
    job.write_text("[train]\nsubwords = true\nbuckets = 5000\ndim = 16\nepochs = 1\nthreads = 1\n"
                   "min_count = 2\n" + tasks)
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "v"), "--per-language",
                 "--fasttext-out", str(tmp_path / "m.bin"), "--quiet"]) == 0
    en, es = tmp_path / "m.en.bin", tmp_path / "m.es.bin"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("w1 w2 3\nw3 w4 1\nw5 w1unseen 2\nw2zz w6 1\n")
    questions = tmp_path / "questions.txt"
    questions.write_text(": s\nw1 w2 w3 w4\nw1 w2 w3 w4unseen\n")
    dictionary = tmp_path / "en-es.txt"
    dictionary.write_text("w1 w1\nw2 w2\nw3unseen w3\n")
    for argv, vocabulary in (
            (["similarity", str(en), str(pairs)], "50.00%"),
            (["analogy", str(en), str(questions), "--restrict", "0"], "50.00%"),
            (["bli", str(en), str(es), str(dictionary)], "66.67%")):
        assert main(["eval", *argv, "--oov", "subwords"]) == 0
        out = capsys.readouterr().out
        assert "coverage 100.00%" in out and f"(vocabulary {vocabulary})" in out, out
