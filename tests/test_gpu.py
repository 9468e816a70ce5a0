"""The CUDA backend against the CPU oracle (skipped without a CUDA device).

- one center word's step on the device vs the CPU and a float64 reference;
- a training run that is deterministic on both backends (window 1, a single
  noise word, no subsampling, one piece of work per language) must match the
  CPU to float rounding: pairs, loss and every updated row;
- the same for a parallel task (both directions), for code-switching, and for
  rows padded to 4 or 16 floats on the device (cuda_row_floats);
- a real training run through the Python API must reach the CPU's quality
  (CBOW with cbow_share 4, rows of 4 floats, and a joint job with parallel
  text: translations found as often as on the CPU);
- a KeyboardInterrupt from the progress callback stops training early.

The step and deterministic checks also run without a GPU, on the CUDA
emulator (tests/test_cuda_emulator.py); the real runs and the interrupt need one.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_kernel import padded, reference_step  # one float64 oracle for both backends

from mtlembed import TaskSpec, TrainConfig, Trainer, _core, kernel
from mtlembed.kernel import kernel_job, train_params
from mtlembed.tasks import ParallelSpec, schedule

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _core.info()["cuda_devices"], reason="no CUDA device"),
]

# The CPU step has been exact for any number of targets since it copies the
# old rows for several target groups; the comparison against it stays limited
# to this many targets until it has run on a GPU.
CPU_EXACT_TARGETS = 6


def update_error(new, reference, old):
    """|new - reference| relative to the update itself (much stricter than relative to the values),
    allowing for the float32 rounding of the values."""
    new, reference, old = (np.asarray(a, np.float64) for a in (new, reference, old))
    scale = np.linalg.norm(reference - old) + 1e-6 * np.linalg.norm(old)
    return np.linalg.norm(new - reference) / scale


@pytest.mark.parametrize("model", ["sg", "cbow"])
@pytest.mark.parametrize("dim,n_contexts,n_targets",
                         [(100, 10, 6), (128, 4, 6), (300, 10, 11), (37, 48, 64), (1024, 20, 6), (16, 1, 1)])
def test_step_matches_cpu_and_float64(model, dim, n_contexts, n_targets):
    rng = np.random.default_rng(dim + n_contexts)
    scale = np.sqrt(2.0) / dim**0.25  # scores of about +-2: few clipped
    w_in = padded(rng.standard_normal((300, dim)) * scale)
    w_out = padded(rng.standard_normal((300, dim)) * scale)
    contexts = rng.integers(0, 300, n_contexts).astype(np.int32)
    targets = rng.integers(0, 300, n_targets).astype(np.int32)
    if n_contexts > 3 and n_targets > 3:  # repeated rows, as real windows and negative draws have
        contexts[3], targets[3] = contexts[1], targets[1]
    lr = 0.2  # updates well above the float32 rounding of the values
    ref_in, ref_out, ref_loss = reference_step(model, w_in, w_out, contexts, targets, lr)
    results = {}
    for backend in ("generic", "cuda"):
        a, b = w_in.copy(), w_out.copy()
        loss = _core.step(model, a, b, contexts, targets, lr, backend)
        results[backend] = (a, b, loss)
    a, b, loss = results["cuda"]
    assert update_error(a, ref_in, w_in) < 1e-5
    assert update_error(b, ref_out, w_out) < 1e-5
    assert loss == pytest.approx(ref_loss, rel=1e-4)  # the kernels' fast log is ~1e-5 absolute per pair
    ca, cb, closs = results["generic"]
    assert loss == pytest.approx(closs, rel=1e-5)
    if n_targets <= CPU_EXACT_TARGETS:
        assert update_error(a, ca, w_in) < 1e-5
        assert update_error(b, cb, w_out) < 1e-5
    untouched = np.setdiff1d(np.arange(300), contexts)
    np.testing.assert_array_equal(a[untouched], w_in[untouched])


def sentences_without_close_repeats(rng, first_id, vocab, n_sentences, max_len):
    """Token ids in [first_id, first_id + vocab) where no id repeats within 3 tokens.

    The CUDA kernel keeps each window position's row on chip: a word repeated
    inside one window would see its own updates later than on the CPU."""
    tokens, offsets = [], [0]
    for _ in range(n_sentences):
        sentence = []
        for _ in range(int(rng.integers(0, max_len + 1))):  # empty and one-word sentences included
            word = first_id + int(rng.integers(0, vocab))
            while word in sentence[-2:]:
                word = first_id + int(rng.integers(0, vocab))
            sentence.append(word)
        tokens += sentence
        offsets.append(len(tokens))
    return np.array(tokens, np.int32), np.array(offsets, np.int64)


def task(tokens, offsets, noise, head, weight):
    return _core.Task(tokens, offsets, noise=noise, head=head, weight=weight)


def core_train(backend, model, dim, window, negative, w_in, w_out, keep, noise, tasks, chunks,
               chunk_stats=None, progress=None, **cuda_rows):
    params = train_params(model=model, dim=dim, window=window, negative=negative, alpha=0.05, min_alpha=0.001,
                          seed=3, threads=1, cbow_share=1, **cuda_rows)
    job = kernel_job(w_in, w_out, keep, noise, tasks, chunks, chunk_stats)
    return _core.train(params, job, backend, progress=progress)


def one_translation_each(vocab, per_language=30):
    """Code-switching tables: word i's one translation is another word of its language (a permutation, so
    words that differ stay different and the no-close-repeats rule holds)."""
    ids = np.array([i // per_language * per_language + (i % per_language + 7) % per_language
                    for i in range(vocab)], np.int32)
    return np.arange(vocab + 1, dtype=np.int64), ids


def deterministic_job(rng, parallel):
    """Two languages (ids 0..29 and 30..59), deterministic on both backends: window 1, every negative one
    word per language, no subsampling. Two tasks with their own heads and one chunk each (< 1024 tokens:
    one warp's piece, touching rows no other warp touches); or one parallel task of both languages."""
    if parallel:
        sides = [sentences_without_close_repeats(rng, 0, 30, 40, 25),
                 sentences_without_close_repeats(rng, 30, 30, 40, 30)]
        assert int(sides[0][1][-1]) <= 1024
        tasks = [task(*sides[0], 0, 0, 0.7)]
        tasks[0].set_second_side(*sides[1], noise=1)
        n_sentences = [len(sides[0][1]) - 1]
    else:
        langs = [sentences_without_close_repeats(rng, 0, 30, 40, 30),
                 sentences_without_close_repeats(rng, 30, 30, 30, 25)]
        assert all(int(offsets[-1]) <= 1024 for _, offsets in langs)
        tasks = [task(tokens, offsets, lang, lang, weight)
                 for lang, ((tokens, offsets), weight) in enumerate(zip(langs, (1.0, 0.5)))]
        n_sentences = [len(offsets) - 1 for _, offsets in langs]
    n = len(tasks)
    chunks = {
        "task": np.arange(n, dtype=np.int32),
        "sentence_begin": np.zeros(n, np.int64),
        "sentence_end": np.array(n_sentences, np.int64),
        "progress_begin": np.arange(n) / n,
        "progress_end": np.arange(1, n + 1) / n,
        "id": np.arange(n, dtype=np.uint64),
    }
    return tasks, chunks


# (model, what): a deterministic job of two languages, plain, code-switched, as one parallel task, or on
# device rows of 4 or 16 floats holding the 37 used columns of the host's 48.
DETERMINISTIC = [(model, what) for model in ("sg", "cbow")
                 for what in ("plain", "codeswitch", "parallel", "rows of 4", "rows of 16")]


@pytest.mark.parametrize("model, what", DETERMINISTIC)
def test_deterministic_training_matches_cpu(model, what, gpu="cuda"):
    rng = np.random.default_rng(11)
    vocab, dim = 60, 37
    tasks, chunks = deterministic_job(rng, parallel=what == "parallel")
    if what == "codeswitch":
        for t in tasks:
            t.set_translations(1.0, *one_translation_each(vocab))  # always switched, one choice
    w_in = padded(rng.standard_normal((vocab, dim)) * 0.3)
    heads = [padded(rng.standard_normal((vocab, dim)) * 0.3) for _ in range(2)]
    keep = np.ones(vocab, np.float32)
    one = (np.ones(1, np.float32), np.zeros(1, np.int32))
    noise = [(*one, 5), (*one, 41)]  # every negative is word 5 (resp. 41)
    rows = {"cuda_cols": dim, "cuda_row_floats": int(what.split()[-1])} if what.startswith("rows") else {}
    runs = {}
    for backend in ("generic", gpu):
        a, b = w_in.copy(), [h.copy() for h in heads]
        per_chunk = np.full((len(chunks["task"]), 2), np.nan)  # (loss, pairs) of each chunk
        stats = core_train(backend, model, a.shape[1], 1, 3, a, b, keep, noise, tasks, chunks,
                           chunk_stats=per_chunk, **rows)
        runs[backend] = (a, b, stats, per_chunk)
    (ca, cb, cstats, cchunks), (ga, gb, gstats, gchunks) = runs["generic"], runs[gpu]
    assert gstats["pairs"] == cstats["pairs"] and gstats["words"] == cstats["words"]
    assert gstats["chunks"] == len(chunks["task"])
    assert gstats["loss"] == pytest.approx(cstats["loss"], rel=1e-5)
    assert gchunks[:, 1].tolist() == cchunks[:, 1].tolist()  # each task's pairs, hence its loss per pair
    assert gchunks[:, 0] == pytest.approx(cchunks[:, 0], rel=1e-5)
    assert update_error(ga, ca, w_in) < 1e-4
    for g, c, h in zip(gb, cb, heads):
        assert update_error(g, c, h) < 1e-4
    assert not ga[:, dim:].any() and not any(g[:, dim:].any() for g in gb)  # the padding stays zero


def topic_corpus(path, n_sentences=15000, vocab=2000, topics=40, in_topic=0.35, seed=0):
    """Sentences that partly stay within one of `topics` word groups: neighbours should share a topic."""
    rng = np.random.default_rng(seed)
    per = vocab // topics
    lines = []
    for _ in range(n_sentences):
        topical = rng.integers(topics) * per + rng.integers(0, per, 20)
        words = np.where(rng.random(20) < in_topic, topical, rng.integers(0, vocab, 20))
        lines.append(" ".join(f"w{w}" for w in words))
    path.write_text("\n".join(lines) + "\n")
    return per


def topic_purity(vectors, per, k=10):
    """Mean fraction of each word's k nearest neighbours (cosine) in its own topic."""
    unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    topic = np.array([int(w[1:]) // per for w in vectors.words])
    nearest = np.argsort(-sims, axis=1)[:, :k]
    return float(np.mean(topic[nearest] == topic[:, None]))


# CPU purity over seeds: sg 0.95 +- 0.01, cbow 0.74 +- 0.02; loss/pair +- 0.1%. CBOW shares negatives
# among cbow_share 4 centers (TrainConfig's default): a window apart on the CPU, in a row on CUDA.
@pytest.mark.parametrize("model, row_floats", [("sg", 16), ("cbow", 16), ("sg", 4)])
def test_training_reaches_cpu_quality(tmp_path, monkeypatch, model, row_floats, gpu="cuda"):
    monkeypatch.setattr(kernel, "CUDA_ROW_FLOATS", row_floats)
    per = topic_corpus(tmp_path / "topics.txt")
    results = {}
    for device in ("cpu", gpu):
        trainer = Trainer(TrainConfig(model=model, dim=48, epochs=3, window=5, negative=5, sample=1e-3,
                                      min_count=1, device=device, seed=2),
                          [TaskSpec("topics", (str(tmp_path / "topics.txt"),))])
        vectors = trainer.train()
        results[device] = (topic_purity(vectors, per), trainer.report.final_loss)
        assert trainer.report.train_words == 3 * 15000 * 20
    (cpu_purity, cpu_loss), (gpu_purity, gpu_loss) = results["cpu"], results[gpu]
    assert cpu_purity > 0.6  # the corpus is learnable
    assert gpu_purity > cpu_purity - 0.06
    assert gpu_loss == pytest.approx(cpu_loss, rel=0.03)


def bilingual_corpus(folder, n_sentences=6000, vocab=600, topics=20, seed=1):
    """Topic text in two languages (words xN and yN: yN translates xN), each task alone, and line-aligned
    parallel text where every third word of the translation is dropped (sides of different lengths).
    Returns the words per topic."""
    rng = np.random.default_rng(seed)
    per = vocab // topics

    def sentences():
        shape = (n_sentences, 15)
        topical = rng.integers(topics, size=(n_sentences, 1)) * per + rng.integers(0, per, shape)
        return np.where(rng.random(shape) < 0.4, topical, rng.integers(0, vocab, shape))

    for name, prefix in (("xx.txt", "x"), ("yy.txt", "y")):
        rows = sentences()
        (folder / name).write_text("".join(" ".join(f"{prefix}{w}" for w in row) + "\n" for row in rows))
    first = sentences()
    (folder / "px.txt").write_text("".join(" ".join(f"x{w}" for w in row) + "\n" for row in first))
    (folder / "py.txt").write_text("".join(" ".join(f"y{w}" for i, w in enumerate(row) if i % 3 != 2) + "\n"
                                           for row in first))
    return per


def translation_accuracy(vectors, per):
    """Share of words xN whose nearest yy word (cosine) is of the same topic as yN (topics are `per` ids)."""
    words = np.array(vectors.words)
    x, y = np.char.startswith(words, "xx:"), np.char.startswith(words, "yy:")
    topic = np.array([int(w[4:]) // per for w in words])
    unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
    nearest = (unit[x] @ unit[y].T).argmax(axis=1)
    return float(np.mean(topic[y][nearest] == topic[x]))


# A joint job: two languages and their parallel text, trained both ways from each side.
@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_joint_training_with_parallel_text_reaches_cpu_quality(tmp_path, model, gpu="cuda"):
    per = bilingual_corpus(tmp_path)
    results = {}
    for device in ("cpu", gpu):
        trainer = Trainer(TrainConfig(model=model, dim=48, epochs=3, window=5, negative=5, sample=1e-3,
                                      min_count=1, device=device, seed=2),
                          [TaskSpec("x", (str(tmp_path / "xx.txt"),), lang="xx"),
                           TaskSpec("y", (str(tmp_path / "yy.txt"),), lang="yy")],
                          parallel=[ParallelSpec("p", ("xx", "yy"), (str(tmp_path / "px.txt"),
                                                                     str(tmp_path / "py.txt")))])
        vectors = trainer.train()
        report = trainer.report
        results[device] = (translation_accuracy(vectors, per), report.final_loss, report.train_words)
    (cpu_accuracy, cpu_loss, cpu_words), (gpu_accuracy, gpu_loss, gpu_words) = results["cpu"], results[gpu]
    assert cpu_accuracy > 0.5  # the translations are learnable
    assert gpu_accuracy > cpu_accuracy - 0.06
    assert gpu_loss == pytest.approx(cpu_loss, rel=0.03) and gpu_words == cpu_words


def test_interrupt_stops_after_whole_chunks_and_keeps_the_vectors():
    rng = np.random.default_rng(0)
    vocab, n_tokens, epochs = 50000, 20_000_000, 50  # a billion tokens: seconds on any GPU
    tokens = rng.integers(0, vocab, n_tokens, dtype=np.int32)
    offsets = np.arange(0, n_tokens + 1, 1000, dtype=np.int64)
    w_in = ((rng.random((vocab, 64), dtype=np.float32) - 0.5) / 64).astype(np.float32)
    w_out = [np.zeros((vocab, 64), np.float32)]
    prob, alias = _core.alias_table(np.ones(vocab))
    chunks = schedule([offsets], epochs)
    calls = []

    def progress(words, chunks_done, loss, pairs):
        calls.append(words)
        if words > 0:  # once a launch has finished (the first call may come before any)
            raise KeyboardInterrupt

    start = time.perf_counter()
    stats = core_train("cuda", "sg", 64, 5, 5, w_in, w_out, np.ones(vocab, np.float32), [(prob, alias, 0)],
                       [task(tokens, offsets, 0, 0, 1.0)], chunks, progress=progress)
    assert time.perf_counter() - start < 10  # the upload, then at most two launches of ~0.2 s
    assert isinstance(stats["interrupted"], KeyboardInterrupt) and calls[-1] > 0
    # Graceful stop: exactly the first `chunks` chunks were trained, so a checkpoint resumes there.
    done = stats["chunks"]
    assert 0 < done < len(chunks["task"])
    sizes = offsets[chunks["sentence_end"][:done]] - offsets[chunks["sentence_begin"][:done]]
    assert stats["words"] == int(sizes.sum())
    assert np.any(w_out[0] != 0)  # what was trained came back to the host
