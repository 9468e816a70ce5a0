"""The seam into the kernel: typed, reference-holding job objects that never convert
an array, the chunks done after a stop always a prefix of the schedule, one
parallel-for whose thread failures are exceptions, chunks bounded in time."""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from mtlembed import ConfigError, TrainConfig, Trainer, _core, backend, config
from mtlembed.kernel import kernel_job, train_params
from mtlembed.tasks import CHUNK_TOKENS, DictionarySpec, ParallelSpec, TaskSpec, chunk_size, schedule

VOCAB = 50


def corpus(n_sentences, length=5, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, n_sentences * length).astype(np.int32)
    return tokens, np.arange(0, n_sentences * length + 1, length, dtype=np.int64)


def one_chunk_per_sentence(n):
    return {"task": np.zeros(n, np.int32), "sentence_begin": np.arange(n, dtype=np.int64),
            "sentence_end": np.arange(1, n + 1, dtype=np.int64), "progress_begin": np.arange(n) / n,
            "progress_end": np.arange(1, n + 1) / n, "id": np.arange(n, dtype=np.uint64)}


def job_parts(n_sentences=100, dim=16):
    tokens, offsets = corpus(n_sentences)
    w_in = (np.random.default_rng(1).random((VOCAB, dim), dtype=np.float32) - 0.5) / dim
    prob, alias = _core.alias_table(np.ones(VOCAB))
    return dict(w_in=w_in, w_out=[np.zeros((VOCAB, dim), np.float32)], keep_prob=np.ones(VOCAB, np.float32),
                noise=[(prob, alias, 0)], tasks=[_core.Task(tokens, offsets, noise=0, head=0)],
                chunks=one_chunk_per_sentence(n_sentences))


def params(threads=1, dim=16):
    return train_params(model="sg", dim=dim, window=2, negative=2, alpha=0.025, min_alpha=0.0001, seed=1,
                        threads=threads)


# -- typed job objects: exact arrays only, held while the job lives --------------------------------

def test_chunk_stats_as_a_list_is_refused():
    # It used to be cast to a temporary array whose memory the kernel then wrote into after it was freed.
    parts = job_parts()
    with pytest.raises(ValueError, match="chunk_stats must be a numpy array.*got list"):
        kernel_job(**parts, chunk_stats=[float("nan")] * 200)


@pytest.mark.parametrize("what, bad", [
    ("tokens", lambda t, o: (t.astype(np.int64), o)),
    ("tokens", lambda t, o: (t.tolist(), o)),
    ("tokens", lambda t, o: (np.repeat(t, 2)[::2], o)),  # not contiguous
    ("offsets", lambda t, o: (t, o.astype(np.int32))),
])
def test_task_arrays_of_another_kind_are_refused(what, bad):
    tokens, offsets = bad(*corpus(10))
    with pytest.raises(ValueError, match=f"{what} must"):
        _core.Task(tokens, offsets, noise=0, head=0)


@pytest.mark.parametrize("name", ["w_in", "keep_prob", "chunk_stats"])
def test_job_arrays_of_another_kind_are_refused(name):
    parts = job_parts()
    stats = np.full((100, 2), np.nan)
    if name == "w_in":
        parts["w_in"] = parts["w_in"].astype(np.float64)
    elif name == "keep_prob":
        parts["keep_prob"] = parts["keep_prob"].astype(np.float64)
    else:
        stats.setflags(write=False)
    with pytest.raises(ValueError, match=f"{name} must"):
        kernel_job(**parts, chunk_stats=stats)


def test_a_job_holds_the_arrays_it_points_into():
    def run(drop_references):
        parts = job_parts()
        w_in = parts["w_in"]
        job = kernel_job(**parts)
        if drop_references:  # only the job keeps the corpus, tables and tasks alive now
            parts.clear()
            gc.collect()
            garbage = [np.full(100_000, 7, np.int32) for _ in range(20)]  # reuses freed memory, if any
            del garbage
        stats = _core.train(params(), job, "generic")
        return stats["pairs"], stats["loss"], w_in.tobytes()

    assert run(True) == run(False)


def test_kernel_limits_are_exported_once():
    limits = _core.LIMITS
    fields = {f.name: f for f in config.fields(TrainConfig)}
    for name in ("window", "negative", "cbow_share", "threads"):
        assert config.field_bounds(fields[name])[1] == limits[name]
    with pytest.raises(ValueError, match="window must be in 1..64"):
        _core.train(train_params(dim=16, window=65), kernel_job(**job_parts()), "generic")


def test_train_params_refuse_unknown_fields():
    with pytest.raises(AttributeError):
        train_params(windw=5)


# -- the chunks done after a stop are a prefix of the schedule ------------------------------------

def stop_at_call(k):
    """A progress callback that asks to stop (as Ctrl-C does) at its k-th call."""
    calls = []

    def progress(*_):
        calls.append(1)
        if len(calls) >= k:
            raise KeyboardInterrupt
    return progress


