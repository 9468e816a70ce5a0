"""`mtlembed neighbors` and `mtlembed analogy`: looking at a model from the shell.

    mtlembed neighbors vectors.bin king queen --topn 5
    mtlembed neighbors joint.vec house --to es          # Spanish neighbours of en:house
    mtlembed neighbors out.en.vec house --to es         # the same with per-language files (out.es.vec)
    mtlembed analogy vectors.bin man king woman         # man is to king as woman is to ? (queen)

Both use Embeddings.most_similar, gensim's semantics: cosine to the mean of the
query words' unit vectors (3CosAdd for analogies), the query words excluded.

Models with several languages have `lang:word` keys (one joint file), or one file
per language, `PREFIX.<lang>.vec` (train --per-language): VECTORS may then be
PREFIX, or one of the files, whose siblings are read when --to names another
language. The languages of per-language files are joined into one model with
`lang:` keys, so both kinds work the same way.

A word given without a prefix in such a model means the key `<lang>:word` of
--from LANG when given; otherwise of the first language, in the model's order,
that has the word, languages other than --to first (so `casa --to en` means
es:casa even if English has "casa" too). The key used is always printed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
from pathlib import Path

import numpy as np

from .errors import ConfigError, FormatError, UnknownWordError
from .model import Embeddings

# PREFIX.<lang>.vec|.txt|.bin, optionally .gz: the files of train --per-language
_PER_LANGUAGE = re.compile(r"(?P<prefix>.+)\.(?P<lang>[^./]+)\.(?P<suffix>(?:vec|txt|bin)(?:\.gz)?)")


# ----------------------------------------------------------------------------- the verbs


def add_parser(verbs) -> None:
    """Adds `mtlembed neighbors` and `mtlembed analogy` to the CLI's sub-parsers."""
    neighbors_parser = _verb(verbs, "neighbors", "nearest words of words",
                             "The nearest words by cosine similarity of each WORD (gensim's most_similar).")
    neighbors_parser.add_argument("words", nargs="+", metavar="WORD", help="one query per word")
    neighbors_parser.set_defaults(func=cmd_neighbors)
    analogy_parser = _verb(verbs, "analogy", "A is to B as C is to ?",
                           "Words that are to C as B is to A: the nearest words to B - A + C (3CosAdd on "
                           "unit vectors, gensim's most_similar(positive=[B, C], negative=[A])), A, B and C "
                           "excluded.")
    for name in ("a", "b", "c"):
        analogy_parser.add_argument(name, metavar=name.upper())
    analogy_parser.set_defaults(func=cmd_analogy)
    for parser in (neighbors_parser, analogy_parser):
        parser.add_argument("--topn", type=_positive, default=10, metavar="N", help="how many (default 10)")
        parser.add_argument("--to", metavar="LANG", help="only words of this language (a joint model, or the "
                                                         "sibling PREFIX.LANG.vec of a per-language file)")
        parser.add_argument("--from", dest="source", metavar="LANG",
                            help="the language of query words given without a lang: prefix")
        parser.add_argument("--json", action="store_true", help="one JSON object per query")


def _verb(verbs, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, help=summary, description=description)
    parser.add_argument("vectors", metavar="VECTORS",
                        help="word2vec text or binary file (.gz too), or the PREFIX of per-language files "
                             "PREFIX.<lang>.vec")
    return parser


def cmd_neighbors(args: argparse.Namespace) -> int:
    model = open_vectors(args.vectors, to=args.to)
    for result in neighbors(model, args.words, topn=args.topn, to=args.to, source=args.source):
        _print(result, args.json)
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    model = open_vectors(args.vectors, to=args.to)
    _print(analogy(model, args.a, args.b, args.c, topn=args.topn, to=args.to, source=args.source), args.json)
    return 0


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    keys = result["keys"]
    if result["kind"] == "analogy":
        shown = f"{keys[0]} : {keys[1]} :: {keys[2]} : ?"
    else:
        shown = " ".join(k if k == w else f"{w} ({k})" for w, k in zip(result["query"], keys))
    print(shown + (f"  [{result['to']} words]" if result["to"] else ""))
    for word, score in result["neighbors"]:
        print(f"  {score:7.4f}  {word}")


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


# ----------------------------------------------------------------------------- the Python API


def neighbors(model: Embeddings, words: list[str], topn: int = 10, to: str | None = None,
              source: str | None = None) -> list[dict]:
    """For each word, its `topn` nearest words by cosine (only `to`'s words if given).

    Words are keys, or words without their `lang:` prefix (see resolve_keys). Each result is
    ``{"kind": "neighbors", "query": [word], "keys": [key], "to": to, "neighbors": [(word, cosine), ...]}``.

    >>> neighbors(model, ["house"], to="es")[0]["neighbors"][0]
    ('casa', 0.80...)
    """
    keys = resolve_keys(model, words, source=source, target=to)
    candidates = target_language(model, to) if to else model  # once for all the words
    return [_nearest("neighbors", model, candidates, [word], [key], [], topn, to)
            for word, key in zip(words, keys)]


def analogy(model: Embeddings, a: str, b: str, c: str, topn: int = 10, to: str | None = None,
            source: str | None = None) -> dict:
    """`a` is to `b` as `c` is to ?: the nearest words to b - a + c (3CosAdd on unit vectors), a, b
    and c excluded; words as for neighbors. The result is
    ``{"kind": "analogy", "query": [a, b, c], "keys": [...], "to": to, "neighbors": [(word, cosine), ...]}``.
    """
    key_a, key_b, key_c = resolve_keys(model, [a, b, c], source=source, target=to)
    candidates = target_language(model, to) if to else model
    return _nearest("analogy", model, candidates, [a, b, c], [key_b, key_c], [key_a], topn, to)


