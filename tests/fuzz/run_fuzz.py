"""Long fuzzing run of every reader of user input (issue 7); not part of pytest.

    python tests/fuzz/run_fuzz.py --minutes 10            # results in /tmp/mtlembed-fuzz-<time>/
    python tests/fuzz/run_fuzz.py --replay 3:1234         # re-run one case (seed 3, case 1234)

Random and mutated corpora (plain and compressed, folders with link loops and
unreadable files), word2vec files, evaluation files, seed dictionaries, TOML
job files, TrainConfig mappings, command lines and failing writes are fed to
mtlembed for the given time. The rule checked: no crash, no hang, and every
failure is an ``MtlembedError`` subclass (the right one for the input) whose
message is one line naming the file at fault. Successful reads are checked
too: a plain corpus must give exactly the tokens a plain-Python oracle gives,
a loaded vectors file consistent shapes and finite values, and a failed write
must leave the old file and no temporary file.

Cases run in worker processes; each writes its input to <out>/current/ before
running, under a watchdog (faulthandler): a worker that crashes or hangs is
replaced and its case kept under <out>/findings/. Unexpected exceptions and
broken rules are findings too. Before the random cases, three 100 MB
single-line corpora are trained through the CLI (bounded memory, split into
sentences, never truncated) unless --no-big.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import errno
import faulthandler
import gzip
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ (conftest.zipf_text)

from test_fuzz import oracle  # noqa: E402  (the suite's plain-Python tokenizer)

import mtlembed.corpus as corpus  # noqa: E402
import mtlembed.io as mio  # noqa: E402
from mtlembed import TaskSpec, TrainConfig  # noqa: E402
from mtlembed.cli import main as cli_main  # noqa: E402
from mtlembed.config import field_names, from_mapping  # noqa: E402
from mtlembed.encode import read_corpus  # noqa: E402
from mtlembed.errors import ConfigError, CorpusError, FormatError, MtlembedError, ResourceError  # noqa: E402
from mtlembed.eval.analogy import read_questions  # noqa: E402
from mtlembed.eval.bli import read_dictionary  # noqa: E402
from mtlembed.eval.similarity import read_pairs  # noqa: E402
from mtlembed.io import load_word2vec, save_word2vec  # noqa: E402
from mtlembed.jobconfig import load_job  # noqa: E402

FIXTURES = HERE.parent / "fixtures" / "eval"
BLOCK_BYTES, MAX_TOKEN_BYTES = corpus.BLOCK_BYTES, corpus.MAX_TOKEN_BYTES


def compressed(data: bytes) -> bool:
    """Whether the reader takes these bytes for a compressed file (by its whole header)."""
    return corpus.compression_of(data[:corpus.HEADER_BYTES]) != "plain"
COMPRESS = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}
PIECES = [b" ", b"\n", b"\r\n", b"\r", b"\t", b"\v", b"\f", b"\x00", b"\xef\xbb\xbf", b"\x1c", b"the", b"cat",
          b"Word", *(c.encode() for c in ("é", "日本", "Ä", "😀", "İ", "\u00a0", "\u3000")),
          b"\xff", b"\x80", b"\xc3", b"\xe6\x97", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]


class Broken(AssertionError):
    """A rule of issue 7 was broken (a finding)."""


# ----------------------------------------------------------------------------- input generation


def random_bytes(rng, size_max=4000) -> bytes:
    """Structured pieces or raw noise, sometimes a Zipf text with damage."""
    kind = rng.integers(3)
    if kind == 0:
        picks = rng.integers(len(PIECES), size=int(rng.integers(0, size_max // 4)))
        return b"".join(PIECES[i] for i in picks)
    if kind == 1:
        return rng.integers(0, 256, int(rng.integers(0, size_max)), dtype=np.uint8).tobytes()
    from conftest import zipf_text

    return damage(rng, zipf_text(int(rng.integers(1, 2000)), seed=int(rng.integers(1 << 30))).encode(), 2)


def damage(rng, data: bytes, edits: int) -> bytes:
    """Up to `edits` random edits: truncate, flip, insert, delete, duplicate a slice, CRLF."""
    out = bytearray(data)
    for _ in range(int(rng.integers(0, edits + 1))):
        at = int(rng.integers(0, len(out) + 1))
        noise = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        op = rng.integers(6)
        if op == 0:
            del out[at:]
        elif op == 1:
            out[at:at + len(noise)] = bytes(a ^ b for a, b in zip(out[at:at + len(noise)], noise))
        elif op == 2:
            out[at:at] = noise
        elif op == 3:
            del out[at:at + int(rng.integers(1, 64))]
        elif op == 4:
            out[at:at] = out[at:at + int(rng.integers(1, 64))]
        else:
            out = bytearray(bytes(out).replace(b"\n", b"\r\n"))
    return bytes(out)


def check_error(error: BaseException, expected: type, case_dir: Path) -> str:
    """The one-line rule: the right class, one line, naming a file of the case."""
    message = str(error)
    if not isinstance(error, expected):
        raise Broken(f"expected {expected.__name__}, got {type(error).__name__}: {message}")
    if "\n" in message or not message:
        raise Broken(f"message is not one line: {message!r}")
    if str(case_dir) not in message:
        raise Broken(f"message names no file of the case: {message!r}")
    return type(error).__name__


# ----------------------------------------------------------------------------- targets
# Each target builds its input in `case_dir` (already on disk when it runs, for the
# record), runs it and returns an outcome label ("ok" or the error class name).


def target_corpus(rng, case_dir: Path) -> str:
    files = []
    for i in range(int(rng.integers(1, 4))):
        data = random_bytes(rng)
        codec = rng.choice(["plain", "plain", "gzip", "bz2", "xz"])
        if codec != "plain":
            data = COMPRESS[codec](data)
            if rng.random() < 0.6:
                data = damage(rng, data, 2)
        path = case_dir / "corpus" / f"part{i}.{codec}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        files.append((path, data, codec))
    links = case_dir / "corpus"
    for name, target in (("loop", "."), ("up", ".."), ("self", "self"), ("dangling", "nowhere")):
        if rng.random() < 0.15:
            (links / name).symlink_to(target)
    if rng.random() < 0.05:
        os.mkfifo(links / "pipe")  # reading it would wait for a writer for ever
    single = len(files) == 1 and rng.random() < 0.5
    arg = str(files[0][0]) if single else rng.choice([str(links), str(links / "**" / "*"), str(links / "*")])
    lowercase, strict = bool(rng.random() < 0.3), bool(rng.random() < 0.3)
    max_sentence = int(rng.choice([1, 3, 1000]))
    corpus.BLOCK_BYTES = int(rng.choice([3, 5, 17, 4096, BLOCK_BYTES]))
    corpus.MAX_TOKEN_BYTES = MAX_TOKEN_BYTES
    cfg = TrainConfig(min_count=1, lowercase=lowercase, encoding_errors="strict" if strict else "replace",
                      max_sentence_length=max_sentence)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = read_corpus([TaskSpec("t", (arg,))], cfg)
    except MtlembedError as error:
        return check_error(error, CorpusError, case_dir)
    finally:
        corpus.BLOCK_BYTES = BLOCK_BYTES
    if single and files[0][2] == "plain":
        path, data, _ = files[0]
        words = result.vocab.words
        got = [words[i] for i in result.streams[0].tokens.tolist()], result.streams[0].offsets.tolist()
        if compressed(data) or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise Broken("a compressed-looking or UTF-16 file was read as plain text")
        if got != oracle(data, lowercase, max_sentence):
            raise Broken("tokens differ from the plain-Python oracle")
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            if strict:
                raise Broken("invalid UTF-8 read without error in strict mode") from None
    return "ok"


def target_long_tokens(rng, case_dir: Path) -> str:
    """Valid UTF-8 without much whitespace, tiny blocks and token limits: never invalid, nothing lost."""
    chars = ["a", "é", "日", "😀", " ", "\n"]
    weights = np.array([5, 3, 3, 2, 0.1, 0.1])
    text = "".join(rng.choice(chars, size=int(rng.integers(1, 3000)), p=weights / weights.sum()))
    path = case_dir / "long.txt"
    path.write_text(text, encoding="utf-8")
    corpus.BLOCK_BYTES = int(rng.integers(3, 64))
    corpus.MAX_TOKEN_BYTES = int(rng.integers(1, 64))
    try:
        result = read_corpus([TaskSpec("t", (str(path),))],
                             TrainConfig(min_count=1, encoding_errors="strict", max_sentence_length=100000))
    except CorpusError as error:
        if text.split():
            raise Broken(f"valid UTF-8 failed: {error}") from None
        return check_error(error, CorpusError, case_dir)
    finally:
        corpus.BLOCK_BYTES, corpus.MAX_TOKEN_BYTES = BLOCK_BYTES, MAX_TOKEN_BYTES
    words = result.vocab.words
    if "".join(words[i] for i in result.streams[0].tokens.tolist()) != re.sub(r"[ \n]", "", text):
        raise Broken("over-long tokens lost or changed characters")
    return "ok"


def random_words(rng, n: int) -> list[str]:
    alphabet = ["a", "b", "é", "日", "😀", "\u00a0", "\x1c", "\x00", "\u3000", "\x85", ":", "1", "-"]
    # indices, not rng.choice(alphabet): numpy strings drop a trailing NUL
    words = {"".join(alphabet[i] for i in rng.integers(len(alphabet), size=int(rng.integers(1, 8))))
             for _ in range(n)}
    return sorted(words)


def target_word2vec(rng, case_dir: Path) -> str:
    words = random_words(rng, int(rng.integers(1, 40)))
    dim = int(rng.integers(1, 12))
    vectors = (rng.standard_normal((len(words), dim)) * 10.0 ** rng.uniform(-5, 5)).astype(np.float32)
    binary = bool(rng.random() < 0.5)
    path = case_dir / ("v.bin" if binary else "v.vec")
    save_word2vec(path, words, vectors, binary=binary)
    intact = path.read_bytes()
    data = intact
    if rng.random() < 0.8:
        data = damage(rng, data, 3)
    if rng.random() < 0.2:  # a header that lies, possibly absurdly
        count = int(rng.choice([0, 1, len(words) - 1, len(words) + 1, 10**11, -1]))
        new_dim = int(rng.choice([dim, dim + 1, max(dim - 1, 1), 4 * 10**9, 0]))
        data = b"%d %d" % (count, new_dim) + data[data.find(b"\n"):]
    if rng.random() < 0.2:
        data = COMPRESS[rng.choice(list(COMPRESS))](data)
        if rng.random() < 0.5:
            data = damage(rng, data, 1)
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got_words, got = load_word2vec(path)
    except MtlembedError as error:
        if data == intact:
            raise Broken(f"an intact file failed: {error}") from None
        return check_error(error, FormatError, case_dir)
    consistent = got.dtype == np.float32 and got.ndim == 2 and got.shape[0] == len(got_words)
    if not consistent or not np.isfinite(got).all():
        raise Broken(f"inconsistent result: {len(got_words)} words, {got.shape} {got.dtype}")
    if data == intact and got_words != words:
        raise Broken("an intact file loaded other words")
    return "ok"


def target_eval_files(rng, case_dir: Path) -> str:
    sources = {"questions": "tiny_questions.txt", "pairs": "tiny_pairs.tsv", "dictionary": "tiny_dict.txt"}
    kind = str(rng.choice(list(sources)))
    base = (FIXTURES / sources[kind]).read_bytes()
    data = damage(rng, base, 4) if rng.random() < 0.8 else random_bytes(rng, 600)
    path = case_dir / f"{kind}.txt"
    path.write_bytes(data)
    reader = {"questions": read_questions, "pairs": read_pairs, "dictionary": read_dictionary}[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader(path)
    except MtlembedError as error:
        return check_error(error, FormatError, case_dir)
    if rng.random() < 0.3 and kind in ("questions", "pairs"):  # the whole verb, on the fixture vectors
        verb = "analogy" if kind == "questions" else "similarity"
        return run_cli(["eval", verb, FIXTURES / "tiny.vec", path], case_dir)
    return "ok"


VALUES = [None, True, False, 0, 1, -1, 3, 64, 65, 100000, 2**63, 2**64, 0.5, 1e-12, 1.5, float("nan"),
          float("inf"), -0.0, "", "sg", "cbow", "strict", "cpu", "cuda", "temperature", "3", [1], {"a": 1}]


def target_config(rng, case_dir: Path) -> str:
    names = field_names()
    keys = [str(rng.choice(names)) if rng.random() < 0.8 else "".join(rng.choice(list("dimwno_\n'-"), 4))
            for _ in range(int(rng.integers(0, 5)))]
    values = {k: VALUES[int(rng.integers(len(VALUES)))] for k in keys}
    (case_dir / "mapping.txt").write_text(repr(values))
    try:
        config = from_mapping(values)
    except MtlembedError as error:
        if not isinstance(error, ConfigError) or "\n" in str(error):
            raise Broken(f"bad error for {values!r}: {type(error).__name__}: {error!r}") from None
        return "ConfigError"
    for f in config.__dataclass_fields__.values():
        value = getattr(config, f.name)
        if isinstance(value, float) and not np.isfinite(value):
            raise Broken(f"{f.name}={value!r} accepted")
    return "ok"


JOB = """[train]
dim = 8
epochs = 1
min_count = 1

