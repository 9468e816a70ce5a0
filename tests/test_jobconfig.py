"""Job files (mtlembed.jobconfig): the example configs, every error, CLI overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mtlembed import ConfigError, TrainConfig
from mtlembed.jobconfig import Job, OutputSpec, apply_overrides, load_job
from mtlembed.tasks import DictionarySpec, ParallelSpec, TaskSpec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TASKS = """
[[task]]
name = "en"
lang = "en"
paths = "en.txt"

[[task]]
name = "es"
lang = "es"
paths = ["es/*.txt", "more.txt.gz"]
"""


def write(tmp_path: Path, text: str, name: str = "job.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_job(path)
    message = str(info.value)
    assert str(path) in message, message  # every error names the file
    return message


# ----------------------------------------------------------------------------- the examples


def test_joint_example_parses_with_paths_resolved():
    job = load_job(EXAMPLES / "joint-en-es-de-fr.toml")
    assert job.languages == ("en", "es", "de", "fr")
    assert job.config.dim == 300 and job.config.lowercase and job.config.refine == "procrustes"
    assert [t.name for t in job.tasks] == ["en-wiki", "es", "de", "fr"]
    assert job.tasks[1].paths == (str(EXAMPLES / "data" / "tatoeba.en-es.es"),
                                  str(EXAMPLES / "data" / "opus.en-es.es"))
    # ../../shared/data from examples/ is the shared data folder beside the checkout
    shared = EXAMPLES.parents[1] / "shared" / "data"
    assert job.tasks[0].paths == (str(shared / "corpora" / "en" / "enwiki-2015-first12695.txt.gz"),)
    assert {p.langs for p in job.parallel} == {("en", "es"), ("en", "de"), ("en", "fr")}
    assert all(p.paths[0].endswith(".en") for p in job.parallel)
    assert [d.langs[1] for d in job.dictionaries] == ["es", "de", "fr"]
    assert job.dictionaries[0].path == str(shared / "bli" / "muse_reconstructed" / "en-es.0-5000.txt")
    assert all(d.codeswitch == 0.25 for d in job.dictionaries)
    assert job.output == OutputSpec(per_language=True, binary=False)


def test_multi_domain_example_parses():
    job = load_job(EXAMPLES / "multi-domain.toml")
    assert job.languages == ("en",)
    assert [t.head for t in job.tasks] == ["shared"] * 3
    assert job.tasks[2].paths == (str(EXAMPLES / "data" / "enwikinews.txt.gz"),)
    assert job.tasks[2].weight == 2.0
    assert job.parallel == () and job.dictionaries == ()


def test_example_paths_exist_where_the_data_is():
    """Every shared file the examples name exists (catches a renamed shared file)."""
    from conftest import shared_data

    beside = (EXAMPLES.parents[1] / "shared" / "data").resolve()
    if shared_data() is None or shared_data().resolve() != beside:
        pytest.skip("the shared data folder is not beside the checkout, where the examples look")
    for name in ("joint-en-es-de-fr.toml", "multi-domain.toml"):
        job = load_job(EXAMPLES / name)
        named = [p for t in job.tasks for p in t.paths] + [d.path for d in job.dictionaries]
        for path in named:
            if "/examples/data/" not in path:  # made by prepare_data.py
                assert os.path.isfile(path), path


# ----------------------------------------------------------------------------- valid jobs


def test_minimal_job_and_defaults(tmp_path):
    job = load_job(write(tmp_path, '[[task]]\nname = "c"\npaths = "c.txt"\n'))
    assert isinstance(job, Job)
    assert job.config == TrainConfig()
    assert job.tasks == (TaskSpec("c", (str(tmp_path / "c.txt"),)),)  # TaskSpec's defaults
    assert job.parallel == () and job.dictionaries == () and job.output == OutputSpec()


def test_full_job(tmp_path):
    job = load_job(write(tmp_path, """
[train]
dim = 50
sample = 0          # an int where a float is expected
alpha = 1           # likewise
""" + TASKS + """
weight = 0.5
head = "per_task"

