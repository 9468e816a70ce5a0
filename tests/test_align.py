"""`mtlembed align` and mtlembed.align: Procrustes, iterative refinement, self-learning.

The synthetic spaces are a Gaussian point cloud and a random rotation of it, with the
rows shuffled and renamed, so that the true mapping and dictionary are known exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mtlembed import cli, crosslingual, io
from mtlembed.align import align, identical_pairs, induce, normalize, parse_normalization, procrustes
from mtlembed.errors import ConfigError, FormatError

N, DIM = 600, 20


class Spaces:
    """src words s0.., tgt words t0..; tgt row order[i] is src row i rotated by `rotation`."""

    def __init__(self, seed: int = 0, n: int = N, dim: int = DIM):
        rng = np.random.default_rng(seed)
        self.src = rng.standard_normal((n, dim)).astype(np.float32)
        self.rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.order = rng.permutation(n)  # where each source row lands in the target
        self.tgt = np.empty_like(self.src)
        self.tgt[self.order] = self.src @ self.rotation
        self.src_words = [f"s{i}" for i in range(n)]
        self.tgt_words = [f"t{j}" for j in range(n)]
        self.truth = [(f"s{i}", f"t{self.order[i]}") for i in range(n)]

    def recovered(self, mapped_src, mapped_tgt, atol=1e-5) -> bool:
        """Whether every mapped source row sits on its true target row."""
        return np.allclose(mapped_src.vectors, mapped_tgt.vectors[self.order], atol=atol)

    def with_identical(self, true: int, false_friends: int) -> list[str]:
        """Target words where `true` translations are spelled as their source word, and
        `false_friends` target words are spelled as an unrelated source word."""
        words = list(self.tgt_words)
        for i in range(true):
            words[self.order[i]] = f"s{i}"
        for i in range(true, true + false_friends):
            words[self.order[i + len(words) // 2]] = f"s{i}"
        return words


@pytest.fixture(scope="module")
def spaces() -> Spaces:
    return Spaces()


def noisy_pairs(spaces: Spaces, good: int, bad: int) -> list[tuple[str, str]]:
    wrong = [(f"s{i}", f"t{spaces.order[(i + 7) % N]}") for i in range(good, good + bad)]
    return spaces.truth[:good] + wrong


# ----------------------------------------------------------------------------- the pieces


def test_procrustes_is_one_implementation_shared_with_training():
    assert crosslingual.procrustes is procrustes


def test_training_imports_procrustes_without_evaluation_code():
    code = ("import sys; import mtlembed.align.orthogonal; "
            "print(any(m.startswith(('mtlembed.eval', 'mtlembed.align.core')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_normalize_unit_center_unit():
    rng = np.random.default_rng(1)
    vectors = (rng.standard_normal((200, 8)) * 5 + 3).astype(np.float32)
    centered = normalize(vectors.copy(), "unit,center")
    np.testing.assert_allclose(centered.mean(axis=0), 0, atol=1e-6)
    out = normalize(vectors.copy(), ["unit", "center", "unit"])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-6)
    scaled = normalize(vectors.copy(), "unitdim")
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-5)
    assert parse_normalization("none") == ()
    np.testing.assert_array_equal(normalize(vectors.copy(), "none"), vectors)
    with pytest.raises(ConfigError, match="unit, center, unitdim, none"):
        parse_normalization("unit,whiten")
    with pytest.raises(ConfigError, match="unit, center, unitdim, none"):
        parse_normalization("")


def test_normalize_keeps_a_zero_row_finite():
    out = normalize(np.array([[0, 0], [3, 4]], dtype=np.float32), "unit")
    np.testing.assert_allclose(out, [[0, 0], [0.6, 0.8]])


def test_identical_pairs_and_numerals():
    src, tgt = ["the", "1999", "paris", "3.5", "gato"], ["el", "paris", "3.5", "1999", "perro"]
    assert [(src[i], tgt[j]) for i, j in zip(*identical_pairs(src, tgt))] == [
        ("1999", "1999"), ("paris", "paris"), ("3.5", "3.5")]
    assert [src[i] for i in identical_pairs(src, tgt, numerals_only=True)[0]] == ["1999", "3.5"]


def test_induce_finds_the_true_dictionary_in_every_direction(spaces):
    x = normalize(spaces.src.copy(), "unit")
    z = normalize(spaces.tgt.copy(), "unit")
    mapped = (x @ spaces.rotation).astype(np.float32)
    for direction in ("mutual", "forward", "union"):
        found = induce(mapped, z, direction=direction)
        assert set(zip(found.src.tolist(), found.tgt.tolist())) == set(enumerate(spaces.order.tolist()))
    # every word's best CSLS score is 2 cos - r_T(x) - r_S(y) with cos = 1
    expected = 2 - _mean_r(mapped, z) - _mean_r(z, mapped)
    assert induce(mapped, z).objective == pytest.approx(expected, abs=1e-4)


def _mean_r(x, z, k=10):
    """The mean cosine of each source row's k nearest target rows (a plain full-matrix reference)."""
    scores = x @ z.T
    return np.sort(scores, axis=1)[:, -k:].mean()


