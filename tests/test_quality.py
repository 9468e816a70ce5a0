"""Issue 19: the quality grid harness (benchmarks/quality_grid.py), the kernel's negatives option, and
two small cells of the grid on real text (Tatoeba, 0.5M words, 5 epochs: about 15 s on two cores).

The larger real-text cell takes 15-60 s: it is marked `slow` and runs only with MTLEMBED_QUALITY=1
(`MTLEMBED_QUALITY=1 python -m pytest tests/test_quality.py -m slow`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import quality_grid  # noqa: E402

quality_run = pytest.mark.skipif(not os.environ.get("MTLEMBED_QUALITY"),
                                 reason="trains on real text (15-60 s): set MTLEMBED_QUALITY=1")


def record(tool, seed, score, options=None, model="sg", epochs=10, size=500_000):
    return {"tool": tool, "seed": seed, "model": model, "epochs": epochs, "size": size, "ok": True,
            "options": options or {}, "scores": {"bli news-de": score, "bli_train_pairs news-de": 900},
            "speeds": {"news-de.de": 1e6}}


def test_summary_flags_a_cell_more_than_a_point_below_gensim():
    runs = [record("gensim", s, v) for s, v in ((1, 10.0), (2, 11.0), (3, 12.0))]
    runs += [record("mtlembed", s, v) for s, v in ((1, 9.0), (2, 9.5), (3, 10.0))]  # 1.5 below
    runs += [record("mtlembed", s, v, {"alpha": "0.0125"}) for s, v in ((1, 10.5), (2, 10.0), (3, 11.0))]
    rows = {(r["tool"], tuple(r["options"].items())): r for r in quality_grid.summarize(runs)}
    assert set(rows) == {("gensim", ()), ("mtlembed", ()), ("mtlembed", (("alpha", "0.0125"),))}
    default, lower = rows[("mtlembed", ())], rows[("mtlembed", (("alpha", "0.0125"),))]
    assert default["diff"] == {"gensim": pytest.approx(-1.5)} and default["within"] == {"gensim": False}
    assert lower["diff"] == {"gensim": pytest.approx(-0.5)} and lower["within"] == {"gensim": True}
    assert default["sd"] == pytest.approx(0.5) and default["values"] == [9.0, 9.5, 10.0]
    assert "diff" not in rows[("gensim", ())]  # counts (bli_train_pairs) are not scores
    assert {r["score"] for r in rows.values()} == {"bli news-de"}


def test_similarity_cells_use_the_correlation_tolerance():
    runs = [dict(record("gensim", 1, 0.0), scores={"ws353": 0.600}),
            dict(record("mtlembed", 1, 0.0), scores={"ws353": 0.585})]
    [_, mine] = quality_grid.summarize(runs)
    assert mine["diff"] == {"gensim": pytest.approx(-0.015)} and mine["within"] == {"gensim": False}


def test_each_gensim_input_is_a_peer_of_its_own():
    """corpus_file and iterable gensim train with different schedules: mtlembed's cell is compared with each,
    and a record says how its gensim read the corpus."""
    runs = [dict(record("gensim", 1, 13.0), input="corpus_file"),
            dict(record("gensim-iterable", 1, 11.0), input="iterable"), record("mtlembed", 1, 11.5)]
    [mine] = [r for r in quality_grid.summarize(runs) if r["tool"] == "mtlembed"]
    assert mine["diff"] == {"gensim": pytest.approx(-1.5), "gensim-iterable": pytest.approx(0.5)}
    assert mine["within"] == {"gensim": False, "gensim-iterable": True}
    doc = {"name": "t", "command": "c", "date": "d", "cpu": "cpu", "git": ["abc", False], "runs": runs,
           "settings": quality_grid.settings(quality_grid.parse_args([])),
           "summary": quality_grid.summarize(runs)}
    table = quality_grid.markdown(doc)
    assert "| diff vs gensim | diff vs gensim-iterable |" in table and "| -1.50 ! | +0.50 |" in table


def test_reuse_takes_mtlembed_only_with_the_same_options_and_names_each_gensim_input(tmp_path):
    old = [dict(record("gensim", 1, 13.0)),  # from before the iterable peer: no input field
           record("mtlembed", 1, 11.5), record("mtlembed", 1, 12.5, {"cbow_share": "1"})]
    path = tmp_path / "old.json"
    args = quality_grid.parse_args(["--reuse", str(path), "--reuse-tools", "mtlembed,gensim"])
    path.write_text(json.dumps({"settings": quality_grid.settings(args), "runs": old}))
    params = quality_grid.Params(model="sg", dim=100, window=5, negative=5, sample=1e-3, min_count=3,
                                 epochs=10, alpha=0.025, threads=2, seed=1)
    corpora = [("news-de.en", None, 0, "en"), ("news-de.de", None, 0, "de")]

    def reuse(tool, options):
        return quality_grid.reused(args, tool, 500_000, params, options, corpora)

    assert reuse("gensim", {})["input"] == "corpus_file" and reuse("gensim", {})["reused_from"] == "old.json"
    assert reuse("mtlembed", {})["scores"]["bli news-de"] == 11.5
    assert reuse("mtlembed", {"cbow_share": "4"}) is None and reuse("gensim-iterable", {}) is None


def test_tokens_lowercase_and_split_punctuation():
    assert quality_grid.tokens("¿Dónde está, Señor Smith?") == ["dónde", "está", "señor", "smith"]


@pytest.mark.skipif(shared_data() is None, reason="shared data folder not found")
def test_parallel_sides_are_aligned_and_cut_to_size(tmp_path, monkeypatch):
    monkeypatch.setattr(quality_grid, "CACHE", tmp_path)
    en, other, words = quality_grid.parallel_sides("news", "de", 20_000)
    en_lines, de_lines = en.read_text().splitlines(), other.read_text().splitlines()
    assert len(en_lines) == len(de_lines) and 20_000 <= words < 20_200
    assert words == sum(len(line.split()) for line in de_lines)
    assert quality_grid.parallel_sides("news", "de", 10**9) is None  # larger than the corpus: no cell


def train_tiny(corpus: Path, shared: bool) -> np.ndarray:
    from mtlembed import kernel

    original = kernel.params

    def params(config, dim, *device):
        p = original(config, dim, *device)
        p.shared_negatives = shared
        return p

    from mtlembed import train
    try:
        kernel.params = params
        return train(corpus, dim=16, epochs=2, threads=1, min_count=1, seed=3).vectors.copy()
    finally:
        kernel.params = original


def test_per_pair_negatives_train_differently_and_deterministically(small_corpus):
    from mtlembed import backend

    if not hasattr(backend.core().TrainParams(), "shared_negatives"):
        pytest.skip("the installed _core predates TrainParams.shared_negatives: rebuild it")
    assert backend.core().TrainParams().shared_negatives is True  # the default: one draw per center
    shared, pair = train_tiny(small_corpus, True), train_tiny(small_corpus, False)
    assert np.isfinite(pair).all() and not np.array_equal(shared, pair)
    np.testing.assert_array_equal(pair, train_tiny(small_corpus, False))  # one thread: reproducible


@quality_run
@pytest.mark.slow
@pytest.mark.skipif(shared_data() is None, reason="shared data folder not found")
def test_small_cells_on_real_text_stay_above_their_floors(tmp_path):
    """The grid's cheapest cells, mtlembed alone, one seed (15 s on two quiet cores). The floors
    sit about a fifth below what the defaults scored over three seeds (results/quality-grid*.md), so a
    change that costs real quality fails here."""
    argv = ["--sizes", "0.5M", "--epochs", "10", "--models", "sg", "--langs", "es", "--parallel", "tatoeba",
            "--tools", "mtlembed", "--seeds", "1", "--threads", "2", "--name", "small-cells",
            "--results-dir", str(tmp_path)]
    assert quality_grid.main(argv) == 0
    doc = json.loads((tmp_path / "small-cells.json").read_text())
    [scores] = [r["scores"] for r in doc["runs"]]
    assert scores["analogy"] >= 1.8 and scores["ws353"] >= 0.28 and scores["simlex"] >= 0.16
    assert scores["bli tatoeba-es"] >= 20.0


def frequent_norm(corpus: Path, threads: int) -> float:
    """Mean norm of the 100 most frequent words' vectors after the grid's skip-gram cell (5 epochs)."""
    from mtlembed import train

    model = train(corpus, model="sg", dim=100, epochs=5, threads=threads, min_count=3, sample=1e-3, seed=1)
    return float(np.linalg.norm(model.vectors[:100], axis=1).mean())


@pytest.mark.skipif(shared_data() is None, reason="shared data folder not found (Tatoeba de-en)")
def test_two_threads_train_the_frequent_words_as_far_as_one_thread(tmp_path, monkeypatch):
    """Two threads train on private copies of the hottest output rows (csrc/cpu/train.cc); a copy merged
    too seldom (every 2^16 words, the rule before) left these vectors 7% shorter than one thread's and
    cost 1-2 points of BLI on this corpus (results/quality-sync.md). Synced 64 times an epoch: within 2.5%."""
    monkeypatch.setattr(quality_grid, "CACHE", tmp_path)
    _, german, _ = quality_grid.parallel_sides("tatoeba", "de", 500_000)
    one, two = frequent_norm(german, 1), frequent_norm(german, 2)
    assert two / one >= 0.975, f"two threads' frequent vectors are {100 * (1 - two / one):.1f}% shorter"


@pytest.mark.skipif(shared_data() is None, reason="shared data folder not found (Tatoeba es-en, MUSE es-en)")
def test_a_small_bli_cell_stays_above_its_floor(tmp_path, monkeypatch):
    """The grid's Tatoeba es-en cell, skip-gram, 5 epochs, seed 1, mtlembed alone: 11.6 raw / 12.2 unit rows
    over three seeds with the defaults (10.4-12.8 per seed; results/quality-grid-bli-tatoeba-0.5M.md, gensim
    12.5 / 13.3). The floor sits about two seeds' sd below the mean: a change that costs a couple of points
    (gensim's narrower start range: 8.9) fails here; the hot-row interval's smaller loss (9.9-11.5 per seed)
    is the norm test's to catch."""
    monkeypatch.setattr(quality_grid, "CACHE", tmp_path)
    argv = ["--sizes", "0.5M", "--epochs", "5", "--models", "sg", "--langs", "es", "--parallel", "tatoeba",
            "--parts", "bli", "--tools", "mtlembed", "--seeds", "1", "--threads", "2", "--name", "bli-cell",
            "--results-dir", str(tmp_path)]
    assert quality_grid.main(argv) == 0
    [scores] = [r["scores"] for r in json.loads((tmp_path / "bli-cell.json").read_text())["runs"]]
    assert scores["bli_queries tatoeba-es"] >= 350
    assert scores["bli tatoeba-es"] >= 9.5 and scores["bli_unit tatoeba-es"] >= 9.5


@pytest.mark.parametrize("mode", ["corpus_file", "iterable"])
def test_gensim_peer_reads_the_corpus_as_asked_and_says_so(small_corpus, tmp_path, capsys, mode):
    """The grid's two gensim peers: the same settings, the corpus read as a file per worker or as one
    iterable (their learning-rate schedules differ with 2 workers); the child reports which it used."""
    pytest.importorskip("gensim.models.word2vec_corpusfile")
    import peer_train

    from tools import Gensim, Params

    params = Params(model="cbow", dim=8, window=2, negative=2, sample=0.0, min_count=1, epochs=1, alpha=0.05,
                    threads=2, seed=1)
    out = tmp_path / f"{mode}.bin"
    argv = Gensim(mode).argv(params, small_corpus, out, tmp_path)
    assert Gensim(mode).name == ("gensim" if mode == "corpus_file" else "gensim-iterable")
    assert peer_train.main(argv[2:]) == 0
    stamps = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stamps["input"] == mode and stamps["corpus_words"] == 20000 and out.stat().st_size > 0


def test_fasttext_peer_trains_with_the_seed_it_is_given(small_corpus, tmp_path, capsys):
    """fastText's Python API passes no seed on (every run would start from seed 0); the harness sets it in
    the arguments the API builds, and refuses a model that does not say that seed. 10 threads: fastText
    fills only threads/10 of its input matrix, the rest is whatever the allocator returns (NaN on small
    runs); with 10 all of it starts random."""
    pytest.importorskip("fasttext")
    import peer_train

    from tools import FastText, Params

    params = Params(model="sg", dim=16, window=2, negative=2, sample=1e-3, min_count=1, epochs=1, alpha=0.025,
                    threads=10, seed=7)
    out = tmp_path / "fasttext.bin"
    assert peer_train.main(FastText().argv(params, small_corpus, out, tmp_path)[2:]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["seed"] == 7
    assert out.stat().st_size > 0
