"""Distributed training figures (issue 22): accuracy at equal epochs, words/s, bytes sent per word.

    python benchmarks/prepare_corpus.py --words 17M          # benchmarks/.cache/enwiki-text8-17M.txt
    python benchmarks/distributed_bench.py analogy --corpus benchmarks/.cache/enwiki-text8-17M.txt \\
        --shapes 1x2,2x1,4x1 --epochs 1,5 --seeds 1,2 --name distributed-17M
    python benchmarks/distributed_bench.py joint --english benchmarks/.cache/enwiki-text8-4M.txt \\
        --langs es,de --shapes 1x2,2x1,4x1 --epochs 3 --seeds 1 --name distributed-joint
    python benchmarks/distributed_bench.py plot

A shape is RANKSxTHREADS[@SYNC_WORDS][/all]: one process (`python -m mtlembed train`) when RANKS is 1,
else torchrun (`python -m torch.distributed.run --standalone --nproc-per-node RANKS -m mtlembed train`);
@SYNC_WORDS sets MTLEMBED_SYNC_WORDS (words per rank between meetings), /all the dense merge
(MTLEMBED_MERGE_ROWS=all) instead of the touched rows. Every run's exact command is saved with its row.
Bytes: the ranks' own count (bytes_counted_per_rank: a ring all_reduce sends 2 (W - 1) / W of its
buffer) and the loopback interface's transmitted bytes over the run (/proc/net/dev `lo`, divided by the
ranks: on one machine every byte the ranks send goes through `lo`; other users of `lo` add to it).
Writes benchmarks/results/<name>.json; `plot` draws the .png figures from those files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]
DATA = Path(os.environ.get("MTLEMBED_DATA") or ROOT.parent / "shared" / "data")
QUESTIONS = DATA / "analogy" / "en" / "questions-words.txt"
EXAMPLES = ROOT / "examples" / "data"
MUSE = DATA / "bli" / "muse_reconstructed"


def loopback_tx() -> int:
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, fields = line.partition(":")
        if name.strip() == "lo":
            return int(fields.split()[8])
    return 0


def parse_shape(shape: str) -> dict:
    shape, _, rows = shape.partition("/")
    shape, _, sync = shape.partition("@")
    ranks, threads = map(int, shape.split("x"))
    return {"ranks": ranks, "threads": threads, "sync_words": int(sync) if sync else None,
            "merge_rows": rows or "touched"}


def joint_config(args, out: Path, epochs: int, seed: int) -> Path:
    """A small joint job as examples/joint-en-es-de-fr.toml (and bench_joint.py) have it: English text,
    es/de monolingual text, Tatoeba and OPUS-MT parallel text, MUSE train dictionaries, Procrustes."""
    langs = args.langs.split(",")
    lines = ["[train]", 'model = "sg"', f"dim = {args.dim}", "window = 5", "negative = 10", "sample = 1e-4",
             "min_count = 3", "max_vocab = 200000", f"epochs = {epochs}", "lowercase = true",
             'sampling = "temperature"', "temperature = 2.0", 'refine = "procrustes"', f"seed = {seed}", "",
             "[[task]]", 'name = "en"', 'lang = "en"', f"paths = [{json.dumps(str(args.english))}]", ""]
    for lang in langs:
        sides = [str(EXAMPLES / f"{source}.en-{lang}.{lang}") for source in ("tatoeba", "opus")]
        lines += ["[[task]]", f'name = "{lang}"', f'lang = "{lang}"', f"paths = {json.dumps(sides)}", ""]
        for source in ("tatoeba", "opus"):
            pair = [str(EXAMPLES / f"{source}.en-{lang}.{side}") for side in ("en", lang)]
            lines += ["[[parallel]]", f'name = "{source}-en-{lang}"', f'langs = ["en", "{lang}"]',
                      f"paths = {json.dumps(pair)}", ""]
        lines += ["[[dictionary]]", f'langs = ["en", "{lang}"]',
                  f"path = {json.dumps(str(MUSE / f'en-{lang}.0-5000.txt'))}", ""]
    path = out / f"joint-e{epochs}-s{seed}.toml"
    path.write_text("\n".join(lines))
    return path


def run(args, shape: str, epochs: int, seed: int) -> dict:
    s = parse_shape(shape)
    stem = f"{args.kind}-{shape.replace('/', '-')}-e{epochs}-s{seed}"
    out, report = args.out / stem, args.out / f"{stem}.json"
    common = ["--report", str(report), "--quiet", "--threads", str(s["threads"]), "--epochs", str(epochs),
              "--seed", str(seed), *shlex.split(args.train_args)]
    if args.kind == "analogy":
        train = ["train", str(args.corpus), "-o", str(out) + ".bin", "--dim", str(args.dim), *common]
    else:
        train = ["train", "--config", str(joint_config(args, args.out, epochs, seed)), "-o", str(out),
                 "--per-language", *common]
    if s["ranks"] == 1:
        command = [sys.executable, "-m", "mtlembed", *train]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(s["ranks"]), "-m", "mtlembed", *train]
    env = {"OMP_NUM_THREADS": "1", **{k: v for k, v in os.environ.items()  # the merge's knobs, if set
                                      if k.startswith("MTLEMBED_")}}
    if s["sync_words"]:
        env["MTLEMBED_SYNC_WORDS"] = str(s["sync_words"])
    if s["merge_rows"] != "touched":
        env["MTLEMBED_MERGE_ROWS"] = s["merge_rows"]
    full_env = {**os.environ, **env}
    printed = " ".join(f"{k}={v}" for k, v in env.items()) + f" nice -n {args.nice} " + shlex.join(command)
    print("+", printed, flush=True)
    load_before = os.getloadavg()[0]
    before, start = loopback_tx(), time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["nice", "-n", str(args.nice), *command], check=True, env=full_env, cwd=args.out,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sent = loopback_tx() - before
    result = json.loads(report.read_text())
    words, ranks = result["train_words"], s["ranks"]
    traffic = result.get("ranks") or {}
    row = {"shape": shape, **s, "epochs": epochs, "seed": seed, "command": printed,
           "train_words": words, "train_seconds": result["train_seconds"], "wall_seconds": wall,
           "cpu_seconds": cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
           "words_per_second": result["words_per_second"], "final_loss": result["final_loss"],
           "vocab_size": result["vocab_size"], "dim": result["config"]["dim"],
           "rounds": traffic.get("rounds"), "learning_rate_scale": traffic.get("learning_rate_scale"),
           "load_average": [load_before, os.getloadavg()[0]],
           "bytes_counted_per_rank": traffic.get("bytes_sent", 0),
           "loopback_bytes_per_rank": sent / ranks if ranks > 1 else 0,
           "rows_touched": traffic.get("rows_touched"), "rows_merged": traffic.get("rows_merged"),
           "rows_held": traffic.get("rows_held"), "meeting_seconds": traffic.get("meeting_seconds"),
           "collective_seconds": traffic.get("collective_seconds")}
    row["bytes_per_word_per_rank"] = row["bytes_counted_per_rank"] / (words / ranks) if ranks > 1 else 0.0
    row.update(evaluate(args, out))
    print(json.dumps(row), flush=True)
    return row


def evaluate(args, out: Path) -> dict:
    from mtlembed import eval as ev
    from mtlembed.model import Embeddings

    if args.kind == "analogy":
        return {"analogy": ev.analogy(str(out) + ".bin", QUESTIONS, restrict=30000)["accuracy"]}
    english = Embeddings.load(f"{out}.en.vec")
    scores = {"analogy": ev.analogy(english, QUESTIONS, restrict=30000)["accuracy"]}
    for lang in args.langs.split(","):
        other = Embeddings.load(f"{out}.{lang}.vec")
        for method in ("csls", "nn"):
            result = ev.bli(english, other, MUSE / f"en-{lang}.5000-6500.txt", method=method,
                            max_vocab=200000)
            scores[f"bli_{lang}_{method}"] = result["p@1"]
            scores[f"bli_{lang}_coverage"] = result["coverage"]
    return scores


def measure(args) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    results = RESULTS / f"{args.name}.json"
    rows = json.loads(results.read_text())["runs"] if results.exists() else []
    for epochs in map(int, args.epochs.split(",")):
        for seed in map(int, args.seeds.split(",")):
            for shape in args.shapes.split(","):
                row = run(args, shape, epochs, seed)
                rows = [r for r in rows if (r["shape"], r["epochs"], r["seed"]) != (shape, epochs, seed)]
                rows.append(row)
                save(args, results, rows)


def save(args, results: Path, rows: list) -> None:
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    command = "python benchmarks/distributed_bench.py " + shlex.join(sys.argv[1:])
    meta = {"kind": args.kind, "command": command,
            "corpus": str(getattr(args, "corpus", None) or args.english), "git": git.stdout.strip(),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    results.write_text(json.dumps({"meta": meta, "runs": rows}, indent=1) + "\n")


def rows(args) -> None:
    """Milliseconds of a meeting's local row work (find the changed rows, gather their changes, write
    the merged ones back) on two matrices of 68,016 x 112 floats (width 100) with half the rows
    changed, three ways: numpy fancy indexing (the former code), torch index_select/index_add_ on the
    same buffers, and _core's rows_* (the code). No collective: the same on every rank."""
    import numpy as np
    import torch

    from mtlembed import _core

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    height, cols, width = 68016, 112, 100
    mats = [np.zeros((height, cols), np.float32) for _ in range(2)]
    for m in mats:
        m[:, :width] = rng.standard_normal((height, width), dtype=np.float32)
    bases = [m.copy() for m in mats]

    def numpy_way():
        for m, b in zip(mats, bases):
            ids = np.flatnonzero(np.any(m[:, :width] != b[:, :width], axis=1))
            change = m[ids, :width] - b[ids, :width]
            b[ids, :width] += change / 2
            m[ids] = b[ids]

    def torch_way():
        for m, b in zip(map(torch.from_numpy, mats), map(torch.from_numpy, bases)):
            ids = torch.nonzero((m[:, :width] != b[:, :width]).any(1)).squeeze(1)
            change = m.index_select(0, ids)[:, :width] - b.index_select(0, ids)[:, :width]
            b[:, :width].index_add_(0, ids, change / 2)
            m.index_copy_(0, ids, b.index_select(0, ids))

    def core_way():
        for m, b in zip(mats, bases):
            ids = np.flatnonzero(_core.rows_changed(m, b, width))
            change = np.empty((len(ids), width), np.float32)
            _core.rows_gather(m, b, ids, change)
            _core.rows_apply(m, b, ids, change, 0.5)

    result = {"command": "python benchmarks/distributed_bench.py rows", "load_average": os.getloadavg()[0]}
    for name, way in (("numpy", numpy_way), ("torch", torch_way), ("core", core_way)) * 2:
        times = []
        for _ in range(5):
            for m, b in zip(mats, bases):
                m[:] = b
                m[rng.choice(height, height // 2, replace=False), :width] += 0.01
            start = time.perf_counter()
            way()
            times.append(1000 * (time.perf_counter() - start))
        result.setdefault(f"{name}_ms", []).extend(round(t, 1) for t in times)
    result["load_average"] = [result["load_average"], os.getloadavg()[0]]
    print(json.dumps(result))
    (RESULTS / "distributed-rows.json").write_text(json.dumps(result, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind in ("analogy", "joint"):
        p = sub.add_parser(kind)
        if kind == "analogy":
            p.add_argument("--corpus", type=Path, required=True)
        else:
            p.add_argument("--english", type=Path, required=True)
            p.add_argument("--langs", default="es,de")
        p.add_argument("--shapes", default="1x2,2x1,4x1")
        p.add_argument("--epochs", default="1")
        p.add_argument("--seeds", default="1")
        p.add_argument("--dim", type=int, default=100)
        p.add_argument("--nice", type=int, default=5, help="niceness of the runs (0 for speed runs)")
        p.add_argument("--train-args", default="", help="more `mtlembed train` options, e.g. '--alpha 0.1'")
        p.add_argument("--name", required=True, help="results file: benchmarks/results/<name>.json")
        p.add_argument("--out", type=Path, default=Path("/tmp/mtlembed-distributed-bench"))
    sub.add_parser("rows", help="time a meeting's row work: numpy, torch, _core")
    p = sub.add_parser("plot")
    p.add_argument("--model", default="distributed-17M", help="the analogy results the model reads")
    args = parser.parse_args()
    if args.kind == "rows":
        rows(args)
        return
    if args.kind == "plot":
        from distributed_plots import plot_all, tables

        plot_all(RESULTS, args.model)
        print(tables(RESULTS, args.model))
        return
    for attribute in ("corpus", "english"):
        if getattr(args, attribute, None) is not None:
            setattr(args, attribute, getattr(args, attribute).resolve())
    measure(args)


if __name__ == "__main__":
    main()
