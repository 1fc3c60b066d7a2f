"""The records an incremental run hands to Splink: the records to score and those that share
every column of one blocking rule with one of them (pairs need nothing else)."""

from __future__ import annotations

import polars as pl

from matching.incremental import scoring_subset


def rule(sql: str) -> dict[str, str]:
    return {"blocking_rule": sql, "sql_dialect": "duckdb"}


FEATURES = pl.DataFrame(
    {
        "record_key": ["s1", "e1", "n1", "n2", "x1", "z1"],
        "email": ["a@x", "a@x", None, None, "b@x", None],
        "first": ["ann", "bo", "ann", "ann", "ann", None],
        "last": ["lee", "kim", "lee", "lee", "ray", None],
    }
)
MODEL = {
    "blocking_rules_to_generate_predictions": [
        rule('l."email" = r."email"'),
        rule('(l."first" = r."first") AND (l."last" = r."last")'),
    ]
}


def keys(frame: pl.DataFrame) -> set[str]:
    return set(frame["record_key"].to_list())


def test_the_subset_holds_records_sharing_every_column_of_a_rule_with_a_record_to_score() -> None:
    subset = scoring_subset(FEATURES, MODEL, pl.Series(["s1"]))
    # e1 shares the email; n1 and n2 the first and last name; x1 only the first name.
    assert keys(subset) == {"s1", "e1", "n1", "n2"}
    assert subset.columns == FEATURES.columns


def test_missing_keys_pair_nothing() -> None:
    assert keys(scoring_subset(FEATURES, MODEL, pl.Series(["z1"]))) == {"z1"}


def test_nothing_to_score_gives_an_empty_subset() -> None:
    assert scoring_subset(FEATURES, MODEL, pl.Series([], dtype=pl.String)).height == 0


def test_a_rule_that_is_not_plain_column_equality_keeps_every_record() -> None:
    model = {
        "blocking_rules_to_generate_predictions": [
            *MODEL["blocking_rules_to_generate_predictions"],
            rule('substr(l."last", 1, 2) = substr(r."last", 1, 2)'),
        ]
    }
    assert scoring_subset(FEATURES, model, pl.Series(["s1"])).equals(FEATURES)
    filtered = {
        "blocking_rules_to_generate_predictions": [
            rule('l."first" = r."first" AND l."last" <> r."last"')
        ]
    }
    assert scoring_subset(FEATURES, filtered, pl.Series(["s1"])).equals(FEATURES)
