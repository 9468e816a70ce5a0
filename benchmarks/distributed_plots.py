"""Figures and the communication model of distributed training (issue 22), from distributed_bench.py's
results: `python benchmarks/distributed_bench.py plot` (needs matplotlib).

The model of a meeting. A rank trains N words per round, then the ranks all_reduce (ring: every rank
sends 2 (W - 1) / W of the buffer, in 2 (W - 1) steps) the rows of each of the two matrices that any
rank changed. A row r is changed by a word with probability lambda_r (the word itself, kept by
subsampling, for w_in; as well the negatives drawn for w_out, count^0.75, NEGATIVE per center), so
one rank changes
T(N) = sum_r 1 - exp(-lambda_r N) rows of a matrix in a round, and the W ranks together
U(W, N) = T(W N) (their shards are alike). The model is checked against the rows the 2- and 4-rank runs
counted, then carried to 8-64 nodes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"
SAMPLE, NEGATIVE, MIN_COUNT = 1e-3, 5, 5  # the runs' (mtlembed train's defaults)
LATENCY = 50e-6  # seconds per step of a ring over TCP on a LAN (gloo)
# Collectives per meeting: flags, the rows' bitmap, the rows (dense: flags, every row; owner: flags,
# all_to_all, all_gather)
COLLECTIVES = {"dense": 2, "touched": 3, "owner": 3}
NODE_WORDS_PER_SECOND = 10e6  # a 16-core node (this 2-core machine: 2.4M words/s unloaded, 2 threads)


def rates(corpus: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per vocabulary row: the chance that a word of the corpus changes it, in w_in and in w_out."""
    counts_file = CACHE / (corpus.stem + ".counts.npy")
    if counts_file.exists():
        counts = np.load(counts_file)
    else:
        counter: Counter = Counter()
        with open(corpus, encoding="utf-8") as handle:
            for line in handle:
                counter.update(line.split())
        counts = np.array(sorted((c for c in counter.values() if c >= MIN_COUNT), reverse=True), np.float64)
        np.save(counts_file, counts)
    share = counts / counts.sum()
    keep = np.minimum((np.sqrt(share / SAMPLE) + 1) * SAMPLE / share, 1.0)
    kept = share * keep  # a word of the text is kept and trained as this row
    noise = counts ** 0.75 / (counts ** 0.75).sum()
    negatives = kept.sum() * NEGATIVE * noise  # drawn as this row per word of text (a center's contexts
    # share its draw of NEGATIVE: the kernel's targets x contexts block)
    return kept, kept + negatives


def touched(rate: np.ndarray, words: float) -> float:
    return float(np.sum(-np.expm1(-rate * words)))


def meeting_bytes(rows: int, dim: int, ranks: int, union: float, scheme: str, local: float = 0.0) -> float:
    """Bytes one rank sends per meeting (both matrices: `union` and `local` are their rows summed)."""
    ring = 2 * (ranks - 1) / ranks
    if scheme == "dense":  # every row (its dim floats, not the padding)
        return ring * 2 * rows * 4 * dim
    if scheme == "touched":  # a byte per row, then the changed rows
        return ring * (2 * rows + union * 4 * dim)
    # owner: rows sharded by owner; a rank sends its changed rows (with their ids) to their owners,
    # then each owner sends the merged rows it owns to every other rank
    return (ranks - 1) / ranks * (local * (4 * dim + 8) + union * 4 * dim)


def throughput(ranks: int, words: int, seconds_per_word: float, sent: float, link: float,
               collectives: int) -> float:
    """Words per second of `ranks` nodes: each trains `words` per round, then sends `sent` bytes."""
    latency = collectives * 2 * (ranks - 1) * LATENCY
    return ranks * words / (words * seconds_per_word + sent / link + latency)


def _load(results: Path, name: str) -> list:
    path = results / f"{name}.json"
    return json.loads(path.read_text())["runs"] if path.exists() else []


