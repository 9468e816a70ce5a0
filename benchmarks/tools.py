"""The four trainers behind one interface, and the timed subprocess runner they share.

Every run is a child process of its own, so its peak RSS comes from wait4() on that
one pid (RUSAGE_CHILDREN would report the maximum over all children so far). The
children's output is read as it arrives and each line is stamped with
time.monotonic(): that is how the vocabulary pass of word2vec and fastText, which
neither tool reports, is separated from training (see TIMING in each adapter).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Params:
    model: str
    dim: int
    window: int
    negative: int
    sample: float
    min_count: int
    epochs: int
    alpha: float
    threads: int
    seed: int
    # mtlembed-only settings a sweep varies, e.g. (("cbow_share", "4"),); the peers have no equivalent
    options: tuple[tuple[str, str], ...] = ()


@dataclass
class Proc:
    """What one timed child did: exit code, times, peak RSS and stamped output lines."""

    argv: list[str]
    rc: int
    t_start: float
    t_end: float
    maxrss_kb: int
    cpu_seconds: float
    stdout: list[tuple[float, str]] = field(default_factory=list)
    stderr: list[tuple[float, str]] = field(default_factory=list)
    file_seen: float | None = None  # when the watched output file first existed
    others_cores: float | None = None  # mean cores busy with other processes meanwhile

    @property
    def wall(self) -> float:
        return self.t_end - self.t_start

    def first(self, stream: str, prefix: str) -> tuple[float, str] | None:
        return next(((t, s) for t, s in getattr(self, stream) if s.startswith(prefix)), None)

    def last(self, stream: str, prefix: str) -> tuple[float, str] | None:
        return next(((t, s) for t, s in reversed(getattr(self, stream)) if s.startswith(prefix)), None)

    def tail(self, n: int = 15) -> str:
        lines = [s for _, s in self.stdout + self.stderr if not s.startswith(("Progress:", "Alpha:"))]
        return "\n".join(lines[-n:])


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (/proc/stat, Linux only)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _reader(fd: int, sink: list[tuple[float, str]]) -> None:
    # \r counts as a line end: progress meters rewrite one line with it.
    pending = b""
    while chunk := os.read(fd, 1 << 16):
        now = time.monotonic()
        parts = re.split(rb"[\r\n]", pending + chunk)
        pending = parts.pop()
        sink.extend((now, p.decode(errors="replace").strip()) for p in parts if p.strip())
    if pending.strip():
        sink.append((time.monotonic(), pending.decode(errors="replace").strip()))


def run_timed(argv: list[str], watch: Path | None = None, timeout: float | None = None,
              env: dict | None = None) -> Proc:
    """Run argv to completion, stamping its output lines and, if given, when `watch` appears."""
    if watch is not None and watch.exists():
        watch.unlink()
    out: list[tuple[float, str]] = []
    err: list[tuple[float, str]] = []
    busy0 = _busy_cpu_seconds()
    t_start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    readers = [threading.Thread(target=_reader, args=(p.stdout.fileno(), out), daemon=True),
               threading.Thread(target=_reader, args=(p.stderr.fileno(), err), daemon=True)]
    for r in readers:
        r.start()
    seen: list[float] = []
    done = threading.Event()

    def watcher() -> None:
        # 5 ms polls: the resolution of word2vec's end-of-training stamp, at negligible CPU.
        while not done.is_set():
            if watch.exists():
                seen.append(time.monotonic())
                return
            time.sleep(0.005)

    if watch is not None:
        threading.Thread(target=watcher, daemon=True).start()
    killer = threading.Timer(timeout, p.kill) if timeout else None
    if killer:
        killer.start()
    _, status, usage = os.wait4(p.pid, 0)
    t_end = time.monotonic()
    busy1 = _busy_cpu_seconds()
    done.set()
    if killer:
        killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join()
    p.stdout.close()
    p.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    # What the rest of the machine used while the tool ran: a noisy-timing alarm.
    others = None if busy0 is None or busy1 is None else max(0.0, busy1 - busy0 - cpu) / (t_end - t_start)
    return Proc(argv, p.returncode, t_start, t_end, usage.ru_maxrss, cpu, out, err,
                seen[0] if seen else None, others)


@dataclass
class Probe:
    ok: bool
    version: str = ""
    reason: str = ""
    info: dict = field(default_factory=dict)


class Tool:
    name = ""
    timing = ""  # how training-only time is separated; copied into the results

    def probe(self) -> Probe:
        raise NotImplementedError

    def argv(self, p: Params, corpus: Path, out: Path, work: Path) -> list[str]:
        raise NotImplementedError

    def watch(self, out: Path) -> Path | None:
        return None

    def timings(self, proc: Proc, p: Params, work: Path) -> dict:
        """Seconds per stage: vocab, train, export (None where not separable)."""
        raise NotImplementedError


def _child_json(proc: Proc) -> dict:
    for _, line in reversed(proc.stdout):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("the child printed no timing JSON")


def _peer_argv(tool: str, p: Params, corpus: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(HERE / "peer_train.py"), tool, "--corpus", str(corpus),
            "--out", str(out), "--model", p.model, "--dim", str(p.dim), "--window", str(p.window),
            "--negative", str(p.negative), "--sample", str(p.sample), "--min-count",
            str(p.min_count), "--epochs", str(p.epochs), "--alpha", str(p.alpha),
            "--threads", str(p.threads), "--seed", str(p.seed), *extra]


class Gensim(Tool):
    """gensim's Word2Vec reading the corpus as `corpus_file` (its fast path: each worker decays the rate
    over its own share of the file) or as an `iterable` of LineSentence (one global linear schedule,
    as word2vec's and mtlembed's); peer_train.py's train_gensim."""

    def __init__(self, input: str = "corpus_file"):
        self.input = input
        self.name = "gensim" if input == "corpus_file" else f"gensim-{input}"
        self.timing = (f"in-process stamps around build_vocab({input}), train({input}) "
                       "and save_word2vec_format(binary=True); startup (interpreter + imports) is in "
                       "the end-to-end time only")

    def probe(self) -> Probe:
        try:
            import gensim.models.word2vec_corpusfile  # noqa: F401 (corpus_file mode is compiled)
        except ImportError as e:
            return Probe(False, reason=f"gensim with corpus_file support not importable: {e}")
        return Probe(True, f"gensim {metadata.version('gensim')}")

    def argv(self, p, corpus, out, work):
        return _peer_argv("gensim", p, corpus, out, "--input", self.input)

    def timings(self, proc, p, work):
        s = _child_json(proc)
        return {"startup_seconds": s["t_import"] - s["t_start"],
                "vocab_seconds": s["t_vocab"] - s["t_import"],
                "train_seconds": s["t_train"] - s["t_vocab"],
                "export_seconds": s["t_export"] - s["t_train"],
                "vocab_size": s["vocab_size"]}


