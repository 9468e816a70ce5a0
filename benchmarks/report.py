"""Summaries of the raw runs, and the JSON / Markdown / PNG written from them."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

PEERS = ("gensim", "fasttext", "word2vec")


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (model, dim, threads, swept values, tool, vCPU placement): medians of the
    speeds over repeats and seeds, means of the accuracies over seeds, ratios to the peers."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        if r["ok"]:
            sweep = json.dumps(r.get("sweep", {}), sort_keys=True)
            groups.setdefault((r["model"], r["dim"], r["threads"], sweep, r["tool"], r.get("vcpus")),
                              []).append(r)
    rows = []
    for (model, dim, threads, sweep, tool, vcpus), rs in groups.items():
        words = rs[0]["corpus_words"] * rs[0]["epochs"]
        train = _median([r["train_seconds"] for r in rs])
        wall = _median([r["wall_seconds"] for r in rs])
        scored = [r for r in rs if r.get("eval")]
        rows.append({
            "model": model, "dim": dim, "threads": threads, "sweep": json.loads(sweep), "vcpus": vcpus,
            "tool": tool, "repeats": len(rs), "seeds": sorted({r.get("seed") for r in rs} - {None}),
            "train_seconds": train, "wall_seconds": wall,
            "train_words_per_second": words / train if train else None,
            "e2e_words_per_second": words / wall if wall else None,
            "vocab_seconds": _median([r.get("vocab_seconds") for r in rs]),
            "export_seconds": _median([r.get("export_seconds") for r in rs]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "cpu_seconds": _median([r["cpu_seconds"] for r in rs]),
            "others_cores": _median([r.get("others_cores") for r in rs]),
            "vocab_size": rs[0].get("vocab_size"),
            "analogy_accuracy": _mean([r["eval"].get("analogy_accuracy") for r in scored]),
            "analogy_per_seed": [r["eval"].get("analogy_accuracy") for r in scored],
            "analogy_seen": scored[0]["eval"].get("analogy_seen") if scored else None,
            "wordsim353_spearman": _mean([r["eval"].get("wordsim353_spearman") for r in scored]),
        })
    for row in rows:
        # a peer row matches when its swept values (shared settings only) are among this row's
        peers = [p for p in rows if p["tool"] in PEERS and
                 (p["model"], p["dim"], p["threads"]) == (row["model"], row["dim"], row["threads"])
                 and p["sweep"].items() <= row["sweep"].items()]
        fastest = max((p["train_words_per_second"] or 0 for p in peers), default=0)
        fastest_e2e = max((p["e2e_words_per_second"] or 0 for p in peers), default=0)
        accs = [p["analogy_accuracy"] for p in peers if p["analogy_accuracy"] is not None]
        wps, e2e, acc = row["train_words_per_second"], row["e2e_words_per_second"], row["analogy_accuracy"]
        row["ratio_to_fastest_peer"] = wps / fastest if wps and fastest else None
        row["e2e_ratio_to_fastest_peer"] = e2e / fastest_e2e if e2e and fastest_e2e else None
        row["accuracy_diff_to_best_peer"] = acc - max(accs) if acc is not None and accs else None
    order = {"mtlembed": 0, **{p: i + 1 for i, p in enumerate(PEERS)}}
    sweeps = list(dict.fromkeys(json.dumps(r["sweep"]) for r in rows))  # in the order they ran
    rows.sort(key=lambda r: (r["model"] != "sg", r["dim"], r["threads"], sweeps.index(json.dumps(r["sweep"])),
                             order.get(r["tool"], 9), r["vcpus"] or ""))
    return rows


def _f(value, fmt: str, none: str = "-") -> str:
    return none if value is None else format(value, fmt)


def _alpha(alpha) -> str:
    if isinstance(alpha, dict):
        return ", ".join(f"{v} ({k})" for k, v in alpha.items())
    return str(alpha)


def _k(value) -> str:
    return "-" if value is None else f"{value / 1000:,.0f}k"


def _swept(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items() if k not in ("model", "dim", "threads")) or "-"


def _columns(doc: dict) -> list[tuple]:
    """(header, right-aligned, cell of a summary row or None where the column is left out)."""
    swept = bool(doc["params"].get("sweep"))
    placed = any(r.get("vcpus") for r in doc["runs"])
    seeded = len(doc["params"].get("seeds", [])) > 1

    def pct(x):
        return _f(x and x * 100, ".2f")
    return [
        ("model", 0, lambda r: r["model"]), ("dim", 0, lambda r: str(r["dim"])),
        ("threads", 0, lambda r: str(r["threads"])),
        ("swept", 0, swept and (lambda r: _swept(r.get("sweep", {})))),
        ("tool", 0, lambda r: r["tool"]),
        ("vCPUs", 0, placed and (lambda r: r.get("vcpus") or "-")),
        ("train words/s", 1, lambda r: _k(r["train_words_per_second"])),
        ("x fastest peer", 1, lambda r: _f(r["ratio_to_fastest_peer"], ".2f")),
        ("train s", 1, lambda r: _f(r["train_seconds"], ".2f")),
        ("e2e s", 1, lambda r: _f(r["wall_seconds"], ".2f")),
        ("e2e x fastest", 1, lambda r: _f(r["e2e_ratio_to_fastest_peer"], ".2f")),
        ("vocab s", 1, lambda r: _f(r["vocab_seconds"], ".2f")),
        ("peak RSS MB", 1, lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("CPU s", 1, lambda r: _f(r["cpu_seconds"], ".1f")),
        ("others", 1, lambda r: _f(r["others_cores"], ".2f")),
        ("analogy % (seen)", 1, lambda r: f"{pct(r['analogy_accuracy'])} ({_f(r['analogy_seen'], 'd')})"),
        ("diff pp", 1, lambda r: _f(r["accuracy_diff_to_best_peer"] and r["accuracy_diff_to_best_peer"] * 100,
                                    "+.2f")),
        ("WS353 rho", 1, lambda r: _f(r["wordsim353_spearman"], ".3f")),
        ("analogy % per seed", 1, seeded and (lambda r: ", ".join(map(pct, r.get("analogy_per_seed", []))))),
    ]


def markdown(doc: dict) -> str:
    m, p = doc["meta"], doc["params"]
    lines = [
        f"# Benchmark `{doc['name']}`", "",
        f"- command: `{m['command']}`",
        f"- date: {m['date']}; git: `{m['git_sha']}`{' (dirty tree)' if m['git_dirty'] else ''}",
        f"- CPU: {m['cpu_model']}, {m['cores']} logical cores, SIMD flags: {m['cpu_simd']}"
        f"{'; GPU: ' + m['gpu'] if m.get('gpu') else ''}",
        f"- load average before/after: {m['loadavg_before']} / {m['loadavg_after']}",
        f"- mtlembed SIMD level: {m['mtlembed_simd'] or 'n/a (mtlembed not run)'}",
        f"- corpus: `{doc['corpus']['path']}`, {doc['corpus']['words']:,} words",
        f"- hyper-parameters: dim {p['dim']}, window {p['window']}, negative {p['negative']}, "
        f"sample {p['sample']}, min-count {p['min_count']}, epochs {p['epochs']}, hs 0, alpha "
        f"{_alpha(p['alpha'])} (the same for every tool, fastText included), threads "
        f"{p['threads']}, repeats {p['repeat']}, seeds {', '.join(map(str, p.get('seeds', [p['seed']])))}",
        f"- evaluator: {doc['evaluator']}",
    ]
    if p.get("sweep"):
        lines.append("- swept: " + "; ".join(f"{k} = {', '.join(map(str, v))}"
                                             for k, v in p["sweep"].items()))
    if any(r.get("vcpus") for r in doc["runs"]):
        lines.append("- vCPUs: where the two vCPUs sat during each run, from a cache-line hand-over timing "
                     "before and after it (pingpong.c): near (< 60 ns both), far (> 100 ns both), mixed")
    others = [r["others_cores"] for r in doc["runs"] if r.get("others_cores") is not None]
    if others and max(others) > 0.1 * m["cores"]:
        lines.append(f"- **warning: other processes kept up to {max(others):.2f} of {m['cores']} "
                     f"cores busy during the timed runs (mean {statistics.mean(others):.2f}): "
                     "timings are noisy, rerun on a quiet machine before quoting them**")
    lines += ["", "| tool | version | status |", "|---|---|---|"]
    for name, t in doc["tools"].items():
        lines.append(f"| {name} | {t.get('version') or '-'} | "
                     f"{'ran' if t['available'] else 'skipped: ' + t['reason']} |")
    lines += [
        "", "Train words/s = corpus words x epochs / training-only seconds; "
        "e2e = the same over the whole process (start-up, vocabulary, training, writing "
        "vectors). Ratios are to the fastest peer in the same row group; the accuracy diff is "
        "in percentage points to the best peer. Analogy: accuracy over the questions whose "
        "words are all among the 30,000 most frequent (seen / 19,544).", "",
    ]
    columns = [c for c in _columns(doc) if c[2]]
    lines += ["| " + " | ".join(c[0] for c in columns) + " |",
              "|" + "|".join("---:" if c[1] else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(c[2](r) for c in columns) + " |" for r in doc["summary"]]
    if m.get("merged_from"):
        lines += ["", "## Merged from", "", "One file per seed before the harness wrote one file per "
                  "experiment; their runs, unchanged (where they ran on different machines, the "
                  "speed medians above mix them: compare accuracies):", ""]
        lines += [f"- `{part['name']}` (seed {part['seed']}): `{part['command']}`; git "
                  f"`{part['git_sha'][:8]}`, {part['date']}, {part['cpu_model']}"
                  for part in m["merged_from"]]
    failed = [r for r in doc["runs"] if not r["ok"]]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {r['tool']} {r['model']} dim {r['dim']} threads {r['threads']}: "
                  f"{r['error']}" for r in failed]
    lines += ["", "## How each stage was timed", ""]
    lines += [f"- **{name}**: {t['timing']}" for name, t in doc["tools"].items() if t["available"]]
    lines += ["", "Peak RSS is the child process's ru_maxrss from wait4() (for gensim, fastText "
              "and mtlembed it includes the Python interpreter and its imports). CPU s is user + "
              "system time of that process; others = mean number of cores that other processes "
              "kept busy while it ran (from /proc/stat; near 0 on a quiet machine). Each tool ran "
              "alone; the tools were interleaved per configuration so that drift in machine load "
              "does not favour one of them.", ""]
    return "\n".join(lines)


def write(doc: dict, out_dir: Path, plot: bool) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / doc["name"]
    paths = [Path(f"{base}.json"), Path(f"{base}.md")]
    paths[0].write_text(json.dumps(doc, indent=1) + "\n")
    paths[1].write_text(markdown(doc))
    if plot:
        png = plot_png(doc, Path(f"{base}.png"))
        if png:
            paths.append(png)
    return paths


def plot_png(doc: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot: matplotlib is not installed (pip install matplotlib); no PNG written")
        return None
    rows = [r for r in doc["summary"] if r["train_words_per_second"]]
    panels = sorted({(r["model"], r["dim"]) for r in rows})
    if not panels:
        return None
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (model, dim) in zip(axes[0], panels):
        threads = sorted({r["threads"] for r in rows if (r["model"], r["dim"]) == (model, dim)})
        width = 0.8 / len(tools)
        for i, tool in enumerate(tools):
            values = [next((r["train_words_per_second"] / 1e6 for r in rows if
                            (r["model"], r["dim"], r["threads"], r["tool"]) ==
                            (model, dim, t, tool)), 0) for t in threads]
            ax.bar([x + i * width for x in range(len(threads))], values, width, label=tool)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(threads))])
        ax.set_xticklabels([f"{t} thr" for t in threads])
        ax.set_title(f"{model}, dim {dim}")
        ax.set_ylabel("training words/s (millions)")
    axes[0][0].legend()
    fig.suptitle(f"{doc['name']}: {doc['corpus']['words']:,} words x {doc['params']['epochs']} epochs")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
