"""Golden ids stay put across runs: growth, shrinkage, merges, splits and retirements."""

from __future__ import annotations

import random
import re
from collections import Counter

import polars as pl
import pytest

from matching.ids import (
    GoldenIdFactory,
    IdAssignment,
    IdAssignmentError,
    assign_golden_ids,
    resolve_ids,
)


def clusters(groups: dict[str, list[str]]) -> pl.DataFrame:
    """A clusters frame from {cluster_id: [record keys]}."""
    rows = [(key, cid) for cid, keys in groups.items() for key in keys]
    return pl.DataFrame(
        rows, schema={"record_key": pl.String, "cluster_id": pl.String}, orient="row"
    )


def id_of(result: IdAssignment, record_key: str) -> str:
    return result.registry.filter(pl.col("record_key") == record_key)["golden_id"].item()


def change(result: IdAssignment, golden_id: str) -> dict:
    rows = result.changes.filter(pl.col("golden_id") == golden_id).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def factory(seed: int = 0) -> GoldenIdFactory:
    return GoldenIdFactory(rng=random.Random(seed))


def assert_one_id_per_record(result: IdAssignment, frame: pl.DataFrame) -> None:
    registry = result.registry
    assert sorted(registry["record_key"].to_list()) == sorted(frame["record_key"].to_list())
    per_cluster = (
        frame.join(registry, on="record_key")
        .group_by("cluster_id")
        .agg(pl.col("golden_id").n_unique().alias("ids"), pl.col("golden_id").first())
    )
    assert per_cluster["ids"].to_list() == [1] * per_cluster.height
    assert per_cluster["golden_id"].n_unique() == per_cluster.height  # no id on two clusters


def test_first_run_creates_one_opaque_id_per_cluster() -> None:
    frame = clusters({"1": ["crm:1", "web:9"], "2": ["crm:2"], "3": ["shop:x"]})
    result = assign_golden_ids(frame, None, "R1", factory=factory())
    assert_one_id_per_record(result, frame)
    assert id_of(result, "crm:1") == id_of(result, "web:9")
    assert all(re.fullmatch(r"G-[0-9A-HJKMNP-TV-Z]{13}", g) for g in result.registry["golden_id"])
    assert result.changes["change"].to_list() == ["created"] * 3
    assert sorted(result.changes["record_count"].to_list()) == [1, 1, 2]
    assert set(result.registry["first_run_id"]) == {"R1"}


def test_ids_are_random_not_derived_from_the_records() -> None:
    frame = clusters({"1": ["crm:1", "web:9"], "2": ["crm:2"]})
    a = assign_golden_ids(frame, None, "R1", factory=factory(1))
    b = assign_golden_ids(frame, None, "R1", factory=factory(2))
    again = assign_golden_ids(frame, None, "R1", factory=factory(1))
    assert set(a.registry["golden_id"]).isdisjoint(set(b.registry["golden_id"]))
    assert a.registry.equals(again.registry)  # a seeded generator makes tests deterministic
    unseeded = {
        g for _ in range(3) for g in assign_golden_ids(frame, None, "R1").registry["golden_id"]
    }
    assert len(unseeded) == 6


def test_minting_never_reuses_an_id_in_use() -> None:
    first_draw = GoldenIdFactory(rng=random.Random(5)).mint(1)[0]
    minted = GoldenIdFactory(rng=random.Random(5)).mint(3, taken=[first_draw])
    assert first_draw not in minted.to_list()
    assert minted.n_unique() == 3


