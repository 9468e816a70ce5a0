"""Growing a model: init (gensim's intersect), a fixed vocabulary, and a language added to a trained
model while the others stay frozen bit for bit."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file, zipf_text

from mtlembed.cli import main
from mtlembed.config import TrainConfig
from mtlembed.errors import ConfigError, FormatError
from mtlembed.model import Embeddings
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec
from mtlembed.trainer import Trainer

TATOEBA = Path(__file__).resolve().parents[1] / "mtlembed" / "data"
FAST = dict(dim=16, epochs=1, min_count=2, threads=1, lowercase=True)


def tatoeba_slice(folder: Path, lines: int) -> dict[str, Path]:
    """The first `lines` Tatoeba en-es pairs shipped with the package, one file per side (line-aligned)."""
    sides = {}
    for lang in ("en", "es"):
        with gzip.open(TATOEBA / f"tatoeba.en-es.{lang}.gz", "rt", encoding="utf-8") as handle:
            sides[lang] = folder / f"{lang}.txt"
            sides[lang].write_text("".join(next(handle) for _ in range(lines)), encoding="utf-8")
    return sides


@pytest.fixture
def pairs(tmp_path) -> dict[str, Path]:
    return tatoeba_slice(tmp_path, 20000)


def start_matrix(config: TrainConfig, tasks) -> tuple[Trainer, np.ndarray]:
    """The w_in a run starts from (after init), its first `dim` columns."""
    trainer = Trainer(config, tasks)
    trainer.read()
    w_in, _ = trainer._initial_matrices(len(trainer.corpus.vocab), 1)
    return trainer, w_in[:, :config.dim]


# ----------------------------------------------------------------------------- init


def test_init_has_gensims_intersect_semantics(tmp_path):
    gensim = pytest.importorskip("gensim")
    corpus = tmp_path / "c.txt"
    corpus.write_text(zipf_text(20000, vocab=300))
    rng = np.random.default_rng(5)
    # Pretrained vectors: half the corpus words (w0, w2, ...) and words the corpus lacks.
    words = [f"w{i}" for i in range(0, 300, 2)] + [f"other{i}" for i in range(50)]
    pretrained = Embeddings(words, rng.standard_normal((len(words), 16)).astype(np.float32))
    pretrained.save(tmp_path / "pre.vec")  # text: gensim 4.4's binary intersect fails on numpy 2
    tasks = [TaskSpec("c", (str(corpus),))]
    _, plain = start_matrix(TrainConfig(**FAST), tasks)
    trainer, started = start_matrix(TrainConfig(**FAST, init=str(tmp_path / "pre.vec")), tasks)
    keys = trainer.corpus.vocab.keys()
    reference = gensim.models.KeyedVectors(16)
    reference.add_vectors(keys, plain.copy())
    reference.vectors_lockf = np.ones(len(keys), np.float32)  # what a Word2Vec model's wv carries
    reference.intersect_word2vec_format(str(tmp_path / "pre.vec"))
    assert np.array_equal(started, reference.vectors)
    shared = [k for k in keys if k in pretrained]
    assert trainer.report.init["rows"] == len(shared) > 50 and trainer.report.init["of"] == len(keys)
    assert len(shared) < len(keys)  # the others start as usual


def test_init_from_a_fasttext_model_takes_its_word_vectors(tmp_path, pairs):
    fasttext = pytest.importorskip("fasttext")
    model = fasttext.train_unsupervised(str(pairs["en"]), dim=16, minCount=5, epoch=1, thread=1, verbose=0)
    model.save_model(str(tmp_path / "en.bin"))
    trainer, started = start_matrix(TrainConfig(**FAST, init=str(tmp_path / "en.bin")), [
        TaskSpec("en", (str(pairs["en"]),))])
    keys = trainer.corpus.vocab.keys()
    known = [i for i, key in enumerate(keys) if key in set(model.get_words())]
    assert trainer.report.init["rows"] == len(known) > 1000
    expected = np.array([model.get_word_vector(keys[i]) for i in known])
    assert np.allclose(started[known], expected, atol=1e-6)


def test_init_of_a_joint_run_by_language_file_or_prefix(tmp_path, pairs):
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    trainer = Trainer(TrainConfig(**FAST), tasks)
    old = trainer.train()
    old.save_per_language(tmp_path / "old")  # old.en.vec, old.es.vec
    for init, languages in ((tmp_path / "old.en.vec", {"en"}), (tmp_path / "old", {"en", "es"})):
        trainer, started = start_matrix(TrainConfig(**FAST, init=str(init)), tasks)
        counts = trainer.report.init["by_language"]
        assert {lang for lang, n in counts.items() if n} == languages
        loaded = Embeddings.load(tmp_path / "old.en.vec")
        first, last = trainer.corpus.vocab.range_of("en")
        assert np.array_equal(started[first:last], loaded.vectors)  # the same words, the same order


def test_init_errors_are_one_clear_line(tmp_path, pairs, capsys):
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    Embeddings(["casa", "perro"], np.ones((2, 8), np.float32)).save(tmp_path / "plain.vec")
    with pytest.raises(ConfigError, match="8 dimensions, the run 16: give dim = 8"):
        start_matrix(TrainConfig(**FAST, init=str(tmp_path / "plain.vec")), tasks[:1])
    with pytest.raises(ConfigError, match="keys have no lang: prefix and this joint run"):
        start_matrix(TrainConfig(**dict(FAST, dim=8), init=str(tmp_path / "plain.vec")), tasks)
    assert main(["train", str(pairs["en"]), "-o", str(tmp_path / "v.vec"), "--dim", "16", "--epochs", "1",
                 "--quiet", "--init", str(tmp_path / "plain.vec")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error: init ") and err.count("\n") == 1
    assert not (tmp_path / "v.vec").exists()


def test_cli_init_says_how_many_rows(tmp_path, pairs, capsys):
    assert main(["train", str(pairs["en"]), "-o", str(tmp_path / "a.bin"), "--dim", "16", "--epochs", "1",
                 "--quiet"]) == 0
    assert main(["train", str(pairs["es"]), str(pairs["en"]), "-o", str(tmp_path / "b.vec"), "--dim", "16",
                 "--epochs", "1", "--init", str(tmp_path / "a.bin")]) == 0
    rows = len(Embeddings.load(tmp_path / "a.bin"))
    assert f"mtlembed: init: {rows} of " in capsys.readouterr().err


# ----------------------------------------------------------------------------- vocab


def test_vocab_file_fixes_the_words_and_word2vec_counts_drive_sampling(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat and the dog ran to the cat\n" * 200)
    (tmp_path / "counts.txt").write_text("dog 5\ncat 100\nzebra 7\nthe 1000\n")
    (tmp_path / "list.txt").write_text("dog\ncat\nzebra\nthe\n")
    tasks = [TaskSpec("c", (str(corpus),))]
    model = Trainer(TrainConfig(**FAST, vocab=str(tmp_path / "counts.txt")), tasks).train()
    assert model.words == ["the", "cat", "zebra", "dog"] and model.counts.tolist() == [1000, 100, 7, 5]
    model = Trainer(TrainConfig(**FAST, vocab=str(tmp_path / "list.txt")), tasks).train()
    assert model.words == ["the", "cat", "dog", "zebra"] and model.counts.tolist() == [800, 400, 200, 1]
    # min_count does not drop listed words: the list is the vocabulary.
    model = Trainer(TrainConfig(**dict(FAST, min_count=500), vocab=str(tmp_path / "list.txt")), tasks).train()
    assert len(model) == 4


def test_vocab_file_from_the_cli_and_its_errors(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text(zipf_text(5000, vocab=50))
    (tmp_path / "v.txt").write_text("w1 10\nw0 20\n")
    assert main(["train", str(corpus), "-o", str(tmp_path / "v.vec"), "--dim", "8", "--epochs", "1",
                 "--quiet", "--vocab", str(tmp_path / "v.txt")]) == 0
    assert Embeddings.load(tmp_path / "v.vec").words == ["w0", "w1"]
    for text, message in (("w0 10\nw1\n", "some lines have a count and some do not"),
                          ("w0 ten\n", "expected 'word count' or one word"), ("w0\nw0\n", "listed twice")):
        (tmp_path / "bad.txt").write_text(text)
        with pytest.raises(FormatError, match=message):
            Trainer(TrainConfig(**FAST, vocab=str(tmp_path / "bad.txt")), [TaskSpec("c", (str(corpus),))]
                    ).read()
    assert main(["train", str(corpus), "-o", str(tmp_path / "w.vec"), "--quiet", "--vocab",
                 str(tmp_path / "bad.txt")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_a_joint_vocab_file_has_lang_word_keys(tmp_path, pairs):
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    (tmp_path / "v.txt").write_text("en:house\nen:the\nes:casa\n")
    model = Trainer(TrainConfig(**dict(FAST, min_count=1), vocab=str(tmp_path / "v.txt")), tasks).train()
    assert model.words == ["en:the", "en:house", "es:casa"]
    (tmp_path / "v.txt").write_text("house\n")
    with pytest.raises(FormatError, match="a joint run's vocabulary keys are lang:word"):
        Trainer(TrainConfig(**FAST, vocab=str(tmp_path / "v.txt")), tasks).read()


# ----------------------------------------------------------------------------- freeze


def grow(tmp_path, pairs, ties: str) -> tuple[Embeddings, Embeddings, Trainer]:
    """An English model, then Spanish added to it with English frozen, tied by `ties`."""
    old = Trainer(TrainConfig(**FAST), [TaskSpec("en", (str(pairs["en"]),), lang="en")]).train()
    old.save(tmp_path / "old.en.bin")
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    parallel = [ParallelSpec("tatoeba", ("en", "es"), (str(pairs["en"]), str(pairs["es"])))]
    dictionaries = [DictionarySpec(("en", "es"), str(shared_file("bli/muse_reconstructed/en-es.0-5000.txt")))]
    trainer = Trainer(TrainConfig(**FAST, init=str(tmp_path / "old.en.bin"), freeze=("en",)), tasks,
                      parallel if ties == "parallel" else [], dictionaries if ties == "dictionary" else [])
    return Embeddings.load(tmp_path / "old.en.bin"), trainer.train(), trainer


@pytest.mark.parametrize("ties", ["parallel", "dictionary"])
def test_a_frozen_language_is_bit_identical_after_training(tmp_path, pairs, ties):
    old, grown, trainer = grow(tmp_path, pairs, ties)
    english = grown.by_language("en")
    index = english.index
    assert sorted(english.words) == sorted(old.words)  # a frozen language keeps its vocabulary
    rows = [index[word] for word in old.words]
    assert np.array_equal(english.vectors[rows], old.vectors)  # bit for bit, whatever the ties did
    spanish = grown.by_language("es")
    assert np.isfinite(spanish.vectors).all() and np.abs(spanish.vectors).max() > 0.5  # trained
    words = {task["name"]: task["words"] for task in trainer.report.tasks}
    assert words["en"] == 0 and words["es"] > 0  # the frozen language's own task left the schedule


def test_the_same_run_without_freeze_changes_the_english_rows(tmp_path, pairs):
    """The check above can fail: without freeze, init's rows move."""
    old = Trainer(TrainConfig(**FAST), [TaskSpec("en", (str(pairs["en"]),), lang="en")]).train()
    old.save(tmp_path / "old.en.bin")
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    grown = Trainer(TrainConfig(**FAST, init=str(tmp_path / "old.en.bin")), tasks).train().by_language("en")
    assert not np.array_equal(grown[old.words[:100]], Embeddings.load(tmp_path / "old.en.bin").vectors[:100])


