"""Plot of the quality grid: mtlembed - gensim per cell, with the seeds' spread (issue 19).

    python benchmarks/quality_plot.py benchmarks/results/quality-grid-*.json \\
        -o benchmarks/results/quality-grid.png

One marker per cell (corpus size, model, epochs, score) and gensim peer: the mean over seeds of mtlembed's
score minus gensim's for the same seed, and a bar from the smallest to the largest of those per-seed
differences. Filled: gensim-iterable (the linear schedule, as mtlembed's), where the cell has it; hollow:
gensim with corpus_file input (2 workers: a higher mean rate). Left: scores in points (analogy accuracy, BLI
CSLS P@1 raw and on unit rows); right: correlations (WS353, SimLex-999, RW). The dashed lines are the
issue's bar: 1 point, 0.01. Runs are merged over the files by (tool, cell, seed): a later file's run of the
same cell and seed replaces an earlier one's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import prepare_corpus  # noqa: E402
from quality_grid import PEERS, TOLERANCE, metric_of  # noqa: E402

POINTS = ("analogy", "bli", "bli_unit")
JUDGED = "gensim-iterable"  # the bar is judged against it where a cell has it (equal schedules)


def cells(paths: list[Path]) -> list[dict]:
    """Per cell: label, metric, mtlembed's per-seed scores, and per gensim peer its scores and the per-seed
    differences (mtlembed - peer, default options only, seeds both have)."""
    by_key: dict[tuple, dict[str, dict[int, float]]] = {}
    for path in paths:
        for r in json.loads(path.read_text())["runs"]:
            if r["ok"] and not r["options"]:
                for score, value in r["scores"].items():
                    if metric_of(score) in TOLERANCE and value is not None:
                        key = (r["size"], r["model"], r["epochs"], score)
                        by_key.setdefault(key, {}).setdefault(r["tool"], {})[r["seed"]] = value
    found = []
    order = lambda kv: (kv[0][0], kv[0][3].partition(" ")[2], kv[0][1], kv[0][2], kv[0][3])  # noqa: E731
    for (size, model, epochs, score), tools in sorted(by_key.items(), key=order):
        mine = tools.get("mtlembed", {})
        peers = {}
        for name in PEERS:
            seeds = [s for s in sorted(mine) if s in tools.get(name, {})]
            if seeds:
                peers[name] = {"mine": [mine[s] for s in seeds], "peer": [tools[name][s] for s in seeds],
                               "diffs": [mine[s] - tools[name][s] for s in seeds]}
        if peers:
            found.append({"label": f"{prepare_corpus.label(size)} {model} {epochs}ep {score}",
                          "metric": metric_of(score), "peers": peers,
                          "judged": JUDGED if JUDGED in peers else next(iter(peers))})
    return found


def below(cell: dict, peer: str) -> bool:
    diffs = cell["peers"].get(peer, {}).get("diffs")
    return bool(diffs) and statistics.mean(diffs) < -TOLERANCE[cell["metric"]]


def below_table(found: list[dict]) -> str:
    """Markdown rows of the cells below the bar against either gensim peer: mtlembed, each peer and the
    difference of means (seeds' differences against the judged peer); ! marks a cell below the peer it is
    judged against (gensim-iterable where the cell has it)."""
    def spread(values: list[float], fmt: str) -> str:
        sd = f" ± {statistics.stdev(values):{fmt}}" if len(values) > 1 else ""
        return f"{statistics.mean(values):{fmt}}{sd}"

    peers = " | ".join(f"{name} | diff" for name in PEERS)
    lines = [f"| cell | mtlembed | {peers} | seeds' diffs (judged) |",
             "|---|---:|" + "---:|---:|" * len(PEERS) + "---|"]
    for cell in found:
        if not any(below(cell, name) for name in cell["peers"]):
            continue
        fmt = ".2f" if cell["metric"] in POINTS else ".3f"
        judged = cell["peers"][cell["judged"]]
        row = [cell["label"], spread(judged["mine"], fmt)]
        for name in PEERS:
            if name not in cell["peers"]:
                row += ["", ""]
                continue
            peer = cell["peers"][name]
            mark = " !" if name == cell["judged"] and below(cell, name) else ""
            row += [spread(peer["peer"], fmt), f"{statistics.mean(peer['diffs']):+{fmt}}{mark}"]
        row.append(" ".join(f"{d:+{fmt}}" for d in judged["diffs"]))
        lines.append("| " + " | ".join(row) + " |")
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
            for name, peer in cell["peers"].items():
                mean = statistics.mean(peer["diffs"])
                color = "tab:red" if mean < -bar else "tab:blue"
                filled = name == JUDGED
                at = y + (0.18 if filled else -0.18) * (len(cell["peers"]) > 1)
                ax.plot([min(peer["diffs"]), max(peer["diffs"])], [at, at], color=color,
                        alpha=0.4 if filled else 0.2, linewidth=2)
                ax.plot([mean], [at], "o", color=color, markersize=4,
                        markerfacecolor=color if filled else "none")
        ax.set_yticks(range(len(panel)), [c["label"] for c in panel], fontsize=6)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.axvline(-bar, color="tab:red", linestyle="--", linewidth=0.8)
        ax.set_xlabel(f"mtlembed - gensim ({unit})")
        ax.invert_yaxis()
    axes[0].set_title("analogy and BLI (CSLS P@1)", fontsize=9)
    axes[1].set_title("WS353, SimLex-999, RW", fontsize=9)
    fig.text(0.5, 0.005, "marker: mean over seeds of mtlembed - gensim, bar: the seeds' range; filled: "
             "gensim-iterable (its linear schedule, as mtlembed's), hollow: gensim corpus_file (2 workers: "
             "a higher mean rate)", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({len(found)} cells)")
    if args.below:
        print(below_table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