# ----------------------------------------------------------------------------- recovering a rotation


def test_procrustes_recovers_the_rotation_from_a_dictionary(spaces):
    before = spaces.src.copy()
    mapped_src, mapped_tgt, info = align((spaces.src_words, spaces.src), (spaces.tgt_words, spaces.tgt),
                                         dictionary=spaces.truth[:50], method="procrustes", multistep=False)
    np.testing.assert_array_equal(spaces.src, before)  # the caller's vectors are copied, not normalized
    np.testing.assert_allclose(info["mapping"], spaces.rotation, atol=1e-5)
    assert spaces.recovered(mapped_src, mapped_tgt)
    assert info["seed_pairs"] == 50 and info["iterations"] == 0
    np.testing.assert_allclose(np.linalg.norm(mapped_tgt.vectors, axis=1), 1, atol=1e-5)
    raw = align((spaces.src_words, spaces.src), (spaces.tgt_words, spaces.tgt), dictionary=spaces.truth[:50],
                method="procrustes", normalize="none", multistep=False)  # the vectors as they are
    np.testing.assert_array_equal(raw[1].vectors, spaces.tgt)
    assert raw[2]["normalize"] == "none"


def test_iterative_refinement_recovers_it_from_a_partial_noisy_dictionary(spaces):
    pairs = noisy_pairs(spaces, good=30, bad=12)  # 7% of the words, 29% of the pairs wrong
    src, tgt = (spaces.src_words, spaces.src), (spaces.tgt_words, spaces.tgt)
    one_shot = align(src, tgt, dictionary=pairs, method="procrustes")
    assert not spaces.recovered(*one_shot[:2], atol=1e-2)
    lines = []
    mapped_src, mapped_tgt, info = align(src, tgt, dictionary=pairs, method="iterative", log=lines.append,
                                         keep_seed=False, multistep=False)  # MUSE's refinement
    assert spaces.recovered(mapped_src, mapped_tgt)
    np.testing.assert_allclose(info["mapping"], spaces.rotation, atol=1e-5)
    assert info["pairs"] == N and info["iterations"] == 6  # 5 refinements, the last one scored too
    assert len([line for line in lines if "next dictionary" in line]) == 6


def test_self_learning_recovers_it_from_identical_strings_only(spaces):
    tgt_words = spaces.with_identical(true=15, false_friends=5)  # fewer true seeds than dimensions
    lines = []
    mapped_src, mapped_tgt, info = align((spaces.src_words, spaces.src), (tgt_words, spaces.tgt),
                                         method="self-learning", log=lines.append)
    assert info["seed"] == "identical" and info["seed_pairs"] == 20
    assert spaces.recovered(mapped_src, mapped_tgt)
    criteria = [h["criterion"] for h in info["history"]]
    assert criteria[-1] <= criteria[-2] + 1e-4  # stopped because it stopped improving
    assert 2 < info["iterations"] < 100
    assert all("next dictionary" in line for line in lines[1:-2])  # then the kept fit, the multi-step map


