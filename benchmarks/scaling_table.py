"""Scaling table from run.py results: time vs corpus size, and 2 threads vs 1.

    python benchmarks/scaling_table.py scaling-1M scaling-4M cpu-17M-dim100-1epoch scaling-31M

Reads benchmarks/results/<name>.json (mtlembed's runs) and prints a Markdown table:
training and end-to-end seconds per million words (flat = linear in corpus size)
and the 2-thread speed-up of training.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(names: list[str]) -> int:
    print("| corpus words | model | train s/M words, 1 thread | 2 threads | speed-up | "
          "e2e s/M words, 1 thread | 2 threads | vocab s/M words |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        runs = [r for r in json.loads((RESULTS / f"{name}.json").read_text())["runs"]
                if r["tool"] == "mtlembed" and r["dim"] == 100 and r["rc"] == 0]
        for model in ("sg", "cbow"):
            by_threads = {r["threads"]: r for r in runs if r["model"] == model}
            one, two = by_threads[1], by_threads[2]
            millions = one["corpus_words"] * one["epochs"] / 1e6
            print(f"| {one['corpus_words']:,} | {model} | {one['train_seconds'] / millions:.3f} | "
                  f"{two['train_seconds'] / millions:.3f} | "
                  f"{one['train_seconds'] / two['train_seconds']:.2f}x | "
                  f"{one['wall_seconds'] / millions:.3f} | {two['wall_seconds'] / millions:.3f} | "
                  f"{one['vocab_seconds'] / millions:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
