"""What evaluating one expectation on one frame produced, whichever engine evaluated it.

An :class:`Outcome` carries the two things the stage needs: the positions of the rows that
failed (to quarantine or count them) and a GX result dictionary in GX's ``SUMMARY`` shape (to
write GX's ``ExpectationValidationResult`` JSON for Data Docs, and ``dq/<suite>.json``). Full
unexpected lists are never kept in results: a million failing rows belong in the quarantine
file, not in a JSON document a browser has to open.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from pipelines.validate import gx_json
from pipelines.validate.suites import Rule

PARTIAL_COUNT = 20
"""How many unexpected values a result shows (GX's default ``partial_unexpected_count``)."""

Engine = Literal["polars", "gx"]


@dataclass
class Outcome:
    rule: Rule
    success: bool
    kwargs: dict[str, Any]
    """The expectation's arguments with suite parameters resolved, as GX reports them."""
    result: dict[str, Any]
    """GX's result dictionary, ``SUMMARY`` shape."""
    rows: np.ndarray
    """Positions (0-based, ascending) of the rows that failed; empty for table-level rules."""
    engine: Engine
    exception: str | None = None
    """Why the rule could not be evaluated (it then counts as failed)."""

    @property
    def unexpected_count(self) -> int:
        count = self.result.get("unexpected_count")
        return int(count) if count is not None else len(self.rows)

    @property
    def unexpected_percent(self) -> float | None:
        value = self.result.get("unexpected_percent")
        return None if value is None else float(value)

    @property
    def row_level(self) -> bool:
        """Whether the rule judges rows (a table-level rule judges the whole batch)."""
        return "element_count" in self.result

    def sample_values(self) -> list[Any]:
        return list(self.result.get("partial_unexpected_list") or [])

    def exception_info(self) -> dict[str, Any]:
        return {
            "raised_exception": self.exception is not None,
            "exception_traceback": None,
            "exception_message": self.exception,
        }

    def to_json_dict(self) -> dict[str, Any]:
        """What GX's ``ExpectationValidationResult.to_json_dict()`` gives for this outcome,
        built without importing GX."""
        checked = self.rule.checked
        config = gx_json.expectation_config(
            type=self.rule.type,
            kwargs=self.kwargs,
            meta=checked.meta,
            notes=checked.notes,
            description=checked.description,
            severity=checked.severity,
            id=checked.id,
        )
        return gx_json.validation_result(
            success=self.success,
            expectation_config=config,
            result=self.result,
            meta={"engine": self.engine},
            exception_info=self.exception_info(),
        )


def map_result(
    *,
    element_count: int,
    missing_count: int | None,
    values: pl.Series | list[Any],
    rows: np.ndarray,
) -> dict[str, Any]:
    """GX's ``SUMMARY`` result of a column map expectation, from the failing rows' values.

    Follows GX's ``_format_map_output``: ``unexpected_percent`` is over non-missing values,
    and the ``missing_*`` keys appear only where the expectation counts missing values
    separately (not for the null checks). ``partial_unexpected_counts`` counts every failing
    value, as GX does when it has the complete list.
    """
    unexpected_count = len(rows)
    nonnull = element_count if missing_count is None else element_count - missing_count
    total_pct = unexpected_count / element_count * 100 if element_count else None
    nonmissing_pct = (
        (unexpected_count / nonnull * 100 if nonnull else None) if element_count else None
    )
    if missing_count is None:
        nonmissing_pct = total_pct
    result: dict[str, Any] = {
        "element_count": element_count,
        "unexpected_count": unexpected_count,
        "unexpected_percent": nonmissing_pct,
        "partial_unexpected_list": list(values[:PARTIAL_COUNT]),
    }
    if missing_count is not None:
        result["missing_count"] = missing_count
        result["missing_percent"] = missing_count / element_count * 100 if element_count else None
        result["unexpected_percent_total"] = total_pct
        result["unexpected_percent_nonmissing"] = nonmissing_pct
    result["partial_unexpected_counts"] = (
        _counts_python(values) if isinstance(values, list) else _top_counts(values)
    )
    result["partial_unexpected_index_list"] = rows[:PARTIAL_COUNT].tolist()
    return result


def _top_counts(values: pl.Series) -> list[dict[str, Any]]:
    if values.len() == 0:
        return []
    if values.dtype == pl.Object or isinstance(values.dtype, pl.List | pl.Struct | pl.Array):
        return _counts_python(values.to_list())
    counts = values.value_counts(sort=True, name="count").head(PARTIAL_COUNT * 4)
    pairs = list(zip(counts[values.name].to_list(), counts["count"].to_list(), strict=True))
    pairs.sort(key=lambda p: (-p[1], _sort_key(p[0])))
    return [{"value": v, "count": int(c)} for v, c in pairs[:PARTIAL_COUNT]]


def _counts_python(values: list[Any]) -> list[dict[str, Any]]:
    try:
        counter = Counter(tuple(v) if isinstance(v, list) else v for v in values)
    except TypeError:
        return [{"error": "partial_exception_counts requires a hashable type"}]
    top = sorted(counter.most_common(PARTIAL_COUNT), key=lambda p: (-p[1], _sort_key(p[0])))
    return [{"value": v, "count": c} for v, c in top]


def _sort_key(value: Any) -> tuple[int, str]:
    return (0, "") if value is None else (1, str(value))
