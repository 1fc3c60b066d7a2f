"""Vectorised Polars evaluation of the GX expectation types the suites use.

Each handler reproduces what GX's pandas engine computes for one expectation type (domain, null
handling, ``row_condition``, ``mostly``, result counts) and returns the positions of the failing
rows. A handler only takes the cases whose meaning it reproduces exactly; anything else (another
column type, an argument combination GX rejects, a legacy string ``row_condition``) raises
:class:`Unsupported` and the engine hands the rule to GX itself. ``tests/test_validate_parity.py``
proves, for every expectation of every shipped suite, that both engines flag the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from pipelines.validate import conditions
from pipelines.validate.outcome import Outcome, map_result
from pipelines.validate.regex import UntranslatableRegex, python_search, to_rust_regex
from pipelines.validate.suites import Rule

logger = logging.getLogger(__name__)

ROW = "__golden_row__"


class Unsupported(Exception):
    """This case is left to GX's own engine."""


Check = Callable[[pl.Series, dict[str, Any]], pl.Series]
"""Non-null values of the domain column and the rule's arguments -> True where expected."""


def evaluate(
    rule: Rule,
    frame: pl.DataFrame,
    kwargs: dict[str, Any],
    args: dict[str, Any],
    failing: np.ndarray | None = None,
) -> Outcome:
    """Evaluate ``rule`` on ``frame``; ``kwargs`` for the result, ``args`` typed for evaluation.

    ``failing`` (a boolean per row of ``frame``, only for :func:`row_wise` rules) is the
    verdict already known for every row: the outcome is then assembled from it exactly as from
    a fresh check, so reused verdicts give the same result document as evaluating anew."""
    if failing is not None and not row_wise(rule.type):
        raise ValueError(f"{rule.label} judges rows against each other; no verdict is reusable")
    handler = _AGGREGATE_HANDLERS.get(rule.type)
    if handler is not None:
        return handler(rule, frame, kwargs, args)
    if rule.type in _PAIR_HANDLERS:
        return _PAIR_HANDLERS[rule.type](rule, frame, kwargs, args, failing)
    check = _COLUMN_CHECKS.get(rule.type)
    if check is None and rule.type not in _NULL_CHECKS:
        raise Unsupported(f"{rule.type} has no Polars implementation")
    return _column_map(rule, frame, kwargs, args, check, failing)


def row_wise(expectation_type: str) -> bool:
    """Whether a row's verdict depends on that row alone (not on other rows, as uniqueness
    does, nor on the whole batch): such a verdict holds for the same row in a later run."""
    return (
        expectation_type in _NULL_CHECKS
        or expectation_type in _PAIR_HANDLERS
        or (expectation_type in _COLUMN_CHECKS and expectation_type not in _CROSS_ROW_CHECKS)
    )


def supports(expectation_type: str) -> bool:
    return (
        expectation_type in _AGGREGATE_HANDLERS
        or expectation_type in _PAIR_HANDLERS
        or expectation_type in _COLUMN_CHECKS
        or expectation_type in _NULL_CHECKS
    )


# --- column map expectations ------------------------------------------------------------------
_NULL_CHECKS = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")
_CROSS_ROW_CHECKS = ("expect_column_values_to_be_unique",)
_FAILING = "__golden_failing__"


