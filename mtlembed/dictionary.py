"""Bilingual dictionaries: the seed translations of training (code-switching, Procrustes)
and the gold pairs of the BLI evaluation are files of one format, read here.

MUSE format: `source target` per line, space- or tab-separated (the xling files of
Glavaš et al. are tab-separated).
"""

from __future__ import annotations

import os
import re
import warnings

from .errors import FormatError
from .io import read_text

__all__ = ["language_pair", "read_dictionary"]

# MUSE names its dictionaries SRC-TGT.<split>.txt (en-es.5000-6500.txt).
_PAIR_NAME = re.compile(r"([A-Za-z0-9_]+)-([A-Za-z0-9_]+)[._]")


def language_pair(path: str | os.PathLike) -> tuple[str, str] | None:
    """(source, target) languages of a dictionary named SRC-TGT.* (MUSE's naming), else None."""
    match = _PAIR_NAME.match(os.path.basename(os.fspath(path)))
    return match.groups() if match else None


def read_dictionary(path: str | os.PathLike,
                    lang_pair: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """The `(source, target)` pairs of a bilingual dictionary (a seed dictionary
    for training or a gold one for BLI), in file order.

    One pair per line, UTF-8. A line holding a tab is split on tabs (so a
    tab-separated file may hold multi-word entries; they are simply never in a
    whitespace-tokenized vocabulary), any other line on whitespace. Blank
    lines are skipped. `lang_pair` = (source, target) languages names the
    dictionary in messages, and a file named the other way round (an `es-en`
    file read as en->es) is warned about: the columns would be swapped.

    Raises
    ------
    FormatError
        a line without exactly two columns, invalid UTF-8 (with `file:line`),
        or a file without any pair.
    ConfigError
        the file is missing, unreadable or not a regular file.
    """
    what = f"{lang_pair[0]}-{lang_pair[1]} dictionary" if lang_pair else "dictionary"
    if lang_pair:
        _check_direction(os.fspath(path), lang_pair)
    pairs = []
    # splitlines() also splits on \r alone (old Mac files)
    for lineno, line in enumerate(read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        columns = [c.strip() for c in line.split("\t")] if "\t" in line else line.split()
        if len(columns) != 2 or not all(columns):
            raise FormatError(f"{path}:{lineno}: expected 'source target' (two columns separated by a space "
                              f"or a tab), got {len([c for c in columns if c])} column(s): {line[:80]!r}")
        pairs.append((columns[0], columns[1]))
    if not pairs:
        raise FormatError(f"{path}: no word pairs in the {what}")
    return pairs


def _check_direction(path: str, lang_pair: tuple[str, str]) -> None:
    source, target = (re.escape(lang) for lang in lang_pair)
    name = os.path.basename(path)
    reversed_name = re.search(rf"(?<![A-Za-z]){target}[-_]{source}(?![A-Za-z])", name)
    forward_name = re.search(rf"(?<![A-Za-z]){source}[-_]{target}(?![A-Za-z])", name)
    if reversed_name and not forward_name:
        warnings.warn(f"{path}: the file name suggests {lang_pair[1]}->{lang_pair[0]}, but it is read as "
                      f"{lang_pair[0]}->{lang_pair[1]} (first column {lang_pair[0]}): check langs",
                      stacklevel=3)
