"""JSON Lines corpora: one JSON object per line, the text in a named field (--jsonl-field).

corpus.read_blocks reads the files (gzip, bz2, xz, globs, folders) and hands the pieces here;
what comes out are blocks of the field's text, tokenized like any plain text. A document's own
newlines are kept (each paragraph is a sentence) and each document ends with one.

A line that is not a JSON object, lacks the field, or holds something other than a string in
it is an error naming the file and line, not a skipped line: a dump that silently lost some of
its documents would train another model than the one its user thinks. Blank lines are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import corpus
from .errors import CorpusError

# A file with no newline for this long is not JSON Lines; reading on would only fill memory.
MAX_LINE_BYTES = 1 << 30
_SURROGATE = re.compile("[\ud800-\udfff]")
_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
          bool: "a boolean", type(None): "null"}


def text_blocks(pieces: Iterable[bytes], path: Path, field: str, strict: bool, stats) -> Iterator[bytes]:
    """Blocks of about corpus.BLOCK_BYTES of the `field` texts of the JSON lines in `pieces` (a file's
    bytes, cut anywhere). Invalid UTF-8 raises if `strict`, else becomes U+FFFD, counted in
    `stats` (a corpus.ReadStats)."""
    texts: list[bytes] = []
    size = 0
    for number, line in _lines(pieces, path):
        if line.strip():
            texts.append(_text(line, path, number, field, strict, stats))
            size += len(texts[-1]) + 1
        if size >= corpus.BLOCK_BYTES:
            yield b"\n".join(texts) + b"\n"
            texts, size = [], 0
    if texts:
        yield b"\n".join(texts) + b"\n"


def _lines(pieces: Iterable[bytes], path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of the text in `pieces`."""
    number, held, held_bytes = 0, [], 0  # the pieces of a line not yet ended
    for piece in pieces:
        if b"\n" not in piece:
            held.append(piece)
            held_bytes += len(piece)
            if held_bytes > MAX_LINE_BYTES:
                raise CorpusError(f"{path}:{number + 1}: a line of over {MAX_LINE_BYTES >> 20} MB; JSON "
                                  "Lines holds one object per line (is this a pretty-printed JSON file?)")
            continue
        lines = b"".join(held + [piece]).split(b"\n")
        last = lines.pop()
        held, held_bytes = [last], len(last)
        for line in lines:
            number += 1
            yield number, line
    if held_bytes:
        yield number + 1, b"".join(held)


def _text(line: bytes, path: Path, number: int, field: str, strict: bool, stats) -> bytes:
    """The UTF-8 of the field's string in one JSON line."""
    where = f"{path}:{number}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:  # reported, or replaced and counted, as in plain text
        text = corpus.decode(line, path, number, False, strict, stats).decode("utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorpusError(f"{where}: not JSON: {error.msg} (column {error.colno}); a JSON Lines file holds "
                          "one object per line") from None
    except RecursionError:
        raise CorpusError(f"{where}: JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise CorpusError(f"{where}: {_TYPES.get(type(document), 'a value')} where a JSON Lines corpus has "
                          f'an object with a "{field}" field')
    if field not in document:
        keys = ", ".join(f'"{key}"' for key in list(document)[:8]) + (", ..." if len(document) > 8 else "")
        raise CorpusError(f'{where}: no "{field}" field (this line has {keys or "none"}); '
                          "--jsonl-field (jsonl_field) names the field that holds the text")
    value = document[field]
    if not isinstance(value, str):
        kind = _TYPES.get(type(value), "not text")
        raise CorpusError(f'{where}: the "{field}" field is {kind}, not a string')
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape (\ud800): not text, like invalid UTF-8
        if strict:
            raise CorpusError(f'{where}: the "{field}" field holds a lone surrogate escape '
                              "(\\ud800-\\udfff), which is not text; use --encoding-errors replace to "
                              "replace it") from None
        if not stats.invalid_bytes:
            stats.first_invalid = where
        stats.invalid_bytes += len(_SURROGATE.findall(value))
        return _SURROGATE.sub("\ufffd", value).encode("utf-8")
