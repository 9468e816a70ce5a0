"""Quality at every scale: mtlembed against gensim, same settings, same run (issue 19).

    python benchmarks/quality_grid.py --sizes 0.5M --epochs 5,10,20 --models sg,cbow --seeds 3
    python benchmarks/quality_grid.py --sizes 0.5M --epochs 10 --models sg --langs es --parts bli \\
        --sweep init_range=1,4 --seeds 3 --name quality-init-range

A cell is (corpus size, model, epochs). Each cell trains, per tool and seed:
- English: the text8-style enwiki corpus of that size (prepare_corpus.py), scored by the Google
  analogy set (top 30k words), WS353, SimLex-999 and RW (mtlembed's evaluators, `mtlembed eval suite`);
- BLI, per language (es, de, fr): the two sides of the Tatoeba pairs, shuffled once (the file is
  sorted by length) and cut to that many words per side, each side trained alone; the side is
  mapped onto the English side by orthogonal Procrustes on the MUSE <lang>-en train dictionary
  (0-5000), fitted on raw vectors and on unit rows, and scored by CSLS P@1 on the MUSE test split
  (5000-6500), `mtlembed eval bli`'s logic. Tatoeba has about 0.7-1.1M words a side: a larger size
  has no BLI cell.
Training reuses run.py's timed runner (one tool at a time, interleaved per configuration);
--sweep varies a setting of mtlembed's only (run.py's syntax). --reuse takes runs of the --reuse-tools
(default: the peers) from earlier results files with the same settings instead of training them again
(marked `reused_from`).
Two gensim peers: `gensim` reads the corpus as corpus_file (with 2 workers each decays the rate over its
own half of the file: a higher mean rate than the linear schedule), `gensim-iterable` as an iterable of
LineSentence (one global linear schedule, equal to mtlembed's); each gensim record names its `input`.
Results: results/<name>.json and .md, with mean, standard deviation and each seed's score, and mtlembed's
difference to each gensim peer.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import itertools
import json
import os
import random
import re
import shlex
import statistics
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # scoring here: tiny products, 2 shared cores

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prepare_corpus  # noqa: E402
import run  # noqa: E402
from evaluate import SHARED  # noqa: E402

from tools import Params, make_tools  # noqa: E402

CACHE = run.HERE / ".cache" / "quality"
LANGS = {"es": "spa", "de": "deu", "fr": "fra"}
ENGLISH = {"google-analogy": "analogy", "ws353": "ws353", "simlex999": "simlex", "rw": "rw"}
# A score below gensim's by more than this fails the issue's bar (points for P@1 and accuracy).
TOLERANCE = {"analogy": 1.0, "ws353": 0.01, "simlex": 0.01, "rw": 0.01, "bli": 1.0, "bli_unit": 1.0}
# The peers mtlembed is compared with, and how each reads the corpus (tools.Gensim).
PEERS = {"gensim": "corpus_file", "gensim-iterable": "iterable"}


def tokens(line: str) -> list[str]:
    return re.findall(r"\w+", line.lower())


def pair_lines(corpus: str, lang: str) -> list[tuple[str, str]]:
    """(English, other) sentence pairs of a shared parallel corpus: `tatoeba` (short everyday sentences) or
    `news` (the WMT news test sets of opus-mt-testsets: long sentences, a richer vocabulary)."""
    code = LANGS[lang]
    if corpus == "news":
        folder = SHARED / "parallel" / "opus-mt-testsets" / f"eng-{code}"
        pairs = []
        for en in sorted(folder.glob("new*.eng")):
            pairs += zip(en.read_text().splitlines(), en.with_suffix(f".{code}").read_text().splitlines())
        return pairs
    [archive] = glob.glob(str(SHARED / "parallel" / "tatoeba" / f"{code}-eng_*.zip"))
    with zipfile.ZipFile(archive) as z:  # deu.txt at the top, fra-eng/fra.txt beside a __MACOSX copy
        member = next(n for n in z.namelist() if n.endswith(f"{code}.txt") and "MACOSX" not in n)
        return [tuple(line.split("\t")[:2]) for line in z.read(member).decode().splitlines()]  # + attribution


def parallel_sides(corpus: str, lang: str, words: int) -> tuple[Path, Path, int] | None:
    """English and `lang` files of the first `words` words (per side, counted on `lang`) of a parallel
    corpus's pairs, shuffled once (Tatoeba is sorted by length), lowercased and tokenized; None when
    the corpus is smaller than that."""
    out = CACHE / f"{corpus}-{lang}-{prepare_corpus.label(words)}"
    en, other = out.with_suffix(".en.txt"), out.with_suffix(f".{lang}.txt")
    if en.exists() and other.exists():
        return en, other, sum(len(line.split()) for line in other.open())
    pairs = pair_lines(corpus, lang)
    random.Random(0).shuffle(pairs)
    kept_en, kept_other, count = [], [], 0
    for source, target in pairs:
        if count >= words:
            break
        kept_en.append(" ".join(tokens(source)))
        kept_other.append(" ".join(tokens(target)))
        count += len(kept_other[-1].split())
    if count < words:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    en.write_text("\n".join(kept_en) + "\n")
    other.write_text("\n".join(kept_other) + "\n")
    return en, other, count


def muse(lang: str, split: str) -> Path:
    return SHARED / "bli" / "muse_reconstructed" / f"{lang}-en.{split}.txt"


def english_scores(vectors: Path) -> dict:
    from mtlembed.eval.suite import run_suite

    rows = run_suite(str(vectors), data_dir=SHARED)["benchmarks"]
    scores = {ENGLISH[r["name"]]: r["score"] for r in rows if r["name"] in ENGLISH}
    if scores.get("analogy") is not None:
        scores["analogy"] *= 100  # points, as BLI
    return scores


def bli_scores(lang: str, other: Path, english: Path) -> dict:
    """CSLS P@1 (points) of `other` mapped onto `english` by Procrustes on the MUSE train split:
    fitted on the raw vectors (bli) and on unit rows (bli_unit)."""
    import numpy as np

    from mtlembed.crosslingual import procrustes
    from mtlembed.eval.bli import evaluate_bli, read_dictionary
    from mtlembed.eval.vectors import resolve, unit_rows

    src, tgt = resolve(str(other)), resolve(str(english))
    src_index = {w: i for i, w in enumerate(src.words)}
    tgt_index = {w: i for i, w in enumerate(tgt.words)}
    pairs = [(src_index[s], tgt_index[t]) for s, t in read_dictionary(muse(lang, "0-5000"))
             if s in src_index and t in tgt_index]
    rows_src, rows_tgt = (np.asarray(v) for v in zip(*pairs))
    scores = {"bli_train_pairs": len(pairs)}
    for key, prepare in (("bli", np.asarray), ("bli_unit", unit_rows)):
        x, z = prepare(src.vectors), prepare(tgt.vectors)
        mapping = procrustes(x[rows_src], z[rows_tgt])
        result = evaluate_bli((src.words, (x @ mapping).astype(np.float32)), (tgt.words, z),
                              muse(lang, "5000-6500"), method="csls")
        scores[key] = 100 * result["p@1"]
        scores["bli_queries"] = result["queries"]
    return scores


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    words = lambda text: [prepare_corpus.parse_words(x) for x in text.split(",") if x]  # noqa: E731
    ap.add_argument("--sizes", type=words, default=[500_000], help="corpus words: 0.5M,2M,17M")
    ap.add_argument("--epochs", type=run.int_list, default=[5, 10, 20])
    ap.add_argument("--models", type=run.choice_list(("sg", "cbow")), default=["sg", "cbow"])
    ap.add_argument("--langs", type=run.choice_list(tuple(LANGS)), default=list(LANGS))
    ap.add_argument("--parallel", type=run.choice_list(("tatoeba", "news")), default=["tatoeba"],
                    help="the parallel corpora whose sides are trained for BLI")
    ap.add_argument("--parts", type=run.choice_list(("english", "bli")), default=["english", "bli"])
    ap.add_argument("--tools", type=run.choice_list(("mtlembed", *PEERS)), default=["mtlembed", *PEERS])
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--alpha", type=float, default=None,
                    help="start lr for every tool (default 0.025 sg, 0.05 cbow)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sweep", type=run.sweep, action="append", default=[], metavar="KEY=V1,V2",
                    help="a setting of mtlembed's only (run.py's syntax); gensim runs once")
    ap.add_argument("--name", default="quality-grid")
    ap.add_argument("--results-dir", type=Path, default=run.RESULTS)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--mtlembed-cmd")
    ap.add_argument("--reuse", type=Path, nargs="+", default=[], metavar="JSON",
                    help="earlier results of this harness: a run there of one of the --reuse-tools with the "
                         "same settings, cell, seed and options is taken instead of trained again")
    ap.add_argument("--reuse-tools", type=run.choice_list(("mtlembed", *PEERS)), default=list(PEERS),
                    help="whose runs --reuse may take (mtlembed's only while its code for these cells is "
                         "unchanged since that file)")
    args = ap.parse_args(argv)
    shared = [key for key, _ in args.sweep if key in run.SHARED_KEYS]
    if shared:
        ap.error(f"--sweep here is for mtlembed's own settings; {', '.join(shared)} has its own option")
    return args


def corpora(args, size: int) -> list[tuple[str, Path, int, str | None]]:
    """(label, file, words, language) of everything a cell trains; language None for the English suite."""
    found = []
    if "english" in args.parts:
        path = prepare_corpus.prepare(size)
        found.append(("enwiki", path, size, None))
    for corpus, lang in itertools.product(args.parallel if "bli" in args.parts else [], args.langs):
        sides = parallel_sides(corpus, lang, size)
        if sides is None:
            print(f"no BLI cell for {corpus} {lang} at {prepare_corpus.label(size)} words: "
                  "the corpus is smaller", flush=True)
            continue
        en, other, count = sides
        found += [(f"{corpus}-{lang}.en", en, count, "en"), (f"{corpus}-{lang}.{lang}", other, count, lang)]
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = make_tools(args.tools, args.mtlembed_cmd, None)
    for tool in tools:
        probe = tool.probe()
        if not probe.ok:
            raise SystemExit(f"quality_grid.py: {tool.name} unavailable: {probe.reason}")
    work = run.RUNS / args.name
    mine = [dict(zip([k for k, _ in args.sweep], values))
            for values in itertools.product(*[v for _, v in args.sweep])]
    runs = []
    for size in args.sizes:
        cell_corpora = corpora(args, size)
        for seed, model, epochs in itertools.product(range(args.seed, args.seed + args.seeds), args.models,
                                                     args.epochs):
            params = Params(model=model, dim=args.dim, window=args.window, negative=args.negative,
                            sample=args.sample, min_count=args.min_count, epochs=epochs,
                            alpha=args.alpha or run.ALPHA[model], threads=args.threads, seed=seed)
            for tool, options in ((t, o) for t in tools for o in (mine if t.name == "mtlembed" else [{}])):
                folder = work / prepare_corpus.label(size)
                rec = (tool.name in args.reuse_tools and reused(args, tool.name, size, params, options,
                                                                cell_corpora)) \
                    or train_and_score(tool, params, options, cell_corpora, folder, args)
                runs.append({**rec, "size": size})
                print(status(rec, size), flush=True)
                write(args, runs)  # after every cell: a run stopped early keeps what it measured
    print(f"wrote {args.results_dir / args.name}.json and .md")
    return 0 if all(r["ok"] for r in runs) else 1


SAME_SETTINGS = ("dim", "window", "negative", "sample", "min_count", "alpha", "threads")


def reused(args, tool: str, size: int, params: Params, options: dict, cell_corpora: list) -> dict | None:
    """`tool`'s run of this cell, seed and options from one of the --reuse files with the same settings and
    every score this cell needs, or None. gensim's records from before it had two peers (no `input`) read
    the corpus as corpus_file, the only way it did then."""
    needed = {f"bli {label.rsplit('.', 1)[0]}" for label, _, _, lang in cell_corpora
              if lang not in (None, "en")}
    if any(lang is None for *_, lang in cell_corpora):
        needed |= set(ENGLISH.values())
    for path in args.reuse:
        doc = json.loads(path.read_text())
        if any(doc["settings"][key] != getattr(args, key) for key in SAME_SETTINGS):
            continue
        for r in doc["runs"]:
            if (r["ok"] and (r["tool"], r["size"], r["model"], r["epochs"], r["seed"], r["options"]) ==
                    (tool, size, params.model, params.epochs, params.seed, options)
                    and needed <= set(r["scores"])):
                origin = r.get("reused_from") or path.name  # where it was trained
                return {**({"input": PEERS[tool]} if tool in PEERS else {}), **r, "reused_from": origin}
    return None


def write(args, runs: list[dict]) -> None:
    doc = {"name": args.name, "command": shlex.join([Path(sys.executable).name, *sys.argv]),
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "git": run.git_state(), "cpu": run.cpu_info()[0], "settings": settings(args),
           "runs": runs, "summary": summarize(runs)}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{args.name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.results_dir / f"{args.name}.md").write_text(markdown(doc))


def settings(args) -> dict:
    keys = ("sizes", "epochs", "models", "langs", "parallel", "parts", "tools", "dim", "window", "negative",
            "sample", "min_count", "alpha", "threads", "seed", "seeds", "reuse_tools")
    return {key: getattr(args, key) for key in keys} | {"sweep": dict(args.sweep),
                                                       "reuse": [p.name for p in args.reuse]}


def train_and_score(tool, params: Params, options: dict, cell_corpora: list, work: Path, args) -> dict:
    """Train `tool` on every corpus of a cell and score the cell: one record with all its scores."""
    params = Params(**{**params.__dict__, "options": tuple(options.items())})
    rec = {"tool": tool.name, "model": params.model, "epochs": params.epochs, "seed": params.seed,
           "options": options, "ok": True, "scores": {}, "speeds": {}, "argv": {},
           **({"input": PEERS[tool.name]} if tool.name in PEERS else {})}
    vectors = {}
    for label, path, words, _ in cell_corpora:
        folder = work / label
        folder.mkdir(parents=True, exist_ok=True)
        one = run.one_run(tool, params, options, path, words, folder, args, None)
        rec["argv"][label] = one["argv"]
        if not one["ok"]:
            return {**rec, "ok": False, "error": f"{label}: {one['error']}"}
        rec["speeds"][label] = one["train_words_per_second"]
        vectors[label] = run.vectors_path(folder, tool.name, params, options)
    for label, _, _, lang in cell_corpora:
        if lang is None:
            rec["scores"].update(english_scores(vectors[label]))
        elif lang != "en":
            pair = label.rsplit(".", 1)[0]  # news-de
            scores = bli_scores(lang, vectors[label], vectors[pair + ".en"])
            rec["scores"].update({f"{key} {pair}": value for key, value in scores.items()})
    for path in vectors.values():
        path.unlink(missing_ok=True)
    return rec


def metric_of(key: str) -> str:
    """'bli_unit news-de' -> 'bli_unit'; English metrics are their own."""
    return key.split(" ")[0]


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (size, model, epochs, tool, options, score): mean, sd and the seeds' values, and for
    mtlembed, per gensim peer of the cell, the difference of means (`diff`) and whether it is within the
    tolerance (`within`)."""
    groups: dict[tuple, list[float]] = {}
    for r in runs:
        if r["ok"]:
            for key, value in r["scores"].items():
                if metric_of(key) in TOLERANCE and value is not None:
                    cell = (r["size"], r["model"], r["epochs"], key, r["tool"], json.dumps(r["options"]))
                    groups.setdefault(cell, []).append(value)
    rows = []
    for (size, model, epochs, key, tool, options), values in sorted(groups.items()):
        row = {"size": size, "model": model, "epochs": epochs, "score": key, "tool": tool,
               "options": json.loads(options), "mean": statistics.mean(values),
               "sd": statistics.stdev(values) if len(values) > 1 else None, "values": values}
        peers = {name: groups[size, model, epochs, key, name, "{}"] for name in PEERS
                 if (size, model, epochs, key, name, "{}") in groups}
        if tool == "mtlembed" and peers:
            row["diff"] = {name: row["mean"] - statistics.mean(values) for name, values in peers.items()}
            row["within"] = {name: diff >= -TOLERANCE[metric_of(key)] for name, diff in row["diff"].items()}
        rows.append(row)
    return rows


