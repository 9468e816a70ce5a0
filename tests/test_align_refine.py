"""mtlembed.align's refinement: model selection by the unsupervised criterion, the frequency
cutoff, the seed pairs kept, and VecMap's multi-step map.

The spaces are a Gaussian point cloud and a noisy random rotation of it (rows shuffled, renamed);
the source's first rows play the most frequent words.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtlembed import cli
from mtlembed.align import align, induce, multistep, normalize
from mtlembed.errors import ConfigError

N, DIM = 500, 16


def spaces(seed: int = 0, noise: float = 0.0):
    """(src words, vectors), (tgt words, vectors), and the true pairs (source row i -> row order[i])."""
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((N, DIM)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    order = rng.permutation(N)
    tgt = np.empty_like(src)
    tgt[order] = src @ rotation + noise * rng.standard_normal((N, DIM))
    truth = [(f"s{i}", f"t{order[i]}") for i in range(N)]
    return ([f"s{i}" for i in range(N)], src), ([f"t{j}" for j in range(N)], tgt), truth


def criterion_of(mapped_src, mapped_tgt, cutoff):
    """The mean-cosine criterion of a mapping, recomputed from its output (unit rows, cut)."""
    cut = [normalize(np.array(side.vectors[:cutoff]), "unit") for side in (mapped_src, mapped_tgt)]
    return induce(*cut).mean_cosine


@pytest.mark.parametrize("method", ["iterative", "self-learning"])
def test_refinement_never_ends_below_its_start_by_the_criterion(method):
    src, tgt, truth = spaces(seed=3, noise=0.9)  # noisy: refinement moves the fit around
    wrong = [(s, truth[(i + 5) % N][1]) for i, (s, _) in enumerate(truth[40:70], start=40)]
    mapped_src, mapped_tgt, info = align(src, tgt, truth[:40] + wrong, method=method, multistep=False,
                                         cutoff=300, keep_seed=False)
    criteria = [h["criterion"] for h in info["history"]]
    assert info["iterations"] == len(criteria) >= 2
    kept = criteria[info["chosen"] - 1]
    assert kept == max(criteria) >= criteria[0]  # criteria[0] scores the seed fit
    # the mapping returned is the one that was scored so
    assert criterion_of(mapped_src, mapped_tgt, 300) == pytest.approx(kept, abs=1e-5)
    assert info["mean_cosine"] == kept


def test_the_seed_fit_is_kept_when_no_refinement_beats_it(monkeypatch):
    from mtlembed.align import core

    src, tgt, truth = spaces(seed=1)
    real = core.induce
    calls = []

    def worse_after_the_first(*args, **kwargs):  # every refined fit scores lower than the seed fit
        found = real(*args, **kwargs)
        calls.append(found)
        return found._replace(mean_cosine=found.mean_cosine - 0.1 * (len(calls) > 1))

    monkeypatch.setattr(core, "induce", worse_after_the_first)
    seed_only = align(src, tgt, truth[:60], method="procrustes", multistep=False)
    refined = align(src, tgt, truth[:60], method="iterative", multistep=False)
    assert refined[2]["chosen"] == 1 and refined[2]["iterations"] == 6
    np.testing.assert_array_equal(refined[2]["mapping"], seed_only[2]["mapping"])


def test_words_beyond_the_cutoff_take_no_part_in_induction():
    src, tgt, truth = spaces(seed=2, noise=0.3)
    seed_pairs = [(s, t) for s, t in truth[:200] if int(t[1:]) < 200][:30]  # both words among the 200 first
    rng = np.random.default_rng(9)
    runs = []
    for scramble in (False, True):
        s, t = (np.array(side[1]) for side in (src, tgt))
        if scramble:  # rows beyond the cutoff (the rare words) replaced by others
            s[200:] = rng.standard_normal(s[200:].shape)
            t[200:] = rng.standard_normal(t[200:].shape)
        # normalize without centering: centering would carry the rare rows into the frequent ones
        runs.append(align((src[0], s), (tgt[0], t), seed_pairs, method="iterative", cutoff=200,
                          normalize="unit", multistep=False)[2])
    assert [h["pairs"] for h in runs[0]["history"]] == [h["pairs"] for h in runs[1]["history"]]
    np.testing.assert_allclose(runs[0]["mapping"], runs[1]["mapping"], atol=1e-6)


def test_the_given_pairs_stay_in_every_induced_dictionary():
    src, tgt, truth = spaces(seed=4, noise=0.5)
    kept = align(src, tgt, truth[:50], method="iterative", cutoff=100, multistep=False)[2]
    dropped = align(src, tgt, truth[:50], method="iterative", cutoff=100, multistep=False, keep_seed=False)[2]
    assert kept["keep_seed"] and not dropped["keep_seed"]
    # the induced pairs are among the 100 first rows; 10 of the seed pairs lie beyond them
    assert all(h["pairs"] >= 50 for h in kept["history"])
    assert all(h["pairs"] <= 100 for h in dropped["history"])
    identical = align(src, (src[0], tgt[1]), method="iterative", multistep=False)[2]
    assert not identical["keep_seed"]  # identical strings hold false friends: re-induced each time


def test_multistep_maps_both_sides_and_is_deterministic():
    src, tgt, truth = spaces(seed=5, noise=0.05)
    runs = [align(src, tgt, truth[:100], method="iterative") for _ in range(2)]
    (mapped_src, mapped_tgt, info), again = runs
    np.testing.assert_array_equal(mapped_src.vectors, again[0].vectors)
    np.testing.assert_array_equal(mapped_tgt.vectors, again[1].vectors)
    assert info["multistep"] and info["target_mapping"].shape == (DIM, DIM)
    assert not np.allclose(info["mapping"] @ info["mapping"].T, np.eye(DIM), atol=1e-3)  # not orthogonal
    unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in (mapped_src.vectors, mapped_tgt.vectors)]
    target_rows = [int(t[1:]) for _, t in truth]
    assert np.mean((unit[0] @ unit[1].T).argmax(axis=1) == target_rows) > 0.99


def test_multistep_needs_a_spanning_dictionary():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, DIM))
    with pytest.raises(ConfigError, match="at least as many pairs as dimensions"):
        multistep(x, x)
    src, tgt, truth = spaces(seed=6)
    with pytest.warns(UserWarning, match="stays orthogonal"):
        info = align(src, tgt, truth[:8], method="procrustes")[2]
    assert not info["multistep"] and "target_mapping" not in info


def test_cli_options_reach_the_report(capsys, tmp_path):
    from mtlembed import io

    src, tgt, truth = spaces(seed=7, noise=0.05)
    for (words, vectors), name in ((src, "src.vec"), (tgt, "tgt.vec")):
        io.save_word2vec(tmp_path / name, words, vectors)
    (tmp_path / "dict.txt").write_text("".join(f"{s} {t}\n" for s, t in truth[:80]))
    code = cli.main(["align", str(tmp_path / "src.vec"), str(tmp_path / "tgt.vec"),
                     "-o", str(tmp_path / "out"), "--dictionary", str(tmp_path / "dict.txt"),
                     "--no-multistep", "--no-keep-seed", "--criterion", "csls",
                     "--report", str(tmp_path / "report.json"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["multistep"], report["keep_seed"], report["criterion"]) == (False, False, "csls")
    assert report["history"][report["chosen"] - 1]["criterion"] == report["objective"]
    mapped = io.load_word2vec(tmp_path / "out.src.vec")
    np.testing.assert_allclose(np.linalg.norm(mapped[1], axis=1), 1, atol=1e-5)  # orthogonal: unit rows stay
