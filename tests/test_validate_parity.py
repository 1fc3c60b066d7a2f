"""The vectorised engine flags exactly the rows GX's own pandas engine flags.

Every expectation of every shipped suite runs through both engines on generated batches with
violations (a normal one, a badly degraded one, an empty one); the failing row positions, the
verdict and GX's counts must agree. The regex translation and the row-condition semantics get
their own table-driven checks on the text where Python's and Rust's regex engines differ.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from pipelines.validate.engine import evaluate_rule, evaluate_suite, run_parameters
from pipelines.validate.outcome import Outcome
from pipelines.validate.regex import UntranslatableRegex, to_rust_regex
from pipelines.validate.suites import Suite, load_suite, suite_files
from pipelines.validate.synthetic import RUN_ID, source_frame, staged_frame

REPO = Path(__file__).resolve().parents[1]
SUITES = {path.stem: path for path in suite_files(REPO / "expectations")}
DATE_FORMATS = {"crm": "%m/%d/%Y", "shop": "%Y-%m-%d", "billing": "%d/%m/%Y"}
PARAMETERS = run_parameters(RUN_ID)
COUNTS = ("element_count", "missing_count", "unexpected_count", "observed_value")


def batch(suite: str, rows: int, bad_share: float) -> pl.DataFrame:
    if suite == "canonical":
        return staged_frame(rows, seed=3, bad_share=bad_share)
    fmt = DATE_FORMATS.get(suite, "%Y-%m-%d")
    return source_frame(rows, system=suite, dob_format=fmt, seed=5, bad_share=bad_share)


def differences(fast: Outcome, reference: Outcome) -> list[str]:
    found = []
    if not np.array_equal(fast.rows, reference.rows):
        only_fast = sorted(set(fast.rows.tolist()) - set(reference.rows.tolist()))[:5]
        only_gx = sorted(set(reference.rows.tolist()) - set(fast.rows.tolist()))[:5]
        found.append(f"rows differ: only Polars {only_fast}, only GX {only_gx}")
    if fast.success != reference.success:
        found.append(f"success {fast.success} vs GX {reference.success}")
    for key in COUNTS:
        if fast.result.get(key) != reference.result.get(key):
            found.append(f"{key} {fast.result.get(key)} vs GX {reference.result.get(key)}")
    return found


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, str], tuple[Suite, list[Outcome], list[Outcome]]]:
    """Both engines' outcomes for each shipped suite on each kind of batch (computed once)."""
    kinds = {"normal": (3_000, 0.03), "degraded": (1_500, 0.5), "empty": (0, 0.03)}
    found = {}
    for name, path in SUITES.items():
        suite = load_suite(path)
        for kind, (rows, bad_share) in kinds.items():
            frame = batch(name, rows, bad_share)
            fast = evaluate_suite(suite, frame, PARAMETERS, engine="polars")
            reference = evaluate_suite(suite, frame, PARAMETERS, engine="gx")
            found[(name, kind)] = (suite, fast, reference)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["normal", "degraded", "empty"])
@pytest.mark.parametrize("suite_name", sorted(SUITES))
def test_every_expectation_flags_the_rows_gx_flags(
    outcomes: dict[tuple[str, str], tuple[Suite, list[Outcome], list[Outcome]]],
    suite_name: str,
    kind: str,
) -> None:
    suite, fast, reference = outcomes[(suite_name, kind)]
    assert [o.engine for o in reference] == ["gx"] * len(suite.rules)
    problems = {
        f.rule.label: diff
        for f, r in zip(fast, reference, strict=True)
        if (diff := differences(f, r))
    }
    assert problems == {}


@pytest.mark.slow
@pytest.mark.parametrize("suite_name", sorted(SUITES))
def test_shipped_suites_run_entirely_on_the_vectorised_path(
    outcomes: dict[tuple[str, str], tuple[Suite, list[Outcome], list[Outcome]]], suite_name: str
) -> None:
    _, fast, _ = outcomes[(suite_name, "normal")]
    assert [o.rule.label for o in fast if o.engine != "polars"] == []


@pytest.mark.slow
@pytest.mark.parametrize("suite_name", sorted(SUITES))
def test_the_generated_batches_make_every_expectation_both_pass_and_fail(
    outcomes: dict[tuple[str, str], tuple[Suite, list[Outcome], list[Outcome]]], suite_name: str
) -> None:
    """Otherwise the parity above could hold vacuously for a rule."""
    verdicts: dict[str, set[bool]] = {}
    for kind in ("normal", "degraded", "empty"):
        for outcome in outcomes[(suite_name, kind)][1]:
            verdicts.setdefault(outcome.rule.label, set()).add(outcome.success)
    assert {label for label, seen in verdicts.items() if seen != {True, False}} == set()


