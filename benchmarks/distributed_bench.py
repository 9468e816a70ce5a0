"""Distributed training figures (issue 22): words/s, bytes sent per word per rank, analogy accuracy.

    python benchmarks/prepare_corpus.py --words 4M
    python benchmarks/distributed_bench.py --corpus benchmarks/.cache/enwiki-text8-4M.txt

Each run is one command (printed and saved): one process (`mtlembed train`) or ranks launched by
torchrun (`python -m torch.distributed.run --standalone --nproc-per-node K -m mtlembed train`).
Bytes sent are measured on the loopback interface (/proc/net/dev, `lo` tx bytes over the run,
divided by the ranks: on one machine every byte the ranks send goes through `lo`), and compared
with the count the ranks keep (the ring all_reduce's 2 (K - 1) / K of each matrix per meeting).
Writes distributed.json and distributed.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]
QUESTIONS = ROOT.parent / "shared" / "data" / "analogy" / "en" / "questions-words.txt"


def loopback_tx() -> int:
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, fields = line.partition(":")
        if name.strip() == "lo":
            return int(fields.split()[8])
    return 0


def run(label: str, ranks: int, threads: int, args: argparse.Namespace, out: Path,
        sync_words: int | None = None, merge: str = "agree") -> dict:
    vectors, report = out / f"{label.replace(':', '-')}.bin", out / f"{label.replace(':', '-')}.json"
    train = ["train", str(args.corpus), "-o", str(vectors), "--report", str(report), "--quiet",
             "--threads", str(threads), "--epochs", str(args.epochs), "--dim", str(args.dim), "--seed", "1"]
    if ranks == 1:
        command = [sys.executable, "-m", "mtlembed", *train]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(ranks), "-m", "mtlembed", *train]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MTLEMBED_MERGE": merge}
    if sync_words:
        env["MTLEMBED_SYNC_WORDS"] = str(sync_words)
    print("+", shlex.join(command), flush=True)
    before, start = loopback_tx(), time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    sent = loopback_tx() - before
    result = json.loads(report.read_text())
    from mtlembed.eval.analogy import evaluate_analogies

    analogy = evaluate_analogies(str(vectors), QUESTIONS)
    words = result["train_words"]
    prefix = (f"MTLEMBED_SYNC_WORDS={sync_words} " if sync_words else "") + f"MTLEMBED_MERGE={merge} "
    row = {"label": label, "ranks": ranks, "threads_per_rank": threads, "sync_words": sync_words,
           "merge": merge if ranks > 1 else None, "command": prefix + shlex.join(command),
           "train_words": words, "train_seconds": result["train_seconds"], "wall_seconds": wall,
           "words_per_second": result["words_per_second"], "final_loss": result["final_loss"],
           "analogy": analogy["accuracy"], "analogy_total": analogy["total"],
           "vocab_size": result["vocab_size"], "rounds": result["ranks"].get("rounds"),
           "bytes_counted_per_rank": result["ranks"].get("bytes_sent", 0),
           "loopback_bytes_per_rank": sent / ranks if ranks > 1 else 0}
    row["bytes_per_word_per_rank"] = row["loopback_bytes_per_rank"] / (words / ranks) if ranks > 1 else 0.0
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mtlembed-distributed-bench"))
    parser.add_argument("--runs", default="one-1x1,one-1x2,two-2x1,four-4x1",
                        help="label-RANKSxTHREADS[@SYNC_WORDS][:MERGE],...; rows of the same label in "
                             "distributed.json are replaced, others kept")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = RESULTS / "distributed.json"
    rows = json.loads(results.read_text())["runs"] if results.exists() else []
    for spec in args.runs.split(","):
        spec, _, merge = spec.partition(":")
        label, shape = spec.split("-", 1)
        shape, _, sync = shape.partition("@")
        ranks, threads = map(int, shape.split("x"))
        merge = merge or "agree"
        label = spec + (f":{merge}" if ranks > 1 else "")
        row = run(label, ranks, threads, args, args.out, int(sync) if sync else None, merge)
        rows = [r for r in rows if r["label"] != label] + [row]
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    meta = {"corpus": str(args.corpus), "epochs": args.epochs, "dim": args.dim, "git": git.stdout.strip(),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_average_at_end": os.getloadavg()}
    results.write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