def status(rec: dict, size: int) -> str:
    head = (f"{rec['tool']:15s} {prepare_corpus.label(size)} {rec['model']:4s} {rec['epochs']:2d} ep seed "
            f"{rec['seed']} {json.dumps(rec['options']) if rec['options'] else ''}")
    if not rec["ok"]:
        return f"{head}: FAILED {rec['error']}"
    return head + ": " + ", ".join(f"{k} {v:.3f}" for k, v in rec["scores"].items()
                                   if metric_of(k) in TOLERANCE and v is not None)


def reuse_note(runs: list[dict]) -> str:
    sources = sorted({r["reused_from"] for r in runs if r.get("reused_from")})
    tools = sorted({r["tool"] for r in runs if r.get("reused_from")})
    count = sum(1 for r in runs if r.get("reused_from"))
    return (f" {count} runs ({', '.join(tools)}) were not trained again but taken from {', '.join(sources)} "
            "(same settings, cell, seed and options: `reused_from` in the .json)." if count else "")


def markdown(doc: dict) -> str:
    s = doc["settings"]
    lines = [f"# {doc['name']}", "", f"    {doc['command']}", "",
             f"{doc['date']}, {doc['cpu']}, git {doc['git'][0][:10]}{' (dirty)' if doc['git'][1] else ''}. "
             f"dim {s['dim']}, window {s['window']}, negative {s['negative']}, sample {s['sample']}, "
             f"min-count {s['min_count']}, alpha {s['alpha'] or '0.025 sg / 0.05 cbow'}, "
             f"{s['threads']} threads, seeds {s['seed']}..{s['seed'] + s['seeds'] - 1}. Scores: analogy "
             "accuracy and BLI CSLS P@1 in points, similarity as Spearman; mean ± sd over the seeds, then "
             "each seed's; diff = mtlembed - gensim (means) per gensim peer (`gensim`: corpus_file input, "
             "`gensim-iterable`: an iterable, the linear schedule as mtlembed's), ! where it is below by "
             "more than 1 point or 0.01." + reuse_note(doc["runs"]),
             "",
             "| words | model | epochs | score | tool | options | mean ± sd | seeds | "
             + " | ".join(f"diff vs {name}" for name in PEERS) + " |",
             "|---|---|---:|---|---|---|---:|---|" + "---:|" * len(PEERS)]
    for r in doc["summary"]:
        sd = "" if r["sd"] is None else f" ± {r['sd']:.2f}" if abs(r["mean"]) > 1 else f" ± {r['sd']:.3f}"
        fmt = ".2f" if abs(r["mean"]) > 1 else ".3f"
        diffs = [f"{r['diff'][name]:+{fmt}}{'' if r['within'][name] else ' !'}" if name in r.get("diff", {})
                 else "" for name in PEERS]
        opts = " ".join(f"{k}={v}" for k, v in r["options"].items())
        lines.append(f"| {prepare_corpus.label(r['size'])} | {r['model']} | {r['epochs']} | {r['score']} | "
                     f"{r['tool']} | {opts} | {r['mean']:{fmt}}{sd} | "
                     f"{' '.join(f'{v:{fmt}}' for v in r['values'])} | {' | '.join(diffs)} |")
    speeds: dict[tuple, list[float]] = {}
    for r in doc["runs"]:
        if r["ok"]:
            key = (r["model"], r["tool"], json.dumps(r["options"]))
            speeds.setdefault(key, []).extend(v for v in r["speeds"].values() if v)
    lines += ["", "Training speed (median words/s over every run of the model and tool; a shared machine):",
              "",
              "| model | tool | options | words/s |", "|---|---|---|---:|"]
    for (model, tool, options), values in sorted(speeds.items()):
        opts = " ".join(f"{k}={v}" for k, v in json.loads(options).items())
        lines.append(f"| {model} | {tool} | {opts} | {statistics.median(values) / 1e3:,.0f}k |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
