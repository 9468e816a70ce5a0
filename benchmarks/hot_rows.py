"""Two threads with and without private copies of the hot output rows (copy_hot_rows),
and one thread, labelled by where the two vCPUs sat during each run.

A cloud VM's two vCPUs sometimes share a core complex (a cache line moves between
them in ~26 ns) and sometimes sit on two chiplets (~160 ns), and the host moves them
between runs a minute apart (results/two-threads-chiplets.md). Each run is therefore
bracketed by two hand-over measurements (benchmarks/pingpong.c) and counts as "near"
(both under 60 ns) or "far" (both over 100 ns); other runs are reported as "mixed".
The variants are interleaved, so every state gets runs of each. The corpus is read
once per configuration; `--score` adds the analogy accuracy of each run.

    python benchmarks/hot_rows.py --words 4M --rounds 8
    python benchmarks/hot_rows.py --words 17M --epochs 5 --rounds 2 --configs sg:100,cbow:300 --score \
        --name hot-rows-17M-quality
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import prepare_corpus  # noqa: E402
import report  # noqa: E402

from mtlembed import TaskSpec, TrainConfig, Trainer  # noqa: E402
from mtlembed import eval as ev  # noqa: E402

QUESTIONS = HERE.parent.parent / "shared" / "data" / "analogy" / "en" / "questions-words.txt"
VARIANTS = {"2 threads, copies": (2, True), "2 threads, no copies": (2, False), "1 thread": (1, False)}


def hand_over(binary: Path) -> int:
    """ns per cache-line hand-over between the two vCPUs (benchmarks/pingpong.c, 200,000 rounds)."""
    result = subprocess.run([str(binary), "200000"], capture_output=True, text=True, check=True)
    return int(result.stdout.split()[0])


def state(before: int, after: int) -> str:
    return "near" if max(before, after) < 60 else "far" if min(before, after) > 100 else "mixed"


def configs(runs: list[dict]) -> list[tuple[str, int]]:
    return list(dict.fromkeys((r["model"], r["dim"]) for r in runs))


def words_per_second(runs: list[dict], variant: str, where: str | None = None) -> tuple[float | None, int]:
    """Median over the runs of one variant (in one state), and how many there were."""
    xs = [r["words_per_second"] for r in runs if r["variant"] == variant and where in (None, r["state"])]
    return (statistics.median(xs) if xs else None), len(xs)


def speed_table(runs: list[dict], sha: str) -> list[str]:
    lines = [f"git {sha}. Median words/s (thousands) over the runs in each state (n: runs); speed-ups "
             "against the median of all 1-thread runs of the configuration.", "",
             "| model | dim | vCPUs | 1 thread | 2 threads, no copies | 2 threads, copies "
             "| copies / no copies | 2 threads / 1, copies |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for model, dim in configs(runs):
        mine = [r for r in runs if (r["model"], r["dim"]) == (model, dim)]
        one, _ = words_per_second(mine, "1 thread")
        for where in ("near", "far"):
            (off, n_off), (on, n_on) = (words_per_second(mine, v, where)
                                        for v in ("2 threads, no copies", "2 threads, copies"))
            if off is None and on is None:
                continue
            cells = [f"{x / 1e3:,.0f} (n={n})" if x else "-" for x, n in ((off, n_off), (on, n_on))]
            ratios = [f"{on / off:.2f}x" if on and off else "-", f"{on / one:.2f}x" if on else "-"]
            lines.append(f"| {model} | {dim} | {where} | {one / 1e3:,.0f} | {' | '.join(cells + ratios)} |")
    return lines


def accuracy_table(runs: list[dict]) -> list[str]:
    lines = ["| model | dim | variant | analogy accuracy per run | mean |", "|---|---:|---|---|---:|"]
    for model, dim in configs(runs):
        for variant in VARIANTS:
            scores = [r["accuracy"] for r in runs
                      if (r["model"], r["dim"], r["variant"]) == (model, dim, variant)]
            lines.append(f"| {model} | {dim} | {variant} | {', '.join(f'{x:.2f}' for x in scores)} | "
                         f"{statistics.mean(scores):.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", default="4M", help="corpus size (benchmarks/prepare_corpus.py)")
    parser.add_argument("--configs", default="sg:100,sg:300,cbow:100,cbow:300", help="model:dim,...")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--score", action="store_true", help="analogy accuracy of every run")
    parser.add_argument("--name", default="hot-rows", help="results/<name>.{md,json}")
    args = parser.parse_args(argv)

    binary = Path(tempfile.mkdtemp()) / "pingpong"
    subprocess.run(["gcc", "-O2", "-pthread", "-o", str(binary), str(HERE / "pingpong.c")], check=True)
    corpus = prepare_corpus.prepare(prepare_corpus.parse_words(args.words))
    runs = []
    for spec in args.configs.split(","):
        model, dim = spec.split(":")
        config = TrainConfig(model=model, dim=int(dim), epochs=args.epochs, sample=1e-4)
        data = Trainer(config.replace(threads=1), [TaskSpec("corpus", (str(corpus),))]).read()
        for round_ in range(args.rounds):
            for variant, (threads, copies) in VARIANTS.items():
                before = hand_over(binary)
                trainer = Trainer(config.replace(threads=threads, copy_hot_rows=copies, seed=round_ + 1),
                                  [TaskSpec("corpus", (str(corpus),))])
                trainer.corpus = data
                vectors = trainer.train()
                after = hand_over(binary)
                run = {"model": model, "dim": int(dim), "variant": variant, "round": round_,
                       "hand_over_ns": [before, after], "state": state(before, after),
                       "words_per_second": trainer.report.words_per_second,
                       "train_seconds": trainer.report.train_seconds}
                if args.score:
                    run["accuracy"] = 100 * ev.analogy(vectors, QUESTIONS)["accuracy"]
                runs.append(run)
                print(json.dumps(run), flush=True)

    command, sha = report.provenance("hot_rows.py", argv)
    lines = [f"# Hot-row copies, 2 threads: {args.words} words, {args.epochs} epoch(s)", "",
             f"    {command}", "", *speed_table(runs, sha)]
    if args.score:
        lines += ["", *accuracy_table(runs)]
    report.save(args.name, {"command": command, "git": sha, "runs": runs}, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