# --- regular expressions ----------------------------------------------------------------------
TRICKY = [
    "x", "x\n", "x\n\n", "\u0663", "\u00b2", "\u2167", "e\u0301", "a\x1cb", "a\u00a0b", "a\u2028b",
    "a b", "a\tb", "", "_", "[:", "ab", "a.b", "a\nb", "SW1A 1AA", "sw1a 1aa", "+14155550123",
    "bob@example.org", "BOB@EXAMPLE.ORG", "x@y.com\n", "例子@例子.广告", "Zoë", "O'Brien", "李",
]  # fmt: skip

PATTERNS = [
    r"^x$", r"^\d$", r"^\d+$", r"a\sb", r"^\w$", r"^\w+$", r"\W", r"[^\d\s]", r"^\D*$", r"a.b",
    r"[[:alpha:]]", r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$", r"^$", r"x$|y", r"(a|b)+$",
    r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$", r"^\+[1-9][0-9]{6,14}$", r"^(?:x$)*", r"a*?",
    r"\Ax\Z", r"[\w-]+", r"[^\W_]", r"^.{2,4}$", r"\u00e9|\u0301", r"[\s\S]",
]  # fmt: skip


@pytest.mark.parametrize("pattern", PATTERNS)
def test_translated_regex_matches_where_python_matches(pattern: str) -> None:
    values = pl.Series(TRICKY, dtype=pl.String)
    rust = to_rust_regex(pattern)
    assert values.str.contains(rust).to_list() == [
        re.search(pattern, v) is not None for v in TRICKY
    ]


@pytest.mark.parametrize(
    "pattern", [r"(a)\1", r"x(?=y)", r"(?<!a)b", r"\bx\b", r"(?i)bob", r"$x", r"(?s:.)"]
)
def test_untranslatable_regex_is_refused_and_still_evaluated_like_python(
    pattern: str, tmp_path: Path
) -> None:
    with pytest.raises(UntranslatableRegex):
        to_rust_regex(pattern)
    frame = pl.DataFrame({"raw_email": [*TRICKY, "aa", "xy", "Bob", "x x"]})
    rule = _rule(tmp_path, "expect_column_values_to_match_regex", column="raw_email", regex=pattern)

    fast = evaluate_rule(rule, frame, PARAMETERS)
    assert fast.engine == "polars"
    reference = evaluate_rule(rule, frame, PARAMETERS, engine="gx")
    assert differences(fast, reference) == []


# --- row conditions ---------------------------------------------------------------------------
def _condition(column: str, operator: str, parameter: Any) -> dict[str, Any]:
    return {"type": "comparison", "column": {"name": column}, "operator": operator,
            "parameter": parameter}  # fmt: skip


CONDITIONS = {
    "equal": _condition("country", "==", "US"),
    "not_equal_keeps_missing": _condition("country", "!=", "US"),
    "in": _condition("country", "IN", ["US", "GB"]),
    "not_in_keeps_missing": _condition("country", "NOT_IN", ["US", "GB"]),
    "less_than_numbers": _condition("score", "<", 3),
    "null": {"type": "nullity", "column": {"name": "country"}, "is_null": True},
    "and": {"type": "and", "conditions": [_condition("score", ">=", 2),
            {"type": "nullity", "column": {"name": "country"}, "is_null": False}]},
    "or": {"type": "or", "conditions": [_condition("country", "==", "GB"),
           _condition("score", "<=", 1)]},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_row_conditions_select_the_rows_pandas_query_selects(name: str, tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "country": ["US", "GB", None, "FR", "US", None, "DE"],
            "score": [1.0, 2.0, 3.0, None, float("nan"), 5.0, 2.0],
            "postcode": ["1234", "SW1A 1AA", "x", "75001", None, "12345", "1"],
        }
    )
    rule = _rule(
        tmp_path,
        "expect_column_values_to_match_regex",
        column="postcode",
        regex=r"^\d{5}$",
        row_condition=CONDITIONS[name],
    )

    fast = evaluate_rule(rule, frame, PARAMETERS)
    assert fast.engine == "polars"
    assert differences(fast, evaluate_rule(rule, frame, PARAMETERS, engine="gx")) == []


def _rule(tmp_path: Path, expectation_type: str, **kwargs: Any) -> Any:
    path = tmp_path / "probe.json"
    path.write_text(
        json.dumps(
            {
                "name": "probe",
                "expectations": [
                    {"type": expectation_type, "kwargs": kwargs, "meta": {"severity": "critical"}}
                ],
            }
        )
    )
    return load_suite(path).rules[0]
