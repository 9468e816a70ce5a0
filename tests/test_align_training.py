"""Alignment in training: refine = procrustes | iterative | self-learning (through mtlembed align),
dictionaries between any two languages, and align while training (align_every)."""

from __future__ import annotations

import numpy as np
import pytest
from test_induce import bilingual  # noqa: F401, F811  (the fixture: x<i> translates to y<i>)

from mtlembed import ConfigError, TrainConfig, Trainer
from mtlembed.align.training import AlignWhileTraining
from mtlembed.crosslingual import refine
from mtlembed.jobconfig import parse_job
from mtlembed.model import Embeddings
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec

DIM, N = 16, 400


def rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((DIM, DIM)))
    return q * np.sign(np.diag(r))


def world(noise: float = 0.05, identical: int = 0):
    """en: random rows; es and it: en's rows rotated (two rotations) plus noise. es's first `identical`
    words are spelled as their English translations (names, numbers)."""
    rng = np.random.default_rng(0)
    en = rng.standard_normal((N, DIM)).astype(np.float32)
    es = en @ rotation(1) + noise * rng.standard_normal((N, DIM))
    it = en @ rotation(2) + noise * rng.standard_normal((N, DIM))
    es_words = [f"w{i}" if i < identical else f"p{i}" for i in range(N)]
    words = [f"en:w{i}" for i in range(N)] + [f"es:{w}" for w in es_words] + [f"it:q{i}" for i in range(N)]
    return Embeddings(words, np.concatenate([en, es, it]).astype(np.float32))


def accuracy(model: Embeddings, lang: str, prefix: str) -> float:
    """Share of `lang`'s words whose nearest English row (cosine) is their translation."""
    own = model.by_language(lang).unit_vectors()
    english = model.by_language("en").unit_vectors()
    return float(np.mean(np.argmax(own @ english.T, axis=1) == np.arange(N)))


@pytest.mark.parametrize("method", ["procrustes", "iterative", "self-learning"])
def test_refine_methods_map_onto_the_pivot(method):
    model = world()
    assert accuracy(model, "es", "p") < 0.05  # not aligned before
    pairs = [(f"w{i}", f"p{i}") for i in range(0, N, 8)]  # 50 seed pairs
    with pytest.warns(UserWarning, match="'it' left as is"):  # nothing ties it to the others
        refined = refine(model, "en", [(("en", "es"), pairs)], method)
    assert accuracy(refined, "es", "p") > 0.95
    np.testing.assert_array_equal(refined.vectors[:N], model.vectors[:N])  # the pivot is unchanged
    es_before, es_after = model.by_language("es").vectors, refined.by_language("es").vectors
    np.testing.assert_allclose(es_after @ es_after.T, es_before @ es_before.T, rtol=1e-3, atol=1e-3)


def test_iterative_refinement_recovers_from_a_noisy_seed():
    """A seed with half its pairs wrong: one Procrustes fit is pulled off, MUSE's refinement is not."""
    model = world(noise=0.3)
    rng = np.random.default_rng(3)
    pairs = [(f"w{i}", f"p{i}") for i in range(40)] + [(f"w{i}", f"p{j}") for i, j in
                                                        zip(range(40, 80), rng.permutation(N)[:40])]
    one_shot = accuracy(refine(model, "en", [(("en", "es"), pairs)], "procrustes"), "es", "p")
    refined = accuracy(refine(model, "en", [(("en", "es"), pairs)], "iterative"), "es", "p")
    assert refined > one_shot + 0.02 and refined > 0.9, (one_shot, refined)


def test_self_learning_needs_no_dictionary():
    """No dictionary at all: words spelled the same in both seed it (VecMap); the other methods leave
    the language as it is."""
    model = world(identical=30)
    refined = refine(model, "en", [], "self-learning")
    es = refined.by_language("es").unit_vectors()
    english = refined.by_language("en").unit_vectors()
    assert np.mean(np.argmax(es @ english.T, axis=1) == np.arange(N)) > 0.95
    with pytest.warns(UserWarning, match="'es' left as is: no dictionary to it"):
        refine(model, "en", [], "iterative")


def test_a_language_tied_to_another_one_is_mapped_through_it():
    """en-es and es-it dictionaries, none en-it: it is mapped onto es's mapped space, so onto English."""
    model = world()
    en_es = [(f"w{i}", f"p{i}") for i in range(0, N, 4)]
    es_it = [(f"p{i}", f"q{i}") for i in range(1, N, 4)]
    for method in ("procrustes", "iterative"):
        refined = refine(model, "en", [(("en", "es"), en_es), (("es", "it"), es_it)], method)
        assert accuracy(refined, "it", "q") > 0.95
    # written the other way round (it-es), the same
    refined = refine(model, "en", [(("es", "en"), [(t, s) for s, t in en_es]),
                                   (("it", "es"), [(t, s) for s, t in es_it])])
    assert accuracy(refined, "it", "q") > 0.95


