"""The ``mtlembed align`` verb: map SRC onto TGT and write both in word2vec format.

The main CLI calls :func:`add_parser`; errors are MtlembedError subclasses,
which it prints as one line ``mtlembed: error: ...`` (exit 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from mtlembed.errors import ConfigError

from .core import CRITERIA, METHODS, AlignOptions
from .induction import DIRECTIONS

__all__ = ["add_induce_parser", "add_parser"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``align`` verb to an argparse `subparsers` object."""
    p = subparsers.add_parser(
        "align", help="map one embedding space onto another (MUSE / VecMap)",
        description="Align two word2vec files: Procrustes on a seed dictionary, MUSE's "
                    "iterative refinement, or VecMap's self-learning from identical strings when there is no "
                    "dictionary. Writes OUT.<src>.vec (mapped source) and OUT.<tgt>.vec (normalized target).")
    p.add_argument("src", metavar="SRC", help="source vectors (word2vec text or binary)")
    p.add_argument("tgt", metavar="TGT", help="target vectors (word2vec text or binary, same dimension)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output prefix: OUT.<src-lang>.vec and OUT.<tgt-lang>.vec (.bin with --binary)")
    seed = p.add_mutually_exclusive_group()
    seed.add_argument("--dictionary", metavar="D", help="seed pairs, 'source target' per line (MUSE format)")
    seed.add_argument("--identical", action="store_true",
                      help="no dictionary: seed with the words spelled the same on both sides (the default)")
    seed.add_argument("--numerals", action="store_true", help="no dictionary: seed with the shared numerals")
    p.add_argument("--method", choices=METHODS,
                   help="procrustes (one fit), iterative (MUSE refinement) or self-learning (VecMap) "
                        "(default: iterative with --dictionary, else self-learning)")
    p.add_argument("--normalize", default="unit,center,unit", metavar="STEPS",
                   help="steps applied to both spaces first: unit, center, unitdim, none "
                        "(default: %(default)s)")
    p.add_argument("--iterations", type=int,
                   help="iterative: refinements (default 5); self-learning: at most this many (default 100)")
    p.add_argument("--cutoff", type=int, help="most frequent words of each side used to induce dictionaries "
                                              "(default: 15000 iterative, 20000 self-learning)")
    p.add_argument("--direction", choices=DIRECTIONS,
                   help="induced pairs: mutual nearest neighbours, union of both directions, or forward "
                        "(default: mutual for iterative, union for self-learning)")
    p.add_argument("--csls-k", type=int, default=10, help="CSLS neighbourhood (default: %(default)s)")
    p.add_argument("--stochastic", type=float, default=1.0, metavar="P",
                   help="self-learning: keep each score with probability P, doubled when the criterion "
                        "stalls (VecMap uses 0.1; default 1: deterministic)")
    p.add_argument("--threshold", type=float, default=AlignOptions.threshold,
                   help="self-learning stops when the criterion improves by less (default: %(default)s; "
                        "smaller ones take many more iterations for little gain)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument("--criterion", choices=CRITERIA, default="mean-cosine",
                   help="which fit refinement keeps: the best mean cosine of the CSLS translations of the "
                        "10k most frequent source words (MUSE), or mean CSLS score (default: %(default)s)")
    p.add_argument("--keep-seed", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the seed pairs in every induced dictionary (default: with --dictionary)")
    p.add_argument("--multistep", action=argparse.BooleanOptionalAction, default=True,
                   help="end with VecMap's multi-step map: whitening, re-weighting, de-whitening, fitted on "
                        "the final dictionary; not orthogonal (default: on; --no-multistep: orthogonal)")
    p.add_argument("--src-lang", default="src", help="source name in the output names; with prefixed keys "
                                                     "(en:house) in SRC, the prefix to select (default: src)")
    p.add_argument("--tgt-lang", default="tgt", help="target name, as --src-lang (default: tgt)")
    p.add_argument("--binary", action="store_true", help="write word2vec binary (OUT.<lang>.bin)")
    p.add_argument("--report", metavar="JSON", help="write the run's details (dictionary sizes, objectives)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from mtlembed import io, paths
    from mtlembed.dictionary import read_dictionary
    from mtlembed.eval.vectors import resolve
    from mtlembed.model import per_language_paths

    from .core import align

    if args.src_lang == args.tgt_lang:
        raise ConfigError(f"--src-lang and --tgt-lang are both {args.src_lang!r}: the outputs would collide")
    outputs = per_language_paths(args.output, [args.src_lang, args.tgt_lang], args.binary)
    inputs = [args.src, args.tgt] + ([args.dictionary] if args.dictionary else [])
    paths.check_run(vectors=outputs, report=args.report, eval_files=inputs)  # before anything is read
    method = args.method or ("iterative" if args.dictionary else "self-learning")
    options = AlignOptions(method=method, normalize=args.normalize, iterations=args.iterations,
                           cutoff=args.cutoff, direction=args.direction, csls_k=args.csls_k,
                           threshold=args.threshold, stochastic=args.stochastic, seed=args.seed,
                           criterion=args.criterion, keep_seed=args.keep_seed,
                           multistep=args.multistep).resolved()
    dictionary = read_dictionary(args.dictionary) if args.dictionary else None
    src = _side(resolve, args.src, args.src_lang)
    tgt = _side(resolve, args.tgt, args.tgt_lang)
    log = None if args.quiet else (lambda line: print(f"mtlembed {line}", file=sys.stderr, flush=True))
    seed_with = "dictionary" if dictionary is not None else ("numerals" if args.numerals else "identical")
    fields = {k: v for k, v in dataclasses.asdict(options).items() if k != "method"}
    mapped_src, mapped_tgt, info = align(src, tgt, dictionary, method, seed_with=seed_with, log=log,
                                         copy=False, **fields)  # the vectors were just read: ours
    with io.atomic_group() as group:
        for path, side in zip(outputs, (mapped_src, mapped_tgt)):
            io.save_word2vec(path, side.words, side.vectors, binary=args.binary, group=group)
        if args.report:
            report = {k: v for k, v in info.items() if k not in ("mapping", "target_mapping")}
            report.update(src=args.src, tgt=args.tgt, dictionary=args.dictionary, outputs=outputs)
            with group.write(args.report, "w") as handle:
                json.dump(report, handle, indent=2)
    if log:
        log(f"align: {info['method']} from {info['seed_pairs']} seed pairs ({info['seed']}) -> "
            f"{', '.join(outputs)}")
    return 0


def _side(resolve, path, lang):
    """The vectors of one side: the whole file, or its `lang:` keys when its keys carry prefixes."""
    vectors = resolve(path)
    sample = vectors.words[:1000]
    joint = sum(":" in w[1:] for w in sample) > len(sample) // 2
    return resolve(vectors, lang) if joint else vectors


def add_induce_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``induce`` verb (a dictionary from line-aligned text) to an argparse `subparsers` object."""
    p = subparsers.add_parser(
        "induce", help="induce a bilingual dictionary from line-aligned text (Dice, mutual best)",
        description="Pairs each word of the first language with the word of the second that it shares the "
                    "most aligned lines with, by Dice = 2 c(s,t) / (c(s) + c(t)) over lines, keeping pairs "
                    "that are each other's best and share at least --min-count lines. Words are the "
                    "trainer's tokens. Writes `first second` per line, best first (MUSE format).")
    p.add_argument("files", nargs="+", metavar="PARALLEL",
                   help="line-aligned files in pairs: FIRST SECOND [FIRST SECOND ...] (first language first)")
    p.add_argument("-o", "--output", required=True, metavar="DICT", help="the dictionary to write")
    p.add_argument("--langs", nargs=2, default=("src", "tgt"), metavar=("FIRST", "SECOND"),
                   help="the two languages (names in messages and the report; default: src tgt)")
    p.add_argument("--lowercase", action="store_true", help="lowercase the text first (as training's)")
    p.add_argument("--min-count", type=int, default=3,
                   help="aligned lines a pair must share (default: %(default)s)")
    p.add_argument("--scores", action="store_true", help="add the Dice score and the shared lines as columns "
                                                         "(the file is then no longer MUSE format)")
    p.add_argument("--threads", type=int, default=0, help="tokenizer threads (default: all cores)")
    p.set_defaults(func=run_induce)
    return p


def run_induce(args: argparse.Namespace) -> int:
    from mtlembed import paths
    from mtlembed.atomic import atomic_write

    from .dice import induce_dictionary

    if len(args.files) % 2:
        raise ConfigError(f"induce: parallel files come in pairs (first language, second language); got "
                          f"{len(args.files)} files")
    pairs = list(zip(args.files[::2], args.files[1::2]))
    paths.check_run(files=[args.output], eval_files=args.files)  # before anything is read
    found = induce_dictionary(pairs, tuple(args.langs), args.lowercase, args.min_count, args.threads)
    with atomic_write(args.output, "w") as handle:
        for first, second, dice, count in found:
            handle.write(f"{first} {second} {dice:.4f} {count}\n" if args.scores else f"{first} {second}\n")
    print(f"mtlembed induce: {len(found)} {args.langs[0]}-{args.langs[1]} pairs -> {args.output}",
          file=sys.stderr)
    return 0
