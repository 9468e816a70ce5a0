"""The ``mtlembed eval`` verb: ``analogy``, ``similarity``, ``bli`` and ``suite``.

The main CLI calls :func:`add_parser`; each handler returns an exit code and
raises :class:`~mtlembed.errors.MtlembedError` subclasses for user errors.
``python -m mtlembed.eval.cli eval ...`` runs the verb alone, with the same
error convention (``mtlembed: error: <message>``, exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys

from mtlembed.errors import ConfigError, MtlembedError
from mtlembed.eval import analogy as _analogy
from mtlembed.eval import bli as _bli
from mtlembed.eval import similarity as _similarity
from mtlembed.eval import suite as _suite
from mtlembed.eval.suite import format_table

__all__ = ["add_parser", "main"]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_parser(subparsers):
    """Add the ``eval`` verb and its sub-verbs to an argparse `subparsers` object."""
    from mtlembed.eval.analogy import METHODS as ANALOGY_METHODS
    from mtlembed.eval.analogy import RESTRICT
    from mtlembed.eval.bli import CSLS_K
    from mtlembed.eval.bli import METHODS as BLI_METHODS
    from mtlembed.eval.vectors import OOV_MODES

    def add_oov(p):
        p.add_argument("--oov", choices=OOV_MODES, default="skip",
                       help="words outside the vocabulary: skip them, or score them from their n-grams "
                       "(a fastText .bin or a model trained with subwords; default: %(default)s)")

    parser = subparsers.add_parser(
        "eval",
        help="evaluate word vectors",
        description="Evaluate word vectors (word2vec text/binary files).",
    )
    verbs = parser.add_subparsers(dest="eval_verb", metavar="{analogy,similarity,bli,suite}", required=True)

    p = verbs.add_parser("analogy", help="analogy accuracy (questions-words format)")
    p.add_argument("vectors", metavar="VECTORS", help="word2vec text or binary file")
    p.add_argument(
        "questions", metavar="QUESTIONS", help="questions file (': section' lines, 'a b c d' lines)"
    )
    p.add_argument(
        "--restrict",
        type=_positive_int,
        default=RESTRICT,
        help="vocabulary: most frequent N words (0: all; default: %(default)s)",
    )
    p.add_argument(
        "--method", choices=ANALOGY_METHODS, default="add", help="3CosAdd or 3CosMul (default: %(default)s)"
    )
    p.add_argument("--case-sensitive", action="store_true", help="compare words exactly")
    p.add_argument("--lang", help="evaluate the '<lang>:' keys of a joint model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_oov(p)
    p.set_defaults(func=_run_analogy)

    p = verbs.add_parser("similarity", help="Spearman/Pearson correlation on word pairs")
    p.add_argument("vectors", metavar="VECTORS", help="word2vec text or binary file")
    p.add_argument("pairs", metavar="PAIRS", help="word pairs with scores (tab, space or CSV)")
    p.add_argument("--case-sensitive", action="store_true", help="compare words exactly")
    p.add_argument("--lang", help="evaluate the '<lang>:' keys of a joint model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_oov(p)
    p.set_defaults(func=_run_similarity)

    p = verbs.add_parser(
        "bli",
        help="bilingual lexicon induction, MUSE protocol",
        usage="%(prog)s [-h] [options] SRC_VECTORS [TGT_VECTORS] DICTIONARY\n"
        "       %(prog)s [-h] [options] --pairs MODEL DICTIONARY [DICTIONARY ...]",
        description="P@1/5/10 of translation retrieval. With one vectors file, --src-lang and --tgt-lang "
        "select its prefixed keys (en:house, es:casa). With --pairs, every dictionary named SRC-TGT.* "
        "(MUSE's names, e.g. bli/*.5000-6500.txt) is scored on those two languages of one joint MODEL, "
        "as one table.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="SRC_VECTORS [TGT_VECTORS] DICTIONARY")
    p.add_argument("--pairs", action="store_true",
                   help="PATHs are a joint MODEL (a file with lang:word keys, or the PREFIX of "
                   "PREFIX.<lang>.vec files) and dictionaries named SRC-TGT.*: score every pair")
    p.add_argument(
        "--method",
        choices=BLI_METHODS,
        default="csls",
        help="retrieval by CSLS or cosine (default: %(default)s)",
    )
    p.add_argument(
        "--k", type=_positive_int, default=CSLS_K, help="CSLS neighbourhood size (default: %(default)s)"
    )
    p.add_argument(
        "--max-vocab",
        type=_positive_int,
        default=None,
        help="most frequent N words of each side (default: all)",
    )
    p.add_argument("--src-lang", help="source prefix in a joint model")
    p.add_argument("--tgt-lang", help="target prefix in a joint model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_oov(p)
    p.set_defaults(func=_run_bli)

    p = verbs.add_parser("suite", help="every shared English benchmark, as one table")
    p.add_argument("vectors", metavar="VECTORS", help="word2vec text or binary file")
    p.add_argument("--data-dir", help="shared data folder (default: $MTLEMBED_DATA or ../shared/data)")
    p.add_argument(
        "--restrict",
        type=_positive_int,
        default=RESTRICT,
        help="vocabulary of the analogy sets (default: %(default)s)",
    )
    p.add_argument("--lang", help="evaluate the '<lang>:' keys of a joint model")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run_suite)
    return parser


def _emit(result, as_json, text):
    print(json.dumps(result, indent=2) if as_json else text)
    return 0


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _run_analogy(args):
    r = _analogy(
        args.vectors,
        args.questions,
        restrict=args.restrict,
        method=args.method,
        case_insensitive=not args.case_sensitive,
        lang=args.lang,
        oov=args.oov,
    )
    width = max(len(s["section"]) for s in r["sections"] + [{"section": "total"}])
    lines = [f"{'section':<{width}}  {'correct':>7}  {'total':>6}  {'accuracy':>8}  {'oov':>6}"]
    for s in r["sections"] + [dict(r, section="total")]:
        accuracy = _pct(s["accuracy"])
        lines.append(
            f"{s['section']:<{width}}  {s['correct']:>7}  {s['total']:>6}  {accuracy:>8}  {s['oov']:>6}"
        )
    lines.insert(-1, "-" * len(lines[0]))
    return _emit(r, args.json, "\n".join(lines) + _coverage(r, args))


def _coverage(r, args):
    """With --oov subwords: the coverage with and without the words scored from their n-grams."""
    if args.oov == "skip":
        return ""
    return f"\ncoverage {_pct(r['coverage'])} (vocabulary {_pct(r['coverage_vocabulary'])})"


def _run_similarity(args):
    r = _similarity(args.vectors, args.pairs, case_insensitive=not args.case_sensitive, lang=args.lang,
                    oov=args.oov)
    spearman = "n/a" if r["spearman"] is None else f"{r['spearman']:.4f}"
    pearson = "n/a" if r["pearson"] is None else f"{r['pearson']:.4f}"
    text = f"spearman {spearman}  pearson {pearson}  pairs {r['pairs']}/{r['total']}  oov {r['oov']}"
    return _emit(r, args.json, text + _coverage(r, args))


def _bli_options(args) -> dict:
    return dict(method=args.method, k=args.k, max_vocab=args.max_vocab, oov=args.oov)


def _bli_line(r) -> str:
    return (f"{r['method']}  P@1 {_pct(r['p@1'])}  P@5 {_pct(r['p@5'])}  P@10 {_pct(r['p@10'])}  "
            f"queries {r['queries']}  coverage {_pct(r['coverage'])} "
            f"(vocabulary {_pct(r['coverage_vocabulary'])})")


def _run_bli_pairs(args):
    """Every dictionary's language pair of one joint model, as one table."""
    from mtlembed.dictionary import language_pair
    from mtlembed.query import open_vectors

    model_path, dictionaries = args.paths[0], args.paths[1:]
    if not dictionaries:
        raise ConfigError("eval bli --pairs takes MODEL DICTIONARY [DICTIONARY ...]")
    model = open_vectors(model_path)
    pairs = [(path, language_pair(path)) for path in dictionaries]
    for path, pair in pairs:
        if pair is None or not set(pair) <= set(model.languages) or pair[0] == pair[1]:
            raise ConfigError(f"eval bli --pairs: {path} must be named SRC-TGT.* with two of the model's "
                              f"languages ({', '.join(model.languages) or 'none: not a joint model'})")
    rows = [{"dictionary": path, "src": src, "tgt": tgt,
             **_bli(model, None, path, src_lang=src, tgt_lang=tgt, **_bli_options(args))}
            for path, (src, tgt) in pairs]
    text = "\n".join(f"{r['src']}->{r['tgt']}  {_bli_line(r)}  {r['dictionary']}" for r in rows)
    return _emit({"model": model_path, "pairs": rows}, args.json, text)


