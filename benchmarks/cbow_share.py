"""CBOW with negatives shared by several centers: speed and analogy accuracy per `cbow_share`.

    python benchmarks/cbow_share.py                                   # 17M words, dim 100, 5 epochs
    python benchmarks/cbow_share.py --dim 300 --epochs 1 --threads 1 --name cbow-share-dim300

The corpus is read once; every (seed, cbow_share) pair trains from it in turn,
the shares interleaved so that a change in machine load hits all of them alike.
cbow_share = 1 is word2vec's CBOW (a draw of negatives per center). Accuracy:
questions-words, top 30,000 words, 3CosAdd (mtlembed's evaluator).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import prepare_corpus  # noqa: E402
import report  # noqa: E402

from mtlembed import TaskSpec, TrainConfig, Trainer  # noqa: E402
from mtlembed import eval as ev  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", default="17M", help="corpus size (benchmarks/prepare_corpus.py)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--shares", default="1,2,4,8")
    parser.add_argument("--questions", default=str(HERE.parent.parent / "shared" / "data" / "analogy" / "en" /
                                                   "questions-words.txt"))
    parser.add_argument("--name", default="cbow-share")
    args = parser.parse_args(argv)

    corpus = prepare_corpus.prepare(prepare_corpus.parse_words(args.words))
    config = TrainConfig(model="cbow", dim=args.dim, epochs=args.epochs, threads=args.threads, sample=1e-4)
    data = Trainer(config, [TaskSpec("corpus", (str(corpus),))]).read()
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for share in (int(s) for s in args.shares.split(",")):
            trainer = Trainer(config.replace(seed=seed, cbow_share=share),
                              [TaskSpec("corpus", (str(corpus),))])
            trainer.corpus = data
            vectors = trainer.train()
            accuracy = 100 * ev.analogy(vectors, args.questions)["accuracy"]
            runs.append({"share": share, "seed": seed, "accuracy": accuracy,
                         "words_per_second": trainer.report.words_per_second})
            print(f"cbow_share={share} seed={seed}: {accuracy:.2f}%, "
                  f"{trainer.report.words_per_second / 1e3:,.0f}k words/s", flush=True)

    command, sha = report.provenance("cbow_share.py", argv)
    doc = {"command": command, "git": sha, "cpu": platform.processor() or platform.machine(),
           "corpus_words": data.words_read, "dim": args.dim, "epochs": args.epochs, "threads": args.threads,
           "runs": runs}
    lines = [f"# CBOW, negatives shared by `cbow_share` centers ({data.words_read:,} words, dim {args.dim}, "
             f"{args.epochs} epochs, {args.threads} threads)", "", f"    {doc['command']}", "",
             f"git {doc['git']}. Analogy: questions-words, top 30k words. One row per share, seeds "
             "interleaved.",
             "", "| cbow_share | analogy per seed | mean | words/s (median) |", "|---:|---|---:|---:|"]
    for share in sorted({r["share"] for r in runs}):
        mine = [r for r in runs if r["share"] == share]
        accuracies = ", ".join(f"{r['accuracy']:.2f}" for r in mine)
        speed = statistics.median(r["words_per_second"] for r in mine)
        lines.append(f"| {share} | {accuracies} | {statistics.mean(r['accuracy'] for r in mine):.2f} | "
                     f"{speed / 1e3:,.0f}k |")
    print(f"wrote {report.save(args.name, doc, lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
