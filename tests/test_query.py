"""Looking at a model: Embeddings' KeyedVectors conventions (checked against gensim) and the
`neighbors` and `analogy` verbs, monolingual and cross-lingual."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtlembed import query
from mtlembed.cli import main
from mtlembed.errors import ConfigError, MtlembedError, UnknownWordError
from mtlembed.model import Embeddings

gensim = pytest.importorskip("gensim")

PAIRS = {"house": "casa", "dog": "perro", "king": "rey", "queen": "reina", "man": "hombre", "woman": "mujer",
         "water": "agua", "book": "libro"}


@pytest.fixture(scope="module")
def model() -> Embeddings:
    """200 random words of 16 dims, most frequent first."""
    rng = np.random.default_rng(3)
    return Embeddings([f"w{i}" for i in range(200)], rng.normal(size=(200, 16)).astype(np.float32))


@pytest.fixture(scope="module")
def kv(model):
    return model.to_gensim()


@pytest.fixture(scope="module")
def joint() -> Embeddings:
    """en: and es: keys; each Spanish word is its English translation plus a little noise, and
    king - man + woman = queen in both. English has "casa" too (a loanword), far from house."""
    rng = np.random.default_rng(5)
    english = {word: rng.normal(size=24) for word in PAIRS}
    english["queen"] = english["king"] - english["man"] + english["woman"] + 0.1 * rng.normal(size=24)
    english["casa"] = rng.normal(size=24)
    fillers = {f"x{i}": rng.normal(size=24) for i in range(40)}
    words, rows = [], []
    for word, vector in {**english, **fillers}.items():
        words.append(f"en:{word}")
        rows.append(vector)
    for word, translation in PAIRS.items():
        words.append(f"es:{translation}")
        rows.append(english[word] + 0.05 * rng.normal(size=24))
    for word, vector in fillers.items():
        words.append(f"es:{word}")
        rows.append(vector + 0.5 * rng.normal(size=24))
    return Embeddings(words, np.array(rows, dtype=np.float32))


def same_results(ours, theirs):
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


# ----------------------------------------------------------------------------- gensim's conventions


@pytest.mark.parametrize("positive, negative", [
    ("w3", None), (["w3"], None), (["w3", "w7"], None), (["w3", "w7"], ["w11"]), (None, ["w5"]),
    ([("w3", 2.0), "w7"], [("w11", -0.5)]), ([3, "w7"], None)])
def test_most_similar_matches_gensim(model, kv, positive, negative):
    for topn in (1, 10, 250):
        same_results(model.most_similar(positive=positive, negative=negative, topn=topn),
                     kv.most_similar(positive=positive, negative=negative, topn=topn))


def test_most_similar_of_vectors_and_restricted_vocabularies_matches_gensim(model, kv):
    vector = model.vectors[4] * 3 + model.vectors[9]
    same_results(model.most_similar(vector), kv.most_similar(vector))
    same_results(model.most_similar(positive=[vector, "w2"], negative=["w9"]),
                 kv.most_similar(positive=[vector, "w2"], negative=["w9"]))
    same_results(model.most_similar("w3", restrict_vocab=50), kv.most_similar("w3", restrict_vocab=50))
    all_scores = model.most_similar("w3", topn=None)
    np.testing.assert_allclose(all_scores, kv.most_similar("w3", topn=None), atol=1e-5)
    assert model.most_similar("w3", topn=0) == kv.most_similar("w3", topn=0) == []


def test_analogy_is_gensims_3cosadd(joint):
    kv = joint.to_gensim()
    ours = query.analogy(joint, "man", "king", "woman", topn=5)
    same_results(ours["neighbors"], kv.most_similar(positive=["en:king", "en:woman"], negative=["en:man"],
                                                    topn=5))
    assert ours["neighbors"][0][0] == "en:queen" and ours["keys"] == ["en:man", "en:king", "en:woman"]
    assert ours["query"] == ["man", "king", "woman"] and ours["kind"] == "analogy"


def test_lookups_match_gensim(model, kv):
    assert model.key_to_index == kv.key_to_index and model.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(model["w4"], kv["w4"])
    np.testing.assert_array_equal(model[["w4", "w0", "w4"]], kv[["w4", "w0", "w4"]])
    np.testing.assert_array_equal(model[7], kv[7])
    np.testing.assert_allclose(model.get_vector("w4", norm=True), kv.get_vector("w4", norm=True), atol=1e-6)
    assert model.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), abs=1e-5)
    for words in (["w1", "w2", "w3", "w4"], ["w10", "w60", "w61", "w0", "w5"]):
        assert model.doesnt_match(words) == kv.doesnt_match(words)


def test_doesnt_match_ignores_unknown_words_as_gensim_does(model, kv):
    with pytest.warns(UserWarning, match="nope"):
        assert model.doesnt_match(["w1", "nope", "w2", "w3"]) == kv.doesnt_match(["w1", "nope", "w2", "w3"])
    with pytest.raises(ValueError), pytest.warns(UserWarning):
        model.doesnt_match(["nope"])


def test_unknown_words_are_one_error_naming_them_all(model):
    with pytest.raises(UnknownWordError, match="not in the vocabulary: nope, nada") as error:
        model.most_similar(positive=["w1", "nope"], negative=["nada"])
    assert isinstance(error.value, KeyError) and isinstance(error.value, MtlembedError)
    for lookup in (lambda: model["nope"], lambda: model[["w1", "nope"]], lambda: model.get_vector(200),
                   lambda: model.similarity("w1", "nope")):
        with pytest.raises(KeyError):
            lookup()
    with pytest.raises(ValueError):
        model.most_similar(positive=[], negative=[])


def test_the_query_word_is_never_its_own_neighbour(model):
    assert "w3" not in [w for w, _ in model.most_similar("w3", topn=200)]
    assert len(model.most_similar("w3", topn=500)) == 199


# ----------------------------------------------------------------------------- neighbors and analogy


def test_cross_lingual_neighbours_are_the_translations(joint):
    for english, spanish in PAIRS.items():
        [result] = query.neighbors(joint, [f"en:{english}"], topn=3, to="es")
        assert result["neighbors"][0][0] == spanish and result["to"] == "es"
        assert all(":" not in word for word, _ in result["neighbors"])
    back = query.neighbors(joint, list(PAIRS.values()), topn=1, to="en")  # unprefixed: es: keys
    assert [r["neighbors"][0][0] for r in back] == list(PAIRS)
    assert [r["keys"] for r in back] == [[f"es:{word}"] for word in PAIRS.values()]
    assert back[0]["query"] == ["casa"] and back[0]["kind"] == "neighbors"


def test_cross_lingual_analogy_excludes_query_words_of_the_target_language(joint):
    result = query.analogy(joint, "es:hombre", "es:rey", "es:mujer", topn=3, to="es")
    assert result["neighbors"][0][0] == "reina"
    assert not {"hombre", "rey", "mujer"} & {w for w, _ in result["neighbors"]}
    across = query.analogy(joint, "en:man", "en:king", "en:woman", topn=1, to="es")
    assert across["neighbors"][0][0] == "reina"


def test_unprefixed_words_resolve_to_a_language_other_than_the_target_first(joint):
    assert query.resolve_keys(joint, ["house", "perro"]) == ["en:house", "es:perro"]
    assert query.resolve_keys(joint, ["casa"]) == ["en:casa"]  # the model's first language that has it
    assert query.resolve_keys(joint, ["casa"], target="en") == ["es:casa"]  # --to en: the Spanish word
    assert query.resolve_keys(joint, ["casa"], target="es") == ["en:casa"]
    assert query.resolve_keys(joint, ["casa"], source="es") == ["es:casa"]
    assert query.resolve_keys(joint, ["es:casa", "en:casa"]) == ["es:casa", "en:casa"]  # keys as given


def test_unresolvable_words_and_languages_are_clear_errors(joint, model):
    with pytest.raises(UnknownWordError, match=r"House \(did you mean house\?\), zzz"):
        query.resolve_keys(joint, ["House", "dog", "zzz"])
    with pytest.raises(UnknownWordError, match="in es"):
        query.resolve_keys(joint, ["house"], source="es")
    with pytest.raises(ConfigError, match="--from de"):
        query.resolve_keys(joint, ["house"], source="de")
    with pytest.raises(ConfigError, match="its languages are en, es"):
        query.neighbors(joint, ["en:house"], to="de")
    with pytest.raises(ConfigError, match="no lang: prefix"):
        query.neighbors(model, ["w1"], to="es")


@pytest.fixture
def per_language_files(joint, tmp_path):
    """PREFIX.en.vec and PREFIX.es.vec.gz, as train --per-language writes them (gzip for one)."""
    joint.by_language("en").save(tmp_path / "out.en.vec")
    joint.by_language("es").save(tmp_path / "out.es.vec.gz")
    return tmp_path / "out"


def test_per_language_files_are_read_as_one_model(per_language_files, joint):
    for path in (per_language_files, f"{per_language_files}.en.vec"):
        model = query.open_vectors(path, to="es")
        assert model.languages == ["en", "es"] and len(model) == len(joint)
        assert query.neighbors(model, ["dog"], topn=1, to="es")[0]["neighbors"][0][0] == "perro"
    alone = query.open_vectors(f"{per_language_files}.en.vec")  # no --to: the file as it is
    assert alone.languages == [] and "house" in alone
    with pytest.raises(ConfigError, match="no out.de.vec .* is beside it"):
        query.open_vectors(f"{per_language_files}.en.vec", to="de")
    with pytest.raises(ConfigError, match="vectors file not found"):
        query.open_vectors(per_language_files.parent / "missing")


def test_vec_gz_files_are_read(joint, tmp_path):
    joint.save(tmp_path / "joint.vec.gz")
    model = query.open_vectors(tmp_path / "joint.vec.gz")
    assert model.words == joint.words and np.allclose(model.vectors, joint.vectors, atol=1e-6)


# ----------------------------------------------------------------------------- the command line


def test_neighbors_cli_prints_the_key_used(joint, tmp_path, capsys):
    joint.save(tmp_path / "joint.bin")
    assert main(["neighbors", str(tmp_path / "joint.bin"), "dog", "es:libro", "--to", "en", "--topn=2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "dog (en:dog)  [en words]" and out[3] == "es:libro  [en words]"
    assert out[4].split()[1] == "book" and len(out) == 6


def test_neighbors_and_analogy_cli_json_is_one_object_per_query(per_language_files, capsys):
    assert main(["neighbors", str(per_language_files), "house", "perro", "--to", "es", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["keys"] for r in results] == [["en:house"], ["es:perro"]]
    assert results[0]["query"] == ["house"] and results[0]["neighbors"][0][0] == "casa"
    assert len(results[0]["neighbors"]) == 10 and results[1]["neighbors"][0][0] != "perro"
    assert main(["analogy", str(per_language_files), "man", "king", "woman", "--topn", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["query"] == ["man", "king", "woman"] and result["neighbors"][0][0] == "en:queen"


def test_analogy_cli_text(per_language_files, capsys):
    assert main(["analogy", f"{per_language_files}.en.vec", "man", "king", "woman", "--topn", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "man : king :: woman : ?" and out[1].split()[1] == "queen" and len(out) == 4


@pytest.mark.parametrize("args, message", [
    (["neighbors", "{dir}/out.en.vec", "house", "zzz", "Dog"],
     "not in the vocabulary: zzz, Dog (did you mean dog?)"),
    (["analogy", "{dir}/out", "man", "king", "qqq"], "not in the vocabulary (in any of en, es): qqq"),
    (["neighbors", "{dir}/nothing.vec", "house"], "vectors file not found"),
    (["neighbors", "{dir}/out", "house", "--to", "fr"], "--to fr: the model has no fr words"),
])
def test_cli_errors_are_one_line_exit_1(per_language_files, args, message, capsys):
    args = [a.format(dir=per_language_files.parent) for a in args]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"mtlembed: error: {message}")
    assert captured.err.count("\n") == 1


def test_cli_usage_errors_exit_2(per_language_files):
    for args in (["neighbors", str(per_language_files)], ["neighbors", "x.vec", "a", "--topn", "0"],
                 ["analogy", "x.vec", "a", "b"]):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2