def test_a_sequence_of_runs_keeps_ids_through_growth_merge_split_and_removal() -> None:
    # Run 1: four customers.
    run1 = clusters(
        {"a": ["crm:a1", "crm:a2"], "b": ["crm:b1"], "c": ["web:c1", "web:c2"], "d": ["web:d1"]}
    )
    r1 = assign_golden_ids(run1, None, "R1", factory=factory(1))
    id_a, id_b, id_c, id_d = (id_of(r1, k) for k in ("crm:a1", "crm:b1", "web:c1", "web:d1"))

    # Run 2: a record joins A, a new customer E appears; cluster ids are run-local and differ.
    run2 = clusters(
        {
            "x1": ["crm:a1", "crm:a2", "shop:a3"],
            "x2": ["crm:b1"],
            "x3": ["web:c1", "web:c2"],
            "x4": ["web:d1"],
            "x5": ["shop:e1"],
        }
    )
    r2 = assign_golden_ids(run2, r1.registry, "R2", factory=factory(2))
    assert_one_id_per_record(r2, run2)
    assert (id_of(r2, "shop:a3"), id_of(r2, "crm:b1"), id_of(r2, "web:c1")) == (id_a, id_b, id_c)
    assert change(r2, id_a)["change"] == "kept" and change(r2, id_a)["record_count"] == 3
    id_e = id_of(r2, "shop:e1")
    assert id_e not in (id_a, id_b, id_c, id_d) and change(r2, id_e)["change"] == "created"
    assert set(r2.registry["run_id"]) == {"R2"}
    assert r2.registry.filter(pl.col("golden_id") == id_a)["first_run_id"].unique().to_list() == [
        "R1"
    ]

    # Run 3: the model now links A (3 records) and C (2 records): A's id survives.
    run3 = clusters(
        {
            "y1": ["crm:a1", "crm:a2", "shop:a3", "web:c1", "web:c2"],
            "y2": ["crm:b1"],
            "y3": ["web:d1"],
            "y4": ["shop:e1"],
        }
    )
    r3 = assign_golden_ids(run3, r2.registry, "R3", factory=factory(3))
    assert_one_id_per_record(r3, run3)
    assert id_of(r3, "web:c1") == id_a
    assert change(r3, id_a) | {"run_id": None} == {
        "run_id": None,
        "golden_id": id_a,
        "change": "merged",
        "related_golden_ids": [id_c],
        "record_count": 5,
    }
    assert change(r3, id_c)["change"] == "absorbed"
    assert change(r3, id_c)["related_golden_ids"] == [id_a]
    assert resolve_ids([id_c, id_b], r3.registry) == {id_c: id_a, id_b: id_b}

    # Run 4: a steward's cannot-link splits the merged cluster again: the part with most of the
    # old records keeps the id, the other part gets a new one naming its origin.
    run4 = clusters(
        {
            "z1": ["crm:a1", "crm:a2", "shop:a3"],
            "z2": ["web:c1", "web:c2"],
            "z3": ["crm:b1"],
            "z4": ["web:d1"],
            "z5": ["shop:e1"],
        }
    )
    r4 = assign_golden_ids(run4, r3.registry, "R4", factory=factory(4))
    assert_one_id_per_record(r4, run4)
    assert id_of(r4, "crm:a1") == id_a
    id_c2 = id_of(r4, "web:c1")
    assert id_c2 not in (id_a, id_c)
    assert change(r4, id_c2)["change"] == "split"
    assert change(r4, id_c2)["related_golden_ids"] == [id_a]
    assert change(r4, id_a)["change"] == "kept"

    # Run 5: records removed at the source: D's only record (D retired) and one of A's (shrunk).
    run5 = clusters(
        {
            "w1": ["crm:a1", "crm:a2"],
            "w2": ["web:c1", "web:c2"],
            "w3": ["crm:b1"],
            "w5": ["shop:e1"],
        }
    )
    r5 = assign_golden_ids(run5, r4.registry, "R5", factory=factory(5))
    assert_one_id_per_record(r5, run5)
    assert id_of(r5, "crm:a1") == id_a and change(r5, id_a)["record_count"] == 2
    assert change(r5, id_d) | {"run_id": None} == {
        "run_id": None,
        "golden_id": id_d,
        "change": "retired",
        "related_golden_ids": [],
        "record_count": 1,
    }
    assert id_d not in r5.registry["golden_id"].to_list()
    counts = {k: r5.count(k) for k in ("created", "kept", "merged", "split", "absorbed", "retired")}
    assert counts == {"created": 0, "kept": 4, "merged": 0, "split": 0, "absorbed": 0, "retired": 1}


