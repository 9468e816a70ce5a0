"""Dictionary induction from line-aligned text (Dice over aligned lines, mutual best): the tool
(`mtlembed induce`), its precision on real parallel text against MUSE, and its use as a training tie
(`[[dictionary]] induced_from`)."""

from __future__ import annotations

import itertools
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

from mtlembed import ConfigError, TrainConfig, Trainer, cli
from mtlembed.align.dice import dice_pairs, induce_dictionary
from mtlembed.dictionary import read_dictionary
from mtlembed.jobconfig import parse_job
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec

ROOT = Path(__file__).resolve().parents[1]


def brute_force(lines_a, lines_b, min_count):
    """Mutual-best Dice pairs, the slow way (ties: the more frequent partner, then the lower id)."""
    sets_a, sets_b = [set(line) for line in lines_a], [set(line) for line in lines_b]
    df_a = {w: sum(w in s for s in sets_a) for w in set().union(*sets_a)}
    df_b = {w: sum(w in s for s in sets_b) for w in set().union(*sets_b)}
    both = {}
    for sa, sb in zip(sets_a, sets_b):
        for pair in itertools.product(sa, sb):
            both[pair] = both.get(pair, 0) + 1
    dice = {p: 2 * c / (df_a[p[0]] + df_b[p[1]]) for p, c in both.items() if c >= min_count}
    best_a = {s: max(((d, df_b[t], -t), t) for (s2, t), d in dice.items() if s2 == s)[1] for s, _ in dice}
    best_b = {t: max(((d, df_a[s], -s), s) for (s, t2), d in dice.items() if t2 == t)[1] for _, t in dice}
    return sorted((s, t) for s, t in best_a.items() if best_b[t] == s)


def encoded(lines, first_id):
    tokens = np.array([w + first_id for line in lines for w in line], np.int32)
    offsets = np.cumsum([0] + [len(line) for line in lines]).astype(np.int64)
    return tokens, offsets


@pytest.mark.parametrize("min_count", [1, 2, 4])
def test_dice_pairs_match_a_brute_force_count(min_count):
    rng = np.random.default_rng(min_count)
    n_a, n_b = 30, 25
    lines_a = [list(rng.integers(0, n_a, rng.integers(1, 7))) for _ in range(400)]
    # the second side: a noisy translation (word w -> w % n_b) plus random words
    lines_b = [[w % n_b for w in line if rng.random() < 0.8] + list(rng.integers(0, n_b, 2))
               for line in lines_a]
    found = dice_pairs(encoded(lines_a, 100), encoded(lines_b, 1000), (100, 100 + n_a), (1000, 1000 + n_b),
                       min_count)
    got = sorted(zip((found.src - 100).tolist(), (found.tgt - 1000).tolist()))
    assert got == brute_force(lines_a, lines_b, min_count)
    assert np.all(np.diff(found.dice) <= 0)  # best first
    assert np.all(found.count >= min_count)


def test_dice_pairs_threshold_and_errors():
    # "a" and "x" share 2 lines: kept at min_count 2, not at 3
    first = encoded([[0], [0], [1]], 0)
    second = encoded([[0], [0], [1]], 0)
    assert dice_pairs(first, second, (0, 2), (0, 2), 2).src.tolist() == [0]
    assert dice_pairs(first, second, (0, 2), (0, 2), 3).src.tolist() == []
    with pytest.raises(ConfigError, match="min_count"):
        dice_pairs(first, second, (0, 2), (0, 2), 0)
    with pytest.raises(ConfigError, match="not line-aligned"):
        dice_pairs(first, encoded([[0]], 0), (0, 2), (0, 2))


def tatoeba(tmp_path, lang):
    """The Tatoeba en-xx pairs of the shared data, tokenized as examples/prepare_data.py does."""
    shared_file("parallel/tatoeba")
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import prepare_data
    finally:
        sys.path.remove(str(ROOT / "examples"))
    try:
        pairs = prepare_data.tatoeba_pairs(shared_file("."), lang)
    except (SystemExit, zipfile.BadZipFile) as error:
        pytest.skip(f"Tatoeba en-{lang} not readable: {error}")
    en, other = tmp_path / f"t.{lang}.en", tmp_path / f"t.{lang}.{lang}"
    prepare_data.write_aligned(tmp_path, f"t.{lang}", lang, pairs)
    return en, other


@pytest.mark.parametrize("lang", ["es", "de", "fr"])
def test_induced_dictionary_is_precise_against_muse(tmp_path, lang):
    """On Tatoeba en-xx (120k-170k pairs), most induced pairs whose English word MUSE lists are right
    (measured 85-87% es; the bound leaves room, and would fail for co-occurrence without Dice or without
    mutual best, which pair frequent words with frequent words)."""
    gold: dict[str, set[str]] = {}
    for s, t in read_dictionary(shared_file(f"bli/muse_reconstructed/en-{lang}.txt")):
        gold.setdefault(s, set()).add(t)
    en, other = tatoeba(tmp_path, lang)
    found = induce_dictionary([(en, other)], ("en", lang), lowercase=True)
    judged = [(s, t) for s, t, _, _ in found if s in gold]
    assert len(judged) >= 2000, len(judged)
    precision = sum(t in gold[s] for s, t in judged) / len(judged)
    assert precision >= 0.7, precision
    best = [(s, t) for s, t, d, c in found[:500] if s in gold]  # the highest Dice: nearly all right
    assert sum(t in gold[s] for s, t in best) / len(best) >= 0.85


