"""Cross-lingual alignment of two embedding spaces (vectors only: no training code).

>>> from mtlembed.align import align
>>> mapped_en, es, info = align("en.vec", "es.vec", dictionary=pairs, method="iterative")  # doctest: +SKIP

core.py holds the methods, induction.py CSLS dictionary induction, orthogonal.py
normalization and the orthogonal fit, cli.py the ``mtlembed align`` verb.
Names are loaded on first use, so training can import ``mtlembed.align.orthogonal``
without loading the evaluation code that induction shares.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "core": ("METHODS", "SEEDS", "AlignOptions", "align"),
    "induction": ("Induced", "dictionary_pairs", "identical_pairs", "induce"),
    "orthogonal": ("NORMALIZATIONS", "multistep", "normalize", "parse_normalization", "procrustes"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'mtlembed.align' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)


def __dir__() -> list[str]:
    return __all__