def _column_map(
    rule: Rule,
    frame: pl.DataFrame,
    kwargs: dict[str, Any],
    args: dict[str, Any],
    check: Check | None,
    failing: np.ndarray | None = None,
) -> Outcome:
    column = args.get("column")
    if not isinstance(column, str):
        raise Unsupported("no column argument")
    needed = list(dict.fromkeys([column, *rule.condition_columns]))
    if any(c not in frame.columns for c in needed):
        raise Unsupported("a column is missing; GX reports it")
    data = _with_failing(frame.select(needed).with_row_index(ROW), failing)
    condition = args.get("row_condition")
    if condition is not None:
        data = data.filter(condition_expr(condition, data.schema))
    element_count = data.height
    missing = _is_missing(column, data.schema[column])

    if rule.type == "expect_column_values_to_not_be_null":
        bad, missing_count, considered = data.filter(missing), None, element_count
    elif rule.type == "expect_column_values_to_be_null":
        bad, missing_count, considered = data.filter(~missing), None, element_count
    else:
        assert check is not None
        present = data.filter(~missing)
        missing_count, considered = element_count - present.height, present.height
        if failing is None:
            expected = check(present[column], args)
            bad = present.filter(~expected.fill_null(False))
    if failing is not None:
        bad = data.filter(pl.col(_FAILING))

    rows = bad[ROW].cast(pl.Int64).to_numpy()
    unexpected = len(rows)
    mostly = args.get("mostly", 1.0)
    mostly = 1.0 if mostly is None else float(mostly)
    success = considered == 0 or (considered - unexpected) / considered >= mostly
    result = map_result(
        element_count=element_count,
        missing_count=missing_count,
        values=bad[column],
        rows=rows,
    )
    return Outcome(rule, bool(success), kwargs, result, rows, "polars")


def _with_failing(data: pl.DataFrame, failing: np.ndarray | None) -> pl.DataFrame:
    if failing is None:
        return data
    if len(failing) != data.height:
        raise ValueError(f"{len(failing)} known verdicts for {data.height} rows")
    return data.with_columns(pl.Series(_FAILING, failing, dtype=pl.Boolean))


def _is_missing(column: str, dtype: pl.DataType) -> pl.Expr:
    """pandas' ``isnull``: null, and NaN in float columns."""
    expr = pl.col(column).is_null()
    if dtype.is_float():
        expr = expr | pl.col(column).is_nan()
    return expr


def _string_only(values: pl.Series, what: str) -> None:
    # GX reads other types through str(); only text has the same meaning in both engines.
    if values.dtype != pl.String:
        raise Unsupported(f"{what} on a {values.dtype} column")


