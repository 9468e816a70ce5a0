"""CUDA benchmark in one run, for a machine with a GPU and nothing else reachable.

Builds nothing: install first (``pip install --no-build-isolation --no-deps -e .``),
then, from the repository root (benchmarks/gpu_session.sh does all of it):

    python benchmarks/bench_gpu.py --corpus .data/gpu/enwiki-text8-17M.txt.xz \\
        --questions .data/gpu/questions-words.txt --parallel .data/gpu/train.en.gz .data/gpu/train.fr.gz \\
        --out benchmarks/results/gpu

1. ``pytest -m gpu`` (the CUDA kernel against the CPU oracle);
2. reads the corpus once (plain, .gz, .bz2 or .xz: the text8-style file of
   ``prepare_corpus.py``), then trains on CUDA each of ``--runs`` (default sg
   and cbow at dim 100 and 300; window 5, negative 5, sample 1e-4, 5 epochs)
   with device rows padded to each of ``--row-floats`` (16, the default, and
   4: kernel.CUDA_ROW_FLOATS);
3. the same configurations on the CPU on the first ``--cpu-words`` words for
   one epoch (words/s ratio), and ``--cpu-full`` of them on the CPU on
   everything, for the accuracy to compare with;
4. analogy accuracy (3CosAdd, 30,000 most frequent words) of every full run
   with mtlembed's evaluator (a minimal numpy 3CosAdd if it is missing);
5. with ``--parallel EN FR``: a joint job (the corpus as English, FR's side
   as French, and the pair as parallel text), one epoch on CUDA and on the
   CPU: words/s and loss per pair;
6. writes ``results.json`` and ``results.md`` into ``--out``.

About 3-5 minutes on an H100 with 16 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUESTIONS = [
    ROOT.parent / "shared" / "data" / "analogy" / "en" / "questions-words.txt",
    Path("/work/shared/data/analogy/en/questions-words.txt"),
    HERE / ".cache" / "questions-words.txt",
]
BASE = dict(window=5, negative=5, sample=1e-4, min_count=5, epochs=5)
RUNS = "sg:100,sg:300,cbow:100,cbow:300"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True, help="text8-style corpus (plain, .gz, .bz2 or .xz)")
    p.add_argument("--questions", type=Path, help="questions-words.txt (default: the shared data folder)")
    p.add_argument("--out", type=Path, required=True, help="folder for results.json and results.md")
    p.add_argument("--cpu-words", type=int, default=2_000_000, help="words of the CPU speed slice")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--skip-tests", action="store_true", help="do not run pytest -m gpu")
    p.add_argument("--runs", default=RUNS, help="model:dim,... trained on CUDA (default %(default)s)")
    p.add_argument("--row-floats", default="16,4", help="CUDA row paddings to measure (4 and/or 16)")
    p.add_argument("--cpu-full", default="sg:100,cbow:100",
                   help="model:dim,... also trained on the CPU on everything (for the accuracy); '' for none")
    p.add_argument("--parallel", nargs=2, type=Path, metavar=("EN", "FR"),
                   help="line-aligned English and French files for the joint job")
    p.add_argument("--dry-run", action="store_true", help="no GPU: everything else, on a --cpu-words slice")
    args = p.parse_args(argv)
    args.runs = configs(args.runs)
    args.cpu_full = configs(args.cpu_full)
    args.row_floats = [int(r) for r in args.row_floats.split(",")]
    return args


def configs(text: str) -> list[tuple[str, int]]:
    """'sg:100,cbow:300' -> [("sg", 100), ("cbow", 300)]."""
    return [(model, int(dim)) for model, dim in (item.split(":") for item in text.split(",") if item)]


def run_tests() -> dict:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    print("\n".join(lines[-15:]), flush=True)
    return {
        "returncode": proc.returncode,
        "summary": lines[-1] if lines else "",
        "tail": "\n".join(lines[-60:]),
        "seconds": round(time.perf_counter() - start, 1),
    }


def machine() -> dict:
    import mtlembed
    from mtlembed import _core

    info = dict(_core.info())
    doc = {
        "cuda_devices": info["cuda_devices"],
        "cuda_architectures": info.get("cuda_architectures"),
        "simd": info["simd"],
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mtlembed": mtlembed.__version__,
    }
    try:
        doc["cpu"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        doc["cpu"] = platform.processor() or "unknown"
    try:
        smi = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                "--format=csv,noheader",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        doc["nvidia_smi"] = smi.stdout.strip() if smi.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        doc["nvidia_smi"] = None
    try:
        git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
        doc["git"] = git.stdout.strip() or "unknown"
        doc["git_dirty"] = bool(dirty.stdout.strip())
    except OSError:
        doc["git"] = "unknown"
    return doc


def find_questions(path: Path | None) -> Path | None:
    for candidate in [path] if path else QUESTIONS:
        if candidate and candidate.exists():
            return candidate
    return None


def analogy(vectors, questions: Path | None) -> dict | None:
    """3CosAdd on the 30,000 most frequent words: mtlembed's evaluator, else a minimal numpy one."""
    if questions is None:
        return None
    try:
        from mtlembed.eval.analogy import evaluate_analogies
    except ImportError:
        return minimal_analogy(vectors, questions)
    result = evaluate_analogies(vectors, questions, restrict=30000)
    sections = result["sections"]

    def part(syntactic):
        chosen = [s for s in sections if s["section"].startswith("gram") == syntactic]
        total = sum(s["total"] for s in chosen)
        return sum(s["correct"] for s in chosen) / total if total else None

    return {
        "accuracy": result["accuracy"],
        "semantic": part(False),
        "syntactic": part(True),
        "total": result["total"],
        "oov": result["oov"],
        "evaluator": "mtlembed",
    }


