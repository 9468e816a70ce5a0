"""Analogy accuracy per initial range of the input vectors, over several seeds.

w_in starts uniform in [-r/dim, r/dim): word2vec uses r = 0.5, gensim 4 r = 1.
The corpus is read once; every (seed, r) pair trains from it in turn, the ranges
interleaved. Scores (mtlembed's evaluator): questions-words analogy accuracy, top
30,000 words, 3CosAdd; WordSim353 Spearman. 1 thread by default, so each run is
deterministic.

    python benchmarks/init_range.py --model cbow --dim 300 --ranges 0.5,1 --seeds 1,2,3,4,5
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import prepare_corpus  # noqa: E402
import report  # noqa: E402

from mtlembed import TaskSpec, TrainConfig, Trainer, trainer  # noqa: E402
from mtlembed import eval as ev  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
QUESTIONS = DATA / "analogy" / "en" / "questions-words.txt"
WORDSIM = DATA / "similarity" / "en" / "gensim_wordsim353.tsv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", default="17M", help="corpus size (benchmarks/prepare_corpus.py)")
    parser.add_argument("--model", default="cbow", choices=["sg", "cbow"])
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--ranges", default="0.5,1")
    parser.add_argument("--questions", default=str(QUESTIONS))
    parser.add_argument("--name", default=None,
                        help="results/<name>.{md,json} (default: init-range/<model>-<dim>-<words>)")
    args = parser.parse_args(argv)
    name = args.name or f"init-range/{args.model}-{args.dim}-{args.words}"

    corpus = prepare_corpus.prepare(prepare_corpus.parse_words(args.words))
    config = TrainConfig(model=args.model, dim=args.dim, epochs=args.epochs, threads=args.threads,
                         sample=1e-4)
    data = Trainer(config, [TaskSpec("corpus", (str(corpus),))]).read()
    ranges = [float(r) for r in args.ranges.split(",")]
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for init_range in ranges:
            trainer.INIT_RANGE = init_range
            run = Trainer(config.replace(seed=seed), [TaskSpec("corpus", (str(corpus),))])
            run.corpus = data
            vectors = run.train()
            accuracy = 100 * ev.analogy(vectors, args.questions)["accuracy"]
            spearman = ev.similarity(vectors, WORDSIM)["spearman"]
            runs.append({"range": init_range, "seed": seed, "accuracy": accuracy, "wordsim353": spearman})
            print(f"range {init_range} seed {seed}: {accuracy:.2f}%, WS353 {spearman:.3f}", flush=True)

    command, sha = report.provenance("init_range.py", argv)
    lines = [f"# Initial range of w_in: {args.model}, dim {args.dim}, {args.epochs} epochs, "
             f"{args.threads} thread(s), {data.words_read:,} words", "", f"    {command}", "",
             f"git {sha}. w_in starts uniform in [-r/dim, r/dim). Analogy: questions-words, top 30k words.",
             "", "| r | analogy per seed | mean | WS353 mean |", "|---:|---|---:|---:|"]
    for init_range in ranges:
        mine = [r for r in runs if r["range"] == init_range]
        scores = [r["accuracy"] for r in mine]
        lines.append(f"| {init_range:g} | {', '.join(f'{a:.2f}' for a in scores)} | "
                     f"{statistics.mean(scores):.2f} | "
                     f"{statistics.mean(r['wordsim353'] for r in mine):.3f} |")
    report.save(name, {"command": command, "git": sha, "runs": runs}, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
