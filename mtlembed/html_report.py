"""`mtlembed report`: a run's report JSON as one self-contained HTML page.

The page needs no network: CSS and charts (SVG) are inline, tooltips are SVG
``<title>`` elements, and nothing is loaded from anywhere, so it opens offline
and can be mailed or attached to an issue as one file.

It draws what the JSON holds and stays readable when fields are missing or new:

- ``history`` lists draw curves. A history is a list of numbers (one per step)
  or of objects with an x key (``words``, ``epoch``, ``step``, ``seconds``) and
  numeric values, e.g. ``tasks[i]["history"] = [{"words": 1e6, "loss": 0.5}, ...]``
  (one loss curve per task) or ``eval_history = [{"epoch": 1, "analogy": 0.41}]``
  (one small chart per metric).
- ``evaluation`` (an object, possibly nested) becomes a table of its numbers.
- Any other key is listed under "Everything else", so a field the page does not
  know yet is still visible.

With --map it also places words of two languages on a plane, each linked to its
translation (word_map): the vectors are read then, not stored in the JSON.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from .errors import ConfigError, FormatError
from .io import atomic_write, read_text
from .progress import human_count

X_KEYS = ("words", "epoch", "step", "seconds", "chunk")  # what a history's points may be indexed by
COLOURS = ("#3366cc", "#dc3912", "#109618", "#ff9900", "#990099", "#0099c6", "#dd4477", "#66aa00")
SHOWN = {"corpus_words", "train_words", "vocab_size", "vocab_seconds", "train_seconds", "eval_seconds",
         "export_seconds", "total_seconds", "words_per_second", "final_loss", "simd", "device", "threads",
         "config", "tasks", "version", "inputs", "outputs", "evaluation", "eval_history", "init"}
SPEED = "words_per_second"  # an eval_history point's training speed over its epoch: the speed chart's

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#222}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.sub{color:#666}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:14px 0;box-shadow:0 1px 3px #0002}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 110px;background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
.card b{display:block;font-size:24px}.card span{color:#666;font-size:13px}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;text-align:left;border-bottom:1px solid #eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:12px;height:12px;
margin-right:4px;border-radius:2px;vertical-align:-1px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:0 20px}
.small{font-size:13px;color:#666}code{font-size:13px;word-break:break-all}
svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#555}
"""


# ----------------------------------------------------------------------------- the verb


def add_parser(verbs) -> argparse.ArgumentParser:
    """Adds `mtlembed report` to the CLI's sub-parsers."""
    parser = verbs.add_parser("report", help="a training report as one HTML page",
                              description="Turn the JSON that `mtlembed train --report` writes into one "
                                          "self-contained HTML page (no network needed to view it).")
    parser.add_argument("report", metavar="REPORT_JSON", help="the report of a run (train --report run.json)")
    parser.add_argument("-o", "--output", metavar="HTML", help="the page to write (default: REPORT.html)")
    parser.add_argument("--map", action="store_true",
                        help="add a 2-D map of words of two languages, each linked to its translation")
    parser.add_argument("--vectors", metavar="VECTORS",
                        help="the map's model (default: the run's output vectors): a joint file or a "
                             "per-language PREFIX")
    parser.add_argument("--dictionary", metavar="FILE",
                        help="the map's pairs: 'source target' lines (default: each word's nearest word in "
                             "the other language)")
    parser.add_argument("--languages", nargs=2, metavar=("SRC", "TGT"),
                        help="the map's languages (default: the model's first two)")
    parser.set_defaults(func=cmd_report)
    return parser


def cmd_report(args: argparse.Namespace) -> int:
    output = args.output or str(Path(args.report).with_suffix(".html"))
    if Path(output).resolve() == Path(args.report).resolve():
        raise ConfigError(f"{output} is the report itself: give another -o")
    report = load_report(args.report)
    pairs = None
    if args.map or args.vectors or args.dictionary or args.languages:  # each of these asks for the map
        from .dictionary import read_dictionary

        model = _map_vectors(args.vectors or report.get("outputs"), args.report)
        pairs = word_map(model, *(args.languages or model.languages[:2]),
                         pairs=read_dictionary(args.dictionary) if args.dictionary else None)
    write_html(report, output, title=Path(args.report).name, word_pairs=pairs)
    print(f"mtlembed: wrote {output}")
    return 0