class FastText(Tool):
    name = "fasttext"
    timing = ("train_unsupervised() builds the vocabulary and trains in one call: its "
              "stderr (verbose=2, unbuffered) is stamped as it arrives, and the vocabulary "
              "pass ends at the 'Number of labels' line printed right after it; training = "
              "that stamp to the call's return (includes matrix init and the negatives "
              "table); export = our numpy writer of get_input_matrix()")

    def probe(self) -> Probe:
        if util.find_spec("fasttext") is None:
            return Probe(False, reason="python package fasttext not installed (benchmarks/setup_peers.sh)")
        for dist in ("fasttext", "fasttext-wheel"):
            try:
                return Probe(True, f"{dist} {metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                pass
        return Probe(True, "unknown")

    def argv(self, p, corpus, out, work):
        return _peer_argv("fasttext", p, corpus, out)

    def timings(self, proc, p, work):
        s = _child_json(proc)
        vocab_line = proc.first("stderr", "Number of labels")
        result = {"startup_seconds": s["t_import"] - s["t_start"],
                  "export_seconds": s["t_export"] - s["t_train"], "vocab_size": s["vocab_size"]}
        last = proc.last("stderr", "Progress:")
        m = re.search(r"words/sec/thread:\s*(\d+)", last[1]) if last else None
        if m:
            result["tool_reported_words_per_second"] = int(m.group(1)) * p.threads
        if vocab_line is None:  # verbose output missing: cannot split, report the sum only
            result["vocab_seconds"] = None
            result["train_seconds"] = None
            result["vocab_plus_train_seconds"] = s["t_train"] - s["t_import"]
        else:
            result["vocab_seconds"] = vocab_line[0] - s["t_import"]
            result["train_seconds"] = s["t_train"] - vocab_line[0]
        return result


def word2vec_binary() -> Path | None:
    """The C tool installed by PyPI `word2vec` (a data file in <prefix>/bin), else PATH."""
    candidates = [Path(sys.prefix) / "bin" / "word2vec", Path(sys.executable).parent / "word2vec"]
    found = shutil.which("word2vec")
    if found:
        candidates.append(Path(found))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


class Word2VecC(Tool):
    name = "word2vec"
    timing = ("the C tool prints 'Words in train file' when its vocabulary pass ends (stdout "
              "forced line-buffered with stdbuf -oL, else it would arrive late) and opens the "
              "output file right after joining its training threads: training = that line's "
              "stamp to the file's appearance (polled every 5 ms; includes InitNet and the "
              "unigram table); export = file appearance to exit")

    def __init__(self, binary: str | None = None):
        self.binary = Path(binary) if binary else word2vec_binary()

    def probe(self) -> Probe:
        if self.binary is None:
            return Probe(False, reason="word2vec binary not found (pip install word2vec; "
                                       "see benchmarks/setup_peers.sh)")
        try:
            r = subprocess.run([str(self.binary)], capture_output=True, text=True, timeout=30)
        except OSError as e:
            return Probe(False, reason=f"{self.binary} does not run: {e}")
        if "WORD VECTOR estimation toolkit" not in r.stdout:
            return Probe(False, reason=f"{self.binary} is not Google's word2vec tool")
        try:
            version = f"word2vec {metadata.version('word2vec')} (PyPI; Google C tool)"
        except metadata.PackageNotFoundError:
            version = "Google word2vec C tool"
        if not shutil.which("stdbuf"):
            return Probe(False, reason="stdbuf (coreutils) is needed to time word2vec's stages")
        return Probe(True, version, info={"binary": str(self.binary)})

    def argv(self, p, corpus, out, work):
        return ["stdbuf", "-oL", str(self.binary), "-train", str(corpus), "-output", str(out),
                "-cbow", str(int(p.model == "cbow")), "-size", str(p.dim), "-window",
                str(p.window), "-negative", str(p.negative), "-hs", "0", "-sample",
                str(p.sample), "-min-count", str(p.min_count), "-iter", str(p.epochs),
                "-alpha", str(p.alpha), "-threads", str(p.threads), "-binary", "1", "-debug", "2"]

    def watch(self, out):
        return out

    def timings(self, proc, p, work):
        vocab_line = proc.first("stdout", "Words in train file")
        size_line = proc.first("stdout", "Vocab size")
        result = {"vocab_size": int(size_line[1].split(":")[1]) if size_line else None}
        last = proc.last("stdout", "Alpha:")
        m = re.search(r"Words/thread/sec:\s*([\d.]+)k", last[1]) if last else None
        if m:  # computed by word2vec from clock(), i.e. per CPU second
            result["tool_reported_words_per_second"] = float(m.group(1)) * 1000 * p.threads
        if vocab_line is None or proc.file_seen is None:
            return {**result, "vocab_seconds": None, "train_seconds": None, "export_seconds": None}
        return {**result, "vocab_seconds": vocab_line[0] - proc.t_start,
                "train_seconds": proc.file_seen - vocab_line[0],
                "export_seconds": proc.t_end - proc.file_seen}


INIT_RANGE_LAUNCHER = (
    "import sys; from mtlembed import trainer; from mtlembed.cli import main\n"
    "if not hasattr(trainer, 'INIT_RANGE'): sys.exit('run.py: mtlembed.trainer.INIT_RANGE is gone')\n"
    "trainer.INIT_RANGE = float(sys.argv.pop(1)); sys.exit(main())")


def option_flags(options: dict[str, str]) -> list[str]:
    """`mtlembed train` flags for TrainConfig fields: cbow_share=4 -> --cbow-share 4,
    copy_hot_rows=false -> --no-copy-hot-rows."""
    flags = []
    for key, value in options.items():
        flag = key.replace("_", "-")
        if value.lower() in ("true", "false"):
            flags.append(f"--{flag}" if value.lower() == "true" else f"--no-{flag}")
        else:
            flags += [f"--{flag}", value]
    return flags


class Mtlembed(Tool):
    name = "mtlembed"
    timing = "the stages mtlembed times itself, read from its --report JSON"

    def __init__(self, command: str | None = None):
        # The console script itself, not a pyenv shim (a shell wrapper that would add its
        # own start-up to mtlembed's end-to-end time).
        scripts = [Path(sys.prefix) / "bin" / "mtlembed", Path(sys.base_prefix) / "bin" / "mtlembed"]
        found = next((str(s) for s in scripts if s.is_file()), None) or shutil.which("mtlembed")
        self.cmd = shlex.split(command) if command else [found or "mtlembed"]

    def probe(self) -> Probe:
        try:
            r = subprocess.run(self.cmd + ["info", "--json"], capture_output=True, text=True,
                               timeout=120)
        except OSError as e:
            return Probe(False, reason=f"cannot run {shlex.join(self.cmd)}: {e}")
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["(no output)"])[-1]
            return Probe(False, reason=f"`{shlex.join(self.cmd)} info --json` failed: {last}")
        try:
            info = json.loads(r.stdout)
        except json.JSONDecodeError:
            return Probe(False, reason=f"`{shlex.join(self.cmd)} info --json` printed no JSON")
        return Probe(True, f"mtlembed {info.get('version', '?')}", info=info)

    def argv(self, p, corpus, out, work):
        options = dict(p.options)
        # INIT_RANGE is a module constant, not an option: a child of this Python sets it, then runs the CLI.
        cmd = ([sys.executable, "-c", INIT_RANGE_LAUNCHER, options.pop("init_range")]
               if "init_range" in options else self.cmd)
        return cmd + [
            "train", str(corpus), "-o", str(out), "--model", p.model, "--dim", str(p.dim),
            "--window", str(p.window), "--negative", str(p.negative), "--sample", str(p.sample),
            "--min-count", str(p.min_count), "--epochs", str(p.epochs), "--alpha", str(p.alpha),
            "--threads", str(p.threads), "--seed", str(p.seed), "--quiet",
            "--report", str(work / (out.stem + ".report.json")), *option_flags(options)]

    def timings(self, proc, p, work):
        out = Path(proc.argv[proc.argv.index("-o") + 1])
        rep = json.loads((work / (out.stem + ".report.json")).read_text())
        return {"vocab_seconds": rep.get("vocab_seconds"), "train_seconds": rep.get("train_seconds"),
                "export_seconds": rep.get("export_seconds"),
                "tool_total_seconds": rep.get("total_seconds"),
                "tool_reported_words_per_second": rep.get("words_per_second"),
                "tool_corpus_words": rep.get("corpus_words"), "simd": rep.get("simd"),
                "vocab_size": rep.get("vocab_size")}


