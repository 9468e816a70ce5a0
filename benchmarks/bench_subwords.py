"""Subwords (issue 21): mtlembed --subwords against fastText and gensim's FastText, and joint BLI.

    python benchmarks/bench_subwords.py english --words 17M --epochs 1 --name subwords-17M-1epoch
    python benchmarks/bench_subwords.py joint --words 17M --epochs 1 --name subwords-joint-bli
    python benchmarks/bench_subwords.py init --words 500k --name subwords-init
    python benchmarks/bench_subwords.py variants --words 4M --name subwords-variants-4M
    python benchmarks/bench_subwords.py kernel --words 1M --threads 1 --models sg,cbow --name subwords-kernel
    flock /tmp/mtl-speed.lock python benchmarks/bench_subwords.py speed --words 4M --name subwords-speed-4M

english: the text8-style Wikipedia corpus (run.py's, made by prepare_corpus.py), skip-gram,
every tool with the same dim, window, negatives, sample, min_count, epochs, threads and
n-grams (min_n, max_n, buckets), one after the other, each in a process of its own (timed
by tools.py, as run.py times them); mtlembed without subwords is the reference row. Each
tool writes a fastText .bin (mtlembed through --fasttext-out) and one evaluator scores all:
questions-words over the 30,000 most frequent words, and Stanford Rare Words (Spearman)
both ways: pairs with an unseen word skipped, and scored from their n-grams.

joint: examples/joint-en-es-de-fr.toml (English + es/de/fr, parallel sentences, MUSE seed
dictionaries) with this English corpus, trained without subwords and with them in both
sharing modes; BLI en->xx (CSLS P@1) on the MUSE test splits (5000-6500), after the job's
Procrustes refinement, and, unrefined, with unseen source words scored from their n-grams.

init: mtlembed alone, with subwords, for each start of w_in: the words' rows uniform in
[-w/dim, w/dim) and the buckets' in [-b/dim, b/dim) (trainer.INIT_RANGE, 4, is w = b;
fastText's is 1), for each of --models (sg, cbow or both), a few seeds: analogy and Rare Words.

variants: mtlembed with subwords alone, with kernel settings the config does not expose
(benchmarks/quality_launch.py: shared_negatives, init_range), a few seeds each, scored as english.

kernel: the CPU kernel alone (no start-up, vocabulary or export), with and without subwords, in
this process, each schedule run --seeds times on the same job: words/s and words per CPU second.
--kernel-arms LABEL:SETTINGS;... (quality_launch.py's key=value TrainParams fields) runs each arm on
the same job in every rep, in alternating order (an A/B of kernel paths on one build).

unused: mtlembed --subwords alone, in this process, --seeds seeds: the run's analogy accuracy and
Rare Words from n-grams with the buckets no vocabulary word uses left at their random start (as
before subwords.clear_unused_rows), then zeroed, as the trainer now starts them: the same training.

speed: the english runs of mtlembed, fastText and gensim, skip-gram and CBOW (--models), timed
only (no scores, the models deleted): each tool's training words/s and end-to-end seconds, and
mtlembed's ratio to each peer, with the load average before each run.

Results: benchmarks/results/<name>.json and .md, with the command and the machine's load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # scoring: tiny products, threads only slow them

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import prepare_corpus  # noqa: E402
from quality_launch import parse as parse_settings  # noqa: E402
from run import RUNS, count_corpus_words, cpu_info, git_state, loadavg  # noqa: E402

from mtlembed import TaskSpec, TrainConfig, crosslingual, jobconfig  # noqa: E402
from mtlembed import eval as ev  # noqa: E402
from mtlembed import subwords as ngrams  # noqa: E402
from mtlembed import trainer as trainer_module  # noqa: E402
from mtlembed.errors import ConfigError  # noqa: E402
from mtlembed.trainer import Trainer  # noqa: E402
from tools import FastText, Gensim, Mtlembed, Params, run_timed  # noqa: E402

DATA = Path(os.environ.get("MTLEMBED_DATA") or ROOT.parent / "shared" / "data")
QUESTIONS = DATA / "analogy" / "en" / "questions-words.txt"
RARE_WORDS = DATA / "similarity" / "en" / "faruqui" / "EN-RW-STANFORD.txt"
MUSE = DATA / "bli" / "muse_reconstructed"
JOINT_JOB = ROOT / "examples" / "joint-en-es-de-fr.toml"
RESTRICT = 30_000
TOOLS = {"mtlembed": Mtlembed, "mtlembed-plain": Mtlembed, "fasttext": FastText, "gensim": Gensim,
         "gensim-iterable": lambda: Gensim("iterable")}  # corpus_file decays the rate per worker


def subword_flags(args, tool: str) -> list[str]:
    """The n-gram settings in each tool's own flags."""
    if tool == "mtlembed":
        return ["--subwords", "--min-n", str(args.min_n), "--max-n", str(args.max_n), "--buckets",
                str(args.buckets)]
    return ["--min-n", str(args.min_n), "--max-n", str(args.max_n), "--buckets", str(args.buckets)]