def load_report(path: str | os.PathLike) -> dict:
    """The report JSON of a run, as written by `mtlembed train --report`."""
    try:
        report = json.loads(read_text(path, "report"))
    except json.JSONDecodeError as error:
        raise FormatError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(report, dict):
        raise FormatError(f"{path}: expected a JSON object (the report of `mtlembed train --report`)")
    return report


def write_html(report: Mapping, path: str | os.PathLike, title: str = "",
               word_pairs: dict | None = None) -> None:
    """Writes the page for `report` to `path` (which must end in .html), atomically."""
    if not os.fspath(path).endswith(".html"):
        raise ConfigError(f"{os.fspath(path)}: the report page's name must end with .html")
    page = render(report, title, word_pairs)
    with atomic_write(path, "w") as handle:
        handle.write(page)


# ----------------------------------------------------------------------------- the page


def render(report: Mapping, title: str = "", word_pairs: dict | None = None) -> str:
    """The whole page, as a string (with a map of `word_pairs`, from word_map, when given)."""
    config = _mapping(report, "config")
    heading = ", ".join(str(v) for v in (config.get("model"), config.get("dim") and f"dim {config['dim']}",
                                         config.get("epochs") and _plural(config["epochs"], "epoch")) if v)
    labels = {"version": "mtlembed", "device": "device", "simd": "SIMD", "threads": "threads"}
    subtitle = " · ".join(f"{label} {_text(report[key])}" for key, label in labels.items()
                          if report.get(key) not in (None, ""))
    body = [f"<h1>mtlembed run{': ' + _esc(heading) if heading else ''}</h1>",
            f'<div class="sub">{_esc(title)}{" · " if title and subtitle else ""}{_esc(subtitle)}</div>',
            _figures(report), _timings(report), _tasks(report), _evaluation(report),
            _word_map(word_pairs) if word_pairs else "", _settings(report),
            _everything_else(report)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>mtlembed report{' - ' + _esc(title) if title else ''}</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n" + "\n".join(p for p in body if p)
            + "\n</main>\n</body>\n</html>\n")


def _figures(report: Mapping) -> str:
    cards = [("words_per_second", "words/s", _human), ("train_words", "words trained", _human),
             ("corpus_words", "corpus words", _human), ("vocab_size", "vocabulary", _grouped),
             ("total_seconds", "seconds in all", lambda v: f"{v:.1f}"), ("final_loss", "final loss", _loss)]
    shown = [f'<div class="card"><b>{_esc(fmt(report[key]))}</b><span>{label}</span></div>'
             for key, label, fmt in cards if _is_number(report.get(key))]
    return f'<div class="cards">{"".join(shown)}</div>' if shown else ""


def _timings(report: Mapping) -> str:
    phases = [(name, report.get(f"{name}_seconds")) for name in ("vocab", "train", "eval", "export")]
    phases = [(name, float(v)) for name, v in phases if _is_number(v)]
    total = report.get("total_seconds")
    if _is_number(total) and total > sum(v for _, v in phases):
        phases.append(("other", float(total) - sum(v for _, v in phases)))
    if not phases or sum(v for _, v in phases) <= 0:
        return ""
    return _section("Where the time went", _stacked_bar(phases, unit="s"))


