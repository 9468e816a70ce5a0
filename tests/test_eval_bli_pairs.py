"""`mtlembed eval bli --pairs MODEL DICTIONARY...`: every language pair of a joint model in one command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtlembed.cli import main
from mtlembed.dictionary import language_pair
from mtlembed.io import save_word2vec

N = 30


@pytest.fixture()
def joint(tmp_path):
    """A joint model where es and de word i share en word i's vector, except de words 0-9 (wrong)."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((N, 8)).astype(np.float32)
    wrong = np.roll(base, 1, axis=0)
    rows = {"en": base, "es": base, "de": np.concatenate([wrong[:10], base[10:]])}
    keys = [f"{lang}:{lang}{i}" for lang in rows for i in range(N)]
    save_word2vec(tmp_path / "joint.vec", keys, np.concatenate(list(rows.values())))
    for lang, matrix in rows.items():
        save_word2vec(tmp_path / f"split.{lang}.vec", [f"{lang}{i}" for i in range(N)], matrix)
    for src, tgt in (("en", "es"), ("en", "de"), ("es", "en")):
        (tmp_path / f"{src}-{tgt}.test.txt").write_text("".join(f"{src}{i} {tgt}{i}\n" for i in range(N)))
    return tmp_path


@pytest.mark.parametrize("model", ["joint.vec", "split"])
def test_every_pair_is_scored_in_one_command(joint, model, capsys):
    dictionaries = [str(joint / f"{pair}.test.txt") for pair in ("en-es", "en-de", "es-en")]
    command = ["eval", "bli", "--pairs", str(joint / model), *dictionaries, "--json", "--method", "nn"]
    assert main(command) == 0
    rows = json.loads(capsys.readouterr().out)["pairs"]
    assert [(r["src"], r["tgt"]) for r in rows] == [("en", "es"), ("en", "de"), ("es", "en")]
    assert [r["p@1"] for r in rows] == [1.0, pytest.approx(20 / 30), 1.0]   # de words 0-9 are wrong


def test_the_table_has_a_line_per_pair(joint, capsys):
    assert main(["eval", "bli", "--pairs", str(joint / "joint.vec"), str(joint / "en-es.test.txt"),
                 str(joint / "en-de.test.txt")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["en->es", "en->de"]


@pytest.mark.parametrize("name", ["dictionary.txt", "en-fr.test.txt", "en-en.test.txt"])
def test_a_dictionary_without_two_of_the_models_languages_is_one_error_line(joint, name, capsys):
    (joint / name).write_text("en0 es0\n")
    assert main(["eval", "bli", "--pairs", str(joint / "joint.vec"), str(joint / name)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SRC-TGT" in err[0] and "en, es, de" in err[0]


def test_language_pair_reads_muse_names():
    assert language_pair("/x/en-es.5000-6500.txt") == ("en", "es")
    assert language_pair("de-en.txt") == ("de", "en")
    assert language_pair("dictionary.txt") is None