def test_freeze_from_a_job_file_and_the_cli(tmp_path, pairs, capsys):
    assert main(["train", str(pairs["en"]), "-o", str(tmp_path / "old.en.bin"), "--dim", "16", "--epochs",
                 "1", "--min-count", "2", "--lowercase", "--quiet"]) == 0
    job = tmp_path / "grow.toml"
    job.write_text(f'[train]\ndim = 16\nepochs = 1\nmin_count = 2\nlowercase = true\ninit = "old.en.bin"\n'
                   f'freeze = ["en"]\n[[task]]\nname = "en"\nlang = "en"\npaths = ["{pairs["en"]}"]\n'
                   f'[[task]]\nname = "es"\nlang = "es"\npaths = ["{pairs["es"]}"]\n'
                   f'[[parallel]]\nlangs = ["en", "es"]\npaths = ["{pairs["en"]}", "{pairs["es"]}"]\n'
                   "[output]\nper_language = true\n")
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "grown"), "--quiet"]) == 0
    old, grown = Embeddings.load(tmp_path / "old.en.bin"), Embeddings.load(tmp_path / "grown.en.vec")
    assert grown.words[:len(old)] == old.words
    assert np.allclose(grown.vectors[:len(old)], old.vectors, atol=5e-7)  # text output: 6 decimals
    # --freeze on the command line overrides the job file's: Spanish has no vectors to keep
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "g2"), "--quiet", "--freeze", "es"]) == 1
    assert "freeze: init " in capsys.readouterr().err


