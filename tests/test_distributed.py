"""Distributed training (mtlembed/distributed.py): ranks on gloo, as torchrun starts them.

The ranks are separate processes (`python -m mtlembed` with torchrun's environment), so a signal
or a kill reaches one rank as it would on a cluster. Tests that start ranks need torch (the
`[torch]` extra) and are skipped without it.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file, zipf_text

from mtlembed import distributed
from mtlembed.config import TrainConfig
from mtlembed.corpus import ReadStats
from mtlembed.encode import read_corpus
from mtlembed.tasks import ParallelSpec, TaskSpec

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason='torch is not installed (pip install "mtlembed[torch]")')
pytestmark = pytest.mark.distributed
ROOT = Path(__file__).resolve().parents[1]
WIKITEXT = "corpora/en/wikitext-2/wiki.valid.tokens"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(args: list[str], world: int = 2, env: dict | None = None, code: str | None = None) -> list:
    """`world` ranks of `python -m mtlembed ARGS` (or `python -c CODE ARGS`) with torchrun's environment."""
    port, procs = _free_port(), []
    for rank in range(world):
        rank_env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                    "WORLD_SIZE": str(world), "RANK": str(rank), "LOCAL_RANK": str(rank),
                    "OMP_NUM_THREADS": "1", "MTLEMBED_DIST_TIMEOUT": "60", **(env or {})}
        command = [sys.executable, *(["-m", "mtlembed"] if code is None else ["-c", code]), *args]
        procs.append(subprocess.Popen(command, env=rank_env, cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return procs


def _finish(procs: list, timeout: float = 120) -> list[tuple[int, str]]:
    """(exit status, stderr) of each rank."""
    results = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        results.append((proc.returncode, err))
    return results


def _wait_for(path: Path, procs: list, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert all(p.poll() is None for p in procs), _finish(procs)
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# -- Shards: every line once, in order (no torch needed) ---------------------------------------------

class _Shard(distributed.Ranks):
    """A rank's sharding alone (no process group)."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size


def _text_files(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(1)
    files = []
    for i, (lines, end) in enumerate([(40, "\n"), (1, ""), (0, ""), (25, ""), (300, "\n")]):
        text = "\n".join(" ".join(f"t{rng.integers(50)}" for _ in range(rng.integers(0, 30)))
                         for _ in range(lines)) + end
        path = tmp_path / f"f{i}.txt"
        path.write_text(text)
        files.append(path)
    gz = tmp_path / "f5.txt.gz"
    gz.write_bytes(gzip.compress(b"gz words here\nand more\n"))
    return files[:3] + [gz] + files[3:]



def test_a_shard_is_cut_into_blocks_as_one_process_cuts_its_file(tmp_path):
    """A shard is read by the reader one process uses: a token longer than a read is split the
    same way (never held whole), and the UTF-8 byte order mark is not counted as text."""
    from mtlembed import corpus

    path = tmp_path / "long.txt"
    path.write_bytes(b"\xef\xbb\xbfa b\n" + b"x" * (2 * corpus.BLOCK_BYTES + 10) + b"\nc d\n")
    one, sharded = ReadStats(), ReadStats()
    whole = [block for _, block in _Shard(0, 1).task_blocks([path], one)]
    shard = [block for _, block in _Shard(0, 2).task_blocks([path], sharded)]  # "a b" and the long line
    end = len(shard) - 2  # the shard's last text block stops where rank 1's lines begin
    assert shard[:end] == whole[:end] and whole[end].startswith(shard[end]) and shard[-1] == b""
    assert sharded.bytes == sum(map(len, shard)) and one.bytes == path.stat().st_size - 3


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_task_shards_hold_every_line_once_in_rank_order(tmp_path, size):
    files = _text_files(tmp_path)
    whole = [b"".join(block for _, block in _Shard(0, 1).task_blocks([f], ReadStats())) for f in files]
    shards = [b"".join(block for _, block in _Shard(rank, size).task_blocks(files, ReadStats()))
              for rank in range(size)]
    assert b"".join(shards) == b"".join(whole)
    for shard in shards:  # cut at line starts only
        assert not shard or shard.endswith(b"\n") or any(shard.endswith(w.rstrip(b"\n")) for w in whole if w)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_parallel_shards_are_the_same_lines_of_both_files(tmp_path, size):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("".join(f"a{i} x\n" if i % 7 else "\n" for i in range(23)))
    second.write_text("".join(f"b{i}\n" for i in range(22)) + "b22")  # no newline at the end
    sides = [[b"".join(block for _, block in blocks).splitlines()
              for blocks in _Shard(rank, size).parallel_blocks([first, second], ReadStats())]
             for rank in range(size)]
    for a_lines, b_lines in sides:
        assert len(a_lines) == len(b_lines)
        assert all(b.decode().removeprefix("b") == a.decode().removeprefix("a").split(" ")[0]
                   for a, b in zip(a_lines, b_lines) if a)
    assert sum(len(a) for a, _ in sides) == 23


def test_without_torch_distributed_training_is_one_line_naming_the_extra(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    code = ("import sys; sys.modules['torch'] = None; from mtlembed.__main__ import main; "
            "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "train", str(corpus), "-o", str(tmp_path / "v.vec"),
                           "--quiet"], env={**os.environ, "WORLD_SIZE": "2"}, capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        'mtlembed: error: distributed training (WORLD_SIZE=2) needs torch: pip install "mtlembed[torch]"']


# -- Ranks on gloo ---------------------------------------------------------------------------------

READ = """
import sys, numpy as np
from mtlembed import distributed
from mtlembed.config import TrainConfig
from mtlembed.encode import read_corpus
from mtlembed.tasks import ParallelSpec, TaskSpec
folder = sys.argv[1]
exec(open(folder + "/job.py").read())
ranks = distributed.join()
data = read_corpus(TASKS, CONFIG, PARALLEL, ranks)
v = data.vocab
streams = [s for s in data.streams] + [side for pair in data.parallel for side in pair]
np.savez(f"{folder}/rank{ranks.rank}.npz", words=np.array(v.words), counts=v.counts, starts=v.starts,
         **{f"tokens{i}": s.tokens for i, s in enumerate(streams)},
         **{f"offsets{i}": s.offsets for i, s in enumerate(streams)})
"""


def _joint_job(tmp_path: Path) -> dict:
    """Two English tasks (one of several files, plain and gzip), a Spanish one and a parallel text:
    words with tied counts everywhere, so the vocabulary's order depends on first-seen order."""
    files = _text_files(tmp_path)
    (tmp_path / "en2.txt").write_text(zipf_text(3000, vocab=80, seed=2).replace("w", "t"))
    (tmp_path / "es.txt").write_text(zipf_text(2000, vocab=60, seed=3).replace("w", "s"))
    (tmp_path / "p.en").write_text("".join(f"t{i % 61} p{i}\n" if i % 5 else "\n" for i in range(40)))
    (tmp_path / "p.es").write_text("".join(f"s{i % 13} q{i}\n" for i in range(40)))
    return {"TASKS": [TaskSpec("en1", tuple(map(str, files)), lang="en"),
                      TaskSpec("es", (str(tmp_path / "es.txt"),), lang="es"),
                      TaskSpec("en2", (str(tmp_path / "en2.txt"),), lang="en")],
            "PARALLEL": [ParallelSpec("en-es", ("en", "es"),
                                      (str(tmp_path / "p.en"), str(tmp_path / "p.es")))],
            "CONFIG": TrainConfig(min_count=2, max_vocab=70, max_sentence_length=7, threads=1)}


@needs_torch
def test_vocabulary_and_shards_equal_one_process(tmp_path):
    job = _joint_job(tmp_path)
    (tmp_path / "job.py").write_text("".join(f"{name} = {value!r}\n" for name, value in job.items()))
    world = 3
    results = _finish(_launch([str(tmp_path)], world, code=READ))
    assert all(status == 0 for status, _ in results), results
    one = read_corpus(job["TASKS"], job["CONFIG"], job["PARALLEL"])
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(world)]
    for saved in ranks:
        assert saved["words"].tolist() == one.vocab.words
        assert saved["counts"].tolist() == one.vocab.counts.tolist()
        assert saved["starts"].tolist() == one.vocab.starts.tolist()
    streams = [*one.streams, *(side for pair in one.parallel for side in pair)]
    for i, stream in enumerate(streams):  # the shards in rank order are the corpus, sentence for sentence
        tokens = np.concatenate([saved[f"tokens{i}"] for saved in ranks])
        lengths = np.concatenate([np.diff(saved[f"offsets{i}"]) for saved in ranks])
        assert tokens.tolist() == stream.tokens.tolist()
        assert lengths.tolist() == np.diff(stream.offsets).tolist()


@needs_torch
def test_max_distinct_pruning_is_refused_on_every_rank(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(zipf_text(5000, vocab=400))
    results = _finish(_launch(["train", str(corpus), "-o", str(tmp_path / "v.vec"), "--quiet",
                               "--max-distinct", "100"]))
    for status, err in results:
        assert status == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "max_distinct=100" in lines[0] and "distributed" in lines[0], err
    assert not (tmp_path / "v.vec").exists()


def _long_run(corpus: Path, out: Path, checkpoints: Path) -> list:
    """Two ranks on a run long enough to be stopped, with short rounds, checkpointed after each;
    returned once the first checkpoint is written (training has begun)."""
    procs = _launch(["train", str(corpus), "-o", str(out), "--epochs", "10", "--threads", "1", "--quiet",
                     "--min-count", "5", "--dim", "32", "--checkpoint-dir", str(checkpoints),
                     "--checkpoint-every", "1w"], env={"MTLEMBED_SYNC_WORDS": "20000"})
    _wait_for(checkpoints / "checkpoint.npz", procs)
    return procs


def _report(path: Path) -> dict:
    return json.loads(path.read_text())


@needs_torch
def test_two_ranks_train_as_well_as_one_process(tmp_path):
    corpus = shared_file(WIKITEXT)
    flags = ["--epochs", "3", "--threads", "1", "--quiet", "--min-count", "5", "--dim", "50"]
    one = subprocess.run([sys.executable, "-m", "mtlembed", "train", str(corpus), "-o",
                          str(tmp_path / "one.vec"), "--report", str(tmp_path / "one.json"), *flags],
                         cwd=ROOT, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    results = _finish(_launch(["train", str(corpus), "-o", str(tmp_path / "two.vec"),
                               "--report", str(tmp_path / "two.json"), *flags]))
    assert [status for status, _ in results] == [0, 0], results
    single, double = _report(tmp_path / "one.json"), _report(tmp_path / "two.json")
    assert double["vocab_size"] == single["vocab_size"]
    assert double["train_words"] == single["train_words"]
    assert double["ranks"]["world_size"] == 2 and double["ranks"]["bytes_sent"] > 0
    # The loss of the ranks' summed updates stays close to one process's.
    assert double["final_loss"] == pytest.approx(single["final_loss"], rel=0.05)
    one_words = [line.split(" ", 1)[0] for line in (tmp_path / "one.vec").read_text().splitlines()]
    two_words = [line.split(" ", 1)[0] for line in (tmp_path / "two.vec").read_text().splitlines()]
    assert one_words == two_words  # the same vocabulary in the same order (only rank 0 wrote)


@needs_torch
def test_sigint_to_one_rank_stops_both_with_a_checkpoint_and_resume_needs_the_same_world(tmp_path):
    corpus = shared_file(WIKITEXT)
    out, checkpoints = tmp_path / "v.vec", tmp_path / "ck"
    env = {"MTLEMBED_SYNC_WORDS": "20000"}
    procs = _long_run(corpus, out, checkpoints)
    procs[1].send_signal(signal.SIGINT)
    results = _finish(procs, timeout=30)
    assert [status for status, _ in results] == [130, 130], results
    assert "checkpoint saved" in results[0][1]
    assert not out.exists()

    alone = subprocess.run([sys.executable, "-m", "mtlembed", "train", "--resume", str(checkpoints)],
                           cwd=ROOT, capture_output=True, text=True, env={**os.environ, "WORLD_SIZE": "1"})
    assert alone.returncode == 1
    assert alone.stderr.strip().splitlines()[-1].startswith("mtlembed: error: ")
    assert "trained by 2 process(es)" in alone.stderr and "resume it with 2, not 1" in alone.stderr

    results = _finish(_launch(["train", "--resume", str(checkpoints), "--quiet"], env=env))
    assert [status for status, _ in results] == [0, 0], results
    assert out.exists()
    header = out.read_text().split("\n", 1)[0].split()
    assert int(header[1]) == 32


@needs_torch
def test_sigterm_stops_every_rank_with_143(tmp_path):
    procs = _long_run(shared_file(WIKITEXT), tmp_path / "v.vec", tmp_path / "ck")
    procs[0].send_signal(signal.SIGTERM)
    assert [status for status, _ in _finish(procs, timeout=30)] == [143, 143]


@needs_torch
def test_a_killed_rank_makes_the_other_exit_with_one_line(tmp_path):
    procs = _long_run(shared_file(WIKITEXT), tmp_path / "v.vec", tmp_path / "ck")
    procs[1].kill()
    start = time.monotonic()
    status, err = _finish(procs[:1], timeout=30)[0]
    procs[1].wait()
    assert time.monotonic() - start < 30
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtlembed: error: rank 0 of 2: another rank died"), err


@needs_torch
def test_torchrun_trains_a_config_job_with_parallel_text(tmp_path):
    job = _joint_job(tmp_path)
    tasks = "".join(f'[[task]]\nname = "{t.name}"\nlang = "{t.lang}"\npaths = {json.dumps(list(t.paths))}\n\n'
                    for t in job["TASKS"])
    p = job["PARALLEL"][0]
    (tmp_path / "job.toml").write_text(
        f"[train]\nmin_count = 2\ndim = 16\nepochs = 2\nthreads = 1\n\n{tasks}[[parallel]]\n"
        f'name = "{p.name}"\nlangs = {json.dumps(list(p.langs))}\npaths = {json.dumps(list(p.paths))}\n')
    out = tmp_path / "v.vec"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", "-m", "mtlembed", "train", "--config",
                           str(tmp_path / "job.toml"), "-o", str(out), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    keys = [line.split(" ", 1)[0] for line in out.read_text().splitlines()[1:]]
    assert any(k.startswith("en:") for k in keys) and any(k.startswith("es:") for k in keys)


def _checkpoint_with(ranks: dict):
    from mtlembed import checkpoint

    return checkpoint.Checkpoint(config=TrainConfig(), tasks=[TaskSpec("t", ("c.txt",))], parallel=[],
                                 dictionaries=[], languages=["default"], next_chunk=1, total_chunks=4,
                                 words_done=10, words=["a", "b"], counts=np.array([2, 1]),
                                 starts=np.array([0, 2]), w_in=np.zeros((2, 16), np.float32),
                                 w_out=[np.zeros((2, 16), np.float32)], ranks=ranks)


def test_a_checkpoint_keeps_every_ranks_position_and_refuses_a_malformed_record(tmp_path):
    from mtlembed import checkpoint
    from mtlembed.errors import FormatError

    ranks = {"world_size": 2, "round": 3, "rounds": 8, "positions": [[1, 4, 10], [2, 5, 12]]}
    checkpoint.save(tmp_path / "good", _checkpoint_with(ranks))
    assert checkpoint.load(tmp_path / "good").ranks == ranks
    assert checkpoint.load(tmp_path / "good").next_chunk == 1
    for bad in ({**ranks, "positions": [[1, 4, 10]]}, {**ranks, "round": 9}, {**ranks, "world_size": 1},
                {**ranks, "positions": [[1, 4, -1], [2, 5, 12]]}, {"world_size": 2}):
        checkpoint.save(tmp_path / "bad", _checkpoint_with(bad))
        with pytest.raises(FormatError, match="malformed checkpoint"):
            checkpoint.load(tmp_path / "bad")


def test_ranks_train_at_a_scaled_rate_and_merge_that_fraction_of_their_summed_changes(monkeypatch):
    monkeypatch.delenv("MTLEMBED_RANK_SCALE", raising=False)
    assert [distributed.learning_rate_scale(size) for size in (2, 3, 4, 8, 64)] == [2, 2, 2, 4, 32]
    monkeypatch.setenv("MTLEMBED_RANK_SCALE", "1")  # the plain sum at the rate (benchmarks)
    assert distributed.learning_rate_scale(4) == 1
    for bad in ("0.5", "x", "nan"):
        monkeypatch.setenv("MTLEMBED_RANK_SCALE", bad)
        with pytest.raises(distributed.ConfigError, match="MTLEMBED_RANK_SCALE"):
            distributed.learning_rate_scale(4)
    ranks = distributed.Ranks.__new__(distributed.Ranks)
    ranks.scale = 2.0
    kernel = ranks.kernel_config(TrainConfig(model="sg", alpha=0.03))
    assert (kernel.learning_rate, kernel.final_learning_rate) == pytest.approx((0.06, 0.06e-4))


# -- The meetings: only the rows some rank changed -------------------------------------------------

MEET = """
import json, numpy as np
from mtlembed import distributed
ranks = distributed.join()
ranks._boosts = [np.array([1.25] * 25 + [1.0] * 25, np.float32)]  # rows 0-24: rare ones (distributed_merge)
base = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32)
base[:, 13:] = 0  # the kernel's padding (width 13)
out = {}
for rows in ("all", "touched"):
    distributed.MERGE_ROWS, ranks.bytes_sent, ranks.rows = rows, 0, {}
    matrix = base.copy()
    ranks.track([matrix], 13)
    mine = np.random.default_rng(1 + ranks.rank)
    changed = mine.choice(50, 10, replace=False)
    matrix[changed, :13] += mine.normal(size=(10, 13)).astype(np.float32)
    ranks.meet([matrix], 0, False, (0, 0, 0))
    out[rows] = {"matrix": matrix.tolist(), "bytes": ranks.bytes_sent, **ranks.rows}
print(json.dumps(out))
"""


@needs_torch
def test_a_meeting_reduces_the_rows_any_rank_changed_to_the_dense_sums_for_fewer_bytes():
    procs = _launch([], code=MEET)
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    outs = [json.loads(out) for out, _ in results]
    base = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32)
    base[:, 13:] = 0
    changes = np.zeros((2, 50, 16), np.float32)
    for rank in range(2):
        mine = np.random.default_rng(1 + rank)
        changed = mine.choice(50, 10, replace=False)  # (drawn before the changes, as the ranks draw)
        changes[rank, changed, :13] = mine.normal(size=(10, 13))
    union = int(np.any(changes != 0, axis=(0, 2)).sum())
    # Two ranks train at twice the rate (learning_rate_scale): the merge adds half their summed changes,
    # whichever rank changed a row, times the row's boost (distributed_merge: 1.25 for rows 0-24 here; the
    # former rule: 1 for every row).
    boosts = np.array([1.25] * 25 + [1.0] * 25, np.float32)[:, None]
    expected = base + (changes[0] + changes[1]) / 2 * boosts
    for out in outs:
        for rows in ("all", "touched"):
            np.testing.assert_allclose(out[rows]["matrix"], expected, rtol=0, atol=1e-6)
        assert out["touched"]["matrix"] == out["all"]["matrix"]
        assert (out["touched"]["rows_touched"], out["touched"]["rows_merged"]) == (10, union)
        assert out["all"]["rows_merged"] == out["touched"]["rows_held"] == 50
        # every row's 13 floats; touched: a byte per row, then the union's rows
        assert out["all"]["bytes"] == 50 * 13 * 4
        assert out["touched"]["bytes"] == 50 + union * 13 * 4


# -- NCCL with --device cuda (no GPU here: the choice alone is tested) -----------------------------

@needs_torch
def test_cuda_ranks_join_on_nccl_with_a_gpu_each_and_cpu_ranks_on_gloo(monkeypatch):
    import torch
    import torch.distributed as dist

    assert distributed.backend_for("cuda") == "nccl"
    assert distributed.backend_for("cpu") == distributed.backend_for("auto") == "gloo"
    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend, timeout: calls.append(backend))
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: calls.append(f"cuda:{index}"))
    monkeypatch.setattr(distributed.atexit, "register", lambda *args: None)
    for device, expected, on_gpu in (("cuda", ["cuda:1", "nccl"], True), ("cpu", ["gloo"], False)):
        monkeypatch.setattr(distributed, "_joined", None)
        calls.clear()
        assert distributed.join(device).on_gpu is on_gpu
        assert calls == expected


# -- torch interop -----------------------------------------------------------------------------------

@needs_torch
def test_vectors_reach_torch_without_a_copy_and_as_an_embedding_indexed_like_the_vocabulary():
    import torch

    from mtlembed.model import Embeddings
    from mtlembed.torch_interop import as_tensor

    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = Embeddings(["a", "b", "c"], vectors)
    model.to_torch()[1, 0] = -7  # DLPack: the tensor is the array's memory
    assert vectors[1, 0] == -7
    layer = model.to_torch_embedding()
    assert isinstance(layer, torch.nn.Embedding) and not layer.weight.requires_grad
    looked_up = layer(torch.tensor([model.index["c"], model.index["a"]]))
    np.testing.assert_array_equal(looked_up.numpy(), vectors[[2, 0]])
    trainable = model.to_torch_embedding(freeze=False)
    trainable(torch.tensor([model.index["b"]])).sum().backward()
    with torch.no_grad():
        trainable.weight -= trainable.weight.grad  # a step on the layer is a step on the vectors
    np.testing.assert_array_equal(vectors[1], [-8, 4, 5, 6])
    source = torch.zeros(2, 3)  # another DLPack producer (a GPU array would stay on its GPU)
    assert as_tensor(source).data_ptr() == source.data_ptr()


def test_torch_interop_without_torch_names_the_extra(monkeypatch):
    from mtlembed.errors import MissingDependencyError
    from mtlembed.jobconfig import tomllib
    from mtlembed.model import Embeddings

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("torch") for requirement in extras["torch"])
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "mtlembed\[torch\]"') as caught:
        Embeddings(["a"], np.zeros((1, 4), np.float32)).to_torch_embedding()
    assert len(str(caught.value).splitlines()) == 1
