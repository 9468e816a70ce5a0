"""Time mtlembed against gensim, fastText and word2vec on one corpus, in one run.

    python benchmarks/run.py --words 1M --name smoke                  # all tools, sg + cbow
    python benchmarks/run.py --tools gensim,word2vec --models sg --threads 1,2 --plot
    python benchmarks/run.py --tools mtlembed --models cbow --sweep cbow_share=1,4 --seeds 3

A sweep varies any setting: the harness's own (dim, threads, epochs, ...: every tool) or one
of mtlembed's (cbow_share, copy_hot_rows, init_range, ...: mtlembed only; the peers run once).
Several --sweep flags make a grid; --seeds N repeats the whole grid for N seeds, one seed
after another, so that drift in machine load hits every configuration alike.

Every tool trains the same file with the same hyper-parameters, one at a time, each in
a process of its own; the vectors it writes are then scored by one evaluator. Results
go to benchmarks/results/<name>.json and .md (and .png with --plot).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prepare_corpus  # noqa: E402
import report  # noqa: E402

from tools import (  # noqa: E402
    TOOLS,
    Params,
    build_pingpong,
    hand_over_ns,
    make_tools,
    run_timed,
    vcpu_placement,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RUNS = HERE / ".cache" / "runs"
ALPHA = {"sg": 0.025, "cbow": 0.05}  # word2vec's and gensim's defaults per model
EVALUATORS = {
    "gensim": "gensim KeyedVectors.evaluate_word_analogies(questions-words.txt, "
              "restrict_vocab=30000, case_insensitive=True) and evaluate_word_pairs(WordSim353)",
    "mtlembed": "mtlembed eval analogy --restrict 30000 and mtlembed eval similarity (WordSim353)",
    "none": "none (--evaluator none)",
}


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def choice_list(allowed: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}; got {text!r}")
        return items
    return parse


# Settings every tool takes (Params' fields; seed goes through --seed/--seeds), with their types.
SHARED_KEYS = {"model": str, "dim": int, "window": int, "negative": int, "sample": float,
               "min_count": int, "epochs": int, "alpha": float, "threads": int}
# mtlembed's w_in start range is a module constant (mtlembed.trainer.INIT_RANGE), not a TrainConfig field.
EXTRA_MTLEMBED_KEYS = ("init_range",)


def mtlembed_keys() -> set[str] | None:
    """TrainConfig's fields that only mtlembed has (None when mtlembed is not importable here)."""
    try:
        from mtlembed import TrainConfig
    except ImportError:
        return None
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return fields - set(SHARED_KEYS) - {"seed"} | set(EXTRA_MTLEMBED_KEYS)