def check_model(runs: list, corpus: Path) -> list[dict]:
    """The model's rows per meeting against the runs' counts (rows summed over both matrices)."""
    w_in, w_out = rates(corpus)
    checks = []
    for run in runs:
        if run["ranks"] < 2 or not run.get("rows_touched") or run["merge_rows"] != "touched" \
                or run["seed"] > 1:
            continue
        meetings = run["rows_held"] / (2 * run["vocab_size"])
        words = run["train_words"] / run["ranks"] / meetings
        cluster = run["ranks"] * words
        checks.append({"shape": run["shape"], "epochs": run["epochs"], "words_per_round": words,
                       "local": run["rows_touched"] / meetings, "union": run["rows_merged"] / meetings,
                       "local_model": touched(w_in, words) + touched(w_out, words),
                       "union_model": touched(w_in, cluster) + touched(w_out, cluster),
                       "rows": 2 * run["vocab_size"]})
    return checks


def model_table(corpus: Path, dim: int = 100) -> list[dict]:
    w_in, w_out = rates(corpus)
    rows = len(w_in)
    table = []
    for link_gbit in (10, 100):
        for words in (65536, 1 << 20):
            for ranks in (2, 8, 16, 32, 64):
                union = touched(w_in, ranks * words) + touched(w_out, ranks * words)
                local = touched(w_in, words) + touched(w_out, words)
                cell = {"link_gbit": link_gbit, "words_per_round": words, "ranks": ranks,
                        "union_share": union / (2 * rows)}
                for scheme in ("dense", "touched", "owner"):
                    sent = meeting_bytes(rows, dim, ranks, union, scheme, local)
                    speed = throughput(ranks, words, 1 / NODE_WORDS_PER_SECOND, sent, link_gbit * 1e9 / 8,
                                       COLLECTIVES[scheme])
                    cell[scheme] = {"bytes_per_word": sent / words, "words_per_second": speed,
                                    "efficiency": speed / (ranks * NODE_WORDS_PER_SECOND)}
                table.append(cell)
    return table


def plot_all(results: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _load(results, name)
    # the former rule's runs (1/s for every row: -scale), and the first rule's (agree); bytes: any rule
    former = _load(results, f"{name}-scale")
    measured = runs + former
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.2))

    def plain(found: list, epochs: int) -> list:
        return [r for r in found
                if r["merge_rows"] == "touched" and not r["sync_words"] and r["epochs"] == epochs]

    # 4 ranks and more boost the input rows only (distributed_merge.boosts): the default's 4-rank runs are
    # the -4ranks-inboost files; the runs with output boosts at 4 ranks are drawn apart (one diverged)
    boosted = runs + _load(results, f"{name}-5epochs-boost")
    default = [r for r in boosted if r["ranks"] < 4] + _load(results, f"{name}-4ranks-inboost") \
        + _load(results, f"{name}-5epochs-4ranks-inboost")
    output_boosts = [r for r in boosted + _load(results, f"{name}-5epochs-boost-4ranks") if r["ranks"] >= 4]
    for ax, epochs in ((axes[0], 1), (axes[1], 5)):
        title = f"analogy, 17M words, {epochs} epoch{'s' * (epochs > 1)}"
        for found, color, label in ((default, "tab:blue", "1/s x each row's boost (default)"),
                                    (output_boosts, "tab:purple", "4 ranks, output rows boosted too"),
                                    (former + _load(results, f"{name}-5epochs"), "tab:gray",
                                     "1/s for every row (former)"),
                                    ([r for r in _load(results, "distributed-agree-17M") if r["ranks"] > 1],
                                     "silver", "agree (first rule)")):
            _accuracy_panel(ax, plain(found, epochs), "analogy", title, color, label)
        ax.legend(fontsize=8)
    _scale_panel(axes[2], _load(results, "distributed-scale"))
    joint = [r for r in _load(results, "distributed-joint") if r["ranks"] < 4] \
        + _load(results, "distributed-joint-4ranks-inboost")
    joint_former = _load(results, "distributed-joint-scale") + _load(results, "distributed-joint-1x2-rerun")
    for key, color, faded in (("bli_es_csls", "tab:red", "lightcoral"),
                              ("bli_de_csls", "tab:green", "lightgreen")):
        title = "joint en+es+de: BLI P@1 (CSLS, MUSE test)"
        _accuracy_panel(axes[3], joint, key, title, color, "en-" + key[4:6])
        _accuracy_panel(axes[3], joint_former, key, title, faded, "en-" + key[4:6] + ", former rule")
    if joint:
        axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(results / "distributed-accuracy.png", dpi=110)

    corpus = Path(json.loads((results / f"{name}.json").read_text())["meta"]["corpus"])
    table = model_table(corpus)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    _bytes_panel(axes[0], measured, corpus)
    for words, ax in ((65536, axes[1]), (1 << 20, axes[2])):
        for link, style in ((10, "-"), (100, "--")):
            cells = [c for c in table if c["link_gbit"] == link and c["words_per_round"] == words]
            nodes = [c["ranks"] for c in cells]
            for scheme, color in (("dense", "tab:gray"), ("touched", "tab:blue"), ("owner", "tab:orange")):
                ax.plot(nodes, [c[scheme]["words_per_second"] / 1e6 for c in cells], style, color=color,
                        marker="o", label=f"{scheme}, {link} Gb/s")
        ax.plot(nodes, [n * NODE_WORDS_PER_SECOND / 1e6 for n in nodes], ":", color="black", label="linear")
        ax.set(xscale="log", yscale="log", xlabel="nodes", ylabel="words/s (millions), model",
               title=f"model: {words // 1024}k words per rank per round, 10M words/s a node")
        ax.set_xticks(nodes, [str(n) for n in nodes])
        ax.minorticks_off()
        ticks = [2, 5, 10, 20, 50, 100, 200, 500]
        ax.set_yticks(ticks, [str(t) for t in ticks])
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(results / "distributed-comm.png", dpi=110)
    (results / "distributed-model.json").write_text(json.dumps(
        {"corpus": str(corpus), "node_words_per_second": NODE_WORDS_PER_SECOND, "latency": LATENCY,
         "collectives": COLLECTIVES, "check": check_model(runs, corpus), "table": table},
        indent=1) + "\n")