def _unique(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    if values.dtype.is_nested() or values.dtype == pl.Object:
        raise Unsupported("uniqueness of nested values")
    return ~values.is_duplicated()


def _match_regex(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    _string_only(values, "a regex")
    return _regex_search(values, _text(args, "regex"))


def _not_match_regex(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    _string_only(values, "a regex")
    return ~_regex_search(values, _text(args, "regex"))


def _regex_search(values: pl.Series, pattern: str) -> pl.Series:
    try:
        rust = to_rust_regex(pattern)
    except re.error as exc:
        raise Unsupported(f"Python rejects the regex: {exc}") from exc
    except UntranslatableRegex as why:
        logger.debug("regex %r runs on Python's re: %s", pattern, why)
        search = python_search(pattern)
        return _per_distinct(values, lambda v: search(v) is not None)
    try:
        return values.str.contains(rust)
    except pl.exceptions.PolarsError as exc:  # e.g. the compiled pattern is too large
        logger.debug("regex %r runs on Python's re: %s", pattern, exc)
        search = python_search(pattern)
        return _per_distinct(values, lambda v: search(v) is not None)


def _per_distinct(values: pl.Series, test: Callable[[Any], bool]) -> pl.Series:
    """Apply a Python test once per distinct value (what GX does per row, at a fraction)."""
    distinct = values.unique()
    passing = distinct.filter(
        pl.Series([bool(test(v)) for v in distinct.to_list()], dtype=pl.Boolean)
    )
    return values.is_in(passing.implode())


def _in_set(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    value_set = args.get("value_set")
    if value_set is None:
        return pl.Series([True] * values.len(), dtype=pl.Boolean)
    return values.is_in(_typed_set(values, value_set).implode())


def _not_in_set(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    value_set = args.get("value_set")
    if value_set is None:
        return pl.Series([True] * values.len(), dtype=pl.Boolean)
    return ~values.is_in(_typed_set(values, value_set).implode())


def _typed_set(values: pl.Series, value_set: Any) -> pl.Series:
    items = list(value_set)
    if values.dtype == pl.String and all(isinstance(v, str) for v in items):
        return pl.Series(items, dtype=pl.String)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in items)
    if values.dtype.is_integer() and numbers and all(float(v).is_integer() for v in items):
        return pl.Series([int(v) for v in items], dtype=pl.Int64)
    if values.dtype.is_float() and numbers:
        return pl.Series([float(v) for v in items], dtype=pl.Float64)
    raise Unsupported(f"a value set of these types against a {values.dtype} column")


def _lengths(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    _string_only(values, "value lengths")
    low, high = args.get("min_value"), args.get("max_value")
    if low is None and high is None:
        raise Unsupported("GX rejects lengths without bounds")
    for bound in (low, high):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise Unsupported("a non-numeric length bound")
    return _within(values.str.len_chars(), low, high, args)


def _between(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    low, high = args.get("min_value"), args.get("max_value")
    if low is None and high is None:
        raise Unsupported("GX rejects between without bounds")
    dtype = values.dtype
    if dtype.is_numeric():
        ok = all(
            b is None or (isinstance(b, int | float) and not isinstance(b, bool))
            for b in (low, high)
        )
    elif dtype == pl.Date:
        ok = all(
            b is None or (isinstance(b, dt.date) and not isinstance(b, dt.datetime))
            for b in (low, high)
        )
    elif isinstance(dtype, pl.Datetime):
        low, high = _datetime_bound(low, dtype), _datetime_bound(high, dtype)
        ok = True
    elif dtype == pl.String:
        ok = all(b is None or isinstance(b, str) for b in (low, high))
    else:
        ok = False
    if not ok:
        raise Unsupported(f"between with bounds {low!r}, {high!r} on a {dtype} column")
    if low is not None and high is not None and low > high:
        raise Unsupported("GX rejects min_value > max_value")
    return _within(values, low, high, args)


def _datetime_bound(bound: Any, dtype: pl.Datetime) -> dt.datetime | None:
    if bound is None:
        return None
    if isinstance(bound, str):
        from dateutil.parser import parse  # what GX uses for string bounds

        bound = parse(bound)
    if not isinstance(bound, dt.datetime):
        raise Unsupported(f"a {type(bound).__name__} bound on a timestamp column")
    if (bound.tzinfo is None) != (dtype.time_zone is None):
        raise Unsupported("comparing naive and zone-aware timestamps fails in GX")
    return bound


def _within(values: pl.Series, low: Any, high: Any, args: dict[str, Any]) -> pl.Series:
    expr = pl.lit(True)
    col = pl.col(values.name)
    if low is not None:
        expr = expr & (col > low if args.get("strict_min") else col >= low)
    if high is not None:
        expr = expr & (col < high if args.get("strict_max") else col <= high)
    return values.to_frame().select(expr.alias("ok"))["ok"]


def _strftime(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    _string_only(values, "a strftime format")
    fmt = _text(args, "strftime_format")

    def parses(value: str) -> bool:  # GX's own test, once per distinct value
        try:
            dt.datetime.strptime(value, fmt)  # a format check, not a time
        except ValueError:
            return False
        return True

    return _per_distinct(values, parses)


def _dateutil(values: pl.Series, args: dict[str, Any]) -> pl.Series:
    _string_only(values, "a dateutil check")
    from dateutil.parser import parse

    def parses(value: str) -> bool:
        try:
            parse(value)
        except (ValueError, OverflowError):
            return False
        return True

    return _per_distinct(values, parses)


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise Unsupported(f"{key} is not text")
    return value


_COLUMN_CHECKS: dict[str, Check] = {
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_match_regex": _match_regex,
    "expect_column_values_to_not_match_regex": _not_match_regex,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_not_be_in_set": _not_in_set,
    "expect_column_value_lengths_to_be_between": _lengths,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_match_strftime_format": _strftime,
    "expect_column_values_to_be_dateutil_parseable": _dateutil,
}


# --- column pair expectations -----------------------------------------------------------------
def _a_greater_than_b(
    rule: Rule,
    frame: pl.DataFrame,
    kwargs: dict[str, Any],
    args: dict[str, Any],
    failing: np.ndarray | None = None,
) -> Outcome:
    """``column_A > column_B`` (``>=`` with ``or_equal``), as pandas compares: a comparison
    with a missing value is false, so rows ``ignore_row_if`` keeps with a missing side fail."""
    a, b = args.get("column_A"), args.get("column_B")
    if not isinstance(a, str) or not isinstance(b, str):
        raise Unsupported("column_A and column_B must name columns")
    needed = list(dict.fromkeys([a, b, *rule.condition_columns]))
    if any(c not in frame.columns for c in needed):
        raise Unsupported("a column is missing; GX reports it")
    data = _with_failing(frame.select(needed).with_row_index(ROW), failing)
    if not _comparable(data.schema[a], data.schema[b]):
        raise Unsupported(f"comparing {data.schema[a]} with {data.schema[b]}")
    condition = args.get("row_condition")
    if condition is not None:
        data = data.filter(condition_expr(condition, data.schema))
    element_count = data.height
    missing_a, missing_b = _is_missing(a, data.schema[a]), _is_missing(b, data.schema[b])
    ignore = args.get("ignore_row_if") or "both_values_are_missing"
    keep = {
        "both_values_are_missing": ~(missing_a & missing_b),
        "either_value_is_missing": ~(missing_a | missing_b),
        "neither": pl.lit(True),
    }.get(ignore)
    if keep is None:
        raise Unsupported(f"ignore_row_if={ignore!r}")
    present = data.filter(keep)
    greater = pl.col(a) >= pl.col(b) if args.get("or_equal") else pl.col(a) > pl.col(b)
    bad = present.filter(
        ~greater.fill_null(False) if failing is None else pl.col(_FAILING).fill_null(False)
    )
    rows = bad[ROW].cast(pl.Int64).to_numpy()
    considered, unexpected = present.height, len(rows)
    mostly = 1.0 if args.get("mostly") is None else float(args["mostly"])
    success = (
        element_count == 0 or considered == 0 or (considered - unexpected) / considered >= mostly
    )
    pairs = list(zip(bad[a].to_list(), bad[b].to_list(), strict=True))
    result = map_result(
        element_count=element_count,
        missing_count=element_count - considered,
        values=pairs,
        rows=rows,
    )
    return Outcome(rule, bool(success), kwargs, result, rows, "polars")


def _comparable(left: pl.DataType, right: pl.DataType) -> bool:
    if left.is_numeric() and right.is_numeric():
        return True
    if isinstance(left, pl.Datetime) and isinstance(right, pl.Datetime):
        return (left.time_zone is None) == (right.time_zone is None)
    return left == right and left in (pl.Date, pl.String)


_PAIR_HANDLERS: dict[str, Callable[..., Outcome]] = {
    "expect_column_pair_values_a_to_be_greater_than_b": _a_greater_than_b,
}


# --- row conditions ---------------------------------------------------------------------------
def condition_expr(condition: Any, schema: pl.Schema) -> pl.Expr:
    """GX's structured ``row_condition`` as a Polars filter, with pandas' null semantics.

    ``condition`` is the plain form the checked suite holds (:mod:`pipelines.validate.conditions`);
    GX's own condition objects and dicts are accepted too (converted with GX). GX's pandas engine
    turns a condition into ``DataFrame.query``: a missing value compares unequal to everything,
    so ``!=`` and ``NOT_IN`` keep rows whose value is missing and every other comparison drops
    them.
    """
    if isinstance(condition, dict):
        from great_expectations.expectations.row_conditions import deserialize_row_condition

        condition = deserialize_row_condition(condition)
    condition = conditions.from_gx(condition)
    if isinstance(condition, conditions.Group):
        parts = [condition_expr(c, schema) for c in condition.conditions]
        if not parts:
            raise Unsupported("an empty condition group")
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if condition.kind == "and" else combined | part
        return combined
    if isinstance(condition, conditions.Nullity):
        missing = _is_missing(condition.column, schema[condition.column])
        return missing if condition.is_null else ~missing
    if isinstance(condition, conditions.Comparison):
        return _comparison(condition, schema)
    raise Unsupported(f"row_condition {condition!r} (a string condition runs on GX's engine)")


def _comparison(condition: conditions.Comparison, schema: pl.Schema) -> pl.Expr:
    name, op, value = condition.column, condition.operator, condition.parameter
    dtype = schema[name]
    values = list(value) if op in ("IN", "NOT_IN") else [value]
    if dtype == pl.String:
        typed = all(isinstance(v, str) for v in values)
    elif dtype.is_numeric():
        typed = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    else:
        typed = False
    if not typed:
        raise Unsupported(f"comparing a {dtype} column with {value!r}")
    col = pl.col(name)
    exprs = {
        "==": lambda: col == value,
        "!=": lambda: col != value,
        "<": lambda: col < value,
        "<=": lambda: col <= value,
        ">": lambda: col > value,
        ">=": lambda: col >= value,
        "IN": lambda: col.is_in(values),
        "NOT_IN": lambda: ~col.is_in(values),
    }
    if op not in exprs:
        raise Unsupported(f"operator {op}")
    keeps_missing = op in ("!=", "NOT_IN")
    missing = _is_missing(name, dtype)
    return pl.when(missing).then(pl.lit(keeps_missing)).otherwise(exprs[op]())


# --- table-level and aggregate expectations (they judge the batch, not rows) ------------------
def _column_to_exist(
    rule: Rule, frame: pl.DataFrame, kwargs: dict[str, Any], args: dict[str, Any]
) -> Outcome:
    column, index = args.get("column"), args.get("column_index")
    if index is not None:
        raise Unsupported("column_index")
    success = column in frame.columns
    return Outcome(rule, success, kwargs, {}, np.empty(0, dtype=np.int64), "polars")


def _row_count_between(
    rule: Rule, frame: pl.DataFrame, kwargs: dict[str, Any], args: dict[str, Any]
) -> Outcome:
    low, high = args.get("min_value"), args.get("max_value")
    if args.get("strict_min") or args.get("strict_max"):
        raise Unsupported("strict row-count bounds")
    if any(b is not None and not isinstance(b, int) for b in (low, high)):
        raise Unsupported("non-integer row-count bounds")
    count = frame.height
    success = (low is None or count >= low) and (high is None or count <= high)
    return Outcome(
        rule, success, kwargs, {"observed_value": count}, np.empty(0, dtype=np.int64), "polars"
    )


def _non_null_proportion(
    rule: Rule, frame: pl.DataFrame, kwargs: dict[str, Any], args: dict[str, Any]
) -> Outcome:
    column = args.get("column")
    needed = list(dict.fromkeys([column, *rule.condition_columns]))
    if not isinstance(column, str) or any(c not in frame.columns for c in needed):
        raise Unsupported("a column is missing; GX reports it")
    low, high = args.get("min_value"), args.get("max_value")
    if any(
        b is not None and (isinstance(b, bool) or not isinstance(b, int | float))
        for b in (low, high)
    ):
        raise Unsupported("non-numeric proportion bounds")
    data = frame.select(needed)
    condition = args.get("row_condition")
    if condition is not None:
        data = data.filter(condition_expr(condition, data.schema))
    total = data.height
    present = total - int(data.select(_is_missing(column, data.schema[column]).sum()).item())
    proportion = present / total if total else 0
    success = True
    if low is not None:
        success = proportion > low if args.get("strict_min") else proportion >= low
    if high is not None:
        success = success and (proportion < high if args.get("strict_max") else proportion <= high)
    result = {"observed_value": proportion}
    return Outcome(rule, bool(success), kwargs, result, np.empty(0, dtype=np.int64), "polars")


_AGGREGATE_HANDLERS: dict[str, Callable[..., Outcome]] = {
    "expect_column_to_exist": _column_to_exist,
    "expect_table_row_count_to_be_between": _row_count_between,
    "expect_column_proportion_of_non_null_values_to_be_between": _non_null_proportion,
}
