"""The `mtlembed` command: train, info, eval (one function per verb).

Errors print one line `mtlembed: error: ...` and exit 1; usage errors exit 2;
Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from . import __version__, backend, dev_eval, growth, io, jobconfig, paths
from . import config as config_module
from .errors import ConfigError, MtlembedError
from .fasttext_format import fasttext_paths, save_run
from .model import per_language_paths
from .tasks import TaskSpec
from .trainer import Terminated, Trainer


def _train_job(args: argparse.Namespace) -> Trainer:
    """A new trainer from the arguments, or the one saved in --resume's checkpoint."""
    trainer = _resumed_trainer(args) if args.resume else _new_trainer(args)
    if not args.output:
        raise ConfigError("give the output with -o/--output (OUT.bin, OUT.vec or OUT.txt; a prefix with "
                          "--per-language)")
    return trainer


def _resumed_trainer(args: argparse.Namespace) -> Trainer:
    flags = [name for name in config_module.field_names() if getattr(args, name) is not None]
    if args.corpus or args.config or flags:
        raise ConfigError("--resume continues a run as it was configured: give no corpus, --config or "
                          "training flags")
    trainer = Trainer.resume(args.resume)
    for key in ("output", "report", "checkpoint_every", "fasttext_out"):
        if getattr(args, key) is None:
            setattr(args, key, trainer.notes.get(key))
    args.checkpoint_dir = args.checkpoint_dir or args.resume
    return trainer


def _new_trainer(args: argparse.Namespace) -> Trainer:
    if args.config:
        if args.corpus:
            raise ConfigError("give the corpora in the --config file's [[task]] tables, not on the "
                              "command line")
        flags = {name: getattr(args, name) for name in config_module.field_names()}
        job = jobconfig.apply_overrides(jobconfig.load_job(args.config),
                                        {**flags, "per_language": args.per_language})
        trainer = Trainer(job.config, job.tasks, job.parallel, job.dictionaries)
        per_language, binary = job.output.per_language, job.output.binary
    else:
        if not args.corpus:
            raise ConfigError("give a CORPUS, a --config file, or --resume DIR")
        trainer = Trainer(config_module.from_arguments(args), [TaskSpec("corpus", tuple(args.corpus))])
        per_language, binary = bool(args.per_language), None
    trainer.notes = {"output": args.output, "report": args.report, "checkpoint_every": args.checkpoint_every,
                     "per_language": per_language, "binary": binary, "fasttext_out": args.fasttext_out}
    return trainer


def _output_paths(output: str, languages: list[str], per_language: bool, binary) -> list[str]:
    """Where the vectors go: OUT itself, or OUT.<lang>.vec|bin per language (OUT is then a prefix)."""
    if per_language:
        return per_language_paths(output, languages, bool(binary))
    if binary is not None and io.vectors_suffix(output)[0] is None:
        return [output + (".bin" if binary else ".vec")]
    return [output]


