"""The report page of a real joint run, drawn by a real headless browser with no network.

Skipped where chromium is not installed (Debian: `apt-get install -y chromium`). The screenshot goes
to $MTLEMBED_REPORT_SCREENSHOT when set (the project's docs/report.png is made so:
`MTLEMBED_REPORT_SCREENSHOT=docs/report.png python -m pytest tests/test_report_browser.py`).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import shared_file
from test_growth import tatoeba_slice

from mtlembed.cli import main

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (Debian: apt-get install "
                                "-y chromium); the page is checked in a browser only there")


def png_rows(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered-enough scanlines of an 8-bit RGB(A) PNG (enough to see it is
    not blank: each line's filter byte is dropped, the bytes compared as they are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8:at + 8 + length])
        at += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = 1 + width * {2: 3, 6: 4}[colour] * depth // 8
    return width, height, [raw[i * stride + 1:(i + 1) * stride] for i in range(height)]


def test_a_browser_draws_the_report_of_a_real_joint_run(tmp_path):
    dictionary = shared_file("bli/muse_reconstructed/en-es.0-5000.txt")
    similarity = shared_file("similarity/en/faruqui/EN-WS-353-ALL.txt")
    sides = tatoeba_slice(tmp_path, 40000)
    job = tmp_path / "job.toml"
    job.write_text(f'[train]\ndim = 32\nepochs = 4\nmin_count = 2\nlowercase = true\nthreads = 2\n'
                   f'eval_every = "epoch"\neval_bli = ["{dictionary}"]\neval_similarity = ["{similarity}"]\n'
                   f'[[task]]\nname = "en"\nlang = "en"\npaths = ["{sides["en"]}"]\n'
                   f'[[task]]\nname = "es"\nlang = "es"\npaths = ["{sides["es"]}"]\n'
                   f'[[parallel]]\nname = "tatoeba"\nlangs = ["en", "es"]\n'
                   f'paths = ["{sides["en"]}", "{sides["es"]}"]\n[output]\nper_language = true\n')
    report, page = tmp_path / "run.json", tmp_path / "run.html"
    assert main(["train", "--config", str(job), "-o", str(tmp_path / "joint"), "--quiet", "--report",
                 str(report)]) == 0
    assert main(["report", str(report), "-o", str(page), "--map", "--dictionary", str(dictionary)]) == 0

    # No network: every host name fails to resolve, so anything the page asked for would be missing.
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*command, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    for shown in ("Loss", "en: loss", "es: loss", "tatoeba: loss", "bli.en-es.0-5000",
                  "similarity.EN-WS-353-ALL", "Training speed", "BLI P@1 by source-word frequency rank",
                  "1-1000",
                  "Words of en and es on one plane", "pairs from the dictionary"):
        assert shown in text, shown
    assert dom.stdout.count("<polyline") == 3 + 2 + 1  # the tasks' losses, two dev metrics, words/s
    assert dom.stdout.count("<svg") == page.read_text().count("<svg") >= 7

    screenshot = Path(os.environ.get("MTLEMBED_REPORT_SCREENSHOT") or tmp_path / "report.png").absolute()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    shot = subprocess.run([*command, "--hide-scrollbars", "--window-size=1000,3600",
                           f"--screenshot={screenshot}", page.as_uri()], capture_output=True, text=True,
                          timeout=180)
    assert shot.returncode == 0, shot.stderr[-2000:]
    width, height, rows = png_rows(screenshot.read_bytes())
    assert (width, height) == (1000, 3600)
    assert len(set(rows)) > 500  # drawn: far from a blank page of identical lines