@pytest.mark.parametrize("threads", [2, 16])
def test_chunks_done_always_form_a_prefix_of_the_schedule(threads):
    # With the stop checked after taking a chunk, a worker could take chunk c, be preempted, see the
    # stop and drop c while others trained c+1.. (found 16 times in 200 runs with 16 threads): a
    # resume would then skip c and train the next one twice.
    n = 50_000
    parts = job_parts(n)
    rng = random.Random(threads)
    for run in range(150):
        stats_of_chunk = np.full((n, 2), np.nan)
        job = kernel_job(**parts, chunk_stats=stats_of_chunk)
        stats = _core.train(params(threads), job, "generic", progress=stop_at_call(rng.randint(1, 5)),
                            interval=0.0005)
        done = ~np.isnan(stats_of_chunk[:, 1])
        count = int(stats["chunks"])
        assert done[:count].all() and not done[count:].any(), f"run {run}: chunks done are not a prefix"


def test_a_segment_trains_its_range_of_the_schedule():
    n = 100
    parts = job_parts(n)
    stats_of_chunk = np.full((n, 2), np.nan)
    job = kernel_job(**parts, chunk_stats=stats_of_chunk)
    stats = _core.train(params(), job, "generic", begin=30, end=70)
    assert stats["chunks"] == 40
    done = ~np.isnan(stats_of_chunk[:, 1])
    assert done[30:70].all() and not done[:30].any() and not done[70:].any()
    with pytest.raises(ValueError, match="not in the schedule"):
        _core.train(params(), job, "generic", begin=50, end=101)


# -- one parallel-for: thread failures are exceptions ---------------------------------------------

def test_the_most_threads_allowed_still_train():
    parts = job_parts(2000)
    stats = _core.train(params(threads=4096), kernel_job(**parts), "generic")
    assert stats["chunks"] == 2000


def test_a_thread_that_cannot_start_is_an_exception_not_an_abort(tmp_path):
    # With little address space left, thread stacks cannot be mapped: std::thread throws, which used to
    # reach std::terminate (Python aborted). Now it is a RuntimeError naming the cause.
    script = tmp_path / "few_threads.py"
    script.write_text(textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import numpy as np
        from test_seam import job_parts, params
        from mtlembed import _core
        from mtlembed.kernel import kernel_job
        job = kernel_job(**job_parts(2000))
        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (256 << 20), resource.RLIM_INFINITY))
        try:
            _core.train(params(threads=4096), job, "generic")
        except RuntimeError as error:
            print("RuntimeError:", error)
            sys.exit(3)
        print("trained")
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, (run.returncode, run.stdout, run.stderr[-2000:])
    assert "could not start thread" in run.stdout


def test_the_tokenizer_survives_many_threads():
    counter, stream = _core.Counter(1000), _core.Stream(1000)
    done = _core.tokenize(b"a b c d\n" * 200_000, counter, stream, threads=4096)
    assert done[0] == 800_000 and len(counter) == 4


# -- chunks bounded in time, not in words ---------------------------------------------------------

def test_chunks_shrink_with_the_work_per_token():
    assert chunk_size(112, 5, 5) == CHUNK_TOKENS  # ordinary dims keep their schedule
    large = chunk_size(50_000, 5, 5)
    assert large < CHUNK_TOKENS // 50 and large == chunk_size(50_000, 5, 5)
    assert chunk_size(10**7, 64, 63) >= 1  # a floor, however large the work


def test_resume_keeps_the_schedule_at_a_large_dim():
    offsets = np.arange(0, 200_001, 10, dtype=np.int64)
    size = chunk_size(20_000, 5, 5)
    first = schedule([offsets], 2, chunk_tokens=size)
    again = schedule([offsets], 2, chunk_tokens=size)
    assert len(first["id"]) > 2 * 200_000 // CHUNK_TOKENS
    for key in first:
        assert np.array_equal(first[key], again[key])


@pytest.mark.skipif(sys.platform != "linux", reason="signals to a subprocess")
def test_ctrl_c_at_a_large_dim_stops_within_seconds(tmp_path):
    # dim 20000, window 10, negative 20 on a tiny vocabulary: a chunk of 32768 words took about 15 s.
    text = tmp_path / "c.txt"
    rng = np.random.default_rng(0)
    text.write_text("".join(" ".join(f"w{w}" for w in rng.integers(0, 30, 20)) + "\n" for _ in range(20000)))
    proc = subprocess.Popen([sys.executable, "-m", "mtlembed.cli", "train", str(text), "-o",
                             str(tmp_path / "v.bin"), "--dim", "20000", "--threads", "1", "--min-count", "1",
                             "--sample", "0", "--epochs", "1", "--window", "10", "--negative", "20"],
                            stderr=subprocess.PIPE, text=True)
    try:
        assert cpu_seconds_after(proc, 3.0, within=60), "training did not start"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert time.monotonic() - sent < 3.0
    finally:
        proc.kill()
        proc.wait()


