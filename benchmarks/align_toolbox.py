"""`mtlembed align` on separately trained models: does refinement beat one-shot Procrustes?

    python benchmarks/align_toolbox.py             # en-es, 3 seeds: results/align-toolbox.{md,json}
    python benchmarks/align_toolbox.py --pair en-de --name align-toolbox-en-de
    python benchmarks/align_toolbox.py --render benchmarks/results/align-toolbox.json

Each side of a parallel corpus (Tatoeba plus the WMT news test sets, tokenized and lower-cased
here) trains its own monolingual skip-gram model with `mtlembed train`, once per seed: the two
runs never see each other, so the only cross-lingual signal is what `align` is given. Seed
dictionaries: the whole MUSE train split (0-5000), draws of N of its source words (all their
translations; the draw changes with the seed), or none (identical strings). Each arm is
`mtlembed align` (its Python API, in this process: the same code without writing 50 MB files)
and is scored like `mtlembed eval bli` (CSLS, k=10) on the MUSE test split (source words
5000-6500, never used to align), en->xx and xx->en, on the same mapped vectors.

Results are written after every arm, and an arm already in the JSON (same key) is not run again,
so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import shlex
import statistics
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
WORK = HERE / ".cache" / "align"
sys.path.insert(0, str(ROOT))

from mtlembed.align import align  # noqa: E402
from mtlembed.dictionary import read_dictionary  # noqa: E402
from mtlembed.eval.bli import evaluate_bli  # noqa: E402
from mtlembed.eval.vectors import resolve  # noqa: E402

LANG3 = {"es": "spa", "de": "deu", "fr": "fra", "it": "ita"}
TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
# arm name -> align() arguments; "procrustes-orthogonal" is the plain MUSE/Xing baseline
ARMS = {
    "procrustes-orthogonal": {"method": "procrustes", "multistep": False},
    "procrustes": {"method": "procrustes", "multistep": True},
    "iterative": {"method": "iterative", "multistep": True},
    "self-learning": {"method": "self-learning", "multistep": True},
}


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


def model(corpus: Path, path: Path, args, seed: int, trained: list[str]) -> Path:
    """The monolingual model of one side (trained by the CLI unless an earlier run left it)."""
    command = [sys.executable, "-m", "mtlembed", "train", str(corpus), "-o", str(path),
               "--dim", str(args.dim), "--epochs", str(args.epochs), "--threads", "2", "--min-count", "3",
               "--seed", str(seed), "--quiet"]
    trained.append(" ".join(shlex.quote(str(c)) for c in command).replace(sys.executable, "python")
                   .replace(f"{ROOT}/", ""))
    if not path.exists():
        subprocess.run(command, cwd=ROOT, check=True)
    return path


def draw(pairs: list[tuple[str, str]], size: str, seed: int) -> list[tuple[str, str]] | None:
    """The seed dictionary: all pairs ("full"), none ("identical"), or `size` source words drawn
    with `seed`, each with all its translations."""
    if size == "identical":
        return None
    if size == "full":
        return pairs
    sources = sorted({s for s, _ in pairs})
    random.Random(seed).shuffle(sources)
    chosen = set(sources[:int(size)])
    return [(s, t) for s, t in pairs if s in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", default="en-es", help="en-xx, xx in es, de, fr, it (default: en-es)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", default="1,2,3", help="monolingual training seeds (and dictionary draws)")
    parser.add_argument("--sizes", default="full,1000,300,identical",
                        help="seed dictionaries: full, a number of source words, identical")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"of {', '.join(ARMS)}")
    parser.add_argument("--name", default="align-toolbox", help="results/<name>.md and .json")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the .md of an earlier results .json")
    args = parser.parse_args()
    if args.render:
        return render(Path(args.render))
    lang = args.pair.split("-")[1]
    data = data_dir()
    corpora = prepare(data, lang)
    muse = data / "bli" / "muse_reconstructed"
    train_pairs = read_dictionary(muse / f"en-{lang}.0-5000.txt")
    tests = muse / f"en-{lang}.5000-6500.txt", muse / f"{lang}-en.5000-6500.txt"
    path = RESULTS / f"{args.name}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    done = {row["key"]: row for row in old.get("rows", []) if "key" in row}  # rows of this format
    trained: list[str] = []
    command = "python benchmarks/align_toolbox.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    meta = {"pair": args.pair, "dim": args.dim, "epochs": args.epochs, "command": command.strip(),
            "arms": {name: ARMS[name] for name in args.arms.split(",")}, "test": [t.name for t in tests],
            "corpus_tokens": {side: sum(len(line.split()) for line in p.open(encoding="utf-8"))
                              for side, p in corpora.items()}}
    for seed in (int(s) for s in args.seeds.split(",")):
        sides = {side: model(corpus, WORK / f"mono.{args.pair}.{side}.d{args.dim}.e{args.epochs}.s{seed}.vec",
                             args, seed, trained) for side, corpus in corpora.items()}
        src, tgt = resolve(str(sides["en"])), resolve(str(sides[lang]))
        for size in args.sizes.split(","):
            for arm in args.arms.split(","):
                key = f"{args.pair}/s{seed}/{size}/{arm}"
                if key in done:
                    continue
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # low-coverage warnings of small draws
                    mapped_src, mapped_tgt, info = align(src, tgt, draw(train_pairs, size, seed), **ARMS[arm])
                seconds = time.perf_counter() - start
                forward = evaluate_bli(mapped_src, mapped_tgt, tests[0])
                backward = evaluate_bli(mapped_tgt, mapped_src, tests[1])
                history = info["history"]
                done[key] = {"key": key, "seed": seed, "size": size, "arm": arm, "forward": forward["p@1"],
                             "backward": backward["p@1"],
                             "queries": [forward["queries"], backward["queries"]],
                             "seed_pairs": info["seed_pairs"], "pairs": info["pairs"],
                             "iterations": info["iterations"], "chosen": info.get("chosen"),
                             "criterion_start": history[0]["criterion"] if history else None,
                             "criterion_kept": max(h["criterion"] for h in history) if history else None,
                             "seconds": round(seconds, 1)}
                print(f"{key:40s} {100 * forward['p@1']:5.1f} {100 * backward['p@1']:5.1f} "
                      f"({info['iterations']} iterations, {seconds:.0f} s)", file=sys.stderr, flush=True)
                write(path, meta, done, trained)
    write(path, meta, done, trained)
    render(path)


def write(path: Path, meta: dict, done: dict, trained: list[str]) -> None:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps({
        **meta, "git": sha,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1), "models": sorted(set(trained)),
        "rows": list(done.values())}, indent=2) + "\n")


def _spread(values: list[float]) -> str:
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{100 * mean:.1f}"
    return f"{100 * mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def _verdict(deltas: list[float]) -> str:
    """Whether paired differences are above or below zero by two standard errors of their mean."""
    if len(deltas) < 2:
        return "one seed"
    mean, error = statistics.mean(deltas), statistics.stdev(deltas) / len(deltas) ** 0.5
    return "above" if mean - 2 * error > 0 else "below" if mean + 2 * error < 0 else "within noise"


def render(path: Path) -> None:
    """The Markdown tables of one results/<name>.json, written beside it (<name>.md)."""
    r = json.loads(path.read_text())
    lang = r["pair"].split("-")[1]
    rows = r["rows"]
    seeds = sorted({row["seed"] for row in rows})
    sizes = list(dict.fromkeys(row["size"] for row in rows))
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    cell = {(row["size"], row["arm"], row["seed"]): row for row in rows}
    lines = [f"# `mtlembed align` on separately trained {r['pair']} models", "",
             f"{r['date']}, git {r['git']}, {r['cores']} cores. Reproduce: `{r['command']}`.", "",
             f"Two monolingual skip-gram models per seed (dim {r['dim']}, {r['epochs']} epochs, seeds "
             f"{', '.join(map(str, seeds))}), one per side of Tatoeba + the WMT news test sets "
             f"({' and '.join(f'{n / 1e6:.1f}M {side}' for side, n in r['corpus_tokens'].items())} tokens), "
             "trained separately. CSLS P@1 (%, k=10) on the MUSE test splits "
             f"({' and '.join(r['test'])}), mean ± sd over the seeds; the seed decides both the models and "
             "the draw of a smaller seed dictionary (N source words of the train split, all their "
             "translations).", "",
             "Arms: " + "; ".join(f"**{name}** = `align(..., "
                                  f"{', '.join(f'{k}={v!r}' for k, v in opts.items())})`"
                                  for name, opts in r["arms"].items()) + ".", "",
             f"| seed dictionary | arm | en->{lang} P@1 | {lang}->en P@1 | vs procrustes en->{lang} "
             f"| vs procrustes {lang}->en | seed pairs | iterations (kept) | align s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    summary: dict[str, list[str]] = {}
    for size in sizes:
        for arm in arms:
            found = [cell[size, arm, s] for s in seeds if (size, arm, s) in cell]
            if not found:
                continue
            base = [cell.get((size, "procrustes", row["seed"])) for row in found]
            deltas = {d: [row[d] - b[d] for row, b in zip(found, base) if b] for d in ("forward", "backward")}
            delta = {d: "-" if arm == "procrustes" or not v else
                     f"{'+' if statistics.mean(v) >= 0 else ''}{_spread(v)} ({_verdict(v)})"
                     for d, v in deltas.items()}
            name = {"full": "MUSE train split", "identical": "none (identical strings)"}.get(
                size, f"{size} words")
            if arm in ("iterative", "self-learning") and all(deltas.values()):
                verdicts = {_verdict(v) for v in deltas.values()}
                verdict = verdicts.pop() if len(verdicts) == 1 else "mixed"
                summary.setdefault(verdict, []).append(f"{arm} from {name}")
            iterations = ", ".join(f"{row['iterations']} ({row['chosen']})" if row["chosen"] else "0"
                                   for row in found)
            lines.append(f"| {name} | {arm} | {_spread([row['forward'] for row in found])} | "
                         f"{_spread([row['backward'] for row in found])} | {delta['forward']} | "
                         f"{delta['backward']} | {found[0]['seed_pairs']} | {iterations} | "
                         f"{statistics.mean(row['seconds'] for row in found):.0f} |")
    wording = {"above": "above in both directions", "below": "below in both directions",
               "within noise": "within noise in both directions", "mixed": "different by direction",
               "one seed": "one seed only, no verdict"}
    lines += [""] + [f"- Refinement against one-shot procrustes (same post-processing), {wording[verdict]}: "
                     f"{'; '.join(cases)}." for verdict, cases in sorted(summary.items())]
    for free in ("iterative", "self-learning"):  # dictionary-free against supervised, paired by seed
        for supervised in ("procrustes-orthogonal", "procrustes", "iterative"):
            pairs = [(cell[("identical", free, s)], cell[("full", supervised, s)]) for s in seeds
                     if ("identical", free, s) in cell and ("full", supervised, s) in cell]
            if pairs:
                gaps = {d: _spread([a[d] - b[d] for a, b in pairs]) for d in ("forward", "backward")}
                lines.append(f"- Dictionary-free ({free} from identical strings) minus supervised "
                             f"({supervised} on the MUSE train split): en->{lang} {gaps['forward']}, "
                             f"{lang}->en {gaps['backward']} points.")
    queries = rows[0]["queries"]
    lines += ["", f"Queries: {queries[0]} en->{lang}, {queries[1]} {lang}->en (one standard error of a "
              "single P@1 near 25% is about 1.5 points). 'vs procrustes': the paired difference to the "
              "procrustes arm (same seed, same dictionary, same post-processing), mean ± sd, 'above' or "
              "'below' when its mean is more than two standard errors (sd / sqrt(seeds)) from zero. "
              "'iterations (kept)': dictionary inductions per seed and the one whose fit was kept by the "
              "unsupervised criterion (1: the seed fit). Align times are under a shared machine's load "
              f"(load average {r['load_average_1min']} at the end), not speed figures.", "",
              "Monolingual models (trained once, then reused):", ""]
    lines += [f"    {command}" for command in r["models"]]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
