"""Multi-domain English: per-task heads vs one shared head vs one concatenated corpus.

    python examples/prepare_data.py          # once: examples/data/enwikinews.txt.gz
    python benchmarks/bench_domains.py --name domains [--dim 100 --epochs 3]

Three English domains (Wikipedia, Simple English Wikipedia, Wikinews; the
tasks of examples/multi-domain.toml), trained three ways with the same
settings and the same words:

* per_task: three tasks, one shared embedding matrix, each task its own
  context (output) matrix;
* shared: three tasks, one context matrix;
* concatenated: one task reading the three corpora.

Scored on the English analogy (questions-words, top 30k words) and
similarity sets. Writes benchmarks/results/<name>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mtlembed import eval as ev  # noqa: E402
from mtlembed.config import TrainConfig  # noqa: E402
from mtlembed.tasks import TaskSpec  # noqa: E402
from mtlembed.trainer import Trainer  # noqa: E402

DATA = Path(os.environ.get("MTLEMBED_DATA") or ROOT.parent / "shared" / "data")
DOMAINS = {"wiki": DATA / "corpora" / "en" / "enwiki-2015-first12695.txt.gz",
           "simplewiki": DATA / "corpora" / "en" / "simplewiki-2017.txt.gz",
           "wikinews": ROOT / "examples" / "data" / "enwikinews.txt.gz"}
SIMILARITY = {name: DATA / "similarity" / "en" / "faruqui" / file for name, file in
              (("ws353", "EN-WS-353-ALL.txt"), ("simlex", "EN-SIMLEX-999.txt"), ("men", "EN-MEN-TR-3k.txt"),
               ("rw", "EN-RW-STANFORD.txt"))}


def scores(vectors) -> dict:
    result = {"analogy": ev.analogy(vectors, DATA / "analogy" / "en" / "questions-words.txt",
                                    restrict=30000)["accuracy"]}
    for name, path in SIMILARITY.items():
        result[name] = ev.similarity(vectors, path)["spearman"]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="domains")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--arms", default="per_task,shared,concatenated")
    args = parser.parse_args(argv)
    if not DOMAINS["wikinews"].exists():
        subprocess.run([sys.executable, str(ROOT / "examples" / "prepare_data.py")], check=True)
    config = TrainConfig(model="sg", dim=args.dim, window=5, negative=5, sample=1e-4, min_count=5,
                         max_vocab=300000, epochs=args.epochs, lowercase=True, threads=args.threads, seed=1)
    arms = {
        "per_task": [TaskSpec(name, (str(path),), lang="en", head="per_task")
                     for name, path in DOMAINS.items()],
        "shared": [TaskSpec(name, (str(path),), lang="en") for name, path in DOMAINS.items()],
        "concatenated": [TaskSpec("all", tuple(str(path) for path in DOMAINS.values()), lang="en")],
    }
    results = {"config": dict(vars(config)), "arms": {}}
    for arm in args.arms.split(","):
        start = time.perf_counter()
        trainer = Trainer(config, arms[arm])
        vectors = trainer.train(progress=True)  # one language: keys without a lang: prefix
        results["arms"][arm] = {"seconds": time.perf_counter() - start, "words": trainer.report.train_words,
                                "vocab": len(vectors), **scores(vectors)}
        print(arm, json.dumps(results["arms"][arm]), flush=True)

    command = "python benchmarks/bench_domains.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = HERE / "results" / args.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.parent.joinpath(out.name + ".json").write_text(
        json.dumps({"command": command, **results}, indent=1) + "\n")
    out.parent.joinpath(out.name + ".md").write_text(report(command, results))
    print(report(command, results))
    return 0


def report(command: str, results: dict) -> str:
    c = results["config"]
    columns = ["analogy"] + list(SIMILARITY)
    lines = ["# Multi-domain English: per-task heads vs shared head vs concatenated", "",
             f"Command: `{command}`", "",
             "Corpora: " + ", ".join(f"{name} (`{path.name}`)" for name, path in DOMAINS.items()) + "; "
             + ", ".join(f"{k}={c[k]}" for k in ("model", "dim", "window", "negative", "sample", "min_count",
                                                 "epochs", "sampling")), "",
             "| arm | seconds | train words | vocab | analogy | " + " | ".join(columns[1:]) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(columns)]
    for arm, r in results["arms"].items():
        lines.append(f"| {arm} | {r['seconds']:.0f} | {r['words']:,} | {r['vocab']:,} | "
                     f"{100 * r['analogy']:.2f}% | "
                     + " | ".join(f"{r[k]:.3f}" for k in columns[1:]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
