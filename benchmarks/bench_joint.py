"""Joint cross-lingual training against "each language alone, then Procrustes".

    python examples/prepare_data.py          # once: examples/data/ (Tatoeba, OPUS-MT sides)
    python benchmarks/bench_joint.py --name joint-bli [--dim 300 --epochs 5 --langs es,de,fr]

Both arms see the same text with the same settings:

* joint: one Trainer on English + es/de/fr monolingual tasks, the line-aligned
  Tatoeba and OPUS-MT pairs as [[parallel]] tasks, the MUSE train dictionaries
  (en-xx.0-5000) as code-switching [[dictionary]] ties, then Procrustes
  refinement on those dictionaries (as examples/joint-en-es-de-fr.toml).
* separate: each language's monolingual task trained alone, then es/de/fr
  mapped onto English by orthogonal Procrustes on the same train dictionary.
  The separate English run is also the "English only" reference for analogies.
* separate-passes: the same, but each small language trained for as many
  passes over its corpus as the joint run gave it (temperature sampling
  repeats small corpora), so the baseline is not short of updates.

Scores: BLI P@1 (CSLS and NN) en->xx on the MUSE test splits (5000-6500, no
source word shared with the train split) and the xling test sets for de/fr,
with coverage; English analogy (questions-words, top 30k) and similarity.
Writes benchmarks/results/<name>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from mtlembed import eval as ev  # noqa: E402
from mtlembed.config import TrainConfig  # noqa: E402
from mtlembed.crosslingual import refine  # noqa: E402
from mtlembed.model import Embeddings  # noqa: E402
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec  # noqa: E402
from mtlembed.trainer import Trainer  # noqa: E402

DATA = Path(os.environ.get("MTLEMBED_DATA") or ROOT.parent / "shared" / "data")
EXAMPLES = ROOT / "examples" / "data"
MUSE = DATA / "bli" / "muse_reconstructed"
XLING = DATA / "bli" / "xling"
SIMILARITY = {"ws353": DATA / "similarity" / "en" / "faruqui" / "EN-WS-353-ALL.txt",
              "simlex": DATA / "similarity" / "en" / "faruqui" / "EN-SIMLEX-999.txt",
              "men": DATA / "similarity" / "en" / "faruqui" / "EN-MEN-TR-3k.txt"}


def english_corpus(args) -> str:
    return str(args.english)


def monolingual(lang: str) -> TaskSpec:
    return TaskSpec(lang,
                    (str(EXAMPLES / f"tatoeba.en-{lang}.{lang}"), str(EXAMPLES / f"opus.en-{lang}.{lang}")),
                    lang=lang)


def parallel(lang: str) -> list[ParallelSpec]:
    return [ParallelSpec(f"{source}-en-{lang}", ("en", lang),
                         (str(EXAMPLES / f"{source}.en-{lang}.en"),
                          str(EXAMPLES / f"{source}.en-{lang}.{lang}")))
            for source in ("tatoeba", "opus")]


def train_dictionary(lang: str) -> Path:
    return MUSE / f"en-{lang}.0-5000.txt"


def test_sets(lang: str) -> dict[str, Path]:
    sets = {"muse": MUSE / f"en-{lang}.5000-6500.txt"}
    xling = XLING / f"en-{lang}" / f"yacle.test.freq.2k.en-{lang}.tsv"
    if xling.exists():
        sets["xling"] = xling
    return sets


def train(config: TrainConfig, tasks, parallel_specs=(), dictionaries=()) -> tuple[Embeddings, float, dict]:
    """Embeddings, seconds, and passes over each task's corpus."""
    start = time.perf_counter()
    trainer = Trainer(config, tasks, parallel_specs, dictionaries)
    embeddings = trainer.train(progress=True)
    return embeddings, time.perf_counter() - start, {t["name"]: t["passes"] for t in trainer.report.tasks}


def prefixed(lang: str, embeddings: Embeddings) -> Embeddings:
    """Keys `lang:word`, as a joint model has them (for Procrustes refinement)."""
    return Embeddings([f"{lang}:{w.partition(':')[2] or w}" for w in embeddings.words], embeddings.vectors,
                      embeddings.counts)


def english_scores(vectors: Embeddings, questions: Path) -> dict:
    scores = {"analogy": ev.analogy(vectors, questions, restrict=30000)["accuracy"]}
    for name, path in SIMILARITY.items():
        if path.exists():
            scores[name] = ev.similarity(vectors, path)["spearman"]
    return scores


