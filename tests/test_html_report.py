"""`mtlembed report`: one self-contained, well-formed HTML page that holds the run's figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mtlembed import html_report
from mtlembed.cli import main
from mtlembed.errors import ConfigError, FormatError
from mtlembed.model import Embeddings

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
SVG_EMPTY = {"line", "circle", "rect", "polyline", "path"}  # written as <x .../>


class Page(HTMLParser):
    """Checks that every tag is closed in order, and collects attributes and text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.open, self.errors, self.attributes, self.text, self.tags = [], [], [], [], []
        self.feed(page)
        self.close()
        self.errors += [f"<{tag}> never closed" for tag in self.open]

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs

    def handle_endtag(self, tag):
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
        else:
            self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_self_contained(page: str) -> Page:
    parsed = Page(page)
    assert parsed.errors == []
    assert page.startswith("<!DOCTYPE html>") and parsed.tags[:4] == ["html", "head", "meta", "title"]
    # nothing to fetch: no script, link, image or frame, no src/href, no url() or @import in the CSS
    assert not {"script", "link", "img", "iframe", "object", "embed", "image", "use"} & set(parsed.tags)
    assert not [name for name, _ in parsed.attributes if name in ("src", "href", "xlink:href", "srcset")]
    assert "url(" not in page and "@import" not in page
    assert not re.search(r"https?:|//[a-z]", page)
    return parsed


@pytest.fixture
def run_report(small_corpus, tmp_path) -> Path:
    """The report of a real (tiny) run."""
    report = tmp_path / "run.json"
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "v.vec"), "--dim", "8", "--epochs", "1",
                 "--quiet", "--report", str(report)]) == 0
    return report


def test_the_page_of_a_real_run_holds_its_figures(run_report, tmp_path, capsys):
    assert main(["report", str(run_report), "-o", str(tmp_path / "run.html")]) == 0
    assert capsys.readouterr().out.strip() == f"mtlembed: wrote {tmp_path / 'run.html'}"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".html"] == ["run.html"]  # one file
    page = (tmp_path / "run.html").read_text(encoding="utf-8")
    text = " ".join(check_self_contained(page).text)
    report = json.loads(run_report.read_text())
    assert html_report._human(report["words_per_second"]) in text and "words/s" in text
    assert f"{report['vocab_size']:,}" in text and f"{report['final_loss']:.4f}" in text
    for task in report["tasks"]:
        assert task["name"] in text and f"{task['words']:,}" in text and f"{task['loss']:.4f}" in text
    for key, value in report["config"].items():
        assert key in text and html_report._value(value) in text
    assert all(path in text for path in report["outputs"] + report["inputs"]["tasks"][0]["paths"])



def test_train_writes_the_page_itself_with_an_html_report(small_corpus, tmp_path):
    page_path = tmp_path / "run.html"
    assert main(["train", str(small_corpus), "-o", str(tmp_path / "v.vec"), "--dim", "8", "--epochs", "1",
                 "--quiet", "--report", str(page_path)]) == 0
    text = " ".join(check_self_contained(page_path.read_text(encoding="utf-8")).text)
    assert "words/s" in text and str(tmp_path / "v.vec") in text and str(small_corpus) in text
    assert not list(tmp_path.glob("*.json"))  # the page only, no JSON beside it

