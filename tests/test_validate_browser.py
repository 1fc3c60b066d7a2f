"""The Data Docs site works in a real browser with no network: headless Chromium, DOM as
rendered (the pages need no script and forbid all)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import chromium_dom

from pipelines.config import PipelineConfig, load_config
from pipelines.validate import build_data_docs, validate_source, validate_staged
from pipelines.validate.synthetic import staged_frame
from pipelines.warehouse import Warehouse

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
RUNS = ("20260301T090000Z-aaaaaa", "20260302T090000Z-bbbbbb")


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
    dom = chromium_dom(chromium, site / "index.html", tmp_path / "profile", 3000)

    links = re.findall(r'<a href="(validations/[^"]+\.html)"', dom)
    assert len(links) == 4  # two suites, two runs
    for run_id in RUNS:
        assert sum(f"/{run_id}/" in link for link in links) == 2
    assert all((site / link).is_file() for link in links)
    assert RUNS[1] in dom.split(RUNS[0])[0]  # newest run first


def test_a_validation_page_shows_its_expectations(
    chromium: str, site: Path, tmp_path: Path
) -> None:
    page = next((site / "validations" / "crm").rglob("*.html"))

    dom = chromium_dom(chromium, page, tmp_path / "profile", 3000)

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "same source id" in text
    assert "alan(at)example" in text
    assert "Failed" in text  # a critical rule (duplicate id) failed
    assert dom.count("<tr") >= 20