def _nearest(kind: str, model: Embeddings, candidates: Embeddings, words: list[str], positive: list[str],
             negative: list[str], topn: int, to: str | None) -> dict:
    keys = negative + positive if kind == "analogy" else positive
    if to:
        # The candidates are `to`'s words, without prefix. Query words of that language are given
        # as its words, so most_similar excludes them; the others as their unit vectors, which is
        # what most_similar averages for a word.
        prefix = to + ":"
        positive, negative = ([key[len(prefix):] if key.startswith(prefix)
                               else model.get_vector(key, norm=True) for key in terms]
                              for terms in (positive, negative))
    found = candidates.most_similar(positive=positive, negative=negative, topn=topn)
    return {"kind": kind, "query": words, "keys": keys, "to": to, "neighbors": found}


def resolve_keys(model: Embeddings, words: list[str], source: str | None = None,
                 target: str | None = None) -> list[str]:
    """The key of `model` that each word stands for (see the module's docstring for the rule).

    Raises UnknownWordError naming every word that has no key."""
    languages = model.languages
    if source and source not in languages:
        raise ConfigError(f"--from {source}: the model has no {source}: keys"
                          + (f" (its languages: {', '.join(languages)})" if languages else ""))
    order = [source] if source else sorted(languages, key=lambda lang: lang == target)  # stable: target last
    keys, unknown = [], []
    for word in words:
        prefixed = (f"{lang}:{word}" for lang in order if f"{lang}:{word}" in model)
        key = word if word in model else next(prefixed, None)
        if key is None:
            unknown.append(word + _case_hint(model, word, order))
        keys.append(key)
    if unknown:
        where = f" (in {source})" if source else f" (in any of {', '.join(languages)})" if languages else ""
        raise UnknownWordError(f"not in the vocabulary{where}: {', '.join(unknown)}")
    return keys


def _case_hint(model: Embeddings, word: str, languages: list[str]) -> str:
    lower = word.lower()
    if lower != word and (lower in model or any(f"{lang}:{lower}" in model for lang in languages)):
        return f" (did you mean {lower}?)"
    return ""


def target_language(model: Embeddings, to: str) -> Embeddings:
    """The words of language `to` (keys without prefix), with a clear error when it has none."""
    languages = model.languages
    if to not in languages:
        has = (f"its languages are {', '.join(languages)}" if languages else
               "its keys have no lang: prefix (a joint model has en:house; per-language files are "
               "PREFIX.<lang>.vec)")
        raise ConfigError(f"--to {to}: the model has no {to} words; {has}")
    return model.by_language(to)


def open_vectors(path: str | os.PathLike, to: str | None = None) -> Embeddings:
    """The model in `path`: a word2vec file (text, binary, .gz), or per-language files as one model.

    `path` may be the PREFIX of per-language files `PREFIX.<lang>.vec|.txt|.bin` (.gz too; all
    are read, keys become `lang:word`), or one such file: when `to` names another language and
    the file's keys have no prefix, its sibling `PREFIX.<to>.*` is read with it."""
    path = Path(os.fspath(path))
    if path.is_file():
        model = Embeddings.load(path)
        match = _PER_LANGUAGE.fullmatch(path.name)
        if to and not model.languages and match and match["lang"] != to:
            sibling = _language_files(path.with_name(match["prefix"])).get(to)
            if sibling is None:
                raise ConfigError(f"--to {to}: {path} holds one language and no {match['prefix']}.{to}.vec "
                                  "(or .bin, .txt, .gz) is beside it")
            return joined({match["lang"]: model, to: Embeddings.load(sibling)})
        return model
    files = _language_files(path)
    if not files:
        raise ConfigError(f"vectors file not found: {path}"
                          + ("" if _PER_LANGUAGE.fullmatch(path.name) else f" (nor files {path}.<lang>.vec)"))
    return joined({lang: Embeddings.load(file) for lang, file in files.items()})


def per_language_prefix(path: str | os.PathLike) -> str | None:
    """PREFIX of a per-language file PREFIX.<lang>.vec (None for any other name)."""
    match = _PER_LANGUAGE.fullmatch(os.fspath(path))
    return match["prefix"] if match else None


def per_language_language(path: str | os.PathLike) -> str | None:
    """<lang> of a per-language file PREFIX.<lang>.vec (None for any other name)."""
    match = _PER_LANGUAGE.fullmatch(os.path.basename(os.fspath(path)))
    return match["lang"] if match else None


def _language_files(prefix: Path) -> dict[str, Path]:
    """The files PREFIX.<lang>.vec|.txt|.bin (.gz too) by language (the first name of each, sorted)."""
    files = {}
    for candidate in sorted(prefix.parent.glob(f"{glob.escape(prefix.name)}.*")):
        match = _PER_LANGUAGE.fullmatch(candidate.name)
        if match and match["prefix"] == prefix.name and candidate.is_file():
            files.setdefault(match["lang"], candidate)
    return files


def joined(models: dict[str, Embeddings]) -> Embeddings:
    """One model of several languages' models, keys `lang:word`, in the order given."""
    dims = {lang: model.dim for lang, model in models.items()}
    if len(set(dims.values())) > 1:
        raise FormatError("the languages' vectors have different sizes: "
                          + ", ".join(f"{lang} {dim}" for lang, dim in dims.items()))
    words = [f"{lang}:{word}" for lang, model in models.items() for word in model.words]
    return Embeddings(words, np.vstack([model.vectors for model in models.values()]))