def minimal_analogy(vectors, questions: Path) -> dict:
    words = vectors.words[:30000]
    index = {w.upper(): i for i, w in reversed(list(enumerate(words)))}
    unit = vectors.vectors[:30000] / np.maximum(
        np.linalg.norm(vectors.vectors[:30000], axis=1, keepdims=True), 1e-12
    )
    rows, oov = [], 0
    for line in questions.read_text().splitlines():
        parts = line.upper().split()
        if len(parts) != 4 or line.startswith(":"):
            continue
        if all(p in index for p in parts):
            rows.append([index[p] for p in parts])
        else:
            oov += 1
    q = np.array(rows)
    correct = 0
    for start in range(0, len(q), 2048):
        block = q[start : start + 2048]
        scores = (unit[block[:, 1]] - unit[block[:, 0]] + unit[block[:, 2]]) @ unit.T
        for k in range(3):
            scores[np.arange(len(block)), block[:, k]] = -np.inf
        correct += int(np.sum(scores.argmax(axis=1) == block[:, 3]))
    return {"accuracy": correct / len(q), "total": len(q), "oov": oov, "evaluator": "numpy 3CosAdd"}


def warm_up() -> None:
    """Creates the CUDA context outside the timed runs."""
    from mtlembed import _core

    rows = np.zeros((4, 16), np.float32)
    ids = np.array([1], np.int32)
    _core.step("sg", rows, rows.copy(), ids, ids, 0.0, "cuda")


def train_once(data, specs, device: str, model: str, dim: int, threads: int, epochs: int, questions,
               row_floats: int = 16, parallel=()) -> tuple:
    from mtlembed import TrainConfig, Trainer, kernel

    config = TrainConfig(
        model=model, dim=dim, device=device, threads=threads, seed=1, **{**BASE, "epochs": epochs}
    )
    kernel.CUDA_ROW_FLOATS = row_floats  # device rows of 4 or 16 floats (not a config option until measured)
    trainer = Trainer(config, specs, parallel=list(parallel))
    trainer.corpus = data  # read once, shared by every run (same min_count)
    start = time.perf_counter()
    vectors = trainer.train()
    wall = time.perf_counter() - start
    r = trainer.report
    rec = {
        "device": device,
        "model": model,
        "dim": dim,
        "row_floats": row_floats if device == "cuda" else None,
        "epochs": epochs,
        "threads": r.threads,
        "train_seconds": round(r.train_seconds, 3),
        "seconds_per_epoch": round(r.train_seconds / epochs, 3),
        "wall_seconds": round(wall, 3),
        "words": r.train_words,
        "words_per_second": round(r.words_per_second),
        "loss_per_pair": round(r.final_loss, 5),
    }
    print(
        f"  {device:4s} {model:4s} dim {dim:3d} rows {row_floats:2d} x{epochs}: "
        f"{r.words_per_second / 1e6:8.2f} M words/s, "
        f"{r.train_seconds:7.2f} s, loss/pair {r.final_loss:.4f}",
        flush=True,
    )
    return rec, vectors