TOOLS = ("mtlembed", "gensim", "fasttext", "word2vec")


def make_tools(names: list[str], mtlembed_cmd: str | None, word2vec_bin: str | None) -> list[Tool]:
    factory = {"mtlembed": lambda: Mtlembed(mtlembed_cmd), "gensim": Gensim,
               "gensim-iterable": lambda: Gensim("iterable"),
               "fasttext": FastText, "word2vec": lambda: Word2VecC(word2vec_bin)}
    return [factory[n]() for n in names]


def build_pingpong(work: Path) -> Path:
    """Compile benchmarks/pingpong.c (the cache-line hand-over timer) into `work`."""
    binary = work / "pingpong"
    subprocess.run(["gcc", "-O2", "-pthread", "-o", str(binary), str(HERE / "pingpong.c")], check=True)
    return binary


def hand_over_ns(binary: Path) -> int:
    """ns per cache-line hand-over between two vCPUs (200,000 rounds of pingpong.c)."""
    result = subprocess.run([str(binary), "200000"], capture_output=True, text=True, check=True)
    return int(result.stdout.split()[0])


def vcpu_placement(before: int, after: int) -> str:
    """Where a VM's two vCPUs sat during a run bracketed by two hand-over measurements: "near"
    (one core complex, ~26 ns), "far" (two chiplets, ~160 ns; results/two-threads-chiplets.md),
    or "mixed" when the host moved them meanwhile."""
    return "near" if max(before, after) < 60 else "far" if min(before, after) > 100 else "mixed"