def _bytes_panel(ax, runs: list, corpus: Path) -> None:
    """Bytes sent per word per rank, measured (1 epoch, 64k-word rounds), against the model."""
    w_in, w_out = rates(corpus)
    labels, measured, modelled = [], [], []
    for shape in ("2x1/all", "2x1", "4x1/all", "4x1"):
        found = [r for r in runs if r["shape"] == shape and r["epochs"] == 1]
        if not found:
            continue
        run = found[0]
        words = run["train_words"] / run["ranks"] / run["rounds"]
        union = touched(w_in, run["ranks"] * words) + touched(w_out, run["ranks"] * words)
        scheme = "dense" if shape.endswith("/all") else "touched"
        labels.append(f"{run['ranks']} ranks\n{scheme}")
        measured.append(run["bytes_per_word_per_rank"])
        modelled.append(meeting_bytes(len(w_in), run["dim"], run["ranks"], union, scheme) / words)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, measured, 0.4, label="measured (ranks' count)")
    ax.bar(x + 0.2, modelled, 0.4, label="model")
    ax.set_xticks(x, labels)
    ax.set(ylabel="bytes sent per word per rank", title="17M words, 64k-word rounds")
    ax.legend(fontsize=8)


def _scale_panel(ax, runs: list) -> None:
    """Analogy (17M words, 1 epoch, seed 1) against the scale s: ranks train at s x the rate, a meeting
    adds 1/s of the summed changes."""
    for ranks, color in ((2, "tab:orange"), (4, "tab:blue")):
        points = sorted((r["scale"], 100 * r["analogy"]) for r in runs
                        if r["ranks"] == ranks and r["corpus"].startswith("enwiki-text8-17M")
                        and not r["sync_words"] and r["rule"].startswith("s = ") and ":" in r["rule"])
        if points:
            ax.plot(*zip(*points), "o-", color=color, label=f"{ranks} ranks")
    one = [100 * r["analogy"] for r in runs if r["ranks"] == 1 and r["corpus"].startswith("enwiki-text8-17M")]
    if one:
        ax.axhline(np.mean(one), color="black", linestyle=":", label="one process (seed 1)")
    ax.set(xlabel="s", ylabel="%", title="analogy, 17M, 1 epoch: the scale s (former rule)", ylim=(0, 18))
    ax.legend(fontsize=8)


