"""Make a text8-style benchmark corpus from the shared English Wikipedia dump.

The cleaning follows Matt Mahoney's wikifil.pl (the script that made text8), applied to
WikiExtractor output: ``<doc ...>``/``</doc>`` lines are dropped, A-Z is lowercased,
digits are spelled out (``0`` -> `` zero ``), every other byte (punctuation, and every
byte of a non-ASCII character, as wikifil's byte-wise ``tr`` does) becomes a space, and
runs of spaces are squeezed. The first N words are kept.

Unlike text8 (one 100 MB line) the output has one line per article, wrapped at 1000
words: word2vec C cuts sentences at 1000 words and fastText at 1024 tokens, so every
tool then sees the same sentences.

    python benchmarks/prepare_corpus.py                 # 17M words (text8 size)
    python benchmarks/prepare_corpus.py --words 1M
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
SOURCE = HERE.parent.parent / "shared" / "data" / "corpora" / "en" / "enwiki-2015-first12695.txt.gz"
if not SOURCE.exists():  # the repo may be checked out elsewhere than next to shared/
    SOURCE = Path("/work/shared/data/corpora/en/enwiki-2015-first12695.txt.gz")

LINE_WORDS = 1000
BLOCK_BYTES = 16 << 20
DIGITS = [b"zero", b"one", b"two", b"three", b"four", b"five", b"six", b"seven", b"eight", b"nine"]
# \x01 marks an article boundary; it survives the byte translation below.
DOC_LINE = re.compile(rb"^</?doc\b[^\n]*$", re.MULTILINE)
_keep = set(range(ord("a"), ord("z") + 1)) | set(range(ord("0"), ord("9") + 1)) | {1}
TABLE = bytes(
    c + 32 if ord("A") <= c <= ord("Z") else (c if c in _keep else ord(" ")) for c in range(256)
)


def parse_words(text: str) -> int | None:
    """'17M', '1m', '500k', '17000000' -> int; 'all' -> None (the whole dump)."""
    t = text.strip().lower()
    if t == "all":
        return None
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    number = t[:-1] if mult > 1 else t
    try:
        value = int(float(number) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a word count: {text!r} (use e.g. 17M, 1000000, all)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"word count must be positive: {text!r}")
    return value


def label(words: int | None) -> str:
    if words is None:
        return "all"
    if words % 1_000_000 == 0:
        return f"{words // 1_000_000}M"
    if words % 1_000 == 0:
        return f"{words // 1_000}k"
    return str(words)


def corpus_path(words: int | None) -> Path:
    return CACHE / f"enwiki-text8-{label(words)}.txt"


def count_words(path: Path) -> int:
    """Words in a file we wrote: single spaces between words, newline after each line."""
    total = 0
    with open(path, "rb") as f:
        while block := f.read(BLOCK_BYTES):
            total += block.count(b" ") + block.count(b"\n")
    return total


def clean(block: bytes) -> list[list[bytes]]:
    """Raw complete lines -> articles as word lists (the first may continue the previous block)."""
    block = DOC_LINE.sub(b"\x01", block).translate(TABLE)
    for d, name in enumerate(DIGITS):
        block = block.replace(str(d).encode(), b" " + name + b" ")
    return [part.split() for part in block.split(b"\x01")]


def blocks(source: Path):
    """Yield chunks of the decompressed dump that end on a line boundary."""
    rest = b""
    with gzip.open(source, "rb") as f:
        while chunk := f.read(BLOCK_BYTES):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            rest = chunk[cut:]
            if cut:
                yield chunk[:cut]
    if rest:
        yield rest


def write_corpus(source: Path, dest: Path, words: int | None) -> int:
    """Stream source -> dest; return the number of words written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    written = 0
    pending: list[bytes] = []  # words of an article that may go on in the next block
    try:
        with open(tmp, "wb") as out:

            def emit(article: list[bytes]) -> bool:
                nonlocal written
                if words is not None:
                    article = article[: words - written]
                for i in range(0, len(article), LINE_WORDS):
                    out.write(b" ".join(article[i : i + LINE_WORDS]) + b"\n")
                written += len(article)
                return words is not None and written >= words

            done = False
            for block in blocks(source):
                articles = clean(block)
                pending.extend(articles[0])
                for article in articles[1:]:
                    if pending and emit(pending):
                        done = True
                        break
                    pending = article
                if done:
                    break
            if not done and pending:
                emit(pending)
        os.replace(tmp, dest)  # atomic: an interrupted run never leaves a half corpus
    finally:
        if tmp.exists():
            tmp.unlink()
    return written


def prepare(words: int | None = 17_000_000, source: Path = SOURCE, force: bool = False) -> Path:
    """Return the path of the corpus with `words` words, making it if needed."""
    dest = corpus_path(words)
    if dest.exists() and not force:
        have = count_words(dest)
        if words is None or have == words:
            return dest
        print(f"{dest}: has {have} words, expected {words}; remaking", file=sys.stderr)
    if not source.exists():
        raise SystemExit(f"prepare_corpus: source corpus not found: {source}")
    t0 = time.perf_counter()
    written = write_corpus(source, dest, words)
    if words is not None and written < words:
        print(f"warning: {source} has only {written} words (asked for {words})", file=sys.stderr)
    print(f"wrote {dest} ({written} words, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=parse_words, default=17_000_000,
                    help="words to keep: 17M (default), 1M, 4M, 31M, 500k, all")
    ap.add_argument("--source", type=Path, default=SOURCE, help="WikiExtractor .txt.gz dump")
    ap.add_argument("--force", action="store_true", help="remake even if the file exists")
    args = ap.parse_args(argv)
    print(prepare(args.words, args.source, args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
