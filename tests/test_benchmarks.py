"""The benchmark harness: README figures generated from results, run.py's sweeps, one file per experiment.

No peers are needed: sweeps are parsed, and the one real run trains mtlembed alone on a few
thousand words.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import report  # noqa: E402
import run  # noqa: E402
import summary  # noqa: E402

import tools  # noqa: E402

# --- README figures come from one results summary ---

def test_readme_and_summary_are_what_summary_py_writes():
    assert summary.main(["--check"]) == 0, "run: python benchmarks/summary.py"


def test_a_hand_edit_of_the_readme_figures_fails_the_check(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    text = summary.README.read_text()
    section = text[text.index(summary.BEGIN):text.index(summary.END)]
    figure = re.search(r"\d+\.\d+x", section).group()
    readme.write_text(text.replace(section, section.replace(figure, "99.9x", 1)))
    monkeypatch.setattr(summary, "README", readme)
    assert summary.main(["--check"]) == 1
    assert summary.main([]) == 0 and readme.read_text() == text  # regenerating restores it


def test_the_figures_section_is_between_the_markers_only():
    text = summary.README.read_text()
    assert text.count(summary.BEGIN) == 1 and text.count(summary.END) == 1
    assert summary.with_section(text, "X\n").split(summary.BEGIN)[0] == text.split(summary.BEGIN)[0]
    with pytest.raises(ValueError, match="markers"):
        summary.with_section("no markers here", "X\n")


def test_every_figure_names_results_files_that_exist():
    figures = summary.figures()
    assert len({f.key for f in figures}) == len(figures)
    for figure in figures:
        assert figure.sources and figure.how
        for source in figure.sources:
            assert (summary.RESULTS / f"{source}.json").is_file(), figure


# --- one results file per experiment ---

def test_no_results_file_holds_a_single_seed_of_an_experiment():
    names = [p.relative_to(summary.RESULTS).as_posix() for p in summary.RESULTS.rglob("*.json")]
    assert names and not [n for n in names if re.search(r"seed\d+\.json$", n)]
    assert not (summary.RESULTS / "sweep").exists()


def test_merged_per_seed_results_keep_every_run():
    doc = json.loads((summary.RESULTS / "cbow-dim300-1thread-seeds.json").read_text())
    assert doc["params"]["seeds"] == [2, 3, 4, 5]
    assert sorted((r["tool"], r["seed"]) for r in doc["runs"]) == sorted(
        [("mtlembed", 2), ("gensim", 2), ("mtlembed", 3), ("gensim", 3), ("gensim", 4), ("gensim", 5)])
    assert [p["name"] for p in doc["meta"]["merged_from"]][0] == "cbow-dim300-1thread-seed2"


# --- run.py --sweep ---

def test_sweep_parsing_types_shared_settings_and_keeps_mtlembed_ones_as_text():
    args = run.parse_args(["--sweep", "threads=1,2", "--sweep", "cbow_share=1,4", "--seeds", "3"])
    assert args.sweep == [("threads", [1, 2]), ("cbow_share", ["1", "4"])]
    assert args.seeds == 3
    assert run.sweep("min-count=3,5") == ("min_count", [3, 5])
    assert run.sweep("init_range=0.5,4") == ("init_range", ["0.5", "4"])


@pytest.mark.parametrize("bad", ["nokey", "dim=", "dim=a,b", "model=sg,skip", "seed=1,2", "no_such=1"])
def test_a_bad_sweep_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.parse_args(["--sweep", bad])
    assert exit_info.value.code == 2
    assert "--sweep" in capsys.readouterr().err


def test_a_key_swept_twice_and_zero_seeds_are_refused():
    for argv in (["--sweep", "dim=50", "--sweep", "dim=100"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            run.parse_args(argv)


def test_the_grid_varies_mtlembed_settings_fastest_and_runs_the_peers_once_per_shared_point():
    args = run.parse_args(["--models", "cbow", "--sweep", "threads=1,2",
                           "--sweep", "copy_hot_rows=true,false"])
    points = list(run.configurations(args, seed=7))
    assert [(p.threads, p.options, swept, peers) for p, swept, peers in points] == [
        (1, (("copy_hot_rows", "true"),), {"threads": 1, "copy_hot_rows": "true"}, True),
        (1, (("copy_hot_rows", "false"),), {"threads": 1, "copy_hot_rows": "false"}, False),
        (2, (("copy_hot_rows", "true"),), {"threads": 2, "copy_hot_rows": "true"}, True),
        (2, (("copy_hot_rows", "false"),), {"threads": 2, "copy_hot_rows": "false"}, False),
    ]
    assert {p.seed for p, _, _ in points} == {7} and {p.alpha for p, _, _ in points} == {run.ALPHA["cbow"]}


def test_mtlembed_settings_become_its_flags_and_init_range_its_launcher(tmp_path):
    assert tools.option_flags({"cbow_share": "4", "copy_hot_rows": "false", "lowercase": "true"}) == [
        "--cbow-share", "4", "--no-copy-hot-rows", "--lowercase"]
    params = tools.Params("sg", 10, 5, 5, 1e-4, 1, 1, 0.025, 1, 1, (("init_range", "2"), ("cbow_share", "1")))
    argv = tools.Mtlembed("mtlembed").argv(params, Path("c.txt"), tmp_path / "v.bin", tmp_path)
    assert argv[:2] == [sys.executable, "-c"] and argv[3] == "2" and argv[4] == "train"
    assert argv[-2:] == ["--cbow-share", "1"]


def test_vcpu_placement_labels():
    assert [tools.vcpu_placement(*pair) for pair in ((27, 30), (160, 170), (28, 165), (70, 90))] == [
        "near", "far", "mixed", "mixed"]


def test_summarize_averages_accuracy_over_seeds_and_matches_peers_by_shared_settings():
    def rec(tool, seed, sweep, wps, accuracy):
        return {"ok": True, "tool": tool, "model": "cbow", "dim": 10, "threads": 1, "seed": seed,
                "sweep": sweep, "corpus_words": 1000, "epochs": 1, "train_seconds": 1000 / wps,
                "wall_seconds": 1.0, "peak_rss_mb": 1.0, "cpu_seconds": 1.0,
                "eval": {"analogy_accuracy": accuracy, "analogy_seen": 10, "wordsim353_spearman": 0.5}}
    runs = [rec("mtlembed", 1, {"cbow_share": "1"}, 400, 0.30),
            rec("mtlembed", 2, {"cbow_share": "1"}, 600, 0.40),
            rec("gensim", 1, {}, 100, 0.32), rec("gensim", 2, {}, 100, 0.34),
            rec("mtlembed", 1, {"cbow_share": "4"}, 800, 0.20)]
    rows = {(r["tool"], json.dumps(r["sweep"])): r for r in report.summarize(runs)}
    share1 = rows["mtlembed", '{"cbow_share": "1"}']
    assert share1["seeds"] == [1, 2] and share1["analogy_per_seed"] == [0.30, 0.40]
    assert share1["analogy_accuracy"] == pytest.approx(0.35)
    assert share1["ratio_to_fastest_peer"] == pytest.approx(1000 / ((2.5 + 1000 / 600) / 2) / 100)  # median s
    assert share1["accuracy_diff_to_best_peer"] == pytest.approx(0.02)
    assert rows["mtlembed", '{"cbow_share": "4"}']["ratio_to_fastest_peer"] == pytest.approx(8.0)


def test_a_tiny_sweep_runs_mtlembed_alone_and_writes_one_file_for_all_seeds(tmp_path, monkeypatch):
    words = "the cat sat on the mat while the dog ran to the park and the bird sang".split()
    lines = (" ".join(words[(i * 7 + j) % len(words)] for j in range(40)) for i in range(150))
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(run, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(sys, "argv", ["run.py", "(test)"])
    rc = run.main(["--corpus", str(corpus), "--tools", "mtlembed", "--models", "cbow", "--dim", "8",
                   "--epochs", "1", "--threads", "1", "--min-count", "1", "--evaluator", "none",
                   "--sweep", "cbow_share=1,4", "--seeds", "2", "--name", "tiny",
                   "--results-dir", str(tmp_path)])
    assert rc == 0
    doc = json.loads((tmp_path / "tiny.json").read_text())
    assert [(r["seed"], r["sweep"]["cbow_share"]) for r in doc["runs"]] == [
        (1, "1"), (1, "4"), (2, "1"), (2, "4")]
    assert all("--cbow-share" in r["argv"] for r in doc["runs"])
    assert [r["seeds"] for r in doc["summary"]] == [[1, 2], [1, 2]]
    assert doc["params"]["sweep"] == {"cbow_share": ["1", "4"]} and doc["meta"]["git_sha"]
    markdown = (tmp_path / "tiny.md").read_text()
    assert "- swept: cbow_share = 1, 4" in markdown and "seeds 1, 2" in markdown
    assert sorted(p.name for p in tmp_path.glob("tiny.*")) == ["tiny.json", "tiny.md", "tiny.txt"]


def test_an_init_range_sweep_changes_where_mtlembeds_input_vectors_start(tmp_path, monkeypatch):
    from gensim.models import KeyedVectors

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(("alpha beta gamma delta epsilon zeta eta theta " * 20 + "\n") * 20)
    monkeypatch.setattr(run, "RUNS", tmp_path / "runs")
    assert run.main(["--corpus", str(corpus), "--tools", "mtlembed", "--models", "sg", "--dim", "8",
                     "--epochs", "1", "--threads", "1", "--min-count", "1", "--evaluator", "none",
                     "--sweep", "init_range=0.5,8", "--keep-vectors", "--name", "init",
                     "--results-dir", str(tmp_path)]) == 0
    size = {}
    for path in (tmp_path / "runs" / "init").glob("*.bin"):
        size[path.name.split("-init_range")[1].split("-")[0]] = abs(
            KeyedVectors.load_word2vec_format(str(path), binary=True).vectors).mean()
    assert size["8"] > 4 * size["0.5"]  # w_in starts 16x wider; one short epoch moves it little
