"""Speed of mtlembed's word2vec IO and evaluation against gensim, in one run.

The model: 100k x 300 float32 vectors, made up rather than trained (training
a 100k-word model takes far longer than what is measured here) but shaped like
a real one: every word of questions-words.txt sits at a frequency rank drawn
from the top 30k (5% beyond, so some questions are out of vocabulary), the two
pairs of a question share a per-section offset plus noise (so accuracy is
neither 0 nor 1 and the answers are not trivially ties), and the other words
are Gaussian with rank-dependent norms.

Measured, each against gensim 4 on the same files/vectors in the same process:
save/load in text and binary; all of questions-words with restrict 30000
(3CosAdd, equal counts asserted; 3CosMul too); the English similarity sets;
and CSLS retrieval over 200k x 200k words with its peak memory (no gensim
equivalent: compared with the size of the n^2 score matrix it avoids).

    python benchmarks/bench_eval.py [--data-dir DIR] [--csls-words 200000] [--dim 300]

Writes benchmarks/results/eval_speed.json and eval_speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mtlembed import eval as ev  # noqa: E402
from mtlembed.io import load_word2vec, save_word2vec  # noqa: E402


def made_up_model(questions: Path, n: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    vec, offset = {}, None
    for line in questions.read_text().splitlines():
        if line.startswith(":"):
            offset = rng.standard_normal(dim)
            continue
        a, b, c, d = line.lower().split()
        for x, y in ((a, b), (c, d)):
            vec.setdefault(x, rng.standard_normal(dim))
            vec.setdefault(y, vec[x] + offset + 1.5 * rng.standard_normal(dim))
    words = [f"w{i}" for i in range(n)]
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors *= np.linspace(0.5, 2.0, n, dtype=np.float32)[:, None]
    qwords = list(vec)
    beyond = rng.random(len(qwords)) < 0.05
    ranks = np.where(beyond, rng.choice(np.arange(30000, n), len(qwords), replace=False), -1)
    ranks[~beyond] = rng.choice(30000, (~beyond).sum(), replace=False)
    for w, r in zip(qwords, ranks):
        words[r] = w
        vectors[r] = vec[w]
    return words, vectors


def timed(fn, *args, repeat=1, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, result


def csls_benchmark(n: int, dim: int, out_dir: Path, seed: int = 1):
    """CSLS BLI over n x n words: time and peak traced memory."""
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((n, dim)).astype(np.float32)
    mapping = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    tgt = rng.standard_normal((n, dim)).astype(np.float32)
    m = min(n, 6500)  # words with a translation; the last 1500 of them are the test dictionary
    tgt[:m] = (src[:m] + 1.2 * rng.standard_normal((m, dim))).astype(np.float32)
    tgt = tgt @ mapping  # a rotated space, as a second language would be
    tgt = np.ascontiguousarray(tgt)
    dictionary = out_dir / "csls_dict.txt"
    dictionary.write_text("".join(f"s{i} t{i}\n" for i in range(max(0, m - 1500), m)))
    src_words, tgt_words = [f"s{i}" for i in range(n)], [f"t{i}" for i in range(n)]
    aligned = np.ascontiguousarray(tgt @ mapping.T)  # rotated back, i.e. after a Procrustes step
    tracemalloc.start()
    t = time.perf_counter()
    r = ev.bli((src_words, src), (tgt_words, aligned), dictionary, method="csls")
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "words": n,
        "dim": dim,
        "seconds": seconds,
        "peak_traced_mb": peak / 2**20,
        "inputs_mb": (src.nbytes + aligned.nbytes) / 2**20,
        "dense_score_matrix_mb": 4 * n * n / 2**20,
        "p@1": r["p@1"],
        "queries": r["queries"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="shared data folder (default: $MTLEMBED_DATA or ../shared/data)")
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--csls-words", type=int, default=200_000)
    parser.add_argument("--skip-gensim-text-load", action="store_true", help="gensim's text loader is slow")
    args = parser.parse_args(argv)
    from gensim import __version__ as gensim_version
    from gensim.models import KeyedVectors

    data = ev.find_data_dir(args.data_dir)
    if data is None:
        parser.error("shared data folder not found: pass --data-dir or set MTLEMBED_DATA")
    questions = data / "analogy/en/questions-words.txt"
    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    results = {"model": {"words": args.words, "dim": args.dim, "how": "made-up vectors, see the docstring"}}

    print("building the model ...", file=sys.stderr)
    words, vectors = made_up_model(questions, args.words, args.dim)
    io_rows = {}
    for fmt, binary in (("text", False), ("binary", True)):
        path = cache / f"bench_{args.words}x{args.dim}.{'bin' if binary else 'txt'}"
        save_s, _ = timed(save_word2vec, path, words, vectors, binary=binary)
        load_s, (_, loaded) = timed(load_word2vec, path)
        row = {"file_mb": path.stat().st_size / 2**20, "save_s": save_s, "load_s": load_s}
        kv = KeyedVectors(args.dim)
        kv.add_vectors(words, vectors)
        row["gensim_save_s"], _ = timed(kv.save_word2vec_format, str(path) + ".gensim", binary=binary)
        if binary or not args.skip_gensim_text_load:
            row["gensim_load_s"], _ = timed(KeyedVectors.load_word2vec_format, str(path), binary=binary)
            row["load_speedup"] = row["gensim_load_s"] / load_s
        row["save_speedup"] = row["gensim_save_s"] / save_s
        os.unlink(str(path) + ".gensim")
        io_rows[fmt] = row
        print(fmt, row, file=sys.stderr)
    results["io"] = io_rows

    kv = KeyedVectors(args.dim)
    kv.add_vectors(words, vectors)
    print("analogies: mtlembed ...", file=sys.stderr)
    ours_s, ours = timed(ev.analogy, kv, questions, restrict=30000, repeat=2)
    mul_s, mul = timed(ev.analogy, kv, questions, restrict=30000, method="mul")
    print("analogies: gensim (minutes) ...", file=sys.stderr)
    gensim_s, (_, sections) = timed(kv.evaluate_word_analogies, str(questions), restrict_vocab=30000)
    g_correct = len(sections[-1]["correct"])
    g_total = g_correct + len(sections[-1]["incorrect"])
    assert (ours["correct"], ours["total"]) == (g_correct, g_total), (ours["correct"], g_correct)
    results["analogy"] = {
        "questions": ours["questions"],
        "answered": ours["total"],
        "oov": ours["oov"],
        "correct": ours["correct"],
        "accuracy": ours["accuracy"],
        "mtlembed_add_s": ours_s,
        "mtlembed_mul_s": mul_s,
        "mul_accuracy": mul["accuracy"],
        "gensim_add_s": gensim_s,
        "speedup": gensim_s / ours_s,
        "counts_equal_gensim": True,
    }
    print(results["analogy"], file=sys.stderr)

    suite_s, suite = timed(ev.suite, (words, vectors), data_dir=data)
    results["suite"] = {"seconds": suite_s, "benchmarks": len(suite["benchmarks"])}

    print(f"CSLS over {args.csls_words} x {args.csls_words} ...", file=sys.stderr)
    results["csls"] = csls_benchmark(args.csls_words, args.dim, cache)
    print(results["csls"], file=sys.stderr)

    results["environment"] = environment()
    results["command"] = "python benchmarks/bench_eval.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    results["gensim"] = gensim_version
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "eval_speed.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "eval_speed.md").write_text(markdown(results))
    print((out / "eval_speed.md").read_text())
    return 0


def environment():
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sha = "unknown"
    return {
        "git_sha": sha,
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        # the machine may be shared: a high load makes every timing (both sides) slower and noisier
        "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def markdown(r):
    env, io, an, cs = r["environment"], r["io"], r["analogy"], r["csls"]
    lines = [
        "# Evaluation and word2vec IO speed: mtlembed vs gensim",
        "",
        f"`{r['command']}` at {env['git_sha']}; {env['cpu']}, {env['cpus']} CPUs; "
        f"Python {env['python']}, numpy {env['numpy']}, gensim {r['gensim']}.",
        f"Model: {r['model']['words']:,} x {r['model']['dim']} made-up float32 vectors "
        "(questions-words' words at ranks in the top 30k; see the script's docstring).",
        "",
        "| task | mtlembed | gensim | speed-up |",
        "|---|---:|---:|---:|",
        f"| questions-words, 3CosAdd, restrict 30k ({an['questions']:,} questions) "
        f"| {an['mtlembed_add_s']:.2f} s | {an['gensim_add_s']:.1f} s | **{an['speedup']:.1f}x** |",
        f"| same, 3CosMul | {an['mtlembed_mul_s']:.2f} s | (none) | |",
    ]
    for fmt in ("text", "binary"):
        row = io[fmt]
        gl = f"{row['gensim_load_s']:.2f} s" if "gensim_load_s" in row else "skipped"
        sp = f"{row['load_speedup']:.1f}x" if "load_speedup" in row else ""
        lines.append(
            f"| load word2vec {fmt} ({row['file_mb']:.0f} MiB) | {row['load_s']:.2f} s | {gl} | {sp} |"
        )
        lines.append(
            f"| save word2vec {fmt} | {row['save_s']:.2f} s | {row['gensim_save_s']:.2f} s "
            f"| {row['save_speedup']:.1f}x |"
        )
    lines += [
        f"| English suite ({r['suite']['benchmarks']} sets, vectors in memory) "
        f"| {r['suite']['seconds']:.2f} s | | |",
        "",
        f"Analogy counts are identical to gensim's `evaluate_word_analogies`: {an['correct']:,} correct of "
        f"{an['answered']:,} answered, {an['oov']:,} out of vocabulary "
        f"(accuracy {100 * an['accuracy']:.2f}%; 3CosMul {100 * an['mul_accuracy']:.2f}%).",
        "",
        f"CSLS retrieval (k=10) over {cs['words']:,} x {cs['words']:,} words, dim {cs['dim']}, "
        f"{cs['queries']:,} queries: {cs['seconds']:.1f} s; "
        f"peak traced memory {cs['peak_traced_mb']:.0f} MiB "
        f"beyond the {cs['inputs_mb']:.0f} MiB of input vectors, where a dense score matrix would take "
        f"{cs['dense_score_matrix_mb'] / 1024:.0f} GiB (P@1 {100 * cs['p@1']:.1f}% on the made-up pairs).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
