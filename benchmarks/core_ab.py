"""A/B of two builds of the compiled kernel (mtlembed._core): skip-gram with subwords unless told.

    cp build/*/_core*.so /tmp/old_core.so          # before the change
    flock /tmp/mtl-speed.lock python benchmarks/core_ab.py --old /tmp/old_core.so \
        --new build/cp311-cp311-linux_x86_64/_core.cpython-311-x86_64-linux-gnu.so --name subwords-sg-speed-ab

Each round runs the old build, then the new one, each in a process of its own that loads that .so as
mtlembed._core, assembles the job once (the text8-style corpus of --words words, dim 100, window 5,
5 negatives, n-grams 3-6 in --buckets buckets, --negatives draws) and runs the kernel alone --reps
times: words per CPU second of that process (steadier than the clock on a shared machine). Every
process also prints a checksum of w_in after its reps: the same for both builds when the change does
not alter what the kernel computes (threads 1). Results: benchmarks/results/NAME.{json,md}.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run import loadavg  # noqa: E402


def child(so: str, words: str, reps: int, threads: int, buckets: int, negatives: str, model: str,
          subwords: bool) -> dict:
    """In a fresh process: `so` as mtlembed._core, the kernel run `reps` times on one job."""
    spec = importlib.util.spec_from_file_location("mtlembed._core", so)
    core = importlib.util.module_from_spec(spec)
    sys.modules["mtlembed._core"] = core
    spec.loader.exec_module(core)
    sys.path.insert(0, str(ROOT))
    import prepare_corpus

    from mtlembed import TaskSpec, TrainConfig, backend
    from mtlembed.trainer import Trainer

    assert backend.core() is core, "mtlembed._core was imported before the build under test"

    corpus = str(prepare_corpus.prepare(prepare_corpus.parse_words(words)))
    config = TrainConfig(model=model, dim=100, window=5, negative=5, sample=1e-4, min_count=5,
                         threads=threads, seed=1, subwords=subwords, min_n=3, max_n=6, buckets=buckets,
                         negatives=negatives)
    job = Trainer(config, [TaskSpec("corpus", (corpus,))])._assemble()
    rates = []
    for _ in range(reps):
        cpu = time.process_time()
        stats = job.kernel.run(0, job.n_chunks, lambda *_: None)
        rates.append(stats["words"] / (time.process_time() - cpu))
    return {"words_per_cpu_second": rates, "w_in_checksum": float(job.kernel.w_in.astype("float64").sum())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", help="the old build's _core .so")
    parser.add_argument("--new", help="the new build's _core .so")
    parser.add_argument("--name", help="results file stem (benchmarks/results/NAME.json, .md)")
    parser.add_argument("--words", default="2M")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--buckets", type=int, default=2_000_000)
    parser.add_argument("--negatives", default="pair", choices=("pair", "center"))
    parser.add_argument("--model", default="sg", choices=("sg", "cbow"))
    parser.add_argument("--no-subwords", dest="subwords", action="store_false")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.words, args.reps, args.threads, args.buckets,
                               args.negatives, args.model, args.subwords)))
        return 0
    if not (args.old and args.new):
        parser.error("--old and --new are both needed")
    command = shlex.join(["python", "benchmarks/core_ab.py", *(argv if argv is not None else sys.argv[1:])])
    runs = []
    for round_ in range(args.rounds):
        for build in ("old", "new"):
            load = loadavg()
            out = subprocess.run([sys.executable, __file__, "--child", getattr(args, build), "--words",
                                  args.words, "--reps", str(args.reps), "--threads", str(args.threads),
                                  "--buckets", str(args.buckets), "--negatives", args.negatives,
                                  "--model", args.model, *([] if args.subwords else ["--no-subwords"])],
                                 check=True, capture_output=True, text=True).stdout
            result = json.loads(out.splitlines()[-1])
            runs.append({"round": round_, "build": build, "loadavg_before": load, **result})
            print(json.dumps(runs[-1]), flush=True)
    mean = {b: sum(x for r in runs if r["build"] == b for x in r["words_per_cpu_second"])
            / sum(len(r["words_per_cpu_second"]) for r in runs if r["build"] == b) for b in ("old", "new")}
    same = len({r["w_in_checksum"] for r in runs}) == 1
    lines = [f"# {args.name or 'core A/B'}", "", f"Command: `{command}`", "",
             f"- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; {args.model}"
             f"{' with subwords' if args.subwords else ', no subwords'}, "
             f"{args.words} words x 1 epoch, {args.negatives} draws, {args.threads} thread(s), "
             f"{args.buckets} buckets; the kernel alone",
             f"- load average after: {loadavg()}", "",
             "| round | build | load before | words per CPU second (each rep) | w_in checksum |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['round']} | {r['build']} | {r['loadavg_before']} | "
              + ", ".join(f"{x / 1e3:,.0f}k" for x in r["words_per_cpu_second"])
              + f" | {r['w_in_checksum']!r} |" for r in runs]
    lines += ["", f"Mean words per CPU second: old {mean['old'] / 1e3:,.0f}k, new {mean['new'] / 1e3:,.0f}k "
              f"(new/old {mean['new'] / mean['old']:.3f}); w_in after the reps "
              f"{'identical in every process' if same else 'DIFFERS between processes'}.", ""]
    print("\n".join(lines))
    if args.name:
        out = HERE / "results" / args.name
        Path(f"{out}.json").write_text(json.dumps({"command": command, "args": vars(args), "runs": runs,
                                                        "mean": mean, "identical": same}, indent=1) + "\n")
        Path(f"{out}.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