def _accuracy_panel(ax, runs: list, key: str, title: str, color: str = "tab:blue", label: str = "") -> None:
    by_ranks: dict[int, list[float]] = {}
    for run in runs:
        if key in run:
            by_ranks.setdefault(run["ranks"], []).append(100 * run[key])
    if not by_ranks:
        return
    ranks = sorted(by_ranks)
    for r in ranks:
        ax.plot([r] * len(by_ranks[r]), by_ranks[r], "o", color=color, alpha=0.5)
    means = [np.mean(by_ranks[r]) for r in ranks]
    ax.plot(ranks, means, "-", color=color, label=label or None)
    if 1 in by_ranks:
        ax.axhspan(means[0] - 1, means[0] + 1, color=color, alpha=0.1)
    ax.set(xticks=sorted(set(ranks) | {1}), xlabel="ranks (1 = one process, 2 threads; ranks: 1 thread each)",
           ylabel="%", title=title)


def tables(results: Path, name: str) -> str:
    """Markdown tables of the runs (pasted into distributed.md): accuracy by shape, then the model."""
    lines = []
    bli = ("bli_es_csls", "bli_de_csls", "bli_es_nn", "bli_de_nn", "analogy")
    for file, keys in ((name, ("analogy",)), (f"{name}-scale", ("analogy",)),
                       (f"{name}-5epochs-boost", ("analogy",)), (f"{name}-5epochs", ("analogy",)),
                       ("distributed-joint", bli),
                       ("distributed-joint-scale", bli), ("distributed-joint-1x2-rerun", bli)):
        runs = _load(results, file)
        lines += [f"{file}.json", "", "| shape | epochs | seeds | " + " | ".join(keys)
                  + " | train s (median) | words/s (median) | bytes/word/rank | rounds |",
                  "|---|---|---|" + "---|" * (len(keys) + 4)]
        for shape, epochs in sorted({(r["shape"], r["epochs"]) for r in runs}, key=lambda k: (k[1], k[0])):
            group = [r for r in runs if (r["shape"], r["epochs"]) == (shape, epochs)]
            cells = []
            for key in keys:
                values = [100 * r[key] for r in group]
                cells.append(" / ".join(f"{v:.2f}" for v in values) + (f" (mean {np.mean(values):.2f})"
                                                                        if len(values) > 1 else ""))
            lines.append(f"| {shape} | {epochs} | {len(group)} | " + " | ".join(cells)
                         + f" | {np.median([r['train_seconds'] for r in group]):.1f}"
                         + f" | {np.median([r['words_per_second'] for r in group]):,.0f}"
                         + f" | {group[0]['bytes_per_word_per_rank']:.0f} | {group[0]['rounds'] or ''} |")
        lines.append("")
    model = json.loads((results / "distributed-model.json").read_text())
    lines += ["| link | words/round/rank | nodes | rows changed by any rank | dense | touched | owner |",
              "|---|---|---|---|---|---|---|"]
    for c in model["table"]:
        lines.append(f"| {c['link_gbit']} Gb/s | {c['words_per_round'] // 1024}k | {c['ranks']} | "
                     f"{100 * c['union_share']:.0f}% | " + " | ".join(
                         f"{c[s]['bytes_per_word']:.0f} B/w, {c[s]['words_per_second'] / 1e6:.1f}M w/s "
                         f"({100 * c[s]['efficiency']:.0f}%)" for s in ("dense", "touched", "owner")) + " |")
    lines += ["", "| run | words/round/rank | rows changed a meeting: one rank (model) | any rank (model) |",
              "|---|---|---|---|"]
    for c in model["check"]:
        lines.append(f"| {c['shape']}, {c['epochs']} epoch(s) | {c['words_per_round']:,.0f} | "
                     f"{c['local']:,.0f} ({c['local_model']:,.0f}) | "
                     f"{c['union']:,.0f} ({c['union_model']:,.0f}) |")
    return "\n".join(lines) + "\n"
