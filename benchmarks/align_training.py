"""Align while training, measured: does a dictionary induced from the vectors every K chunks help a joint
run that has parallel text but no seed dictionary? (issue 17)

    python benchmarks/align_training.py --name align-training [--lang es --seeds 1 --dim 100 --every 50]
    python benchmarks/align_training.py --identical --name align-training-identical

Arms, all on the Tatoeba en-xx pairs of examples/data (both sides also as monolingual text), no seed
dictionary: `parallel` (the pairs only), `align-every` (+ align_every = K), `induced` (+ the dictionary
induced from the pairs by Dice, `[[dictionary]] induced_from`). BLI P@1 (CSLS) on MUSE test splits
(5000-6500), both directions; the arms share one vocabulary, so the queries are the same.

With --identical there is no parallel text either: the two sides are only monolingual text, tied by the
words spelled the same in both (count >= 3 on each side) as the seed dictionary: `identical`, and
`identical+align-every` (+ align_every = K), and both again with refine = "self-learning" after training.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_joint import EXAMPLES, test_files  # noqa: E402

WORK = HERE / ".cache" / "align"

from mtlembed import eval as ev  # noqa: E402
from mtlembed.config import TrainConfig  # noqa: E402
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec  # noqa: E402
from mtlembed.trainer import Trainer  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="align-training")
    parser.add_argument("--lang", default="es")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--every", type=int, default=50, help="align_every, in chunks")
    parser.add_argument("--identical", action="store_true",
                        help="no parallel text: seed with the identical strings of the two sides")
    args = parser.parse_args(argv)
    lang = args.lang
    en, other = str(EXAMPLES / f"tatoeba.en-{lang}.en"), str(EXAMPLES / f"tatoeba.en-{lang}.{lang}")
    tasks = [TaskSpec("en", (en,), lang="en"), TaskSpec(lang, (other,), lang=lang)]
    if args.identical:
        parallel, seed = [], [DictionarySpec(("en", lang), path=str(identical_strings(en, other, lang)))]
        arms = {"identical": ({}, seed), "identical+align-every": ({"align_every": args.every}, seed),
                "identical+refine": ({"refine": "self-learning"}, seed),
                "identical+align-every+refine": ({"align_every": args.every, "refine": "self-learning"},
                                                 seed)}
    else:
        parallel = [ParallelSpec("pairs", ("en", lang), (en, other))]
        arms = {"parallel": ({}, []), "align-every": ({"align_every": args.every}, []),
                "induced": ({}, [DictionarySpec(("en", lang), induced_from="pairs")])}
    command = "python benchmarks/align_training.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = {"command": command, "lang": lang, "scores": {}}
    for seed in (int(s) for s in args.seeds.split(",")):
        for arm, (extra, dictionaries) in arms.items():
            config = TrainConfig(model="sg", dim=args.dim, window=5, negative=10, sample=1e-4, min_count=3,
                                 epochs=args.epochs, lowercase=True, threads=2, seed=seed, **extra)
            trainer = Trainer(config, tasks, parallel, dictionaries)
            model = trainer.train()
            scores = {}
            for direction, path in test_files(lang).items():
                src, tgt = ("en", lang) if direction.startswith("en->") else (lang, "en")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # low coverage: the same queries for every arm
                    r = ev.bli(model.by_language(src), model.by_language(tgt), path)
                scores[direction] = {"p@1": r["p@1"], "queries": r["queries"]}
            results["scores"].setdefault(arm, {})[seed] = scores
            results.setdefault("realigns", {})[arm] = len(trainer.notes.get("align_history", []))
            print(arm, seed, json.dumps(scores), flush=True)
    out = HERE / "results" / args.name
    Path(f"{out}.json").write_text(json.dumps(results, indent=1) + "\n")
    title = ("identical strings only (no dictionary, no parallel text)" if args.identical
             else "no seed dictionary")
    lines = [f"# Align while training, en-{lang}, {title}", "", f"Command: `{command}`", "",
             "CSLS P@1 (%) on the MUSE test splits; one row per seed.", "",
             "| arm | seed | " + " | ".join(test_files(lang)) + " |", "|---|---:|" + "---:|" * 2]
    for arm, by_seed in results["scores"].items():
        for seed, scores in by_seed.items():
            lines.append(f"| {arm} | {seed} | " + " | ".join(f"{100 * s['p@1']:.1f} ({s['queries']} queries)"
                                                              for s in scores.values()) + " |")
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def identical_strings(en: str, other: str, lang: str, min_count: int = 3) -> Path:
    """The words (lower-cased tokens of the pre-tokenized text) seen `min_count` times on each side, as a
    dictionary file `word word`."""
    counts = []
    for path in (en, other):
        seen: dict[str, int] = {}
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                for word in line.lower().split():
                    seen[word] = seen.get(word, 0) + 1
        counts.append(seen)
    shared = sorted(w for w, n in counts[0].items() if n >= min_count and counts[1].get(w, 0) >= min_count)
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"identical.en-{lang}.txt"
    path.write_text("".join(f"{w} {w}\n" for w in shared), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