def _run_bli(args):
    if args.pairs:
        return _run_bli_pairs(args)
    if len(args.paths) == 3:
        src, tgt, dictionary = args.paths
    elif len(args.paths) == 2:
        (src, dictionary), tgt = args.paths, None
        if not (args.src_lang and args.tgt_lang):
            raise ConfigError(
                "eval bli with one vectors file needs --src-lang and --tgt-lang (prefixed keys)"
            )
    else:
        raise ConfigError(f"eval bli takes SRC_VECTORS [TGT_VECTORS] DICTIONARY, got {len(args.paths)} paths")
    r = _bli(src, tgt, dictionary, src_lang=args.src_lang, tgt_lang=args.tgt_lang, **_bli_options(args))
    text = (_bli_line(r) + "\nP@1 by source-frequency rank: "
            + ", ".join(f"{b['band']} {_pct(b['p@1'])} ({b['queries']})" for b in r["p@1_by_band"]))
    return _emit(r, args.json, text)


def _run_suite(args):
    r = _suite(args.vectors, data_dir=args.data_dir, restrict=args.restrict, lang=args.lang)
    return _emit(r, args.json, format_table(r))


def main(argv=None) -> int:
    """Run ``mtlembed eval ...`` on its own (the main CLI wires :func:`add_parser` the same way)."""
    parser = argparse.ArgumentParser(prog="mtlembed")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MtlembedError as exc:
        print(f"mtlembed: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
