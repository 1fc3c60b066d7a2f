"""Clustering: model links, steward decisions and identity contradictions, on tiny frames.

Each case is a handful of records whose pairs and scores are written out by hand, so the
expected clusters can be read off the test.
"""

from __future__ import annotations

import polars as pl
import pytest

from matching.clustering import ClusteringReport, cluster_records
from matching.errors import ConflictingDecisionsError, MatchingInputError
from matching.features import matching_frame


def records(*keys: str) -> pl.DataFrame:
    return pl.DataFrame({"record_key": list(keys)})


def pairs(*rows: tuple[str, str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "match_probability": pl.Float64,
        },
        orient="row",
    )


def together(clusters: pl.DataFrame, *keys: str) -> bool:
    ids = clusters.filter(pl.col("record_key").is_in(list(keys)))["cluster_id"]
    return ids.len() == len(keys) and ids.n_unique() == 1


def test_links_at_or_above_threshold_join_and_below_do_not() -> None:
    result = cluster_records(
        records("a", "b", "c", "d"),
        pairs(("a", "b", 0.95), ("b", "c", 0.9), ("c", "d", 0.89)),
        threshold=0.9,
        contradictions={},
    )
    assert together(result, "a", "b", "c")
    assert not together(result, "c", "d")
    by_key = dict(zip(result["record_key"], result["match_probability"], strict=True))
    assert by_key == {"a": 0.95, "b": 0.95, "c": 0.9, "d": None}
    assert result.columns == ["record_key", "cluster_id", "match_probability"]


def test_cluster_ids_depend_on_the_records_not_on_input_order() -> None:
    links = [("a", "b", 0.99), ("c", "d", 0.99), ("e", "f", 0.5)]
    first = cluster_records(records(*"abcdef"), pairs(*links), 0.9, contradictions={})
    second = cluster_records(records(*"fedcba"), pairs(*reversed(links)), 0.9, contradictions={})
    assert first.sort("record_key").equals(second.sort("record_key"))


def test_cannot_link_separates_a_pair_the_model_scores_as_certain() -> None:
    result = cluster_records(
        records("a", "b"),
        pairs(("a", "b", 0.999)),
        0.9,
        cannot_link=[("b", "a")],
        contradictions={},
    )
    assert not together(result, "a", "b")
    assert result["match_probability"].null_count() == 2


def test_cannot_link_is_not_bypassed_through_a_chain() -> None:
    # a-b and b-c are strong links; a and c must still end up apart, and b joins the
    # record it is more strongly linked to.
    result = cluster_records(
        records("a", "b", "c"),
        pairs(("a", "b", 0.97), ("b", "c", 0.99)),
        0.9,
        cannot_link=[("a", "c")],
        contradictions={},
    )
    assert not together(result, "a", "c")
    assert together(result, "b", "c")


def test_must_link_joins_records_the_model_never_scored() -> None:
    report = ClusteringReport()
    result = cluster_records(
        records("a", "b", "c"),
        pairs(),
        0.9,
        must_link=[("a", "c")],
        contradictions={},
        report=report,
    )
    assert together(result, "a", "c")
    assert not together(result, "a", "b")
    by_key = dict(zip(result["record_key"], result["match_probability"], strict=True))
    assert by_key["a"] == by_key["c"] == 1.0
    assert report.must_links_applied == 1


def test_decisions_that_cannot_all_hold_are_an_error_naming_the_conflict() -> None:
    with pytest.raises(ConflictingDecisionsError, match="revoke one"):
        cluster_records(
            records("a", "b", "c"),
            pairs(),
            0.9,
            must_link=[("a", "b"), ("b", "c")],
            cannot_link=[("a", "c")],
            contradictions={},
        )


def test_decisions_about_records_not_in_this_run_are_ignored_and_counted() -> None:
    report = ClusteringReport()
    result = cluster_records(
        records("a", "b"),
        pairs(("a", "b", 0.95)),
        0.9,
        cannot_link=[("a", "gone")],
        must_link=[("gone", "b")],
        contradictions={},
        report=report,
    )
    assert together(result, "a", "b")
    assert report.decisions_ignored == 2


def test_pairs_naming_unknown_records_are_an_error() -> None:
    with pytest.raises(MatchingInputError, match="'a' - 'zz'"):
        cluster_records(records("a", "b"), pairs(("a", "zz", 0.99)), 0.9, contradictions={})


