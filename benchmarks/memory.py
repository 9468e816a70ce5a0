"""Peak memory of a training run against what it must hold: matrices + encoded corpus.

    python benchmarks/memory.py                          # 17M words, in RAM
    python benchmarks/memory.py --words 31M --cache-dir /tmp/cache31
    python benchmarks/memory.py --limit-data 250M        # private memory capped (setrlimit RLIMIT_DATA)

Each measurement runs in a fresh child process: `baseline` only loads
what every run loads first (Python, numpy, numpy.random, mtlembed, its core); `train` reads the corpus, makes
the matrices, trains (skip-gram, dim 100, 1 epoch by default) and writes the
vectors as word2vec binary. The peak is the child's ru_maxrss (os.wait4), which
no sampling can miss. Inside the child a thread samples /proc/self/statm every
2 ms to tell which phase holds the peak and how much of it is private (anon)
memory and how much file pages (a memory-mapped cache), and the peak of
VmData (private writable address space, what RLIMIT_DATA caps).

Theory: matrices = vocab x padded dim x 4 bytes x (1 + context matrices);
encoded corpus = tokens x 4 + (sentences + 1) x 8 bytes.

`--limit-data` sets RLIMIT_DATA in the child: it caps private writable memory
(heap, numpy arrays, C++ vectors) and not file-backed mappings, so it shows
whether a run's own memory grows with the corpus; the pages of a cache file
are the kernel's to evict, as they would be for a corpus larger than RAM.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prepare_corpus  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 2**20


def parse_bytes(text: str) -> int:
    """'250M', '1.5G', '300000000' -> bytes."""
    scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


# ----------------------------------------------------------------------------- child


class Sampler:
    """Peak RSS, anon and file pages per phase, sampled from /proc/self/statm."""

    def __init__(self, interval: float = 0.002):
        self.interval, self.phase, self.peaks = interval, "start", {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                fields = statm.read().split()
                rss, shared = int(fields[1]) * PAGE, int(fields[2]) * PAGE  # shared: file-backed pages
                data = int(fields[5]) * PAGE  # private writable address space: what RLIMIT_DATA caps
                peak = self.peaks.setdefault(self.phase, {"rss": 0, "anon": 0, "file": 0, "data": 0})
                if rss > peak["rss"]:
                    peak.update(rss=rss, anon=rss - shared, file=shared)
                peak["data"] = max(peak["data"], data)
                time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def high_water_mark() -> int:
    """VmHWM: the process's peak RSS so far, in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def child_train(args: argparse.Namespace) -> dict:
    import numpy as np

    import mtlembed
    from mtlembed.trainer import ROW_BLOCK

    cache = {"cache_dir": args.cache_dir} if args.cache_dir else {}  # only then: older versions lack it
    config = mtlembed.TrainConfig(model="sg", dim=args.dim, epochs=args.epochs, threads=args.threads,
                                  sample=1e-4, **cache)
    trainer = mtlembed.Trainer(config, [mtlembed.TaskSpec("corpus", (args.corpus,))])
    marks, seconds = {}, {}
    with Sampler() as sampler:
        for phase, step in (("read", trainer.read), ("train", trainer.train)):
            sampler.phase, start = phase, time.perf_counter()
            result = step()
            marks[phase], seconds[phase] = high_water_mark(), time.perf_counter() - start
        data, heads = trainer.corpus, len(trainer.w_out)
        figures = {"vocab": len(data.vocab), "tokens": sum(len(s.tokens) for s in data.streams),
                   "sentences": sum(len(s.offsets) - 1 for s in data.streams), "words_read": data.words_read,
                   "memory_mapped": isinstance(data.streams[0].tokens, np.memmap)}
        del data
        trainer.corpus = trainer.w_out = None  # as `mtlembed train` does before writing the vectors
        sampler.phase, start = "export", time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            result.save(Path(out) / "vectors.bin")
        marks["export"], seconds["export"] = high_water_mark(), time.perf_counter() - start
        del result
    cols = -(-args.dim // ROW_BLOCK) * ROW_BLOCK
    return {**figures, "padded_dim": cols, "matrices": 1 + heads,
            "matrix_bytes": figures["vocab"] * cols * 4 * (1 + heads),
            "corpus_bytes": figures["tokens"] * 4 + (figures["sentences"] + 1) * 8,
            "phases": sampler.peaks, "hwm_after": marks, "phase_seconds": seconds,
            "words_per_second": trainer.report.words_per_second}


def child_main(args: argparse.Namespace) -> None:
    if args.child == "baseline":  # what every run loads before it reads a word
        import numpy

        import mtlembed

        mtlembed.backend.core()
        numpy.random.default_rng(1)
        result = {"hwm": high_water_mark()}
    else:
        result = child_train(args)
    print(json.dumps(result))


# ----------------------------------------------------------------------------- parent


def run_child(args: argparse.Namespace, mode: str) -> dict:
    """Runs this script as a child; returns its JSON result, its peak RSS and its error if it failed."""
    command = [sys.executable, __file__, "--child", mode, "--corpus", str(args.corpus),
               "--dim", str(args.dim), "--epochs", str(args.epochs), "--threads", str(args.threads)]
    if args.cache_dir:
        command += ["--cache-dir", args.cache_dir]
    limit = args.limit_data if mode == "train" else None

    def apply_limit() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=out, stderr=err, preexec_fn=apply_limit)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, peak RSS included
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode(errors="replace")
    result = json.loads(stdout) if child.returncode == 0 else {}
    result.update(peak=usage.ru_maxrss * 1024, seconds=time.perf_counter() - start,
                  returncode=child.returncode)
    if child.returncode != 0:
        lines = stderr.strip().splitlines()
        result["error"] = lines[-1] if lines else f"exit {child.returncode}"
    return result