def cmd_train(args: argparse.Namespace) -> int:
    trainer = _train_job(args)
    languages = list(dict.fromkeys(t.lang for t in trainer.task_specs))
    per_language = trainer.notes.get("per_language") and len(languages) > 1
    binary = trainer.notes.get("binary")
    outputs = _output_paths(args.output, languages, per_language, binary)
    models = fasttext_paths(args.fasttext_out, trainer.config, languages) if args.fasttext_out else []
    if trainer.finished:  # exit 0: what --resume asks for, a finished run with its outputs, is there
        print(f"mtlembed: the run in {args.resume} is finished; its vectors are in {', '.join(outputs)}",
              file=sys.stderr)
        return 0
    # Every path before the corpus is read: a typo fails in a second, not after hours of training,
    # and no output may overwrite an input or another output.
    paths.check_run(vectors=outputs + models, report=args.report, checkpoint_dir=args.checkpoint_dir,
                    cache_dir=trainer.config.cache_dir, tasks=trainer.task_specs, parallel=trainer.parallel,
                    dictionaries=trainer.dictionaries, config_file=args.config,
                    eval_files=[path for _, path in dev_eval.dev_files(trainer.config)])
    growth.check_outputs(trainer.config, [*outputs, *models, *([args.report] if args.report else [])])
    if args.resume and not args.quiet:
        writes = [*outputs, *models,
                  *(p for p in (args.report, trainer.config.cache_dir, args.checkpoint_dir) if p)]
        print(f"mtlembed: resuming the run saved in {args.resume}: reads {', '.join(trainer.input_paths())}; "
              f"writes {', '.join(writes)}", file=sys.stderr)
    start = time.perf_counter()
    config = trainer.config
    try:
        embeddings = trainer.train(progress=not args.quiet, checkpoint_dir=args.checkpoint_dir,
                                   checkpoint_every=args.checkpoint_every or "10m")
    except (KeyboardInterrupt, Terminated) as stop:
        if getattr(stop, "checkpoint", None):
            print(f"mtlembed: checkpoint saved; continue with: mtlembed train --resume "
                  f"{args.checkpoint_dir}", file=sys.stderr)
        raise
    if not trainer.writes_outputs:  # a distributed run's other ranks: rank 0 writes
        return 0
    export_start = time.perf_counter()
    if models:  # before the matrices are let go: it writes them
        save_run(args.fasttext_out, trainer)
    trainer.corpus = trainer.w_in = trainer.w_out = None  # not held while the vectors are written
    if per_language:
        outputs = embeddings.save_per_language(args.output, binary=bool(binary))
    else:
        embeddings.save(outputs[0], binary=io.vectors_format(outputs[0])[0])
    report = trainer.report
    report.export_seconds = time.perf_counter() - export_start
    report.total_seconds = time.perf_counter() - start
    outputs += models
    report.outputs = [str(Path(p).absolute()) for p in outputs]
    if args.report and args.report.endswith(".html"):
        from .html_report import run_map, write_html
        write_html(dataclasses.asdict(report), args.report, word_pairs=run_map(embeddings, config))
    elif args.report:
        with io.atomic_write(args.report, "w") as handle:
            json.dump(dataclasses.asdict(report), handle, indent=2)
    if args.checkpoint_dir:  # the outputs are written: --resume now says the run is finished
        trainer.finish_checkpoint(args.checkpoint_dir)
    if not args.quiet and report.init:
        print(f"mtlembed: init: {report.init['rows']} of {report.init['of']} rows from {report.init['path']}",
              file=sys.stderr)
    if not args.quiet:
        print(f"mtlembed: {len(embeddings)} words x {config.dim} dims -> {', '.join(outputs)} "
              f"({report.words_per_second / 1e6:.2f}M words/s, {report.total_seconds:.1f} s in all)",
              file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    details = backend.info()
    details["version"] = __version__
    if args.json:
        print(json.dumps(details))
        return 0
    print(f"mtlembed {details['version']}")
    print(f"SIMD level:     {details['simd']} (available: {', '.join(details['simd_available'])})")
    print(f"CUDA compiled:  {'yes' if details['cuda_compiled'] else 'no'}")
    print(f"CUDA devices:   {', '.join(details['cuda_devices']) or 'none'}")
    print(f"CUDA archs:     {', '.join(details['cuda_architectures']) or 'none'}")
    return 0


DEMO_DATA = Path(__file__).resolve().parent / "data"
DEMO_WORDS = {"en": ("dog", "house", "water", "king", "music", "tomorrow", "happy", "eat"),
              "es": ("libro", "ciudad", "rojo", "trabajo")}


def cmd_demo(args: argparse.Namespace) -> int:
    """A joint English-Spanish model from the shipped Tatoeba pairs: cross-lingual
    neighbours, and BLI on the MUSE dictionary when the shared data is found."""
    from .eval import bli, find_data_dir
    from .tasks import ParallelSpec

    sides = {lang: str(DEMO_DATA / f"tatoeba.en-es.{lang}.gz") for lang in ("en", "es")}
    for path in sides.values():
        if not Path(path).is_file():
            raise ConfigError(f"the demo corpus {path} is missing from this installation")
    data = find_data_dir(args.data_dir)  # a --data-dir that does not exist fails now, not after training
    dictionary = data / "bli" / "muse_reconstructed" / "en-es.0-5000.txt" if data else None
    # Each side is a monolingual task; the aligned pairs tie the two languages. No dictionary.
    tasks = [TaskSpec(lang, (path,), lang=lang) for lang, path in sides.items()]
    parallel = [ParallelSpec("tatoeba-en-es", ("en", "es"), (sides["en"], sides["es"]))]
    outputs = per_language_paths(args.output, list(sides))
    paths.check_run(vectors=outputs, tasks=tasks, parallel=parallel,
                    eval_files=[dictionary] if dictionary else [])
    config = config_module.TrainConfig(dim=100, epochs=5, window=5, negative=10, min_count=3, sample=1e-4,
                                       lowercase=True)
    print("mtlembed demo: joint English-Spanish skip-gram on the Tatoeba pairs shipped with the package "
          f"(mtlembed/data, CC BY 2.0 FR), {config.epochs} epochs", file=sys.stderr)
    trainer = Trainer(config, tasks, parallel=parallel)
    embeddings = trainer.train(progress=True)
    embeddings.save_per_language(args.output)
    report = trainer.report
    print(f"{len(embeddings)} words x {config.dim} dims from {report.corpus_words} corpus words, "
          f"{report.words_per_second / 1e6:.2f}M words/s -> {', '.join(outputs)}")
    for source, target in (("en", "es"), ("es", "en")):
        print(f"nearest {target} words of {source} words:")
        candidates = embeddings.by_language(target)
        for word in DEMO_WORDS[source]:
            if f"{source}:{word}" in embeddings:
                neighbours = candidates.most_similar(embeddings[f"{source}:{word}"], topn=4)
                print(f"  {word:>9}: {', '.join(w for w, _ in neighbours)}")
    if dictionary is None or not dictionary.is_file():
        print("BLI: the MUSE en-es dictionary (bli/muse_reconstructed/en-es.0-5000.txt of the shared data) "
              "was not found; set MTLEMBED_DATA or pass --data-dir to score the model")
        return 0
    result = bli(embeddings.by_language("en"), embeddings.by_language("es"), dictionary)
    print(f"BLI en->es on {dictionary.name} (MUSE's train split, CSLS; no dictionary was used in training): "
          f"P@1 {100 * result['p@1']:.1f}%, P@10 {100 * result['p@10']:.1f}% over {result['queries']} "
          f"English words ({100 * result['coverage']:.0f}% of the dictionary's; the others are not in this "
          "small corpus)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtlembed", description="Fast joint word embeddings.")
    parser.add_argument("--version", action="version", version=f"mtlembed {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    train = verbs.add_parser("train", help="train embeddings on a corpus",
                             description="Train skip-gram or CBOW embeddings and write them in word2vec "
                                         "format.")
    train.add_argument("corpus", nargs="*", metavar="CORPUS",
                       help="text files, globs or folders (plain, .gz, .bz2 or .xz)")
    train.add_argument("-o", "--output", metavar="OUT",
                       help="output vectors: .bin (word2vec binary), .txt or .vec (text), each optionally "
                            ".gz; with --per-language a prefix (OUT.<lang>.vec)")
    train.add_argument("--config", metavar="TOML",
                       help="a joint run: [train], [[task]], [[parallel]], [[dictionary]], [output] "
                            "(command-line flags override [train])")
    train.add_argument("--per-language", action=argparse.BooleanOptionalAction, default=None,
                       help="one file per language, OUT.<lang>.vec, keys without the lang: prefix "
                            "(--no-per-language: one file, keys lang:word, whatever the --config file says)")
    config_module.add_arguments(train)
    train.add_argument("--fasttext-out", metavar="MODEL.bin",
                       help="with --subwords, also write fastText's binary model (fasttext.load_model and "
                            "gensim's load_facebook_model read it); a joint run writes MODEL.<lang>.bin")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--report", metavar="FILE",
                       help="write timings and counts of the run to this .json file, or as a page to "
                            "this .html file")
    train.add_argument("--checkpoint-dir", metavar="DIR",
                       help="save the run's state here periodically and on Ctrl-C/SIGTERM")
    train.add_argument("--checkpoint-every", metavar="INTERVAL",
                       help="time (30s, 10m, 1h) or words (5000000w, 50Mw) between checkpoints "
                            "(default: 10m)")
    train.add_argument("--resume", metavar="DIR", help="continue the run saved in this checkpoint folder")
    train.set_defaults(func=cmd_train)

    demo = verbs.add_parser("demo", help="train a joint English-Spanish model on the shipped corpus",
                            description="Train joint English-Spanish embeddings on the Tatoeba pairs shipped "
                                        "with the package, print cross-lingual neighbours and the BLI score.")
    demo.add_argument("--data-dir", metavar="DIR", help="the shared data folder (default: $MTLEMBED_DATA or "
                                                        "../shared/data)")
    demo.add_argument("-o", "--output", default="mtlembed-demo", metavar="PREFIX",
                      help="writes PREFIX.en.vec and PREFIX.es.vec (default: mtlembed-demo)")
    demo.set_defaults(func=cmd_demo)

    info = verbs.add_parser("info", help="version, SIMD level, CUDA",
                            description="Show the build and hardware.")
    info.add_argument("--json", action="store_true", help="one JSON object")
    info.set_defaults(func=cmd_info)

    try:
        from .eval import cli as eval_cli
    except ImportError:
        eval_cli = None
    if eval_cli is not None:
        eval_cli.add_parser(verbs)
    from . import html_report, query  # each verb's arguments live in its own module

    query.add_parser(verbs)
    html_report.add_parser(verbs)
    from .align import cli as align_cli  # vectors only, like eval

    align_cli.add_parser(verbs)
    align_cli.add_induce_parser(verbs)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"mtlembed: warning: {message}", file=sys.stderr)


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    previous = (signal.signal(signal.SIGTERM, _terminate)
                if threading.current_thread() is threading.main_thread() else None)
    try:
        args = build_parser().parse_args(argv)  # within the try: a Ctrl-C here is one line too
        warnings.showwarning = _show_warning
        return int(args.func(args) or 0)
    except MtlembedError as error:
        print(f"mtlembed: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mtlembed: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("mtlembed: terminated", file=sys.stderr)
        return 143
    except OSError as error:  # e.g. a full disk while writing: still one line, no traceback
        print(f"mtlembed: error: {error}", file=sys.stderr)
        return 1
    except MemoryError:  # e.g. the vocabulary of a huge corpus of junk (std::bad_alloc in C++ too)
        print("mtlembed: error: out of memory; raise --min-count, or lower --max-vocab or --dim",
              file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
