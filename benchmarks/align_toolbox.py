"""`mtlembed align` on two separately trained models: supervised, refined, dictionary-free.

    python benchmarks/align_toolbox.py                 # en-es, writes results/align-toolbox.{md,json}
    python benchmarks/align_toolbox.py --pair en-de --epochs 5

Each side of a parallel corpus (Tatoeba plus the WMT news test sets, tokenized and lower-cased
here) trains its own monolingual skip-gram model with `mtlembed train`: the two runs never see
each other, so the only cross-lingual signal is what `align` is given. The mapped vectors are
then scored by `mtlembed eval bli` (MUSE protocol, CSLS) on the MUSE test split (source words
5000-6500), which no arm trains on:

* procrustes: one orthogonal map fitted on the MUSE train split (0-5000);
* iterative: the same, then refined by mutual CSLS nearest neighbours (MUSE's refinement);
* self-learning: no dictionary at all, seeded by identical strings and numerals (VecMap's
  --identical).

Every command is run as a subprocess and recorded verbatim in the results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
WORK = HERE / ".cache" / "align"
LANG3 = {"es": "spa", "de": "deu", "fr": "fra", "it": "ita"}
TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
# (method, seed): supervised as MUSE, VecMap's semi-supervised, and dictionary-free
ARMS = (("procrustes", "dictionary"), ("iterative", "dictionary"), ("self-learning", "dictionary"),
        ("iterative", "identical"), ("self-learning", "identical"))


def data_dir() -> Path:
    for candidate in (os.environ.get("MTLEMBED_DATA"), ROOT.parent / "shared" / "data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("the shared data folder was not found (set MTLEMBED_DATA)")


def prepare(data: Path, lang: str) -> dict[str, Path]:
    """One tokenized, lower-cased file per side: Tatoeba pairs, then the WMT news test sets."""
    out = {side: WORK / f"corpus.en-{lang}.{side}.txt" for side in ("en", lang)}
    if all(p.exists() for p in out.values()):
        return out
    lines: dict[str, list[str]] = {"en": [], lang: []}
    archive = next((data / "parallel" / "tatoeba").glob(f"{LANG3[lang]}-eng_*.zip"))
    with zipfile.ZipFile(archive) as z:
        name = next(n for n in z.namelist() if n.endswith(f"{LANG3[lang]}.txt"))
        for row in z.read(name).decode("utf-8").splitlines():
            columns = row.split("\t")
            if len(columns) >= 2:
                lines["en"].append(columns[0])
                lines[lang].append(columns[1])
    news = data / "parallel" / "opus-mt-testsets" / f"eng-{LANG3[lang]}"
    for english in sorted(news.glob("new*.eng")):
        lines["en"] += english.read_text(encoding="utf-8").splitlines()
        lines[lang] += english.with_suffix(f".{LANG3[lang]}").read_text(encoding="utf-8").splitlines()
    WORK.mkdir(parents=True, exist_ok=True)
    for side, path in out.items():
        text = "\n".join(" ".join(TOKEN.findall(line.lower())) for line in lines[side]) + "\n"
        path.write_text(text, encoding="utf-8")
    return out


def run(command: list[str], log: list[dict], reuse: Path | None = None) -> str:
    """Runs one command (mtlembed's CLI in this checkout), records it, returns its stdout.
    With `reuse`, a file that the command writes and that is already there (from an earlier
    run of this script) is kept, and the command is recorded as such."""
    if reuse is not None and reuse.exists():
        shown = " ".join(shlex.quote(str(c)) for c in command).replace(sys.executable, "python")
        log.append({"command": shown, "seconds": None, "reused": str(reuse)})
        return ""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    shown = " ".join(shlex.quote(str(c)) for c in command).replace(sys.executable, "python")
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {shown}\n{done.stderr}")
    log.append({"command": shown, "seconds": round(seconds, 1), "stderr_tail": done.stderr[-2000:]})
    print(f"{seconds:7.1f} s  {shown}", file=sys.stderr)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", default="en-es", help="en-xx, xx in es, de, fr, it (default: en-es)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="1: bit-identical models")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="align-toolbox", help="results/<name>.md and .json")
    parser.add_argument("--arms", default=",".join(f"{m}:{s}" for m, s in ARMS),
                        help="method:seed pairs to run, seed 'dictionary' or 'identical' (default: all)")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the .md of an earlier results .json")
    args = parser.parse_args()
    if args.render:
        return render(Path(args.render))
    arms = [tuple(arm.split(":")) for arm in args.arms.split(",")]
    lang = args.pair.split("-")[1]
    data = data_dir()
    corpora = prepare(data, lang)
    muse = data / "bli" / "muse_reconstructed"
    train_dict, test_dict = muse / f"en-{lang}.0-5000.txt", muse / f"en-{lang}.5000-6500.txt"
    mtlembed = [sys.executable, "-m", "mtlembed"]
    log: list[dict] = []
    models = {}
    for side, corpus in corpora.items():
        models[side] = WORK / f"mono.{args.pair}.{side}.d{args.dim}.e{args.epochs}.s{args.seed}.vec"
        run(mtlembed + ["train", str(corpus), "-o", str(models[side]), "--dim", str(args.dim),
                        "--epochs", str(args.epochs), "--threads", str(args.threads), "--min-count", "3",
                        "--seed", str(args.seed), "--quiet"], log, reuse=models[side])
    src, tgt = models["en"], models[lang]
    reverse_dict = muse / f"{lang}-en.5000-6500.txt"
    rows = []

    def score(src_vec, tgt_vec) -> dict:
        forward = json.loads(run(mtlembed + ["eval", "bli", src_vec, tgt_vec, str(test_dict), "--json"], log))
        back = json.loads(run(mtlembed + ["eval", "bli", tgt_vec, src_vec, str(reverse_dict), "--json"], log))
        return {**_scores(forward), "reverse_p@1": back["p@1"], "reverse_queries": back["queries"]}

    rows.append({"method": "none (unaligned)", "dictionary": "-", **score(str(src), str(tgt))})
    for method, seed in arms:
        out = WORK / f"aligned-{args.pair}-{method}-{seed}"
        report = out.with_suffix(".json")
        seed_args = ["--dictionary", str(train_dict)] if seed == "dictionary" else [f"--{seed}"]
        run(mtlembed + ["align", str(src), str(tgt), "-o", str(out), *seed_args, "--method", method,
                        "--src-lang", "en", "--tgt-lang", lang, "--seed", str(args.seed),
                        "--report", str(report)], log)
        info = json.loads(report.read_text())
        seconds = log[-1]["seconds"]
        rows.append({"method": method, "dictionary": train_dict.name if seed == "dictionary"
                     else "identical strings", "iterations": info["iterations"],
                     "seed_pairs": info["seed_pairs"], "final_pairs": info["pairs"], "align_seconds": seconds,
                     **score(f"{out}.en.vec", f"{out}.{lang}.vec")})
    tokens = {side: sum(len(line.split()) for line in path.open(encoding="utf-8"))
              for side, path in corpora.items()}
    write(args, rows, log, test_dict, data, tokens)


def _scores(result: dict) -> dict:
    return {key: result[key] for key in ("p@1", "p@5", "p@10", "queries", "coverage")}


def write(args, rows: list[dict], log: list[dict], test_dict: Path, data: Path, tokens: dict) -> None:
    """results/<name>.json (everything), then its Markdown rendering."""
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    for entry in log:  # paths as a reader can type them: from the checkout, and the data folder by name
        entry["command"] = entry["command"].replace(f"{ROOT}/", "").replace(f"{data}/", "$MTLEMBED_DATA/")
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git": sha, "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "pair": args.pair, "dim": args.dim, "epochs": args.epochs, "threads": args.threads,
            "seed": args.seed, "test_dictionary": test_dict.name, "corpus_tokens": tokens,
            "command": "python benchmarks/align_toolbox.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{args.name}.json"
    path.write_text(json.dumps({**meta, "rows": rows, "commands": log}, indent=2) + "\n")
    render(path)


def render(path: Path) -> None:
    """The Markdown table of one results/<name>.json, written beside it (<name>.md)."""
    r = json.loads(path.read_text())
    lang = r["pair"].split("-")[1]
    queries = r["rows"][0]["queries"]
    best = max(row["p@1"] for row in r["rows"])
    spread = 100 * (best * (1 - best) / queries) ** 0.5  # binomial standard error
    lines = [f"# `mtlembed align` on separately trained {r['pair']} models", "",
             f"{r['date']}, git {r['git']}, {r['cores']} cores "
             f"(load average {r.get('load_average_1min', '?')}: "
             "the machine was shared, so the align times are not speed figures). "
             f"Reproduce: `{r['command'].strip()}`.", "",
             f"Two monolingual skip-gram models (dim {r['dim']}, {r['epochs']} epochs, "
             f"{r['threads']} threads, seed {r['seed']}), one per side of Tatoeba + the WMT news test sets "
             f"({' and '.join(f'{n / 1e6:.1f}M {side}' for side, n in r['corpus_tokens'].items())} tokens), "
             f"trained separately; scored by `mtlembed eval bli` (CSLS, k=10) on the MUSE test split "
             f"{r['test_dictionary']} (source words 5000-6500, never used to align) and {lang}->en on "
             f"{lang}-en.5000-6500.txt. With {queries} queries, one standard error of a P@1 near "
             f"{100 * best:.0f}% is {spread:.1f} points: differences below about {2 * spread:.0f} points "
             "are noise.", "",
             f"| alignment | seed dictionary | iterations | pairs (seed -> final) | en->{lang} P@1 | P@5 "
             f"| P@10 | queries | {lang}->en P@1 | queries | align s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        pairs = f"{row['seed_pairs']} -> {row['final_pairs']}" if "seed_pairs" in row else "-"
        lines.append(f"| {row['method']} | {row['dictionary']} | {row.get('iterations', '-')} | {pairs} | "
                     f"{100 * row['p@1']:.1f} | {100 * row['p@5']:.1f} | {100 * row['p@10']:.1f} | "
                     f"{row['queries']} | {100 * row['reverse_p@1']:.1f} | {row['reverse_queries']} | "
                     f"{row.get('align_seconds', '-')} |")
    lines += ["", "## Commands", "", "In order; `(reused)`: the model an earlier run of the same command "
              "wrote.", ""]
    lines += [f"    {e['command']}" + ("    (reused)" if e.get("reused") else "") for e in r["commands"]]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:len(r["rows"]) + 10]))


if __name__ == "__main__":
    main()
