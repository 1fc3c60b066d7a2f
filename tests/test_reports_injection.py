"""Source values are hostile: nothing a source sends runs in a steward's browser.

Every field a report renders (names, emails, phones, addresses, ids and so record keys, the
values and reasons of rows rejected at ingest, file names, the suite's own rule texts) carries
script payloads; each page of the Data Docs site and a match chart is opened in headless
Chromium, and a payload that ran
would have marked the document (``data-pwned`` on ``<html>``, a changed title).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import chromium_dom

from matching.charts import standalone_html
from pipelines.config import load_config
from pipelines.ingest.chunks import Reject
from pipelines.ingest.rejects import write_rejects
from pipelines.validate import build_data_docs, validate_source
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
RUN = "20260301T090000Z-aaaaaa"
MARK = "document.documentElement.setAttribute('data-pwned','1');document.title='PWNED'"
PAYLOADS = [
    f"<script>{MARK}</script>",
    f'<img src=x onerror="{MARK}">',
    f"</td></tr></table><script>{MARK}</script>",
    f"javascript:{MARK}",
    f'"><svg onload="{MARK}">',
    f'\'><iframe srcdoc="<script>parent.{MARK}</script>">',
]
EXECUTED = re.compile(r"<html[^>]*\bdata-pwned=|<title>PWNED</title>", re.IGNORECASE)


def assert_nothing_ran(dom: str, page: Path) -> None:
    assert dom.strip(), f"{page} rendered nothing"
    assert not EXECUTED.search(dom), f"a payload ran in {page}"
    assert not re.search(r"""\bhref\s*=\s*["']?\s*javascript:""", dom, re.IGNORECASE), page


def hostile(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("hostile")
    fields = ["first_name", "last_name", "email", "phone", "address_line1", "city", "postcode"]
    # The suite's own texts too: a suite file is reviewed, but it is still never markup.
    suites = tmp_path / "expectations"
    shutil.copytree(REPO / "expectations", suites)
    crm = json.loads((suites / "crm.json").read_text())
    for i, item in enumerate(crm["expectations"]):
        item["description"] = hostile(i) + " " + item["description"]
        item["meta"]["failure_reason"] = hostile(i + 3) + " " + item["meta"]["failure_reason"]
    (suites / "crm.json").write_text(json.dumps(crm))
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(suites)},
        "sources": [
            {"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
             "mapping": {f: f for f in fields} | {"date_of_birth": "dob"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    config = load_config(tmp_path / "config.yaml")
    warehouse = Warehouse(config.warehouse.path)
    rows = len(PAYLOADS) * 2
    ids = [hostile(i) + str(i) for i in range(rows)]
    frame = {
        "record_key": [f"crm:{i}" for i in ids],
        "source_system": "crm",
        "source_record_id": ids,
        "batch_id": RUN,
        "ingested_at": datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC),
        "source_updated_at": datetime(2026, 2, 1, tzinfo=UTC),
        "id": ids,
        "dob": [hostile(i + 1) for i in range(rows)],
    } | {f: [hostile(i + j) for i in range(rows)] for j, f in enumerate(fields)}
    current = warehouse.current_records(RUN, "crm")
    current.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(frame).write_parquet(current)
    rejects = [Reject(hostile(i) + ".csv", i + 2, "bad row " + hostile(i + 1), hostile(i + 2))
               for i in range(len(PAYLOADS))]  # fmt: skip
    write_rejects(warehouse.ingest_rejects(RUN, "crm"), "crm", RUN, rejects)
    validate_source(config, RUN, "crm")
    return build_data_docs(config, RUN).parent


def test_every_data_docs_page_shows_hostile_values_without_running_them(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    # Validation pages first: they are where source values land.
    pages = sorted(site.rglob("*.html"), key=lambda p: ("validations" not in p.parts, p))
    assert {p.parent.name for p in pages} >= {"data_docs", "expectations"}
    validation = next((site / "validations").rglob("*.html"))
    for page in pages:
        assert_nothing_ran(chromium_dom(chromium, page, tmp_path / "profile", 3000), page)

    shown = validation.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in shown and "onerror" in shown  # shown, as text
    assert "<script" not in shown.lower() and "<img" not in shown.lower()
    assert "script-src 'none'" in shown


def test_a_chart_shows_hostile_values_without_running_them(chromium: str, tmp_path: Path) -> None:
    values = [{"name": p, "weight": i} for i, p in enumerate(PAYLOADS)]
    spec = {
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "name", "type": "nominal"},
            "x": {"field": "weight", "type": "quantitative"},
        },
        "title": PAYLOADS[0],
    }
    page = tmp_path / "chart.html"
    page.write_text(standalone_html(spec, PAYLOADS[1]), encoding="utf-8")

    dom = chromium_dom(chromium, page, tmp_path / "profile", 5000)

    assert_nothing_ran(dom, page)
    assert "<svg" in dom  # the chart itself rendered


def test_control_the_check_sees_a_payload_that_runs(chromium: str, tmp_path: Path) -> None:
    """The detector above is real: an unescaped value does run and is caught."""
    page = tmp_path / "raw.html"
    page.write_text(f"<html><head><title>t</title></head><body>{PAYLOADS[1]}</body></html>")
    dom = chromium_dom(chromium, page, tmp_path / "profile", 3000)
    with pytest.raises(AssertionError, match="a payload ran"):
        assert_nothing_ran(dom, page)