def english_runs(args, corpus: Path, words: int, work: Path, algorithm: str = "sg",
                 launcher: str | None = None) -> list[dict]:
    """Each tool trained once; its record has the timings, the model's path and the machine's load.
    `launcher`: the command that runs mtlembed (variants: quality_launch.py with kernel settings)."""
    params = Params(model=algorithm, dim=args.dim, window=args.window, negative=args.negative,
                    sample=args.sample, min_count=args.min_count, epochs=args.epochs,
                    alpha=0.025 if algorithm == "sg" else 0.05,
                    threads=args.threads, seed=args.seed)  # each model's usual rate (word2vec's, fastText's)
    runs = []
    for name in args.tools.split(","):
        tool = Mtlembed(launcher) if launcher and name == "mtlembed" else TOOLS[name]()
        model = work / f"{name}.bin"  # a fastText model (mtlembed-plain: word2vec vectors)
        if name == "mtlembed":  # -o: the word2vec vectors it writes too; the model is --fasttext-out's
            argv = tool.argv(params, corpus, work / "mtlembed-vectors.bin", work)
            argv += subword_flags(args, name) + ["--fasttext-out", str(model)]
        else:
            argv = tool.argv(params, corpus, model, work)
            argv += subword_flags(args, name) if name != "mtlembed-plain" else []
        for stale in (model, work / "mtlembed-vectors.bin"):
            stale.unlink(missing_ok=True)
        load = loadavg()
        proc = run_timed(argv, timeout=args.timeout)
        record = {"tool": name, "algorithm": algorithm, "version": tool.probe().version,
                  "argv": shlex.join(argv), "rc": proc.rc,
                  "wall_seconds": proc.wall, "peak_rss_mb": proc.maxrss_kb / 1024,
                  "cpu_seconds": proc.cpu_seconds, "others_cores": proc.others_cores, "loadavg_before": load,
                  "model": str(model)}
        if proc.rc != 0 or not model.exists():
            raise SystemExit(f"{name} failed (exit {proc.rc}):\n{proc.tail()}")
        record.update(tool.timings(proc, params, work))
        record["train_words_per_second"] = words * args.epochs / record["train_seconds"]
        print(f"{name}: {record['train_words_per_second'] / 1e3:,.0f}k words/s, {proc.wall:.1f} s end to end",
              flush=True)
        runs.append(record)
    return runs


def english_scores(model: str) -> dict:
    """Analogy (top 30k) and Rare Words, unseen words skipped and scored from n-grams."""
    scores = {"analogy": ev.analogy(model, QUESTIONS, restrict=RESTRICT)["accuracy"]}
    for oov in ("skip", "subwords"):
        try:
            rw = ev.similarity(model, RARE_WORDS, oov=oov)
        except ConfigError:  # no n-grams (mtlembed-plain): unseen words cannot be scored
            continue
        scores[f"rw_{oov}"] = {key: rw[key] for key in ("spearman", "pairs", "total", "coverage")}
    return scores


def corpus_and_work(args) -> tuple[Path, int, Path]:
    """The corpus of --words words, its word count, and the run's folder for models."""
    corpus = prepare_corpus.prepare(args.words)
    work = RUNS / args.name
    work.mkdir(parents=True, exist_ok=True)
    return corpus, count_corpus_words(corpus), work


def english(args, meta: dict) -> dict:
    corpus, words, work = corpus_and_work(args)
    runs = english_runs(args, corpus, words, work, args.models)
    for record in runs:
        record["scores"] = english_scores(record["model"])
        if not args.keep:
            Path(record["model"]).unlink()
        print(record["tool"], json.dumps(record["scores"]), flush=True)
    return {"corpus": {"path": str(corpus), "words": words}, "runs": runs}


