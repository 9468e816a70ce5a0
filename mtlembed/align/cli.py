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

from .core import METHODS, AlignOptions
from .induction import DIRECTIONS

__all__ = ["add_parser"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``align`` verb to an argparse `subparsers` object."""
    p = subparsers.add_parser(
        "align", help="map one embedding space onto another (MUSE / VecMap)",
        description="Align two word2vec files orthogonally: Procrustes on a seed dictionary, MUSE's "
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
                   help="self-learning: keep each score with probability P, doubled when the objective "
                        "stalls (VecMap uses 0.1; default 1: deterministic)")
    p.add_argument("--threshold", type=float, default=1e-4,
                   help="self-learning stops when the objective improves by less (default: %(default)s; "
                        "VecMap's 1e-6 takes many more iterations for little gain)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
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
                           threshold=args.threshold, stochastic=args.stochastic, seed=args.seed).resolved()
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
            report = {k: v for k, v in info.items() if k != "mapping"}
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