def test_stochastic_self_learning_is_deterministic_for_a_seed():
    spaces = Spaces(seed=1, n=400, dim=12)
    tgt_words = spaces.with_identical(true=10, false_friends=3)
    runs = [align((spaces.src_words, spaces.src), (tgt_words, spaces.tgt), method="self-learning",
                  stochastic=0.25, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0].vectors, runs[1][0].vectors)
    histories = [[{k: v for k, v in h.items() if k != "seconds"} for h in run[2]["history"]] for run in runs]
    assert histories[0] == histories[1]
    assert runs[0][2]["history"][0]["keep"] == 0.25 and runs[0][2]["history"][-1]["keep"] == 1
    assert spaces.recovered(*runs[0][:2])


def test_a_dictionary_with_swapped_columns_is_named(spaces):
    src, tgt = (spaces.src_words, spaces.src), (spaces.tgt_words, spaces.tgt)
    swapped = [(t, s) for s, t in spaces.truth[:50]]
    with pytest.raises(ConfigError, match="50 would be with its columns swapped"):
        align(src, tgt, dictionary=swapped, method="procrustes")
    with pytest.warns(UserWarning, match="only 5 of the dictionary's 50 pairs .* 45 would be"):
        align(src, tgt, dictionary=spaces.truth[:5] + swapped[5:], method="procrustes")


def test_api_errors(spaces):
    src, tgt = (spaces.src_words, spaces.src), (spaces.tgt_words, spaces.tgt)
    with pytest.raises(FormatError, match="dim 20 .* dim 10"):
        align(src, (spaces.tgt_words, spaces.tgt[:, :10]), dictionary=spaces.truth)
    with pytest.raises(ConfigError, match="none of the dictionary's 1 pairs"):
        align(src, tgt, dictionary=[("nope", "nada")])
    with pytest.raises(ConfigError, match="no word spelled the same"):
        align(src, tgt)
    with pytest.raises(ConfigError, match="alignment method"):
        align(src, tgt, dictionary=spaces.truth, method="muse")
    with pytest.raises(ConfigError, match="stochastic"):
        align(src, tgt, dictionary=spaces.truth, stochastic=0)


# ----------------------------------------------------------------------------- the CLI


@pytest.fixture
def files(tmp_path, spaces):
    """SRC, TGT (with 15 true identical strings and 5 false friends) and a dictionary file."""
    src, tgt, dictionary = tmp_path / "src.vec", tmp_path / "tgt.bin", tmp_path / "dict.txt"
    io.save_word2vec(src, spaces.src_words, spaces.src)
    io.save_word2vec(tgt, spaces.with_identical(15, 5), spaces.tgt)
    dictionary.write_text("".join(f"{s} {t}\n" for s, t in noisy_pairs(spaces, 30, 12)))
    return src, tgt, dictionary


