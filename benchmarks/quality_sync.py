"""The hot-row copies' sync interval: speed and vector norms against one thread, in one run (issue 19).

    flock /tmp/mtl-speed.lock python benchmarks/quality_sync.py benchmarks/.cache/enwiki-text8-17M.txt \\
        --variants - hot_sync_words=65536 copy_hot_rows=false --models sg,cbow --rounds 2 --gensim

Each variant is `key=value,...` of the kernel's TrainParams (benchmarks/quality_launch.py; `-` is the
defaults), trained with 2 threads, one at a time, rounds interleaved so that load drift hits every
variant alike. A 1-thread run of the defaults (no copies, no races) gives the reference norms: the
copies' staleness shows as shorter input vectors of the frequent words (quality-cause.md, section 4).
With --gensim, gensim (corpus_file mode, same threads) trains in every round too, for the speed ratio.
With --analogy, every model is scored on the Google analogies (top 30k words, evaluate.py's gensim
evaluator). Results: results/<name>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402

from tools import Gensim, Mtlembed, Params  # noqa: E402

BANDS = ((0, 100), (100, 1000), (1000, 10000))  # frequency ranks of the norms reported


def band_norms(vectors: Path) -> list[float]:
    """Mean L2 norm of the input vectors over BANDS (word2vec binary, most frequent first)."""
    import numpy as np

    with open(vectors, "rb") as f:
        rows, dim = map(int, f.readline().split())
        data = f.read()
    norms, at = [], 0
    for _ in range(min(rows, BANDS[-1][1])):
        at = data.index(b" ", at) + 1
        norms.append(float(np.linalg.norm(np.frombuffer(data, "<f4", dim, at))))
        at += 4 * dim + 1
    return [statistics.mean(norms[a:b]) for a, b in BANDS if a < len(norms)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--variants", nargs="+", default=["-", "hot_sync_words=65536", "copy_hot_rows=false"])
    ap.add_argument("--models", type=run.choice_list(("sg", "cbow")), default=["sg", "cbow"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--gensim", action="store_true")
    ap.add_argument("--analogy", action="store_true")
    ap.add_argument("--launcher", default=f"{sys.executable} {Path(__file__).parent / 'quality_launch.py'}",
                    help="the command that takes `key=value,...` then mtlembed's command line")
    ap.add_argument("--name", default="quality-sync")
    ap.add_argument("--results-dir", type=Path, default=run.RESULTS)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    words = run.count_corpus_words(args.corpus)
    work = run.RUNS / args.name
    work.mkdir(parents=True, exist_ok=True)
    variants = args.variants
    runs = []
    for model in args.models:
        params = Params(model=model, dim=100, window=5, negative=5, sample=1e-3, min_count=args.min_count,
                        epochs=args.epochs, alpha=run.ALPHA[model], threads=args.threads, seed=1)
        one_thread = Params(**{**params.__dict__, "threads": 1})
        trainers = [("1 thread", Mtlembed(f"{args.launcher} -"), one_thread)]
        for rnd in range(args.rounds):
            trainers_now = ([("gensim", Gensim(), params)] if args.gensim else [])
            trainers_now += [(v, Mtlembed(f"{args.launcher} {v}"), params) for v in variants]
            for label, tool, p in (trainers if rnd == 0 else []) + trainers_now:
                swept = {"variant": label.replace(" ", "_")}
                rec = run.one_run(tool, p, swept, args.corpus, words, work, args, None)
                rec.update(variant=label, round=rnd)
                if rec["ok"]:
                    vectors = run.vectors_path(work, tool.name, p, swept)
                    rec["norms"] = band_norms(vectors)
                    if args.analogy:
                        rec["analogy"] = run.evaluate(vectors, "gensim", [])
                    vectors.unlink()
                runs.append(rec)
                print(f"{model} {label} round {rnd}: {rec.get('train_words_per_second') or 0:,.0f} words/s "
                      f"norms {rec.get('norms')} {rec.get('analogy', '')}", flush=True)
                write(args, runs)
    return 0 if all(r["ok"] for r in runs) else 1


def write(args, runs: list[dict]) -> None:
    doc = {"name": args.name, "command": shlex.join([Path(sys.executable).name, *sys.argv]),
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "git": run.git_state(), "cpu": run.cpu_info()[0], "runs": runs}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{args.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"# {doc['name']}", "", f"    {doc['command']}", "",
             f"{doc['date']}, {doc['cpu']}, git {doc['git'][0][:10]}{' (dirty)' if doc['git'][1] else ''}. "
             "Training words/s (median over rounds, load average before each run in the .json); mean input-"
             f"vector norm over frequency ranks {', '.join(f'{a}-{b}' for a, b in BANDS)}, and its ratio to "
             "1 thread's (round 1).", "",
             "| model | variant | words/s | rounds | norms | ratio to 1 thread | analogy |",
             "|---|---|---:|---|---|---|---:|"]
    keys = list(dict.fromkeys((r["model"], r["variant"]) for r in runs if r["ok"]))
    for model, variant in keys:
        mine = [r for r in runs if r["ok"] and (r["model"], r["variant"]) == (model, variant)]
        base = next((r for r in runs if r["ok"] and (r["model"], r["variant"]) == (model, "1 thread")), None)
        speeds = [r["train_words_per_second"] for r in mine if r.get("train_words_per_second")]
        norms = mine[0].get("norms") or []
        ratio = " ".join(f"{a / b:.3f}" for a, b in zip(norms, base["norms"])) if base else ""
        analogy = mine[0].get("analogy", {}).get("analogy_accuracy")
        lines.append(f"| {model} | {variant} | {statistics.median(speeds) / 1e3:,.0f}k | "
                     f"{' '.join(f'{s / 1e3:,.0f}k' for s in speeds)} | "
                     f"{' '.join(f'{n:.3f}' for n in norms)} | {ratio} | "
                     f"{'' if analogy is None else f'{100 * analogy:.2f}'} |")
    (args.results_dir / f"{args.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
