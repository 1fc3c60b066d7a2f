"""The suite result the validation stages write without GX is the JSON GX itself writes.

``runs/<run>/gx_results/<suite>.json`` is loaded back by the Data Docs stage with GX's schema,
so :func:`suite_result_document` must equal ``to_json_dict()`` of GX's own objects built from
the same outcomes (:func:`gx_suite_result`) for every kind of outcome: row-level and aggregate
rules, failing and passing, sample values of every type a frame holds (text, numbers, dates,
time-zone-aware timestamps, None), a run parameter in the arguments, rules GX's own engine
evaluated (NumPy values in the result), a rule that raised, and values only GX knows how to
serialise.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationSuiteValidationResultSchema,
    ExpectationValidationResult,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity

from pipelines.validate import gx_json, results
from pipelines.validate.engine import evaluate_rule, evaluate_suite, run_parameters
from pipelines.validate.outcome import Outcome
from pipelines.validate.results import suite_result_document
from pipelines.validate.suites import Suite, load_suite
from pipelines.validate.synthetic import RUN_ID, staged_frame

REPO = Path(__file__).resolve().parents[1]
UTC = dt.UTC

SUITE: dict[str, Any] = {
    "name": "mixed",
    "meta": {"owner": "data team"},
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
         "meta": {"severity": "warning"}, "description": "No rows at all."},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "email"},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", "mostly": 0.5},
         "meta": {"severity": "critical", "ticket": "DQ-7"}, "notes": "Checked by the CRM team.",
         "description": "The email address is malformed."},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "born", "min_value": "1900-01-01", "max_value": "2020-12-31"},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "updated", "max_value": {"$PARAMETER": "run_time"}},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "score", "value_set": [1, 2, 3],
                    "row_condition": {"type": "comparison", "column": {"name": "country"},
                                      "operator": "==", "parameter": "GB"}},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_proportion_of_non_null_values_to_be_between",
         "kwargs": {"column": "score", "min_value": 0.9}, "meta": {"severity": "warning"}},
        {"type": "expect_column_mean_to_be_between",
         "kwargs": {"column": "ratio", "min_value": 0, "max_value": 0.1},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "ratio", "value_set": [0.25, 0.5]},
         "meta": {"severity": "warning"}},
    ],
}  # fmt: skip
"""Row-level and aggregate rules; one GX's engine evaluates (the mean), one with notes, one with
a date bound, one with a run parameter, one with a row condition. (GX refuses an ``id`` in a
suite's expectations; :func:`test_an_expectation_id_and_notes_serialise_as_gx_does` covers it.)"""


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["a", "b", "b", "c", "d", "e"],
            "email": ["a@x.org", "bad", None, "c@x.org", "also bad", "e@x.org"],
            "born": [dt.date(1980, 1, 2), dt.date(1850, 3, 4), None, dt.date(2024, 1, 1),
                     dt.date(1999, 9, 9), dt.date(2001, 1, 1)],
            "updated": [dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2027, 5, 1, tzinfo=UTC),
                        None, dt.datetime(2026, 1, 15, 12, 0, 1, tzinfo=UTC),
                        dt.datetime(2025, 1, 1, tzinfo=UTC), None],
            "score": [1, 7, None, 3, 9, 2],
            "country": ["GB", "GB", "US", "GB", "GB", None],
            "ratio": [0.25, 0.5, float("nan"), 0.75, None, 1 / 3],
        },
        schema_overrides={"updated": pl.Datetime("us", "UTC")},
    )  # fmt: skip


def _suite(tmp_path: Path, data: dict[str, Any] = SUITE) -> Suite:
    path = tmp_path / f"{data['name']}.json"
    path.write_text(json.dumps(data))
    return load_suite(path)


def gx_validation_result(outcome: Outcome) -> ExpectationValidationResult:
    """GX's own result object for one outcome: the reference for ``Outcome.to_json_dict``."""
    checked = outcome.rule.checked
    config = ExpectationConfiguration(
        type=outcome.rule.type,
        kwargs=outcome.kwargs,
        meta=checked.meta,
        notes=checked.notes,
        description=checked.description,
        severity=FailureSeverity(checked.severity),
        id=checked.id,
    )
    return ExpectationValidationResult(
        success=outcome.success,
        expectation_config=config,
        result=outcome.result,
        meta={"engine": outcome.engine},
        exception_info=outcome.exception_info(),
    )


def gx_suite_result(
    suite: Suite,
    outcomes: list[Outcome],
    *,
    run_id: str,
    run_time: dt.datetime,
    asset: str,
    counts: dict[str, int],
) -> ExpectationSuiteValidationResult:
    """GX's own suite result object for the same inputs as :func:`suite_result_document`."""
    import great_expectations as gx

    meta = results._meta(outcomes, asset=asset, counts=counts)
    meta["great_expectations_version"] = gx.__version__
    meta["run_id"] = RunIdentifier(run_name=run_id, run_time=run_time)
    meta["validation_time"] = results._validation_time(run_time)
    return ExpectationSuiteValidationResult(
        success=all(o.success for o in outcomes),
        results=[gx_validation_result(o) for o in outcomes],
        suite_name=suite.name,
        statistics=results._statistics(outcomes),
        meta=meta,
        batch_id=f"{results.DATASOURCE_NAME}-{asset}",
    )


