"""Soak test (issue 7): a three-task run stopped by SIGINT (and kill -9) again and again and resumed,
against the same run left alone.

    python tools/soak.py --corpus benchmarks/.cache/enwiki-text8-17M.txt --control  # ~30 min, 2 cores
    python tools/soak.py --max-lines 2000 --epochs 2 --max-wait 8 --out /tmp/soak.md    # a smoke run

The corpus (one sentence or article per line; `benchmarks/prepare_corpus.py` makes the default) is split by
lines into three English tasks of about equal size, trained jointly from a job file with checkpoints every
30 s. The interrupted run gets SIGINT (or, for --kill-share of the stops, SIGKILL) at a random moment
(uniform in [--min-wait, --max-wait] seconds after each start: while reading the corpus, training, writing a
checkpoint or the vectors) and is continued with `mtlembed train --resume DIR` (or started again when no
checkpoint exists yet) until it finishes. The same job then runs uninterrupted. Checks, any failure making
the exit status 1:

* every process stopped by SIGINT exits 130 and leaves no temporary file in the output or checkpoint
  folders; one killed by SIGKILL may leave one (nothing runs in a killed process), which the next write of
  that file or the next resume must remove; every resume finds a whole checkpoint;
* both runs end with the same vocabulary, and their analogy accuracies (questions-words, 3CosAdd, top 30,000
  words) differ by no more than the noise: 3 standard errors of the difference of two binomial accuracies
  on this many questions (two Hogwild runs with 2 threads differ anyway; a resume that lost or repeated
  work, or restarted the learning rate, shows as a larger gap);
* at the end the folders hold only the expected files: no temporary left by any stop.

With --control the job also runs uninterrupted a second time: what two runs differ by anyway (reported).

Results go to --out (Markdown) and the same name with .json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = ROOT / "benchmarks" / ".cache"  # where benchmarks/prepare_corpus.py puts its corpora
sys.path.insert(0, str(ROOT))

import mtlembed  # noqa: E402
from mtlembed import backend  # noqa: E402
from mtlembed import eval as ev  # noqa: E402

SHARED = Path(os.environ.get("MTLEMBED_DATA", ROOT.parent / "shared" / "data"))
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
QUESTIONS = SHARED / "analogy" / "en" / "questions-words.txt"
CLI = [sys.executable, "-m", "mtlembed.cli"]
STOP_TIMEOUT = 120  # seconds a stopped run may take to exit before it counts as a hang


def split_corpus(corpus: Path, folder: Path, max_lines: int | None) -> list[Path]:
    """Three files of consecutive lines, about a third of the bytes each."""
    with open(corpus, "rb") as handle:
        lines = handle.readlines()[:max_lines]
    total, parts, done, start = sum(map(len, lines)), [], 0, 0
    for i, line in enumerate(lines):
        done += len(line)
        if done >= total * (len(parts) + 1) / 3 or i == len(lines) - 1:
            path = folder / f"part{len(parts) + 1}.txt"
            path.write_bytes(b"".join(lines[start:i + 1]))
            parts.append(path)
            start = i + 1
    if len(parts) != 3:
        sys.exit(f"soak: {corpus} has too few lines to split into three tasks")
    return parts


def write_job(path: Path, parts: list[Path], args: argparse.Namespace) -> None:
    train = {"dim": args.dim, "epochs": args.epochs, "window": 5, "negative": 5, "sample": 1e-4,
             "min_count": 5, "threads": args.threads, "seed": 1}
    text = "[train]\n" + "".join(f"{k} = {v}\n" for k, v in train.items())
    for i, part in enumerate(parts, 1):
        text += f'\n[[task]]\nname = "wiki{i}"\nlang = "en"\npaths = ["{part}"]\n'
    path.write_text(text)


def temporary_files(*folders: Path) -> list[str]:
    """What an atomic write leaves behind when it fails: hidden or .tmp names."""
    return sorted(str(p) for folder in folders if folder.exists() for p in folder.iterdir()
                  if p.name.startswith(".") or p.name.endswith(".tmp"))


def interrupted_run(job: Path, out: Path, checkpoints: Path, args: argparse.Namespace, log: Path) -> dict:
    """Runs the job to the end through SIGINT / --resume cycles; returns what happened."""
    rng = random.Random(args.seed)
    first = [*CLI, "train", "--config", str(job), "-o", str(out / "interrupted.bin"), "--checkpoint-dir",
             str(checkpoints), "--checkpoint-every", args.checkpoint_every, "--quiet", "--report",
             str(out / "interrupted.json")]
    resume = [*CLI, "train", "--resume", str(checkpoints), "--quiet"]
    cycles, failures, started = [], [], time.perf_counter()
    while True:
        command = resume if (checkpoints / "checkpoint.npz").exists() else first
        wait = rng.uniform(args.min_wait, args.max_wait) if len(cycles) < args.max_interrupts else None
        how = signal.SIGKILL if rng.random() < args.kill_share else signal.SIGINT
        before = set(temporary_files(out, checkpoints))
        with open(log, "a") as err:
            err.write(f"$ {' '.join(command)}\n")
            err.flush()
            size = log.stat().st_size
            process = subprocess.Popen(command, stdout=err, stderr=err)
            try:
                code = process.wait(timeout=wait)
                cycles.append({"command": _kind(command), "finished": True, "exit": code})
                if code != 0:
                    failures.append(f"the last cycle exited {code} (see {log})")
                break
            except subprocess.TimeoutExpired:
                signalled = time.perf_counter()
                process.send_signal(how)
                try:
                    code = process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    failures.append(f"cycle {len(cycles) + 1}: still running {STOP_TIMEOUT} s after SIGINT")
                    code = None
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        stop_seconds = round(time.perf_counter() - signalled, 2)
        if how == signal.SIGKILL:
            phase, expected = "kill -9", -signal.SIGKILL
        elif "checkpoint saved" in log.read_text()[size:]:
            phase, expected = "SIGINT while training (checkpoint saved)", 130
        else:
            phase, expected = "SIGINT while reading or writing (no checkpoint)", 130
        # kill -9 can leave a temporary: the next write of that file (or the resume) must remove it
        leaked = sorted(set(temporary_files(out, checkpoints)) - before)
        cycles.append({"command": _kind(command), "finished": False, "after_seconds": round(wait, 1),
                       "signal": how.name, "exit": code, "stop_seconds": stop_seconds, "phase": phase,
                       "leaked": leaked})
        if code not in (expected, 0):
            failures.append(f"cycle {len(cycles)}: exit {code} after {how.name}, expected {expected} "
                            f"(see {log})")
        if leaked and how != signal.SIGKILL:
            failures.append(f"cycle {len(cycles)}: temporary files left: {leaked}")
        if code == 0:  # it finished just before the signal
            break
    return {"cycles": cycles, "failures": failures, "seconds": time.perf_counter() - started}


def _kind(command: list[str]) -> str:
    return "resume" if "--resume" in command else "start"


def uninterrupted_run(job: Path, out: Path, args: argparse.Namespace, log: Path, name: str) -> dict:
    command = [*CLI, "train", "--config", str(job), "-o", str(out / f"{name}.bin"), "--checkpoint-dir",
               str(out.parent / f"ckpt-{name}"), "--checkpoint-every", args.checkpoint_every, "--quiet",
               "--report", str(out / f"{name}.json")]
    started = time.perf_counter()
    with open(log, "a") as err:
        err.write(f"$ {' '.join(command)}\n")
        err.flush()
        code = subprocess.run(command, stdout=err, stderr=err).returncode
    failures = [] if code == 0 else [f"the {name} run exited {code} (see {log})"]
    return {"exit": code, "failures": failures, "seconds": time.perf_counter() - started}


def compare(out: Path, names: list[str]) -> tuple[dict, list[str]]:
    """Analogy accuracy of the models and whether the interrupted one agrees within noise."""
    models = {name: mtlembed.Embeddings.load(out / f"{name}.bin") for name in names}
    scores = {name: ev.analogy(model, QUESTIONS, restrict=30_000) for name, model in models.items()}
    a, b = scores["interrupted"], scores["uninterrupted"]
    failures = []
    if any(model.words != models["interrupted"].words for model in models.values()):
        failures.append("the runs have different vocabularies")
    mean = (a["accuracy"] + b["accuracy"]) / 2
    # standard error of the difference of two independent binomial accuracies on `total` questions
    noise = 3 * math.sqrt(2 * mean * (1 - mean) / a["total"])
    gap = abs(a["accuracy"] - b["accuracy"])
    if gap > noise:
        failures.append(f"analogy accuracies differ by {100 * gap:.2f} points, more than the noise "
                        f"({100 * noise:.2f} points)")
    keys = ("accuracy", "correct", "total", "oov")
    facts = {name: {k: score[k] for k in keys} for name, score in scores.items()}
    facts.update(gap_points=100 * gap, noise_points=100 * noise, vocabulary=len(models["interrupted"]))
    if "control" in scores:  # what two uninterrupted runs differ by: Hogwild's own noise
        facts["control_gap_points"] = 100 * abs(scores["control"]["accuracy"] - b["accuracy"])
    return facts, failures


def report(path: Path, args: argparse.Namespace, facts: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    broken, whole, quality = facts["interrupted"], facts["uninterrupted"], facts["quality"]
    stops = [c for c in broken["cycles"] if not c["finished"]]
    phases = {p: sum(c["phase"] == p for c in stops) for p in sorted({c["phase"] for c in stops})}
    lines = [
        "# Soak: SIGINT, kill -9 and --resume cycles against an uninterrupted run (issue 7)", "",
        "    " + facts["command"], "",
        f"Commit {facts['commit']}, {facts['machine']}; {facts['when']}. Result: **{facts['verdict']}**.", "",
        f"Job: three English tasks (`{facts['corpus']}` split by lines: {facts['task_words']} words), "
        f"skip-gram, dim {args.dim}, {args.epochs} epochs, window 5, negative 5, sample 1e-4, min_count 5, "
        f"`--threads {args.threads}`, `--checkpoint-every {args.checkpoint_every}`; "
        f"vocabulary {quality.get('vocabulary', '?')} words.", "",
        "| run | wall time | processes | analogy accuracy (3CosAdd, top 30k) |",
        "|---|---|---|---|",
        f"| interrupted and resumed | {broken['seconds']:.0f} s | {len(broken['cycles'])} "
        f"({len(stops)} stops) | {_accuracy(quality.get('interrupted'))} |",
        f"| uninterrupted | {whole['seconds']:.0f} s | 1 | {_accuracy(quality.get('uninterrupted'))} |",
    ]
    if facts.get("control"):
        lines.append(f"| uninterrupted again (control) | {facts['control']['seconds']:.0f} s | 1 | "
                     f"{_accuracy(quality.get('control'))} |")
    lines.append("")
    if "gap_points" in quality:
        lines += [f"Gap {quality['gap_points']:.2f} points; noise bound {quality['noise_points']:.2f} points "
                  "(3 standard errors of the difference of two binomial accuracies on these questions)."
                  + (f" The two uninterrupted runs differ by {quality['control_gap_points']:.2f} points."
                     if "control_gap_points" in quality else ""), ""]
    if stops:
        sigints = [c for c in stops if c["signal"] == "SIGINT"]
        latencies = [c["stop_seconds"] for c in sigints] or [float("nan")]
        left = [c for c in stops if c["leaked"]]
        lines += [f"{len(stops)} stops, at uniform random moments in [{args.min_wait}, {args.max_wait}] s "
                  "after each start: " + ", ".join(f"{n} {p}" for p, n in phases.items())
                  + f". Exit codes: {sorted({c['exit'] for c in stops})}. SIGINT to exit: median "
                  f"{_median(latencies):.2f} s, max {max(latencies):.2f} s (writing the checkpoint "
                  "included). "
                  f"Stops that left a temporary file: {len(left)} "
                  f"({', '.join(sorted({c['signal'] for c in left})) or 'none'}); all were gone at the end "
                  "unless listed below.", ""]
    lines += [f"Files left at the end: {', '.join(facts['files_left'])}.", ""]
    if facts["failures"]:
        lines += ["Failures:", ""] + [f"- {f}" for f in facts["failures"]] + [""]
    lines += ["Cycles of the interrupted run (after: seconds from the start to the signal; stop: seconds "
              "from the signal to the exit):", "",
              "| # | command | after | stop | exit | phase |", "|---|---|---|---|---|---|"]
    for i, c in enumerate(broken["cycles"], 1):
        if c["finished"]:
            lines.append(f"| {i} | {c['command']} | - | - | {c['exit']} | ran to the end |")
        else:
            lines.append(f"| {i} | {c['command']} | {c['after_seconds']} | {c['stop_seconds']} | "
                         f"{c['exit']} | {c['phase']} |")
    path.write_text("\n".join(lines) + "\n")


def _accuracy(score: dict | None) -> str:
    if not score:
        return "-"
    return f"{100 * score['accuracy']:.2f}% ({score['correct']}/{score['total']}, {score['oov']} OOV)"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CACHE / "enwiki-text8-17M.txt")
    parser.add_argument("--max-lines", type=int, help="use only the first lines of the corpus (smoke runs)")
    parser.add_argument("--work", type=Path, default=CACHE / "soak",
                        help="scratch folder (emptied first)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "soak.md")
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-every", default="30s")
    parser.add_argument("--min-wait", type=float, default=1.0, help="earliest SIGINT, seconds after a start")
    parser.add_argument("--max-wait", type=float, default=60.0, help="latest SIGINT, seconds after a start")
    parser.add_argument("--max-interrupts", type=int, default=200, help="then let the run finish")
    parser.add_argument("--kill-share", type=float, default=0.25,
                        help="share of the stops made with SIGKILL (kill -9) rather than SIGINT")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random moments")
    parser.add_argument("--control", action="store_true",
                        help="run the job uninterrupted a second time: what two runs differ by anyway")
    args = parser.parse_args()
    if not args.corpus.is_file():
        sys.exit(f"soak: {args.corpus} not found; make it with: python benchmarks/prepare_corpus.py")
    if not QUESTIONS.is_file():
        sys.exit(f"soak: {QUESTIONS} not found (set MTLEMBED_DATA to the shared data folder)")

    shutil.rmtree(args.work, ignore_errors=True)
    out, log = args.work / "out", args.work / "soak.log"
    out.mkdir(parents=True)
    parts = split_corpus(args.corpus, args.work, args.max_lines)
    job = args.work / "job.toml"
    write_job(job, parts, args)
    print(f"soak: interrupted run (log: {log})", file=sys.stderr)
    broken = interrupted_run(job, out, args.work / "ckpt-interrupted", args, log)
    print(f"soak: {len(broken['cycles'])} processes, {broken['seconds']:.0f} s; uninterrupted run",
          file=sys.stderr)
    whole = uninterrupted_run(job, out, args, log, "uninterrupted")
    control = uninterrupted_run(job, out, args, log, "control") if args.control else None
    failures = broken["failures"] + whole["failures"] + (control["failures"] if control else [])
    runs = ["interrupted", "uninterrupted"] + (["control"] if control else [])
    quality = {}
    if not failures:
        quality, more = compare(out, runs)
        failures += more
    folders = [out] + [args.work / f"ckpt-{run}" for run in runs]
    left = sorted(str(p.relative_to(args.work)) for folder in folders if folder.exists()
                  for p in folder.iterdir())
    expected = {f"out/{run}.{kind}" for run in runs for kind in ("bin", "json")}
    expected |= {f"ckpt-{run}/checkpoint.npz" for run in runs}
    if set(left) - expected:
        failures.append(f"unexpected files at the end: {sorted(set(left) - expected)}")
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    facts = {
        "command": "python " + " ".join([os.path.relpath(__file__), *sys.argv[1:]]),
        "commit": commit or "unknown", "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {backend.info()['simd']}",
        "when": time.strftime("%Y-%m-%d %H:%M"), "corpus": str(args.corpus),
        "task_words": " + ".join(f"{sum(len(line.split()) for line in open(p, 'rb')):,}" for p in parts),
        "interrupted": broken, "uninterrupted": whole, "control": control, "quality": quality,
        "files_left": left,
        "failures": failures, "verdict": "pass" if not failures else "FAIL",
    }
    report(args.out, args, facts)
    print(f"soak: {facts['verdict']}; {args.out}", file=sys.stderr)
    for failure in failures:
        print(f"soak: {failure}", file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
