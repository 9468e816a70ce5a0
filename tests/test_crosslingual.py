"""Seed dictionaries, the code-switching table, Procrustes (mtlembed.crosslingual)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import shared_file

from mtlembed import ConfigError, Embeddings, FormatError
from mtlembed.crosslingual import merge_tables, procrustes, read_dictionary, refine, translation_table
from mtlembed.tasks import DictionarySpec

# ----------------------------------------------------------------------------- read_dictionary


def test_muse_dictionary_space_separated():
    pairs = read_dictionary(shared_file("bli/muse_reconstructed/en-es.0-5000.txt"), ("en", "es"))
    assert len(pairs) == 11977
    assert pairs[:3] == [("the", "el"), ("the", "las"), ("the", "los")]
    assert all(len(s.split()) == 1 and len(t.split()) == 1 for s, t in pairs)


def test_xling_dictionary_tab_separated():
    pairs = read_dictionary(shared_file("bli/xling/en-de/yacle.train.freq.5k.en-de.tsv"), ("en", "de"))
    assert len(pairs) == 5000
    assert pairs[:2] == [("of", "von"), ("to", "zu")]


def write(tmp_path, content: bytes, name: str = "dict.txt"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_blank_lines_crlf_bom_and_tabs(tmp_path):
    path = write(tmp_path, "\ufeffhouse casa\r\n\r\n  \ndog\t perro \r\nnew york\tnueva york\n".encode())
    assert read_dictionary(path) == [("house", "casa"), ("dog", "perro"), ("new york", "nueva york")]


@pytest.mark.parametrize("line, columns",
                         [("house", 1), ("house casa hogar", 3), ("a\tb\tc", 3), ("house\t", 1)])
def test_wrong_number_of_columns(tmp_path, line, columns):
    path = write(tmp_path, f"dog perro\n{line}\ncat gato\n".encode())
    with pytest.raises(FormatError) as info:
        read_dictionary(path)
    message = str(info.value)
    assert f"{path}:2:" in message and f"{columns} column(s)" in message and repr(line) in message


def test_empty_dictionary(tmp_path):
    for content in (b"", b"\n  \n\n"):
        with pytest.raises(FormatError, match="no word pairs"):
            read_dictionary(write(tmp_path, content))


def test_invalid_utf8_names_the_line(tmp_path):
    path = write(tmp_path, b"dog perro\ncaf\xe9 cafe\n")
    with pytest.raises(FormatError, match=r"dict\.txt:2: not valid UTF-8"):
        read_dictionary(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="en-es dictionary file not found"):
        read_dictionary(tmp_path / "nope.txt", ("en", "es"))


def test_reversed_file_name_warns(tmp_path):
    path = write(tmp_path, b"casa house\n", name="es-en.0-5000.txt")
    with pytest.warns(UserWarning, match="suggests es->en"):
        read_dictionary(path, ("en", "es"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_dictionary(path, ("es", "en"))
        read_dictionary(write(tmp_path, b"a b\n", name="en-es.txt"), ("en", "es"))
        read_dictionary(write(tmp_path, b"a b\n", name="yacle.en-es.tsv"), ("en", "es"))


# ----------------------------------------------------------------------------- translation_table

SRC = {"house": 0, "dog": 1, "cat": 2}
TGT = {"casa": 3, "perro": 4, "gato": 5, "hogar": 6}


def rows(table) -> list:
    return [table.ids[table.offsets[i]:table.offsets[i + 1]].tolist() for i in range(len(table.offsets) - 1)]


def test_table_both_directions_oov_dropped_duplicates_removed():
    pairs = [("house", "hogar"), ("house", "casa"), ("dog", "perro"), ("dog", "perro"),
             ("cat", "michi"), ("bird", "gato"), ("bird", "pájaro")]
    table = translation_table(pairs, SRC, TGT, n_ids=8)
    assert table.offsets.dtype == np.int64 and table.ids.dtype == np.int32
    assert len(table.offsets) == 9 and table.offsets[0] == 0 and table.offsets[-1] == len(table.ids)
    assert rows(table) == [[3, 6], [4], [], [0], [1], [], [0], []]
    assert table.usable == 3
    offsets, ids, usable = table  # unpacks like a tuple
    assert usable == 3


def test_table_without_usable_pairs():
    table = translation_table([("bird", "pájaro")], SRC, TGT, n_ids=7)
    assert table.usable == 0 and len(table.ids) == 0
    assert table.offsets.tolist() == [0] * 8


def test_table_rejects_ids_outside_the_matrix():
    with pytest.raises(ConfigError, match="id 6, outside 0..5"):
        translation_table([("house", "hogar")], SRC, TGT, n_ids=6)


def test_merge_tables():
    en_es = translation_table([("house", "casa")], {"house": 0}, {"casa": 1}, n_ids=4)
    en_de = translation_table([("house", "haus"), ("house", "haus")], {"house": 0}, {"haus": 2}, n_ids=4)
    merged = merge_tables([en_es, en_de, en_es], n_ids=4)
    assert rows(merged) == [[1, 2], [0], [0], []]
    assert merged.usable == 3  # per dictionary
    with pytest.raises(ConfigError, match="cannot be merged"):
        merge_tables([en_es], n_ids=5)


# ----------------------------------------------------------------------------- procrustes


def random_rotation(dim: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("dim", [2, 30, 100])
def test_procrustes_recovers_a_rotation(dim):
    rotation = random_rotation(dim, seed=dim)
    src = np.random.default_rng(1).standard_normal((2 * dim + 10, dim))
    w = procrustes(src.astype(np.float32), (src @ rotation).astype(np.float32))
    assert w.dtype == np.float64 and w.shape == (dim, dim)
    np.testing.assert_allclose(w.T @ w, np.eye(dim), atol=1e-10)  # orthogonal
    np.testing.assert_allclose(procrustes(src, src @ rotation), rotation, atol=1e-6)
    np.testing.assert_allclose(w, rotation, atol=1e-5)  # float32 input: float32 data precision


def test_procrustes_with_noise_is_orthogonal_and_close():
    rotation = random_rotation(20, seed=3)
    rng = np.random.default_rng(4)
    src = rng.standard_normal((500, 20))
    w = procrustes(src, src @ rotation + 0.05 * rng.standard_normal((500, 20)))
    np.testing.assert_allclose(w @ w.T, np.eye(20), atol=1e-10)
    assert np.abs(w - rotation).max() < 0.02


def test_procrustes_errors():
    with pytest.raises(ConfigError, match="same shape"):
        procrustes(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="at least one pair"):
        procrustes(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ConfigError, match="NaN"):
        procrustes(np.full((2, 2), np.nan), np.zeros((2, 2)))


# ----------------------------------------------------------------------------- refine


def joint_model(dim: int = 8, n: int = 40):
    """en, es (en rotated), it (en rotated, no dictionary to en), with `lang:` keys."""
    rng = np.random.default_rng(0)
    en = rng.standard_normal((n, dim)).astype(np.float32) * rng.uniform(0.5, 3, (n, 1)).astype(np.float32)
    es = en @ random_rotation(dim, 1).astype(np.float32)
    it = en @ random_rotation(dim, 2).astype(np.float32)
    words = [f"en:w{i}" for i in range(n)] + [f"es:p{i}" for i in range(n)] + [f"it:q{i}" for i in range(n)]
    return Embeddings(words, np.concatenate([en, es, it])), en, es, it


def test_refine_maps_onto_the_pivot_and_leaves_unconnected_languages(tmp_path):
    model, en, es, it = joint_model()
    half = [(f"w{i}", f"p{i}") for i in range(20)] + [("w0", "unknown")]
    with pytest.warns(UserWarning, match="'it' left as is: no dictionary to it"):
        refined = refine(model, "en", [(("en", "es"), half)])  # (a language tied through another one
        # is mapped through it: tests/test_align_training.py)
    assert refined.words == model.words
    np.testing.assert_array_equal(refined.vectors[:40], en)        # the pivot is unchanged
    np.testing.assert_allclose(refined.vectors[40:80], en, atol=1e-4)  # es rows, unseen pairs included
    np.testing.assert_array_equal(refined.vectors[80:], it)        # no dictionary to the pivot
    np.testing.assert_array_equal(model.vectors[40:80], es)        # the input is not modified


def test_refine_reads_dictionary_specs_in_either_direction(tmp_path):
    model, en, _, it = joint_model()
    path = tmp_path / "es-en.txt"
    path.write_text("".join(f"p{i} w{i}\n" for i in range(40)))
    with pytest.warns(UserWarning, match="'it' left as is"):
        refined = refine(model, "en", [DictionarySpec(("es", "en"), str(path))])
    np.testing.assert_allclose(refined.vectors[40:80], en, atol=1e-4)
    # mapping it onto es instead: en is then the one left alone
    with pytest.warns(UserWarning, match="'en' left as is"):
        refine(model, "es", [(("es", "it"), [(f"p{i}", f"q{i}") for i in range(40)])])


def test_refine_warnings_and_errors():
    model, *_ = joint_model()
    with pytest.warns(UserWarning, match="none of its dictionary pairs is in the vocabulary"):
        it_pairs = [(f"w{i}", f"q{i}") for i in range(9)]
        refine(model, "en", [(("en", "es"), [("nope", "nada")]), (("en", "it"), it_pairs)])
    with pytest.warns(UserWarning, match="only 1 usable pairs"):
        refine(model, "en", [(("en", "es"), [("w1", "p1")]), (("en", "it"), [("w1", "q1")])])
    with pytest.raises(ConfigError, match="pivot language 'de'"):
        refine(model, "de", [])
