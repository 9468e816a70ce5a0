"""The command line: verbs, one-line errors with exit 1, nothing written on failure, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import shared_file, zipf_text

from mtlembed.cli import main


def run_cli(*args):
    """Runs the CLI in a subprocess: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "mtlembed.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_info_json_has_the_documented_keys(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"version", "simd", "simd_available", "cuda_compiled", "cuda_devices"} <= set(info)
    assert info["simd"] in info["simd_available"]


@pytest.mark.parametrize("verb", [[], ["train"], ["info"], ["eval"]])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*verb, "--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_train_writes_binary_and_text_and_a_report(small_corpus, tmp_path):
    for name in ("v.bin", "v.vec"):
        code = main(["train", str(small_corpus), "-o", str(tmp_path / name), "--dim", "8", "--epochs", "1",
                     "--quiet", "--report", str(tmp_path / "r.json")])
        assert code == 0 and (tmp_path / name).stat().st_size > 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["train_words"] > 0 and report["words_per_second"] > 0 and report["vocab_size"] > 0


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "c.txt", "-o", "v.bin", "--no-such-flag"])
    assert exit_.value.code == 2


BAD_RUNS = {
    "missing file": (["{tmp}/missing.txt"], [], "no such file"),
    "empty corpus": (["{tmp}/empty.txt"], [], "no words"),
    "all under min-count": (["{corpus}"], ["--min-count", "1000000"], "min_count=1000000"),
    "folder without files": (["{tmp}/void"], [], "contains no files"),
    "dim 0": (["{corpus}"], ["--dim", "0"], "dim must be"),
    "window 0": (["{corpus}"], ["--window", "0"], "window must be"),
    "negative too big": (["{corpus}"], ["--negative", "500"], "negative must be"),
    "epochs 0": (["{corpus}"], ["--epochs", "0"], "epochs must be"),
    "matrices too big": (["{corpus}"], ["--dim", "100000", "--min-count", "1"], "GiB"),
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_bad_input_is_one_line_exit_1_and_writes_nothing(case, small_corpus, tmp_path, capsys, monkeypatch):
    import mtlembed.resources

    corpus_args, flags, message = BAD_RUNS[case]
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "void").mkdir()
    if case == "matrices too big":  # independent of this machine's memory
        monkeypatch.setattr(mtlembed.resources, "available_memory", lambda: 2**26)
    out = tmp_path / "out.bin"
    out.write_bytes(b"previous result")
    args = [a.format(tmp=tmp_path, corpus=small_corpus) for a in corpus_args]
    assert main(["train", *args, "-o", str(out), "--quiet", *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mtlembed: error:") and message in err and err.count("\n") == 1
    assert out.read_bytes() == b"previous result"  # never clobbered
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files


@pytest.mark.parametrize("output, message", [("nodir/out.bin", "does not exist"), ("", "is a folder"),
                                             ("out.model", "must end with")])
def test_bad_output_paths_fail_before_training(output, message, small_corpus, tmp_path, capsys):
    target = tmp_path / output if output else tmp_path
    assert main(["train", str(small_corpus), "-o", str(target), "--quiet"]) == 1
    assert message in capsys.readouterr().err


def test_ctrl_c_stops_within_a_second_and_writes_nothing(tmp_path):
    corpus = tmp_path / "big.txt"
    corpus.write_text(zipf_text(400000, vocab=5000))
    out = tmp_path / "out.bin"
    proc = subprocess.Popen([sys.executable, "-m", "mtlembed.cli", "train", str(corpus), "-o", str(out),
                             "--epochs", "1000", "--threads", "2", "--min-count", "1"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # wait until training has started (the first progress line)
    line = proc.stderr.readline()
    assert line.startswith("train"), line
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=10)
    assert time.monotonic() - sent < 1.5
    assert code == 130
    assert not out.exists()


def test_demo_trains_the_shipped_bilingual_corpus(tmp_path):
    """The README's main command: translations are neighbours, and BLI is far above chance."""
    dictionary = shared_file("bli/muse_reconstructed/en-es.0-5000.txt")
    code, out, err = run_cli("demo", "-o", tmp_path / "demo", "--data-dir", dictionary.parents[2])
    assert code == 0, err
    assert "dog: perro" in out and "house: casa" in out and "libro: book" in out
    p_at_1 = float(out.split("P@1 ")[1].split("%")[0])
    assert p_at_1 > 50  # 67.6 measured; chance is ~0
    for lang in ("en", "es"):
        words, dim = (tmp_path / f"demo.{lang}.vec").read_text(encoding="utf-8").split("\n", 1)[0].split()
        assert int(words) > 5000 and int(dim) == 100  # en 9,108, es 15,279 words