def _tasks(report: Mapping) -> str:
    tasks = [t for t in report.get("tasks") or [] if isinstance(t, Mapping)]
    if not tasks:
        return ""
    inputs = _mapping(report, "inputs")
    specs = {t.get("name"): t for kind in ("tasks", "parallel") for t in inputs.get(kind) or []
             if isinstance(t, Mapping)}
    rows = []
    for task in tasks:
        spec = specs.get(task.get("name"), {})
        language = spec.get("lang") or _value(spec.get("langs", ""))  # a parallel task has two
        rows.append([task.get("name", "?"), language, _grouped(task.get("words")),
                     _fixed(task.get("passes"), 2), _loss(task.get("loss"))])
    parts = [_table(["task", "language", "words trained", "passes", "mean loss"], rows, numeric={2, 3, 4})]
    losses = [(str(t.get("name")), float(t["loss"])) for t in tasks if _is_number(t.get("loss"))]
    if len(losses) > 1:
        parts.append("<h3>Mean loss per task</h3>" + _bars(losses, _loss))
    curves = {str(t.get("name")): t["history"] for t in tasks if isinstance(t.get("history"), list)}
    if curves:
        x_key, series = _series_of(curves, "loss")
        if series:
            parts.append("<h3>Loss</h3>" + _line_chart(series, x_key, "loss"))
    return _section("Tasks", "\n".join(parts))


def _evaluation(report: Mapping) -> str:
    parts = []
    history = report.get("eval_history")
    if isinstance(history, list) and history:
        x_key, metrics = _metrics_of(history)
        speed = metrics.pop(SPEED, None)
        charts = [f"<div><h3>{_esc(name)}</h3>{_line_chart({name: points}, x_key, name, 440, 220)}</div>"
                  for name, points in metrics.items()]
        if charts:
            parts.append(f'<div class="grid">{"".join(charts)}</div>')
        if speed:
            chart = _line_chart({"words/s": speed}, x_key, "words/s", 900, 200)
            parts.append(f"<h3>Training speed (words/s per epoch)</h3>{chart}")
    results = report.get("evaluation")
    if isinstance(results, Mapping) and results:
        bands = {key[:-len(".p@1_by_band")]: value for key, value in _flatten(results)
                 if key.endswith("p@1_by_band") and isinstance(value, list)}
        for name, entries in bands.items():
            items = [(f"{b['band']} ({b.get('queries', '?')})", float(b["p@1"])) for b in entries
                     if isinstance(b, Mapping) and "band" in b and _is_number(b.get("p@1"))]
            if items:
                parts.append(f"<h3>{_esc(name)}: BLI P@1 by source-word frequency rank (queries)</h3>"
                             + _bars(items, lambda v: f"{100 * v:.1f}%"))
        rows = [[key, _value(value)] for key, value in _flatten(results) if not isinstance(value, list)]
        parts.append(_table(["result", "value"], rows, numeric={1}))
    return _section("Evaluation", "\n".join(parts)) if parts else ""