def cpu_seconds_after(proc, seconds, within):
    """Waits until `proc` has used `seconds` of CPU (reading the corpus takes a fraction of one, so it
    is training then); False if it ends or `within` seconds pass first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and proc.poll() is None:
        with open(f"/proc/{proc.pid}/stat") as stat:
            ticks = sum(int(v) for v in stat.read().rsplit(")", 1)[1].split()[11:13])  # utime, stime
        if ticks / os.sysconf("SC_CLK_TCK") > seconds:
            return True
        time.sleep(0.1)
    return False


# -- a device that cannot train a job says so before anything is read ------------------------------

def tied_job(tmp_path, device, tie):
    for name, text in (("xx.txt", "a b c\n" * 50), ("yy.txt", "d e f\n" * 50), ("dict.txt", "a d\nb e\n")):
        (tmp_path / name).write_text(text)
    tasks = [TaskSpec("x", (str(tmp_path / "xx.txt"),), lang="xx"),
             TaskSpec("y", (str(tmp_path / "yy.txt"),), lang="yy")]
    files = (str(tmp_path / "xx.txt"), str(tmp_path / "yy.txt"))
    ties = {"parallel": [ParallelSpec("p", ("xx", "yy"), files)]} if tie == "parallel" else \
        {"dictionaries": [DictionarySpec(("xx", "yy"), str(tmp_path / "dict.txt"))]}
    return Trainer(TrainConfig(dim=8, epochs=1, min_count=1, threads=1, device=device), tasks, **ties)


def fake_gpu(monkeypatch):
    real = backend.info()
    monkeypatch.setattr(backend, "info", lambda: {**real, "cuda_compiled": True, "cuda_devices": ["a GPU"]})


@pytest.mark.parametrize("feature", sorted(backend.CUDA_LACKS))
def test_cuda_refuses_what_it_cannot_train_before_reading(tmp_path, monkeypatch, feature):
    from mtlembed import trainer as trainer_module

    fake_gpu(monkeypatch)
    monkeypatch.setattr(trainer_module, "job_features", lambda *_: [feature])
    trainer = tied_job(tmp_path, "cuda", "parallel")

    def no_reading(*_):
        raise AssertionError("the corpus was read first")

    monkeypatch.setattr(trainer, "read", no_reading)
    with pytest.raises(ConfigError, match=f"device 'cuda' does not train {backend.CUDA_LACKS[feature]} yet; "
                                          "use device 'cpu'"):
        trainer.train()


@pytest.mark.parametrize("tie", ["parallel", "dictionary"])
def test_cuda_trains_parallel_text_and_code_switching(tmp_path, monkeypatch, tie):
    # Both train on CUDA since issue 20: the job's features no longer send it elsewhere.
    assert not set(job_features_of(tied_job(tmp_path, "cuda", tie))) & set(backend.CUDA_LACKS)
    fake_gpu(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backend.device_for_job("auto", ["parallel", "codeswitch"]) == "cuda"
        assert backend.device_for_job("cuda", ["parallel", "codeswitch"]) == "cuda"


def job_features_of(trainer):
    from mtlembed.kernel import job_features

    return job_features(trainer.task_specs, trainer.parallel, trainer.dictionaries, trainer.config)


@pytest.mark.skipif(bool(_core.info()["cuda_devices"]), reason="a CUDA device would train the job")
def test_cuda_error_is_one_cli_line(tmp_path):
    (tmp_path / "xx.txt").write_text("a b c\n" * 50)
    (tmp_path / "yy.txt").write_text("d e f\n" * 50)
    job = tmp_path / "job.toml"
    job.write_text(textwrap.dedent(f"""
        [train]
        device = "cuda"
        [[task]]
        name = "x"
        lang = "xx"
        paths = ["{tmp_path / 'xx.txt'}"]
        [[task]]
        name = "y"
        lang = "yy"
        paths = ["{tmp_path / 'yy.txt'}"]
        [[parallel]]
        langs = ["xx", "yy"]
        paths = ["{tmp_path / 'xx.txt'}", "{tmp_path / 'yy.txt'}"]
    """))
    run = subprocess.run([sys.executable, "-m", "mtlembed.cli", "train", "--config", str(job), "-o",
                          str(tmp_path / "v.vec")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    reason = "found no CUDA device" if _core.info()["cuda_compiled"] else "was built without CUDA"
    assert run.stderr == f"mtlembed: error: device 'cuda' requested but mtlembed {reason}\n"
    assert not (tmp_path / "v.vec").exists()


def test_auto_falls_back_to_the_cpu_and_says_so(tmp_path, monkeypatch):
    from mtlembed import trainer as trainer_module

    fake_gpu(monkeypatch)
    monkeypatch.setattr(trainer_module, "job_features", lambda *_: ["per_pair_negatives"])
    trainer = tied_job(tmp_path, "auto", "parallel")
    with pytest.warns(UserWarning, match="device 'auto': training on the CPU, as the CUDA kernel does not "
                                         "train skip-gram with per-pair negatives yet") as caught:
        trainer.train()
    assert len(caught) == 1 and trainer.report.device == "cpu"