def run_cli(capsys, *argv):
    code = cli.main(["align", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("seed", [["--dictionary"], ["--identical"]])
def test_cli_writes_files_gensim_loads(capsys, tmp_path, files, spaces, seed):
    gensim = pytest.importorskip("gensim")
    src, tgt, dictionary = files
    out = tmp_path / "out"
    seed_args = ["--dictionary", dictionary] if seed == ["--dictionary"] else seed
    code, stdout, err = run_cli(capsys, src, tgt, "-o", out, *seed_args, "--src-lang", "en", "--tgt-lang",
                                "es", "--report", tmp_path / "report.json")
    assert code == 0, err
    assert "iteration 1: mean-cosine" in err and "next dictionary" in err
    en = gensim.models.KeyedVectors.load_word2vec_format(str(out) + ".en.vec")
    es = gensim.models.KeyedVectors.load_word2vec_format(str(out) + ".es.vec")
    assert len(en) == N and en.vector_size == DIM
    i = 123
    target_word = es.index_to_key[spaces.order[i]]
    assert es.similar_by_vector(en[f"s{i}"], topn=1)[0][0] == target_word
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["method"] == ("iterative" if seed == ["--dictionary"] else "self-learning")
    assert "mapping" not in report and report["history"]


def test_cli_binary_output_and_determinism(capsys, tmp_path, files):
    gensim = pytest.importorskip("gensim")
    src, tgt, dictionary = files
    for name in ("a", "b"):
        code, _, err = run_cli(capsys, src, tgt, "-o", tmp_path / name, "--dictionary", dictionary,
                               "--binary", "--quiet")
        assert code == 0 and err == ""
    for side in ("src", "tgt"):
        a, b = (tmp_path / f"{name}.{side}.bin" for name in ("a", "b"))
        assert a.read_bytes() == b.read_bytes()
        assert len(gensim.models.KeyedVectors.load_word2vec_format(str(a), binary=True)) == N


def test_cli_aligns_the_two_languages_of_one_joint_file(capsys, tmp_path, spaces):
    joint = tmp_path / "joint.vec"
    io.save_word2vec(joint, [f"en:{w}" for w in spaces.src_words] + [f"es:{w}" for w in spaces.tgt_words],
                     np.concatenate((spaces.src, spaces.tgt)))
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("".join(f"{s} {t}\n" for s, t in spaces.truth[:40]))
    code, _, err = run_cli(capsys, joint, joint, "-o", tmp_path / "out", "--src-lang", "en", "--tgt-lang",
                           "es", "--dictionary", dictionary, "--method", "procrustes", "--quiet")
    assert code == 0, err
    en, es = (io.load_word2vec(tmp_path / f"out.{lang}.vec") for lang in ("en", "es"))
    assert en[0] == spaces.src_words and es[0] == spaces.tgt_words
    np.testing.assert_allclose(en[1], es[1][spaces.order], atol=1e-5)


def _one_error_line(code, err, *fragments):
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtlembed: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_cli_errors_are_one_line(capsys, tmp_path, files, spaces):
    src, tgt, dictionary = files
    out = tmp_path / "out"
    _one_error_line(*run_cli(capsys, tmp_path / "missing.vec", tgt, "-o", out)[::2], "missing.vec")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    _one_error_line(*run_cli(capsys, src, tgt, "-o", out, "--dictionary", empty)[::2], "no word pairs")
    narrow = tmp_path / "narrow.vec"
    io.save_word2vec(narrow, spaces.tgt_words, spaces.tgt[:, :10])
    _one_error_line(*run_cli(capsys, src, narrow, "-o", out, "--dictionary", dictionary)[::2], "dim 10")
    plain = tmp_path / "plain.vec"
    io.save_word2vec(plain, spaces.tgt_words, spaces.tgt)
    _one_error_line(*run_cli(capsys, src, plain, "-o", out, "--identical")[::2], "no word spelled the same")
    _one_error_line(*run_cli(capsys, src, plain, "-o", out, "--numerals")[::2], "no numeral")
    _one_error_line(*run_cli(capsys, src, tgt, "-o", out, "--normalize", "whiten")[::2], "normalization")
    assert not list(tmp_path.glob("out*"))


def test_cli_never_overwrites_an_input(capsys, tmp_path, files):
    src, tgt, _ = files
    named_like_an_output = tmp_path / "out.src.vec"
    named_like_an_output.write_bytes(src.read_bytes())
    code, _, err = run_cli(capsys, named_like_an_output, tgt, "-o", tmp_path / "out", "--quiet")
    _one_error_line(code, err, "same file")
    assert named_like_an_output.read_bytes() == src.read_bytes()
    code, _, err = run_cli(capsys, src, tgt, "-o", tmp_path / "x", "--src-lang", "y", "--tgt-lang", "y")
    _one_error_line(code, err, "collide")