def _settings(report: Mapping) -> str:
    parts = []
    config = _mapping(report, "config")
    if config:
        half = -(-len(config) // 2)
        items = [[k, _value(v)] for k, v in config.items()]
        parts.append('<div class="grid">' + _table(["setting", "value"], items[:half])
                     + _table(["setting", "value"], items[half:]) + "</div>")
    for kind, entries in _mapping(report, "inputs").items():
        if isinstance(entries, list) and entries:
            parts.append(f"<h3>{_esc(kind)}</h3>" + _records(entries))
    init = _mapping(report, "init")
    if _is_number(init.get("rows")):
        parts.append(f"<h3>init</h3><div>{_grouped(init['rows'])} of {_grouped(init.get('of'))} rows from "
                     f"<code>{_esc(init.get('path', '?'))}</code></div>")
    outputs = report.get("outputs")
    if isinstance(outputs, list) and outputs:
        parts.append("<h3>outputs</h3>" + "".join(f"<div><code>{_esc(p)}</code></div>" for p in outputs))
    return _section("Settings", "\n".join(parts)) if parts else ""


def _everything_else(report: Mapping) -> str:
    rest = {k: v for k, v in report.items() if k not in SHOWN}
    if not rest:
        return ""
    rows = [[key, _value(value)] for key, value in _flatten(rest)]
    return _section("Everything else", _table(["field", "value"], rows)) if rows else ""  # ranks: {}


# ----------------------------------------------------------------------------- the map of words


def word_map(model, source: str, target: str, pairs=None, count: int = 40) -> dict:
    """Two languages' words on a plane, for the page: `count` source words spread over the 2,000 most
    frequent, each with its translation (from `pairs`, else its nearest `target` word by cosine),
    projected together onto their two principal components.

    Returns ``{"source", "target", "gold", "pairs": [[word, translation], ...], "points": [[x, y], ...]}``
    with the source words' points first, then their translations'."""
    if source == target or not {source, target} <= set(model.languages):
        raise ConfigError(f"--map shows two of the model's languages ({', '.join(model.languages)}): "
                          f"got {source} and {target}")
    src, tgt = model.by_language(source), model.by_language(target)
    if pairs:
        first = {}
        for word, translation in pairs:
            if word in src and translation in tgt:
                first.setdefault(word, translation)
        ranked = sorted(first, key=src.index.get)
    else:
        ranked = src.words[:2000]
    chosen = ranked[::max(len(ranked) // count, 1)][:count]
    if len(chosen) < 2:
        raise ConfigError(f"--map: fewer than 2 {source} words with a {target} translation in the model")
    translations = [first[w] for w in chosen] if pairs else [tgt.most_similar(src.get_vector(w), topn=1)[0][0]
                                                            for w in chosen]
    unit = np.vstack([src.get_vector(w, norm=True) for w in chosen] +
                     [tgt.get_vector(w, norm=True) for w in translations])
    centred = unit - unit.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
    return {"source": source, "target": target, "gold": bool(pairs),
            "pairs": [[word, translation] for word, translation in zip(chosen, translations)],
            "points": (centred @ axes.T).tolist()}


def run_map(model, config) -> dict | None:
    """The map of a joint run's page (`train --report run.html`): its first two languages, linked by
    the first BLI dev dictionary of that pair (eval_bli) or else by nearest neighbours; None for one
    language."""
    from .dev_eval import DevSets
    from .dictionary import read_dictionary

    languages = model.languages
    if len(languages) < 2:
        return None
    gold = [dev.path for dev in DevSets(config, languages).sets
            if dev.kind == "bli" and dev.languages == tuple(languages[:2])]
    return word_map(model, *languages[:2], pairs=read_dictionary(gold[0]) if gold else None)


def _map_vectors(where, report_path) -> object:
    """The model of --map: VECTORS, or the run's outputs (one file, or per-language files)."""
    from .query import open_vectors, per_language_prefix

    if not where:
        raise ConfigError(f"--map: {report_path} lists no output vectors; give them: --vectors VECTORS")
    if isinstance(where, list):
        prefixes = {per_language_prefix(path) for path in where}
        where = prefixes.pop() if len(where) > 1 and len(prefixes) == 1 and None not in prefixes else where[0]
    model = open_vectors(where)
    if len(model.languages) < 2:
        raise ConfigError(f"--map: {where} holds one language; the map shows two")
    return model


def _word_map(data: dict, width: int = 900, height: int = 560) -> str:
    """Source words (one colour) and their translations (another), each pair linked by a line."""
    source, target, pairs, points = data["source"], data["target"], data["pairs"], data["points"]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    pad, scale_x, scale_y = 40, (max(xs) - min(xs)) or 1, (max(ys) - min(ys)) or 1

    def at(point) -> tuple[float, float]:
        return (pad + (point[0] - min(xs)) / scale_x * (width - 2 * pad),
                pad + (point[1] - min(ys)) / scale_y * (height - 2 * pad))

    colours = dict(zip((source, target), COLOURS))
    ends = [(at(points[i]), at(points[len(pairs) + i])) for i in range(len(pairs))]
    svg = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    svg.extend(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#bbb" '
               'stroke-dasharray="3 2"/>' for (x1, y1), (x2, y2) in ends)
    for (word, translation), (start, end) in zip(pairs, ends):
        # the source word labelled on the right of its dot, its translation on the left: apart
        for language, label, other, (x, y), side, anchor in ((source, word, translation, start, 1, "start"),
                                                              (target, translation, word, end, -1, "end")):
            svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colours[language]}"><title>'
                       f"{_esc(language)}:{_esc(label)} ↔ {_esc(other)}</title></circle>"
                       f'<text x="{x + side * 5:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}" '
                       f'style="fill:{colours[language]}">{_esc(label)}</text>')
    svg.append("</svg>")
    how = ("pairs from the dictionary" if data["gold"] else
           f"each {source} word linked to its nearest {target} word")
    return _section(f"Words of {source} and {target} on one plane",
                    _legend(colours.items()) + "".join(svg) + f'<div class="small">{len(pairs)} '
                    f"{_esc(source)} words, {_esc(how)}; the two principal components of their unit "
                    "vectors.</div>")


# ----------------------------------------------------------------------------- histories


def _x_key(points: Iterable) -> str:
    """The key that indexes a history's points: the first of X_KEYS they all have ('step' for numbers)."""
    dicts = [p for p in points if isinstance(p, Mapping)]
    for key in X_KEYS:
        if dicts and all(_is_number(p.get(key)) for p in dicts):
            return key
    return "step"


def _points(history: list, y_key: str, x_key: str) -> list[tuple[float, float]]:
    """(x, y) of a history: numbers are y at steps 1, 2, ...; objects give x_key and y_key."""
    points = []
    for step, point in enumerate(history, start=1):
        if _is_number(point):
            points.append((float(step), float(point)))
        elif isinstance(point, Mapping) and _is_number(point.get(y_key)):
            x = point.get(x_key, step)
            points.append((float(x if _is_number(x) else step), float(point[y_key])))
    return points


def _series_of(histories: Mapping[str, list], y_key: str) -> tuple[str, dict]:
    """One x key for several histories, and their (x, y) points (empty ones dropped)."""
    x_key = _x_key(p for history in histories.values() for p in history)
    series = {name: _points(history, y_key, x_key) for name, history in histories.items()}
    return x_key, {name: points for name, points in series.items() if points}


def _metrics_of(history: list) -> tuple[str, dict]:
    """Each numeric field of an evaluation history (nested objects flattened) as its own series."""
    flat = [dict(_flatten(p)) if isinstance(p, Mapping) else p for p in history]
    x_key = _x_key(flat)
    names = dict.fromkeys(k for p in flat if isinstance(p, Mapping) for k, v in p.items()
                          if k not in X_KEYS and _is_number(v))
    return x_key, {name: _points(flat, name, x_key) for name in names}


# ----------------------------------------------------------------------------- charts (inline SVG)


def _line_chart(series: Mapping[str, list], x_label: str, y_label: str, width: int = 900,
                height: int = 280) -> str:
    """Lines through (x, y) points, one per series, with axes, ticks and a legend."""
    left, right, top, bottom = 58, 14, 10, 38
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_ticks, y_ticks = _ticks(min(xs), max(xs)), _ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * (width - left - right)

    def py(y: float) -> float:
        return height - bottom - (y - y0) / ((y1 - y0) or 1) * (height - top - bottom)

    svg = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
           f"<title>{_esc(y_label)} by {_esc(x_label)}</title>"]
    for y in y_ticks:
        svg.append(f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{_tick(y)}</text>')
    for x in x_ticks:
        svg.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{_tick(x)}</text>')
    svg.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 4}" text-anchor="middle">'
               f"{_esc(x_label)}</text>")
    svg.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" stroke="#999"/>'
               f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" '
               'stroke="#999"/>')
    for (name, points), colour in zip(series.items(), _colours()):
        line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        svg.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points if len(points) <= 80 else ():  # a dot with its values as a tooltip
            tip = _esc(f"{name}: {y_label} {_value(y)} at {x_label} {_value(x)}")
            svg.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"><title>{tip}</title>'
                       "</circle>")
    svg.append("</svg>")
    return "".join(svg) + (_legend(zip(series, _colours())) if len(series) > 1 else "")


