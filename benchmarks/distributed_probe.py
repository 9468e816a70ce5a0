"""One round of distributed training emulated in one process: which share of the ranks' summed changes
each row should take (issue 22's accuracy gap, benchmarks/results/distributed.md).

    python benchmarks/distributed_probe.py --corpus benchmarks/.cache/enwiki-text8-17M.txt \\
        --at 0.02,0.2,0.6 --name distributed-probe

One process (1 thread) trains the schedule up to a point of it (`--at`, a share of the run), then,
from that same state, trains the next W x ROUND words (W = --ranks) three ways: as one process (the
reference, twice: with the run's seed and another, for the noise between two equally good runs;
each averaged over --repeats seeds, which takes the noise out of the expected change),
and as W ranks would, each from the state, rank r the r-th ROUND words, at 1 x and 2 x the rate.
For rows grouped by their expected updates in a round (distributed_merge.expected_updates) it
reports, for each merge (the sum of the ranks' changes at 1 x, half of it at 2 x): beta =
<reference, merge> / <merge, merge>, the share that would make the merge closest to one process,
and the relative error |reference - merge| / |reference| beside the noise floor
|reference - reference'| / |reference|. Nothing is communicated: no torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
UPDATE_BINS = (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 1e9)  # a row's expected updates in a round


def expected_updates(job, config, round_words: int) -> list:
    """Each row's expected updates in a rank's round (distributed_merge's model), w_in and w_out."""
    from mtlembed import distributed_merge

    vocab = job.data.vocab
    occurrences = vocab.counts * (round_words / vocab.counts.sum())
    return distributed_merge.expected_updates(occurrences, vocab.keep_probabilities(config.sample),
                                              vocab.counts, vocab.starts, config, len(vocab))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--at", default="0.02,0.2,0.6", help="points of the run (0..1) to probe")
    parser.add_argument("--round-words", type=int, default=1 << 16, help="words each rank trains")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1,
                        help="seeds each change is averaged over (its expectation, less the noise)")
    parser.add_argument("--name", required=True)
    args = parser.parse_args()

    from mtlembed import kernel as kernel_module
    from mtlembed.config import TrainConfig
    from mtlembed.tasks import TaskSpec
    from mtlembed.trainer import Trainer

    config = TrainConfig(model="sg", dim=100, threads=1, epochs=1, seed=args.seed)
    trainer = Trainer(config, [TaskSpec("en", (str(args.corpus),))])
    job = trainer._assemble()
    kernel, words = job.kernel, job.chunk_words
    matrices = [kernel.w_in, *kernel.w_out]
    corpus_words = int(job.data.vocab.counts.sum())

    def params(rate: float, seed: int):
        changed = dataclasses.replace(config, alpha=config.learning_rate * rate,
                                      min_alpha=config.final_learning_rate * rate, seed=seed)
        return kernel_module.params(changed, kernel.w_in.shape[1], "cpu", corpus_words)

    def train(begin: int, end: int, rate: float = 1.0, seed: int = args.seed) -> None:
        kernel.params = params(rate, seed)
        kernel.run(begin, end, lambda *_: None)

    def chunk_at(word: float) -> int:
        return int(np.searchsorted(words, word, side="left"))

    rows = []
    position = 0
    for at in map(float, args.at.split(",")):
        start = chunk_at(at * words[-1])
        train(position, start)
        position = start
        state = [m.copy() for m in matrices]
        ends = [start]
        for _ in range(args.ranks):
            ends.append(chunk_at(words[ends[-1]] + args.round_words))
        end = ends[-1]

        def changes(*segments, state=state) -> list[np.ndarray]:
            """Each matrix's change when `segments` ((begin, end, rate, seed)) are trained from the state."""
            for m, s in zip(matrices, state):
                m[:] = s
            for segment in segments:
                train(*segment)
            return [m - s for m, s in zip(matrices, state)]

        def mean(runs: list[list[np.ndarray]]) -> list[np.ndarray]:
            return [sum(parts) / len(runs) for parts in zip(*runs)]

        seeds = [args.seed + 7919 * j for j in range(args.repeats)]  # the mean over seeds: expected changes
        reference = mean([changes((start, end, 1.0, seed)) for seed in seeds])
        again = mean([changes((start, end, 1.0, seed + 1000)) for seed in seeds])
        merges = {}
        for rate in (1.0, 2.0):
            sums = []
            for seed in seeds:
                ranks = [changes((begin, stop, rate, seed)) for begin, stop in zip(ends, ends[1:])]
                sums.append([sum(parts) / rate for parts in zip(*ranks)])
            merges[f"sum at {rate:g}x / {rate:g}"] = mean(sums)
        for m, s in zip(matrices, state):
            m[:] = s
        updates = expected_updates(job, config, args.round_words)
        for matrix, name in enumerate(("w_in", "w_out")):
            for low, high in zip(UPDATE_BINS, UPDATE_BINS[1:]):
                chosen = (updates[matrix] >= low) & (updates[matrix] < high)
                if not chosen.any():
                    continue
                ref, other = reference[matrix][chosen], again[matrix][chosen]
                size = float(np.sum(ref * ref))
                row = {"ranks": args.ranks, "repeats": args.repeats, "at": at, "matrix": name,
                       "updates": f"{low:g}-{high:g}",
                       "rows": int(chosen.sum()), "mean_updates": float(updates[matrix][chosen].mean()),
                       "noise_floor": float(np.sqrt(np.sum((ref - other) ** 2) / size))}
                for key, merge in merges.items():
                    part = merge[matrix][chosen]
                    row[f"beta {key}"] = float(np.sum(ref * part) / np.sum(part * part))
                    row[f"error {key}"] = float(np.sqrt(np.sum((ref - part) ** 2) / size))
                rows.append(row)
                print(json.dumps(row), flush=True)
        # go on from the state as one process (the probes leave the run where it was)
    command = "python benchmarks/distributed_probe.py " + " ".join(sys.argv[1:])
    text = json.dumps({"command": command, "rows": rows}, indent=1)
    (RESULTS / f"{args.name}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