def run_cli(capsys, *argv):
    code = cli.main(["induce", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_a_muse_dictionary(capsys, tmp_path):
    en, es = tmp_path / "p.en", tmp_path / "p.es"
    en.write_text("the house\nthe dog\na house\nmy dog\nthe red house\n" * 3)
    es.write_text("la casa\nel perro\nuna casa\nmi perro\nla casa roja\n" * 3)
    out = tmp_path / "en-es.txt"
    code, _, err = run_cli(capsys, en, es, "-o", out, "--langs", "en", "es")
    assert code == 0, err
    pairs = read_dictionary(out, ("en", "es"))
    assert ("house", "casa") in pairs and ("dog", "perro") in pairs
    assert f"pairs -> {out}" in err
    code, _, err = run_cli(capsys, en, es, "-o", tmp_path / "scored.txt", "--scores", "--min-count", "6")
    assert code == 0, err
    rows = [line.split() for line in (tmp_path / "scored.txt").read_text().splitlines()]
    assert rows and all(len(r) == 4 and int(r[3]) >= 6 for r in rows)


def test_cli_errors_are_one_line(capsys, tmp_path):
    en, es = tmp_path / "p.en", tmp_path / "p.es"
    en.write_text("a b\nc\n")
    es.write_text("x y\n")
    for argv, message in (([en, "-o", tmp_path / "d"], "come in pairs"),
                          ([en, es, "-o", en], "would overwrite"),
                          ([en, es, "-o", tmp_path / "d"], "not line-aligned"),
                          ([en, es, "-o", tmp_path / "d", "--min-count", "0"], "min_count")):
        code, _, err = run_cli(capsys, *argv)
        assert code == 1 and err.startswith("mtlembed: error: ") and message in err, err
        assert err.count("\n") == 1
    assert en.read_text() == "a b\nc\n"  # never clobbered


# ----------------------------------------------------------------------------- as a training tie


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory):
    """A small parallel text where word x<i> translates to y<i>, and monolingual text of each."""
    root = tmp_path_factory.mktemp("induced")
    rng = np.random.default_rng(0)
    lines = [rng.integers(0, 60, 6) for _ in range(3000)]
    (root / "par.xx").write_text("".join(" ".join(f"x{w}" for w in line) + "\n" for line in lines))
    (root / "par.yy").write_text("".join(" ".join(f"y{w}" for w in line[::-1]) + "\n" for line in lines))
    return root


def test_training_with_an_induced_dictionary(bilingual):
    config = TrainConfig(dim=16, epochs=1, threads=1, min_count=1, sample=0, seed=1)
    root = bilingual
    tasks = [TaskSpec(x, (str(root / f"par.{x}"),), lang=x) for x in ("xx", "yy")]
    parallel = [ParallelSpec("xy", ("xx", "yy"), (str(root / "par.xx"), str(root / "par.yy")))]
    trainer = Trainer(config, tasks, parallel, [DictionarySpec(("yy", "xx"), induced_from="xy")])
    trainer.train()
    (langs, pairs), = trainer._pairs
    assert langs == ("yy", "xx") and len(pairs) == 60
    assert all(s == "y" + t[1:] for s, t in pairs)  # in the dictionary's own direction
    assert trainer.input_paths() == [str(root / "par.xx"), str(root / "par.yy")] * 2  # no dictionary file


def test_induced_from_must_name_a_parallel_text_of_its_languages(tmp_path):
    tasks = "".join(f'[[task]]\nname = "{x}"\nlang = "{x}"\npaths = "{x}.txt"\n' for x in ("en", "es", "de"))
    parallel = '[[parallel]]\nname = "p"\nlangs = ["en", "es"]\npaths = ["a.en", "a.es"]\n'
    good = parse_job(_toml(tasks + parallel + '[[dictionary]]\nlangs = ["es", "en"]\ninduced_from = "p"\n'))
    assert good.dictionaries[0].induced_from == "p" and good.dictionaries[0].path is None
    for dictionary, message in (('langs = ["en", "es"]\ninduced_from = "q"\n', "no .* text is named 'q'"),
                                ('langs = ["en", "de"]\ninduced_from = "p"\n', "are not those of the"),
                                ('langs = ["en", "es"]\ninduced_from = "p"\npath = "d.txt"\n', "not both"),
                                ('langs = ["en", "es"]\n', "missing required key 'path'")):
        with pytest.raises(ConfigError, match=message) as info:
            parse_job(_toml(tasks + parallel + "[[dictionary]]\n" + dictionary), source="job.toml")
        assert str(info.value).startswith("job.toml: [[dictionary]] #1"), info.value
    with pytest.raises(ConfigError, match="no \\[\\[parallel\\]\\] text is named"):
        Trainer(TrainConfig(), [TaskSpec("en", ("a",), lang="en"), TaskSpec("es", ("b",), lang="es")],
                [], [DictionarySpec(("en", "es"), induced_from="p")])


def _toml(text):
    import tomllib

    return tomllib.loads(text)


def test_without_scipy_induce_is_one_error_line_naming_the_extra(tmp_path):
    """scipy is an extra: a fresh `pip install .` must get an instruction, not a traceback."""
    import subprocess
    import sys

    (tmp_path / "a.txt").write_text("the dog runs\nthe cat sleeps\nthe dog sleeps\n")
    (tmp_path / "b.txt").write_text("el perro corre\nel gato duerme\nel perro duerme\n")
    code = ("import sys; sys.modules['scipy'] = None; from mtlembed.cli import main; "
            f"sys.exit(main(['induce', {str(tmp_path / 'a.txt')!r}, {str(tmp_path / 'b.txt')!r}, "
            f"'-o', {str(tmp_path / 'd.txt')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'mtlembed[scipy]' in lines[0], result.stderr
    assert not (tmp_path / "d.txt").exists()
