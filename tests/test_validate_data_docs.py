"""The Data Docs site: built every run, accumulating runs, self-contained and offline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import StageInputError
from pipelines.validate import build_data_docs, validate_source, validate_staged
from pipelines.validate.gx_context import gx_context
from pipelines.validate.report_pages import PAGE_MARK
from pipelines.validate.synthetic import staged_frame
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
FIRST = "20260301T090000Z-aaaaaa"
SECOND = "20260302T090000Z-bbbbbb"

# Anything a browser would fetch on its own: scripts, stylesheets, images, icons, frames, CSS.
REMOTE_FETCH = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*["']?https?://"""
    r"""|url\(\s*["']?https?://|@import\s+(?:url\()?\s*["']?https?://""",
    re.IGNORECASE,
)


def make_config(tmp_path: Path) -> PipelineConfig:
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(REPO / "expectations")},
        "sources": [
            {"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
             "mapping": {"first_name": "first", "last_name": "last", "email": "mail"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    return load_config(tmp_path / "config.yaml")


def validate_run(config: PipelineConfig, run_id: str, rows: int = 30) -> None:
    warehouse = Warehouse(config.warehouse.path)
    current = pl.DataFrame(
        {
            "record_key": [f"crm:{i}" for i in range(rows)],
            "source_system": "crm",
            "source_record_id": [str(i) for i in range(rows)],
            "batch_id": run_id,
            "ingested_at": datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC),
            "source_updated_at": datetime(2026, 2, 1, tzinfo=UTC),
            "id": [str(i) for i in range(rows)],
            "first": "Ada",
            "last": "Lovelace",
            "mail": ["ada@example.org" if i % 7 else "ada(at)example" for i in range(rows)],
        }
    )
    path = warehouse.current_records(run_id, "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    current.write_parquet(path)
    validate_source(config, run_id, "crm")
    staged = warehouse.staged(run_id)
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged_frame(200, seed=1).write_parquet(staged)
    validate_staged(config, run_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site built after two runs (module-scoped: building it is the slow part)."""
    tmp_path = tmp_path_factory.mktemp("docs")
    config = make_config(tmp_path)
    for run_id in (FIRST, SECOND):
        validate_run(config, run_id)
        index = build_data_docs(config, run_id)
    return index.parent


def test_data_docs_have_an_index_and_a_validation_page_per_suite_and_run(site: Path) -> None:
    assert (site / "index.html").is_file()
    pages = sorted(p.relative_to(site).as_posix() for p in (site / "validations").rglob("*.html"))
    assert len(pages) == 4
    for run_id in (FIRST, SECOND):
        assert sum(f"/{run_id}/" in p for p in pages) == 2
        assert any(p.startswith("validations/crm/") for p in pages)
        assert any(p.startswith("validations/canonical/") for p in pages)
    index = (site / "index.html").read_text()
    assert FIRST in index and SECOND in index  # the index lists every run's results
    assert {p.stem for p in (site / "expectations").glob("*.html")} >= {"crm", "canonical"}


def test_the_site_fetches_nothing_from_the_internet(site: Path) -> None:
    offenders = {}
    for path in sorted(site.rglob("*")):
        if path.suffix in (".html", ".css") and path.is_file():
            found = REMOTE_FETCH.findall(path.read_text(encoding="utf-8", errors="replace"))
            if found:
                offenders[str(path.relative_to(site))] = found[:3]
    assert offenders == {}
    assert "dataContextId" not in (site / "index.html").read_text()


def test_pages_load_no_script_and_forbid_scripts(site: Path) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), page
        assert "script-src 'none'" in text, page
        assert PAGE_MARK in text, page


def test_a_validation_page_shows_the_expectations_and_unexpected_values(site: Path) -> None:
    page = next((site / "validations" / "crm").rglob(f"{SECOND}/**/*.html")).read_text()
    assert "The email address is not shaped like name@domain.tld" in page
    assert "ada(at)example" in page


def test_rebuilding_a_run_replaces_its_pages(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    validate_run(config, FIRST)
    build_data_docs(config, FIRST)
    validate_run(config, FIRST, rows=10)

    site = build_data_docs(config, FIRST).parent

    pages = list((site / "validations").rglob("*.html"))
    assert len(pages) == 2
    crm = next(p for p in pages if "/crm/" in p.as_posix()).read_text()
    assert "of 10 rows fail" in crm and "of 30" not in crm


def test_data_docs_without_validation_results_name_the_missing_stage(tmp_path: Path) -> None:
    with pytest.raises(StageInputError, match="run the 'validate' stages"):
        build_data_docs(make_config(tmp_path), FIRST)


def test_gx_usage_analytics_are_off() -> None:
    assert gx_context().config.analytics_enabled is False


def test_a_page_rendered_by_an_earlier_release_is_rendered_again(site: Path) -> None:
    """Sites built by GX's renderer hold pages that ran source values as script: the next
    build replaces every page not rendered here."""
    page = next((site / "validations" / "crm").rglob("*.html"))
    page.write_text("<html><body><script>alert(1)</script></body></html>", encoding="utf-8")
    config = load_config(site.parents[2] / "config.yaml")

    build_data_docs(config, SECOND)

    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and PAGE_MARK in text