def _bars(items: list[tuple[str, float]], fmt, width: int = 900) -> str:
    """Horizontal bars, one per (label, value >= 0)."""
    label_width, row, top = 150, 22, max(v for _, v in items) or 1
    height = row * len(items) + 4
    svg = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, ((label, value), colour) in enumerate(zip(items, _colours())):
        length = max(value, 0) / top * (width - label_width - 70)
        svg.append(f'<text x="{label_width - 6}" y="{i * row + 15}" text-anchor="end">{_esc(label)}</text>'
                   f'<rect x="{label_width}" y="{i * row + 3}" width="{length:.1f}" height="{row - 6}" '
                   f'fill="{colour}"><title>{_esc(label)}: {_esc(fmt(value))}</title></rect>'
                   f'<text x="{label_width + length + 6:.1f}" y="{i * row + 15}">{_esc(fmt(value))}</text>')
    return "".join(svg) + "</svg>"


def _stacked_bar(parts: list[tuple[str, float]], unit: str, width: int = 900) -> str:
    """One bar split into parts, with a legend giving each part's value and share."""
    total = sum(v for _, v in parts)
    svg, x = [f'<svg width="{width}" height="28" viewBox="0 0 {width} 28" role="img">'], 0.0
    for (name, value), colour in zip(parts, _colours()):
        length = value / total * width
        svg.append(f'<rect x="{x:.1f}" y="2" width="{length:.1f}" height="24" fill="{colour}">'
                   f"<title>{_esc(name)}: {value:.2f} {unit} ({100 * value / total:.0f}%)</title></rect>")
        x += length
    svg.append("</svg>")
    return "".join(svg) + _legend((f"{name} {value:.2f} {unit} ({100 * value / total:.0f}%)", colour)
                                  for (name, value), colour in zip(parts, _colours()))


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low < 1e-12 * max(abs(low), abs(high), 1e-300):
        low, high = (low - 1, high + 1) if low == 0 else (low - abs(low) * 0.1, high + abs(high) * 0.1)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = [start]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(start + len(ticks) * step)
    return ticks