def _previous(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """A previous registry from (record_key, golden_id, first_run_id)."""
    return pl.DataFrame(
        rows,
        schema={"record_key": pl.String, "golden_id": pl.String, "first_run_id": pl.String},
        orient="row",
    ).with_columns(pl.lit("R9").alias("run_id"))


@pytest.mark.parametrize(
    ("previous", "survivor", "absorbed"),
    [
        pytest.param(
            [("k1", "G-B", "R1"), ("k2", "G-B", "R1"), ("k3", "G-A", "R1")],
            "G-B",
            "G-A",
            id="larger-previous-cluster-wins",
        ),
        pytest.param(
            [("k1", "G-B", "R1"), ("k2", "G-A", "R2")],
            "G-B",
            "G-A",
            id="equal-size-older-wins",
        ),
        pytest.param(
            [("k1", "G-B", "R1"), ("k2", "G-A", "R1")],
            "G-A",
            "G-B",
            id="equal-size-and-age-first-sorting-wins",
        ),
    ],
)
def test_a_merge_keeps_the_larger_then_older_then_first_sorting_id(
    previous: list[tuple[str, str, str]], survivor: str, absorbed: str
) -> None:
    frame = clusters({"m": [key for key, _, _ in previous]})
    result = assign_golden_ids(frame, _previous(previous), "R10", factory=factory())
    assert set(result.registry["golden_id"]) == {survivor}
    assert change(result, survivor)["change"] == "merged"
    assert change(result, survivor)["related_golden_ids"] == [absorbed]
    assert change(result, absorbed)["change"] == "absorbed"


@pytest.mark.parametrize(
    ("groups", "keeper"),
    [
        pytest.param({"p": ["k1"], "q": ["k2", "k3"]}, "k2", id="most-old-records-keeps-id"),
        pytest.param({"p": ["k1", "k2"], "q": ["k3", "k4", "new"]}, "k3", id="tie-larger-part"),
        pytest.param({"p": ["k3", "k4"], "q": ["k1", "k2"]}, "k1", id="tie-first-sorting-part"),
    ],
)
def test_a_split_keeps_the_id_on_the_part_with_most_old_records(
    groups: dict[str, list[str]], keeper: str
) -> None:
    old = [
        (k, "G-OLD", "R1") for k in ("k1", "k2", "k3", "k4") if any(k in g for g in groups.values())
    ]
    result = assign_golden_ids(clusters(groups), _previous(old), "R2", factory=factory())
    assert id_of(result, keeper) == "G-OLD"
    other = next(k for keys in groups.values() for k in keys if id_of(result, k) != "G-OLD")
    assert change(result, id_of(result, other))["change"] == "split"
    assert change(result, id_of(result, other))["related_golden_ids"] == ["G-OLD"]


def test_merge_and_split_in_one_run() -> None:
    # G-A (4 records) loses one record to a cluster that also holds all of G-B.
    previous = _previous(
        [
            ("a1", "G-A", "R1"),
            ("a2", "G-A", "R1"),
            ("a3", "G-A", "R1"),
            ("a4", "G-A", "R1"),
            ("b1", "G-B", "R1"),
        ]
    )
    frame = clusters({"x": ["a1", "a2", "a3"], "y": ["a4", "b1"]})
    result = assign_golden_ids(frame, previous, "R2", factory=factory())
    assert_one_id_per_record(result, frame)
    assert id_of(result, "a1") == "G-A"
    assert id_of(result, "b1") == "G-B"  # heir of G-B only; G-A's heir is x
    assert {change(result, g)["change"] for g in ("G-A", "G-B")} == {"kept"}


def test_absorbed_ids_are_remembered_across_runs() -> None:
    r1 = assign_golden_ids(
        clusters({"1": ["a"], "2": ["b"], "3": ["c"]}), None, "R1", factory=factory()
    )
    ids = {k: id_of(r1, k) for k in "abc"}
    r2 = assign_golden_ids(
        clusters({"1": ["a", "b"], "3": ["c"]}), r1.registry, "R2", factory=factory(1)
    )
    r3 = assign_golden_ids(clusters({"1": ["a", "b", "c"]}), r2.registry, "R3", factory=factory(2))
    survivor = id_of(r3, "a")
    assert resolve_ids(ids.values(), r3.registry) == dict.fromkeys(ids.values(), survivor)
    absorbed = set(r3.registry["absorbed_ids"][0])
    assert absorbed == set(ids.values()) - {survivor}


def test_random_sequences_always_map_every_record_to_exactly_one_id() -> None:
    rng = random.Random(42)
    keys = [f"s{i % 3}:{i}" for i in range(300)]
    registry = None
    for run in range(6):
        present = [k for k in keys if rng.random() > 0.1]
        frame = pl.DataFrame(
            {"record_key": present, "cluster_id": [str(rng.randrange(80)) for _ in present]}
        )
        result = assign_golden_ids(frame, registry, f"R{run}", factory=factory(run))
        assert_one_id_per_record(result, frame)
        previous_ids = set() if registry is None else set(registry["golden_id"])
        live = result.changes.filter(pl.col("change").is_in(["created", "split", "kept", "merged"]))
        assert set(live["golden_id"]) == set(result.registry["golden_id"])
        ended = result.changes.filter(pl.col("change").is_in(["absorbed", "retired"]))
        continuing = result.changes.filter(pl.col("change").is_in(["kept", "merged"]))
        assert set(ended["golden_id"]) | set(continuing["golden_id"]) == previous_ids
        registry = result.registry


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        pytest.param(
            pl.DataFrame({"record_key": ["a", "a"], "cluster_id": ["1", "2"]}),
            "more than one row",
            id="duplicate-key",
        ),
        pytest.param(
            pl.DataFrame({"record_key": ["a", "b"], "cluster_id": ["1", None]}),
            "empty record_key or cluster_id",
            id="null-cluster",
        ),
        pytest.param(pl.DataFrame({"record_key": ["a"]}), "cluster_id", id="missing-column"),
    ],
)
def test_bad_clusters_are_refused_with_the_reason(frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(IdAssignmentError, match=message):
        assign_golden_ids(frame, None, "R1")


def test_a_registry_without_the_newer_columns_still_works() -> None:
    legacy = pl.DataFrame(
        {
            "record_key": ["a", "b", "c"],
            "golden_id": ["G-X", "G-X", "G-Y"],
            "run_id": ["R1", "R2", "R1"],
        }
    )
    result = assign_golden_ids(clusters({"1": ["a", "b", "c"]}), legacy, "R3", factory=factory())
    assert set(result.registry["golden_id"]) == {"G-X"}
    assert result.registry["first_run_id"].unique().to_list() == ["R1"]
    with pytest.raises(IdAssignmentError, match="lacks column"):
        assign_golden_ids(clusters({"1": ["a"]}), legacy.drop("golden_id"), "R3")


def _reference(frame: pl.DataFrame, registry: pl.DataFrame | None) -> dict[str, object]:
    """The rules of docs/design.md (Golden ids) spelled out record by record, for comparison."""
    members: dict[str, list[str]] = {}
    for key, cid in frame.select("record_key", "cluster_id").iter_rows():
        members.setdefault(cid, []).append(key)
    rows = [] if registry is None else registry.to_dicts()
    previous = {r["record_key"]: r["golden_id"] for r in rows}
    previous_size = Counter(previous.values())
    first_run: dict[str, str | None] = {}
    absorbed_before: dict[str, set[str]] = {}
    for r in rows:
        runs = [x for x in (first_run.get(r["golden_id"]), r["first_run_id"]) if x is not None]
        first_run[r["golden_id"]] = min(runs) if runs else None
        absorbed_before.setdefault(r["golden_id"], set()).update(r["absorbed_ids"] or [])
    shared = Counter(
        (cid, previous[k]) for cid, keys in members.items() for k in keys if k in previous
    )
    heir: dict[str, str] = {}
    for (cid, gid), n in shared.items():
        rank = (-n, -len(members[cid]), min(members[cid]))
        best = heir.get(gid)
        if best is None or rank < (-shared[best, gid], -len(members[best]), min(members[best])):
            heir[gid] = cid
    inherits: dict[str, list[str]] = {}
    for gid, cid in heir.items():
        inherits.setdefault(cid, []).append(gid)
    kept, changes = {}, {}
    for cid, gids in inherits.items():
        survivor = min(
            gids,
            key=lambda g: (-previous_size[g], first_run[g] is None, first_run[g] or "", g),
        )
        others = sorted(set(gids) - {survivor})
        chain = set(absorbed_before[survivor]).union(*(absorbed_before[g] | {g} for g in others))
        kept[cid] = (survivor, sorted(chain))
        changes[survivor] = ("merged" if others else "kept", others, len(members[cid]))
        for g in others:
            changes[g] = ("absorbed", [survivor], previous_size[g])
    for gid in set(previous_size) - set(heir):
        changes[gid] = ("retired", [], previous_size[gid])
    fresh = {
        cid: sorted({g for (c, g) in shared if c == cid}) for cid in members if cid not in kept
    }
    return {"kept": kept, "fresh": fresh, "changes": changes, "members": members}


def test_ids_follow_the_rules_spelled_out_record_by_record_over_random_runs() -> None:
    rng = random.Random(7)
    keys = [f"s{i % 3}:{i:03d}" for i in range(400)]
    registry = None
    for run in range(8):
        present = [k for k in keys if rng.random() > 0.08]
        groups = rng.choice([30, 60, 150])  # few clusters: many merges, splits and ties
        frame = pl.DataFrame(
            {"record_key": present, "cluster_id": [f"c{rng.randrange(groups)}" for _ in present]}
        )
        expected = _reference(frame, registry)
        result = assign_golden_ids(frame, registry, f"R{run}", factory=factory(run))
        ids = dict(result.registry.select("record_key", "golden_id").iter_rows())
        absorbed = {
            gid: lst for gid, lst in result.registry.select("golden_id", "absorbed_ids").iter_rows()
        }
        previous_ids = set() if registry is None else set(registry["golden_id"])
        changes = {
            gid: (kind, related, count)
            for _, gid, kind, related, count in result.changes.iter_rows()
        }
        for cid, keys_of in expected["members"].items():
            gid = ids[keys_of[0]]
            assert {ids[k] for k in keys_of} == {gid}
            if cid in expected["kept"]:
                assert (gid, absorbed[gid]) == expected["kept"][cid], (run, cid)
            else:
                assert gid not in previous_ids
                origins = expected["fresh"][cid]
                assert changes.pop(gid) == (
                    "split" if origins else "created",
                    origins,
                    len(keys_of),
                ), (run, cid)
                assert absorbed[gid] == []
        assert changes == expected["changes"], run
        registry = result.registry
