"""A progress line on stderr: percent, words/s, learning rate, loss, ETA."""

from __future__ import annotations

import sys
import time


def _human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.2f}{unit}"
    return f"{count:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """Callable from the training monitor every ~0.1 s; redraws at most every `every` s.

    On a terminal the line is redrawn in place; otherwise one line is written
    every 10 s, so logs stay readable.
    """

    def __init__(self, total_words: int, alpha: float, min_alpha: float, stream=None, label: str = "train"):
        self.total, self.alpha, self.min_alpha = max(total_words, 1), alpha, min_alpha
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = 0.2 if self.tty else 10.0
        self.label = label
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.last_loss = (0.0, 0)
        self.recent_loss = float("nan")

    def __call__(self, words: int, chunks: int, loss: float, pairs: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last_draw < self.every:
            return
        self.last_draw = now
        if pairs > self.last_loss[1]:
            self.recent_loss = (loss - self.last_loss[0]) / (pairs - self.last_loss[1])
            self.last_loss = (loss, pairs)
        elapsed = now - self.start
        fraction = min(words / self.total, 1.0)
        speed = words / elapsed if elapsed > 0 else 0.0
        eta = (self.total - words) / speed if speed > 0 else 0.0
        lr = self.alpha - (self.alpha - self.min_alpha) * fraction
        loss = "  -   " if self.recent_loss != self.recent_loss else f"{self.recent_loss:.4f}"  # nan: none yet
        line = (f"{self.label} {100 * fraction:5.1f}% | {_human(speed)} words/s | lr {lr:.5f} | "
                f"loss {loss} | {'elapsed ' + _clock(elapsed) if final else 'ETA ' + _clock(eta)}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