def sweep(text: str) -> tuple[str, list]:
    """'cbow_share=1,2,4' -> ('cbow_share', ['1', '2', '4']); shared settings get their type."""
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key or not items:
        raise argparse.ArgumentTypeError(f"expected key=v1,v2,...; got {text!r}")
    if key in SHARED_KEYS:
        try:
            items = [SHARED_KEYS[key](v) for v in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key} takes {SHARED_KEYS[key].__name__} values; "
                                             f"got {values!r}") from None
        if key == "model" and not set(items) <= {"sg", "cbow"}:
            raise argparse.ArgumentTypeError(f"model is sg or cbow; got {values!r}")
        return key, items
    known = mtlembed_keys()
    if key == "seed" or (known is not None and key not in known):
        raise argparse.ArgumentTypeError(
            f"cannot sweep {key!r}: choose from {', '.join(sorted(set(SHARED_KEYS) | (known or set())))}"
            " (seeds: --seeds N)")
    return key, items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--words", type=prepare_corpus.parse_words, default=17_000_000,
                     help="text8-style enwiki corpus of this many words (1M, 4M, 17M, 31M); "
                          "made by prepare_corpus.py if missing")
    src.add_argument("--corpus", type=Path, help="any whitespace-tokenised text file instead")
    ap.add_argument("--tools", type=choice_list(TOOLS), default=list(TOOLS))
    ap.add_argument("--models", type=choice_list(("sg", "cbow")), default=["sg", "cbow"])
    ap.add_argument("--dim", type=int_list, default=[100], help="one or more, comma-separated")
    ap.add_argument("--threads", type=int_list, default=[2], help="one or more, comma-separated")
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-4)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=None,
                    help="start learning rate for every tool (default: 0.025 sg, 0.05 cbow)")
    ap.add_argument("--seed", type=int, default=1, help="the first seed")
    ap.add_argument("--seeds", type=int, default=1, help="run everything for this many seeds: "
                                                        "--seed, --seed + 1, ...")
    ap.add_argument("--sweep", type=sweep, action="append", default=[], metavar="KEY=V1,V2",
                    help="run each value of a setting (repeatable: a grid); overrides --models, "
                         "--dim, --threads, ... for that key")
    ap.add_argument("--hand-over", action="store_true",
                    help="bracket each run by two cache-line hand-over timings (pingpong.c) and "
                         "label it by where the two vCPUs sat: near, far or mixed")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; medians reported")
    ap.add_argument("--evaluator", choices=["gensim", "mtlembed", "none"], default="gensim",
                    help="who scores the vectors (the same one for every tool)")
    ap.add_argument("--name", help="results file stem (default: derived from the options)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    ap.add_argument("--plot", action="store_true", help="also write a PNG of words/s (matplotlib)")
    ap.add_argument("--keep-vectors", action="store_true",
                    help="keep the trained vectors under benchmarks/.cache/runs/")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per training run")
    ap.add_argument("--mtlembed-cmd", help="how to invoke mtlembed (default: the console script "
                                           "of this Python, else `mtlembed` on PATH)")
    ap.add_argument("--word2vec-bin", help="path of the word2vec C binary")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    keys = [key for key, _ in args.sweep]
    if len(set(keys)) < len(keys):
        ap.error("each key may be swept once")
    return args


def count_corpus_words(path: Path) -> int:
    """Whitespace tokens in the file (also warms the page cache before the first timed run)."""
    with open(path, "rb") as f:
        return sum(len(line.split()) for line in f)


def git_state() -> tuple[str, bool]:
    def git(*args: str) -> str:
        r = subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    return git("rev-parse", "HEAD") or "none (no commit)", bool(git("status", "--porcelain"))


def cpu_info() -> tuple[str, str]:
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags]
    return model, ",".join(simd) or "unknown"


