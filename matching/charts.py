"""Explainability charts as self-contained HTML pages that render with no network.

Splink's charts are Vega-Lite specifications; by default their HTML loads the Vega libraries
from a CDN, which a steward's locked-down laptop (or an air-gapped warehouse) cannot reach.
Each page here carries the Vega, Vega-Lite and Vega-Embed builds that Splink ships, inline, and
the chart's data inline; the specification's ``$schema`` URL is dropped and the embed actions
(export, "open in editor", which would leave the page) are turned off.
"""

from __future__ import annotations

import html
import json
import logging
import random
from typing import Any

from splink import Linker
from splink.internals.html_utils import load_chart_libraries

logger = logging.getLogger(__name__)

CHART_TITLES = {
    "match_weights": "Match weights of every comparison level",
    "m_u_parameters": "m and u probabilities of every comparison level",
    "waterfall": "How the score of sampled review pairs adds up",
}


def render_charts(linker: Linker, waterfall_records: list[dict[str, Any]]) -> dict[str, str]:
    """``{name: html}`` for the match-weights chart, the m/u parameters chart and, when there
    are records to explain, a waterfall chart of them (one slider step per pair)."""
    charts = {
        "match_weights": linker.visualisations.match_weights_chart(),
        "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
    }
    if waterfall_records:
        charts["waterfall"] = _waterfall_chart(linker, waterfall_records)
    return {
        name: standalone_html(chart.chart_dict, CHART_TITLES[name])
        for name, chart in charts.items()
    }


def _waterfall_chart(linker: Linker, records: list[dict[str, Any]]) -> Any:
    # Splink's public waterfall_chart() insists the model retains the compared values on every
    # scored pair; the records given here carry them (joined back for just these pairs), so
    # the chart is built from Splink's own waterfall data and chart definition directly.
    from splink.internals.charts import WaterfallChart
    from splink.internals.waterfall_chart import records_to_waterfall_data

    data = records_to_waterfall_data(records, linker._settings_obj, False)
    return WaterfallChart(data, True)


def sample_pairs(keys: list[tuple[str, str]], size: int, seed: int) -> list[tuple[str, str]]:
    """A seeded sample of pairs, so reruns explain the same pairs."""
    if len(keys) <= size:
        return list(keys)
    return random.Random(seed).sample(sorted(keys), size)


def standalone_html(spec: dict[str, Any], title: str) -> str:
    """A complete HTML page showing one Vega-Lite ``spec``, with every script inline."""
    spec = dict(spec)
    spec.pop("$schema", None)
    libraries = load_chart_libraries()
    scripts = "\n".join(
        f"<script>{_inline_script(libraries[name])}</script>"
        for name in ("vega", "vega-lite", "vega-embed")
    )
    embed_options = {"mode": "vega-lite", "actions": False, "renderer": "svg"}
    payload = _json_for_script(spec)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>body {{ font-family: sans-serif; margin: 1.5em; }}</style>
{scripts}
</head>
<body>
<h1>{html.escape(title)}</h1>
<div id="chart"></div>
<script>
vegaEmbed("#chart", {payload}, {json.dumps(embed_options)}).catch(function (err) {{
  var out = document.getElementById("chart");
  out.textContent = "Chart error: " + (err.message || err);
}});
</script>
</body>
</html>
"""


def _inline_script(source: str) -> str:
    # A literal "</script" inside a script element would end it early.
    return source.replace("</script", "<\\/script")


def _json_for_script(value: Any) -> str:
    return (
        json.dumps(value, default=str)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