def test_refine_needs_a_dictionary_but_self_learning(tmp_path):
    tasks = "".join(f'[[task]]\nname = "{x}"\nlang = "{x}"\npaths = "{x}.txt"\n' for x in ("en", "es"))
    import tomllib

    for method in ("procrustes", "iterative"):
        with pytest.raises(ConfigError, match=f'refine = "{method}" needs at least one'):
            parse_job(tomllib.loads(f'[train]\nrefine = "{method}"\n' + tasks))
    job = parse_job(tomllib.loads('[train]\nrefine = "self-learning"\n' + tasks))
    assert job.config.refine == "self-learning"
    with pytest.raises(ConfigError, match="refine"):
        TrainConfig(refine="vecmap")


# ----------------------------------------------------------------------------- with the trainer


def run(root, **config):
    config = TrainConfig(dim=16, epochs=2, threads=1, min_count=1, sample=0, seed=3, **config)
    tasks = [TaskSpec(x, (str(root / f"par.{x}"),), lang=x) for x in ("xx", "yy")]
    parallel = [ParallelSpec("xy", ("xx", "yy"), (str(root / "par.xx"), str(root / "par.yy")), weight=0.2)]
    trainer = Trainer(config, tasks, parallel, [DictionarySpec(("xx", "yy"), induced_from="xy")])
    return trainer, trainer.train()


def test_trainer_refines_with_the_chosen_method(bilingual):  # noqa: F811
    """The same run, refined or not: within a language the cosines are the same (an orthogonal map),
    and refinement brings translations closer."""
    _, raw = run(bilingual)
    _, refined = run(bilingual, refine="iterative")
    yy_raw, yy_refined = raw.by_language("yy").vectors, refined.by_language("yy").vectors
    np.testing.assert_allclose(yy_refined @ yy_refined.T, yy_raw @ yy_raw.T, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(refined.by_language("xx").vectors, raw.by_language("xx").vectors)

    def translation_cosine(model):
        x, y = model.by_language("xx"), model.by_language("yy")
        return np.mean([x.get_vector(f"x{i}", norm=True) @ y.get_vector(f"y{i}", norm=True)
                        for i in range(60)])

    assert translation_cosine(refined) > translation_cosine(raw) + 0.01  # measured 0.80 against 0.77


class _Vocab:
    """What AlignWhileTraining reads of a Vocabulary."""

    def __init__(self, sizes):
        self.languages = list(sizes)
        self.starts = np.cumsum([0] + list(sizes.values()))
        self.words = [f"{lang}{i}" for lang, n in sizes.items() for i in range(n)]

    def range_of(self, lang):
        i = self.languages.index(lang)
        return int(self.starts[i]), int(self.starts[i + 1])

    def __len__(self):
        return len(self.words)


def test_align_while_training_ties_the_nearest_words_every_k_chunks():
    rng = np.random.default_rng(0)
    en = rng.standard_normal((50, 8)).astype(np.float32)
    es = en[rng.permutation(50)] + 0.01 * rng.standard_normal((50, 8)).astype(np.float32)
    w_in = np.zeros((100, 16), np.float32)  # rows padded beyond dim, as the trainer's
    w_in[:50, :8], w_in[50:, :8] = en, es
    tables = []
    aligner = AlignWhileTraining(10, _Vocab({"en": 50, "es": 50}), w_in, 8, "en", None, tables.append)
    assert [aligner.segment_end(p, 100) for p in (0, 9, 10, 25)] == [10, 10, 20, 30]
    aligner.after(5)
    assert not tables  # not at a multiple of 10
    aligner.after(10)
    table = tables[-1]
    for row in range(50, 100):  # each es word is tied to the English row it was made from, both ways
        source = int(np.argmin(np.linalg.norm(en - w_in[row, :8], axis=1)))
        assert table.ids[table.offsets[row]:table.offsets[row + 1]].tolist() == [source]
        assert row in table.ids[table.offsets[source]:table.offsets[source + 1]].tolist()
    assert aligner.history == [{"chunk": 10, "pairs": {"es": 50}}]


def test_align_every_feeds_ties_back_into_training(bilingual):  # noqa: F811
    """No seed pairs from a file: the dictionary comes from the vectors themselves every 20 chunks;
    the run is deterministic and differs from one without it."""
    config = dict(dim=16, epochs=2, threads=1, min_count=1, sample=0, seed=3)
    tasks = [TaskSpec(x, (str(bilingual / f"par.{x}"),), lang=x) for x in ("xx", "yy")]
    parallel = [ParallelSpec("xy", ("xx", "yy"), (str(bilingual / "par.xx"), str(bilingual / "par.yy")))]

    def train(**extra):
        trainer = Trainer(TrainConfig(**config, **extra), tasks, parallel)
        return trainer, trainer.train()

    trainer, aligned = train(align_every=3)
    history = trainer.notes["align_history"]
    assert [h["chunk"] for h in history] == list(range(3, 3 * len(history) + 1, 3)) and len(history) >= 2
    assert all(h["pairs"]["yy"] > 0 for h in history)
    _, again = train(align_every=3)
    np.testing.assert_array_equal(aligned.vectors, again.vectors)
    _, plain = train()
    assert not np.array_equal(aligned.vectors, plain.vectors)
    with pytest.raises(ConfigError, match="align_every"):
        TrainConfig(align_every=-1)
