"""Joint training: namespaces, scheduling, and cross-lingual ties on a toy bilingual world."""

from __future__ import annotations

import numpy as np
import pytest

from mtlembed import ConfigError, CorpusError, TrainConfig, Trainer
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec, schedule

TOPICS, PER_TOPIC = 12, 10


def topic_sentences(rng, n, prefix):
    """Sentences of words from one topic each: words of a topic share contexts."""
    topics = rng.integers(0, TOPICS, size=n)
    words = rng.integers(0, PER_TOPIC, size=(n, 8))
    return [[f"{prefix}{t}_{w}" for w in row] for t, row in zip(topics, words)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two languages with the same topics but independent text; 'x{t}_{w}' translates to 'y{t}_{w}'."""
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    for lang, prefix in (("xx", "x"), ("yy", "y")):
        text = "\n".join(" ".join(s) for s in topic_sentences(rng, 6000, prefix))
        (root / f"{lang}.txt").write_text(text + "\n")
    # a seed dictionary of half the words of every topic
    pairs = [f"x{t}_{w} y{t}_{w}" for t in range(TOPICS) for w in range(PER_TOPIC // 2)]
    (root / "dict.txt").write_text("\n".join(pairs) + "\n")
    # parallel text: sentence-by-sentence translations
    par = topic_sentences(rng, 3000, "x")
    (root / "par.xx").write_text("\n".join(" ".join(s) for s in par) + "\n")
    (root / "par.yy").write_text("\n".join(" ".join(w.replace("x", "y") for w in s) for s in par) + "\n")
    return root


def train(world, **ties):
    config = TrainConfig(dim=24, epochs=4, threads=1, min_count=1, sample=0, seed=2, window=4)
    tasks = [TaskSpec("x", (str(world / "xx.txt"),), lang="xx"),
             TaskSpec("y", (str(world / "yy.txt"),), lang="yy")]
    return Trainer(config, tasks, **ties).train()


def cross_topic_accuracy(emb):
    """Share of held-out x words (not in the dictionary) whose nearest y word has the same topic."""
    x, y = emb.by_language("xx"), emb.by_language("yy")
    ux = x.vectors / np.linalg.norm(x.vectors, axis=1, keepdims=True)
    uy = y.vectors / np.linalg.norm(y.vectors, axis=1, keepdims=True)
    held_out = [i for i, w in enumerate(x.words) if int(w.split("_")[1]) >= PER_TOPIC // 2]
    nearest = np.argmax(ux[held_out] @ uy.T, axis=1)
    same = [x.words[i].split("_")[0][1:] == y.words[j].split("_")[0][1:] for i, j in zip(held_out, nearest)]
    return float(np.mean(same))


def test_languages_stay_apart_untied_and_meet_when_tied(world):
    untied = cross_topic_accuracy(train(world))
    by_dictionary = cross_topic_accuracy(train(world, dictionaries=[
        DictionarySpec(("xx", "yy"), str(world / "dict.txt"), codeswitch=0.3)]))
    by_parallel = cross_topic_accuracy(train(world, parallel=[
        ParallelSpec("p", ("xx", "yy"), (str(world / "par.xx"), str(world / "par.yy")))]))
    assert untied < 0.35            # chance is 1/12
    assert by_dictionary > 0.8      # held-out words found their topic through the tied ones
    assert by_parallel > 0.8


def test_same_string_in_two_languages_is_two_words(tmp_path):
    (tmp_path / "a.txt").write_text("same alpha beta\n" * 20)
    (tmp_path / "b.txt").write_text("same gamma delta\n" * 20)
    tasks = [TaskSpec("a", (str(tmp_path / "a.txt"),), lang="aa"),
             TaskSpec("b", (str(tmp_path / "b.txt"),), lang="bb")]
    emb = Trainer(TrainConfig(dim=8, epochs=1, min_count=1), tasks).train()
    assert "aa:same" in emb and "bb:same" in emb
    assert not np.array_equal(emb["aa:same"], emb["bb:same"])
    assert emb.by_language("bb").words == ["same", "gamma", "delta"]


@pytest.mark.parametrize("sampling, temperature, shares", [("proportional", 1.0, (10 / 11, 1 / 11)),
                                                           ("temperature", 2.0, (0.76, 0.24))])
@pytest.mark.parametrize("shuffle_seed", [None, 3])
def test_schedule_shares_and_determinism(sampling, temperature, shares, shuffle_seed):
    big = np.arange(0, 100_001, 100, dtype=np.int64)
    small = np.arange(0, 10_001, 100, dtype=np.int64)
    chunks = schedule([big, small], 3, sampling, temperature, chunk_tokens=1000, shuffle_seed=shuffle_seed)
    offsets = (big, small)
    tokens = np.array([offsets[t][e] - offsets[t][b] for t, b, e in
                       zip(chunks["task"], chunks["sentence_begin"], chunks["sentence_end"])])
    got = [tokens[chunks["task"] == t].sum() / tokens.sum() for t in (0, 1)]
    np.testing.assert_allclose(got, shares, atol=0.01)
    # the largest task is read exactly once per epoch under either sampling
    assert tokens[chunks["task"] == 0].sum() == 3 * big[-1]
    # tasks interleave: the small task is spread over the run, not bunched at one end
    small_positions = chunks["progress_end"][chunks["task"] == 1]
    assert small_positions.min() < 0.1 and small_positions.max() > 0.9
    again = schedule([big, small], 3, sampling, temperature, chunk_tokens=1000, shuffle_seed=shuffle_seed)
    for key in chunks:
        np.testing.assert_array_equal(chunks[key], again[key])


def test_a_language_without_a_task_is_an_error(world):
    with pytest.raises(ConfigError, match="no task has language 'zz'"):
        Trainer(TrainConfig(), [TaskSpec("x", (str(world / "xx.txt"),), lang="xx")],
                dictionaries=[DictionarySpec(("xx", "zz"), str(world / "dict.txt"))])


def test_parallel_files_of_different_lengths_name_the_short_one(world, tmp_path):
    short = tmp_path / "short.yy"
    short.write_text("\n".join((world / "par.yy").read_text().splitlines()[:-5]) + "\n")
    with pytest.raises(CorpusError, match=rf"{short}:2996: .* not line-aligned"):
        train(world, parallel=[ParallelSpec("p", ("xx", "yy"), (str(world / "par.xx"), str(short)))])


def test_cli_config_writes_one_file_per_language(world, tmp_path, capsys):
    from mtlembed.cli import main

    config = tmp_path / "joint.toml"
    config.write_text(f"""
[train]
dim = 16
epochs = 1
min_count = 1

[[task]]
name = "x"
lang = "xx"
paths = ["{world / 'xx.txt'}"]

[[task]]
name = "y"
lang = "yy"
paths = ["{world / 'yy.txt'}"]
weight = 2.0

[[dictionary]]
langs = ["xx", "yy"]
path = "{world / 'dict.txt'}"
""")
    prefix = tmp_path / "out"
    assert main(["train", "--config", str(config), "-o", str(prefix), "--per-language", "--quiet",
                 "--epochs", "2"]) == 0
    for lang, first in (("xx", "x"), ("yy", "y")):
        lines = (tmp_path / f"out.{lang}.vec").read_text().splitlines()
        assert lines[0] == f"{TOPICS * PER_TOPIC} 16" and lines[1].startswith(first)
    assert main(["train", "--config", str(config), "-o", str(tmp_path / "one.vec"), "--quiet"]) == 0
    assert (tmp_path / "one.vec").read_text().splitlines()[1].startswith("xx:")
    config.write_text(config.read_text().replace("weight = 2.0", "wieght = 2.0"))
    assert main(["train", "--config", str(config), "-o", str(prefix), "--quiet"]) == 1
    assert "did you mean 'weight'" in capsys.readouterr().err


def test_progress_and_report_show_each_task(world, monkeypatch):
    """Each task's words, passes and loss reach the report and the progress lines."""
    import io

    from mtlembed.progress import ProgressBar

    config = TrainConfig(dim=16, epochs=2, threads=2, min_count=1, sampling="temperature", temperature=2.0)
    big = world / "big.txt"
    big.write_text(((world / "xx.txt").read_text()) * 4)  # 4x the y task
    tasks = [TaskSpec("big", (str(big),), lang="xx"), TaskSpec("small", (str(world / "yy.txt"),), lang="yy")]
    trainer = Trainer(config, tasks, parallel=[ParallelSpec("par", ("xx", "yy"),
                                                            (str(world / "par.xx"), str(world / "par.yy")))])
    lines = io.StringIO()
    original = ProgressBar.__init__

    def to_buffer(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "stream": lines})
        self.every = 0.0  # a line on every call

    monkeypatch.setattr(ProgressBar, "__init__", to_buffer)
    trainer.train(progress=True)
    summary = {t["name"]: t for t in trainer.report.tasks}
    assert list(summary) == ["big", "small", "par"]
    assert summary["big"]["passes"] == pytest.approx(2.0)        # the largest task: once per epoch
    # (1/4)^(1/2) share: 2 reads per epoch
    assert summary["small"]["passes"] == pytest.approx(2 * 2.0, rel=0.05)
    assert sum(t["words"] for t in summary.values()) == trainer.report.train_words
    assert all(0 < t["loss"] < 1 for t in summary.values())
    last = lines.getvalue().strip().splitlines()[-1]
    assert "tasks: big" in last and "small" in last and "par" in last