def variants(args, meta: dict) -> dict:
    """mtlembed --subwords with settings the config does not expose (quality_launch.py), a few seeds."""
    corpus, words, work = corpus_and_work(args)
    runs = []
    for variant in args.variants.split(";"):
        label, _, settings = variant.partition(":")
        launcher = shlex.join([sys.executable, str(HERE / "quality_launch.py"), settings or "-"])
        for seed in range(args.seed, args.seed + args.seeds):
            seeded = argparse.Namespace(**{**vars(args), "seed": seed, "tools": "mtlembed"})
            record, = english_runs(seeded, corpus, words, work, args.models, launcher)
            record.update(variant=label, settings=settings, seed=seed, scores=english_scores(record["model"]))
            Path(record["model"]).unlink()
            print(label, seed, json.dumps(record["scores"]), flush=True)
            runs.append(record)
    return {"corpus": {"path": str(corpus), "words": words}, "runs": runs}


def unused(args, meta: dict) -> dict:
    """One training per seed, Rare Words scored with the unused buckets random, then zeroed."""
    corpus = prepare_corpus.prepare(args.words)
    runs = []
    clear = ngrams.clear_unused_rows
    ngrams.clear_unused_rows = lambda w_in, table: 0  # the random start, as before
    try:
        for seed in range(args.seed, args.seed + args.seeds):
            config = TrainConfig(model=args.models, dim=args.dim, window=args.window, negative=args.negative,
                                 sample=args.sample, min_count=args.min_count, epochs=args.epochs,
                                 threads=args.threads, seed=seed, subwords=True, min_n=args.min_n,
                                 max_n=args.max_n, buckets=args.buckets)
            trainer = Trainer(config, [TaskSpec("corpus", (str(corpus),))])
            embeddings = trainer.train()
            run = {"seed": seed, "words_per_second": trainer.report.words_per_second,
                   "analogy": ev.analogy(embeddings, QUESTIONS, restrict=RESTRICT)["accuracy"],
                   "rw_random": ev.similarity(embeddings, RARE_WORDS, oov="subwords")["spearman"]}
            table = ngrams.vocabulary_table(trainer.corpus.vocab, ngrams.spec_of(config))
            run["unused_rows"] = clear(embeddings.subwords.w_in, table)
            run["rw_zeroed"] = ev.similarity(embeddings, RARE_WORDS, oov="subwords")["spearman"]
            print(json.dumps(run), flush=True)
            runs.append(run)
            del trainer, embeddings
    finally:
        ngrams.clear_unused_rows = clear
    return {"corpus": str(corpus), "runs": runs}


def unused_table(results: dict) -> list[str]:
    lines = ["| seed | analogy % (top 30k) | RW rho from n-grams, unused buckets random | zeroed | "
             "unused rows |", "|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        lines.append(f"| {r['seed']} | {100 * r['analogy']:.2f} | {r['rw_random']:.3f} | "
                     f"{r['rw_zeroed']:.3f} | {r['unused_rows']:,} |")
    return lines


def variants_table(results: dict) -> list[str]:
    lines = ["| variant | kernel settings | analogy % (top 30k), mean | each seed | "
             "RW rho (OOV from n-grams), mean |", "|---|---|---:|---|---:|"]
    cells: dict = {}
    for run in results["runs"]:
        cells.setdefault((run["variant"], run["settings"]), []).append(run["scores"])
    for (label, settings), scores in cells.items():
        analogy = [100 * s["analogy"] for s in scores]
        rw = sum(s["rw_subwords"]["spearman"] for s in scores) / len(scores)
        lines.append(f"| {label} | {settings or 'defaults'} | {sum(analogy) / len(analogy):.2f} | "
                     f"{', '.join(f'{a:.2f}' for a in analogy)} | {rw:.3f} |")
    return lines


