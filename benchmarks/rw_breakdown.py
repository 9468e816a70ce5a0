"""Stanford Rare Words of fastText-format models, broken down (issue 21): where one model's vectors
of unseen words fall behind another's.

    python benchmarks/rw_breakdown.py benchmarks/.cache/runs/NAME/{mtlembed,fasttext}.bin

For each model (`bench_subwords.py english --keep` keeps them): Spearman and mean cosine over the pairs
whose words the vocabulary both knows, those with one unseen word and those with two, each with the
whole vectors (a known word: the mean of its own row and its n-gram rows; an unseen one: its n-grams'
rows) and with the n-gram rows alone; the same with the vocabulary's mean vector taken off every
vector, and added to it once more (how much of the score rides on the one direction the vectors
share); then the rows' norms by frequency band and how much the vectors share that direction (the
norm of the mean of the unit vectors). With several models, how far the pairs' sample alone moves the
difference of each model's Spearman from the first's: a paired bootstrap over the pairs (the same
resampled pairs for both models), its 95% interval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mtlembed.eval.similarity import read_pairs, spearman
from mtlembed.fasttext_format import read_fasttext, subword_spec
from mtlembed.model import unit_rows
from mtlembed.subwords import SubwordVectors, build_table, compose, ngram_buckets

RARE_WORDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "similarity" / "en" / "faruqui" / \
    "EN-RW-STANFORD.txt"
BANDS = ((0, 100), (100, 1000), (1000, 10_000), (10_000, 30_000), (30_000, None))


def cosines(vectors: np.ndarray, n_pairs: int) -> np.ndarray:
    """Row i's cosine with row n_pairs + i (the pairs' first words, then their second words)."""
    unit = unit_rows(vectors, np.float64)
    return np.einsum("ij,ij->i", unit[:n_pairs], unit[n_pairs:])


def load(path: Path) -> tuple:
    """The model, its spec, and a SubwordVectors of its whole vectors."""
    model = read_fasttext(path)
    spec = subword_spec(model.args)
    if spec is None:
        raise SystemExit(f"{path}: a model without n-grams")
    return model, spec, SubwordVectors(model.words, model.input_matrix, spec)


def paired_bootstrap(gold: np.ndarray, first: np.ndarray, other: np.ndarray, rounds: int = 1000,
                     seed: int = 0) -> tuple[float, float]:
    """95% interval of spearman(gold, other) - spearman(gold, first) over resamples of the pairs."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        chosen = rng.integers(0, len(gold), len(gold))
        differences.append(spearman(gold[chosen], other[chosen]) - spearman(gold[chosen], first[chosen]))
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def breakdown(path: Path, pairs: list[tuple[str, str, float]]) -> tuple[list[str], np.ndarray]:
    """The report's lines, and the whole vectors' cosine of every pair (for the models' comparison)."""
    model, spec, any_word = load(path)
    n_words, known, rows = len(model.words), any_word.index, model.input_matrix

    def ngrams_only(words: list[str]) -> np.ndarray:
        return compose(build_table(words, spec, n_words, own_rows=np.full(len(words), -1)), rows)

    words = [w for w in model.words if ngram_buckets(w, spec)]  # not </s>
    vocabulary = any_word.vectors(words)
    mean = vocabulary.mean(0)
    kinds = {"both known": 2, "one unseen": 1, "both unseen": 0}
    lines = [f"{path}", "| vectors | pairs | n | Spearman | mean cosine |", "|---|---|---:|---:|---:|"]
    for label, vectors in (("whole", any_word.vectors), ("n-grams only", ngrams_only),
                           ("whole - vocabulary mean", lambda ws: any_word.vectors(ws) - mean),
                           ("whole + vocabulary mean", lambda ws: any_word.vectors(ws) + mean)):
        for kind, n_known in [("all", None)] + list(kinds.items()):
            chosen = [(a, b, s) for a, b, s in pairs
                      if n_known is None or (a in known) + (b in known) == n_known]
            firsts, seconds, gold = zip(*chosen)
            cosine = cosines(vectors(list(firsts) + list(seconds)), len(chosen))
            rho = spearman(gold, cosine)
            lines.append(f"| {label} | {kind} | {len(chosen)} | {rho:.4f} | {cosine.mean():.3f} |")
            if label == "whole" and n_known is None:
                every_pair = cosine
    lines.append(f"\nvectors of the vocabulary: mean norm {np.linalg.norm(vocabulary, axis=1).mean():.3f}, "
                 f"norm of the mean vector {np.linalg.norm(mean):.3f}, "
                 f"norm of the mean unit vector {np.linalg.norm(unit_rows(vocabulary).mean(0)):.3f}")
    for lo, hi in BANDS:
        if lo >= n_words:
            break
        hi = min(hi or n_words, n_words)  # the input matrix goes on with the buckets' rows
        own, out = (np.linalg.norm(m[lo:hi], axis=1).mean() for m in (rows, model.output_matrix))
        lines.append(f"words {lo}-{hi}: own row {own:.3f}, output row {out:.3f}")
    return lines, every_pair


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", type=Path, nargs="+", help="fastText .bin files")
    ap.add_argument("--pairs", type=Path, default=RARE_WORDS)
    args = ap.parse_args(argv)
    if not args.pairs.exists():
        raise SystemExit(f"{args.pairs}: not found (the shared data)")
    pairs = [(a.lower(), b.lower(), s) for _, a, b, s in read_pairs(args.pairs)]
    gold, whole = np.array([score for _, _, score in pairs]), []
    for path in args.models:
        lines, cosine = breakdown(path, pairs)
        print("\n".join(lines) + "\n")
        whole.append(cosine)
    if len(args.models) > 1:
        print(f"Spearman minus {args.models[0]}'s, all pairs, with a paired bootstrap's 95% interval:")
        for path, cosine in zip(args.models[1:], whole[1:]):
            low, high = paired_bootstrap(gold, whole[0], cosine)
            difference = spearman(gold, cosine) - spearman(gold, whole[0])
            print(f"  {path}: {difference:+.4f} [{low:+.4f}, {high:+.4f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