def first_words(path: Path, words: int, into: Path) -> Path:
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    seen = 0
    with (
        opener(path, "rt", encoding="utf-8", errors="replace") as src,
        open(into, "w", encoding="utf-8") as dst,
    ):
        for line in src:
            parts = line.split()
            if seen + len(parts) > words:
                parts = parts[: words - seen]
            dst.write(" ".join(parts) + "\n")
            seen += len(parts)
            if seen >= words:
                break
    return into


def markdown(doc: dict) -> str:
    m = doc["machine"]
    out = [
        f"# mtlembed on CUDA: {', '.join(m['cuda_devices']) or 'no device'}",
        "",
        f"- nvidia-smi: {m.get('nvidia_smi')}",
        f"- CUDA architectures compiled: {', '.join(m.get('cuda_architectures') or []) or '-'}",
        f"- CPU: {m['cpu']} ({m['cpu_cores']} cores, SIMD {m['simd']})",
        f"- git: {m.get('git')}{' (dirty)' if m.get('git_dirty') else ''}; command: `{doc['command']}`",
        f"- corpus: {doc['corpus']['path']}: {doc['corpus']['words']:,} words, vocabulary "
        f"{doc['corpus']['vocab']:,} (min_count 5), read in {doc['corpus']['read_seconds']:.1f} s",
        f"- settings: window 5, negative 5, sample 1e-4, 5 epochs; CPU speed on the first "
        f"{doc['cpu_words']:,} words, one epoch; `rows`: CUDA rows padded to 4 or 16 floats",
        "",
    ]
    tests = doc.get("tests")
    if tests:
        out += [f"`pytest -m gpu`: {tests['summary']} (exit {tests['returncode']})", ""]
    header = ["device", "model", "dim", "rows", "epochs", "words", "train s", "s/epoch", "M words/s"]
    header += ["loss/pair", "analogy %", "semantic %", "syntactic %"]
    out += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]

    def pct(x):
        return f"{100 * x:.1f}" if isinstance(x, float) else "-"

    for r in doc["runs"]:
        a = r.get("analogy") or {}
        kind = " (joint)" if r.get("joint") else " (slice)" if r.get("slice") else ""
        cells = [r["device"] + kind, r["model"], r["dim"], r.get("row_floats") or "-", r.get("epochs", 5),
                 f"{r['words']:,}"]
        cells += [
            f"{r['train_seconds']:.2f}",
            r.get("seconds_per_epoch", "-"),
            f"{r['words_per_second'] / 1e6:.2f}",
        ]
        cells += [
            f"{r['loss_per_pair']:.4f}",
            pct(a.get("accuracy")),
            pct(a.get("semantic")),
            pct(a.get("syntactic")),
        ]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    out += ["", "CUDA / CPU words/s:"]
    for key, ratio in doc["ratios"].items():
        out.append(f"- {key}: {ratio:.1f}x")
    out += ["", f"Total {doc['total_seconds']:.0f} s."]
    return "\n".join(out) + "\n"


