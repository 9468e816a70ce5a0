"""Align while training: every K chunks, the run's current vectors give a dictionary that ties the
languages for the next K.

Between two segments of the schedule (every thread joined), each language's `cutoff` most frequent
words and the pivot's are matched by mutual CSLS nearest neighbours in the shared space (the
induction of ``mtlembed align``, induction.py); the pairs, with the seed dictionaries', become the
code-switching translations of the other languages' tasks, and the kernel's job is bound again
(kernel.Kernel.retie). The shared space is only meaningful across languages when something ties
them: parallel text, seed pairs or words spelled the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from mtlembed.crosslingual import TranslationTable, id_table, merge_tables
from mtlembed.tasks import DictionarySpec

from .orthogonal import normalize

__all__ = ["ALIGN_CUTOFF", "AlignWhileTraining"]

ALIGN_CUTOFF = 20000  # most frequent words of each language that take part (VecMap's; MUSE uses 15,000)
DEFAULT_CODESWITCH = next(f.default for f in dataclasses.fields(DictionarySpec) if f.name == "codeswitch")


class AlignWhileTraining:
    """The trainer's hook: `segment_end` cuts the schedule every `every` chunks, `after` induces the
    dictionary there and hands the merged translation table to `retie`.

    `vocab` is the run's Vocabulary, `w_in` its input matrix (rows padded beyond `dim`), `pivot` the
    first task's language, `seed` the seed dictionaries' table (or None).
    """

    def __init__(self, every: int, vocab, w_in: np.ndarray, dim: int, pivot: str,
                 seed: TranslationTable | None, retie: Callable[[TranslationTable], None],
                 cutoff: int = ALIGN_CUTOFF, k: int = 10):
        self.every, self.vocab, self.w_in, self.dim, self.pivot = every, vocab, w_in, dim, pivot
        self.seed, self.retie, self.cutoff, self.k = seed, retie, cutoff, k
        self.history: list[dict] = []

    def segment_end(self, position: int, end: int) -> int:
        return min(end, (position // self.every + 1) * self.every)

    def after(self, position: int) -> None:
        if position == 0 or position % self.every:
            return
        tables, sizes = [], {}
        for lang in self.vocab.languages:
            if lang != self.pivot:
                table = self.induced(lang)
                tables.append(table)
                sizes[lang] = table.usable
        if self.seed is not None:
            tables.append(self.seed)
        self.retie(merge_tables(tables, len(self.vocab)))
        self.history.append({"chunk": position, "pairs": sizes})

    def induced(self, lang: str) -> TranslationTable:
        """Mutual CSLS nearest neighbours between `lang`'s and the pivot's most frequent words, as a table
        of global ids in both directions."""
        # induction takes CSLS from eval.bli: imported when a run aligns, not by every training run
        from .induction import induce

        first, last = self.vocab.range_of(lang)
        pivot_first, pivot_last = self.vocab.range_of(self.pivot)
        own = self.w_in[first:min(last, first + self.cutoff), :self.dim]
        pivot = self.w_in[pivot_first:min(pivot_last, pivot_first + self.cutoff), :self.dim]
        found = induce(*(normalize(np.array(rows, np.float32), ("unit",)) for rows in (own, pivot)), self.k)
        return id_table(found.src + first, found.tgt + pivot_first, len(self.vocab))


def for_run(trainer, job, heads: list[str]) -> AlignWhileTraining | None:
    """The hook of a Trainer's run (`job`: its _Job, `heads` its output matrices), when its config asks
    for it (align_every > 0) and it has several languages; its history goes to the run's notes."""
    from mtlembed.kernel import Kernel, codeswitch_of

    config, data = trainer.config, job.data
    if not config.align_every or len(data.vocab.languages) < 2 or trainer._ranks is not None:
        return None
    specs, pivot = trainer.task_specs, trainer.task_specs[0].lang

    def retie(table: TranslationTable) -> None:
        tasks = Kernel.task_list(data, specs, trainer.parallel, trainer.dictionaries, heads, table)
        for task, spec in zip(tasks, specs):
            if spec.lang != pivot:  # the pivot keeps its text, as with seed dictionaries
                codeswitch = codeswitch_of(spec, specs, trainer.dictionaries) or DEFAULT_CODESWITCH
                task.set_translations(codeswitch, table.offsets, table.ids)
        job.kernel.retie(tasks)

    aligner = AlignWhileTraining(config.align_every, data.vocab, job.kernel.w_in, config.dim, pivot,
                                 trainer._translations(data), retie)
    aligner.history = trainer.notes.setdefault("align_history", [])
    return aligner
