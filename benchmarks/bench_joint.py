"""Joint cross-lingual training against baselines that get the same data (issue 17).

    python examples/prepare_data.py          # once: examples/data/ (Tatoeba, OPUS-MT sides)
    python benchmarks/bench_joint.py --name joint-fair [--langs es,de,fr --seeds 1,2,3 --dim 300]

For each language pair en-xx, every arm gets the same line-aligned text (the
Tatoeba and OPUS-MT pairs of examples/data, each side also read as that
language's monolingual text) and the same seed dictionary (MUSE en-xx.0-5000,
the train split). The arms:

* separate-procrustes: en and xx trained apart (mtlembed), xx mapped onto en by
  orthogonal Procrustes on the seed dictionary (``mtlembed align --method procrustes``);
* separate-induced: the same vectors, seeded by the seed dictionary plus the pairs
  induced from the parallel text (``mtlembed induce``: Dice, mutual best), then
  MUSE's iterative refinement (``--method iterative``);
* pseudo-bilingual: gensim skip-gram on the merge-and-shuffle corpus (Vulić &
  Moens, 2016: each aligned pair's words, language-prefixed, in one shuffled
  line), as it is and then Procrustes on the seed dictionary;
* joint: one mtlembed run (both sides as monolingual tasks, the pairs as a
  [[parallel]] task, the seed dictionary as code-switching ties), with and
  without `refine = "procrustes"`;
* joint+english (not a fair arm: more data): the same plus a large English
  corpus (--english), as the README's old table had.

All arms share dim, window, negative, sample, min_count and epochs (the
merge-and-shuffle corpus uses --pseudo-window, since its lines are shuffled
pairs). Scores: BLI P@1 by CSLS and NN on the MUSE test splits (5000-6500, no
source word shared with the train split), en->xx and xx->en, on the pairs
whose two words every arm has (the same queries for every arm), over several
seeds (mean, standard deviation, min and max). Nothing is tuned on the test
splits. Writes benchmarks/results/<name>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mtlembed import eval as ev  # noqa: E402
from mtlembed.align import align  # noqa: E402
from mtlembed.align.dice import induce_dictionary  # noqa: E402
from mtlembed.config import TrainConfig  # noqa: E402
from mtlembed.crosslingual import refine  # noqa: E402
from mtlembed.dictionary import read_dictionary  # noqa: E402
from mtlembed.model import Embeddings  # noqa: E402
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec  # noqa: E402
from mtlembed.trainer import Trainer  # noqa: E402

DATA = Path(os.environ.get("MTLEMBED_DATA") or ROOT.parent / "shared" / "data")
EXAMPLES = ROOT / "examples" / "data"
MUSE = DATA / "bli" / "muse_reconstructed"
SOURCES = ("tatoeba", "opus")
FAIR = ("separate-procrustes", "separate-induced", "pseudo-bilingual", "pseudo-bilingual-procrustes")
JOINT = ("joint", "joint-no-refine")


def side_files(lang: str, side: str) -> tuple[str, ...]:
    return tuple(str(EXAMPLES / f"{source}.en-{lang}.{side}") for source in SOURCES)


def parallel_pairs(lang: str) -> list[tuple[str, str]]:
    return [(str(EXAMPLES / f"{s}.en-{lang}.en"), str(EXAMPLES / f"{s}.en-{lang}.{lang}")) for s in SOURCES]


def seed_dictionary(lang: str) -> Path:
    return MUSE / f"en-{lang}.0-5000.txt"


def test_files(lang: str) -> dict[str, Path]:
    return {f"en->{lang}": MUSE / f"en-{lang}.5000-6500.txt",
            f"{lang}->en": MUSE / f"{lang}-en.5000-6500.txt"}


def train(config: TrainConfig, tasks, parallel=(), dictionaries=()) -> Embeddings:
    return Trainer(config, tasks, parallel, dictionaries).train()


def joint_arms(config, lang, english=None) -> dict[str, tuple[Embeddings, Embeddings]]:
    """joint and joint-no-refine from one run (refine is applied after training, as the trainer does)."""
    en_paths = side_files(lang, "en") + ((str(english),) if english else ())
    tasks = [TaskSpec("en", en_paths, lang="en"), TaskSpec(lang, side_files(lang, lang), lang=lang)]
    parallel = [ParallelSpec(f"{source}-en-{lang}", ("en", lang), pair)
                for source, pair in zip(SOURCES, parallel_pairs(lang))]
    dictionaries = [DictionarySpec(("en", lang), str(seed_dictionary(lang)))]
    raw = train(config, tasks, parallel, dictionaries)
    refined = refine(raw, "en", dictionaries)
    return {"joint-no-refine": (raw.by_language("en"), raw.by_language(lang)),
            "joint": (refined.by_language("en"), refined.by_language(lang))}


def english_arm(config, lang, english) -> dict[str, tuple[Embeddings, Embeddings]]:
    return {"joint+english": joint_arms(config, lang, english)["joint"]}


def mapped(en: Embeddings, other: Embeddings, pairs, method: str) -> tuple[Embeddings, Embeddings]:
    """`other` mapped onto `en` by mtlembed.align; both normalized as align leaves them (orthogonal: the
    multi-step map came after joint-fair.md was measured)."""
    other_mapped, en_normalized, _ = align(other, en, [(t, s) for s, t in pairs], method, multistep=False)
    return en_normalized, other_mapped


def separate_arms(config, lang, induced) -> dict[str, tuple[Embeddings, Embeddings]]:
    en = train(config, [TaskSpec("en", side_files(lang, "en"), lang="en")])
    other = train(config, [TaskSpec(lang, side_files(lang, lang), lang=lang)])
    seed = read_dictionary(seed_dictionary(lang))
    return {"separate-procrustes": mapped(en, other, seed, "procrustes"),
            "separate-induced": mapped(en, other, list(dict.fromkeys(seed + induced)), "iterative")}


def pseudo_bilingual_arms(args, lang, seed_value, workdir) -> dict[str, tuple[Embeddings, Embeddings]]:
    """gensim skip-gram on each aligned pair's words (prefixed en:/xx:) merged and shuffled in one line."""
    from gensim.models import Word2Vec

    rng = random.Random(seed_value)
    corpus = Path(workdir) / f"pseudo-{lang}-{seed_value}.txt"
    with open(corpus, "w", encoding="utf-8") as out:
        for en_path, other_path in parallel_pairs(lang):
            with open(en_path, encoding="utf-8") as en_lines, \
                    open(other_path, encoding="utf-8") as other_lines:
                for en_line, other_line in zip(en_lines, other_lines):
                    words = [f"en:{w}" for w in en_line.lower().split()]
                    words += [f"{lang}:{w}" for w in other_line.lower().split()]
                    rng.shuffle(words)
                    out.write(" ".join(words) + "\n")
    model = Word2Vec(corpus_file=str(corpus), vector_size=args.dim, window=args.pseudo_window,
                     min_count=args.min_count, sample=args.sample, sg=1, negative=args.negative,
                     epochs=args.epochs, workers=args.threads or os.cpu_count(), seed=seed_value)
    corpus.unlink()
    kv = model.wv
    both = Embeddings(list(kv.index_to_key), kv.vectors)
    en, other = both.by_language("en"), both.by_language(lang)
    seed = read_dictionary(seed_dictionary(lang))
    return {"pseudo-bilingual": (en, other),
            "pseudo-bilingual-procrustes": mapped(en, other, seed, "procrustes")}


