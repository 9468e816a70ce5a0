"""Plot of the quality grid: mtlembed - gensim per cell, with the seeds' spread (issue 19).

    python benchmarks/quality_plot.py benchmarks/results/quality-grid-*.json \\
        -o benchmarks/results/quality-grid.png

One marker per cell (corpus size, model, epochs, score): the mean over seeds of mtlembed's score minus
gensim's for the same seed, and a bar from the smallest to the largest of those per-seed differences.
Left: scores in points (analogy accuracy, BLI CSLS P@1 raw and on unit rows); right: correlations (WS353,
SimLex-999, RW). The dashed lines are the issue's bar: 1 point, 0.01.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prepare_corpus  # noqa: E402
from quality_grid import TOLERANCE, metric_of  # noqa: E402

POINTS = ("analogy", "bli", "bli_unit")


def cells(paths: list[Path]) -> list[dict]:
    """Per cell: label, metric, per-seed differences (mtlembed - gensim, default options only)."""
    found = []
    for path in paths:
        runs = [r for r in json.loads(path.read_text())["runs"] if r["ok"] and not r["options"]]
        by_key: dict[tuple, dict[str, dict[int, float]]] = {}
        for r in runs:
            for score, value in r["scores"].items():
                if metric_of(score) in TOLERANCE and value is not None:
                    key = (r["size"], r["model"], r["epochs"], score)
                    by_key.setdefault(key, {}).setdefault(r["tool"], {})[r["seed"]] = value
        order = lambda kv: (kv[0][0], kv[0][3].partition(" ")[2], kv[0][1], kv[0][2], kv[0][3])  # noqa: E731
        for (size, model, epochs, score), tools in sorted(by_key.items(), key=order):
            mine, peer = tools.get("mtlembed", {}), tools.get("gensim", {})
            seeds = [s for s in sorted(mine) if s in peer]
            if seeds:
                found.append({"label": f"{prepare_corpus.label(size)} {model} {epochs}ep {score}",
                              "metric": metric_of(score), "diffs": [mine[s] - peer[s] for s in seeds],
                              "mine": [mine[s] for s in seeds], "peer": [peer[s] for s in seeds]})
    return found


def below_table(found: list[dict]) -> str:
    """Markdown rows of the cells whose mean difference is below the bar."""
    def spread(values: list[float], fmt: str) -> str:
        sd = f" ± {statistics.stdev(values):{fmt}}" if len(values) > 1 else ""
        return f"{statistics.mean(values):{fmt}}{sd}"

    lines = ["| cell | mtlembed | gensim | diff | seeds' diffs |", "|---|---:|---:|---:|---|"]
    for cell in found:
        mean = statistics.mean(cell["diffs"])
        if mean < -TOLERANCE[cell["metric"]]:
            fmt = ".2f" if cell["metric"] in POINTS else ".3f"
            lines.append(f"| {cell['label']} | {spread(cell['mine'], fmt)} | {spread(cell['peer'], fmt)} | "
                         f"{mean:+{fmt}} | {' '.join(f'{d:+{fmt}}' for d in cell['diffs'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--below", action="store_true", help="also print the cells below the bar (markdown)")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = cells(args.results)
    panels = [[c for c in found if c["metric"] in POINTS], [c for c in found if c["metric"] not in POINTS]]
    height = max(len(p) for p in panels) * 0.16 + 1.5
    fig, axes = plt.subplots(1, 2, figsize=(13, height))
    for ax, panel, bar, unit in zip(axes, panels, (1.0, 0.01), ("points", "Spearman")):
        for y, cell in enumerate(panel):
            mean = statistics.mean(cell["diffs"])
            low, high = min(cell["diffs"]), max(cell["diffs"])
            color = "tab:red" if mean < -bar else "tab:blue"
            ax.plot([low, high], [y, y], color=color, alpha=0.4, linewidth=2)
            ax.plot([mean], [y], "o", color=color, markersize=4)
        ax.set_yticks(range(len(panel)), [c["label"] for c in panel], fontsize=6)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.axvline(-bar, color="tab:red", linestyle="--", linewidth=0.8)
        ax.set_xlabel(f"mtlembed - gensim ({unit}; mean of seeds, bar: seeds' range)")
        ax.invert_yaxis()
    axes[0].set_title("analogy and BLI (CSLS P@1)", fontsize=9)
    axes[1].set_title("WS353, SimLex-999, RW", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({len(found)} cells)")
    if args.below:
        print(below_table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
