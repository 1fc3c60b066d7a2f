"""A suite's outcomes as GX's own suite result and as the ``dq/<suite>.json`` document.

The GX result (``ExpectationSuiteValidationResult``) is what Data Docs render; it is kept per run
in ``runs/<run_id>/gx_results/<suite>.json`` so the Data Docs stage can run on its own. The
validation stages write that JSON without importing GX (:mod:`pipelines.validate.gx_json`);
``tests/test_validate_gx_json.py`` builds GX's own object from the same outcomes and holds the
two equal. The dq
document is the pipeline's contract (``docs/architecture.md``): one entry per expectation, which
publish turns into rows of the ``dq_results`` table.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.validate import gx_json
from pipelines.validate.checked import gx_version
from pipelines.validate.outcome import Outcome
from pipelines.validate.suites import Suite

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )

DATASOURCE_NAME = "golden_records"


def suite_result_document(
    suite: Suite,
    outcomes: list[Outcome],
    *,
    run_id: str,
    run_time: datetime,
    asset: str,
    counts: dict[str, int],
    record_keys: list[list[str]] | None = None,
    ingest_rejects: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GX's result for one suite on one batch (a source's records, or staged ones), as the JSON
    GX's ``ExpectationSuiteValidationResult.to_json_dict()`` gives, built without importing GX.

    ``record_keys`` (per outcome, the keys of its first failing rows) go into each result's
    ``meta`` and ``ingest_rejects`` (``{"total", "rows": [{"file", "line", "reason"}]}``) into
    the suite result's, both free-form in GX: the Data Docs pages show them to stewards."""
    statistics, meta = _statistics(outcomes), _meta(outcomes, asset=asset, counts=counts)
    meta["great_expectations_version"] = gx_version()
    meta["run_id"] = gx_json.run_identifier(run_id, run_time)
    meta["validation_time"] = _validation_time(run_time)
    if ingest_rejects is not None:
        meta["ingest_rejects"] = ingest_rejects
    results = [o.to_json_dict() for o in outcomes]
    for result, keys in zip(results, record_keys or [], strict=False):
        if keys:
            result["meta"]["record_keys"] = list(keys)
    return gx_json.suite_validation_result(
        success=all(o.success for o in outcomes),
        results=results,
        suite_name=suite.name,
        statistics=statistics,
        meta=meta,
    )


def _statistics(outcomes: list[Outcome]) -> dict[str, Any]:
    evaluated = len(outcomes)
    successful = sum(1 for o in outcomes if o.success)
    return {
        "evaluated_expectations": evaluated,
        "successful_expectations": successful,
        "unsuccessful_expectations": evaluated - successful,
        "success_percent": successful / evaluated * 100 if evaluated else None,
    }


def _meta(outcomes: list[Outcome], *, asset: str, counts: dict[str, int]) -> dict[str, Any]:
    """The suite result's ``meta``, in GX's key order; the version, run id and validation
    time (placeholders here) are filled in by the caller in GX's or in JSON form."""
    return {
        "great_expectations_version": None,
        "run_id": None,
        "validation_time": None,
        "batch_spec": {"data_asset_name": asset, "rows": counts},
        "batch_markers": {},
        "active_batch_definition": {
            "datasource_name": DATASOURCE_NAME,
            "data_connector_name": "fluent",
            "data_asset_name": asset,
            "batch_identifiers": {},
        },
        "engines": sorted({o.engine for o in outcomes}),
    }


def _validation_time(run_time: datetime) -> str:
    return run_time.strftime("%Y%m%dT%H%M%S.%fZ")


def write_suite_result(path: Path, document: dict[str, Any]) -> None:
    """Write a suite result document (:func:`suite_result_document`)."""
    from pipelines.warehouse import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def read_suite_result(path: Path) -> ExpectationSuiteValidationResult:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResultSchema,
    )

    data = json.loads(path.read_text(encoding="utf-8"))
    return ExpectationSuiteValidationResultSchema().load(data)


def dq_document(
    suite: Suite,
    outcomes: list[Outcome],
    *,
    run_id: str,
    source: str | None,
    counts: dict[str, int],
) -> dict[str, Any]:
    """``dq/<suite>.json`` as ``docs/architecture.md`` pins it."""
    document: dict[str, Any] = {"suite": suite.name}
    if source is not None:
        document["source"] = source
    document.update(
        run_id=run_id,
        rows_in=counts["rows_in"],
        accepted=counts["accepted"],
        quarantined=counts["quarantined"],
        warned=counts["warned"],
        success=all(o.success for o in outcomes),
        expectations=[
            {
                "expectation": o.rule.type,
                "column": o.rule.column_label,
                "severity": o.rule.severity,
                "success": o.success,
                "unexpected_count": o.unexpected_count if o.row_level else None,
                "unexpected_percent": o.unexpected_percent if o.row_level else None,
                "sample_values": _jsonable(o.sample_values()),
            }
            for o in outcomes
        ],
    )
    return document


def _jsonable(values: list[Any]) -> list[Any]:
    return [v if v is None or isinstance(v, str | int | float | bool) else str(v) for v in values]