[[parallel]]
langs = ["en", "es"]
paths = ["p.en", "/abs/p.es"]

[[parallel]]
langs = ["es", "en"]
paths = ["q.es", "q.en"]
weight = 2

[[dictionary]]
langs = ["en", "es"]
path = "../dicts/en-es.txt"

[[dictionary]]
langs = ["es", "en"]
path = "~/es-en.txt"
codeswitch = 0

[output]
per_language = true
binary = true
"""))
    assert job.config.dim == 50 and job.config.sample == 0.0 and job.config.alpha == 1.0
    assert job.tasks[0] == TaskSpec("en", (str(tmp_path / "en.txt"),), lang="en")
    assert job.tasks[1] == TaskSpec("es", (str(tmp_path / "es" / "*.txt"), str(tmp_path / "more.txt.gz")),
                                    lang="es", weight=0.5, head="per_task")
    assert job.parallel == (
        ParallelSpec("en-es", ("en", "es"), (str(tmp_path / "p.en"), "/abs/p.es")),
        ParallelSpec("es-en", ("es", "en"), (str(tmp_path / "q.es"), str(tmp_path / "q.en")), weight=2.0),
    )
    assert job.dictionaries == (
        DictionarySpec(("en", "es"), str(tmp_path.parent / "dicts" / "en-es.txt")),
        DictionarySpec(("es", "en"), os.path.expanduser("~/es-en.txt"), codeswitch=0.0),
    )
    assert job.output == OutputSpec(per_language=True, binary=True)


def test_head_names(tmp_path):
    job = load_job(write(tmp_path, TASKS + 'head = "wiki"\n'))
    assert [t.head for t in job.tasks] == ["shared", "wiki"]


def test_default_parallel_names_stay_unique(tmp_path):
    job = load_job(write(tmp_path, TASKS + """
