"""Evaluation while training: dev sets scored at each epoch's end, and the loss and evaluation
histories in the report JSON, read back by the report page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file
from test_growth import tatoeba_slice

from mtlembed import html_report
from mtlembed.cli import main
from mtlembed.config import TrainConfig
from mtlembed.errors import ConfigError
from mtlembed.eval import bli
from mtlembed.eval.bli import precision_by_band
from mtlembed.tasks import ParallelSpec, TaskSpec
from mtlembed.trainer import Trainer


@pytest.fixture
def pairs(tmp_path) -> dict[str, Path]:
    return tatoeba_slice(tmp_path, 30000)


def joint_job(pairs) -> tuple[list, list]:
    tasks = [TaskSpec(lang, (str(path),), lang=lang) for lang, path in pairs.items()]
    return tasks, [ParallelSpec("tatoeba", ("en", "es"), (str(pairs["en"]), str(pairs["es"])))]


def test_dev_sets_are_scored_at_each_epochs_end(pairs):
    dictionary = shared_file("bli/muse_reconstructed/en-es.0-5000.txt")
    similarity = shared_file("similarity/en/faruqui/EN-WS-353-ALL.txt")
    config = TrainConfig(dim=32, epochs=3, min_count=2, lowercase=True, threads=1, eval_every="epoch",
                         eval_bli=(str(dictionary),), eval_similarity=(str(similarity),))
    tasks, parallel = joint_job(pairs)
    trainer = Trainer(config, tasks, parallel)
    model = trainer.train()
    history = trainer.report.eval_history
    assert [point["epoch"] for point in history] == [1, 2, 3]
    words = [point["words"] for point in history]
    total = sum(task["words"] for task in trainer.report.tasks)
    assert words[-1] == total
    assert all(abs(w - total * (i + 1) / 3) < 0.02 * total for i, w in enumerate(words))
    p1 = [point["bli"]["en-es.0-5000"] for point in history]
    assert p1[-1] > p1[0] and p1[-1] > 0.15  # training aligns the two languages, epoch after epoch
    assert all(isinstance(point["similarity"]["EN-WS-353-ALL"], float) for point in history)
    # the last point is the model's own score
    final = bli(model, None, dictionary, src_lang="en", tgt_lang="es")
    assert final["p@1"] == p1[-1] == trainer.report.evaluation["bli"]["en-es.0-5000"]["p@1"]
    bands = trainer.report.evaluation["bli"]["en-es.0-5000"]["p@1_by_band"]
    assert sum(b["queries"] for b in bands) == final["queries"]


def test_the_report_json_holds_both_histories_and_the_page_draws_them(pairs, tmp_path):
    dictionary = shared_file("bli/muse_reconstructed/en-es.0-5000.txt")
    job = tmp_path / "job.toml"
    job.write_text(f'[train]\ndim = 16\nepochs = 2\nmin_count = 2\nlowercase = true\nthreads = 1\n'
                   f'[[task]]\nname = "en"\nlang = "en"\npaths = ["{pairs["en"]}"]\n'
                   f'[[task]]\nname = "es"\nlang = "es"\npaths = ["{pairs["es"]}"]\n'
                   f'[[parallel]]\nlangs = ["en", "es"]\npaths = ["{pairs["en"]}", "{pairs["es"]}"]\n')
    report = tmp_path / "run.json"
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "v.vec"), "--quiet", "--report",
                 str(report), "--eval-every", "epoch", "--eval-bli", str(dictionary)]) == 0
    data = json.loads(report.read_text())
    assert [p["epoch"] for p in data["eval_history"]] == [1, 2]
    assert all(p["words_per_second"] > 0 for p in data["eval_history"])
    for task in data["tasks"]:
        losses = [point["loss"] for point in task["history"]]
        assert len(losses) > 3 and all(np.isfinite(losses))
        assert [p["words"] for p in task["history"]] == sorted(p["words"] for p in task["history"])
    page = html_report.render(html_report.load_report(report))
    # the reader draws what the writer wrote: a loss curve per task, a chart per dev metric, the speed,
    # the bands; none of it falls through to "Everything else"
    assert page.count("<polyline") == 3 + 1 + 1  # 3 tasks' losses, P@1 by epoch, words/s by epoch
    assert all(f"{task['name']}: loss" in page for task in data["tasks"])
    assert "<h3>bli.en-es.0-5000</h3>" in page and "Training speed" in page
    assert "BLI P@1 by source-word frequency rank" in page and "Everything else" not in page


def test_precision_by_band_counts_each_query_once():
    ranks = np.array([0, 3, 0, 0, 1, 0])
    queries = np.array([10, 999, 1000, 4000, 30000, 50000])  # rows: frequency ranks - 1
    bands = precision_by_band(ranks, queries, n_src=45000)
    assert bands == [{"band": "1-1000", "from": 1, "to": 1000, "queries": 2, "p@1": 0.5},
                     {"band": "1001-5000", "from": 1001, "to": 5000, "queries": 2, "p@1": 1.0},
                     {"band": "20001+", "from": 20001, "to": 45000, "queries": 1, "p@1": 0.0},
                     {"band": "unseen", "from": None, "to": None, "queries": 1, "p@1": 1.0}]


def test_dev_set_errors_come_before_training(pairs, tmp_path, capsys):
    tasks, parallel = joint_job(pairs)
    dictionary = str(shared_file("bli/muse_reconstructed/en-es.0-5000.txt"))
    with pytest.raises(ConfigError, match="give eval_analogy, eval_similarity or eval_bli"):
        Trainer(TrainConfig(eval_every="epoch"), tasks)
    with pytest.raises(ConfigError, match="eval_analogy: file not found"):
        Trainer(TrainConfig(eval_analogy=str(tmp_path / "none.txt")), tasks)
    (tmp_path / "pairs.txt").write_text("house casa\n")
    with pytest.raises(ConfigError, match="dictionary named SRC-TGT"):
        Trainer(TrainConfig(eval_bli=str(tmp_path / "pairs.txt")), tasks)
    with pytest.raises(ConfigError, match="BLI needs a joint run"):
        Trainer(TrainConfig(eval_bli=dictionary), tasks[:1])
    assert main(["train", str(pairs["en"]), "-o", str(tmp_path / "v.vec"), "--eval-every", "epoch"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_the_language_of_a_monolingual_dev_set_in_a_joint_run(pairs, tmp_path):
    from mtlembed.dev_eval import DevSets

    (tmp_path / "es").mkdir()
    for path in (tmp_path / "es" / "sim.txt", tmp_path / "sim.txt"):
        path.write_text("casa perro 3.0\n")
    sets = DevSets(TrainConfig(eval_similarity=(str(tmp_path / "es" / "sim.txt"), str(tmp_path / "sim.txt"))),
                   ["en", "es"]).sets
    assert [s.languages for s in sets] == [("es",), ("en",)]  # a folder named after it, else the first


def test_eval_bli_prints_p1_by_frequency_band(tmp_path, capsys):
    from mtlembed.model import Embeddings

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1500, 8)).astype(np.float32)
    Embeddings([f"s{i}" for i in range(1500)], vectors).save(tmp_path / "src.vec")
    Embeddings([f"t{i}" for i in range(1500)], vectors).save(tmp_path / "tgt.vec")  # t_i is s_i's translation
    (tmp_path / "dict.txt").write_text("".join(f"s{i} t{i}\n" for i in (1, 2, 1200)))
    files = [str(tmp_path / name) for name in ("src.vec", "tgt.vec", "dict.txt")]
    assert main(["eval", "bli", *files, "--method", "nn"]) == 0
    assert "P@1 by source-frequency rank: 1-1000 100.00% (2), 1001+ 100.00% (1)" in capsys.readouterr().out


def test_the_history_survives_an_interruption_and_resume(pairs, tmp_path, monkeypatch):
    """Stopped while scoring epoch 2 and resumed from another folder: one point per epoch, the first
    from before the stop (the dev set's relative path was saved absolute)."""
    from mtlembed.dev_eval import DevSets

    (tmp_path / "dev").mkdir()
    similarity = shared_file("similarity/en/faruqui/EN-WS-353-ALL.txt")
    (tmp_path / "dev" / "ws.txt").write_bytes(similarity.read_bytes())
    monkeypatch.chdir(tmp_path)
    config = TrainConfig(dim=16, epochs=3, min_count=2, lowercase=True, threads=1, eval_every="epoch",
                         eval_similarity="dev/ws.txt")
    tasks, _ = joint_job(pairs)
    score, calls = DevSets.score, []

    def stopped_at_the_second(self, embeddings):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as Ctrl-C would, once the last checkpoint (after epoch 1) is written
        return score(self, embeddings)

    monkeypatch.setattr(DevSets, "score", stopped_at_the_second)
    trainer = Trainer(config, tasks)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every="1000w")  # after each segment
    first = trainer.notes["eval_history"]
    monkeypatch.setattr(DevSets, "score", score)
    monkeypatch.chdir(tmp_path / "dev")
    resumed = Trainer.resume(tmp_path / "ckpt")
    resumed.train()
    history = resumed.report.eval_history
    assert [p["epoch"] for p in history] == [1, 2, 3] and history[0] == first[0]