def _legend(entries: Iterable[tuple[str, str]]) -> str:
    """Coloured swatches with their (label, colour)s."""
    spans = "".join(f'<span><i style="background:{colour}"></i>{_esc(label)}</span>'
                    for label, colour in entries)
    return f'<div class="legend">{spans}</div>'


def _colours():
    while True:
        yield from COLOURS


# ----------------------------------------------------------------------------- tables and text


def _mapping(report: Mapping, key: str) -> Mapping:
    """report[key] when it is an object, else an empty one (a field of another shape is not drawn)."""
    value = report.get(key)
    return value if isinstance(value, Mapping) else {}


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>\n{content}\n</section>"


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    def cells(values, tag):
        return "".join(f'<{tag}{" class=n" if i in numeric else ""}>{_esc(_text(v))}</{tag}>'
                       for i, v in enumerate(values))

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>"


def _records(entries: list) -> str:
    """A list of objects (the tasks, parallel texts or dictionaries of the inputs) as a table."""
    records = [e for e in entries if isinstance(e, Mapping)]
    columns = list(dict.fromkeys(k for e in records for k in e))
    rows = [[_value(e.get(c, "")) for c in columns] for e in records]
    return _table(columns, rows)


def _flatten(value, prefix: str = ""):
    """(dotted key, leaf value) of nested objects; lists of numbers stay whole."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _value(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value)
    return str(value)


def _text(value) -> str:
    return value if isinstance(value, str) else _value(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _human(value) -> str:
    """1267265 -> '1.27M'."""
    return human_count(value, ".3g", ".3g") if _is_number(value) else "-"


def _grouped(value) -> str:
    return f"{int(value):,}" if _is_number(value) else "-"


def _fixed(value, digits: int) -> str:
    return f"{value:.{digits}f}" if _is_number(value) else "-"


def _loss(value) -> str:
    return _fixed(value, 4)


def _plural(count, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _tick(value: float) -> str:
    return _human(value) if abs(value) >= 1000 else f"{value:.6g}"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)
