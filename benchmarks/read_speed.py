"""How fast a corpus is read, counted and encoded, per stage and thread count.

Reading runs once per training run, before the first epoch: Python reads and
decompresses blocks in a background thread (serial), and the compiled tokenizer
checks the UTF-8, lowercases (--lowercase), counts and encodes them (threads).
This times:
  reader    read_blocks alone (file -> blocks cut at whitespace)
  tokenize  core.tokenize over blocks already in memory, per thread count
  read      read_corpus end to end (both, overlapped, plus the vocabulary and the remap)
Each with every --tokenizer (whitespace, unicode). Medians of --repeat runs, written to
benchmarks/results/<name>.{json,md}; words/s counts each tokenizer's own tokens.

    python benchmarks/read_speed.py --corpus benchmarks/.cache/enwiki-text8-17M.txt --threads 1,2 --lowercase
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mtlembed import TaskSpec, TrainConfig, backend, corpus  # noqa: E402
from mtlembed.encode import read_corpus  # noqa: E402


def median_seconds(fn, repeat: int) -> dict:
    """Medians of the wall-clock and the CPU seconds (of all threads: on a shared machine, the cost)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"seconds": statistics.median(wall), "cpu_seconds": statistics.median(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(HERE / ".cache" / "enwiki-text8-17M.txt"))
    parser.add_argument("--threads", default=f"1,{os.cpu_count() or 1}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lowercase", action="store_true", help="lowercase as --lowercase does in training")
    parser.add_argument("--tokenizer", default="whitespace", help="comma-separated: whitespace,unicode")
    parser.add_argument("--name", default="read-speed")
    args = parser.parse_args()
    threads = sorted({int(t) for t in args.threads.split(",")})
    path = Path(args.corpus)
    if not path.is_file():
        sys.exit(f"{path}: no such corpus (python benchmarks/prepare_corpus.py --words 17M makes it)")
    core = backend.core()
    config = TrainConfig(lowercase=args.lowercase)
    lower = corpus.case_map() if args.lowercase else None

    def read_only():
        return [block for _, block in corpus.read_blocks([path], corpus.ReadStats()) if block]

    blocks = read_only()
    size = sum(map(len, blocks))

    def tokenize(n: int, tokenizer: str) -> int:
        counter, stream, words = core.Counter(config.max_distinct), core.Stream(config.max_sentence_length), 0
        for block in blocks:
            done = core.tokenize(block, counter, stream, n, lower, tokenizer)
            if done is None:  # a capital sigma to lowercase: Python lowercases the block, as encode.py does
                text = corpus.decode(block, path, 1, True, False, corpus.ReadStats())
                done = core.tokenize(text, counter, stream, n, None, tokenizer)
            words += done[0]
            stream.take_sentences()
        return words

    tokenizers = args.tokenizer.split(",")
    words = {t: tokenize(1, t) for t in tokenizers}
    rows = [{"stage": "reader", "tokenizer": "-", "threads": 1, "words": words[tokenizers[0]],
             **median_seconds(read_only, args.repeat)}]
    for t in tokenizers:
        for n in threads:
            rows.append({"stage": "tokenize", "tokenizer": t, "threads": n, "words": words[t],
                         **median_seconds(lambda n=n, t=t: tokenize(n, t), args.repeat)})
    for t in tokenizers:
        for n in threads:
            task, run = [TaskSpec("t", (str(path),))], config.replace(threads=n, tokenizer=t)
            seconds = median_seconds(lambda task=task, run=run: read_corpus(task, run), args.repeat)
            rows.append({"stage": "read", "tokenizer": t, "threads": n, "words": words[t], **seconds})
    for row in rows:
        row["words_per_second"] = row["words"] / row["seconds"]
        row["mb_per_second"] = size / row["seconds"] / 1e6
        row["mb_per_cpu_second"] = size / row["cpu_seconds"] / 1e6
        row["ns_per_word"] = row["seconds"] / row["words"] * 1e9

    meta = {"corpus": str(path), "bytes": size, "words": words, "repeat": args.repeat,
            "lowercase": args.lowercase,
            "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "command": "python benchmarks/read_speed.py " + " ".join(sys.argv[1:])}
    out = HERE / "results"
    (out / f"{args.name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    counts = ", ".join(f"{n:,} {t} words" for t, n in words.items())
    lines = [f"# Reading speed: {path.name}, {counts}, {size / 1e6:.0f} MB", "",
             f"`{meta['command']}` ({meta['cpus']} CPUs; medians of {args.repeat}; "
             f"{'lowercased' if args.lowercase else 'not lowercased'})", "",
             "| stage | tokenizer | threads | seconds | M words/s | MB/s | ns/word | MB per CPU-second |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['stage']} | {r['tokenizer']} | {r['threads']} | {r['seconds']:.3f} | "
              f"{r['words_per_second'] / 1e6:.1f} | {r['mb_per_second']:.0f} | {r['ns_per_word']:.0f} | "
              f"{r['mb_per_cpu_second']:.0f} |" for r in rows]
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