def _both(suite: Suite, outcomes: list[Outcome], **kwargs: Any) -> tuple[dict, dict]:
    """(GX's own JSON, the GX-free document) for the same outcomes."""
    arguments = {
        "run_id": RUN_ID,
        "run_time": run_parameters(RUN_ID)["run_time"],
        "asset": "staged",
        "counts": {"rows_in": 6, "accepted": 4, "quarantined": 2, "warned": 1},
    } | kwargs
    reference = gx_suite_result(suite, outcomes, **arguments)
    assert isinstance(reference, ExpectationSuiteValidationResult)
    return reference.to_json_dict(), suite_result_document(suite, outcomes, **arguments)


def _assert_identical(reference: dict[str, Any], document: dict[str, Any]) -> None:
    assert json.dumps(document, indent=1) == json.dumps(reference, indent=1)  # bytes on disk
    loaded = ExpectationSuiteValidationResultSchema().load(json.loads(json.dumps(document)))
    assert loaded.to_json_dict() == reference


def test_a_mixed_suite_on_a_small_frame_writes_gx_own_json(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    outcomes = evaluate_suite(suite, _frame(), run_parameters(RUN_ID))

    assert {o.engine for o in outcomes} == {"polars", "gx"}  # the mean runs on GX's engine
    assert {o.success for o in outcomes} == {True, False}
    assert any(o.sample_values() for o in outcomes)
    reference, document = _both(suite, outcomes)
    _assert_identical(reference, document)
    assert document["results"][4]["expectation_config"]["kwargs"]["max_value"] == (
        "2026-01-15T12:00:00+00:00"
    )  # the run parameter, resolved
    assert document["results"][2]["expectation_config"]["notes"] == "Checked by the CRM team."


@pytest.mark.parametrize("engine", ["polars", "gx"])
def test_the_canonical_suite_on_generated_staged_rows_writes_gx_own_json(engine: str) -> None:
    suite = load_suite(REPO / "expectations" / "canonical.json")
    frame = staged_frame(400, seed=3, bad_share=0.2)
    parameters = run_parameters(RUN_ID)
    outcomes = [evaluate_rule(rule, frame, parameters, engine) for rule in suite]  # type: ignore[arg-type]

    assert any(not o.success for o in outcomes)
    assert any(o.row_level and o.unexpected_count for o in outcomes)
    _assert_identical(*_both(suite, outcomes))


def test_every_kind_of_sample_value_serialises_as_gx_does(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    rule = suite.rules[1]
    values: list[Any] = [
        None, "text", 3, 2.5, float("nan"), float("inf"), True, dt.date(2020, 2, 29),
        dt.datetime(2026, 1, 1, 8, 30, tzinfo=UTC), dt.datetime(2026, 1, 1, 8, 30, 0, 5),
        dt.time(7, 15), np.int64(4), np.int32(5), np.float64(1.5), np.float32(0.1),
        np.bool_(True), np.datetime64("2026-01-02T03:04:05"), uuid.UUID(int=7), b"raw",
        (1, "a"), ["x", None], {"k": np.int64(1), 2: "two"}, Decimal("1.25"),
        np.array([1.5, 2.0]),
    ]  # fmt: skip
    result = {
        "element_count": 30,
        "unexpected_count": len(values),
        "unexpected_percent": 80.0,
        "partial_unexpected_list": values,
        "partial_unexpected_counts": [{"value": v, "count": 1} for v in values[:5]],
        "partial_unexpected_index_list": np.arange(5),
        "observed_value": np.float64("nan"),
    }
    outcomes = [
        Outcome(rule, False, rule.kwargs, result, np.arange(5), "polars"),
        Outcome(suite.rules[0], False, rule.kwargs, {}, np.empty(0), "gx", exception="boom"),
    ]

    _assert_identical(*_both(suite, outcomes))
    assert gx_json.to_json(values)[3:5] == [2.5, None]


def test_run_times_show_in_the_machine_time_zone_as_gx_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = _suite(tmp_path)
    outcomes = evaluate_suite(suite, _frame(), run_parameters(RUN_ID))
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        reference, document = _both(suite, outcomes)
    finally:
        monkeypatch.undo()
        time.tzset()

    assert document["meta"]["run_id"]["run_time"] == "2026-01-15T07:00:00-05:00"
    _assert_identical(reference, document)


def test_an_empty_suite_result_is_gx_own_json(tmp_path: Path) -> None:
    suite = _suite(tmp_path, {"name": "empty", "expectations": []})
    reference, document = _both(suite, [])

    assert document["statistics"]["success_percent"] is None
    _assert_identical(reference, document)


def test_an_expectation_id_and_notes_serialise_as_gx_does() -> None:
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    fields: dict[str, Any] = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "email", "when": dt.datetime(2026, 1, 1, tzinfo=UTC)},
        "meta": {"severity": "critical", "n": np.int64(2)},
        "notes": ["first", "second"],
        "description": "Empty.",
        "id": "0D5BA3B1-7AE4-4E55-BD1C-3E3A2FD6F4A3",
    }
    config = ExpectationConfiguration(**fields, severity=FailureSeverity.CRITICAL)
    reference = ExpectationValidationResult(success=True, expectation_config=config).to_json_dict()

    document = gx_json.expectation_config(**fields, severity="critical")

    assert json.dumps(document) == json.dumps(reference["expectation_config"])
    assert document["id"] == fields["id"]
