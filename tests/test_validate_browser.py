"""The Data Docs site works in a real browser with no network: headless Chromium, DOM after
scripts ran. Offline, GX's stock pages show an empty index table; these must show every run."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.validate import build_data_docs, validate_source, validate_staged
from pipelines.validate.synthetic import staged_frame
from pipelines.warehouse import Warehouse

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
RUNS = ("20260301T090000Z-aaaaaa", "20260302T090000Z-bbbbbb")


def chromium_dom(chromium: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its scripts ran, with every network path closed."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing can be fetched
        "--proxy-server=127.0.0.1:9",
        "--virtual-time-budget=15000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("browser")
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(REPO / "expectations")},
        "sources": [
            {"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
             "mapping": {"first_name": "first", "email": "mail"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    config = load_config(tmp_path / "config.yaml")
    for run_id in RUNS:
        _validate(config, run_id)
        index = build_data_docs(config, run_id)
    return index.parent


def _validate(config: PipelineConfig, run_id: str) -> None:
    warehouse = Warehouse(config.warehouse.path)
    current = warehouse.current_records(run_id, "crm")
    current.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "record_key": ["crm:1", "crm:2", "crm:2"],
            "source_system": "crm",
            "source_record_id": ["1", "2", "2"],
            "batch_id": run_id,
            "ingested_at": datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC),
            "source_updated_at": datetime(2026, 2, 1, tzinfo=UTC),
            "id": ["1", "2", "2"],
            "first": ["Ada", "Alan", "Alan"],
            "mail": ["ada@example.org", "alan(at)example", "alan@example.org"],
        }
    ).write_parquet(current)
    validate_source(config, run_id, "crm")
    warehouse.staged(run_id).parent.mkdir(parents=True, exist_ok=True)
    staged_frame(300, seed=2).write_parquet(warehouse.staged(run_id))
    validate_staged(config, run_id)


def test_index_lists_every_validation_with_links_to_its_page(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    dom = chromium_dom(chromium, site / "index.html", tmp_path / "profile")

    links = re.findall(r'<tr class="clickable-row" data-href="(validations/[^"]+\.html)"', dom)
    assert len(links) == 4  # two suites, two runs
    for run_id in RUNS:
        assert sum(f"/{run_id}/" in link for link in links) == 2
    assert all((site / link).is_file() for link in links)
    assert 'class="bootstrap-table bootstrap4"' in dom  # bootstrap-table ran, offline


def test_a_validation_page_shows_its_expectations(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    page = next((site / "validations" / "crm").rglob("*.html"))

    dom = chromium_dom(chromium, page, tmp_path / "profile")

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "Another record in this batch has the same source id" in text
    assert "The email address is not shaped like name@domain.tld" in text
    assert "alan(at)example" in text
    assert dom.count('class="bootstrap-table bootstrap4"') >= 5  # result tables rendered by JS
    assert "fa-check-circle" in dom or "fa-times" in dom  # Font Awesome status icons present


def test_control_gx_stock_pages_show_an_empty_index_offline(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    """The same results rendered by GX without the offline step: what the test above guards."""
    from pipelines.validate.gx_context import gx_context

    stock = tmp_path / "stock"
    store = Warehouse(site.parents[1]).gx_validations
    gx_context(validation_results_dir=store, data_docs_dir=stock).build_data_docs()

    dom = chromium_dom(chromium, stock / "index.html", tmp_path / "profile")

    assert re.findall(r'<tr class="clickable-row"', dom) == []
    assert "https://" in (stock / "index.html").read_text()
