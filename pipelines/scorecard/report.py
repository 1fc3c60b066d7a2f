"""The scorecard report: each source's score over runs, offline, in one self-contained file.

``reports/dq_scorecard/index.html`` holds inline SVG charts and tables only: no script, no
external asset, no font download, so it opens from disk, from an archive or in a locked-down
browser. Every value from the data (source names, run ids) is HTML-escaped. Publish writes it
after each version goes live (from that version's ``dq_scorecard``); the run summary links it.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import polars as pl

from pipelines.i18n import DEFAULT_LANGUAGE, Language, Translator
from pipelines.scorecard.schema import OVERALL, WEIGHTS
from pipelines.warehouse import atomic_path

logger = logging.getLogger(__name__)

REPORT_DIR = ("reports", "dq_scorecard")
_W, _H, _PAD = 640, 220, 40
_COLOURS = ("#1b6ca8", "#d1495b", "#2e8540", "#8e5ea2", "#e39b25", "#3c3c3c", "#0a9396")


def report_path(warehouse_root: Path) -> Path:
    return warehouse_root.joinpath(*REPORT_DIR, "index.html")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _chart(runs: list[str], series: dict[str, list[float | None]], t: Translator) -> str:
    """An SVG line chart of score (0-100) per run, one line per source."""
    inner_w, inner_h = _W - 2 * _PAD, _H - 2 * _PAD

    def x(i: int) -> float:
        return _PAD + (inner_w * i / max(len(runs) - 1, 1))

    def y(score: float) -> float:
        return _PAD + inner_h * (1 - score / 100)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{_e(t("scorecard.chart_label"))}">',
        f'<rect x="{_PAD}" y="{_PAD}" width="{inner_w}" height="{inner_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
    ]
    for tick in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#e5e5e5"/>'
            f'<text x="{_PAD - 6}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{tick}</text>"
        )
    for i, run in enumerate(runs):
        parts.append(
            f'<text x="{x(i):.1f}" y="{_H - _PAD + 14}" font-size="9" text-anchor="middle">'
            f"{_e(run[:15])}</text>"
        )
    for n, (source, scores) in enumerate(series.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        points = [(x(i), y(s)) for i, s in enumerate(scores) if s is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
        parts.append(
            f'<text x="{_PAD + 4 + 110 * n}" y="{_PAD - 10}" font-size="11" fill="{colour}">'
            f"■ {_e(source)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render(scorecard: pl.DataFrame, language: Language = DEFAULT_LANGUAGE) -> str:
    """The report's HTML for every run's rows of ``dq_scorecard``, its words in ``language``
    (measure and column names stay as the published table spells them)."""
    t = Translator(language)
    overall = scorecard.filter(pl.col("field") == OVERALL)
    runs = sorted(set(overall["run_id"].to_list()))
    sources = sorted(set(overall["source_system"].to_list()))
    series: dict[str, list[float | None]] = {}
    for source in sources:
        rows = overall.filter(pl.col("source_system") == source)
        by_run = dict(zip(rows["run_id"].to_list(), rows["score"].to_list(), strict=True))
        series[source] = [by_run.get(r) for r in runs]
    latest = runs[-1] if runs else None
    formula = " + ".join(f"{w:.2f}·{m}" for m, w in WEIGHTS.items())
    body = [
        f"<h1>{_e(t('scorecard.title'))}</h1>",
        f"<p>{_e(t('scorecard.intro', formula=formula))} <code>dq_scorecard</code></p>",
    ]
    if not runs:
        body.append(f"<p>{_e(t('scorecard.no_runs'))}</p>")
    else:
        body.append(f'<figure id="trend">{_chart(runs, series, t)}</figure>')
        body.append(f"<h2>{_e(t('scorecard.latest', run=latest))}</h2>")
        measures = ("completeness", "validity", "uniqueness", "agreement", "freshness", "score")
        head = "".join(
            f"<th>{_e(t.term('scorecard.col', m))}</th>"
            for m in ("source", "field", "records", *measures)
        )
        rows_html = []
        last = scorecard.filter(pl.col("run_id") == latest).sort("source_system", "field")
        for row in last.iter_rows(named=True):
            cells = [row["source_system"], row["field"], row["records"]]
            cells += [
                "" if row[m] is None else (f"{row[m]:.1f}" if m == "score" else f"{row[m]:.3f}")
                for m in measures
            ]
            css = ' class="overall"' if row["field"] == OVERALL else ""
            rows_html.append(f"<tr{css}>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
        body.append(
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows_html)}</tbody></table>"
        )
    style = (
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "td:first-child,td:nth-child(2){text-align:left}tr.overall{font-weight:bold}"
    )
    return (
        f'<!DOCTYPE html><html lang="{t.html_lang}"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(t('scorecard.title'))}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def write_report(
    warehouse_root: Path, scorecard: pl.DataFrame, language: Language = DEFAULT_LANGUAGE
) -> Path:
    """Write ``reports/dq_scorecard/index.html`` atomically; returns its path."""
    path = report_path(warehouse_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(render(scorecard, language), encoding="utf-8")
    return path