def common_test_pairs(path: Path, arms: dict, source_side: int, workdir: str, tag: str) -> tuple[str, int]:
    """The test pairs whose two words every arm has, as a dictionary file (the same queries for all)."""
    keep = [(s, t) for s, t in read_dictionary(path)
            if all(s in a[source_side].index and t in a[1 - source_side].index for a in arms.values())]
    out = Path(workdir) / f"{tag}.txt"
    out.write_text("".join(f"{s} {t}\n" for s, t in keep), encoding="utf-8")
    return str(out), len({s for s, _ in keep})


def score(arms: dict, lang: str, workdir: str) -> dict:
    """{arm: {direction: {csls, nn}}} P@1 on the common queries; and the query counts."""
    scores, queries = {name: {} for name in arms}, {}
    for direction, path in test_files(lang).items():
        source_side = 0 if direction.startswith("en->") else 1
        common, n = common_test_pairs(path, arms, source_side, workdir, f"{lang}-{direction[:2]}")
        queries[direction] = {"common": n, "in_file": len({s for s, _ in read_dictionary(path)})}
        for name, sides in arms.items():
            src, tgt = sides[source_side], sides[1 - source_side]
            scores[name][direction] = {method: ev.bli(src, tgt, common, method=method)["p@1"]
                                       for method in ("csls", "nn")}
    return {"scores": scores, "queries": queries}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="joint-fair")
    parser.add_argument("--langs", default="es,de,fr")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=10)
    parser.add_argument("--sample", type=float, default=1e-4)
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--pseudo-window", type=int, default=10,
                        help="window of the merge-and-shuffle corpus (its lines are shuffled pairs)")
    parser.add_argument("--english", type=Path, default=HERE / ".cache" / "enwiki-text8-17M.txt",
                        help="the large English corpus of joint+english ('none': skip that arm)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    langs, seeds = args.langs.split(","), [int(s) for s in args.seeds.split(",")]
    english = None if str(args.english) == "none" else args.english
    if not EXAMPLES.joinpath(f"tatoeba.en-{langs[0]}.en").exists():
        raise SystemExit("bench_joint: run python examples/prepare_data.py first (examples/data/)")
    if english is not None and not english.exists():
        raise SystemExit(f"bench_joint: {english} not found: run benchmarks/prepare_corpus.py "
                         "(or --english none)")
    command = "python benchmarks/bench_joint.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = {"command": command, "langs": langs, "seeds": seeds, "english": str(english),
               "settings": {k: getattr(args, k) for k in ("dim", "epochs", "window", "negative", "sample",
                                                          "min_count", "pseudo_window", "threads")},
               "runs": {}, "induced": {}}
    for lang in langs:
        start = time.perf_counter()
        found = induce_dictionary(parallel_pairs(lang), ("en", lang), lowercase=True)
        induced = [(s, t) for s, t, _, _ in found]
        results["induced"][lang] = {"pairs": len(induced), "seconds": time.perf_counter() - start}
        for seed in seeds:
            config = TrainConfig(model="sg", dim=args.dim, window=args.window, negative=args.negative,
                                 sample=args.sample, min_count=args.min_count, epochs=args.epochs,
                                 lowercase=True, sampling="temperature", temperature=2.0,
                                 threads=args.threads, seed=seed)
            with tempfile.TemporaryDirectory() as workdir:
                arms, seconds = {}, {}
                steps = {"separate": (separate_arms, config, lang, induced),
                         "pseudo": (pseudo_bilingual_arms, args, lang, seed, workdir),
                         "joint": (joint_arms, config, lang)}
                if english:
                    steps["joint+english"] = (english_arm, config, lang, english)
                for name, (make, *inputs) in steps.items():
                    start = time.perf_counter()
                    arms.update(make(*inputs))
                    seconds[name] = time.perf_counter() - start
                run = score(arms, lang, workdir)
            run["seconds"] = seconds
            results["runs"][f"{lang}-{seed}"] = run
            print(f"{lang} seed {seed}: " + json.dumps(run["scores"]), flush=True)
            write(results, HERE / "results" / args.name)  # after every run: a partial table if stopped
    print(report(results))
    return 0


