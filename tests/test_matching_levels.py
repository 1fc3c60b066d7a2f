"""Which comparison level a pair of values falls in, evaluated with the SQL Splink runs."""

from __future__ import annotations

import duckdb
import pytest

from matching.settings import address


def address_level(left: str, right: str) -> str:
    """The label of the first address level whose condition the pair meets (Splink's order)."""
    comparison = address().get_comparison("duckdb")
    with duckdb.connect() as db:
        for level in comparison.comparison_levels:
            sql = (
                f"SELECT ({level.sql_condition}) FROM (SELECT ? AS mk_address_l, ? AS mk_address_r)"
            )
            if db.execute(sql, [left, right]).fetchone()[0]:
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
    assert address_level(left, right) == label