[[task]]
name = "en"
lang = "en"
paths = ["corpus.txt"]

[[task]]
name = "es"
lang = "es"
weight = 2.0
paths = ["corpus.txt"]

[[dictionary]]
langs = ["en", "es"]
path = "seed.txt"
"""


def target_job_file(rng, case_dir: Path) -> str:
    (case_dir / "corpus.txt").write_text("the cat sat\n")
    (case_dir / "seed.txt").write_text("cat gato\n")
    path = case_dir / "job.toml"
    path.write_bytes(damage(rng, JOB.encode(), 4))
    try:
        load_job(path)
    except MtlembedError as error:
        return check_error(error, ConfigError, case_dir)
    return "ok"


FLAG_VALUES = {"dim": ["4", "0", "-1", "x", "1e3", "100001"], "window": ["2", "0", "65", "nan"],
               "negative": ["2", "0", "64"], "epochs": ["1", "0", "2.5"],
               "alpha": ["0.05", "nan", "-1", "inf", "0"], "min-alpha": ["0.001", "1", "nan"],
               "sample": ["0", "1e-3", "2", "-0.1"], "min-count": ["1", "0", "1000000"],
               "max-vocab": ["5", "0"], "threads": ["1", "2", "-1", "5000"],
               "seed": ["1", "-1", str(2**64)], "model": ["sg", "cbow", "glove"],
               "encoding-errors": ["strict", "replace", "ignore"], "max-sentence-length": ["3", "0"],
               "device": ["cpu", "gpu"]}


def run_cli(argv, case_dir: Path) -> str:
    """cli.main in-process; exit 1 must be one `mtlembed: error:` line naming a file when one is at fault."""
    argv = [str(a) for a in argv]
    (case_dir / "argv.json").write_text(json.dumps(argv))
    err = io.StringIO()
    quiet = contextlib.redirect_stdout(io.StringIO())
    with contextlib.redirect_stderr(err), quiet, warnings.catch_warnings():
        warnings.simplefilter("always")
        try:
            code = cli_main(argv)
        except SystemExit as exit_:
            code = exit_.code
    text = err.getvalue()
    if "Traceback" in text:
        raise Broken(f"traceback on stderr: {text[-300:]!r}")
    if code == 1:
        errors = [line for line in text.splitlines() if not line.startswith("mtlembed: warning:")]
        if len(errors) != 1 or not errors[0].startswith("mtlembed: error: "):
            raise Broken(f"exit 1 without exactly one error line: {text!r}")
        return "exit 1"
    if code not in (0, 2):
        raise Broken(f"exit code {code}: {text[-300:]!r}")
    return f"exit {code}"


def target_train_cli(rng, case_dir: Path) -> str:
    from conftest import zipf_text

    data = zipf_text(int(rng.integers(1, 3000)), vocab=50).encode()
    corpus_path = case_dir / "c.txt"
    corpus_path.write_bytes(damage(rng, data, 2) if rng.random() < 0.5 else data)
    out = case_dir / str(rng.choice(["v.bin", "v.vec", "v.txt", "v.model", "missing/v.bin"]))
    argv = ["train", corpus_path, "-o", out, "--quiet", "--epochs", "1", "--dim", "8", "--min-count", "1"]
    for flag in rng.choice(list(FLAG_VALUES), size=int(rng.integers(0, 4)), replace=False):
        argv += [f"--{flag}", str(rng.choice(FLAG_VALUES[flag]))]
    label = run_cli(argv, case_dir)
    if label == "exit 0":
        load_word2vec(out)  # what we wrote loads back
    return label


def target_failing_write(rng, case_dir: Path) -> str:
    """A write that fails part way (disk full, I/O error, Ctrl-C): old file intact, no temporary file."""
    out_dir = case_dir / "out"
    out_dir.mkdir()
    path = out_dir / str(rng.choice(["v.bin", "v.vec"]))
    path.write_bytes(b"previous")
    error = [OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EDQUOT, "Disk quota exceeded"),
             OSError(errno.EIO, "Input/output error"), KeyboardInterrupt()][int(rng.integers(4))]
    budget = int(rng.integers(0, 20000))
    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, handle):
            self.handle, self.left = handle, budget

        def write(self, data):
            if len(data) > self.left:
                raise error
            self.left -= len(data)
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    mio.os.fdopen = lambda fd, *a, **k: Failing(real_fdopen(fd, *a, **k))
    label = "ok"
    try:
        n = int(rng.integers(1, 3000))
        save_word2vec(path, [f"w{i}" for i in range(n)], np.ones((n, 7)))
    except KeyboardInterrupt:
        label = "KeyboardInterrupt"
    except ResourceError as exc:
        label = check_error(exc, ResourceError, case_dir)
    except OSError as exc:  # other write errors stay OSErrors, but must name the file
        if str(path) not in str(exc):
            raise Broken(f"write error without the file name: {exc}") from None
        label = f"OSError {errno.errorcode.get(exc.errno, exc.errno)}"
    finally:
        mio.os.fdopen = real_fdopen
    leftovers = sorted(p.name for p in out_dir.iterdir() if p.name != path.name)
    if leftovers:
        raise Broken(f"temporary files left: {leftovers}")
    if label != "ok" and path.read_bytes() != b"previous":
        raise Broken("the previous output was clobbered")
    return label


TARGETS = {  # name: (function, weight)
    "corpus": (target_corpus, 6), "long_tokens": (target_long_tokens, 2), "word2vec": (target_word2vec, 5),
    "eval_files": (target_eval_files, 3), "config": (target_config, 2), "job_file": (target_job_file, 2),
    "train_cli": (target_train_cli, 1), "failing_write": (target_failing_write, 1),
}


# ----------------------------------------------------------------------------- worker and parent


def run_case(seed: int, index: int, work: Path, timeout: float) -> tuple[str, str, str | None]:
    """(target, outcome, finding or None) of one case, its input left in work/current/."""
    rng = np.random.default_rng([seed, index])
    names = list(TARGETS)
    weights = np.array([TARGETS[n][1] for n in names], float)
    name = str(rng.choice(names, p=weights / weights.sum()))
    case_dir = work / "current"
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    (work / "current.json").write_text(json.dumps({"seed": seed, "index": index, "target": name}))
    faulthandler.dump_traceback_later(timeout, exit=True)  # a hang: dump every thread's stack, exit
    cwd = os.getcwd()
    try:
        os.chdir(case_dir)
        return name, TARGETS[name][0](rng, case_dir), None
    except Broken as broken:
        return name, "BROKEN", f"{broken}"
    except BaseException as error:  # anything else escaping a reader is a finding
        if isinstance(error, KeyboardInterrupt) and name == "failing_write":
            return name, "KeyboardInterrupt", None
        return name, "UNEXPECTED", "".join(traceback.format_exception(error))[-3000:]
    finally:
        os.chdir(cwd)
        faulthandler.cancel_dump_traceback_later()


def worker(args) -> int:
    work = Path(args.out) / f"worker-{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    stats: Counter = Counter()
    findings = []
    index = 0
    while time.time() < args.until:
        name, outcome, finding = run_case(args.seed, index, work, args.case_timeout)
        stats[f"{name}: {outcome}"] += 1
        if finding:
            keep = Path(args.out) / "findings" / f"{args.seed}-{index}"
            shutil.copytree(work / "current", keep, symlinks=True, dirs_exist_ok=True)
            findings.append({"case": f"{args.seed}:{index}", "target": name, "finding": finding})
        index += 1
    (Path(args.out) / f"stats-{args.seed}.json").write_text(json.dumps(
        {"seed": args.seed, "cases": index, "outcomes": stats, "findings": findings}, indent=1))
    return 0


BIG_CASES = {
    "words": "100 MB single line of words (1000 distinct words)",
    "cjk": "100 MB single line of CJK text without whitespace, --encoding-errors strict",
    "junk": "100 MB single line of 'a' without whitespace (tokens of megabytes), binary output loaded back",
    "random": "20 MB of random bytes",
}


def big_case(kind: str, out: Path) -> dict:
    """One large corpus trained through the CLI in a child process, its peak memory measured."""
    path = out / f"big-{kind}.txt"
    with open(path, "wb") as handle:
        if kind == "words":
            unit = " ".join(f"w{i}" for i in range(1000)).encode() + b" "
            repeats = (100 << 20) // len(unit)
            handle.write(unit * repeats + b"\n")
        elif kind == "cjk":
            handle.write(("日本語の文章" * ((100 << 20) // 18)).encode() + b"\n")
        elif kind == "junk":
            handle.write(b"a" * (100 << 20) + b"\n")
        else:
            handle.write(np.random.default_rng(0).integers(0, 256, 20 << 20, dtype=np.uint8).tobytes())
    vectors, report = out / f"big-{kind}.bin", out / f"big-{kind}.json"
    argv = ["train", str(path), "-o", str(vectors), "--report", str(report), "--quiet", "--dim", "8",
            "--epochs", "1", "--min-count", "1", "--threads", "2"]
    if kind == "cjk":
        argv += ["--encoding-errors", "strict"]
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec (the parent's 100 MB would count)
    child = ("import re, sys; from mtlembed.cli import main; code = main(sys.argv[1:]); "
             "peak = int(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1)) // 1024; "
             "print('peak_rss_mb', peak, file=sys.stderr); sys.exit(code)")
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", child, *argv], capture_output=True, text=True, timeout=1200)
    result = {"case": BIG_CASES[kind], "exit": proc.returncode, "seconds": round(time.time() - start, 1),
              "file_mb": path.stat().st_size >> 20}
    peak = re.search(r"peak_rss_mb (\d+)", proc.stderr)
    result["peak_rss_mb"] = int(peak.group(1)) if peak else None
    result["stderr"] = [line for line in proc.stderr.splitlines() if not line.startswith("peak_rss_mb")][-3:]
    if proc.returncode == 0:
        run = json.loads(report.read_text())
        result["corpus_words"] = run["corpus_words"]
        words, matrix = load_word2vec(vectors)
        result["vocab"] = len(words)
        result["longest_word_bytes"] = max(len(w.encode()) for w in words)
        if kind == "words":
            result["all_words_read"] = run["corpus_words"] == 1000 * repeats
    for leftover in (path, vectors, report):
        leftover.unlink(missing_ok=True)
    return result


def parent(args) -> int:
    out = Path(args.out or f"/tmp/mtlembed-fuzz-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    summary = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "out": str(out), "big": []}
    start = time.time()
    if not args.no_big:
        for kind in BIG_CASES:
            summary["big"].append(big_case(kind, out))
            print(json.dumps(summary["big"][-1]), flush=True)
    until = start + 60 * args.minutes
    seed, crashes = args.seed, []
    while time.time() < until - 2:
        log = out / f"worker-{seed}.log"
        with open(log, "w") as handle:
            code = subprocess.call([sys.executable, __file__, "--worker", "--seed", str(seed), "--until",
                                    str(until), "--out", str(out), "--case-timeout", str(args.case_timeout)],
                                   stdout=handle, stderr=subprocess.STDOUT)
        if code != 0:  # a crash or a hang: keep the case the worker was on
            current = json.loads((out / f"worker-{seed}" / "current.json").read_text())
            keep = out / "findings" / f"crash-{current['seed']}-{current['index']}"
            shutil.copytree(out / f"worker-{seed}" / "current", keep, symlinks=True, dirs_exist_ok=True)
            crashes.append({**current, "exit": code, "log_tail": log.read_text()[-2000:]})
            print(f"worker {seed} died (exit {code}) on case {current}", flush=True)
        seed += 1
    outcomes: Counter = Counter()
    findings, cases = [], 0
    for stats_file in sorted(out.glob("stats-*.json")):
        stats = json.loads(stats_file.read_text())
        cases += stats["cases"]
        outcomes.update(stats["outcomes"])
        findings += stats["findings"]
    minutes = round((time.time() - start) / 60, 1)
    summary.update({"minutes": minutes, "cases": cases, "crashes_or_hangs": crashes, "findings": findings,
                    "outcomes": dict(sorted(outcomes.items()))})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "big"}, indent=1))
    return 1 if crashes or findings else 0


def replay(args) -> int:
    seed, index = (int(v) for v in args.replay.split(":"))
    work = Path(args.out or "/tmp/mtlembed-fuzz-replay")
    name, outcome, finding = run_case(seed, index, work, args.case_timeout)
    print(f"case {seed}:{index} ({name}): {outcome}; input in {work / 'current'}")
    if finding:
        print(finding)
    return 1 if finding else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="how long to fuzz (default: 10)")
    parser.add_argument("--seed", type=int, default=1, help="first worker's seed (default: 1)")
    parser.add_argument("--out", help="results folder (default: /tmp/mtlembed-fuzz-<time>)")
    parser.add_argument("--case-timeout", type=float, default=60,
                        help="seconds before a case counts as a hang (default: 60)")
    parser.add_argument("--no-big", action="store_true", help="skip the 100 MB single-line corpora")
    parser.add_argument("--replay", metavar="SEED:INDEX", help="run one case again and keep its input")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args)
    return worker(args) if args.worker else parent(args)


if __name__ == "__main__":
    sys.exit(main())