def test_freeze_errors(tmp_path, pairs, capsys):
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    with pytest.raises(ConfigError, match="give init too"):
        Trainer(TrainConfig(**FAST, freeze=("en",)), tasks)
    with pytest.raises(ConfigError, match="no task has language fr"):
        Trainer(TrainConfig(**FAST, freeze=("fr",), init="x.vec"), tasks)
    with pytest.raises(ConfigError, match="every language of the run is frozen"):
        Trainer(TrainConfig(**FAST, freeze=("en", "es"), init="x.vec"), tasks)
    with pytest.raises(ConfigError, match="freeze must be a name"):
        TrainConfig(freeze=("../en",))
    assert main(["train", str(pairs["en"]), "-o", str(tmp_path / "v.vec"), "--freeze", "default"]) == 1
    assert capsys.readouterr().err == ("mtlembed: error: freeze keeps the vectors that init gives the frozen "
                                       "languages: give init too\n")


def test_no_output_overwrites_what_the_run_grows_from(tmp_path, pairs, capsys):
    assert main(["train", str(pairs["en"]), "-o", str(tmp_path / "old.bin"), "--dim", "8", "--epochs", "1",
                 "--quiet"]) == 0
    before = (tmp_path / "old.bin").read_bytes()
    (tmp_path / "vocab.txt").write_text("the\n")
    for flag, path in (("--init", "old.bin"), ("--vocab", "vocab.txt")):
        assert main(["train", str(pairs["en"]), "-o", str(tmp_path / path), "--dim", "8", "--quiet", flag,
                     str(tmp_path / path)]) == 1
        assert "would overwrite the" in capsys.readouterr().err
    assert (tmp_path / "old.bin").read_bytes() == before
