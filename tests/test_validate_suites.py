"""Suites in ``expectations/`` load with GX's classes, name only contract columns, and say what
a data team needs them to say; a broken suite file is an error naming the file and the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from great_expectations.core.expectation_suite import ExpectationSuite

from pipelines.errors import ConfigError
from pipelines.validate.config import ValidationConfig
from pipelines.validate.suites import (
    SOURCE_SUITE_COLUMNS,
    STAGED_SUITE_COLUMNS,
    check_columns,
    load_suite,
    suite_files,
)

REPO = Path(__file__).resolve().parents[1]
CANONICAL = ValidationConfig().canonical_suite
SHIPPED = suite_files(REPO / "expectations")


def test_the_sample_sources_and_the_canonical_schema_have_suites() -> None:
    assert {p.stem for p in SHIPPED} >= {"crm", "shop", "billing", CANONICAL}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_suite_loads_with_gx_and_names_only_contract_columns(path: Path) -> None:
    suite = load_suite(path)

    assert isinstance(suite.gx_suite, ExpectationSuite)
    assert len(suite.gx_suite.expectations) == len(json.loads(path.read_text())["expectations"])
    if suite.name == CANONICAL:
        check_columns(suite, STAGED_SUITE_COLUMNS, "staged")
    else:
        check_columns(suite, SOURCE_SUITE_COLUMNS, "source")
        assert not suite.columns - SOURCE_SUITE_COLUMNS
        assert any(c.startswith("raw_") for c in suite.columns)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_expectation_has_a_severity_and_a_sentence_for_stewards(path: Path) -> None:
    for rule in load_suite(path):
        assert rule.severity in ("critical", "warning")
        assert rule.expectation.severity.value == rule.severity  # GX's own field agrees
        assert rule.expectation.description, rule.label


@pytest.mark.parametrize("name", ["crm", "shop", "billing"])
def test_source_suites_quarantine_what_cannot_be_processed_and_only_warn_on_format(
    name: str,
) -> None:
    rules = {
        (r.type, r.column_label): r.severity for r in load_suite(REPO / f"expectations/{name}.json")
    }

    assert rules[("expect_column_values_to_not_be_null", "source_record_id")] == "critical"
    assert rules[("expect_column_values_to_be_unique", "source_record_id")] == "critical"
    assert (
        rules[("expect_column_values_to_not_be_null", "raw_email")] == "critical"
    )  # no name/contact
    future = ("expect_column_pair_values_a_to_be_greater_than_b", "ingested_at, source_updated_at")
    assert rules[future] == "critical"
    assert rules[("expect_column_values_to_match_regex", "raw_email")] == "warning"
    assert (
        rules[("expect_column_values_to_match_strftime_format", "raw_date_of_birth")] == "warning"
    )


def test_canonical_suite_checks_the_staged_formats() -> None:
    suite = load_suite(REPO / "expectations" / f"{CANONICAL}.json")
    by_column: dict[str, set[str]] = {}
    for rule in suite:
        by_column.setdefault(rule.column_label or "", set()).add(rule.type)

    assert "expect_column_values_to_match_regex" in by_column["phone"]  # E.164
    assert "expect_column_values_to_match_regex" in by_column["email"]
    assert "expect_column_values_to_be_in_set" in by_column["country"]
    assert "expect_column_values_to_be_between" in by_column["date_of_birth"]
    assert (
        "expect_column_pair_values_a_to_be_greater_than_b"
        in by_column["ingested_at, source_updated_at"]
    )
    countries = {
        r.kwargs["row_condition"]["parameter"]
        for r in suite
        if r.column_label == "postcode" and "row_condition" in r.kwargs
    }
    assert {"US", "GB", "CA", "DE", "FR", "NL"} <= countries
    completeness = {
        r.column_label
        for r in suite
        if r.type == "expect_column_proportion_of_non_null_values_to_be_between"
    }
    assert {"first_name", "last_name", "postcode", "date_of_birth"} <= completeness
    iso = next(r for r in suite if r.column_label == "country").kwargs["value_set"]
    assert len(iso) == 249 and {"US", "GB", "DE", "CN", "ZA"} <= set(iso)


# --- broken suite files -------------------------------------------------------------------------
def _write(tmp_path: Path, expectations: list[dict[str, Any]], name: str = "crm") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": "crm", "expectations": expectations}))
    return path


NULL_CHECK = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "raw_email"}}


@pytest.mark.parametrize(
    ("expectations", "message"),
    [
        ([{**NULL_CHECK}], r"expectation #1 of .*crm\.json .*needs meta\.severity"),
        ([{**NULL_CHECK, "meta": {"severity": "fatal"}}], r"got 'fatal'"),
        (
            [{**NULL_CHECK, "meta": {"severity": "warning"}},
             {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x",
              "min_value": 1, "bogus": 2}, "meta": {"severity": "critical"}}],
            r"expectation #2 of .*crm\.json \(expect_column_values_to_be_between\) is not a valid",
        ),
        (
            [{"type": "expect_nothing_at_all", "kwargs": {}, "meta": {"severity": "critical"}}],
            r"expectation #1 .*expect_nothing_at_all",
        ),
        (
            [{**NULL_CHECK, "meta": {"severity": "warning"}, "severity": "critical"}],
            r"severity 'critical' but meta\.severity 'warning'",
        ),
    ],
    ids=["no-severity", "unknown-severity", "bad-kwargs", "unknown-type", "two-severities"],
)  # fmt: skip
def test_a_broken_expectation_names_the_file_and_its_position(
    tmp_path: Path, expectations: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_suite(_write(tmp_path, expectations))


def test_a_suite_named_unlike_its_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, [{**NULL_CHECK, "meta": {"severity": "critical"}}], name="shop")
    with pytest.raises(ConfigError, match=r"shop\.json is named 'crm'; its 'name' must equal"):
        load_suite(path)


def test_unreadable_and_missing_suite_files_are_named(tmp_path: Path) -> None:
    broken = tmp_path / "crm.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match=r"crm\.json is not readable JSON"):
        load_suite(broken)
    with pytest.raises(ConfigError, match=r"nope\.json does not exist"):
        load_suite(tmp_path / "nope.json")