def kernel(args, meta: dict) -> dict:
    """The kernel alone, in this process: each arm's job assembled once, the schedule run --seeds times;
    words/s on the clock and per CPU second of this process (steadier on a shared machine)."""
    corpus = str(prepare_corpus.prepare(args.words))
    arms = [(label, parse_settings(settings)) for label, _, settings in
            (arm.partition(":") for arm in args.kernel_arms.split(";"))]
    runs = []
    for model in args.models.split(","):
        for subwords in (True, False):
            config = TrainConfig(model=model, dim=args.dim, window=args.window, negative=args.negative,
                                 sample=args.sample, min_count=args.min_count, threads=args.threads,
                                 seed=args.seed, subwords=subwords, min_n=args.min_n, max_n=args.max_n,
                                 buckets=args.buckets)
            job = Trainer(config, [TaskSpec("corpus", (corpus,))])._assemble()
            for rep in range(args.seeds):
                for label, settings in arms if rep % 2 == 0 else arms[::-1]:
                    for key, value in settings.items():
                        setattr(job.kernel.params, key, value)
                    cpu = time.process_time()
                    stats = job.kernel.run(0, job.n_chunks, lambda *_: None)
                    cpu = time.process_time() - cpu
                    runs.append({"model": model, "subwords": subwords, "arm": label, "rep": rep,
                                 "words": stats["words"], "words_per_cpu_second": stats["words"] / cpu,
                                 "words_per_second": stats["words"] / stats["seconds"], "loadavg": loadavg()})
                    print(json.dumps(runs[-1]), flush=True)
            del job
    return {"corpus": corpus, "runs": runs}


def kernel_table(results: dict) -> list[str]:
    lines = ["| model | subwords | arm | words/s (each rep) | words per CPU second (each rep) |",
             "|---|---|---|---|---|"]
    cells: dict = {}
    for run in results["runs"]:
        cells.setdefault((run["model"], run["subwords"], run.get("arm", "")), []).append(run)
    for (model, subwords, arm), runs in cells.items():
        lines.append(f"| {model} | {'yes' if subwords else 'no'} | {arm} | "
                     + ", ".join(f"{r['words_per_second'] / 1e3:,.0f}k" for r in runs) + " | "
                     + ", ".join(f"{r['words_per_cpu_second'] / 1e3:,.0f}k" for r in runs) + " |")
    return lines


def speed(args, meta: dict) -> dict:
    """Every tool on each model, one after the other; timings only."""
    corpus, words, work = corpus_and_work(args)
    runs = []
    for algorithm in args.models.split(","):
        for record in english_runs(args, corpus, words, work, algorithm):
            Path(record["model"]).unlink(missing_ok=True)
            (work / "mtlembed-vectors.bin").unlink(missing_ok=True)
            runs.append(record)
    return {"corpus": {"path": str(corpus), "words": words}, "runs": runs}