def history_report() -> dict:
    """Test data: a report with the histories a later trainer may write, and fields the page
    does not know."""
    def loss(start, end, words):  # a loss falling from start towards end over 20 steps
        return [{"words": words * i // 20, "loss": end + (start - end) * 0.8 ** i} for i in range(1, 21)]

    return {
        "words_per_second": 2.5e6, "final_loss": 0.4, "vocab_seconds": 1.0, "train_seconds": 8.0,
        "total_seconds": 10.0, "config": {"model": "sg", "dim": 300, "epochs": 5},
        "tasks": [{"name": "en<wiki>", "words": 20_000_000, "passes": 5.0, "loss": 0.38,
                   "history": loss(0.9, 0.37, 20_000_000)},
                  {"name": "es", "words": 8_000_000, "passes": 5.0, "loss": 0.43,
                   "history": loss(1.0, 0.42, 8_000_000)}],
        "eval_history": [{"epoch": e, "analogy": {"accuracy": 0.6 - 0.4 * 0.6 ** e},
                          "bli": {"p@1": 0.5 - 0.4 * 0.5 ** e}} for e in range(1, 6)],
        "evaluation": {"bli": {"p@1": 0.3125, "by_frequency": {"0-5k": 0.5, "5k-20k": 0.25}}},
        "new_field": {"answer": 42, "where": "https://example.org/x"},
    }


def test_histories_draw_curves_and_unknown_fields_are_listed():
    page = html_report.render(history_report(), "r.json")
    parsed = Page(page)
    assert parsed.errors == []
    # one loss chart with a line per task; one small chart per evaluation metric
    assert page.count("<polyline") == 2 + 2
    assert "analogy.accuracy" in page and "bli.p@1" in page and "epoch" in page
    text = " ".join(parsed.text)
    assert "0.3125" in text and "by_frequency.0-5k" in text
    assert "new_field.answer" in text and "42" in text
    assert "en<wiki>" in text and "<wiki>" not in page  # escaped, never markup
    assert "https://example.org/x" in text  # shown as text, and nothing links to it
    assert not [name for name, _ in parsed.attributes if name in ("src", "href")]
    assert html_report._points([0.5, 0.4], "loss", "step") == [(1, 0.5), (2, 0.4)]  # a list of numbers


def test_a_sparse_report_still_makes_a_page():
    for report in ({}, {"tasks": [{"name": "t"}]}, {"words_per_second": float("nan"), "tasks": "?"},
                   {"config": [1], "inputs": "x", "outputs": {"a": 1}, "tasks": [{"history": 3}]}):
        check_self_contained(html_report.render(report))


def test_bad_inputs_are_clear_errors_and_write_nothing(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{\n  not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    previous = tmp_path / "keep.html"
    previous.write_text("previous page")
    with pytest.raises(FormatError, match="bad.json:2: not valid JSON"):
        html_report.load_report(tmp_path / "bad.json")
    with pytest.raises(FormatError, match="expected a JSON object"):
        html_report.load_report(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="must end with .html"):
        html_report.write_html({}, tmp_path / "page.htm")
    for name in ("bad.json", "missing.json"):
        assert main(["report", str(tmp_path / name), "-o", str(previous)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("mtlembed: error: ") and err.count("\n") == 1
    assert previous.read_text() == "previous page" and not (tmp_path / "page.htm").exists()


def test_the_default_output_is_beside_the_report_and_never_the_report(run_report, capsys):
    assert main(["report", str(run_report)]) == 0
    assert run_report.with_suffix(".html").is_file()
    odd = run_report.with_name("odd.html")
    odd.write_text(run_report.read_text())
    assert main(["report", str(odd)]) == 1 and "is the report itself" in capsys.readouterr().err
    assert json.loads(odd.read_text()) == json.loads(run_report.read_text())


TRANSLATIONS = {"house": "casa", "dog": "perro", "water": "agua", "book": "libro", "red": "rojo",
                "city": "ciudad"}


@pytest.fixture
def joint_files(tmp_path) -> Path:
    """PREFIX.en.vec and PREFIX.es.vec where each Spanish word is near its English translation."""
    rng = np.random.default_rng(2)
    english = rng.normal(size=(len(TRANSLATIONS), 12))
    spanish = english + 0.05 * rng.normal(size=english.shape)
    Embeddings(list(TRANSLATIONS), english.astype(np.float32)).save(tmp_path / "joint.en.vec")
    Embeddings(list(TRANSLATIONS.values()), spanish.astype(np.float32)).save(tmp_path / "joint.es.vec")
    return tmp_path / "joint"


def test_the_map_links_each_word_to_its_translation(joint_files):
    from mtlembed.query import open_vectors

    model = open_vectors(joint_files)
    induced = html_report.word_map(model, "en", "es")  # each word's nearest Spanish word
    assert induced["pairs"] == [list(pair) for pair in TRANSLATIONS.items()] and not induced["gold"]
    assert np.shape(induced["points"]) == (2 * len(TRANSLATIONS), 2)
    gold = html_report.word_map(model, "es", "en", pairs=[("perro", "dog"), ("nada", "x"), ("casa", "house"),
                                                         ("casa", "home")], count=10)
    assert gold["pairs"] == [["casa", "house"], ["perro", "dog"]] and gold["gold"]  # the vocabulary's order
    page = html_report.render({}, word_pairs=induced)
    check_self_contained(page)
    assert "Words of en and es on one plane" in page and page.count("stroke-dasharray") == len(TRANSLATIONS)
    with pytest.raises(ConfigError, match="fewer than 2"):
        html_report.word_map(model, "en", "es", pairs=[("house", "casa")])


def test_report_map_from_the_runs_outputs_or_given_vectors(joint_files, tmp_path, capsys):
    outputs = [f"{joint_files}.en.vec", f"{joint_files}.es.vec"]
    (tmp_path / "run.json").write_text(json.dumps({"outputs": outputs}))
    (tmp_path / "none.json").write_text("{}")
    (tmp_path / "dict.txt").write_text("dog perro\nred rojo\n")
    assert main(["report", str(tmp_path / "run.json"), "--map"]) == 0
    assert "<title>en:dog ↔ perro</title>" in (tmp_path / "run.html").read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "none.json"), "--vectors", str(joint_files), "--languages", "es",
                 "en", "--dictionary", str(tmp_path / "dict.txt")]) == 1  # the dictionary is en -> es
    assert "fewer than 2 es words" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "none.json"), "--map", "--vectors", str(joint_files),
                 "--dictionary", str(tmp_path / "dict.txt")]) == 0
    page = (tmp_path / "none.html").read_text(encoding="utf-8")
    assert "2 en words, pairs from the dictionary" in page
    for args, message in ((["--map"], "lists no output vectors"),
                          (["--dictionary", str(tmp_path / "dict.txt")], "lists no output vectors"),
                          (["--vectors", outputs[0]], "holds one language"),
                          (["--vectors", str(joint_files), "--languages", "en", "fr"], "got en and fr")):
        assert main(["report", str(tmp_path / "none.json"), *args]) == 1
        assert message in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_chromium_renders_the_page(joint_files, tmp_path):
    """A real browser draws the page: the DOM holds the charts and the map, and a screenshot is
    taken (kept at $MTLEMBED_REPORT_SCREENSHOT when set)."""
    from mtlembed.query import open_vectors

    page = tmp_path / "run.html"
    word_pairs = html_report.word_map(open_vectors(joint_files), "en", "es")
    html_report.write_html(history_report(), page, "test data", word_pairs=word_pairs)
    command = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*command, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0 and dom.stdout.count("<svg") == page.read_text().count("<svg") == 6
    assert all(text in dom.stdout for text in ("words/s", "Words of en and es on one plane", "ciudad"))
    screenshot = Path(os.environ.get("MTLEMBED_REPORT_SCREENSHOT") or tmp_path / "run.png").absolute()
    shot = subprocess.run([*command, "--window-size=1000,2200", f"--screenshot={screenshot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0 and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
