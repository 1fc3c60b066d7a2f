"""Incremental clustering: keeping a base run's clusters for untouched components gives exactly
what clustering from scratch gives (the same clusters, ids, probabilities and figures).

Records carry one identity column ``x``; two records whose ``x`` differ contradict. The next
run's pairs follow the incremental matching contract: pairs between two untouched records are
the base run's, every other pair may be new.
"""

from __future__ import annotations

import random
from dataclasses import asdict

import polars as pl
import pytest

from matching.clustering import (
    ClusteringReport,
    ClusteringState,
    cluster_records,
    cluster_with_state,
)

CONTRADICTIONS = {"x": "x_l <> x_r"}
THRESHOLD = 0.9


def frame(rows: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_key": list(rows), "x": list(rows.values())},
        schema={"record_key": pl.String, "x": pl.String},
    )


def pairs(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "match_probability": pl.Float64,
        },
        orient="row",
    )


def base_run(
    records: pl.DataFrame,
    links: pl.DataFrame,
    must: list[tuple[str, str]] = (),  # type: ignore[assignment]
    cannot: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> ClusteringState:
    _, state = cluster_with_state(
        records, links, THRESHOLD, must, cannot, contradictions=CONTRADICTIONS
    )
    return state


def assert_incremental_equals_full(
    base: ClusteringState,
    records: pl.DataFrame,
    links: pl.DataFrame,
    touched: list[str],
    must: list[tuple[str, str]] = (),  # type: ignore[assignment]
    cannot: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> ClusteringReport:
    full_report, inc_report = ClusteringReport(), ClusteringReport()
    full, full_state = cluster_with_state(
        records, links, THRESHOLD, must, cannot, contradictions=CONTRADICTIONS, report=full_report
    )
    inc, inc_state = cluster_with_state(
        records,
        links,
        THRESHOLD,
        must,
        cannot,
        contradictions=CONTRADICTIONS,
        report=inc_report,
        base=base,
        touched=pl.Series(touched, dtype=pl.String),
    )
    assert inc.equals(full)
    assert inc_state.components.equals(full_state.components)
    assert inc_state.stats.equals(full_state.stats)
    figures = {k: v for k, v in asdict(full_report).items() if not k.startswith("components_")}
    assert {k: v for k, v in asdict(inc_report).items() if k in figures} == figures
    return inc_report


def clusters_of(clusters: pl.DataFrame) -> set[frozenset[str]]:
    grouped = clusters.group_by("cluster_id").agg(pl.col("record_key"))
    return {frozenset(keys) for keys in grouped["record_key"].to_list()}


# Two households of three, each held together by strong links; the third component is the
# untouched control that must be kept.
RECORDS = {"a1": "ann", "a2": "ann", "a3": "ann", "b1": "bob", "b2": "bob", "b3": "bob"}
RECORDS |= {"c1": "cy", "c2": "cy", "c3": "cy"}
LINKS = [
    ("a1", "a2", 0.99),
    ("a2", "a3", 0.95),
    ("b1", "b2", 0.99),
    ("b2", "b3", 0.97),
    ("c1", "c2", 0.99),
    ("c2", "c3", 0.98),
]


def test_a_changed_record_that_links_two_base_clusters_merges_them() -> None:
    same_person = RECORDS | {"b1": "ann", "b2": "ann", "b3": "ann"}
    base = base_run(frame(same_person), pairs(LINKS))
    assert len(set(base.components["cluster_id"])) == 3
    # a3 changed (say, a new phone) and now also links strongly to b1.
    links = pairs([*LINKS, ("a3", "b1", 0.96)])
    report = assert_incremental_equals_full(base, frame(same_person), links, touched=["a3"])
    result = cluster_records(frame(same_person), links, THRESHOLD, contradictions=CONTRADICTIONS)
    assert frozenset({"a1", "a2", "a3", "b1", "b2", "b3"}) in clusters_of(result)
    assert report.components_kept == 1  # the c household
    assert report.components_reclustered == 1


def test_a_new_cannot_link_splits_a_cluster_whose_records_did_not_change() -> None:
    base = base_run(frame(RECORDS), pairs(LINKS))
    report = assert_incremental_equals_full(
        base, frame(RECORDS), pairs(LINKS), touched=[], cannot=[("a1", "a3")]
    )
    assert report.components_kept == 2
    assert report.components_reclustered == 1
    assert report.cannot_links_applied == 1


def test_a_revoked_must_link_unjoins_what_it_joined() -> None:
    must = [("a1", "c1")]
    base = base_run(frame(RECORDS), pairs(LINKS), must=must)
    report = assert_incremental_equals_full(base, frame(RECORDS), pairs(LINKS), touched=[])
    assert report.components_kept == 1  # b; a and c were one component, now two
    assert report.components_reclustered == 2


def test_removing_the_bridge_of_a_cluster_splits_it() -> None:
    records = RECORDS | {"br": "ann"}
    links = [*LINKS, ("a3", "br", 0.99), ("br", "b1", 0.99)]
    base = base_run(frame(records), pairs(links))
    bridged = base.components.filter(pl.col("record_key").is_in(["a1", "b1"]))["component"]
    assert bridged.n_unique() == 1  # one component in the base, through br
    kept_links = [link for link in links if "br" not in link[:2]]
    report = assert_incremental_equals_full(base, frame(RECORDS), pairs(kept_links), touched=["br"])
    assert report.components_kept == 1
    assert report.components_reclustered == 2


def test_a_contradiction_inside_an_untouched_component_is_kept_with_its_figures() -> None:
    records = RECORDS | {"a3": "anne"}  # a1..a3 chain holds a contradiction: rebuilt in base
    base = base_run(frame(records), pairs(LINKS))
    assert base.stats.height
    report = assert_incremental_equals_full(
        base, frame(records | {"c3": "cyd"}), pairs(LINKS), touched=["c3"]
    )
    assert report.components_kept == 2
    assert report.contradictions_found == 4  # a3 against a1 and a2, c3 against c1 and c2


def test_a_base_clustered_at_another_threshold_is_not_reused() -> None:
    base = base_run(frame(RECORDS), pairs(LINKS))
    base.settings = {**base.settings, "match_threshold": 0.8}
    report = assert_incremental_equals_full(base, frame(RECORDS), pairs(LINKS), touched=[])
    assert report.components_kept == 0


@pytest.mark.parametrize("seed", range(40))
def test_random_changes_cluster_incrementally_exactly_as_from_scratch(seed: int) -> None:
    """Households of three to six records linked mostly among themselves (a few links between
    households, some contradicting records, exact ties), then a few records change, leave or
    arrive, and steward decisions are added or revoked."""
    rng = random.Random(seed)
    names = ["ann", "bob", "cy", "dee", "eve"]
    households = [
        [f"h{h:02d}r{i}" for i in range(rng.randint(3, 6))] for h in range(rng.randint(8, 14))
    ]
    records = {key: rng.choice(names[:2]) for house in households for key in house}
    keys = sorted(records)

    def link(a: str, b: str) -> tuple[str, str, float]:
        left, right = sorted((a, b))
        return left, right, rng.choice([0.95, 0.95, round(rng.uniform(0.6, 1.0), 3)])

    links = {
        (x[0], x[1]): x
        for house in households
        for x in (link(*rng.sample(house, 2)) for _ in range(len(house) + 1))
    }
    for _ in range(3):
        x = link(*rng.sample(keys, 2))
        links[x[:2]] = x
    decisions: list[tuple[str, ...]] = []
    while len(decisions) < 3:  # three different pairs, so that no two decisions conflict
        pair = tuple(sorted(rng.sample(rng.choice(households), 2)))
        decisions += [pair] if pair not in decisions else []
    must, cannot = decisions[:1], decisions[1:2]
    base = base_run(frame(records), pairs(list(links.values())), must=must, cannot=cannot)

    changed = set(rng.sample(keys, 2))
    removed = set(rng.sample(sorted(set(keys) - changed), 2))
    added = {f"n{i}": rng.choice(names) for i in range(2)}
    current = {k: v for k, v in records.items() if k not in removed}
    current |= {k: rng.choice(names) for k in changed} | added
    touched = changed | removed | set(added)
    kept_links = [x for x in links.values() if not touched & set(x[:2])]
    fresh = [link(k, rng.choice(sorted(current))) for k in sorted(changed | set(added))]
    fresh = [x for x in fresh if x[0] != x[1]]
    if seed % 3 == 0:
        cannot = [*cannot, decisions[2]]  # a decision added since the base
    if seed % 4 == 0:
        must = []  # and one revoked
    report = assert_incremental_equals_full(
        base,
        frame(dict(rng.sample(sorted(current.items()), len(current)))),  # any input order
        pairs(kept_links + fresh),
        touched=sorted(touched),
        must=must,
        cannot=cannot,
    )
    assert report.components_kept > 0


def test_a_record_erased_from_the_saved_state_is_not_mistaken_for_an_untouched_component() -> None:
    """Erasure drops a record's rows from every file, the state and the feature hashes
    included, so the next run is not told it left; its component must still be rebuilt."""
    records = RECORDS | {"a4": "anne"}  # a4 contradicts a1..a3 and splits their cluster
    links = [*LINKS, ("a3", "a4", 0.99)]
    base = base_run(frame(records), pairs(links))
    base.components = base.components.filter(pl.col("record_key") != "a4")
    base.decisions = base.decisions.filter(pl.col("record_key_l") != "a4")
    assert "a4" not in base.components["record_key"].to_list()
    report = assert_incremental_equals_full(base, frame(RECORDS), pairs(LINKS), touched=[])
    assert report.components_kept == 2
    assert report.components_reclustered == 1
    assert base.components["component"].dtype == pl.Int64  # numbers, never a record key