def gpu_model() -> str | None:
    try:
        r = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip().replace("\n", "; ") if r.returncode == 0 and r.stdout.strip() else None


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def evaluate(vectors: Path, evaluator: str, mtlembed_cmd: list[str]) -> dict:
    """Score in a child: BLAS pinned to one thread (OpenBLAS threading on these tiny
    matrix-vector products is 2-3x slower on a 2-core machine), harness memory untouched."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    argv = [sys.executable, str(HERE / "evaluate.py"), str(vectors), "--evaluator", evaluator,
            "--mtlembed-cmd", shlex.join(mtlembed_cmd)]
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["evaluation failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def vectors_path(work: Path, tool_name: str, params: Params, swept: dict) -> Path:
    label = "".join(f"-{k}{v}" for k, v in swept.items() if k not in ("model", "dim", "threads"))
    return work / f"{tool_name}-{params.model}-d{params.dim}-t{params.threads}{label}-s{params.seed}.bin"


def one_run(tool, params: Params, swept: dict, corpus: Path, words: int, work: Path, args,
            pingpong: Path | None) -> dict:
    """Train once; `swept` holds this run's values of the swept keys (part of its record)."""
    out = vectors_path(work, tool.name, params, swept)
    if out.exists():
        out.unlink()
    load = loadavg()
    before = hand_over_ns(pingpong) if pingpong else None
    proc = run_timed(tool.argv(params, corpus, out, work), watch=tool.watch(out),
                     timeout=args.timeout)
    rec = {"tool": tool.name, "model": params.model, "dim": params.dim,
           "threads": params.threads, "alpha": params.alpha, "epochs": params.epochs,
           "seed": params.seed, "sweep": swept,
           "corpus_words": words, "argv": shlex.join(proc.argv), "rc": proc.rc,
           "wall_seconds": proc.wall, "peak_rss_mb": proc.maxrss_kb / 1024,
           "cpu_seconds": proc.cpu_seconds, "others_cores": proc.others_cores,
           "loadavg_before": load}
    if pingpong:
        after = hand_over_ns(pingpong)
        rec.update(hand_over_ns=[before, after], vcpus=vcpu_placement(before, after))
    if proc.rc != 0 or not out.exists():
        return {**rec, "ok": False, "error": f"exit {proc.rc}: {proc.tail(3)[-300:]}",
                "log_tail": proc.tail()}
    try:
        rec.update(tool.timings(proc, params, work))
    except (ValueError, KeyError, RuntimeError, OSError) as e:
        return {**rec, "ok": False, "error": f"could not read its timings: {e}",
                "log_tail": proc.tail()}
    rec["ok"] = True
    train = rec.get("train_seconds")
    rec["train_words_per_second"] = words * params.epochs / train if train else None
    rec["e2e_words_per_second"] = words * params.epochs / proc.wall
    return rec


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = args.corpus or prepare_corpus.prepare(args.words)
    if not corpus.exists():
        raise SystemExit(f"run.py: corpus not found: {corpus}")
    words = count_corpus_words(corpus)
    size = prepare_corpus.label(args.words) if args.corpus is None else corpus.stem
    swept = "".join(f"-{key}" for key, _ in args.sweep)
    name = args.name or (f"bench-{size}-{'-'.join(args.models)}-t{'_'.join(map(str, args.threads))}"
                         f"{swept}{f'-{args.seeds}seeds' if args.seeds > 1 else ''}")
    work = RUNS / name
    work.mkdir(parents=True, exist_ok=True)

    tools, info = [], {}
    for tool in make_tools(args.tools, args.mtlembed_cmd, args.word2vec_bin):
        probe = tool.probe()
        info[tool.name] = {"available": probe.ok, "version": probe.version, "reason": probe.reason,
                           "timing": tool.timing, **probe.info}
        print(f"{tool.name:9s} {'ok: ' + probe.version if probe.ok else 'SKIPPED: ' + probe.reason}",
              flush=True)
        if probe.ok:
            tools.append(tool)
    if not tools:
        raise SystemExit("run.py: none of the requested tools is available")
    mt = next((t for t in tools if t.name == "mtlembed"), None)
    evaluator = mt or make_tools(["mtlembed"], args.mtlembed_cmd, None)[0]  # it may score without being timed
    if args.evaluator == "mtlembed" and not (mt or evaluator.probe().ok):
        raise SystemExit("run.py: --evaluator mtlembed needs a working mtlembed")
    mt_cmd = evaluator.cmd

    git_sha, dirty = git_state()
    cpu, simd = cpu_info()
    meta = {"command": shlex.join([Path(sys.executable).name, *sys.argv]), "git_sha": git_sha,
            "git_dirty": dirty, "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu_model": cpu, "cpu_simd": simd, "cores": os.cpu_count(), "gpu": gpu_model(),
            "python": platform.python_version(), "loadavg_before": loadavg(),
            "mtlembed_simd": info.get("mtlembed", {}).get("simd") if mt else None}
    pingpong = build_pingpong(work) if args.hand_over else None
    runs = []
    for seed in range(args.seed, args.seed + args.seeds):
        for params, swept, peers_too in configurations(args, seed):
            for rep in range(args.repeat):
                for tool in tools:  # interleaved: load drift hits every tool alike
                    if tool is not mt and not peers_too:
                        continue  # a mtlembed-only setting changed: nothing new for the peers
                    mine = swept if tool is mt else {k: v for k, v in swept.items() if k in SHARED_KEYS}
                    tool_params = params if tool is mt else dataclasses.replace(params, options=())
                    rec = one_run(tool, tool_params, mine, corpus, words, work, args, pingpong)
                    rec["repeat"] = rep
                    out = vectors_path(work, tool.name, tool_params, mine)
                    if rec["ok"] and rep == 0 and args.evaluator != "none":
                        rec["eval"] = evaluate(out, args.evaluator, mt_cmd)
                    runs.append(rec)
                    print(status_line(rec), flush=True)
                    if out.exists() and not args.keep_vectors:
                        out.unlink()
    meta["loadavg_after"] = loadavg()
    params = {"dim": ",".join(map(str, args.dim)), "window": args.window,
              "negative": args.negative, "sample": args.sample, "min_count": args.min_count,
              "epochs": args.epochs,
              "alpha": args.alpha if args.alpha is not None else {m: ALPHA[m] for m in args.models},
              "threads": ",".join(map(str, args.threads)), "seed": args.seed,
              "seeds": list(range(args.seed, args.seed + args.seeds)),
              "sweep": {key: values for key, values in args.sweep},
              "repeat": args.repeat, "hs": 0}
    doc = {"name": name, "meta": meta, "corpus": {"path": str(corpus), "words": words,
           "bytes": corpus.stat().st_size}, "params": params, "tools": info,
           "evaluator": EVALUATORS[args.evaluator], "runs": runs, "summary": report.summarize(runs)}
    for path in report.write(doc, args.results_dir, args.plot):
        print(f"wrote {path}")
    return 0 if all(r["ok"] for r in runs) else 1