[[parallel]]
langs = ["en", "es"]
paths = ["a.en", "a.es"]
[[parallel]]
langs = ["en", "es"]
paths = ["b.en", "b.es"]
"""))
    assert [p.name for p in job.parallel] == ["en-es", "en-es-2"]


def test_relative_paths_follow_the_config_file_not_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "jobs"
    folder.mkdir()
    write(folder, TASKS)
    monkeypatch.chdir(tmp_path)
    job = load_job(Path("jobs") / "job.toml")
    assert job.tasks[0].paths == (str(folder / "en.txt"),)


# ----------------------------------------------------------------------------- errors

A = '[[task]]\nname = "a"\n'                                        # a task to complete
PAR = TASKS + '[[parallel]]\nlangs = ["en", "es"]\npaths = ["a", "b"]\n'  # a valid job to spoil
DIC = TASKS + '[[dictionary]]\nlangs = ["en", "es"]\npath = "d"\n'        # likewise

ERRORS = {
    # unknown keys, with the closest valid one suggested, in every table
    "train unknown key": ("[train]\ndimm = 3\n" + TASKS,
                          ["[train]", "unknown key 'dimm'", "did you mean 'dim'"]),
    "train peer name": ("[train]\nlr = 0.1\n" + TASKS, ["[train]", "'lr'", "did you mean 'alpha'"]),
    "task unknown key": (TASKS + "weigth = 2\n",
                         ["[[task]] #2 ('es')", "unknown key 'weigth'", "did you mean 'weight'"]),
    "parallel unknown key": (PAR + "lang = 1\n",
                             ["[[parallel]] #1", "unknown key 'lang'", "did you mean 'langs'"]),
    "dictionary unknown key": (DIC + "code_switch = 0.1\n",
                               ["[[dictionary]] #1", "'code_switch'", "did you mean 'codeswitch'"]),
    "output unknown key": (TASKS + "[output]\nper_langauge = true\n",
                           ["[output]", "unknown key 'per_langauge'", "did you mean 'per_language'"]),
    "top-level unknown table": (TASKS + "[outputs]\nbinary = true\n",
                                ["top level", "unknown key 'outputs'", "did you mean 'output'"]),
    "top-level tasks": ('[[tasks]]\nname = "a"\npaths = "a"\n',
                        ["unknown key 'tasks'", "did you mean 'task'"]),
    "training key at top level": ("dim = 100\n" + TASKS, ["'dim' is a training parameter", "[train]"]),
    # wrong types
    "train type": ('[train]\ndim = "100"\n' + TASKS, ["[train]", "dim must be of type int"]),
    "weight type": (TASKS + 'weight = "2"\n', ["[[task]] #2 ('es')", "weight must be a number, got '2'"]),
    "weight bool": (TASKS + "weight = true\n", ["weight must be a number, got True"]),
    "paths type": (A + "paths = 3\n", ["[[task]] #1 ('a')", "paths must be a path or a non-empty"]),
    "paths item type": (A + 'paths = ["a", 3]\n', ["[[task]] #1", "paths must be of type str, got 3"]),
    "empty paths": (A + "paths = []\n", ["paths must be a path or a non-empty list"]),
    "name type": ('[[task]]\nname = 1\npaths = "a"\n', ["[[task]] #1", "name must be of type str, got 1"]),
    "lang type": (A + 'lang = ["en"]\npaths = "a"\n', ["lang must be of type str"]),
    "lang with colon": (A + 'lang = "en:us"\npaths = "a"\n', ["[[task]] #1 ('a')", "lang must be"]),
    "head type": (TASKS + "head = 2\n", ["[[task]] #2", "head must be of type str, got 2"]),
    "head misspelled": (TASKS + 'head = "per-task"\n', ["#2", "'per-task': did you mean 'per_task'"]),
    "head misspelled 2": (TASKS + 'head = "per_tsk"\n', ["did you mean 'per_task'"]),
    "head misspelled 3": (TASKS + 'head = "Shared"\n', ["did you mean 'shared'"]),
    "codeswitch type": (DIC + 'codeswitch = "often"\n', ["[[dictionary]] #1", "codeswitch must be a number"]),
    "output type": (TASKS + '[output]\nper_language = "yes"\n',
                    ["[output]", "per_language must be true or false"]),
    "task as a table": ('[task]\nname = "a"\npaths = "a"\n', ["write [[task]], not [task]"]),
    "train as an array": ("[[train]]\ndim = 3\n" + TASKS, ["write [train], not [[train]]"]),
    "output as a value": ("output = 1\n" + TASKS, ["'output' must be a table"]),
    # missing required keys
    "no task": ("[train]\ndim = 3\n", ["no [[task]]"]),
    "task without paths": (A, ["[[task]] #1", "missing required key 'paths'"]),
    "task without name": ('[[task]]\npaths = "a"\n', ["[[task]] #1", "missing required key 'name'"]),
    "parallel without paths": (TASKS + '[[parallel]]\nlangs = ["en", "es"]\n',
                               ["[[parallel]] #1", "missing required key 'paths'"]),
    "dictionary without path": (TASKS + '[[dictionary]]\nlangs = ["en", "es"]\n',
                                ["[[dictionary]] #1", "missing required key 'path'"]),
    "dictionary without langs": (TASKS + '[[dictionary]]\npath = "d"\n', ["missing required key 'langs'"]),
    # out of range
    "train range": ("[train]\ndim = 0\n" + TASKS, ["[train]", "dim must be 1..100000, got 0"]),
    "weight zero": (TASKS + "weight = 0\n", ["[[task]] #2 ('es')", "weight must be > 0 and <= 1000, got 0"]),
    "weight negative": (PAR + "weight = -1.0\n",
                        ["[[parallel]] #1", "weight must be > 0 and <= 1000, got -1.0"]),
    "weight infinite": (TASKS + "weight = inf\n", ["weight must be a finite number, got inf"]),
    "codeswitch range": (DIC + "codeswitch = 1.5\n",
                         ["[[dictionary]] #1", "codeswitch must be 0.0..1.0, got 1.5"]),
    # names and languages across tables
    "duplicate task names": (TASKS + '[[task]]\nname = "en"\nlang = "de"\npaths = "x"\n',
                             ["[[task]] #3", "name 'en' is already used by [[task]] #1"]),
    "parallel name clash": (PAR + 'name = "es"\n',
                            ["[[parallel]] #1 ('es')", "name 'es' is already used by [[task]] #2"]),
    "parallel unknown language": (PAR.replace('"es"]\npaths', '"it"]\npaths'),
                                  ["[[parallel]] #1", "no [[task]] has language 'it'", "languages: en, es"]),
    "dictionary unknown language": (DIC.replace('["en", "es"]\npath =', '["fr", "es"]\npath ='),
                                    ["[[dictionary]] #1", "no [[task]] has language 'fr'"]),
    "langs one language": (TASKS + '[[dictionary]]\nlangs = ["en"]\npath = "d"\n',
                           ["[[dictionary]] #1", "langs must be a pair of two different languages"]),
    "langs same language": (TASKS + '[[parallel]]\nlangs = ["en", "en"]\npaths = ["a", "b"]\n',
                            ["[[parallel]] #1", "langs must be a pair of two different languages"]),
    "langs as a string": (TASKS + '[[dictionary]]\nlangs = "en-es"\npath = "d"\n',
                          ["langs must be a pair", "'en-es'"]),
    "langs three": (TASKS + '[[parallel]]\nlangs = ["en", "es", "de"]\npaths = ["a", "b"]\n',
                    ["langs must be a pair"]),
    "parallel one path": (TASKS + '[[parallel]]\nlangs = ["en", "es"]\npaths = ["a"]\n',
                          ["[[parallel]] #1", "paths must be a list of two different line-aligned files"]),
    "parallel same file": (TASKS + '[[parallel]]\nlangs = ["en", "es"]\npaths = ["a", "./a"]\n',
                           ["paths must be a list of two different line-aligned files"]),
    "refine without dictionary": ('[train]\nrefine = "procrustes"\n' + TASKS,
                                  ['refine = "procrustes" needs at least one [[dictionary]]']),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(tmp_path, case):
    text, expected = ERRORS[case]
    message = load_error(tmp_path, text)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_invalid_toml_names_line_and_column(tmp_path):
    message = load_error(tmp_path, '[train]\ndim = 100\nwindow = = 5\n')
    assert ":3:" in message and "invalid TOML" in message
    message = load_error(tmp_path, TASKS + 'weight = ')
    assert "invalid TOML" in message and ":11" in message


def test_invalid_utf8(tmp_path):
    path = tmp_path / "job.toml"
    path.write_bytes(b'[[task]]\nname = "a"\npaths = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"job\.toml:3: not valid UTF-8"):
        load_job(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_job(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_job(tmp_path)


def test_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError):
        load_job(write(tmp_path, "[[task]]\n"))


# ----------------------------------------------------------------------------- overrides


@pytest.fixture
def job(tmp_path) -> Job:
    return load_job(write(tmp_path, "[train]\ndim = 50\nepochs = 3\n" + TASKS))


def test_overrides_replace_train_values(job):
    changed = apply_overrides(job, {"dim": 20, "epochs": None, "lowercase": True})
    assert changed.config.dim == 20 and changed.config.lowercase
    assert changed.config.epochs == 3          # None: the flag was not given
    assert changed.tasks == job.tasks and job.config.dim == 50  # the original is unchanged


def test_overrides_of_output_and_no_overrides(job):
    assert apply_overrides(job, {"per_language": True}).output == OutputSpec(per_language=True)
    assert apply_overrides(job, {}) == job
    assert apply_overrides(job, {"dim": None, "binary": None}) == job


def test_override_errors(job):
    with pytest.raises(ConfigError, match=r"command line: unknown key 'dimm' \(did you mean 'dim'\?\)"):
        apply_overrides(job, {"dimm": 3})
    with pytest.raises(ConfigError, match="command line: dim must be 1..100000, got 0"):
        apply_overrides(job, {"dim": 0})
    with pytest.raises(ConfigError, match="binary must be true or false"):
        apply_overrides(job, {"binary": "yes"})
    with pytest.raises(ConfigError, match=r"needs at least one \[\[dictionary\]\]"):
        apply_overrides(job, {"refine": "procrustes"})