def speed_table(results: dict) -> list[str]:
    lines = ["| model | tool | train words/s | mtlembed's x | end-to-end s | mtlembed's x | load before |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in results["runs"]:
        # mtlembed's runs of a model (--tools may list it between the peers): the median of each figure,
        # so one run in a fast or slow minute of this shared machine does not make the ratio
        ours = [m for m in results["runs"] if m["tool"] == "mtlembed" and m["algorithm"] == r["algorithm"]]
        speed = statistics.median(m["train_words_per_second"] for m in ours) / r["train_words_per_second"]
        e2e = r["wall_seconds"] / statistics.median(m["wall_seconds"] for m in ours)
        lines.append(f"| {r['algorithm']} | {r['tool']} | {r['train_words_per_second'] / 1e3:,.0f}k | "
                     f"{speed:.2f} | {r['wall_seconds']:.1f} | {e2e:.2f} | {r['loadavg_before']} |")
    return lines


class StartedAt(Trainer):
    """A Trainer whose words' rows start in [-words/dim, words/dim) and buckets' in [-buckets/dim, ...)."""

    def __init__(self, words: float, buckets: float, *args):
        super().__init__(*args)
        self.ranges = words, buckets

    def _initial_matrices(self, rows, n_heads):
        trainer_module.INIT_RANGE = self.ranges[0]
        w_in, w_out = super()._initial_matrices(rows, n_heads)
        w_in[rows:] *= self.ranges[1] / self.ranges[0]  # uniform draws, scaled: uniform in the range
        return w_in, w_out


def init_ranges(args, meta: dict) -> dict:
    corpus = prepare_corpus.prepare(args.words)
    runs = []
    for model in args.models.split(","):
        for pair in args.init_ranges.split(","):
            words, buckets = (float(x) for x in pair.split("/"))
            for seed in range(args.seed, args.seed + args.seeds):
                config = TrainConfig(model=model, dim=args.dim, window=args.window, negative=args.negative,
                                     sample=args.sample, min_count=args.min_count, epochs=args.epochs,
                                     threads=args.threads, seed=seed, subwords=True, min_n=args.min_n,
                                     max_n=args.max_n, buckets=args.buckets, alpha=args.alpha)
                embeddings = StartedAt(words, buckets, config, [TaskSpec("corpus", (str(corpus),))]).train()
                rw = ev.similarity(embeddings, RARE_WORDS, oov="subwords")
                runs.append({"model": model, "words": words, "buckets": buckets, "seed": seed,
                             "analogy": ev.analogy(embeddings, QUESTIONS, restrict=RESTRICT)["accuracy"],
                             "rw": rw["spearman"]})
                print(json.dumps(runs[-1]), flush=True)
    return {"corpus": str(corpus), "runs": runs}


def init_table(results: dict) -> list[str]:
    lines = ["| model | words' rows start in +-w/dim: w | buckets' rows: b | analogy % (top 30k), mean | "
             "each seed | RW rho (OOV from n-grams), mean |", "|---|---:|---:|---:|---|---:|"]
    cells: dict = {}
    for run in results["runs"]:
        cells.setdefault((run["model"], run["words"], run["buckets"]), []).append(run)
    for (model, words, buckets), runs in cells.items():
        analogy = [100 * r["analogy"] for r in runs]
        rw = sum(r["rw"] for r in runs) / len(runs)
        lines.append(f"| {model} | {words:g} | {buckets:g} | {sum(analogy) / len(analogy):.2f} | "
                     f"{', '.join(f'{a:.2f}' for a in analogy)} | {rw:.3f} |")
    return lines


def joint_job(args):
    """The example job on this English corpus, at this size, with the arm's subwords."""
    job = jobconfig.load_job(JOINT_JOB)
    english_task = dataclasses.replace(job.tasks[0], paths=(str(prepare_corpus.prepare(args.words)),))
    config = job.config.replace(dim=args.dim, epochs=args.epochs, threads=args.threads, seed=args.seed,
                                refine="none", min_n=args.min_n, max_n=args.max_n, buckets=args.buckets)
    return job, (english_task, *job.tasks[1:]), config


def not_identical(test: Path, work: Path) -> Path:
    """The test split without the source words one of whose translations is the word itself (a third
    to two fifths of MUSE's en-es/de/fr queries): what shared n-grams cannot answer by spelling alone."""
    pairs = [line.split() for line in test.read_text(encoding="utf-8").splitlines() if line.strip()]
    identical = {source for source, target in pairs if source == target}
    path = work / f"{test.stem}.not-identical.txt"
    path.write_text("".join(f"{s} {t}\n" for s, t in pairs if s not in identical), encoding="utf-8")
    return path


def joint(args, meta: dict) -> dict:
    job, tasks, config = joint_job(args)
    work = RUNS / args.name
    work.mkdir(parents=True, exist_ok=True)
    languages = [t.lang for t in tasks[1:]]
    arms = {}
    for arm in args.arms.split(","):
        sharing = "language" if arm == "none" else arm
        arm_config = config.replace(subwords=arm != "none", subword_sharing=sharing)
        trainer = Trainer(arm_config, tasks, job.parallel, job.dictionaries)
        start = time.perf_counter()
        embeddings = trainer.train(progress=False)
        seconds = time.perf_counter() - start
        refined = crosslingual.refine(embeddings, "en", job.dictionaries)  # the job's refine = procrustes
        result = {"seconds": seconds, "words_per_second": trainer.report.words_per_second,
                  "vocab_size": len(embeddings), "bli": {}}
        for lang in languages:
            test = MUSE / f"en-{lang}.5000-6500.txt"
            scores = {"refined": ev.bli(refined.by_language("en"), refined.by_language(lang), test,
                                        method="csls", max_vocab=200000),
                      "refined-not-identical": ev.bli(refined.by_language("en"), refined.by_language(lang),
                                                      not_identical(test, work), method="csls",
                                                      max_vocab=200000)}
            if arm != "none":  # unseen English words of the test split scored from their n-grams
                source, target = embeddings.by_language("en"), embeddings.by_language(lang)
                scores["unrefined-oov"] = ev.bli(source, target, test, method="csls", max_vocab=200000,
                                                 oov="subwords")
            result["bli"][lang] = {name: {key: s[key] for key in ("p@1", "p@10", "coverage",
                                                                  "coverage_vocabulary", "queries")}
                                   for name, s in scores.items()}
        print(arm, json.dumps(result), flush=True)
        arms[arm] = result
        del trainer, embeddings, refined
    return {"job": str(JOINT_JOB), "config": dataclasses.asdict(config), "arms": arms}


def english_table(results: dict) -> list[str]:
    runs = results["runs"]
    fasttext = next((r for r in runs if r["tool"] == "fasttext"), None)
    lines = ["| tool | train words/s | x fastText | train s | end-to-end s | x fastText | peak RSS MB | "
             "analogy % (top 30k) | RW rho, OOV skipped (coverage) | RW rho, OOV from n-grams (coverage) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        s = r["scores"]
        rw = ["n/a" if f"rw_{oov}" not in s else f"{s[f'rw_{oov}']['spearman']:.3f} "
              f"({100 * s[f'rw_{oov}']['coverage']:.1f}%)" for oov in ("skip", "subwords")]
        speed = r["train_words_per_second"] / fasttext["train_words_per_second"] if fasttext else float("nan")
        e2e = fasttext["wall_seconds"] / r["wall_seconds"] if fasttext else float("nan")
        lines.append(f"| {r['tool']} | {r['train_words_per_second'] / 1e3:,.0f}k | {speed:.2f} | "
                     f"{r['train_seconds']:.1f} | {r['wall_seconds']:.1f} | {e2e:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | "
                     f"{100 * s['analogy']:.2f} | {rw[0]} | {rw[1]} |")
    return lines


def joint_table(results: dict) -> list[str]:
    arms = results["arms"]
    lines = ["| arm | seconds | words/s | " + " | ".join(
        f"en-{lang} P@1 (coverage) | en-{lang} P@1, not identical | en-{lang} P@1 unrefined, OOV from n-grams"
        for lang in next(iter(arms.values()))["bli"]) + " |",
        "|---|---:|---:|" + "---:|---:|---:|" * len(next(iter(arms.values()))["bli"])]
    for name, arm in arms.items():
        cells = []
        for scores in arm["bli"].values():
            for kind in ("refined", "refined-not-identical", "unrefined-oov"):
                s = scores.get(kind)
                cells.append("n/a" if s is None else f"{100 * s['p@1']:.2f} ({100 * s['coverage']:.0f}%)")
        label = "no subwords" if name == "none" else f"subwords, sharing {name}"
        lines.append(f"| {label} | {arm['seconds']:.0f} | {arm['words_per_second'] / 1e3:,.0f}k | "
                     + " | ".join(cells) + " |")
    return lines


def write(args, meta: dict, results: dict) -> None:
    out = HERE / "results" / args.name
    document = {"meta": meta, "args": vars(args), **results}
    Path(f"{out}.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
    table = {"english": english_table, "joint": joint_table, "init": init_table, "speed": speed_table,
             "variants": variants_table, "kernel": kernel_table, "unused": unused_table}[args.part](results)
    model = {"english": f"{args.models}, ", "variants": f"{args.models}, ", "kernel": f"{args.models}, ",
             "unused": f"{args.models}, ",
             "speed": f"{args.models} (alpha 0.025 sg, 0.05 cbow), "}.get(args.part, "")
    settings = (f"{model}dim {args.dim}, window {args.window}, negative {args.negative}, sample "
                f"{args.sample}, min_count {args.min_count}, epochs {args.epochs}, threads {args.threads}"
                if args.part != "joint" else
                f"{JOINT_JOB.name}'s [train] with dim {args.dim}, epochs {args.epochs}, "
                f"threads {args.threads}")
    dirty = " (uncommitted changes)" if meta["git_dirty"] else ""
    text = [f"# {args.name}", "", f"Command: `{meta['command']}`", "",
            f"- date {meta['date']}, git `{meta['git_sha']}`{dirty}; CPU {meta['cpu']}, "
            f"{meta['cores']} cores",
            f"- load average before / after: {meta['loadavg_before']} / {meta['loadavg_after']} "
            "(the machine is shared: ratios within this run are what counts)",
            f"- {settings}; n-grams {args.min_n}-{args.max_n}, {args.buckets} buckets", "", *table, ""]
    if args.part == "speed":
        text += ["Train words/s = corpus words x epochs / training seconds (each tool's own stamps, as "
                 "run.py's); end to end = the whole process (start-up, vocabulary, training, writing the "
                 "fastText .bin with its bucket rows). mtlembed's x = its words/s over the tool's, and "
                 "the tool's end-to-end seconds over its (where mtlembed ran several times, the median of "
                 "its runs: this shared VM's speed drifts by up to 1.7x over minutes). The tools ran one "
                 "after the other, at normal priority, holding /tmp/mtl-speed.lock; the load average "
                 "before each run is in the table, and the mean cores others used during each run: "
                 + ", ".join(f"{r['tool']} {r['algorithm']} {r['others_cores']:.2f}" for r in results["runs"])
                 + ".", ""]
    if args.part == "english":
        text += ["Train words/s = corpus words x epochs / training seconds (each tool's own stamps, as "
                 "run.py's); end-to-end = the whole process (start-up, vocabulary, training, writing the "
                 ".bin model). "
                 "'x fastText' is the ratio to fastText's (speed: higher is faster; end to end: fastText's "
                 "seconds over the tool's). Every model is scored by mtlembed's evaluator from its .bin "
                 "(mtlembed-plain: its word2vec vectors, no n-grams).", "",
                 "Mean cores used by other processes during each run: "
                 + ", ".join(f"{r['tool']} {r['others_cores']:.2f}" for r in results["runs"]) + ".", ""]
    Path(f"{out}.md").write_text("\n".join(text))
    print("\n".join(text))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("english", "joint", "init", "speed", "variants", "kernel", "unused"))
    parser.add_argument("--name", required=True, help="results file stem (benchmarks/results/NAME.json, .md)")
    parser.add_argument("--words", type=prepare_corpus.parse_words, default=17_000_000,
                        help="the text8-style English corpus of this many words (prepare_corpus.py)")
    parser.add_argument("--tools", default=None,
                        help="english: mtlembed,mtlembed-plain,fasttext,gensim,gensim-iterable; "
                             "speed: no mtlembed-plain")
    parser.add_argument("--models", default=None, help="english, init: sg (or cbow, or both); speed: sg,cbow")
    parser.add_argument("--arms", default="none,language,all",
                        help="joint: none (no subwords) and the sharing modes")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-4)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=2,
                        help="init, variants, unused: seeds --seed, --seed + 1, ...")
    parser.add_argument("--variants", default="default:;per-pair negatives:shared_negatives=false",
                        help="variants: LABEL:SETTINGS;... (SETTINGS: quality_launch.py's key=value,...)")
    parser.add_argument("--kernel-arms", default=":",
                        help="kernel: LABEL:SETTINGS;... alternated on each job (SETTINGS as --variants')")
    parser.add_argument("--init-ranges", default="4/4,4/1,1/1,2/2",
                        help="init: the starts to compare, words/buckets (4/4: the trainer's)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="init: mtlembed's learning rate (default: its own, 0.025 for sg)")
    parser.add_argument("--min-n", type=int, default=3)
    parser.add_argument("--max-n", type=int, default=6)
    parser.add_argument("--buckets", type=int, default=2_000_000)
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per training run")
    parser.add_argument("--keep", action="store_true", help="keep the models in benchmarks/.cache/runs/NAME")
    args = parser.parse_args(argv)
    speed_run = args.part == "speed"
    args.tools = args.tools or ("mtlembed," if speed_run else "mtlembed,mtlembed-plain,") + "fasttext,gensim"
    args.models = args.models or ("sg,cbow" if speed_run else "sg")
    git_sha, dirty = git_state()
    cpu, _ = cpu_info()
    meta = {"command": shlex.join(["python", "benchmarks/bench_subwords.py", *(argv or sys.argv[1:])]),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git_sha": git_sha,
            "git_dirty": dirty, "cpu": cpu, "cores": os.cpu_count(), "loadavg_before": loadavg()}
    results = {"english": english, "joint": joint, "init": init_ranges, "speed": speed,
               "variants": variants, "kernel": kernel, "unused": unused}[args.part](args, meta)
    meta["loadavg_after"] = loadavg()
    write(args, meta, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
