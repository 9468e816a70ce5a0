"""Time and peak memory of `mtlembed align` on two large synthetic spaces.

    python benchmarks/align_scale.py                       # 200k x 200k words, dim 300, default refinement
    python benchmarks/align_scale.py --words 50000 --iterations 3

The target is a random rotation of the source with its rows shuffled; the vectors are Gaussian, so
induction has no frequency structure to exploit: a worst case for its speed,
not a quality test. Peak memory is the maximum resident set size of the align
process (getrusage of the child), time is wall-clock; both include reading and
writing the word2vec files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".cache" / "align-scale"
sys.path.insert(0, str(ROOT))

from mtlembed import io  # noqa: E402


def spaces(words: int, dim: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """SRC.bin, TGT.bin and a 5,000-pair dictionary (made once, then reused)."""
    src, tgt, dictionary = (WORK / f"{name}-{words}x{dim}{ext}" for name, ext in
                            (("src", ".bin"), ("tgt", ".bin"), ("dict", ".txt")))
    if not all(p.exists() for p in (src, tgt, dictionary)):
        WORK.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((words, dim), dtype=np.float32)
        rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        order = rng.permutation(words)
        z = np.empty_like(x)
        z[order] = x @ rotation.astype(np.float32)
        io.save_word2vec(src, [f"s{i}" for i in range(words)], x, binary=True)
        io.save_word2vec(tgt, [f"t{j}" for j in range(words)], z, binary=True)
        dictionary.write_text("".join(f"s{i} t{order[i]}\n" for i in range(min(5000, words))))
    return src, tgt, dictionary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--method", default="iterative")
    parser.add_argument("--iterations", type=int, help="refinements (default: the method's, 5 for iterative)")
    parser.add_argument("--name", help="also write results/<name>.json and .md")
    parser.add_argument("--files", nargs=3, metavar=("SRC", "TGT", "DICT"),
                        help="time these two word2vec files and dictionary instead of the synthetic spaces")
    args = parser.parse_args()
    src, tgt, dictionary = args.files or spaces(args.words, args.dim)
    out = WORK / "aligned"
    command = [sys.executable, "-m", "mtlembed", "align", str(src), str(tgt), "-o", str(out), "--dictionary",
               str(dictionary), "--method", args.method, "--binary", "--report", str(WORK / "report.json")]
    if args.iterations is not None:
        command += ["--iterations", str(args.iterations)]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss * 1024
    report = json.loads((WORK / "report.json").read_text()) if done.returncode == 0 else {}
    result = {"words": report.get("src_words", args.words), "dim": report.get("dim", args.dim),
              "method": args.method,
              "iterations": report.get("iterations"), "multistep": report.get("multistep"),
              "induction_seconds": round(sum(h["seconds"] for h in report.get("history", [])), 1),
              "returncode": done.returncode, "seconds": round(seconds, 1),
              "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
              "peak_rss_mib": round(peak / 2**20),
              "cores": os.cpu_count(),
              "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
              "command": " ".join(shlex.quote(c) for c in command).replace(sys.executable, "python"),
              "stderr_tail": done.stderr[-1500:]}
    print(json.dumps(result, indent=2))
    if args.name:
        result["command"] = result["command"].replace(f"{ROOT}/", "")
        (HERE / "results" / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (HERE / "results" / f"{args.name}.md").write_text(
            f"# `mtlembed align` at scale\n\n{result['words']:,} x {report.get('tgt_words', args.words):,} "
            f"words, dim {result['dim']}, "
            f"{args.method} ({result['iterations']} dictionary inductions, multi-step map "
            f"{'on' if result['multistep'] else 'off'}), "
            f"{'the files given' if args.files else 'synthetic Gaussian spaces'} "
            f"(`flock /tmp/mtl-speed.lock python benchmarks/align_scale.py {' '.join(sys.argv[1:])}`).\n\n"
            f"| wall s | of which induction s | CPU s (user + sys) | peak RSS MiB | cores "
            f"| load average (start, end) |\n|---:|---:|---:|---:|---:|---:|\n"
            f"| {result['seconds']} | {result['induction_seconds']} | {result['cpu_seconds']} | "
            f"{result['peak_rss_mib']} | "
            f"{result['cores']} | {result['load_average_1min'][0]}, {result['load_average_1min'][1]} |\n\n"
            "Wall time includes reading and writing both files; the machine was shared "
            "(load average above), so it is an upper bound.\n")


if __name__ == "__main__":
    main()
