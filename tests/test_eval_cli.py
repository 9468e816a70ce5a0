"""The `mtlembed eval` verb: sub-verbs, JSON output, tables, error convention."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mtlembed import eval as ev
from mtlembed.eval.cli import add_parser, main

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
TINY, QUESTIONS = str(FIXTURES / "tiny.vec"), str(FIXTURES / "tiny_questions.txt")
ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main(["eval", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_parser_wires_every_sub_verb():
    parser = argparse.ArgumentParser(prog="mtlembed")
    add_parser(parser.add_subparsers(dest="verb"))
    for argv in (["analogy", "v", "q"], ["similarity", "v", "p"], ["bli", "s", "t", "d"], ["suite", "v"]):
        args = parser.parse_args(["eval", *argv])
        assert callable(args.func)
    args = parser.parse_args(["eval", "analogy", "v", "q"])
    assert (args.restrict, args.method, args.json) == (30000, "add", False)


def test_analogy_json_and_table(capsys):
    code, out, _ = run(capsys, "analogy", TINY, QUESTIONS, "--json")
    assert code == 0
    r = json.loads(out)
    assert (r["correct"], r["total"], r["oov"]) == (4, 6, 1)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert [s["section"] for s in r["sections"]] == ["royal", "misc"]
    code, out, _ = run(capsys, "analogy", TINY, QUESTIONS, "--method", "mul", "--restrict", "4")
    lines = out.splitlines()
    assert lines[0].split() == ["section", "correct", "total", "accuracy", "oov"]
    assert lines[-1].split() == ["total", "4", "5", "80.00%", "2"]


def test_similarity_json(capsys):
    code, out, _ = run(capsys, "similarity", TINY, str(FIXTURES / "tiny_pairs.csv"), "--json")
    r = json.loads(out)
    assert code == 0 and r["spearman"] == pytest.approx(1.0) and (r["pairs"], r["oov"]) == (4, 1)
    code, out, _ = run(capsys, "similarity", TINY, str(FIXTURES / "tiny_pairs.tsv"))
    assert out.startswith("spearman 1.0000  pearson 0.9732  pairs 4/5  oov 1")


def test_bli_two_files_and_one_joint_file(capsys, tmp_path):
    src, tgt, dic = (str(FIXTURES / n) for n in ("tiny_src.vec", "tiny_tgt.vec", "tiny_dict.txt"))
    code, out, _ = run(capsys, "bli", src, tgt, dic, "--method", "nn", "--json")
    r = json.loads(out)
    assert code == 0
    assert {k: r[k] for k in ("p@1", "p@5", "p@10", "queries")} == {
        "p@1": pytest.approx(2 / 3),
        "p@5": 1.0,
        "p@10": 1.0,
        "queries": 3,
    }
    assert r["coverage"] == pytest.approx(0.6)
    joint = tmp_path / "joint.vec"
    rows = [f"en:{line}" for line in Path(src).read_text().splitlines()[1:]]
    rows += [f"es:{line}" for line in Path(tgt).read_text().splitlines()[1:]]
    joint.write_text(f"{len(rows)} 2\n" + "\n".join(rows) + "\n")
    code, out, _ = run(
        capsys, "bli", str(joint), dic, "--src-lang", "en", "--tgt-lang", "es", "--method", "nn"
    )
    assert code == 0 and "P@1 66.67%" in out and "queries 3" in out


def make_data_dir(root: Path) -> Path:
    (root / "analogy/en").mkdir(parents=True)
    (root / "similarity/en/faruqui").mkdir(parents=True)
    shutil.copy(QUESTIONS, root / "analogy/en/questions-words.txt")
    shutil.copy(FIXTURES / "tiny_pairs.tsv", root / "similarity/en/faruqui/EN-WS-353-ALL.txt")
    (root / "similarity/en/faruqui/EN-RG-65.txt").write_text("gem\tjewel\t3.94\nnoon\tmidday\t3.9\n")
    return root


def test_suite_table_and_json(capsys, tmp_path):
    data = make_data_dir(tmp_path / "data")
    code, out, _ = run(capsys, "suite", TINY, "--data-dir", str(data))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["benchmark", "kind", "metric", "score", "covered", "oov"]
    assert lines[2].split() == ["google-analogy", "analogy", "accuracy", "0.6667", "6/7", "1"]
    assert lines[3].split() == ["ws353", "similarity", "spearman", "1.0000", "4/5", "1"]
    assert lines[4].split()[:4] == ["rg65", "similarity", "spearman", "n/a"]  # no pair in the vocabulary
    assert len({len(line) for line in lines[:2]}) == 1  # aligned columns
    code, out, _ = run(capsys, "suite", TINY, "--data-dir", str(data), "--json")
    r = json.loads(out)
    assert [b["name"] for b in r["benchmarks"]] == ["google-analogy", "ws353", "rg65"]
    assert r["benchmarks"][2]["score"] is None and "vocabulary" in r["benchmarks"][2]["error"]


def test_suite_finds_data_through_environment(monkeypatch, tmp_path):
    data = make_data_dir(tmp_path / "elsewhere")
    monkeypatch.setenv("MTLEMBED_DATA", str(data))
    assert ev.find_data_dir() == data
    r = ev.suite(TINY)
    assert r["data_dir"] == str(data) and r["benchmarks"][0]["covered"] == 6


def test_suite_on_the_shared_data(capsys):
    root = ev.find_data_dir()
    if root is None:
        pytest.skip("shared data folder not found (set MTLEMBED_DATA to the shared data folder)")
    code, out, _ = run(capsys, "suite", TINY, "--json")
    r = json.loads(out)
    names = {b["name"] for b in r["benchmarks"]}
    assert {"google-analogy", "msr-analogy", "simlex999", "men", "ws353"} <= names
    assert all(b["score"] is None or -1 <= b["score"] <= 1 for b in r["benchmarks"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analogy", TINY, str(FIXTURES / "tiny_dict.txt")], r"tiny_dict\.txt:1: expected a question"),
        (["analogy", str(FIXTURES / "missing.vec"), QUESTIONS], "vectors file not found"),
        (
            ["similarity", TINY, QUESTIONS],
            r"tiny_questions\.txt:1: expected 'word1 word2 score' \(3 fields\), got 2",
        ),
        (["bli", TINY, str(FIXTURES / "tiny_dict.txt")], "needs --src-lang and --tgt-lang"),
        (["suite", TINY, "--data-dir", "/nonexistent/data"], "data folder not found"),
    ],
)
def test_user_errors_print_one_line_and_exit_1(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("mtlembed: error: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_usage_errors_exit_2(capsys):
    for argv in (["eval"], ["eval", "analogy", TINY], ["eval", "bli", TINY, "d", "--method", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


def test_runs_as_a_module_without_the_compiled_extension(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "mtlembed.eval.cli", "eval", "analogy", TINY, QUESTIONS, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["correct"] == 4
    assert "mtlembed._core" not in proc.stderr
