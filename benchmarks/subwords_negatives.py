"""Skip-gram with subwords: one draw of negatives per center against one per (center, context) pair, by
training words (issue 21; the rule behind mtlembed.kernel.PAIR_FROM_WORDS).

    python benchmarks/subwords_negatives.py --runs 500k:1,500k:5,2M:1,2M:5,4M:1,4M:5,17M:1

Each run trains mtlembed --subwords on the first N words of the text8-style English corpus
(benchmarks/prepare_corpus.py), dim 100, window 5, 5 negatives, sample 1e-4, min-count 5, 2 threads,
seed 1, once with each draw, and scores questions-words (top 30k words) and Rare Words (unseen words
from their n-grams). Writes benchmarks/results/subwords-negatives.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import git_state, loadavg  # noqa: E402

from mtlembed import eval as ev  # noqa: E402
from mtlembed.trainer import train  # noqa: E402

DATA = Path(os.environ.get("MTLEMBED_DATA") or ROOT.parent / "shared" / "data")
QUESTIONS = DATA / "analogy" / "en" / "questions-words.txt"
RARE_WORDS = DATA / "similarity" / "en" / "faruqui" / "EN-RW-STANFORD.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="500k:1,500k:5,2M:1,2M:5,4M:1,4M:5,17M:1",
                        help="WORDS:EPOCHS,... (corpus benchmarks/.cache/enwiki-text8-WORDS.txt)")
    parser.add_argument("--name", default="subwords-negatives")
    args = parser.parse_args()
    rows = []
    for run in args.runs.split(","):
        words, epochs = run.split(":")
        corpus = ROOT / "benchmarks" / ".cache" / f"enwiki-text8-{words}.txt"
        if not corpus.exists():
            sys.exit(f"missing {corpus}: python benchmarks/prepare_corpus.py --words {words}")
        row = {"words": words, "epochs": int(epochs), "loadavg": loadavg()}
        for draw in ("center", "pair"):
            vectors = train(str(corpus), dim=100, epochs=int(epochs), threads=2, min_count=5, sample=1e-4,
                            seed=1, subwords=True, negatives=draw)
            row[draw] = {"analogy": ev.analogy(vectors, QUESTIONS, restrict=30000)["accuracy"],
                         "rw": ev.similarity(vectors, RARE_WORDS, oov="subwords")["spearman"]}
        print(row, flush=True)
        rows.append(row)
    results = ROOT / "benchmarks" / "results"
    sha, dirty = git_state()
    commit = sha[:7] + (" with uncommitted changes" if dirty else "")
    (results / f"{args.name}.json").write_text(json.dumps(
        {"command": "python benchmarks/subwords_negatives.py --runs " + args.runs, "git": commit,
         "rows": rows}, indent=1))
    lines = [f"# {args.name}", "", f"Command: `python benchmarks/subwords_negatives.py --runs {args.runs}`",
             f"(git {commit}).", "", __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| corpus words | epochs | training words | analogy %, center | analogy %, pair "
             "| RW rho, center | RW rho, pair |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        scale = {"k": 1e3, "M": 1e6}[row["words"][-1]] * float(row["words"][:-1])
        lines.append(f"| {row['words']} | {row['epochs']} | {scale * row['epochs'] / 1e6:g}M | "
                     f"{100 * row['center']['analogy']:.2f} | {100 * row['pair']['analogy']:.2f} | "
                     f"{row['center']['rw']:.3f} | {row['pair']['rw']:.3f} |")
    (results / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
