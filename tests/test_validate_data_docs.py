"""GX's Data Docs site: built every run, accumulating runs, self-contained and offline."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import StageInputError
from pipelines.validate import build_data_docs, validate_source, validate_staged
from pipelines.validate.gx_context import gx_context
from pipelines.validate.offline import ASSETS_DIR, manifest, rewrite_page
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


def test_vendored_libraries_and_their_licences_are_in_the_site(site: Path) -> None:
    vendor = site / "static" / "vendor"
    for relative in manifest()["urls"].values():
        assert (vendor / relative).read_bytes() == (ASSETS_DIR / relative).read_bytes()
    for package in manifest()["packages"]:
        assert (vendor / package["license_file"]).stat().st_size > 500, package["npm"]
    assert (vendor / "fontawesome-free-6.6.0" / "webfonts" / "fa-solid-900.woff2").is_file()
    page = next((site / "validations").rglob("*.html")).read_text()
    assert 'src="../../../../static/vendor/jquery-3.7.1/jquery.min.js"' in page
    assert "integrity=" not in page and "crossorigin" not in page


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
    assert "of 10 total rows" in crm and "of 30 total rows" not in crm


def test_data_docs_without_validation_results_name_the_missing_stage(tmp_path: Path) -> None:
    with pytest.raises(StageInputError, match="run the 'validate' stages"):
        build_data_docs(make_config(tmp_path), FIRST)


def test_gx_usage_analytics_are_off() -> None:
    assert gx_context().config.analytics_enabled is False


def test_offline_rewrite_maps_known_cdns_drops_the_beacon_and_unknown_assets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = tmp_path / "site"
    (site / "static" / "images").mkdir(parents=True)
    (site / "static" / "images" / "logo-long.png").write_bytes(b"png")
    page = site / "validations" / "x" / "page.html"
    html = """<html><head>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<script src="https://cdn.example.com/tracker.js"></script>
<link rel="stylesheet" href="https://cdn.example.com/theme.css">
<style>.brand { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png') }
.other { background: url(https://elsewhere.example/x.png) }</style>
</head><body>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20260101T000000.0Z&dataContextId=1234">
<a href="https://greatexpectations.io">a link is not fetched</a>
</body></html>"""  # noqa: E501

    with caplog.at_level(logging.WARNING, logger="pipelines.validate.offline"):
        out = rewrite_page(html, page, site)

    assert '<script src="../../static/vendor/jquery-3.7.1/jquery.min.js"></script>' in out
    assert '<script src="../../static/vendor/popper.js-1.12.9/umd/popper.min.js"></script>' in out
    assert "tracker.js" not in out and "theme.css" not in out
    assert '<img src="../../static/images/logo-long.png">' in out
    assert "url('../../static/images/logo-long.png')" in out and "background: none" in out
    assert '<a href="https://greatexpectations.io">' in out
    assert REMOTE_FETCH.findall(out) == []
    assert "https://cdn.example.com/tracker.js" in caplog.text
    assert rewrite_page(out, page, site) == out  # idempotent


def test_pages_left_by_an_interrupted_build_are_fixed_by_the_next_pass(tmp_path: Path) -> None:
    from pipelines.validate.offline import make_offline

    site = tmp_path / "site"
    (site / "static" / "images").mkdir(parents=True)
    make_offline(site)  # a completed pass
    stray = site / "validations" / "crm" / "stray.html"
    stray.parent.mkdir(parents=True)
    stray.write_text('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>')

    assert make_offline(site) == [stray]
    assert REMOTE_FETCH.findall(stray.read_text()) == []
    assert make_offline(site) == []  # nothing new since