def configurations(args, seed: int):
    """(Params, swept values, whether the peers run too) for every point of the grid: --models x
    --dim x --threads (and the other shared settings) with --sweep's values in place of theirs,
    x mtlembed's swept settings, which vary fastest (the peers run with the first of them)."""
    given = {"model": args.models, "dim": args.dim, "threads": args.threads}
    axes = {key: given[key] if key in given else [getattr(args, key)] for key in SHARED_KEYS}
    only_mtlembed = {}
    for key, values in args.sweep:
        (axes if key in SHARED_KEYS else only_mtlembed)[key] = values
    swept_keys = [key for key, _ in args.sweep]
    for shared in itertools.product(*axes.values()):
        point = dict(zip(axes, shared))
        if point["alpha"] is None:
            point["alpha"] = ALPHA[point["model"]]
        for i, extra in enumerate(itertools.product(*only_mtlembed.values())):
            options = tuple(zip(only_mtlembed, extra))
            values = {**point, **dict(options)}
            yield (Params(**point, seed=seed, options=options),
                   {key: values[key] for key in swept_keys}, i == 0)


def status_line(rec: dict) -> str:
    head = f"{rec['tool']:9s} {rec['model']:4s} dim {rec['dim']} thr {rec['threads']}"
    head += "".join(f" {k}={v}" for k, v in rec.get("sweep", {}).items()
                    if k not in ("model", "dim", "threads"))
    head += f" seed {rec['seed']}" + (f" vCPUs {rec['vcpus']}" if "vcpus" in rec else "")
    if not rec["ok"]:
        return f"{head}: FAILED {rec['error']}"
    wps = rec.get("train_words_per_second")
    ev = rec.get("eval", {})
    acc = ev.get("analogy_accuracy")
    return (f"{head}: wall {rec['wall_seconds']:.1f} s, train "
            f"{rec['train_seconds'] if rec['train_seconds'] is None else round(rec['train_seconds'], 1)} s, "
            f"{'-' if wps is None else f'{wps / 1e3:,.0f}k'} words/s, RSS {rec['peak_rss_mb']:.0f} MB"
            f"{'' if acc is None else f', analogy {acc * 100:.2f}%'}"
            f"{', eval error: ' + ev['error'] if 'error' in ev else ''}")


if __name__ == "__main__":
    sys.exit(main())