def joint_runs(args, doc, english: Path, cuda: bool) -> None:
    """The joint job: English (the corpus slice or all of it), French (the pair's French side) and the
    pair as parallel text, one epoch on CUDA (if present) and on the CPU."""
    from mtlembed import TaskSpec, TrainConfig, Trainer
    from mtlembed.tasks import ParallelSpec

    en, fr = args.parallel
    specs = [TaskSpec("en", (str(english),), lang="en"), TaskSpec("fr", (str(fr),), lang="fr")]
    parallel = [ParallelSpec("en-fr", ("en", "fr"), (str(en), str(fr)))]
    data = Trainer(TrainConfig(min_count=BASE["min_count"]), specs, parallel=parallel).read()
    for device in (["cuda"] if cuda else []) + ["cpu"]:
        rec, _ = train_once(data, specs, device, "sg", 100, 1 if device == "cuda" else args.threads, 1, None,
                            parallel=parallel)
        rec["joint"] = True
        doc["runs"].append(rec)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    doc = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpu_words": args.cpu_words,
        "runs": [],
        "ratios": {},
    }
    doc["questions"] = str(find_questions(args.questions) or "") or None
    doc["machine"] = machine()

    def save() -> None:
        """Writes what has been measured so far (a run cut short by its time limit keeps it)."""
        doc["total_seconds"] = round(time.perf_counter() - t0, 1)
        (args.out / "results.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
        if "corpus" in doc:
            (args.out / "results.md").write_text(markdown(doc))

    print(
        f"devices: {doc['machine']['cuda_devices']}; nvidia-smi: {doc['machine']['nvidia_smi']}", flush=True
    )
    cuda_present = bool(doc["machine"]["cuda_devices"]) and not args.dry_run
    if not args.skip_tests and cuda_present:
        doc["tests"] = run_tests()
        save()

    from mtlembed import TaskSpec, TrainConfig, Trainer

    questions = find_questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        piece = first_words(args.corpus, args.cpu_words, Path(tmp) / "slice.txt")
        corpus = piece if args.dry_run else args.corpus  # a dry run trains on the slice only
        specs = [TaskSpec("text8", (str(corpus),))]
        start = time.perf_counter()
        data = Trainer(TrainConfig(min_count=BASE["min_count"]), specs).read()
        doc["corpus"] = {
            "path": str(corpus),
            "words": data.words,
            "vocab": len(data.vocab),
            "read_seconds": round(time.perf_counter() - start, 2),
        }
        print(f"corpus: {data.words:,} words, {len(data.vocab):,} in the vocabulary", flush=True)

        cuda = {}
        if cuda_present:
            warm_up()
            for model, dim in args.runs:
                for row_floats in args.row_floats:
                    rec, vectors = train_once(data, specs, "cuda", model, dim, 1, BASE["epochs"], questions,
                                              row_floats)
                    rec["analogy"] = analogy(vectors, questions)
                    rec["end_to_end_seconds"] = round(doc["corpus"]["read_seconds"] + rec["wall_seconds"], 2)
                    doc["runs"].append(rec)
                    cuda[(model, dim, row_floats)] = rec
                    save()

        cpu_specs = [TaskSpec("slice", (str(piece),))]
        cpu_data = Trainer(TrainConfig(min_count=BASE["min_count"]), cpu_specs).read()
        for model, dim in args.runs:
            rec, _ = train_once(cpu_data, cpu_specs, "cpu", model, dim, args.threads, 1, None)
            rec["slice"] = True
            doc["runs"].append(rec)
            for row_floats in args.row_floats:
                if (model, dim, row_floats) in cuda:
                    doc["ratios"][f"{model} dim {dim} rows {row_floats}"] = (
                        cuda[(model, dim, row_floats)]["words_per_second"] / rec["words_per_second"]
                    )
        for model, dim in args.cpu_full:
            rec, vectors = train_once(data, specs, "cpu", model, dim, args.threads, BASE["epochs"], questions)
            rec["analogy"] = analogy(vectors, questions)
            doc["runs"].append(rec)
            save()
        if args.parallel:
            joint_runs(args, doc, corpus, cuda_present)
    save()
    print(markdown(doc))
    return 0 if doc.get("tests", {}).get("returncode", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