def test_no_output_overwrites_a_dev_set(pairs, tmp_path, capsys):
    dev = tmp_path / "ws.txt"
    dev.write_bytes(shared_file("similarity/en/faruqui/EN-WS-353-ALL.txt").read_bytes())
    assert main(["train", str(pairs["en"]), "-o", str(dev), "--quiet", "--eval-every", "epoch",
                 "--eval-similarity", str(dev)]) == 1
    assert "would overwrite the evaluation file" in capsys.readouterr().err


def test_a_joint_runs_html_report_has_the_map_linked_by_the_dev_dictionary(pairs, tmp_path):
    dictionary = shared_file("bli/muse_reconstructed/en-es.0-5000.txt")
    job = tmp_path / "job.toml"
    job.write_text(f'[train]\ndim = 16\nepochs = 1\nmin_count = 2\nlowercase = true\nthreads = 1\n'
                   f'[[task]]\nname = "en"\nlang = "en"\npaths = ["{pairs["en"]}"]\n'
                   f'[[task]]\nname = "es"\nlang = "es"\npaths = ["{pairs["es"]}"]\n')
    page = tmp_path / "run.html"
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "v.vec"), "--quiet", "--report",
                 str(page), "--eval-bli", str(dictionary)]) == 0
    text = page.read_text()
    assert "Words of en and es on one plane" in text and "pairs from the dictionary" in text
    gold = {tuple(line.split()) for line in dictionary.read_text().splitlines()}
    linked = re.findall(r"<title>en:([^ <]+) ↔ ([^ <]+)</title>", text)
    assert len(linked) == 40 and set(linked) <= gold
