"""The Data Docs site for stewards, accumulating every run, working offline.

Each validation writes GX's suite result into its run folder (``runs/<run_id>/gx_results/``).
This stage files a run's results into the store kept beside the site (``reports/gx_validations/``,
one file per suite, run and batch at GX's key path, so a rerun replaces its own pages) and renders
the pages of this run, the suites and the index of every stored run
(:mod:`pipelines.validate.report_pages`: escaped, script-free pages; GX's own renderer wrote
source values into its pages unescaped).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError, StageInputError
from pipelines.i18n import for_files
from pipelines.validate.report_pages import build_site
from pipelines.validate.stage import source_suite
from pipelines.validate.suites import Suite, load_suite, suite_path
from pipelines.warehouse import Warehouse, atomic_path

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def build_data_docs(config: PipelineConfig, run_id: str) -> Path:
    """Add ``run_id``'s validation results to the Data Docs site; returns its index page."""
    warehouse = Warehouse(config.warehouse.path)
    site = warehouse.data_docs
    index = site / "index.html"
    if not config.validation.data_docs:
        logger.info("Data Docs are turned off (validation.data_docs: false)")
        return index
    results_dir = warehouse.gx_result(run_id, "_").parent
    paths = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    if not paths:
        raise StageInputError(
            f"no validation results in {results_dir}: run the 'validate' stages for run "
            f"{run_id} first"
        )
    fresh = [_store(warehouse.gx_validations, path) for path in paths]
    language = for_files(config.language)
    index = build_site(site, warehouse.gx_validations, _suites(config), fresh, language=language)
    logger.info("Data Docs for run %s: %s", run_id, index)
    return index


def rebuild_data_docs(warehouse: Warehouse, suites: list[Suite] | None = None) -> Path | None:
    """Render every stored validation again (after erasure scrubbed the stored results), in
    the language the site is in (an erasure has no config to ask)."""
    if not warehouse.gx_validations.is_dir():
        return None
    return build_site(warehouse.data_docs, warehouse.gx_validations, suites or [], every=True)


def _suites(config: PipelineConfig) -> list[Suite]:
    """The suites this config validates with, as they are now, so each validation page links
    to its suite's page (a source validated with the default suite gets it under its name)."""
    canonical = suite_path(config.validation.expectations_dir, config.validation.canonical_suite)
    suites = []
    for source in [None, *config.source_names]:
        try:
            suites.append(load_suite(canonical) if source is None else source_suite(config, source))
        except ConfigError:
            continue  # no suite at all: its validation failed and says why
    return suites


def _store(store: Path, path: Path) -> Path:
    """File one run's suite result under GX's key (``<suite>/<run>/<time>/<batch>.json``)."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        meta = document["meta"]
        parts = [
            document["suite_name"],
            meta["run_id"]["run_name"],
            meta["validation_time"],
            meta["active_batch_definition"]["data_asset_name"],
        ]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise StageInputError(f"validation result {path} is unreadable: {exc}") from exc
    for part in parts:
        if not isinstance(part, str) or not part or "/" in part or part.startswith("."):
            raise StageInputError(f"validation result {path} names an unusable key part {part!r}")
    target = store.joinpath(*parts[:-1], f"{parts[-1]}.json")
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return target