def write(results: dict, out: Path) -> None:
    results["summary"] = summarize(results)
    Path(f"{out}.json").write_text(json.dumps(results, indent=1) + "\n")
    Path(f"{out}.md").write_text(report(results))


def summarize(results: dict) -> dict:
    """{lang: {direction: {method: {arm: {mean, sd, min, max}}, ...}}} over seeds."""
    summary = {}
    for lang in results["langs"]:
        runs = [results["runs"][key] for key in (f"{lang}-{seed}" for seed in results["seeds"])
                if key in results["runs"]]
        if not runs:
            continue
        arms = list(runs[0]["scores"])
        for direction in runs[0]["queries"]:
            for method in ("csls", "nn"):
                cell = summary.setdefault(lang, {}).setdefault(direction, {}).setdefault(method, {})
                for arm in arms:
                    values = [100 * r["scores"][arm][direction][method] for r in runs]
                    cell[arm] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
                                 "sd": statistics.stdev(values) if len(values) > 1 else 0.0}
    return summary


def report(results: dict) -> str:
    summary, seeds = results["summary"], results["seeds"]
    first = results["runs"][f"{results['langs'][0]}-{seeds[0]}"]
    arms = list(first["scores"])
    s = results["settings"]
    lines = ["# Joint training against baselines with the same data (issue 17)", "",
             f"Command: `{results['command']}`", "",
             f"Every arm: the Tatoeba + OPUS-MT line-aligned pairs of each en-xx (both sides also as "
             f"monolingual text) and the MUSE train dictionary en-xx.0-5000; skip-gram, dim {s['dim']}, "
             f"window {s['window']} (merge-and-shuffle: {s['pseudo_window']}), negative {s['negative']}, "
             f"sample {s['sample']}, min_count {s['min_count']}, {s['epochs']} epochs, "
             f"{s['threads']} threads. "
             f"`joint+english` also reads `{results['english']}` (more data: not a fair arm). "
             f"Seeds {', '.join(map(str, seeds))}.", "",
             "BLI P@1 (%) on the MUSE test splits (5000-6500), on the queries every arm covers: mean ± sd "
             "over seeds [min-max].", ""]
    for method in ("csls", "nn"):
        lines += [f"## {method.upper()}", "",
                  "| pair | queries | " + " | ".join(arms) + " | joint - best fair |",
                  "|---|---:|" + "---:|" * len(arms) + "---:|"]
        for lang in summary:
            done = sum(f"{lang}-{seed}" in results["runs"] for seed in seeds)
            for direction, cell in summary[lang].items():
                c = cell[method]
                best = max(c[a]["mean"] for a in FAIR if a in c)
                cells = [f"{c[a]['mean']:.1f} ± {c[a]['sd']:.1f} [{c[a]['min']:.1f}-{c[a]['max']:.1f}]"
                         for a in arms]
                n = results["runs"][f"{lang}-{seeds[0]}"]["queries"][direction]["common"]  # same every seed
                lines.append(f"| {direction} ({done} seeds) | {n} | " + " | ".join(cells)
                             + f" | {c['joint']['mean'] - best:+.1f} |")
        lines.append("")
    lines.append("Induced dictionaries (Dice, mutual best, >= 3 shared lines): "
                 + ", ".join(f"en-{lang} {v['pairs']} pairs" for lang, v in results["induced"].items()) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
