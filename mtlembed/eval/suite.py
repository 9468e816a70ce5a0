"""Every shared English benchmark that applies, run on one model, as one table.

The shared data folder is found at ``$MTLEMBED_DATA``, else ``../shared/data``
relative to the current folder, else relative to this package's repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from mtlembed.errors import ConfigError, MtlembedError
from mtlembed.eval.analogy import RESTRICT, evaluate_analogies
from mtlembed.eval.similarity import evaluate_similarity
from mtlembed.eval.vectors import resolve

__all__ = ["BENCHMARKS", "find_data_dir", "run_suite", "format_table"]

# (name, kind, candidate paths under the data folder: the first that exists is used)
BENCHMARKS = (
    ("google-analogy", "analogy", ("analogy/en/questions-words.txt",)),
    ("msr-analogy", "analogy", ("analogy/en/msr_hyperwords.txt",)),
    (
        "ws353",
        "similarity",
        ("similarity/en/faruqui/EN-WS-353-ALL.txt", "similarity/en/hyperwords/ws353.txt"),
    ),
    ("ws353-sim", "similarity", ("similarity/en/faruqui/EN-WS-353-SIM.txt",)),
    ("ws353-rel", "similarity", ("similarity/en/faruqui/EN-WS-353-REL.txt",)),
    (
        "simlex999",
        "similarity",
        ("similarity/en/SimLex-999/SimLex-999.txt", "similarity/en/faruqui/EN-SIMLEX-999.txt"),
    ),
    ("simverb3500", "similarity", ("similarity/en/faruqui/EN-SimVerb-3500.txt",)),
    (
        "men",
        "similarity",
        ("similarity/en/faruqui/EN-MEN-TR-3k.txt", "similarity/en/hyperwords/bruni_men.txt"),
    ),
    (
        "rw",
        "similarity",
        ("similarity/en/faruqui/EN-RW-STANFORD.txt", "similarity/en/hyperwords/luong_rare.txt"),
    ),
    ("mturk287", "similarity", ("similarity/en/faruqui/EN-MTurk-287.txt",)),
    ("mturk771", "similarity", ("similarity/en/faruqui/EN-MTurk-771.txt",)),
    ("rg65", "similarity", ("similarity/en/faruqui/EN-RG-65.txt",)),
    ("mc30", "similarity", ("similarity/en/faruqui/EN-MC-30.txt",)),
    ("yp130", "similarity", ("similarity/en/faruqui/EN-YP-130.txt",)),
    ("verb143", "similarity", ("similarity/en/faruqui/EN-VERB-143.txt",)),
)


def find_data_dir(data_dir=None):
    """The shared data folder, or None if there is none.

    An explicit `data_dir` must exist; otherwise ``$MTLEMBED_DATA``, then
    ``../shared/data`` from the current folder, then from the repository root.
    """
    if data_dir is not None:
        path = Path(os.fspath(data_dir))
        if not path.is_dir():
            raise ConfigError(f"data folder not found: {path}")
        return path
    candidates = []
    if os.environ.get("MTLEMBED_DATA"):
        candidates.append(Path(os.environ["MTLEMBED_DATA"]))
    candidates.append(Path.cwd().parent / "shared" / "data")
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data")
    return next((p for p in candidates if p.is_dir()), None)


def run_suite(vectors, data_dir=None, restrict=RESTRICT, lang=None):
    """Run every benchmark of :data:`BENCHMARKS` found in the data folder.

    Parameters
    ----------
    vectors : Embeddings, gensim KeyedVectors, (words, vectors) or str
        The model (English, or a joint model with `lang`).
    data_dir : str or PathLike, optional
        The shared data folder (see :func:`find_data_dir`).
    restrict : int
        Vocabulary restriction of the analogy sets.
    lang : str, optional
        Evaluate the ``"<lang>:"`` keys of a joint model.

    Returns
    -------
    dict
        ``data_dir`` and ``benchmarks``: one dict per benchmark with ``name``,
        ``kind``, ``metric``, ``score`` (None with an ``error`` when nothing of
        it is in the vocabulary), ``covered``, ``total``, ``oov`` and ``file``.
    """
    root = find_data_dir(data_dir)
    if root is None:
        raise ConfigError("shared data folder not found: pass --data-dir DIR or set MTLEMBED_DATA")
    vs = resolve(vectors, lang)  # loaded once for all benchmarks
    rows = []
    for name, kind, paths in BENCHMARKS:
        path = next((root / p for p in paths if (root / p).is_file()), None)
        if path is None:
            continue
        row = {"name": name, "kind": kind, "metric": "accuracy" if kind == "analogy" else "spearman"}
        try:
            if kind == "analogy":
                r = evaluate_analogies(vs, path, restrict=restrict)
                row.update(score=r["accuracy"], covered=r["total"], total=r["questions"], oov=r["oov"])
            else:
                r = evaluate_similarity(vs, path)
                row.update(score=r["spearman"], covered=r["pairs"], total=r["total"], oov=r["oov"])
        except MtlembedError as exc:
            if not isinstance(exc, ValueError):
                raise
            row.update(score=None, covered=0, total=None, oov=None, error=str(exc))
        row["file"] = str(path)
        rows.append(row)
    if not rows:
        raise ConfigError(f"no English benchmark found under {root}")
    return {"data_dir": str(root), "benchmarks": rows}


def format_table(result) -> str:
    """The suite's results as an aligned text table."""
    header = ("benchmark", "kind", "metric", "score", "covered", "oov")
    lines = [header]
    for row in result["benchmarks"]:
        score = "n/a" if row["score"] is None else f"{row['score']:.4f}"
        covered = f"{row['covered']}/{row['total']}" if row["total"] is not None else "0"
        lines.append((row["name"], row["kind"], row["metric"], score, covered, str(row["oov"] or 0)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = (False, False, False, True, True, True)
    out = [
        "  ".join(cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(line, widths, right)).rstrip()
        for line in lines
    ]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)
