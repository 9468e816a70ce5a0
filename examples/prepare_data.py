"""Makes the plain text files the example job files read, from the shared data.

    python examples/prepare_data.py [--data DIR] [--out DIR] [--force]
    python examples/prepare_data.py --demo    # rewrites mtlembed/data/ (the demo corpus that ships)

Writes into examples/data/ (git-ignored); files already there are kept unless
--force. Each file is written under a temporary name and renamed, so an
interrupted run never leaves half a file. About 1 minute, 70 MB.

* `tatoeba.en-xx.{en,xx}` (xx = es, de, fr): the Tatoeba pairs of manythings.org
  (`parallel/tatoeba/*.zip`, lines `English<TAB>Other`, newer releases add a
  third attribution column), one sentence per line, line-aligned.
* `opus.en-xx.{en,xx}`: the OPUS-MT test sets (WMT news, Tatoeba and Multi30k
  test sets) of each pair, concatenated, line-aligned.
  These two sources are the whole es/de/fr text: a language's task reads both
  files of its side, the [[parallel]] tasks read them as aligned pairs.
  Punctuation is split off words here ("casa." -> "casa ."): in these short
  sentences a quarter of the words would otherwise carry a full stop or a comma
  and miss the dictionary. (The reader's `--tokenizer unicode` now does this
  itself, with similar rules; the files stay tokenized so that the
  published results and the demo corpus are made the same way.)
* with --demo, `mtlembed/data/tatoeba.en-es.{en,es}.gz`: the English-Spanish
  Tatoeba pairs, tokenized as above, gzip with a fixed header so the files are
  byte-identical on every run. They ship with the package (2.6 MB; Tatoeba is
  CC BY 2.0 FR, see mtlembed/data/README.md) for `mtlembed demo`.
* `enwikinews.txt.gz`: the `text` field of Wikinews, HTML entities decoded
  (about one in 10,000 characters), one paragraph per line, left untokenized
  like the two Wikipedia dumps it is compared with. The reader also takes the
  JSON lines themselves: `--jsonl-field text` (jsonl_field in a job file).

English Wikipedia is read directly from the shared .gz (the reader decompresses
gzip). A dump of your own, or any folder of text: docs/walkthrough.md (WikiExtractor
--json output is read as it is). Here the `<doc id=... url=... title=...>` and
`</doc>` lines of the shared file become a few
tokens such as `<doc` and `url="https://...` that occur once per article;
`id=`, `url=` and `title=` values are nearly all distinct, so min_count drops
them, and the few frequent ones (`<doc`, `</doc>`) only cost a few rows.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

from mtlembed.io import atomic_write

HERE = Path(__file__).resolve().parent
LANGUAGES = {"es": "spa", "de": "deu", "fr": "fra"}  # ISO 639-1 (our tasks) -> 639-3 (file names)
# A word keeps inner apostrophes, hyphens and dots (don't, l'homme, e-mail, 3.5);
# any other non-word character is a token of its own.
_TOKEN = re.compile(r"\w(?:[\w'’.-]*\w)?|[^\w\s]")


def tokenize(line: str) -> str:
    return " ".join(_TOKEN.findall(line))


def default_data() -> Path:
    """$MTLEMBED_DATA, or shared/data beside the checkout (as the tests look for it)."""
    return Path(os.environ.get("MTLEMBED_DATA") or HERE.parent.parent / "shared" / "data")


def write_aligned(out: Path, stem: str, lang: str, pairs: list[tuple[str, str]]) -> None:
    """`stem.en` and `stem.<lang>`, one sentence per line, tokenized."""
    with atomic_write(out / f"{stem}.en", "w") as english, atomic_write(out / f"{stem}.{lang}", "w") as other:
        for en, xx in pairs:
            english.write(tokenize(en) + "\n")
            other.write(tokenize(xx) + "\n")


def lines(text: str) -> list[str]:
    """Lines split on \\n only: str.splitlines() also splits on U+0085 and U+2028, which
    occur inside WMT sentences and would break the alignment."""
    return [line.rstrip("\r") for line in text.rstrip("\n").split("\n")] if text else []


def tatoeba_pairs(data: Path, lang: str) -> list[tuple[str, str]]:
    code = LANGUAGES[lang]
    archives = sorted((data / "parallel" / "tatoeba").glob(f"{code}-eng_*.zip"))
    if not archives:
        raise SystemExit(f"prepare_data: no {code}-eng_*.zip in {data / 'parallel' / 'tatoeba'}")
    with zipfile.ZipFile(archives[-1]) as archive:
        # The fra archive also holds macOS resource forks (__MACOSX/._fra.txt): skip them.
        members = [m for m in archive.namelist()
                   if Path(m).name == f"{code}.txt" and not m.startswith("__MACOSX")]
        if len(members) != 1:
            raise SystemExit(f"prepare_data: {archives[-1]}: expected one {code}.txt, found {members}")
        text = archive.read(members[0]).decode("utf-8")
    pairs = []
    for line in lines(text):
        columns = line.split("\t")
        if len(columns) >= 2 and columns[0].strip() and columns[1].strip():
            pairs.append((columns[0], columns[1]))
    return pairs


def opus_pairs(data: Path, lang: str) -> list[tuple[str, str]]:
    code = LANGUAGES[lang]
    folder = data / "parallel" / "opus-mt-testsets" / f"eng-{code}"
    pairs = []
    for english in sorted(folder.glob("*.eng")):
        other = english.with_suffix(f".{code}")
        if not other.exists():
            continue
        en_lines = lines(english.read_text(encoding="utf-8"))
        xx_lines = lines(other.read_text(encoding="utf-8"))
        if len(en_lines) != len(xx_lines):
            print(f"prepare_data: skipping {english.stem}: {len(en_lines)} English lines but "
                  f"{len(xx_lines)} in {other.name}", file=sys.stderr)
            continue
        pairs.extend((en, xx) for en, xx in zip(en_lines, xx_lines) if en.strip() and xx.strip())
    if not pairs:
        raise SystemExit(f"prepare_data: no aligned .eng/.{code} files in {folder}")
    return pairs


def demo_corpus(data: Path, target: Path) -> None:
    """The shipped demo corpus: Tatoeba en-es, tokenized, one gzip file per side."""
    pairs = tatoeba_pairs(data, "es")
    for side, lang in enumerate(("en", "es")):
        with atomic_write(target / f"tatoeba.en-es.{lang}.gz") as raw, \
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as packed:
            packed.write("".join(tokenize(pair[side]) + "\n" for pair in pairs).encode("utf-8"))
    print(f"{target}/tatoeba.en-es.{{en,es}}.gz: {len(pairs)} sentence pairs")


def wikinews(data: Path, target: Path) -> None:
    source = data / "corpora" / "en_news" / "enwikinews-2022.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as lines, atomic_write(target) as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
        for number, line in enumerate(lines, start=1):
            try:
                text = json.loads(line).get("text") or ""
            except json.JSONDecodeError as error:
                raise SystemExit(f"prepare_data: {source}:{number}: not JSON ({error})") from None
            paragraphs = [p.strip() for p in html.unescape(text).splitlines() if p.strip()]
            if paragraphs:
                packed.write(("\n".join(paragraphs) + "\n").encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="the shared data folder")
    parser.add_argument("--out", type=Path, default=HERE / "data",
                        help="where to write (default: examples/data)")
    parser.add_argument("--force", action="store_true", help="rewrite files that exist")
    parser.add_argument("--demo", action="store_true",
                        help="only rewrite the shipped demo corpus, mtlembed/data/")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"shared data folder {args.data} not found: give --data or set MTLEMBED_DATA")
    if args.demo:
        demo_corpus(args.data, HERE.parent / "mtlembed" / "data")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)

    def wanted(*names: str) -> bool:
        return args.force or not all((args.out / name).exists() for name in names)

    start = time.perf_counter()
    for lang in LANGUAGES:
        for source, read in (("tatoeba", tatoeba_pairs), ("opus", opus_pairs)):
            stem = f"{source}.en-{lang}"
            if wanted(f"{stem}.en", f"{stem}.{lang}"):
                pairs = read(args.data, lang)
                write_aligned(args.out, stem, lang, pairs)
                print(f"{stem}.{{en,{lang}}}: {len(pairs)} sentence pairs")
    if wanted("enwikinews.txt.gz"):
        wikinews(args.data, args.out / "enwikinews.txt.gz")
        print("enwikinews.txt.gz: done")
    print(f"prepare_data: {args.out} ready ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