def bli_scores(english: Embeddings, other: Embeddings, lang: str) -> dict:
    scores = {}
    for name, path in test_sets(lang).items():
        for method in ("csls", "nn"):
            result = ev.bli(english, other, path, method=method, max_vocab=200000)
            scores[f"{name}-{method}"] = {"p@1": result["p@1"], "p@10": result["p@10"],
                                          "coverage": result["coverage"], "queries": result["queries"]}
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="joint-bli")
    parser.add_argument("--english", type=Path, default=HERE / ".cache" / "enwiki-text8-17M.txt",
                        help="the English task's corpus (default: the 17M-word text8-style Wikipedia)")
    parser.add_argument("--langs", default="es,de,fr")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--codeswitch", type=float, default=None, help="default: DictionarySpec's")
    parser.add_argument("--no-parallel", action="store_true", help="tie by dictionaries only")
    parser.add_argument("--sampling", default="temperature")
    parser.add_argument("--arms", default="joint,separate,separate-passes",
                        help="separate-passes needs joint (it reads the joint run's passes)")
    args = parser.parse_args(argv)
    langs = args.langs.split(",")
    arms = args.arms.split(",")
    questions = DATA / "analogy" / "en" / "questions-words.txt"
    if not EXAMPLES.joinpath(f"tatoeba.en-{langs[0]}.en").exists():
        subprocess.run([sys.executable, str(ROOT / "examples" / "prepare_data.py")], check=True)
    if not args.english.exists():
        subprocess.run([sys.executable, str(HERE / "prepare_corpus.py")], check=True)

    config = TrainConfig(model="sg", dim=args.dim, window=5, negative=10, sample=1e-4, min_count=3,
                         max_vocab=200000, epochs=args.epochs, lowercase=True, sampling=args.sampling,
                         temperature=2.0, threads=args.threads, seed=1)
    english = TaskSpec("en", (english_corpus(args),), lang="en")
    dict_options = {} if args.codeswitch is None else {"codeswitch": args.codeswitch}
    dictionaries = [DictionarySpec(("en", lang), str(train_dictionary(lang)), **dict_options)
                    for lang in langs]
    results = {"config": dict(vars(config)), "langs": langs, "english": str(args.english),
               "parallel": not args.no_parallel, "codeswitch": dictionaries[0].codeswitch, "arms": {}}

    if "joint" in arms:
        ties = [] if args.no_parallel else [p for lang in langs for p in parallel(lang)]
        joint, seconds, passes = train(config.replace(refine="procrustes"),
                                       [english] + [monolingual(lang) for lang in langs], ties, dictionaries)
        arm = {"seconds": seconds, "passes": passes,
               "english": english_scores(joint.by_language("en"), questions), "bli": {}}
        for lang in langs:
            arm["bli"][lang] = bli_scores(joint.by_language("en"), joint.by_language(lang), lang)
        results["arms"]["joint"] = arm
        print(json.dumps(arm, indent=1), flush=True)

    english_alone = None
    for name in ("separate", "separate-passes"):
        if name not in arms:
            continue
        if english_alone is None:
            english_alone, english_seconds, _ = train(config, [english])
        arm = {"seconds": english_seconds, "english": english_scores(english_alone, questions), "bli": {},
               "epochs": {}}
        for lang in langs:
            epochs = config.epochs
            if name == "separate-passes":  # as many passes as the joint run gave this language
                epochs = max(config.epochs, round(results["arms"]["joint"]["passes"][lang]))
            alone, seconds, _ = train(config.replace(epochs=epochs), [monolingual(lang)])
            arm["seconds"] += seconds
            arm["epochs"][lang] = epochs
            both = Embeddings(prefixed("en", english_alone).words + prefixed(lang, alone).words,
                              _stack(english_alone.vectors, alone.vectors))
            mapped = refine(both, "en", [DictionarySpec(("en", lang), str(train_dictionary(lang)))])
            arm["bli"][lang] = bli_scores(mapped.by_language("en"), mapped.by_language(lang), lang)
        results["arms"][name] = arm
        print(json.dumps(arm, indent=1), flush=True)

    out = HERE / "results" / args.name
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_joint.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out.parent.joinpath(out.name + ".json").write_text(
        json.dumps({"command": command, **results}, indent=1) + "\n")
    out.parent.joinpath(out.name + ".md").write_text(report(command, results))
    print(report(command, results))
    return 0


def _stack(a, b):
    import numpy as np
    return np.concatenate([np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)])


def report(command: str, results: dict) -> str:
    arms = results["arms"]
    lines = [f"# Joint vs separate+Procrustes: {', '.join('en-' + lang for lang in results['langs'])}", "",
             f"Command: `{command}`", "",
             f"English task: `{results['english']}`; config: "
             + ", ".join(f"{k}={results['config'][k]}"
                         for k in ("model", "dim", "window", "negative", "sample", "min_count", "epochs",
                                   "sampling", "temperature"))
             + f"; parallel ties: {results['parallel']}; codeswitch: {results['codeswitch']}", "",
             "## BLI en->xx, P@1 (coverage of the test dictionary's source words)", "",
             "| pair | test | method | " + " | ".join(arms) + " | joint - best separate |",
             "|---|---|---|" + "---:|" * len(arms) + "---:|"]
    first = next(iter(arms.values()))
    for lang, sets in first["bli"].items():
        for key in sets:
            test, method = key.split("-")
            cells = [f"{100 * a['bli'][lang][key]['p@1']:.2f} ({100 * a['bli'][lang][key]['coverage']:.0f}%)"
                     for a in arms.values()]
            gap = ""
            baselines = [a for name, a in arms.items() if name.startswith("separate")]
            if "joint" in arms and baselines:
                best = max(a["bli"][lang][key]["p@1"] for a in baselines)
                gap = f"{100 * (arms['joint']['bli'][lang][key]['p@1'] - best):+.2f}"
            lines.append(f"| en-{lang} | {test} | {method} | " + " | ".join(cells) + f" | {gap} |")
    lines += ["", "## English (joint model's English rows vs English alone)", "",
              "| arm | seconds | analogy | " + " | ".join(SIMILARITY) + " |",
              "|---|---:|---:|" + "---:|" * len(SIMILARITY)]
    for name, arm in arms.items():
        e = arm["english"]
        lines.append(f"| {name} | {arm['seconds']:.0f} | {100 * e['analogy']:.2f}% | "
                     + " | ".join(f"{e.get(s, float('nan')):.3f}" for s in SIMILARITY) + " |")
    lines.append("")
    if "passes" in arms.get("joint", {}):
        lines.append("Passes over each corpus in the joint run: "
                     + ", ".join(f"{name} {p:.1f}" for name, p in arms["joint"]["passes"].items()) + ".")
    for name, arm in arms.items():
        if arm.get("epochs"):
            lines.append(f"Epochs of each small language in `{name}`: "
                         + ", ".join(f"{lang} {e}" for lang, e in arm["epochs"].items()) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
