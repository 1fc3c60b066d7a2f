"""Evaluate a rule with GX's own pandas engine: the fallback, and the reference for parity.

GX validates the rule on a pandas copy of only the columns it reads (all columns for a
table-level rule), asking for GX's ``COMPLETE`` result format, whose ``unexpected_index_list``
gives the failing row positions. The result is then cut to GX's ``SUMMARY`` shape for storage.

GX is imported here only when a rule reaches this engine (a type or case the Polars engine does
not reproduce), so a suite the Polars engine covers whole is validated without importing GX.
"""

from __future__ import annotations

import copy
import logging
import warnings
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from pipelines.validate.outcome import PARTIAL_COUNT, Outcome
from pipelines.validate.suites import Rule

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.datasource.fluent import BatchDefinition

logger = logging.getLogger(__name__)

_FULL_ONLY = (
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
    "unexpected_rows",
)


def evaluate(rule: Rule, frame: pl.DataFrame, parameters: dict[str, Any]) -> Outcome:
    """Run ``rule`` through GX on ``frame`` (row positions are GX's ``unexpected_index_list``)."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    columns = [*rule.columns, *rule.condition_columns]
    table_level = rule.type.startswith("expect_table_") or not rule.columns
    keep = (
        frame.columns if table_level else [c for c in dict.fromkeys(columns) if c in frame.columns]
    )
    data = to_pandas(frame.select(keep)) if keep else _empty_rows(frame.height)

    # A fresh copy of the rule: GX binds an expectation to the batch it validates.
    checked = rule.checked
    expectation = ExpectationConfiguration(
        type=rule.type,
        kwargs=copy.deepcopy(checked.kwargs),
        meta=copy.deepcopy(checked.meta),
        description=checked.description,
        severity=FailureSeverity(checked.severity),
    ).to_domain_obj()
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": data})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        validation = batch.validate(
            expectation,
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": PARTIAL_COUNT},
            expectation_parameters=parameters,
        )
    result = dict(validation.result or {})
    index = result.get("unexpected_index_list") or []
    rows = np.asarray(
        sorted(int(i) for i in index if isinstance(i, int | np.integer)), dtype=np.int64
    )
    if len(rows) != len(index):
        logger.warning("%s: GX reported row ids that are not positions; no rows taken", rule.label)
        rows = np.empty(0, dtype=np.int64)
    summary = {k: v for k, v in result.items() if k not in _FULL_ONLY}
    kwargs = {k: v for k, v in validation.expectation_config.kwargs.items() if k != "batch_id"}
    return Outcome(
        rule=rule,
        success=bool(validation.success),
        kwargs=kwargs,
        result=summary,
        rows=rows,
        engine="gx",
        exception=_exception_message(validation.exception_info),
    )


def to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """The pandas frame GX sees: dates as ``datetime.date`` objects, so date bounds compare."""
    return frame.to_pandas(date_as_object=True)


def _empty_rows(height: int) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(index=pd.RangeIndex(height))


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """GX nests exception details by metric id when a metric failed; flatten either shape."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    messages = [
        v.get("exception_message") or "exception"
        for v in info.values()
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    return "; ".join(messages) or None


@cache
def _batch_definition() -> BatchDefinition:
    from pipelines.validate.gx_context import gx_context

    context = gx_context()
    asset = context.data_sources.add_pandas("golden_records").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")
