"""A progress line on stderr: percent, words/s, learning rate, loss, ETA, and each task's loss."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence

import numpy as np


def human_count(value: float, spec: str = ".2f", small: str = ".0f") -> str:
    """1267265 -> '1.27M': scaled to G, M or k by its magnitude and formatted with `spec`; under
    1000, formatted with `small`."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:{spec}}{unit}"
    return f"{value:{small}}"


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class TaskTally:
    """Each task's words, passes over its corpus and loss, from the schedule
    (which task each chunk belongs to) and the kernel's per-chunk (loss, pairs).

    Chunks are taken in schedule order, so the first `done` chunks are (about)
    the finished ones; chunks not yet run hold NaN and are skipped.
    """

    RECENT = 32  # a task's recent loss: its last finished chunks

    def __init__(self, names: Sequence[str], sizes: Sequence[int], chunk_task: np.ndarray,
                 chunk_words: np.ndarray, chunk_stats: np.ndarray):
        self.names, self.sizes = list(names), np.maximum(np.asarray(sizes, dtype=np.float64), 1)
        self.chunk_words, self.stats = chunk_words, chunk_stats
        self.rows = [np.flatnonzero(chunk_task == t) for t in range(len(self.names))]

    def _loss(self, rows: np.ndarray) -> float:
        loss, pairs = np.nansum(self.stats[rows], axis=0) if len(rows) else (0.0, 0.0)
        return float(loss / pairs) if pairs > 0 else float("nan")

    def summary(self, done: int, points: int = 50) -> list[dict]:
        """Per task: words trained, passes over the corpus, mean loss of its finished chunks, and its
        loss history: the mean loss of up to `points` consecutive groups of them, each at the run's
        words when its group ended (chunks not trained by this process, NaN, are left out)."""
        run_words = np.cumsum(self.chunk_words)
        result = []
        for name, size, rows in zip(self.names, self.sizes, self.rows):
            finished = rows[:np.searchsorted(rows, done)]
            words = int(self.chunk_words[finished].sum())
            trained = finished[~np.isnan(self.stats[finished, 0])]
            history = [{"words": int(run_words[group[-1]]), "loss": self._loss(group)}
                       for group in np.array_split(trained, max(1, min(points, len(trained)))) if len(group)]
            result.append({"name": name, "words": words, "passes": words / size,
                           "loss": self._loss(finished), "history": history})
        return result

    def line(self, done: int) -> str:
        """`name loss xpasses` per task, the loss over the task's recent chunks."""
        parts = []
        for name, size, rows in zip(self.names, self.sizes, self.rows):
            finished = rows[:np.searchsorted(rows, done)]
            loss = self._loss(finished[-self.RECENT:])
            passes = self.chunk_words[finished].sum() / size
            parts.append(f"{name} {'-' if loss != loss else f'{loss:.3f}'} x{passes:.2f}")
        return "tasks: " + ", ".join(parts)


class ProgressBar:
    """Callable from the training monitor every ~0.1 s; redraws at most every `every` s.

    `words` are the run's, from its start: a resumed run passes the words done
    before it as `start_words`, so the percentage is the run's while the speed
    and ETA count only what this process trained. On a terminal the line is
    redrawn in place; otherwise one line is written every 10 s, so logs stay
    readable.
    """

    def __init__(self, total_words: int, alpha: float, min_alpha: float, stream=None, label: str = "train",
                 tasks: TaskTally | None = None, start_words: int = 0):
        self.total, self.alpha, self.min_alpha = max(total_words, 1), alpha, min_alpha
        self.start_words = start_words
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = 0.2 if self.tty else 10.0
        self.label = label
        self.tasks = tasks if tasks is not None and len(tasks.names) > 1 else None
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
        speed = (words - self.start_words) / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - words) / speed) if speed > 0 else "--:--"  # none before any words
        lr = self.alpha - (self.alpha - self.min_alpha) * fraction
        # nan: none yet
        loss = "  -   " if self.recent_loss != self.recent_loss else f"{self.recent_loss:.4f}"
        line = (f"{self.label} {100 * fraction:5.1f}% | {human_count(speed)} words/s | lr {lr:.5f} | "
                f"loss {loss} | {'elapsed ' + _clock(elapsed) if final else 'ETA ' + eta}")
        tasks = self.tasks.line(chunks) if self.tasks is not None else ""
        if not self.tty:
            self.stream.write(line + (" | " + tasks if tasks else "") + "\n")
        elif final:
            self.stream.write("\r" + line + "\x1b[K\n" + (tasks + "\n" if tasks else ""))
        else:
            # Redrawn in place: never wider than the terminal, or it would wrap and scroll.
            line = (line + (" | " + tasks if tasks else ""))[:shutil.get_terminal_size().columns - 1]
            self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
