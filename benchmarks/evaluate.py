"""Quality of a vectors file, measured the same way for every tool.

Default evaluator: gensim's evaluate_word_analogies (3CosAdd, the 30,000 most frequent
words, case-insensitive, questions with an out-of-vocabulary word skipped and counted)
and evaluate_word_pairs on WordSim353 (Spearman). `--evaluator mtlembed` swaps in the
project's own `mtlembed eval analogy` once it exists; DESIGN.md section 9 requires it to
agree with gensim on the same vectors.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
ANALOGY = SHARED / "analogy" / "en" / "questions-words.txt"
WORDSIM = SHARED / "similarity" / "en" / "gensim_wordsim353.tsv"
RESTRICT = 30_000


def count_questions(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip() and not line.startswith(":"))


def gensim_eval(vectors: Path, analogy: Path = ANALOGY, wordsim: Path | None = WORDSIM) -> dict:
    from gensim.models import KeyedVectors

    t0 = time.perf_counter()
    kv = KeyedVectors.load_word2vec_format(str(vectors), binary=True)
    score, sections = kv.evaluate_word_analogies(
        str(analogy), restrict_vocab=RESTRICT, case_insensitive=True
    )
    total = next(s for s in sections if s["section"] == "Total accuracy")
    seen = len(total["correct"]) + len(total["incorrect"])
    questions = count_questions(analogy)
    result = {
        "evaluator": f"gensim evaluate_word_analogies(restrict_vocab={RESTRICT}, case_insensitive=True)",
        "analogy_accuracy": float(score), "analogy_correct": len(total["correct"]),
        "analogy_seen": seen, "analogy_questions": questions,
        "analogy_oov_questions": questions - seen,
        # gensim splits "Total accuracy" into the semantic and syntactic halves by section name.
        "analogy_semantic": _section_accuracy(sections, syntactic=False),
        "analogy_syntactic": _section_accuracy(sections, syntactic=True),
    }
    if wordsim is not None and wordsim.exists():
        pearson, spearman, oov = kv.evaluate_word_pairs(str(wordsim), case_insensitive=True)
        result.update(wordsim353_spearman=float(spearman[0]), wordsim353_oov_percent=float(oov))
    result["eval_seconds"] = time.perf_counter() - t0
    return result


def _section_accuracy(sections: list[dict], syntactic: bool) -> float | None:
    parts = [s for s in sections if s["section"] != "Total accuracy"
             and s["section"].startswith("gram") == syntactic]
    correct = sum(len(s["correct"]) for s in parts)
    seen = correct + sum(len(s["incorrect"]) for s in parts)
    return correct / seen if seen else None


def mtlembed_eval(vectors: Path, command: list[str], analogy: Path = ANALOGY,
                  wordsim: Path | None = WORDSIM) -> dict:
    """The project's own `mtlembed eval analogy|similarity ... --json`."""
    def run(*args: str) -> dict:
        argv = command + ["eval", *args, "--json"]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"`{shlex.join(argv)}` failed: {r.stderr.strip()[-300:]}")
        return json.loads(r.stdout)

    t0 = time.perf_counter()
    rep = run("analogy", str(vectors), str(analogy), "--restrict", str(RESTRICT))
    result = {
        "evaluator": f"mtlembed eval analogy --restrict {RESTRICT}",
        "analogy_accuracy": rep["accuracy"], "analogy_correct": rep["correct"],
        "analogy_seen": rep["total"], "analogy_questions": rep["questions"],
        "analogy_oov_questions": rep["oov"],
    }
    if wordsim is not None and wordsim.exists():
        sim = run("similarity", str(vectors), str(wordsim))
        result.update(wordsim353_spearman=sim["spearman"],
                      wordsim353_oov_percent=100 * sim["oov"] / sim["total"])
    result["eval_seconds"] = time.perf_counter() - t0
    return result


def evaluate(vectors: Path, evaluator: str, mtlembed_cmd: list[str] | None = None) -> dict:
    if evaluator == "gensim":
        return gensim_eval(vectors)
    if evaluator == "mtlembed":
        return mtlembed_eval(vectors, mtlembed_cmd or ["mtlembed"])
    raise ValueError(f"unknown evaluator {evaluator!r}")


def main(argv: list[str] | None = None) -> int:
    """Run as a child of run.py, so BLAS threads can be pinned before numpy loads."""
    import argparse

    ap = argparse.ArgumentParser(description="evaluate one vectors file, print JSON")
    ap.add_argument("vectors", type=Path)
    ap.add_argument("--evaluator", choices=["gensim", "mtlembed"], default="gensim")
    ap.add_argument("--mtlembed-cmd", default="mtlembed")
    a = ap.parse_args(argv)
    print(json.dumps(evaluate(a.vectors, a.evaluator, shlex.split(a.mtlembed_cmd))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
