"""Which comparison level a pair of values falls in, evaluated with the SQL Splink runs."""

from __future__ import annotations

import duckdb
import pytest
from splink.internals.comparison_creator import ComparisonCreator

from matching.settings import address, first_name


def level_of(creator: ComparisonCreator, left: dict[str, str], right: dict[str, str]) -> str:
    """The label of the first level whose condition the pair meets (Splink's order)."""
    comparison = creator.get_comparison("duckdb")
    columns = [f"? AS {c}_l" for c in left] + [f"? AS {c}_r" for c in right]
    with duckdb.connect() as db:
        for level in comparison.comparison_levels:
            if level.sql_condition.strip().upper() == "ELSE":
                return level.label_for_charts
            sql = f"SELECT ({level.sql_condition}) FROM (SELECT {', '.join(columns)})"
            if db.execute(sql, [*left.values(), *right.values()]).fetchone()[0]:
                return level.label_for_charts
    raise AssertionError("no level matched")


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        ("12 manor rd", "12 manor rd", "exact address line"),
        ("12 manor rd", "12 manor rd flat 3", "same street line, a unit on one side only"),
        ("88 victoria rd apt 8", "88 victoria rd", "same street line, a unit on one side only"),
        ("12 manor rd", "120 manor rd", "Jaro-Winkler >= 0.95"),
        ("12 manor rd flat 3", "12 manor rd flat 4", "Jaro-Winkler >= 0.95"),
    ],
)
def test_a_unit_kept_by_one_source_only_is_its_own_address_level(
    left: str, right: str, label: str
) -> None:
    assert level_of(address(), {"mk_address": left}, {"mk_address": right}) == label


def _name(value: str) -> dict[str, str]:
    return {
        "mk_first_name": value,
        "mk_first_name_canonical": value,
        "first_name_script": "latin",
        "name_start": value[:3] + "|smi",
        "name_start_swapped": "smi|" + value[:3],
        "mk_first_name_glyphs": None,
    }


FUZZY = "Jaro-Winkler >= 0.88, one edit, or two in long names"
DIFFERENT = "contradiction: different first names"
CLOSE = "Jaro-Winkler >= 0.92, or one look-alike Han character"


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        pytest.param("nathan", "nahan", CLOSE, id="one-deletion"),
        pytest.param("patrick", "pawricq", FUZZY, id="two-typos-in-a-long-name"),
        pytest.param("lucy", "lucas", DIFFERENT, id="two-edits-in-a-short-name-is-another-name"),
        pytest.param("john", "jane", DIFFERENT, id="different-names"),
    ],
)
def test_two_typos_in_a_long_first_name_are_still_the_same_name(
    left: str, right: str, label: str
) -> None:
    assert level_of(first_name(), _name(left), _name(right)) == label