def staged(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Staged records with only the matching keys that the identity check reads."""
    base = {
        "source_system": "crm",
        "mk_first_name": None,
        "mk_first_name_canonical": None,
        "mk_middle_initial": None,
        "mk_last_name": "smith",
        "mk_email": None,
        "mk_email_user": None,
        "mk_phone": "15551234567",
        "mk_address": "12 elm st",
        "mk_house_number": "12",
        "mk_postcode": "02134",
        "mk_city": "boston",
        "mk_dob": None,
    }
    frame = pl.DataFrame([{**base, **row} for row in rows], infer_schema_length=None)
    return matching_frame(frame.cast(pl.String), max_key_frequency=50)


TWINS = [
    {"record_key": "john", "mk_first_name": "john", "mk_first_name_canonical": "john",
     "mk_dob": "1990-05-01"},
    {"record_key": "jane", "mk_first_name": "jane", "mk_first_name_canonical": "jane",
     "mk_dob": "1990-05-01"},
    # Only an initial and the household's phone and address: compatible with both twins.
    {"record_key": "j", "mk_first_name": "j", "mk_first_name_canonical": "j"},
]  # fmt: skip


def test_a_vague_record_cannot_bridge_two_people_who_contradict() -> None:
    report = ClusteringReport()
    result = cluster_records(
        staged(TWINS),
        pairs(("j", "john", 0.96), ("j", "jane", 0.93), ("jane", "john", 0.2)),
        0.9,
        report=report,
    )
    assert not together(result, "john", "jane")
    assert together(result, "j", "john")  # the stronger link wins
    assert report.contradiction_counts == {"first_name": 1}
    assert report.links_refused == 1


def test_without_the_identity_check_the_chain_would_merge_them() -> None:
    result = cluster_records(
        staged(TWINS),
        pairs(("j", "john", 0.96), ("j", "jane", 0.93), ("jane", "john", 0.2)),
        0.9,
        contradictions={},
    )
    assert together(result, "john", "jane", "j")


def test_a_steward_must_link_overrules_a_model_contradiction() -> None:
    result = cluster_records(
        staged(TWINS),
        pairs(("j", "john", 0.96), ("j", "jane", 0.93)),
        0.9,
        must_link=[("john", "jane")],
    )
    assert together(result, "john", "jane")


def test_father_and_son_with_different_birth_dates_stay_apart() -> None:
    rows = [
        {"record_key": "sr", "mk_first_name": "robert", "mk_first_name_canonical": "robert",
         "mk_dob": "1950-03-02", "name_suffix": "Sr."},
        {"record_key": "jr", "mk_first_name": "robert", "mk_first_name_canonical": "robert",
         "mk_dob": "1978-11-20", "name_suffix": "Jr"},
        {"record_key": "bob", "mk_first_name": "bob", "mk_first_name_canonical": "robert"},
    ]  # fmt: skip
    result = cluster_records(staged(rows), pairs(("bob", "sr", 0.97), ("bob", "jr", 0.95)), 0.9)
    assert not together(result, "sr", "jr")
    assert together(result, "bob", "sr")


def test_typos_nicknames_and_transposed_dates_are_not_contradictions() -> None:
    rows = [
        {"record_key": "a", "mk_first_name": "katherine", "mk_first_name_canonical": "katherine",
         "mk_dob": "1984-03-07"},
        {"record_key": "b", "mk_first_name": "kate", "mk_first_name_canonical": "katherine",
         "mk_dob": "1984-07-03"},
        {"record_key": "c", "mk_first_name": "katherin", "mk_first_name_canonical": "katherin",
         "mk_dob": "1984-03-07"},
        {"record_key": "d", "mk_first_name": "k", "mk_first_name_canonical": "k",
         "mk_dob": "1984-03-07"},
    ]  # fmt: skip
    report = ClusteringReport()
    result = cluster_records(
        staged(rows),
        pairs(("a", "b", 0.99), ("b", "c", 0.99), ("c", "d", 0.99)),
        0.9,
        report=report,
    )
    assert together(result, "a", "b", "c", "d")
    assert report.contradictions_found == 0


def test_the_identity_check_needs_the_matching_columns_or_an_explicit_opt_out() -> None:
    with pytest.raises(MatchingInputError, match=r"contradictions=\{\}"):
        cluster_records(records("a", "b"), pairs(("a", "b", 0.99)), 0.9)