def report(args: argparse.Namespace, base: dict, run: dict) -> dict:
    mib = lambda b: f"{b / MiB:.1f}"  # noqa: E731
    print(f"corpus {args.corpus}, sg dim {args.dim}, {args.epochs} epoch(s), {args.threads} threads, "
          f"cache {args.cache_dir or 'none (in RAM)'}, RLIMIT_DATA {args.limit_data or 'none'}")
    print(f"baseline (python, numpy, numpy.random, mtlembed and its _core loaded): {mib(base['peak'])} MiB")
    if run["returncode"] != 0:
        print(f"run FAILED (exit {run['returncode']}) at peak {mib(run['peak'])} MiB: {run['error']}")
        return {"baseline": base, "run": run}
    theory = run["matrix_bytes"] + run["corpus_bytes"]
    print(f"vocab {run['vocab']} x {run['padded_dim']} x {run['matrices']} matrices = "
          f"{mib(run['matrix_bytes'])} MiB; corpus {run['tokens']} tokens + {run['sentences']} sentences = "
          f"{mib(run['corpus_bytes'])} MiB; theory {mib(theory)} MiB")
    print(f"peak RSS {mib(run['peak'])} MiB = {run['peak'] / theory:.2f} x theory; "
          f"without the baseline {mib(run['peak'] - base['peak'])} MiB = "
          f"{(run['peak'] - base['peak']) / theory:.2f} x theory; {run['seconds']:.1f} s")
    print("phase    peak RSS   anon    file  VmHWM after  VmData peak (MiB)  seconds")
    for phase, peak in run["phases"].items():
        after, seconds = run["hwm_after"].get(phase), run["phase_seconds"].get(phase)
        print(f"{phase:8} {mib(peak['rss']):>8} {mib(peak['anon']):>7} {mib(peak['file']):>7} "
              f"{mib(after) if after else '':>11} {mib(peak['data']):>12} {seconds or 0:>14.1f}")
    return {"baseline": base, "run": run, "theory": theory, "ratio": run["peak"] / theory}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=prepare_corpus.parse_words, default=17_000_000,
                    help="text8-style corpus of this many words (made by prepare_corpus.py if missing)")
    ap.add_argument("--corpus", help="any corpus file instead of --words")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", help="train from an encoded cache in this folder (built on first use)")
    ap.add_argument("--limit-data", type=parse_bytes, help="RLIMIT_DATA of the training child, e.g. 250M")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--child", choices=("baseline", "train"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.corpus is None:
        args.corpus = str(prepare_corpus.corpus_path(args.words))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    if not Path(args.corpus).exists():
        prepare_corpus.prepare(args.words)
    summary = report(args, run_child(args, "baseline"), run_child(args, "train"))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if summary["run"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
