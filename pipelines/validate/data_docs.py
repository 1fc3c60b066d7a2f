"""GX's static Data Docs site for stewards, accumulating every run, working offline.

Each validation writes GX's suite result into its run folder (``runs/<run_id>/gx_results/``).
This stage files a run's results into a GX validation-results store kept beside the site
(``reports/gx_validations/``, one key per suite, run and batch, so a rerun replaces its own
pages), has GX render the pages of this run and the suites plus the index of every stored run,
and then makes the site offline (:mod:`pipelines.validate.offline`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError, StageInputError
from pipelines.validate.gx_context import DATA_DOCS_SITE, gx_context
from pipelines.validate.offline import make_offline
from pipelines.validate.results import read_suite_result
from pipelines.validate.stage import source_suite
from pipelines.validate.suites import load_suite, suite_path
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def build_data_docs(config: PipelineConfig, run_id: str) -> Path:
    """Add ``run_id``'s validation results to the Data Docs site; returns its index page."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

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

    context = gx_context(validation_results_dir=warehouse.gx_validations, data_docs_dir=site)
    keys: list[object] = []
    for path in paths:
        result = read_suite_result(path)
        run = result.meta["run_id"]
        if not isinstance(run, RunIdentifier):
            run = RunIdentifier(**run)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
            run_id=run,
            batch_identifier=result.meta["active_batch_definition"]["data_asset_name"],
        )
        context.validation_results_store.set(key, result)
        keys.append(key)

    # The suites this config validates with, as they are now, so each validation page links to
    # its suite's page (a source validated with the default suite gets it under its own name).
    canonical = suite_path(config.validation.expectations_dir, config.validation.canonical_suite)
    suites = []
    for source in [None, *config.source_names]:
        try:
            suites.append(load_suite(canonical) if source is None else source_suite(config, source))
        except ConfigError:
            continue  # no suite at all: its validation failed and says why
    for suite in suites:
        context.suites.add(suite.gx_suite)
        keys.append(ExpectationSuiteIdentifier(name=suite.name))

    urls = context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=keys)
    make_offline(site)
    logger.info("Data Docs for run %s: %s", run_id, urls.get(DATA_DOCS_SITE))
    return index
